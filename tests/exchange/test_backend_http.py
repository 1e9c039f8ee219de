"""The gateway's HTTP/1.1 transport to backends against real sockets: keep-alive reuse, TLS
checks, timeouts, the answer framings it reads, the bounds and protocol errors that drop a
connection, the pool's limits, and the request bytes it sends."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ssl
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import trustme

from satu.exchange.backend_http import (
    MAX_HEAD_BYTES,
    MAX_HEADER_LINES,
    READ_HIGH_WATER,
    BackendTransport,
    request_bytes,
)

OK = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"
EXTRA = b"HTTP/1.1 200 OK\r\nx-smuggled: yes\r\ncontent-length: 2\r\n\r\nno"

Script = Callable[[asyncio.StreamWriter], Awaitable[None]]
Answer = bytes | Script  # bytes written at once, or a script that writes its own
CLOSE = None


def script(*steps: bytes | float | None) -> Script:
    """An answer in steps: bytes are written, a number is a pause, CLOSE closes."""

    async def play(writer: asyncio.StreamWriter) -> None:
        for step in steps:
            if step is CLOSE:
                writer.close()
            elif isinstance(step, bytes):
                writer.write(step)
                await writer.drain()
            else:
                await asyncio.sleep(step)

    return play


SILENT = script(10.0)


def in_loop(test: Callable[..., Awaitable[None]]) -> Callable[..., None]:
    """Run the async test in its own event loop (asyncio.run)."""

    @functools.wraps(test)
    def run(*args: Any, **kwargs: Any) -> None:
        asyncio.run(test(*args, **kwargs))

    return run


async def read_request(reader: asyncio.StreamReader) -> bytes:
    """One request's bytes: the head and a Content-Length body."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.lower().split(b"\r\n"):
        if line.startswith(b"content-length:"):
            length = int(line.partition(b":")[2])
    return head + await reader.readexactly(length)


@dataclass
class Backend:
    """A raw-bytes backend: request n gets answers[n] (the last one repeats)."""

    answers: list[Answer]
    port: int = 0
    connections: int = 0
    received: list[bytes] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                self.received.append(await read_request(reader))
                answer = self.answers[min(len(self.received), len(self.answers)) - 1]
                if isinstance(answer, bytes):
                    writer.write(answer)
                    await writer.drain()
                else:
                    await answer(writer)
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
            pass  # cancelled: the test's loop is ending (3.11's start_server logs a cancel)
        finally:
            writer.close()


@contextlib.asynccontextmanager
async def serving(*answers: Answer, tls: ssl.SSLContext | None = None) -> AsyncIterator[Backend]:
    backend = Backend(list(answers))
    server = await asyncio.start_server(backend.handle, "127.0.0.1", 0, ssl=tls)
    backend.port = server.sockets[0].getsockname()[1]
    async with server:
        yield backend


async def loopback(host: str, port: int) -> str:
    """The gateway's connect step, here: every host is on loopback; slow.example never answers."""
    if host == "slow.example":
        await asyncio.sleep(10)
    return "127.0.0.1"


def transport(tls: ssl.SSLContext | None = None, **options: Any) -> BackendTransport:
    return BackendTransport(connect=loopback, tls=tls or ssl.create_default_context(), **options)


def request(method: str, url: str, timeout: float = 2.0, **kwargs: Any) -> httpx.Request:
    timeouts = {k: kwargs.pop(k) for k in ("connect", "read", "write", "pool") if k in kwargs}
    extensions = {"timeout": httpx.Timeout(timeout, **timeouts).as_dict()}
    return httpx.Request(method, url, extensions=extensions, **kwargs)


async def fetch(t: BackendTransport, url: str, method: str = "GET", **kw: Any) -> httpx.Response:
    """The answer, its body read whole and the response closed."""
    response = await t.handle_async_request(request(method, url, **kw))
    try:
        await response.aread()
    finally:
        await response.aclose()
    return response


