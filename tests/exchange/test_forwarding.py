"""The backend URL of a forwarded call: joined as text in the usual case, it must be exactly
what httpx.URL makes of it (the URL is signed as `@target-uri`, and the request line and Host
header go to the provider)."""

from __future__ import annotations

import random

import httpx
import pytest

from satu.exchange.forwarding import Target, backend_target, backend_url

BASES = [
    "http://127.0.0.1:8080",
    "http://127.0.0.1:8080/",
    "https://register.example.go.id/api/v1/",
    "https://register.example.go.id:443/api",  # default port: httpx drops it
    "http://REGISTER.example.go.id/Api",  # upper-case host: httpx lowers it
    "HTTP://register.example.go.id",
    "http://[::1]:9000/base",
    "https://bücher.example/x",  # IDNA
    "http://register.example.go.id/a/../b",  # dot segments in the base
    "http://register.example.go.id/a b",
    "http://user:pw@register.example.go.id/p",
    "http://register.example.go.id/p?fixed=1",
    "http://register.example.go.id/p#frag",
]
# Characters a path or query may hold as received, the usual and the unusual.
ALPHABET = "abcXYZ019-._~!$&'()*+,;=:@/%?#[]|^`{}\"<> \\äé%2F%zz.."


def _httpx(url: str) -> Target:
    parsed = httpx.URL(url)
    port = parsed.port or (443 if parsed.scheme == "https" else 80)
    origin = (parsed.scheme, parsed.raw_host.decode("ascii"), port)
    return Target(str(parsed), origin, parsed.raw_path, parsed.netloc)


@pytest.mark.parametrize("base", BASES)
def test_the_joined_url_is_what_httpx_makes_of_it(base: str) -> None:
    chance = random.Random(base)
    tails = ["/", "/persons/3201014101900001", "/a/./b", "/a/..", "/.well-known/x", "/a//b"]
    tails += ["/" + "".join(chance.choices(ALPHABET, k=chance.randint(0, 24))) for _ in range(300)]
    for tail in tails:
        path, _, query = tail.partition("?")
        try:
            expected = _httpx(backend_url(base, path, query.encode("latin-1")))
        except httpx.InvalidURL:
            with pytest.raises(httpx.InvalidURL):
                backend_target(base, path, query.encode("latin-1"))
            continue
        assert backend_target(base, path, query.encode("latin-1")) == expected, tail


def test_the_usual_url_is_joined_without_parsing(monkeypatch: pytest.MonkeyPatch) -> None:
    """The point of the text join: once the base URL is known, a plain path and query are not
    parsed again (and an unusual one still is)."""
    from satu.exchange import forwarding

    base = "https://register.example.go.id/api/"
    backend_target(base, "/warm", b"")

    def no_parse(url: str) -> httpx.URL:
        raise AssertionError(f"parsed {url}")

    monkeypatch.setattr(forwarding.httpx, "URL", no_parse)
    target = backend_target(base, "/persons/3201014101900001", b"fields=name,village")
    assert (
        target.url
        == "https://register.example.go.id/api/persons/3201014101900001?fields=name,village"
    )
    assert target.raw_target == b"/api/persons/3201014101900001?fields=name,village"
    assert target.origin == ("https", "register.example.go.id", 443)
    assert target.host == b"register.example.go.id"
    with pytest.raises(AssertionError, match="parsed"):
        backend_target(base, "/a b", b"")
