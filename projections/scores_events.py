"""What the scores view takes from each event: the facts of a page, given to :class:`ScoresWriter`.

One handler per topic the scores read model follows (:data:`HANDLERS`, also the runner's topic
filter, so the rest of the log is never read). A handler checks what it copies, so an event it
cannot make sense of stops the projection with a reason instead of writing a wrong row.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from ledger.common import county_date, month_of
from ledger.policies import SCORING, check_parameters, policy_id
from projections.scores_writer import DISPUTED, VOIDED, ScoresWriter


def _day(value: object, name: str) -> str:
    if not isinstance(value, date) or isinstance(value, datetime):
        raise ValueError(f"{name} {value!r} is not a calendar date")
    return value.isoformat()


def _month_of_start(started_at: object) -> str:
    if not isinstance(started_at, datetime):
        raise ValueError(f"started_at {started_at!r} is not a date-time")
    return month_of(county_date(started_at))


def _recruited(w: ScoresWriter, e: Any, p: int) -> None:
    w.recruited(str(e.originator_id), str(e.county), str(e.township), county_date(e.timestamp).isoformat(), p)


def _retired(w: ScoresWriter, e: Any, p: int) -> None:
    w.retired(str(e.originator_id), county_date(e.timestamp).isoformat(), p)


def _trained(w: ScoresWriter, e: Any, p: int) -> None:
    hours = e.hours
    if not isinstance(hours, Decimal) or not hours.is_finite() or hours < 0:
        raise ValueError(f"training hours {hours!r} are not a non-negative decimal")
    w.trained(str(e.originator_id), e.on.year, _day(e.on, "on"), str(hours), p)


def _formed(w: ScoresWriter, e: Any, p: int) -> None:
    w.formed(str(e.originator_id), str(e.volunteer_id), str(e.elder_id), _day(e.from_date, "from_date"), p)


def _ended(w: ScoresWriter, e: Any, p: int) -> None:
    w.ended(str(e.originator_id), _day(e.on, "on"), p)


def _submitted(w: ScoresWriter, e: Any, p: int) -> None:
    criteria = e.criteria
    if not isinstance(criteria, dict) or not criteria:
        raise ValueError("an evaluation without criteria scores")
    scores = list(criteria.values())
    if any(isinstance(s, bool) or not isinstance(s, int) or not 0 <= s <= 100 for s in scores):
        raise ValueError(f"criteria scores {scores!r} are not whole numbers from 0 to 100")
    w.submitted(str(e.originator_id), str(e.volunteer_id), str(e.period), sum(scores), len(scores), p)


def _withdrawn(w: ScoresWriter, e: Any, p: int) -> None:
    w.withdrawn(str(e.originator_id), p)


def _adopted(w: ScoresWriter, e: Any, p: int) -> None:
    if e.originator_id != policy_id(SCORING):
        return  # a subsidy policy version
    check_parameters(SCORING, e.parameters)
    w.adopted(e.version, json.dumps(e.parameters, sort_keys=True), _day(e.effective_from, "effective_from"), p)


def _recorded(w: ScoresWriter, e: Any, p: int) -> None:
    w.visit("recorded", str(e.originator_id), p, (str(e.volunteer_id), _month_of_start(e.started_at)))


def _rated(w: ScoresWriter, e: Any, p: int) -> None:
    if isinstance(e.rating, bool) or not isinstance(e.rating, int) or not 1 <= e.rating <= 5:
        raise ValueError(f"rating {e.rating!r} is not a whole number from 1 to 5")
    w.visit("rated", str(e.originator_id), p, e.rating)


def _amended(w: ScoresWriter, e: Any, p: int) -> None:
    if "started_at" in e.changes:
        w.visit("moved", str(e.originator_id), p, _month_of_start(e.changes["started_at"]))


def _status(what: str) -> Any:
    def handler(w: ScoresWriter, e: Any, p: int) -> None:
        w.visit(what, str(e.originator_id), p)

    return handler


HANDLERS = {
    "tiexin.volunteer.Recruited": _recruited,
    "tiexin.volunteer.Retired": _retired,
    "tiexin.volunteer.TrainingCompleted": _trained,
    "tiexin.pairing.Formed": _formed,
    "tiexin.pairing.Ended": _ended,
    "tiexin.evaluation.Submitted": _submitted,
    "tiexin.evaluation.Withdrawn": _withdrawn,
    "tiexin.policy.Adopted": _adopted,
    "tiexin.visit.Recorded": _recorded,
    "tiexin.visit.Confirmed": _status("confirmed"),
    "tiexin.visit.Disputed": _status(DISPUTED),
    "tiexin.visit.Voided": _status(VOIDED),
    "tiexin.visit.FeedbackGiven": _rated,
    "tiexin.visit.Amended": _amended,
}
