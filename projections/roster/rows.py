"""What the roster answers: one frozen row type per question, and the roster's paging key.

Only ids, county, township, category, group, dates and statuses: an elder's personal data stays in the
ledger (see ``docs/design.md``, "Personal data"), and a coordinator's screen joins the names it
may see from there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from uuid import UUID

from ledger.common import county_date


@dataclass(frozen=True)
class PairingRow:
    pairing_id: UUID
    elder_id: UUID
    volunteer_id: UUID
    county: str
    township: str
    group: str
    from_date: date
    volunteer_status: str
    elder_departed_on: date | None
    """Set when the elder departed and the pairing is not ended yet: a pairing to end."""


PairingKey = tuple[str, str, str, UUID, UUID]


def pairing_key(p: PairingRow) -> PairingKey:
    """Where a pairing stands in the roster: county, township, group, elder, pairing."""
    return (p.county, p.township, p.group, p.elder_id, p.pairing_id)


@dataclass(frozen=True)
class UnpairedRow:
    elder_id: UUID
    county: str
    township: str
    pairings: int
    """Active pairings, all to volunteers who are not active (0: none at all)."""
    last_contact_at: datetime | None


@dataclass(frozen=True)
class LoadRow:
    volunteer_id: UUID
    county: str
    township: str
    status: str
    active_pairings: int


@dataclass(frozen=True)
class ElderRow:
    elder_id: UUID
    county: str
    township: str
    category: str
    departed_on: date | None
    departure_kind: str | None
    last_contact_at: datetime | None
    last_visit_id: UUID | None


@dataclass(frozen=True)
class OverdueRow:
    elder_id: UUID
    county: str
    township: str
    last_contact_at: datetime | None
    last_visit_id: UUID | None
    days_without_contact: int | None
    """Whole county days from the last contact to ``today`` (None: never contacted)."""
    volunteer_ids: tuple[UUID, ...]
    """The elder's active pairings' volunteers (empty: unpaired)."""


@dataclass(frozen=True)
class TownshipRow:
    """A township's elders as the roster's lists count them."""

    county: str
    township: str
    elders: int
    """Present (not departed)."""
    paired: int
    """Present, with an active pairing to an active volunteer: ``elders - unpaired``."""
    unpaired: int
    """What :meth:`~projections.roster.RosterView.unpaired` lists of the township."""
    overdue: int
    """What :meth:`~projections.roster.RosterView.overdue` lists of the township, for the same days and day."""


def overdue_row(elder: dict[str, Any], today: date) -> OverdueRow:
    """An overdue elder's row from its decoded columns and the ids of its volunteers (any order)."""
    last = elder["last_contact_at"]
    return OverdueRow(
        **{**elder, "volunteer_ids": tuple(sorted(elder["volunteer_ids"], key=str))},
        days_without_contact=None if last is None else (today - county_date(last)).days,
    )
