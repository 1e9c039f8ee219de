"""Portal logic: the life events in the reader's language."""

from __future__ import annotations

from satu.core.errors import Problem
from satu.core.i18n import DEFAULT_LOCALE, LOCALES
from satu.portal.life_events import LIFE_EVENTS, LifeEventData
from satu.portal.schemas import LifeEvent


def _localise(event: LifeEventData, locale: str) -> LifeEvent:
    lang = locale if locale in LOCALES else DEFAULT_LOCALE
    return LifeEvent(
        slug=event["slug"],
        title=event["title"][lang],
        summary=event["summary"][lang],
        path=event["path"],
    )


def list_life_events(*, locale: str) -> list[LifeEvent]:
    """Every configured life event, in display order, translated into `locale`."""
    return [_localise(event, locale) for event in LIFE_EVENTS]


def get_life_event(*, slug: str, locale: str) -> LifeEvent:
    """One life event by its slug; `not-found` if there is none."""
    for event in LIFE_EVENTS:
        if event["slug"] == slug:
            return _localise(event, locale)
    raise Problem("not-found", f"No life event called {slug!r}.")
