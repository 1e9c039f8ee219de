"""Notifications to people (SMS, e-mail) through a pluggable sender.

Domains call `send_message(session=..., channel="sms", to="+62...", subject=..., body=...)`.
The default sender writes to the `core_outbox` table inside the caller's transaction, so a
rolled-back request sends nothing; a delivery worker (or, in the demo and in tests, a person
reading the outbox) takes it from there. A deployment swaps in its gateway with `set_sender`.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal, Protocol

from sqlalchemy import BigInteger, Integer, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from satu.core.db import Base, UTCDateTime, utcnow

Channel = Literal["sms", "email"]


class OutboxMessage(Base):
    """A message waiting to be delivered (or, in demo and test, to be read)."""

    __tablename__ = "core_outbox"

    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    channel: Mapped[str] = mapped_column(String(8))
    recipient: Mapped[str] = mapped_column(String(254), index=True)
    subject: Mapped[str] = mapped_column(String(200))
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class Sender(Protocol):
    """Something that delivers a message to a person."""

    def send(self, *, session: Session, channel: Channel, to: str, subject: str, body: str) -> None:
        """Deliver (or queue) one message."""


class OutboxSender:
    """Queue messages in `core_outbox`, in the caller's transaction."""

    def send(self, *, session: Session, channel: Channel, to: str, subject: str, body: str) -> None:
        """Store the message in the outbox."""
        session.add(OutboxMessage(channel=channel, recipient=to, subject=subject[:200], body=body))
        session.flush()


_sender: Sender = OutboxSender()


def set_sender(sender: Sender) -> Sender:
    """Use `sender` from now on; returns the previous one."""
    global _sender
    previous, _sender = _sender, sender
    return previous


def send_message(*, session: Session, channel: Channel, to: str, subject: str, body: str) -> None:
    """Send a message through the configured sender."""
    if channel not in ("sms", "email"):
        raise ValueError(f"unknown channel {channel!r}")
    _sender.send(session=session, channel=channel, to=to, subject=subject, body=body)


def outbox_for(*, session: Session, recipient: str, limit: int = 20) -> list[OutboxMessage]:
    """The latest outbox messages to `recipient`, newest first (demo and tests)."""
    return list(
        session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.recipient == recipient)
            .order_by(OutboxMessage.id.desc())
            .limit(limit)
        )
    )
