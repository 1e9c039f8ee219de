"""The data tracker: every exchange (and published event) that concerned a resident.

Log entries carry only a keyed hash of the data subject's NIK (`transparency.subject_key`), so a
resident's usage is found by that key. Each record says who received the data (the consumer
agency and its system), from whom (the provider), when, for what purpose, under which lawful basis
(the resident's consent, or a legal mandate with the law it cites) and where it sits in the
Merkle log, with an inclusion proof that `verify_inclusion` (written from RFC 9162 alone) checks
against the latest signed tree head.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.exchange.models import Delivery, Event, LogEntry, Mandate, Subscription, Subsystem
from satu.exchange.xroad import BadIdentifier, ClientId, split_service_path
from satu.satudata import service as satudata

MAX_LIMIT = 1000


class Party(BaseModel):
    """An agency and its system on one side of an exchange."""

    agency_id: str = ""
    agency_name: str = ""
    member_code: str = ""
    system: str = ""  # the X-Road subsystem id


class UsageRecord(BaseModel):
    """One use of a resident's data, as the tracker shows it."""

    index: int
    logged_at: datetime
    kind: str  # "exchange" | "event"
    action: str
    service_id: str
    service_code: str = ""
    sender: Party
    receivers: list[Party] = Field(default_factory=list)
    purpose: str = ""
    lawful_basis_kind: str = ""  # "consent" | "mandate" | ""
    lawful_basis_ref: str = ""
    legal_basis: str = ""
    outcome: str = ""
    transaction_id: str = ""
    user_id: str = ""


class UsagePage(BaseModel):
    """A page of usage records, newest first, with the total."""

    total: int
    offset: int
    limit: int
    records: list[UsageRecord]


def _subject_key(nik: str) -> str:
    from satu.exchange import transparency

    return transparency.subject_key(nik=nik)


