"""Subsidy arithmetic: what a claim pays, in integer fen, under a subsidy policy version.

Transport: a confirmed home visit in the volunteer's own township earns the same-township
rate, one in another township the cross-township rate; phone calls earn none; a volunteer's
transport in one month is capped. Communication: a flat amount once a month for a volunteer
with at least one confirmed contact. Pure functions: no store, no clock.

Where a visit took place, for its price, is **not** the township the volunteer typed on the
visit: it is the elder's registered township on the visit's day (the elder may have relocated;
:meth:`ledger.elders.Elder.township_on`), unless a coordinator confirmed the recorded place
(``Visit.PlaceConfirmed``), say for an elder staying with family in another township. So a visit
to an elder of the volunteer's own township, recorded as elsewhere, earns the same-township rate.
The caller (the application service) loads the elder and passes its township in as data.
Claims already recorded keep the amounts their ``Submitted`` event stores; this applies to new ones.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


@dataclass(frozen=True, kw_only=True)
class ClaimableVisit:
    visit_id: UUID
    is_home_visit: bool
    recorded_township: str
    """Where the visit says it took place (typed by the volunteer, or amended)."""
    elder_township: str
    """The elder's registered township on the visit's day."""
    started_at: datetime
    place_confirmed: bool = False
    """A coordinator confirmed the recorded place (for the township recorded now)."""

    @property
    def township(self) -> str:
        """Where the visit is priced: the recorded place if a coordinator confirmed it, else the elder's township."""
        return priced_township(self.recorded_township, self.elder_township, place_confirmed=self.place_confirmed)


def priced_township(recorded: str, registered: str, *, place_confirmed: bool) -> str:
    """The township a home visit is priced at (see the module's docstring)."""
    return recorded if place_confirmed else registered


@dataclass(frozen=True)
class PricedClaim:
    items: list[dict[str, object]]
    """One per visit, in the order they happened: ``{"visit_id", "transport_fen"}``."""
    communication_fen: int

    @property
    def transport_fen(self) -> int:
        return sum(int(item["transport_fen"]) for item in self.items)  # type: ignore[call-overload]

    @property
    def total_fen(self) -> int:
        return self.transport_fen + self.communication_fen


def transport_rate(visit: ClaimableVisit, volunteer_township: str, params: dict[str, int]) -> int:
    if not visit.is_home_visit:
        return 0
    if visit.township == volunteer_township:
        return params["transport_same_township_fen"]
    return params["transport_cross_township_fen"]


def price_claim(
    visits: list[ClaimableVisit],
    volunteer_township: str,
    params: dict[str, int],
    *,
    transport_already_fen: int = 0,
    communication_already_paid: bool = False,
) -> PricedClaim:
    """Price a claim's visits; earlier claims of the month count against the monthly cap."""
    room = max(0, params["transport_monthly_cap_fen"] - transport_already_fen)
    items: list[dict[str, object]] = []
    for visit in sorted(visits, key=lambda v: (v.started_at, str(v.visit_id))):
        amount = min(transport_rate(visit, volunteer_township, params), room)
        room -= amount
        items.append({"visit_id": visit.visit_id, "transport_fen": amount})
    communication = 0 if communication_already_paid or not visits else params["communication_monthly_fen"]
    return PricedClaim(items=items, communication_fen=communication)
