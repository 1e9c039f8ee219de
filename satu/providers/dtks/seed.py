"""Demo content for the DTKS register: households from a sample of the population's family
cards, with plausible deciles and the enrolments those deciles allow (deterministic)."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from satu.core.db import utcnow
from satu.providers.dtks import registry
from satu.providers.dtks.tables import PROGRAMMES, Household, Member

# Deciles 1-10 weighted towards the poorer half: DTKS registers the households that applied
# or were proposed for assistance, not the whole population.
DECILE_WEIGHTS = (14, 14, 13, 12, 11, 10, 9, 7, 6, 4)


def _enrolments(rng: random.Random, decile: int, members: list[dict[str, Any]]) -> list[dict]:
    today = utcnow().date()
    started = today - timedelta(days=rng.randint(60, 1500))
    found: list[dict[str, Any]] = []
    for code in ("PKH", "BPNT"):
        if decile <= PROGRAMMES[code][2] and rng.random() < 0.8:
            found.append({"programme": code, "startDate": started.isoformat()})
    for member in members:
        if decile <= PROGRAMMES["PBI-JK"][2]:
            found.append(
                {
                    "programme": "PBI-JK",
                    "beneficiaryNik": member["nik"],
                    "startDate": started.isoformat(),
                }
            )
        age = registry.age_from_nik(member["nik"], on=started)
        if decile <= PROGRAMMES["PIP"][2] and age is not None and 6 <= age <= 21:
            found.append(
                {
                    "programme": "PIP",
                    "beneficiaryNik": member["nik"],
                    "startDate": started.isoformat(),
                }
            )
    return found


def seed_households(
    *, session: Session, families: list[dict[str, Any]], seed: int = 2026
) -> dict[str, int]:
    """Register these families as DTKS households (skipping any already there); idempotent."""
    rng = random.Random(seed)
    added = skipped = 0
    for family in families:
        decile = rng.choices(range(1, 11), weights=DECILE_WEIGHTS)[0]
        enrolments = _enrolments(rng, decile, family["members"])
        known = session.scalar(
            select(Household.id).where(Household.kk_number == family["kkNumber"])
        )
        niks = [m["nik"] for m in family["members"]]
        if known or session.scalar(select(Member.id).where(Member.nik.in_(niks)).limit(1)):
            skipped += 1
            continue
        heads = [m for m in family["members"] if m["relation"] == "head"]
        if len(heads) != 1:
            skipped += 1
            continue
        data = registry.HouseholdIn.model_validate(
            {**family, "welfareDecile": decile, "enrolments": enrolments}
        )
        registry.create(session=session, data=data)
        added += 1
    return {"households added": added, "skipped": skipped}
