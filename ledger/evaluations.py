"""Evaluations (评价): an evaluator's criteria scores for a volunteer over a period.

Rules: the criteria scored are exactly those of the evaluation method of the scoring policy
version in force on the period's first day (:class:`ledger.policies.EvaluationMethod`: fixed
names, weighted by the version), each 0–100; the evaluator is not the volunteer; at most one live
evaluation per (volunteer, period, evaluator). The latter is guarded by an :class:`EvaluationSlot` with a
deterministic id, so two racing submissions collide in the store.
"""

from __future__ import annotations

import re
from datetime import datetime
from decimal import Decimal
from typing import ClassVar
from uuid import UUID

from eventsourcing.domain import Aggregate, event

from ledger.common import Provenance, require_text, stable_id
from ledger.errors import InvalidInput, RuleViolation
from ledger.policies import EvaluationMethod
from ledger.volunteers import Volunteer

PERIOD = re.compile(r"^\d{4}-(0[1-9]|1[0-2]|Q[1-4])$")
CRITERION = re.compile(r"^[a-z][a-z0-9_]{0,39}$")


def slot_id(volunteer_id: UUID, period: str, evaluator_id: str) -> UUID:
    return stable_id("evaluation-slot", volunteer_id, period, evaluator_id)


def months_of_period(period: str) -> list[str]:
    """The months a period covers: '2026-03' → itself; '2026-Q2' → April to June."""
    year, part = period.split("-")
    if part.startswith("Q"):
        first = (int(part[1]) - 1) * 3 + 1
        return [f"{year}-{m:02d}" for m in range(first, first + 3)]
    return [period]


