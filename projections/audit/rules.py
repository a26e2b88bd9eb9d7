"""The subsidy audit's anomaly rules A01–A11, as pure functions of what the audit knows.

The audit keeps, per entity, only what the rules and the claim trails need (the ``*State``
rows below, with the log position of every event they came from) and decides each rule from
the *current* state of the entities involved. So an anomaly appears and disappears as later
events arrive (a pairing ended retroactively, a claim rejected or reversed), and a view rebuilt
from position 0 flags exactly what one kept up live does.

Rules that a command already forbids (A02, A07, A09, and parts of the others) are still checked
here: the audit does not trust the write side. The semantics, chosen to match the demo's planted
irregularities and the independent audit in ``tests/integration/test_demo.py``:

- visit rules (A03 A04 A05 A06 A10 A11) skip voided visits; a visit's day is its county date
  (Asia/Shanghai) of ``started_at``;
- A01: a *live, unpaid* claim (submitted or approved) holds a visit that is not confirmed;
- A02: a visit is held by more than one live claim (submitted, approved or paid);
- A03: the visit's day is before its pairing began or after it ended (or the pairing is unknown);
- A04: the visit's day is after the elder's departure date;
- A05: two visits of one volunteer overlap in time (touching end to start is no overlap);
- A06: a visit lasts under 5 minutes or over 8 hours;
- A07: a claim was approved by the principal who submitted it;
- A08: a *paid* claim holds a visit that is now voided or disputed (a reversal ends it);
- A09: a budget line has more committed than appropriated;
- A10: a visit was recorded (its Recorded event's timestamp) more than 30 × 24 hours after it
  started;
- A11: a home visit records a township other than the elder's registered township on the visit's
  day (the registration, or the last relocation recorded on or before that day:
  :func:`ledger.elders.township_on`), and no coordinator confirmed that place
  (``Visit.PlaceConfirmed`` for the township it records now). Phone calls are not checked: their
  place earns nothing. An elder the log never registered is not checked either.

**Money at stake** (:attr:`Anomaly.amount_fen`, integer fen; ``amount_yuan`` as "12.00"): the
money whose ground the anomaly puts in question, decided with the anomaly from the view's rows:

- A01, A08: the transport the claim holds for the visit (the item's amount);
- A02: the transport held for the visit by the live claims after the first (what is paid twice);
- A03, A04, A06, A10, A11: the transport that live claims (submitted, approved or paid) hold for
  the visit; 0 while no claim holds it (and for a phone call, which earns none);
- A05: the same, for both visits of the pair;
- A07: the claim's total (transport and communication): all of it lacks an independent approval;
- A09: the committed amount above the appropriation.

Communication is counted only in A07: it is a flat monthly amount for any confirmed contact, not
the price of one visit. A visit rule's amount changes when a claim holding the visit is submitted,
rejected or reversed; the page that sees that re-decides it (:mod:`projections.audit.page`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta
from uuid import UUID

from ledger.claims import LIVE, ClaimStatus
from ledger.common import county_date, yuan
from ledger.elders import in_force_on
from ledger.visits import VisitKind, VisitStatus

SHORTEST = timedelta(minutes=5)
LONGEST = timedelta(hours=8)
LATE = timedelta(days=30)

UNPAID = (ClaimStatus.SUBMITTED, ClaimStatus.APPROVED)
"""Live claims not paid yet (the ledger's ``LIVE`` adds ``paid``)."""
UNDONE = (VisitStatus.VOIDED, VisitStatus.DISPUTED)
UNKNOWN = "unknown"
"""The status of a visit a claim names but the log never recorded (not one of the ledger's: the audit's own)."""

RULES = {
    "A01": "visit claimed but not confirmed",
    "A02": "visit claimed twice",
    "A03": "visit with no active pairing at its time",
    "A04": "visit after the elder departed",
    "A05": "overlapping visits by one volunteer",
    "A06": "visit under 5 minutes or over 8 hours",
    "A07": "claim approved by its submitter",
    "A08": "paid claim whose visit was later voided or disputed and not reversed",
    "A09": "budget line over-committed",
    "A10": "visit recorded more than 30 days after it happened",
    "A11": "visit recorded in a township other than the elder's registered one, not confirmed by a coordinator",
}
VISIT_CODES = ("A03", "A04", "A06", "A10", "A11")
"""Rules of one visit with its pairing and elder."""
ITEM_CODES = ("A01", "A02", "A08")
"""Rules of one claimed visit with the claims that hold it."""


@dataclass
class VisitState:
    visit_id: UUID
    pairing_id: UUID
    volunteer_id: UUID
    elder_id: UUID
    kind: str
    started_at: datetime
    ended_at: datetime
    recorded_at: datetime
    status: str
    """One of :class:`~ledger.visits.VisitStatus` (kept as its text)."""
    recorded_pos: int
    status_pos: int
    """The position of the event that gave the visit its status (Recorded at first)."""
    amended_pos: int | None = None
    """The position of its last amendment, if any."""
    township: str = ""
    """Where the visit says it took place (as recorded or amended)."""
    confirmed_place: str | None = None
    """The township a coordinator confirmed it took place in (``PlaceConfirmed``), if any."""
    place_pos: int | None = None
    """The position of that confirmation."""

    @property
    def place_confirmed(self) -> bool:
        """A coordinator confirmed the place the visit records now."""
        return self.confirmed_place is not None and self.confirmed_place == self.township

    @property
    def day(self) -> date:
        return county_date(self.started_at)

    @property
    def positions(self) -> tuple[int, ...]:
        """The events its times come from."""
        return (self.recorded_pos,) if self.amended_pos is None else (self.recorded_pos, self.amended_pos)


@dataclass
class PairingState:
    pairing_id: UUID
    volunteer_id: UUID
    elder_id: UUID
    from_date: date
    ended_on: date | None
    formed_pos: int
    ended_pos: int | None = None

    @property
    def positions(self) -> tuple[int, ...]:
        return (self.formed_pos,) if self.ended_pos is None else (self.formed_pos, self.ended_pos)


@dataclass
class DepartureState:
    elder_id: UUID
    departed_on: date
    kind: str
    position: int


@dataclass
class ResidenceState:
    """An elder's registered township from a day on: the registration, or a relocation."""

    elder_id: UUID
    since: date
    """The county day it is in force from (the day it was recorded)."""
    township: str
    position: int


def residence_on(residences: Sequence[ResidenceState], day: date) -> ResidenceState | None:
    """The residence in force on ``day`` (:func:`ledger.elders.in_force_on`); None for an elder never registered."""
    ordered = sorted(residences, key=lambda r: r.position)
    return ordered[in_force_on([r.since for r in ordered], day)] if ordered else None


@dataclass
class ClaimState:
    claim_id: UUID
    volunteer_id: UUID
    county: str
    month: str
    submitted_by: str
    status: str
    """One of :class:`~ledger.claims.ClaimStatus` (kept as its text)."""
    approved_by: str | None
    transport_fen: int
    communication_fen: int
    policy_version: int
    submitted_pos: int
    status_pos: int
    approved_pos: int | None = None
    paid_pos: int | None = None

    @property
    def year(self) -> int:
        return int(self.month[:4])

    @property
    def total_fen(self) -> int:
        return self.transport_fen + self.communication_fen


@dataclass
class ItemState:
    """One visit a claim lists, with the transport it claims for it."""

    claim_id: UUID
    visit_id: UUID
    seq: int
    transport_fen: int


@dataclass
class LineState:
    """A budget year's line: appropriated (Appropriated + Adjusted), committed (Committed −
    Released) and paid (the line's amounts of claims paid and not reversed)."""

    budget_id: UUID
    line: str
    county: str
    year: int
    appropriated: int
    committed: int
    paid: int
    position: int
    """The last event that changed the line."""

    @property
    def available(self) -> int:
        return self.appropriated - self.committed


@dataclass(frozen=True)
class Anomaly:
    """One breach of a rule: the entities it is about, the events it rests on, in one line."""

    code: str
    subject: str
    """The entity the rule is checked for (a visit; a claim for A07; a budget for A09)."""
    other: str
    """The second entity of a pair (A01/A08 the claim, A05 the later visit, A09 the line), or ''."""
    ids: tuple[UUID, ...]
    positions: tuple[int, ...]
    description: str
    amount_fen: int = 0
    """The money at stake, in fen (see the module's docstring for each rule's)."""

    @property
    def position(self) -> int:
        """The latest event the anomaly rests on."""
        return max(self.positions, default=0)

    @property
    def rule(self) -> str:
        return RULES[self.code]

    @property
    def amount_yuan(self) -> str:
        """The money at stake in yuan, two decimals: ``"12.00"``."""
        return yuan(self.amount_fen)

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.code, self.subject, self.other)

    def costing(self, amount_fen: int) -> Anomaly:
        """The same anomaly with another amount at stake."""
        return self if amount_fen == self.amount_fen else replace(self, amount_fen=amount_fen)


