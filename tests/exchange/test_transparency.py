"""The transparency log: gap-free appends, canonical entries, subtree hashes, proofs, heads."""

from __future__ import annotations

import base64
import hashlib
import json
import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.core.errors import Problem
from satu.core.migrations import upgrade
from satu.exchange import log_heads, log_tree, merkle, transparency
from satu.exchange.models import LogEntry, LogNode
from satu.exchange.schemas import LogRecordIn

NIK = "3273011708900001"


def record(i: int = 0, nik: str | None = NIK, **extra: object) -> LogRecordIn:
    values: dict[str, object] = {
        "logged_at": datetime(2025, 1, 2, 3, 4, 5, 123456, tzinfo=UTC),
        "transaction_id": f"tx-{i}",
        "request_id": f"rq-{i}",
        "client_id": "ID/GOV/KOTA-BDG/app",
        "client_agency_id": "kota-bandung",
        "service_id": "ID/GOV/DUKCAPIL/pop/persons",
        "provider_agency_id": "dukcapil",
        "method": "GET",
        "operation": "GET /persons/{nik}",
        "nik": nik,
        "purpose": "bansos",
        "lawful_basis": "consent:7",
        "status": 200,
        "outcome": "ok",
    }
    values.update(extra)
    return LogRecordIn(**values)


def fill(db: Session, n: int) -> list[bytes]:
    start = transparency.tree_size(session=db)
    out = []
    for i in range(n):
        receipt = transparency.append(session=db, record=record(start + i))
        assert receipt.index == start + i
        out.append(bytes.fromhex(receipt.leaf_hash))
    return out


def all_leaves(db: Session) -> list[bytes]:
    return list(db.scalars(select(LogEntry.leaf_hash).order_by(LogEntry.idx)))


def test_subject_key_is_a_keyed_hash() -> None:
    key = transparency.subject_key(nik=NIK)
    assert len(key) == 64 and int(key, 16) >= 0
    assert key == transparency.subject_key(nik=NIK)
    assert key != transparency.subject_key(nik="3273011708900002")
    assert key != hashlib.sha256(NIK.encode()).hexdigest()  # not guessable without the secret


def test_append_stores_the_canonical_entry_without_the_nik(db: Session) -> None:
    receipt = transparency.append(session=db, record=record(1, user_id="petugas-1"))
    row = db.get(LogEntry, receipt.index)
    assert row is not None
    assert NIK.encode() not in row.entry
    data = json.loads(row.entry)
    assert "nik" not in data and data["subject"] == transparency.subject_key(nik=NIK)
    assert row.entry == json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    assert row.leaf_hash == hashlib.sha256(b"\x00" + row.entry).digest()
    assert receipt.leaf_hash == row.leaf_hash.hex()
    assert (row.subject_key, row.transaction_id, row.purpose) == (data["subject"], "tx-1", "bansos")
    got = transparency.entry(session=db, index=receipt.index)
    assert got["entry"] == data and got["leaf_hash"] == row.leaf_hash.hex()
    assert base64.b64decode(got["leaf_input"]) == row.entry
    with pytest.raises(Problem):
        transparency.entry(session=db, index=receipt.index + 1)
    with pytest.raises(Problem):
        transparency.entry(session=db, index=-1)


def test_unicode_and_long_values_are_kept_in_the_entry(db: Session) -> None:
    receipt = transparency.append(
        session=db, record=record(2, nik=None, purpose="bantuan sosial – ü" * 30)
    )
    row = db.get(LogEntry, receipt.index)
    assert row is not None and row.subject_key is None
    assert json.loads(row.entry)["purpose"] == "bantuan sosial – ü" * 30
    assert "ü".encode() in row.entry  # UTF-8, not \\u escapes
    assert len(row.purpose) == 200


