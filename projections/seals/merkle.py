"""The Merkle tree of RFC 9162 over the ledger's stored records: leaves, roots, proofs and their checks.

Pure: hashlib and nothing else (no store, no clock). The formats are those of ``docs/seals.md``:

- a **record** is the stored event exactly as the store holds it: ``position`` (8 bytes, big-endian,
  unsigned) ‖ ``originator_id`` (16 bytes, the UUID's bytes) ‖ ``originator_version`` (8 bytes BE) ‖
  ``len(topic)`` (4 bytes BE) ‖ ``topic`` (UTF-8) ‖ ``len(state)`` (4 bytes BE) ‖ ``state`` (the
  stored bytes);
- its **content** is the same without the position (so an event moved to another position keeps
  its content hash: verification tells a reordering from an edit by it);
- ``leaf = SHA-256(0x00 ‖ record)``, ``node = SHA-256(0x01 ‖ left ‖ right)``; the tree of ``n``
  leaves is RFC 9162's ``MTH`` (§2.1.1): split at the largest power of two below ``n``.

**Perfect subtrees.** Every node of such a tree is either an aligned perfect subtree (``2^j``
leaves starting at a multiple of ``2^j``) or the fold of a run of them along the tree's right
edge. :class:`MerkleStack` adds leaves one at a time keeping only the perfect subtrees of the
binary decomposition of the size (at most 64 hashes), and says which perfect subtrees each new
leaf completes: leaf ``i`` completes the subtrees of ``1, 2, 4 … 2^k`` leaves that end at it, where
``2^k`` is the largest power of two dividing ``i + 1``. Stored with the leaf, they let any node of
any tree size be computed from ``O(log n)`` stored hashes (:func:`perfect_pieces`), which is how
proofs are made without holding the tree in memory.

**Proofs** (RFC 9162 §2.1.3 and §2.1.4): :func:`path_ranges` and :func:`consistency_ranges` say
which nodes (leaf ranges) an inclusion or consistency proof is made of, in the RFC's order;
:func:`verify_inclusion` and :func:`verify_consistency` are the RFC's verification algorithms.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Callable, Iterable, Sequence

HASH_SIZE = 32
LEAF_PREFIX = b"\x00"
NODE_PREFIX = b"\x01"
EMPTY_ROOT = hashlib.sha256(b"").digest()
"""The root of the empty tree (RFC 9162: the hash of the empty string)."""

_HEAD = struct.Struct(">Q16sQI")
_LENGTH = struct.Struct(">I")
_sha256 = hashlib.sha256


# Records and leaves --------------------------------------------------------------------------


def content(originator_id: bytes, version: int, topic: bytes, state: bytes) -> bytes:
    """A stored event's bytes without its position: id ‖ version ‖ len(topic) ‖ topic ‖ len(state) ‖ state."""
    return _HEAD.pack(0, originator_id, version, len(topic))[8:] + topic + _LENGTH.pack(len(state)) + state


def record(position: int, originator_id: bytes, version: int, topic: bytes, state: bytes) -> bytes:
    """A stored event's canonical bytes: position ‖ its :func:`content`."""
    return _HEAD.pack(position, originator_id, version, len(topic)) + topic + _LENGTH.pack(len(state)) + state


def leaf_hash(record_bytes: bytes) -> bytes:
    return _sha256(LEAF_PREFIX + record_bytes).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return _sha256(NODE_PREFIX + left + right).digest()


# Trees ------------------------------------------------------------------------------------------


def largest_power_below(n: int) -> int:
    """The largest power of two strictly less than ``n`` (``n`` ≥ 2)."""
    return 1 << ((n - 1).bit_length() - 1)


def mth(leaves: Sequence[bytes]) -> bytes:
    """RFC 9162's Merkle Tree Hash of leaf hashes, by its recursive definition (for tests and small trees)."""
    if not leaves:
        return EMPTY_ROOT
    if len(leaves) == 1:
        return leaves[0]
    k = largest_power_below(len(leaves))
    return node_hash(mth(leaves[:k]), mth(leaves[k:]))


def fold(pieces: Sequence[bytes]) -> bytes:
    """The hash of a node made of perfect subtrees in descending sizes, left to right (the right edge)."""
    if not pieces:
        return EMPTY_ROOT
    found = pieces[-1]
    for piece in reversed(pieces[:-1]):
        found = node_hash(piece, found)
    return found


