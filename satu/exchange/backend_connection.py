"""One HTTP/1.1 connection to a backend as an asyncio protocol, the answer parsed by httptools:
one request at a time, the answer's head bounded (`MAX_HEAD_BYTES`, `MAX_HEADER_LINES`), chunk
framing and trailers bounded alike, reading paused while more than `READ_HIGH_WATER` bytes wait
unread, and a server that speaks out of turn, upgrades or answers twice dropped. The pool around
it is `backend_transport.py`; why it exists at all is in `backend_http.py`."""

from __future__ import annotations

import asyncio
from collections import deque

import httptools
import httpx

MAX_HEAD_BYTES = 64 * 1024
MAX_HEADER_LINES = 200
READ_HIGH_WATER = 256 * 1024


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
