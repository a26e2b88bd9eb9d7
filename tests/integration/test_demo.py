"""The demo county generator, on a SQLite file and on PostgreSQL.

One scale-1 demo (seed 1) is built per store and shared by the module's tests: the 2025 year
(``until=None``), and a second one whose year ends on 15 July 2026. The tests read the store back
themselves: the county of the report is there, the same seed writes the same log on both stores,
and an audit written here, independently of the demo's code, finds exactly the irregularities the
demo says it planted and nothing else; the demo ending on a day records nothing after it, shows
that month's visits and the previous month's claims waiting, and leaves no elder overdue.
"""

from __future__ import annotations

import hashlib
import itertools
import re
import time
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from functools import cached_property
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.common import COUNTY_TZ, Provenance
from ledger.counties import LIANSHUI, LIANSHUI_TOWNSHIPS
from ledger.errors import InvalidInput, RuleViolation
from ledger.policies import DEFAULT_PARAMETERS, SCORING
from tests.builders import MASTER_KEY
from tests.conftest import fresh_postgres_schema
from tests.harness import Harness, harness
from tiexin.demo.generator import BUDGET_LINES, DemoExists, DemoSummary, run_demo

LAUNCH = date(2024, 10, 26)
PLANTABLE = {"A01", "A03", "A04", "A05", "A06", "A08", "A10", "A11"}
LIVE = ("submitted", "approved", "paid")


@dataclass
class Built:
    """A store the demo was built into, its summary, and its log read back (decoded, in order)."""

    url: str
    summary: DemoSummary
    progress: list[tuple[int, int]] = field(default_factory=list)

    @cached_property
    def log(self) -> list[tuple[str, Any]]:
        ledger = open_ledger(self.url, master_key=MASTER_KEY)
        try:
            return [(n.topic, ledger.mapper.to_domain_event(n)) for n in notifications(ledger)]
        finally:
            ledger.close()

    def events(self, topic: str) -> list[Any]:
        return [event for t, event in self.log if t == topic]


def notifications(ledger: Ledger) -> Iterator[Any]:
    start = 1
    while page := ledger.recorder.select_notifications(start=start, limit=5000):
        yield from page
        start = page[-1].id + 1


def build(url: str, until: date | None = None) -> Built:
    calls: list[tuple[int, int]] = []
    summary = run_demo(
        url, seed=1, master_key=MASTER_KEY, progress=lambda done, total: calls.append((done, total)), until=until
    )
    return Built(url, summary, calls)


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(f"sqlite:///{tmp_path_factory.mktemp('demo')}/tiexin.db")


@pytest.fixture(scope="module")
def postgres_demo() -> Iterator[Built]:
    """Like ``postgres_url`` of conftest, but one schema for the whole module."""
    with fresh_postgres_schema("t_demo") as url:
        yield build(url)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest) -> Built:
    """The demo built on each store (SQLite file and PostgreSQL)."""
    built: Built = request.getfixturevalue(f"{request.param}_demo")
    return built


UNTIL = date(2026, 7, 15)


@pytest.fixture(scope="module")
def sqlite_july(tmp_path_factory: pytest.TempPathFactory) -> Built:
    return build(f"sqlite:///{tmp_path_factory.mktemp('july')}/tiexin.db", until=UNTIL)


@pytest.fixture(scope="module")
def postgres_july() -> Iterator[Built]:
    with fresh_postgres_schema("t_july") as url:
        yield build(url, until=UNTIL)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def july(request: pytest.FixtureRequest) -> Built:
    """The demo whose year ends on 15 July 2026, built on each store."""
    built: Built = request.getfixturevalue(f"{request.param}_july")
    return built


# The county of the report ------------------------------------------------------------------


