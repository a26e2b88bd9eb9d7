"""The roster read model, on a SQLite file and on PostgreSQL.

A small county built through the service answers who serves whom, who has nobody, each
volunteer's load, each elder's last contact (through amendments and voids) and who is overdue.
A demo county (one per store, shared by the module) is kept up live in small pages while it is
built; a view rebuilt from position 0 then holds exactly the same rows, every elder but the one
the demo lets die is paired, and the last contacts match the log read back independently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from ledger.common import COUNTY_TZ, county_date
from projections.health import HealthProjection, HealthView, open_health_view
from projections.roster import RosterProjection, RosterView, open_roster_view, pairing_key
from projections.runner import Runner
from tests.builders import COORDINATOR, MASTER_KEY, event_count, make_pair, visit_at
from tests.conftest import Clock, fresh_postgres_schema
from tests.views import caught_up as run_caught_up
from tests.views import views_on
from tiexin.demo.generator import DemoSummary, run_demo

FEB = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)  # 09:00 in the county
TODAY = date(2026, 3, 1)

OpenView = Callable[..., RosterView]


@pytest.fixture
def open_view(store_url: str) -> Iterator[OpenView]:
    with views_on(store_url, open_roster_view, "roster") as opener:
        yield opener


@pytest.fixture
def ledger(store_url: str, open_store: Callable[[str], Ledger]) -> Ledger:
    return open_store(store_url)


def caught_up(ledger: Ledger, view: RosterView, page_size: int = 500) -> RosterView:
    run_caught_up(ledger, RosterProjection(view), page_size)
    return view


# A small county --------------------------------------------------------------------------------


def test_the_roster_says_who_serves_whom_who_has_nobody_and_who_is_overdue(
    ledger: Ledger, open_view: OpenView, clock: Clock
) -> None:
    kept, ended, suspended, departed = (make_pair(ledger, n) for n in range(1, 5))
    visit_at(ledger, kept, FEB)
    last = visit_at(ledger, kept, FEB + timedelta(days=18))
    visit_at(ledger, ended, FEB + timedelta(days=3))
    visit_at(ledger, departed, FEB + timedelta(days=10))
    ledger.relocate_elder(kept.elder_id, township="涟城镇", address="涟城镇新村8号", by=COORDINATOR)
    ledger.end_pairing(ended.pairing_id, on=date(2026, 2, 25), reason="elder_request", by=COORDINATOR)
    ledger.suspend_volunteer(suspended.volunteer_id, reason="on leave", by=COORDINATOR)
    ledger.record_departure(departed.elder_id, kind="moved_away", on=date(2026, 2, 27), by=COORDINATOR)
    view = caught_up(ledger, open_view(), page_size=4)
    position = event_count(ledger)

    pairings = view.pairings()
    assert pairings.position == position
    assert {p.pairing_id: (p.township, p.group, p.volunteer_status, p.elder_departed_on) for p in pairings.rows} == {
        kept.pairing_id: ("涟城镇", "高沟镇第1组", "active", None),  # the elder's township, as relocated
        suspended.pairing_id: ("高沟镇", "高沟镇第1组", "suspended", None),
        departed.pairing_id: ("高沟镇", "高沟镇第1组", "active", date(2026, 2, 27)),  # to be ended
    }
    assert [p.pairing_id for p in view.pairings(township="涟城镇").rows] == [kept.pairing_id]
    assert view.pairings(group="高沟镇第2组").rows == ()

    unpaired = view.unpaired()
    assert (unpaired.position, [(u.elder_id, u.pairings) for u in unpaired.rows]) == (
        position,
        sorted([(ended.elder_id, 0), (suspended.elder_id, 1)], key=lambda u: str(u[0])),
    )
    loads = {v.volunteer_id: (v.status, v.active_pairings) for v in view.loads().rows}
    assert loads == {
        kept.volunteer_id: ("active", 1),
        ended.volunteer_id: ("active", 0),
        suspended.volunteer_id: ("suspended", 1),
        departed.volunteer_id: ("active", 1),
    }

    [elder] = view.last_contact(kept.elder_id).rows
    assert (elder.last_contact_at, elder.last_visit_id, elder.township) == (FEB + timedelta(days=18), last, "涟城镇")
    [gone] = view.last_contact(departed.elder_id).rows
    assert (gone.departed_on, gone.departure_kind) == (date(2026, 2, 27), "moved_away")

    # No contact since 15 February (or ever); the departed elder is nobody's to visit.
    overdue = view.overdue(14, TODAY)
    assert overdue.position == position
    assert [(o.elder_id, o.days_without_contact, o.volunteer_ids) for o in overdue.rows] == [
        (suspended.elder_id, None, (suspended.volunteer_id,)),  # never contacted comes first
        (ended.elder_id, 24, ()),
    ]
    # The boundary is the start of the county's day: a contact on the cutoff day counts.
    assert {o.elder_id for o in view.overdue(0, county_date(FEB + timedelta(days=18))).rows} == {
        suspended.elder_id,
        ended.elder_id,
    }
    assert kept.elder_id in {o.elder_id for o in view.overdue(0, county_date(FEB + timedelta(days=19))).rows}
    assert view.overdue(14, TODAY, township="涟城镇").rows == ()

    # Ending the departed elder's pairing takes it off the roster; the elder is not unpaired.
    ledger.end_pairing(departed.pairing_id, on=date(2026, 2, 28), reason="elder_departed", by=COORDINATOR)
    caught_up(ledger, view)
    assert departed.pairing_id not in {p.pairing_id for p in view.pairings().rows}
    assert departed.elder_id not in {u.elder_id for u in view.unpaired().rows}
    assert view.pairings().position == event_count(ledger)


def test_the_last_contact_follows_amendments_and_voids(ledger: Ledger, open_view: OpenView, clock: Clock) -> None:
    pair = make_pair(ledger, 1)
    early = visit_at(ledger, pair, FEB)
    late = visit_at(ledger, pair, FEB + timedelta(days=18))
    view = caught_up(ledger, open_view())
    assert view.last_contact(pair.elder_id).rows[0].last_visit_id == late

    ledger.void_visit(late, reason_code="duplicate", by=COORDINATOR)
    caught_up(ledger, view)
    [elder] = view.last_contact(pair.elder_id).rows
    assert (elder.last_contact_at, elder.last_visit_id) == (FEB, early)

    moved = FEB + timedelta(days=7)
    changes = {"started_at": moved, "ended_at": moved + timedelta(minutes=45)}
    ledger.amend_visit(early, changes=changes, reason_code="wrong_time", by=COORDINATOR)
    caught_up(ledger, view)
    assert view.last_contact(pair.elder_id).rows[0].last_contact_at == moved

    # Moved back before another visit, the later one is the last contact again.
    third = visit_at(ledger, pair, FEB + timedelta(days=9))
    back = {"started_at": FEB, "ended_at": FEB + timedelta(minutes=45)}
    ledger.amend_visit(early, changes=back, reason_code="wrong_time", by=COORDINATOR)
    ledger.void_visit(third, reason_code="entered_in_error", by=COORDINATOR)
    caught_up(ledger, view)
    assert view.last_contact(pair.elder_id).rows[0].last_contact_at == FEB

    # Applied one event per page or all in one, the view ends the same.
    one_by_one = caught_up(ledger, open_view("roster_one_by_one"), page_size=1)
    all_at_once = caught_up(ledger, open_view("roster_all_at_once"))
    assert one_by_one.contents() == all_at_once.contents() == view.contents()


def test_an_update_of_an_entity_the_view_never_saw_stops_the_projection(ledger: Ledger, open_view: OpenView) -> None:
    class MissesRegistrations(RosterProjection):
        topics = tuple(t for t in RosterProjection.topics if t != "tiexin.elder.Registered")

    pair = make_pair(ledger, 1)
    ledger.relocate_elder(pair.elder_id, township="涟城镇", address="涟城镇新村8号", by=COORDINATOR)
    runner = Runner(ledger, MissesRegistrations(open_view()))
    runner.run_once()
    assert runner.state.status == "stopped"
    assert runner.state.failure is not None
    assert runner.state.failure.topic == "tiexin.elder.Relocated"
    assert "relocate" in runner.state.failure.reason


def test_an_empty_view_answers_at_position_zero(open_view: OpenView) -> None:
    view = open_view()
    assert view.pairings().position == 0
    assert view.overdue(30, TODAY).rows == ()
    with pytest.raises(ValueError, match="days"):
        view.overdue(-1, TODAY)
    with pytest.raises(ValueError, match="calendar date"):
        view.overdue(30, FEB)  # type: ignore[arg-type]


# A demo county, kept up live while it is built -------------------------------------------------


@dataclass
class Demo:
    url: str
    summary: DemoSummary
    ledger: Ledger
    roster: RosterView
    health: HealthView
    opened: list[Any] = field(default_factory=list)

    def view(self, opener: Callable[[str, str], Any], name: str) -> Any:
        view = opener(self.url, name)
        self.opened.append(view)
        return view


def build_live(url: str) -> Demo:
    """Build the demo while a roster and a health view follow it, 97 events a page, every 20 days."""
    ledger = open_ledger(url, master_key=MASTER_KEY)
    roster, health = open_roster_view(url), open_health_view(url)
    runners = [
        Runner(ledger, RosterProjection(roster), page_size=97),
        Runner(ledger, HealthProjection(health), page_size=97),
    ]

    def follow(done: int, total: int) -> None:
        if done % 20 == 0 or done == total:
            for runner in runners:
                runner.run_once()

    summary = run_demo(url, seed=1, progress=follow, master_key=MASTER_KEY)
    for runner in runners:
        runner.run_once()
        assert (runner.state.status, runner.position) == ("caught_up", event_count(ledger))
    return Demo(url, summary, ledger, roster, health, [roster, health])


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    if request.param == "sqlite":
        yield from closed_after(build_live(f"sqlite:///{tmp_path_factory.mktemp('roster')}/tiexin.db"))
    else:
        with fresh_postgres_schema("t_roster") as url:
            yield from closed_after(build_live(url))


def closed_after(built: Demo) -> Iterator[Demo]:
    try:
        yield built
    finally:
        for view in built.opened:
            view.close()
        built.ledger.close()


def rebuilt(demo: Demo, projection: type[Any], opener: Callable[[str, str], Any], name: str) -> Any:
    view = demo.view(opener, name)
    runner = Runner(demo.ledger, projection(view))
    runner.run_once()
    assert runner.state.status == "caught_up"
    return view


def test_a_roster_rebuilt_from_position_zero_equals_the_one_kept_up_live(demo: Demo) -> None:
    again = rebuilt(demo, RosterProjection, open_roster_view, "roster_rebuilt")
    assert again.contents() == demo.roster.contents()
    assert again.overdue(20, date(2025, 12, 31)) == demo.roster.overdue(20, date(2025, 12, 31))
    assert again.pairings() == demo.roster.pairings()


def test_the_health_view_rebuilt_from_position_zero_equals_the_one_kept_up_live(demo: Demo) -> None:
    again = rebuilt(demo, HealthProjection, open_health_view, "health_rebuilt")
    assert again.contents() == demo.health.contents()


def test_every_elder_of_the_demo_is_paired_but_the_one_who_died(demo: Demo) -> None:
    plants = {i.code: i.entity_ids for i in demo.summary.irregularities}
    died = demo.ledger.repository.get(plants["A04"][0]).elder_id
    reassigned_visit, old_pairing = plants["A03"]
    reassigned = demo.ledger.repository.get(reassigned_visit).elder_id

    elders = demo.roster.elders().rows
    assert len(elders) == 429
    assert [e.elder_id for e in elders if e.departed_on] == [died]
    assert demo.roster.unpaired().rows == ()
    pairings = demo.roster.pairings()
    assert pairings.position == event_count(demo.ledger)
    assert sorted(p.elder_id for p in pairings.rows) == sorted(e.elder_id for e in elders if e.elder_id != died)
    [new] = [p for p in pairings.rows if p.elder_id == reassigned]
    assert new.pairing_id != old_pairing
    assert sum(v.active_pairings for v in demo.roster.loads().rows) == 428
    assert {p.township for p in pairings.rows} <= {e.township for e in elders}


def test_the_roster_pages_in_its_own_query_in_the_order_python_compares_its_keys(demo: Demo) -> None:
    everything = demo.roster.pairings().rows
    as_text = [(c, t, g, str(e), str(p)) for c, t, g, e, p in map(pairing_key, everything)]
    assert as_text == sorted(as_text) and len({p.township for p in everything}) == 25
    walked, after = [], None
    while True:
        page = demo.roster.pairings(after=after, limit=37).rows
        walked.extend(page)
        if len(page) < 37:
            break
        after = pairing_key(page[-1])
    assert walked == list(everything)
    someone = everything[100]
    assert demo.roster.pairings(volunteer_id=someone.volunteer_id).rows == tuple(
        p for p in everything if p.volunteer_id == someone.volunteer_id
    )
    assert demo.roster.pairings(elder_id=someone.elder_id, township=someone.township).rows == (someone,)


def test_the_demo_last_contacts_and_overdue_match_the_log(demo: Demo) -> None:
    started: dict[UUID, datetime] = {}
    elder_of: dict[UUID, UUID] = {}
    for n in demo.ledger.recorder.select_notifications(
        start=1, limit=1_000_000, topics=["tiexin.visit.Recorded", "tiexin.visit.Amended", "tiexin.visit.Voided"]
    ):
        event = demo.ledger.mapper.to_domain_event(n)
        if n.topic.endswith("Recorded"):
            started[event.originator_id], elder_of[event.originator_id] = event.started_at, event.elder_id
        elif n.topic.endswith("Amended") and "started_at" in event.changes:
            started[event.originator_id] = event.changes["started_at"]
        elif n.topic.endswith("Voided"):
            del started[event.originator_id]
    last: dict[UUID, datetime] = {}
    for visit, moment in started.items():
        last[elder_of[visit]] = max(moment, last.get(elder_of[visit], moment))

    elders = demo.roster.elders().rows
    assert {e.elder_id: e.last_contact_at for e in elders} == {e.elder_id: last.get(e.elder_id) for e in elders}
    present = {e.elder_id for e in elders if e.departed_on is None}
    for days, today in ((20, date(2025, 12, 31)), (45, date(2026, 1, 31)), (61, date(2026, 1, 31))):
        cutoff = datetime.combine(today - timedelta(days=days), datetime.min.time(), tzinfo=COUNTY_TZ)
        expected = {e for e in present if e not in last or last[e] < cutoff}
        assert {o.elder_id for o in demo.roster.overdue(days, today).rows} == expected, (days, today)
    assert 0 < len(demo.roster.overdue(20, date(2025, 12, 31)).rows) < len(present)
    assert len(demo.roster.overdue(30, date(2026, 1, 31)).rows) == len(present)  # no visits in January 2026
