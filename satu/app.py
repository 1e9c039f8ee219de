"""The application factory: wires the shared kernel and every domain into one ASGI app."""

from __future__ import annotations

import importlib
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from sqlalchemy.engine import Engine
from starlette.types import ASGIApp

from satu import __version__
from satu.core.config import Settings, get_settings
from satu.core.csrf import CSRFCookieMiddleware
from satu.core.csrf import router as csrf_router
from satu.core.db import make_engine, make_sessionmaker
from satu.core.errors import install_error_handlers
from satu.core.i18n import LocaleMiddleware
from satu.core.logging import configure_logging
from satu.core.metrics import Metrics, MetricsMiddleware
from satu.core.middleware import (
    BodySizeLimitMiddleware,
    RequestContextMiddleware,
    SecurityHeadersMiddleware,
)
from satu.core.ops import router as ops_router
from satu.core.ratelimit import RateLimits
from satu.core.web import STATIC_DIR, make_templates, render_error_page
from satu.exchange.gateway import GatewayDispatch
from satu.exchange.xroad import install_xroad_errors

PACKAGE_DIR = Path(__file__).parent

# Each domain's ORM models, imported so that Alembic and the metadata know every table.
DOMAIN_MODEL_MODULES = (
    "satu.satudata.models",
    "satu.core.notify",
    "satu.identity.models",
    "satu.identity.oidc.models",
    "satu.complaints.models",
    "satu.exchange.models",
)

# Each domain's routers, in the order they are mounted: (module, attribute).
DOMAIN_ROUTERS = (
    ("satu.satudata.api", "router"),
    ("satu.satudata.agencies_api", "router"),
    ("satu.satudata.views", "router"),
    ("satu.portal.views", "router"),
    ("satu.complaints.api", "router"),
    ("satu.complaints.open311", "router"),
    ("satu.complaints.views", "router"),
    ("satu.identity.api", "router"),
    ("satu.identity.views", "router"),
    ("satu.identity.account_views", "router"),
    ("satu.identity.oidc.api", "router"),
    ("satu.identity.oidc.views", "router"),
    ("satu.identity.oidc.client_mgmt", "router"),
    ("satu.exchange.api", "router"),
    ("satu.exchange.metaservices", "router"),
    ("satu.exchange.config_api", "router"),
    ("satu.exchange.log_api", "router"),
    ("satu.exchange.pubsub_api", "router"),
    ("satu.exchange.tracker_api", "router"),
    ("satu.exchange.views", "router"),
)

# Domains that ship templates under `<domain>/templates/`.
DOMAIN_TEMPLATE_DIRS = tuple(
    path for path in sorted(PACKAGE_DIR.glob("*/templates")) if path.parent.name != "core"
)


def import_models() -> None:
    """Import every domain's models so that `Base.metadata` is complete."""
    for module in DOMAIN_MODEL_MODULES:
        importlib.import_module(module)


class SatuApp(FastAPI):
    """FastAPI with the exchange gateway's dispatch outside every layer, FastAPI's own too:
    X-Road service calls pay for none of the layers that pages and APIs need."""

    def build_middleware_stack(self) -> ASGIApp:
        """The app's layers, behind the gateway's dispatch."""
        return GatewayDispatch(super().build_middleware_stack(), owner=self)


def create_app(settings: Settings | None = None, *, engine: Engine | None = None) -> FastAPI:
    """Build the Satu ASGI application."""
    settings = settings or get_settings()
    configure_logging(settings.log_level, settings.log_json)
    import_models()
    app = SatuApp(
        title="Satu",
        version=__version__,
        summary="One portal, one identity, one data exchange for Indonesian public services.",
        docs_url="/api/docs",
        redoc_url=None,
        openapi_url="/api/openapi.json",
    )
    app.state.settings = settings
    app.state.engine = engine or make_engine(settings)
    app.state.sessionmaker = make_sessionmaker(app.state.engine)
    app.state.metrics = Metrics()
    app.state.rate_limits = RateLimits.from_settings(settings)
    app.state.templates = make_templates(DOMAIN_TEMPLATE_DIRS)
    app.state.render_error_page = render_error_page

    install_error_handlers(app)
    install_xroad_errors(app)
    app.include_router(ops_router)
    app.include_router(csrf_router)
    for module_name, attribute in DOMAIN_ROUTERS:
        app.include_router(getattr(importlib.import_module(module_name), attribute))
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")

    # Outermost last: request id -> metrics -> size limit -> security headers -> locale -> app.
    # X-Road service calls leave before all of them (SatuApp, GatewayDispatch).
    app.add_middleware(CSRFCookieMiddleware)
    app.add_middleware(LocaleMiddleware, default=settings.default_locale)
    app.add_middleware(SecurityHeadersMiddleware)
    app.add_middleware(BodySizeLimitMiddleware, settings=settings)
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(RequestContextMiddleware)
    return app
