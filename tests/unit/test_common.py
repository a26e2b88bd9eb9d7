"""Shared checks: text, time and deterministic ids refuse what would crash deeper down."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from uuid import uuid5

import pytest

from ledger.application import Ledger
from ledger.common import ID_NAMESPACE, county_date, last_day, require_aware, require_text, stable_id
from ledger.errors import InvalidInput, NotFound
from tests.unit.conftest import FINANCE


@pytest.mark.parametrize("text", ["a\x00b", "bad \udc80 surrogate"])
def test_text_with_nul_or_a_lone_surrogate_is_invalid_input(text: str) -> None:
    with pytest.raises(InvalidInput):
        require_text("name", text)


def test_a_date_time_far_outside_the_programme_is_invalid_input_not_an_overflow() -> None:
    extreme = datetime(9999, 12, 31, 23, 0, tzinfo=timezone(timedelta(hours=-5)))
    with pytest.raises(InvalidInput):
        require_aware("started_at", extreme)
    assert county_date(datetime(2026, 1, 31, 17, 0, tzinfo=UTC)).day == 1


def test_stable_ids_are_uuid5_and_survive_any_text() -> None:
    assert stable_id("budget", "lianshui", 2026) == uuid5(ID_NAMESPACE, "budget/lianshui/2026")
    assert stable_id("county", "x\udc80") != stable_id("county", "x")


def test_adjusting_the_budget_of_a_county_named_with_a_lone_surrogate_is_not_found(ledger: Ledger) -> None:
    with pytest.raises(NotFound):
        ledger.adjust_budget(county="x\udc80", year=2026, line="transport", delta=1, reason="r", by=FINANCE)


@pytest.mark.parametrize("month", ["0000-01", "9999-12"])
def test_a_month_far_outside_the_programme_is_invalid_input(month: str) -> None:
    with pytest.raises(InvalidInput):
        last_day(month)
