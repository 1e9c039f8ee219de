"""Loading the official region codes, population and retired district codes from CSV.

Every file is validated completely before anything is written, so a broken file leaves the
database as it was. Writing is a bulk upsert (Core `insert`/`update` with executemany in
batches): new rows are inserted, changed rows updated, equal rows counted as unchanged.
Regions that disappeared from the files are deleted unless something still refers to them.
"""

from __future__ import annotations

import csv
import re
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import bindparam, delete, insert, inspect, select, update
from sqlalchemy import column as column_
from sqlalchemy import table as table_
from sqlalchemy.orm import Session

from satu.satudata.models import Region, RetiredDistrict
from satu.satudata.regions import invalidate_district_cache, normalize_name
from satu.satudata.schemas import LoadReport, TableCounts

REGIONS_FILE = "wilayah.csv"
POPULATION_FILE = "population.csv"
RETIRED_FILE = "retired_district_codes.csv"
BATCH_SIZE = 5000
MAX_NAME_LENGTH = 200

CODE_PATTERNS = {
    1: re.compile(r"\d{2}"),
    2: re.compile(r"\d{2}\.\d{2}"),
    3: re.compile(r"\d{2}\.\d{2}\.\d{2}"),
    4: re.compile(r"\d{2}\.\d{2}\.\d{2}\.[123]\d{3}"),
}
CODE_SHAPES = {
    1: "NN",
    2: "NN.NN",
    3: "NN.NN.NN",
    4: "NN.NN.NN.XNNN with X = 1 (kelurahan), 2 (desa) or 3 (desa adat)",
}
_NUMBER = re.compile(r"\d{1,15}")
_YEAR = re.compile(r"\d{4}")

Progress = Callable[[int], None]
RegionRow = tuple[str, str, str, int, str, str | None, int | None, int | None, int | None]
_REGION_COLUMNS = (
    "code",
    "name",
    "name_search",
    "level",
    "kind",
    "parent_code",
    "population_male",
    "population_female",
    "population_total",
)


class ReferenceDataError(ValueError):
    """A reference-data file that cannot be loaded, with the file and line at fault."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        self.file = file
        self.line = line
        self.message = message
        where = f"{file}:{line}" if line is not None else file
        super().__init__(f"{where}: {message}")


@dataclass(frozen=True)
class _Population:
    line: int
    male: int
    female: int
    total: int


def _rows(path: Path, header: list[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number, fields) of each data row, after checking the header."""
    name = path.name
    if not path.is_file():
        raise ReferenceDataError(name, None, "file not found")
    try:
        with path.open(encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle, strict=True)
            first = next(reader, None)
            if first is None or [col.strip() for col in first] != header:
                raise ReferenceDataError(
                    name, 1, f"header must be {','.join(header)}, found {','.join(first or [])}"
                )
            while True:
                start = reader.line_num + 1
                try:
                    fields = next(reader)
                except StopIteration:
                    return
                except csv.Error as exc:
                    raise ReferenceDataError(
                        name, start, f"bad CSV in the record starting here: {exc}"
                    ) from exc
                if not fields or (len(fields) == 1 and not fields[0].strip()):
                    continue
                if len(fields) != len(header):
                    raise ReferenceDataError(
                        name,
                        start,
                        f"expected {len(header)} fields ({','.join(header)}), found {len(fields)}",
                    )
                yield start, [value.strip() for value in fields]
    except UnicodeDecodeError as exc:
        raise ReferenceDataError(name, None, f"not UTF-8 text: {exc}") from exc


def _level_of(code: str) -> int:
    return code.count(".") + 1


def _check_code(file: str, line: int, code: str, levels: Iterable[int]) -> int:
    level = _level_of(code)
    if level not in levels or not CODE_PATTERNS[level].fullmatch(code):
        shapes = " or ".join(CODE_SHAPES[lvl] for lvl in levels)
        raise ReferenceDataError(file, line, f"code {code!r} is not a region code ({shapes})")
    if any(part.strip("0") == "" for part in code.split(".")):
        raise ReferenceDataError(file, line, f"code {code!r} has an all-zero part")
    return level


def _check_name(file: str, line: int, name: str) -> str:
    name = " ".join(name.split())
    if not name:
        raise ReferenceDataError(file, line, "name is empty")
    if len(name) > MAX_NAME_LENGTH:
        raise ReferenceDataError(file, line, f"name is longer than {MAX_NAME_LENGTH} characters")
    return name


def _check_number(file: str, line: int, column: str, value: str) -> int:
    if not _NUMBER.fullmatch(value):
        raise ReferenceDataError(
            file, line, f"{column} must be a non-negative whole number, found {value!r}"
        )
    return int(value)


