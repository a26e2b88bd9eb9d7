"""Fixtures shared by every tier: the stores, a ledger on each, a fixed clock and readable ids.

PostgreSQL tests read their server from ``TIEXIN_TEST_POSTGRES_URL``. Without it (or when the
server is unreachable) they skip with the reason, except under ``CI=true``, where they fail:
CI must never count a skipped store as passing.
"""

from __future__ import annotations

import base64
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest

from ledger.application import Ledger
from ledger.bootstrap import ensure_home_county, open_ledger
from ledger.errors import first_line
from tests.builders import MASTER_KEY

# Every process the tests start (the CLI, servers) opens its ledger with the tests' master key.
os.environ.setdefault("TIEXIN_MASTER_KEY", base64.b64encode(MASTER_KEY).decode())

START = datetime(2026, 3, 1, 1, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves by hand."""

    def __init__(self, now: datetime = START) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


def postgres_admin_url() -> str:
    url = os.environ.get("TIEXIN_TEST_POSTGRES_URL")
    if not url:
        skip_or_fail("TIEXIN_TEST_POSTGRES_URL is not set, so the PostgreSQL tests cannot run")
    return url  # type: ignore[return-value]


def skip_or_fail(reason: str) -> None:
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason} (CI=true: a PostgreSQL test may not be skipped)")
    pytest.skip(reason)


@contextmanager
def fresh_postgres_schema(prefix: str = "t") -> Iterator[str]:
    """A PostgreSQL URL naming a new, empty schema, dropped on leaving."""
    import psycopg

    admin = postgres_admin_url()
    schema = f"{prefix}_{uuid.uuid4().hex[:12]}"
    try:
        with psycopg.connect(admin, autocommit=True, connect_timeout=5) as conn:
            conn.execute(f"CREATE SCHEMA {schema}")
    except psycopg.OperationalError as error:
        skip_or_fail(f"PostgreSQL at {urlsplit(admin).hostname} is unreachable: {first_line(error)}")
    separator = "&" if "?" in admin else "?"
    try:
        yield f"{admin}{separator}schema={schema}"
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL with a fresh, empty schema of its own, dropped afterwards."""
    with fresh_postgres_schema() as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: object) -> str:
    return f"sqlite:///{tmp_path}/tiexin.db"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def store_url(request: pytest.FixtureRequest) -> str:
    """Each test that takes this runs once on a SQLite file and once on PostgreSQL."""
    return str(request.getfixturevalue(f"{request.param}_url"))


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def open_store(clock: Clock) -> Iterator[Callable[[str], Ledger]]:
    """Open ledgers on a URL (several may share one store); all are closed afterwards."""
    opened: list[Ledger] = []

    def opener(url: str) -> Ledger:
        ledger = open_ledger(url, clock=clock, master_key=MASTER_KEY)
        ensure_home_county(ledger)
        opened.append(ledger)
        return ledger

    yield opener
    for ledger in opened:
        ledger.close()


@pytest.fixture
def stored_ledger(store_url: str, open_store: Callable[[str], Ledger]) -> Ledger:
    """A ledger with the home county, on a real store (SQLite file and PostgreSQL)."""
    return open_store(store_url)


@pytest.fixture
def ledger(clock: Clock) -> Iterator[Ledger]:
    """A ledger in memory (the library's POPO store) for unit tests: no I/O."""
    ledger = Ledger({"PERSISTENCE_MODULE": "eventsourcing.popo"}, master_key=MASTER_KEY, clock=clock)
    ledger.ensure_default_policies()
    ensure_home_county(ledger)
    yield ledger
    ledger.close()


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove this process's demo template (tests/demo_store.py), if a test built it."""
    from tests.demo_store import remove_templates

    remove_templates()
