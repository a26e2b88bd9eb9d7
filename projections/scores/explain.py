"""The evaluator's questions over the scores view: a score explained record by record, a month under
other policy versions, and the grades of a month per township.

All three are answered from the rows of one read of the view (one snapshot, whose position the
answer names) by the functions that compute every score (:func:`projections.scores.queries.scored`
and :func:`ledger.scoring.compute_score`): an explanation's terms *are* the score's, and a
comparison is the same inputs scored under each version asked. Nothing here computes a term.

**An explanation** (:func:`explanation`) lists, for each term, its value (rounded, as the score
shows it, and exact), the policy parameter that weighs it, its line of arithmetic
(:func:`ledger.scoring.explain`) and the records that produced it, each as the entity (aggregate)
whose event it is and that event's log position:

- *service*: the month's visits that count as contacts (``tiexin.visit.Recorded``: the visit's id)
  and the pairings active in the month that set what was owed (``tiexin.pairing.Formed``);
- *satisfaction*: the feedback on those visits (``tiexin.visit.FeedbackGiven``: the visit's id);
- *evaluation*: the live evaluations covering the month (``tiexin.evaluation.Submitted``), each with
  its criteria scores and its mean under the version (weighted by the version's criteria, or the
  plain mean for one scored on other criteria);
- *training*: the year's courses up to the month's end (``tiexin.volunteer.TrainingCompleted``: a
  training is an event of its volunteer, so its id is the volunteer's);
- *penalty*: the visits disputed or voided (the ``Disputed`` or ``Voided`` event that penalises each).

The exact terms, added (the penalty subtracted) and clamped to 0..100, rounded once, are the total.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from uuid import UUID

from ledger.errors import InvalidInput, NotFound
from ledger.evaluations import Evaluation
from ledger.pairings import Pairing
from ledger.policies import Criterion, evaluation_criteria
from ledger.scoring import TERM_WEIGHTS, TERMS, Grade, criteria_weights, exact_terms, reweighting
from ledger.visits import Visit
from ledger.volunteers import Volunteer
from projections.scores.queries import Tally, VolunteerScore, mean_of, month_span, policy_for, read_month, scored
from projections.scores.view import MonthRows, PolicyRow, ScoresView, Who
from projections.scores.writer import DISPUTED, VOIDED

SCALED = ("service", "satisfaction", "training")
"""The terms a month with no evaluation stretches (:func:`ledger.scoring.reweighting`)."""
MAX_VERSIONS = 10
"""The most policy versions one comparison scores a month under."""


@dataclass(frozen=True)
class Record:
    """One record that produced a term: the entity whose event it is (``id``) and the event (``topic``,
    ``position``); the other fields are those of its kind (None otherwise)."""

    kind: str
    """visit, pairing, feedback, evaluation, training or penalty."""
    id: str
    position: int | None
    topic: str
    status: str | None = None
    rating: int | None = None
    elder_id: str | None = None
    period: str | None = None
    criteria: dict[str, int] | None = None
    mean: Decimal | None = None
    weighted: bool | None = None
    on: str | None = None
    hours: Decimal | None = None


@dataclass(frozen=True)
class Term:
    name: str
    value: Decimal
    """As the score shows it (rounded once, to 2 places)."""
    exact: Fraction
    parameter: str
    """The policy parameter that weighs the term (:data:`ledger.scoring.TERM_WEIGHTS`)."""
    weight: int
    scaled: bool
    """Stretched by the re-weighting of a month with no evaluation."""
    line: str
    records: tuple[Record, ...]


@dataclass(frozen=True)
class Explanation:
    """A volunteer's month under one policy version, term by term, with the records behind each term."""

    entry: VolunteerScore
    policy: PolicyRow
    terms: tuple[Term, ...]
    scale: Fraction
    exact_total: Fraction
    """The exact terms added (the penalty subtracted) and clamped to 0..100: the total, before its one rounding."""
    verdict: str
    criteria: tuple[Criterion, ...]
    """The evaluation method of the version: the criteria it weighs."""

    @property
    def parameters(self) -> dict[str, int]:
        return dict(self.entry.score.parameters)


