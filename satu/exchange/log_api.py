"""Public, read-only JSON API of the transparency log, in the manner of Certificate Transparency.

Hashes and signatures are base64 (RFC 4648 section 4), as in RFC 6962's JSON API. Entries show
the keyed subject hash only, never a NIK. Bad input answers RFC 9457 problem+json.

    GET /api/v1/exchange/log/sth                       latest signed tree head
    GET /api/v1/exchange/log/sth/{tree_size}           the head signed at that size
    GET /api/v1/exchange/log/get-entries?start=&end=   entries start..end (at most 1000)
    GET /api/v1/exchange/log/proof-by-index?index=&tree_size=
    GET /api/v1/exchange/log/proof-by-hash?hash=&tree_size=
    GET /api/v1/exchange/log/get-sth-consistency?first=&second=
    GET /api/v1/exchange/log/key                       the head-signing key as a JWK
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import JSONResponse

from satu.core.auth import public
from satu.core.db import DbSession
from satu.core.errors import Problem
from satu.exchange import transparency

router = APIRouter(
    prefix="/api/v1/exchange/log", tags=["exchange log"], dependencies=[Depends(public)]
)
MAX_ENTRIES = 1000
Size = Annotated[int, Query(ge=0, le=2**62)]
OptionalSize = Annotated[int | None, Query(ge=0, le=2**62)]
_FRESH = {"Cache-Control": "public, max-age=5"}
_FIXED = {"Cache-Control": "public, max-age=86400, immutable"}


def _b64(hex_text: str) -> str:
    return base64.b64encode(bytes.fromhex(hex_text)).decode()


def _signed_size(session: Any, tree_size: int | None) -> int:
    """The tree size a proof is for: the one asked, else the latest signed head's."""
    if tree_size is not None:
        return tree_size
    head = transparency.latest_tree_head(session=session)
    if head is None or head["tree_size"] == 0:
        raise Problem("not-found", "The log has no signed tree head with entries yet.")
    return int(head["tree_size"])


@router.get("/sth", summary="Latest signed tree head")
def get_sth(session: DbSession) -> JSONResponse:
    """The newest signed tree head (a new one is signed first when one is due)."""
    head = transparency.latest_tree_head(session=session)
    if head is None:  # pragma: no cover - latest_tree_head signs the first head itself
        raise Problem("not-found", "No tree head has been signed yet.")
    return JSONResponse(head, headers=_FRESH)


@router.get("/sth/{tree_size}", summary="Signed tree head of a size")
def get_sth_of_size(
    session: DbSession, tree_size: Annotated[int, Path(ge=0, le=2**62)]
) -> JSONResponse:
    """The head signed when the log had `tree_size` entries."""
    head = transparency.tree_head(session=session, tree_size=tree_size)
    if head is None:
        raise Problem("not-found", f"No tree head was signed at size {tree_size}.")
    return JSONResponse(head, headers=_FIXED)


@router.get("/get-entries", summary="Log entries")
def get_entries(session: DbSession, start: Size, end: Size) -> JSONResponse:
    """Entries `start`..`end` inclusive (at most 1000 per call; fewer at the end of the log)."""
    if end < start:
        raise Problem("malformed-request", "end must not be below start.")
    size = transparency.tree_size(session=session)
    if start >= size:
        raise Problem("malformed-request", f"start must be below the tree size {size}.")
    end = min(end, start + MAX_ENTRIES - 1, size - 1)
    rows = transparency.entries(session=session, start=start, end=end)
    return JSONResponse({"entries": rows}, headers=_FIXED if end < size - 1 else _FRESH)


def _proof_out(proof: dict[str, Any]) -> dict[str, Any]:
    return {
        "leaf_index": proof["leaf_index"],
        "tree_size": proof["tree_size"],
        "audit_path": [_b64(h) for h in proof["audit_path"]],
        "root_hash": _b64(proof["root_hash"]),
    }


@router.get("/proof-by-index", summary="Inclusion proof of an entry")
def proof_by_index(
    session: DbSession, index: Annotated[int, Query(ge=0, le=2**62)], tree_size: OptionalSize = None
) -> JSONResponse:
    """RFC 9162 inclusion proof of entry `index` in the tree of `tree_size` (default: latest)."""
    size = _signed_size(session, tree_size)
    proof = transparency.inclusion_proof(session=session, index=index, tree_size=size)
    return JSONResponse(_proof_out(proof), headers=_FIXED)


@router.get("/proof-by-hash", summary="Inclusion proof of a leaf hash")
def proof_by_hash(
    session: DbSession,
    hash: Annotated[str, Query(min_length=1, max_length=100)],
    tree_size: OptionalSize = None,
) -> JSONResponse:
    """Inclusion proof of the entry whose leaf hash (base64) is `hash`."""
    try:
        leaf = base64.b64decode(hash.replace(" ", "+"), validate=True)
    except (binascii.Error, ValueError):
        raise Problem("malformed-request", "hash must be a base64 SHA-256 leaf hash.") from None
    if len(leaf) != 32:
        raise Problem("malformed-request", "hash must be a base64 SHA-256 leaf hash.")
    size = _signed_size(session, tree_size)
    index = transparency.index_of(session=session, leaf_hash=leaf)
    if index is None or index >= size:
        raise Problem("not-found", f"No entry with this leaf hash in the tree of size {size}.")
    proof = transparency.inclusion_proof(session=session, index=index, tree_size=size)
    return JSONResponse(_proof_out(proof), headers=_FIXED)


@router.get("/get-sth-consistency", summary="Consistency proof between two tree sizes")
def get_sth_consistency(session: DbSession, first: Size, second: Size) -> JSONResponse:
    """RFC 9162 consistency proof that the tree of `first` entries is a prefix of `second`'s."""
    proof = transparency.consistency_proof(session=session, first=first, second=second)
    return JSONResponse(
        {
            "first": proof["first"],
            "second": proof["second"],
            "consistency": [_b64(h) for h in proof["consistency"]],
        },
        headers=_FIXED,
    )


@router.get("/key", summary="The tree-head signing key")
def get_key(session: DbSession) -> JSONResponse:
    """The exchange operator's Ed25519 public key that signs tree heads, as a JWK."""
    return JSONResponse(
        transparency.operator_jwk(session=session),
        media_type="application/jwk+json",
        headers=_FRESH,
    )
