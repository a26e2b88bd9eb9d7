"""Where the scores read model keeps its inputs: its tables on SQLite and PostgreSQL, and the reads
a month's scores are computed from (what the rows mean: :mod:`projections.scores`).

The tables hold **inputs, not scores**: who the volunteers are, the scoring policy versions, the
pairings, trainings and evaluations as they stand, and one row per visit with its current month,
status and rating. Every row keeps the log positions it came from. They are written a page at a
time by :class:`projections.scores_writer.ScoresWriter`.

Both stores share one schema and one set of statements, written once with ``?`` placeholders and
``{table}`` names and rendered for each store (:meth:`ScoresView.statement`). Ids, dates and
months are text (ISO: text order is date order); decimal hours are text, summed exactly in Python.
A month is read in one snapshot (SQLite: one transaction in WAL mode; PostgreSQL: REPEATABLE
READ), so its rows and the view position they reflect agree.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any, NamedTuple

from psycopg.sql import SQL, Composable, Identifier

from projections.scores_writer import ScoresWriter, VisitRow, visit_row
from projections.views import PagedView, PostgresView, SQLiteView

TABLES = ("volunteers", "policies", "pairings", "trainings", "evaluations", "visits", "moves")
SCHEMA = (
    "CREATE TABLE IF NOT EXISTS {volunteers} (volunteer_id TEXT PRIMARY KEY, county TEXT NOT NULL, "
    "township TEXT NOT NULL, recruited_on TEXT NOT NULL, recruited_position BIGINT NOT NULL, "
    "retired_on TEXT, retired_position BIGINT)",
    "CREATE INDEX IF NOT EXISTS {volunteers_ix} ON {volunteers} (township, county)",
    "CREATE TABLE IF NOT EXISTS {policies} (version BIGINT PRIMARY KEY, parameters TEXT NOT NULL, "
    "effective_from TEXT NOT NULL, position BIGINT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS {pairings} (pairing_id TEXT PRIMARY KEY, volunteer_id TEXT NOT NULL, "
    "elder_id TEXT NOT NULL, from_date TEXT NOT NULL, ended_on TEXT, formed_position BIGINT NOT NULL, "
    "ended_position BIGINT)",
    "CREATE INDEX IF NOT EXISTS {pairings_ix} ON {pairings} (volunteer_id)",
    "CREATE TABLE IF NOT EXISTS {trainings} (position BIGINT PRIMARY KEY, volunteer_id TEXT NOT NULL, "
    "year BIGINT NOT NULL, on_date TEXT NOT NULL, hours TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {trainings_ix} ON {trainings} (year, volunteer_id)",
    "CREATE TABLE IF NOT EXISTS {evaluations} (evaluation_id TEXT PRIMARY KEY, volunteer_id TEXT NOT NULL, "
    "period TEXT NOT NULL, criteria_sum BIGINT NOT NULL, criteria_count BIGINT NOT NULL, "
    "submitted_position BIGINT NOT NULL, withdrawn_position BIGINT)",
    "CREATE INDEX IF NOT EXISTS {evaluations_ix} ON {evaluations} (period, volunteer_id)",
    "CREATE TABLE IF NOT EXISTS {visits} (visit_id TEXT PRIMARY KEY, volunteer_id TEXT NOT NULL, "
    "month TEXT NOT NULL, status TEXT NOT NULL, bad_position BIGINT, rating BIGINT, "
    "first_position BIGINT NOT NULL, last_position BIGINT NOT NULL, events BIGINT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {visits_ix} ON {visits} (month, volunteer_id)",
    "CREATE TABLE IF NOT EXISTS {moves} (position BIGINT PRIMARY KEY, visit_id TEXT NOT NULL, "
    "volunteer_id TEXT NOT NULL, month TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS {moves_ix} ON {moves} (month, volunteer_id)",
)
"""``moves``: an amendment that moved a visit *out of* ``month`` (a removal from that month's inputs)."""

# Reading ------------------------------------------------------------------------------------


class VolunteerRow(NamedTuple):
    volunteer_id: str
    county: str
    township: str


class PolicyRow(NamedTuple):
    version: int
    parameters: str
    effective_from: str
    position: int


class PairingRow(NamedTuple):
    volunteer_id: str
    elder_id: str
    ended_on: str | None
    formed_position: int
    ended_position: int | None


class EvaluationRow(NamedTuple):
    volunteer_id: str
    criteria_sum: int
    criteria_count: int
    submitted_position: int
    withdrawn_position: int | None


class TrainingRow(NamedTuple):
    volunteer_id: str
    hours: str
    position: int


class MoveRow(NamedTuple):
    volunteer_id: str
    events: int
    first: int
    last: int


@dataclass(frozen=True)
class MonthRows:
    """Everything one month's scores are computed from, read in one snapshot of the view."""

    position: int
    policies: list[PolicyRow]
    volunteers: list[VolunteerRow]
    visits: list[VisitRow]
    moves: list[MoveRow]
    pairings: list[PairingRow]
    evaluations: list[EvaluationRow]
    trainings: list[TrainingRow]


@dataclass(frozen=True)
class Who:
    """Whose inputs to read: one volunteer, or those of a township and/or county, or everyone."""

    volunteer_id: str | None = None
    township: str | None = None
    county: str | None = None

    def clause(self) -> tuple[str, list[Any]]:
        clauses, params, among = [], [], []
        if self.volunteer_id is not None:
            clauses.append("volunteer_id = ?")
            params.append(self.volunteer_id)
        for column in ("township", "county"):
            if (value := getattr(self, column)) is not None:
                among.append(f"{column} = ?")
                params.append(value)
        if among:
            clauses.append(f"volunteer_id IN (SELECT volunteer_id FROM {{volunteers}} WHERE {' AND '.join(among)})")
        return " AND ".join(clauses) or "1 = 1", params


class ScoresView(PagedView[ScoresWriter], ABC):
    """The scores view's tables and reads, whichever store holds them."""

    @abstractmethod
    def statement(self, template: str) -> Any:
        """A statement of this module (``?`` placeholders, ``{table}`` names) for this store."""

    @abstractmethod
    def reading(self) -> AbstractContextManager[Any]:
        """A read-only transaction that sees one snapshot of the view."""

    @abstractmethod
    def load_visits(self, cursor: Any, visit_ids: list[str]) -> list[VisitRow]: ...

    @abstractmethod
    def insert_rows(
        self, cursor: Any, table: str, columns: tuple[str, ...], conflict: str, rows: list[tuple[Any, ...]]
    ) -> None:
        """Insert rows of ``columns`` into ``table`` (then ``conflict``: an ON CONFLICT clause or "")."""

    def update_rows(self, cursor: Any, template: str, rows: list[tuple[Any, ...]]) -> int:
        cursor.executemany(self.statement(template), rows)
        # The library's SQLite cursor wraps sqlite3's, which alone counts the rows changed.
        changed: int = getattr(cursor, "sqlite_cursor", cursor).rowcount
        return changed

    def make_writer(self, cursor: Any) -> ScoresWriter:
        return ScoresWriter(cursor, self)

    def month_rows(self, month: str, first: str, last: str, periods: Sequence[str], who: Who) -> MonthRows:
        """The inputs of ``month`` (first and last day, ISO; the evaluation periods covering it)."""
        where, params = who.clause()
        year = int(month[:4])
        with self.reading() as cursor:

            def select(template: str, *args: Any) -> list[Any]:
                filtered = "{who}" in template
                cursor.execute(self.statement(template.replace("{who}", where)), [*args, *(params if filtered else ())])
                return list(cursor.fetchall())

            [tracked] = select("SELECT MAX(notification_id) AS position FROM {tracking}")
            rows = MonthRows(
                position=tracked["position"] or 0,
                policies=[PolicyRow(*_values(r)) for r in select("SELECT * FROM {policies} ORDER BY version")],
                volunteers=[
                    VolunteerRow(*_values(r))
                    for r in select(
                        "SELECT volunteer_id, county, township FROM {volunteers} WHERE (recruited_on <= ? OR "
                        "volunteer_id IN (SELECT volunteer_id FROM {pairings} WHERE from_date <= ? AND "
                        "(ended_on IS NULL OR ended_on >= ?))) AND (retired_on IS NULL OR retired_on >= ?) "
                        "AND {who} ORDER BY volunteer_id",
                        last,
                        last,
                        first,
                        first,
                    )
                ],
                visits=[
                    visit_row(r)
                    for r in select("SELECT * FROM {visits} WHERE month = ? AND {who} ORDER BY first_position", month)
                ],
                moves=[
                    MoveRow(*_values(r))
                    for r in select(
                        "SELECT volunteer_id, COUNT(*) AS n, MIN(position) AS lo, MAX(position) AS hi FROM {moves} "
                        "WHERE month = ? AND {who} GROUP BY volunteer_id",
                        month,
                    )
                ],
                pairings=[
                    PairingRow(*_values(r))
                    for r in select(
                        "SELECT volunteer_id, elder_id, ended_on, formed_position, ended_position FROM {pairings} "
                        "WHERE from_date <= ? AND {who} ORDER BY formed_position",
                        last,
                    )
                ],
                evaluations=[
                    EvaluationRow(*_values(r))
                    for r in select(
                        "SELECT volunteer_id, criteria_sum, criteria_count, submitted_position, withdrawn_position "
                        f"FROM {{evaluations}} WHERE period IN ({', '.join('?' * len(periods))}) AND {{who}} "
                        "ORDER BY submitted_position",
                        *periods,
                    )
                ],
                trainings=[
                    TrainingRow(*_values(r))
                    for r in select(
                        "SELECT volunteer_id, hours, position FROM {trainings} WHERE year = ? AND on_date <= ? "
                        "AND {who} ORDER BY position",
                        year,
                        last,
                    )
                ],
            )
        return rows

    def rows(self) -> dict[str, list[tuple[Any, ...]]]:
        """The whole view, table by table in key order (to compare a rebuilt view with a live one)."""
        with self.reading() as cursor:
            dump = {}
            for table in TABLES:
                cursor.execute(self.statement(f"SELECT * FROM {{{table}}} ORDER BY 1"))
                dump[table] = [_values(r) for r in cursor.fetchall()]
        return dump


def _values(row: Any) -> tuple[Any, ...]:
    """A row's values in column order (sqlite3.Row is a sequence; PostgreSQL rows are dicts)."""
    return tuple(row.values()) if isinstance(row, dict) else tuple(row)


class SQLiteScoresView(SQLiteView[ScoresWriter], ScoresView):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._rendered: dict[str, str] = {}
        super().__init__(*args, **kwargs)

    @property
    def view_tables(self) -> tuple[str, ...]:
        return tuple(self.table(t) for t in TABLES)

    def view_statements(self) -> list[str]:
        return [self.statement(s) for s in SCHEMA]

    def writer(self, cursor: Any) -> ScoresWriter:
        return self.make_writer(cursor)

    def statement(self, template: str) -> str:
        rendered = self._rendered.get(template)
        if rendered is None:
            names = {t: self.table(t) for t in TABLES} | {f"{t}_ix": self.table(f"{t}_ix") for t in TABLES}
            rendered = self._rendered[template] = template.format(tracking="tracking", **names)
        return rendered

    @contextmanager
    def reading(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:  # BEGIN: one snapshot until the end
            yield cursor

    def insert_rows(
        self, cursor: Any, table: str, columns: tuple[str, ...], conflict: str, rows: list[tuple[Any, ...]]
    ) -> None:
        template = f"INSERT INTO {{{table}}} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))}){conflict}"
        cursor.executemany(self.statement(template), rows)  # in-process: as fast as one statement

    def load_visits(self, cursor: Any, visit_ids: list[str]) -> list[VisitRow]:
        found: list[VisitRow] = []
        for n in range(0, len(visit_ids), 500):
            chunk = visit_ids[n : n + 500]
            cursor.execute(
                self.statement(f"SELECT * FROM {{visits}} WHERE visit_id IN ({', '.join('?' * len(chunk))})"), chunk
            )
            found.extend(visit_row(r) for r in cursor.fetchall())
        return found


INTEGER_COLUMNS = frozenset(
    (
        "version", "position", "year", "criteria_sum", "criteria_count", "rating", "events", "bad_position",
        "first_position", "last_position", "recruited_position", "formed_position", "submitted_position",
    )
)  # fmt: skip
"""The BIGINT columns (the others are TEXT): PostgreSQL's arrays of a page's values need their type."""


class PostgresScoresView(PostgresView[ScoresWriter], ScoresView):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._rendered: dict[str, Composable] = {}
        super().__init__(*args, **kwargs)

    @property
    def view_tables(self) -> tuple[str, ...]:
        return TABLES

    def view_statements(self) -> list[Any]:
        return [self.statement(s) for s in SCHEMA]

    def writer(self, cursor: Any) -> ScoresWriter:
        return self.make_writer(cursor)

    def statement(self, template: str) -> Composable:
        rendered = self._rendered.get(template)
        if rendered is None:
            names: dict[str, Composable] = {t: self.table(t) for t in TABLES}
            names |= {f"{t}_ix": Identifier(f"view_{self.view_name}_{t}_ix") for t in TABLES}
            names["tracking"] = self.qualified(self.tracking_table_name)
            rendered = self._rendered[template] = SQL(template.replace("?", "%s")).format(**names)
        return rendered

    @contextmanager
    def reading(self) -> Iterator[Any]:
        with self.datastore.transaction(commit=False) as cursor:
            cursor.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")  # one snapshot for every read
            yield cursor

    def insert_rows(
        self, cursor: Any, table: str, columns: tuple[str, ...], conflict: str, rows: list[tuple[Any, ...]]
    ) -> None:
        """All the rows in one statement, a column an array: one round trip and one parse, not one a row."""
        arrays = ", ".join(f"?::{'bigint' if c in INTEGER_COLUMNS else 'text'}[]" for c in columns)
        template = f"INSERT INTO {{{table}}} ({', '.join(columns)}) SELECT * FROM unnest({arrays}){conflict}"
        cursor.execute(self.statement(template), [list(column) for column in zip(*rows, strict=True)])

    def load_visits(self, cursor: Any, visit_ids: list[str]) -> list[VisitRow]:
        cursor.execute(self.statement("SELECT * FROM {visits} WHERE visit_id = ANY(?)"), [visit_ids])
        return [visit_row(r) for r in cursor.fetchall()]