@dataclass(frozen=True)
class Comparison:
    """One volunteer's month scored under several policy versions (the month's own among them or not)."""

    volunteer_id: UUID
    month: str
    in_force: int
    view_position: int
    versions: tuple[Explanation, ...]
    changed: dict[str, tuple[int | None, ...]]
    """Each parameter whose value differs between the versions compared: its value in each (None: not named)."""


@dataclass(frozen=True)
class TownshipGrades:
    county: str
    township: str
    volunteers: int
    grades: dict[str, int]
    """Every grade (``not_rated`` included), with how many of the township's volunteers have it."""


@dataclass(frozen=True)
class Distribution:
    month: str
    county: str | None
    policy_version: int
    view_position: int
    townships: tuple[TownshipGrades, ...]

    @property
    def volunteers(self) -> int:
        return sum(t.volunteers for t in self.townships)


# Pure: a scored tally → its explanation -------------------------------------------------------


def explained(entry: VolunteerScore, tally: Tally, policy: PolicyRow) -> Explanation:
    """The explanation of ``entry``, scored from ``tally`` under ``policy`` (pure)."""
    score = entry.score
    parameters = score.parameters
    exact = exact_terms(score.inputs, parameters)
    scale = reweighting(score.inputs, parameters)
    lines = entry.explanation
    records = records_of(tally, parameters)
    terms = tuple(
        Term(
            name=name,
            value=getattr(score, name),
            exact=exact[name],
            parameter=TERM_WEIGHTS[name],
            weight=parameters[TERM_WEIGHTS[name]],
            scaled=scale != 1 and name in SCALED,
            line=lines[i],
            records=records[name],
        )
        for i, name in enumerate(TERMS)
    )
    added = sum((exact[name] for name in TERMS[:-1]), Fraction(0)) - exact["penalty"]
    return Explanation(
        entry=entry, policy=policy, terms=terms, scale=scale, exact_total=min(Fraction(100), max(Fraction(0), added)),
        verdict=lines[-1], criteria=evaluation_criteria(parameters),
    )  # fmt: skip


def records_of(t: Tally, parameters: dict[str, int]) -> dict[str, tuple[Record, ...]]:
    """The records behind each term (see the module's docstring), in log order."""
    contacts = [v for v in t.visits if v.status != VOIDED]
    service = [
        *(Record("visit", v.visit_id, v.first_position, Visit.Recorded.TOPIC, status=str(v.status)) for v in contacts),
        *(
            Record("pairing", p.pairing_id, p.formed_position, Pairing.Formed.TOPIC, elder_id=p.elder_id)
            for p in t.pairings
        ),
    ]
    satisfaction = [
        Record("feedback", v.visit_id, v.rated_position, Visit.FeedbackGiven.TOPIC, rating=v.rating)
        for v in contacts
        if v.rating is not None
    ]
    evaluation = []
    for e in t.evaluations:
        criteria = json.loads(e.criteria) if e.criteria is not None else None
        weighted = criteria_weights(criteria, parameters) is not None if criteria is not None else False
        evaluation.append(
            Record(
                "evaluation",
                e.evaluation_id,
                e.submitted_position,
                Evaluation.Submitted.TOPIC,
                criteria=criteria,
                mean=mean_of(e, parameters),
                weighted=weighted,
            )
        )
    training = [
        Record(
            "training",
            r.volunteer_id,
            r.position,
            Volunteer.TrainingCompleted.TOPIC,
            on=r.on_date,
            hours=Decimal(r.hours),
        )
        for r in t.trainings
    ]
    penalty = [
        Record(
            "penalty",
            v.visit_id,
            v.bad_position,
            (Visit.Disputed if v.status == DISPUTED else Visit.Voided).TOPIC,
            status=str(v.status),
        )
        for v in t.visits
        if v.status in (DISPUTED, VOIDED) and v.bad_position is not None
    ]

    def in_order(found: list[Record]) -> tuple[Record, ...]:
        return tuple(sorted(found, key=lambda r: (r.position is None, r.position or 0, r.kind, r.id)))

    return {
        "service": in_order(service),
        "satisfaction": in_order(satisfaction),
        "evaluation": in_order(evaluation),
        "training": in_order(training),
        "penalty": in_order(penalty),
    }


