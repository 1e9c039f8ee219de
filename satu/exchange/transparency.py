"""The exchange's transparency log: an append-only RFC 9162 Merkle tree with signed tree heads.

- `append_many` (and `append`, for one) gives each record the next index with no gaps, whatever
  the number of workers: under a write lock held until the caller commits (so the caller
  commits right away): a transaction-scoped advisory lock on PostgreSQL, the database's write
  lock on SQLite. It reads the size once and writes the batch in one executemany: one row and
  one leaf hash per record; nothing else.
- The entry is the canonical JSON (sorted keys, no spaces, UTF-8) of the `LogRecordIn` with the
  NIK replaced by `subject` = `subject_key(nik)` (a keyed hash); leaf hash = SHA-256(0x00 || entry).
- Hashes of complete subtrees (`LogNode`) are derived lazily, when a head is signed or a proof
  finds too many leaves not yet covered, so roots and proofs cost O(log n) reads.
- A signed tree head signs RFC 9162's `TreeHeadDataV2` (uint64 timestamp in ms, uint64
  tree_size, NodeHash root_hash with a one-byte length, empty extensions with a two-byte length)
  with the exchange operator's Ed25519 key (hosted member key of GOV/SATU, see keys.py).
- A new head is signed by `satu exchange log sign-head`, and on reading (`latest_tree_head`,
  the `sth` API) when the log grew and the latest head is older than `HEAD_MAX_AGE_SECONDS` or
  `HEAD_MAX_PENDING` entries behind.

The code lives in `log_entries.py` (entries: appending and reading), `log_tree.py` (subtree
hashes, roots and proofs) and `log_heads.py` (signed tree heads); this module is their public
face, and what other modules, tests and tools import. The tunables (`TAIL_MAX`,
`HEAD_MAX_AGE_SECONDS`, `HEAD_MAX_PENDING`) are read where they are defined: patch them there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from satu.exchange.log_entries import LOCK_APPEND as LOCK_APPEND
from satu.exchange.log_entries import ROW_COLUMNS as ROW_COLUMNS
from satu.exchange.log_entries import RowWriter as RowWriter
from satu.exchange.log_entries import append as append
from satu.exchange.log_entries import append_many as append_many
from satu.exchange.log_entries import append_rows as append_rows
from satu.exchange.log_entries import canonical_entry as canonical_entry
from satu.exchange.log_entries import column_values as column_values
from satu.exchange.log_entries import entries as entries
from satu.exchange.log_entries import entry as entry
from satu.exchange.log_entries import index_of as index_of
from satu.exchange.log_entries import log_rows as log_rows
from satu.exchange.log_entries import number_rows as number_rows
from satu.exchange.log_entries import row_writer as row_writer
from satu.exchange.log_entries import subject_key as subject_key
from satu.exchange.log_entries import tree_size as tree_size
from satu.exchange.log_heads import HEAD_MAX_AGE_SECONDS as HEAD_MAX_AGE_SECONDS
from satu.exchange.log_heads import HEAD_MAX_PENDING as HEAD_MAX_PENDING
from satu.exchange.log_heads import OPERATOR_CLASS as OPERATOR_CLASS
from satu.exchange.log_heads import OPERATOR_CODE as OPERATOR_CODE
from satu.exchange.log_heads import _millis as _millis
from satu.exchange.log_heads import latest_tree_head as latest_tree_head
from satu.exchange.log_heads import maybe_sign_tree_head as maybe_sign_tree_head
from satu.exchange.log_heads import operator_jwk as operator_jwk
from satu.exchange.log_heads import operator_key as operator_key
from satu.exchange.log_heads import sign_tree_head as sign_tree_head
from satu.exchange.log_heads import tree_head as tree_head
from satu.exchange.log_heads import tree_head_data as tree_head_data
from satu.exchange.log_heads import verify_tree_head as verify_tree_head
from satu.exchange.log_tree import TAIL_MAX as TAIL_MAX
from satu.exchange.log_tree import consistency_proof as consistency_proof
from satu.exchange.log_tree import inclusion_proof as inclusion_proof
from satu.exchange.log_tree import root_hash as root_hash


def audit(*, session: Session, progress: Any = None) -> Any:
    """Check every stored entry, subtree hash and signed head (see `log_audit.audit`)."""
    from satu.exchange.log_audit import audit as run_audit

    return run_audit(session=session, progress=progress)
