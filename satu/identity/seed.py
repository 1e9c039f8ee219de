"""A realistic synthetic population for demos and load tests, fast enough for millions of rows.

Households are placed in regencies in proportion to `population.csv`, then in a random
village of that regency. Every NIK starts with the household's real district code, encodes
the birth date (day + 40 for women) and takes the next free serial, so it always agrees with
the resident's data. Names follow broad regional habits (Batak clan names in North Sumatra,
Balinese birth-order names in Bali). Rows go in with PostgreSQL COPY, or batched executemany
on SQLite.
"""

from __future__ import annotations

import csv
import random
import time
from collections import defaultdict
from collections.abc import Callable
from datetime import date, timedelta
from itertools import accumulate
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.core.config import get_settings
from satu.core.db import utcnow
from satu.identity.models import Resident
from satu.identity.schemas import SeedResult
from satu.satudata import service as satudata

MALE = [
    "Agus",
    "Ahmad",
    "Andi",
    "Arief",
    "Bambang",
    "Budi",
    "Dedi",
    "Dimas",
    "Eko",
    "Fajar",
    "Farhan",
    "Hendra",
    "Irfan",
    "Joko",
    "Kurniawan",
    "Muhammad",
    "Nugroho",
    "Rizky",
    "Rudi",
    "Slamet",
    "Teguh",
    "Wahyu",
    "Yusuf",
    "Bayu",
    "Dani",
    "Gilang",
    "Hadi",
    "Ilham",
    "Reza",
    "Rian",
    "Surya",
    "Taufik",
    "Yogi",
    "Aditya",
    "Arif",
    "Dwi",
    "Heru",
    "Imam",
    "Rahmat",
    "Sigit",
    "Wawan",
    "Hasan",
    "Ridwan",
    "Fikri",
    "Daffa",
]
FEMALE = [
    "Siti",
    "Sri",
    "Dewi",
    "Nur",
    "Putri",
    "Ayu",
    "Rina",
    "Wulan",
    "Indah",
    "Ratna",
    "Fitri",
    "Lestari",
    "Nurul",
    "Yuni",
    "Dian",
    "Maya",
    "Intan",
    "Rahma",
    "Anisa",
    "Kartika",
    "Mega",
    "Novi",
    "Rini",
    "Tuti",
    "Wati",
    "Aisyah",
    "Zahra",
    "Nabila",
    "Salsabila",
    "Citra",
    "Eka",
    "Fajar",
    "Handayani",
    "Kurnia",
    "Melati",
    "Nadia",
    "Puspita",
    "Rosa",
    "Sari",
    "Suci",
    "Tri",
    "Utami",
    "Vina",
    "Yanti",
    "Zaskia",
    "Aulia",
]
SECOND_MALE = [
    "Santoso",
    "Wijaya",
    "Saputra",
    "Pratama",
    "Hidayat",
    "Setiawan",
    "Gunawan",
    "Kusuma",
    "Nugraha",
    "Permana",
    "Ramadhan",
    "Firmansyah",
    "Hakim",
    "Siregar",
    "Maulana",
    "Putra",
    "Prasetyo",
    "Susanto",
    "Wibowo",
    "Hermawan",
    "Syahputra",
    "Kurniawan",
]
SECOND_FEMALE = [
    "Lestari",
    "Rahayu",
    "Wulandari",
    "Handayani",
    "Anggraini",
    "Puspitasari",
    "Safitri",
    "Maharani",
    "Permatasari",
    "Kusumawati",
    "Novitasari",
    "Rahmawati",
    "Pertiwi",
    "Utami",
    "Purnamasari",
    "Oktaviani",
    "Ramadhani",
    "Aprilia",
]
BATAK = [
    "Siregar",
    "Nasution",
    "Lubis",
    "Harahap",
    "Simatupang",
    "Sitompul",
    "Hutapea",
    "Sinaga",
    "Tambunan",
    "Pardede",
]
BALI_ORDER = ("Wayan", "Made", "Nyoman", "Ketut", "Putu", "Kadek", "Komang")
BALI_GIVEN = [
    "Agung",
    "Bagus",
    "Dewi",
    "Sari",
    "Ayu",
    "Suarta",
    "Wirawan",
    "Astawa",
    "Arsana",
    "Sudarma",
    "Ariani",
    "Yasa",
]
STREETS = [
    "Merdeka",
    "Sudirman",
    "Diponegoro",
    "Gajah",
    "Mada",
    "Ahmad",
    "Yani",
    "Pahlawan",
    "Kartini",
    "Veteran",
    "Cendana",
    "Melati",
    "Mawar",
    "Kenanga",
    "Flamboyan",
    "Pemuda",
    "Sisingamangaraja",
    "Hasanuddin",
    "Imam",
    "Bonjol",
    "Pattimura",
    "Raya",
]
_COLUMNS = (
    "nik",
    "full_name",
    "birth_place",
    "birth_date",
    "sex",
    "address_line",
    "rt",
    "rw",
    "village_code",
    "kk_number",
    "family_relation",
    "father_nik",
    "mother_nik",
    "phone",
    "email",
    "status",
    "died_on",
    "created_at",
    "updated_at",
)

