"""``tiexin asof MODEL --date D``: a read model's answer as known on a day, from the log.

The same answer as the HTTP route's ``?as_of=D`` (:mod:`api.asof`), made by the same code: the
day's position cut is found by bisecting the log (:func:`projections.asof.cut_known_on`), the read
model is replayed up to it into a throwaway view, and the answer is built by the route's own
functions from it. It prints a table, or with ``--json`` the HTTP answer's body (every item on one
page). The MODELs:

- ``scores``: a month's ranking (``--month``, default the day's month; ``--township``, ``--county``);
  with ``--volunteer ID`` that volunteer's score (``GET /v1/volunteers/{id}/score``);
- ``roster``: the active pairings (``--county``, ``--township``, ``--group``, ``--volunteer``,
  ``--elder``); ``unpaired``; ``overdue`` (``--days``, counted back from the day);
- ``budget``: a year's audited budget (``--year``, default the day's; ``--county``, default the
  home county; ``GET /v1/audit/budget/{year}``); ``anomalies`` (``--code``).

Nothing is written; the views hold nothing personal, so the master key is not needed. A day after
today is refused. Today's answer is replayed too (the server answers it from the live model).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

import typer

from ledger.counties import LIANSHUI
from ledger.errors import InvalidInput
from tiexin.cli.output import console, errors, fail, one_line_errors, progress_bar
from tiexin.settings import database_url

if TYPE_CHECKING:
    from pydantic import BaseModel

MODELS = {
    "scores": "scores",
    "roster": "roster",
    "unpaired": "roster",
    "overdue": "roster",
    "budget": "audit",
    "anomalies": "audit",
}
"""Each MODEL's read model."""

Meta = Callable[[int], dict[str, Any]]


def asof(
    model: Annotated[str, typer.Argument(help=f"What to answer: {', '.join(MODELS)}.", show_default=False)],
    day: Annotated[str, typer.Option("--date", help="The county day, YYYY-MM-DD: as known at its end.")],
    county: Annotated[str | None, typer.Option("--county", help="One county's code (budget: the home county).")] = None,
    township: Annotated[str | None, typer.Option("--township", help="One township (scores, roster).")] = None,
    month: Annotated[str | None, typer.Option("--month", help="scores: the month, YYYY-MM (the day's).")] = None,
    volunteer: Annotated[str | None, typer.Option("--volunteer", help="scores: one score; roster: theirs.")] = None,
    elder: Annotated[str | None, typer.Option("--elder", help="roster: one elder's pairings.")] = None,
    group: Annotated[str | None, typer.Option("--group", help="roster: one service group's pairings.")] = None,
    days: Annotated[int, typer.Option("--days", min=0, max=3660, help="overdue: no contact for this long.")] = 30,
    year: Annotated[int | None, typer.Option("--year", help="budget: the fiscal year (the day's).")] = None,
    code: Annotated[str | None, typer.Option("--code", help="anomalies: one rule code, such as A06.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the HTTP answer's JSON body.")] = False,
) -> None:
    """Answer scores, the roster, the budget or the anomalies as known on a day (as GET …?as_of= does)."""
    from api.asof import parse_day
    from ledger.common import county_date
    from projections.asof import cut_known_on, replay
    from projections.service import open_log

    if model not in MODELS:
        fail(f"no MODEL {model!r}; choose one of {', '.join(MODELS)}")
    url = database_url()
    with one_line_errors():
        known_on = parse_day(day)
        today = county_date(datetime.now(UTC))
        if known_on > today:
            raise InvalidInput("--date", f"{known_on} is after today ({today}, the county's date)")
        ask = Ask(
            known_on, county, township, month, _uuid(volunteer, "--volunteer"), _uuid(elder, "--elder"), group,
            days, year, code,
        )  # fmt: skip
        log = open_log(url)  # the views hold nothing personal: no master key
        try:
            head = log.recorder.max_notification_id() or 0
            cut = cut_known_on(log, known_on, head=head)
            with progress_bar(f"replaying {MODELS[model]} to position {cut:,}") as advance:
                replayed = replay(url, MODELS[model], position=cut, ledger=log, on_page=advance)
        finally:
            log.close()
        try:
            meta = as_of_meta(known_on, head)
            answer = ANSWERS[model](replayed.view, meta, ask)
        finally:
            replayed.close()
    if as_json:
        typer.echo(answer.model_dump_json(indent=2))
        return
    body = json.loads(answer.model_dump_json())
    console.print(
        f"{model} as known on {known_on}: the log up to position {body['position']:,} "
        f"(of {head:,}; replayed in {replayed.seconds:.1f} s)",
        highlight=False,
    )
    show(model, body)


