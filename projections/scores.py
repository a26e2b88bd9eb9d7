"""The scores read model: each volunteer's score a month, its terms, policy version and sources.

**What is counted** for a volunteer and a county month (Asia/Shanghai, :func:`ledger.common.county_date`):

- *contacts done*: the volunteer's visits that **start** in the month and are not voided (an
  amendment of ``started_at`` moves a visit, with its rating and any penalty, to its new month);
  a disputed visit still counts as a contact, and is penalised;
- *paired elders*: the distinct elders of the volunteer's pairings active on **any day** of the
  month (``from_date`` ≤ its last day, not ended before its first day). Any contact needs a
  pairing active on its day, so the expectation covers exactly the elders a contact can count
  for; and ending a pairing late in a month does not take back that month's expectation (as
  "active on the last day" would);
- *ratings*: the ``FeedbackGiven`` ratings of those visits (a voided visit's rating is dropped:
  the visit did not happen as recorded);
- *evaluation means*: the mean criteria score (as :attr:`ledger.evaluations.Evaluation.mean`) of
  each live evaluation whose period covers the month (:func:`ledger.evaluations.months_of_period`),
  in submission order; a withdrawn one drops out;
- *training hours*: courses completed (by their date) in the month's calendar year up to its
  last day;
- *bad visits*: visits of the month that are voided, or disputed and not since confirmed (the
  visit's own status: a confirmation after a dispute settles it);
- the *policy*: the scoring version in force on the month's first day, from the ``Adopted``
  events of the scoring policy in the log (latest ``effective_from`` on or before that day).

Who has a score: a volunteer recruited by the month's last day (when it was recorded) or paired
on some day of the month (a pairing may be recorded after the date it runs from), and not retired
(recorded) before its first day; a suspension does not remove one. Rankings are by township
(from ``Recruited``), optionally within one county; ties share a rank (1, 2, 2, 4) and are listed
by volunteer id.

**Design: inputs are kept, scores are computed when asked.** The view's tables
(:mod:`projections.scores_sql`) hold facts as they stand (pairings as date ranges, trainings
and evaluations as rows, one row per visit with its month, status and rating), each event
written once through the page writer in the page's transaction, so exactly-once comes from the
runner's tracking. A score is computed on reading with :func:`ledger.scoring.compute_score`
under the policy version of the month, so the formula lives in one place, and a version
adopted later re-scores every month it covers without rewriting a row. Materialising instead
would fan one event out to many rows: an adoption touches every volunteer-month from its date,
a training every later month of the year, an open pairing every month to come. Reading a month
is eight small indexed queries in one snapshot (which also gives the view position the answer
reflects) and a few tens of microseconds of exact arithmetic a volunteer.

**Sources** (:class:`Sources`), kept bounded rather than listing every event: ``first``/``last``
is the range of log positions of the events the inputs were derived from, ``count`` how many
there are, ``penalties`` the position of the event that penalises each bad visit, ``policy``
the position of the adoption used. The events counted are those that added to the inputs (a
visit's ``Recorded``, its rating, a dispute, a void, an amendment of its start, a settling
confirmation; a pairing's ``Formed``; an evaluation's ``Submitted``; a training) **and** those
that took something away (a withdrawal, the end of a pairing before the month, an amendment
that moved a visit out of the month). So replaying the log up to ``last`` gives the same inputs:
nothing after ``last`` changed them, and the score as of any later position is the same under
the same policy version.
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any
from uuid import UUID

from eventsourcing.persistence import Notification

from ledger.common import first_day, last_day, parse_month
from ledger.errors import InvalidInput, RuleViolation
from ledger.scoring import Score, ScoreInputs, compute_score, explain
from projections.runner import PagedProjection
from projections.scores_events import HANDLERS
from projections.scores_sql import MonthRows, PolicyRow, PostgresScoresView, ScoresView, SQLiteScoresView, Who
from projections.scores_writer import DISPUTED, VOIDED, ScoresWriter
from projections.views import open_view


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
    rank: int
    entry: VolunteerScore


@dataclass(frozen=True)
class Ranking:
    month: str
    township: str | None
    county: str | None
    policy_version: int
    view_position: int
    entries: tuple[Ranked, ...]


# Reading: the inputs of a month, then the scores ----------------------------------------


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
    """One volunteer's inputs for the month, gathered from the rows, with their positions."""

    contacts: int = 0
    ratings: list[int] = field(default_factory=list)
    bad: list[int] = field(default_factory=list)
    elders: set[str] = field(default_factory=set)
    means: list[Decimal] = field(default_factory=list)
    hours: Decimal = Decimal(0)
    count: int = 0
    first: int | None = None
    last: int | None = None

    def fed(self, *positions: int | None, events: int | None = None) -> None:
        seen = [p for p in positions if p is not None]
        self.count += len(seen) if events is None else events
        if seen:
            low, high = min(seen), max(seen)
            self.first = low if self.first is None else min(self.first, low)
            self.last = high if self.last is None else max(self.last, high)


