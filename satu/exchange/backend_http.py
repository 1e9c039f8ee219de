"""HTTP/1.1 to providers' backends: an httpx transport on an asyncio protocol, parsed by
httptools (llhttp, the parser uvicorn serves Satu with).

Why not httpx's default transport (httpcore + h11): on the gateway's hot path it was the
largest single cost of a call, about a fifth of the gateway's CPU, in pure-Python parsing
(h11), per-request polls of every pooled connection, and anyio locks. This transport keeps
httpx's interface (`httpx.Request` in, `httpx.Response` with a streamed body out, httpx's
exception types) and does the least HTTP/1.1 needs:

- Keep-alive connections per origin (scheme, host, port), newest first; a connection the
  server closed is known at once (asyncio tells the protocol), so nothing is polled. Idle
  connections expire after `keepalive_expiry`; at most `max_keepalive` idle ones per origin.
- At most `max_connections` requests in flight per transport; more wait (the `pool` timeout).
- Connections go only where `connect(host, port)` says (the gateway's SSRF guard gives the
  checked address); TLS verifies the certificate and the host name with the given context.
- Timeouts from the request's `timeout` extension: connect, write, read (each wait for the
  answer's data), pool, raised as httpx's ConnectTimeout, WriteTimeout, ReadTimeout,
  PoolTimeout.
- The request head is checked before it is sent: the method and header names are tokens, no
  CR, LF or NUL in the target or a value (no header injection), and the body goes with a
  `Content-Length` (bodies are read whole first; the gateway's are).
- The answer's head is bounded (`MAX_HEAD_BYTES`, `MAX_HEADER_LINES`); a malformed answer, an
  upgrade or a second answer nobody asked for is a RemoteProtocolError and the connection is
  dropped. Informational (1xx) answers are skipped. An answer to HEAD ends at its head (and its
  connection is not reused). A body without length ends when the server closes.
- Reading pauses while more than `READ_HIGH_WATER` bytes wait unread.
"""

from __future__ import annotations

import asyncio
import re
import ssl
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, NamedTuple

import httptools
import httpx

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_LINES = 200
READ_HIGH_WATER = 256 * 1024
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # fullmatch
_CONTROL = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")  # not in a field value (HTAB is)

Origin = tuple[str, str, int]  # scheme, host, port
Connect = Callable[[str, int], Awaitable[str]]  # (host, port) -> the address to connect to


