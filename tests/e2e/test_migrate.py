"""`tiexin migrate` as an operator runs it: the demo county's SQLite file moved to PostgreSQL.

The demo county (seed 1) is built once into a SQLite file, sealed with the bureau's key, with an
API key and a kept idempotency answer beside it, and moved once with the real command into a
fresh PostgreSQL schema; the tests read both stores back themselves, and run ``tiexin verify``
on the target against the seals exported from the source. Tests that need no store run the
command with bad arguments.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import pytest

from api.keys import KeyStore
from api.tables import open_tables, sibling_path
from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.counties import LIANSHUI
from projections.seals import create_key_file, seal_store
from tests.builders import COORDINATOR, MASTER_KEY, elder_fields, make_pair
from tests.conftest import fresh_postgres_schema, postgres_admin_url
from tests.demo_store import seeded_demo

PAGE = 5000


def tiexin(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """The command, with the bureau's seal key of ``cwd`` (if it has one)."""
    env = {
        **os.environ, "TIEXIN_DATABASE_URL": database_url, "TIEXIN_SEAL_KEY_FILE": str(cwd / "tiexin-seal.key"),
        "COLUMNS": "160",
    }  # fmt: skip
    return subprocess.run(
        [sys.executable, "-m", "tiexin", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


@dataclass(frozen=True)
class Demo:
    url: str
    cwd: Path
    token: str
    """An API key made on the source."""


@dataclass(frozen=True)
class Moved:
    demo: Demo
    target: str
    stdout: str
    head: int
    """The last position of the source's log."""


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    cwd = tmp_path_factory.mktemp("migrate")
    url = f"sqlite:///{cwd / 'tiexin.db'}"
    seeded_demo(url)
    seal_store(url, create_key_file(cwd / "tiexin-seal.key"))
    tables = open_tables(url)
    try:
        token, _ = KeyStore(tables).create(role="auditor", name="auditor-wang")
        tables.execute(
            "INSERT INTO {api_idempotency} (principal_id, idempotency_key, fingerprint, state, reserved_at, "
            "log_position, status, body, headers) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ("principal-1", "retry-me", "f" * 64, "done", 1767225600.5, 42, 201, '{"id": "x"}', "{}"),
        )
    finally:
        tables.close()
    return Demo(url, cwd, token)


@pytest.fixture(scope="module")
def moved(demo: Demo) -> Iterator[Moved]:
    with fresh_postgres_schema("mig") as target:
        result = tiexin("migrate", "--to", target, database_url=demo.url, cwd=demo.cwd)
        assert result.returncode == 0, result.stderr
        source = open_ledger(demo.url, master_key=MASTER_KEY)
        try:
            head = source.recorder.max_notification_id() or 0
        finally:
            source.close()
        yield Moved(demo, target, result.stdout, head)


def notifications(url: str, stop: int) -> Iterator[tuple[int, UUID, int, str, bytes]]:
    """Every stored event up to ``stop`` as the library reads it: position, originator, version, topic, state."""
    ledger = open_ledger(url, master_key=MASTER_KEY)
    try:
        start = 1
        while page := ledger.recorder.select_notifications(start=start, limit=PAGE, stop=stop):
            yield from ((n.id, n.originator_id, n.originator_version, n.topic, bytes(n.state)) for n in page)
            start = page[-1].id + 1
    finally:
        ledger.close()


def sqlite_rows(path: str, statement: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(path) as conn:
        return list(conn.execute(statement))


def postgres_rows(url: str, statement: str) -> list[tuple[Any, ...]]:
    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(postgres_admin_url()) as conn:
        conn.execute(f"SET search_path TO {schema}")
        return list(conn.execute(statement))


def file_of(url: str) -> str:
    return url.removeprefix("sqlite:///")


@pytest.mark.postgres
def test_the_demo_county_moves_with_every_position_and_byte_intact(moved: Moved) -> None:
    assert moved.head > 40_000
    source = notifications(moved.demo.url, moved.head)
    target = notifications(moved.target, moved.head)
    count = 0
    for count, (expected, found) in enumerate(zip(source, target, strict=True), start=1):  # noqa: B007
        assert found == expected
    assert count == moved.head
    assert f"copied {moved.head:,} events (positions 1–{moved.head:,})" in moved.stdout
    assert f"intact up to position {moved.head} under seal 1" in moved.stdout
    assert "tiexin projections rebuild" in moved.stdout


@pytest.mark.postgres
def test_the_target_verifies_against_the_seals_exported_from_the_source(moved: Moved) -> None:
    cwd = moved.demo.cwd
    exported = tiexin("seals", "export", str(cwd / "seals.json"), database_url=moved.demo.url, cwd=cwd)
    assert exported.returncode == 0, exported.stderr

    verified = tiexin("verify", "--seals", str(cwd / "seals.json"), database_url=moved.target, cwd=cwd)

    assert verified.returncode == 0, verified.stderr
    assert f"intact up to position {moved.head} under seal 1" in verified.stdout


@pytest.mark.postgres
def test_snapshots_and_the_ledger_side_tables_move_with_the_events(moved: Moved) -> None:
    ledger_file = file_of(moved.demo.url)
    snapshots = "SELECT originator_id, originator_version, topic, state FROM {} ORDER BY 1, 2"
    source = [
        (UUID(o), v, t, bytes(s)) for o, v, t, s in sqlite_rows(ledger_file, snapshots.format("stored_snapshots"))
    ]
    target = [(o, v, t, bytes(s)) for o, v, t, s in postgres_rows(moved.target, snapshots.format("tiexin_snapshots"))]
    assert source and target == source

    for table, order in (("seals", "seq"), ("seal_leaves", "leaf_index")):
        statement = f"SELECT * FROM {table} ORDER BY {order}"
        assert postgres_rows(moved.target, statement) == sqlite_rows(ledger_file, statement)

    keys = "SELECT id, name, role, volunteer_id, key_hash, created_at, revoked_at FROM api_keys ORDER BY id"
    assert postgres_rows(moved.target, keys) == sqlite_rows(sibling_path(ledger_file), keys)
    answers = "SELECT * FROM api_idempotency ORDER BY principal_id, idempotency_key"
    assert postgres_rows(moved.target, answers) == sqlite_rows(sibling_path(ledger_file), answers)

    tables = open_tables(moved.target)
    try:
        principal = KeyStore(tables).authenticate(moved.demo.token)
    finally:
        tables.close()
    assert principal is not None and principal.role == "auditor"

    people = "SELECT subject_id, wrapped, created_at, forgotten_at FROM personal_keys ORDER BY 1"
    if sqlite_rows(ledger_file, "SELECT name FROM sqlite_master WHERE name = 'personal_keys'"):
        source_keys = [(UUID(s), w, c, f) for s, w, c, f in sqlite_rows(ledger_file, people)]
        assert source_keys and sorted(postgres_rows(moved.target, people)) == sorted(source_keys)


@pytest.mark.postgres
def test_every_aggregate_loads_the_same_from_the_target(moved: Moved) -> None:
    originators = sorted({o for _, o, _, _, _ in notifications(moved.demo.url, moved.head)})
    source, target = (
        open_ledger(moved.demo.url, master_key=MASTER_KEY),
        open_ledger(moved.target, master_key=MASTER_KEY),
    )
    try:
        for originator in originators[::25]:
            assert state_of(target, originator) == state_of(source, originator), originator
    finally:
        source.close()
        target.close()


def state_of(ledger: Ledger, originator: UUID) -> dict[str, Any]:
    aggregate = ledger.repository.get(originator)
    return {"class": type(aggregate).__qualname__, **vars(aggregate)}


@pytest.mark.postgres
def test_a_target_that_holds_a_ledger_is_refused_and_left_as_it_was(moved: Moved) -> None:
    before = postgres_rows(moved.target, "SELECT count(*), max(notification_id) FROM tiexin_events")

    again = tiexin("migrate", "--to", moved.target, database_url=moved.demo.url, cwd=moved.demo.cwd)

    assert again.returncode == 1
    [line] = again.stderr.strip().splitlines()
    assert line.startswith("error:") and "is not empty" in line and "tiexin_events" in line
    assert postgres_rows(moved.target, "SELECT count(*), max(notification_id) FROM tiexin_events") == before


@pytest.mark.postgres
def test_a_target_holding_only_an_api_key_is_refused_and_nothing_is_written(demo: Demo) -> None:
    with fresh_postgres_schema("mig") as target:
        tables = open_tables(target)
        try:
            KeyStore(tables).create(role="admin", name="admin-li")
        finally:
            tables.close()

        result = tiexin("migrate", "--to", target, database_url=demo.url, cwd=demo.cwd)

        assert result.returncode == 1
        [line] = result.stderr.strip().splitlines()
        assert "is not empty (api_keys hold rows)" in line
        assert postgres_rows(target, "SELECT to_regclass('tiexin_events')") == [(None,)]
        assert postgres_rows(target, "SELECT count(*) FROM api_keys") == [(1,)]


@pytest.mark.postgres
def test_after_the_move_a_new_write_lands_after_the_copied_log(moved: Moved) -> None:
    ledger = open_ledger(moved.target, master_key=MASTER_KEY)
    try:
        written = ledger.register_elder(county=LIANSHUI, **elder_fields(9001), by=COORDINATOR)
    finally:
        ledger.close()
    assert written.position == moved.head + 1


@pytest.mark.parametrize(
    ("source", "target", "expected"),
    [
        ("sqlite:///tiexin.db", "sqlite:///tiexin.db", "the target is the source"),
        ("sqlite:///tiexin.db", "mysql://root@localhost/test", "--to must name a PostgreSQL database"),
        ("sqlite:///tiexin.db", "postgresql:///test", "a PostgreSQL URL needs a host and a database"),
        ("postgresql://postgres@127.0.0.1/a", "postgresql://postgres@127.0.0.1/b", "moves a SQLite ledger"),
        (
            "sqlite:///no-such.db",
            "postgresql://postgres@127.0.0.1:1/test",
            "there is no ledger at sqlite:///no-such.db",
        ),
    ],
)
def test_a_bad_source_or_target_ends_with_one_line_and_writes_nothing(
    source: str, target: str, expected: str, tmp_path: Path
) -> None:
    result = tiexin("migrate", "--to", target, database_url=source, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error:") and expected in line
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_a_source_altered_after_its_seal_is_copied_but_fails_verification(
    sqlite_url: str, postgres_url: str, open_store: Callable[[str], Ledger], tmp_path: Path
) -> None:
    """The copy is what the source holds, but the command exits 1, naming where the seals no longer hold."""
    ledger = open_store(sqlite_url)
    make_pair(ledger, 1)
    seal_store(sqlite_url, create_key_file(tmp_path / "tiexin-seal.key"))
    with sqlite3.connect(file_of(sqlite_url)) as conn:
        conn.execute("UPDATE stored_events SET state = CAST('{}' AS BLOB) WHERE rowid = 5")

    result = tiexin("migrate", "--to", postgres_url, database_url=sqlite_url, cwd=tmp_path)

    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: verification of the target against the source's seals failed")
    assert "position 5: edited" in line
    assert "read back from the target: the same" in result.stdout