class _Names:
    """Agency and subsystem look-ups, cached for one page."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.agencies: dict[str, str] = {}

    def agency_name(self, agency_id: str) -> str:
        if not agency_id:
            return ""
        if agency_id not in self.agencies:
            agency = satudata.find_agency(session=self.session, agency_id=agency_id)
            self.agencies[agency_id] = agency.name if agency else agency_id
        return self.agencies[agency_id]

    def agency_of(self, client: ClientId) -> str:
        row = self.session.scalars(
            select(Subsystem.agency_id).where(
                Subsystem.member_class == client.member_class,
                Subsystem.member_code == client.member_code,
            )
        ).first()
        return row or ""

    def party(self, xroad_id: str, agency_id: str = "") -> Party:
        try:
            client = ClientId.parse(xroad_id)
        except BadIdentifier:
            return Party(agency_id=agency_id, agency_name=self.agency_name(agency_id))
        agency_id = agency_id or self.agency_of(client)
        return Party(
            agency_id=agency_id,
            agency_name=self.agency_name(agency_id) or client.member_code,
            member_code=client.member_code,
            system=xroad_id,
        )


def _decode(entry: bytes) -> dict[str, Any]:
    try:
        data = json.loads(entry)
    except (ValueError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def _provider_of(service_id: str) -> tuple[str, str]:
    """(`INSTANCE/CLASS/CODE/SUB`, service code) of a service id; best effort."""
    try:
        service, _ = split_service_path("/" + service_id)
    except BadIdentifier:
        parts = service_id.rsplit("/", 1)
        return (parts[0], parts[1] if len(parts) == 2 else "")
    return str(service.provider), service.service_code


def _lawful(session: Session, basis: str) -> tuple[str, str, str]:
    kind, _, ref = basis.partition(":")
    if kind == "mandate" and ref.isdigit():
        mandate = session.get(Mandate, int(ref))
        return kind, ref, mandate.legal_basis if mandate else ""
    if kind in ("consent", "mandate"):
        return kind, ref, ""
    return "", "", ""


def _event_receivers(session: Session, names: _Names, log_index: int) -> list[Party]:
    rows = session.execute(
        select(Subsystem)
        .join(Subscription, Subscription.subscriber_subsystem_id == Subsystem.id)
        .join(Delivery, Delivery.subscription_id == Subscription.id)
        .join(Event, Event.id == Delivery.event_id)
        .where(
            Event.log_index == log_index, Delivery.status.in_(("delivered", "pending", "sending"))
        )
        .order_by(Subsystem.id)
    ).scalars()
    from satu.exchange.pubsub import subsystem_info

    return [names.party(subsystem_info(row).xroad_id, row.agency_id) for row in rows]


def _record(session: Session, names: _Names, row: LogEntry) -> UsageRecord:
    data = _decode(row.entry)
    provider_id, service_code = _provider_of(row.service_id)
    kind = row.kind or data.get("kind", "exchange")
    provider = names.party(provider_id, str(data.get("provider_agency_id") or ""))
    if kind == "event":
        receivers = _event_receivers(session, names, row.idx)
        action = str(data.get("operation") or f"event {service_code}")
    else:
        receivers = [names.party(row.client_id, str(data.get("client_agency_id") or ""))]
        operation = str(data.get("operation") or data.get("method") or "")
        action = f"{service_code}: {operation}" if operation else service_code
    basis_kind, basis_ref, legal = _lawful(session, str(data.get("lawful_basis") or ""))
    return UsageRecord(
        index=row.idx,
        logged_at=row.logged_at,
        kind=kind,
        action=action,
        service_id=row.service_id,
        service_code=service_code,
        sender=provider,
        receivers=receivers,
        purpose=row.purpose,
        lawful_basis_kind=basis_kind,
        lawful_basis_ref=basis_ref,
        legal_basis=legal,
        outcome=row.outcome,
        transaction_id=row.transaction_id,
        user_id=str(data.get("user_id") or ""),
    )


def find_usage(
    *,
    session: Session,
    nik: str,
    period_start: datetime | None = None,
    period_end: datetime | None = None,
    offset: int = 0,
    limit: int = 20,
    client_id: str | None = None,
) -> UsagePage:
    """Log records about the resident `nik`, newest first (`client_id`: only that party's)."""
    if limit < 1 or limit > MAX_LIMIT:
        raise ValueError(f"limit must be between 1 and {MAX_LIMIT}")
    if offset < 0:
        raise ValueError("offset must not be negative")
    if period_start and period_end and period_start > period_end:
        raise ValueError("periodStart is after periodEnd")
    where = [LogEntry.subject_key == _subject_key(nik)]
    if period_start is not None:
        where.append(LogEntry.logged_at >= period_start)
    if period_end is not None:
        where.append(LogEntry.logged_at <= period_end)
    if client_id is not None:
        where.append(
            (LogEntry.client_id == client_id) | (LogEntry.service_id.startswith(client_id + "/"))
        )
    total = session.scalar(select(func.count()).select_from(LogEntry).where(*where)) or 0
    rows = session.scalars(
        select(LogEntry)
        .where(*where)
        .order_by(LogEntry.logged_at.desc(), LogEntry.idx.desc())
        .offset(offset)
        .limit(limit)
    ).all()
    names = _Names(session)
    return UsagePage(
        total=int(total),
        offset=offset,
        limit=limit,
        records=[_record(session, names, row) for row in rows],
    )


def usage_record(*, session: Session, nik: str, index: int) -> UsageRecord | None:
    """One log record, only if it concerns the resident `nik`."""
    row = session.get(LogEntry, index)
    if row is None or row.subject_key != _subject_key(nik):
        return None
    return _record(session, _Names(session), row)


def oldest_usage(*, session: Session) -> datetime | None:
    """When the log's oldest record was written (None for an empty log)."""
    return session.scalar(select(func.min(LogEntry.logged_at)))


# --- inclusion proofs (RFC 9162 section 2.1.3.2) -------------------------------------------------


def _node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(
    *, leaf_hash: bytes, index: int, tree_size: int, audit_path: list[bytes], root_hash: bytes
) -> bool:
    """Whether `audit_path` proves leaf `index` of a tree of `tree_size` has root `root_hash`."""
    if index < 0 or index >= tree_size:
        return False
    fn, sn, r = index, tree_size - 1, leaf_hash
    for p in audit_path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = _node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = _node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def _bytes(value: Any) -> bytes:
    """A hash given as hex or base64 text (or bytes)."""
    if isinstance(value, bytes):
        return value
    text = str(value or "")
    try:
        return bytes.fromhex(text)
    except ValueError:
        pass
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        return b""


class ProofView(BaseModel):
    """An inclusion proof as the tracker shows and checks it."""

    index: int
    leaf_hash: str
    tree_size: int
    root_hash: str
    audit_path: list[str]
    verified: bool
    signed_tree_head: dict[str, Any] | None = None
    signed: bool = False  # the proof's root is the latest signed tree head's root


def proof_for(*, session: Session, nik: str, index: int) -> ProofView | None:
    """The inclusion proof of a record of `nik` against the latest signed tree head."""
    row = session.get(LogEntry, index)
    if row is None or row.subject_key != _subject_key(nik):
        return None
    from satu.exchange import transparency

    head = transparency.latest_tree_head(session=session)
    head_size = int(head.get("tree_size", 0)) if head else 0
    signed = head is not None and index < head_size
    proof = transparency.inclusion_proof(
        session=session, index=index, tree_size=head_size if signed else None
    )
    path = [_bytes(p) for p in proof.get("audit_path", [])]
    root = _bytes(proof.get("root_hash"))
    tree_size = int(proof.get("tree_size", 0))
    verified = verify_inclusion(
        leaf_hash=row.leaf_hash, index=index, tree_size=tree_size, audit_path=path, root_hash=root
    )
    head_root = b""
    if head:
        head_root = _bytes(head.get("root_hash") or head.get("sha256_root_hash"))
    return ProofView(
        index=index,
        leaf_hash=row.leaf_hash.hex(),
        tree_size=tree_size,
        root_hash=root.hex(),
        audit_path=[p.hex() for p in path],
        verified=verified,
        signed_tree_head=head,
        signed=signed and verified and head_root == root,
    )
