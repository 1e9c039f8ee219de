"""Operations endpoints: liveness, readiness, Prometheus metrics, problem-type pages."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from satu.core.auth import public
from satu.core.errors import PROBLEM_TYPES, Problem, problem_type_uri
from satu.core.migrations import current_heads, script_heads
from satu.core.web import render

router = APIRouter(tags=["ops"])


@router.get("/healthz", dependencies=[Depends(public)])
def healthz() -> dict[str, str]:
    """The process is up and answering."""
    return {"status": "ok"}


@router.get("/readyz", dependencies=[Depends(public)])
def readyz(request: Request) -> JSONResponse:
    """The database answers and its schema is at the latest migration."""
    checks: dict[str, str] = {}
    try:
        with request.app.state.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            checks["database"] = "ok"
            current = set(current_heads(connection))
            expected = set(script_heads())
            checks["migrations"] = "ok" if current == expected else "pending"
    except SQLAlchemyError:
        checks.setdefault("database", "unreachable")
        checks.setdefault("migrations", "unknown")
    ready = all(value == "ok" for value in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


@router.get("/metrics", dependencies=[Depends(public)], include_in_schema=False)
def metrics(request: Request) -> Response:
    """Prometheus text exposition of this worker's metrics."""
    return PlainTextResponse(
        generate_latest(request.app.state.metrics.registry), media_type=CONTENT_TYPE_LATEST
    )


@router.get("/problems/{slug}", dependencies=[Depends(public)], include_in_schema=False)
def problem_page(request: Request, slug: str) -> Response:
    """Human documentation of a problem type named in API errors."""
    kind = PROBLEM_TYPES.get(slug)
    if kind is None:
        raise Problem("not-found", f"No problem type called {slug!r}.")
    return render(
        request,
        "problem_type.html",
        {"kind": kind, "uri": problem_type_uri(slug)},
    )
