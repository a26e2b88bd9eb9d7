"""How the audit's files write money, dates and headers: yuan exactly from fen, both languages."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from api.claim_sheet import money
from api.export import BUNDLE_PARTS, Cell, csv_value, yuan, yuan_value


def test_fen_are_written_as_yuan_with_two_decimals() -> None:
    assert [yuan(f) for f in (0, 5, 100, 1200, 123456, -5, -1200)] == [
        "0.00", "0.05", "1.00", "12.00", "1234.56", "-0.05", "-12.00",
    ]  # fmt: skip
    assert [money(f) for f in (1200, 0, -5)] == ["¥12.00", "¥0.00", "-¥0.05"]


@given(st.integers(min_value=-(10**12), max_value=10**12))
def test_yuan_are_the_fen_divided_by_a_hundred_exactly(fen: int) -> None:
    assert Decimal(yuan(fen)) == yuan_value(fen) == Decimal(fen) / 100
    assert yuan_value(fen) * 100 == fen


def test_a_csv_cell_writes_yuan_as_text_days_as_iso_and_keeps_formulas_inert() -> None:
    assert csv_value(Cell.YUAN, 1050) == "10.50"
    assert csv_value(Cell.DAY, date(2025, 3, 4)) == "2025-03-04"
    assert csv_value(Cell.TEXT, "=HYPERLINK(1)") == "'=HYPERLINK(1)"
    assert csv_value(Cell.NUMBER, None) == ""


def test_every_column_is_headed_in_chinese_and_english_and_every_sum_in_fen_and_yuan() -> None:
    for part in BUNDLE_PARTS:
        headers = [c.header for c in part.columns]
        assert len(set(headers)) == len(headers), part.name
        for column in part.columns:
            zh, en = column.header.split(" / ")
            assert zh and en and en.isascii() and not zh.isascii(), column
        fen = [c.en.removesuffix(" (fen)") for c in part.columns if c.en.endswith("(fen)")]
        assert fen == [c.en.removesuffix(" (yuan)") for c in part.columns if c.cell is Cell.YUAN], part.name
