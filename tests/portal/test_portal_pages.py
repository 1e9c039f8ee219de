"""The portal's pages: language, errors, security headers, valid HTML and honest links."""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse
from fastapi.testclient import TestClient

from satu.core.auth import public
from satu.core.errors import Problem
from satu.core.i18n import LANG_COOKIE
from satu.core.web import STATIC_DIR, has_page
from satu.portal import service
from satu.portal.life_events import LIFE_EVENTS
from tests.portal.htmlcheck import check_html

HTML = {"accept": "text/html,application/xhtml+xml,*/*;q=0.8"}
PAGES = ["/", "/tentang", "/aksesibilitas"]


def get_page(client: TestClient, path: str, **headers: str):
    response = client.get(path, headers={**HTML, **headers})
    assert response.headers["content-type"].startswith("text/html")
    return response, check_html(response.text)


@pytest.mark.parametrize("path", PAGES)
def test_pages_are_indonesian_by_default_and_valid(client: TestClient, path: str) -> None:
    response, page = get_page(client, path)
    assert response.status_code == 200
    assert page.problems == []
    assert page.lang == "id"
    assert response.headers["content-language"] == "id"
    assert "Accept-Language" in response.headers["vary"]
    assert 'href="/?lang=en"' in response.text or f'href="{path}?lang=en"' in response.text


@pytest.mark.parametrize(
    ("path", "title_id", "title_en"),
    [
        ("/", "Layanan pemerintah dalam satu tempat", "Government services in one place"),
        ("/tentang", "Tentang Satu", "About Satu"),
        ("/aksesibilitas", "Pernyataan aksesibilitas", "Accessibility statement"),
    ],
)
def test_pages_in_both_languages(
    client: TestClient, path: str, title_id: str, title_en: str
) -> None:
    _, page_id = get_page(client, path)
    assert page_id.h1 == [title_id]
    assert page_id.title == f"{title_id} · Satu"
    response, page_en = get_page(client, f"{path}?lang=en")
    assert page_en.lang == "en"
    assert page_en.h1 == [title_en]
    assert response.headers["content-language"] == "en"
    assert page_en.problems == []


def test_home_shows_every_life_event_as_a_card(client: TestClient) -> None:
    _, page = get_page(client, "/")
    for event in LIFE_EVENTS:
        assert event["title"]["id"] in page.text
        assert event["summary"]["id"] in page.text
    assert "Kelahiran anak" in page.text and "Bantuan sosial" in page.text
    assert page.text.count("Segera hadir") == sum(1 for e in LIFE_EVENTS if not e["path"])
    _, english = get_page(client, "/?lang=en")
    assert "Having a baby" in english.text and "Social assistance" in english.text
    assert "Coming soon" in english.text


def test_english_via_accept_language(client: TestClient) -> None:
    response, page = get_page(client, "/", **{"accept-language": "en-GB,en;q=0.9"})
    assert page.lang == "en"
    assert "set-cookie" not in response.headers
    _, page = get_page(client, "/", **{"accept-language": "id-ID,id;q=0.9,en;q=0.5"})
    assert page.lang == "id"
    _, page = get_page(client, "/", **{"accept-language": "fr-FR"})
    assert page.lang == "id"


def test_cookie_remembers_the_language_choice(client: TestClient) -> None:
    response, _ = get_page(client, "/?lang=en")
    assert f"{LANG_COOKIE}=en" in response.headers["set-cookie"]
    assert client.cookies.get(LANG_COOKIE) == "en"
    _, page = get_page(client, "/tentang", **{"accept-language": "id"})
    assert page.lang == "en"
    # The switch link on an English page goes back to Indonesian, keeping other parameters.
    response, page = get_page(client, "/tentang?x=1")
    assert 'href="/tentang?x=1&amp;lang=id"' in response.text
    response, page = get_page(client, "/tentang?x=1&lang=id")
    assert page.lang == "id"
    assert client.cookies.get(LANG_COOKIE) == "id"


def test_unknown_language_falls_back_to_indonesian(client: TestClient) -> None:
    response, page = get_page(client, "/?lang=xx")
    assert response.status_code == 200
    assert page.lang == "id"
    assert "set-cookie" not in response.headers