def tallies(rows: MonthRows, first: str) -> dict[str, Tally]:
    """Per volunteer id: the inputs of the month the rows were read for (pure)."""
    tally: dict[str, Tally] = defaultdict(Tally)
    for visit in rows.visits:
        t = tally[visit.volunteer_id]
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
            t.fed(pairing.formed_position)
        else:
            t.fed(pairing.formed_position, pairing.ended_position)
    for evaluation in rows.evaluations:
        t = tally[evaluation.volunteer_id]
        t.fed(evaluation.submitted_position, evaluation.withdrawn_position)
        if evaluation.withdrawn_position is None:
            t.means.append(Decimal(evaluation.criteria_sum) / evaluation.criteria_count)
    for training in rows.trainings:
        t = tally[training.volunteer_id]
        t.hours += Decimal(training.hours)
        t.fed(training.position)
    return tally


def scores_of(rows: MonthRows, month: str) -> list[VolunteerScore]:
    """Every volunteer's score in the rows of ``month``, in volunteer id order (pure)."""
    first, _, _ = month_span(month)
    policy = policy_for(month, rows.policies)
    parameters = json.loads(policy.parameters)
    tally = tallies(rows, first)
    scores = []
    for volunteer in rows.volunteers:
        t = tally.get(volunteer.volunteer_id) or Tally()
        inputs = ScoreInputs(
            contacts_done=t.contacts,
            paired_elders=len(t.elders),
            ratings=tuple(t.ratings),
            evaluation_means=tuple(t.means),
            training_hours=t.hours,
            bad_visits=len(t.bad),
        )
        score = compute_score(inputs, parameters, policy.version)
        sources = Sources(t.first, t.last, t.count, tuple(sorted(t.bad)), policy.position)
        scores.append(
            VolunteerScore(
                UUID(volunteer.volunteer_id),
                month,
                volunteer.county,
                volunteer.township,
                score,
                tuple(explain(score)),
                sources,
                rows.position,
            )
        )
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
    """The month's scores, best first, of a township's volunteers (or all), optionally of one county."""
    rows, scores = read_month(view, month, Who(township=township, county=county))
    entries = sorted(scores, key=rank_key)
    ranked, rank = [], 0
    for n, entry in enumerate(entries, start=1):
        if n == 1 or entry.total != entries[n - 2].total:
            rank = n
        ranked.append(Ranked(rank, entry))
    version = policy_for(month, rows.policies).version
    return Ranking(month, township, county, version, rows.position, tuple(ranked))


def rank_key(entry: VolunteerScore) -> tuple[Decimal, str]:
    return -entry.total, str(entry.volunteer_id)


class ScoresProjection(PagedProjection[ScoresWriter]):
    """Keeps the inputs of every volunteer's monthly score; scores are computed on reading."""

    name = "scores"
    topics = tuple(HANDLERS)

    def __init__(self, view: ScoresView) -> None:
        super().__init__(view)
        self.scores = view

    def apply(self, writer: ScoresWriter, event: Any, notification: Notification) -> None:
        handler = HANDLERS.get(notification.topic)
        if handler is not None:
            handler(writer, event, notification.id)

    def score(self, volunteer_id: UUID, month: str) -> VolunteerScore | None:
        return score(self.scores, volunteer_id, month)

    def ranking(self, month: str, township: str | None = None, *, county: str | None = None) -> Ranking:
        return ranking(self.scores, month, township, county=county)


def open_scores_view(url: str, name: str = ScoresProjection.name) -> ScoresView:
    """The scores view of the ledger at ``url`` (a SQLite file beside it, or tables in its schema)."""
    view: ScoresView = open_view(url, name, SQLiteScoresView, PostgresScoresView)
    return view


def open_projection(url: str) -> ScoresProjection:
    """The registry's entry point (:mod:`projections.registry`): the projection on its view at ``url``."""
    return ScoresProjection(open_scores_view(url))


__all__ = [
    "Ranked",
    "Ranking",
    "ScoresProjection",
    "ScoresView",
    "Sources",
    "VolunteerScore",
    "open_projection",
    "open_scores_view",
    "ranking",
    "score",
]
