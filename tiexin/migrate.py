"""Moving a ledger from its SQLite file to PostgreSQL, every position intact (``tiexin migrate``).

What is copied, exactly as stored:

- the library's events table (``stored_events`` → ``tiexin_events``): each event under the same
  notification id (its position in the log, gaps included), originator id, version, topic and
  state bytes; then the table's sequence is moved past the highest id, so the next write on the
  target lands after every copied one;
- the library's snapshots table (``stored_snapshots`` → ``tiexin_snapshots``);
- the ledger-side tables, declared once in :data:`LEDGER_TABLES`: state kept beside the events
  that cannot be derived from them (persons' keys, seals, API keys, idempotency answers). A
  declared table the source does not have (yet) is skipped and said so.

Read models are not copied: they are derived, and are rebuilt on the target from the log
(``tiexin projections rebuild``).

How:

- The target must be empty: no event and no row in any of those tables (else
  :class:`MigrationError`, before anything is written, tables included). It is checked again, under
  the events table's lock, inside the copy's transaction.
- Its tables are made by the code that makes them for tiexin (the library's recorders'
  ``create_table``; each ledger-side table's own opener), so the schema is exactly what tiexin
  expects. Only then are rows written.
- The source is read in one read transaction of SQLite (a consistent snapshot, even if it is
  written meanwhile; the API's sibling file in its own), in pages of :data:`PAGE` events.
- Everything is written in **one** PostgreSQL transaction: a migration that fails or is killed
  leaves the target with empty tables, and may simply be run again.
- Afterwards the target's log is read back through the library's recorder and compared, byte for
  byte (a SHA-256 over the canonical records), with what was read from the source; so are the
  snapshots and each table's row count.
"""

from __future__ import annotations

import hashlib
import importlib
import sqlite3
import struct
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import quote, urlsplit
from uuid import UUID

from eventsourcing.persistence import AggregateRecorder, ApplicationRecorder, InfrastructureFactory
from eventsourcing.postgres import PostgresApplicationRecorder, PostgresDatastore
from eventsourcing.sqlite import SQLiteAggregateRecorder, SQLiteApplicationRecorder
from eventsourcing.utils import Environment
from psycopg.sql import SQL, Composable, Identifier

from ledger.errors import ConflictError, TiexinError
from ledger.settings import redact, store_env
from ledger.store import LedgerBase, store_errors_translated

if TYPE_CHECKING:
    from projections.seals import VerifyResult

PAGE = 5000
"""Events read from the source and written to the target at a time (memory stays bounded by it)."""


class MigrationError(TiexinError):
    """The migration is refused (nothing was written to the target), or its copy did not read back the same."""


# The ledger-side tables --------------------------------------------------------------------

Home = Literal["ledger", "api"]
"""Where a table lives in a SQLite ledger: the ledger's own file, or the API's sibling file
(``tiexin.db`` → ``tiexin.api.db``). On PostgreSQL every one is in the ledger's schema."""


@dataclass(frozen=True)
class LedgerTable:
    """A table beside the events that holds state no rebuild can give back."""

    name: str
    home: Home
    create: Callable[[str, PostgresDatastore], None]
    """Makes the table on the target (URL, the library's datastore there) the way its owner does."""
    why: str


def create_personal_keys(url: str, datastore: PostgresDatastore) -> None:
    from ledger.keystore import PostgresKeyStore

    PostgresKeyStore(datastore)


def create_seal_tables(url: str, datastore: PostgresDatastore) -> None:
    from projections.seals import create_tables

    create_tables(url)


def create_api_tables(url: str, datastore: PostgresDatastore) -> None:
    from api.tables import open_tables

    open_tables(url).close()


LEDGER_TABLES: tuple[LedgerTable, ...] = (
    LedgerTable("personal_keys", "ledger", create_personal_keys, "each person's key: without it, their data is lost"),
    LedgerTable("seal_leaves", "ledger", create_seal_tables, "the sealed Merkle tree's leaves"),
    LedgerTable("seals", "ledger", create_seal_tables, "the signed seals auditors check the log against"),
    LedgerTable("api_keys", "api", create_api_tables, "the API keys (hashed) clients authenticate with"),
    LedgerTable(
        "api_idempotency",
        "api",
        create_api_tables,
        "answers kept for retried POSTs (30 days): without them a client retrying across the move "
        "would write twice; the log positions they note stay true, as every position is kept",
    ),
)
"""Every table beside the events that a migration copies. Read models' tables are not here: they
are derived from the log and rebuilt on the target."""


