"""Forwarding a call to a provider's backend with httpx: pooled clients, timeouts, size limits,
retries only where safe.

- One pooled httpx transport per event loop, reused (keep-alive): `backend_http.py`, HTTP/1.1
  on an asyncio protocol with httptools' parser (httpcore + h11 cost a fifth of a call's CPU).
  Requests go to the transport itself, not through an `httpx.AsyncClient`: the gateway builds
  each request whole, and a client's own layers (cookie jar, redirects, auth, event hooks)
  cost a third more CPU per call. Nothing follows redirects (X-Road passes 3xx through
  unmodified).
- The whole exchange with the backend is bounded by the service's `timeout_ms`; connecting by
  `CONNECT_TIMEOUT` (or less).
- Only idempotent methods are retried, and only when the connection could not be made
  (nothing reached the backend): up to `RETRIES` times.
- The answer is streamed in and refused once it passes the service's `max_body_bytes`.
- Every new connection goes to an address checked by `urlguard` (registration checked the
  base URL once; its DNS may point elsewhere later): the name is resolved (cached
  `RESOLVE_TTL` seconds per host, so calls on the hot path do no DNS lookup), every address is
  checked, and the connection is made to the checked one (no second lookup to rebind).
  TLS still verifies the host name, and keep-alive connections are pooled per host name.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import ssl
import time
import weakref
from dataclasses import dataclass
from functools import cached_property, lru_cache

import httpx

from satu.exchange import urlguard
from satu.exchange.backend_http import BackendTransport, Message, Origin, origin_of
from satu.exchange.signatures import content_digest
from satu.exchange.xroad import XRoadError

CONNECT_TIMEOUT = 3.0
RETRIES = 2
RETRY_PAUSE = 0.05
IDEMPOTENT = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE", "TRACE"})

# Hop-by-hop headers and those that would leak the origin host (X-Road PR-REST 4.3), plus
# what the gateway itself sets or must not pass on.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "user-agent",
        "server",
        "content-length",
        "expect",
    }
)
# Never forwarded to the backend: the consumer's credentials and signature are for the gateway.
REQUEST_DROP = HOP_BY_HOP | {
    "authorization",
    "dpop",
    "cookie",
    "signature",
    "signature-input",
    "content-digest",
    "x-road-request-hash",
    "x-road-request-id",
    "x-road-service",
    "x-road-error",
    "x-request-id",
    "forwarded",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
}
# Set by the gateway on the answer; the provider's own values are dropped.
RESPONSE_DROP = HOP_BY_HOP | {
    "signature",
    "signature-input",
    "content-digest",
    "x-road-client",
    "x-road-service",
    "x-road-id",
    "x-road-request-id",
    "x-road-request-hash",
    "x-road-error",
    "set-cookie",
    "date",
    "x-request-id",  # the gateway's own (the call's request id) or none
}

RESOLVE_TTL = 30.0  # seconds a host name's resolution is reused
RESOLVE_CACHE_MAX = 4096
_resolved: dict[tuple[str, int], tuple[float, list[urlguard.IPAddress]]] = {}


async def vetted_address(host: str, port: int) -> str:
    """The address to connect to for host:port, checked by urlguard (ForbiddenURL if not)."""
    name = host.rstrip(".").lower()
    allow = urlguard.private_urls_allowed()
    if not allow and (name == "localhost" or name.endswith(".localhost")):
        raise urlguard.ForbiddenURL("names localhost")
    try:
        addresses: list[urlguard.IPAddress] = [ipaddress.ip_address(name.strip("[]"))]
    except ValueError:
        addresses = await _resolve(name, port)
    for address in addresses:
        problem = urlguard.address_problem(address, allow_private=allow)
        if problem:
            raise urlguard.ForbiddenURL(f"resolves to {problem}")
    return str(addresses[0])


async def _resolve(name: str, port: int) -> list[urlguard.IPAddress]:
    now = time.monotonic()
    cached = _resolved.get((name, port))
    if cached is not None and cached[0] > now:
        return cached[1]
    loop = asyncio.get_running_loop()
    try:
        addresses = await loop.run_in_executor(None, urlguard.resolve, name, port)
    except (OSError, UnicodeError) as exc:
        raise httpx.ConnectError(f"the host name does not resolve ({exc})") from None
    if not addresses:
        raise httpx.ConnectError("the host name has no address")
    if len(_resolved) >= RESOLVE_CACHE_MAX:
        _resolved.clear()
    _resolved[(name, port)] = (now + RESOLVE_TTL, addresses)
    return addresses


MAX_CONNECTIONS = 256  # calls in flight to backends per event loop (worker); more wait
MAX_KEEPALIVE = 128  # idle connections kept per backend origin

_transports: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, BackendTransport] = (
    weakref.WeakKeyDictionary()
)


def http_transport() -> BackendTransport:
    """The pooled transport of the running event loop (keep-alive, guarded addresses)."""
    loop = asyncio.get_running_loop()
    transport = _transports.get(loop)
    if transport is None:
        transport = _transports[loop] = BackendTransport(
            connect=vetted_address,
            tls=ssl.create_default_context(),
            max_connections=MAX_CONNECTIONS,
            max_keepalive=MAX_KEEPALIVE,
        )
    return transport


@dataclass
class BackendAnswer:
    """What the backend answered (body read in full, within the limit)."""

    status: int
    headers: httpx.Headers
    body: bytes
    seconds: float

    @cached_property
    def digest(self) -> str:
        """The body's Content-Digest (hashed once: signed and logged)."""
        return content_digest(self.body)


