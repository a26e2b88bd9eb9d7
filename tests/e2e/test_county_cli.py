"""`tiexin county add|list` as an operator runs them: a real process on a SQLite file and on PostgreSQL."""

from __future__ import annotations

from pathlib import Path

from ledger.bootstrap import open_ledger
from ledger.counties import County, county_id
from tests.e2e.test_cli import tiexin


def events(url: str) -> int:
    ledger = open_ledger(url, master_key=None)
    try:
        return ledger.recorder.max_notification_id() or 0
    finally:
        ledger.close()


def test_a_county_is_added_once_and_listed_with_its_townships(store_url: str, tmp_path: Path) -> None:
    added = tiexin(
        "county", "add", "huaiyin", "淮阴区", "--township", "王营镇", "--township", "西宋集镇",
        database_url=store_url, cwd=tmp_path,
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "established county huaiyin (淮阴区) with 2 townships" in added.stdout
    assert not list(tmp_path.glob("*.key")), "a county needs no master key: none is made"
    ledger = open_ledger(store_url, master_key=None)
    try:
        county = ledger.find(County, county_id("huaiyin"))
        assert county is not None and county.townships == ["王营镇", "西宋集镇"]
        assert county.collect_events() == [] and county.version == 1
    finally:
        ledger.close()
    written = events(store_url)

    again = tiexin("county", "add", "huaiyin", "淮阴", "--township", "渔沟镇", database_url=store_url, cwd=tmp_path)
    assert again.returncode == 1 and "Traceback" not in again.stderr
    [line] = again.stderr.strip().splitlines()
    assert line == "error: county 'huaiyin' is already established"
    assert events(store_url) == written

    bad = tiexin("county", "add", "Huai Yin", "淮阴区", "--township", "王营镇", database_url=store_url, cwd=tmp_path)
    assert bad.returncode == 1 and "is not a county code" in bad.stderr
    no_township = tiexin("county", "add", "qingpu", "清浦区", database_url=store_url, cwd=tmp_path)
    assert no_township.returncode == 2 and "--township" in no_township.stderr
    assert events(store_url) == written

    tiexin("county", "add", "county-002", "二号县", "--township", "一镇", database_url=store_url, cwd=tmp_path)
    listed = tiexin("county", "list", database_url=store_url, cwd=tmp_path)
    assert listed.returncode == 0, listed.stderr
    rows = [line for line in listed.stdout.splitlines() if "huaiyin" in line or "county-002" in line]
    assert len(rows) == 2 and "county-002" in rows[0] and "二号县" in rows[0]
    assert "淮阴区" in rows[1] and "王营镇、西宋集镇" in rows[1]