def changed_parameters(policies: Sequence[PolicyRow]) -> dict[str, tuple[int | None, ...]]:
    """The parameters whose values differ between ``policies``: each one's value in each (None: not named)."""
    named = [json.loads(p.parameters) for p in policies]
    keys = sorted({k for parameters in named for k in parameters})
    values = {k: tuple(parameters.get(k) for parameters in named) for k in keys}
    return {k: v for k, v in values.items() if len(set(v)) > 1}


def grades_of(scores: Sequence[VolunteerScore]) -> tuple[TownshipGrades, ...]:
    """Per (county, township), how many volunteers have each grade (pure)."""
    counted: dict[tuple[str, str], Counter[str]] = {}
    for entry in scores:
        counted.setdefault((entry.county, entry.township), Counter())[entry.grade] += 1
    return tuple(
        TownshipGrades(county, township, sum(c.values()), {str(g): c.get(g, 0) for g in Grade})
        for (county, township), c in sorted(counted.items())
    )


# Reading the view --------------------------------------------------------------------------


def explanation(view: ScoresView, volunteer_id: UUID, month: str) -> Explanation | None:
    """The volunteer's score for the month, explained; None if the view knows no such volunteer then."""
    rows = volunteer_rows(view, volunteer_id, month)
    policy = policy_for(month, rows.policies)
    found = scored(rows, month, policy)
    return explained(*found[0], policy) if found else None


def comparison(
    view: ScoresView,
    volunteer_id: UUID,
    month: str,
    versions: Sequence[int] | None = None,
    *,
    with_in_force: bool = False,
) -> Comparison | None:
    """The volunteer's month under each of ``versions`` (every version the view knows when None; and the
    month's own with ``with_in_force``), ascending, from one read of the view; None if the view knows no such
    volunteer then. A version the view does not know is NotFound."""
    rows = volunteer_rows(view, volunteer_id, month)
    known = {p.version: p for p in rows.policies}
    in_force = policy_for(month, rows.policies).version
    chosen = sorted({*(known if versions is None else versions), *((in_force,) if with_in_force else ())})
    if not 1 <= len(chosen) <= MAX_VERSIONS:
        raise InvalidInput("versions", f"compare from 1 to {MAX_VERSIONS} policy versions, not {len(chosen)}")
    for version in chosen:
        if version not in known:
            raise NotFound("scoring policy version", version)
    explanations = []
    for version in chosen:
        found = scored(rows, month, known[version])
        if not found:
            return None
        explanations.append(explained(*found[0], known[version]))
    return Comparison(
        volunteer_id=volunteer_id, month=month, in_force=in_force, view_position=rows.position,
        versions=tuple(explanations), changed=changed_parameters([known[v] for v in chosen]),
    )  # fmt: skip


def distribution(view: ScoresView, month: str, county: str | None = None) -> Distribution:
    """The month's grades per township (of one county, or all), from the month's scores."""
    rows, scores = read_month(view, month, Who(county=county))
    version = policy_for(month, rows.policies).version
    return Distribution(month, county, version, rows.position, grades_of(scores))


def volunteer_rows(view: ScoresView, volunteer_id: UUID, month: str) -> MonthRows:
    """The month's rows of one volunteer, in one snapshot."""
    if not isinstance(volunteer_id, UUID):
        raise InvalidInput("volunteer_id", "must be a UUID")
    first, last, periods = month_span(month)
    return view.month_rows(month, first, last, periods, Who(volunteer_id=str(volunteer_id)))