def backend_url(base_url: str, rest_path: str, query: bytes) -> str:
    """The backend URL: the service's base URL joined with the call's path and query."""
    url = base_url.rstrip("/") + (rest_path if rest_path.startswith("/") else "/" + rest_path)
    if query:
        url += "?" + query.decode("latin-1")
    return url


@dataclass(frozen=True, slots=True)
class Target:
    """Where a forwarded request goes: its URL (as signed), origin and request-line target."""

    url: str
    origin: Origin
    raw_target: bytes
    host: bytes  # the Host header: the host, and the port unless it is the scheme's default


# A path and query that httpx.URL leaves exactly as they are: RFC 3986 path and query
# characters with no percent-decoding, quoting or dot-segment removal to do (httpx 0.28 leaves
# a stray `%` as it is; tests/exchange/test_forwarding.py holds it to that).
_PLAIN_TAIL = re.compile(r"/[A-Za-z0-9\-._~!$&'()*+,;=:@/%]*(\?[A-Za-z0-9\-._~!$&'()*+,;=:@/%?]*)?")
_DOT_SEGMENT = re.compile(r"(^|/)\.\.?(/|$)")


def backend_target(base_url: str, rest_path: str, query: bytes) -> Target:
    """The backend's URL for a call, as httpx.URL would give it (httpx.InvalidURL if none).
    The usual case (a base URL in normal form, a plain path and query) is joined as text: it
    is what httpx.URL would make of it, without its parse (about a twentieth of a call's CPU
    with the request object); anything else is parsed by httpx."""
    url = backend_url(base_url, rest_path, query)
    base = _normal_base(base_url.rstrip("/"))
    if base is not None:
        tail = url[len(base[0]) :]
        path = tail.split("?", 1)[0]
        if _PLAIN_TAIL.fullmatch(tail) and not _DOT_SEGMENT.search(path):
            return Target(url, base[1], (base[2] + tail).encode("ascii"), base[3])
    return _parsed(httpx.URL(url))


def _parsed(url: httpx.URL) -> Target:
    return Target(str(url), origin_of(url), url.raw_path, url.netloc)


@lru_cache(maxsize=1024)
def _normal_base(base: str) -> tuple[str, Origin, str, bytes] | None:
    """(base, its origin, its path, its Host header) when httpx.URL leaves `base` + a plain
    path as they are (lower-case scheme and host, no default port, ...); None otherwise."""
    try:
        probe = _parsed(httpx.URL(base + "/probe"))
    except httpx.InvalidURL:
        return None
    target = probe.raw_target.decode("ascii")
    if probe.url != base + "/probe" or not target.endswith("/probe") or _DOT_SEGMENT.search(target):
        return None
    return base, probe.origin, target[: -len("/probe")], probe.host