@in_loop
async def test_plain_connections_are_kept_alive_and_reused() -> None:
    async with serving(OK) as backend, transport() as t:
        assert [(await fetch(t, backend.url)).content for _ in range(5)] == [b"ok"] * 5
    assert backend.connections == 1


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def server_tls(authority: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(name).configure_cert(context)
    return context


def client_tls(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


@in_loop
async def test_tls_to_a_trusted_certificate_for_the_host_name(authority: trustme.CA) -> None:
    async with (
        serving(OK, tls=server_tls(authority, "localhost")) as backend,
        transport(client_tls(authority)) as t,
    ):
        url = f"https://localhost:{backend.port}/"
        assert [(await fetch(t, url)).content for _ in range(2)] == [b"ok", b"ok"]
    assert backend.connections == 1


@pytest.mark.parametrize("problem", ["untrusted issuer", "other host name"])
@in_loop
async def test_tls_refuses_a_certificate_it_cannot_trust(
    authority: trustme.CA, problem: str
) -> None:
    issuer = trustme.CA() if problem == "untrusted issuer" else authority
    name = "localhost" if problem == "untrusted issuer" else "elsewhere.example"
    async with (
        serving(OK, tls=server_tls(issuer, name)) as backend,
        transport(client_tls(authority)) as t,
    ):
        with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
            await fetch(t, f"https://localhost:{backend.port}/")


@in_loop
async def test_a_silent_server_is_a_read_timeout_and_its_connection_dropped() -> None:
    async with serving(SILENT, OK) as backend, transport() as t:
        with pytest.raises(httpx.ReadTimeout):
            await fetch(t, backend.url, read=0.2)
        assert (await fetch(t, backend.url)).content == b"ok"
    assert backend.connections == 2


@in_loop
async def test_a_refused_connection_is_a_connect_error() -> None:
    async with serving(OK) as backend:
        pass
    async with transport() as t:
        with pytest.raises(httpx.ConnectError):
            await fetch(t, backend.url)


@in_loop
async def test_a_slow_connect_is_a_connect_timeout_and_frees_its_slot() -> None:
    async with serving(OK) as backend, transport(max_connections=1) as t:
        with pytest.raises(httpx.ConnectTimeout):
            await fetch(t, f"http://slow.example:{backend.port}/", connect=0.1)
        assert (await fetch(t, backend.url, pool=0.5)).content == b"ok"


@pytest.mark.parametrize(
    "answer", [script(OK, CLOSE), script(OK, 0.05, EXTRA)], ids=["closed", "spoke out of turn"]
)
@in_loop
async def test_an_idle_connection_the_server_closed_or_spoke_on_is_not_reused(
    answer: Answer,
) -> None:
    async with serving(answer, OK) as backend, transport() as t:
        assert (await fetch(t, backend.url)).content == b"ok"
        await asyncio.sleep(0.1)  # the close or the extra answer reaches the idle connection
        assert (await fetch(t, backend.url)).content == b"ok"
    assert backend.connections == 2


@pytest.mark.parametrize("cut", [1, 5], ids=["in the body", "in the head"])
@in_loop
async def test_a_server_closing_mid_answer_is_a_protocol_error(cut: int) -> None:
    async with serving(script(OK[:-cut], CLOSE)) as backend, transport() as t:
        with pytest.raises(httpx.RemoteProtocolError):
            await fetch(t, backend.url)


@in_loop
async def test_a_chunked_answer_split_across_writes_is_read_whole() -> None:
    chunked = script(
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhel",
        0.02,
        b"lo\r\n6\r\n world\r\n",
        0.02,
        b"1\r\n!\r\n0\r\n\r\n",
    )
    async with serving(chunked, OK) as backend, transport() as t:
        assert (await fetch(t, backend.url)).content == b"hello world!"
        assert (await fetch(t, backend.url)).content == b"ok"
    assert backend.connections == 1


@in_loop
async def test_a_body_without_length_ends_when_the_server_closes() -> None:
    until_close = script(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", CLOSE)
    async with serving(until_close, OK) as backend, transport() as t:
        assert (await fetch(t, backend.url)).content == b"until the end"
        assert (await fetch(t, backend.url)).content == b"ok"
    assert backend.connections == 2


@in_loop
async def test_answers_without_body_keep_the_connection() -> None:
    no_content = b"HTTP/1.1 204 No Content\r\n\r\n"
    not_modified = b'HTTP/1.1 304 Not Modified\r\netag: "a"\r\n\r\n'
    async with serving(no_content, not_modified, OK) as backend, transport() as t:
        answers = [await fetch(t, backend.url) for _ in range(3)]
    assert [(a.status_code, a.content) for a in answers] == [(204, b""), (304, b""), (200, b"ok")]
    assert backend.connections == 1


@in_loop
async def test_an_answer_to_head_ends_at_its_head_and_its_connection_is_dropped() -> None:
    head = b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\n"
    async with serving(head, OK) as backend, transport() as t:
        answer = await fetch(t, backend.url, method="HEAD")
        assert (answer.headers["content-length"], answer.content) == ("5", b"")
        assert (await fetch(t, backend.url)).content == b"ok"
    assert backend.connections == 2


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 103 Early Hints\r\nlink: </a.css>; rel=preload\r\n\r\n" + OK,
        script(b"HTTP/1.1 100 Continue\r\n\r\n", 0.02, OK),
    ],
    ids=["103 in the same write", "100 in its own write"],
)
@in_loop
async def test_informational_answers_are_skipped(answer: Answer) -> None:
    async with serving(answer, OK) as backend, transport() as t:
        first = await fetch(t, backend.url)
        assert (first.status_code, first.content, "link" in first.headers) == (200, b"ok", False)
        assert (await fetch(t, backend.url)).content == b"ok"
    assert backend.connections == 1


LINES = b"x-n: 1\r\n" * (MAX_HEADER_LINES + 1)
BAD_ANSWERS = {
    "head too large": b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * MAX_HEAD_BYTES + b"\r\n\r\n",
    "too many header lines": b"HTTP/1.1 200 OK\r\n" + LINES + b"\r\n",
    "malformed status line": b"HTTP/1.1 2OO OK\r\ncontent-length: 2\r\n\r\nok",
    "upgrade": b"HTTP/1.1 101 Switching Protocols\r\nupgrade: h2c\r\nconnection: upgrade\r\n\r\n",
}


@pytest.mark.parametrize("bad", list(BAD_ANSWERS.values()), ids=list(BAD_ANSWERS))
@in_loop
async def test_a_bad_answer_is_a_protocol_error_and_its_connection_dropped(bad: bytes) -> None:
    async with serving(bad, OK) as backend, transport() as t:
        with pytest.raises(httpx.RemoteProtocolError):
            await fetch(t, backend.url)
        assert (await fetch(t, backend.url)).content == b"ok"
    assert backend.connections == 2


@in_loop
async def test_heads_at_the_bounds_are_read() -> None:
    lines = b"HTTP/1.1 200 OK\r\n" + LINES[: -8 * 3] + OK[17:]  # OK has 2 header lines
    filler = MAX_HEAD_BYTES + len(b"ok") - len(OK) - len(b"x-big: \r\n")
    large = b"HTTP/1.1 200 OK\r\nx-big: " + b"a" * filler + b"\r\n" + OK[17:]
    assert len(large) == MAX_HEAD_BYTES + len(b"ok")  # the head is MAX_HEAD_BYTES
    async with (
        serving(lines, script(large[:1000], 0.02, large[1000:])) as backend,
        transport() as t,
    ):
        assert len((await fetch(t, backend.url)).headers.raw) == MAX_HEADER_LINES
        assert (await fetch(t, backend.url)).headers["x-big"] == "a" * filler
    assert backend.connections == 1


@in_loop
async def test_a_second_answer_in_the_same_packet_is_a_protocol_error() -> None:
    async with serving(OK + EXTRA, OK) as backend, transport() as t:
        with pytest.raises(httpx.RemoteProtocolError, match="nobody asked for"):
            await fetch(t, backend.url)
        assert (await fetch(t, backend.url)).content == b"ok"
    assert backend.connections == 2


@in_loop
async def test_a_large_body_arrives_intact_with_reading_paused_meanwhile() -> None:
    body = bytes(range(256)) * (2 * 1024 * 1024 // 256)
    large = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    async with serving(large, OK) as backend, transport() as t:
        response = await t.handle_async_request(request("GET", backend.url))
        await asyncio.sleep(0.2)  # the answer arrives meanwhile, up to READ_HIGH_WATER
        connection = response.stream._conn  # type: ignore[attr-defined]
        assert not connection.transport.is_reading()
        assert READ_HIGH_WATER < connection._buffered < len(body)
        assert await response.aread() == body
        await response.aclose()
        assert (await fetch(t, backend.url)).content == b"ok"
    assert backend.connections == 1


@in_loop
async def test_an_answer_closed_before_its_end_drops_the_connection() -> None:
    partial = b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello"
    async with serving(partial, OK) as backend, transport() as t:
        response = await t.handle_async_request(request("GET", backend.url))
        assert await anext(aiter(response.stream)) == b"hello"  # type: ignore[arg-type]
        await response.aclose()
        assert (await fetch(t, backend.url)).content == b"ok"
    assert backend.connections == 2


@in_loop
async def test_an_answer_closed_unread_while_reading_is_paused_drops_the_connection() -> None:
    body = b"x" * (2 * READ_HIGH_WATER)
    large = b"HTTP/1.1 200 OK\r\ncontent-length: %d\r\n\r\n" % len(body) + body
    async with serving(large, OK) as backend, transport() as t:
        response = await t.handle_async_request(request("GET", backend.url))
        await asyncio.sleep(0.2)  # all of it arrives: complete, but reading is paused
        await response.aclose()
        assert (await fetch(t, backend.url)).content == b"ok"  # not the paused connection
    assert backend.connections == 2


@in_loop
async def test_endless_trailers_are_a_protocol_error() -> None:
    """Chunk framing and trailers are bounded like a head (httptools would join an endless
    trailer's pieces by copying, at a cost that grows as its square)."""
    piece = b"a" * 4096
    steps: list[bytes | float | None] = [
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n2\r\nok\r\n0\r\nx-t: "
    ]
    steps += [piece, 0.001] * (2 * MAX_HEAD_BYTES // len(piece) + 4)
    async with serving(script(*steps), OK) as backend, transport() as t:
        with pytest.raises(httpx.RemoteProtocolError, match="trailers are too large"):
            await fetch(t, backend.url)
        assert (await fetch(t, backend.url)).content == b"ok"
    assert backend.connections == 2


@in_loop
async def test_many_small_chunks_are_not_mistaken_for_endless_framing() -> None:
    chunks = [b"1\r\nx\r\n"] * (2 * MAX_HEAD_BYTES // 6)
    answer = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n"
    answer += b"".join(chunks) + b"0\r\nx-trailer: fine\r\n\r\n"
    async with serving(answer) as backend, transport() as t:
        assert (await fetch(t, backend.url)).content == b"x" * len(chunks)


@in_loop
async def test_an_international_host_name_is_reached_by_its_ascii_form() -> None:
    seen: list[str] = []

    async def remember(host: str, port: int) -> str:
        seen.append(host)
        return "127.0.0.1"

    async with serving(OK) as backend:
        t = BackendTransport(connect=remember, tls=ssl.create_default_context())
        async with t:
            response = await fetch(t, f"http://faß.example:{backend.port}/")
    assert response.content == b"ok"
    assert seen == ["xn--fa-hia.example"]  # as the Host header says (IDNA 2008)
    assert b"\r\nhost: xn--fa-hia.example:" in backend.received[0].lower()


@in_loop
async def test_more_requests_than_connections_wait_for_a_slot() -> None:
    async with serving(script(0.3, OK)) as backend, transport(max_connections=2) as t:
        slow = [asyncio.create_task(fetch(t, backend.url)) for _ in range(2)]
        await asyncio.sleep(0.05)
        with pytest.raises(httpx.PoolTimeout):
            await fetch(t, backend.url, pool=0.05)
        waiting = asyncio.create_task(fetch(t, backend.url))
        assert [(await task).content for task in [*slow, waiting]] == [b"ok"] * 3
    assert backend.connections == 2


@in_loop
async def test_idle_connections_expire() -> None:
    async with serving(OK) as backend, transport(keepalive_expiry=0.3) as t:
        await fetch(t, backend.url)
        await fetch(t, backend.url)
        await asyncio.sleep(0.4)
        await fetch(t, backend.url)
    assert backend.connections == 2


@pytest.mark.parametrize("max_keepalive, opened", [(1, 3), (2, 2)])
@in_loop
async def test_idle_connections_are_bounded(max_keepalive: int, opened: int) -> None:
    async with serving(OK) as backend, transport(max_keepalive=max_keepalive) as t:
        for _ in range(2):  # two answers open at once, twice
            answers = [await t.handle_async_request(request("GET", backend.url)) for _ in "ab"]
            for answer in answers:
                await answer.aread()
                await answer.aclose()
    assert backend.connections == opened


@in_loop
async def test_a_cancelled_request_gives_its_slot_back() -> None:
    async with serving(SILENT, OK) as backend, transport(max_connections=1) as t:
        waiting = asyncio.create_task(fetch(t, backend.url))
        await asyncio.sleep(0.1)
        waiting.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiting
        assert (await fetch(t, backend.url, pool=0.5)).content == b"ok"
    assert backend.connections == 2


def test_request_bytes_of_a_get_and_a_post() -> None:
    get = httpx.Request("GET", "http://b.example:8080/a/b?q=1 2", headers={"accept": "*/*"})
    assert request_bytes(get, b"") == (
        b"GET /a/b?q=1%202 HTTP/1.1\r\nHost: b.example:8080\r\naccept: */*\r\n\r\n"
    )
    headers = {"Transfer-Encoding": "chunked", "Content-Length": "99", "x-b": "1"}
    post = httpx.Request("POST", "http://b.example/p", headers=headers, content=b"hello")
    assert request_bytes(post, b"hello") == (
        b"POST /p HTTP/1.1\r\nHost: b.example\r\nx-b: 1\r\ncontent-length: 5\r\n\r\nhello"
    )
    empty = httpx.Request("POST", "http://b.example/p")
    assert request_bytes(empty, b"").endswith(b"\r\ncontent-length: 0\r\n\r\n")


@in_loop
async def test_the_backend_receives_exactly_the_request_bytes() -> None:
    async with serving(OK) as backend, transport() as t:
        sent = [
            request("GET", backend.url + "x?y=1", headers={"x-a": "b"}),
            request("POST", backend.url, content=b'{"a": 1}', headers={"content-length": "1"}),
            request("DELETE", backend.url, content=b"gone"),
        ]
        for one in sent:
            response = await t.handle_async_request(one)
            await response.aread()
            await response.aclose()
    assert backend.received == [request_bytes(one, one.content) for one in sent]
    assert b'\r\ncontent-length: 8\r\n\r\n{"a": 1}' in backend.received[1]


@pytest.mark.parametrize(
    "method, headers",
    [
        *[
            ("GET", {"x-a": value})
            for value in ["b\r\nx-injected: 1", "b\nx", "b\rx", "b\0", "b\x01", "b\x7f"]
        ],
        *[("GET", {name: "b"}) for name in ["x a", "x:a", "x\r\ny"]],
        ("G T", {}),
        ("GET\r\nX", {}),
    ],
)
@in_loop
async def test_a_request_that_is_not_one_http_request_is_refused(
    method: str, headers: dict[str, str]
) -> None:
    async with serving(OK) as backend, transport(max_connections=1) as t:
        with pytest.raises(httpx.LocalProtocolError):
            await fetch(t, backend.url, method=method, headers=headers)
        assert (await fetch(t, backend.url, pool=0.5)).content == b"ok"
    assert len(backend.received) == 1