def test_indices_are_sequential_and_proofs_verify(db: Session, monkeypatch) -> None:
    monkeypatch.setattr(log_tree, "TAIL_MAX", 5)  # derive stored subtrees early
    fill(db, 3)
    leaves = all_leaves(db)
    for _ in range(4):
        fill(db, 7)
        leaves = all_leaves(db)
        n = len(leaves)
        assert [r for r in db.scalars(select(LogEntry.idx).order_by(LogEntry.idx))] == list(
            range(n)
        )
        root = transparency.root_hash(session=db)
        assert root == merkle.root(leaves)
        for size in (n, n - 1, n // 2 + 1):
            for m in range(0, size, 3):
                proof = transparency.inclusion_proof(session=db, index=m, tree_size=size)
                assert proof["tree_size"] == size and proof["leaf_index"] == m
                assert bytes.fromhex(proof["root_hash"]) == merkle.root(leaves[:size])
                assert merkle.verify_inclusion(
                    leaf=leaves[m],
                    index=m,
                    tree_size=size,
                    path=[bytes.fromhex(h) for h in proof["audit_path"]],
                    root_hash=bytes.fromhex(proof["root_hash"]),
                )
        for first in range(1, n + 1, 4):
            c = transparency.consistency_proof(session=db, first=first, second=n)
            assert merkle.verify_consistency(
                first=first,
                second=n,
                first_hash=bytes.fromhex(c["first_hash"]),
                second_hash=root,
                proof=[bytes.fromhex(h) for h in c["consistency"]],
            )
    # Stored subtree hashes were derived and equal the RFC's.
    nodes = db.execute(select(LogNode.level, LogNode.idx, LogNode.hash)).all()
    assert nodes
    for level, idx, h in nodes:
        assert h == merkle.root(leaves[idx << level : (idx + 1) << level])
    current = len(leaves)
    with pytest.raises(Problem):
        transparency.inclusion_proof(session=db, index=current, tree_size=current)
    with pytest.raises(Problem):
        transparency.inclusion_proof(session=db, index=0, tree_size=current + 1)
    with pytest.raises(Problem):
        transparency.consistency_proof(session=db, first=0, second=current)
    with pytest.raises(Problem):
        transparency.consistency_proof(session=db, first=3, second=2)


def test_signed_tree_heads(db: Session) -> None:
    fill(db, 5)
    head = transparency.sign_tree_head(session=db)
    n = transparency.tree_size(session=db)
    assert head["tree_size"] == n
    assert base64.b64decode(head["sha256_root_hash"]) == merkle.root(all_leaves(db))
    assert transparency.verify_tree_head(session=db, head=head)
    # The signature covers RFC 9162 TreeHeadDataV2.
    data = (
        head["timestamp"].to_bytes(8, "big")
        + n.to_bytes(8, "big")
        + b"\x20"
        + base64.b64decode(head["sha256_root_hash"])
        + b"\x00\x00"
    )
    jwk = transparency.operator_jwk(session=db)
    assert jwk["kty"] == "OKP" and jwk["crv"] == "Ed25519" and jwk["kid"] == head["key_id"]
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    public = Ed25519PublicKey.from_public_bytes(base64.urlsafe_b64decode(jwk["x"] + "=="))
    public.verify(base64.b64decode(head["tree_head_signature"]), data)
    # Not grown: the same head; grown: a later head, signed by the same key.
    assert transparency.sign_tree_head(session=db) == head
    assert transparency.latest_tree_head(session=db) == head
    fill(db, 2)
    assert transparency.latest_tree_head(session=db) == head  # not due yet
    newer = transparency.sign_tree_head(session=db)
    assert newer["tree_size"] == n + 2 and newer["timestamp"] > head["timestamp"]
    assert transparency.tree_head(session=db, tree_size=n) == head
    assert transparency.tree_head(session=db, tree_size=n + 1) is None
    forged = dict(newer, tree_size=n + 1)
    assert not transparency.verify_tree_head(session=db, head=forged)


def test_a_head_is_signed_when_due(db: Session, monkeypatch) -> None:
    fill(db, 1)
    first = transparency.latest_tree_head(session=db)  # no head yet: signs one
    assert first is not None and first["tree_size"] == transparency.tree_size(session=db)
    monkeypatch.setattr(log_heads, "HEAD_MAX_PENDING", 3)
    fill(db, 2)
    assert transparency.latest_tree_head(session=db) == first
    fill(db, 1)
    due = transparency.latest_tree_head(session=db)
    assert due is not None and due["tree_size"] == first["tree_size"] + 3
    monkeypatch.setattr(log_heads, "HEAD_MAX_AGE_SECONDS", 0)
    fill(db, 1)
    assert transparency.latest_tree_head(session=db)["tree_size"] == due["tree_size"] + 1


def test_concurrent_appends_have_no_gaps(scratch_database_url: str, settings) -> None:
    """Several workers appending and committing at once get 0..N-1 and one consistent tree."""
    engine = make_engine(settings, scratch_database_url)
    try:
        upgrade(engine)
        factory = make_sessionmaker(engine)
        workers, each = 6, 25
        errors: list[BaseException] = []
        got: list[int] = []
        lock = threading.Lock()

        def work(w: int) -> None:
            try:
                for i in range(each):
                    with transaction(factory) as session:
                        receipt = transparency.append(session=session, record=record(w * 1000 + i))
                    with lock:
                        got.append(receipt.index)
                    if i % 10 == 5:  # heads are signed while others append
                        with transaction(factory) as session:
                            transparency.sign_tree_head(session=session)
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=work, args=(w,)) for w in range(workers)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, errors
        total = workers * each
        assert sorted(got) == list(range(total))
        with transaction(factory) as session:
            head = transparency.sign_tree_head(session=session)
            leaves = all_leaves(session)
            assert len(leaves) == total and head["tree_size"] == total
            assert base64.b64decode(head["sha256_root_hash"]) == merkle.root(leaves)
            proof = transparency.inclusion_proof(session=session, index=77, tree_size=total)
            assert merkle.verify_inclusion(
                leaf=leaves[77],
                index=77,
                tree_size=total,
                path=[bytes.fromhex(h) for h in proof["audit_path"]],
                root_hash=merkle.root(leaves),
            )
    finally:
        engine.dispose()


