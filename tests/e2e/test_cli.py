"""The `tiexin` command as a user runs it: a real process, a real store."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import httpx2
import pytest

from ledger.common import county_date


def tiexin(*args: str, database_url: str, cwd: Path, columns: int = 160) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIEXIN_DATABASE_URL": database_url, "COLUMNS": str(columns)}
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


def test_demo_builds_the_county_and_prints_its_summary_then_keeps_it_when_run_again(tmp_path: Path) -> None:
    """The README's `tiexin demo && tiexin serve`, run twice in a terminal 80 columns wide."""
    result = tiexin("demo", "--seed", "7", database_url="sqlite:///tiexin.db", cwd=tmp_path, columns=80)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "tiexin.db").exists()
    out = result.stdout
    assert "tiexin.visit.Recorded" in out and "tiexin.claim.Paid" in out
    assert "events/s" in out
    today = county_date(datetime.now(UTC))
    assert f"to {today.isoformat()}: visits up to the day before" in " ".join(out.split())  # ends today by default
    for code in ("A01", "A03", "A04", "A05", "A06", "A08", "A10", "A11"):
        assert code in out
    assert_ids_printed_whole(out)
    url = f"sqlite:///{tmp_path}/tiexin.db"
    first = assert_demo_keys_work(out, url)

    again = tiexin("demo", "--seed", "7", database_url="sqlite:///tiexin.db", cwd=tmp_path, columns=80)
    assert again.returncode == 0, again.stderr
    assert "Traceback" not in again.stderr
    assert "already holds the demo county" in again.stdout and "kept as it is" in again.stdout
    assert "tiexin.visit.Recorded" not in again.stdout  # nothing built, nothing counted
    second = assert_demo_keys_work(again.stdout, url)
    assert not {t for t, _ in first.values()} & {t for t, _ in second.values()}  # fresh keys, under new names
    assert first["volunteer"][1] == second["volunteer"][1]

    from tests.e2e.test_api_year import serving

    with serving("sqlite:///tiexin.db", tmp_path) as server:  # `&& tiexin serve` starts
        token, volunteer_id = second["volunteer"]
        own = httpx2.get(
            f"{server.base}/v1/volunteers/{volunteer_id}", headers={"Authorization": f"Bearer {token}"}, timeout=30
        )
        assert own.status_code == 200, own.text
        docs = httpx2.get(f"{server.base}/docs", timeout=30)
        assert docs.status_code == 200 and "http://" not in docs.text and "https://" not in docs.text


def test_demo_until_a_day_says_which_months_it_covers_and_refuses_the_future(tmp_path: Path) -> None:
    result = tiexin("demo", "--until", "2026-07-15", database_url="sqlite:///tiexin.db", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "The demo covers August 2025 to 2026-07-15: visits up to the day before; the claims of June 2026" in (
        " ".join(result.stdout.split())
    )
    future = (county_date(datetime.now(UTC)) + timedelta(days=2)).isoformat()
    refused = tiexin("demo", "--until", future, database_url="sqlite:///other.db", cwd=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error:") and "no future" in line


def test_demo_refuses_a_store_holding_records_it_did_not_write(tmp_path: Path) -> None:
    from ledger.bootstrap import ensure_home_county, open_ledger
    from ledger.common import Provenance
    from ledger.counties import LIANSHUI
    from tests.builders import MASTER_KEY

    ledger = open_ledger(f"sqlite:///{tmp_path}/tiexin.db", master_key=MASTER_KEY)
    try:
        ensure_home_county(ledger)
        ledger.register_elder(
            county=LIANSHUI, name="王德明", birth_date=date(1930, 5, 1), sex="male", township="高沟镇",
            address="高沟镇新庄村3组12号", phone="0517-82345678", by=Provenance("key_0123456789abcdef", "coordinator"),
        )  # fmt: skip
    finally:
        ledger.close()
    refused = tiexin("demo", database_url="sqlite:///tiexin.db", cwd=tmp_path)
    assert refused.returncode == 1 and "Traceback" not in refused.stderr
    [line] = refused.stderr.strip().splitlines()
    assert line.startswith("error:") and "already holds county 'lianshui' and its records" in line
    assert "tiexin_" not in refused.stdout  # no keys for a store that is not the demo's


UUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"


def assert_ids_printed_whole(out: str) -> None:
    """Every id in the table of planted irregularities is printed whole, one a line in its column."""
    table = out[out.index("Deliberate irregularities") :]
    assert "…" not in table
    rows = [line.split("│") for line in table.splitlines()]
    ids = [cells[3].strip() for cells in rows if len(cells) == 5 and cells[3].strip()]
    assert len(ids) >= 12 and all(re.fullmatch(UUID, cell) for cell in ids), ids


ROLES = ["admin", "auditor", "coordinator", "evaluator", "finance", "volunteer"]


def assert_demo_keys_work(out: str, url: str) -> dict[str, tuple[str, str | None]]:
    """The demo prints a key per role to try the API with, and each one authenticates; the
    volunteer's names a volunteer of the demo. Answers each role's key (and the volunteer it names)."""
    from api.keys import KeyStore
    from api.tables import open_tables

    tokens = re.findall(r"tiexin_[A-Za-z0-9_-]{20,}", out)
    assert len(tokens) == 6
    tables = open_tables(url)
    try:
        principals = [principal for t in tokens if (principal := KeyStore(tables).authenticate(t))]
    finally:
        tables.close()
    assert sorted(p.role for p in principals) == ROLES
    keys = {
        p.role: (token, str(p.volunteer_id) if p.volunteer_id else None)
        for token, p in zip(tokens, principals, strict=True)
    }
    volunteer_id = keys["volunteer"][1]
    assert volunteer_id is not None and f"(volunteer {volunteer_id}" in out
    return keys