def age_on(day: date, born: date) -> int:
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def test_demo_builds_the_county_of_the_report(demo: Built) -> None:
    counties = demo.events("tiexin.county.Established")
    assert [c.code for c in counties] == [LIANSHUI]
    elders = demo.events("tiexin.elder.Registered")
    assert len(elders) == 429
    assert {e.township for e in elders} == set(LIANSHUI_TOWNSHIPS)
    ages = [age_on(LAUNCH, e.birth_date) for e in elders]
    assert (min(ages), max(ages)) == (78, 102)
    assert {e.sex for e in elders} == {"female", "male"}
    assert all(e.name and e.address.startswith(e.township) and e.phone for e in elders)
    volunteers = demo.events("tiexin.volunteer.Recruited")
    assert len(volunteers) == 60
    professions = Counter(v.profession for v in volunteers)
    assert professions["doctor"] + professions["nurse"] >= 45 and len(professions) >= 3
    assert all(re.search("(院|中心)$", v.unit) for v in volunteers)
    assert all(v.township in LIANSHUI_TOWNSHIPS for v in volunteers)


def test_every_elder_is_paired_in_a_group_within_the_load_cap(demo: Built) -> None:
    formed = demo.events("tiexin.pairing.Formed")
    at_launch = [p for p in formed if p.from_date == LAUNCH]
    assert len({p.elder_id for p in at_launch}) == len(at_launch) == 429
    assert all(re.fullmatch(r"\S+第\d+组", p.group) for p in formed)
    loads = Counter(p.volunteer_id for p in at_launch)
    assert len(loads) == 60
    assert max(loads.values()) <= DEFAULT_PARAMETERS[SCORING]["max_active_pairings"]
    townships = {e.originator_id: e.township for e in demo.events("tiexin.elder.Registered")}
    assert all(p.group.startswith(townships[p.elder_id]) for p in formed)


def test_a_year_of_visits_about_two_a_month_for_each_elder(demo: Built) -> None:
    visits = demo.events("tiexin.visit.Recorded")
    assert 429 * 12 * 1.9 <= len(visits) <= 429 * 12 * 2.3
    assert {v.kind for v in visits} == {"medical", "emotional", "daily_living", "phone_call"}
    assert all((v.kind == "phone_call") == (v.distance_band == "remote") for v in visits)
    assert all(not v.readings for v in visits if v.kind == "phone_call")
    assert all({"systolic", "diastolic", "pulse"} <= set(v.readings) for v in visits if v.kind == "medical")
    assert any(v.gift_bag for v in visits)
    assert {county_day(v.started_at).year for v in visits} == {2025}
    assert (demo.summary.months, demo.summary.until) == (("2025-01", "2025-12"), None)
    confirmed = len(demo.events("tiexin.visit.Confirmed"))
    assert 0.9 * len(visits) <= confirmed < len(visits)
    ratings = Counter(f.rating for f in demo.events("tiexin.visit.FeedbackGiven"))
    assert ratings[4] + ratings[5] >= 0.85 * sum(ratings.values())


def test_volunteers_train_are_evaluated_and_claim_every_month(demo: Built) -> None:
    trainings = Counter(t.originator_id for t in demo.events("tiexin.volunteer.TrainingCompleted"))
    assert len(trainings) == 60 and set(trainings.values()) <= {1, 2, 3}
    evaluations = demo.events("tiexin.evaluation.Submitted")
    assert {e.period for e in evaluations} == {f"2025-Q{q}" for q in (1, 2, 3, 4)}
    per_volunteer_quarter = Counter((e.volunteer_id, e.period) for e in evaluations)
    assert len(per_volunteer_quarter) == 240 and set(per_volunteer_quarter.values()) <= {2, 3}
    claims = demo.events("tiexin.claim.Submitted")
    assert len({(c.volunteer_id, c.month) for c in claims}) == len(claims) == 60 * 12
    assert all(c.submitted_by == str(c.volunteer_id) for c in claims)
    paid = demo.events("tiexin.claim.Paid")
    assert len(paid) == len(claims) - 1  # the planted A01 claim still awaits approval
    submitters = {c.originator_id: c.submitted_by for c in claims}
    approvers = {a.originator_id: a.by for a in demo.events("tiexin.claim.Approved")}
    assert all(len({submitters[p.originator_id], approvers[p.originator_id], p.by}) == 3 for p in paid)
    assert all(p.reference and p.paid_on.year in (2025, 2026) for p in paid)


