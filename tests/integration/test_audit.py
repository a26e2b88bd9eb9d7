"""The subsidy audit read model, on a SQLite file and on PostgreSQL.

On the demo county: every irregularity it plants is found with its code and nothing else is
flagged; the budget year's lines; a claim's trail down to the log positions; a view kept up in
small pages reads the same as one rebuilt in large ones. On small scenarios written through the
service: each anomaly the write side lets through appears, and clears when it is corrected,
with the runner kept up between steps (so the view is maintained incrementally); the ones the
write side refuses (A02, A07, A09) are still found when the events are forged past the commands.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from uuid import UUID, uuid4

import pytest

from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.budgets import budget_id
from ledger.claims import Claim
from ledger.counties import LIANSHUI
from ledger.subsidy import PricedClaim
from projections import registry
from projections.audit import Anomaly, AuditProjection, AuditView, AuditWriter, TrailRow, open_audit_view
from projections.runner import Runner
from tests.builders import (
    COORDINATOR,
    FINANCE_A,
    FINANCE_B,
    MASTER_KEY,
    Pair,
    as_volunteer,
    claim_of_february,
    event_count,
    make_pair,
    visit_at,
    visit_fields,
)
from tests.conftest import Clock, fresh_postgres_schema
from tests.demo_store import seeded_demo
from tiexin.demo.generator import BUDGET_LINES, YEAR, DemoSummary

Flags = set[tuple[str, frozenset[UUID]]]
FEB_10 = datetime(2026, 2, 10, 1, 0, tzinfo=UTC)  # 09:00 in the county


def flags_of(view: AuditView) -> Flags:
    return {(a.code, frozenset(a.ids)) for a in view.anomalies().anomalies}


def check_positions(ledger: Ledger, rows: list[TrailRow]) -> None:
    """Each trail row names the stored event at its position: same entity, same event."""
    assert rows
    for row in rows:
        [stored] = ledger.recorder.select_notifications(start=row.position, limit=1)
        assert (stored.id, stored.originator_id) == (row.position, row.entity_id)
        assert stored.topic.rsplit(".", 1)[-1] == row.event


# The demo county ---------------------------------------------------------------------------


@dataclass
class AuditedDemo:
    """The seed-1 demo in a store, the ledger on it and its audit view, caught up once."""

    url: str
    summary: DemoSummary
    ledger: Ledger
    view: AuditView
    opened: list[AuditView] = field(default_factory=list)

    def open_view(self, name: str) -> AuditView:
        view = open_audit_view(self.url, name)
        self.opened.append(view)
        return view


@contextmanager
def audited_demo(url: str) -> Iterator[AuditedDemo]:
    summary = seeded_demo(url)
    ledger = open_ledger(url, master_key=MASTER_KEY)
    demo = AuditedDemo(url, summary, ledger, open_audit_view(url))
    try:
        runner = Runner(ledger, AuditProjection(demo.view))
        assert runner.run_once() > 0
        assert (runner.state.status, runner.lag) == ("caught_up", 0), runner.state
        yield demo
    finally:
        for view in (demo.view, *demo.opened):
            view.close()
        ledger.close()


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[AuditedDemo]:
    with audited_demo(f"sqlite:///{tmp_path_factory.mktemp('audit')}/tiexin.db") as demo:
        yield demo


@pytest.fixture(scope="module")
def postgres_demo() -> Iterator[AuditedDemo]:
    with fresh_postgres_schema("t_audit") as url, audited_demo(url) as demo:
        yield demo


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest) -> AuditedDemo:
    built: AuditedDemo = request.getfixturevalue(f"{request.param}_demo")
    return built


def test_every_irregularity_the_demo_plants_is_found_with_its_code_and_nothing_else(demo: AuditedDemo) -> None:
    planted = {(i.code, frozenset(i.entity_ids)) for i in demo.summary.irregularities}
    report = demo.view.anomalies()
    assert {(a.code, frozenset(a.ids)) for a in report.anomalies} == planted
    assert len(report.anomalies) == len(planted)
    assert report.position == event_count(demo.ledger)
    for anomaly in report.anomalies:
        assert anomaly.description and anomaly.description[0].islower()
        assert anomaly.positions and 0 < min(anomaly.positions) <= max(anomaly.positions) <= report.position
    # By code: A06 twice (too short, too long), the others once.
    assert report.codes() == {"A01": 1, "A03": 1, "A04": 1, "A05": 1, "A06": 2, "A08": 1, "A10": 1, "A11": 1}
    assert [a.code for a in demo.view.anomalies("A06").anomalies] == ["A06", "A06"]
    assert demo.view.anomalies("A02").anomalies == ()
    with pytest.raises(ValueError, match="no anomaly rule"):
        demo.view.anomalies("A12")


def test_each_planted_anomaly_states_the_money_at_stake(demo: AuditedDemo) -> None:
    """A01 and A08: what their claim holds for the visit; A11: the claimed visit's same-township ¥10
    (priced where the elder is registered, not where it was typed); the planted visits of the other
    rules were never claimed: nothing at stake."""
    found = {a.code: a for a in demo.view.anomalies().anomalies}
    for code in ("A01", "A08"):
        visit_id, claim_id = found[code].ids
        [item] = [i for i in demo.view.trail(claim_id).items if i.visit_id == visit_id]
        assert found[code].amount_fen == item.transport_fen in (1000, 2000)
    a11 = found["A11"]
    assert (a11.amount_fen, a11.amount_yuan) == (1000, "10.00")
    held = [c for c in demo.view.contents()["items"] if c.visit_id == a11.ids[0]]
    assert [i.transport_fen for i in held] == [1000]
    assert {a.code: a.amount_fen for a in found.values() if a.code not in ("A01", "A08", "A11")} == dict.fromkeys(
        ("A03", "A04", "A05", "A06", "A10"), 0
    )


def test_the_demo_budget_year_has_what_was_appropriated_committed_and_paid(demo: AuditedDemo) -> None:
    committed: dict[str, int] = defaultdict(int)
    for n in demo.ledger.recorder.select_notifications(start=1, limit=10**6, topics=["tiexin.budget.Committed"]):
        event = demo.ledger.mapper.to_domain_event(n)
        committed[event.line] += event.amount
    report = demo.view.budget(LIANSHUI, YEAR)
    assert report.position == event_count(demo.ledger)
    assert [line.line for line in report.lines] == ["transport", "communication"]
    for line in report.lines:
        assert line.appropriated == BUDGET_LINES[line.line]
        assert line.committed == committed[line.line] > 0
        # Every approved claim was paid and none reversed (the planted A01 claim awaits approval).
        assert line.paid == line.committed
        assert line.available == line.appropriated - line.committed
    assert demo.view.budget(LIANSHUI, YEAR + 1).lines == ()


def test_a_paid_claim_is_traced_to_its_visits_pairings_and_the_positions_of_every_event(demo: AuditedDemo) -> None:
    [a08] = [i for i in demo.summary.irregularities if i.code == "A08"]
    voided, claim_id = a08.entity_ids
    trail = demo.view.trail(claim_id)
    assert trail.claim is not None and trail.claim.status == "paid"
    assert [e.event for e in trail.events] == ["Submitted", "Approved", "Committed", "Committed", "Paid"]
    assert trail.claim.total_fen == sum(e.detail["amount"] for e in trail.events if e.event == "Committed")
    assert sum(i.transport_fen for i in trail.items) == trail.claim.transport_fen
    by_visit = {i.visit_id: i for i in trail.items}
    assert [e.event for e in by_visit[voided].events] == ["Recorded", "Confirmed", "Unlocked", "Voided"]
    for item in trail.items:
        assert item.visit is not None and item.pairing is not None
        assert item.visit.status == ("voided" if item.visit_id == voided else "confirmed")
        assert item.visit.volunteer_id == trail.claim.volunteer_id == item.pairing.volunteer_id
        assert item.pairing.from_date <= item.visit.day
        assert [e.event for e in item.pairing_events][:1] == ["Formed"]
        check_positions(demo.ledger, [*item.events, *item.pairing_events])
    check_positions(demo.ledger, list(trail.events))
    assert [(a.code, set(a.ids)) for a in trail.anomalies] == [("A08", {voided, claim_id})]
    assert trail.position == event_count(demo.ledger)
    used = [*trail.events, *(r for i in trail.items for r in (*i.events, *i.pairing_events, *i.elder_events))]
    assert trail.positions == tuple(sorted({r.position for r in used}))
    assert demo.view.trail(uuid4()).claim is None


def test_a_view_kept_up_in_small_pages_reads_the_same_as_one_built_in_large_ones(demo: AuditedDemo) -> None:
    small = demo.open_view("audit_p97")
    runner = Runner(demo.ledger, AuditProjection(small), page_size=97)
    assert runner.run_once() > 0
    assert runner.state.status == "caught_up"
    assert small.contents() == demo.view.contents()
    assert runner.rebuild() > 0
    assert small.contents() == demo.view.contents()


def test_the_registry_opens_the_audit(demo: AuditedDemo) -> None:
    projection = registry.open_projection("audit", demo.url)
    try:
        assert isinstance(projection, AuditProjection)
        assert flags_of(projection.audit) == flags_of(demo.view)
    finally:
        projection.audit.close()


# Small scenarios through the service --------------------------------------------------------


@dataclass
class Audited:
    """A ledger on the test's store and its audit view, caught up on demand."""

    ledger: Ledger
    view: AuditView
    clock: Clock

    def __post_init__(self) -> None:
        self.runner = Runner(self.ledger, AuditProjection(self.view), page_size=7)

    def flags(self) -> Flags:
        self.runner.run_once()
        assert (self.runner.state.status, self.runner.lag) == ("caught_up", 0), self.runner.state
        return flags_of(self.view)


