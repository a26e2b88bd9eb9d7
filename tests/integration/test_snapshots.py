"""The year's budget, touched by every approval, is snapshotted so loading it stays cheap."""

from __future__ import annotations

from collections.abc import Callable

from ledger.application import Ledger
from ledger.budgets import Budget, budget_id
from ledger.counties import LIANSHUI
from tests.builders import FINANCE_A


def test_a_busy_budget_is_snapshotted_and_reloads_to_the_same_state(
    store_url: str, open_store: Callable[[str], Ledger]
) -> None:
    ledger = open_store(store_url)
    ledger.appropriate_budget(county=LIANSHUI, year=2026, lines={"transport": 0, "communication": 0}, by=FINANCE_A)
    for n in range(1, 131):
        ledger.adjust_budget(county=LIANSHUI, year=2026, line="transport", delta=n, reason=f"top-up {n}", by=FINANCE_A)

    ident = budget_id(LIANSHUI, 2026)
    assert ledger.snapshots is not None
    snapshots = list(ledger.snapshots.get(ident))
    assert [s.originator_version for s in snapshots] == [100]

    reloaded = open_store(store_url).repository.get(ident)
    assert isinstance(reloaded, Budget)
    assert reloaded.version == 131
    assert reloaded.appropriated == {"transport": sum(range(1, 131)), "communication": 0}