def test_demo_summary_counts_what_the_store_holds(demo: Built) -> None:
    summary = demo.summary
    assert summary.counties == 1
    assert summary.events_by_type == dict(sorted(Counter(topic for topic, _ in demo.log).items()))
    assert summary.total_events == len(demo.log) < 60_000
    assert summary.seconds > 0 and summary.events_per_second > 0
    done = [d for d, _ in demo.progress]
    assert done == sorted(done) and demo.progress[-1][0] == demo.progress[-1][1]


# A demo whose year ends on a given day ------------------------------------------------------


def test_a_demo_until_a_day_covers_the_twelve_months_ending_that_day(july: Built) -> None:
    assert (july.summary.months, july.summary.until) == (("2025-08", "2026-07"), UNTIL)
    visits = july.events("tiexin.visit.Recorded")
    months = Counter(f"{county_day(v.started_at):%Y-%m}" for v in visits)
    assert sorted(months) == [f"2025-{m:02d}" for m in range(8, 13)] + [f"2026-{m:02d}" for m in range(1, 8)]
    assert all(429 * 1.9 <= months[m] <= 429 * 2.3 for m in months if m != "2026-07")
    assert max(county_day(v.started_at) for v in visits) < UNTIL  # this month's visits, up to the day before
    present = {e.originator_id for e in july.events("tiexin.elder.Registered")} - {
        e.originator_id for e in july.events("tiexin.elder.Departed")
    }
    assert {v.elder_id for v in visits if f"{county_day(v.started_at):%Y-%m}" == "2026-07"} == present
    assert county_day(max(event.timestamp for _, event in july.log)) == UNTIL  # nothing recorded after it
    assert {e.period for e in july.events("tiexin.evaluation.Submitted")} == {"2025-Q3", "2025-Q4", "2026-Q1"}
    assert [(b.year, b.lines) for b in july.events("tiexin.budget.Appropriated")] == [
        (2025, BUDGET_LINES),
        (2026, BUDGET_LINES),
    ]


def test_the_claims_of_the_month_before_wait_for_approval_and_this_months_are_not_made(july: Built) -> None:
    claims = july.events("tiexin.claim.Submitted")
    approved = {a.originator_id for a in july.events("tiexin.claim.Approved")}
    paid = {p.originator_id for p in july.events("tiexin.claim.Paid")}
    june = [c for c in claims if c.month == "2026-06"]
    waiting = [c for c in june if c.originator_id not in approved]
    assert len(june) == 60 and 10 <= len(waiting) <= 30
    assert all(c.originator_id in paid for c in june if c.originator_id in approved)
    assert {c.month for c in claims} == {f"2025-{m:02d}" for m in range(8, 13)} | {f"2026-{m:02d}" for m in range(1, 7)}
    assert {c.month for c in claims if c.originator_id not in approved} == {"2026-01", "2026-06"}  # A01 and June


def test_an_independent_audit_of_a_demo_until_a_day_finds_exactly_its_planted_irregularities(july: Built) -> None:
    assert {i.code for i in july.summary.irregularities} == PLANTABLE
    planted = {(i.code, frozenset(i.entity_ids)) for i in july.summary.irregularities}
    assert audit(july) == planted
    assert set(july.summary.not_plantable) == {"A02", "A07", "A09"}


