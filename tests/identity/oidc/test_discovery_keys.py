"""Discovery metadata, the JWKS, signing keys at rest and key rotation."""

from __future__ import annotations

from datetime import timedelta

from joserfc import jwt
from joserfc.jwk import KeySet
from sqlalchemy import select

from satu.core.db import utcnow
from satu.identity.oidc import keys
from satu.identity.oidc.models import SigningKey
from tests.identity.oidc.support import ISSUER


def test_discovery_document_advertises_the_hardened_profile(client) -> None:
    response = client.get("/.well-known/openid-configuration")
    assert response.status_code == 200
    meta = response.json()
    assert meta["issuer"] == ISSUER
    for name in (
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "pushed_authorization_request_endpoint",
        "revocation_endpoint",
        "introspection_endpoint",
        "end_session_endpoint",
    ):
        assert meta[name].startswith(ISSUER + "/"), name
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["id_token_signing_alg_values_supported"] == ["ES256"]
    assert meta["subject_types_supported"] == ["pairwise"]
    assert meta["response_types_supported"] == ["code"]
    assert set(meta["token_endpoint_auth_methods_supported"]) == {
        "private_key_jwt",
        "client_secret_basic",
    }
    assert "none" not in meta["token_endpoint_auth_signing_alg_values_supported"]
    assert not any(a.startswith("HS") for a in meta["dpop_signing_alg_values_supported"])
    assert meta["authorization_response_iss_parameter_supported"] is True
    assert {"nik", "age_over_18", "offline_access", "data_usage"} <= set(meta["scopes_supported"])
    assert client.get("/.well-known/oauth-authorization-server").json() == meta


def test_jwks_publishes_public_keys_only(client) -> None:
    response = client.get("/.well-known/jwks.json")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/jwk-set+json")
    body = response.json()
    assert len(body["keys"]) == 1
    key = body["keys"][0]
    assert key["kty"] == "EC" and key["crv"] == "P-256" and key["alg"] == "ES256"
    assert "d" not in key and key["use"] == "sig"


def test_private_key_is_encrypted_at_rest(db, settings) -> None:
    kid = keys.create_key(session=db, settings=settings)
    row = db.get(SigningKey, kid)
    assert row is not None
    assert "PRIVATE KEY" not in row.private_encrypted
    assert "d" not in row.public_jwk
    assert b"PRIVATE KEY" in keys._decrypt(settings, kid, row.private_encrypted)


def test_rotation_keeps_the_old_key_published_until_its_tokens_expire(db, settings) -> None:
    old_kid = str(keys.active_signing_key(session=db, settings=settings).kid)
    token = keys.sign(session=db, settings=settings, claims={"x": 1}, typ="at+jwt")
    new_kid = keys.rotate_keys(session=db, settings=settings)
    assert new_kid != old_kid
    published = {k["kid"] for k in keys.jwks(session=db)["keys"]}
    assert published == {old_kid, new_kid}
    assert keys.verify_own(session=db, token=token, typ="at+jwt") == {"x": 1}
    fresh = keys.sign(session=db, settings=settings, claims={"y": 2}, typ="at+jwt")
    assert jwt.decode(fresh, KeySet.import_key_set(keys.jwks(session=db))).header["kid"] == new_kid
    old = db.get(SigningKey, old_kid)
    assert old.publish_until - old.retired_at >= keys.LONGEST_SIGNED_TOKEN
    old.publish_until = utcnow() - timedelta(seconds=1)
    db.flush()
    keys._public_cache.clear()
    assert {k["kid"] for k in keys.jwks(session=db)["keys"]} == {new_kid}
    assert keys.verify_own(session=db, token=token, typ="at+jwt") is None


def test_verify_own_refuses_foreign_and_unsigned_tokens(db, settings) -> None:
    from tests.identity.oidc.support import new_key, unsigned

    keys.active_signing_key(session=db, settings=settings)
    kid = db.scalars(select(SigningKey.kid)).first()
    forged = jwt.encode({"alg": "ES256", "kid": kid, "typ": "at+jwt"}, {"a": 1}, new_key())
    assert keys.verify_own(session=db, token=forged) is None
    assert (
        keys.verify_own(session=db, token=unsigned({"a": 1}, {"alg": "none", "kid": kid})) is None
    )
    assert keys.verify_own(session=db, token="not-a-jwt") is None
    good = keys.sign(session=db, settings=settings, claims={"a": 1}, typ="JWT")
    assert keys.verify_own(session=db, token=good, typ="at+jwt") is None


def test_a_changed_secret_retires_undecryptable_keys(db, settings) -> None:
    old_kid = keys.create_key(session=db, settings=settings)
    other = settings.model_copy(update={"secret_key": "another-secret-" + "x" * 30})
    keys.forget_active_key()
    keys._private_cache.clear()
    new = keys.active_signing_key(session=db, settings=other)
    assert new.kid != old_kid
    old = db.get(SigningKey, old_kid)
    assert old.retired_at is not None and old.publish_until is not None
    assert old_kid in {k["kid"] for k in keys.jwks(session=db)["keys"]}


def test_cli_rotates_keys_and_lists_them(db, settings, monkeypatch) -> None:
    from typer.testing import CliRunner

    from satu.identity.oidc import cli

    class _Factory:
        def __call__(self):
            return db

    monkeypatch.setattr(cli, "_factory", lambda: _Factory())
    monkeypatch.setattr(cli, "transaction", _same_session)
    monkeypatch.setattr(cli, "get_settings", lambda: settings)
    runner = CliRunner()
    first = runner.invoke(cli.app, ["rotate-keys"])
    assert first.exit_code == 0, first.output
    second = runner.invoke(cli.app, ["rotate-keys"])
    listed = runner.invoke(cli.app, ["keys"])
    assert listed.exit_code == 0
    assert "active" in listed.output and "retired, published until" in listed.output
    assert second.output.split()[-1] in listed.output


class _same_session:
    def __init__(self, factory):
        self.session = factory()

    def __enter__(self):
        return self.session

    def __exit__(self, *exc):
        self.session.flush()
        return False