# Rules of one visit ------------------------------------------------------------------------


def visit_anomalies(
    visit: VisitState,
    pairing: PairingState | None,
    departure: DepartureState | None,
    residences: Sequence[ResidenceState] = (),
    *,
    claimed: int = 0,
) -> list[Anomaly]:
    """A03, A04, A06, A10 and A11 of one visit (none for a voided visit); ``claimed``: the transport
    live claims hold for it, the money at stake."""
    if visit.status == VisitStatus.VOIDED:
        return []
    found = [
        no_active_pairing(visit, pairing),
        after_departure(visit, departure),
        odd_duration(visit),
        late_record(visit),
        misplaced(visit, residences),
    ]
    return [a.costing(claimed) for a in found if a is not None]


def no_active_pairing(visit: VisitState, pairing: PairingState | None) -> Anomaly | None:
    day = visit.day
    if pairing is None:
        why = f"visit on {day} under pairing {visit.pairing_id}, which the log never formed"
        positions = visit.positions
    elif day < pairing.from_date:
        why = f"visit on {day} before its pairing began on {pairing.from_date}"
        positions = visit.positions + pairing.positions
    elif pairing.ended_on is not None and day > pairing.ended_on:
        why = f"visit on {day} after its pairing ended as of {pairing.ended_on}"
        positions = visit.positions + pairing.positions
    else:
        return None
    return Anomaly("A03", str(visit.visit_id), "", (visit.visit_id, visit.pairing_id), positions, why)


