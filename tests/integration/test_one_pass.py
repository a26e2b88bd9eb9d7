"""One pass for all read models (projections.onepass): the log read and decoded once, each model
committing its own pages exactly once — on a SQLite file and on PostgreSQL.

The behaviours of the pass itself use history views (``history``, ``copy``, and ``broken``, which
refuses one event); the last test runs every real read model over the seed-1 demo and
compares each with the same model rebuilt alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from eventsourcing.persistence import OperationalError

from ledger.application import Ledger
from ledger.bootstrap import open_ledger
from projections import registry
from projections.history import HistoryProjection, HistoryView, open_history_view
from projections.onepass import OnePass
from projections.runner import PagedProjection, Runner
from tests.builders import MASTER_KEY, event_count, make_pair, visit_at
from tests.demo_store import seeded_demo
from tests.integration.test_projection_ops import Refuses
from tests.views import views_on

FEB = datetime(2026, 2, 2, 1, 0, tzinfo=UTC)


@pytest.fixture
def ledger(store_url: str, open_store: Callable[[str], Ledger]) -> Ledger:
    led = open_store(store_url)
    for n in range(1, 4):
        pair = make_pair(led, n)
        for day in range(3):
            visit_at(led, pair, FEB + timedelta(days=day))
    return led


@pytest.fixture
def views(store_url: str) -> Iterator[Callable[..., HistoryView]]:
    with views_on(store_url, open_history_view, "history") as opener:
        yield opener


@pytest.fixture
def passes(ledger: Ledger) -> Iterator[Callable[..., OnePass]]:
    """Makes one passes over the test's ledger, each closed (its threads ended) when the test ends."""
    made: list[OnePass] = []

    def make(runners: list[Runner[Any]], page_size: int) -> OnePass:
        made.append(OnePass(ledger, runners, page_size=page_size))
        return made[-1]

    yield make
    for one_pass in made:
        one_pass.close()


def runners_of(ledger: Ledger, *projections: PagedProjection[Any], page_size: int = 4) -> list[Runner[Any]]:
    return [Runner(ledger, projection, page_size=page_size) for projection in projections]


def test_one_pass_decodes_each_event_once_for_every_read_model(
    ledger: Ledger, views: Callable[..., HistoryView], passes: Callable[..., OnePass], monkeypatch: pytest.MonkeyPatch
) -> None:
    decoded: list[int] = []
    to_domain_event = ledger.mapper.to_domain_event

    def counting(notification: Any) -> Any:
        decoded.append(notification.id)
        return to_domain_event(notification)

    monkeypatch.setattr(ledger.mapper, "to_domain_event", counting)
    history, copy = HistoryProjection(views()), HistoryProjection(views("copy"))
    one_pass = passes(runners_of(ledger, history, copy), page_size=4)

    applied = one_pass.run_once()

    head = event_count(ledger)
    assert sorted(decoded) == list(range(1, head + 1))  # each position once, though two models took it
    assert applied == 2 * head and one_pass.applied == {"history": head, "copy": head}
    assert len(views().rows()) == head and views().rows() == views("copy").rows()
    assert all(runner.state.status == "caught_up" and runner.position == head for runner in one_pass.runners)


def test_a_model_behind_is_brought_up_and_one_ahead_gets_nothing_twice(
    ledger: Ledger, views: Callable[..., HistoryView], passes: Callable[..., OnePass], store_url: str
) -> None:
    history = HistoryProjection(views())
    Runner(ledger, history).run_once()
    caught_up_at = event_count(ledger)
    visit_at(ledger, make_pair(ledger, 9), FEB + timedelta(days=9))
    copy = HistoryProjection(views("copy"))

    one_pass = passes(runners_of(ledger, history, copy), page_size=4)
    one_pass.run_once()

    head = event_count(ledger)
    assert one_pass.applied["copy"] == head
    assert one_pass.applied["history"] == head - caught_up_at  # only what was written after it caught up
    assert views().rows() == views("copy").rows() and len(views().rows()) == head


def test_a_model_that_stops_on_an_event_leaves_the_others_applied(
    ledger: Ledger, views: Callable[..., HistoryView], passes: Callable[..., OnePass], monkeypatch: pytest.MonkeyPatch
) -> None:
    head = event_count(ledger)
    monkeypatch.setattr(Refuses, "bad", head - 5)
    broken, history = Refuses(views("broken")), HistoryProjection(views())
    one_pass = passes(runners_of(ledger, broken, history), page_size=4)

    one_pass.run_once()

    stopped, going = one_pass.runners
    assert stopped.state.status == "stopped" and stopped.state.failure is not None
    assert stopped.state.failure.position == head - 5 and stopped.position < head - 5
    assert (going.state.status, going.position, len(views().rows())) == ("caught_up", head, head)
    assert broken.paged_view.position(ledger.name) == stopped.position  # nothing past the last whole page


