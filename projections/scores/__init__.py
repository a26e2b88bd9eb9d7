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
by volunteer id. A month with no activity (no visit, no evaluation) is ``not_rated``
(:attr:`ledger.scoring.ScoreInputs.active`): listed after every rated one, with no rank.

**Design: inputs are kept, scores are computed when asked.** The view's tables
(:mod:`projections.scores.tables`) hold facts as they stand (pairings as date ranges, trainings
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

- :mod:`~projections.scores.tables`: the tables and their statements;
- :mod:`~projections.scores.handlers`: each event → the facts it gives the page writer;
- :mod:`~projections.scores.writer`: a page's facts → rows (visit events replayed in log order);
- :mod:`~projections.scores.view`: the view (the writer's store; a month's rows in one snapshot);
- :mod:`~projections.scores.queries`: rows → scores and rankings;
- here: the projection and how to open it.
"""

from __future__ import annotations

from uuid import UUID

from projections.runner import PagedProjection
from projections.scores.handlers import HANDLERS
from projections.scores.queries import (
    Ranked,
    Ranking,
    Sources,
    Tally,
    VolunteerScore,
    month_span,
    policy_for,
    ranking,
    read_month,
    score,
    scores_of,
    tallies,
)
from projections.scores.view import (
    EvaluationRow,
    MonthRows,
    MoveRow,
    PairingRow,
    PolicyRow,
    ScoresView,
    TrainingRow,
    VolunteerRow,
    Who,
)
from projections.scores.writer import DISPUTED, OK, VOIDED, Fact, ScoresWriter, Standing, VisitRow
from projections.storage import open_view


class ScoresProjection(PagedProjection[ScoresWriter]):
    """Keeps the inputs of every volunteer's monthly score; scores are computed on reading."""

    name = "scores"
    handlers = HANDLERS

    def __init__(self, view: ScoresView) -> None:
        super().__init__(view)
        self.scores = view

    def score(self, volunteer_id: UUID, month: str) -> VolunteerScore | None:
        return score(self.scores, volunteer_id, month)

    def ranking(self, month: str, township: str | None = None, *, county: str | None = None) -> Ranking:
        return ranking(self.scores, month, township, county=county)


def open_scores_view(url: str, name: str = ScoresProjection.name) -> ScoresView:
    """The scores view of the ledger at ``url`` (a SQLite file beside it, or tables in its schema)."""
    return open_view(url, name, ScoresView)


def open_projection(url: str) -> ScoresProjection:
    """The registry's entry point (:mod:`projections.registry`): the projection on its view at ``url``."""
    return ScoresProjection(open_scores_view(url))


__all__ = [
    "DISPUTED",
    "OK",
    "VOIDED",
    "EvaluationRow",
    "Fact",
    "MonthRows",
    "MoveRow",
    "PairingRow",
    "PolicyRow",
    "Ranked",
    "Ranking",
    "ScoresProjection",
    "ScoresView",
    "ScoresWriter",
    "Sources",
    "Standing",
    "Tally",
    "TrainingRow",
    "VisitRow",
    "VolunteerRow",
    "VolunteerScore",
    "Who",
    "month_span",
    "open_projection",
    "open_scores_view",
    "policy_for",
    "ranking",
    "read_month",
    "score",
    "scores_of",
    "tallies",
]