def _kind(level: int, code: str, name: str) -> str:
    if level == 1:
        return "province"
    if level == 2:
        return "city" if name.startswith("Kota ") else "regency"
    if level == 3:
        return "district"
    return "kelurahan" if code[9] == "1" else "desa"


def _read_regions(directory: Path) -> dict[str, tuple[int, str, int]]:
    """code -> (line, name, level), validated (format, names, duplicates, parents)."""
    regions: dict[str, tuple[int, str, int]] = {}
    for line, (code, raw_name) in _rows(directory / REGIONS_FILE, ["code", "name"]):
        level = _check_code(REGIONS_FILE, line, code, (1, 2, 3, 4))
        name = _check_name(REGIONS_FILE, line, raw_name)
        if code in regions:
            raise ReferenceDataError(
                REGIONS_FILE, line, f"duplicate code {code} (first on line {regions[code][0]})"
            )
        regions[code] = (line, name, level)
    if not regions:
        raise ReferenceDataError(REGIONS_FILE, None, "no regions")
    for code, (line, _name, level) in regions.items():
        if level > 1 and code.rsplit(".", 1)[0] not in regions:
            raise ReferenceDataError(
                REGIONS_FILE, line, f"parent {code.rsplit('.', 1)[0]} of {code} does not exist"
            )
    return regions


def _read_population(
    directory: Path, regions: dict[str, tuple[int, str, int]]
) -> dict[str, _Population]:
    header = ["code", "name", "male", "female", "total"]
    population: dict[str, _Population] = {}
    for line, (code, raw_name, male, female, total) in _rows(directory / POPULATION_FILE, header):
        if code != "0":
            _check_code(POPULATION_FILE, line, code, (1, 2))
            if code not in regions:
                raise ReferenceDataError(
                    POPULATION_FILE, line, f"code {code} is not in {REGIONS_FILE}"
                )
        _check_name(POPULATION_FILE, line, raw_name)
        numbers = [
            _check_number(POPULATION_FILE, line, column, value)
            for column, value in (("male", male), ("female", female), ("total", total))
        ]
        if code in population:
            raise ReferenceDataError(
                POPULATION_FILE,
                line,
                f"duplicate code {code} (first on line {population[code].line})",
            )
        population[code] = _Population(line, *numbers)
    return population


def _read_retired(directory: Path) -> dict[str, tuple[str, int]]:
    retired: dict[str, tuple[str, int]] = {}
    lines: dict[str, int] = {}
    header = ["code", "name", "last_seen_in"]
    for line, (code, raw_name, year) in _rows(directory / RETIRED_FILE, header):
        _check_code(RETIRED_FILE, line, code, (3,))
        name = _check_name(RETIRED_FILE, line, raw_name)
        if not _YEAR.fullmatch(year):
            raise ReferenceDataError(
                RETIRED_FILE, line, f"last_seen_in must be a year, found {year!r}"
            )
        if code in retired:
            raise ReferenceDataError(
                RETIRED_FILE, line, f"duplicate code {code} (first on line {lines[code]})"
            )
        retired[code] = (name, int(year))
        lines[code] = line
    return retired


def read_reference_files(
    directory: Path,
) -> tuple[list[RegionRow], dict[str, tuple[str, int]]]:
    """Validate the three files; the region rows (parents first) and retired districts."""
    directory = Path(directory)
    regions = _read_regions(directory)
    population = _read_population(directory, regions)
    retired = _read_retired(directory)
    rows: list[RegionRow] = []
    for code, (_line, name, level) in regions.items():
        pop = population.get(code)
        rows.append(
            (
                code,
                name,
                normalize_name(name),
                level,
                _kind(level, code, name),
                code.rsplit(".", 1)[0] if level > 1 else None,
                pop.male if pop else None,
                pop.female if pop else None,
                pop.total if pop else None,
            )
        )
    rows.sort(key=lambda row: (row[3], row[0]))
    return rows, retired


def _batches(items: list[dict[str, Any]]) -> Iterator[list[dict[str, Any]]]:
    for start in range(0, len(items), BATCH_SIZE):
        yield items[start : start + BATCH_SIZE]


def _referenced_codes(session: Session, table_name: str, codes: set[str]) -> set[str]:
    """Which of `codes` a row of any table in the database still refers to."""
    found: set[str] = set()
    chunk = sorted(codes)
    inspector = inspect(session.connection())
    for other in inspector.get_table_names():
        for fk in inspector.get_foreign_keys(other):
            if fk["referred_table"] != table_name or fk["referred_columns"] != ["code"]:
                continue
            column = column_(fk["constrained_columns"][0])
            for start in range(0, len(chunk), 500):
                part = chunk[start : start + 500]
                query = select(column).select_from(table_(other)).where(column.in_(part))
                found.update(session.execute(query.distinct()).scalars())
    return found