def test_every_internal_link_and_form_target_exists(client: TestClient) -> None:
    seen: set[str] = set()
    for path in [*PAGES, "/?lang=en", "/halaman-yang-tidak-ada"]:
        _, page = get_page(client, path)
        targets = page.links + [form["action"] for form in page.forms]
        for href in targets:
            parts = urlsplit(href)
            if parts.scheme or parts.netloc or href.startswith("#"):
                continue
            seen.add(parts.path)
    seen.discard("/halaman-yang-tidak-ada")  # the 404 page's own language switch
    assert {"/", "/tentang", "/aksesibilitas"} <= seen
    for target in sorted(seen):
        response = client.get(target, headers=HTML)
        assert response.status_code == 200, f"{target} is linked but answers {response.status_code}"


def test_not_found_is_a_friendly_page_for_browsers(client: TestClient) -> None:
    response, page = get_page(client, "/halaman-yang-tidak-ada")
    assert response.status_code == 404
    assert page.problems == []
    assert page.lang == "id"
    assert page.h1 == ["Halaman tidak ditemukan"]
    assert "Kesalahan 404" in page.text
    assert response.headers["x-request-id"] in page.text
    response, page = get_page(client, "/halaman-yang-tidak-ada?lang=en")
    assert page.h1 == ["Page not found"]
    assert page.lang == "en"


def test_not_found_is_problem_json_for_programs(client: TestClient) -> None:
    response = client.get("/halaman-yang-tidak-ada", headers={"accept": "application/json"})
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == 404 and body["type"].endswith("/problems/not-found")
    # API paths answer JSON even to a browser.
    response = client.get("/api/v1/tidak-ada", headers=HTML)
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"


@pytest.fixture
def failing_client(app: FastAPI):
    """The app plus a page that fails with an unexpected error and one that raises a 4xx."""

    def boom() -> HTMLResponse:
        raise RuntimeError("secret database password leaked in a stack trace")

    def conflict() -> HTMLResponse:
        raise Problem("conflict", "That NIK is already registered.")

    app.add_api_route("/_test/boom", boom, dependencies=[Depends(public)])
    app.add_api_route("/_test/conflict", conflict, dependencies=[Depends(public)])
    with TestClient(app, raise_server_exceptions=False) as test_client:
        yield test_client


def test_server_error_page_never_shows_a_stack_trace(failing_client: TestClient) -> None:
    response, page = get_page(failing_client, "/_test/boom")
    assert response.status_code == 500
    assert page.problems == []
    assert page.h1 == ["Maaf, layanan ini sedang mengalami gangguan"]
    assert "secret" not in response.text
    assert "Traceback" not in response.text and "RuntimeError" not in response.text
    assert response.headers["x-request-id"] in page.text
    _, page = get_page(failing_client, "/_test/boom?lang=en")
    assert page.h1 == ["Sorry, there is a problem with this service"]
    response = failing_client.get("/_test/boom", headers={"accept": "application/json"})
    assert response.status_code == 500
    assert "secret" not in response.text


def test_client_error_page_shows_the_detail(failing_client: TestClient) -> None:
    response, page = get_page(failing_client, "/_test/conflict")
    assert response.status_code == 409
    assert page.h1 == ["Konflik data"]
    assert "That NIK is already registered." in page.text
    assert page.problems == []


def test_problem_type_pages(client: TestClient) -> None:
    response, page = get_page(client, "/problems/invalid-nik")
    assert response.status_code == 200
    assert page.h1 == ["NIK tidak valid"]
    assert page.problems == []
    response, page = get_page(client, "/problems/no-such-problem")
    assert response.status_code == 404
    assert page.problems == []


@pytest.mark.parametrize("path", [*PAGES, "/halaman-yang-tidak-ada"])
def test_security_headers_on_pages(client: TestClient, path: str) -> None:
    response = client.get(path, headers=HTML)
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "style-src 'self'" in headers["content-security-policy"]
    assert "script-src 'self'" in headers["content-security-policy"]
    assert headers["referrer-policy"] == "strict-origin-when-cross-origin"
    assert headers["x-request-id"]


