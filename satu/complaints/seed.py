"""Demo data: realistic reports across real regions and agencies, with their history replayed.

`seed_reports(session=..., n=100_000)` writes reports and events with bulk inserts, routed
the way `routing.route` would route them, with verification, follow-up, answers, ratings,
escalations and auto-closing spread over the last eighteen months, so that the statistics
and the classifier have substance.
"""

from __future__ import annotations

import json
import random
import secrets
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from satu.complaints import deadlines
from satu.complaints.calendar import JAKARTA, local_date
from satu.complaints.models import Category, Event, Report, Service
from satu.complaints.phrases import (
    ANSWERS,
    CLOSINGS,
    DETAILS,
    FIRST_NAMES,
    LAST_NAMES,
    OPENERS,
    PROBLEMS,
)
from satu.complaints.text import fingerprint
from satu.core.db import utcnow
from satu.satudata import service as satudata

POPULAR = {
    "ktp-el": 9, "pkh": 8, "bpnt": 6, "dtsen": 7, "jkn": 8, "jalan-kabupaten": 9,
    "puskesmas": 5, "spmb-sd-smp": 5, "akta-kelahiran": 4, "kartu-keluarga": 4,
    "makan-bergizi-gratis": 4, "air-minum": 4, "pbi-jk": 4, "sekolah-negeri": 3,
}  # fmt: skip
KINDS = (("complaint", 80), ("aspiration", 10), ("information", 7), ("whistleblowing", 3))
SMS = {" yang ": " yg ", " tidak ": " tdk ", " sudah ": " sdh ", " belum ": " blm ",
       " dengan ": " dgn ", " untuk ": " utk "}  # fmt: skip
BATCH = 5000
VAGUE_SHARE = 0.08
VAGUE_TITLES = ("Pelayanan sangat lambat", "Mohon bantuan", "Petugas tidak ramah", "Keluhan")
VAGUE_PROBLEMS = (
    "Pelayanan di kantor dekat {place} sangat lambat dan petugasnya tidak ramah.",
    "Sudah lama mengurus tetapi tidak selesai dan tidak ada kepastian dari petugas.",
    "Saya diminta bolak-balik membawa berkas yang sama tanpa penjelasan.",
)
HORIZON_DAYS = 540

Progress = Callable[[int, int], None]


class Places:
    """Districts of every regency, weighted by population, and who governs each regency."""

    def __init__(self, session: Session, rng: random.Random) -> None:
        self.rng = rng
        populations = satudata.regency_populations(session=session)
        by_regency: dict[str, list[tuple[str, str]]] = {}
        offset = 0
        while True:
            page = satudata.search_regions(session=session, level=3, limit=100, offset=offset)
            for region in page.items:
                by_regency.setdefault(region.code[:5], []).append((region.code, region.name))
            offset += 100
            if offset >= page.total or not page.items:
                break
        self.districts = by_regency
        regencies = [(code, male + female) for code, male, female in populations]
        regencies = [(c, p) for c, p in regencies if c in by_regency] or [
            (c, 1) for c in by_regency
        ]
        self.regencies = [code for code, _ in regencies]
        self.weights = [max(pop, 1) for _, pop in regencies]
        self.governments: dict[str, str] = {}
        self.units: dict[str, bool] = {}
        self.parents: dict[str, str | None] = {}
        self.session = session

    def pick(self) -> tuple[str, str]:
        """(district code, district name)."""
        regency = self.rng.choices(self.regencies, self.weights)[0]
        return self.rng.choice(self.districts[regency])

    def government(self, code: str) -> str:
        """The local government of a regency or province code."""
        if code not in self.governments:
            agency = satudata.agency_for_region(session=self.session, region_code=code)
            self.governments[code] = agency.id
        return self.governments[code]

    def parent(self, agency_id: str) -> str | None:
        """The agency directly above `agency_id` in the registry (cached)."""
        if agency_id not in self.parents:
            chain = satudata.agency_ancestors(session=self.session, agency_id=agency_id)
            self.parents[agency_id] = chain[-1].id if chain else None
        return self.parents[agency_id]

    def agency(self, service: Service, district: str) -> str:
        """Where `routing.route` sends this service at this place (rules aside)."""
        if service.level == "national":
            return service.agency_ref
        if service.level == "province":
            return self.government(district[:2])
        government = self.government(district[:5])
        if not service.agency_ref:
            return government
        unit = f"{government}.{service.agency_ref}"
        if unit not in self.units:
            self.units[unit] = (
                satudata.find_agency(session=self.session, agency_id=unit) is not None
            )
        return unit if self.units[unit] else government


