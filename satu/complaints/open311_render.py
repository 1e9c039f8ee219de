"""How Open311 answers look on the wire: JSON as is, XML built element by element.

The `Open311Error` that every endpoint raises and answers in the specification's `errors`
shape, the check that a path asks for `json` or `xml`, the dictionary-to-XML rendering (lists
get the singular item tags the specification uses) and the UTC W3C date-times. Split from
`open311.py`, which re-exports these names.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

from fastapi.responses import JSONResponse, Response

_FORMATS = {"json": "application/json", "xml": "text/xml"}
_ITEM_TAGS = {
    "formats": "format",
    "values": "value",
    "attributes": "attribute",
    "endpoints": "endpoint",
}


class Open311Error(Exception):
    """An error answered in Open311's `errors` shape."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(description)
        self.code = code
        self.description = description


# --- rendering -----------------------------------------------------------------------------


def _fmt(fmt: str) -> str:
    if fmt not in _FORMATS:
        raise Open311Error(404, f"format {fmt[:10]!r} not supported: use json or xml")
    return fmt


def _xml_value(parent: Element, name: str, value: Any) -> None:
    child = SubElement(parent, name)
    if isinstance(value, list):
        inner = _ITEM_TAGS.get(name, "item")
        for item in value:
            if isinstance(item, dict):
                node = SubElement(child, inner)
                for key, val in item.items():
                    _xml_value(node, key, val)
            else:
                SubElement(child, inner).text = _text(item)
    elif isinstance(value, dict):
        for key, val in value.items():
            _xml_value(child, key, val)
    else:
        child.text = _text(value)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _respond(fmt: str, root: str, item: str | None, data: Any, status: int = 200) -> Response:
    if fmt == "json":
        return JSONResponse(data, status_code=status)
    top = Element(root)
    if item is None:
        for key, val in data.items():
            _xml_value(top, key, val)
    else:
        for entry in data:
            node = SubElement(top, item)
            for key, val in entry.items():
                _xml_value(node, key, val)
    body = b'<?xml version="1.0" encoding="utf-8"?>' + tostring(top, encoding="unicode").encode()
    return Response(body, status_code=status, media_type="text/xml; charset=utf-8")


def _error(fmt: str, error: Open311Error) -> Response:
    data = [{"code": error.code, "description": error.description}]
    fmt = fmt if fmt in _FORMATS else "json"
    return _respond(fmt, "errors", "error", data, status=error.code)


def _iso(moment: datetime | None) -> str | None:
    return moment.astimezone(UTC).isoformat(timespec="seconds") if moment else None
