"""Server-rendered pages: one Jinja2 environment, shared layout, friendly error pages.

Templates receive plain dicts or Pydantic schemas, never ORM objects. Every domain keeps
its templates in `<domain>/templates/<domain>/`; the app factory passes those folders here.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse
from fastapi.routing import iter_route_contexts
from fastapi.templating import Jinja2Templates
from jinja2 import ChoiceLoader, Environment, FileSystemLoader, select_autoescape

from satu import __version__
from satu.core.errors import PROBLEM_TYPES, Problem
from satu.core.i18n import LOCALE_NAMES, LOCALES, gettext_, locale_var, ngettext_

CORE_TEMPLATES = Path(__file__).parent / "templates"
STATIC_DIR = Path(__file__).parent / "static"


def make_templates(template_dirs: Iterable[Path]) -> Jinja2Templates:
    """A Jinja2 environment over core's templates and each domain's."""
    loader = ChoiceLoader([FileSystemLoader(str(d)) for d in [CORE_TEMPLATES, *template_dirs]])
    env = Environment(
        loader=loader,
        autoescape=select_autoescape(("html", "xml"), default=True),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.install_gettext_callables(gettext_, ngettext_, newstyle=True)  # type: ignore[attr-defined]
    env.globals["satu_version"] = __version__
    return Jinja2Templates(env=env)


def _switch_url(request: Request, locale: str) -> str:
    params = dict(request.query_params)
    params["lang"] = locale
    return f"{request.url.path}?{urlencode(params)}"


def page_context(request: Request) -> dict[str, Any]:
    """What every page's layout needs: language, switch links, request id."""
    locale = locale_var.get()
    return {
        "request": request,
        "locale": locale,
        "other_locales": [
            {"code": code, "name": LOCALE_NAMES[code], "url": _switch_url(request, code)}
            for code in LOCALES
            if code != locale
        ],
        "locale_links": [
            {
                "code": code,
                "name": LOCALE_NAMES[code],
                "url": _switch_url(request, code),
                "current": code == locale,
            }
            for code in LOCALES
        ],
        "request_id": getattr(request.state, "request_id", ""),
        "site_links": _site_links(request),
    }


def _site_links(request: Request) -> list[dict[str, str]]:
    """The header's links to the main sections, for the sections this app serves."""
    links = [("/pengaduan", gettext_("Complaints")), ("/akun", gettext_("My account"))]
    return [{"url": url, "label": label} for url, label in links if has_page(request, url)]


def _get_paths(request: Request) -> frozenset[str]:
    """Every path the app serves with GET, collected again only when routes are added."""
    routes = request.app.router.routes
    cached = getattr(request.app.state, "satu_get_paths", None)
    if cached is None or cached[0] != len(routes):
        paths = frozenset(
            route.path for route in iter_route_contexts(routes) if "GET" in (route.methods or ())
        )
        cached = (len(routes), paths)
        request.app.state.satu_get_paths = cached
    return cached[1]


def has_page(request: Request, path: str) -> bool:
    """True when the app serves a GET route at exactly `path` (to link only to pages that exist)."""
    return path in _get_paths(request)


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page in the request's language."""
    templates: Jinja2Templates = request.app.state.templates
    full = {**page_context(request), **(context or {})}
    response = templates.TemplateResponse(
        request, template, full, status_code=status_code, headers=headers
    )
    response.headers["vary"] = "Accept-Language, Cookie"
    response.headers["content-language"] = full["locale"]
    return response


def render_error_page(request: Request, problem: Problem, headers: dict[str, str]) -> HTMLResponse:
    """A friendly error page in the user's language, without technical detail for 5xx."""
    kind = PROBLEM_TYPES[problem.slug]
    locale = locale_var.get()
    return render(
        request,
        "error.html",
        {
            "status": problem.status,
            "title": kind.title_id if locale == "id" else kind.title,
            "detail": problem.detail if problem.status < 500 else None,
        },
        status_code=problem.status,
        headers=headers,
    )
