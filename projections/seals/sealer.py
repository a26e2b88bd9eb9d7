"""The sealer: follows the log in order, adds its leaves to the tree, and records signed seals.

**Following the log.** :meth:`Sealer.step` reads the events after the last sealed leaf's position
(a page), computes their leaves and the perfect subtrees they complete
(:class:`~projections.seals.merkle.MerkleStack`), and writes them in one transaction that first
checks, under the sealers' lock, that the tree still ends where this sealer believed: another
sealer (the server's, ``tiexin projections run``'s, ``tiexin seal``) may have moved it, and then
this one reloads and reads again. So a crash anywhere loses nothing (the rows commit together or
not at all, and the next start reads where the table ends) and no leaf is ever added twice.

**Seals.** A seal is written in the **same transaction** as the last page of leaves it covers,
once the sealer has caught up with the log as it read it: ``seq`` (one more than the last),
``tree_size``, ``last_position``, ``root``, ``sealed_at`` (UTC, microseconds, ISO 8601) and the
Ed25519 signature of ``tiexin-seal/1 {tree_size} {root} {sealed_at}``. On demand
(:meth:`Sealer.seal`: ``POST /v1/audit/seals``, ``tiexin seal``) a seal is always written, even
over an unchanged log (a fresh, signed "nothing was added since"); on a schedule
(:meth:`Sealer.run_forever`, by :class:`SealPolicy`) only when at least one event is unsealed and
either ``every_events`` events arrived since the last seal or ``every_seconds`` passed.

Without a key the sealer still follows the log (leaves need none) and says once, in the log,
why it writes no seal; :meth:`Sealer.seal` raises :class:`~projections.seals.keys.SealKeyMissing`.
"""

from __future__ import annotations

import hashlib
import logging
import struct
import threading
from collections.abc import Callable
from dataclasses import astuple, dataclass
from datetime import UTC, datetime
from typing import Any

from ledger.errors import RuleViolation, TiexinError
from ledger.store import utc_now
from projections.seals import merkle, tables
from projections.seals.keys import SealKey, SealKeyMissing, seal_message
from projections.seals.model import Seal
from projections.seals.store import EventRow, SealStore, Session
from projections.storage import Kind

log = logging.getLogger(__name__)

PAGE = 5000
"""Events read, hashed and written per transaction (memory stays bounded by it)."""
DEFAULT_EVERY_EVENTS = 1000
DEFAULT_EVERY_SECONDS = 3600.0
RETRY_LIMIT = 20

_POSITION = struct.Struct(">Q").pack
_sha256 = hashlib.sha256


@dataclass(frozen=True)
class SealPolicy:
    """When the running sealer seals on its own: ``every_events`` new events, or ``every_seconds``
    since the last seal with at least one new event. The key is loaded when a seal is due (so a key
    made after the start is used), by ``key``; None: leaves only."""

    key: Callable[[], SealKey] | None
    every_events: int = DEFAULT_EVERY_EVENTS
    every_seconds: float = DEFAULT_EVERY_SECONDS

    def __post_init__(self) -> None:
        if self.every_events < 1 or self.every_seconds <= 0:
            raise ValueError("a seal policy needs every_events ≥ 1 and every_seconds > 0")


class NothingToSeal(RuleViolation):
    def __init__(self) -> None:
        super().__init__("seal.empty_log", "the log holds no event yet: there is nothing to seal")


def uuid_bytes(text: Any) -> bytes:
    """A stored originator id as its 16 bytes; a value that is not a UUID keeps its own bytes (it cannot match)."""
    if isinstance(text, bytes):
        return text
    try:
        found = bytes.fromhex(str(text).replace("-", ""))
    except ValueError:
        found = b""
    return found if len(found) == 16 else str(text).encode()