@pytest.fixture
def audited(store_url: str, open_store: Callable[[str], Ledger], clock: Clock) -> Iterator[Audited]:
    view = open_audit_view(store_url)
    try:
        yield Audited(open_store(store_url), view, clock)
    finally:
        view.close()


def second_elder(ledger: Ledger, pair: Pair, n: int) -> Pair:
    """Another elder served by the same volunteer."""
    elder = ledger.register_elder(
        county=LIANSHUI, name=f"老人{n}", birth_date=date(1936, 6, 1), sex="female", township="高沟镇",
        address=f"高沟镇幸福路{n}号", phone=f"1380000{n:04d}", by=COORDINATOR,
    )  # fmt: skip
    pairing = ledger.form_pairing(
        volunteer_id=pair.volunteer_id, elder_id=elder.id, group="高沟镇第1组", from_date=date(2026, 1, 1),
        by=COORDINATOR,
    )  # fmt: skip
    return Pair(pair.volunteer_id, elder.id, pairing.id)


def test_a_claimed_visit_disputed_before_approval_is_flagged_until_the_claim_is_rejected(audited: Audited) -> None:
    ledger, pair = audited.ledger, make_pair(audited.ledger, 1)
    claim_id = claim_of_february(ledger, pair)
    assert audited.flags() == set()
    disputed = ledger.repository.get(claim_id).visit_ids[0]
    ledger.dispute_visit(disputed, reason_code="did_not_happen", by=COORDINATOR)
    assert audited.flags() == {("A01", frozenset({disputed, claim_id}))}
    [a01] = audited.view.anomalies("A01").anomalies
    assert "disputed" in a01.description
    assert (a01.amount_fen, a01.amount_yuan) == (1000, "10.00")  # what the claim holds for the visit
    ledger.reject_claim(claim_id, reason="家属称当天无人上门", by=FINANCE_A)
    assert audited.flags() == set()


