"""One page of the subsidy audit: load what its events touch, fold them, re-decide the rules, write.

The projection's handlers (:data:`HANDLERS`, one per event class the audit reads) buffer a page's
events in the writer; :meth:`AuditWriter.flush` (called by the view inside the
page's transaction, after the last event, or after each event when the runner looks for one it
cannot apply) then:

1. loads, with one statement per kind of row (each set of keys is one parameter), what the
   rules whose inputs the events change will read — and no more:

   - visits amended, voided or with their place confirmed, and the visits of pairings ended and
     of elders departed, registered or relocated, with their pairings, departures and residences
     (A03 A04 A06 A10 A11); a visit only confirmed or disputed is not loaded (its new status is
     written by an ``UPDATE``) unless it is voided now (a forged confirmation could unvoid it);
   - the items (and their claims) holding every visit whose rules are decided, for the money at
     stake: the transport live claims hold for it;
   - the items holding visits whose status changed, with their claims (A01 A08); of claims paid,
     rejected or reversed, the items whose visit is not confirmed (the others cannot break A01 or
     A08); all items of claims new, rejected or reversed, and every claim holding their visits
     (A02); the status of claimed visits that are not confirmed;
   - the lines of budgets with events and of claims paid or reversed (paid, A09);

2. folds the events into those rows (:class:`~projections.audit.fold.Fold`);
3. loads the unvoided visits of the same volunteers that may overlap visits recorded, amended,
   voided or unvoided (A05), with the items holding them;
4. re-decides every rule whose inputs changed, for exactly the entities affected: deletes their
   old anomalies and inserts what the rules find now; and, for the visits whose live claims
   changed (a claim submitted, rejected or reversed) but whose rules stand, loads their visit
   rules' anomalies and writes them again with the money now at stake;
5. upserts the changed rows and appends the trail.

All of it reads and writes through the page's cursor, in the page's transaction, so what a page
knows comes from the view as of the previous page's commit: nothing is cached across pages, and
a page rolled back leaves nothing behind. Since every anomaly is decided afresh from the state
after the page, from inputs whose every change triggers that decision, the view does not depend
on where the pages were cut: a view rebuilt from 0 reads the same as one kept up live.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from ledger.budgets import Budget, budget_id
from ledger.claims import LIVE, Claim
from ledger.elders import Elder
from ledger.pairings import Pairing
from ledger.visits import Visit, VisitStatus
from projections.audit.fold import FOLDS, Fold, PageState
from projections.audit.queries import AuditSQL
from projections.audit.rules import (
    UNKNOWN,
    VISIT_CODES,
    Anomaly,
    ClaimState,
    ResidenceState,
    double_claim,
    item_anomaly,
    over_commitment,
    overlap,
    self_approval,
    visit_anomalies,
    visit_stake,
)
from projections.audit.tables import (
    ANOMALIES,
    CLAIMS,
    DEPARTURES,
    ITEMS,
    LINES,
    PAIRINGS,
    RESIDENCES,
    TRAIL,
    VISITS,
    Rows,
)
from projections.runner import Handlers
from projections.storage.types import Cursor

Buffered = tuple[Any, int]
"""A page's event, decoded, with its log position."""


