"""Transparency log tree: stored subtree hashes, roots, inclusion and consistency proofs.

Holds the lazy derivation of complete subtrees' hashes (`LogNode`), the folding of stored
hashes into any range's hash, and what is built on it (`root_hash`, `inclusion_proof`,
`consistency_proof`). It is separate from appending (`log_entries.py`), which never touches
the tree, and from the signed heads (`log_heads.py`), which only ask it for a root;
`transparency.py` is the public face. `TAIL_MAX` is read here: patch it on this module.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, insert, select, tuple_
from sqlalchemy.orm import Session

from satu.core.errors import Problem
from satu.exchange import merkle
from satu.exchange.log_entries import _lock, tree_size
from satu.exchange.models import LogEntry, LogNode

TAIL_MAX = 2048  # leaves a proof may hash itself before it derives stored subtree hashes
_BUILD_BATCH = 20_000
_LOCK_BUILD = 0x5A7E_0002


# --- subtree hashes ------------------------------------------------------------------------------


def _built(session: Session) -> int:
    """Leaves covered by stored subtree hashes (every complete subtree below it is stored)."""
    top = session.scalar(select(func.max(LogNode.idx)).where(LogNode.level == 1))
    return 0 if top is None else 2 * (int(top) + 1)


def _stored(session: Session, parts: set[merkle.Part]) -> dict[merkle.Part, bytes]:
    found: dict[merkle.Part, bytes] = {}
    nodes = [p for p in parts if p[0] > 0]
    leaves = [p[1] for p in parts if p[0] == 0]
    for chunk in _chunks(nodes, 500):
        rows = session.execute(
            select(LogNode.level, LogNode.idx, LogNode.hash).where(
                tuple_(LogNode.level, LogNode.idx).in_(chunk)
            )
        )
        found.update({(level, idx): h for level, idx, h in rows})
    if leaves:
        low, high = min(leaves), max(leaves)
        where = (
            LogEntry.idx.in_(leaves)
            if high - low > 4 * len(leaves)
            else LogEntry.idx.between(low, high)
        )
        rows = session.execute(select(LogEntry.idx, LogEntry.leaf_hash).where(where))
        found.update({(0, idx): h for idx, h in rows})
    return found


def _chunks(items: list[Any], size: int) -> list[list[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def _build(session: Session, upto: int) -> None:
    """Store every complete subtree's hash within the first `upto` leaves (rounded down to even)."""
    _lock(session.connection(), _LOCK_BUILD)
    start, end = _built(session), upto - upto % 2
    if end <= start:
        return
    frontier = merkle.perfect_parts(0, start)
    known = _stored(session, set(frontier))
    if not set(frontier) <= known.keys():
        raise RuntimeError("stored subtree hashes are missing; run 'satu exchange log audit'")
    stack = [(level, known[(level, i)]) for level, i in frontier]
    pos = start
    while pos < end:
        rows = session.execute(
            select(LogEntry.idx, LogEntry.leaf_hash)
            .where(LogEntry.idx >= pos, LogEntry.idx < min(end, pos + _BUILD_BATCH))
            .order_by(LogEntry.idx)
        ).all()
        new: list[dict[str, Any]] = []
        for idx, leaf in rows:
            if idx != pos:
                raise RuntimeError(f"the log has a gap at index {pos}")
            level, h = 0, leaf
            while stack and stack[-1][0] == level:
                h = merkle.node_hash(stack.pop()[1], h)
                level += 1
                new.append({"level": level, "idx": pos >> level, "hash": h})
            stack.append((level, h))
            pos += 1
        if not rows:
            raise RuntimeError(f"the log has a gap at index {pos}")
        for chunk in _chunks(new, 5000):
            session.execute(insert(LogNode), chunk)


def _hashes(session: Session, ranges: list[merkle.Range], size: int) -> list[bytes]:
    """MTH of each range (all within the first `size` leaves), from stored hashes."""
    built = min(_built(session), size)
    if size - built > TAIL_MAX:
        _build(session, size)
        built = min(_built(session), size)
    wanted: set[merkle.Part] = set()

    def want(part: merkle.Part) -> None:
        level, i = part
        if level == 0 or (i + 1) << level <= built:
            wanted.add(part)
        else:
            want((level - 1, 2 * i))
            want((level - 1, 2 * i + 1))

    parts = {p for a, b in ranges for p in merkle.perfect_parts(a, b)}
    for part in parts:
        want(part)
    known = _stored(session, wanted)
    if not wanted <= known.keys():
        raise RuntimeError("the log is missing entries or subtree hashes")

    def value(part: merkle.Part) -> bytes:
        if part not in known:
            level, i = part
            known[part] = merkle.node_hash(value((level - 1, 2 * i)), value((level - 1, 2 * i + 1)))
        return known[part]

    return merkle.resolve(ranges, value)


def _size_or_current(session: Session, size: int | None) -> int:
    current = tree_size(session=session)
    if size is None:
        return current
    if not 0 <= size <= current:
        raise Problem("malformed-request", f"tree_size must be between 0 and {current}.")
    return size


def root_hash(*, session: Session, tree_size: int | None = None) -> bytes:
    """MTH of the first `tree_size` entries (default: all)."""
    size = _size_or_current(session, tree_size)
    if size == 0:
        return merkle.EMPTY_ROOT
    return _hashes(session, [(0, size)], size)[0]


def inclusion_proof(*, session: Session, index: int, tree_size: int | None = None) -> dict:
    """Proof that entry `index` is in the tree of `tree_size` (default: current), hashes in hex."""
    size = _size_or_current(session, tree_size)
    if not 0 <= index < size:
        raise Problem("malformed-request", f"The leaf index must be below the tree size {size}.")
    hashes = _hashes(session, [*merkle.inclusion_ranges(index, size), (0, size)], size)
    return {
        "leaf_index": index,
        "tree_size": size,
        "audit_path": [h.hex() for h in hashes[:-1]],
        "root_hash": hashes[-1].hex(),
    }


def consistency_proof(*, session: Session, first: int, second: int) -> dict:
    """Proof that the tree of size `first` is a prefix of that of size `second`, hashes in hex."""
    second = _size_or_current(session, second)
    if not 0 < first <= second:
        raise Problem("malformed-request", "Need 0 < first <= second <= the tree size.")
    ranges = merkle.consistency_ranges(first, second) if first < second else []
    hashes = _hashes(session, [*ranges, (0, first), (0, second)], second)
    return {
        "first": first,
        "second": second,
        "consistency": [h.hex() for h in hashes[:-2]],
        "first_hash": hashes[-2].hex(),
        "second_hash": hashes[-1].hex(),
    }
