"""RFC 9162 section 2.1 hashing and proofs, against the RFC's recursive definitions."""

from __future__ import annotations

import hashlib

import pytest

from satu.exchange import merkle


def _leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(f"entry {i}".encode()) for i in range(n)]


# The RFC's definitions, written over lists (2.1.1, 2.1.3.1, 2.1.4.1).
def _mth(d: list[bytes]) -> bytes:
    if not d:
        return hashlib.sha256(b"").digest()
    if len(d) == 1:
        return d[0]
    k = merkle.split(len(d))
    return hashlib.sha256(b"\x01" + _mth(d[:k]) + _mth(d[k:])).digest()


def _path(m: int, d: list[bytes]) -> list[bytes]:
    if len(d) == 1:
        return []
    k = merkle.split(len(d))
    if m < k:
        return [*_path(m, d[:k]), _mth(d[k:])]
    return [*_path(m - k, d[k:]), _mth(d[:k])]


def _subproof(m: int, d: list[bytes], b: bool) -> list[bytes]:
    n = len(d)
    if m == n:
        return [] if b else [_mth(d)]
    k = merkle.split(n)
    if m <= k:
        return [*_subproof(m, d[:k], b), _mth(d[k:])]
    return [*_subproof(m - k, d[k:], False), _mth(d[:k])]


def _by_parts(leaves: list[bytes]):
    def part(p: merkle.Part) -> bytes:
        level, i = p
        return _mth(leaves[i << level : (i + 1) << level])

    return part


def test_hashes_follow_the_rfc() -> None:
    assert merkle.leaf_hash(b"") == hashlib.sha256(b"\x00").digest()
    assert merkle.node_hash(b"a", b"b") == hashlib.sha256(b"\x01ab").digest()
    assert merkle.root([]) == hashlib.sha256(b"").digest()
    for n in range(1, 40):
        leaves = _leaves(n)
        assert merkle.root(leaves) == _mth(leaves)
        part = _by_parts(leaves)
        assert merkle.fold([part(p) for p in merkle.perfect_parts(0, n)]) == _mth(leaves)


def test_a_known_root() -> None:
    # Leaves "" and "\x00" (a two-leaf tree): H(1 || H(0||"") || H(0||0x00)).
    left, right = merkle.leaf_hash(b""), merkle.leaf_hash(b"\x00")
    assert merkle.root([left, right]).hex() == hashlib.sha256(b"\x01" + left + right).hexdigest()


@pytest.mark.parametrize("n", [*range(1, 34), 63, 64, 65, 100, 127, 129])
def test_inclusion_proofs_for_many_sizes(n: int) -> None:
    leaves = _leaves(n)
    root = _mth(leaves)
    part = _by_parts(leaves)
    for m in range(n):
        path = merkle.resolve(merkle.inclusion_ranges(m, n), part)
        assert path == _path(m, leaves)
        assert merkle.verify_inclusion(
            leaf=leaves[m], index=m, tree_size=n, path=path, root_hash=root
        )
        other = (m + 1) % n
        if other != m:
            assert not merkle.verify_inclusion(
                leaf=leaves[other], index=m, tree_size=n, path=path, root_hash=root
            )
        assert not merkle.verify_inclusion(
            leaf=leaves[m], index=m, tree_size=n, path=path, root_hash=merkle.leaf_hash(b"x")
        )
        if path:
            assert not merkle.verify_inclusion(
                leaf=leaves[m], index=m, tree_size=n, path=path[:-1], root_hash=root
            )
            bad = [*path[:-1], bytes(32)]
            assert not merkle.verify_inclusion(
                leaf=leaves[m], index=m, tree_size=n, path=bad, root_hash=root
            )
    assert not merkle.verify_inclusion(
        leaf=leaves[0], index=n, tree_size=n, path=[], root_hash=root
    )


@pytest.mark.parametrize("n", [*range(1, 34), 64, 65, 100])
def test_consistency_proofs_for_many_sizes(n: int) -> None:
    leaves = _leaves(n)
    part = _by_parts(leaves)
    second = _mth(leaves)
    for m in range(1, n + 1):
        first = _mth(leaves[:m])
        proof = merkle.resolve(merkle.consistency_ranges(m, n), part) if m < n else []
        if m < n:
            assert proof == _subproof(m, leaves, True)
        assert merkle.verify_consistency(
            first=m, second=n, first_hash=first, second_hash=second, proof=proof
        )
        if m < n:
            assert not merkle.verify_consistency(
                first=m, second=n, first_hash=bytes(32), second_hash=second, proof=proof
            )
            assert not merkle.verify_consistency(
                first=m, second=n, first_hash=first, second_hash=bytes(32), proof=proof
            )
            assert not merkle.verify_consistency(
                first=m, second=n, first_hash=first, second_hash=second, proof=[]
            )
            assert not merkle.verify_consistency(
                first=m, second=n, first_hash=first, second_hash=second, proof=proof[:-1]
            )
            # A tree that rewrote an old leaf is not consistent with the old head.
            forged = list(leaves)
            forged[m - 1] = merkle.leaf_hash(b"rewritten")
            assert not merkle.verify_consistency(
                first=m,
                second=n,
                first_hash=first,
                second_hash=_mth(forged),
                proof=merkle.resolve(merkle.consistency_ranges(m, n), _by_parts(forged))
                if m < n
                else [],
            )


def test_bad_ranges_are_refused() -> None:
    with pytest.raises(ValueError):
        merkle.inclusion_ranges(3, 3)
    with pytest.raises(ValueError):
        merkle.consistency_ranges(0, 3)
    with pytest.raises(ValueError):
        merkle.perfect_parts(1, 3)