# The report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Copied:
    """What a migration wrote to the target, as read back from it."""

    source: str
    target: str
    events: int
    first_position: int | None
    last_position: int | None
    snapshots: int
    tables: dict[str, int]
    """Rows copied per ledger-side table."""
    skipped: tuple[str, ...]
    """Declared ledger-side tables the source does not have."""
    unknown: tuple[str, ...]
    """Tables of the source's files that are neither the library's nor declared: not copied."""
    digest: str
    """SHA-256 over the canonical records of every event, the same on both sides."""
    seconds: float
    seals: tuple[tuple[Any, ...], ...] = ()
    """The source's seals as stored, read in the same snapshot as the events (to verify the target against)."""

    @property
    def events_per_second(self) -> float:
        return self.events / self.seconds if self.seconds > 0 else float("inf")


Progress = Callable[[int, int], None]


def migrate(source_url: str, target_url: str, *, page: int = PAGE, progress: Progress | None = None) -> Copied:
    """Copy the SQLite ledger at ``source_url`` to the empty PostgreSQL store at ``target_url``.

    ``progress(done, total)`` is called with the events copied after each page (in the copy's
    transaction: a failure after it still leaves the target empty). Raises MigrationError
    (refused or not the same when read back), ConfigurationError (a malformed URL) or
    StoreUnavailable (a store cannot be used).
    """
    if page < 1:
        raise MigrationError("the page size must be at least 1")
    check_urls(source_url, target_url)
    started = time.perf_counter()
    with Source.opened(source_url) as source, Target.opened(target_url) as target:
        target.check_empty()
        present = [t for t in LEDGER_TABLES if source.has(t)]
        target.create_tables(source, present)
        digest, snapshots = target.copy(source, present, page, progress or (lambda done, total: None))
        copied = target.read_back(source, present, digest, snapshots)
        unknown = source.unknown_tables()
        seals = source.seals()
    return Copied(
        source=redact(source_url),
        target=redact(target_url),
        events=copied.events,
        first_position=copied.first_position,
        last_position=copied.last_position,
        snapshots=copied.snapshots,
        tables=copied.tables,
        skipped=tuple(t.name for t in LEDGER_TABLES if t not in present),
        unknown=unknown,
        digest=digest,
        seconds=time.perf_counter() - started,
        seals=seals,
    )


def check_urls(source_url: str, target_url: str) -> None:
    """A SQLite ledger to another store, on PostgreSQL (MigrationError otherwise)."""
    if source_url.strip() == target_url.strip():
        raise MigrationError(f"the target is the source ({redact(source_url)}): name another store with --to")
    if urlsplit(source_url).scheme != "sqlite":
        raise MigrationError(
            f"tiexin migrate moves a SQLite ledger to PostgreSQL: TIEXIN_DATABASE_URL ({redact(source_url)}) "
            "must name the SQLite file (sqlite:///path.db)"
        )
    if urlsplit(target_url).scheme not in ("postgresql", "postgres"):
        raise MigrationError(
            f"--to must name a PostgreSQL database (postgresql://user@host:5432/db[?schema=name]), "
            f"not {redact(target_url)!r}"
        )
    store_env(source_url)  # ConfigurationError, saying why, if malformed
    store_env(target_url)


# Canonical records -------------------------------------------------------------------------


@dataclass(frozen=True)
class Event:
    """One stored event as the library holds it, with its position (notification id)."""

    position: int
    originator_id: UUID
    originator_version: int
    topic: str
    state: bytes

    def record(self) -> bytes:
        """position ‖ originator id ‖ version ‖ len(topic) ‖ topic ‖ len(state) ‖ state (as the seals' leaves)."""
        topic = self.topic.encode()
        return b"".join(
            (
                struct.pack(">Q", self.position),
                self.originator_id.bytes,
                struct.pack(">QI", self.originator_version, len(topic)),
                topic,
                struct.pack(">I", len(self.state)),
                self.state,
            )
        )