class EvaluationSlot(Aggregate):
    """Which evaluation, if any, is live for one (volunteer, period, evaluator)."""

    TOPIC = "tiexin.evaluation_slot"

    class Created(Aggregate.Created):
        TOPIC = "tiexin.evaluation_slot.Created"

    @staticmethod
    def create_id(volunteer_id: UUID, period: str, evaluator_id: str) -> UUID:
        return slot_id(volunteer_id, period, evaluator_id)

    class Opened(Aggregate.Created):
        TOPIC = "tiexin.evaluation_slot.Opened"
        volunteer_id: UUID
        period: str
        evaluator_id: str
        timestamp: datetime
        meta: Provenance

    @event(Opened)
    def __init__(
        self, volunteer_id: UUID, period: str, evaluator_id: str, timestamp: datetime, meta: Provenance
    ) -> None:
        self.live: str | None = None

    def check_free(self) -> None:
        if self.live is not None:
            raise RuleViolation(
                "evaluation.duplicate",
                f"evaluation {self.live} is already live for this volunteer, period and evaluator; withdraw it first",
            )

    class Taken(Aggregate.Event):
        TOPIC = "tiexin.evaluation_slot.Taken"
        evaluation_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(Taken)
    def take(self, evaluation_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.live = str(evaluation_id)

    class Freed(Aggregate.Event):
        TOPIC = "tiexin.evaluation_slot.Freed"
        evaluation_id: UUID
        timestamp: datetime
        meta: Provenance

    @event(Freed)
    def free(self, evaluation_id: UUID, timestamp: datetime, meta: Provenance) -> None:
        self.live = None


class Evaluation(Aggregate):
    TOPIC = "tiexin.evaluation"
    id: UUID

    class Created(Aggregate.Created):
        TOPIC = "tiexin.evaluation.Created"

    @classmethod
    def submit(
        cls,
        volunteer: Volunteer,
        slot: EvaluationSlot,
        *,
        period: str,
        criteria: dict[str, int],
        comment: str,
        now: datetime,
        meta: Provenance,
        id: UUID,
        method: EvaluationMethod,
    ) -> Evaluation:
        check_period(period)
        if meta.principal_id == str(volunteer.id):
            raise RuleViolation("evaluation.self", "a volunteer cannot evaluate themself")
        slot.check_free()
        evaluation = cls(  # type: ignore[call-arg]  # the library accepts id= when the class declares id
            id=id,
            volunteer_id=volunteer.id,
            period=period,
            evaluator_id=meta.principal_id,
            criteria=check_criteria(criteria, method),
            comment=require_text("comment", comment, max_length=2000, optional=True),
            timestamp=now,
            meta=meta,
        )
        slot.take(evaluation_id=evaluation.id, timestamp=now, meta=meta)
        return evaluation

    class Submitted(Aggregate.Created):
        TOPIC = "tiexin.evaluation.Submitted"
        PERSONAL: ClassVar[tuple[str, ...]] = ("comment",)
        SUBJECT: ClassVar[str | None] = "volunteer_id"
        volunteer_id: UUID
        period: str
        evaluator_id: str
        criteria: dict[str, int]
        comment: str
        timestamp: datetime
        meta: Provenance

    @event(Submitted)
    def __init__(
        self,
        volunteer_id: UUID,
        period: str,
        evaluator_id: str,
        criteria: dict[str, int],
        comment: str,
        timestamp: datetime,
        meta: Provenance,
    ) -> None:
        self.volunteer_id = volunteer_id
        self.period = period
        self.evaluator_id = evaluator_id
        self.criteria = criteria
        self.withdrawn = False

    @property
    def personal_subject(self) -> UUID:
        """Free text about it (a reason, a comment) is the volunteer's personal data."""
        return self.volunteer_id

    @property
    def mean(self) -> Decimal:
        """The plain mean of the criteria scores (what a score counts: :func:`ledger.scoring.evaluation_mean`)."""
        return Decimal(sum(self.criteria.values())) / len(self.criteria)

    def withdraw(self, slot: EvaluationSlot, *, reason: str, now: datetime, meta: Provenance) -> None:
        if self.withdrawn:
            raise RuleViolation("evaluation.withdrawn", f"evaluation {self.id} is already withdrawn")
        self._withdrawn(reason=require_text("reason", reason, max_length=2000), timestamp=now, meta=meta)
        slot.free(evaluation_id=self.id, timestamp=now, meta=meta)

    class Withdrawn(Aggregate.Event):
        TOPIC = "tiexin.evaluation.Withdrawn"
        PERSONAL: ClassVar[tuple[str, ...]] = ("reason",)
        SUBJECT: ClassVar[str | None] = None  # the evaluated volunteer (personal_subject)
        reason: str
        timestamp: datetime
        meta: Provenance

    @event(Withdrawn)
    def _withdrawn(self, reason: str, timestamp: datetime, meta: Provenance) -> None:
        self.withdrawn = True


def check_period(period: str) -> str:
    if not isinstance(period, str) or not PERIOD.match(period):
        raise InvalidInput("period", f"{period!r} is not a month (YYYY-MM) or quarter (YYYY-Qn)")
    return period


def first_month(period: str) -> str:
    """The first month of a period (whose first day picks the evaluation method in force)."""
    return months_of_period(check_period(period))[0]


def check_criteria(criteria: object, method: EvaluationMethod | None = None) -> dict[str, int]:
    """Criterion name → score 0–100; with ``method``, exactly its criteria (none unknown, none missing)."""
    if not isinstance(criteria, dict) or not criteria:
        raise InvalidInput("criteria", "give at least one criterion score")
    for name, score in criteria.items():
        if not isinstance(name, str) or not CRITERION.match(name):
            raise InvalidInput("criteria", f"{name!r} is not a criterion name (lower_case_words)")
        if isinstance(score, bool) or not isinstance(score, int) or not 0 <= score <= 100:
            raise InvalidInput(f"criteria.{name}", "must be a whole number from 0 to 100")
    if method is not None:
        unknown = [name for name in criteria if name not in method.names]
        missing = [name for name in method.names if name not in criteria]
        if unknown or missing:
            wrong = "; ".join(
                f"{what}: {', '.join(names)}" for what, names in (("unknown", unknown), ("missing", missing)) if names
            )
            raise InvalidInput(
                "criteria",
                f"score exactly the criteria of the evaluation method (scoring policy version {method.version}): "
                f"{method.describe()} ({wrong})",
            )
    return dict(criteria)
