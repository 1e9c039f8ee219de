"""Publish/subscribe shapes, as the GovStack IM PubSub API (v2.0.0) names them.

The wire names (camelCase) are the spec's; `pushUrl` and `purpose` on a subscription are
Satu's additions (the spec leaves the push target to configuration and has no purpose; the
purpose normally comes in the `X-Road-Purpose` header, as on the gateway).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

EVENT_TYPE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$"


class MemberRef(BaseModel):
    """A subsystem as the PubSub spec writes it (`publisherId`, `subscriberId`)."""

    instanceId: str
    memberClass: str
    memberCode: str
    applicationCode: str


class EventTypeIn(BaseModel):
    """`EventType`: a type of event published in a room, with the JSON Schema of its events."""

    model_config = ConfigDict(extra="forbid")

    eventType: str = Field(pattern=EVENT_TYPE_PATTERN)
    schema_: dict[str, Any] = Field(alias="schema")
    description: str = Field("", max_length=2000)


class EventTypeOut(BaseModel):
    """An event type as answered."""

    model_config = ConfigDict(populate_by_name=True)

    eventType: str
    schema_: dict[str, Any] | None = Field(None, serialization_alias="schema")
    description: str = ""


class PublishEventIn(BaseModel):
    """`PublishEvent`: the event body; `eventType` must equal the path's."""

    model_config = ConfigDict(extra="forbid")

    eventType: str = Field(pattern=EVENT_TYPE_PATTERN)
    event: dict[str, Any]


class SubscriptionOptions(BaseModel):
    """`options`: how long an event stays deliverable (seconds) and whether order is kept."""

    model_config = ConfigDict(extra="forbid")

    TTL: int = Field(3600, ge=1, le=30 * 24 * 3600)
    FIFO: bool = False


class SubscriptionIn(BaseModel):
    """`SubscriptionItem` as sent by a subscriber (add or patch)."""

    model_config = ConfigDict(extra="forbid")

    id: str | None = None
    subscriberId: MemberRef | None = None
    eventType: str | None = Field(None, pattern=EVENT_TYPE_PATTERN)
    delivery: Literal["PUSH", "PULL"] = "PUSH"
    options: SubscriptionOptions = Field(default_factory=SubscriptionOptions)
    pushUrl: str | None = Field(None, max_length=500)
    # Satu's addition: the purpose, when not (or also) given in X-Road-Purpose. Checked with the
    # gateway's rule (lawful.check_purpose), so a malformed one is Client.MissingPurpose.
    purpose: str | None = None

    @field_validator("pushUrl")
    @classmethod
    def _url(cls, value: str | None) -> str | None:
        if value is None:
            return None
        from urllib.parse import urlsplit

        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("pushUrl must be an absolute http(s) URL")
        if parts.username or parts.password:
            raise ValueError("pushUrl must not carry credentials")
        if any(ord(ch) < 0x21 for ch in value):
            raise ValueError("pushUrl must not contain spaces or control characters")
        return value


class SubscriptionOut(BaseModel):
    """`SubscriptionItem` as answered."""

    id: str
    subscriberId: MemberRef
    eventType: str
    delivery: Literal["PUSH", "PULL"]
    options: SubscriptionOptions
    pushUrl: str | None = None
    purpose: str | None = None  # None: no purpose stated, so only consent lets personal events in
    active: bool = True


class EventItem(BaseModel):
    """`EventItem`: one event as pushed, pulled or looked up by its publisher."""

    id: str
    sequence: int | None = None
    publisherId: MemberRef
    eventType: str
    event: dict[str, Any]
    publishedAt: datetime | None = None


class EventStatus(EventItem):
    """A published event with how its deliveries stand (publisher's view)."""

    deliveries: dict[str, int] = Field(default_factory=dict)


class DeliveryInfo(BaseModel):
    """One delivery of an event to a subscription (dead-letter list, CLI, admin API)."""

    id: int
    event_id: str
    event_type: str
    publisher: str
    subscription_id: str
    subscriber: str
    purpose: str = ""  # the purpose the subscriber stated ('' when none)
    mode: str
    push_url: str | None = None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_error: str = ""
    delivered_at: datetime | None = None
