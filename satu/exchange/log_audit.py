"""Audit of the transparency log from what is stored: entries, subtree hashes and signed heads.

One pass over the entries in index order (constant memory): each stored entry is re-hashed and
compared with its leaf hash and its query columns; the tree is rebuilt from the re-hashed
leaves, every complete subtree compared with the stored subtree hash, and the root at each
signed head's size compared with the head, whose signature is checked. Editing a row in the
database (an entry, a leaf hash, a column, a subtree hash, a head) is reported with its index.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from satu.exchange import keys, merkle
from satu.exchange.models import LogEntry, LogNode, TreeHead

_BATCH = 5000
_NODE_FLUSH = 20_000
_COLUMNS = (
    LogEntry.idx,
    LogEntry.entry,
    LogEntry.leaf_hash,
    LogEntry.logged_at,
    LogEntry.kind,
    LogEntry.transaction_id,
    LogEntry.client_id,
    LogEntry.service_id,
    LogEntry.subject_key,
    LogEntry.purpose,
    LogEntry.outcome,
)


class AuditProblem(BaseModel):
    """One thing found wrong: what, where (an entry index or a tree size), and details."""

    kind: str
    index: int | None = None
    tree_size: int | None = None
    detail: str = ""


class AuditReport(BaseModel):
    """What an audit checked and found."""

    entries: int = 0
    heads: int = 0
    subtree_hashes: int = 0
    problems: list[AuditProblem] = []

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems


def _head_data(row: TreeHead) -> bytes:
    from satu.exchange.transparency import _millis, tree_head_data

    return tree_head_data(
        timestamp=_millis(row.timestamp), tree_size=row.tree_size, root_hash=row.root_hash
    )


def _check_columns(row: Any, entry: bytes, report: AuditReport) -> None:
    from satu.exchange.transparency import column_values

    try:
        data = json.loads(entry)
        expected = column_values(data)
        logged_at = datetime.fromisoformat(str(data["logged_at"]).replace("Z", "+00:00"))
    except (ValueError, KeyError, TypeError, AttributeError):
        report.problems.append(AuditProblem(kind="entry-unreadable", index=row.idx))
        return
    differing = [name for name, value in expected.items() if getattr(row, name) != value]
    if row.logged_at != logged_at:
        differing.append("logged_at")
    if differing:
        report.problems.append(
            AuditProblem(
                kind="columns-altered",
                index=row.idx,
                detail="columns differ from the entry: " + ", ".join(sorted(differing)),
            )
        )


class _NodeChecker:
    """Compares rebuilt complete subtrees with the stored ones, a batch per level at a time."""

    def __init__(self, session: Session, report: AuditReport) -> None:
        self.session = session
        self.report = report
        self.pending: dict[int, dict[int, bytes]] = {}
        self.count = 0

    def add(self, level: int, idx: int, value: bytes) -> None:
        self.pending.setdefault(level, {})[idx] = value
        self.count += 1
        if self.count >= _NODE_FLUSH:
            self.flush()

    def flush(self) -> None:
        for level, nodes in self.pending.items():
            low, high = min(nodes), max(nodes)
            rows = self.session.execute(
                select(LogNode.idx, LogNode.hash).where(
                    LogNode.level == level, LogNode.idx.between(low, high)
                )
            )
            for idx, stored in rows:
                if idx in nodes:
                    self.report.subtree_hashes += 1
                    if stored != nodes[idx]:
                        first, last = idx << level, ((idx + 1) << level) - 1
                        self.report.problems.append(
                            AuditProblem(
                                kind="subtree-mismatch",
                                index=first,
                                detail=f"entries {first}..{last} differ from the stored "
                                f"subtree hash (level {level}, node {idx})",
                            )
                        )
        self.pending, self.count = {}, 0


def audit(*, session: Session, progress: Callable[[int, int], None] | None = None) -> AuditReport:
    """Check every stored entry, subtree hash and signed head; report what is wrong, by index."""
    report = AuditReport()
    heads = list(session.scalars(select(TreeHead).order_by(TreeHead.tree_size)))
    report.heads = len(heads)
    verifiers: dict[str, Any] = {}
    for head in heads:
        if head.key_id not in verifiers:
            found = keys.verifying_key(session=session, key_id=head.key_id)
            verifiers[head.key_id] = found[1] if found else None
        verifier = verifiers[head.key_id]
        try:
            if verifier is None:
                raise ValueError("unknown key")
            verifier.verify(head.signature, _head_data(head))
        except Exception:
            report.problems.append(
                AuditProblem(
                    kind="head-signature-invalid",
                    tree_size=head.tree_size,
                    detail=f"the signature of the head of size {head.tree_size} does not verify",
                )
            )
    total = int(session.scalar(select(func.count()).select_from(LogEntry)) or 0)
    nodes = _NodeChecker(session, report)
    stack: list[tuple[int, bytes]] = []
    head_iter = iter(heads)
    next_head = next(head_iter, None)
    pos = 0

    def check_heads_at(size: int) -> None:
        nonlocal next_head
        while next_head is not None and next_head.tree_size == size:
            root = merkle.fold([h for _, h in stack])
            if root != next_head.root_hash:
                report.problems.append(
                    AuditProblem(
                        kind="head-root-mismatch",
                        tree_size=size,
                        detail=f"the first {size} entries do not hash to the signed root",
                    )
                )
            next_head = next(head_iter, None)

    check_heads_at(0)
    last = -1
    while True:
        rows = session.execute(
            select(*_COLUMNS).where(LogEntry.idx > last).order_by(LogEntry.idx).limit(_BATCH)
        ).all()
        if not rows:
            break
        for row in rows:
            if row.idx != pos:
                report.problems.append(
                    AuditProblem(kind="gap", index=pos, detail=f"entries {pos}..{row.idx - 1}")
                )
                break
            leaf = hashlib.sha256(b"\x00" + row.entry).digest()
            if leaf != row.leaf_hash:
                report.problems.append(
                    AuditProblem(
                        kind="entry-altered",
                        index=row.idx,
                        detail="the entry does not hash to its stored leaf hash",
                    )
                )
            _check_columns(row, row.entry, report)
            level, h = 0, leaf
            while stack and stack[-1][0] == level:
                h = merkle.node_hash(stack.pop()[1], h)
                level += 1
                nodes.add(level, pos >> level, h)
            stack.append((level, h))
            pos += 1
            check_heads_at(pos)
        else:
            last = rows[-1].idx
            report.entries = pos
            if progress:
                progress(pos, total)
            continue
        break  # a gap: the tree after it means nothing
    nodes.flush()
    report.entries = pos
    if next_head is not None:
        report.problems.append(
            AuditProblem(
                kind="head-beyond-log",
                tree_size=next_head.tree_size,
                detail=f"a head of size {next_head.tree_size} but {pos} entries",
            )
        )
    return report
