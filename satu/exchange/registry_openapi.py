"""Checks on what a provider registers: its backend URL, OpenAPI document and operations, and
matching a request path against OpenAPI path templates (no regular expression built from input).
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any
from urllib.parse import urlsplit

from satu.core.errors import Problem
from satu.exchange.schemas import OperationInfo

HTTP_METHODS = ("GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS", "TRACE")
MAX_OPENAPI_BYTES = 2_000_000
MAX_OPERATIONS = 500
MAX_PATH_LENGTH = 300
_PARAM = re.compile(r"\{([A-Za-z0-9_.\-]{1,64})\}")
# A path template: "/", or "/"-separated segments of URL path characters and {name} parameters.
_TEMPLATE_CHARS = re.compile(r"^[A-Za-z0-9\-._~!$&'()*+,;=:@%/{}]+$")


def check_base_url(url: Any) -> str:
    """An absolute http(s) URL without credentials, query or fragment; problems otherwise."""
    if not isinstance(url, str) or not url.strip():
        raise Problem("validation-error", "base_url is required.")
    url = url.strip()
    if len(url) > 500:
        raise Problem("validation-error", "base_url is longer than 500 characters.")
    if any(ord(ch) < 0x21 or ord(ch) == 0x7F for ch in url):
        raise Problem("validation-error", "base_url contains spaces or control characters.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise Problem("validation-error", "base_url is not a valid URL.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise Problem("validation-error", "base_url must be an absolute http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise Problem("validation-error", "base_url must not carry credentials.")
    if parts.query or parts.fragment or url.endswith(("?", "#")):
        raise Problem("validation-error", "base_url must not have a query or fragment.")
    if port == 0:
        raise Problem("validation-error", "base_url has an invalid port.")
    from satu.exchange import urlguard

    try:
        urlguard.check_url(url)
    except urlguard.ForbiddenURL as exc:
        raise Problem(
            "validation-error",
            f"base_url {exc}; the gateway does not forward to such addresses "
            "(SATU_EXCHANGE_ALLOW_PRIVATE_URLS).",
        ) from None
    return url.rstrip("/")


def check_template(path: Any) -> str:
    """A valid OpenAPI path template (`/persons/{nik}`); a problem otherwise."""
    if not isinstance(path, str) or not path.startswith("/") or len(path) > MAX_PATH_LENGTH:
        raise Problem(
            "validation-error",
            f"An operation path starts with '/' and has at most {MAX_PATH_LENGTH} characters.",
        )
    if not _TEMPLATE_CHARS.match(path):
        raise Problem("validation-error", f"Invalid characters in path {path[:80]!r}.")
    for segment in path.split("/")[1:]:
        if segment in (".", ".."):
            raise Problem("validation-error", "Paths must not contain '.' or '..' segments.")
        rest = _PARAM.sub("", segment)
        if "{" in rest or "}" in rest:
            raise Problem("validation-error", f"Unbalanced braces in path {path[:80]!r}.")
    names = _PARAM.findall(path)
    if len(names) != len(set(names)):
        raise Problem("validation-error", f"Repeated parameter in path {path[:80]!r}.")
    return path


def check_openapi(document: Any) -> dict[str, Any]:
    """An OpenAPI 3 document (JSON object, `openapi: 3.x`, `paths`); a problem otherwise."""
    if not isinstance(document, dict):
        raise Problem("validation-error", "The OpenAPI document must be a JSON object.")
    try:
        size = len(json.dumps(document, separators=(",", ":"), allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise Problem("validation-error", "The OpenAPI document is not plain JSON.") from exc
    if size > MAX_OPENAPI_BYTES:
        raise Problem(
            "validation-error", f"The OpenAPI document is larger than {MAX_OPENAPI_BYTES} bytes."
        )
    version = document.get("openapi")
    if not isinstance(version, str) or not re.match(r"^3\.\d+(\.\d+)?$", version):
        raise Problem(
            "validation-error", "Only OpenAPI 3 documents are accepted (openapi: '3.x.y')."
        )
    paths = document.get("paths")
    if not isinstance(paths, dict) or not paths:
        raise Problem("validation-error", "The OpenAPI document has no paths.")
    count = 0
    for path, item in paths.items():
        check_template(path)
        if not isinstance(item, dict):
            raise Problem("validation-error", f"Path item {path[:80]!r} must be an object.")
        for method, operation in item.items():
            if method.upper() in HTTP_METHODS and method == method.lower():
                if not isinstance(operation, dict):
                    raise Problem(
                        "validation-error", f"Operation {method} {path[:80]} must be an object."
                    )
                count += 1
    if count == 0:
        raise Problem("validation-error", "The OpenAPI document describes no operation.")
    if count > MAX_OPERATIONS:
        raise Problem("validation-error", f"More than {MAX_OPERATIONS} operations.")
    return document


def document_operations(document: dict[str, Any]) -> list[OperationInfo]:
    """Every operation of a checked OpenAPI document, in document order."""
    found = []
    for path, item in document["paths"].items():
        for method, operation in item.items():
            if method.upper() in HTTP_METHODS and method == method.lower():
                op_id = operation.get("operationId")
                found.append(
                    OperationInfo(
                        method=method.upper(),
                        path=path,
                        operation_id=op_id if isinstance(op_id, str) and op_id else None,
                    )
                )
    return found


def parse_operation(value: Any) -> tuple[str, str]:
    """`"GET /persons/{nik}"` or `{"method": "GET", "path": "/persons/{nik}"}` as (METHOD, path)."""
    if isinstance(value, str):
        method, _, path = value.strip().partition(" ")
    elif isinstance(value, dict):
        method, path = value.get("method", ""), value.get("path", "")
    else:
        raise Problem("validation-error", "An operation is 'METHOD /path' or {method, path}.")
    if not isinstance(method, str) or method.upper() not in HTTP_METHODS:
        raise Problem("validation-error", f"Unknown HTTP method in operation {str(value)[:80]!r}.")
    return method.upper(), check_template(path.strip() if isinstance(path, str) else path)


def select_operations(document: dict[str, Any], wanted: list[Any] | None) -> list[OperationInfo]:
    """The exposed operations: `wanted` (each one of the document's), or all of them."""
    available = document_operations(document)
    if not wanted:
        return available
    if not isinstance(wanted, list) or len(wanted) > MAX_OPERATIONS:
        raise Problem("validation-error", f"operations is a list of at most {MAX_OPERATIONS}.")
    index = {(op.method, op.path): op for op in available}
    chosen: dict[tuple[str, str], OperationInfo] = {}
    for value in wanted:
        key = parse_operation(value)
        if key not in index:
            raise Problem(
                "validation-error",
                f"Operation {key[0]} {key[1][:80]} is not in the OpenAPI document.",
            )
        chosen[key] = index[key]
    return list(chosen.values())


def operation_label(operation: OperationInfo) -> str:
    """`GET /persons/{nik}`: how access rights and the log name an operation."""
    return f"{operation.method} {operation.path}"


@functools.lru_cache(maxsize=4096)
def _literals(template: str) -> tuple[str, ...]:
    """The literal parts of a template segment, around its `{params}` (one: no parameter)."""
    # split() alternates literal, name, literal, ...
    return tuple(_PARAM.split(template)[0::2])


@functools.lru_cache(maxsize=1024)
def _template_segments(template: str) -> tuple[str, ...]:
    return tuple(template.rstrip("/").split("/"))


def _segment_matches(template: str, value: str) -> bool:
    """Whether one path segment matches one template segment (literals and `{params}`); a
    parameter matches 1+ characters."""
    literals = _literals(template)
    if len(literals) == 1:
        return template == value
    if not value.startswith(literals[0]) or not value.endswith(literals[-1]):
        return False
    position = len(literals[0])
    end = len(value) - len(literals[-1])
    if end < position:
        return False
    for literal in literals[1:-1]:
        found = value.find(literal, position + 1, end) if literal else position + 1
        if found < 0 or found <= position:
            return False
        position = found + len(literal)
    return end > position


def template_matches(template: str, path: str) -> bool:
    """Whether a concrete request path matches an OpenAPI path template."""
    want = _template_segments(template)
    have = path.rstrip("/").split("/")
    if len(want) != len(have):
        return False
    return all(map(_segment_matches, want, have))


def _specificity(operation: OperationInfo) -> tuple[int, int]:
    segments = operation.path.split("/")
    literal = sum(1 for s in segments if not _PARAM.search(s))
    return (literal, -len(_PARAM.findall(operation.path)))


def find_operation(operations: list[OperationInfo], method: str, path: str) -> OperationInfo | None:
    """The exposed operation a request matches; concrete paths win over templated ones."""
    if not isinstance(path, str) or not path.startswith("/") or len(path) > 4096:
        return None
    segments = path.split("/")
    if any(s in (".", "..") for s in segments) or "//" in path:
        return None
    method = method.upper()
    candidates = [
        op for op in operations if op.method == method and template_matches(op.path, path)
    ]
    if not candidates:
        return None
    return max(candidates, key=_specificity)
