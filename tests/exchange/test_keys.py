"""Members' keys: hosted keys encrypted at rest, registered public keys, revocation, JWKS."""

from __future__ import annotations

import base64

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from sqlalchemy import select

from satu.core.errors import Problem
from satu.exchange import keys
from satu.exchange.models import MemberKey
from satu.exchange.schemas import Actor
from tests.exchange.conftest import ADMIN


def _raw(key: Ed25519PrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)


def test_hosted_key_is_made_once_and_encrypted(db) -> None:
    key_id, private = keys.signing_key(session=db, member_class="GOV", member_code="kemensos")
    again_id, again = keys.signing_key(session=db, member_class="GOV", member_code="kemensos")
    assert key_id == again_id and _raw(private) == _raw(again)
    other_id, _ = keys.signing_key(session=db, member_class="GOV", member_code="kemenkes")
    assert other_id != key_id
    row = db.get(MemberKey, key_id)
    raw_private = private.private_bytes_raw()
    assert row.hosted and row.private_key_encrypted and raw_private not in row.private_key_encrypted
    assert key_id == keys.thumbprint(_raw(private))
    # Sealed to its key id: moved to another id it does not open.
    with pytest.raises(keys.HostedKeyError):
        keys.decrypt_private("another", row.private_key_encrypted)
    tampered = bytearray(row.private_key_encrypted)
    tampered[-1] ^= 1
    with pytest.raises(keys.HostedKeyError):
        keys.decrypt_private(key_id, bytes(tampered))
    info = keys.public_key(session=db, key_id=key_id)
    assert info.public_key == _raw(private) and info.hosted and not info.revoked
    signature = private.sign(b"hello")
    _info, verifier = keys.verifying_key(session=db, key_id=key_id)
    verifier.verify(signature, b"hello")


def test_rfc7638_thumbprint_of_rfc8037_key() -> None:
    # RFC 8037 appendix A.3: the thumbprint of its example Ed25519 key.
    x = base64.urlsafe_b64decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    assert keys.thumbprint(x) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def test_register_revoke_and_jwks(db, make_client) -> None:
    consumer = make_client("kemensos", "dtks")
    own = Ed25519PrivateKey.generate()
    officer = Actor(name="account:k", agency_ids=("kemensos",))
    stranger = Actor(name="account:s", agency_ids=("kemenkes",))
    with pytest.raises(Problem) as caught:
        keys.add_member_key(
            session=db, actor=stranger, subsystem_id=consumer.subsystem.id, public_key=_raw(own)
        )
    assert caught.value.slug == "forbidden"
    info = keys.add_member_key(
        session=db, actor=officer, subsystem_id=consumer.subsystem.id, public_key=_raw(own)
    )
    assert not info.hosted and info.subsystem_id == consumer.subsystem.id
    assert (info.member_class, info.member_code) == ("GOV", "kemensos")
    for bad, slug in [
        (b"short", "validation-error"),
        (_raw(own), "conflict"),
    ]:
        with pytest.raises(Problem) as caught:
            keys.add_member_key(
                session=db, actor=officer, subsystem_id=consumer.subsystem.id, public_key=bad
            )
        assert caught.value.slug == slug
    with pytest.raises(Problem) as caught:
        keys.register_public_key(
            session=db,
            member_class="GOV",
            member_code="nobody",
            subsystem_id=None,
            public_key=_raw(Ed25519PrivateKey.generate()),
        )
    assert caught.value.slug == "not-found"
    with pytest.raises(Problem) as caught:
        keys.register_public_key(
            session=db,
            member_class="GOV",
            member_code="kemensos",
            subsystem_id=None,
            public_key=_raw(Ed25519PrivateKey.generate()),
            key_id="bad id!",
        )
    assert caught.value.slug == "validation-error"
    named = keys.register_public_key(
        session=db,
        member_class="GOV",
        member_code="kemensos",
        subsystem_id=None,
        public_key=_raw(Ed25519PrivateKey.generate()),
        key_id="kemensos-2026",
    )
    hosted_id, _ = keys.signing_key(session=db, member_class="GOV", member_code="kemensos")
    published = {k["kid"]: k for k in keys.jwks(session=db)["keys"]}
    assert {info.key_id, named.key_id, hosted_id} <= set(published)
    jwk = published[info.key_id]
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["alg"] == "EdDSA"
    assert base64.urlsafe_b64decode(jwk["x"] + "=") == _raw(own)
    assert jwk["member_code"] == "kemensos" and jwk["subsystem_code"] == "dtks"
    assert "d" not in jwk
    with pytest.raises(Problem) as caught:
        keys.revoke_key(session=db, actor=stranger, key_id=info.key_id)
    assert caught.value.slug == "forbidden"
    revoked = keys.revoke_key(session=db, actor=officer, key_id=info.key_id)
    assert revoked.revoked
    assert info.key_id not in {k["kid"] for k in keys.jwks(session=db)["keys"]}
    assert keys.verifying_key(session=db, key_id=info.key_id) is None
    assert keys.public_key(session=db, key_id=info.key_id).revoked
    # A revoked hosted key is replaced by a new one on next use.
    keys.revoke_key(session=db, actor=ADMIN, key_id=hosted_id)
    new_id, _ = keys.signing_key(session=db, member_class="GOV", member_code="kemensos")
    assert new_id != hosted_id
    assert keys.public_key(session=db, key_id="x" * 200) is None
    assert db.scalar(select(MemberKey).where(MemberKey.key_id == "nope")) is None


def test_decode_public_key_forms() -> None:
    own = Ed25519PrivateKey.generate()
    raw = _raw(own)
    pem = own.public_key().public_bytes(Encoding.PEM, PublicFormat.SubjectPublicKeyInfo).decode()
    assert keys.decode_public_key(base64.urlsafe_b64encode(raw).rstrip(b"=").decode()) == raw
    assert keys.decode_public_key(base64.b64encode(raw).decode()) == raw
    assert keys.decode_public_key(pem) == raw
    for bad in ["", "!!!", base64.b64encode(b"x" * 31).decode(), "-----BEGIN PUBLIC KEY-----x", 5]:
        with pytest.raises(Problem):
            keys.decode_public_key(bad)
