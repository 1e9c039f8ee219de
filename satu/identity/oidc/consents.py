"""A resident's standing consents: listing them and withdrawing one (which revokes tokens)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.identity import service as identity
from satu.identity.oidc import revocation
from satu.identity.oidc.models import Client, Consent
from satu.identity.oidc.schemas import ConsentOut
from satu.identity.schemas import ConsentInfo
from satu.satudata import service as satudata


def _agency_name(session: Session, agency_id: str) -> str:
    agency = satudata.find_agency(session=session, agency_id=agency_id)
    return agency.name if agency is not None else agency_id


def list_consents(*, session: Session, account_id: str) -> list[ConsentOut]:
    """The resident's standing consents, newest first."""
    rows = session.scalars(
        select(Consent)
        .where(Consent.account_id == account_id, Consent.withdrawn_at.is_(None))
        .order_by(Consent.granted_at.desc())
    )
    result = []
    for row in rows:
        client = session.get(Client, row.client_id)
        if client is None:
            continue
        result.append(
            ConsentOut(
                client_id=client.client_id,
                client_name=client.name,
                agency_id=client.agency_id,
                agency_name=_agency_name(session, client.agency_id),
                scopes=list(row.scopes),
                granted_at=row.granted_at,
            )
        )
    return result


def withdraw(*, session: Session, account_id: str, client_id: str) -> bool:
    """Withdraw a standing consent and revoke the client's tokens for this resident."""
    rows = list(
        session.scalars(
            select(Consent).where(
                Consent.account_id == account_id,
                Consent.client_id == client_id,
                Consent.withdrawn_at.is_(None),
            )
        )
    )
    if not rows:
        return False
    now = utcnow()
    for row in rows:
        row.withdrawn_at = now
    revocation.revoke_client_grants(
        session=session, account_id=account_id, client_id=client_id, reason="consent-withdrawn"
    )
    session.flush()
    return True


def consent_for_agency(*, session: Session, nik: str, agency_id: str) -> ConsentInfo | None:
    """The newest standing consent of the resident (by NIK) to an active client of the agency."""
    account = identity.account_for_nik(session=session, nik=nik)
    if account is None:
        return None
    row = session.scalars(
        select(Consent)
        .join(Client, Client.client_id == Consent.client_id)
        .where(
            Consent.account_id == account.id,
            Client.agency_id == agency_id,
            Client.status == "active",
            Consent.withdrawn_at.is_(None),
        )
        .order_by(Consent.granted_at.desc(), Consent.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return None
    return ConsentInfo(
        consent_id=str(row.id),
        client_id=row.client_id,
        scopes=list(row.scopes),
        granted_at=row.granted_at,
    )
