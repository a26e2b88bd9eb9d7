"""Counties: established once by code with their townships, listed from the log."""

from __future__ import annotations

import pytest

from ledger import application
from ledger.application import Ledger
from ledger.counties import LIANSHUI, County, county_id
from ledger.errors import InvalidInput, RuleViolation
from tests.unit.conftest import ADMIN, recorded, refused


def test_establishing_a_county_records_its_code_name_and_townships(ledger: Ledger) -> None:
    with recorded(ledger) as new:
        written = ledger.establish_county("huaiyin", "淮阴区", ["王营镇", "西宋集镇"], by=ADMIN)
    event = new.one("county.Established")
    assert (event.code, event.name, event.townships) == ("huaiyin", "淮阴区", ["王营镇", "西宋集镇"])
    assert written.id == county_id("huaiyin") and written.version == 1


def test_a_code_already_established_is_refused_whatever_the_townships(ledger: Ledger) -> None:
    ledger.establish_county("huaiyin", "淮阴区", ["王营镇"], by=ADMIN)
    with refused(ledger, RuleViolation, rule="county.exists"):
        ledger.establish_county("huaiyin", "淮阴区（新）", ["渔沟镇"], by=ADMIN)
    with refused(ledger, RuleViolation, rule="county.exists"):
        ledger.establish_county(" huaiyin ", "淮阴区", ["王营镇"], by=ADMIN)  # the same code, once trimmed
    county = ledger.find(County, county_id("huaiyin"))
    assert county is not None and county.townships == ["王营镇"]


@pytest.mark.parametrize("code", ["Huaiyin", "淮阴", "huai yin", "-huaiyin", "a/b", "x" * 41, ""])
def test_a_code_that_is_not_lowercase_letters_digits_and_dashes_is_refused(ledger: Ledger, code: str) -> None:
    with refused(ledger, InvalidInput, field="code"):
        ledger.establish_county(code, "淮阴区", ["王营镇"], by=ADMIN)


def test_the_counties_are_listed_by_code_including_those_established_since_the_last_list(ledger: Ledger) -> None:
    assert [c.code for c in ledger.counties()] == [LIANSHUI]
    ledger.establish_county("huaiyin", "淮阴区", ["王营镇"], by=ADMIN)
    ledger.establish_county("county-002", "二号县", ["一镇"], by=ADMIN)
    found = ledger.counties()
    assert [c.code for c in found] == ["county-002", "huaiyin", LIANSHUI]
    assert (found[1].name, found[1].townships) == ("淮阴区", ["王营镇"])
    assert [c.code for c in ledger.counties()] == ["county-002", "huaiyin", LIANSHUI]


def test_the_list_reads_the_log_a_page_at_a_time(ledger: Ledger, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(application, "COUNTY_SCAN_PAGE", 1)
    for n in range(3):
        ledger.establish_county(f"c{n}", f"{n}号县", ["一镇"], by=ADMIN)
    assert [c.code for c in ledger.counties()] == ["c0", "c1", "c2", LIANSHUI]
