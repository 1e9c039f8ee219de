"""RFC 9421 signatures: what is covered, and every way a signature is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from satu.exchange import signatures as sig
from satu.exchange.schemas import KeyInfo

URL = "http://gw.example:8000/r1/ID/GOV/K1/SUB/persons/v1/persons/3201?x=1%202"
BODY = b'{"nik":"3201014101900001"}'


def _key(member_code: str = "K1", key_id: str = "k1", **extra: object):
    private = Ed25519PrivateKey.generate()
    public = private.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    info = KeyInfo(
        key_id=key_id, member_class="GOV", member_code=member_code, public_key=public, **extra
    )
    return private, info


def _signed(private, *, body=BODY, created=None, headers=None, key_id="k1") -> httpx.Request:
    request = httpx.Request(
        "POST",
        URL,
        headers=headers
        or {
            "Content-Type": "application/json",
            "X-Road-Client": "ID/GOV/K1/SUB",
            "X-Road-Id": "tx-1",
            "X-Road-UserId": "ID3201014101900001",
            "X-Road-Purpose": "bansos-eligibility",
        },
        content=body,
    )
    sig.sign_request(request, key_id=key_id, private_key=private, body=body, created=created)
    return request


def _verify(request: httpx.Request, info: KeyInfo, *, body=BODY, lines=None, **kwargs):
    return sig.verify_request(
        method=request.method,
        url=str(request.url),
        headers=sig.Fields(lines if lines is not None else _lines(request)),
        body=body,
        lookup=lambda kid: info if kid == info.key_id else None,
        **kwargs,
    )


def _lines(request: httpx.Request) -> list[tuple[str, str]]:
    return [(k.decode().lower(), v.decode()) for k, v in request.headers.raw]


def test_signed_request_covers_method_target_digest_and_xroad_headers() -> None:
    private, info = _key()
    request = _signed(private)
    assert request.headers["content-digest"] == sig.content_digest(BODY)
    params = request.headers["signature-input"]
    assert params.startswith('satu=("@method" "@target-uri" "content-type" "x-road-client"')
    for name in ("x-road-id", "x-road-userid", "x-road-purpose", "content-digest"):
        assert f'"{name}"' in params
    assert 'alg="ed25519"' in params and 'keyid="k1"' in params and "nonce=" in params
    verified = _verify(request, info, member=("GOV", "K1"))
    assert verified.key_id == "k1" and verified.nonce and "x-road-purpose" in verified.covered


def test_two_signatures_never_share_a_nonce() -> None:
    private, _ = _key()
    first, second = _signed(private), _signed(private)
    assert first.headers["signature"] != second.headers["signature"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ("body", "Content-Digest does not match the body"),
        ("purpose", "does not verify"),
        ("user", "does not verify"),
        ("url", "does not verify"),
        ("method", "does not verify"),
        ("added-header", "header x-road-issue is present but not covered"),
        ("digest-swapped", "does not verify"),
        ("no-signature", "carries no HTTP Message Signature"),
        ("garbage", "Malformed structured header"),
    ],
)
def test_tampering_is_refused_with_a_precise_reason(change: str, reason: str) -> None:
    private, info = _key()
    request = _signed(private)
    lines = _lines(request)
    kwargs: dict = {}
    body = BODY
    if change == "body":
        body = BODY.replace(b"0001", b"0002")
    elif change == "purpose":
        lines = [(k, "marketing" if k == "x-road-purpose" else v) for k, v in lines]
    elif change == "user":
        lines = [(k, "ID3201014101900002" if k == "x-road-userid" else v) for k, v in lines]
    elif change == "added-header":
        lines.append(("x-road-issue", "ABC-1"))
    elif change == "digest-swapped":
        body = b"{}"
        lines = [(k, sig.content_digest(body) if k == "content-digest" else v) for k, v in lines]
    elif change == "no-signature":
        lines = [(k, v) for k, v in lines if not k.startswith("signature")]
    elif change == "garbage":
        lines = [(k, "satu=(((" if k == "signature-input" else v) for k, v in lines]
    with pytest.raises(sig.SignatureError) as caught:
        if change == "url":
            sig.verify_request(
                method="POST",
                url=URL.replace("3201?", "3202?"),
                headers=sig.Fields(lines),
                body=body,
                lookup=lambda kid: info,
            )
        elif change == "method":
            sig.verify_request(
                method="PUT", url=URL, headers=sig.Fields(lines), body=body, lookup=lambda k: info
            )
        else:
            _verify(request, info, body=body, lines=lines, **kwargs)
    assert reason in caught.value.reason


def test_keys_are_checked() -> None:
    private, info = _key()
    request = _signed(private)
    with pytest.raises(sig.SignatureError, match="unknown signing key"):
        _verify(request, info.model_copy(update={"key_id": "other"}))
    with pytest.raises(sig.SignatureError, match="revoked"):
        _verify(request, info.model_copy(update={"revoked": True}))
    with pytest.raises(sig.SignatureError, match="another member"):
        _verify(request, info, member=("GOV", "K2"))
    with pytest.raises(sig.SignatureError, match="another subsystem"):
        _verify(request, info.model_copy(update={"subsystem_id": 7}), subsystem_id=8)
    # A key of the right member but another private half: the signature does not verify.
    _, impostor = _key()
    with pytest.raises(sig.SignatureError, match="does not verify"):
        _verify(request, impostor)


def test_freshness_window() -> None:
    private, info = _key()
    old = _signed(private, created=datetime.now(UTC) - timedelta(seconds=sig.MAX_AGE + 60))
    with pytest.raises(sig.SignatureError, match="older than 300 seconds"):
        _verify(old, info)
    future = _signed(private, created=datetime.now(UTC) + timedelta(seconds=sig.CLOCK_SKEW + 60))
    with pytest.raises(sig.SignatureError, match="future"):
        _verify(future, info)
    recent = _signed(private, created=datetime.now(UTC) - timedelta(seconds=sig.MAX_AGE - 30))
    assert _verify(recent, info).key_id == "k1"


def test_response_signature_covers_status_and_headers() -> None:
    private, info = _key()
    headers = httpx.Headers(
        {"content-type": "application/json", "x-road-id": "tx-1", "x-road-request-id": "r-1"}
    )
    sig.sign_response(headers, status=200, key_id="k1", private_key=private, body=b"[1]")
    assert headers["signature-input"].startswith('satu=("@status" "content-type" "x-road-id"')
    verified = sig.verify_response(
        status=200, headers=headers, body=b"[1]", lookup=lambda kid: info
    )
    assert "x-road-request-id" in verified.covered
    with pytest.raises(sig.SignatureError, match="does not verify"):
        sig.verify_response(status=201, headers=headers, body=b"[1]", lookup=lambda kid: info)
    with pytest.raises(sig.SignatureError, match="Content-Digest"):
        sig.verify_response(status=200, headers=headers, body=b"[2]", lookup=lambda kid: info)


def test_nonces_are_remembered_and_purged(db) -> None:
    private, info = _key(key_id="nonce-key")
    request = _signed(private, key_id="nonce-key")
    verified = _verify(request, info)
    sig.remember_nonce(session=db, verified=verified)
    with pytest.raises(sig.SignatureError, match="replayed"):
        sig.remember_nonce(session=db, verified=verified)
    # The session is still usable after the refused replay (savepoint).
    later = datetime.now(UTC) + timedelta(seconds=sig.MAX_AGE + sig.CLOCK_SKEW + 5)
    assert sig.purge_nonces(session=db, now=later) >= 1
    sig.remember_nonce(session=db, verified=verified)


_CASES = [
    ("GET", "http://127.0.0.1:9000/persons/3201?x=1%202&y=", {"X-Road-Client": "ID/GOV/K1/SUB"}),
    ("POST", "https://provider.example/v1/a%2Fb", {"Content-Type": "application/json"}),
    ("PUT", "http://provider.example:80/", {"X-Road-Id": " padded\t", "X-Road-Purpose": "p"}),
    ("DELETE", "http://[::1]:8443/x/y;z?q", {"X-Road-UserId": "ID3201014101900001"}),
    ("GET", "http://h.example/p", [("X-Road-Issue", "a"), ("x-road-issue", "b, c")]),
    ("OPTIONS", "http://h.example", {}),
    ("GET", "http://h.example/é?ü=1", {"X-Road-Represented-Party": "ID/COM/123"}),
    ("POST", "http://h.example/p", {"X-Road-Purpose": "a\tb", "Content-Type": "text/plain"}),
]


@pytest.mark.parametrize(("method", "url", "headers"), _CASES)
def test_direct_signing_gives_the_library_bytes_exactly(method, url, headers) -> None:
    private, info = _key()
    created = datetime.now(UTC)
    signed = {}
    for fast in (True, False):
        request = httpx.Request(method, url, headers=headers, content=BODY)
        sig.sign_request(
            request,
            key_id="k1",
            private_key=private,
            body=BODY,
            created=created,
            nonce="n-1",
            fast=fast,
        )
        signed[fast] = [
            request.headers.get(h) for h in ("content-digest", "signature-input", "signature")
        ]
        assert _verify(request, info).covered[:2] == ("@method", "@target-uri")
    assert signed[True] == signed[False]


@pytest.mark.parametrize("status", [200, 404, 502])
def test_direct_response_signing_gives_the_library_bytes_exactly(status) -> None:
    private, info = _key()
    created = datetime.now(UTC)
    signed = []
    for fast in (True, False):
        headers = httpx.Headers(
            {"content-type": "application/json", "x-road-id": "tx", "x-road-request-hash": "a+/="}
        )
        sig.sign_response(
            headers,
            status=status,
            key_id="k1",
            private_key=private,
            body=BODY,
            created=created,
            nonce="n-2",
            fast=fast,
        )
        signed.append([headers.get(h) for h in ("content-digest", "signature-input", "signature")])
        sig.verify_response(
            status=status,
            headers=headers,
            body=BODY,
            lookup=lambda kid: info,
        )
    assert signed[0] == signed[1]


@pytest.mark.parametrize(("method", "url", "headers"), _CASES)
def test_signed_request_lines_give_the_library_bytes(method, url, headers) -> None:
    """The gateway signs its forwarded request as header lines, before building it: the same
    signature as the library's on the built request, or None (then the library signs)."""
    private, info = _key()
    created = datetime.now(UTC)
    library = httpx.Request(method, url, headers=headers, content=BODY)
    sig.sign_request(
        library,
        key_id="k1",
        private_key=private,
        body=BODY,
        created=created,
        nonce="n-3",
        fast=False,
    )
    lines = httpx.Request(method, url, headers=headers).headers.raw
    signed = sig.sign_request_lines(
        method,
        str(library.url),
        lines,
        key_id="k1",
        private_key=private,
        body=BODY,
        created=created,
        nonce="n-3",
    )
    if signed is None:  # an unusual value: only the library path may sign it
        assert any(not value.isascii() or b"\t" in value for _, value in lines) or (
            not str(library.url).isascii()
        )
        return
    request = httpx.Request(method, library.url, headers=signed, content=BODY)
    names = ("content-digest", "signature-input", "signature")
    assert [request.headers.get(h) for h in names] == [library.headers.get(h) for h in names]
    assert _verify(request, info).covered[:2] == ("@method", "@target-uri")


