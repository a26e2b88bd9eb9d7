"""A month's scores from the scores view's rows: the inputs of each volunteer, then its score.

Pure functions of :class:`~projections.scores.view.MonthRows` (:func:`tallies`, :func:`scores_of`,
:func:`scored`: under the month's policy version or any other one), and the two questions the view
answers (:func:`score`, :func:`ranking`), each one read of the view in one snapshot. The explanation
of a score, the comparison of versions and the grade distribution (:mod:`projections.scores.explain`)
are answered from the same functions. What is counted, and why scores are computed on reading:
:mod:`projections.scores`.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from uuid import UUID

from ledger.common import first_day, last_day, parse_month
from ledger.errors import InvalidInput, RuleViolation
from ledger.scoring import Score, ScoreInputs, compute_score, evaluation_mean, explain
from projections.scores.view import EvaluationRow, MonthRows, PairingRow, PolicyRow, ScoresView, TrainingRow, Who
from projections.scores.writer import DISPUTED, VOIDED, VisitRow


@dataclass(frozen=True)
class Sources:
    """The log positions a score came from (see the module's docstring)."""

    first: int | None
    last: int | None
    count: int
    penalties: tuple[int, ...]
    policy: int


@dataclass(frozen=True)
class VolunteerScore:
    """One volunteer's score for one month, as the view knows it at ``view_position``."""

    volunteer_id: UUID
    month: str
    county: str
    township: str
    score: Score
    explanation: tuple[str, ...]
    sources: Sources
    view_position: int

    @property
    def total(self) -> Decimal:
        return self.score.total

    @property
    def grade(self) -> str:
        return self.score.grade

    @property
    def policy_version(self) -> int:
        return self.score.policy_version


@dataclass(frozen=True)
class Ranked:
    rank: int | None
    """1 is best; None for a month not rated (no activity), listed after every rated one."""
    entry: VolunteerScore


@dataclass(frozen=True)
class Ranking:
    month: str
    township: str | None
    county: str | None
    policy_version: int
    view_position: int
    entries: tuple[Ranked, ...]


# Reading: the inputs of a month, then the scores --------------------------------------------------


def month_span(month: str) -> tuple[str, str, tuple[str, str]]:
    """First and last day (ISO) and the evaluation periods that cover a month (itself, its quarter)."""
    year, mon = parse_month("month", month)
    return first_day(month).isoformat(), last_day(month).isoformat(), (month, f"{year}-Q{(mon - 1) // 3 + 1}")


def policy_for(month: str, policies: list[PolicyRow]) -> PolicyRow:
    """The scoring version in force on the month's first day (as :meth:`ledger.policies.Policy.in_force`)."""
    first = first_day(month).isoformat()
    chosen = None
    for policy in sorted(policies, key=lambda p: p.version):
        if policy.effective_from <= first:
            chosen = policy
    if chosen is None:
        raise RuleViolation("policy.none_in_force", f"no scoring policy was in force on {first} (as this view knows)")
    return chosen


@dataclass
class Tally:
    """One volunteer's inputs for the month, gathered from the rows, with their positions; and the rows that
    gave them (the month's visits, the pairings active in it, the live evaluations covering it, the trainings)."""

    contacts: int = 0
    ratings: list[int] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)
    elders: set[str] = field(default_factory=set)
    hours: Decimal = Decimal(0)
    count: int = 0
    first: int | None = None
    last: int | None = None
    visits: list[VisitRow] = field(default_factory=list)
    pairings: list[PairingRow] = field(default_factory=list)
    evaluations: list[EvaluationRow] = field(default_factory=list)
    trainings: list[TrainingRow] = field(default_factory=list)

    def inputs(self, parameters: dict[str, int]) -> ScoreInputs:
        """The score's inputs under a policy version (which weighs each evaluation's criteria)."""
        return ScoreInputs(
            contacts_done=self.contacts,
            paired_elders=len(self.elders),
            ratings=tuple(self.ratings),
            evaluation_means=tuple(mean_of(e, parameters) for e in self.evaluations),
            training_hours=self.hours,
            bad_visits=len(self.bad),
        )

    def fed(self, *positions: int | None, events: int | None = None) -> None:
        seen = [p for p in positions if p is not None]
        self.count += len(seen) if events is None else events
        if seen:
            low, high = min(seen), max(seen)
            self.first = low if self.first is None else min(self.first, low)
            self.last = high if self.last is None else max(self.last, high)