class MerkleStack:
    """A tree grown a leaf at a time, keeping only the perfect subtrees of its size's binary decomposition.

    ``stack[i]`` is the hash of a perfect subtree, largest first; their sizes are the set bits of
    :attr:`size`, from the highest. :meth:`push` answers the hashes of the perfect subtrees the new
    leaf completes (the leaf itself, then those of 2, 4 … leaves ending at it).
    """

    __slots__ = ("size", "stack")

    def __init__(self, size: int = 0, stack: Iterable[bytes] = ()) -> None:
        self.size = size
        self.stack = list(stack)
        if len(self.stack) != size.bit_count():
            raise ValueError(f"a tree of {size} leaves has {size.bit_count()} perfect subtrees, not {len(self.stack)}")

    def push(self, leaf: bytes) -> list[bytes]:
        completed = [leaf]
        node = leaf
        self.size += 1
        merges = (self.size & -self.size).bit_length() - 1
        stack = self.stack
        for _ in range(merges):
            node = _sha256(NODE_PREFIX + stack.pop() + node).digest()
            completed.append(node)
        stack.append(node)
        return completed

    def root(self) -> bytes:
        return fold(self.stack)

    def copy(self) -> MerkleStack:
        return MerkleStack(self.size, self.stack)


def decomposition(size: int, start: int = 0) -> list[tuple[int, int]]:
    """The perfect subtrees ``(start, leaves)`` folding to the tree of ``size`` leaves from ``start``, largest first."""
    found = []
    bit = 1 << max(size.bit_length() - 1, 0)
    while bit:
        if size & bit:
            found.append((start, bit))
            start += bit
        bit >>= 1
    return found


def perfect_pieces(start: int, end: int) -> list[tuple[int, int]]:
    """The aligned perfect subtrees that make the node of leaves ``[start, end)`` (a node of some tree)."""
    return decomposition(end - start, start)


def node_of(start: int, end: int, perfect: Callable[[int, int], bytes]) -> bytes:
    """The hash of the node of leaves ``[start, end)``, from ``perfect(start, leaves)`` of its pieces."""
    return fold([perfect(s, n) for s, n in perfect_pieces(start, end)])


def row_of(start: int, leaves: int) -> tuple[int, int]:
    """Where a perfect subtree's hash is kept: (the index of its last leaf, which of that leaf's completed hashes)."""
    return start + leaves - 1, leaves.bit_length() - 1


# Proofs ---------------------------------------------------------------------------------------


def path_ranges(index: int, size: int) -> list[tuple[int, int]]:
    """The nodes ``[start, end)`` of the inclusion proof of leaf ``index`` in the tree of ``size`` leaves
    (RFC 9162 §2.1.3.1, ``PATH(m, D[n])``), from the leaf's side up."""
    if not 0 <= index < size:
        raise ValueError(f"leaf {index} is not in a tree of {size} leaves")
    found: list[tuple[int, int]] = []
    start, end = 0, size
    while end - start > 1:
        k = largest_power_below(end - start)
        if index < start + k:
            found.append((start + k, end))
            end = start + k
        else:
            found.append((start, start + k))
            start += k
    found.reverse()
    return found


def consistency_ranges(first: int, second: int) -> list[tuple[int, int]]:
    """The nodes of the consistency proof between trees of ``first`` and ``second`` leaves
    (RFC 9162 §2.1.4.1, ``PROOF(m, D[n])``), in the RFC's order; empty when the sizes are equal."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from {first} to {second} leaves")
    found: list[tuple[int, int]] = []
    start, end, m, whole = 0, second, first, True
    while m != end - start:
        k = largest_power_below(end - start)
        if m <= k:
            found.append((start + k, end))
            end = start + k
        else:
            found.append((start, start + k))
            m -= k
            start += k
            whole = False
    if not whole:
        found.append((start, end))
    found.reverse()
    return found


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: whether ``path`` proves leaf hash ``leaf`` at ``index`` of a tree of ``size``, ``root``."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, leaf
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
    return sn == 0 and r == root


def verify_consistency(first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: whether ``proof`` shows the tree of ``second`` leaves extends that of ``first``.

    Equal sizes need an empty proof and equal roots (the RFC covers ``first < second`` only).
    """
    if first == second:
        return not proof and first_root == second_root
    if not 0 < first < second or not proof:
        return False
    path = list(proof)
    if first & (first - 1) == 0:
        path.insert(0, first_root)
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
    return fr == first_root and sr == second_root and sn == 0