@dataclass
class Touched:
    """The ids a page's events name, before anything is loaded."""

    visits: set[UUID] = field(default_factory=set)
    new_visits: set[UUID] = field(default_factory=set)
    reshaped: set[UUID] = field(default_factory=set)
    """Visits amended or voided: loaded, as their own rules and overlaps change."""
    restated: set[UUID] = field(default_factory=set)
    """Visits recorded, confirmed, disputed or voided: the claims that hold them are decided again."""
    placed: set[UUID] = field(default_factory=set)
    """Visits whose place a coordinator confirmed: loaded, as their own rules change (A11)."""
    pairings: set[UUID] = field(default_factory=set)
    new_pairings: set[UUID] = field(default_factory=set)
    ended: set[UUID] = field(default_factory=set)
    elders: set[UUID] = field(default_factory=set)
    departed: set[UUID] = field(default_factory=set)
    resided: set[UUID] = field(default_factory=set)
    """Elders registered or relocated: the rules of their visits are decided again (A11)."""
    claims: set[UUID] = field(default_factory=set)
    new_claims: dict[UUID, Any] = field(default_factory=dict)
    reclassed: set[UUID] = field(default_factory=set)
    """Claims paid, rejected or reversed: A01/A08 of their visits change."""
    freed: set[UUID] = field(default_factory=set)
    """Claims rejected or reversed: no longer live, so A02 of their visits changes."""
    settled: set[UUID] = field(default_factory=set)
    """Claims paid or reversed: their budget's paid amounts change."""
    budgets: set[UUID] = field(default_factory=set)

    @classmethod
    def of(cls, events: list[Buffered]) -> Touched:
        t = cls()
        for e, _ in events:
            TOUCHES[type(e)](t, e)
        return t

    # What each event names, by its class ------------------------------------------------

    def visit_recorded(self, e: Visit.Recorded) -> None:
        self.visit(e, new=True, restated=True)
        self.pairings.add(e.pairing_id)
        self.elders.add(e.elder_id)

    def visit_restated(self, e: Any) -> None:
        """Confirmed or disputed."""
        self.visit(e, restated=True)

    def visit_amended(self, e: Visit.Amended) -> None:
        self.visit(e, reshaped=True)

    def visit_voided(self, e: Visit.Voided) -> None:
        self.visit(e, reshaped=True, restated=True)

    def visit_unlocked(self, e: Visit.Unlocked) -> None:
        self.visit(e)

    def visit_placed(self, e: Visit.PlaceConfirmed) -> None:
        self.visit(e)
        self.placed.add(e.originator_id)

    def visit(self, e: Any, *, new: bool = False, reshaped: bool = False, restated: bool = False) -> None:
        ident = e.originator_id
        self.visits.add(ident)
        for wanted, ids in ((new, self.new_visits), (reshaped, self.reshaped), (restated, self.restated)):
            if wanted:
                ids.add(ident)

    def pairing_formed(self, e: Pairing.Formed) -> None:
        self.pairings.add(e.originator_id)
        self.new_pairings.add(e.originator_id)

    def pairing_ended(self, e: Pairing.Ended) -> None:
        self.pairings.add(e.originator_id)
        self.ended.add(e.originator_id)

    def elder_departed(self, e: Elder.Departed) -> None:
        self.elders.add(e.originator_id)
        self.departed.add(e.originator_id)

    def elder_resided(self, e: Any) -> None:
        """Registered or relocated."""
        self.elders.add(e.originator_id)
        self.resided.add(e.originator_id)

    def claim_submitted(self, e: Claim.Submitted) -> None:
        self.claims.add(e.originator_id)
        self.new_claims[e.originator_id] = e

    def claim_approved(self, e: Claim.Approved) -> None:
        self.claims.add(e.originator_id)

    def claim_paid(self, e: Claim.Paid) -> None:
        self.claim(e, reclassed=True, settled=True)

    def claim_rejected(self, e: Claim.Rejected) -> None:
        self.claim(e, reclassed=True, freed=True)

    def claim_reversed(self, e: Claim.Reversed) -> None:
        self.claim(e, reclassed=True, freed=True, settled=True)

    def claim(self, e: Any, *, reclassed: bool, freed: bool = False, settled: bool = False) -> None:
        ident = e.originator_id
        self.claims.add(ident)
        for wanted, ids in ((reclassed, self.reclassed), (freed, self.freed), (settled, self.settled)):
            if wanted:
                ids.add(ident)

    def budget(self, e: Any) -> None:
        """Appropriated, adjusted, committed or released."""
        self.budgets.add(e.originator_id)


TOUCHES: dict[type[Any], Callable[[Touched, Any], None]] = {
    Visit.Recorded: Touched.visit_recorded,
    Visit.Confirmed: Touched.visit_restated,
    Visit.Disputed: Touched.visit_restated,
    Visit.Amended: Touched.visit_amended,
    Visit.Voided: Touched.visit_voided,
    Visit.Unlocked: Touched.visit_unlocked,
    Visit.PlaceConfirmed: Touched.visit_placed,
    Pairing.Formed: Touched.pairing_formed,
    Pairing.Ended: Touched.pairing_ended,
    Elder.Registered: Touched.elder_resided,
    Elder.Relocated: Touched.elder_resided,
    Elder.Departed: Touched.elder_departed,
    Claim.Submitted: Touched.claim_submitted,
    Claim.Approved: Touched.claim_approved,
    Claim.Rejected: Touched.claim_rejected,
    Claim.Paid: Touched.claim_paid,
    Claim.Reversed: Touched.claim_reversed,
    Budget.Appropriated: Touched.budget,
    Budget.Adjusted: Touched.budget,
    Budget.Committed: Touched.budget,
    Budget.Released: Touched.budget,
}
"""What each event the audit reads names, by the ledger's class (the same classes as the fold's)."""
if set(TOUCHES) != set(FOLDS):
    raise RuntimeError("the audit notes and folds different event classes")


