"""Review: a unit's officers cannot register or revoke keys that speak for the whole member,
nor revoke another unit's subsystem key."""

from __future__ import annotations

import os
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from satu.core.errors import Problem
from satu.exchange import keys
from satu.exchange.schemas import Actor
from tests.exchange.conftest import ADMIN

DUKCAPIL = Actor(name="account:dukcapil-officer", agency_ids=("kemendagri.dukcapil",))
OTDA = Actor(name="account:otda-officer", agency_ids=("kemendagri.otda",))
KEMENDAGRI = Actor(name="account:kemendagri-officer", agency_ids=("kemendagri",))


def _raw() -> bytes:
    return (
        Ed25519PrivateKey.from_private_bytes(os.urandom(32))
        .public_key()
        .public_bytes(Encoding.Raw, PublicFormat.Raw)
    )


def test_whole_member_keys_belong_to_the_member_agency(db: Any, make_client: Any) -> None:
    dukcapil = make_client("kemendagri.dukcapil", "population-register").subsystem
    ministry = make_client("kemendagri", "sekjen-app").subsystem
    assert dukcapil.member_code == ministry.member_code == "kemendagri"
    with pytest.raises(Problem) as refused:
        keys.add_member_key(
            session=db,
            actor=DUKCAPIL,
            subsystem_id=dukcapil.id,
            public_key=_raw(),
            whole_member=True,
        )
    assert refused.value.status == 403
    own = keys.add_member_key(
        session=db, actor=DUKCAPIL, subsystem_id=dukcapil.id, public_key=_raw()
    )
    assert own.subsystem_id == dukcapil.id
    member_wide = keys.add_member_key(
        session=db, actor=KEMENDAGRI, subsystem_id=ministry.id, public_key=_raw(), whole_member=True
    )
    assert member_wide.subsystem_id is None
    hosted_id, _ = keys.signing_key(session=db, member_class="GOV", member_code="kemendagri")
    # A unit's officer revokes neither the member-wide keys nor the hosted one ...
    for key_id in (member_wide.key_id, hosted_id):
        with pytest.raises(Problem) as refused:
            keys.revoke_key(session=db, actor=DUKCAPIL, key_id=key_id)
        assert refused.value.status == 403
    # ... nor a sibling unit's subsystem key; their own, yes.
    with pytest.raises(Problem):
        keys.revoke_key(session=db, actor=OTDA, key_id=own.key_id)
    assert keys.revoke_key(session=db, actor=DUKCAPIL, key_id=own.key_id).revoked
    assert keys.revoke_key(session=db, actor=KEMENDAGRI, key_id=member_wide.key_id).revoked
    assert keys.revoke_key(session=db, actor=ADMIN, key_id=hosted_id).revoked
