"""The gateway's asyncio network backend for httpcore, against real sockets: plain and TLS
connections, certificate and host name checks, timeouts, refused connections and dropped
keep-alive connections, each surfacing as the httpx error the forwarding code expects."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Awaitable, Callable

import httpx
import pytest
import trustme

from satu.exchange.aio_stream import AsyncioBackend

ANSWER = b"HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: 2\r\n\r\nok"

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


async def _answer_each_request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    try:
        while await reader.readuntil(b"\r\n\r\n"):
            writer.write(ANSWER)
            await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _serve(handler: Handler, tls: ssl.SSLContext | None = None) -> asyncio.Server:
    return await asyncio.start_server(handler, "127.0.0.1", 0, ssl=tls)


def _transport(verify: ssl.SSLContext | bool = True) -> httpx.AsyncHTTPTransport:
    transport = httpx.AsyncHTTPTransport(verify=verify, trust_env=False)
    transport._pool._network_backend = AsyncioBackend()
    return transport


async def _get(transport: httpx.AsyncHTTPTransport, url: str, timeout: float = 2.0) -> bytes:
    request = httpx.Request("GET", url, extensions={"timeout": httpx.Timeout(timeout).as_dict()})
    response = await transport.handle_async_request(request)
    try:
        assert isinstance(response.stream, httpx.AsyncByteStream)
        return b"".join([chunk async for chunk in response.stream])
    finally:
        await response.aclose()


def _port(server: asyncio.Server) -> int:
    return server.sockets[0].getsockname()[1]


def test_plain_connections_are_kept_alive_and_reused() -> None:
    async def run() -> None:
        connections = 0

        async def counting(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            nonlocal connections
            connections += 1
            await _answer_each_request(reader, writer)

        server = await _serve(counting)
        async with server, _transport() as transport:
            url = f"http://127.0.0.1:{_port(server)}/"
            assert [await _get(transport, url) for _ in range(5)] == [b"ok"] * 5
        assert connections == 1

    asyncio.run(run())


@pytest.fixture(scope="module")
def authority() -> trustme.CA:
    return trustme.CA()


def _server_tls(authority: trustme.CA, name: str) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    authority.issue_cert(name).configure_cert(context)
    return context


def _client_tls(authority: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context()
    authority.configure_trust(context)
    return context


def test_tls_to_a_trusted_certificate_for_the_host_name(authority: trustme.CA) -> None:
    async def run() -> None:
        server = await _serve(_answer_each_request, _server_tls(authority, "localhost"))
        async with server, _transport(_client_tls(authority)) as transport:
            assert await _get(transport, f"https://localhost:{_port(server)}/") == b"ok"

    asyncio.run(run())


@pytest.mark.parametrize("problem", ["untrusted issuer", "other host name"])
def test_tls_refuses_a_certificate_it_cannot_trust(authority: trustme.CA, problem: str) -> None:
    async def run() -> None:
        issuer = trustme.CA() if problem == "untrusted issuer" else authority
        name = "localhost" if problem == "untrusted issuer" else "elsewhere.example"
        server = await _serve(_answer_each_request, _server_tls(issuer, name))
        async with server, _transport(_client_tls(authority)) as transport:
            with pytest.raises(httpx.ConnectError, match=r"CERTIFICATE_VERIFY_FAILED|match"):
                await _get(transport, f"https://localhost:{_port(server)}/")

    asyncio.run(run())


def test_a_silent_server_times_out_as_a_read_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(5)
        writer.close()

    async def run() -> None:
        server = await _serve(silent)
        async with server, _transport() as transport:
            with pytest.raises(httpx.ReadTimeout):
                await _get(transport, f"http://127.0.0.1:{_port(server)}/", timeout=0.2)

    asyncio.run(run())


def test_a_refused_connection_is_a_connect_error() -> None:
    async def run() -> None:
        server = await _serve(_answer_each_request)
        port = _port(server)
        server.close()
        await server.wait_closed()
        async with _transport() as transport:
            with pytest.raises(httpx.ConnectError):
                await _get(transport, f"http://127.0.0.1:{port}/")

    asyncio.run(run())


def test_a_connection_the_server_dropped_is_not_reused() -> None:
    """A keep-alive connection the server closed reads as readable, so httpcore opens a new
    one instead of failing the next call."""

    async def one_answer_then_close(
        reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ANSWER)
        await writer.drain()
        writer.close()

    async def run() -> None:
        server = await _serve(one_answer_then_close)
        async with server, _transport() as transport:
            url = f"http://127.0.0.1:{_port(server)}/"
            assert await _get(transport, url) == b"ok"
            await asyncio.sleep(0.1)  # the close reaches the client
            assert await _get(transport, url) == b"ok"

    asyncio.run(run())


def test_a_server_closing_mid_answer_is_a_protocol_error() -> None:
    async def half(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(ANSWER[:-5])
        await writer.drain()
        writer.close()

    async def run() -> None:
        server = await _serve(half)
        async with server, _transport() as transport:
            with pytest.raises(httpx.RemoteProtocolError):
                await _get(transport, f"http://127.0.0.1:{_port(server)}/")

    asyncio.run(run())
