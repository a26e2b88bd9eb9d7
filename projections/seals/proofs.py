"""Proofs from the stored tree: an event's inclusion under a seal, and one seal's tree extending another's.

Both are RFC 9162's (§2.1.3, §2.1.4), made of ``O(log n)`` node hashes, each computed from the
perfect subtrees stored with the leaves (:func:`projections.seals.sealer.subtree_hashes`): one
query for all of them, never the whole tree. Before a proof is given out it is checked here with
the same algorithm an auditor runs (:func:`~projections.seals.merkle.verify_inclusion`,
:func:`~projections.seals.merkle.verify_consistency`) against the signed root, and an inclusion's
record is re-read from the log and re-hashed: a proof that would not verify is never answered;
the caller is told the stored record or tree is damaged instead (and verification says where).
"""

from __future__ import annotations

from dataclasses import dataclass

from ledger.errors import InvalidInput, NotFound, RuleViolation
from projections.seals import merkle, tables
from projections.seals.model import Seal
from projections.seals.sealer import event_record, subtree_hashes
from projections.seals.store import SealStore, Session


class UnknownPosition(NotFound):
    def __init__(self, position: int) -> None:
        super().__init__("event", position)
        self.reason = f"the log has no event at position {position}"
        self.args = (self.reason,)


class UnknownSeal(NotFound):
    def __init__(self, seq: int | None) -> None:
        super().__init__("seal", seq)
        self.reason = "there is no seal yet: record one first" if seq is None else f"there is no seal {seq}"
        self.args = (self.reason,)


class NotSealed(RuleViolation):
    def __init__(self, position: int, seal: Seal | None) -> None:
        under = f"under seal {seal.seq} (it ends at position {seal.last_position})" if seal else "by any seal"
        super().__init__(
            "seal.not_sealed",
            f"the event at position {position} is not sealed {under}: ask for a later seal, or record one",
        )


class Damaged(RuleViolation):
    """The stored log or tree does not give a proof that verifies (verification says where and how)."""

    def __init__(self, reason: str) -> None:
        super().__init__("seal.damaged", f"{reason}; run verification (GET /v1/audit/verify, or tiexin verify)")


@dataclass(frozen=True)
class Inclusion:
    seal: Seal
    position: int
    leaf_index: int
    record: bytes
    """The event's canonical record: its leaf hash is SHA-256(0x00 ‖ record)."""
    leaf_hash: bytes
    path: tuple[bytes, ...]


@dataclass(frozen=True)
class Consistency:
    first: Seal
    second: Seal
    proof: tuple[bytes, ...]


def find_seal(session: Session, seq: int | None) -> Seal:
    """Seal ``seq``, or the latest (None); UnknownSeal if there is no such seal."""
    row = session.one(tables.LATEST) if seq is None else session.one(tables.SEAL, [seq])
    if row is None:
        raise UnknownSeal(seq)
    return Seal.from_row(row)


def nodes(session: Session, ranges: list[tuple[int, int]]) -> tuple[bytes, ...]:
    """The hashes of the nodes ``[start, end)``, from the stored perfect subtrees (one query)."""
    pieces = sorted({p for start, end in ranges for p in merkle.perfect_pieces(start, end)})
    try:
        found = subtree_hashes(session, pieces)
    except KeyError:
        raise Damaged("the stored tree lacks leaves a proof needs") from None
    return tuple(merkle.fold([found[p] for p in merkle.perfect_pieces(start, end)]) for start, end in ranges)


def inclusion(store: SealStore, position: int, seq: int | None = None) -> Inclusion:
    """The proof that the event at ``position`` is in seal ``seq``'s tree (default: the latest seal's)."""
    with store.reading() as session:
        row = session.one(tables.AT_POSITION, [position])
        event = session.event_at(position)
        if row is None and event is None:
            raise UnknownPosition(position)
        latest = session.one(tables.LATEST)
        if seq is None and latest is None:
            raise NotSealed(position, None)
        seal = find_seal(session, seq)
        if row is None or int(row[0]) >= seal.tree_size:
            raise NotSealed(position, seal)
        index, stored_leaf = int(row[0]), bytes(row[2])
        if event is None:
            raise Damaged(f"the event sealed at position {position} is gone from the log")
        path = nodes(session, merkle.path_ranges(index, seal.tree_size))
    record = event_record(event, store.text_ids)
    leaf = merkle.leaf_hash(record)
    if leaf != stored_leaf:
        raise Damaged(f"the event at position {position} is not the one sealed there")
    if not merkle.verify_inclusion(leaf, index, seal.tree_size, path, bytes.fromhex(seal.root)):
        raise Damaged(f"the stored tree does not give seal {seal.seq}'s root")
    return Inclusion(seal, position, index, record, leaf, path)


def consistency(store: SealStore, first: int, second: int) -> Consistency:
    """The proof that seal ``second``'s tree extends seal ``first``'s (the log only grew in between)."""
    if first > second:
        raise InvalidInput("query.from", f"seal {first} is after seal {second}: give the earlier seal as `from`")
    with store.reading() as session:
        old, new = find_seal(session, first), find_seal(session, second)
        if old.tree_size > new.tree_size:
            raise Damaged(f"seal {first} covers more leaves ({old.tree_size}) than the later seal {second}")
        proof = nodes(session, merkle.consistency_ranges(old.tree_size, new.tree_size))
    if not merkle.verify_consistency(
        old.tree_size, new.tree_size, bytes.fromhex(old.root), bytes.fromhex(new.root), proof
    ):
        raise Damaged(f"the stored tree does not show seal {second} extending seal {first}")
    return Consistency(old, new, proof)


def seals_after(store: SealStore, after: int, limit: int) -> list[Seal]:
    with store.reading() as session:
        return [Seal.from_row(r) for r in session.rows(tables.SEALS_AFTER, [after, limit])]


def all_seals(store: SealStore) -> list[Seal]:
    with store.reading() as session:
        return [Seal.from_row(r) for r in session.rows(tables.ALL_SEALS)]


def latest_seal(store: SealStore) -> Seal | None:
    with store.reading() as session:
        row = session.one(tables.LATEST)
    return None if row is None else Seal.from_row(row)
