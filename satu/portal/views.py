"""Portal pages: the home page organised by life events, about and accessibility."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from satu.core.auth import public
from satu.core.i18n import gettext_, locale_var
from satu.core.web import has_page, render
from satu.portal import service
from satu.portal.schemas import Tool

router = APIRouter(tags=["portal"])

SEARCH_PATH = "/wilayah"


def _tools(request: Request) -> list[Tool]:
    """The tools that work today, listed only when their page is served."""
    candidates = [
        Tool(
            path="/wilayah",
            title=gettext_("Look up a region"),
            summary=gettext_(
                "Find the official code of a province, regency or city, district or village."
            ),
        ),
        Tool(
            path="/nik",
            title=gettext_("Check a NIK"),
            summary=gettext_(
                "See whether a population identity number (NIK) is well formed and what it says."
            ),
        ),
        Tool(
            path="/pengaduan/baru",
            title=gettext_("Report a problem with a public service"),
            summary=gettext_(
                "Tell the government what went wrong; your report goes to the agency responsible."
            ),
        ),
        Tool(
            path="/pengaduan/lacak",
            title=gettext_("Track a report"),
            summary=gettext_("Follow your report with its number or tracking link."),
        ),
        Tool(
            path="/pengaduan/statistik",
            title=gettext_("Complaint statistics"),
            summary=gettext_("How many reports each agency receives and answers on time."),
        ),
    ]
    return [tool for tool in candidates if has_page(request, tool.path)]


def _crumbs(label: str) -> list[dict[str, str | None]]:
    return [{"label": gettext_("Home"), "url": "/"}, {"label": label, "url": None}]


@router.get("/", response_class=HTMLResponse, dependencies=[Depends(public)])
def home(request: Request) -> HTMLResponse:
    """The landing page: search, life events and the tools that work today."""
    return render(
        request,
        "portal/home.html",
        {
            "life_events": service.list_life_events(locale=locale_var.get()),
            "tools": _tools(request),
            "search_path": SEARCH_PATH if has_page(request, SEARCH_PATH) else None,
        },
    )


@router.get("/tentang", response_class=HTMLResponse, dependencies=[Depends(public)])
def about(request: Request) -> HTMLResponse:
    """What Satu is and how it is built."""
    return render(request, "portal/about.html", {"breadcrumbs": _crumbs(gettext_("About Satu"))})


@router.get("/aksesibilitas", response_class=HTMLResponse, dependencies=[Depends(public)])
def accessibility(request: Request) -> HTMLResponse:
    """The accessibility statement."""
    return render(
        request,
        "portal/accessibility.html",
        {"breadcrumbs": _crumbs(gettext_("Accessibility statement"))},
    )
