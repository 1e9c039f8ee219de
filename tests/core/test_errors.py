"""Every API error is an RFC 9457 problem; people get a friendly page in their language."""

from __future__ import annotations

import json
import re

import pytest
from fastapi.testclient import TestClient

from satu.core.errors import PROBLEM_JSON, PROBLEM_TYPES, Problem, problem_type_uri
from tests.core.support import BOOM_MARKER, LogCapture

HTML = {"Accept": "text/html,application/xhtml+xml"}
TRACEBACK_WORDS = ("Traceback", "RuntimeError", BOOM_MARKER, 'File "', "satu/", ".py")


def page_title(html: str) -> str:
    """The text of a page's <title>."""
    match = re.search(r"<title>(.*?)</title>", html, re.S)
    assert match, "page has no <title>"
    return match.group(1).strip()


def assert_problem(response, status: int, slug: str) -> dict:
    """The response is a problem+json document of the given kind; returns the body."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    body = response.json()
    assert body["type"].endswith(f"/problems/{slug}")
    assert body["type"] == problem_type_uri(slug)
    assert body["status"] == status
    assert isinstance(body["title"], str) and body["title"]
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_unknown_path_is_a_404_problem(probe_client: TestClient) -> None:
    response = probe_client.get("/api/v1/no/such/thing")
    body = assert_problem(response, 404, "not-found")
    assert body["instance"] == "/api/v1/no/such/thing"
    assert body["title"] == "Not found"


def test_unknown_page_as_json_when_not_a_browser(probe_client: TestClient) -> None:
    response = probe_client.get("/no-such-page", headers={"Accept": "application/json"})
    assert_problem(response, 404, "not-found")


def test_problem_raised_by_a_route_keeps_its_detail(probe_client: TestClient) -> None:
    response = probe_client.get("/api/v1/_probe/items/404")
    body = assert_problem(response, 404, "not-found")
    assert body["detail"] == "No such item."
    assert body["instance"] == "/api/v1/_probe/items/404"


def test_wrong_method_is_a_405_problem(probe_client: TestClient) -> None:
    response = probe_client.delete("/api/v1/_probe/echo")
    assert_problem(response, 405, "method-not-allowed")
    assert "POST" in response.headers["allow"]


def test_validation_error_lists_fields_without_echoing_input(probe_client: TestClient) -> None:
    secret = "s3cr3t-Value-Never-Echoed"
    response = probe_client.post(
        "/api/v1/_probe/echo",
        json={"name": secret * 5, "count": -7, "password": ["not", "a", secret]},
    )
    body = assert_problem(response, 422, "validation-error")
    assert isinstance(body["errors"], list)
    locations = {tuple(err["location"]) for err in body["errors"]}
    assert ("body", "name") in locations
    assert ("body", "count") in locations
    assert ("body", "password") in locations
    for err in body["errors"]:
        assert set(err) == {"location", "message", "type"}
        assert err["message"]
    assert secret not in response.text
    assert "-7" not in response.text


def test_validation_error_on_path_parameter(probe_client: TestClient) -> None:
    response = probe_client.get("/api/v1/_probe/items/not-a-number")
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["location"] == ["path", "item_id"]
    assert "not-a-number" not in json.dumps(body["errors"])


def test_missing_body_is_a_validation_problem(probe_client: TestClient) -> None:
    response = probe_client.post("/api/v1/_probe/echo")
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["location"] == ["body"]


def test_unexpected_exception_is_a_bare_500_problem(
    probe_client: TestClient, json_logs: LogCapture
) -> None:
    response = probe_client.get("/api/v1/_probe/boom", headers={"X-Request-Id": "boom-req-1"})
    body = assert_problem(response, 500, "internal-error")
    assert body["request_id"] == "boom-req-1"
    assert set(body) == {"type", "title", "status", "instance", "request_id"}
    for word in TRACEBACK_WORDS:
        assert word not in response.text
    errors = [r for r in json_logs.records() if r["level"] == "error"]
    assert errors, "the unexpected error was not logged"
    assert errors[0]["request_id"] == "boom-req-1"
    assert BOOM_MARKER in errors[0]["exception"]
    assert errors[0]["path"] == "/api/v1/_probe/boom"


def test_unexpected_exception_keeps_security_headers(probe_client: TestClient) -> None:
    response = probe_client.get("/api/v1/_probe/boom")
    assert response.status_code == 500
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "x-request-id" in response.headers


def test_unexpected_exception_page_for_browsers_in_indonesian(probe_client: TestClient) -> None:
    response = probe_client.get("/_probe/boom", headers={**HTML, "X-Request-Id": "page-boom-1"})
    assert response.status_code == 500
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-language"] == "id"
    assert '<html lang="id">' in response.text
    assert "page-boom-1" in response.text
    assert response.headers["x-request-id"] == "page-boom-1"
    for word in TRACEBACK_WORDS:
        assert word not in response.text


def test_unexpected_exception_page_in_english_on_request(probe_client: TestClient) -> None:
    response = probe_client.get("/_probe/boom?lang=en", headers=HTML)
    assert response.status_code == 500
    assert response.headers["content-language"] == "en"
    assert '<html lang="en">' in response.text
    assert BOOM_MARKER not in response.text
    indonesian = probe_client.get("/_probe/boom?lang=id", headers=HTML)
    assert page_title(indonesian.text) != page_title(response.text)


def test_not_found_page_in_indonesian_by_default(probe_client: TestClient) -> None:
    response = probe_client.get("/halaman-yang-tidak-ada", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert response.headers["content-language"] == "id"
    assert '<html lang="id">' in response.text
    english = probe_client.get("/halaman-yang-tidak-ada?lang=en", headers=HTML)
    assert page_title(response.text) != page_title(english.text), "page not translated"


def test_not_found_page_in_english_with_lang(probe_client: TestClient) -> None:
    response = probe_client.get("/no-such-page?lang=en", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-language"] == "en"
    assert '<html lang="en">' in response.text
    assert "404" in response.text
    assert "satu_lang=en" in response.headers["set-cookie"]


def test_not_found_page_follows_accept_language(probe_client: TestClient) -> None:
    response = probe_client.get(
        "/no-such-page", headers={**HTML, "Accept-Language": "en-GB,en;q=0.9"}
    )
    assert response.headers["content-language"] == "en"


def test_api_paths_never_get_html(probe_client: TestClient) -> None:
    response = probe_client.get("/api/v1/no/such/thing", headers=HTML)
    assert_problem(response, 404, "not-found")


@pytest.mark.parametrize("slug", sorted(PROBLEM_TYPES))
def test_problem_type_uri_dereferences_to_a_page(probe_client: TestClient, slug: str) -> None:
    kind = PROBLEM_TYPES[slug]
    response = probe_client.get(f"/problems/{slug}", headers=HTML)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert kind.title_id in response.text
    assert f"HTTP {kind.status}" in response.text
    english = probe_client.get(f"/problems/{slug}?lang=en", headers=HTML)
    assert kind.title in english.text


def test_unknown_problem_type_is_a_404(probe_client: TestClient) -> None:
    response = probe_client.get("/problems/no-such-problem")
    assert_problem(response, 404, "not-found")


def test_problem_rejects_unknown_slug() -> None:
    with pytest.raises(KeyError):
        Problem("no-such-slug")


def test_problem_to_dict_carries_extensions() -> None:
    problem = Problem("conflict", "Already there.", existing_id="abc")
    body = problem.to_dict(instance="/x")
    assert body == {
        "type": problem_type_uri("conflict"),
        "title": "Conflict",
        "status": 409,
        "detail": "Already there.",
        "instance": "/x",
        "existing_id": "abc",
    }