def test_a_pairing_ended_retroactively_leaves_its_later_visits_without_one_until_they_are_voided(
    audited: Audited,
) -> None:
    ledger, pair = audited.ledger, make_pair(audited.ledger, 1)
    visit = visit_at(ledger, pair, FEB_10)
    before = visit_at(ledger, pair, FEB_10 - timedelta(days=7))
    assert audited.flags() == set()
    ledger.end_pairing(pair.pairing_id, on=date(2026, 2, 5), reason="reassigned", by=COORDINATOR)
    assert audited.flags() == {("A03", frozenset({visit, pair.pairing_id}))}
    [a03] = audited.view.anomalies().anomalies
    assert "after its pairing ended as of 2026-02-05" in a03.description
    assert before not in a03.ids
    ledger.void_visit(visit, reason_code="wrong_elder", by=COORDINATOR)
    assert audited.flags() == set()


def test_a_visit_after_the_elder_departed_is_flagged_until_voided(audited: Audited) -> None:
    ledger, pair = audited.ledger, make_pair(audited.ledger, 1)
    visit = visit_at(ledger, pair, FEB_10)
    assert audited.flags() == set()
    ledger.record_departure(pair.elder_id, kind="deceased", on=date(2026, 2, 9), by=COORDINATOR)
    assert audited.flags() == {("A04", frozenset({visit}))}
    ledger.void_visit(visit, reason_code="entered_in_error", by=COORDINATOR)
    assert audited.flags() == set()