def test_no_elder_is_overdue_on_the_day_the_demo_ends(july: Built) -> None:
    """``GET /v1/roster/overdue?as_of=UNTIL``: no elder is without a contact in the last 30 days (none is planted)."""
    with harness(july.url, projections=False, keys_named=f"o{next(KEYS)}-") as api:
        overdue = get_as_of(api, f"/v1/roster/overdue?as_of={UNTIL}")
        assert (overdue["as_of"], overdue["items"]) == (UNTIL.isoformat(), [])
        assert get_as_of(api, f"/v1/roster/overdue?days=0&as_of={UNTIL}")["items"] != []  # none seen on the day itself


def test_a_demo_refuses_to_end_in_the_future_and_writes_nothing(store_url: str) -> None:
    before = event_count(store_url)
    with pytest.raises(InvalidInput, match="no future"):
        run_demo(store_url, master_key=MASTER_KEY, until=date.today() + timedelta(days=2))
    assert event_count(store_url) == before


KEYS = itertools.count()


def get_as_of(api: Harness, path: str) -> Any:
    """A read as known on a day, retried while its replay is still running (503 with Retry-After)."""
    deadline = time.monotonic() + 300
    while True:
        response = api.client.get(path, headers=api.staff.auth("coordinator"))
        if response.status_code != 503 or time.monotonic() > deadline:
            assert response.status_code == 200, response.text
            return response.json()
        time.sleep(int(response.headers["Retry-After"]))


# Same seed, same log ---------------------------------------------------------------------


@pytest.mark.postgres
def test_same_seed_gives_same_counts_on_sqlite_and_postgres(sqlite_demo: Built, postgres_demo: Built) -> None:
    assert sqlite_demo.summary.events_by_type == postgres_demo.summary.events_by_type
    assert sqlite_demo.summary.irregularities == postgres_demo.summary.irregularities
    assert sqlite_demo.summary.not_plantable == postgres_demo.summary.not_plantable


@pytest.mark.postgres
def test_same_seed_writes_the_same_log_on_sqlite_and_postgres(sqlite_demo: Built, postgres_demo: Built) -> None:
    assert log_digest(sqlite_demo.url) == log_digest(postgres_demo.url)


def log_digest(url: str) -> str:
    """Every stored event's aggregate, version, topic and state, in log order."""
    ledger, digest = open_ledger(url, master_key=MASTER_KEY), hashlib.sha256()
    try:
        for n in notifications(ledger):
            digest.update(b"%s|%d|%s|" % (n.originator_id.bytes, n.originator_version, n.topic.encode()))
            digest.update(n.state)
    finally:
        ledger.close()
    return digest.hexdigest()


# Irregularities --------------------------------------------------------------------------


def test_demo_lists_an_irregularity_for_each_plantable_code(demo: Built) -> None:
    listed = demo.summary.irregularities
    assert {i.code for i in listed} == PLANTABLE
    assert all(i.entity_ids and i.description and i.description[0].islower() for i in listed)
    assert set(demo.summary.not_plantable) == {"A02", "A07", "A09"}
    assert "claim.visit_already_claimed" in demo.summary.not_plantable["A02"]
    assert "claim.maker_checker" in demo.summary.not_plantable["A07"]
    assert "budget.below_committed" in demo.summary.not_plantable["A09"]


def test_an_independent_audit_finds_exactly_the_planted_irregularities(demo: Built) -> None:
    planted = {(i.code, frozenset(i.entity_ids)) for i in demo.summary.irregularities}
    assert audit(demo) == planted


def test_demo_refuses_to_build_twice_in_one_store(demo: Built) -> None:
    before = len(demo.log)
    with pytest.raises(RuleViolation, match="already holds county 'lianshui'"):
        run_demo(demo.url, seed=2, master_key=MASTER_KEY)
    assert event_count(demo.url) == before