def _text(rng: random.Random, service_code: str, place: str) -> tuple[str, str]:
    titles, problems = PROBLEMS[service_code]
    fill = {"place": place, "weeks": rng.randint(2, 12), "times": rng.randint(2, 6)}
    if rng.random() < VAGUE_SHARE:
        # Some people write only that "the service is bad": no service words at all. The
        # history keeps the service the verifier settled on, so the classifier meets them too.
        titles, problems = VAGUE_TITLES, VAGUE_PROBLEMS
    parts = [
        rng.choice(OPENERS),
        rng.choice(problems),
        rng.choice(problems) if rng.random() < 0.3 else "",
        rng.choice(DETAILS),
        rng.choice(CLOSINGS),
    ]
    body = " ".join(p.format(**fill) for p in parts if p)
    if rng.random() < 0.25:
        body = f" {body.lower()} "
        for long, short in SMS.items():
            body = body.replace(long, short)
        body = body.strip()
    title = rng.choice(titles)
    if rng.random() < 0.3:
        title = f"{title} di {place}"
    return title[:150], body[:5000]


@lru_cache(maxsize=4096)
def _verify_due(day: date) -> date:
    return deadlines.working_calendar().add_working_days(day, 3)


@lru_cache(maxsize=4096)
def _plus_working(day: date, days: int) -> date:
    return deadlines.working_calendar().add_working_days(day, days)


def _at(day: date, rng: random.Random) -> datetime:
    """A moment during office hours (Jakarta) on `day`, in UTC."""
    local = datetime(day.year, day.month, day.day, rng.randint(8, 15), rng.randint(0, 59),
                     tzinfo=JAKARTA)  # fmt: skip
    return local.astimezone(UTC)


def _next_id(session: Session, column) -> int:  # type: ignore[no-untyped-def]
    return int(session.scalar(select(func.coalesce(func.max(column), 0))) or 0) + 1


def seed_reports(
    *,
    session: Session,
    n: int,
    progress: Progress | None = None,
    seed: int | None = None,
    now: datetime | None = None,
) -> int:
    """Generate `n` reports with their history; returns how many were written."""
    if not 1 <= n <= 5_000_000:
        raise ValueError("n must be between 1 and 5,000,000")
    rng = random.Random(seed)
    now = now or utcnow()
    today = local_date(now)
    services = {s.code: s for s in session.scalars(select(Service).where(Service.active))}
    categories = {c.code for c in session.scalars(select(Category))}
    codes = [c for c in services if c in PROBLEMS and services[c].category_code in categories]
    weights = [POPULAR.get(c, 1) for c in codes]
    places = Places(session, rng)
    kinds, kind_weights = zip(*KINDS, strict=True)
    report_id = _next_id(session, Report.id)
    event_id = _next_id(session, Event.id)
    written = 0
    reports: list[dict] = []
    events: list[dict] = []

    postgres = session.get_bind().dialect.name == "postgresql"

    def flush() -> None:
        nonlocal reports, events
        if postgres:
            _copy(session, Report.__table__, reports)
            _copy(session, Event.__table__, events)
        else:
            if reports:
                session.execute(insert(Report.__table__), reports)
            if events:
                session.execute(insert(Event.__table__), events)
        reports, events = [], []

    def event(rid: int, at: datetime, kind: str, action: str, before: str | None,
              after: str, agency: str | None, public: bool = True, body: str = "",
              detail: dict | None = None) -> None:  # fmt: skip
        nonlocal event_id
        events.append({
            "id": event_id, "report_id": rid, "at": at, "actor_kind": kind, "actor_id": None,
            "action": action, "from_status": before, "to_status": after, "agency_id": agency,
            "public": public, "body": body, "detail": detail,
        })  # fmt: skip
        event_id += 1

    for _ in range(n):
        service = services[rng.choices(codes, weights)[0]]
        district, place = places.pick()
        agency = places.agency(service, district)
        kind = rng.choices(kinds, kind_weights)[0]
        anonymous = kind == "whistleblowing" or rng.random() < 0.15
        confidential = kind == "whistleblowing" or rng.random() < 0.05
        age = int(HORIZON_DAYS * rng.random() ** 1.6)
        created_day = today - timedelta(days=age)
        created = _at(created_day, rng)
        if created > now:
            created = now - timedelta(minutes=rng.randint(1, 600))
            created_day = local_date(created)
        title, body = _text(rng, service.code, place)
        name = None
        if rng.random() < 0.6:
            name = f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}"
        rid = report_id
        report_id += 1
        row = {
            "id": rid, "number": f"{created.year % 100:02d}{rid:08d}",
            "token": secrets.token_urlsafe(24), "kind": kind,
            "channel": rng.choices(("web", "api", "open311", "sms"), (70, 10, 10, 10))[0],
            "title": title, "body": body, "fingerprint": fingerprint(f"{title}\n{body}"),
            "service_code": service.code, "category_code": service.category_code,
            "case_ref": None, "region_code": district, "province_code": district[:2],
            "regency_code": district[:5], "latitude": None, "longitude": None,
            "address": None, "anonymous": anonymous, "confidential": confidential,
            "reporter_account_id": None, "reporter_name": name, "reporter_email": None,
            "reporter_phone": None, "api_client": None, "status": "unverified",
            "agency_id": agency, "escalation_level": 0, "escalated_to": None,
            "assignee_id": None, "suggested_category": None, "suggested_service": None,
            "suggestion_confidence": None, "routing_note": "seed", "duplicate_of_id": None,
            "supporters": int(rng.random() ** 4 * 30), "archive_reason": None,
            "rating": None, "reopened": False, "created_at": created, "updated_at": created,
            "verified_at": None, "followed_up_at": None, "answered_at": None,
            "closed_at": None, "verify_due": _verify_due(created_day), "followup_due": None,
            "settle_due": None, "autoclose_due": None, "on_time": None,
        }  # fmt: skip
        event(rid, created, "reporter", "filed", None, "unverified", agency)
        _replay(rng, row, today, now, event, places.parent)
        reports.append(row)
        written += 1
        if len(reports) >= BATCH:
            flush()
            if progress:
                progress(written, n)
    flush()
    if progress:
        progress(written, n)
    if session.get_bind().dialect.name == "postgresql":
        for table in ("complaints_report", "complaints_event"):
            session.execute(
                text(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                    f"(SELECT MAX(id) FROM {table}))"
                )
            )
    session.flush()
    return written


