"""The ledger's plumbing: the store settings it accepts, the unit of work, error translation.

:class:`LedgerBase` is everything an application of ours needs from the library and nothing of
the domain: it reads only the settings it is given, registers our value types, loads
aggregates (through an identity map inside a batch), saves atomically, and turns the library's
and the drivers' errors into :mod:`ledger.errors`. The commands live in :mod:`ledger.application`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, Protocol, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application, ProcessingEvent
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    Notification,
    PersistenceError,
    Recording,
    StoredEvent,
)
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor
from eventsourcing.utils import Environment
from psycopg import Cursor
from psycopg.rows import DictRow
from psycopg.sql import SQL, Identifier

from ledger.common import require_aware
from ledger.damage import damage_in
from ledger.errors import (
    ConflictError,
    InvalidInput,
    NotFound,
    RuleViolation,
    StoreUnavailable,
    VersionMismatch,
    first_line,
)
from ledger.keystore import key_store_of
from ledger.personal import Keyring, PersonalDataMapper
from ledger.transcodings import DateAsISO, ProvenanceAsDict

P = ParamSpec("P")
R = TypeVar("R")
A = TypeVar("A", bound=Aggregate)


@dataclass(frozen=True)
class Written:
    """What a write answers: the aggregate, its new version and the log position of the write's last event."""

    id: UUID
    version: int
    position: int | None


def command(method: Callable[P, R]) -> Callable[P, R]:
    """Translate the library's and the drivers' storage errors into tiexin's, for every command."""

    @functools.wraps(method)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        with store_errors_translated("the event store"):
            return method(*args, **kwargs)

    return wrapper


@contextmanager
def store_errors_translated(store: str) -> Iterator[None]:
    """A version clash becomes ConflictError; any other storage failure StoreUnavailable (one line);
    a record whose stored events no longer load DamagedRecord (:mod:`ledger.damage`)."""
    try:
        yield
    except IntegrityError:
        raise ConflictError("another command changed the same record first; nothing was written") from None
    except PersistenceError as error:
        raise StoreUnavailable(f"{store} is unavailable: {first_line(error)}") from None
    except Exception as error:
        if type(error).__module__.split(".")[0] in DRIVER_MODULES:
            raise StoreUnavailable(f"{store} is unavailable: {first_line(error)}") from None
        damage = damage_in(error)
        if damage is not None:
            raise damage from None
        raise


DRIVER_MODULES = ("psycopg", "psycopg_pool", "sqlite3")
"""The database drivers, whose errors sometimes escape the library unwrapped."""


DEFAULT_SETTINGS = {"IS_SNAPSHOTTING_ENABLED": "y", "AGGREGATE_CACHE_MAXSIZE": "10000"}


class Loader(Protocol):
    """How a command's attempt loads an aggregate it only reads (:meth:`LedgerBase._decided`)."""

    def __call__(self, cls: type[A], ident: UUID, kind: str) -> A: ...


Reads = dict[UUID, int]
"""The aggregates a command decided on as this process's cache held them: id → version."""


# Recorders checking what a command read ------------------------------------------------------
#
# The library's recorders, able to check in the insert's own transaction that what a command read is still current.
#
# A command may decide on aggregates as this process's cache holds them, without asking the store
# first (:meth:`ledger.store.LedgerBase._recalled`). It then saves with ``read_versions``: for each
# aggregate it read but does not change, the version it decided on. The insert checks, inside its
# transaction and once it holds the store's write lock, that none of them has an event past that
# version (the next version is absent: versions have no gaps), and writes nothing otherwise,
# raising :class:`StaleRead`; the command then decides again on the store's state.
#
# Holding the write lock makes the check exact: every write to the events table is serialised by
# it (PostgreSQL: the library's ``LOCK TABLE ... IN EXCLUSIVE MODE``, taken before the check;
# SQLite: the database's single writer, which the checking insert takes before it reads), so no
# event of a read aggregate can be committed between the check and the commit. That is stronger
# than reading the aggregates fresh before the command: a write landing between such a read and
# the insert went unnoticed.
#
# Without ``read_versions`` both recorders are exactly the library's.

READ_VERSIONS = "read_versions"
"""The ``save``/``insert_events`` keyword: ``{aggregate id: version decided on}`` of the aggregates only read."""

RECORDER_TOPICS = {
    "eventsourcing.sqlite": "ledger.store:CheckedSQLiteRecorder",
    "eventsourcing.postgres": "ledger.store:CheckedPostgresRecorder",
}
"""The recorder the ledger uses on each store kind (the library's ``APPLICATION_RECORDER_TOPIC``)."""


class StaleRead(Exception):
    """An aggregate a command read has moved on since; nothing was written."""


