"""The `tiexin` command as a user runs it: a real process, a real store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest


def tiexin(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIEXIN_DATABASE_URL": database_url, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "tiexin", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("mysql://root@localhost/test", "unsupported TIEXIN_DATABASE_URL"),
        (
            "postgresql://postgres@127.0.0.1:1/test",
            "the store at postgresql://postgres@127.0.0.1:1/test is unavailable",
        ),
        ("sqlite:///no/such/folder/tiexin.db", "the store at sqlite:///no/such/folder/tiexin.db is unavailable"),
    ],
)
def test_a_bad_database_url_ends_with_one_line_and_no_traceback(url: str, expected: str, tmp_path: Path) -> None:
    result = tiexin("demo", database_url=url, cwd=tmp_path)
    assert result.returncode == 1
    assert "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error:") and expected in line


def test_demo_builds_the_county_and_prints_its_summary(tmp_path: Path) -> None:
    result = tiexin("demo", "--seed", "7", database_url="sqlite:///tiexin.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tiexin.db").exists()
    out = result.stdout
    assert "tiexin.visit.Recorded" in out and "tiexin.claim.Paid" in out
    assert "events/s" in out
    for code in ("A01", "A03", "A04", "A05", "A06", "A08", "A10"):
        assert code in out
    assert_demo_keys_work(out, f"sqlite:///{tmp_path}/tiexin.db")

    again = tiexin("demo", "--seed", "7", database_url="sqlite:///tiexin.db", cwd=tmp_path)
    assert again.returncode == 1
    assert "Traceback" not in again.stderr


def assert_demo_keys_work(out: str, url: str) -> None:
    """The demo prints a key per role to try the API with, and each one authenticates."""
    from api.keys import KeyStore
    from api.tables import open_tables

    tokens = re.findall(r"tiexin_[A-Za-z0-9_-]{20,}", out)
    assert len(tokens) == 3
    tables = open_tables(url)
    try:
        roles = sorted(principal.role for t in tokens if (principal := KeyStore(tables).authenticate(t)))
    finally:
        tables.close()
    assert roles == ["auditor", "coordinator", "finance"]
