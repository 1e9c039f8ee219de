"""Portal pages: the home page organised by life events."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse

from satu.core.auth import public
from satu.core.web import render

router = APIRouter(tags=["portal"])


@router.get("/", response_class=HTMLResponse, dependencies=[Depends(public)])
def home(request: Request) -> HTMLResponse:
    """The landing page."""
    return render(request, "portal/home.html", {})