@dataclass
class Digest:
    """A running SHA-256 over records, and how many."""

    count: int = 0
    sha: Any = field(default_factory=hashlib.sha256)

    def add(self, record: bytes) -> None:
        self.count += 1
        self.sha.update(record)

    def hexdigest(self) -> str:
        return str(self.sha.hexdigest())


class SnapshotDigest:
    """Snapshots have no position: a SHA-256 over their records' hashes in (originator, version) order.

    Only a hash per snapshot is kept, so it may be fed any number of pages.
    """

    def __init__(self) -> None:
        self.hashes: list[tuple[bytes, int, bytes]] = []

    def add(self, snapshot: Event) -> None:
        record = hashlib.sha256(snapshot.record()).digest()
        self.hashes.append((snapshot.originator_id.bytes, snapshot.originator_version, record))

    def hexdigest(self) -> str:
        return hashlib.sha256(b"".join(h for _, _, h in sorted(self.hashes))).hexdigest()


def as_bytes(value: object) -> bytes:
    """A stored state exactly: SQLite may hold it as BLOB or (written by hand) as TEXT, in UTF-8."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    return str(value).encode()


def as_text(value: object) -> str:
    """A stored topic: TEXT, or (written by hand) a BLOB of its UTF-8 (PostgreSQL's text holds nothing else)."""
    if not isinstance(value, bytes | bytearray | memoryview):
        return str(value)
    try:
        return bytes(value).decode()
    except UnicodeDecodeError:
        raise MigrationError(f"a stored topic is not UTF-8 text ({bytes(value)[:40]!r}): nothing was written") from None


def as_uuid(value: object, where: str) -> UUID:
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        raise MigrationError(
            f"{where} has originator id {str(value)[:40]!r}, not a UUID: nothing was written"
        ) from None


# The library's tables ----------------------------------------------------------------------


@dataclass(frozen=True)
class LibraryTables:
    """The library's recorders for tiexin's events and snapshots on a store (and its factory)."""

    factory: InfrastructureFactory[Any]
    events: ApplicationRecorder
    snapshots: AggregateRecorder

    @classmethod
    def of(cls, url: str, *, create: bool) -> LibraryTables:
        """The recorders a Ledger would make on ``url``; with ``create`` they create their tables, as it does."""
        env = Environment(LedgerBase.name, {**store_env(url), "CREATE_TABLE": "y" if create else "n"})
        factory: InfrastructureFactory[Any] = InfrastructureFactory.construct(env)
        try:
            return cls(factory, factory.application_recorder(), factory.aggregate_recorder("snapshots"))
        except BaseException:
            factory.close()
            raise


# The source: a SQLite ledger ---------------------------------------------------------------


class Source:
    """A SQLite ledger, read (never written) in one read transaction per file: a consistent snapshot."""

    def __init__(self, url: str, events_table: str, snapshots_table: str, ledger: sqlite3.Connection) -> None:
        self.url = url
        self.events_table = events_table
        self.snapshots_table = snapshots_table
        self.files: dict[Home, sqlite3.Connection] = {"ledger": ledger}

    @classmethod
    @contextmanager
    def opened(cls, url: str) -> Iterator[Source]:
        env = store_env(url)
        path = Path(env["SQLITE_DBNAME"])
        if not path.is_file():
            raise MigrationError(f"there is no ledger at {url}: no file {path}")
        library = LibraryTables.of(url, create=False)
        library.factory.close()
        events, snapshots = library.events, library.snapshots
        assert isinstance(events, SQLiteApplicationRecorder) and isinstance(snapshots, SQLiteAggregateRecorder)
        with store_errors_translated(f"the store at {redact(url)}"), closing(read_only(path)) as ledger:
            source = cls(url, events.events_table_name, snapshots.events_table_name, ledger)
            if not source.table_exists("ledger", source.events_table):
                raise MigrationError(f"{url} holds no ledger: it has no {source.events_table} table")
            from api.tables import sibling_path

            api = Path(sibling_path(str(path)))
            if api.is_file():
                with closing(read_only(api)) as conn:
                    source.files["api"] = conn
                    yield source
            else:
                yield source

    def table_exists(self, home: Home, name: str) -> bool:
        conn = self.files.get(home)
        if conn is None:
            return False
        row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)).fetchone()
        return row is not None

    def has(self, table: LedgerTable) -> bool:
        return self.table_exists(table.home, table.name)

    def unknown_tables(self) -> tuple[str, ...]:
        known = {self.events_table, self.snapshots_table, *(t.name for t in LEDGER_TABLES)}
        found = []
        for conn in self.files.values():
            rows = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'")
            found += [str(name) for (name,) in rows if name not in known]
        return tuple(sorted(found))

    def count(self, home: Home, table: str) -> int:
        [(count,)] = self.files[home].execute(f"SELECT COUNT(*) FROM {quote_sqlite(table)}").fetchall()
        return int(count)

    def events(self, page: int) -> Iterator[list[Event]]:
        """Every event in position order, a page at a time."""
        cursor = self.files["ledger"].execute(
            "SELECT rowid, originator_id, originator_version, topic, state "
            f"FROM {quote_sqlite(self.events_table)} ORDER BY rowid"
        )
        while rows := cursor.fetchmany(page):
            yield [
                Event(int(p), as_uuid(o, f"the event at position {p}"), int(v), as_text(t), as_bytes(s))
                for p, o, v, t, s in rows
            ]

    def snapshots(self, page: int) -> Iterator[list[Event]]:
        if not self.table_exists("ledger", self.snapshots_table):
            return
        cursor = self.files["ledger"].execute(
            f"SELECT originator_id, originator_version, topic, state FROM {quote_sqlite(self.snapshots_table)}"
        )
        while rows := cursor.fetchmany(page):
            yield [Event(0, as_uuid(o, "a snapshot"), int(v), as_text(t), as_bytes(s)) for o, v, t, s in rows]

    def seals(self) -> tuple[tuple[Any, ...], ...]:
        """The seals, in order, as :class:`projections.seals.Seal` reads them (none without the table)."""
        package = seals_package()
        if package is None or not self.table_exists("ledger", "seals"):
            return ()
        statement = importlib.import_module("projections.seals.tables").ALL_SEALS.format(seals=quote_sqlite("seals"))
        return tuple(tuple(row) for row in self.files["ledger"].execute(statement))

    def columns(self, table: LedgerTable) -> list[str]:
        rows = self.files[table.home].execute(f"PRAGMA table_info({quote_sqlite(table.name)})").fetchall()
        return [str(row[1]) for row in rows]

    def rows(self, table: LedgerTable, page: int) -> Iterator[list[tuple[Any, ...]]]:
        columns = ", ".join(quote_sqlite(c) for c in self.columns(table))
        cursor = self.files[table.home].execute(f"SELECT {columns} FROM {quote_sqlite(table.name)}")
        while rows := cursor.fetchmany(page):
            yield rows


