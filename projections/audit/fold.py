"""How the subsidy audit folds the log's events into its state, a page at a time.

:class:`PageState` holds the rows a page needs — loaded from the view in the page's own
transaction (:mod:`projections.audit.page`) — and :class:`Fold` applies the page's events to
them in log order, noting what changed and a trail row (position, who, when, what) per event.
Which step an event takes is looked up by its class, the ledger's own (:data:`FOLDS`), and a
trail row names the event by its class's name. Nothing here touches a store, so it is the same
on SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from ledger.budgets import Budget, BudgetLine, budget_id
from ledger.claims import Claim, ClaimStatus
from ledger.common import county_date
from ledger.elders import Elder
from ledger.pairings import Pairing
from ledger.visits import Visit, VisitStatus
from projections.audit.rules import (
    ClaimState,
    DepartureState,
    ItemState,
    LineState,
    PairingState,
    ResidenceState,
    VisitState,
)
from projections.storage.types import Row

TRANSPORT, COMMUNICATION = BudgetLine.TRANSPORT.value, BudgetLine.COMMUNICATION.value
"""Kept as plain text, like every value a row holds."""


@dataclass
class TrailRow:
    """One event the audit used: its position, the entity whose trail it belongs to, who, when, what."""

    position: int
    subject_id: UUID
    """The visit, pairing, elder, claim or budget it is shown under (a budget's Committed and
    Released are shown under their claim)."""
    entity_id: UUID
    event: str
    recorded_at: datetime
    principal_id: str | None
    detail: dict[str, Any]


@dataclass
class PageState:
    """The rows one page reads and writes, by key, and what its events changed."""

    visits: dict[UUID, VisitState] = field(default_factory=dict)
    pairings: dict[UUID, PairingState] = field(default_factory=dict)
    departures: dict[UUID, DepartureState] = field(default_factory=dict)
    residences: dict[tuple[UUID, int], ResidenceState] = field(default_factory=dict)
    claims: dict[UUID, ClaimState] = field(default_factory=dict)
    items: dict[tuple[UUID, UUID], ItemState] = field(default_factory=dict)
    lines: dict[tuple[UUID, str], LineState] = field(default_factory=dict)
    changed_visits: set[UUID] = field(default_factory=set)
    changed_pairings: set[UUID] = field(default_factory=set)
    changed_departures: set[UUID] = field(default_factory=set)
    new_residences: list[ResidenceState] = field(default_factory=list)
    changed_claims: set[UUID] = field(default_factory=set)
    changed_lines: set[tuple[UUID, str]] = field(default_factory=set)
    new_items: list[ItemState] = field(default_factory=list)
    statuses: dict[UUID, tuple[str, int]] = field(default_factory=dict)
    """New statuses (and their positions) of visits confirmed or disputed but not loaded: the page
    loads a visit so changed only if it is voided or held by a claim, the only cases where the
    change matters to a rule."""
    moved: set[UUID] = field(default_factory=set)
    """Visits recorded, amended, voided or unvoided: their own rules and their overlaps change."""
    trail: list[TrailRow] = field(default_factory=list)

    def add(self, rows: list[Any], *, replace: bool = False) -> None:
        """Keep rows loaded from the view; a row the page already holds wins unless ``replace``."""
        for row in rows:
            table, key = self._slot(row)
            if replace or key not in table:
                table[key] = row

    def _slot(self, row: Row) -> tuple[dict[Any, Any], Any]:
        if isinstance(row, VisitState):
            return self.visits, row.visit_id
        if isinstance(row, PairingState):
            return self.pairings, row.pairing_id
        if isinstance(row, DepartureState):
            return self.departures, row.elder_id
        if isinstance(row, ResidenceState):
            return self.residences, (row.elder_id, row.position)
        if isinstance(row, ClaimState):
            return self.claims, row.claim_id
        if isinstance(row, ItemState):
            return self.items, (row.claim_id, row.visit_id)
        if isinstance(row, LineState):
            return self.lines, (row.budget_id, row.line)
        raise TypeError(f"not an audit row: {row!r}")


Step = Callable[["Fold", Any, int], None]
"""What one event does to a page's state: ``step(fold, event, position)``."""


