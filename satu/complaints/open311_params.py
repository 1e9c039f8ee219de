"""Reading what an Open311 client sends: jurisdiction, flags, numbers and date-times.

Each parser turns a raw query or form value into what the domain expects, or raises an
`Open311Error` (400 or 404) whose description names the Open311 field, not Satu's own (a
pydantic error on `body` is reported as `description`, `region_code` as `address_id`). Split
from `open311.py`, which re-exports these names.
"""

from __future__ import annotations

from datetime import UTC, datetime

from pydantic import ValidationError

from satu.complaints.config import get_complaint_settings
from satu.complaints.open311_render import Open311Error


def _jurisdiction(value: str | None) -> None:
    if value and value != get_complaint_settings().jurisdiction_id:
        raise Open311Error(404, f"jurisdiction_id {value[:40]!r} was not found")


def _flag(value: str | None, name: str) -> bool:
    if value in (None, "", "false", "0", "no"):
        return False
    if value in ("true", "1", "yes"):
        return True
    raise Open311Error(400, f"attribute[{name}] must be true or false")


def _float(value: str | None, name: str) -> float | None:
    if value in (None, ""):
        return None
    try:
        number = float(value)
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a number") from exc
    if number != number or number in (float("inf"), float("-inf")):
        raise Open311Error(400, f"{name} must be a number")
    return number


def _validation_message(exc: ValidationError) -> str:
    first = exc.errors()[0]
    field = ".".join(str(p) for p in first.get("loc", ()))
    names = {"body": "description", "region_code": "address_id", "latitude": "lat"}
    field = names.get(field, {"longitude": "long"}.get(field, field))
    return f"{field}: {first.get('msg', 'invalid')}"


def _parse_when(value: str | None, name: str) -> datetime | None:
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise Open311Error(400, f"{name} must be a W3C date-time") from exc
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
