"""End to end: an independent OpenID client (npm `oauth4webapi`) against a live Satu server.

`oidc_flow.mjs` plays both the relying party and the person's browser over real HTTP:
discovery -> authorize (PAR or query) -> sign-in with password + TOTP -> consent -> token
(private_key_jwt, optionally DPoP) -> ID token verified with the JWKS -> userinfo -> refresh
(rotation, reuse detection) -> revocation + introspection -> RP-initiated logout; and
client_credentials with private_key_jwt + DPoP; and a client that must use DPoP server nonces
(`use_dpop_nonce`, retried with the `DPoP-Nonce`). Only test data is created here in Python.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pyotp
import pytest
import uvicorn
from joserfc.jwk import ECKey
from sqlalchemy.engine import Engine

from satu.app import create_app
from satu.core.config import Settings
from satu.core.db import make_sessionmaker, transaction
from satu.identity import service as identity
from satu.identity import totp
from satu.identity.oidc import keys
from satu.identity.oidc.clients import create_client
from satu.identity.oidc.schemas import ClientSpec
from satu.identity.schemas import ResidentIn

HERE = Path(__file__).resolve().parent
PASSWORD = "kopi-tubruk-pagi-hari-e2e"


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the OIDC end-to-end test cannot run in CI: {reason}")
    pytest.skip(reason)


def _node() -> str:
    node = shutil.which("node")
    if node is None:
        _unavailable("node is not installed")
    if not (HERE / "node_modules" / "oauth4webapi").is_dir():
        npm = shutil.which("npm")
        if npm is None:
            _unavailable("npm is not installed")
        result = subprocess.run(
            [str(npm), "ci", "--no-audit", "--no-fund"],
            cwd=HERE,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        if result.returncode != 0:
            _unavailable(f"npm ci failed: {result.stderr[-2000:]}")
    return str(node)


class _Server:
    """uvicorn in a thread, with the issuer set to the URL it really listens on."""

    def __init__(self, settings: Settings, engine: Engine) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = int(sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.settings = settings.model_copy(update={"public_url": self.url})
        app = create_app(self.settings, engine=engine)
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_config=None)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    def __enter__(self) -> _Server:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.02)
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture(scope="module")
def oidc_server(settings: Settings, engine: Engine, reference_data: None) -> Iterator[_Server]:
    with _Server(settings, engine) as server:
        yield server


def _resident(session: Any, serial: int, name: str, born: date) -> dict[str, str]:
    nik = f"327301{born.day:02d}{born.month:02d}{born.year % 100:02d}{serial:04d}"
    identity.register_resident(
        session=session,
        data=ResidentIn(
            nik=nik,
            full_name=name,
            birth_place="Bandung",
            birth_date=born,
            sex="M",
            address_line="Jl. Braga No. 1",
            rt="001",
            rw="002",
            village_code="32.73.01.1001",
            kk_number=f"3273010101{serial:06d}",
        ),
    )
    account = identity.create_account(session=session, nik=nik, password=PASSWORD)
    secret = totp.new_secret()
    previous_step_code = pyotp.TOTP(secret).at(time.time() - 30)
    assert totp.enable_totp(
        session=session, account_id=account.id, secret=secret, code=previous_step_code
    )
    return {
        "nik": nik,
        "password": PASSWORD,
        "totp_secret": secret,
        "name": name,
        "birthdate": born.isoformat(),
    }


@pytest.fixture(scope="module")
def nonces_for_strict_clients() -> Iterator[None]:
    """DPoP nonces required of clients registered with require_dpop, for this module."""
    from satu.identity.oidc import dpop

    previous = os.environ.get("SATU_OIDC_DPOP_NONCE")
    os.environ["SATU_OIDC_DPOP_NONCE"] = "dpop-clients"
    dpop.dpop_settings.cache_clear()
    yield
    if previous is None:
        os.environ.pop("SATU_OIDC_DPOP_NONCE", None)
    else:
        os.environ["SATU_OIDC_DPOP_NONCE"] = previous
    dpop.dpop_settings.cache_clear()


@pytest.fixture(scope="module")
def scenario(
    oidc_server: _Server, engine: Engine, nonces_for_strict_clients: None
) -> dict[str, Any]:
    """Residents with TOTP, a sign-in client and a machine client, committed for the server."""
    keys.forget_active_key()  # other tests' rolled-back keys must not be reused
    rp_key = ECKey.generate_key("P-256", auto_kid=True)
    system_key = ECKey.generate_key("P-256", auto_kid=True)
    strict_key = ECKey.generate_key("P-256", auto_kid=True)
    tag = str(time.time_ns())[-6:]
    base = int(tag) % 9000 + 500
    with transaction(make_sessionmaker(engine)) as session:
        residents = [
            _resident(session, base, "Siti Rahayu", date(1988, 3, 9)),
            _resident(session, base + 1, "Agus Salim", date(1975, 11, 21)),
        ]
        rp = create_client(
            session=session,
            settings=oidc_server.settings,
            spec=ClientSpec(
                client_id=f"e2e-rp-{tag}",
                name="Layanan Kesehatan Uji",
                agency_id="kemendagri.dukcapil",
                redirect_uris=["http://127.0.0.1:9/callback"],
                post_logout_redirect_uris=["http://127.0.0.1:9/signed-out"],
                grant_types=["authorization_code", "refresh_token"],
                scopes=["openid", "profile", "birthdate", "age_over_18", "offline_access"],
                auth_method="private_key_jwt",
                jwks={"keys": [rp_key.as_dict(private=False)]},
            ),
        )
        system = create_client(
            session=session,
            settings=oidc_server.settings,
            spec=ClientSpec(
                client_id=f"e2e-system-{tag}",
                name="Sistem Uji",
                agency_id="kemendagri.dukcapil",
                grant_types=["client_credentials"],
                scopes=["update_oidc_client"],
                auth_method="private_key_jwt",
                jwks={"keys": [system_key.as_dict(private=False)]},
            ),
        )
        strict_system = create_client(
            session=session,
            settings=oidc_server.settings,
            spec=ClientSpec(
                client_id=f"e2e-strict-{tag}",
                name="Sistem Uji (DPoP nonce)",
                agency_id="kemendagri.dukcapil",
                grant_types=["client_credentials"],
                scopes=["update_oidc_client"],
                auth_method="private_key_jwt",
                jwks={"keys": [strict_key.as_dict(private=False)]},
                require_dpop=True,
            ),
        )
    return {
        "issuer": oidc_server.url,
        "residents": residents,
        "rp": {
            "client_id": rp.client.client_id,
            "name": "Layanan Kesehatan Uji",
            "private_jwk": rp_key.as_dict(private=True),
            "redirect_uri": "http://127.0.0.1:9/callback",
            "post_logout_redirect_uri": "http://127.0.0.1:9/signed-out",
        },
        "system": {
            "client_id": system.client.client_id,
            "scope": "update_oidc_client",
            "private_jwk": system_key.as_dict(private=True),
        },
        "strict_system": {
            "client_id": strict_system.client.client_id,
            "scope": "update_oidc_client",
            "private_jwk": strict_key.as_dict(private=True),
        },
    }


def test_oauth4webapi_drives_every_flow(scenario: dict[str, Any]) -> None:
    node = _node()
    result = subprocess.run(
        [node, str(HERE / "oidc_flow.mjs")],
        input=json.dumps(scenario),
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    assert result.returncode == 0 and lines and lines[-1].get("ok"), (
        result.stdout[-4000:] + result.stderr[-4000:]
    )
    steps = [line["step"] for line in lines if "step" in line]
    print("\n".join(steps))
    for expected in (
        "discovery",
        "query+bearer: token exchange; ID token verified with the JWKS",
        "query+bearer: access token validated as an RFC 9068 JWT",
        "par+dpop: pushed authorization request",
        "par+dpop: userinfo",
        "par+dpop: reused refresh token refused and its family revoked",
        "par+dpop: revocation; introspection reports inactive",
        "par+dpop: RP-initiated logout",
        "client_credentials with private_key_jwt and DPoP",
        "client_credentials with DPoP server nonce (use_dpop_nonce, then retried)",
        "DPoP nonce accepted at the resource server",
    ):
        assert expected in steps, steps
