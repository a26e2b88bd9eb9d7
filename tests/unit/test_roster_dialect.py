"""The pure parts of the roster and health views: how values cross into SQLite and back, filters."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import uuid4

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ledger.common import COUNTY_TZ
from projections.dialect import SQLITE, BatchWriter
from projections.roster import filters

instants = st.datetimes(
    min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1), timezones=st.sampled_from([UTC, COUNTY_TZ])
)


@given(instants, instants)
def test_sqlite_text_of_instants_sorts_as_the_instants_do(a: datetime, b: datetime) -> None:
    assert (SQLITE.instant(a) < SQLITE.instant(b)) == (a < b)
    # as UTC: a local time in a gap (Shanghai skipped 1942-01-31 00:00–01:00) equals nothing in another zone
    assert SQLITE.to_instant(SQLITE.instant(a)) == a.astimezone(UTC)


def test_a_local_time_in_a_daylight_saving_gap_is_kept_as_the_instant_its_offset_names() -> None:
    skipped = datetime(1942, 1, 31, 0, 0, tzinfo=COUNTY_TZ)
    assert SQLITE.instant(skipped) == "1942-01-30T16:00:00.000000+00:00"
    assert SQLITE.to_instant(SQLITE.instant(skipped)) == skipped.astimezone(UTC)


def test_values_come_back_as_they_went_in() -> None:
    ident, day = uuid4(), date(2026, 2, 2)
    row = {"visit_id": SQLITE.uid(ident), "on": SQLITE.day(day), "pulse": SQLITE.number(Decimal("6.80")), "n": None}
    kinds = {"visit_id": "uid", "on": "day", "pulse": "number", "n": "number"}
    assert SQLITE.decode(row, kinds) == {"visit_id": ident, "on": day, "pulse": Decimal("6.80"), "n": None}
    assert json.loads(SQLITE.uids([ident])) == [str(ident)]
    with pytest.raises(ValueError, match="timezone-aware"):
        SQLITE.instant(datetime(2026, 2, 2))


def test_filters_name_only_the_values_given() -> None:
    assert filters("e", county=None, township="高沟镇") == (" AND e.township = ?", ["高沟镇"])
    assert filters("e", county=None) == ("", [])


class Cursor:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[tuple[object, ...]]]] = []

    def executemany(self, statement: str, rows: list[tuple[object, ...]]) -> None:
        self.sent.append((statement, list(rows)))


def test_a_writer_sends_each_statements_rows_at_once_in_its_fixed_order() -> None:
    cursor = Cursor()
    writer = BatchWriter(cursor, SQLITE, {"insert": "I", "update": "U"}, ("insert", "update"), exact=())
    writer.add("update", 1, "a")
    writer.add("insert", "a")
    writer.add("update", 2, "a")
    writer.flush()
    assert cursor.sent == [("I", [("a",)]), ("U", [(1, "a"), (2, "a")])]
    writer.flush()
    assert len(cursor.sent) == 2
