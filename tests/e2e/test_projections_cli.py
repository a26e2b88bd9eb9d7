"""``tiexin projections …`` as an operator runs it: real processes on a real store (SQLite and PostgreSQL)."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from ledger.application import Ledger
from projections.history import open_history_view
from tests.builders import make_pair, visit_at

ROOT = Path(__file__).resolve().parents[2]
FEB = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)


def environment(database_url: str) -> dict[str, str]:
    return {**os.environ, "TIEXIN_DATABASE_URL": database_url, "COLUMNS": "200", "PYTHONPATH": str(ROOT)}


def tiexin(*args: str, database_url: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tiexin", *args],
        env=environment(database_url),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def row_of(output: str, name: str) -> list[str]:
    """The cells of a read model's row in the status table."""
    for line in output.splitlines():
        cells = [cell.strip() for cell in re.split(r"[│┃]", line)[1:-1]]
        if cells and cells[0] == name:
            return cells
    raise AssertionError(f"no row for {name} in:\n{output}")


@pytest.fixture
def ledger(store_url: str, open_store: Callable[[str], Ledger]) -> Ledger:
    ledger = open_store(store_url)
    for n in range(3):
        pair = make_pair(ledger, n)
        visit_at(ledger, pair, FEB + timedelta(days=n))
    return ledger


def head(ledger: Ledger) -> int:
    return ledger.recorder.max_notification_id() or 0


def test_status_and_rebuild_say_where_each_read_model_is(store_url: str, ledger: Ledger) -> None:
    before = tiexin("projections", "status", database_url=store_url)
    assert before.returncode == 0, before.stderr
    assert row_of(before.stdout, "history")[1:4] == ["0", f"{head(ledger):,}", "never run"]

    rebuilt = tiexin("projections", "rebuild", "history", database_url=store_url)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert f"history: {head(ledger):,} events applied (log to position {head(ledger):,})" in rebuilt.stdout
    assert re.search(rf"1 read model rebuilt in one pass over {head(ledger):,} events .* events/s", rebuilt.stdout)

    after = tiexin("projections", "status", database_url=store_url)
    assert row_of(after.stdout, "history")[1:4] == [f"{head(ledger):,}", "0", "offline"]


def test_run_follows_the_ledger_until_sigterm_and_says_so(store_url: str, ledger: Ledger) -> None:
    worker = subprocess.Popen(
        [sys.executable, "-m", "tiexin", "projections", "run", "history", "--poll-interval", "0.1"],
        env=environment(store_url),
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    view = open_history_view(store_url)
    try:
        visit_at(ledger, make_pair(ledger, 9), FEB)
        deadline = time.monotonic() + 30
        while view.position(ledger.name) < head(ledger) and time.monotonic() < deadline:
            time.sleep(0.02)
        assert view.position(ledger.name) == head(ledger)
        status = tiexin("projections", "status", database_url=store_url)
        assert row_of(status.stdout, "history")[1:4] == [f"{head(ledger):,}", "0", "caught_up"]
    finally:
        worker.send_signal(signal.SIGTERM)
        _, stderr = worker.communicate(timeout=30)
        view.close()
    assert worker.returncode == 0, stderr
    assert "running history on" in stderr and "stopped" in stderr
    assert "Traceback" not in stderr
    status = tiexin("projections", "status", database_url=store_url)
    assert row_of(status.stdout, "history")[3] == "offline"


def test_ctrl_c_stops_a_foreground_run_cleanly(sqlite_url: str, open_store: Callable[[str], Ledger]) -> None:
    make_pair(open_store(sqlite_url), 1)
    worker = subprocess.Popen(
        [sys.executable, "-m", "tiexin", "projections", "run", "history"],
        env=environment(sqlite_url),
        cwd=ROOT,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert worker.stderr is not None
    # The handlers are in place from "running history" on; the sealer may speak first (no seal key here).
    said = [worker.stderr.readline()]
    while "running history" not in said[-1] and said[-1] and len(said) < 5:
        said.append(worker.stderr.readline())
    assert "running history" in said[-1], said
    worker.send_signal(signal.SIGINT)
    assert worker.wait(30) == 0
    assert "Traceback" not in worker.stderr.read()


@pytest.mark.parametrize("command", ["rebuild", "run"])
def test_an_unknown_read_model_is_one_line_of_error(command: str, sqlite_url: str, ledger: Ledger) -> None:
    result = tiexin("projections", command, "history", "nope", database_url=sqlite_url)
    assert result.returncode == 1
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error: no read model named 'nope'") and "history" in line


@pytest.mark.parametrize(
    ("command", "url", "expected"),
    [
        ("status", "sqlite:///no/such/folder/tiexin.db", "there is no ledger at sqlite:///no/such/folder/tiexin.db"),
        ("rebuild", "sqlite:///no/such/folder/tiexin.db", "there is no ledger at sqlite:///no/such/folder/tiexin.db"),
        ("run", "sqlite:///no/such/folder/tiexin.db", "there is no ledger at sqlite:///no/such/folder/tiexin.db"),
        ("status", "postgresql://postgres@127.0.0.1:1/test", "the store at postgresql://postgres@127.0.0.1:1/test is"),
        ("run", "mysql://root@localhost/test", "unsupported TIEXIN_DATABASE_URL"),
    ],
)
def test_a_store_that_cannot_be_used_is_one_line_of_error(command: str, url: str, expected: str) -> None:
    result = tiexin("projections", command, database_url=url)
    assert result.returncode == 1, result.stdout
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error:") and expected in line
