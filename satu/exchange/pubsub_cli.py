"""`satu exchange events ...`: event types, subscription rights, delivery worker, dead letters."""

from __future__ import annotations

import json
import signal
import threading
from pathlib import Path

import typer
from rich.console import Console
from rich.table import Table

from satu.core.config import get_settings
from satu.core.db import make_engine, make_sessionmaker, transaction
from satu.exchange import delivery, pubsub
from satu.exchange.pubsub_schemas import EventTypeIn
from satu.exchange.schemas import SubsystemInfo
from satu.exchange.xroad import BadIdentifier, ClientId, XRoadError

commands = typer.Typer()
events = typer.Typer(help="Publish/subscribe: event types, rights, delivery.", no_args_is_help=True)
commands.add_typer(events, name="events")
console = Console()


def _factory():  # type: ignore[no-untyped-def]
    return make_sessionmaker(make_engine(get_settings()))


def _subsystem(session, text: str) -> SubsystemInfo:  # type: ignore[no-untyped-def]
    try:
        client = ClientId.parse(text)
    except BadIdentifier as exc:
        raise typer.BadParameter(str(exc)) from None
    info = pubsub.find_room(
        session=session,
        instance=client.instance,
        member_class=client.member_class,
        member_code=client.member_code,
        subsystem_code=client.subsystem_code,
    )
    if info is None:
        raise typer.BadParameter(f"no enabled subsystem {text}")
    return info


def _fail(exc: XRoadError) -> None:
    console.print(f"[red]{exc.type}[/red]: {exc.message}")
    raise typer.Exit(1)


@events.command("add-type")
def add_type(
    publisher: str = typer.Argument(..., help="Publisher subsystem INSTANCE/CLASS/CODE/SUB"),
    event_type: str = typer.Argument(..., help="Event type name, e.g. birth-registered"),
    schema: Path = typer.Option(..., help="JSON Schema file of the events"),
    description: str = typer.Option("", help="What the event means"),
) -> None:
    """Register an event type in a publisher's room."""
    try:
        body = json.loads(schema.read_text(encoding="utf-8"))
        data = EventTypeIn.model_validate(
            {"eventType": event_type, "schema": body, "description": description}
        )
    except (OSError, ValueError) as exc:
        raise typer.BadParameter(f"bad event type or schema: {exc}") from None
    try:
        with transaction(_factory()) as session:
            pubsub.create_event_type(
                session=session, publisher=_subsystem(session, publisher), data=data
            )
    except XRoadError as exc:
        _fail(exc)
    console.print(f"event type {event_type} registered")


@events.command("grant")
def grant(
    publisher: str = typer.Argument(..., help="Publisher subsystem INSTANCE/CLASS/CODE/SUB"),
    event_type: str = typer.Argument(...),
    subscriber: str = typer.Argument(..., help="Subscriber subsystem INSTANCE/CLASS/CODE/SUB"),
) -> None:
    """Let a subscriber subsystem subscribe to an event type."""
    try:
        with transaction(_factory()) as session:
            created = pubsub.grant_subscription_right(
                session=session,
                publisher=_subsystem(session, publisher),
                event_type=event_type,
                subscriber=_subsystem(session, subscriber),
                granted_by="cli",
            )
    except XRoadError as exc:
        _fail(exc)
    console.print("right granted" if created else "right already held")


@events.command("revoke")
def revoke(
    publisher: str = typer.Argument(...),
    event_type: str = typer.Argument(...),
    subscriber: str = typer.Argument(...),
) -> None:
    """Withdraw a subscription right (the subscription stops)."""
    with transaction(_factory()) as session:
        done = pubsub.revoke_subscription_right(
            session=session,
            publisher=_subsystem(session, publisher),
            event_type=event_type,
            subscriber=_subsystem(session, subscriber),
        )
    console.print("right revoked" if done else "there was no such right")


@events.command("deliver")
def deliver(
    once: bool = typer.Option(False, help="One pass over due deliveries, then exit"),
    batch: int = typer.Option(20, min=1, max=500, help="Deliveries claimed per pass"),
    max_attempts: int = typer.Option(delivery.DEFAULT_MAX_ATTEMPTS, min=1, max=100),
    backoff: float = typer.Option(delivery.BACKOFF_BASE_SECONDS, min=0.0, help="Base backoff (s)"),
    poll: float = typer.Option(1.0, min=0.05, help="Seconds to wait when nothing is due"),
) -> None:
    """Run the push delivery worker (run several: claims never overlap)."""
    factory = _factory()
    if once:
        report = delivery.deliver_once(
            factory=factory, limit=batch, max_attempts=max_attempts, backoff_base=backoff
        )
    else:
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        signal.signal(signal.SIGINT, lambda *_: stop.set())
        report = delivery.run_worker(
            factory=factory,
            stop=stop,
            poll_seconds=poll,
            limit=batch,
            max_attempts=max_attempts,
            backoff_base=backoff,
        )
    console.print(
        f"claimed {report.claimed}, delivered {report.delivered}, "
        f"retrying {report.retried}, dead {report.dead}"
    )


@events.command("dead")
def dead(limit: int = typer.Option(100, min=1, max=1000)) -> None:
    """List dead-lettered deliveries."""
    with transaction(_factory()) as session:
        rows = delivery.list_deliveries(session=session, status="dead", limit=limit)
    table = Table("id", "event type", "subscriber", "purpose", "attempts", "last error")
    for row in rows:
        table.add_row(
            str(row.id),
            row.event_type,
            row.subscriber,
            row.purpose or "-",
            str(row.attempts),
            row.last_error,
        )
    console.print(table)
    console.print(f"{len(rows)} dead deliveries")


@events.command("requeue")
def requeue_cmd(
    ids: list[int] = typer.Argument(None, help="Delivery ids (none: use --all)"),
    all_dead: bool = typer.Option(False, "--all", help="Re-queue every dead delivery"),
) -> None:
    """Put dead deliveries back in the queue with a fresh attempt count."""
    if not ids and not all_dead:
        raise typer.BadParameter("give delivery ids or --all")
    with transaction(_factory()) as session:
        count = delivery.requeue(session=session, delivery_ids=None if all_dead else list(ids))
    console.print(f"{count} deliveries re-queued")


@events.command("status")
def status() -> None:
    """How many deliveries are in each state."""
    with transaction(_factory()) as session:
        counts = delivery.queue_counts(session=session)
    for name in pubsub.STATUSES:
        console.print(f"{name}: {counts.get(name, 0)}")