def read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection inside one read transaction (so every read sees the same state)."""
    uri = f"file:{quote(str(path.resolve()))}?mode=ro"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, timeout=10, check_same_thread=False)
    conn.execute("BEGIN")
    return conn


def scalar(cursor: Any, statement: str | Composable, params: Sequence[Any] = ()) -> Any:
    """The one value a statement answers (the library's cursors give rows as dicts)."""
    cursor.execute(statement, params)
    row = cursor.fetchone()
    return next(iter(row.values())) if isinstance(row, dict) else row[0]


def quote_sqlite(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# The target: an empty PostgreSQL database or schema ---------------------------------------


@dataclass(frozen=True)
class ReadBack:
    events: int
    first_position: int | None
    last_position: int | None
    snapshots: int
    tables: dict[str, int]


class Target:
    """An empty PostgreSQL database (or schema) the ledger is copied into."""

    def __init__(self, url: str, library: LibraryTables) -> None:
        self.url = url
        self.library = library
        events = library.events
        assert isinstance(events, PostgresApplicationRecorder)
        self.events: PostgresApplicationRecorder = events
        self.datastore: PostgresDatastore = events.datastore
        self.schema = self.datastore.schema
        self.snapshots_table: str = getattr(library.snapshots, "events_table_name")  # noqa: B009 (no protocol names it)

    @classmethod
    @contextmanager
    def opened(cls, url: str) -> Iterator[Target]:
        store_env(url)  # ConfigurationError if malformed
        with store_errors_translated(f"the store at {redact(url)}"):
            library = LibraryTables.of(url, create=False)
            try:
                yield cls(url, library)
            finally:
                library.factory.close()

    def qualified(self, table: str) -> Composable:
        return SQL("{}.{}").format(Identifier(self.schema), Identifier(table))

    def label(self, table: str) -> str:
        return f'"{self.schema}"."{table}"'

    @property
    def tables(self) -> list[str]:
        return [self.events.events_table_name, self.snapshots_table, *(t.name for t in LEDGER_TABLES)]

    def non_empty(self, cursor: Any) -> list[str]:
        """The target's tables (of those a migration writes) that hold a row."""
        found = []
        for table in self.tables:
            if scalar(cursor, "SELECT to_regclass(%s) IS NOT NULL", (self.label(table),)) and scalar(
                cursor, SQL("SELECT EXISTS (SELECT 1 FROM {})").format(self.qualified(table))
            ):
                found.append(table)
        return found

    def check_empty(self) -> None:
        """Refuse (MigrationError) a target that has no such schema or holds anything; writes nothing."""
        with store_errors_translated(f"the store at {redact(self.url)}"), self.datastore.transaction() as cursor:
            if not scalar(cursor, "SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = %s)", (self.schema,)):
                raise MigrationError(
                    f"{redact(self.url)} has no schema {self.schema!r}: create it first (CREATE SCHEMA …)"
                )
            self.refuse_if_not_empty(cursor)

    def refuse_if_not_empty(self, cursor: Any) -> None:
        found = self.non_empty(cursor)
        if found:
            raise MigrationError(
                f"the target {redact(self.url)} is not empty ({', '.join(found)} hold rows): "
                "a ledger moves only into an empty database or schema; nothing was written"
            )

    def create_tables(self, source: Source, present: Sequence[LedgerTable]) -> None:
        """The library's tables and every ledger-side table the source has, each by its own code."""
        with store_errors_translated(f"the store at {redact(self.url)}"):
            self.library.events.create_table()  # type: ignore[attr-defined]
            self.library.snapshots.create_table()  # type: ignore[attr-defined]
            done: set[Callable[[str, PostgresDatastore], None]] = set()
            for table in present:
                if table.create in done:
                    continue
                try:
                    table.create(self.url, self.datastore)
                except ImportError as error:
                    raise MigrationError(
                        f"the source has a {table.name} table but this tiexin cannot make one on the target "
                        f"({error}); nothing was written"
                    ) from None
                done.add(table.create)
        with self.datastore.transaction() as cursor:
            for table in present:
                missing = set(source.columns(table)) - set(self.target_columns(cursor, table.name))
                if missing:
                    raise MigrationError(
                        f"the target's {table.name} table has no column {', '.join(sorted(missing))} that the "
                        "source's has: is this tiexin older than the ledger? Nothing was written"
                    )

    def target_columns(self, cursor: Any, table: str) -> list[str]:
        cursor.execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = %s AND table_name = %s",
            (self.schema, table),
        )
        return [str(row["column_name"]) for row in cursor.fetchall()]

    def copy(self, source: Source, present: Sequence[LedgerTable], page: int, progress: Progress) -> tuple[str, str]:
        """Write everything in one transaction; answer the digests of the events and snapshots copied."""
        total = source.count("ledger", source.events_table)
        events, snapshots = Digest(), SnapshotDigest()
        try:
            with (
                store_errors_translated(f"the store at {redact(self.url)}"),
                self.datastore.get_connection() as conn,
                conn.transaction(),
                conn.cursor() as cursor,
            ):
                cursor.execute(SQL("SET LOCAL lock_timeout = '10s'"))
                cursor.execute(SQL("LOCK TABLE {} IN EXCLUSIVE MODE").format(self.qualified(self.events_table)))
                self.refuse_if_not_empty(cursor)
                progress(0, total)
                statement = SQL(
                    "COPY {} (notification_id, originator_id, originator_version, topic, state) FROM STDIN"
                ).format(self.qualified(self.events_table))
                last = 0
                with cursor.copy(statement) as copy:
                    for rows in source.events(page):
                        for event in rows:
                            copy.write_row(
                                (event.position, event.originator_id, event.originator_version, event.topic,
                                 event.state)
                            )  # fmt: skip
                            events.add(event.record())
                        last = rows[-1].position
                        progress(events.count, max(total, events.count))
                if last:
                    cursor.execute(
                        "SELECT setval(pg_get_serial_sequence(%s, 'notification_id'), %s)",
                        (self.label(self.events_table), last),
                    )
                statement = SQL("COPY {} (originator_id, originator_version, topic, state) FROM STDIN").format(
                    self.qualified(self.snapshots_table)
                )
                with cursor.copy(statement) as copy:
                    for stored in source.snapshots(page):
                        for snapshot in stored:
                            copy.write_row((snapshot.originator_id, snapshot.originator_version, snapshot.topic,
                                            snapshot.state))  # fmt: skip
                            snapshots.add(snapshot)
                for table in present:
                    columns = source.columns(table)
                    statement = SQL("COPY {} ({}) FROM STDIN").format(
                        self.qualified(table.name), SQL(", ").join(Identifier(c) for c in columns)
                    )
                    with cursor.copy(statement) as copy:
                        for chunk in source.rows(table, page):
                            for row in chunk:
                                copy.write_row(row)
        except ConflictError:
            raise MigrationError(
                f"the target {redact(self.url)} was written to while the ledger was copied (a row with the same key "
                "appeared); nothing was written"
            ) from None
        return events.hexdigest(), snapshots.hexdigest()

    @property
    def events_table(self) -> str:
        return str(self.events.events_table_name)

    def read_back(self, source: Source, present: Sequence[LedgerTable], digest: str, snapshots: str) -> ReadBack:
        """Read the target back through the library's recorder; MigrationError if it differs from the source."""
        with store_errors_translated(f"the store at {redact(self.url)}"):
            events, first, last = Digest(), None, None
            start = 1
            while notifications := self.events.select_notifications(start=start, limit=PAGE):
                for n in notifications:
                    events.add(
                        Event(
                            n.id, as_uuid(n.originator_id, "an event"), n.originator_version, n.topic, as_bytes(n.state)
                        ).record()
                    )
                first = notifications[0].id if first is None else first
                last = notifications[-1].id
                start = last + 1
            stored = SnapshotDigest()
            with self.datastore.transaction() as cursor:
                cursor.execute(
                    SQL("SELECT originator_id, originator_version, topic, state FROM {}").format(
                        self.qualified(self.snapshots_table)
                    )
                )
                while rows := cursor.fetchmany(PAGE):
                    for r in rows:
                        stored.add(
                            Event(0, as_uuid(r["originator_id"], "a snapshot"), int(r["originator_version"]),
                                  str(r["topic"]), as_bytes(r["state"]))
                        )  # fmt: skip
                tables = {}
                for table in present:
                    tables[table.name] = int(
                        scalar(cursor, SQL("SELECT COUNT(*) FROM {}").format(self.qualified(table.name)))
                    )
        differs = [
            *(["its log"] if events.hexdigest() != digest else []),
            *(["its snapshots"] if stored.hexdigest() != snapshots else []),
            *(t.name for t in present if tables[t.name] != source.count(t.home, t.name)),
        ]
        if differs:
            raise MigrationError(
                f"the target {redact(self.url)} does not read back as the source ({', '.join(differs)} differ): "
                "do not use it; empty it before moving again"
            )
        return ReadBack(events.count, first, last, len(stored.hashes), tables)


# Verification against the seals ------------------------------------------------------------


def seals_package() -> Any | None:
    """:mod:`projections.seals`, or None where this tiexin has none (then there is nothing to verify with)."""
    try:
        return importlib.import_module("projections.seals")
    except ModuleNotFoundError as error:
        if error.name in ("projections", "projections.seals"):
            return None
        raise


def verify_target(copied: Copied, target_url: str, public_key: Any | None = None) -> VerifyResult | None:
    """Verify the target's log against the source's seals, as read with the events copied.

    Signatures are checked under ``public_key`` (the bureau's, when this machine has its key
    file), else under the key stored with each seal. None without :mod:`projections.seals`.
    Nothing is written.
    """
    seals = seals_package()
    if seals is None:
        return None
    listed = [seals.Seal.from_row(row) for row in copied.seals]
    result: VerifyResult = seals.verify_store(target_url, seals=listed, public_key=public_key)
    return result
