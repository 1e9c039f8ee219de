"""Every message in code and templates has an Indonesian translation; locale negotiation works."""

from __future__ import annotations

import re
from collections import Counter
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po
from fastapi import FastAPI
from fastapi.testclient import TestClient

from satu.core.auth import public
from satu.core.i18n import (
    LANG_COOKIE,
    LOCALE_DIR,
    gettext_,
    locale_var,
    negotiate,
    ngettext_,
    translations,
)

PACKAGE = Path(__file__).resolve().parents[2] / "satu"
PO_FILE = LOCALE_DIR / "id" / "LC_MESSAGES" / "messages.po"
PYTHON_KEYWORDS = {"_": None, "gettext_": None, "ngettext_": (1, 2), "N_": None}
JINJA_KEYWORDS = {"_": None, "gettext": None, "ngettext": (1, 2)}
JINJA_OPTIONS = {"trim_blocks": "true", "lstrip_blocks": "true", "newstyle_gettext": "true"}
PLACEHOLDER = re.compile(r"%\((\w+)\)[sdif]|\{(\w*)\}")


def extract_messages(root: Path = PACKAGE) -> dict[str | tuple[str, str], list[str]]:
    """Every translatable message under `root`, with where it is used."""
    found: dict[str | tuple[str, str], list[str]] = {}
    sources = [(path, "python", PYTHON_KEYWORDS, {}) for path in sorted(root.rglob("*.py"))]
    sources += [
        (path, "jinja2.ext:babel_extract", JINJA_KEYWORDS, JINJA_OPTIONS)
        for path in sorted(root.rglob("templates/**/*.html"))
    ]
    for path, method, keywords, options in sources:
        for lineno, message, _comments, _context in extract_from_file(
            method, str(path), keywords=keywords, options=options
        ):
            key = message if isinstance(message, str) else tuple(message)
            if not key or (isinstance(key, tuple) and not all(key)):
                continue
            found.setdefault(key, []).append(f"{path.relative_to(root.parent)}:{lineno}")
    return found


def _catalog():
    with PO_FILE.open("rb") as po_file:
        return read_po(po_file, locale="id")


def _placeholders(text: str) -> set[str]:
    return {a or b for a, b in PLACEHOLDER.findall(text)}


def test_extraction_finds_template_and_python_messages() -> None:
    messages = extract_messages()
    assert "Skip to main content" in messages  # base.html
    assert "Look up a region" in messages  # satu/portal/views.py, via gettext_()
    assert all(isinstance(k, str | tuple) for k in messages)


def test_every_message_has_an_indonesian_translation() -> None:
    catalog = _catalog()
    missing = []
    for key, where in sorted(extract_messages().items(), key=lambda kv: str(kv[0])):
        msgid = key[0] if isinstance(key, tuple) else key
        entry = catalog.get(msgid)
        strings = entry.string if entry is not None else None
        forms = strings if isinstance(strings, tuple | list) else (strings,)
        if entry is None or not all(s and s.strip() for s in forms) or entry.fuzzy:
            missing.append(f"{msgid!r} ({where[0]})")
    assert not missing, (
        "Add Indonesian translations to satu/core/locales/id/LC_MESSAGES/messages.po for:\n"
        + "\n".join(missing)
    )


def test_translations_keep_their_placeholders() -> None:
    wrong = []
    for message in _catalog():
        if not message.id or not message.string:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        expected = set().union(*(_placeholders(i) for i in ids))
        for string in strings:
            if _placeholders(string) != expected:
                wrong.append(f"{ids[0]!r} -> {string!r}")
    assert not wrong, "Placeholders differ between msgid and translation:\n" + "\n".join(wrong)


def _has_bare_percent(text: str) -> bool:
    return "%" in re.sub(r"%%|%\(\w+\)[sdif]", "", text)


def test_no_message_has_a_bare_percent_sign() -> None:
    """Jinja's new-style gettext always applies `%` formatting: a bare `%` would crash a page."""
    wrong = []
    for key, where in extract_messages().items():
        in_templates = [w for w in where if w.split(":")[0].endswith(".html")]
        for text in key if isinstance(key, tuple) else (key,):
            if in_templates and _has_bare_percent(text):
                wrong.append(f"{text!r} ({in_templates[0]}): write %% or %(name)s")
    assert not wrong, "\n".join(wrong)
    assert _has_bare_percent("zoom to 400% please")
    assert not _has_bare_percent("%(num)d of 100%%")


