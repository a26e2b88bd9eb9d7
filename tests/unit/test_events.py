"""The event contract (``ledger.events``) names every event class the ledger's aggregates record, each with
a stable topic of the ledger's own."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
from typing import Any

from eventsourcing.domain import Aggregate, CanMutateAggregate
from eventsourcing.utils import get_topic, resolve_topic

import ledger
from ledger.claims import ClaimedVisit, MonthlyAllowance
from ledger.evaluations import EvaluationSlot
from ledger.events import AGGREGATES, EVENT_CLASSES, TOPIC_PREFIX, TOPICS, is_ledger_topic, topic_of
from ledger.pairings import Caseload
from ledger.visits import Visit


def aggregates_by_walking_ledger() -> set[type[Aggregate]]:
    """Every aggregate class defined in a module of ``ledger/``, found without asking ``ledger.events``."""
    found: set[type[Aggregate]] = set()
    for module_info in pkgutil.iter_modules(ledger.__path__, "ledger."):
        if module_info.name == "ledger.__main__":
            continue  # importing it would run the command line
        module = importlib.import_module(module_info.name)
        for _, value in inspect.getmembers(module, inspect.isclass):
            if issubclass(value, Aggregate) and value is not Aggregate and value.__module__ == module.__name__:
                found.add(value)
    return found


def recorded_classes(aggregate: type[Aggregate]) -> set[Any]:
    """The events an aggregate records: its ``@event`` classes; ``Created`` only where nothing replaces it."""
    events = {
        value
        for name, value in vars(aggregate).items()
        if isinstance(value, type) and issubclass(value, CanMutateAggregate) and name not in ("Event", "Created")
    }
    return events or {aggregate.Created}


def test_the_contract_names_every_aggregate_of_the_ledger() -> None:
    assert set(AGGREGATES) == aggregates_by_walking_ledger()
    assert {ClaimedVisit, MonthlyAllowance, Caseload, EvaluationSlot} <= set(AGGREGATES)  # the guards too


def test_the_contract_names_every_event_class_the_aggregates_define() -> None:
    walked = set().union(*(recorded_classes(a) for a in aggregates_by_walking_ledger()))
    assert set(EVENT_CLASSES) == walked
    assert len(EVENT_CLASSES) == len(set(EVENT_CLASSES)) == 61  # 46 + Visit.PlaceConfirmed, AuditSample.Drawn,
    # Certificate.Issued, CertificateRegister.Opened and .Entered; Notice.Published and .Read,
    # NoticeBoard.Opened and .Posted, Meeting.Recorded, .SuggestionRaised and .SuggestionAnswered,
    # MeetingRegister.Opened and .Entered; Elder.Recategorised


def test_creation_events_are_the_ones_init_records(ledger: Any) -> None:
    """``Visit.Recorded``, not the ``Visit.Created`` placeholder, is what recording a visit stores."""
    assert Visit.Recorded in EVENT_CLASSES and Visit.Created not in EVENT_CLASSES
    stored = {n.topic for n in ledger.recorder.select_notifications(start=1, limit=10_000)}
    assert stored and stored <= TOPICS  # the default policies and the home county, as stored
    assert not any(topic.endswith(".Created") for topic in stored)


def declared_topic(cls: type) -> Any:
    """The ``TOPIC`` written in the event's own declaration: the library registers a subclass of each declared
    event class (same module and name), so the topic may sit one step up, but never on another event."""
    declaring = next((k for k in cls.__mro__ if "TOPIC" in k.__dict__), None)
    if declaring is None or (declaring.__module__, declaring.__qualname__) != (cls.__module__, cls.__qualname__):
        return None
    return declaring.__dict__["TOPIC"]


def test_every_event_class_carries_a_topic_of_the_ledger() -> None:
    for cls in EVENT_CLASSES:
        topic = declared_topic(cls)
        assert topic is not None, cls
        assert topic.startswith(TOPIC_PREFIX), cls
        assert topic_of(cls) == get_topic(cls) == topic
        assert resolve_topic(topic) is cls
    assert len(TOPICS) == len(EVENT_CLASSES)


def test_topic_of_is_the_stored_text() -> None:
    assert topic_of(Visit.Recorded) == "tiexin.visit.Recorded"
    assert topic_of(ClaimedVisit.Claimed) == "tiexin.claimed_visit.Claimed"


def test_ledger_topics_are_told_from_others() -> None:
    assert is_ledger_topic(topic_of(Visit.Voided))
    assert not is_ledger_topic("tiexin.visit")  # an aggregate's topic, not an event's
    assert not is_ledger_topic(topic_of(Visit.Created))  # never recorded
    assert not is_ledger_topic("other.app.Event")
    assert not is_ledger_topic("")
