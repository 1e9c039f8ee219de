"""Request bodies: size limits (declared and streamed), encodings, JSON and content types."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy.engine import Engine

from satu.app import create_app
from satu.core.config import Settings
from satu.core.errors import PROBLEM_JSON, problem_type_uri
from satu.core.middleware import BodySizeLimitMiddleware
from tests.core.support import SMALL_LIMIT, ProbeServer, with_probes

ECHO = "/api/v1/_probe/echo"
RAW = "/api/v1/_probe/raw"
JSON_TYPE = {"Content-Type": "application/json"}


def assert_problem(response: httpx.Response, status: int, slug: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["type"] == problem_type_uri(slug)
    assert body["status"] == status
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def padded_json(size: int) -> bytes:
    """A valid echo body of exactly `size` bytes."""
    base = json.dumps({"name": "x", "count": 1, "password": ""}).encode()
    padding = size - len(base)
    assert padding >= 0
    return json.dumps({"name": "x", "count": 1, "password": "p" * padding}).encode()


def test_default_json_limit_is_one_mebibyte() -> None:
    assert Settings().max_json_body_bytes == 1024 * 1024


def test_body_over_default_limit_with_content_length_is_413(probe_client: TestClient) -> None:
    body = padded_json(1024 * 1024 + 1)
    response = probe_client.post(ECHO, content=body, headers={"Content-Type": "application/json"})
    problem = assert_problem(response, 413, "body-too-large")
    assert "1048576" in problem["detail"]


def test_body_at_default_limit_is_accepted(probe_client: TestClient) -> None:
    body = padded_json(1024 * 1024)
    response = probe_client.post(RAW, content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200
    assert response.json() == {"size": 1024 * 1024}


@pytest.fixture
def small_client(settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """A probe app configured with a 2 KiB JSON limit through Settings."""
    limited = settings.model_copy(update={"max_json_body_bytes": SMALL_LIMIT})
    with TestClient(
        with_probes(create_app(limited, engine=engine)), raise_server_exceptions=False
    ) as test_client:
        yield test_client


def test_limit_is_configurable(small_client: TestClient) -> None:
    ok = small_client.post(
        ECHO, content=padded_json(SMALL_LIMIT), headers={"Content-Type": "application/json"}
    )
    assert ok.status_code == 200
    too_big = small_client.post(
        ECHO, content=padded_json(SMALL_LIMIT + 1), headers={"Content-Type": "application/json"}
    )
    assert_problem(too_big, 413, "body-too-large")


def test_limit_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SATU_MAX_JSON_BODY_BYTES", "4096")
    assert Settings().max_json_body_bytes == 4096


def test_form_and_upload_limits_are_separate(small_client: TestClient) -> None:
    # The JSON limit is 2 KiB here, but form posts have their own (default 1 MiB) limit.
    response = small_client.post(
        RAW,
        content=b"a=" + b"b" * (SMALL_LIMIT * 2),
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 200


def _raw_request(port: int, request: bytes, timeout: float = 5.0) -> bytes:
    """Send bytes over a socket and read until the server closes or the timeout passes."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(request)
        chunks = []
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                break
            chunks.append(chunk)
            if b"\r\n\r\n" in b"".join(chunks) and b'"status"' in b"".join(chunks):
                break
        return b"".join(chunks)


def test_declared_oversized_body_is_refused_before_reading(
    small_limit_server: ProbeServer,
) -> None:
    # Announce 100 MB but send none of it: the answer must come without waiting for the body.
    started = time.monotonic()
    reply = _raw_request(
        small_limit_server.port,
        b"POST /api/v1/_probe/echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000000\r\n\r\n",
    )
    assert reply.startswith(b"HTTP/1.1 413"), reply[:200]
    assert time.monotonic() - started < 3
    head, _, payload = reply.partition(b"\r\n\r\n")
    assert b"content-type: application/problem+json" in head.lower()
    assert json.loads(payload)["type"] == problem_type_uri("body-too-large")