def test_a_second_demo_finds_the_first_one_and_says_what_it_holds(demo: Built) -> None:
    """What ``tiexin demo`` keeps (and makes keys for) when run again: writes nothing, on either store."""
    before = len(demo.log)
    with pytest.raises(DemoExists) as exists:
        run_demo(demo.url, seed=1, scale=2, master_key=MASTER_KEY)
    assert exists.value.rule == "demo.exists"
    found = exists.value.demo
    assert (found.county, found.name, found.counties, found.total_events) == (LIANSHUI, "涟水县", 1, before)
    first_recruited = demo.events("tiexin.volunteer.Recruited")[0].originator_id
    assert found.volunteer_id == demo.summary.volunteer_id == first_recruited
    assert event_count(demo.url) == before


def test_demo_refuses_a_store_whose_home_county_has_records(stored_ledger: Ledger, store_url: str) -> None:
    coordinator = Provenance("coordinator-1", "coordinator")
    stored_ledger.register_elder(
        county=LIANSHUI, name="王德明", birth_date=date(1930, 5, 1), sex="male", township="高沟镇",
        address="高沟镇新庄村3组12号", phone="0517-82345678", by=coordinator,
    )  # fmt: skip
    before = event_count(store_url)
    with pytest.raises(RuleViolation) as refusal:
        run_demo(store_url, master_key=MASTER_KEY)
    assert refusal.value.rule == "demo.exists" and not isinstance(refusal.value, DemoExists)  # not the demo's
    assert event_count(store_url) == before


def event_count(url: str) -> int:
    ledger = open_ledger(url, master_key=MASTER_KEY)
    try:
        return sum(1 for _ in notifications(ledger))
    finally:
        ledger.close()


# An audit of the anomaly rules, written from docs/design.md -----------------------------------


def county_day(moment: datetime) -> date:
    return moment.astimezone(COUNTY_TZ).date()


@dataclass
class Claim:
    submitted_by: str
    visit_ids: list[UUID]
    status: str = "submitted"
    approved_by: str | None = None


@dataclass
class Log:
    """What the audit needs of the log, folded event by event."""

    visits: dict[UUID, Any] = field(default_factory=dict)
    status: dict[UUID, str] = field(default_factory=dict)
    pairings: dict[UUID, Any] = field(default_factory=dict)
    ended: dict[UUID, date] = field(default_factory=dict)
    departed: dict[UUID, date] = field(default_factory=dict)
    homes: dict[UUID, list[tuple[date, str]]] = field(default_factory=lambda: defaultdict(list))
    """Each elder's registered township from a county day on (registration, relocations)."""
    placed: dict[UUID, str] = field(default_factory=dict)
    """The township a coordinator confirmed a visit took place in."""
    claims: dict[UUID, Claim] = field(default_factory=dict)
    available: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def apply(self, topic: str, e: Any) -> None:
        kind, _, what = topic.removeprefix("tiexin.").partition(".")
        if kind == "visit":
            self.apply_visit(what, e)
        elif kind == "claim":
            self.apply_claim(what, e)
        elif kind == "budget":
            self.apply_budget(what, e)
        elif topic == "tiexin.pairing.Formed":
            self.pairings[e.originator_id] = e
        elif topic == "tiexin.pairing.Ended":
            self.ended[e.originator_id] = e.on
        elif topic == "tiexin.elder.Departed":
            self.departed[e.originator_id] = e.on
        elif topic in ("tiexin.elder.Registered", "tiexin.elder.Relocated"):
            self.homes[e.originator_id].append((county_day(e.timestamp), e.township))

    def apply_visit(self, what: str, e: Any) -> None:
        if what == "Recorded":
            self.visits[e.originator_id] = e
            self.status[e.originator_id] = "recorded"
        elif what in ("Confirmed", "Disputed", "Voided"):
            self.status[e.originator_id] = what.lower()
        elif what == "PlaceConfirmed":
            self.placed[e.originator_id] = e.township
        elif what == "Amended" and "township" in e.changes:
            self.visits[e.originator_id] = replace(self.visits[e.originator_id], township=e.changes["township"])

    def apply_claim(self, what: str, e: Any) -> None:
        if what == "Submitted":
            self.claims[e.originator_id] = Claim(e.submitted_by, [item["visit_id"] for item in e.items])
            return
        claim = self.claims[e.originator_id]
        claim.status = {"Approved": "approved", "Paid": "paid", "Rejected": "rejected", "Reversed": "reversed"}[what]
        if what == "Approved":
            claim.approved_by = e.by

    def apply_budget(self, what: str, e: Any) -> None:
        if what == "Appropriated":
            for line, amount in e.lines.items():
                self.available[line] += amount
        elif what in ("Adjusted", "Released"):
            self.available[e.line] += e.delta if what == "Adjusted" else e.amount
        elif what == "Committed":
            self.available[e.line] -= e.amount


