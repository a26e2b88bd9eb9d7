"""Budgets: exactly the two lines, integer fen only, and committed never exceeds appropriated."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.application import Ledger
from ledger.budgets import budget_id
from ledger.errors import InvalidInput, NotFound, RuleViolation
from tests.unit.conftest import FINANCE, FINANCE_2, Make, Pair, recorded, refused


def appropriate(ledger: Ledger, lines: Any, *, year: Any = 2026, county: str = "lianshui") -> Any:
    return ledger.appropriate_budget(county=county, year=year, lines=lines, by=FINANCE)


def adjust(ledger: Ledger, line: str, delta: Any, *, reason: str = "追加预算") -> Any:
    return ledger.adjust_budget(county="lianshui", year=2026, line=line, delta=delta, reason=reason, by=FINANCE)


def budget(ledger: Ledger, year: int = 2026) -> Any:
    return ledger.repository.get(budget_id("lianshui", year))


# Appropriation -----------------------------------------------------------------------------


def test_appropriation_records_year_and_lines(ledger: Ledger) -> None:
    with recorded(ledger) as new:
        written = appropriate(ledger, {"transport": 500_000, "communication": 120_000})
    event = new.one("budget.Appropriated")
    assert new.names == ["budget.Appropriated"]
    assert written.id == budget_id("lianshui", 2026)
    assert (event.county, event.year, event.lines) == (
        "lianshui",
        2026,
        {"transport": 500_000, "communication": 120_000},
    )
    assert budget(ledger).committed == {"transport": 0, "communication": 0}


@pytest.mark.parametrize(
    "lines",
    [
        {"transport": 1000},
        {"communication": 1000},
        {"transport": 1000, "communication": 1000, "gifts": 1000},
        {},
        [("transport", 1000), ("communication", 1000)],
        None,
    ],
    ids=["no-communication", "no-transport", "extra-line", "empty", "list", "none"],
)
def test_appropriation_needs_exactly_the_transport_and_communication_lines(ledger: Ledger, lines: Any) -> None:
    with refused(ledger, InvalidInput, field="lines"):
        appropriate(ledger, lines)


@pytest.mark.parametrize("amount", [1000.0, 999.5, "1000", True, -1, None], ids=repr)
def test_appropriation_amounts_are_non_negative_integer_fen(ledger: Ledger, amount: Any) -> None:
    with refused(ledger, InvalidInput, field="lines.transport"):
        appropriate(ledger, {"transport": amount, "communication": 1000})


def test_appropriation_of_zero_fen_is_accepted(ledger: Ledger) -> None:
    appropriate(ledger, {"transport": 0, "communication": 0})


@pytest.mark.parametrize("year", [1999, 2101, "2026", 2026.0, True])
def test_appropriation_for_an_implausible_year_is_refused(ledger: Ledger, year: Any) -> None:
    with refused(ledger, InvalidInput, field="year"):
        appropriate(ledger, {"transport": 1000, "communication": 1000}, year=year)


def test_appropriating_a_year_twice_is_refused(ledger: Ledger) -> None:
    appropriate(ledger, {"transport": 1000, "communication": 1000})
    with refused(ledger, RuleViolation, rule="budget.exists"):
        appropriate(ledger, {"transport": 2000, "communication": 2000})


def test_appropriating_other_years_and_counties_is_independent(ledger: Ledger, make: Make) -> None:
    appropriate(ledger, {"transport": 1000, "communication": 1000})
    appropriate(ledger, {"transport": 1000, "communication": 1000}, year=2027)
    appropriate(ledger, {"transport": 1000, "communication": 1000}, county=make.county())


def test_appropriation_for_an_unknown_county_is_refused(ledger: Ledger) -> None:
    with refused(ledger, NotFound):
        appropriate(ledger, {"transport": 1000, "communication": 1000}, county="atlantis")


# Adjustment --------------------------------------------------------------------------------


def test_adjustment_records_line_delta_and_reason(ledger: Ledger) -> None:
    appropriate(ledger, {"transport": 10_000, "communication": 5_000})
    with recorded(ledger) as new:
        adjust(ledger, "transport", 2_500, reason="年中追加")
    event = new.one("budget.Adjusted")
    assert (event.line, event.delta, event.reason) == ("transport", 2_500, "年中追加")
    adjust(ledger, "communication", -5_000)
    assert budget(ledger).appropriated == {"transport": 12_500, "communication": 0}


@pytest.mark.parametrize("delta", [100.0, "100", True, None], ids=repr)
def test_adjustment_is_integer_fen(ledger: Ledger, delta: Any) -> None:
    appropriate(ledger, {"transport": 10_000, "communication": 5_000})
    with refused(ledger, InvalidInput, field="delta"):
        adjust(ledger, "transport", delta)


def test_adjustment_of_zero_is_refused(ledger: Ledger) -> None:
    appropriate(ledger, {"transport": 10_000, "communication": 5_000})
    with refused(ledger, InvalidInput, field="delta"):
        adjust(ledger, "transport", 0)


def test_adjustment_of_an_unknown_line_is_refused(ledger: Ledger) -> None:
    appropriate(ledger, {"transport": 10_000, "communication": 5_000})
    with refused(ledger, InvalidInput, field="line"):
        adjust(ledger, "gifts", 100)


def test_adjustment_without_a_reason_is_refused(ledger: Ledger) -> None:
    appropriate(ledger, {"transport": 10_000, "communication": 5_000})
    with refused(ledger, InvalidInput, field="reason"):
        adjust(ledger, "transport", 100, reason="")


def test_adjustment_of_a_budget_never_appropriated_is_refused(ledger: Ledger) -> None:
    with refused(ledger, NotFound):
        adjust(ledger, "transport", 100)


def test_adjustment_below_zero_is_refused(ledger: Ledger) -> None:
    appropriate(ledger, {"transport": 10_000, "communication": 5_000})
    with refused(ledger, RuleViolation, rule="budget.below_committed"):
        adjust(ledger, "transport", -10_001)


def test_adjustment_below_what_is_committed_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    appropriate(ledger, {"transport": 10_000, "communication": 5_000})
    visits = make.visits_on_days(pair.pairing, [3, 4, 5])
    make.approved_claim(pair.volunteer, visits)  # commits 3000 transport, 3000 communication
    assert budget(ledger).committed == {"transport": 3_000, "communication": 3_000}
    with refused(ledger, RuleViolation, rule="budget.below_committed"):
        adjust(ledger, "transport", -7_001)
    with refused(ledger, RuleViolation, rule="budget.below_committed"):
        adjust(ledger, "communication", -2_001)
    adjust(ledger, "transport", -7_000)
    assert budget(ledger).available("transport") == 0


# Committed never exceeds appropriated ------------------------------------------------------


def test_approval_that_would_overdraw_the_transport_line_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    appropriate(ledger, {"transport": 1_500, "communication": 5_000})
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3, 4]))  # needs 2000 transport
    with refused(ledger, RuleViolation, rule="budget.overdrawn"):
        ledger.approve_claim(claim, by=FINANCE_2)
    assert budget(ledger).committed == {"transport": 0, "communication": 0}
    assert ledger.repository.get(claim).status == "submitted"


def test_approval_that_would_overdraw_the_communication_line_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    appropriate(ledger, {"transport": 100_000, "communication": 2_999})
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    with refused(ledger, RuleViolation, rule="budget.overdrawn"):
        ledger.approve_claim(claim, by=FINANCE_2)
    assert budget(ledger).committed == {"transport": 0, "communication": 0}


def test_approval_that_exactly_exhausts_a_line_is_accepted(ledger: Ledger, make: Make, pair: Pair) -> None:
    appropriate(ledger, {"transport": 2_000, "communication": 3_000})
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3, 4]))
    ledger.approve_claim(claim, by=FINANCE_2)
    assert budget(ledger).available("transport") == 0
    assert budget(ledger).available("communication") == 0


def test_approvals_of_several_claims_are_summed_against_the_line(ledger: Ledger, make: Make) -> None:
    appropriate(ledger, {"transport": 2_500, "communication": 100_000})
    first, second = make.pair(), make.pair()
    ledger.approve_claim(make.claim(first.volunteer, make.visits_on_days(first.pairing, [3, 4])), by=FINANCE_2)
    late = make.claim(second.volunteer, make.visits_on_days(second.pairing, [3]))
    with refused(ledger, RuleViolation, rule="budget.overdrawn"):
        ledger.approve_claim(late, by=FINANCE_2)
    adjust(ledger, "transport", 500)
    ledger.approve_claim(late, by=FINANCE_2)
    assert budget(ledger).committed["transport"] == 3_000


def test_approval_without_a_budget_for_the_year_is_refused(ledger: Ledger, make: Make, pair: Pair) -> None:
    claim = make.claim(pair.volunteer, make.visits_on_days(pair.pairing, [3]))
    with refused(ledger, NotFound):
        ledger.approve_claim(claim, by=FINANCE_2)


def test_budget_kept_long_enough_to_be_snapshotted_still_holds_its_balances(ledger: Ledger) -> None:
    appropriate(ledger, {"transport": 0, "communication": 0})
    for _ in range(120):
        adjust(ledger, "transport", 10)
    loaded = budget(ledger)
    assert loaded.version == 121
    assert loaded.appropriated == {"transport": 1_200, "communication": 0}
    with refused(ledger, RuleViolation, rule="budget.below_committed"):
        adjust(ledger, "transport", -1_201)
