"""RFC 6962 Merkle tree hash: roots, an append-only frontier, inclusion and consistency proofs.

A day seal commits to every window of its part with the Merkle tree hash (MTH) of RFC 6962
§2.1, the commitment of Certificate Transparency's logs:

- a leaf is ``SHA-256(0x00 ‖ entry)`` and an inner node ``SHA-256(0x01 ‖ left ‖ right)``; the
  two prefixes keep an inner node from passing as a leaf (second-preimage resistance);
- ``MTH`` of n > 1 entries splits them at k, the largest power of two below n, and hashes the
  two halves' roots; the empty tree's root is ``SHA-256("")``.

The agent keeps a :class:`Frontier` (the roots of the perfect subtrees of n's binary
decomposition: at most 11 hashes for a 1 440-window day) and so never re-reads a day's
windows to re-seal it. A reviewer handed one window checks it against a sealed root with an
inclusion proof (§2.1.1); a consistency proof (§2.1.2) shows that a day's version 2 only
appended to version 1's leaves. Verification follows RFC 9162 §2.1.3.2 and §2.1.4.2.

Sizes and indexes are plain ints (0-based leaf indexes). The verify functions take untrusted
input and answer ``False`` for anything that does not prove the claim (wrong lengths, sizes
out of range, any changed bit); they never raise on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "Frontier",
    "consistency_proof",
    "inclusion_proof",
    "leaf_hash",
    "node_hash",
    "root",
    "root_of_hashes",
    "verify_consistency",
    "verify_inclusion",
]

#: Bytes in a SHA-256 digest: every leaf, node, root and proof element.
HASH_SIZE = 32
#: MTH of the empty tree: SHA-256 of no bytes (RFC 6962 §2.1).
EMPTY_ROOT = hashlib.sha256(b"").digest()

_LEAF_PREFIX = b"\x00"
_NODE_PREFIX = b"\x01"
_SIZE_BYTES = 8


def leaf_hash(entry: bytes) -> bytes:
    """``SHA-256(0x00 ‖ entry)``: the hash of one leaf (for a seal, a window's canonical bytes)."""
    return hashlib.sha256(_LEAF_PREFIX + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """``SHA-256(0x01 ‖ left ‖ right)``: the hash of an inner node."""
    return hashlib.sha256(_NODE_PREFIX + left + right).digest()


def _split(size: int) -> int:
    """k of RFC 6962 §2.1: the largest power of two smaller than ``size`` (> 1)."""
    return 1 << ((size - 1).bit_length() - 1)


def _mth(hashes: Sequence[bytes]) -> bytes:
    if not hashes:
        return EMPTY_ROOT
    if len(hashes) == 1:
        return hashes[0]
    k = _split(len(hashes))
    return node_hash(_mth(hashes[:k]), _mth(hashes[k:]))


def root(entries: Iterable[bytes]) -> bytes:
    """MTH of ``entries`` in their order (each hashed as a leaf first)."""
    return _mth([leaf_hash(entry) for entry in entries])


def root_of_hashes(leaf_hashes: Sequence[bytes]) -> bytes:
    """MTH of leaves already hashed with :func:`leaf_hash`, in their order."""
    return _mth(leaf_hashes)


class Frontier:
    """An append-only Merkle tree kept as its compact range: O(log n) hashes, O(log n) appends.

    ``hashes`` are the roots of the perfect subtrees that n's binary decomposition gives, the
    largest (leftmost) first; folding them right to left gives MTH (RFC 6962's split at the
    largest power of two is exactly that decomposition).
    """

    __slots__ = ("_hashes", "_size")

    def __init__(self) -> None:
        self._size = 0
        self._hashes: list[bytes] = []

    @property
    def size(self) -> int:
        """How many leaves have been appended."""
        return self._size

    @property
    def hashes(self) -> tuple[bytes, ...]:
        """The perfect subtrees' roots, largest first (one per set bit of ``size``)."""
        return tuple(self._hashes)

    def append(self, entry: bytes) -> None:
        """Append one entry (hashed as a leaf)."""
        self.append_hash(leaf_hash(entry))

    def append_hash(self, leaf: bytes) -> None:
        """Append one leaf already hashed with :func:`leaf_hash`; ValueError if not 32 bytes."""
        if len(leaf) != HASH_SIZE:
            raise ValueError(f"a leaf hash is {HASH_SIZE} bytes, got {len(leaf)}")
        carry, size = leaf, self._size
        # Like a binary counter: each trailing 1 bit of size is a perfect subtree of the same
        # height as the carry, merged into one twice as tall.
        while size & 1:
            carry = node_hash(self._hashes.pop(), carry)
            size >>= 1
        self._hashes.append(carry)
        self._size += 1

    def root(self) -> bytes:
        """MTH of every leaf appended so far (``EMPTY_ROOT`` when none)."""
        if not self._hashes:
            return EMPTY_ROOT
        folded = self._hashes[-1]
        for subtree in reversed(self._hashes[:-1]):
            folded = node_hash(subtree, folded)
        return folded

    def to_bytes(self) -> bytes:
        """The size as 8 bytes big-endian, then the subtree roots, largest first."""
        return self._size.to_bytes(_SIZE_BYTES, "big") + b"".join(self._hashes)

    @classmethod
    def from_bytes(cls, data: bytes) -> Frontier:
        """The frontier :meth:`to_bytes` wrote; ValueError saying what is wrong otherwise."""
        if len(data) < _SIZE_BYTES:
            raise ValueError(f"a frontier is at least {_SIZE_BYTES} bytes, got {len(data)}")
        size = int.from_bytes(data[:_SIZE_BYTES], "big")
        body = data[_SIZE_BYTES:]
        expected = HASH_SIZE * size.bit_count()
        if len(body) != expected:
            raise ValueError(
                f"a frontier of {size} leaves holds {size.bit_count()} hashes "
                f"({expected} bytes after the size), got {len(body)} bytes"
            )
        frontier = cls()
        frontier._size = size
        frontier._hashes = [body[i : i + HASH_SIZE] for i in range(0, expected, HASH_SIZE)]
        return frontier

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Frontier):
            return NotImplemented
        return self._size == other._size and self._hashes == other._hashes

    def __hash__(self) -> int:
        return hash((self._size, tuple(self._hashes)))

    def __repr__(self) -> str:
        return f"Frontier(size={self._size}, root={self.root().hex()})"


def _path(index: int, hashes: Sequence[bytes]) -> list[bytes]:
    """PATH(m, D[n]) of RFC 6962 §2.1.1, bottom up."""
    if len(hashes) <= 1:
        return []
    k = _split(len(hashes))
    if index < k:
        return [*_path(index, hashes[:k]), _mth(hashes[k:])]
    return [*_path(index - k, hashes[k:]), _mth(hashes[:k])]


def inclusion_proof(entries: Sequence[bytes], index: int) -> list[bytes]:
    """The audit path of leaf ``index`` (0-based) in the tree of ``entries``, bottom up.

    Raises ValueError when ``index`` is not a leaf of that tree.
    """
    if not 0 <= index < len(entries):
        raise ValueError(f"leaf index {index} is outside a tree of {len(entries)} leaves")
    return _path(index, [leaf_hash(entry) for entry in entries])


def _subproof(size1: int, hashes: Sequence[bytes], complete: bool) -> list[bytes]:
    """SUBPROOF(m, D[n], b) of RFC 6962 §2.1.2."""
    if size1 == len(hashes):
        return [] if complete else [_mth(hashes)]
    k = _split(len(hashes))
    if size1 <= k:
        return [*_subproof(size1, hashes[:k], complete), _mth(hashes[k:])]
    return [*_subproof(size1 - k, hashes[k:], False), _mth(hashes[:k])]


def consistency_proof(entries: Sequence[bytes], size1: int) -> list[bytes]:
    """The proof that the tree of ``entries[:size1]`` is a prefix of the tree of ``entries``.

    Empty when ``size1`` is 0 or the whole tree. Raises ValueError when ``size1`` is negative
    or larger than the tree.
    """
    if not 0 <= size1 <= len(entries):
        raise ValueError(f"size {size1} is outside 0..{len(entries)}")
    if size1 in (0, len(entries)):
        return []
    return _subproof(size1, [leaf_hash(entry) for entry in entries], True)


def _well_formed(*hashes: bytes) -> bool:
    return all(len(value) == HASH_SIZE for value in hashes)


def _shift_while_even(fn: int, sn: int) -> tuple[int, int]:
    while fn and not fn & 1:
        fn >>= 1
        sn >>= 1
    return fn, sn


def verify_inclusion(
    leaf: bytes, index: int, size: int, proof: Sequence[bytes], tree_root: bytes
) -> bool:
    """Whether ``proof`` shows the leaf hash ``leaf`` at ``index`` of the tree ``tree_root``.

    RFC 9162 §2.1.3.2; ``leaf`` is :func:`leaf_hash` of the entry.
    """
    if not 0 <= index < size or not _well_formed(leaf, tree_root, *proof):
        return False
    fn, sn, folded = index, size - 1, leaf
    for sibling in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            folded = node_hash(sibling, folded)
            fn, sn = _shift_while_even(fn, sn)
        else:
            folded = node_hash(folded, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and folded == tree_root


def verify_consistency(
    size1: int, size2: int, root1: bytes, root2: bytes, proof: Sequence[bytes]
) -> bool:
    """Whether ``proof`` shows the tree ``root1`` of ``size1`` leaves is a prefix of ``root2``.

    RFC 9162 §2.1.4.2. The empty tree is a prefix of every tree (with an empty proof); equal
    sizes need equal roots and an empty proof.
    """
    if not 0 <= size1 <= size2 or not _well_formed(root1, root2, *proof):
        return False
    if size1 == 0 or size1 == size2:
        return not proof and (size1 == 0 or root1 == root2)
    if not proof:
        return False
    path = [root1, *proof] if size1 & (size1 - 1) == 0 else list(proof)
    fn, sn = size1 - 1, size2 - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    first = second = path[0]
    for node in path[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            first = node_hash(node, first)
            second = node_hash(node, second)
            fn, sn = _shift_while_even(fn, sn)
        else:
            second = node_hash(second, node)
        fn >>= 1
        sn >>= 1
    return sn == 0 and first == root1 and second == root2