def mean_of(evaluation: EvaluationRow, parameters: dict[str, int]) -> Decimal:
    """An evaluation's mean criteria score under a version (:func:`ledger.scoring.evaluation_mean`)."""
    if evaluation.criteria is None:
        return Decimal(evaluation.criteria_sum) / evaluation.criteria_count
    criteria = json.loads(evaluation.criteria)
    if not isinstance(criteria, dict):
        raise ValueError(f"evaluation {evaluation.evaluation_id}: its criteria are not an object")
    return evaluation_mean(criteria, parameters)


def tallies(rows: MonthRows, first: str) -> dict[str, Tally]:
    """Per volunteer id: the inputs of the month the rows were read for (pure)."""
    tally: dict[str, Tally] = defaultdict(Tally)
    for visit in rows.visits:
        t = tally[visit.volunteer_id]
        t.visits.append(visit)
        t.fed(visit.first_position, visit.last_position, events=visit.events)
        if visit.status != VOIDED:
            t.contacts += 1
            if visit.rating is not None:
                t.ratings.append(visit.rating)
        if visit.status in (DISPUTED, VOIDED) and visit.bad_position is not None:
            t.bad.append(visit.bad_position)
    for move in rows.moves:
        tally[move.volunteer_id].fed(move.first, move.last, events=move.events)
    for pairing in rows.pairings:
        t = tally[pairing.volunteer_id]
        if pairing.ended_on is None or pairing.ended_on >= first:
            t.elders.add(pairing.elder_id)
            t.pairings.append(pairing)
            t.fed(pairing.formed_position)
        else:
            t.fed(pairing.formed_position, pairing.ended_position)
    for evaluation in rows.evaluations:
        t = tally[evaluation.volunteer_id]
        t.fed(evaluation.submitted_position, evaluation.withdrawn_position)
        if evaluation.withdrawn_position is None:
            t.evaluations.append(evaluation)
    for training in rows.trainings:
        t = tally[training.volunteer_id]
        t.hours += Decimal(training.hours)
        t.trainings.append(training)
        t.fed(training.position)
    return tally


def scores_of(rows: MonthRows, month: str, policy: PolicyRow | None = None) -> list[VolunteerScore]:
    """Every volunteer's score in the rows of ``month``, in volunteer id order, under the month's policy
    version or ``policy`` (pure)."""
    return [entry for entry, _ in scored(rows, month, policy)]


def scored(rows: MonthRows, month: str, policy: PolicyRow | None = None) -> list[tuple[VolunteerScore, Tally]]:
    """:func:`scores_of`, each score with the tally it was computed from."""
    first, _, _ = month_span(month)
    policy = policy or policy_for(month, rows.policies)
    parameters = json.loads(policy.parameters)
    tally = tallies(rows, first)
    scores = []
    for volunteer in rows.volunteers:
        t = tally.get(volunteer.volunteer_id) or Tally()
        score = compute_score(t.inputs(parameters), parameters, policy.version)
        sources = Sources(t.first, t.last, t.count, tuple(sorted(t.bad)), policy.position)
        entry = VolunteerScore(
            UUID(volunteer.volunteer_id),
            month,
            volunteer.county,
            volunteer.township,
            score,
            tuple(explain(score)),
            sources,
            rows.position,
        )
        scores.append((entry, t))
    return scores


def read_month(view: ScoresView, month: str, who: Who) -> tuple[MonthRows, list[VolunteerScore]]:
    first, last, periods = month_span(month)
    rows = view.month_rows(month, first, last, periods, who)
    return rows, scores_of(rows, month)


def score(view: ScoresView, volunteer_id: UUID, month: str) -> VolunteerScore | None:
    """The volunteer's score for the month; None if the view knows no such volunteer then."""
    if not isinstance(volunteer_id, UUID):
        raise InvalidInput("volunteer_id", "must be a UUID")
    _, found = read_month(view, month, Who(volunteer_id=str(volunteer_id)))
    return found[0] if found else None


def ranking(view: ScoresView, month: str, township: str | None = None, *, county: str | None = None) -> Ranking:
    """The month's scores, best first, of a township's volunteers (or all), optionally of one county;
    the months not rated (no activity) come last, with no rank."""
    rows, scores = read_month(view, month, Who(township=township, county=county))
    entries = sorted(scores, key=rank_key)
    ranked: list[Ranked] = []
    rank = 0
    for n, entry in enumerate(entries, start=1):
        if n == 1 or entry.total != entries[n - 2].total:
            rank = n
        ranked.append(Ranked(rank if entry.score.rated else None, entry))
    version = policy_for(month, rows.policies).version
    return Ranking(month, township, county, version, rows.position, tuple(ranked))


def rank_key(entry: VolunteerScore) -> tuple[bool, Decimal, str]:
    return not entry.score.rated, -entry.total, str(entry.volunteer_id)
