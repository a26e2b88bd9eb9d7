"""The desk read model: the lists people work from (visits, claims, evaluations, trainings), and the
county's gift bags and trainings by township and month and its contacts of a month by township and
kind (the reports, :meth:`DeskView.gift_bags`, :meth:`DeskView.contacts`).

A volunteer finds the visits they may claim, a finance officer the claims waiting for approval, a
coordinator a month's visits of a township or an elder, an evaluator the evaluations of a period.
Each list is filtered in the store by indexed columns and paged newest first by log position
(:mod:`projections.desk.tables`), so a page costs one indexed query however long the log is.

- :mod:`~projections.desk.tables`: the tables and their statements;
- :mod:`~projections.desk.handlers`: each event → the change to its row;
- here: the view's queries and the projection.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from ledger.visits import VisitStatus
from projections.desk import tables
from projections.desk.handlers import HANDLERS, ORDER
from projections.runner import PagedProjection
from projections.storage import Answer, BatchWriter, Kind, PagedView, open_view
from projections.storage.types import Cursor

R = TypeVar("R")
VOIDED = str(VisitStatus.VOIDED)


@dataclass(frozen=True)
class VisitRow:
    visit_id: UUID
    pairing_id: UUID
    volunteer_id: UUID
    elder_id: UUID
    township: str
    month: str
    kind: str
    status: str
    started_at: datetime
    ended_at: datetime
    gift_bag: bool
    claim_id: UUID | None
    """The live claim that holds the visit (None: not claimed, or its claim was rejected or reversed)."""
    position: int


@dataclass(frozen=True)
class ClaimRow:
    claim_id: UUID
    volunteer_id: UUID
    county: str
    month: str
    status: str
    submitted_by: str
    approved_by: str | None
    transport_fen: int
    communication_fen: int
    visits: int
    submitted_at: datetime
    position: int
    status_position: int


@dataclass(frozen=True)
class EvaluationRow:
    evaluation_id: UUID
    volunteer_id: UUID
    period: str
    evaluator_id: str
    criteria: dict[str, int]
    withdrawn: bool
    submitted_at: datetime
    position: int


@dataclass(frozen=True)
class TrainingRow:
    position: int
    volunteer_id: UUID
    course: str
    hours: Decimal
    on_day: date


@dataclass(frozen=True)
class GiftBagCount:
    """Gift bags handed out in a township in a month: the visits that handed one over, not voided."""

    township: str
    month: str
    bags: int


@dataclass(frozen=True)
class ContactCount:
    """Contacts of one kind in a township in a month: the visits of that kind there, not voided."""

    township: str
    kind: str
    contacts: int


@dataclass(frozen=True)
class TrainingDone:
    """A course a volunteer of the county completed, with the volunteer's township."""

    township: str
    volunteer_id: UUID
    hours: Decimal
    on_day: date


@dataclass(frozen=True)
class Filter:
    """One ``column op ?`` condition; a None value is no condition."""

    column: str
    value: Any
    kind: Kind = Kind.TEXT
    op: str = "="