_SQLITE_INSERT = "INSERT INTO identity_resident ({}) VALUES ({})".format(  # noqa: S608
    ", ".join(_COLUMNS), ", ".join("?" for _ in _COLUMNS)
)


def _read_places(
    wilayah_csv: Path, known: frozenset[str]
) -> tuple[dict[str, list[str]], dict[str, str]]:
    """Villages per regency (only in known districts) and regency short names."""
    villages: dict[str, list[str]] = defaultdict(list)
    names: dict[str, str] = {}
    with wilayah_csv.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            code = row["code"]
            if len(code) == 13 and code[:8] in known:
                villages[code[:5]].append(code)
            elif len(code) == 5:
                name = row["name"]
                for prefix in ("Kabupaten ", "Kota Administrasi ", "Kota "):
                    if name.startswith(prefix):
                        name = name[len(prefix) :]
                        break
                names[code] = name
    return villages, names


def _existing_serials(session: Session, column: Any) -> dict[str, int]:
    """Highest serial already used per 12-digit prefix of a NIK-like column."""
    prefix = func.substr(column, 1, 12)
    rows = session.execute(
        select(prefix, func.max(func.substr(column, 13, 4))).group_by(prefix)
    ).all()
    return {p: int(s) for p, s in rows}


class _Population:
    """Stateful generator of households."""

    def __init__(self, rng: random.Random, session: Session, today: date) -> None:
        self.rng = rng
        self.today = today
        self.nik_serial = _existing_serials(session, Resident.nik)
        self.kk_serial = _existing_serials(session, Resident.kk_number)
        self.now = utcnow()
        self.places: list[str] = []

    def _nik(self, district: str, born: date, sex: str) -> str:
        day = born.day + 40 if sex == "F" else born.day
        prefix = f"{district}{day:02d}{born.month:02d}{born.year % 100:02d}"
        serial = self.nik_serial.get(prefix, 0) + 1
        if serial > 9999:
            raise RuntimeError(f"no free NIK serial left for {prefix}")
        self.nik_serial[prefix] = serial
        return f"{prefix}{serial:04d}"

    def _kk(self, district: str) -> str:
        issued = self.today - timedelta(days=self.rng.randrange(30, 5500))
        prefix = f"{district}{issued.day:02d}{issued.month:02d}{issued.year % 100:02d}"
        serial = self.kk_serial.get(prefix, 0) + 1
        self.kk_serial[prefix] = serial
        return f"{prefix}{serial:04d}"

    def _born(self, min_age: int, max_age: int) -> date:
        days = self.rng.randrange(min_age * 365 + 1, max_age * 365 + 300)
        return self.today - timedelta(days=days)

    def _name(self, sex: str, province: str, order: int, clan: str | None) -> str:
        rng = self.rng
        if province == "51":
            title = "I" if sex == "M" else "Ni"
            return f"{title} {BALI_ORDER[order % 4]} {rng.choice(BALI_GIVEN)}"
        first = rng.choice(MALE if sex == "M" else FEMALE)
        if clan is not None:
            return f"{first} {rng.choice(MALE + FEMALE if sex == 'F' else MALE)} {clan}"
        if rng.random() < 0.25:
            return first
        return f"{first} {rng.choice(SECOND_MALE if sex == 'M' else SECOND_FEMALE)}"

    def household(self, village: str, birth_place: str) -> list[tuple[Any, ...]]:
        """One family card's residents, head first."""
        rng = self.rng
        district = village[:8].replace(".", "")
        province = village[:2]
        clan = rng.choice(BATAK) if province == "12" else None
        kk = self._kk(district)
        street = f"Jl. {rng.choice(STREETS)} No. {rng.randrange(1, 250)}"
        rt, rw = f"{rng.randrange(1, 20):03d}", f"{rng.randrange(1, 12):03d}"
        members: list[tuple[Any, ...]] = []
        head_sex = "M" if rng.random() < 0.85 else "F"
        head_born = self._born(22, 75)
        head_age = (self.today - head_born).days // 365

        def person(
            sex: str, born: date, relation: str, order: int, father: Any, mother: Any
        ) -> str:
            nik = self._nik(district, born, sex)
            deceased = rng.random() < 0.004 and relation != "child"
            phone = (
                f"+628{rng.randrange(11, 99)}{rng.randrange(10**7, 10**8)}"
                if (self.today - born).days > 17 * 365 and rng.random() < 0.9
                else None
            )
            email = (
                f"{nik[-6:]}.{rng.randrange(100, 999)}@contoh.id"
                if phone and rng.random() < 0.3
                else None
            )
            members.append(
                (
                    nik,
                    self._name(
                        sex, province, order, clan if sex == "M" or relation == "child" else None
                    ),
                    birth_place if rng.random() < 0.8 else rng.choice(self.places),
                    born,
                    sex,
                    street,
                    rt,
                    rw,
                    village,
                    kk,
                    relation,
                    father,
                    mother,
                    phone,
                    email,
                    "deceased" if deceased else "alive",
                    self.today - timedelta(days=rng.randrange(1, 900)) if deceased else None,
                    self.now,
                    self.now,
                )
            )
            return nik

        head = person(head_sex, head_born, "head", 0, None, None)
        father = head if head_sex == "M" else None
        mother = head if head_sex == "F" else None
        if head_sex == "M" and rng.random() < 0.75:
            spouse_born = self._born(max(18, head_age - 10), max(19, min(head_age + 3, 80)))
            mother = person("F", spouse_born, "spouse", 1, None, None)
        if head_age >= 21:
            youngest_parent = min(head_age, 50)
            for order in range(rng.choice((0, 1, 1, 2, 2, 2, 3, 3, 4, 5))):
                sex = "M" if rng.random() < 0.51 else "F"
                born = self._born(0, max(1, youngest_parent - 19))
                person(sex, born, "child", order, father, mother)
        return members


