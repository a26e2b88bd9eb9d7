"""The write side's contract with the read side: every event class the ledger can record, and its topic.

Read models and the API name these classes, never topic strings: ``topic_of(Visit.Recorded)`` is the
text the store holds for it (``get_topic`` answers the class's ``TOPIC``, which each aggregate
declares so that moving or renaming a Python class never orphans stored events).

The classes are discovered from the aggregates, so a new ``@event`` method is in the contract at
once; a new aggregate takes one line in :data:`AGGREGATES`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from eventsourcing.domain import Aggregate, CanInitAggregate, CanMutateAggregate
from eventsourcing.utils import get_topic

from ledger.audit_samples import AuditSample
from ledger.budgets import Budget
from ledger.certificates import Certificate, CertificateRegister
from ledger.claims import Claim, ClaimedVisit, MonthlyAllowance
from ledger.counties import County
from ledger.elders import Elder
from ledger.evaluations import Evaluation, EvaluationSlot
from ledger.meetings import Meeting, MeetingRegister
from ledger.notices import Notice, NoticeBoard
from ledger.pairings import Caseload, Pairing
from ledger.policies import Policy
from ledger.privacy import PersonalDataRead
from ledger.visits import Visit
from ledger.volunteers import Volunteer

TOPIC_PREFIX = "tiexin."
"""Every topic of the ledger's aggregates and events starts so (the classes' ``TOPIC``)."""

AGGREGATES: tuple[type[Aggregate], ...] = (
    County,
    Elder,
    Volunteer,
    Pairing,
    Caseload,
    Visit,
    ClaimedVisit,
    MonthlyAllowance,
    Claim,
    Budget,
    Policy,
    EvaluationSlot,
    Evaluation,
    PersonalDataRead,
    Certificate,
    CertificateRegister,
    AuditSample,
    Notice,
    NoticeBoard,
    Meeting,
    MeetingRegister,
)
"""Every aggregate of the ledger, the guards (claimed visit, allowance, caseload, evaluation slot) too."""

EventClass = type[CanMutateAggregate[Any]]


def topic_of(cls: type) -> str:
    """The topic the store holds for events of ``cls`` (the library's own :func:`get_topic`)."""
    return get_topic(cls)


def is_ledger_topic(topic: str) -> bool:
    """Whether a stored topic is one of the ledger's events (not, say, a snapshot or another app's)."""
    return topic in TOPICS


def events_of(aggregate: type[Aggregate]) -> Iterator[EventClass]:
    """The event classes ``aggregate`` records, in the order the class defines them.

    Each aggregate declares a ``Created`` class only to give it a ``TOPIC``; its ``__init__`` is an
    ``@event`` with a name of its own (``Recorded``, ``Registered``, ``Opened`` …), which is the
    creation event actually recorded, so ``Created`` is left out when there is such a one. ``Event``
    is the library's abstract base.
    """
    found = [
        value
        for name, value in vars(aggregate).items()
        if name != "Event" and isinstance(value, type) and issubclass(value, CanMutateAggregate)
    ]
    creations = [cls for cls in found if issubclass(cls, CanInitAggregate)]
    for cls in found:
        if cls.__name__ == "Created" and len(creations) > 1:
            continue
        yield cls


EVENT_CLASSES: tuple[EventClass, ...] = tuple(cls for aggregate in AGGREGATES for cls in events_of(aggregate))
"""Every event class any aggregate of the ledger can record."""

TOPICS: frozenset[str] = frozenset(topic_of(cls) for cls in EVENT_CLASSES)
"""The stored topics of :data:`EVENT_CLASSES`."""
