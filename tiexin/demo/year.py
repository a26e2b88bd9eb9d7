"""The demo's calendar: the twelve months it covers, shifted by whole months to end on a chosen day.

The demo is written for the year 2025 (set up from October 2024, December's claims paid in January
2026). :class:`DemoYear` moves every date of it by whole months, so that its last month is the month
of ``until`` and ends on ``until``: a newcomer sees this month's visits (up to the day before), last
month's claims waiting for approval, and no elder overdue but for a planted one. Whole months, not
days: each date keeps its day of the month (all the demo's fixed dates fall on the 28th or before),
so a month's plans, its claims and the planted irregularities (keyed by month) move together.

``DemoYear.of(None)`` is the 2025 year itself, unshifted and unclipped: the demo writes exactly
what it always wrote for a seed. With ``until``, nothing is recorded after ``limit``: the end of
``until``'s county day, or the moment the demo is built if that is earlier (``until`` is today).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from ledger.common import COUNTY_TZ, county_date, last_day
from ledger.errors import InvalidInput

BASE_YEAR = 2025
"""The year the demo's dates are written for (``until=None`` builds it)."""
BASE_LAST_DAY = date(2026, 1, 31)
"""The 2025 demo runs on to the end of January 2026, when December's claims are paid."""
EARLIEST = date(2001, 1, 1)
"""The programme's default policies are in force from 2000: a demo year may not begin before."""
OVERDUE_DAYS = 30
"""The roster's default window (``GET /v1/roster/overdue``): every elder has a contact within it."""


def shift_month(key: str, months: int) -> str:
    """A month key (``YYYY-MM``) moved by whole months."""
    year, month = divmod(int(key[:4]) * 12 + int(key[5:7]) - 1 + months, 12)
    return f"{year:04d}-{month + 1:02d}"


@dataclass(frozen=True)
class DemoYear:
    shift: int
    """Whole months from the 2025 year to the demo's (0: the 2025 year itself)."""
    until: date | None
    limit: datetime | None
    """Nothing is recorded after this moment (None: the 2025 year, which runs to its end)."""

    @classmethod
    def of(cls, until: date | None, now: datetime | None = None) -> DemoYear:
        """The year ending on ``until`` (None: the 2025 year); ``now`` is the real moment of the build."""
        if until is None:
            return cls(0, None, None)
        if not isinstance(until, date) or isinstance(until, datetime):
            raise InvalidInput("until", "must be a calendar date")
        now = now if now is not None else datetime.now(UTC)
        if until > county_date(now):
            raise InvalidInput("until", f"the demo records no future: {county_date(now).isoformat()} at the latest")
        if until < EARLIEST:
            raise InvalidInput("until", f"the programme's policies are in force from 2000: {EARLIEST} at the earliest")
        end_of_day = datetime.combine(until + timedelta(days=1), time(), tzinfo=COUNTY_TZ).astimezone(UTC)
        shift = (until.year - BASE_YEAR) * 12 + until.month - 12
        return cls(shift, until, min(end_of_day - timedelta(microseconds=1), now.astimezone(UTC)))

    def day(self, written: date) -> date:
        """A date of the 2025 demo, moved by whole months (the day of the month kept, or the month's last)."""
        month = shift_month(f"{written:%Y-%m}", self.shift)
        return min(date(int(month[:4]), int(month[5:]), 1) + timedelta(days=written.day - 1), last_day(month))

    def month(self, written: str) -> str:
        """A month key of the 2025 demo (``2025-03``), moved."""
        return shift_month(written, self.shift)

    @property
    def months(self) -> tuple[str, ...]:
        """The demo's twelve months of visits, in order."""
        return tuple(self.month(f"{BASE_YEAR}-{m:02d}") for m in range(1, 13))

    @property
    def last_day(self) -> date:
        """The last day the demo runs: ``until``, or the end of January 2026 for the 2025 year."""
        return self.until if self.until is not None else BASE_LAST_DAY

    @property
    def budget_years(self) -> tuple[int, ...]:
        """The years whose months are claimed: a budget is appropriated for each."""
        return tuple(sorted({int(m[:4]) for m in self.months}))

    def quarter(self, written: date) -> str:
        """The period of a quarterly evaluation written for ``written`` (a 2025 date): the last calendar
        quarter ended before its (moved) date (2025-04-07: 2025-Q1; moved to 2025-11-07: 2025-Q3)."""
        on = self.day(written)
        ended = date(on.year, (on.month - 1) // 3 * 3 + 1, 1) - timedelta(days=1)
        return f"{ended.year}-Q{(ended.month - 1) // 3 + 1}"

    def visit_days(self, month: str) -> range:
        """The days of a month on which visits are planned.

        The 2025 year: every day. A year ending on ``until``: its last month up to the day before
        (visits are recorded after they end, and the day of ``until`` may not be over), so every elder
        has a contact in it; if that leaves none (``until`` is the 1st), the month before keeps its
        visits within the roster's overdue window instead."""
        days = range(1, last_day(month).day + 1)
        if self.until is None:
            return days
        if month == self.months[-1]:
            return range(1, self.until.day)
        cutoff = self.until - timedelta(days=OVERDUE_DAYS)
        if self.until.day == 1 and month == self.months[-2] == f"{cutoff:%Y-%m}":
            return range(cutoff.day, days.stop)
        return days

    def short_month(self, month: str) -> bool:
        """Whether the month's visits are planned on fewer days than it has (fewer contacts, then)."""
        return len(self.visit_days(month)) < last_day(month).day

    def awaits_approval(self, month: str) -> bool:
        """Whether some of the month's claims are still waiting for approval when the demo ends:
        the claims of the month before ``until``'s (submitted early in ``until``'s month)."""
        return self.until is not None and month == self.months[-2]

    def records(self, at: datetime) -> bool:
        """Whether something at this moment is recorded (it is not after the demo's end)."""
        return self.limit is None or at <= self.limit
