"""The scores read model's handlers: each event it follows → the facts it gives :class:`ScoresWriter`.

One handler per ledger event class (:data:`HANDLERS`, whose topics are also the runner's filter,
so the rest of the log is never read). A handler checks what it copies, so an event it cannot
make sense of stops the projection with a reason instead of writing a wrong row. The fact's log
position is the event's notification id.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal

from eventsourcing.persistence import Notification

from ledger.common import county_date, month_of
from ledger.evaluations import Evaluation
from ledger.pairings import Pairing
from ledger.policies import Policy, PolicyKind, check_parameters, policy_id
from ledger.visits import Visit
from ledger.volunteers import Volunteer
from projections.runner import Handlers
from projections.scores.writer import Fact, ScoresWriter


def _day(value: object, name: str) -> str:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{name} {value!r} is not a calendar date")
    return value.isoformat()


def _month_of_start(started_at: object) -> str:
    if not isinstance(started_at, datetime):
        raise ValueError(f"started_at {started_at!r} is not a date-time")
    return month_of(county_date(started_at))


# Volunteers ---------------------------------------------------------------------------------------


def recruited(w: ScoresWriter, e: Volunteer.Recruited, n: Notification) -> None:
    w.recruited(str(e.originator_id), str(e.county), str(e.township), county_date(e.timestamp).isoformat(), n.id)


def retired(w: ScoresWriter, e: Volunteer.Retired, n: Notification) -> None:
    w.retired(str(e.originator_id), county_date(e.timestamp).isoformat(), n.id)


def trained(w: ScoresWriter, e: Volunteer.TrainingCompleted, n: Notification) -> None:
    hours = e.hours
    if not isinstance(hours, Decimal) or not hours.is_finite() or hours < 0:
        raise ValueError(f"training hours {hours!r} are not a non-negative decimal")
    w.trained(str(e.originator_id), e.on.year, _day(e.on, "on"), str(hours), n.id)


# Pairings, evaluations, the scoring policy ----------------------------------------------------------


def formed(w: ScoresWriter, e: Pairing.Formed, n: Notification) -> None:
    w.formed(str(e.originator_id), str(e.volunteer_id), str(e.elder_id), _day(e.from_date, "from_date"), n.id)


def ended(w: ScoresWriter, e: Pairing.Ended, n: Notification) -> None:
    w.ended(str(e.originator_id), _day(e.on, "on"), n.id)


def submitted(w: ScoresWriter, e: Evaluation.Submitted, n: Notification) -> None:
    criteria = e.criteria
    if not isinstance(criteria, dict) or not criteria:
        raise ValueError("an evaluation without criteria scores")
    scores = list(criteria.values())
    if any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= 100 for s in scores):
        raise ValueError(f"criteria scores {scores!r} are not whole numbers from 0 to 100")
    if any(not isinstance(name, str) for name in criteria):
        raise ValueError(f"criteria names {list(criteria)!r} are not all text")
    w.submitted(str(e.originator_id), str(e.volunteer_id), str(e.period), dict(criteria), n.id)


def withdrawn(w: ScoresWriter, e: Evaluation.Withdrawn, n: Notification) -> None:
    w.withdrawn(str(e.originator_id), n.id)


def adopted(w: ScoresWriter, e: Policy.Adopted, n: Notification) -> None:
    if e.originator_id != policy_id(PolicyKind.SCORING):
        return  # a subsidy policy version
    check_parameters(PolicyKind.SCORING, e.parameters, stored=True)
    w.adopted(e.version, json.dumps(e.parameters, sort_keys=True), _day(e.effective_from, "effective_from"), n.id)


# Visits: facts replayed over the page's visit rows by the writer -----------------------------------


def visit_recorded(w: ScoresWriter, e: Visit.Recorded, n: Notification) -> None:
    w.visit(Fact.RECORDED, str(e.originator_id), n.id, (str(e.volunteer_id), _month_of_start(e.started_at)))


def visit_confirmed(w: ScoresWriter, e: Visit.Confirmed, n: Notification) -> None:
    w.visit(Fact.CONFIRMED, str(e.originator_id), n.id)


def visit_disputed(w: ScoresWriter, e: Visit.Disputed, n: Notification) -> None:
    w.visit(Fact.DISPUTED, str(e.originator_id), n.id)


def visit_voided(w: ScoresWriter, e: Visit.Voided, n: Notification) -> None:
    w.visit(Fact.VOIDED, str(e.originator_id), n.id)


def visit_rated(w: ScoresWriter, e: Visit.FeedbackGiven, n: Notification) -> None:
    if isinstance(e.rating, bool) or not isinstance(e.rating, int) or not 1 <= e.rating <= 5:
        raise ValueError(f"rating {e.rating!r} is not a whole number from 1 to 5")
    w.visit(Fact.RATED, str(e.originator_id), n.id, e.rating)


def visit_amended(w: ScoresWriter, e: Visit.Amended, n: Notification) -> None:
    if "started_at" in e.changes:
        w.visit(Fact.MOVED, str(e.originator_id), n.id, _month_of_start(e.changes["started_at"]))


HANDLERS = Handlers[ScoresWriter](
    {
        Volunteer.Recruited: recruited,
        Volunteer.Retired: retired,
        Volunteer.TrainingCompleted: trained,
        Pairing.Formed: formed,
        Pairing.Ended: ended,
        Evaluation.Submitted: submitted,
        Evaluation.Withdrawn: withdrawn,
        Policy.Adopted: adopted,
        Visit.Recorded: visit_recorded,
        Visit.Confirmed: visit_confirmed,
        Visit.Disputed: visit_disputed,
        Visit.Voided: visit_voided,
        Visit.FeedbackGiven: visit_rated,
        Visit.Amended: visit_amended,
    }
)