def test_a_model_whose_store_fails_mid_pass_is_caught_up_next_pass_exactly_once(
    ledger: Ledger, views: Callable[..., HistoryView], passes: Callable[..., OnePass], monkeypatch: pytest.MonkeyPatch
) -> None:
    history, copy = HistoryProjection(views()), HistoryProjection(views("copy"))
    one_pass = passes(runners_of(ledger, history, copy), page_size=4)
    real_page = type(copy.paged_view).page
    pages = {"copy": 0}

    def failing_third_page(self: Any, application_name: str, start: int, end: int, **kwargs: Any) -> Any:
        if self.view_name == "copy":
            pages["copy"] += 1
            if pages["copy"] == 3:
                raise OperationalError("the view's store went away")
        return real_page(self, application_name, start, end, **kwargs)

    monkeypatch.setattr(type(copy.paged_view), "page", failing_third_page)
    one_pass.run_once()

    head = event_count(ledger)
    history_runner, copy_runner = one_pass.runners
    assert (history_runner.state.status, history_runner.position) == ("caught_up", head)
    assert copy_runner.state.status == "retrying" and copy_runner.position == 8  # two pages of four

    one_pass.run_once()
    assert (copy_runner.state.status, copy_runner.position) == ("caught_up", head)
    assert views("copy").rows() == views().rows() and len(views("copy").rows()) == head


@pytest.fixture
def demo_url(store_url: str) -> str:
    seeded_demo(store_url)
    return store_url


def test_every_read_model_rebuilt_in_one_pass_equals_it_rebuilt_alone(demo_url: str) -> None:
    """The real read models over the seed-1 demo: one pass, then each alone into the same views."""
    ledger = open_ledger(demo_url, master_key=MASTER_KEY)
    names = registry.available()
    projections = {name: registry.open_projection(name, demo_url) for name in names}
    try:
        with OnePass(ledger, runners_of(ledger, *projections.values(), page_size=500), page_size=500) as one_pass:
            one_pass.rebuild()
        head = ledger.recorder.max_notification_id()
        assert {runner.name: runner.state.status for runner in one_pass.runners} == dict.fromkeys(names, "caught_up")
        together = {name: projection.paged_view.contents() for name, projection in projections.items()}
        for name, projection in projections.items():
            alone = Runner(ledger, projection, page_size=500)
            alone.rebuild()
            assert alone.position == head
            assert projection.paged_view.contents() == together[name], name
    finally:
        for projection in projections.values():
            projection.paged_view.close()
        ledger.close()


def test_each_runner_says_when_its_page_is_committed_in_a_pass(
    ledger: Ledger, views: Callable[..., HistoryView], passes: Callable[..., OnePass]
) -> None:
    """The API's waiting reads (``?after=``) are woken by it."""
    history, copy = HistoryProjection(views()), HistoryProjection(views("copy"))
    one_pass = passes(runners_of(ledger, history, copy), page_size=4)
    said: dict[str, list[int]] = {"history": [], "copy": []}
    for runner in one_pass.runners:
        runner.on_page = lambda position, head, name=runner.view.view_name: said[name].append(position)
    one_pass.run_once()
    head = event_count(ledger)
    assert said["history"] == said["copy"] == [*range(4, head, 4), head]


def test_a_page_that_reaches_the_head_says_caught_up_before_its_readers_are_woken(
    ledger: Ledger, views: Callable[..., HistoryView], passes: Callable[..., OnePass]
) -> None:
    """A read let through by ``?after=`` reports the model's state: at the head, ``caught_up``.

    Checked for the one pass and for a runner on its own; each page's hook records the state.
    """
    alone = Runner(ledger, HistoryProjection(views()), page_size=4)
    one_pass = passes(runners_of(ledger, HistoryProjection(views("copy"))), page_size=4)
    seen: dict[str, list[str]] = {"alone": [], "pass": []}
    alone.on_page = lambda position, head: seen["alone"].append(alone.state.status)
    together = one_pass.runners[0]
    together.on_page = lambda position, head: seen["pass"].append(together.state.status)
    alone.run_once()
    one_pass.run_once()
    pages = -(-event_count(ledger) // 4)
    assert seen["alone"] == seen["pass"] == ["running"] * (pages - 1) + ["caught_up"]
