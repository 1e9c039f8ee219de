"""Request ids: generated, echoed when safe, replaced when not; carried by JSON logs."""

from __future__ import annotations

import json
import logging
import re

import pytest
from fastapi.testclient import TestClient

from satu.core.logging import JsonFormatter, request_id_var
from satu.core.middleware import RequestContextMiddleware
from tests.core.support import LogCapture

GENERATED = re.compile(r"^[0-9a-f]{32}$")


def test_generated_when_absent(probe_client: TestClient) -> None:
    first = probe_client.get("/healthz").headers["x-request-id"]
    second = probe_client.get("/healthz").headers["x-request-id"]
    assert GENERATED.match(first)
    assert GENERATED.match(second)
    assert first != second


@pytest.mark.parametrize(
    "incoming", ["abc-123", "trace.01:span_2", "A" * 64, "0f0e7c2e-1b7e-4b6e-9a55-0d6f43b0c9a1"]
)
def test_safe_incoming_id_is_echoed(probe_client: TestClient, incoming: str) -> None:
    response = probe_client.get("/api/v1/_probe/items/7", headers={"X-Request-Id": incoming})
    assert response.headers["x-request-id"] == incoming
    problem = probe_client.get("/api/v1/nope", headers={"X-Request-Id": incoming}).json()
    assert problem["request_id"] == incoming


@pytest.mark.parametrize(
    "incoming",
    [
        "A" * 65,
        "has space",
        "<script>alert(1)</script>",
        "semi;colon",
        'quote"d',
        "",
        "caf\u00e9",
    ],
)
def test_unsafe_incoming_id_is_replaced(probe_client: TestClient, incoming: str) -> None:
    response = probe_client.get("/healthz", headers=[(b"X-Request-Id", incoming.encode("latin-1"))])
    assert GENERATED.match(response.headers["x-request-id"])


def test_exactly_one_request_id_header(probe_client: TestClient) -> None:
    for path in ("/healthz", "/api/v1/nope", "/api/v1/_probe/boom"):
        response = probe_client.get(path, headers={"X-Request-Id": "one-only"})
        assert response.headers.get_list("x-request-id") == ["one-only"], path


@pytest.mark.anyio
async def test_header_injection_is_never_reflected() -> None:
    captured: dict[str, object] = {}

    async def inner(scope, receive, send) -> None:
        captured["state"] = dict(scope["state"])
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict] = []

    async def send(message: dict) -> None:
        sent.append(message)

    async def receive() -> dict:
        return {"type": "http.request", "body": b""}

    evil = b"abc\r\nSet-Cookie: session=stolen"
    scope = {"type": "http", "method": "GET", "path": "/", "headers": [(b"x-request-id", evil)]}
    await RequestContextMiddleware(inner)(scope, receive, send)
    headers = dict(sent[0]["headers"])
    assert GENERATED.match(headers[b"x-request-id"].decode())
    assert b"set-cookie" not in headers
    assert GENERATED.match(captured["state"]["request_id"])  # type: ignore[index]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def test_access_log_is_json_with_request_id(
    probe_client: TestClient, json_logs: LogCapture
) -> None:
    probe_client.get("/api/v1/_probe/items/5", headers={"X-Request-Id": "log-check-5"})
    access = [r for r in json_logs.records() if r["logger"] == "satu.access"]
    assert access, "no access log line"
    line = access[-1]
    assert line["request_id"] == "log-check-5"
    assert line["method"] == "GET"
    assert line["path"] == "/api/v1/_probe/items/{item_id}"
    assert line["status"] == 200
    assert isinstance(line["duration_ms"], float | int)
    assert line["level"] == "info"
    assert line["time"].endswith("+00:00")


def test_app_logs_carry_the_request_id_and_redact_secrets(
    probe_client: TestClient, json_logs: LogCapture
) -> None:
    probe_client.get("/api/v1/_probe/log", headers={"X-Request-Id": "redact-1"})
    probe_lines = [r for r in json_logs.records() if r["logger"] == "satu.probe"]
    assert len(probe_lines) == 1
    line = probe_lines[0]
    assert line["request_id"] == "redact-1"
    assert line["password"] == "[redacted]"
    assert line["api_token"] == "[redacted]"
    assert line["citizen_count"] == 3
    assert "hunter2" not in json_logs.stream.getvalue()
    assert "tok-123" not in json_logs.stream.getvalue()


def test_nested_secrets_are_redacted() -> None:
    record = logging.LogRecord("satu.x", logging.INFO, __file__, 1, "login", None, None)
    record.form = {"nik": "3201010101010001", "password": "pw", "nested": {"otp": "123456"}}
    record.headers = [("Authorization", "Bearer abc"), ("Accept", "text/html")]
    line = json.loads(JsonFormatter().format(record))
    assert line["form"]["password"] == "[redacted]"
    assert line["form"]["nested"]["otp"] == "[redacted]"
    assert line["form"]["nik"] == "3201010101010001"
    assert "Bearer abc" not in json.dumps(line)
    assert "pw" not in json.dumps(line["form"])


def test_log_lines_outside_requests_have_no_request_id() -> None:
    assert request_id_var.get() is None
    record = logging.LogRecord("satu.x", logging.INFO, __file__, 1, "boot %s", ("ok",), None)
    line = json.loads(JsonFormatter().format(record))
    assert line["message"] == "boot ok"
    assert "request_id" not in line


def test_exceptions_are_logged_as_one_json_line() -> None:
    try:
        raise ValueError("multi\nline")
    except ValueError:
        import sys

        record = logging.LogRecord(
            "satu.x", logging.ERROR, __file__, 1, "failed", None, sys.exc_info()
        )
    text = JsonFormatter().format(record)
    assert "\n" not in text
    assert "ValueError" in json.loads(text)["exception"]


def test_logs_and_problem_instance_never_carry_a_full_nik(
    probe_client: TestClient, json_logs: LogCapture
) -> None:
    nik = "3201014508900001"
    assert probe_client.get(f"/api/v1/nik/{nik}").status_code < 500
    assert probe_client.get(f"/api/v1/_probe/items/{nik}").status_code == 200
    for path in (f"/api/v1/x/{nik}/{'a' * 40}", f"/api/v1/_probe/items/{nik}x"):
        response = probe_client.get(path)
        assert response.status_code in {404, 422}
        assert response.json()["instance"].startswith("/api/v1/")
        assert nik not in response.text
        assert "a" * 40 not in response.text
    assert json_logs.records()
    assert nik not in json_logs.stream.getvalue()
    assert "a" * 40 not in json_logs.stream.getvalue()
