"""Bahasa Indonesia first, English second.

Messages are written in English in code and templates and translated through gettext
catalogues (`satu/core/locales/<lang>/LC_MESSAGES/messages.po`, read with Babel at start-up,
no build step). The locale of a request comes from `?lang=`, then the `satu_lang` cookie, then
`Accept-Language`, then the configured default (Indonesian).
"""

from __future__ import annotations

import gettext
from contextvars import ContextVar
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from urllib.parse import parse_qs

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from starlette.types import ASGIApp, Message, Receive, Scope, Send

LOCALES = ("id", "en")
DEFAULT_LOCALE = "id"
LANG_COOKIE = "satu_lang"
LOCALE_DIR = Path(__file__).parent / "locales"
LOCALE_NAMES = {"id": "Bahasa Indonesia", "en": "English"}

locale_var: ContextVar[str] = ContextVar("satu_locale", default=DEFAULT_LOCALE)


@lru_cache(maxsize=len(LOCALES))
def translations(locale: str) -> gettext.NullTranslations:
    """The catalogue for `locale` (English is the source language)."""
    po_path = LOCALE_DIR / locale / "LC_MESSAGES" / "messages.po"
    if not po_path.exists():
        return gettext.NullTranslations()
    with po_path.open("rb") as po_file:
        catalog = read_po(po_file, locale=locale)
    buffer = BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def gettext_(message: str) -> str:
    """Translate `message` into the current request's language."""
    return translations(locale_var.get()).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    """Translate with plural forms into the current request's language."""
    return translations(locale_var.get()).ngettext(singular, plural, n)


def negotiate(accept_language: str | None, default: str = DEFAULT_LOCALE) -> str:
    """Pick a supported locale from an Accept-Language header."""
    if not accept_language:
        return default
    choices: list[tuple[float, int, str]] = []
    for index, item in enumerate(accept_language.split(",")[:20]):
        parts = item.strip().split(";")
        tag = parts[0].strip().lower()
        quality = 1.0
        for param in parts[1:]:
            key, _, val = param.strip().partition("=")
            if key == "q":
                try:
                    quality = float(val)
                except ValueError:
                    quality = 0.0
        primary = tag.split("-")[0]
        if primary in LOCALES and quality > 0:
            choices.append((-quality, index, primary))
    return sorted(choices)[0][2] if choices else default


def _cookie_locale(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"cookie":
            for part in value.decode("latin-1").split(";"):
                name, _, val = part.strip().partition("=")
                if name == LANG_COOKIE and val in LOCALES:
                    return val
    return None


def _accept_language(scope: Scope) -> str | None:
    for key, value in scope.get("headers", []):
        if key == b"accept-language":
            return value.decode("latin-1")
    return None


class LocaleMiddleware:
    """Set the request's locale; `?lang=xx` also remembers the choice in a cookie."""

    def __init__(self, app: ASGIApp, default: str = DEFAULT_LOCALE) -> None:
        self.app = app
        self.default = default

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        chosen = (query.get("lang") or [None])[0]
        chosen = chosen if chosen in LOCALES else None
        locale = chosen or _cookie_locale(scope) or negotiate(_accept_language(scope), self.default)
        scope.setdefault("state", {})["locale"] = locale
        token = locale_var.set(locale)

        async def send_with_cookie(message: Message) -> None:
            if chosen and message["type"] == "http.response.start":
                cookie = f"{LANG_COOKIE}={chosen}; Path=/; Max-Age=31536000; SameSite=Lax"
                message["headers"] = [*message.get("headers", []), (b"set-cookie", cookie.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_cookie)
        finally:
            locale_var.reset(token)