async def forward(
    request: Message, *, timeout_ms: int, max_body_bytes: int, service: str
) -> BackendAnswer:
    """Send the request to the backend and read its answer; XRoadError on every failure."""
    seconds = max(timeout_ms, 1) / 1000
    # The whole exchange is bounded below (one timer); the transport bounds connecting.
    timeouts: dict[str, float | None] = {"connect": min(CONNECT_TIMEOUT, seconds)}
    transport = http_transport()
    loop = asyncio.get_running_loop()
    started = loop.time()
    attempts = RETRIES + 1 if request.method in IDEMPOTENT else 1
    for attempt in range(attempts):
        try:
            async with asyncio.timeout(seconds):
                status, lines, stream = await transport.send(request, timeouts)
                headers = httpx.Headers(lines)
                try:
                    body = await _read_limited(headers, stream, max_body_bytes, service)
                finally:
                    await stream.aclose()
            return BackendAnswer(status, headers, body, loop.time() - started)
        except urlguard.ForbiddenURL as exc:
            raise XRoadError(
                "Server.ServerProxy.ServiceFailed",
                f"The provider of {service} was not called: its base URL {exc}, which the "
                "exchange may not call.",
            ) from None
        except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
            if attempt + 1 < attempts:
                await asyncio.sleep(RETRY_PAUSE * (attempt + 1))
                continue
            raise XRoadError(
                "Server.ServerProxy.ServiceFailed",
                f"The provider of {service} cannot be reached ({type(exc).__name__}).",
            ) from None
        except (TimeoutError, httpx.TimeoutException):
            raise XRoadError(
                "Server.ServerProxy.ServiceTimeout",
                f"The provider of {service} did not answer within {timeout_ms} ms.",
            ) from None
        except (httpx.RemoteProtocolError, httpx.DecodingError, httpx.LocalProtocolError):
            raise XRoadError(
                "Server.ServerProxy.MalformedResponse",
                f"The provider of {service} sent a malformed HTTP answer.",
            ) from None
        except httpx.HTTPError as exc:
            raise XRoadError(
                "Server.ServerProxy.ServiceFailed",
                f"The call to the provider of {service} failed ({type(exc).__name__}).",
            ) from None
    raise AssertionError("unreachable")


async def _read_limited(
    headers: httpx.Headers, stream: httpx.AsyncByteStream, limit: int, service: str
) -> bytes:
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise XRoadError(
            "Server.ServerProxy.MalformedResponse",
            f"The answer of {service} exceeds the limit of {limit} bytes.",
        )
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream:
        size += len(chunk)
        if size > limit:
            raise XRoadError(
                "Server.ServerProxy.MalformedResponse",
                f"The answer of {service} exceeds the limit of {limit} bytes.",
            )
        chunks.append(chunk)
    return b"".join(chunks)


def check_answer(answer: BackendAnswer, *, service: str) -> None:
    """Refuse an answer that is not what it claims: JSON that does not parse, a bad status."""
    if not 100 <= answer.status <= 599:
        raise XRoadError(
            "Server.ServerProxy.MalformedResponse",
            f"The provider of {service} answered with an invalid status.",
        )
    content_type = answer.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    encoding = answer.headers.get("content-encoding", "identity").strip().lower()
    is_json = content_type == "application/json" or content_type.endswith("+json")
    if is_json and answer.body and encoding in ("", "identity"):
        try:
            json.loads(answer.body)
        except ValueError:
            raise XRoadError(
                "Server.ServerProxy.MalformedResponse",
                f"The provider of {service} declared JSON but sent something else.",
            ) from None


_REQUEST_DROP_RAW = frozenset(name.encode() for name in REQUEST_DROP)


def forwarded_headers(
    lines: list[tuple[bytes, bytes]], replaced: frozenset[bytes] = frozenset()
) -> list[tuple[bytes, bytes]]:
    """The consumer's header lines that go on to the backend (filtered per X-Road PR-REST 4.3),
    without those the caller sets itself (`replaced`, lower-case names)."""
    drop = _dropped(replaced)
    return [(name, value) for name, value in lines if name.lower() not in drop]


@lru_cache(maxsize=8)
def _dropped(replaced: frozenset[bytes]) -> frozenset[bytes]:
    return _REQUEST_DROP_RAW | replaced


_RESPONSE_DROP_RAW = frozenset(name.encode() for name in RESPONSE_DROP)


def answer_headers(headers: httpx.Headers) -> list[tuple[bytes, bytes]]:
    """The backend's header lines that go back to the consumer (names in lower case)."""
    lines = [(name.lower(), value) for name, value in headers.raw]
    return [line for line in lines if line[0] not in _RESPONSE_DROP_RAW]