def test_catalogue_has_no_duplicate_msgids() -> None:
    text = PO_FILE.read_text(encoding="utf-8")
    entries = re.findall(r'^(?:msgctxt "(.*)"\n)?msgid "(.*)"\n((?:".*"\n)*)', text, re.MULTILINE)
    counts = Counter(
        (ctx, first + "".join(re.findall(r'"(.*)"', rest))) for ctx, first, rest in entries
    )
    duplicates = [msgid for (_ctx, msgid), n in counts.items() if n > 1 and msgid]
    assert not duplicates, f"msgids listed twice in messages.po: {duplicates}"


def test_catalogue_header_declares_indonesian_plurals() -> None:
    catalog = _catalog()
    assert catalog.locale is not None and str(catalog.locale) == "id"
    assert catalog.num_plurals == 1


def test_gettext_follows_the_request_locale() -> None:
    token = locale_var.set("id")
    try:
        assert gettext_("Skip to main content") == "Langsung ke konten utama"
        assert gettext_("a message nobody translated") == "a message nobody translated"
        assert ngettext_("%(num)d result", "%(num)d results", 3) == "%(num)d hasil"
    finally:
        locale_var.reset(token)
    token = locale_var.set("en")
    try:
        assert gettext_("Skip to main content") == "Skip to main content"
        assert ngettext_("%(num)d result", "%(num)d results", 1) == "%(num)d result"
    finally:
        locale_var.reset(token)


def test_english_has_no_catalogue_and_passes_text_through() -> None:
    assert translations("en").gettext("Home") == "Home"


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, "id"),
        ("", "id"),
        ("en-US,en;q=0.9", "en"),
        ("id-ID,id;q=0.9,en;q=0.8", "id"),
        ("en;q=0.5, id;q=0.8", "id"),
        ("fr-FR, de;q=0.9", "id"),
        ("en;q=0, id;q=0", "id"),
        ("en;q=abc", "id"),
        ("jv, en;q=0.3", "en"),
        ("*", "id"),
        (";;;,,,", "id"),
    ],
)
def test_negotiate_accept_language(header: str | None, expected: str) -> None:
    assert negotiate(header) == expected


def test_negotiate_respects_another_default() -> None:
    assert negotiate("fr", default="en") == "en"


def _locale_app() -> FastAPI:
    from fastapi import Depends

    from satu.core.i18n import LocaleMiddleware

    app = FastAPI()

    @app.get("/which", dependencies=[Depends(public)])
    def which() -> dict[str, str]:
        return {"locale": locale_var.get(), "text": gettext_("Home")}

    app.add_middleware(LocaleMiddleware, default="id")
    return app


def test_middleware_order_query_then_cookie_then_header() -> None:
    client = TestClient(_locale_app())
    assert client.get("/which").json() == {"locale": "id", "text": "Beranda"}
    assert client.get("/which", headers={"accept-language": "en"}).json()["locale"] == "en"
    response = client.get("/which?lang=en", headers={"accept-language": "id"})
    assert response.json() == {"locale": "en", "text": "Home"}
    assert f"{LANG_COOKIE}=en" in response.headers["set-cookie"]
    assert "SameSite=Lax" in response.headers["set-cookie"]
    # The cookie now wins over Accept-Language.
    assert client.get("/which", headers={"accept-language": "id"}).json()["locale"] == "en"
    # ...and an explicit choice wins over the cookie.
    assert client.get("/which?lang=id").json()["locale"] == "id"


def test_middleware_ignores_unknown_language_choices() -> None:
    client = TestClient(_locale_app())
    response = client.get("/which?lang=xx")
    assert response.json()["locale"] == "id"
    assert "set-cookie" not in response.headers
    client.cookies.set(LANG_COOKIE, "zz")
    assert client.get("/which", headers={"accept-language": "en"}).json()["locale"] == "en"