def leaf_rows(events: list[EventRow], stack: merkle.MerkleStack, text_ids: bool) -> list[tuple[Any, ...]]:
    """The ``seal_leaves`` rows of events appended to ``stack`` (which grows)."""
    rows = []
    for position, originator, version, topic, state in events:
        body = merkle.content(uuid_bytes(originator) if text_ids else originator, version, topic or b"", state or b"")
        leaf = _sha256(b"\x00" + _POSITION(position) + body).digest()
        index = stack.size
        completed = stack.push(leaf)
        rows.append((index, position, leaf, _sha256(body).digest(), b"".join(completed[1:])))
    return rows


def event_record(row: EventRow, text_ids: bool) -> bytes:
    """The canonical record of one event row (what its leaf hashes, after the 0x00)."""
    position, originator, version, topic, state = row
    originator_id = uuid_bytes(originator) if text_ids else originator
    return merkle.record(position, originator_id, version, topic or b"", state or b"")


class TreeMoved(Exception):
    """Another sealer grew the tree since this one read it: reload and read again."""


@dataclass(frozen=True)
class Step:
    appended: int
    caught_up: bool
    seal: Seal | None


class Sealer:
    """Grows the tree from the log and writes seals (see the module's docstring)."""

    def __init__(self, store: SealStore, *, clock: Callable[[], datetime] = utc_now, page: int = PAGE) -> None:
        if page < 1:
            raise ValueError("page must be at least 1")
        self.store = store
        self.clock = clock
        self.page = page
        self.stack: merkle.MerkleStack | None = None
        self.last_position = 0
        self._wake = threading.Event()
        self._warned_no_key = False
        self._sealed_size = 0
        """The latest seal's size as last read (another process may have sealed more since)."""

    # State --------------------------------------------------------------------------------

    @property
    def size(self) -> int:
        return 0 if self.stack is None else self.stack.size

    def _load(self, session: Session) -> None:
        """The tree as the table holds it: its size, last position and the perfect subtrees of its size."""
        head = session.one(tables.HEAD)
        if head is None:
            self.stack, self.last_position = merkle.MerkleStack(), 0
            return
        size, last = int(head[0]) + 1, int(head[1])
        pieces = merkle.decomposition(size)
        found = subtree_hashes(session, pieces)
        self.stack = merkle.MerkleStack(size, [found[p] for p in pieces])
        self.last_position = last

    # Growing and sealing ------------------------------------------------------------------

    def step(self, key: SealKey | None = None) -> Step:
        """Add one page of the log's new events; with ``key``, seal if that caught up with the log."""
        for _ in range(RETRY_LIMIT):
            try:
                return self._step(key)
            except TreeMoved:
                self.stack = None
        raise TiexinError("the seal tree kept moving under this sealer; try again")

    def _step(self, key: SealKey | None) -> Step:
        with self.store.reading() as session:
            if self.stack is None:
                self._load(session)
            assert self.stack is not None
            events = session.events(self.last_position, self.page)
        grown = self.stack.copy()
        rows = leaf_rows(events, grown, self.store.text_ids)
        caught_up = len(events) < self.page
        if not rows and (key is None or not caught_up):
            return Step(0, caught_up, None)
        last_position = rows[-1][1] if rows else self.last_position
        sealed = None
        with self.store.writing() as session:
            head = session.one(tables.HEAD)
            now = (int(head[0]) + 1, int(head[1])) if head else (0, 0)
            if now != (self.stack.size, self.last_position):
                raise TreeMoved
            session.write(tables.LEAVES, rows)
            if key is not None and caught_up:
                sealed = self._seal_row(session, key, grown, last_position)
        self.stack, self.last_position = grown, last_position
        return Step(len(rows), caught_up, sealed)

    def _seal_row(self, session: Session, key: SealKey, tree: merkle.MerkleStack, last_position: int) -> Seal:
        if tree.size == 0:
            raise NothingToSeal
        seq = int(session.scalar(tables.LAST_SEQ) or 0) + 1
        root = tree.root().hex()
        sealed_at = self.clock().astimezone(UTC).isoformat(timespec="microseconds")
        public = key.public
        signature = key.sign(seal_message(tree.size, root, sealed_at)).hex()
        seal = Seal(seq, tree.size, last_position, root, sealed_at, signature, public.fingerprint, public.raw.hex())
        session.write(tables.SEALS, [session.dialect.row(tables.SEALS, astuple(seal))])
        return seal

    def catch_up(self) -> int:
        """Add every event of the log not yet a leaf; answers how many."""
        added = 0
        while True:
            step = self.step()
            added += step.appended
            if step.caught_up:
                return added

    def seal(self, key: SealKey) -> Seal:
        """Catch up with the log and record a seal over all of it, now."""
        while True:
            step = self.step(key)
            if step.seal is not None:
                self._sealed_size = step.seal.tree_size
                return step.seal

    # Running ------------------------------------------------------------------------------

    def wake(self) -> None:
        self._wake.set()

    def due(self, policy: SealPolicy) -> bool:
        """Whether the policy calls for a seal now (unsealed events, and enough of them or time)."""
        if self.size <= self._sealed_size:
            return False
        with self.store.reading() as session:
            row = session.one(tables.LATEST)
        latest = None if row is None else Seal.from_row(row)
        sealed = self._sealed_size = latest.tree_size if latest else 0
        if self.size <= sealed:
            return False
        if self.size - sealed >= policy.every_events or latest is None:
            return True
        age = (self.clock() - datetime.fromisoformat(latest.sealed_at)).total_seconds()
        return age >= policy.every_seconds

    def run_once(self, policy: SealPolicy) -> Seal | None:
        """Catch up; then seal if the policy says so and there is a key. Answers the seal written, if any."""
        self.catch_up()
        if policy.key is None or not self.due(policy):
            return None
        try:
            key = policy.key()
        except SealKeyMissing as error:
            if not self._warned_no_key:
                log.warning("no seal written: %s", error.reason)
                self._warned_no_key = True
            return None
        self._warned_no_key = False
        return self.seal(key)

    def run_forever(self, stop: threading.Event, policy: SealPolicy, poll_interval: float) -> None:
        """Follow the log until ``stop`` is set: every ``poll_interval`` s, or at once when woken."""
        backoff = poll_interval
        while not stop.is_set():
            try:
                self.run_once(policy)
                backoff = poll_interval
            except TiexinError as error:
                log.warning("sealer: %s", error.reason)
                backoff = min(max(backoff * 2, poll_interval), 30.0)
            except Exception as error:  # the sealer must outlive one bad moment; it starts again from the table
                log.error("sealer failed (%s); retrying in %.1f s", type(error).__name__, backoff)
                self.stack = None
                backoff = min(max(backoff * 2, poll_interval), 30.0)
            self._wake.wait(backoff)
            self._wake.clear()


def subtree_hashes(session: Session, pieces: list[tuple[int, int]]) -> dict[tuple[int, int], bytes]:
    """The stored hashes of perfect subtrees ``(start, leaves)``; KeyError if a row is missing."""
    wanted: dict[int, list[tuple[int, int]]] = {}
    for start, leaves in pieces:
        index, _ = merkle.row_of(start, leaves)
        wanted.setdefault(index, []).append((start, leaves))
    rows: dict[int, tuple[bytes, bytes]] = {}
    dialect = session.dialect
    for chunk in tables.chunks(sorted(wanted)):
        for index, leaf, subtrees in session.rows(tables.ROWS, [dialect.keys(Kind.INT, chunk)]):
            rows[int(index)] = (bytes(leaf), bytes(subtrees))
    found = {}
    for index, wanted_pieces in wanted.items():
        leaf, subtrees = rows[index]
        for start, leaves in wanted_pieces:
            _, level = merkle.row_of(start, leaves)
            found[(start, leaves)] = leaf if level == 0 else subtrees[32 * (level - 1) : 32 * level]
            if len(found[(start, leaves)]) != merkle.HASH_SIZE:
                raise KeyError((start, leaves))
    return found