class Fold:
    """Applies events, in log order, to a :class:`PageState`."""

    def __init__(self, state: PageState) -> None:
        self.state = state

    def apply(self, event: Any, position: int) -> None:
        step = FOLDS.get(type(event))
        if step is None:
            raise ValueError(f"the audit has no rule for events of class {type(event).__qualname__}")
        step(self, event, position)

    # Visits -----------------------------------------------------------------------------

    def visit(self, visit_id: UUID) -> VisitState:
        found = self.state.visits.get(visit_id)
        if found is None:
            raise ValueError(f"visit {visit_id} has events but was never recorded")
        return found

    def recorded(self, e: Visit.Recorded, position: int) -> None:
        visit = VisitState(
            e.originator_id, e.pairing_id, e.volunteer_id, e.elder_id, e.kind, utc(e.started_at),
            utc(e.ended_at), utc(e.timestamp), VisitStatus.RECORDED.value, position, position, township=e.township,
        )  # fmt: skip
        self.state.visits[visit.visit_id] = visit
        self.state.changed_visits.add(visit.visit_id)
        self.state.moved.add(visit.visit_id)
        detail = {
            "kind": e.kind,
            "started_at": visit.started_at,
            "ended_at": visit.ended_at,
            "pairing_id": e.pairing_id,
        }
        self.note(e, position, visit.visit_id, detail)

    def confirmed(self, e: Visit.Confirmed, position: int) -> None:
        self.restate(e, position, VisitStatus.CONFIRMED, {"confirmed_by": e.by, "method": e.method})

    def disputed(self, e: Visit.Disputed, position: int) -> None:
        self.restate(e, position, VisitStatus.DISPUTED, {"reason_code": e.reason_code})

    def voided(self, e: Visit.Voided, position: int) -> None:
        self.restate(e, position, VisitStatus.VOIDED, {"reason_code": e.reason_code})

    def restate(self, e: Any, position: int, status: VisitStatus, detail: dict[str, Any]) -> None:
        visit = self.state.visits.get(e.originator_id)
        voided = status is VisitStatus.VOIDED
        if visit is None and not voided:
            self.state.statuses[e.originator_id] = (status.value, position)
        else:
            visit = visit or self.visit(e.originator_id)
            if (visit.status == VisitStatus.VOIDED) != voided:
                self.state.moved.add(visit.visit_id)
            visit.status, visit.status_pos = status.value, position
            self.state.changed_visits.add(visit.visit_id)
        self.note(e, position, e.originator_id, detail)

    def amended(self, e: Visit.Amended, position: int) -> None:
        visit, changes = self.visit(e.originator_id), dict(e.changes)
        for name in ("started_at", "ended_at"):
            if name in changes:
                setattr(visit, name, utc(changes[name]))
        visit.kind = changes.get("kind", visit.kind)
        visit.township = changes.get("township", visit.township)
        visit.amended_pos = position
        self.state.changed_visits.add(visit.visit_id)
        self.state.moved.add(visit.visit_id)
        shown = {k: v for k, v in changes.items() if k in ("kind", "started_at", "ended_at", "township")}
        self.note(e, position, visit.visit_id, {"reason_code": e.reason_code, "fields": sorted(changes)} | shown)

    def unlocked(self, e: Visit.Unlocked, position: int) -> None:
        self.note(e, position, e.originator_id, {"reason": e.reason})

    def place_confirmed(self, e: Visit.PlaceConfirmed, position: int) -> None:
        """The reason (the elder's personal data, sealed in the ledger) is not copied."""
        visit = self.visit(e.originator_id)
        visit.confirmed_place, visit.place_pos = e.township, position
        self.state.changed_visits.add(visit.visit_id)
        self.note(e, position, visit.visit_id, {"township": e.township})

    # Pairings and elders ----------------------------------------------------------------

    def formed(self, e: Pairing.Formed, position: int) -> None:
        pairing = PairingState(e.originator_id, e.volunteer_id, e.elder_id, e.from_date, None, position)
        self.state.pairings[pairing.pairing_id] = pairing
        self.state.changed_pairings.add(pairing.pairing_id)
        detail = {"volunteer_id": e.volunteer_id, "elder_id": e.elder_id, "from_date": e.from_date}
        self.note(e, position, pairing.pairing_id, detail)

    def ended(self, e: Pairing.Ended, position: int) -> None:
        pairing = self.state.pairings.get(e.originator_id)
        if pairing is None:
            raise ValueError(f"pairing {e.originator_id} ended but was never formed")
        pairing.ended_on, pairing.ended_pos = e.on, position
        self.state.changed_pairings.add(pairing.pairing_id)
        self.note(e, position, pairing.pairing_id, {"on": e.on, "reason": e.reason})

    def registered(self, e: Elder.Registered, position: int) -> None:
        """The township only (the rest of a registration is personal): in force from the day it was recorded."""
        self.reside(ResidenceState(e.originator_id, county_date(e.timestamp), e.township, position))

    def relocated(self, e: Elder.Relocated, position: int) -> None:
        self.reside(ResidenceState(e.originator_id, county_date(e.timestamp), e.township, position))
        self.note(e, position, e.originator_id, {"township": e.township})

    def reside(self, residence: ResidenceState) -> None:
        self.state.residences[residence.elder_id, residence.position] = residence
        self.state.new_residences.append(residence)

    def departed(self, e: Elder.Departed, position: int) -> None:
        departure = DepartureState(e.originator_id, e.on, e.kind, position)
        self.state.departures[departure.elder_id] = departure
        self.state.changed_departures.add(departure.elder_id)
        self.note(e, position, departure.elder_id, {"kind": e.kind, "on": e.on})

    # Claims -----------------------------------------------------------------------------

    def claim(self, claim_id: UUID) -> ClaimState:
        found = self.state.claims.get(claim_id)
        if found is None:
            raise ValueError(f"claim {claim_id} has events but was never submitted")
        return found

    def submitted(self, e: Claim.Submitted, position: int) -> None:
        listed = [ItemState(e.originator_id, i["visit_id"], n, int(i["transport_fen"])) for n, i in enumerate(e.items)]
        first: dict[UUID, ItemState] = {}
        for item in listed:  # a visit listed twice (the write side refuses that) counts once
            first.setdefault(item.visit_id, item)
        items = list(first.values())
        claim = ClaimState(
            e.originator_id, e.volunteer_id, e.county, e.month, e.submitted_by, ClaimStatus.SUBMITTED.value, None,
            sum(i.transport_fen for i in items), int(e.communication_fen), e.policy_version, position, position,
        )  # fmt: skip
        self.state.claims[claim.claim_id] = claim
        self.state.changed_claims.add(claim.claim_id)
        self.state.add(items, replace=True)
        self.state.new_items.extend(items)
        detail = {
            "month": e.month, "items": len(items), "transport_fen": claim.transport_fen,
            "communication_fen": claim.communication_fen, "policy_version": e.policy_version,
        }  # fmt: skip
        self.note(e, position, claim.claim_id, detail)

    def approved(self, e: Claim.Approved, position: int) -> None:
        claim = self.move_claim(e, position, ClaimStatus.APPROVED, {"by": e.by})
        claim.approved_by, claim.approved_pos = e.by, position

    def rejected(self, e: Claim.Rejected, position: int) -> None:
        self.move_claim(e, position, ClaimStatus.REJECTED, {"by": e.by, "reason": e.reason})

    def paid(self, e: Claim.Paid, position: int) -> None:
        detail = {"by": e.by, "reference": e.reference, "paid_on": e.paid_on}
        claim = self.move_claim(e, position, ClaimStatus.PAID, detail)
        claim.paid_pos = position
        self.pay(claim, +1, position)

    def reversed(self, e: Claim.Reversed, position: int) -> None:
        was_paid = self.claim(e.originator_id).status == ClaimStatus.PAID
        claim = self.move_claim(e, position, ClaimStatus.REVERSED, {"by": e.by, "reason": e.reason})
        if was_paid:
            self.pay(claim, -1, position)

    def move_claim(self, e: Any, position: int, status: ClaimStatus, detail: dict[str, Any]) -> ClaimState:
        claim = self.claim(e.originator_id)
        claim.status, claim.status_pos = status.value, position
        self.state.changed_claims.add(claim.claim_id)
        self.note(e, position, claim.claim_id, detail)
        return claim

    def pay(self, claim: ClaimState, sign: int, position: int) -> None:
        """A claim's transport total is paid from the transport line, its communication from that line."""
        budget = budget_id(claim.county, claim.year)
        for line, amount in ((TRANSPORT, claim.transport_fen), (COMMUNICATION, claim.communication_fen)):
            if amount:
                row = self.line(budget, line, position, county=claim.county, year=claim.year)
                row.paid += sign * amount

    # Budgets ----------------------------------------------------------------------------

    def line(self, budget: UUID, line: str, position: int, *, county: str = "", year: int = 0) -> LineState:
        """A budget's line; a line not seen yet takes its county and year from the budget's others."""
        key = (budget, line)
        row = self.state.lines.get(key)
        if row is None:
            sibling = next((r for (b, _), r in self.state.lines.items() if b == budget), None)
            if sibling is None and not county:
                raise ValueError(f"budget {budget} has events but was never appropriated")
            county, year = (sibling.county, sibling.year) if sibling else (county, year)
            row = self.state.lines[key] = LineState(budget, line, county, year, 0, 0, 0, position)
        row.position = position
        self.state.changed_lines.add(key)
        return row

    def appropriated(self, e: Budget.Appropriated, position: int) -> None:
        for line, amount in sorted(e.lines.items()):
            self.line(e.originator_id, line, position, county=e.county, year=e.year).appropriated += int(amount)
        detail = {"county": e.county, "year": e.year, "lines": dict(e.lines)}
        self.note(e, position, e.originator_id, detail)

    def adjusted(self, e: Budget.Adjusted, position: int) -> None:
        self.line(e.originator_id, e.line, position).appropriated += int(e.delta)
        self.note(e, position, e.originator_id, {"line": e.line, "delta": e.delta, "reason": e.reason})

    def committed(self, e: Budget.Committed, position: int) -> None:
        self.line(e.originator_id, e.line, position).committed += int(e.amount)
        self.note(e, position, e.claim_id, {"line": e.line, "amount": e.amount})

    def released(self, e: Budget.Released, position: int) -> None:
        self.line(e.originator_id, e.line, position).committed -= int(e.amount)
        self.note(e, position, e.claim_id, {"line": e.line, "amount": e.amount})

    # The trail --------------------------------------------------------------------------

    def note(self, e: Any, position: int, subject: UUID, detail: dict[str, Any]) -> None:
        """A trail row of the event, named by its class (``Recorded`` for ``Visit.Recorded``)."""
        meta = getattr(e, "meta", None)
        principal = getattr(meta, "principal_id", None)
        row = TrailRow(position, subject, e.originator_id, type(e).__name__, utc(e.timestamp), principal, plain(detail))
        self.state.trail.append(row)


