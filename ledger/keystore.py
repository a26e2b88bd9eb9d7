"""The table of persons' keys (``personal_keys``), beside the events in the ledger's own database.

One class per store, each through the library's datastore (its connections and transactions), so
a key is in the same file or database as the events it opens: a copy of the ledger is complete,
and ``tiexin migrate`` moves keys with events. The rows hold keys wrapped under the master key
(:class:`ledger.personal.Keyring` wraps and unwraps); a forgotten person's row keeps only when.
"""

from __future__ import annotations

import threading
from typing import Any
from uuid import UUID

from eventsourcing.application import Application

from ledger.personal import KeyStore, StoredKey

TABLE = "personal_keys"


def key_store_of(app: Application[Any]) -> KeyStore:
    """The key table on the application's store (created if absent)."""
    datastore = getattr(app.recorder, "datastore", None)
    kind = type(datastore).__name__ if datastore is not None else ""
    if kind == "SQLiteDatastore":
        return SQLiteKeyStore(datastore)
    if kind == "PostgresDatastore":
        return PostgresKeyStore(datastore)
    return MemoryKeyStore()


def _row(row: Any) -> StoredKey:
    wrapped = row["wrapped"]
    return StoredKey(
        UUID(str(row["subject_id"])),
        bytes(wrapped) if wrapped is not None else None,
        str(row["created_at"]),
        None if row["forgotten_at"] is None else str(row["forgotten_at"]),
    )


class SQLiteKeyStore:
    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        with datastore.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {TABLE} (subject_id TEXT PRIMARY KEY, wrapped BLOB, "
                "created_at TEXT NOT NULL, forgotten_at TEXT)"
            )

    def get(self, subject_id: UUID) -> StoredKey | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {TABLE} WHERE subject_id = ?", (str(subject_id),))
            row = c.fetchone()
        return None if row is None else _row(row)

    def add(self, keys: list[StoredKey]) -> list[UUID]:
        raced = []
        with self.datastore.transaction(commit=True) as c:
            for key in keys:
                c.execute(
                    f"INSERT INTO {TABLE} (subject_id, wrapped, created_at, forgotten_at) VALUES (?, ?, ?, ?) "
                    "ON CONFLICT (subject_id) DO NOTHING RETURNING subject_id",
                    (str(key.subject_id), key.wrapped, key.created_at, key.forgotten_at),
                )
                if c.fetchone() is None:
                    raced.append(key.subject_id)
        return raced

    def forget(self, subject_id: UUID, at: str) -> bool:
        with self.datastore.transaction(commit=True) as c:
            c.execute("PRAGMA secure_delete = ON")  # the freed key's bytes are overwritten, not left in the file
            c.execute(
                f"UPDATE {TABLE} SET wrapped = NULL, forgotten_at = ? WHERE subject_id = ? AND forgotten_at IS NULL "
                "RETURNING subject_id",
                (at, str(subject_id)),
            )
            if c.fetchone() is not None:
                return True
            c.execute(
                f"INSERT INTO {TABLE} (subject_id, wrapped, created_at, forgotten_at) VALUES (?, NULL, ?, ?) "
                "ON CONFLICT (subject_id) DO NOTHING RETURNING subject_id",
                (str(subject_id), at, at),
            )
            return c.fetchone() is not None

    def all(self) -> list[StoredKey]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {TABLE} ORDER BY subject_id")
            return [_row(row) for row in c.fetchall()]

    def count(self) -> tuple[int, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT COUNT(wrapped) AS live, COUNT(forgotten_at) AS forgotten FROM {TABLE} WHERE subject_id <> ?",
                (str(UUID(int=0)),),
            )
            row = c.fetchone()
        return int(row["live"]), int(row["forgotten"])


class PostgresKeyStore:
    def __init__(self, datastore: Any) -> None:
        self.datastore = datastore
        self.table = f'"{datastore.schema}".{TABLE}'
        with datastore.transaction(commit=True) as c:
            c.execute(
                f"CREATE TABLE IF NOT EXISTS {self.table} (subject_id uuid PRIMARY KEY, wrapped bytea, "
                "created_at text NOT NULL, forgotten_at text)"
            )

    def get(self, subject_id: UUID) -> StoredKey | None:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {self.table} WHERE subject_id = %s", (subject_id,))
            row = c.fetchone()
        return None if row is None else _row(row)

    def add(self, keys: list[StoredKey]) -> list[UUID]:
        raced = []
        with self.datastore.transaction(commit=True) as c:
            for key in keys:
                c.execute(
                    f"INSERT INTO {self.table} (subject_id, wrapped, created_at, forgotten_at) VALUES (%s, %s, %s, %s) "
                    "ON CONFLICT (subject_id) DO NOTHING RETURNING subject_id",
                    (key.subject_id, key.wrapped, key.created_at, key.forgotten_at),
                )
                if c.fetchone() is None:
                    raced.append(key.subject_id)
        return raced

    def forget(self, subject_id: UUID, at: str) -> bool:
        with self.datastore.transaction(commit=True) as c:
            c.execute(
                f"INSERT INTO {self.table} (subject_id, wrapped, created_at, forgotten_at) VALUES (%s, NULL, %s, %s) "
                "ON CONFLICT (subject_id) DO UPDATE SET wrapped = NULL, forgotten_at = EXCLUDED.forgotten_at "
                f"WHERE {TABLE}.forgotten_at IS NULL RETURNING subject_id",
                (subject_id, at, at),
            )
            return c.fetchone() is not None

    def all(self) -> list[StoredKey]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(f"SELECT * FROM {self.table} ORDER BY subject_id::text")
            return [_row(row) for row in c.fetchall()]

    def count(self) -> tuple[int, int]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT COUNT(wrapped) AS live, COUNT(forgotten_at) AS forgotten FROM {self.table} "
                "WHERE subject_id <> %s",
                (UUID(int=0),),
            )
            row = c.fetchone()
        return int(row["live"]), int(row["forgotten"])


class MemoryKeyStore:
    """For a ledger in memory (the library's ``popo`` store): keys last as long as the process."""

    def __init__(self) -> None:
        self.rows: dict[UUID, StoredKey] = {}
        self.lock = threading.Lock()

    def get(self, subject_id: UUID) -> StoredKey | None:
        return self.rows.get(subject_id)

    def add(self, keys: list[StoredKey]) -> list[UUID]:
        with self.lock:
            raced = [k.subject_id for k in keys if k.subject_id in self.rows]
            self.rows.update({k.subject_id: k for k in keys if k.subject_id not in raced})
        return raced

    def forget(self, subject_id: UUID, at: str) -> bool:
        with self.lock:
            old = self.rows.get(subject_id)
            if old is not None and old.forgotten_at is not None:
                return False
            self.rows[subject_id] = StoredKey(subject_id, None, old.created_at if old else at, at)
            return True

    def all(self) -> list[StoredKey]:
        return [self.rows[s] for s in sorted(self.rows, key=str)]

    def count(self) -> tuple[int, int]:
        rows = [r for s, r in self.rows.items() if s != UUID(int=0)]
        return sum(r.wrapped is not None for r in rows), sum(r.forgotten_at is not None for r in rows)
