"""The httpx transport to backends: keep-alive connections per origin (`_Connection` from
`backend_connection.py`), the in-flight limit and the timeouts, the answer's body streamed
back, and the request bytes (`Message`, `message_bytes`, `request_bytes`) with the head checked
before it is sent. `backend_http.py` is the public face and says why the transport exists."""

from __future__ import annotations

import asyncio
import re
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import httpx

from satu.exchange.backend_connection import _Connection

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # fullmatch
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # not in a field value (HTAB is)

Origin = tuple[str, str, int]  # scheme, host, port
Connect = Callable[[str, int], Awaitable[str]]  # (host, port) -> the address to connect to


class _Body(httpx.AsyncByteStream):
    """An answer's body as it arrives; closing it gives the connection back (or drops it)."""

    def __init__(
        self,
        owner: BackendTransport,
        origin: Origin,
        conn: _Connection,
        read_timeout: float | None,
    ) -> None:
        self._owner = owner
        self._origin = origin
        self._conn = conn
        self._read_timeout = read_timeout
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        conn = self._conn
        while True:
            data = conn.take()
            if data:
                yield data
                continue
            if conn.complete:
                return
            await _timed(conn.wait(), self._read_timeout, httpx.ReadTimeout)

    async def aclose(self) -> None:
        if not self._closed:
            self._closed = True
            self._owner._give_back(self._origin, self._conn)


async def _timed(step: Awaitable[Any], seconds: float | None, error: type[Exception]) -> Any:
    if seconds is None:
        return await step
    try:
        async with asyncio.timeout(seconds):
            return await step
    except TimeoutError:
        raise error(f"timed out after {seconds:g} s") from None


class BackendTransport(httpx.AsyncBaseTransport):
    """Keep-alive HTTP/1.1 to backends, for one event loop (see `backend_http.py`'s docstring)."""

    def __init__(
        self,
        *,
        connect: Connect,
        tls: ssl.SSLContext,
        max_connections: int = 256,
        max_keepalive: int = 128,
        keepalive_expiry: float = 5.0,
    ) -> None:
        self._connect = connect
        self._tls = tls
        self._slots = asyncio.Semaphore(max_connections)
        self._max_keepalive = max_keepalive
        self._expiry = keepalive_expiry
        self._idle: dict[Origin, list[_Connection]] = {}

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        """Send the request on a pooled or new connection; the answer, its body streamed."""
        message = message_of(request, await request.aread())
        status, headers, stream = await self.send(message, request.extensions.get("timeout", {}))
        return httpx.Response(
            status, headers=headers, stream=stream, extensions={"http_version": b"HTTP/1.1"}
        )

    async def send(
        self, message: Message, timeouts: dict[str, float | None]
    ) -> tuple[int, list[tuple[bytes, bytes]], _Body]:
        """Send a request without building httpx objects (the gateway's hot path): the answer's
        status, header lines and body stream (close it to give the connection back)."""
        scheme, host, _ = origin = message.origin
        if scheme not in ("http", "https") or not host:
            raise httpx.UnsupportedProtocol(f"cannot send to {scheme}://")
        data = message_bytes(message)
        await _timed(self._slots.acquire(), timeouts.get("pool"), httpx.PoolTimeout)
        conn: _Connection | None = None
        try:
            conn = await self._connection(origin, timeouts.get("connect"))
            conn.send(data, head_only=message.method == "HEAD")
            await _timed(conn.drained(), timeouts.get("write"), httpx.WriteTimeout)
            while not conn.head_done:
                await _timed(conn.wait(), timeouts.get("read"), httpx.ReadTimeout)
        except BaseException:
            if conn is not None:
                conn.finish()
                conn.close()
            self._slots.release()
            raise
        return conn.status, conn.headers, _Body(self, origin, conn, timeouts.get("read"))

    async def _connection(self, origin: Origin, timeout: float | None) -> _Connection:
        loop = asyncio.get_running_loop()
        idle = self._idle.get(origin)
        now = loop.time()
        while idle:
            conn = idle.pop()
            usable = conn.reusable and not conn.closed and not conn.transport.is_closing()
            if usable and now - conn.idle_since < self._expiry:
                return conn
            conn.close()
        scheme, host, port = origin
        try:
            address = await _timed(self._connect(host, port), timeout, httpx.ConnectTimeout)
            tls = self._tls if scheme == "https" else None
            _, conn = await _timed(
                loop.create_connection(
                    lambda: _Connection(loop),
                    address,
                    port,
                    ssl=tls,
                    server_hostname=host if tls else None,
                ),
                timeout,
                httpx.ConnectTimeout,
            )
        except (OSError, ssl.SSLError, ssl.CertificateError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__) from None
        return conn

    def _give_back(self, origin: Origin, conn: _Connection) -> None:
        conn.finish()
        idle = self._idle.setdefault(origin, [])
        if conn.reusable and not conn.closed and len(idle) < self._max_keepalive:
            conn.idle_since = conn.loop.time()
            idle.append(conn)
        else:
            conn.close()
        self._slots.release()

    async def aclose(self) -> None:
        """Close every idle connection."""
        for idle in self._idle.values():
            for conn in idle:
                conn.close()
        self._idle.clear()


class Message(NamedTuple):
    """A request as the transport sends it."""

    origin: Origin
    method: str
    target: bytes  # path and query, as on the request line
    headers: list[tuple[bytes, bytes]]
    body: bytes


def origin_of(url: httpx.URL) -> Origin:
    """Where `url` connects: scheme, host (IDNA-encoded, as in the Host header), port (the
    scheme's default when none is given)."""
    port = url.port or (443 if url.scheme == "https" else 80)
    return (url.scheme, url.raw_host.decode("ascii"), port)


def message_of(request: httpx.Request, body: bytes) -> Message:
    """An httpx request (its body read) as the transport sends it."""
    url = request.url
    return Message(origin_of(url), request.method, url.raw_path, request.headers.raw, body)


def request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """An httpx request as sent: head and body (see `message_bytes`)."""
    return message_bytes(message_of(request, body))


def message_bytes(message: Message) -> bytes:
    """The request as sent: head and body. LocalProtocolError when a part would not be one
    HTTP/1.1 request (header injection: a control character such as CR, LF or NUL in the
    target or a value; a method or name that is not a token)."""
    _, method_text, target, headers, body = message
    method = method_text.encode("ascii")
    if not _TOKEN.fullmatch(method) or not target or b" " in target or _CONTROL.search(target):
        raise httpx.LocalProtocolError("the method or target cannot be sent")
    parts = [method, b" ", target, b" HTTP/1.1\r\n"]
    for name, value in headers:
        if name.lower() in (b"content-length", b"transfer-encoding"):
            continue
        if not _TOKEN.fullmatch(name):
            raise httpx.LocalProtocolError("a header name is not a token")
        if _CONTROL.search(value):
            raise httpx.LocalProtocolError("a header value holds a control character")
        parts += [name, b": ", value, b"\r\n"]
    if body or method_text in ("POST", "PUT", "PATCH"):
        parts.append(b"content-length: %d\r\n" % len(body))
    parts.append(b"\r\n")
    return b"".join(parts) + body