def test_chunked_oversized_body_is_413(small_limit_server: ProbeServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "x", "count": 1, "password": "'
        for _ in range(20):
            yield b"p" * 512
        yield b'"}'

    with httpx.Client(base_url=small_limit_server.url, timeout=10) as http:
        response = http.post(ECHO, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.request.headers.get("transfer-encoding") == "chunked"
    assert "content-length" not in response.request.headers
    problem = assert_problem(response, 413, "body-too-large")
    assert str(SMALL_LIMIT) in problem["detail"]


def test_chunked_oversized_body_to_a_raw_reader_is_413(small_limit_server: ProbeServer) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b"z" * 1024

    with httpx.Client(base_url=small_limit_server.url, timeout=10) as http:
        response = http.post(RAW, content=chunks(), headers={"Content-Type": "application/json"})
    assert_problem(response, 413, "body-too-large")


def test_chunked_small_body_is_accepted(small_limit_server: ProbeServer) -> None:
    def chunks() -> Iterator[bytes]:
        yield b'{"name": "kecil",'
        yield b' "count": 2}'

    with httpx.Client(base_url=small_limit_server.url, timeout=10) as http:
        response = http.post(ECHO, content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {"name": "kecil", "count": 2}


def test_server_keeps_serving_after_refusals(small_limit_server: ProbeServer) -> None:
    with httpx.Client(base_url=small_limit_server.url, timeout=10) as http:
        for _ in range(3):
            refused = http.post(ECHO, content=b"x" * (SMALL_LIMIT + 10), headers=JSON_TYPE)
            assert refused.status_code == 413
            assert http.get("/healthz").status_code == 200


def test_non_utf8_body_is_400(probe_client: TestClient) -> None:
    response = probe_client.post(
        ECHO,
        content=b'{"name": "\xff\xfe\xfa", "count": 1}',
        headers={"Content-Type": "application/json"},
    )
    assert_problem(response, 400, "malformed-request")


def test_latin1_body_is_400(probe_client: TestClient) -> None:
    response = probe_client.post(
        ECHO,
        content='{"name": "Sumedang caf\u00e9", "count": 1}'.encode("latin-1"),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert_problem(response, 400, "malformed-request")


def test_invalid_json_is_400(probe_client: TestClient) -> None:
    response = probe_client.post(
        ECHO, content=b'{"name": "x", "count": ', headers={"Content-Type": "application/json"}
    )
    problem = assert_problem(response, 400, "malformed-request")
    assert "count" not in json.dumps(problem)


def test_json_of_the_wrong_shape_is_422(probe_client: TestClient) -> None:
    response = probe_client.post(ECHO, json=["not", "an", "object"])
    assert_problem(response, 422, "validation-error")


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "application/xml"]
)
def test_wrong_content_type_is_415(probe_client: TestClient, content_type: str) -> None:
    response = probe_client.post(
        ECHO, content=b'{"name": "x", "count": 1}', headers={"Content-Type": content_type}
    )
    problem = assert_problem(response, 415, "unsupported-media-type")
    assert "application/json" in problem["detail"]


def test_json_with_charset_and_vendor_types_is_accepted(probe_client: TestClient) -> None:
    for content_type in ("application/json; charset=utf-8", "application/merge-patch+json"):
        response = probe_client.post(
            ECHO, content=b'{"name": "x", "count": 1}', headers={"Content-Type": content_type}
        )
        assert response.status_code == 200, (content_type, response.text)


async def _call(app, headers: list[tuple[bytes, bytes]]) -> list[dict]:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {"type": "http", "method": "POST", "path": "/", "headers": headers}
    await app(scope, receive, send)
    return sent


@pytest.mark.anyio
@pytest.mark.parametrize("declared", [b"abc", b"-1", b"1e9", b" 12"])
async def test_invalid_content_length_is_400(declared: bytes) -> None:
    reached = []

    async def inner(scope, receive, send) -> None:
        reached.append(scope)

    middleware = BodySizeLimitMiddleware(inner, Settings())
    sent = await _call(middleware, [(b"content-length", declared)])
    assert not reached
    assert sent[0]["status"] == 400
    assert json.loads(sent[1]["body"])["type"] == problem_type_uri("malformed-request")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
