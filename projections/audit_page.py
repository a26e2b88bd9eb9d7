"""One page of the subsidy audit: load what its events touch, fold them, re-decide the rules, write.

The writer buffers a page's events; :meth:`AuditWriter.flush` (called by the view inside the
page's transaction, after the last event, or after each event when the runner looks for one it
cannot apply) then:

1. loads, with one statement per kind of row (each set of keys is one parameter), what the
   rules whose inputs the events change will read — and no more:

   - visits amended or voided, and the visits of pairings ended and of elders departed, with
     their pairings and departures (A03 A04 A06 A10); a visit only confirmed or disputed is not
     loaded (its new status is written by an ``UPDATE``) unless it is voided now (a forged
     confirmation could unvoid it);
   - the items holding visits whose status changed, with their claims (A01 A08); of claims paid,
     rejected or reversed, the items whose visit is not confirmed (the others cannot break A01 or
     A08); all items of claims new, rejected or reversed, and every claim holding their visits
     (A02); the status of claimed visits that are not confirmed;
   - the lines of budgets with events and of claims paid or reversed (paid, A09);

2. folds the events into those rows (:class:`~projections.audit_fold.Fold`);
3. loads the unvoided visits of the same volunteers that may overlap visits recorded, amended,
   voided or unvoided (A05);
4. re-decides every rule whose inputs changed, for exactly the entities affected: deletes their
   old anomalies and inserts what the rules find now;
5. upserts the changed rows and appends the trail.

All of it reads and writes through the page's cursor, in the page's transaction, so what a page
knows comes from the view as of the previous page's commit: nothing is cached across pages, and
a page rolled back leaves nothing behind. Since every anomaly is decided afresh from the state
after the page, from inputs whose every change triggers that decision, the view does not depend
on where the pages were cut: a view rebuilt from 0 reads the same as one kept up live.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from ledger.budgets import budget_id
from projections.audit_fold import Fold, PageState
from projections.audit_rules import (
    CONFIRMED,
    UNKNOWN,
    VISIT_CODES,
    VOIDED,
    Anomaly,
    ClaimState,
    double_claim,
    item_anomaly,
    over_commitment,
    overlap,
    self_approval,
    visit_anomalies,
)
from projections.audit_sql import AuditSQL
from projections.audit_tables import ANOMALIES, CLAIMS, DEPARTURES, ITEMS, LINES, PAIRINGS, TRAIL, VISITS


@dataclass
class Touched:
    """The ids a page's events name, before anything is loaded."""

    visits: set[UUID] = field(default_factory=set)
    new_visits: set[UUID] = field(default_factory=set)
    reshaped: set[UUID] = field(default_factory=set)
    """Visits amended or voided: loaded, as their own rules and overlaps change."""
    restated: set[UUID] = field(default_factory=set)
    """Visits recorded, confirmed, disputed or voided: the claims that hold them are decided again."""
    pairings: set[UUID] = field(default_factory=set)
    new_pairings: set[UUID] = field(default_factory=set)
    ended: set[UUID] = field(default_factory=set)
    elders: set[UUID] = field(default_factory=set)
    departed: set[UUID] = field(default_factory=set)
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
    def of(cls, events: list[tuple[str, Any, int]]) -> Touched:
        t = cls()
        for topic, e, _ in events:
            kind, _, what = topic.removeprefix("tiexin.").partition(".")
            ident = e.originator_id
            if kind == "visit":
                t.visits.add(ident)
                if what == "Recorded":
                    t.new_visits.add(ident)
                    t.pairings.add(e.pairing_id)
                    t.elders.add(e.elder_id)
                elif what in ("Amended", "Voided"):
                    t.reshaped.add(ident)
                if what in ("Recorded", "Confirmed", "Disputed", "Voided"):
                    t.restated.add(ident)
            elif kind == "pairing":
                t.pairings.add(ident)
                (t.new_pairings if what == "Formed" else t.ended).add(ident)
            elif kind == "elder":
                t.elders.add(ident)
                t.departed.add(ident)
            elif kind == "claim":
                t.claims.add(ident)
                if what == "Submitted":
                    t.new_claims[ident] = e
                if what in ("Paid", "Rejected", "Reversed"):
                    t.reclassed.add(ident)
                if what in ("Rejected", "Reversed"):
                    t.freed.add(ident)
                if what in ("Paid", "Reversed"):
                    t.settled.add(ident)
            elif kind == "budget":
                t.budgets.add(ident)
        return t


class AuditWriter:
    """Buffers a page's events; :meth:`flush` applies them (see the module's docstring)."""

    def __init__(self, sql: AuditSQL, cursor: Any) -> None:
        self.sql = sql
        self.cursor = cursor
        self.events: list[tuple[str, Any, int]] = []

    def add(self, topic: str, event: Any, position: int) -> None:
        self.events.append((topic, event, position))

    def flush(self) -> None:
        if self.events:
            events, self.events = self.events, []
            Page(self.sql, self.cursor, events).run()