def as_of_meta(known_on: date, head: int) -> Meta:
    """What the HTTP answer says of itself (:meth:`api.asof.AsOfRead.meta`)."""
    from api.asof import AS_OF

    def meta(position: int) -> dict[str, Any]:
        return {
            "position": position, "lag": max(0, head - position), "projection_state": AS_OF,
            "projection_reason": None, "as_of": known_on,
        }  # fmt: skip

    return meta


def _uuid(text: str | None, option: str) -> UUID | None:
    if text is None:
        return None
    try:
        return UUID(text)
    except ValueError:
        raise InvalidInput(option, "must be an id (a UUID)") from None


@dataclass(frozen=True)
class Ask:
    """The day and the filters asked for."""

    day: date
    county: str | None
    township: str | None
    month: str | None
    volunteer: UUID | None
    elder: UUID | None
    group: str | None
    days: int
    year: int | None
    code: str | None


# The answers, by the routes' own functions ------------------------------------------------------


def scores_answer(view: Any, meta: Meta, f: Ask) -> BaseModel:
    from api.routers.scores import RankingPage, rank_key, ranked_item, score_out
    from ledger.common import month_of
    from ledger.errors import NotFound
    from projections.scores import ranking, score

    day = f.day
    month = f.month or month_of(day)
    if f.volunteer is not None:
        found = score(view, f.volunteer, month)
        if found is None:
            raise NotFound(f"score for {month} (as known on {day}) of a volunteer", f.volunteer)
        return score_out(found, meta(found.view_position))
    ranked = ranking(view, month, f.township, county=f.county)
    return RankingPage(
        items=[ranked_item(r) for r in sorted(ranked.entries, key=rank_key)], next_cursor=None, month=ranked.month,
        township=f.township, county=f.county, policy_version=ranked.policy_version, **meta(ranked.view_position),
    )  # fmt: skip


def roster_answer(view: Any, meta: Meta, f: Ask) -> BaseModel:
    from api.asof import AsOfPage
    from api.routers.roster import PairingItem

    answer = view.pairings(
        county=f.county, township=f.township, group=f.group, volunteer_id=f.volunteer, elder_id=f.elder
    )
    items = [PairingItem.model_validate(r, from_attributes=True) for r in answer.rows]
    return AsOfPage[PairingItem](items=items, next_cursor=None, **meta(answer.position))


def unpaired_answer(view: Any, meta: Meta, f: Ask) -> BaseModel:
    from api.asof import AsOfPage
    from api.routers.roster import UnpairedItem, unpaired_key

    answer = view.unpaired(county=f.county, township=f.township)
    items = [UnpairedItem.model_validate(r, from_attributes=True) for r in sorted(answer.rows, key=unpaired_key)]
    return AsOfPage[UnpairedItem](items=items, next_cursor=None, **meta(answer.position))


def overdue_answer(view: Any, meta: Meta, f: Ask) -> BaseModel:
    from api.asof import AsOfPage
    from api.routers.roster import OverdueItem, overdue_key

    answer = view.overdue(f.days, f.day, county=f.county, township=f.township)
    items = [OverdueItem.model_validate(r, from_attributes=True) for r in sorted(answer.rows, key=overdue_key)]
    return AsOfPage[OverdueItem](items=items, next_cursor=None, **meta(answer.position))


