"""Independent check: our RFC 9421 signatures verified by another library (npm
`http-message-signatures`, run under node) and our RFC 9530 digests by node:crypto.

Runs `npm ci` in tests/exchange/sigcheck itself; skips only when node/npm are missing.
"""

from __future__ import annotations

import base64
import json
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from satu.exchange import signatures as sig
from tests.exchange._gateway_support import raw_public

SIGCHECK = Path(__file__).resolve().parent / "sigcheck"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def ensure_sigcheck() -> str:
    """The node binary, with the verifier's npm packages installed; skips without node/npm."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        pytest.skip("node/npm are not installed")
    if not (SIGCHECK / "node_modules" / "http-message-signatures").is_dir():
        done = subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund"],
            cwd=SIGCHECK,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    return node


@pytest.fixture(scope="module")
def node() -> str:
    return ensure_sigcheck()


def verify_with_node(node: str, cases: list[dict]) -> list[dict]:
    """Run the npm verifier on cases; its results in order."""
    done = subprocess.run(
        [node, "verify.mjs"],
        cwd=SIGCHECK,
        input=json.dumps(cases),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout)


def jwk_of(key_id: str, public: bytes) -> dict:
    return {"kty": "OKP", "crv": "Ed25519", "x": _b64url(public), "kid": key_id}


def test_npm_library_verifies_our_request_and_response_signatures(node: str) -> None:
    private = Ed25519PrivateKey.generate()
    jwk = jwk_of("member-key-1", raw_public(private))
    body = b'{"nik":"3273010101900001"}'
    request = httpx.Request(
        "POST",
        "http://127.0.0.1:8000/persons/search?full=1&x=%20y",
        headers={
            "Content-Type": "application/json",
            "X-Road-Client": "ID/GOV/kemensos/BANSOS",
            "X-Road-Id": "tx-1",
            "X-Road-UserId": "ID3273010101900001",
            "X-Road-Purpose": "bansos-eligibility",
        },
        content=body,
    )
    sig.sign_request(request, key_id="member-key-1", private_key=private, body=body)
    response_headers = httpx.Headers(
        {"content-type": "application/json", "x-road-id": "tx-1", "x-road-request-hash": "abc="}
    )
    answer = b'{"ok":true}'
    sig.sign_response(
        response_headers, status=200, key_id="member-key-1", private_key=private, body=answer
    )

    def case(kind: str, headers, body_bytes: bytes, **extra) -> dict:
        return {
            "kind": kind,
            "headers": dict(headers.items()),
            "body_b64": base64.b64encode(body_bytes).decode(),
            "jwk": jwk,
            **extra,
        }

    good_request = case("request", request.headers, body, method="POST", url=str(request.url))
    good_response = case("response", response_headers, answer, status=200)
    tampered_header = {
        **good_request,
        "headers": {**good_request["headers"], "x-road-purpose": "x"},
    }
    tampered_body = {**good_response, "body_b64": base64.b64encode(b'{"ok":false}').decode()}
    other_status = {**good_response, "status": 201}
    results = verify_with_node(
        node, [good_request, good_response, tampered_header, tampered_body, other_status]
    )
    assert [r["ok"] for r in results] == [True, True, False, False, False], results