def test_overlapping_visits_by_one_volunteer_are_flagged_until_one_is_moved(audited: Audited) -> None:
    ledger, pair = audited.ledger, make_pair(audited.ledger, 1)
    other = second_elder(ledger, pair, 2)
    first = visit_at(ledger, pair, FEB_10, minutes=90)
    second = visit_at(ledger, other, FEB_10 + timedelta(hours=1))
    back_to_back = visit_at(ledger, other, FEB_10 + timedelta(hours=3), minutes=30)
    visit_at(ledger, pair, FEB_10 + timedelta(hours=3, minutes=30))  # starts as the last one ends
    assert audited.flags() == {("A05", frozenset({first, second}))}
    [a05] = audited.view.anomalies().anomalies
    assert a05.ids == (first, second) and "overlap by 30 minutes" in a05.description
    later = {"started_at": FEB_10 + timedelta(hours=2), "ended_at": FEB_10 + timedelta(hours=2, minutes=45)}
    ledger.amend_visit(second, changes=later, reason_code="wrong_time", by=COORDINATOR)
    assert audited.flags() == set()
    ledger.amend_visit(back_to_back, changes={"ended_at": FEB_10 + timedelta(hours=4)}, reason_code="wrong_time",
                       by=COORDINATOR)  # fmt: skip
    assert len(audited.flags()) == 1
    ledger.void_visit(back_to_back, reason_code="duplicate", by=COORDINATOR)
    assert audited.flags() == set()


def test_visits_under_five_minutes_or_over_eight_hours_are_flagged_until_amended(audited: Audited) -> None:
    ledger, pair = audited.ledger, make_pair(audited.ledger, 1)
    short = visit_at(ledger, pair, FEB_10, minutes=3)
    long = visit_at(ledger, pair, FEB_10 + timedelta(days=1), minutes=9 * 60)
    visit_at(ledger, pair, FEB_10 + timedelta(days=2), minutes=5)
    visit_at(ledger, pair, FEB_10 + timedelta(days=3), minutes=8 * 60)
    assert audited.flags() == {("A06", frozenset({short})), ("A06", frozenset({long}))}
    assert sorted(a.description for a in audited.view.anomalies("A06").anomalies) == [
        "visit on 2026-02-10 lasted 3 minutes",
        "visit on 2026-02-11 lasted 9 hours",
    ]
    ledger.amend_visit(short, changes={"ended_at": FEB_10 + timedelta(minutes=40)}, reason_code="typo", by=COORDINATOR)
    assert audited.flags() == {("A06", frozenset({long}))}


def test_a_visit_recorded_over_thirty_days_late_is_flagged_until_its_date_is_corrected(
    audited: Audited, clock: Clock
) -> None:
    ledger, pair = audited.ledger, make_pair(audited.ledger, 1)
    started = clock.now - timedelta(days=30, minutes=1)
    late = visit_at(ledger, pair, started)
    visit_at(ledger, pair, clock.now - timedelta(days=29, hours=23))
    assert audited.flags() == {("A10", frozenset({late}))}
    [a10] = audited.view.anomalies().anomalies
    assert "recorded 30 days after it happened" in a10.description
    moved = {"started_at": started + timedelta(hours=3), "ended_at": started + timedelta(hours=3, minutes=45)}
    ledger.amend_visit(late, changes=moved, reason_code="wrong_time", by=COORDINATOR)
    assert audited.flags() == set()