class AuditWriter:
    """Buffers a page's events; :meth:`flush` applies them (see the module's docstring)."""

    def __init__(self, sql: AuditSQL, cursor: Cursor) -> None:
        self.sql = sql
        self.cursor = cursor
        self.events: list[Buffered] = []

    def add(self, event: Any, position: int) -> None:
        self.events.append((event, position))

    def flush(self) -> None:
        if self.events:
            events, self.events = self.events, []
            Page(self.sql, self.cursor, events).run()


def buffer(writer: AuditWriter, event: Any, notification: Notification) -> None:
    """Every event the audit reads waits in the writer until the page is flushed: the page loads
    the rows all its events touch before it folds any of them."""
    writer.add(event, notification.id)


HANDLERS = Handlers[AuditWriter](dict.fromkeys(FOLDS, buffer))
"""The projection's handlers: the event classes the fold takes (the log is read for their topics)."""


class Page:
    def __init__(self, sql: AuditSQL, cursor: Cursor, events: list[Buffered]) -> None:
        self.sql, self.cursor, self.events = sql, cursor, events
        self.touched = Touched.of(events)
        self.state = PageState()
        self.kin: set[UUID] = set()
        """Visits of pairings ended, of elders departed, registered or relocated, and visits whose
        place was confirmed: their own rules are decided again."""
        self.itemised: set[UUID] = set()
        """Visits whose items (and the items' claims) are loaded: the money at stake of their rules."""
        self.repriced: list[Anomaly] = []
        """Visit rules' anomalies that stand, with the money now at stake (their visits' live claims changed)."""
        self.item_claims: set[UUID] = set()
        """Claims whose items' A01/A08 are decided again (new, paid, rejected, reversed)."""
        self.twice: set[UUID] = set()
        """Visits whose A02 is decided again (held by a claim new, rejected or reversed)."""
        self.odd: dict[UUID, tuple[str | None, int | None]] = {}
        """Claimed visits not loaded and not confirmed (status None: never recorded)."""

    def run(self) -> None:
        self.load()
        fold = Fold(self.state)
        for event, position in self.events:
            fold.apply(event, position)
        self.load_neighbours()
        found = self.decide()
        self.reprice()
        self.write(found)

    def fetch(self, table: Rows, column: str, keys: Iterable[Any]) -> list[Any]:
        rows = self.sql.load(self.cursor, table, column, keys)
        self.state.add(rows)
        return rows

    # 1. Loading -------------------------------------------------------------------------

    def load(self) -> None:
        t, s, sql, cur = self.touched, self.state, self.sql, self.cursor
        self.fetch(VISITS, "visit_id", (t.reshaped | t.placed) - t.new_visits)
        s.add(sql.load_voided(cur, t.restated - t.reshaped - t.new_visits))  # a confirmation may unvoid one
        self.kin = {v.visit_id for v in self.fetch(VISITS, "pairing_id", t.ended)}
        self.kin |= {v.visit_id for v in self.fetch(VISITS, "elder_id", t.departed | t.resided)}
        self.kin |= t.placed - t.new_visits
        self.fetch(PAIRINGS, "pairing_id", (t.pairings | {v.pairing_id for v in s.visits.values()}) - t.new_pairings)
        self.fetch(DEPARTURES, "elder_id", t.elders | {v.elder_id for v in s.visits.values()})
        self.fetch(RESIDENCES, "elder_id", t.elders | {v.elder_id for v in s.visits.values()})
        old_claims = t.claims - set(t.new_claims)
        self.fetch(CLAIMS, "claim_id", old_claims)
        self.item_claims = t.reclassed | set(t.new_claims)
        freed = self.fetch(ITEMS, "claim_id", t.freed - set(t.new_claims))
        s.add(sql.load_unconfirmed(cur, (t.reclassed - t.freed) - set(t.new_claims)))
        self.twice = {i.visit_id for i in freed} | {i["visit_id"] for e in t.new_claims.values() for i in e.items}
        self.itemised = t.restated | self.twice | t.visits | self.kin
        self.fetch(ITEMS, "visit_id", self.itemised)
        self.fetch(CLAIMS, "claim_id", {c for c, _ in s.items} - set(s.claims) - set(t.new_claims))
        self.odd = sql.unconfirmed_statuses(cur, ({v for _, v in s.items} | self.twice) - set(s.visits) - t.new_visits)
        self.fetch(LINES, "budget_id", t.budgets | {self.budget_of(c) for c in t.settled})

    def budget_of(self, claim_id: UUID) -> UUID:
        claim = self.state.claims.get(claim_id)
        if claim is not None:
            return budget_id(claim.county, claim.year)
        e = self.touched.new_claims.get(claim_id)
        if e is None:
            raise ValueError(f"claim {claim_id} has events but was never submitted")
        return budget_id(e.county, int(e.month[:4]))

    def load_neighbours(self) -> None:
        """Unvoided visits of the moved visits' volunteers that may overlap them (A05)."""
        spans: dict[UUID, tuple[datetime, datetime]] = {}
        for visit_id in self.state.moved:
            v = self.state.visits[visit_id]
            if v.status != VisitStatus.VOIDED:
                lo, hi = spans.get(v.volunteer_id, (v.started_at, v.ended_at))
                spans[v.volunteer_id] = (min(lo, v.started_at), max(hi, v.ended_at))
        near = self.sql.near_visits(self.cursor, [(vol, lo, hi) for vol, (lo, hi) in sorted(spans.items())])
        self.state.add(near)
        self.load_items({v.visit_id for v in near})

    def load_items(self, visits: set[UUID]) -> None:
        """The items holding those visits, and their claims, unless loaded already (the money at stake)."""
        wanted = visits - self.itemised
        self.itemised |= wanted
        items = self.fetch(ITEMS, "visit_id", wanted)
        self.fetch(CLAIMS, "claim_id", {i.claim_id for i in items} - set(self.state.claims))

    def claimed(self) -> Callable[[UUID], int]:
        """The transport live claims hold for a visit (of the items loaded: see :meth:`load_items`)."""
        held: dict[UUID, int] = defaultdict(int)
        for (claim_id, visit_id), item in self.state.items.items():
            if self.state.claims[claim_id].status in LIVE:
                held[visit_id] += item.transport_fen
        return lambda visit_id: held.get(visit_id, 0)

    # 4. Deciding ------------------------------------------------------------------------

    def decide(self) -> list[Anomaly]:
        s, found, claimed = self.state, [], self.claimed()
        residences: dict[UUID, list[ResidenceState]] = defaultdict(list)
        for residence in s.residences.values():
            residences[residence.elder_id].append(residence)
        for visit_id in s.moved | self.kin:
            visit = s.visits[visit_id]
            found += visit_anomalies(
                visit, s.pairings.get(visit.pairing_id), s.departures.get(visit.elder_id), residences[visit.elder_id],
                claimed=claimed(visit_id),
            )  # fmt: skip
        found += self.overlaps(claimed)
        holders: dict[UUID, list[ClaimState]] = defaultdict(list)
        held: dict[UUID, dict[UUID, int]] = defaultdict(dict)
        for (claim_id, visit_id), item in s.items.items():
            claim = s.claims[claim_id]
            holders[visit_id].append(claim)
            held[visit_id][claim_id] = item.transport_fen
            if (claim_id in self.item_claims or visit_id in self.touched.restated) and (
                a := item_anomaly(claim, visit_id, *self.status_of(visit_id), item.transport_fen)
            ):
                found.append(a)
        found += [a for v in self.twice if (a := double_claim(v, holders[v], held[v]))]
        found += [a for c in self.touched.claims if (a := self_approval(s.claims[c]))]
        found += [a for line in s.lines.values() if (a := over_commitment(line))]
        return found

    def status_of(self, visit_id: UUID) -> tuple[str, int | None]:
        """A claimed visit's status now, and the position of the event that set it."""
        if visit_id in self.state.statuses:
            return self.state.statuses[visit_id]
        visit = self.state.visits.get(visit_id)
        if visit is not None:
            return visit.status, visit.status_pos
        status, position = self.odd.get(visit_id, (VisitStatus.CONFIRMED.value, None))
        return (status or UNKNOWN), position

    def overlaps(self, claimed: Callable[[UUID], int]) -> list[Anomaly]:
        by_volunteer: dict[UUID, list[Any]] = defaultdict(list)
        for visit in self.state.visits.values():
            by_volunteer[visit.volunteer_id].append(visit)
        pairs: dict[tuple[str, str], Anomaly] = {}
        for visit_id in self.state.moved:
            visit = self.state.visits[visit_id]
            start, end = visit.started_at, visit.ended_at
            for other in by_volunteer[visit.volunteer_id]:
                if not (start < other.ended_at and other.started_at < end):
                    continue  # no overlap: ``overlap`` would find none (a shortcut, most pairs)
                stake = claimed(visit.visit_id) + claimed(other.visit_id)
                if (a := overlap(visit, other, claimed=stake)) is not None:
                    pairs[a.subject, a.other] = a
        return list(pairs.values())

    def reprice(self) -> None:
        """The visit rules' anomalies of visits whose live claims changed, not decided again, with
        the money now at stake (those whose amount changed; see the module's docstring)."""
        s, decided = self.state, self.state.moved | self.kin
        keys = sorted(self.twice - decided, key=str)
        if not keys:
            return
        rows = self.sql.load(self.cursor, ANOMALIES, "subject", [str(k) for k in keys])
        rows += self.sql.load(self.cursor, ANOMALIES, "other", [str(k) for k in keys])
        stale = {
            a.key: a
            for a in rows
            if (a.code in VISIT_CODES and UUID(a.subject) not in decided)
            or (a.code == "A05" and not {UUID(a.subject), UUID(a.other)} & s.moved)
        }
        self.load_items({UUID(v) for a in stale.values() for v in (a.subject, a.other) if v})
        claimed = self.claimed()
        for a in stale.values():
            if (now := a.costing(visit_stake(a, claimed))) is not a:
                self.repriced.append(now)

    # 5. Writing -------------------------------------------------------------------------

    def write(self, found: list[Anomaly]) -> None:
        sql, cur, s, t = self.sql, self.cursor, self.state, self.touched
        sql.save(cur, VISITS, (s.visits[k] for k in sorted(s.changed_visits, key=str)))
        sql.save_statuses(cur, s.statuses)
        sql.save(cur, PAIRINGS, (s.pairings[k] for k in sorted(s.changed_pairings, key=str)))
        sql.save(cur, DEPARTURES, (s.departures[k] for k in sorted(s.changed_departures, key=str)))
        sql.save(cur, RESIDENCES, s.new_residences, insert=True)
        sql.save(cur, CLAIMS, (s.claims[k] for k in sorted(s.changed_claims, key=str)))
        sql.save(cur, LINES, (s.lines[k] for k in sorted(s.changed_lines, key=lambda k: (str(k[0]), k[1]))))
        sql.save(cur, ITEMS, s.new_items, insert=True)
        sql.save(cur, TRAIL, s.trail, insert=True)
        sql.forget_anomalies(cur, VISIT_CODES, "subject", s.moved | self.kin)
        sql.forget_anomalies(cur, ("A01", "A08"), "subject", t.restated)
        sql.forget_anomalies(cur, ("A01", "A08"), "other", self.item_claims)
        sql.forget_anomalies(cur, ("A02",), "subject", self.twice)
        sql.forget_anomalies(cur, ("A05",), "subject", s.moved)
        sql.forget_anomalies(cur, ("A05",), "other", s.moved)
        sql.forget_anomalies(cur, ("A07",), "subject", t.claims)
        sql.forget_anomalies(cur, ("A09",), "subject", {b for b, _ in s.lines})
        sql.save(cur, ANOMALIES, sorted(found, key=lambda a: (a.code, a.subject, a.other)), insert=True)
        sql.save(cur, ANOMALIES, sorted(self.repriced, key=lambda a: a.key))  # an upsert: the rows stand
