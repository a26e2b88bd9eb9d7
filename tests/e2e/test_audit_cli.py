"""``tiexin audit reconcile`` and ``tiexin audit sample`` as an auditor runs them: real processes, a real store.

On a SQLite file and on PostgreSQL: a year that balances exits 0; after an event forged straight into
the store it exits 1 naming the claim and the forged event's position; a sample with the same seed
prints the same claims twice.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from uuid import UUID

from ledger.application import Ledger
from ledger.budgets import Budget, budget_id
from ledger.counties import LIANSHUI
from tests.builders import FINANCE_A, FINANCE_B, claim_of_february, make_pair
from tests.conftest import Clock


def tiexin(*args: str, database_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIEXIN_DATABASE_URL": database_url, "COLUMNS": "160"}
    return subprocess.run(
        [sys.executable, "-m", "tiexin", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )


def a_year(ledger: Ledger, clock: Clock) -> list[str]:
    """A 2026 budget and three claims of February: two approved, one of them paid."""
    ledger.appropriate_budget(county=LIANSHUI, year=2026, lines={"transport": 800_000, "communication": 90_000},
                              by=FINANCE_A)  # fmt: skip
    claims = [claim_of_february(ledger, make_pair(ledger, n)) for n in (1, 2, 3)]
    for claim in claims[:2]:
        ledger.approve_claim(claim, by=FINANCE_A)
    ledger.pay_claim(claims[0], reference="国库-9", paid_on=clock.now.date(), by=FINANCE_B)
    return [str(c) for c in claims]


def test_reconcile_exits_0_when_the_year_balances_and_1_naming_a_forged_event(
    stored_ledger: Ledger, store_url: str, clock: Clock, tmp_path: Path
) -> None:
    claims = a_year(stored_ledger, clock)
    balanced = tiexin("audit", "reconcile", "--year", "2026", database_url=store_url, cwd=tmp_path)
    assert balanced.returncode == 0, balanced.stderr
    assert "reconciles to the fen" in balanced.stdout and "Traceback" not in balanced.stderr
    assert re.search(r"paid\s.*\d", balanced.stdout)

    budget = stored_ledger.repository.get(budget_id(LIANSHUI, 2026))
    assert isinstance(budget, Budget)
    forged = Budget.Committed(
        originator_id=budget.id, originator_version=budget.version + 1, timestamp=clock.now,
        claim_id=UUID(claims[1]), line="transport", amount=4_321, meta=FINANCE_A,
    )  # fmt: skip
    [position] = stored_ledger.recorder.insert_events([stored_ledger.mapper.to_stored_event(forged)])
    unbalanced = tiexin("audit", "reconcile", "--year", "2026", database_url=store_url, cwd=tmp_path)
    assert unbalanced.returncode == 1 and "Traceback" not in unbalanced.stderr
    assert f"Budget.Committed@{position}" in unbalanced.stderr and str(forged.claim_id) in unbalanced.stderr
    last = unbalanced.stderr.strip().splitlines()[-1]
    assert last.startswith("error: the 2026 budget of lianshui does not reconcile")

    unknown = tiexin("audit", "reconcile", "--year", "2031", database_url=store_url, cwd=tmp_path)
    assert unknown.returncode == 1 and unknown.stderr.startswith("error:") and "2031 budget" in unknown.stderr


def test_sample_with_the_same_seed_prints_the_same_claims_and_records_each_draw(
    stored_ledger: Ledger, store_url: str, clock: Clock, tmp_path: Path
) -> None:
    claims = a_year(stored_ledger, clock)
    before = stored_ledger.recorder.max_notification_id()
    runs = [
        tiexin("audit", "sample", "--year", "2026", "--size", "1", "--seed", "42", database_url=store_url, cwd=tmp_path)
        for _ in range(2)
    ]
    chosen = []
    for run in runs:
        assert run.returncode == 0, run.stderr
        assert "seed 42" in run.stdout and "1 of 2 claims of 2026" in run.stdout
        chosen.append(re.findall(r"^([0-9a-f-]{36})\s", run.stdout, re.MULTILINE))
    assert chosen[0] == chosen[1] and len(chosen[0]) == 1 and chosen[0][0] in claims[:2]
    assert stored_ledger.recorder.max_notification_id() == before + 2
    refused = tiexin("audit", "sample", "--year", "2026", "--size", "0", "--seed", "42", database_url=store_url,
                     cwd=tmp_path)  # fmt: skip
    assert refused.returncode == 1 and refused.stderr.startswith("error: size")
    assert stored_ledger.recorder.max_notification_id() == before + 2