def test_budget_lines_follow_approval_payment_and_reversal_and_a_voided_paid_visit_until_reversed(
    audited: Audited,
) -> None:
    ledger, view = audited.ledger, audited.view
    ledger.appropriate_budget(county=LIANSHUI, year=2026, lines={"transport": 50_000, "communication": 9_000},
                              by=FINANCE_A)  # fmt: skip
    pair = make_pair(ledger, 1)
    claim_id = claim_of_february(ledger, pair)
    amounts = ledger.repository.get(claim_id).amounts_by_line
    assert amounts == {"transport": 2_000, "communication": 3_000}

    def lines() -> dict[str, tuple[int, int, int, int]]:
        audited.flags()
        report = view.budget(LIANSHUI, 2026)
        assert report.position == event_count(ledger)
        return {x.line: (x.appropriated, x.committed, x.paid, x.available) for x in report.lines}

    assert lines() == {"transport": (50_000, 0, 0, 50_000), "communication": (9_000, 0, 0, 9_000)}
    ledger.approve_claim(claim_id, by=FINANCE_A)
    assert lines() == {"transport": (50_000, 2_000, 0, 48_000), "communication": (9_000, 3_000, 0, 6_000)}
    ledger.pay_claim(claim_id, reference="LSCZ-202602-001", paid_on=date(2026, 3, 1), by=FINANCE_B)
    assert lines() == {"transport": (50_000, 2_000, 2_000, 48_000), "communication": (9_000, 3_000, 3_000, 6_000)}
    ledger.adjust_budget(county=LIANSHUI, year=2026, line="transport", delta=-10_000, reason="mid-year cut",
                         by=FINANCE_A)  # fmt: skip
    assert lines()["transport"] == (40_000, 2_000, 2_000, 38_000)

    voided = ledger.repository.get(claim_id).visit_ids[1]
    ledger.unlock_visit(voided, reason="家属反映未上门", by=COORDINATOR)
    assert audited.flags() == set()
    ledger.void_visit(voided, reason_code="not_performed", by=COORDINATOR)
    assert audited.flags() == {("A08", frozenset({voided, claim_id}))}
    assert [a.amount_fen for a in view.anomalies("A08").anomalies] == [1000]
    ledger.reverse_claim(claim_id, reason="visit voided after payment", by=FINANCE_A)
    assert audited.flags() == set()
    assert lines() == {"transport": (40_000, 0, 0, 40_000), "communication": (9_000, 0, 0, 9_000)}

    trail = view.trail(claim_id)
    assert trail.claim is not None and trail.claim.status == "reversed"
    assert [e.event for e in trail.events] == [
        "Submitted", "Approved", "Committed", "Committed", "Paid", "Reversed", "Released", "Released",
    ]  # fmt: skip
    check_positions(ledger, list(trail.events))
    [kept, gone] = trail.items
    assert (kept.visit_id, gone.visit_id) == tuple(ledger.repository.get(claim_id).visit_ids)
    assert [e.event for e in gone.events] == ["Recorded", "Confirmed", "Unlocked", "Voided"]
    assert gone.events[-1].detail == {"reason_code": "not_performed"}
    assert kept.visit is not None and (kept.visit.status, kept.visit.kind) == ("confirmed", "medical")
    assert kept.visit.ended_at - kept.visit.started_at == timedelta(minutes=45)
    assert kept.pairing is not None and (kept.pairing.from_date, kept.pairing.ended_on) == (date(2026, 1, 1), None)
    check_positions(ledger, [*kept.events, *gone.events, *kept.pairing_events])
    assert trail.positions == tuple(sorted({r.position for r in (*trail.events, *kept.events, *gone.events,
                                                                   *kept.pairing_events)}))  # fmt: skip


def test_an_answer_says_which_position_it_reflects(audited: Audited, clock: Clock) -> None:
    ledger, pair = audited.ledger, make_pair(audited.ledger, 1)
    audited.flags()
    seen = audited.view.anomalies().position
    assert seen == event_count(ledger)
    visit_at(ledger, pair, FEB_10, minutes=2)
    assert audited.view.anomalies().position == seen  # not caught up yet: it says so
    assert audited.flags() != set()
    assert audited.view.anomalies().position == event_count(ledger) > seen


