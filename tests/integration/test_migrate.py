"""Moving a small ledger from a SQLite file to PostgreSQL (:func:`tiexin.migrate.migrate`), in small pages.

The whole-county move through the command is in ``tests/e2e/test_migrate.py``; here, the edges:
a move that fails midway, positions with gaps, tables the migration does not know.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.events import topic_of
from ledger.visits import Visit
from tests.builders import MASTER_KEY, make_pair, visit_at
from tests.conftest import postgres_admin_url
from tiexin.migrate import MigrationError, migrate

pytestmark = pytest.mark.postgres


class Crash(Exception):
    """The process dies midway (here: raised from the progress report, inside the copy's transaction)."""


@pytest.fixture
def source(sqlite_url: str, open_store: Callable[[str], Ledger]) -> str:
    """A SQLite ledger of a few dozen events: the home county, three pairs and their visits."""
    ledger = open_store(sqlite_url)
    start = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)
    for n in range(3):
        pair = make_pair(ledger, n)
        for day in range(3):
            visit_at(ledger, pair, start + timedelta(days=day))
    return sqlite_url


def positions(url: str) -> list[tuple[int, object, int, str, bytes]]:
    ledger = open_ledger(url, master_key=MASTER_KEY)
    try:
        found = ledger.recorder.select_notifications(start=1, limit=10_000)
        return [(n.id, n.originator_id, n.originator_version, n.topic, bytes(n.state)) for n in found]
    finally:
        ledger.close()


def count(url: str, table: str) -> int:
    schema = url.rsplit("schema=", 1)[1]
    with psycopg.connect(postgres_admin_url()) as conn:
        [(n,)] = conn.execute(f'SELECT count(*) FROM "{schema}"."{table}"').fetchall()
        return int(n)


def test_a_move_that_fails_midway_leaves_the_target_empty_and_may_be_run_again(source: str, postgres_url: str) -> None:
    def crash_after_first_page(done: int, total: int) -> None:
        if done > 0:
            raise Crash

    with pytest.raises(Crash):
        migrate(source, postgres_url, page=4, progress=crash_after_first_page)

    assert count(postgres_url, "tiexin_events") == 0
    assert count(postgres_url, "tiexin_snapshots") == 0

    seen: list[tuple[int, int]] = []
    copied = migrate(source, postgres_url, page=4, progress=lambda done, total: seen.append((done, total)))

    expected = positions(source)
    assert positions(postgres_url) == expected
    assert copied.events == len(expected) and copied.last_position == expected[-1][0]
    assert seen[-1] == (len(expected), len(expected)) and len(seen) > 3


def test_gaps_in_the_log_keep_their_positions_and_the_next_write_comes_after_them(
    source: str, postgres_url: str
) -> None:
    """Gaps as a deleted record leaves them (every event of one visit, so every other record still loads)."""
    with sqlite3.connect(source.removeprefix("sqlite:///")) as conn:
        [(visit,)] = conn.execute(
            "SELECT originator_id FROM stored_events WHERE topic = ? ORDER BY rowid LIMIT 1 OFFSET 4",
            (topic_of(Visit.Recorded),),
        ).fetchall()
        gaps = [p for (p,) in conn.execute("SELECT rowid FROM stored_events WHERE originator_id = ?", (visit,))]
        conn.execute("DELETE FROM stored_events WHERE originator_id = ?", (visit,))
        [(head,)] = conn.execute("SELECT max(rowid) FROM stored_events").fetchall()
    assert gaps and max(gaps) < head

    copied = migrate(source, postgres_url, page=4)

    moved = positions(postgres_url)
    assert moved == positions(source)
    assert not {p for p, *_ in moved} & set(gaps)
    assert copied.last_position == head
    ledger = open_ledger(postgres_url, master_key=MASTER_KEY)  # adopts the default policies if missing: none are
    try:
        pair = make_pair(ledger, 99)
    finally:
        ledger.close()
    assert min(p for p, *_ in positions(postgres_url) if p > head) == head + 1
    assert pair.pairing_id is not None


def test_tables_this_tiexin_does_not_know_are_named_and_left_behind(source: str, postgres_url: str) -> None:
    with sqlite3.connect(source.removeprefix("sqlite:///")) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
        conn.execute("INSERT INTO notes VALUES ('kept by hand')")

    copied = migrate(source, postgres_url)

    assert copied.unknown == ("notes",)
    assert {"api_keys", "api_idempotency"} <= set(copied.skipped)  # this ledger never had the API's file


def test_a_target_with_events_is_refused_before_anything_is_written(source: str, postgres_url: str) -> None:
    migrate(source, postgres_url)
    before = count(postgres_url, "tiexin_events")

    with pytest.raises(MigrationError, match="is not empty"):
        migrate(source, postgres_url)

    assert count(postgres_url, "tiexin_events") == before
