"""An independent RFC 9162 verifier, written from the RFC's text alone (it imports nothing of Satu).

Used by the tests to check what Satu's log API serves:
- 2.1.1   Merkle Tree Hash of a list of entries (leaf 0x00, node 0x01, k = largest power of 2 < n)
- 2.1.3.2 verifying an inclusion proof
- 2.1.4.2 verifying a consistency proof
- 4.10    the signed tree head: a signature over TreeHeadDataV2 (TLS presentation language:
          uint64 timestamp, uint64 tree_size, opaque NodeHash<32..2^8-1>, Extension
          sth_extensions<0..2^16-1>), here with Ed25519.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def _sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def hash_leaf(entry: bytes) -> bytes:
    """MTH({d(0)}) = SHA-256(0x00 || d(0))."""
    return _sha256(bytes([0]) + entry)


def hash_children(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return _sha256(bytes([1]) + left + right)


def merkle_tree_hash(entries: Sequence[bytes]) -> bytes:
    """MTH(D[n]) of the entries themselves (not their hashes), recursively as 2.1.1 defines."""
    n = len(entries)
    if n == 0:
        return _sha256(b"")
    if n == 1:
        return hash_leaf(entries[0])
    k = 1
    while k * 2 < n:
        k *= 2
    return hash_children(merkle_tree_hash(entries[:k]), merkle_tree_hash(entries[k:]))


def _lsb(x: int) -> int:
    return x & 1


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf_hash: bytes, inclusion_path: Sequence[bytes], root: bytes
) -> bool:
    """Section 2.1.3.2, step by step."""
    # 1. leaf_index must be below tree_size.
    if leaf_index >= tree_size or leaf_index < 0:
        return False
    # 2. fn = leaf_index, sn = tree_size - 1.
    fn = leaf_index
    sn = tree_size - 1
    # 3. r = hash.
    r = leaf_hash
    # 4. for each value p in inclusion_path:
    for p in inclusion_path:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if _lsb(fn) == 1 or fn == sn:
            # 1. Set r to HASH(0x01 || p || r).
            r = hash_children(p, r)
            # 2. If LSB(fn) is not set, then right-shift both fn and sn equally until either
            #    LSB(fn) is set or fn is 0.
            if _lsb(fn) == 0:
                while not (_lsb(fn) == 1 or fn == 0):
                    fn = fn >> 1
                    sn = sn >> 1
        # Otherwise: Set r to HASH(0x01 || r || p).
        else:
            r = hash_children(r, p)
        # c. Finally, right-shift both fn and sn one time.
        fn = fn >> 1
        sn = sn >> 1
    # 5. Compare sn to 0. Compare r against the root_hash. Succeed only if both are equal.
    return sn == 0 and r == root


def verify_consistency(
    first: int,
    second: int,
    first_hash: bytes,
    second_hash: bytes,
    consistency_path: Sequence[bytes],
) -> bool:
    """Section 2.1.4.2, step by step (first == second: an empty proof and equal roots)."""
    if first == second:
        return len(consistency_path) == 0 and first_hash == second_hash
    if not 0 < first < second:
        return False
    # 1. If consistency_path is an empty array, stop and fail the proof verification.
    if len(consistency_path) == 0:
        return False
    path = list(consistency_path)
    # 2. If first is an exact power of 2, then prepend first_hash to the consistency_path array.
    if first & (first - 1) == 0:
        path = [first_hash, *path]
    # 3. Set fn to first - 1 and sn to second - 1.
    fn = first - 1
    sn = second - 1
    # 4. If LSB(fn) is set, then right-shift both fn and sn equally until LSB(fn) is not set.
    if _lsb(fn) == 1:
        while _lsb(fn) == 1:
            fn = fn >> 1
            sn = sn >> 1
    # 5. Set both fr and sr to the first value in the consistency_path array.
    fr = path[0]
    sr = path[0]
    # 6. For each subsequent value c in the consistency_path array:
    for c in path[1:]:
        # a. If sn is 0, then stop the iteration and fail the proof verification.
        if sn == 0:
            return False
        # b. If LSB(fn) is set, or if fn is equal to sn, then:
        if _lsb(fn) == 1 or fn == sn:
            # 1. Set fr to HASH(0x01 || c || fr). Set sr to HASH(0x01 || c || sr).
            fr = hash_children(c, fr)
            sr = hash_children(c, sr)
            # 2. If LSB(fn) is not set, then right-shift both fn and sn equally until either
            #    LSB(fn) is set or fn is 0.
            if _lsb(fn) == 0:
                while not (_lsb(fn) == 1 or fn == 0):
                    fn = fn >> 1
                    sn = sn >> 1
        # Otherwise: Set sr to HASH(0x01 || sr || c).
        else:
            sr = hash_children(sr, c)
        # c. Finally, right-shift both fn and sn one time.
        fn = fn >> 1
        sn = sn >> 1
    # 7. After completing iterating through the consistency_path array as described above,
    #    verify that the fr calculated is equal to the first_hash supplied, that the sr
    #    calculated is equal to the second_hash supplied, and that sn is 0.
    return fr == first_hash and sr == second_hash and sn == 0


def tree_head_data(timestamp: int, tree_size: int, root_hash: bytes) -> bytes:
    """TreeHeadDataV2 in TLS encoding, with no extensions."""
    return (
        timestamp.to_bytes(8, "big")
        + tree_size.to_bytes(8, "big")
        + len(root_hash).to_bytes(1, "big")
        + root_hash
        + (0).to_bytes(2, "big")
    )


def verify_tree_head(
    public_key: bytes, timestamp: int, tree_size: int, root_hash: bytes, signature: bytes
) -> bool:
    """Does the Ed25519 `signature` cover TreeHeadDataV2(timestamp, tree_size, root_hash)?"""
    try:
        Ed25519PublicKey.from_public_bytes(public_key).verify(
            signature, tree_head_data(timestamp, tree_size, root_hash)
        )
    except (InvalidSignature, ValueError):
        return False
    return True
