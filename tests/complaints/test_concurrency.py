"""Concurrent "me too"s and duplicates on one report: every one is counted (no lost update).

The sessions commit for real (separate connections, as separate workers would), so the test
cleans up after itself.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, sessionmaker

from satu.complaints import service, workflow
from satu.complaints.models import Event, Report, Support
from satu.complaints.schemas import Officer, Reporter
from satu.core.db import make_sessionmaker
from satu.core.notify import OutboxMessage

from .conftest import report_in

THREADS = 8
EMAIL = "serentak@example.id"


@pytest.fixture
def committed(engine: Engine, reference_data: None) -> Iterator[sessionmaker[Session]]:
    """Sessions on their own connections, committing; the reports they made are removed after."""
    factory = make_sessionmaker(engine)
    before = _max_id(factory)
    yield factory
    with factory() as session:
        ids = select(Report.id).where(Report.id > before)
        session.execute(delete(Support).where(Support.report_id.in_(ids)))
        session.execute(delete(Event).where(Event.report_id.in_(ids)))
        session.execute(
            Report.__table__.update().where(Report.id > before).values(duplicate_of_id=None)
        )
        session.execute(delete(Report).where(Report.id > before))
        session.execute(delete(OutboxMessage).where(OutboxMessage.recipient == EMAIL))
        session.commit()


def _max_id(factory: sessionmaker[Session]) -> int:
    with factory() as session:
        return int(session.scalar(select(Report.id).order_by(Report.id.desc()).limit(1)) or 0)


def _file(factory: sessionmaker[Session], **overrides: object) -> tuple[int, str]:
    with factory() as session:
        filed = service.file_report(
            session=session,
            data=report_in(service_code="pkh", region_code=None, reporter_email=EMAIL, **overrides),
            reporter=Reporter(channel="api", ip="192.0.2.9"),
        )
        session.commit()
        return filed.id, filed.number


def _race(factory: sessionmaker[Session], work) -> list[BaseException]:  # type: ignore[no-untyped-def]
    """Run `work(session, i)` in THREADS threads that all read the report before any writes."""
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def run(i: int) -> None:
        try:
            with factory() as session:
                work(session, i, barrier)
                session.commit()
        except BaseException as exc:  # reported by the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return errors


def _supporters(factory: sessionmaker[Session], report_id: int) -> int:
    with factory() as session:
        return int(session.scalar(select(Report.supporters).where(Report.id == report_id)) or 0)


def test_concurrent_me_too_are_all_counted(committed: sessionmaker[Session]) -> None:
    report_id, number = _file(committed)

    def me_too(session: Session, i: int, barrier: threading.Barrier) -> None:
        # Every worker has the report loaded (as a request that read it would) before any
        # of them adds its "me too".
        session.scalars(select(Report).where(Report.number == number)).one()
        barrier.wait(timeout=30)
        service.support(session=session, number=number, supporter=f"supporter-{i}")

    assert _race(committed, me_too) == []
    assert _supporters(committed, report_id) == THREADS
    with committed() as session:
        count = session.scalars(select(Support.id).where(Support.report_id == report_id)).all()
    assert len(count) == THREADS


def test_concurrent_duplicates_and_merges_are_all_counted(
    committed: sessionmaker[Session],
) -> None:
    original_id, _ = _file(committed)
    copies = [_file(committed, title=f"Bantuan PKH tidak cair sejak bulan {i}")[0] for i in (1, 2)]
    verifier = Officer(account_id="v", agency_id="kemenpan-rb", verifier=True, national=True)
    baseline = _supporters(committed, original_id)

    def duplicate_or_merge(session: Session, i: int, barrier: threading.Barrier) -> None:
        session.get(Report, original_id)
        barrier.wait(timeout=30)
        if i < len(copies):
            workflow.merge(
                session=session,
                officer=verifier,
                report_id=copies[i],
                into_report_id=original_id,
            )
        else:
            service.file_report(
                session=session,
                data=report_in(service_code="pkh", region_code=None, reporter_email=EMAIL),
                reporter=Reporter(channel="api", ip=f"192.0.2.{i}"),
            )

    assert _race(committed, duplicate_or_merge) == []
    assert _supporters(committed, original_id) == baseline + THREADS