def _copy(session: Session, table, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    """Bulk-load rows with PostgreSQL's COPY (an order of magnitude faster than INSERT)."""
    if not rows:
        return
    columns = [column.name for column in table.columns]
    raw = session.connection().connection.driver_connection
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(statement) as copy:
        for row in rows:
            copy.write_row(
                [json.dumps(row[c]) if c == "detail" and row[c] is not None else row[c]
                 for c in columns]
            )  # fmt: skip


def _replay(rng: random.Random, row: dict, today: date, now: datetime, event, parent_of) -> None:  # type: ignore[no-untyped-def]
    """Walk a seeded report through the workflow as far as its age allows."""
    rid, agency = row["id"], row["agency_id"]
    created_day = local_date(row["created_at"])
    age = (today - created_day).days
    fate = rng.random()
    if age < 2 or fate < 0.02:
        return
    if fate < 0.06:
        at = _at(min(created_day + timedelta(days=2), today), rng)
        row.update(status="archived", archive_reason="Bukan laporan pelayanan publik",
                   closed_at=at, updated_at=at)  # fmt: skip
        event(rid, at, "verifier", "archive", "unverified", "archived", agency,
              body=row["archive_reason"])  # fmt: skip
        return
    if fate < 0.08:
        at = _at(min(created_day + timedelta(days=1), today), rng)
        row.update(status="postponed", updated_at=at)
        event(rid, at, "verifier", "postpone", "unverified", "postponed", agency,
              body="Mohon lengkapi lokasi dan waktu kejadian.")  # fmt: skip
        return
    verified_day = min(_plus_working(created_day, rng.choice((0, 1, 1, 2, 3, 4))), today)
    verified = _at(verified_day, rng)
    row.update(
        status="dispositioned", verified_at=verified, updated_at=verified,
        followup_due=_plus_working(verified_day, 5),
        settle_due=verified_day + timedelta(days=60),
    )  # fmt: skip
    event(rid, verified, "verifier", "verify", "unverified", "dispositioned", agency)
    slow = rng.random() < 0.2
    follow_day = _plus_working(verified_day, rng.randint(6, 15) if slow else rng.randint(1, 5))
    if follow_day >= today:
        return
    followed = _at(follow_day, rng)
    row.update(status="in_process", followed_up_at=followed, updated_at=followed)
    event(rid, followed, "agency", "follow_up", "dispositioned", "in_process", agency)
    days_to_answer = int(rng.expovariate(1 / (25 if slow else 9))) + 1
    answer_day = follow_day + timedelta(days=days_to_answer)
    if slow and answer_day > row["settle_due"] and rng.random() < 0.5:
        level_day = row["settle_due"] + timedelta(days=1)
        if level_day < today:
            target = parent_of(agency) or "ombudsman"
            row.update(escalation_level=1, escalated_to=target, on_time=False)
            event(rid, _at(level_day, rng), "system", "escalate", "in_process", "in_process",
                  agency, public=False, detail={"level": 1, "to": target})  # fmt: skip
    if answer_day >= today or rng.random() < 0.1:
        return
    answered = _at(answer_day, rng)
    on_time = row["escalation_level"] == 0 and answer_day <= row["settle_due"]
    row.update(status="done", answered_at=answered, updated_at=answered, on_time=on_time,
               autoclose_due=_plus_working(answer_day, 10))  # fmt: skip
    event(rid, answered, "agency", "answer", "in_process", "done", agency,
          body=rng.choice(ANSWERS))  # fmt: skip
    if rng.random() < 0.55:
        rated = answered + timedelta(days=rng.randint(0, 9), hours=rng.randint(1, 20))
        if local_date(rated) < today:
            rating = rng.choices((1, 2, 3, 4, 5), (6, 8, 18, 38, 30))[0]
            row.update(rating=rating, closed_at=rated, updated_at=rated)
            event(rid, rated, "reporter", "rate", "done", "done", agency,
                  detail={"rating": rating})  # fmt: skip
            return
    if row["autoclose_due"] < today:
        closed = _at(row["autoclose_due"] + timedelta(days=1), rng)
        if closed < now:
            row.update(closed_at=closed, updated_at=closed)
            event(rid, closed, "system", "auto_close", "done", "done", agency)
