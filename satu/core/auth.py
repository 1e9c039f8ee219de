"""Every route declares who may call it.

A route lists exactly one access dependency from here (or from the identity domain, which
marks its own with `access_rule`). The architecture test fails on a route without one, so
nobody ships an endpoint whose access nobody thought about.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

F = TypeVar("F", bound=Callable[..., Any])
ACCESS_ATTRIBUTE = "__satu_access__"


def access_rule(name: str) -> Callable[[F], F]:
    """Mark a dependency as an access rule called `name`."""

    def mark(func: F) -> F:
        setattr(func, ACCESS_ATTRIBUTE, name)
        return func

    return mark


@access_rule("public")
def public() -> None:
    """Anyone may call this route, signed in or not."""


def access_of(dependency: Any) -> str | None:
    """The access rule a dependency stands for, if it is one."""
    return getattr(dependency, ACCESS_ATTRIBUTE, None)