class _Connection(asyncio.Protocol):
    """One HTTP/1.1 connection: one request at a time, the answer parsed as it arrives."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self.reusable = False
        self._parser = httptools.HttpResponseParser(self)
        self._in_flight = False
        self._waiter: asyncio.Future[None] | None = None
        self._writable: asyncio.Future[None] | None = None
        self._begin(head_only=False)

    def _begin(self, *, head_only: bool) -> None:
        self.status = 0
        self.headers: list[tuple[bytes, bytes]] = []
        self.head_done = False
        self.complete = False
        self.error: Exception | None = None
        self._head_only = head_only
        self._head_bytes = 0
        self._framing = 0  # bytes read since the last body bytes (chunk sizes, trailers)
        self._body_reads = 0
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._paused = False
        self._informational = False
        self._ends_at_close = False

    # --- asyncio.Protocol ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]  # uvloop's is not a subclass

    def data_received(self, data: bytes) -> None:
        if not self._in_flight:
            self.close()  # the server spoke out of turn: nothing of it can be trusted
            return
        if self.head_done:
            self._feed_after_head(data)
            return
        if self._head_bytes + len(data) <= MAX_HEAD_BYTES:
            self._head_bytes += len(data)
            self._feed(data)
            return
        while not self.head_done and data:  # only the head is bounded; its body may follow
            room = MAX_HEAD_BYTES - self._head_bytes
            if room <= 0:
                self._fail(httpx.RemoteProtocolError("the answer's head is too large"))
                return
            part, data = data[:room], data[room:]
            self._head_bytes += len(part)
            if not self._feed(part):
                return
        if data:
            self._feed(data)

    def _feed_after_head(self, data: bytes) -> None:
        """Parse body bytes; reads that bring no body (chunk framing, trailers) are bounded
        like the head (httptools joins a trailer's pieces by copying, so an endless one
        would cost time as its square)."""
        reads = self._body_reads
        if not self._feed(data) or self.complete:
            return
        if self._body_reads != reads:
            self._framing = 0
            return
        self._framing += len(data)
        if self._framing > MAX_HEAD_BYTES:
            self._fail(
                httpx.RemoteProtocolError("the answer's chunk framing or trailers are too large")
            )

    def _feed(self, data: bytes) -> bool:
        """Parse the bytes; False when the answer failed (the connection is then closed)."""
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(httpx.RemoteProtocolError("the server switched protocols"))
        except httptools.HttpParserError as exc:
            cause = exc.__context__
            if isinstance(cause, httpx.RemoteProtocolError):
                self._fail(cause)
            else:
                self._fail(httpx.RemoteProtocolError(f"malformed answer ({exc})"))
        return self.error is None

    def eof_received(self) -> bool:
        self.reusable = False  # the server is done with this connection
        return False  # close the transport: connection_lost follows

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        self.reusable = False
        if self._in_flight and not self.complete and self.error is None:
            if self.head_done and self._ends_at_close and exc is None:
                self.complete = True
            elif exc is not None:
                self.error = httpx.ReadError(f"the connection broke ({exc})")
            elif self.head_done:
                self.error = httpx.RemoteProtocolError("the server closed before the answer ended")
            else:
                self.error = httpx.RemoteProtocolError("the server closed without answering")
        self._wake()
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)

    def pause_writing(self) -> None:
        self._writable = self.loop.create_future()

    def resume_writing(self) -> None:
        if self._writable is not None and not self._writable.done():
            self._writable.set_result(None)
        self._writable = None

    # --- httptools callbacks -----------------------------------------------------------

    def on_message_begin(self) -> None:
        if self.complete and not self._head_only:
            raise httpx.RemoteProtocolError("the server sent an answer nobody asked for")

    def on_header(self, name: bytes, value: bytes) -> None:
        if len(self.headers) >= MAX_HEADER_LINES:
            raise httpx.RemoteProtocolError("the answer has too many header lines")
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if 100 <= status < 200:
            self._informational = True  # e.g. 103 Early Hints: the real answer follows
            self.headers = []
            return
        self.status = status
        self.head_done = True
        self.reusable = self._parser.should_keep_alive() and not self._head_only
        names = {name.lower() for name, _ in self.headers}
        self._ends_at_close = (
            b"content-length" not in names
            and b"transfer-encoding" not in names
            and status not in (204, 304)
        )
        if self._head_only:
            self.complete = True
        self._wake()

    def on_body(self, body: bytes) -> None:
        if self._head_only:
            return
        self._chunks.append(body)
        self._body_reads += 1
        self._buffered += len(body)
        if self._buffered > READ_HIGH_WATER and not self._paused and self.transport:
            self._paused = True
            self.transport.pause_reading()
        self._wake()

    def on_message_complete(self) -> None:
        if self._informational:
            self._informational = False
            self._head_bytes = 0
            return
        self.complete = True
        self._wake()

    # --- used by the transport ---------------------------------------------------------

    def send(self, data: bytes, *, head_only: bool) -> None:
        """Start a request: its head and body bytes."""
        assert self.transport is not None
        if self.closed or self.transport.is_closing():
            raise httpx.ConnectError("the connection closed before the request was sent")
        self._begin(head_only=head_only)
        self._in_flight = True
        self.transport.write(data)

    async def drained(self) -> None:
        """Until the request's bytes are handed to the kernel (flow control)."""
        if self._writable is not None:
            await self._writable
        if self.closed and self.error is not None:
            raise self.error

    async def wait(self) -> None:
        """Until there is news: the head, body bytes, the end, or an error."""
        if self.error is not None:
            raise self.error
        self._waiter = self.loop.create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        if self.error is not None:
            raise self.error

    def take(self) -> bytes:
        """The body bytes received so far (b"" when none wait)."""
        if not self._chunks:
            return b""
        data = b"".join(self._chunks)
        self._chunks.clear()
        self._buffered = 0
        if self._paused and self.transport is not None:
            self._paused = False
            self.transport.resume_reading()
        return data

    def finish(self) -> None:
        """The caller is done with the answer."""
        self._in_flight = False
        if not self.complete or self.error is not None or self._paused:
            self.reusable = False

    def close(self) -> None:
        self.closed = True
        self.reusable = False
        if self.transport is not None:
            self.transport.close()

    def _fail(self, error: Exception) -> None:
        if self.error is None:
            self.error = error
        self.close()
        self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


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
    """Keep-alive HTTP/1.1 to backends, for one event loop (see the module's docstring)."""

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
        url = request.url
        host = url.raw_host.decode("ascii")  # IDNA-encoded, as in the Host header
        origin = (url.scheme, host, url.port or (443 if url.scheme == "https" else 80))
        body = await request.aread()
        message = Message(origin, request.method, url.raw_path, request.headers.raw, body)
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


def request_bytes(request: httpx.Request, body: bytes) -> bytes:
    """An httpx request as sent: head and body (see `message_bytes`)."""
    return message_bytes(
        Message(("", "", 0), request.method, request.url.raw_path, request.headers.raw, body)
    )


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