def after_departure(visit: VisitState, departure: DepartureState | None) -> Anomaly | None:
    if departure is None or visit.day <= departure.departed_on:
        return None
    why = f"visit on {visit.day} to elder {visit.elder_id}, who departed ({departure.kind}) on {departure.departed_on}"
    return Anomaly("A04", str(visit.visit_id), "", (visit.visit_id,), (*visit.positions, departure.position), why)


def odd_duration(visit: VisitState) -> Anomaly | None:
    lasted = visit.ended_at - visit.started_at
    if SHORTEST <= lasted <= LONGEST:
        return None
    why = f"visit on {visit.day} lasted {spoken(lasted)}"
    return Anomaly("A06", str(visit.visit_id), "", (visit.visit_id,), visit.positions, why)


def late_record(visit: VisitState) -> Anomaly | None:
    late = visit.recorded_at - visit.started_at
    if late <= LATE:
        return None
    why = f"visit of {visit.day} recorded {late.days} days after it happened, on {county_date(visit.recorded_at)}"
    return Anomaly("A10", str(visit.visit_id), "", (visit.visit_id,), visit.positions, why)


def misplaced(visit: VisitState, residences: Sequence[ResidenceState]) -> Anomaly | None:
    """A11: a home visit recorded in a township other than the elder's registered one that day, unconfirmed."""
    if visit.kind == VisitKind.PHONE_CALL or visit.place_confirmed:
        return None
    residence = residence_on(residences, visit.day)
    if residence is None or residence.township == visit.township:
        return None
    why = (
        f"visit on {visit.day} recorded in {visit.township}, but elder {visit.elder_id} was registered in "
        f"{residence.township} that day; no coordinator confirmed the place"
    )
    ids = (visit.visit_id, visit.elder_id)
    return Anomaly("A11", str(visit.visit_id), "", ids, (*visit.positions, residence.position), why)


def overlap(one: VisitState, two: VisitState, *, claimed: int = 0) -> Anomaly | None:
    """A05 for two visits of one volunteer, keyed by the earlier one (by start, then id); ``claimed``:
    the transport live claims hold for both, the money at stake."""
    if (
        one.visit_id == two.visit_id
        or one.volunteer_id != two.volunteer_id
        or VisitStatus.VOIDED in (one.status, two.status)
    ):
        return None
    if not (one.started_at < two.ended_at and two.started_at < one.ended_at):
        return None
    first, second = sorted((one, two), key=lambda v: (v.started_at, str(v.visit_id)))
    shared = min(first.ended_at, second.ended_at) - second.started_at
    why = f"two visits by volunteer {first.volunteer_id} on {first.day} overlap by {spoken(shared)}"
    return Anomaly(
        "A05",
        str(first.visit_id),
        str(second.visit_id),
        (first.visit_id, second.visit_id),
        (*first.positions, *second.positions),
        why,
        claimed,
    )


