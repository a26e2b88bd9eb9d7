"""The demo's calendar: the 2025 year as written, or twelve months moved to end on a given day."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from ledger.common import COUNTY_TZ
from ledger.errors import InvalidInput
from tiexin.demo.year import DemoYear, shift_month

NOW = datetime(2026, 12, 5, 8, 0, tzinfo=UTC)  # 16:00 in the county


def test_without_until_the_year_is_2025_unmoved_and_runs_to_the_end_of_january() -> None:
    year = DemoYear.of(None)
    assert (year.shift, year.limit, year.last_day) == (0, None, date(2026, 1, 31))
    assert year.months == tuple(f"2025-{m:02d}" for m in range(1, 13))
    assert year.day(date(2024, 10, 26)) == date(2024, 10, 26) and year.month("2025-03") == "2025-03"
    assert year.budget_years == (2025,)
    assert year.visit_days("2025-02") == range(1, 29) and not year.short_month("2025-12")
    assert not year.awaits_approval("2025-11") and year.records(datetime(2099, 1, 1, tzinfo=UTC))
    written = (date(2025, 4, 7), date(2025, 7, 7), date(2025, 10, 9), date(2026, 1, 7))
    assert [year.quarter(d) for d in written] == ["2025-Q1", "2025-Q2", "2025-Q3", "2025-Q4"]


def test_a_year_until_a_day_moves_by_whole_months_to_end_that_day() -> None:
    year = DemoYear.of(date(2026, 7, 15), NOW)
    assert year.shift == 7 and year.months[0] == "2025-08" and year.months[-1] == "2026-07"
    assert year.day(date(2024, 10, 26)) == date(2025, 5, 26)  # the launch, day of the month kept
    assert year.month("2025-03") == "2025-10" and shift_month("2025-12", 1) == "2026-01"
    assert year.budget_years == (2025, 2026) and year.last_day == date(2026, 7, 15)
    assert [year.quarter(d) for d in (date(2025, 4, 7), date(2025, 7, 7))] == ["2025-Q3", "2025-Q4"]
    end = datetime(2026, 7, 16, tzinfo=COUNTY_TZ)
    assert year.records(end - timedelta(microseconds=1)) and not year.records(end)
    assert year.visit_days("2026-07") == range(1, 15) and year.short_month("2026-07")
    assert year.visit_days("2026-06") == range(1, 31)
    assert year.awaits_approval("2026-06") and not year.awaits_approval("2026-05")


def test_a_year_ending_today_records_nothing_after_now() -> None:
    year = DemoYear.of(date(2026, 12, 5), NOW)
    assert year.limit == NOW and year.records(NOW) and not year.records(NOW + timedelta(seconds=1))
    assert year.months == tuple(f"2026-{m:02d}" for m in range(1, 13)) and year.budget_years == (2026,)


def test_a_year_ending_on_a_first_keeps_the_month_before_within_the_overdue_window() -> None:
    year = DemoYear.of(date(2026, 8, 1), NOW)
    assert year.visit_days("2026-08") == range(1, 1)  # no visit yet this month
    assert year.visit_days("2026-07") == range(2, 32)  # 30 days before 1 August is 2 July
    march = DemoYear.of(date(2026, 3, 1), NOW)
    assert march.visit_days("2026-02") == range(1, 29) and march.visit_days("2026-01") == range(1, 32)


def test_a_year_ending_in_the_future_or_before_the_policies_is_refused() -> None:
    with pytest.raises(InvalidInput, match="no future"):
        DemoYear.of(date(2026, 12, 6), NOW)
    with pytest.raises(InvalidInput, match="2001-01-01"):
        DemoYear.of(date(2000, 12, 31), NOW)
    with pytest.raises(InvalidInput, match="calendar date"):
        DemoYear.of(NOW, NOW)