FOLDS: dict[type[Any], Step] = {
    Visit.Recorded: Fold.recorded,
    Visit.Confirmed: Fold.confirmed,
    Visit.Disputed: Fold.disputed,
    Visit.Amended: Fold.amended,
    Visit.Voided: Fold.voided,
    Visit.Unlocked: Fold.unlocked,
    Visit.PlaceConfirmed: Fold.place_confirmed,
    Pairing.Formed: Fold.formed,
    Pairing.Ended: Fold.ended,
    Elder.Registered: Fold.registered,
    Elder.Relocated: Fold.relocated,
    Elder.Departed: Fold.departed,
    Claim.Submitted: Fold.submitted,
    Claim.Approved: Fold.approved,
    Claim.Rejected: Fold.rejected,
    Claim.Paid: Fold.paid,
    Claim.Reversed: Fold.reversed,
    Budget.Appropriated: Fold.appropriated,
    Budget.Adjusted: Fold.adjusted,
    Budget.Committed: Fold.committed,
    Budget.Released: Fold.released,
}
"""Every event the audit reads, by the ledger's class, and what it does to a page's state."""


def utc(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ValueError(f"{moment!r} is not a timezone-aware date-time")
    return moment.astimezone(UTC)


def plain(value: Any) -> Any:
    """A detail as JSON values: ids and dates as text, instants as UTC text, mappings and lists kept."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, datetime):
        return utc(value).isoformat()
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [plain(v) for v in value]
    return str(value)  # UUID, date, Decimal
