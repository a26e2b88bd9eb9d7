"""The pure parts of the roster on the storage layer: its statements on each store, how values cross
into SQLite and back, filters, and its writer and paging run on an in-memory SQLite database."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID, uuid4

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.common import COUNTY_TZ
from ledger.volunteers import VolunteerStatus
from projections.roster import PairingKey, RosterWriter, pairing_key
from projections.roster import tables as t
from projections.roster.rows import PairingRow
from projections.roster.view import filters
from projections.storage import Kind, PostgresDialect, SQLiteDialect

SQLITE = SQLiteDialect("roster", t.TABLES)
POSTGRES = PostgresDialect("roster", t.TABLES, "tiexin")

instants = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.sampled_from([UTC, COUNTY_TZ])
)


# Values ---------------------------------------------------------------------------------------


@given(instants, instants)
def test_sqlite_text_of_instants_sorts_as_the_instants_do(a: datetime, b: datetime) -> None:
    assert (SQLITE.encode(Kind.INSTANT, a) < SQLITE.encode(Kind.INSTANT, b)) == (a < b)
    # as UTC: a local time in a gap (Shanghai skipped 1942-01-31 00:00–01:00) equals nothing in another zone
    assert SQLITE.decode(Kind.INSTANT, SQLITE.encode(Kind.INSTANT, a)) == a.astimezone(UTC)


def test_a_local_time_in_a_daylight_saving_gap_is_kept_as_the_instant_its_offset_names() -> None:
    skipped = datetime(1942, 1, 31, 0, 0, tzinfo=COUNTY_TZ)
    assert SQLITE.encode(Kind.INSTANT, skipped) == "1942-01-30T16:00:00.000000+00:00"
    assert SQLITE.decode(Kind.INSTANT, SQLITE.encode(Kind.INSTANT, skipped)) == skipped.astimezone(UTC)


def test_values_come_back_as_they_went_in() -> None:
    ident, day = uuid4(), date(2026, 2, 2)
    row = {
        "visit_id": SQLITE.encode(Kind.UUID, ident),
        "on": SQLITE.encode(Kind.DAY, day),
        "pulse": SQLITE.encode(Kind.NUMBER, Decimal("6.80")),
        "n": SQLITE.encode(Kind.NUMBER, None),
    }
    kinds = {"visit_id": Kind.UUID, "on": Kind.DAY, "pulse": Kind.NUMBER, "n": Kind.NUMBER}
    assert SQLITE.decode_row(row, kinds) == {"visit_id": ident, "on": day, "pulse": Decimal("6.80"), "n": None}
    assert json.loads(SQLITE.keys(Kind.UUID, [ident])) == [str(ident)]
    assert POSTGRES.keys(Kind.UUID, [ident]) == [ident]
    with pytest.raises(ValueError, match="timezone-aware"):
        SQLITE.encode(Kind.INSTANT, datetime(2026, 2, 2))


def test_the_roster_answers_decode_every_id_date_and_instant_they_hold() -> None:
    assert {c for c, k in t.KINDS.items() if k is Kind.UUID} == {
        "elder_id", "volunteer_id", "pairing_id", "last_visit_id",
    }  # fmt: skip
    assert {c for c, k in t.KINDS.items() if k is Kind.DAY} == {
        "departed_on", "from_date", "ended_on", "elder_departed_on",
    }  # fmt: skip
    assert {c for c, k in t.KINDS.items() if k is Kind.INSTANT} == {"last_contact_at"}


def test_filters_name_only_the_values_given() -> None:
    assert filters("e", county=None, township="高沟镇") == (" AND e.township = ?", ["高沟镇"])
    assert filters("e", county=None) == ("", [])


# Statements on each store -----------------------------------------------------------------------


def test_the_keyset_compares_text_by_code_point_on_both_stores() -> None:
    assert SQLITE.render(t.PAIRINGS_AFTER) == (
        " AND (e.county , e.township , p.grp , p.elder_id, p.pairing_id) > (?, ?, ?, ?, ?)"
    )
    assert POSTGRES.render(t.PAIRINGS_AFTER).as_string(None) == (
        ' AND (e.county COLLATE "C", e.township COLLATE "C", p.grp COLLATE "C", p.elder_id, p.pairing_id) '
        "> (%s, %s, %s, %s, %s)"
    )
    assert POSTGRES.render(t.PAIRINGS_ORDERED).as_string(None) == (
        ' ORDER BY e.county COLLATE "C", e.township COLLATE "C", p.grp COLLATE "C", p.elder_id, p.pairing_id'
    )


def test_the_last_contact_takes_the_touched_visits_as_one_parameter_on_both_stores() -> None:
    sqlite = SQLITE.render(t.LAST_CONTACT)
    assert sqlite.startswith("UPDATE view_roster_elders AS e SET")
    assert sqlite.endswith("FROM view_roster_visits WHERE visit_id IN (SELECT value FROM json_each(?)))")
    postgres = POSTGRES.render(t.LAST_CONTACT).as_string(None)
    assert postgres.startswith('UPDATE "tiexin"."view_roster_elders" AS e SET')
    assert postgres.endswith('FROM "tiexin"."view_roster_visits" WHERE visit_id = ANY(%s))')


def test_the_tables_keep_their_column_types_and_index_names(db: Cursor) -> None:
    types = {
        table.suffix: {r["name"]: r["type"] for r in db.fetch(f"PRAGMA table_info(view_roster_{table.suffix})")}
        for table in t.TABLES
    }
    assert types["elders"] == {
        "elder_id": "TEXT", "county": "TEXT", "township": "TEXT", "category": "TEXT", "departed_on": "TEXT",
        "departure_kind": "TEXT", "last_contact_at": "TEXT", "last_visit_id": "TEXT",
    }  # fmt: skip
    assert types["visits"]["voided"] == "BOOLEAN"
    indexes = {r["name"] for r in db.fetch("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {"view_roster_pairings_by_elder", "view_roster_pairings_by_volunteer", "view_roster_visits_by_elder"} <= (
        indexes
    )
    without_rowid = db.fetch("SELECT name FROM sqlite_master WHERE type = 'table' AND sql LIKE '%WITHOUT ROWID'")
    assert {r["name"] for r in without_rowid} == {f"view_roster_{table.suffix}" for table in t.TABLES}
    postgres = [s.as_string(None).rstrip() for s in POSTGRES.create(t.VISITS)]
    assert postgres[0] == (
        'CREATE TABLE IF NOT EXISTS "tiexin"."view_roster_visits" (visit_id uuid NOT NULL, elder_id uuid NOT NULL, '
        "volunteer_id uuid NOT NULL, started_at timestamptz NOT NULL, voided boolean NOT NULL, "
        "PRIMARY KEY (visit_id))"
    )
    assert postgres[1] == (
        'CREATE INDEX IF NOT EXISTS "view_roster_visits_by_elder" ON "tiexin"."view_roster_visits" '
        "(elder_id, started_at)"
    )


# The writer, on SQLite in memory ------------------------------------------------------------------


class Cursor:
    """The library's SQLite cursor as a view uses it (sqlite3's, wrapped); it keeps what was sent."""

    def __init__(self) -> None:
        connection = sqlite3.connect(":memory:")
        connection.row_factory = sqlite3.Row
        self.sqlite_cursor = connection.cursor()
        self.sent: list[tuple[str, list[tuple[Any, ...]]]] = []
        for table in t.TABLES:
            for statement in SQLITE.create(table):
                self.sqlite_cursor.execute(statement)

    def execute(self, statement: str, params: Sequence[Any] = ()) -> None:
        self.sent.append((statement, [tuple(params)]))
        self.sqlite_cursor.execute(statement, params)

    def executemany(self, statement: str, rows: Iterable[tuple[Any, ...]]) -> None:
        self.sent.append((statement, list(rows)))
        self.sqlite_cursor.executemany(statement, self.sent[-1][1])

    def fetch(self, template: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return list(self.sqlite_cursor.execute(SQLITE.render(template), params).fetchall())


@pytest.fixture
def db() -> Cursor:
    return Cursor()


def uid(value: UUID) -> str:
    return str(SQLITE.encode(Kind.UUID, value))


def test_a_writer_sends_each_statements_rows_at_once_in_its_fixed_order(db: Cursor) -> None:
    elder = uuid4()
    writer = RosterWriter(db, SQLITE)
    writer.add("relocate", "涟城镇", uid(elder))  # added first, sent after the insert it needs
    writer.add("register", uid(elder), "LS", "高沟镇", "retired_cadre")
    writer.add("relocate", "高沟镇", uid(elder))
    writer.flush()
    assert db.sent == [
        (SQLITE.render(t.WRITES["register"]), [(uid(elder), "LS", "高沟镇", "retired_cadre")]),
        (SQLITE.render(t.WRITES["relocate"]), [("涟城镇", uid(elder)), ("高沟镇", uid(elder))]),
    ]
    writer.flush()
    assert len(db.sent) == 2
    assert [r["township"] for r in db.fetch("SELECT township FROM {elders}")] == ["高沟镇"]


@pytest.mark.parametrize("statement", t.EXACT)
def test_an_update_of_a_row_the_view_does_not_have_refuses_the_page(db: Cursor, statement: str) -> None:
    writer = RosterWriter(db, SQLITE)
    writer.add(statement, *([None] * (t.WRITES[statement].count("?") - 1)), uid(uuid4()))
    with pytest.raises(ValueError, match=f"{statement}: 1 of its rows are not in the view"):
        writer.flush()


def record(writer: RosterWriter, visit: UUID, elder: UUID, at: datetime) -> None:
    writer.add("record", uid(visit), uid(elder), uid(uuid4()), SQLITE.encode(Kind.INSTANT, at))
    writer.touch(visit)


def test_a_page_ends_by_recomputing_the_last_contact_of_the_elders_it_touched(db: Cursor) -> None:
    elder, other, early, late, elsewhere = (uuid4() for _ in range(5))
    feb = datetime(2026, 2, 2, 1, tzinfo=UTC)
    writer = RosterWriter(db, SQLITE)
    writer.add("register", uid(elder), "LS", "高沟镇", "retired_cadre")
    writer.add("register", uid(other), "LS", "高沟镇", "retired_cadre")
    record(writer, early, elder, feb)
    record(writer, late, elder, feb.replace(day=20))
    record(writer, elsewhere, other, feb)
    writer.add("void", uid(late))  # in the same page: the void wins, as it would event by event
    writer.flush()
    assert db.sent[-1][1] == [(SQLITE.keys(Kind.UUID, {early, late, elsewhere}),)]
    assert not writer.touched

    def last_contacts() -> dict[UUID, tuple[datetime | None, UUID | None]]:
        rows = [SQLITE.decode_row(r, t.KINDS) for r in db.fetch(t.ELDERS_OF)]
        return {r["elder_id"]: (r["last_contact_at"], r["last_visit_id"]) for r in rows}

    assert last_contacts() == {elder: (feb, early), other: (feb, elsewhere)}
    writer.add("void", uid(early))
    writer.touch(early)
    writer.flush()
    assert last_contacts() == {elder: (None, None), other: (feb, elsewhere)}


# Keyset paging, on SQLite in memory -------------------------------------------------------------

texts = st.text(alphabet=st.sampled_from("aAbZz 1é高沟镇组𝔸😀"), max_size=3)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.tuples(texts, texts, texts), min_size=1, max_size=25), st.integers(min_value=1, max_value=7))
def test_the_roster_pages_in_its_own_query_in_the_order_python_compares_its_keys(
    places: list[tuple[str, str, str]], limit: int
) -> None:
    db = Cursor()
    writer = RosterWriter(db, SQLITE)
    for county, township, group in places:
        elder, volunteer = uuid4(), uuid4()
        writer.add("register", uid(elder), county, township, "retired_cadre")
        writer.add("recruit", uid(volunteer), county, township, VolunteerStatus.ACTIVE)
        writer.add("form", uid(uuid4()), uid(volunteer), uid(elder), group, SQLITE.encode(Kind.DAY, date(2026, 2, 2)))
    writer.flush()

    def page(after: PairingKey | None) -> list[PairingRow]:
        template, params = t.PAIRINGS_OF, []
        if after is not None:
            *text, elder, pairing = after
            template, params = template + t.PAIRINGS_AFTER, [*text, uid(elder), uid(pairing)]
        rows = db.fetch(template + t.PAIRINGS_ORDERED + " LIMIT ?", [*params, limit])
        return [PairingRow(**SQLITE.decode_row(r, t.KINDS)) for r in rows]

    walked: list[PairingRow] = []
    after: PairingKey | None = None
    while found := page(after):
        walked.extend(found)
        after = pairing_key(found[-1])
    as_text = [(c, tw, g, str(e), str(p)) for c, tw, g, e, p in map(pairing_key, walked)]
    assert as_text == sorted(as_text)
    assert len(walked) == len(places)