def _read_versions(kwargs: dict[str, Any]) -> dict[UUID, int]:
    read: dict[UUID, int] = kwargs.get(READ_VERSIONS) or {}
    return read


class CheckedSQLiteRecorder(SQLiteApplicationRecorder):
    checks_reads = True

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        read = _read_versions(kwargs)
        if not read or not stored_events:
            return super()._insert_events(c, stored_events, **kwargs)
        # The first event's insert is the check: a write statement, it holds the database's one
        # writer lock before it reads, on the newest state, until the transaction ends.
        first, *rest = stored_events
        clause = " OR ".join(["(originator_id = ? AND originator_version = ?)"] * len(read))
        c.execute(
            f"INSERT INTO {self.events_table_name} SELECT ?, ?, ?, ? "
            f"WHERE NOT EXISTS (SELECT 1 FROM {self.events_table_name} WHERE {clause}) RETURNING rowid",
            [
                first.originator_id.hex if isinstance(first.originator_id, UUID) else first.originator_id,
                first.originator_version,
                first.topic,
                first.state,
                *(value for ident, version in read.items() for value in (ident.hex, version + 1)),
            ],
        )
        inserted = c.fetchone()
        if inserted is None:
            raise StaleRead  # nothing was inserted; the transaction is rolled back
        return [inserted[0], *(super()._insert_events(c, rest, **kwargs) or [])]