def test_signed_request_lines_replace_an_earlier_signature() -> None:
    private, info = _key()
    lines = [
        (b"X-Road-Client", b"ID/GOV/K1/SUB"),
        (b"Signature-Input", b'old=("@method");created=1'),
        (b"Signature", b"old=:AAAA:"),
        (b"Content-Digest", b"sha-256=:stale:"),
    ]
    signed = sig.sign_request_lines("POST", URL, lines, key_id="k1", private_key=private, body=BODY)
    assert signed is not None
    names = [name.lower() for name, _ in signed]
    assert names.count(b"signature") == names.count(b"signature-input") == 1
    assert names.count(b"content-digest") == 1 and b"sha-256=:stale:" not in dict(signed).values()
    request = httpx.Request("POST", URL, headers=signed, content=BODY)
    assert "x-road-client" in _verify(request, info).covered


def test_signed_request_lines_give_way_on_an_unusual_value() -> None:
    private, _ = _key()
    latin = [(b"X-Road-Purpose", "für".encode("latin-1"))]
    assert sig.sign_request_lines("GET", URL, latin, key_id="k1", private_key=private) is None
    assert sig.sign_request_lines("GET", URL, [], key_id='k"1', private_key=private) is None


@pytest.mark.parametrize("key_id", ["k1", 'k"1'])
def test_signed_response_lines_equal_signing_httpx_headers(key_id) -> None:
    """Plain values take the direct path, unusual ones the library; both as `sign_response`."""
    private, info = _key(key_id=key_id)
    created = datetime.now(UTC)
    lines = [(b"content-type", b"application/json"), (b"signature", b"old=:AAAA:")]
    signed = sig.sign_response_lines(
        lines,
        status=201,
        key_id=key_id,
        private_key=private,
        body=BODY,
        created=created,
        nonce="n-4",
    )
    headers = httpx.Headers(lines)
    sig.sign_response(
        headers,
        status=201,
        key_id=key_id,
        private_key=private,
        body=BODY,
        created=created,
        nonce="n-4",
    )
    names = ("content-digest", "signature-input", "signature")
    assert [httpx.Headers(signed).get(h) for h in names] == [headers.get(h) for h in names]
    assert [name for name, _ in signed].count(b"signature") == 1
    sig.verify_response(status=201, headers=httpx.Headers(signed), body=BODY, lookup=lambda k: info)


def test_libsodium_signatures_equal_the_cryptography_librarys() -> None:
    """Signing goes through libsodium (PyNaCl) for speed: the bytes must be exactly what
    `cryptography` makes (and so what every verifier expects), for each of several keys used
    in turn (a key's libsodium form is kept per key object, never mixed up)."""
    from satu.exchange.signing import ed25519_sign

    keys = [Ed25519PrivateKey.generate() for _ in range(3)]
    for round_ in range(2):
        for number, key in enumerate(keys):
            for message in (b"", b"x", f"signature base {round_} {number}".encode() * 40):
                signature = ed25519_sign(key, message)
                assert signature == key.sign(message)
                key.public_key().verify(signature, message)