class Page:
    def __init__(self, sql: AuditSQL, cursor: Any, events: list[tuple[str, Any, int]]) -> None:
        self.sql, self.cursor, self.events = sql, cursor, events
        self.touched = Touched.of(events)
        self.state = PageState()
        self.kin: set[UUID] = set()
        """Visits of pairings ended and of elders departed: their own rules are decided again."""
        self.item_claims: set[UUID] = set()
        """Claims whose items' A01/A08 are decided again (new, paid, rejected, reversed)."""
        self.twice: set[UUID] = set()
        """Visits whose A02 is decided again (held by a claim new, rejected or reversed)."""
        self.odd: dict[UUID, tuple[str | None, int | None]] = {}
        """Claimed visits not loaded and not confirmed (status None: never recorded)."""

    def run(self) -> None:
        self.load()
        fold = Fold(self.state)
        for topic, event, position in self.events:
            fold.apply(topic, event, position)
        self.load_neighbours()
        self.write(self.decide())

    def fetch(self, table: Any, column: str, keys: Iterable[Any]) -> list[Any]:
        rows = self.sql.load(self.cursor, table, column, keys)
        self.state.add(rows)
        return rows

    # 1. Loading -------------------------------------------------------------------------

    def load(self) -> None:
        t, s, sql, cur = self.touched, self.state, self.sql, self.cursor
        self.fetch(VISITS, "visit_id", t.reshaped - t.new_visits)
        s.add(sql.load_voided(cur, t.restated - t.reshaped - t.new_visits))  # a confirmation may unvoid one
        self.kin = {v.visit_id for v in self.fetch(VISITS, "pairing_id", t.ended)}
        self.kin |= {v.visit_id for v in self.fetch(VISITS, "elder_id", t.departed)}
        self.fetch(PAIRINGS, "pairing_id", (t.pairings | {v.pairing_id for v in s.visits.values()}) - t.new_pairings)
        self.fetch(DEPARTURES, "elder_id", t.elders | {v.elder_id for v in s.visits.values()})
        old_claims = t.claims - set(t.new_claims)
        self.fetch(CLAIMS, "claim_id", old_claims)
        self.item_claims = t.reclassed | set(t.new_claims)
        freed = self.fetch(ITEMS, "claim_id", t.freed - set(t.new_claims))
        s.add(sql.load_unconfirmed(cur, (t.reclassed - t.freed) - set(t.new_claims)))
        self.twice = {i.visit_id for i in freed} | {i["visit_id"] for e in t.new_claims.values() for i in e.items}
        self.fetch(ITEMS, "visit_id", t.restated | self.twice)
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
            if v.status != VOIDED:
                lo, hi = spans.get(v.volunteer_id, (v.started_at, v.ended_at))
                spans[v.volunteer_id] = (min(lo, v.started_at), max(hi, v.ended_at))
        near = self.sql.near_visits(self.cursor, [(vol, lo, hi) for vol, (lo, hi) in sorted(spans.items())])
        self.state.add(near)

    # 4. Deciding ------------------------------------------------------------------------

    def decide(self) -> list[Anomaly]:
        s, found = self.state, []
        for visit_id in s.moved | self.kin:
            visit = s.visits[visit_id]
            found += visit_anomalies(visit, s.pairings.get(visit.pairing_id), s.departures.get(visit.elder_id))
        found += self.overlaps()
        holders: dict[UUID, list[ClaimState]] = defaultdict(list)
        for claim_id, visit_id in s.items:
            claim = s.claims[claim_id]
            holders[visit_id].append(claim)
            if (claim_id in self.item_claims or visit_id in self.touched.restated) and (
                a := item_anomaly(claim, visit_id, *self.status_of(visit_id))
            ):
                found.append(a)
        found += [a for v in self.twice if (a := double_claim(v, holders[v]))]
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
        status, position = self.odd.get(visit_id, (CONFIRMED, None))
        return (status or UNKNOWN), position

    def overlaps(self) -> list[Anomaly]:
        by_volunteer: dict[UUID, list[Any]] = defaultdict(list)
        for visit in self.state.visits.values():
            by_volunteer[visit.volunteer_id].append(visit)
        pairs: dict[tuple[str, str], Anomaly] = {}
        for visit_id in self.state.moved:
            visit = self.state.visits[visit_id]
            for other in by_volunteer[visit.volunteer_id]:
                if (a := overlap(visit, other)) is not None:
                    pairs[a.subject, a.other] = a
        return list(pairs.values())

    # 5. Writing -------------------------------------------------------------------------

    def write(self, found: list[Anomaly]) -> None:
        sql, cur, s, t = self.sql, self.cursor, self.state, self.touched
        sql.save(cur, VISITS, (s.visits[k] for k in sorted(s.changed_visits, key=str)))
        sql.save_statuses(cur, s.statuses)
        sql.save(cur, PAIRINGS, (s.pairings[k] for k in sorted(s.changed_pairings, key=str)))
        sql.save(cur, DEPARTURES, (s.departures[k] for k in sorted(s.changed_departures, key=str)))
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
