"""Verification: the log recomputed from the store and checked against every signed seal.

What :func:`verify` does, in one snapshot of the store and in bounded memory (a page of events at a
time, whatever the log's length):

1. **The seals' signatures.** Each seal's Ed25519 signature over ``tiexin-seal/1 {tree_size}
   {root} {sealed_at}`` must verify: under the public key given (the bureau's, from its key file
   or an auditor's copy), else under the key its seals file lists for its fingerprint, else under
   the key stored with it. A seal that does not is **forged**, and nothing else is believed.
2. **The log against the roots.** Every stored event is read in position order, its leaf hashed
   from its bytes exactly as stored, and the tree grown (:class:`~projections.seals.merkle.MerkleStack`,
   inlined here for speed); at each sealed size its root must be the signed one, and the position of
   its last leaf the seal's ``last_position``. Events after the last seal are counted, not judged.
3. **The stored tree against the log.** Page by page, the stored ``seal_leaves`` (each leaf and the
   perfect subtrees it completes: what proofs are made of) must be byte for byte what the events
   give (one comparison per page; PostgreSQL joins the page's hashes itself). As the recomputed
   roots are the signed ones, the stored leaves are so checked against every signed root too.
4. **Where and how, when it fails.** From the last seal that still matches, the stored leaves and
   the events are walked side by side by position, to the first that differ:

   - **edited**: the event at a sealed position is not the one sealed there;
   - **deleted**: the event sealed at a position is gone;
   - **inserted**: an event stands at a position that was never sealed (sealed positions skip it);
   - **reordered**: the event now at a position was sealed at another (its content hash, which
     leaves the position out, is found there);
   - **altered**: the log no longer gives a seal's root but the stored leaves were changed to
     match it, so which event cannot be told (only between which positions);
   - **leaves**: the log is intact but the stored leaves are not (proofs through them would fail).

The answer is a :class:`VerifyResult`: "intact up to position P under seal S", or the first
position that no longer matches and how.
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from projections.seals import merkle, tables
from projections.seals.keys import PublicKey, SealKeyError
from projections.seals.model import Seal, SealsFile
from projections.seals.sealer import uuid_bytes
from projections.seals.store import EventRow, SealStore, Session

PAGE = 2000
"""Events a page: on PostgreSQL the next page is read while this one is hashed, and pages this small
fit in the connection's buffers, so the server's reading and our hashing overlap best."""

_HEAD = struct.Struct(">BQ16sQI").pack
_LENGTH = struct.Struct(">I").pack
_POSITION = struct.Struct(">Q").pack
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class VerifyResult:
    """What verification found (see the module's docstring)."""

    intact: bool
    summary: str
    """"intact up to position P under seal S", or the first position that no longer matches and how."""
    seal: int | None
    """Intact: the latest seal; otherwise the seal the store no longer matches (None: no seal at all)."""
    position: int | None
    """Intact: the last sealed position; otherwise the first position that no longer matches."""
    kind: str | None = None
    """edited · deleted · inserted · reordered · altered · leaves · forged (None when intact)."""
    detail: str | None = None
    tree_size: int = 0
    """Leaves the seals cover."""
    seals: int = 0
    unsealed: int = 0
    """Events after the last sealed position (not yet covered by a seal)."""
    events_read: int = 0
    key: str = ""
    """Which key the signatures were checked with."""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.intact


class Failure(Exception):
    def __init__(self, position: int | None, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.position, self.kind, self.detail = position, kind, detail


def verify(
    store: SealStore,
    *,
    seals: SealsFile | Sequence[Seal] | None = None,
    public_key: PublicKey | None = None,
    page: int = PAGE,
) -> VerifyResult:
    """Verify the store's log against the seals (the store's own when none are given)."""
    started = time.perf_counter()
    has_tables = store.has_tables()
    with store.reading() as session:
        if seals is None:
            listed = tuple(Seal.from_row(r) for r in session.rows(tables.ALL_SEALS)) if has_tables else ()
            file_keys = None
        elif isinstance(seals, SealsFile):
            listed, file_keys = seals.seals, seals
        else:
            listed, file_keys = tuple(seals), None
        key = _key_label(public_key, file_keys, listed)
        if not listed:
            unsealed = session.count_after(0)
            summary = f"nothing sealed yet: no seal to check the log against ({unsealed:,} events)"
            found = _Found(True, summary, None, None, unsealed=unsealed)
        elif (forged := _forged(listed, public_key, file_keys)) is not None:
            seal, detail = forged
            found = _Found(False, f"seal {seal.seq} is refused: {detail}", seal.seq, None, "forged", detail)
        else:
            found = _Check(store, session, listed, has_tables, page).run()
    return VerifyResult(**found.__dict__, seals=len(listed), key=key, seconds=time.perf_counter() - started)


def _key_label(public_key: PublicKey | None, file_keys: SealsFile | None, seals: Sequence[Seal]) -> str:
    if public_key is not None:
        return f"the given public key {public_key.fingerprint[:16]}…"
    if file_keys is not None:
        return f"the seals file's public key{'s' if len(file_keys.public_keys) > 1 else ''}"
    prints = sorted({s.key_fingerprint[:16] for s in seals})
    return f"the key stored with the seals ({', '.join(p + '…' for p in prints)})" if prints else "none"


def _forged(
    seals: Sequence[Seal], public_key: PublicKey | None, file_keys: SealsFile | None
) -> tuple[Seal, str] | None:
    """The first seal whose signature does not verify, and why (None: all do)."""
    for seal in seals:
        if public_key is not None:
            key: PublicKey | None = public_key
        elif file_keys is not None:
            key = file_keys.key_of(seal.key_fingerprint)
        else:
            try:
                key = PublicKey.from_raw(bytes.fromhex(seal.public_key))
            except (ValueError, SealKeyError):
                return seal, "the public key stored with it is not an Ed25519 key"
            if key.fingerprint != seal.key_fingerprint:
                return seal, "the public key stored with it does not have its fingerprint"
        if key is None:
            return seal, f"its key {seal.key_fingerprint[:16]}… is not among the seals file's public keys"
        if not seal.signed_by(key):
            return seal, f"its signature does not verify under {_describe(key, public_key)}"
        if seal.tree_size < 1:
            return seal, "it covers no leaf"
    return None


def _describe(key: PublicKey, given: PublicKey | None) -> str:
    return f"{'the given' if given is not None else 'its'} public key {key.fingerprint[:16]}…"


@dataclass(frozen=True)
class _Found:
    intact: bool
    summary: str
    seal: int | None
    position: int | None
    kind: str | None = None
    detail: str | None = None
    tree_size: int = 0
    unsealed: int = 0
    events_read: int = 0


class _Check:
    """One verification's pass over the log (steps 2–4 of the module's docstring)."""

    def __init__(self, store: SealStore, session: Session, seals: Sequence[Seal], has_leaves: bool, page: int) -> None:
        self.store = store
        self.session = session
        self.seals = sorted(seals, key=lambda s: (s.tree_size, s.seq))
        self.has_leaves = has_leaves
        self.page = page

    def run(self) -> _Found:
        seals = self.seals
        sizes = sorted({s.tree_size for s in seals})
        by_size: dict[int, list[Seal]] = {}
        for seal in seals:
            by_size.setdefault(seal.tree_size, []).append(seal)
        final = sizes[-1]
        text_ids = self.store.text_ids
        session = self.session
        sha, head, length = _sha256, _HEAD, _LENGTH

        stack: list[bytes] = []
        push, pop = stack.append, stack.pop
        n = 0
        read = 0
        matched_size, matched_position, matched_seal = 0, 0, None
        failing: Seal | None = None
        leaves_differ: int | None = None  # the first leaf index whose stored hashes differ
        targets = iter(sizes)
        target = next(targets)
        lowest = session.lowest()
        if lowest is not None and lowest < 1:  # the library's log starts at 1: only a hand puts a row below
            hidden = Failure(
                lowest, "inserted",
                f"an event stands at position {lowest}, below the log's first position: never sealed, yet its "
                "record loads it",
            )  # fmt: skip
            return self._failed(by_size[sizes[0]][0], hidden, 0, 0)
        pages = session.scan(0, self.page)
        try:
            for rows in pages:
                read += len(rows)
                first = n
                end = min(n + len(rows), final)
                stored = session.tree_later(first, end) if self.has_leaves and leaves_differ is None else None
                if text_ids:
                    ids = originator_ids(rows)
                    leaves = [
                        sha(head(0, p, o, v, len(t)) + t + length(len(s)) + s).digest()
                        for (p, _, v, t, s), o in zip(rows, ids, strict=True)
                    ]
                else:
                    leaves = [sha(head(0, p, o, v, len(t)) + t + length(len(s)) + s).digest() for p, o, v, t, s in rows]
                merged: list[bytes] = []
                keep = merged.append
                cut = None
                i, count = 0, len(leaves)
                while i < count:
                    span = 0 if n & 1 else min(count - i, target - n - 1) & ~1
                    if span >= 2:  # whole pairs before the next sealed size: their parents in one comprehension
                        pairs = [
                            sha(b"\x01" + a + b).digest()
                            for a, b in zip(leaves[i : i + span : 2], leaves[i + 1 : i + span : 2], strict=True)
                        ]
                        for node in pairs:
                            keep(node)
                            n += 2
                            m = n >> 1
                            while not m & 1:
                                node = sha(b"\x01" + pop() + node).digest()
                                keep(node)
                                m >>= 1
                            push(node)
                        i += span
                        continue
                    node = leaves[i]  # one leaf: up to a sealed size, or an odd one
                    i += 1
                    n += 1
                    m = n
                    while not m & 1:
                        node = sha(b"\x01" + pop() + node).digest()
                        keep(node)
                        m >>= 1
                    push(node)
                    if n == target:
                        position = rows[n - first - 1][0]
                        root = merkle.fold(stack).hex()
                        for seal in by_size[n]:
                            if seal.root != root:
                                failing = seal
                                break
                            if seal.last_position != position:
                                altered = Failure(
                                    position, "forged",
                                    f"seal {seal.seq} says its last position is {seal.last_position}, but the tree "
                                    f"it signed ends at position {position}: the seal's row was altered",
                                )  # fmt: skip
                                return self._failed(seal, altered, read, n)
                        if failing is not None:
                            break
                        matched_size, matched_position, matched_seal = n, position, by_size[n][-1]
                        if n == final:
                            cut = n - first, len(merged)
                            break
                        target = next(targets)
                if stored is not None and failing is None and end > first:
                    if cut is not None:
                        leaves, merged = leaves[: cut[0]], merged[: cut[1]]
                    if stored() != (b"".join(leaves), b"".join(merged)):
                        leaves_differ = self._first_leaf_difference(first, end, leaves, merged)
                if failing is not None or cut is not None:
                    break
        finally:
            pages.close()
        if failing is None and matched_size < final:
            failing = by_size[sizes[sizes.index(matched_size) + 1 if matched_size else 0]][0]
        if failing is not None:
            return self._failed(failing, self._diagnose(matched_size, matched_position, failing), read, n)
        assert matched_seal is not None
        unsealed = self._unsealed(matched_position)
        if leaves_differ is not None:
            damaged = self._position_of(leaves_differ)
            failure = Failure(
                damaged, "leaves",
                f"the log is intact, but the stored leaf at index {leaves_differ} (position {damaged}) does not "
                "match its event: the seal_leaves table was altered, and proofs through it would not verify",
            )  # fmt: skip
            return self._failed(matched_seal, failure, read, matched_size)
        summary = f"intact up to position {matched_position} under seal {matched_seal.seq}"
        return _Found(
            True, summary, matched_seal.seq, matched_position, tree_size=matched_size, unsealed=unsealed,
            events_read=read,
        )  # fmt: skip

    def _failed(self, seal: Seal, failure: Failure, read: int, size: int) -> _Found:
        where = f"position {failure.position}" if failure.position is not None else "the log"
        summary = f"{where}: {failure.kind} (seal {seal.seq} no longer matches): {failure.detail}"
        if failure.kind == "forged":
            summary = f"seal {seal.seq} is refused: {failure.detail}"
        return _Found(
            False, summary, seal.seq, failure.position, failure.kind, failure.detail, tree_size=size, events_read=read
        )

    def _unsealed(self, last_position: int) -> int:
        return self.session.count_after(last_position)

    def _position_of(self, index: int) -> int | None:
        found = self.session.scalar(tables.POSITION_OF_INDEX, [index])
        return None if found is None else int(found)

    def _first_leaf_difference(self, start: int, end: int, leaves: list[bytes], merged: list[bytes]) -> int:
        """The first leaf index in ``[start, end)`` whose stored hashes differ from the page's ``leaves`` and the
        subtrees ``merged`` as they completed (each leaf completes as many as the trailing zeros of its index + 1)."""
        offset = 0
        rows = self.session.rows(
            "SELECT leaf_index, leaf_hash, subtrees FROM {seal_leaves} WHERE leaf_index >= ? AND leaf_index < ? "
            "ORDER BY leaf_index",
            [start, end],
        )
        stored = {int(i): (bytes(leaf), bytes(sub)) for i, leaf, sub in rows}
        for index, leaf in zip(range(start, end), leaves, strict=False):
            width = ((index + 1) & -(index + 1)).bit_length() - 1
            mine = (leaf, b"".join(merged[offset : offset + width]))
            offset += width
            if stored.get(index) != mine:
                return index
        return start

    # Where and how -------------------------------------------------------------------------

    def _diagnose(self, good_size: int, good_position: int, seal: Seal) -> Failure:
        """The first position after the last matching seal where the log and the stored leaves part."""
        if not self.has_leaves:
            return Failure(
                good_position + 1, "altered",
                f"the log after position {good_position} no longer gives seal {seal.seq}'s root, and the stored "
                "leaves are missing, so which event cannot be told",
            )  # fmt: skip
        leaves = self._leaves(good_size)
        events = self._events(good_position)
        leaf = next(leaves, None)
        event = next(events, None)
        while leaf is not None and leaf[0] < seal.tree_size:
            _, sealed_position, sealed_hash, _ = leaf
            if event is None:
                return Failure(sealed_position, "deleted", f"the event sealed at position {sealed_position} is gone")
            position, record, body = event
            if position == sealed_position:
                if _sha256(b"\x00" + record).digest() == sealed_hash:
                    leaf, event = next(leaves, None), next(events, None)
                    continue
                moved = self._sealed_at(body, position)
                if moved is not None:
                    return Failure(
                        position, "reordered",
                        f"the event sealed at position {moved} now stands at position {position}",
                    )  # fmt: skip
                return Failure(position, "edited", f"the event at position {position} is not the one sealed there")
            if position < sealed_position:
                moved = self._sealed_at(body, position)
                if moved is not None:
                    return Failure(
                        position, "reordered",
                        f"the event sealed at position {moved} now stands at position {position}",
                    )  # fmt: skip
                return Failure(
                    position, "inserted",
                    f"an event stands at position {position}, which was never sealed (sealed positions skip it)",
                )  # fmt: skip
            return Failure(sealed_position, "deleted", f"the event sealed at position {sealed_position} is gone")
        first = good_position + 1
        return Failure(
            first, "altered",
            f"the log after position {good_position} no longer gives seal {seal.seq}'s root, and the stored leaves "
            f"were altered to match it, so which event cannot be told (it is at or after position {first})",
        )  # fmt: skip

    def _sealed_at(self, body: bytes, position: int) -> int | None:
        """Another position at which an event of this content was sealed (None: nowhere else)."""
        row = self.session.one(tables.WITH_CONTENT, [_sha256(body).digest()])
        if row is None or int(row[1]) == position:
            return None
        return int(row[1])

    def _leaves(self, start: int) -> Iterator[tuple[int, int, bytes, bytes]]:
        while True:
            rows = self.session.rows(tables.LEAVES_FROM, [start, self.page])
            for index, position, leaf, content in rows:
                yield int(index), int(position), bytes(leaf), bytes(content)
            if len(rows) < self.page:
                return
            start = int(rows[-1][0]) + 1

    def _events(self, after: int) -> Iterator[tuple[int, bytes, bytes]]:
        text_ids = self.store.text_ids
        while rows := self.session.events(after, self.page):
            for row in rows:
                yield _event(row, text_ids)
            after = rows[-1][0]


def originator_ids(rows: list[EventRow]) -> list[bytes]:
    """The 16 bytes of a page's originator ids stored as text (SQLite); :func:`uuid_bytes` of each, fast."""
    try:
        found = [bytes.fromhex(o.replace("-", "")) for _, o, _, _, _ in rows]
        if min(map(len, found)) == max(map(len, found)) == 16:
            return found
    except (ValueError, AttributeError, TypeError):
        pass
    return [uuid_bytes(o) for _, o, _, _, _ in rows]


def _event(row: EventRow, text_ids: bool) -> tuple[int, bytes, bytes]:
    """An event's position, record and content (the record without its position)."""
    position, originator, version, topic, state = row
    body = merkle.content(uuid_bytes(originator) if text_ids else originator, version, topic or b"", state or b"")
    return position, _POSITION(position) + body, body