class CheckedPostgresRecorder(PostgresApplicationRecorder):
    checks_reads = True

    def __init__(self, datastore: PostgresDatastore, *, events_table_name: str = "stored_events") -> None:
        super().__init__(datastore, events_table_name=events_table_name)
        # The library's insert, writing nothing if a read aggregate has an event past the version read.
        self.checked_insert_statement = SQL(
            "INSERT INTO {schema}.{table} AS t (originator_id, originator_version, topic, state) "
            "SELECT originator_id, originator_version, topic, state "
            "FROM unnest(%s::{schema}.{stored_event_type}[]) "
            "WHERE NOT EXISTS ("
            "SELECT 1 FROM unnest(%s::{id_type}[], %s::bigint[]) AS n(id, version) WHERE EXISTS ("
            "SELECT 1 FROM {schema}.{table} AS r WHERE r.originator_id = n.id AND r.originator_version = n.version)) "
            "RETURNING notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            stored_event_type=Identifier(self.stored_event_type_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )

    def _insert_stored_events(self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any) -> None:
        read = _read_versions(kwargs)
        if not read:
            super()._insert_stored_events(curs, stored_events, **kwargs)
            return
        self._lock_table(curs)  # first: the check below then sees every write that can precede ours
        self._notify_channel(curs)
        events = [
            self.construct_pg_stored_event(e.originator_id, e.originator_version, e.topic, e.state)
            for e in stored_events
        ]
        idents = list(read)
        curs.execute(self.checked_insert_statement, (events, idents, [read[i] + 1 for i in idents]))

    def _fetch_ids_after_insert_events(
        self, curs: Cursor[DictRow], stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        ids = super()._fetch_ids_after_insert_events(curs, stored_events, **kwargs)
        if _read_versions(kwargs) and len(ids or ()) != len(stored_events):
            raise StaleRead  # nothing was inserted
        return ids


def utc_now() -> datetime:
    return datetime.now(UTC)


class PersonalEventStore(EventStore[UUID]):
    """The library's event store, writing the persons' keys made while encoding just before the events."""

    def __init__(self, mapper: Mapper[UUID], recorder: Any, keyring: Keyring) -> None:
        super().__init__(mapper, recorder)
        self.keyring = keyring

    def put(self, domain_events: Any, **kwargs: Any) -> list[Recording[UUID]]:
        stored = [self.mapper.to_stored_event(event) for event in domain_events]
        self.keyring.commit_new_keys()
        recordings = []
        ids = self.recorder.insert_events(stored, **kwargs)
        for event, record, notification_id in zip(domain_events, stored, ids or [], strict=False):
            notification = Notification(
                originator_id=record.originator_id,
                originator_version=record.originator_version,
                topic=record.topic,
                state=record.state,
                id=notification_id,
            )
            recordings.append(Recording(event, notification))
        return recordings


class LedgerBase(Application[UUID]):
    """An eventsourcing application with tiexin's settings, value types and unit of work."""

    name = "tiexin"

    def __init__(
        self,
        env: dict[str, str] | None = None,
        *,
        master_key: bytes | None,
        clock: Callable[[], datetime] = utc_now,
        new_id: Callable[[], UUID] = uuid4,
        random_bytes: Callable[[int], bytes] | None = None,
    ) -> None:
        """``master_key`` opens the persons' keys (:mod:`ledger.personal`); ``random_bytes`` is for the samples only."""
        self.clock = clock
        self.new_id = new_id
        self._batch = threading.local()
        self.keyring = Keyring(master_key) if random_bytes is None else Keyring(master_key, random_bytes=random_bytes)
        super().__init__(env or {})
        self.keyring.attach(key_store_of(self), self._now().isoformat())

    def __init_subclass__(cls, **kwargs: Any) -> None:
        """A subclass (a test's instrumented ledger) must still read and write tiexin's tables."""
        if "name" not in cls.__dict__:
            cls.name = LedgerBase.name

    def construct_env(self, name: str, env: Any = None) -> Environment:
        """Only the settings given: the composition root decides, not stray variables.

        The aggregate cache keeps recently used aggregates in memory; with the library's
        fast-forward (on by default) each load still reads any newer events from the store, so
        it stays right when other processes write too. A command that decides on cached
        aggregates without that read (:meth:`_decided`) has them checked by the recorder instead
        (the checked recorders below, chosen here unless the settings name another).
        """
        settings = {**DEFAULT_SETTINGS, **(env or {})}
        topic = RECORDER_TOPICS.get(settings.get("PERSISTENCE_MODULE", ""))
        if topic is not None:
            settings.setdefault("APPLICATION_RECORDER_TOPIC", topic)
        return Environment(name, settings)

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper, sealing and opening personal fields (:mod:`ledger.personal`)."""
        return PersonalDataMapper(self.construct_transcoder(), self.keyring, self._now)

    def construct_event_store(self) -> EventStore[UUID]:
        return PersonalEventStore(self.mapper, self.recorder, self.keyring)

    def save(self, *objs: Any, **kwargs: Any) -> list[Recording[UUID]]:
        """The library's ``save`` (eventsourcing 9.5), collecting an aggregate's events without its protocol checks.

        ``ProcessingEvent.collect_events`` asks ``isinstance`` of two runtime-checkable protocols
        for every object, each a walk over the protocol's attributes (tens of µs a save); ours are
        ``Aggregate`` instances or events, told apart by their class. Everything else is the library's.
        """
        processing_event: ProcessingEvent[UUID] = ProcessingEvent()
        for obj in objs:
            if isinstance(obj, Aggregate):
                processing_event.events.extend(obj.collect_events())
                processing_event.aggregates[obj.id] = obj
            elif obj is not None:
                processing_event.collect_events(obj)
        processing_event.saved_kwargs.update(kwargs)
        recordings = self._record(processing_event)
        self._take_snapshots(processing_event)
        self._notify(recordings)
        self.notify(processing_event.events)  # the library's deprecated hook, called as it does
        return recordings

    def _record(self, processing_event: Any) -> list[Recording[UUID]]:
        """Save, telling the mapper whose each aggregate's events are (its ``personal_subject``)."""
        subjects = {
            ident: subject
            for ident, aggregate in processing_event.aggregates.items()
            if (subject := getattr(aggregate, "personal_subject", None)) is not None
        }
        with self.keyring.saving(subjects):
            recordings: list[Recording[UUID]] = super()._record(processing_event)
        self._refresh_cached(processing_event.aggregates.values())
        return recordings

    def _refresh_cached(self, saved: Iterable[Any]) -> None:
        """Put the aggregates just saved in the cache in place of older copies it holds (new ones are not added).

        The library does so itself only without fast-forward. With it, the cache would keep the
        version before this process's own write until the next load fast-forwards it, and a
        command deciding on the cache (:meth:`_decided`) would find it stale and decide twice.
        """
        cache = self.repository.cache
        if cache is None or not self.repository.fastforward:
            return
        for aggregate in saved:
            try:
                cached = cache.get(aggregate.id)
            except KeyError:
                continue
            if cached.version < aggregate.version:
                cache.put(aggregate.id, aggregate)

    def register_transcodings(self, transcoder: JSONTranscoder) -> None:
        super().register_transcodings(transcoder)
        transcoder.register(DateAsISO())
        transcoder.register(ProvenanceAsDict())

    # Unit of work -----------------------------------------------------------------------

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Run many commands as one transaction (the demo's bulk loads).

        Commands inside see each other's changes; all are saved in one ``save`` at the end, in
        the order the commands made them. If any command is refused, nothing of the batch is saved.
        """
        self._batch.loaded = {}
        self._batch.touched = {}
        self._batch.events = []
        try:
            yield
            # The events keep the commands' order; the aggregates let the library snapshot.
            self._save_now(*self._batch.events, *self._batch.touched.values())
        finally:
            del self._batch.loaded, self._batch.touched, self._batch.events

    def _in_batch(self) -> bool:
        return hasattr(self._batch, "loaded")

    def find(self, cls: type[A], ident: UUID) -> A | None:
        """The aggregate of this class with this id, as the store has it now, or None (a copy: change it freely)."""
        return self._find(cls, ident)

    def _get(
        self, cls: type[A], ident: UUID, kind: str, *, read_only: bool = False, expected_version: int | None = None
    ) -> A:
        """Load an aggregate a command acts on: NotFound if absent; VersionMismatch if not at ``expected_version``.

        The check is here, where the command loads what it decides on, so the save builds on
        exactly the version checked: a write landing in between collides in the store instead.
        """
        found = self._find(cls, ident, read_only=read_only)
        if found is None:
            raise NotFound(kind, ident)
        if expected_version is not None and found.version != expected_version:
            raise VersionMismatch(expected_version, found.version)
        return found

    def _find(self, cls: type[A], ident: UUID, *, read_only: bool = False) -> A | None:
        """Load an aggregate; ``read_only`` skips the defensive copy of the cached one.

        Only a command that never changes the aggregate may ask for ``read_only``. In a batch
        every load is a copy, because later commands of the batch may change it.
        """
        if self._in_batch() and ident in self._batch.loaded:
            cached: A = self._batch.loaded[ident]
            return cached
        if not isinstance(ident, UUID):
            raise InvalidInput("id", f"{ident!r} is not an id")
        try:
            copy = not read_only or self._in_batch()
            aggregate: Aggregate = self.repository.get(ident, deepcopy_from_cache=copy)
        except AggregateNotFoundError:
            return None
        if not isinstance(aggregate, cls):
            return None
        if self._in_batch():
            self._batch.loaded[ident] = aggregate
        return aggregate

    # Deciding on cached aggregates ----------------------------------------------------------

    def _decided(self, attempt: Callable[[Loader, Reads | None], R]) -> R:
        """Run a command's ``attempt`` on the aggregates it only reads as this process's cache holds them.

        ``attempt(load, reads)`` loads each aggregate it only reads with ``load`` and saves with
        ``self._save(..., reads=reads)``. The first try loads from the cache without asking the
        store (no fast-forward), noting each version in ``reads``; the save then writes only if
        none of them has moved on, checked in the insert's transaction under the store's write
        lock (the checked recorders below). If one has (StaleRead), or the try is refused (a refusal
        may come from a stale copy), the attempt runs again exactly as without a cache check:
        every load fast-forwarded from the store, a plain save. Its outcome is the answer, so a
        cached copy never lets a command through that the store's state refuses, nor refuses
        one that it lets through. Outside a batch and on a store whose recorder checks only.

        ``attempt`` must change nothing but what it saves, and take each new id and time once
        (a second run reuses them), so that running it twice is running it once.
        """
        if not self._in_batch() and getattr(self.recorder, "checks_reads", False) and self.repository.cache:
            reads: Reads = {}

            def recalled(cls: type[A], ident: UUID, kind: str) -> A:
                return self._recalled(cls, ident, kind, reads)

            try:
                return attempt(recalled, reads)
            except (StaleRead, RuleViolation, NotFound):
                pass  # decided on what this process remembered: decide again on the store's state

        def loaded(cls: type[A], ident: UUID, kind: str) -> A:
            return self._get(cls, ident, kind, read_only=True)

        return attempt(loaded, None)

    def _recalled(self, cls: type[A], ident: UUID, kind: str, reads: Reads) -> A:
        """An aggregate only read, as the cache holds it (loaded if absent); its version noted in ``reads``."""
        if not isinstance(ident, UUID):
            raise InvalidInput("id", f"{ident!r} is not an id")
        cache = self.repository.cache
        assert cache is not None
        found: Any
        try:
            found = cache.get(ident)
        except KeyError:
            found = self._find(cls, ident, read_only=True)  # read from the store, and cached
        if not isinstance(found, cls):
            raise NotFound(kind, ident)
        reads[ident] = found.version
        return found

    def _save(self, main: Aggregate, *others: Aggregate | None, reads: Reads | None = None) -> Written:
        """Save the changed aggregates atomically; with ``reads`` only if those are still current (:meth:`_decided`)."""
        changed = [a for a in (main, *others) if a is not None]
        if self._in_batch():
            for aggregate in changed:
                self._batch.events.extend(aggregate.collect_events())
                self._batch.loaded[aggregate.id] = aggregate
                self._batch.touched[aggregate.id] = aggregate
            return Written(main.id, main.version, None)
        recordings = self.save(*changed, **{READ_VERSIONS: reads}) if reads else self._save_now(*changed)
        # The last position of the whole write: a reader waiting for it sees every record it changed.
        return Written(main.id, main.version, max((r.notification.id for r in recordings), default=None))

    def _save_now(self, *aggregates_or_events: Any) -> list[Any]:
        return self.save(*aggregates_or_events)

    def _now(self) -> datetime:
        return require_aware("clock", self.clock())