class DeskView(PagedView[BatchWriter]):
    """What the desk answers, whichever store holds it."""

    tables = tables.TABLES

    def writer(self, cursor: Cursor) -> BatchWriter:
        return BatchWriter(cursor, self.dialect, tables.WRITES, ORDER, tables.EXACT)

    def visits(
        self,
        *,
        volunteer_id: UUID | None = None,
        elder_id: UUID | None = None,
        township: str | None = None,
        month: str | None = None,
        kind: str | None = None,
        status: str | None = None,
        claimed: bool | None = None,
        category: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> Answer[VisitRow]:
        """Visits, newest recorded first; ``claimed``: held by a live claim or not; ``category``: of elders of
        that category (:class:`~ledger.elders.ElderCategory`); ``before``: positions below."""
        held = {True: " AND claim_id IS NOT NULL", False: " AND claim_id IS NULL", None: ""}[claimed]
        filters = [
            Filter("volunteer_id", volunteer_id, Kind.UUID), Filter("elder_id", elder_id, Kind.UUID),
            Filter("township", township), Filter("month", month), Filter("kind", kind), Filter("status", status),
        ]  # fmt: skip
        statement, params = self._filtered(tables.SELECT_VISITS + held, filters)
        if category is not None:
            statement, params = statement + tables.OF_CATEGORY, [*params, category]
        return self._page(VisitRow, statement, params, before, limit)

    def claims(
        self,
        *,
        volunteer_id: UUID | None = None,
        month: str | None = None,
        status: str | None = None,
        county: str | None = None,
        not_submitted_by: str | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> Answer[ClaimRow]:
        """Claims, newest first; ``not_submitted_by``: those another principal may approve (maker–checker)."""
        filters = [
            Filter("volunteer_id", volunteer_id, Kind.UUID), Filter("month", month), Filter("status", status),
            Filter("county", county), Filter("submitted_by", not_submitted_by, op="<>"),
        ]  # fmt: skip
        return self._list(ClaimRow, tables.SELECT_CLAIMS, filters, before, limit)

    def evaluations(
        self,
        *,
        volunteer_id: UUID | None = None,
        period: str | None = None,
        evaluator_id: str | None = None,
        withdrawn: bool | None = None,
        before: int | None = None,
        limit: int = 50,
    ) -> Answer[EvaluationRow]:
        """Evaluations, newest first; ``period``: one month (``2026-03``) or a prefix of one (``2026``)."""
        filters = [
            Filter("volunteer_id", volunteer_id, Kind.UUID), Filter("evaluator_id", evaluator_id),
            Filter("withdrawn", withdrawn, Kind.FLAG),
            Filter("period", None if period is None else f"{period}%", op="LIKE"),
        ]  # fmt: skip
        return self._list(EvaluationRow, tables.SELECT_EVALUATIONS, filters, before, limit)

    def trainings(self, volunteer_id: UUID, *, before: int | None = None, limit: int = 50) -> Answer[TrainingRow]:
        """A volunteer's completed trainings, newest first."""
        statement, params = tables.SELECT_TRAININGS, [self.dialect.encode(Kind.UUID, volunteer_id)]
        return self._page(TrainingRow, statement, params, before, limit)

    def gift_bags(self, county: str, year: int) -> Answer[GiftBagCount]:
        """The county's gift bags of a calendar year by township (where the visit took place) and month."""
        d = self.dialect
        params = [county, f"{year:04d}-01", f"{year:04d}-12", d.encode(Kind.FLAG, True), VOIDED]
        position, [rows] = self.read((tables.GIFT_BAGS, params))
        found = (GiftBagCount(r["township"], r["month"], int(r["bags"])) for r in rows)
        return Answer(position, tuple(sorted(found, key=lambda c: (c.township, c.month))))

    def contacts(self, county: str, month: str) -> Answer[ContactCount]:
        """The county's contacts of a month (its volunteers' visits that started in it and are not voided, as
        the roster's last contact and the score's contacts count them) by township (where the visit took
        place) and kind."""
        position, [rows] = self.read((tables.CONTACTS, [county, month, VOIDED]))
        found = (ContactCount(r["township"], r["kind"], int(r["contacts"])) for r in rows)
        return Answer(position, tuple(sorted(found, key=lambda c: (c.township, c.kind))))

    def trainings_of_county(self, county: str, year: int) -> Answer[TrainingDone]:
        """The courses the county's volunteers completed in a calendar year, with each one's township."""
        d = self.dialect
        first, last = d.encode(Kind.DAY, date(year, 1, 1)), d.encode(Kind.DAY, date(year, 12, 31))
        position, [rows] = self.read((tables.TRAININGS_OF_COUNTY, [county, first, last]))
        found = (TrainingDone(**d.decode_row(r, tables.KINDS)) for r in rows)
        return Answer(position, tuple(sorted(found, key=lambda t: (t.township, t.on_day, str(t.volunteer_id)))))

    def _list(self, row: type[R], statement: str, filters: list[Filter], before: int | None, limit: int) -> Answer[R]:
        statement, params = self._filtered(statement, filters)
        return self._page(row, statement, params, before, limit)

    def _filtered(self, statement: str, filters: list[Filter]) -> tuple[str, list[Any]]:
        """``statement`` with `` AND column op ?`` for each filter given a value, and those values."""
        params: list[Any] = []
        for f in filters:
            if f.value is not None:
                statement += f" AND {f.column} {f.op} ?"
                params.append(self.dialect.encode(f.kind, f.value))
        return statement, params

    def _page(self, row: type[R], statement: str, params: list[Any], before: int | None, limit: int) -> Answer[R]:
        if before is not None:
            statement, params = statement + tables.BEFORE, [*params, before]
        position, [rows] = self.read((statement + tables.NEWEST_FIRST, [*params, limit]))
        return Answer(position, tuple(row(**self.dialect.decode_row(r, tables.KINDS)) for r in rows))


class DeskProjection(PagedProjection[BatchWriter]):
    """Projects visits, claims, evaluations and trainings into :class:`DeskView` rows."""

    name = "desk"
    handlers = HANDLERS

    def __init__(self, view: DeskView) -> None:
        super().__init__(view)
        self.desk = view


def open_desk_view(url: str, name: str = DeskProjection.name) -> DeskView:
    """The desk view of the ledger at ``url`` (a SQLite file beside it, or tables in its schema)."""
    return open_view(url, name, DeskView)


def open_projection(url: str) -> DeskProjection:
    """The registry's entry point (:mod:`projections.registry`): the projection on its view at ``url``."""
    return DeskProjection(open_desk_view(url))


__all__ = [
    "ClaimRow",
    "ContactCount",
    "DeskProjection",
    "DeskView",
    "EvaluationRow",
    "GiftBagCount",
    "TrainingDone",
    "TrainingRow",
    "VisitRow",
    "open_desk_view",
    "open_projection",
]
