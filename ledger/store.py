"""The ledger's plumbing: the store settings it accepts, the unit of work, error translation.

:class:`LedgerBase` is everything an application of ours needs from the library and nothing of
the domain: it reads only the settings it is given, registers our value types, loads
aggregates (through an identity map inside a batch), saves atomically, and turns the library's
and the drivers' errors into :mod:`ledger.errors`. The commands live in :mod:`ledger.application`.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, ParamSpec, TypeVar
from uuid import UUID, uuid4

from eventsourcing.application import AggregateNotFoundError, Application
from eventsourcing.domain import Aggregate
from eventsourcing.persistence import (
    EventStore,
    IntegrityError,
    JSONTranscoder,
    Mapper,
    Notification,
    PersistenceError,
    Recording,
)
from eventsourcing.utils import Environment

from ledger.common import require_aware
from ledger.damage import damage_in
from ledger.errors import ConflictError, InvalidInput, NotFound, StoreUnavailable, VersionMismatch, first_line
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
        it stays right when other processes write too.
        """
        return Environment(name, {**DEFAULT_SETTINGS, **(env or {})})

    def construct_mapper(self) -> Mapper[UUID]:
        """The library's mapper, sealing and opening personal fields (:mod:`ledger.personal`)."""
        return PersonalDataMapper(self.construct_transcoder(), self.keyring, self._now)

    def construct_event_store(self) -> EventStore[UUID]:
        return PersonalEventStore(self.mapper, self.recorder, self.keyring)

    def _record(self, processing_event: Any) -> list[Recording[UUID]]:
        """Save, telling the mapper whose each aggregate's events are (its ``personal_subject``)."""
        subjects = {
            ident: subject
            for ident, aggregate in processing_event.aggregates.items()
            if (subject := getattr(aggregate, "personal_subject", None)) is not None
        }
        with self.keyring.saving(subjects):
            recordings: list[Recording[UUID]] = super()._record(processing_event)
        return recordings

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

    def _save(self, main: Aggregate, *others: Aggregate | None) -> Written:
        changed = [a for a in (main, *others) if a is not None]
        if self._in_batch():
            for aggregate in changed:
                self._batch.events.extend(aggregate.collect_events())
                self._batch.loaded[aggregate.id] = aggregate
                self._batch.touched[aggregate.id] = aggregate
            return Written(main.id, main.version, None)
        recordings = self._save_now(*changed)
        # The last position of the whole write: a reader waiting for it sees every record it changed.
        return Written(main.id, main.version, max((r.notification.id for r in recordings), default=None))

    def _save_now(self, *aggregates_or_events: Any) -> list[Any]:
        return self.save(*aggregates_or_events)

    def _now(self) -> datetime:
        return require_aware("clock", self.clock())
