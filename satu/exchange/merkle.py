"""RFC 9162 Merkle tree hashing (section 2.1): tree hashes, inclusion and consistency proofs.

Pure functions, no storage. A tree of n leaves is split as the RFC says: k is the largest power
of two smaller than n, MTH(D[0:n]) = H(0x01 || MTH(D[0:k]) || MTH(D[k:n])). Every range the
recursion visits starts at a multiple of a power of two at least as large as the range, so a
range decomposes into *complete* aligned subtrees ("perfect parts", `(level, index)` covering
leaves [index * 2**level, (index + 1) * 2**level)) of strictly decreasing size, and its hash
is the right-to-left fold of theirs. A store keeps the perfect parts' hashes, so a root or a
proof costs O(log n) stored hashes: the proof functions below say which ranges a proof needs
(`inclusion_ranges`, `consistency_ranges`), the caller resolves them and `fold`s.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

Range = tuple[int, int]  # [start, end) of leaf indices
Part = tuple[int, int]  # (level, index): a complete aligned subtree

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(entry: bytes) -> bytes:
    """MTH({d}) = SHA-256(0x00 || d)."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """SHA-256(0x01 || left || right)."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def split(n: int) -> int:
    """The largest power of two smaller than n (n >= 2)."""
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def root(leaves: Sequence[bytes]) -> bytes:
    """MTH of a list of leaf hashes (in memory; for tests and small tails)."""
    if not leaves:
        return EMPTY_ROOT
    return _mth(leaves, 0, len(leaves))


def _mth(leaves: Sequence[bytes], a: int, b: int) -> bytes:
    if b - a == 1:
        return leaves[a]
    k = split(b - a)
    return node_hash(_mth(leaves, a, a + k), _mth(leaves, a + k, b))


def perfect_parts(a: int, b: int) -> list[Part]:
    """The complete aligned subtrees whose fold is MTH(D[a:b]), largest first."""
    parts: list[Part] = []
    while b - a > 0:
        n = b - a
        size = n if n & (n - 1) == 0 else split(n)
        level = size.bit_length() - 1
        if a % size:
            raise ValueError(f"range [{a}, {b}) is not one the RFC 9162 recursion visits")
        parts.append((level, a >> level))
        a += size
    return parts


def fold(hashes: Sequence[bytes]) -> bytes:
    """Combine the hashes of `perfect_parts(a, b)` (largest first) into MTH(D[a:b])."""
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for h in reversed(hashes[:-1]):
        acc = node_hash(h, acc)
    return acc


def inclusion_ranges(m: int, n: int) -> list[Range]:
    """The ranges whose hashes are PATH(m, D[0:n]) (RFC 9162 2.1.3.1), in proof order."""
    if not 0 <= m < n:
        raise ValueError("leaf index out of range")
    out: list[Range] = []
    a, b = 0, n
    # Walk down from the root; the path lists siblings bottom-up, so collect then reverse.
    while b - a > 1:
        k = split(b - a)
        if m < a + k:
            out.append((a + k, b))
            b = a + k
        else:
            out.append((a, a + k))
            a = a + k
    out.reverse()
    return out


def consistency_ranges(m: int, n: int) -> list[Range]:
    """The ranges whose hashes are PROOF(m, D[0:n]) (RFC 9162 2.1.4.1), in proof order."""
    if not 0 < m <= n:
        raise ValueError("sizes out of range")
    out: list[Range] = []
    a, b, flag = 0, n, True
    # SUBPROOF(m, D[a:b], flag) with m counted from a.
    while True:
        size = b - a
        if m == size:
            if not flag:
                out.append((a, b))
            break
        k = split(size)
        if m <= k:
            out.append((a + k, b))
            b = a + k
        else:
            out.append((a, a + k))
            a, m, flag = a + k, m - k, False
    out.reverse()
    return out


def resolve(ranges: Sequence[Range], part_hash: Callable[[Part], bytes]) -> list[bytes]:
    """The hashes of `ranges`, given the hash of each perfect part."""
    return [fold([part_hash(p) for p in perfect_parts(a, b)]) for a, b in ranges]


def verify_inclusion(
    *, leaf: bytes, index: int, tree_size: int, path: Sequence[bytes], root_hash: bytes
) -> bool:
    """RFC 9162 2.1.3.2: does `path` prove leaf hash `leaf` at `index` in the tree `root_hash`?"""
    if not 0 <= index < tree_size:
        return False
    fn, sn = index, tree_size - 1
    r = leaf
    for p in path:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root_hash


def verify_consistency(
    *, first: int, second: int, first_hash: bytes, second_hash: bytes, proof: Sequence[bytes]
) -> bool:
    """RFC 9162 2.1.4.2: does `proof` show the tree `first_hash` is a prefix of `second_hash`?"""
    if first < 0 or second < first:
        return False
    if first == second:
        return not proof and first_hash == second_hash
    if first == 0:
        return not proof  # the empty tree is a prefix of every tree
    if not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:  # exact power of two: prepend first_hash
        path.insert(0, first_hash)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn and not fn & 1:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return fr == first_hash and sr == second_hash and sn == 0