def visit_stake(a: Anomaly, claimed: Callable[[UUID], int]) -> int:
    """The money at stake of a visit rule's anomaly: the transport live claims hold for its visit
    (both visits for A05); ``claimed(visit_id)`` answers one visit's."""
    visits = (a.subject, a.other) if a.code == "A05" else (a.subject,)
    return sum(claimed(UUID(v)) for v in visits)


# Rules of claims -----------------------------------------------------------------------------


def item_anomaly(
    claim: ClaimState, visit_id: UUID, status: str, seen: int | None, transport_fen: int = 0
) -> Anomaly | None:
    """A01 or A08 of one visit a claim holds, given the visit's status and the event that set it;
    ``transport_fen``: what the claim holds for the visit, the money at stake."""
    positions = () if seen is None else (seen,)
    if claim.status == ClaimStatus.PAID and status in UNDONE:
        why = f"claim {claim.claim_id} was paid, and its visit {visit_id} is now {status}; the claim was not reversed"
        return Anomaly(
            "A08", str(visit_id), str(claim.claim_id), (visit_id, claim.claim_id),
            (claim.paid_pos or claim.status_pos, *positions), why, transport_fen,
        )  # fmt: skip
    if claim.status in UNPAID and status != VisitStatus.CONFIRMED:
        why = f"claim {claim.claim_id}, not yet paid, holds visit {visit_id}, which is {status}, not confirmed"
        return Anomaly(
            "A01", str(visit_id), str(claim.claim_id), (visit_id, claim.claim_id), (claim.submitted_pos, *positions),
            why, transport_fen,
        )  # fmt: skip
    return None


def double_claim(
    visit_id: UUID, holders: list[ClaimState], transport: Mapping[UUID, int] | None = None
) -> Anomaly | None:
    """A02: the live claims that hold one visit, if more than one; ``transport``: what each claim
    (by id) holds for the visit: those of all but the first live claim are at stake."""
    live = sorted((c for c in holders if c.status in LIVE), key=lambda c: c.submitted_pos)
    if len(live) < 2:
        return None
    why = f"visit {visit_id} is held by {len(live)} live claims"
    ids = (visit_id, *(c.claim_id for c in live))
    twice = sum((transport or {}).get(c.claim_id, 0) for c in live[1:])
    return Anomaly("A02", str(visit_id), "", ids, tuple(c.submitted_pos for c in live), why, twice)


def self_approval(claim: ClaimState) -> Anomaly | None:
    """A07: approved by the principal who submitted it (whatever became of it since); its total is at stake."""
    if claim.approved_by is None or claim.approved_by != claim.submitted_by:
        return None
    why = f"claim {claim.claim_id} of {claim.month} was approved by its own submitter {claim.submitted_by}"
    positions = (claim.submitted_pos, claim.approved_pos or claim.status_pos)
    return Anomaly("A07", str(claim.claim_id), "", (claim.claim_id,), positions, why, claim.total_fen)


def over_commitment(line: LineState) -> Anomaly | None:
    """A09: a line with more committed than appropriated; the excess is at stake."""
    if line.committed <= line.appropriated:
        return None
    why = (
        f"the {line.year} {line.line} line of {line.county} has {line.committed} fen committed "
        f"against {line.appropriated} fen appropriated"
    )
    excess = line.committed - line.appropriated
    return Anomaly("A09", str(line.budget_id), line.line, (line.budget_id,), (line.position,), why, excess)


def spoken(span: timedelta) -> str:
    """A span as people say it: '3 minutes', '9 hours', '2 hours 5 minutes'."""
    minutes = int(span.total_seconds() // 60)
    hours, rest = divmod(minutes, 60)
    if minutes < 60:
        return f"{minutes} minute{'s' if minutes != 1 else ''}"
    text = f"{hours} hour{'s' if hours != 1 else ''}"
    return text if not rest else f"{text} {rest} minute{'s' if rest != 1 else ''}"
