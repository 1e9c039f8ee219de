"""The audit trail: who did what, when and from where."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.identity.models import AuditEvent
from satu.identity.schemas import AuditEventOut

MAX_LIMIT = 500


def client_ip(request: Request | None) -> str | None:
    """The caller's IP address (uvicorn has already applied trusted proxy headers)."""
    if request is None or request.client is None:
        return None
    return request.client.host[:45]


def record_audit(
    *,
    session: Session,
    actor: str,
    action: str,
    target: str | None = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Append one audit record (actor like `account:<id>`, `client:<id>`, `anonymous`)."""
    session.add(
        AuditEvent(
            actor=actor[:120],
            action=action[:64],
            target=target[:200] if target else None,
            ip=ip[:45] if ip else None,
            detail=detail,
        )
    )
    session.flush()


def list_audit(
    *,
    session: Session,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    limit: int = 100,
) -> list[AuditEventOut]:
    """The latest audit records matching every filter given, newest first."""
    query = select(AuditEvent)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if target is not None:
        query = query.where(AuditEvent.target == target)
    query = query.order_by(AuditEvent.id.desc()).limit(max(1, min(limit, MAX_LIMIT)))
    return [
        AuditEventOut(
            id=row.id,
            at=row.at,
            actor=row.actor,
            action=row.action,
            target=row.target,
            ip=row.ip,
            detail=row.detail,
        )
        for row in session.scalars(query)
    ]
