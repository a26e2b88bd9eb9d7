"""Forgetting one elder of the demo county, as the bureau and its auditor would check it.

The demo is sealed with the real CLI; an admin forgets an elder over HTTP; then nothing of theirs
is left in any JSON answer, any export (CSV, XLSX) or any table of any file, `tiexin verify` still
says "intact", and the audit's figures are the same to the fen.
"""

from __future__ import annotations

import io
import json
import os
import sqlite3
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.bootstrap import open_ledger
from ledger.elders import Elder
from ledger.visits import Visit
from tests.builders import MASTER_KEY
from tests.conftest import Clock
from tests.demo_store import seeded_demo
from tests.harness import Harness, harness
from tiexin.demo.generator import LAST_DAY, local


def tiexin(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIEXIN_DATABASE_URL": "sqlite:///tiexin.db", "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "tiexin", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


@pytest.fixture(scope="module")
def sealed_demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("forgetting")
    seeded_demo(f"sqlite:///{folder}/tiexin.db")
    assert tiexin(folder, "keys", "seal-key").returncode == 0
    sealed = tiexin(folder, "seal")
    assert sealed.returncode == 0, sealed.stderr
    return folder


@pytest.fixture
def api(sealed_demo: Path) -> Iterator[Harness]:
    clock = Clock(local(LAST_DAY, 18))
    with harness(f"sqlite:///{sealed_demo}/tiexin.db", clock=clock, projections=True, keys_named="t-") as made:
        yield made


def get(api: Harness, path: str, who: str = "coordinator") -> Any:
    response = api.client.get(path, headers=api.staff.auth(who))
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json() if "json" in response.headers["content-type"] else response.content


def a_visited_elder(api: Harness) -> tuple[Elder, list[str]]:
    """An elder of the demo with visits that recorded readings, and those visits."""
    visits: dict[Any, list[str]] = {}
    for n in api.ledger.recorder.select_notifications(start=1, limit=100_000, topics=["tiexin.visit.Recorded"]):
        event = api.ledger.mapper.to_domain_event(n)
        assert isinstance(event, Visit.Recorded)
        if event.readings and event.notes:
            visits.setdefault(event.elder_id, []).append(str(event.originator_id))
    elder_id = max(visits, key=lambda e: len(visits[e]))
    elder = api.ledger.find(Elder, elder_id)
    assert elder is not None
    return elder, visits[elder_id]


def caught_up(api: Harness) -> None:
    reads = api.services.reads
    assert reads is not None and reads.service is not None
    head = api.events()
    for runner in reads.service.runners.values():
        runner.run_once()
        assert runner.position == head


def exports(api: Harness) -> list[bytes]:
    parts = [
        get(api, f"/v1/audit/export?year=2025&format=csv&part={p}", "auditor")
        for p in ("claims", "budget", "anomalies")
    ]
    xlsx = get(api, "/v1/audit/export?year=2025&format=xlsx", "auditor")
    with zipfile.ZipFile(io.BytesIO(xlsx)) as sheets:  # an XLSX is zipped XML: read its text
        parts += [sheets.read(name) for name in sheets.namelist()]
    return parts


def every_table(folder: Path) -> str:
    values = []
    for path in sorted(folder.glob("*.db")):
        with sqlite3.connect(path) as conn:
            for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
                for row in conn.execute(f'SELECT * FROM "{name}"'):
                    values += [bytes(v).decode("utf-8", "replace") if isinstance(v, bytes) else str(v) for v in row]
    return "\n".join(values)


def test_a_forgotten_demo_elder_is_nowhere_yet_the_seals_and_the_money_hold(api: Harness, sealed_demo: Path) -> None:
    caught_up(api)
    elder, visit_ids = a_visited_elder(api)
    secrets = [elder.name, elder.address, elder.phone]
    budget_before = get(api, "/v1/audit/budget/2025", "auditor")["lines"]
    assert any(elder.name.encode() in part for part in exports(api)) is False  # exports never named elders

    api.staff.post(f"/v1/elders/{elder.id}/forget", {"reason": "person_asked"}, "admin")
    caught_up(api)

    visits = [get(api, f"/v1/visits/{v}") for v in visit_ids]
    answers = [get(api, f"/v1/elders/{elder.id}"), get(api, "/v1/elders?names=true&limit=500"), *visits]
    answers += [get(api, f"/v1/history/{elder.id}"), get(api, f"/v1/events?entity={elder.id}&limit=1000")]
    page: dict[str, Any] = {"next": 0, "more": True}
    while page["more"]:
        page = get(api, f"/v1/events?after={page['next']}&limit=1000")
        answers.append(page)
    text = json.dumps(answers, ensure_ascii=False)
    files = b"".join(exports(api)).decode("utf-8", "replace")
    tables = every_table(sealed_demo)
    for secret in secrets:
        assert secret not in text and secret not in files and secret not in tables, secret
    assert answers[0]["name"] == "[forgotten]" and all(v["notes"] == "[forgotten]" for v in visits)

    assert get(api, "/v1/audit/budget/2025", "auditor")["lines"] == budget_before
    verified = tiexin(sealed_demo, "verify")
    assert verified.returncode == 0 and "intact" in verified.stdout, (verified.stdout, verified.stderr)
    reopened = open_ledger(f"sqlite:///{sealed_demo}/tiexin.db", master_key=MASTER_KEY)
    try:
        assert reopened.find(Elder, elder.id).name == "[forgotten]"  # type: ignore[union-attr]
    finally:
        reopened.close()
