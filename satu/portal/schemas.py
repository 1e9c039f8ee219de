"""What portal pages receive: plain, already-translated data."""

from __future__ import annotations

from pydantic import BaseModel


class LifeEvent(BaseModel):
    """A life event in one language, ready to show."""

    slug: str
    title: str
    summary: str
    path: str | None = None


class Tool(BaseModel):
    """A working tool the home page links to."""

    path: str
    title: str
    summary: str
