"""The scores read model on a SQLite file and on PostgreSQL.

A small case computed by hand (to the 0.01 point, with its grade, explanation and sources), a
scoring policy version that applies from its month only, corrections (a withdrawn evaluation, a
visit amended into another month) that change the score, rankings, and a demo county: every
volunteer scored every month, the inputs agreeing with a recount of the log, and a view rebuilt
from position 0 equal to one kept up live in small pages while the demo was written.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest

from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.common import Provenance, county_date, first_day, last_day, month_of
from ledger.counties import LIANSHUI
from ledger.evaluations import months_of_period
from ledger.policies import DEFAULT_PARAMETERS, SCORING, policy_id
from ledger.scoring import ScoreInputs, compute_score, explain
from projections.runner import Runner
from projections.scores import ScoresProjection, ScoresView, ScoresWriter, VolunteerScore, open_scores_view
from tests.builders import COORDINATOR, EVALUATOR, MASTER_KEY, Pair, criteria, event_count, make_pair, visit_at
from tests.conftest import Clock, fresh_postgres_schema
from tests.views import caught_up as run_caught_up
from tests.views import views_on
from tiexin.demo.generator import run_demo

EVALUATOR_2 = Provenance("evaluator-2", "evaluator")
FEB = datetime(2026, 2, 3, 1, 0, tzinfo=UTC)
MARCH = datetime(2026, 3, 5, 1, 0, tzinfo=UTC)
OpenView = Callable[..., ScoresView]


@pytest.fixture
def ledger(store_url: str, open_store: Callable[[str], Ledger]) -> Ledger:
    return open_store(store_url)


@pytest.fixture
def open_view(store_url: str) -> Iterator[OpenView]:
    with views_on(store_url, open_scores_view, "scores") as opener:
        yield opener


def caught_up(ledger: Ledger, view: ScoresView, page_size: int = 5) -> ScoresProjection:
    """The projection on ``view``, caught up in small pages (so a visit's events span pages)."""
    return run_caught_up(ledger, ScoresProjection(view), page_size)


def positions(ledger: Ledger, topic: str, *ids: UUID) -> list[int]:
    """The log positions of the events of ``topic`` of the given aggregates (all of them: no ids)."""
    found = ledger.recorder.select_notifications(start=1, limit=100_000, topics=[topic])
    return [n.id for n in found if not ids or n.originator_id in ids]


def another_elder(ledger: Ledger, pair: Pair, n: int) -> Pair:
    """A second elder for the volunteer of ``pair``, paired from 1 January 2026."""
    elder = ledger.register_elder(
        county=LIANSHUI, name=f"老人{n}", birth_date=date(1938, 3, 8), sex="female", township="高沟镇",
        address=f"高沟镇幸福路{n}号", phone=f"1380000{n:04d}", by=COORDINATOR,
    )  # fmt: skip
    pairing = ledger.form_pairing(
        volunteer_id=pair.volunteer_id, elder_id=elder.id, group="高沟镇第1组", from_date=date(2026, 1, 1),
        by=COORDINATOR,
    )  # fmt: skip
    return Pair(pair.volunteer_id, elder.id, pairing.id)


@dataclass
class Case:
    """One volunteer, two elders: January and February 2026 as the hand computation below has them."""

    pair: Pair
    second: Pair
    visits: list[UUID]
    voided: UUID
    evaluations: list[UUID]


def february(ledger: Ledger) -> Case:
    pair = make_pair(ledger, 1)
    second = another_elder(ledger, pair, 2)
    visit_at(ledger, pair, datetime(2026, 1, 20, 2, 0, tzinfo=UTC))  # January's one contact
    visits = [
        visit_at(ledger, pair, datetime(2026, 1, 31, 16, 30, tzinfo=UTC)),  # 1 February, 00:30 in the county
        visit_at(ledger, second, FEB + timedelta(days=7)),
        visit_at(ledger, pair, FEB + timedelta(days=14)),
    ]
    voided = visit_at(ledger, second, FEB + timedelta(days=17))
    for visit_id, rating in ((visits[0], 5), (visits[1], 4), (voided, 1)):
        ledger.give_feedback(visit_id, rating=rating, by=COORDINATOR)
    ledger.void_visit(voided, reason_code="duplicate", by=COORDINATOR)
    evaluations = [
        ledger.submit_evaluation(
            volunteer_id=pair.volunteer_id, period="2026-Q1", criteria=scores, comment="", by=by
        ).id
        for scores, by in (
            (criteria(80), EVALUATOR),
            (criteria(85, attitude=95, timeliness=95), EVALUATOR_2),  # a mean of 90
        )
    ]
    for hours, on in ((5, date(2025, 12, 1)), (2, date(2026, 1, 15)), (4, date(2026, 2, 20))):
        ledger.record_training(pair.volunteer_id, course="急救", hours=Decimal(hours), on=on, by=COORDINATOR)
    return Case(pair, second, visits, voided, evaluations)


def terms(entry: VolunteerScore) -> tuple[str, ...]:
    s = entry.score
    return tuple(str(t) for t in (s.service, s.satisfaction, s.evaluation, s.training, s.penalty, s.total))


# A small case by hand -------------------------------------------------------------------


def test_a_small_case_scores_as_computed_by_hand(ledger: Ledger, open_view: OpenView) -> None:
    case = february(ledger)
    volunteer = case.pair.volunteer_id
    scores = caught_up(ledger, open_view())

    feb = scores.score(volunteer, "2026-02")
    assert feb is not None
    # 3 contacts (the voided visit is not one; 00:30 on 1 February in the county is February) of
    # 2 elders × 2 expected; ratings 5 and 4 (the voided visit's 1 is dropped) smoothed with 3 × 4;
    # evaluations 80 and 90 for the quarter; 2 + 4 hours of training this year (not last year's 5).
    assert feb.score.inputs == ScoreInputs(3, 2, (5, 4), (Decimal(80), Decimal(90)), Decimal(6), 1)
    assert terms(feb) == ("30.00", "25.20", "17.00", "7.50", "5.00", "74.70")
    assert (feb.grade, feb.score.grade_zh, feb.policy_version, feb.score.reweighted) == ("pass", "合格", 1, False)
    assert feb.explanation == (
        "service 40 × min(1, 3/4) = 30.00",
        "satisfaction 30 × (9 + 4×3) / (2 + 3) / 5 = 25.20",
        "evaluation 20 × mean(80, 90)/100 = 17.00",
        "training 10 × min(1, 6/8) = 7.50",
        "penalty 5 × 1 disputed or voided visit(s) = 5.00, subtracted",
        "total 74.70 (exact sum rounded once, clamped to 0..100) → pass 合格 (policy version 1)",
    )
    assert (feb.county, feb.township, feb.view_position) == (LIANSHUI, "高沟镇", event_count(ledger))

    # Where it came from: the two pairings, the four February visits' records, three ratings and
    # the void, two evaluations and this year's two trainings up to February.
    feb_visits = [*case.visits, case.voided]
    fed = [
        *positions(ledger, "tiexin.pairing.Formed", case.pair.pairing_id, case.second.pairing_id),
        *positions(ledger, "tiexin.visit.Recorded", *feb_visits),
        *positions(ledger, "tiexin.visit.FeedbackGiven", *feb_visits),
        *positions(ledger, "tiexin.visit.Voided", case.voided),
        *positions(ledger, "tiexin.evaluation.Submitted", *case.evaluations),
        *positions(ledger, "tiexin.volunteer.TrainingCompleted", volunteer)[1:],
    ]
    [voided] = positions(ledger, "tiexin.visit.Voided", case.voided)
    [policy] = positions(ledger, "tiexin.policy.Adopted", policy_id(SCORING))
    assert feb.sources.count == len(fed) == 14
    assert (feb.sources.first, feb.sources.last) == (min(fed), max(fed))
    assert (feb.sources.penalties, feb.sources.policy) == ((voided,), policy)

    jan = scores.score(volunteer, "2026-01")
    assert jan is not None
    assert jan.score.inputs == ScoreInputs(1, 2, (), (Decimal(80), Decimal(90)), Decimal(2), 0)
    assert terms(jan) == ("10.00", "24.00", "17.00", "2.50", "0.00", "53.50")
    assert jan.grade == "fail"

    # Recomputing from the stated inputs and policy gives the same score and explanation.
    again = compute_score(feb.score.inputs, DEFAULT_PARAMETERS[SCORING], feb.policy_version)
    assert (again, tuple(explain(again))) == (feb.score, feb.explanation)
    # No score before the volunteer was recruited or paired, nor for a volunteer nobody knows.
    assert scores.score(volunteer, "2025-12") is None
    assert scores.score(uuid4(), "2026-02") is None


def test_a_new_policy_version_applies_from_its_month_only(ledger: Ledger, open_view: OpenView, clock: Clock) -> None:
    case = february(ledger)
    volunteer = case.pair.volunteer_id
    clock.advance(days=19)  # 20 March
    ledger.give_feedback(visit_at(ledger, case.pair, MARCH), rating=3, by=COORDINATOR)
    visit_at(ledger, case.second, MARCH + timedelta(days=7))
    view = open_view()
    scores = caught_up(ledger, view)
    march = scores.score(volunteer, "2026-03")
    assert march is not None
    assert (march.policy_version, terms(march)) == (1, ("20.00", "22.50", "17.00", "7.50", "0.00", "67.00"))

    v2 = {
        **DEFAULT_PARAMETERS[SCORING],
        "expected_contacts_per_elder": 1, "weight_service": 50, "weight_satisfaction": 20, "penalty_per_bad_visit": 10,
    }  # fmt: skip
    ledger.adopt_policy(SCORING, version=2, parameters=v2, effective_from=date(2026, 3, 1), by=COORDINATOR)
    caught_up(ledger, view)

    feb, march = scores.score(volunteer, "2026-02"), scores.score(volunteer, "2026-03")
    assert feb is not None and march is not None
    assert (feb.policy_version, terms(feb), feb.grade) == (
        1,
        ("30.00", "25.20", "17.00", "7.50", "5.00", "74.70"),
        "pass",
    )
    # March, same inputs, version 2: 50 × min(1, 2/2) + 20 × (3 + 12)/(1 + 3)/5 + 17 + 7.50.
    assert march.score.inputs == ScoreInputs(2, 2, (3,), (Decimal(80), Decimal(90)), Decimal(6), 0)
    assert (march.policy_version, terms(march), march.grade) == (
        2,
        ("50.00", "15.00", "17.00", "7.50", "0.00", "89.50"),
        "good",
    )
    assert march.explanation[0] == "service 50 × min(1, 2/2) = 50.00"
    assert march.explanation[-1].endswith("(policy version 2)")
    assert march.sources.policy == positions(ledger, "tiexin.policy.Adopted", policy_id(SCORING))[1]
    assert scores.ranking("2026-03").policy_version == 2
    assert scores.ranking("2026-02").policy_version == 1


def test_a_withdrawn_evaluation_and_a_visit_amended_into_another_month_change_the_scores(
    ledger: Ledger, open_view: OpenView, clock: Clock
) -> None:
    case = february(ledger)
    volunteer = case.pair.volunteer_id
    clock.advance(days=19)
    view = open_view()
    scores = caught_up(ledger, view)

    ledger.withdraw_evaluation(case.evaluations[0], reason="scored the wrong month", by=EVALUATOR)
    caught_up(ledger, view)
    feb = scores.score(volunteer, "2026-02")
    assert feb is not None
    assert feb.score.inputs.evaluation_means == (Decimal(90),)
    assert (terms(feb), feb.grade) == (("30.00", "25.20", "18.00", "7.50", "5.00", "75.70"), "good")
    [withdrawn] = positions(ledger, "tiexin.evaluation.Withdrawn", case.evaluations[0])
    assert (feb.sources.last, feb.sources.count) == (withdrawn, 15)  # the withdrawal took something away

    moved = case.visits[1]  # 10 February, rated 4 → 3 March
    start = datetime(2026, 3, 3, 1, 0, tzinfo=UTC)
    ledger.amend_visit(
        moved, changes={"started_at": start, "ended_at": start + timedelta(minutes=45)}, reason_code="wrong_time",
        by=COORDINATOR,
    )  # fmt: skip
    caught_up(ledger, view, page_size=1)
    [amended] = positions(ledger, "tiexin.visit.Amended", moved)
    feb, march = scores.score(volunteer, "2026-02"), scores.score(volunteer, "2026-03")
    assert feb is not None and march is not None
    assert feb.score.inputs == ScoreInputs(2, 2, (5,), (Decimal(90),), Decimal(6), 1)
    assert (terms(feb), feb.grade) == (("20.00", "25.50", "18.00", "7.50", "5.00", "66.00"), "pass")
    assert march.score.inputs == ScoreInputs(1, 2, (4,), (Decimal(90),), Decimal(6), 0)
    assert (terms(march), march.grade) == (("10.00", "24.00", "18.00", "7.50", "0.00", "59.50"), "fail")
    # February lost the visit's record and rating and gained the amendment that moved it out;
    # March has the visit's three events, the pairings, both evaluations and the withdrawal, trainings.
    assert (feb.sources.last, feb.sources.count) == (amended, 14)
    assert (march.sources.last, march.sources.count) == (amended, 3 + 2 + 3 + 2)


# Rankings ---------------------------------------------------------------------------------


def test_rankings_order_by_total_share_ties_and_filter_by_township(ledger: Ledger, open_view: OpenView) -> None:
    pairs = [make_pair(ledger, n) for n in (1, 2, 3)] + [make_pair(ledger, 4, township="涟城镇")]
    for pair, contacts in zip(pairs, (2, 1, 1, 0), strict=True):
        for n in range(contacts):
            visit_at(ledger, pair, FEB + timedelta(days=7 * n))
    scores = caught_up(ledger, open_view())
    # No evaluations: the other terms are scaled by 100/80. One elder each: 2 contacts expected.
    best, tied, last = pairs[0].volunteer_id, sorted(p.volunteer_id for p in pairs[1:3]), pairs[3].volunteer_id

    township = scores.ranking("2026-02", "高沟镇")
    assert [(r.rank, r.entry.volunteer_id, str(r.entry.total)) for r in township.entries] == [
        (1, best, "80.00"),
        (2, tied[0], "55.00"),
        (2, tied[1], "55.00"),
    ]
    assert {r.entry.township for r in township.entries} == {"高沟镇"}
    assert (township.policy_version, township.view_position) == (1, event_count(ledger))

    county = scores.ranking("2026-02")
    assert [(r.rank, r.entry.volunteer_id) for r in county.entries] == [
        (1, best), (2, tied[0]), (2, tied[1]), (None, last)
    ]  # fmt: skip
    # No visit and no evaluation in February: not rated (its terms alone would make 30.00, a fail), listed last.
    idle = county.entries[3].entry
    assert (idle.township, idle.grade, idle.score.grade_zh, str(idle.total)) == (
        "涟城镇",
        "not_rated",
        "未评定（无服务）",
        "30.00",
    )
    assert idle.explanation[-1].startswith("not rated 未评定（无服务）: no visit and no evaluation this month")
    assert scores.ranking("2026-02", county=LIANSHUI).entries == county.entries
    assert scores.ranking("2026-02", county="elsewhere").entries == ()
    nobody = scores.ranking("2026-02", "唐集镇")
    assert (nobody.entries, nobody.policy_version, nobody.view_position) == ((), 1, event_count(ledger))
    assert scores.ranking("2025-11").entries == ()  # before anyone was recruited or paired


# A demo county ----------------------------------------------------------------------------

DEMO_MONTHS = [f"{y}-{m:02d}" for y, m in [(2024, 10), (2024, 11), (2024, 12), *((2025, m) for m in range(1, 13))]]
YEAR = [f"2025-{m:02d}" for m in range(1, 13)]


@dataclass
class Demo:
    """A demo county with a view kept up live while it was written and one rebuilt afterwards."""

    url: str
    ledger: Ledger
    live: ScoresProjection
    rebuilt: ScoresProjection
    rebuild_seconds: float
    log: list[tuple[str, Any]] = field(default_factory=list)


def build_demo(url: str) -> Iterator[Demo]:
    live_view = open_scores_view(url, "scores_live")
    live = ScoresProjection(live_view)
    runner: list[Runner[ScoresWriter]] = []
    ledgers: list[Ledger] = []

    def follow(done: int, total: int) -> None:
        """After every 9th county-day: the live view catches up with what the demo saved so far."""
        if done % 9 and done != total:
            return
        if not runner:
            ledgers.append(open_ledger(url, master_key=MASTER_KEY))
            runner.append(Runner(ledgers[0], live, page_size=97))
        runner[0].run_once()
        assert runner[0].state.failure is None

    run_demo(url, seed=1, progress=follow, master_key=MASTER_KEY)
    ledger = ledgers[0]
    runner[0].run_once()
    rebuilt = ScoresProjection(open_scores_view(url, "scores_rebuilt"))
    started = time.perf_counter()
    Runner(ledger, rebuilt).run_once()
    seconds = time.perf_counter() - started
    demo = Demo(url, ledger, live, rebuilt, seconds)
    start = 1
    while page := ledger.recorder.select_notifications(start=start, limit=5000):
        demo.log.extend((n.topic, ledger.mapper.to_domain_event(n)) for n in page)
        start = page[-1].id + 1
    try:
        yield demo
    finally:
        live_view.close()
        rebuilt.scores.close()
        ledger.close()


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if request.param == "sqlite":
        yield from build_demo(f"sqlite:///{tmp_path_factory.mktemp('scores')}/tiexin.db")
    else:
        with fresh_postgres_schema("t_scores") as url:
            yield from build_demo(url)


def test_a_view_rebuilt_from_zero_equals_the_one_kept_up_live(demo: Demo) -> None:
    head = event_count(demo.ledger)
    assert demo.live.scores.position(demo.ledger.name) == demo.rebuilt.scores.position(demo.ledger.name) == head
    live, rebuilt = demo.live.scores.rows(), demo.rebuilt.scores.rows()
    assert rebuilt == live
    assert len(live["visits"]) == Counter(t for t, _ in demo.log)["tiexin.visit.Recorded"]
    for month in DEMO_MONTHS:
        assert demo.rebuilt.ranking(month) == demo.live.ranking(month)


def test_every_volunteer_of_the_demo_has_a_score_every_month(demo: Demo) -> None:
    recruited = {e.originator_id for t, e in demo.log if t == "tiexin.volunteer.Recruited"}
    assert len(recruited) == 60
    for month in DEMO_MONTHS:
        ranking = demo.rebuilt.ranking(month, county=LIANSHUI)
        assert {r.entry.volunteer_id for r in ranking.entries} == recruited, month
        assert ranking.policy_version == 1
        if month in YEAR:  # the programme's year: everyone paired, everyone visiting
            assert all(r.entry.score.inputs.paired_elders > 0 for r in ranking.entries)
            assert all(r.entry.score.inputs.contacts_done > 0 for r in ranking.entries)


def test_the_demo_scores_rest_on_a_recount_of_the_log(demo: Demo) -> None:
    """Count each volunteer-month's inputs straight from the decoded log, independently of the view."""
    visits: dict[UUID, dict[str, Any]] = {}
    pairings: dict[UUID, dict[str, Any]] = {}
    evaluations: dict[UUID, Any] = {}
    trainings: list[Any] = []
    for topic, e in demo.log:
        name = topic.rsplit(".", 1)[-1]
        if topic == "tiexin.visit.Recorded":
            visits[e.originator_id] = {"v": e.volunteer_id, "month": month_of(county_date(e.started_at)), "bad": ""}
        elif topic.startswith("tiexin.visit.") and name in ("Disputed", "Voided", "Confirmed"):
            # The visit's status: a confirmation settles a dispute; nothing follows a void.
            visits[e.originator_id]["bad"] = "" if name == "Confirmed" else name
        elif topic == "tiexin.visit.FeedbackGiven":
            visits[e.originator_id]["rating"] = e.rating
        elif topic == "tiexin.visit.Amended" and "started_at" in e.changes:
            visits[e.originator_id]["month"] = month_of(county_date(e.changes["started_at"]))
        elif topic == "tiexin.pairing.Formed":
            pairings[e.originator_id] = {"v": e.volunteer_id, "elder": e.elder_id, "from": e.from_date, "to": None}
        elif topic == "tiexin.pairing.Ended":
            pairings[e.originator_id]["to"] = e.on
        elif topic == "tiexin.evaluation.Submitted":
            evaluations[e.originator_id] = e
        elif topic == "tiexin.evaluation.Withdrawn":
            del evaluations[e.originator_id]
        elif topic == "tiexin.volunteer.TrainingCompleted":
            trainings.append(e)

    expected: dict[tuple[UUID, str], list[Any]] = defaultdict(lambda: [0, [], 0, set(), 0, Decimal(0)])
    for visit in visits.values():
        counts = expected[visit["v"], visit["month"]]
        if visit["bad"] != "Voided":
            counts[0] += 1
            if "rating" in visit:
                counts[1].append(visit["rating"])
        counts[2] += bool(visit["bad"])
    for month in YEAR:
        first, last = first_day(month), last_day(month)
        for p in pairings.values():
            if p["from"] <= last and (p["to"] is None or p["to"] >= first):
                expected[p["v"], month][3].add(p["elder"])
        for e in evaluations.values():
            if month in months_of_period(e.period):
                expected[e.volunteer_id, month][4] += 1
        for t in trainings:
            if t.on.year == first.year and t.on <= last:
                expected[t.originator_id, month][5] += t.hours

    bad = 0
    for month in YEAR:
        for ranked in demo.rebuilt.ranking(month).entries:
            i = ranked.entry.score.inputs
            want = expected[ranked.entry.volunteer_id, month]
            got = [i.contacts_done, sorted(i.ratings), i.bad_visits, i.paired_elders, len(i.evaluation_means)]
            assert got == [want[0], sorted(want[1]), want[2], len(want[3]), want[4]], (ranked.entry.volunteer_id, month)
            assert i.training_hours == want[5]
            assert len(ranked.entry.sources.penalties) == i.bad_visits
            bad += i.bad_visits
    disputes = Counter(t for t, _ in demo.log)
    assert 0 < bad <= disputes["tiexin.visit.Disputed"] + disputes["tiexin.visit.Voided"]


def test_the_demo_rankings_are_ordered_within_each_township(demo: Demo) -> None:
    month = "2025-06"
    county = demo.rebuilt.ranking(month)
    by_township: dict[str, list[VolunteerScore]] = defaultdict(list)
    for ranked in county.entries:
        by_township[ranked.entry.township].append(ranked.entry)
    assert len(by_township) > 1
    for township, entries in by_township.items():
        ranking = demo.rebuilt.ranking(month, township)
        assert [r.entry for r in ranking.entries] == entries  # the county's order, restricted
        totals = [r.entry.total for r in ranking.entries]
        assert totals == sorted(totals, reverse=True)
        assert ranking.entries[0].rank == 1
        for before, after in zip(ranking.entries, ranking.entries[1:], strict=False):
            assert after.rank == (
                before.rank if after.entry.total == before.entry.total else ranking.entries.index(after) + 1
            )