Flags = set[tuple[str, frozenset[UUID]]]


def audit(demo: Built) -> Flags:
    """Flag every anomaly A01–A11 in the log, trusting nothing the write side enforces."""
    log = Log()
    for topic, event in demo.log:
        log.apply(topic, event)
    flags = claim_flags(log) | visit_flags(log)
    return flags | {("A09", frozenset()) for remaining in log.available.values() if remaining < 0}


def claim_flags(log: Log) -> Flags:
    """A01 unpaid live claim holds an unconfirmed visit · A02 · A07 · A08 paid claim, visit undone."""
    flags = set()
    holders: dict[UUID, list[UUID]] = defaultdict(list)
    for claim_id, claim in log.claims.items():
        if claim.approved_by == claim.submitted_by:
            flags.add(("A07", frozenset({claim_id})))
        for visit_id in claim.visit_ids if claim.status in LIVE else []:
            holders[visit_id].append(claim_id)
            if claim.status == "paid" and log.status[visit_id] in ("voided", "disputed"):
                flags.add(("A08", frozenset({visit_id, claim_id})))
            elif claim.status != "paid" and log.status[visit_id] != "confirmed":
                flags.add(("A01", frozenset({visit_id, claim_id})))
    flags |= {("A02", frozenset({v, *held})) for v, held in holders.items() if len(held) > 1}
    return flags


def registered_on(log: Log, elder_id: UUID, day: date) -> str:
    """The elder's township on a day: the last registration or relocation recorded by then (the first before)."""
    homes = log.homes[elder_id]
    return next((township for since, township in reversed(homes) if since <= day), homes[0][1])


def visit_flags(log: Log) -> Flags:
    """A03 · A04 · A05 · A06 · A10 · A11, over every visit not voided."""
    flags = set()
    by_volunteer: dict[UUID, list[Any]] = defaultdict(list)
    for visit_id, v in log.visits.items():
        if log.status[visit_id] == "voided":
            continue
        by_volunteer[v.volunteer_id].append(v)
        day, pairing = county_day(v.started_at), log.pairings[v.pairing_id]
        if day < pairing.from_date or day > log.ended.get(v.pairing_id, date.max):
            flags.add(("A03", frozenset({visit_id, v.pairing_id})))
        if day > log.departed.get(v.elder_id, date.max):
            flags.add(("A04", frozenset({visit_id})))
        if not timedelta(minutes=5) <= v.ended_at - v.started_at <= timedelta(hours=8):
            flags.add(("A06", frozenset({visit_id})))
        if v.timestamp - v.ended_at > timedelta(days=30):
            flags.add(("A10", frozenset({visit_id})))
        if v.kind != "phone_call" and v.township not in (registered_on(log, v.elder_id, day), log.placed.get(visit_id)):
            flags.add(("A11", frozenset({visit_id, v.elder_id})))
    for own in by_volunteer.values():
        own.sort(key=lambda v: v.started_at)
        latest = own[0]
        for after in own[1:]:
            if after.started_at < latest.ended_at:
                flags.add(("A05", frozenset({latest.originator_id, after.originator_id})))
            latest = max(latest, after, key=lambda v: v.ended_at)
    return flags