def test_a_rolled_back_append_leaves_no_gap(db: Session) -> None:
    fill(db, 2)
    before = transparency.tree_size(session=db)
    nested = db.begin_nested()
    transparency.append(session=db, record=record(99))
    nested.rollback()
    assert transparency.append(session=db, record=record(100)).index == before
    db.execute(update(LogEntry).where(LogEntry.idx == -5).values(purpose="x"))  # no-op


# --- audit ----------------------------------------------------------------------------------------


def _audited(db: Session) -> list[tuple[str, int | None, int | None]]:
    report = transparency.audit(session=db)
    return [(p.kind, p.index, p.tree_size) for p in report.problems]


def test_audit_of_a_sound_log(db: Session) -> None:
    fill(db, 11)
    transparency.sign_tree_head(session=db)
    fill(db, 6)
    transparency.sign_tree_head(session=db)
    fill(db, 3)
    report = transparency.audit(session=db)
    assert report.ok, report.problems
    assert report.entries == transparency.tree_size(session=db)
    assert report.heads >= 2 and report.subtree_hashes > 0


def test_audit_reports_an_edited_entry_by_index(db: Session) -> None:
    start = transparency.tree_size(session=db)
    fill(db, 12)
    transparency.sign_tree_head(session=db)
    target = start + 5
    row = db.get(LogEntry, target)
    assert row is not None
    edited = row.entry.replace(b'"purpose":"bansos"', b'"purpose":"sensus"')
    assert edited != row.entry
    db.execute(update(LogEntry).where(LogEntry.idx == target).values(entry=edited))
    problems = _audited(db)
    assert ("entry-altered", target, None) in problems
    assert any(kind == "columns-altered" and index == target for kind, index, _ in problems)
    assert any(kind == "head-root-mismatch" for kind, _, _ in problems)


def test_audit_finds_an_entry_rewritten_with_a_matching_leaf_hash(db: Session) -> None:
    start = transparency.tree_size(session=db)
    fill(db, 16)
    head = transparency.sign_tree_head(session=db)
    target = start + 9
    row = db.get(LogEntry, target)
    assert row is not None
    edited = row.entry.replace(b'"status":200', b'"status":403')
    db.execute(
        update(LogEntry)
        .where(LogEntry.idx == target)
        .values(entry=edited, leaf_hash=merkle.leaf_hash(edited))
    )
    problems = _audited(db)
    assert ("head-root-mismatch", None, head["tree_size"]) in problems
    # The stored subtree hashes pin it down to the pair holding the entry.
    assert any(
        kind == "subtree-mismatch" and index == target - target % 2 for kind, index, _ in problems
    )


def test_audit_reports_a_deleted_entry_and_a_forged_head(db: Session) -> None:
    from satu.exchange.models import TreeHead

    start = transparency.tree_size(session=db)
    fill(db, 6)
    head = transparency.sign_tree_head(session=db)
    db.execute(
        update(TreeHead).where(TreeHead.tree_size == head["tree_size"]).values(root_hash=bytes(32))
    )
    problems = _audited(db)
    assert ("head-signature-invalid", None, head["tree_size"]) in problems
    assert ("head-root-mismatch", None, head["tree_size"]) in problems
    db.query(LogEntry).filter(LogEntry.idx == start + 2).delete()
    assert ("gap", start + 2, None) in _audited(db)