def seed_residents(
    *,
    session: Session,
    count: int,
    seed: int | None = None,
    batch_size: int = 20_000,
    progress: Callable[[int], None] | None = None,
    wilayah_dir: Path | None = None,
) -> SeedResult:
    """Add about `count` synthetic residents (whole households; never fewer than `count`)."""
    if count < 1:
        raise ValueError("count must be at least 1")
    started = time.perf_counter()
    rng = random.Random(seed)
    known = frozenset(satudata.known_district_codes(session=session))
    directory = wilayah_dir or get_settings().wilayah_dir
    villages, names = _read_places(directory / "wilayah.csv", known)
    weights = [
        (code, male + female)
        for code, male, female in satudata.regency_populations(session=session)
        if villages.get(code)
    ]
    if not weights:
        raise ValueError("no regions loaded: run `satu data load` first")
    regencies = [code for code, _ in weights]
    cumulative = list(accumulate(w for _, w in weights))
    gen = _Population(rng, session, utcnow().date())
    gen.places = [names.get(code, code) for code in regencies]
    postgres = session.get_bind().dialect.name == "postgresql"
    cache_size = None
    if not postgres:
        # A bigger page cache keeps the NIK, KK and village indexes in memory while they grow.
        cache_size = session.connection().exec_driver_sql("PRAGMA cache_size").scalar()
        session.connection().exec_driver_sql("PRAGMA cache_size=-262144")
    done = families = 0
    batch: list[tuple[Any, ...]] = []
    while done < count:
        picks = rng.choices(regencies, cum_weights=cumulative, k=min(4096, count))
        for regency in picks:
            village = rng.choice(villages[regency])
            rows = gen.household(village, names.get(regency, regency))
            batch.extend(rows)
            done += len(rows)
            families += 1
            if len(batch) >= batch_size:
                _write(session, batch, postgres)
                if progress:
                    progress(len(batch))
                batch = []
            if done >= count:
                break
    if batch:
        _write(session, batch, postgres)
        if progress:
            progress(len(batch))
    session.flush()
    if cache_size is not None:
        session.connection().exec_driver_sql(f"PRAGMA cache_size={int(cache_size)}")
    return SeedResult(residents=done, families=families, seconds=time.perf_counter() - started)


def _write(session: Session, rows: list[tuple[Any, ...]], postgres: bool) -> None:
    session.flush()
    rows.sort(key=lambda row: row[0])  # NIK order: index pages fill in sequence
    if postgres:
        raw = session.connection().connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            columns = ", ".join(_COLUMNS)
            with cursor.copy(f"COPY identity_resident ({columns}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        return
    # SQLite: straight to the driver's executemany, with values in SQLAlchemy's storage format.
    stamp = rows[0][-1].strftime("%Y-%m-%d %H:%M:%S.%f")
    session.connection().exec_driver_sql(
        _SQLITE_INSERT,
        [
            (
                *row[:3],
                row[3].isoformat(),
                *row[4:16],
                row[16] and row[16].isoformat(),
                stamp,
                stamp,
            )
            for row in rows
        ],
    )