def _sync_regions(
    session: Session, rows: list[RegionRow], progress: Progress | None
) -> tuple[TableCounts, int, int]:
    table = Region.__table__
    existing = {
        row[0]: tuple(row)
        for row in session.execute(select(*[table.c[c] for c in _REGION_COLUMNS]))
    }
    counts = TableCounts()
    inserts: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for row in rows:
        current = existing.get(row[0])
        if current is None:
            inserts.append(dict(zip(_REGION_COLUMNS, row, strict=True)))
        elif current != row:
            values = dict(zip(_REGION_COLUMNS, row, strict=True))
            values["b_code"] = values.pop("code")
            updates.append(values)
        else:
            counts.unchanged += 1
    if progress and counts.unchanged:
        progress(counts.unchanged)
    for batch in _batches(inserts):
        session.execute(insert(table), batch)
        counts.inserted += len(batch)
        if progress:
            progress(len(batch))
    statement = (
        update(table)
        .where(table.c.code == bindparam("b_code"))
        .values({c: bindparam(c) for c in _REGION_COLUMNS if c != "code"})
    )
    for batch in _batches(updates):
        session.connection().execute(statement, batch)
        counts.updated += len(batch)
        if progress:
            progress(len(batch))
    wanted = {row[0] for row in rows}
    stale = set(existing) - wanted
    deleted = kept = 0
    if stale:
        referenced = _referenced_codes(session, table.name, stale)
        # A kept region keeps its parents: walk from villages up to provinces.
        keep: set[str] = set()
        for code in sorted(stale, key=lambda c: -c.count(".")):
            if code in referenced or code in keep:
                keep.add(code)
                parent = existing[code][5]
                if parent in stale:
                    keep.add(parent)
        doomed = sorted(stale - keep, key=lambda c: -c.count("."))
        for start in range(0, len(doomed), 500):
            session.execute(delete(table).where(table.c.code.in_(doomed[start : start + 500])))
        deleted, kept = len(doomed), len(keep)
    return counts, deleted, kept


def _sync_retired(
    session: Session, retired: dict[str, tuple[str, int]], progress: Progress | None
) -> TableCounts:
    table = RetiredDistrict.__table__
    existing = {
        code: (name, year)
        for code, name, year in session.execute(
            select(table.c.code, table.c.name, table.c.last_seen_in)
        )
    }
    counts = TableCounts()
    inserts = [
        {"code": code, "name": name, "last_seen_in": year}
        for code, (name, year) in retired.items()
        if code not in existing
    ]
    updates = [
        {"b_code": code, "name": name, "last_seen_in": year}
        for code, (name, year) in retired.items()
        if code in existing and existing[code] != (name, year)
    ]
    counts.unchanged = len(retired) - len(inserts) - len(updates)
    for batch in _batches(inserts):
        session.execute(insert(table), batch)
    statement = (
        update(table)
        .where(table.c.code == bindparam("b_code"))
        .values(name=bindparam("name"), last_seen_in=bindparam("last_seen_in"))
    )
    for batch in _batches(updates):
        session.connection().execute(statement, batch)
    counts.inserted, counts.updated = len(inserts), len(updates)
    stale = sorted(set(existing) - set(retired))
    for start in range(0, len(stale), 500):
        session.execute(delete(table).where(table.c.code.in_(stale[start : start + 500])))
    if progress:
        progress(len(retired))
    return counts


def count_rows(directory: Path) -> int:
    """Roughly how many rows `load_regions` will process (for a progress bar)."""
    total = 0
    for name in (REGIONS_FILE, RETIRED_FILE):
        path = Path(directory) / name
        if path.is_file():
            with path.open("rb") as handle:
                total += max(sum(1 for _ in handle) - 1, 0)
    return total


def load_regions(
    *, session: Session, directory: Path | str, progress: Progress | None = None
) -> LoadReport:
    """Validate then upsert regions, population and retired district codes from `directory`."""
    started = time.perf_counter()
    rows, retired = read_reference_files(Path(directory))
    invalidate_district_cache()
    report = LoadReport()
    report.regions, report.deleted, report.kept = _sync_regions(session, rows, progress)
    report.retired_districts = _sync_retired(session, retired, progress)
    session.flush()
    session.expire_all()
    invalidate_district_cache(session=session)
    report.seconds = time.perf_counter() - started
    return report