def test_stylesheet_and_logo_are_small_and_served(client: TestClient) -> None:
    css = client.get("/static/satu.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert len(css.content) < 12 * 1024
    assert (STATIC_DIR / "satu.css").stat().st_size == len(css.content)
    logo = client.get("/static/satu.svg")
    assert logo.status_code == 200
    assert logo.headers["content-type"].startswith("image/svg+xml")
    assert client.get("/static/nothing.css").status_code == 404


def test_css_has_visible_focus_and_no_external_assets() -> None:
    css = (STATIC_DIR / "satu.css").read_text()
    assert ":focus-visible" in css and "outline: 3px solid" in css
    assert "outline: none" not in css and "outline:0" not in css.replace(" ", "")
    assert "@import" not in css and "url(" not in css and "http" not in css


def test_home_page_weight_is_small(client: TestClient) -> None:
    html = client.get("/", headers=HTML).content
    css = client.get("/static/satu.css").content
    assert len(html) + len(css) < 30 * 1024


def _portal_only_app() -> FastAPI:
    """The portal's pages alone, without the domains that serve /wilayah and /nik."""
    from satu.app import DOMAIN_TEMPLATE_DIRS
    from satu.core.i18n import LocaleMiddleware
    from satu.core.web import make_templates
    from satu.portal import views

    bare = FastAPI()
    bare.state.templates = make_templates(DOMAIN_TEMPLATE_DIRS)
    bare.include_router(views.router)
    bare.add_middleware(LocaleMiddleware)
    return bare


def test_tools_and_search_are_hidden_while_their_pages_do_not_exist() -> None:
    with TestClient(_portal_only_app()) as client:
        response, page = get_page(client, "/")
    assert response.status_code == 200
    assert page.problems == []
    assert "/wilayah" not in page.links and "/nik" not in page.links
    assert page.forms == []
    assert "Layanan yang sudah bisa digunakan" not in page.text


def test_tools_and_search_appear_once_their_pages_exist() -> None:
    bare = _portal_only_app()

    def stub() -> HTMLResponse:
        return HTMLResponse("<!doctype html><title>stub</title>")

    bare.add_api_route("/wilayah", stub, dependencies=[Depends(public)])
    with TestClient(bare) as client:
        response, page = get_page(client, "/")
        assert "/wilayah" in page.links and "/nik" not in page.links
        assert [form["action"] for form in page.forms] == ["/wilayah"]
        assert page.forms[0]["method"] == "get"
        assert 'name="q"' in response.text
        assert "Layanan yang sudah bisa digunakan" in page.text
        bare.add_api_route("/nik", stub, dependencies=[Depends(public)])
        _, page = get_page(client, "/")
        assert "/wilayah" in page.links and "/nik" in page.links
        assert page.problems == []


def test_the_real_app_links_the_tools_it_serves(client: TestClient, app: FastAPI) -> None:
    from starlette.requests import Request

    request = Request({"type": "http", "app": app, "method": "GET", "path": "/", "headers": []})
    _, page = get_page(client, "/")
    for path in ("/wilayah", "/nik", "/pengaduan/baru", "/pengaduan/lacak", "/pengaduan/statistik"):
        assert (path in page.links) == has_page(request, path)


def test_the_header_links_the_main_sections_on_every_page(client: TestClient) -> None:
    for path in ("/", "/tentang", "/wilayah"):
        _, page = get_page(client, path)
        assert "/pengaduan" in page.links and "/akun" in page.links
    english = client.get("/?lang=en").text
    assert ">Complaints</a>" in english and ">My account</a>" in english
    assert ">Pengaduan</a>" in client.get("/?lang=id").text


def test_has_page_matches_only_get_routes_at_that_exact_path(app: FastAPI) -> None:
    from starlette.requests import Request

    def post_only() -> None:
        return None

    app.add_api_route("/_test/post-only", post_only, methods=["POST"])
    request = Request({"type": "http", "app": app, "method": "GET", "path": "/", "headers": []})
    assert has_page(request, "/tentang")
    assert not has_page(request, "/tentan")
    assert not has_page(request, "/_test/post-only")


def test_life_events_service_translates_and_looks_up() -> None:
    events_id = service.list_life_events(locale="id")
    events_en = service.list_life_events(locale="en")
    assert [e.slug for e in events_id] == [e["slug"] for e in LIFE_EVENTS]
    assert events_id[0].title == "Kelahiran anak" and events_en[0].title == "Having a baby"
    assert len({e.slug for e in events_id}) == len(events_id)
    assert all(e.title and e.summary for e in events_id + events_en)
    assert service.get_life_event(slug="bantuan-sosial", locale="en").title == "Social assistance"
    # An unknown locale falls back to Indonesian rather than failing.
    assert service.list_life_events(locale="fr")[0].title == "Kelahiran anak"
    with pytest.raises(Problem) as caught:
        service.get_life_event(slug="tidak-ada", locale="id")
    assert caught.value.status == 404