class Crash(BaseException):
    """The process dies (SIGKILL, power cut): nothing in the runner catches it."""


def test_a_crash_after_a_page_is_written_but_before_it_commits_leaves_the_view_as_it_was(
    audited: Audited, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger, pair = audited.ledger, make_pair(audited.ledger, 1)
    short = visit_at(ledger, pair, FEB_10, minutes=3)
    assert audited.flags() == {("A06", frozenset({short}))}
    before, tracked = audited.view.contents(), audited.view.position(ledger.name)
    shorter = visit_at(ledger, pair, FEB_10 + timedelta(days=1), minutes=2)
    ledger.void_visit(short, reason_code="entered_in_error", by=COORDINATOR)
    written = AuditWriter.flush

    def flush_then_crash(self: AuditWriter) -> None:
        written(self)
        raise Crash

    with monkeypatch.context() as patched:
        patched.setattr(AuditWriter, "flush", flush_then_crash)
        with pytest.raises(Crash):
            Runner(ledger, AuditProjection(audited.view), page_size=100).run_once()
    assert (audited.view.contents(), audited.view.position(ledger.name)) == (before, tracked)
    assert audited.flags() == {("A06", frozenset({shorter}))}


# What the write side refuses is still checked ---------------------------------------------


def test_a_visit_in_two_live_claims_is_flagged(audited: Audited, clock: Clock) -> None:
    ledger, pair = audited.ledger, make_pair(audited.ledger, 1)
    first = claim_of_february(ledger, pair, visits=1)
    [visit] = ledger.repository.get(first).visit_ids
    priced = PricedClaim(items=[{"visit_id": visit, "transport_fen": 1_000}], communication_fen=0)
    twin = Claim.submit(
        volunteer_id=pair.volunteer_id, county=LIANSHUI, month="2026-02", priced=priced, policy_version=1,
        now=clock.now, meta=as_volunteer(pair.volunteer_id), id=uuid4(),
    )  # fmt: skip
    ledger.save(twin)  # past the command, which refuses it (claim.visit_already_claimed)
    assert audited.flags() == {("A02", frozenset({visit, first, twin.id}))}
    assert [a.amount_fen for a in audited.view.anomalies("A02").anomalies] == [1000]  # paid a second time
    twin._rejected(by=FINANCE_A.principal_id, reason="duplicate", timestamp=clock.now, meta=FINANCE_A)
    ledger.save(twin)
    assert audited.flags() == set()


def test_a_claim_approved_by_its_submitter_is_flagged(audited: Audited, clock: Clock) -> None:
    ledger, pair = audited.ledger, make_pair(audited.ledger, 1)
    claim_id = claim_of_february(ledger, pair)
    claim = ledger.repository.get(claim_id)
    maker = as_volunteer(pair.volunteer_id)
    claim._approved(by=maker.principal_id, timestamp=clock.now, meta=maker)  # the command refuses (maker-checker)
    ledger.save(claim)
    assert audited.flags() == {("A07", frozenset({claim_id}))}
    assert [a.amount_yuan for a in audited.view.anomalies("A07").anomalies] == ["50.00"]  # the whole claim


def test_a_budget_line_committed_beyond_what_was_appropriated_is_flagged(audited: Audited, clock: Clock) -> None:
    ledger = audited.ledger
    ledger.appropriate_budget(county=LIANSHUI, year=2026, lines={"transport": 1_000, "communication": 0}, by=FINANCE_A)
    budget = ledger.repository.get(budget_id(LIANSHUI, 2026))
    budget._committed(claim_id=uuid4(), line="transport", amount=1_500, timestamp=clock.now, meta=FINANCE_A)
    ledger.save(budget)  # past the command, which refuses it (budget.overdrawn)
    assert audited.flags() == {("A09", frozenset({budget.id}))}
    assert [a.amount_fen for a in audited.view.anomalies("A09").anomalies] == [500]  # committed beyond
    transport = audited.view.budget(LIANSHUI, 2026).line("transport")
    assert transport is not None and (transport.available, transport.paid) == (-500, 0)
    ledger.adjust_budget(county=LIANSHUI, year=2026, line="transport", delta=500, reason="top up", by=FINANCE_A)
    assert audited.flags() == set()


# A11: the place a visit records, against the elder's registered township -----------------------


def visit_in(ledger: Ledger, pair: Pair, start: datetime, township: str) -> UUID:
    """A confirmed 45-minute home visit that records ``township`` as its place."""
    written = ledger.record_visit(
        pairing_id=pair.pairing_id, by=as_volunteer(pair.volunteer_id), **{**visit_fields(start), "township": township}
    )
    ledger.confirm_visit(written.id, confirmed_by="elder", method="signature", by=COORDINATOR)
    return written.id


def test_a_visit_recorded_outside_the_elders_township_is_flagged_with_its_transport_until_the_place_is_confirmed(
    audited: Audited,
) -> None:
    ledger, view, pair = audited.ledger, audited.view, make_pair(audited.ledger, 1)  # both of 高沟镇
    away = visit_in(ledger, pair, FEB_10, "涟城镇")
    home = visit_at(ledger, pair, FEB_10 + timedelta(days=1))
    assert audited.flags() == {("A11", frozenset({away, pair.elder_id}))}

    def a11() -> Anomaly:
        audited.flags()
        [found] = [a for a in view.anomalies("A11").anomalies if a.subject == str(away)]
        return found

    assert (a11().amount_fen, a11().amount_yuan) == (0, "0.00")  # not claimed yet
    assert "recorded in 涟城镇" in a11().description and "registered in 高沟镇" in a11().description
    claim = ledger.submit_claim(
        volunteer_id=pair.volunteer_id, month="2026-02", visit_ids=[away, home], by=as_volunteer(pair.volunteer_id)
    ).id
    assert [i["transport_fen"] for i in ledger.repository.get(claim).items] == [1000, 1000]  # not ¥20
    assert (a11().amount_fen, a11().amount_yuan) == (1000, "10.00")
    ledger.reject_claim(claim, reason="地点待核实", by=FINANCE_A)
    assert a11().amount_fen == 0
    ledger.confirm_visit_place(away, reason="老人当天在涟城镇女儿家", by=COORDINATOR)
    assert ("A11", frozenset({away, pair.elder_id})) not in audited.flags()
    ledger.amend_visit(away, changes={"township": "唐集镇"}, reason_code="wrong_place", by=COORDINATOR)
    assert ("A11", frozenset({away, pair.elder_id})) in audited.flags()  # the confirmation was for 涟城镇
    ledger.amend_visit(away, changes={"township": "高沟镇"}, reason_code="wrong_place", by=COORDINATOR)
    assert ("A11", frozenset({away, pair.elder_id})) not in audited.flags()


def test_a_relocation_clears_the_visits_of_its_day_but_not_the_earlier_ones(audited: Audited, clock: Clock) -> None:
    ledger, pair = audited.ledger, make_pair(audited.ledger, 1)  # of 高沟镇
    today = visit_in(ledger, pair, clock.now - timedelta(hours=1), "涟城镇")
    earlier = visit_in(ledger, pair, FEB_10, "涟城镇")
    phone = ledger.record_visit(
        pairing_id=pair.pairing_id, by=as_volunteer(pair.volunteer_id),
        **{**visit_fields(FEB_10 + timedelta(days=1)), "kind": "phone_call", "services": ["chat"], "readings": {},
           "distance_band": "remote", "township": "涟城镇"},
    ).id  # fmt: skip
    assert audited.flags() == {("A11", frozenset({v, pair.elder_id})) for v in (today, earlier)}  # not the call
    assert phone not in {a.ids[0] for a in audited.view.anomalies().anomalies}
    ledger.relocate_elder(pair.elder_id, township="涟城镇", address="涟城镇安东路8号", by=COORDINATOR)
    assert audited.flags() == {("A11", frozenset({earlier, pair.elder_id}))}
    [a11] = audited.view.anomalies("A11").anomalies
    assert "registered in 高沟镇" in a11.description