def budget_answer(view: Any, meta: Meta, f: Ask) -> BaseModel:
    from api.export import year_rows
    from api.routers.audit import audit_budget

    return audit_budget(year_rows(view, f.county or LIANSHUI, f.year or f.day.year), meta)


def anomalies_answer(view: Any, meta: Meta, f: Ask) -> BaseModel:
    from api.asof import AsOfPage
    from api.routers.audit import AnomalyOut, anomaly_key, anomaly_out

    report = view.anomalies(f.code)
    items = [anomaly_out(a) for a in sorted(report.anomalies, key=anomaly_key)]
    return AsOfPage[AnomalyOut](items=items, next_cursor=None, **meta(report.position))


ANSWERS: dict[str, Callable[[Any, Meta, Ask], BaseModel]] = {
    "scores": scores_answer,
    "roster": roster_answer,
    "unpaired": unpaired_answer,
    "overdue": overdue_answer,
    "budget": budget_answer,
    "anomalies": anomalies_answer,
}


# Tables ---------------------------------------------------------------------------------------

COLUMNS: dict[str, tuple[str, ...]] = {
    "scores": ("rank", "volunteer_id", "county", "township", "total", "grade", "grade_zh"),
    "roster": ("pairing_id", "elder_id", "volunteer_id", "township", "group", "from_date", "volunteer_status"),
    "unpaired": ("elder_id", "county", "township", "pairings", "last_contact_at"),
    "overdue": ("elder_id", "township", "last_contact_at", "days_without_contact", "volunteer_ids"),
    "anomalies": ("code", "subject", "other", "position", "description"),
    "budget": ("line", "appropriated", "committed", "paid", "available"),
}


IDS = frozenset({"volunteer_id", "elder_id", "pairing_id", "subject", "other"})


def show(model: str, body: dict[str, Any]) -> None:
    """The answer as a table (a volunteer's score: its terms and explanation)."""
    from rich.console import Console
    from rich.table import Table

    if model == "scores" and "items" not in body:
        table = Table(title=f"{body['volunteer_id']} · {body['month']}: {body['total']} {body['grade_zh']}")
        table.add_column("term")
        table.add_column("points", justify="right")
        for term, points in body["terms"].items():
            table.add_row(term, str(points))
        console.print(table)
        for line in body["explanation"]:
            console.print(f"  {line}", highlight=False)
        return
    if model == "budget":
        rows = [*body["lines"], body["total"]]
        title = f"budget {body['county']} {body['year']} (fen)"
    else:
        rows = body["items"]
        title = f"{model}: {len(rows)}"
    columns = COLUMNS[model]
    table = Table(title=title)
    for column in columns:
        if column in IDS:  # whole, on one line: to copy into a request
            table.add_column(column, no_wrap=True, min_width=36)
        else:
            table.add_column(column, justify="right" if column in COLUMNS["budget"][1:] else "left", overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(column)) for column in columns))
    wide = 40 * sum(column in IDS for column in columns) + 20 * sum(column not in IDS for column in columns)
    Console(width=max(console.width, wide), file=console.file).print(table)  # wider than a terminal: its lines wrap
    if model == "budget":
        claims = ", ".join(f"{status} {t['count']} ({t['total_fen']:,} fen)" for status, t in body["claims"].items())
        counts = ", ".join(f"{c} {n}" for c, n in sorted(body["anomaly_counts"].items()))
        console.print(f"claims: {claims or 'none'}; anomalies: {counts or 'none'}", highlight=False)
    if not rows:
        errors.print("nothing as of that day", highlight=False)


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, list):
        return " ".join(str(v) for v in value)
    if isinstance(value, int) and not isinstance(value, bool):
        return f"{value:,}"
    return str(value)
