"""The county's reports over HTTP, on a SQLite file and on PostgreSQL: health gift bags handed out
(and the items they held, by the bag's version of the month) and trainings completed, by township
and month; who may read them."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import pytest

from ledger.common import COUNTY_TZ, SYSTEM
from tests.builders import as_json, elder_fields, visit_body, volunteer_fields
from tests.conftest import Clock
from tests.harness import Harness, harness

OTHER_COUNTY = "county-002"
BAG_V2 = {"handbook": 1, "local_culture_book": 3}
"""The bag from February 2026: a handbook and three local-culture books."""


def at(month: int, day: int) -> datetime:
    return datetime(2026, month, day, 10, 0, tzinfo=COUNTY_TZ)


@dataclass
class County:
    api: Harness
    li: str
    """高沟镇: bags in January and February (and one voided), trained twice in 2026 and once in 2025."""
    wang: str
    """高沟镇: one bag in February, trained once."""
    zhang: str
    """唐集镇: one bag in February (visit in 唐集镇), trained once."""
    position: int = 0

    def get(self, path: str, who: str, expect: int = 200) -> Any:
        separator = "&" if "?" in path else "?"
        response = self.api.client.get(f"{path}{separator}after={self.position}", headers=self.api.staff.auth(who))
        assert response.status_code == expect, (path, who, response.text)
        if expect >= 400:
            assert response.headers["content-type"] == "application/problem+json"
        return response.json()


def pair(api: Harness, township: str, county: str | None = None) -> tuple[str, str]:
    """A volunteer and an elder of ``township`` (of ``county``; default: the home county), paired.

    Answers (volunteer id, pairing id)."""
    staff, n = api.staff, next(api.staff.serial)
    where = {} if county is None else {"county": county}
    volunteer = staff.post("/v1/volunteers", {**volunteer_fields(n, township), **where}, "coordinator")["id"]
    elder = staff.post("/v1/elders", {**as_json(elder_fields(n, township)), **where}, "coordinator")["id"]
    return volunteer, staff.pairing(volunteer, elder, date(2026, 1, 1))


def visit(api: Harness, volunteer: str, pairing: str, start: datetime, *, bag: bool, township: str = "高沟镇") -> str:
    body = {**visit_body(pairing, start), "township": township, "gift_bag": bag}
    return str(api.staff.post("/v1/visits", body, api.volunteer_key(volunteer))["id"])


def train(api: Harness, volunteer: str, on: str, hours: str) -> None:
    body = {"course": "老年人慢病管理", "hours": hours, "date": on}
    api.staff.post(f"/v1/volunteers/{volunteer}/trainings", body, "coordinator")


def build(api: Harness) -> County:
    staff = api.staff
    staff.post(
        "/v1/policies",
        {"kind": "gift_bag", "version": 2, "parameters": BAG_V2, "effective_from": "2026-02-01"},
        "admin",
    )
    li, li_pairing = pair(api, "高沟镇")
    visit(api, li, li_pairing, at(1, 10), bag=True)
    visit(api, li, li_pairing, at(1, 12), bag=False)
    visit(api, li, li_pairing, at(2, 3), bag=True)
    voided = visit(api, li, li_pairing, at(2, 5), bag=True)
    staff.post(f"/v1/visits/{voided}/void", {"reason_code": "duplicate"}, "coordinator")
    wang, wang_pairing = pair(api, "高沟镇")
    visit(api, wang, wang_pairing, at(2, 4), bag=True)
    zhang, zhang_pairing = pair(api, "唐集镇")
    visit(api, zhang, zhang_pairing, at(2, 6), bag=True, township="唐集镇")
    visit(api, zhang, zhang_pairing, at(2, 7), bag=False, township="唐集镇")
    train(api, li, "2025-12-10", "2")
    train(api, li, "2026-01-20", "4")
    train(api, li, "2026-02-10", "2.5")
    train(api, wang, "2026-01-25", "3")
    train(api, zhang, "2026-02-15", "1.5")
    # Another county with the same township names: none of its bags or courses are the home county's.
    api.ledger.establish_county(OTHER_COUNTY, "示范县002", ["高沟镇", "唐集镇"], by=SYSTEM)
    other, other_pairing = pair(api, "高沟镇", OTHER_COUNTY)
    visit(api, other, other_pairing, at(2, 8), bag=True)
    train(api, other, "2026-02-20", "6")
    return County(api, li, wang, zhang, api.events())


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def county(request: pytest.FixtureRequest, clock: Clock) -> Iterator[County]:
    url = str(request.getfixturevalue(f"{request.param}_url"))
    with harness(url, clock=clock, projections=True) as api:
        yield build(api)


def items(row: dict[str, Any]) -> dict[str, tuple[int, int]]:
    return {i["item"]: (i["per_bag"], i["count"]) for i in row["items"]}


def test_gift_bags_are_counted_by_township_and_month_with_the_items_of_the_month_s_bag(county: County) -> None:
    report = county.get("/v1/reports/gift-bags?year=2026", "coordinator")
    assert (report["county"], report["year"]) == ("lianshui", 2026)
    assert report["position"] >= county.position and report["lag"] == 0
    assert report["projection_state"] == "caught_up"
    rows = [(r["township"], r["month"], r["bags"], r["policy_version"], items(r)) for r in report["rows"]]
    assert rows == [
        ("高沟镇", "2026-01", 1, 1, {"handbook": (1, 1), "health_book": (1, 1), "local_culture_book": (2, 2),
                                     "other_book": (1, 1)}),
        ("高沟镇", "2026-02", 2, 2, {"handbook": (1, 2), "local_culture_book": (3, 6)}),  # the voided one is not
        ("唐集镇", "2026-02", 1, 2, {"handbook": (1, 1), "local_culture_book": (3, 3)}),
    ]  # fmt: skip
    total = report["total"]
    assert total["bags"] == 4
    assert [(i["item"], i["count"]) for i in total["items"]] == [
        ("handbook", 4), ("health_book", 1), ("local_culture_book", 11), ("other_book", 1),
    ]  # fmt: skip


def test_the_items_are_labelled_in_the_language_asked_for(county: County) -> None:
    zh = county.get("/v1/reports/gift-bags?year=2026", "auditor")
    assert [i["item_label"] for i in zh["rows"][0]["items"]] == ["健康手册", "健康书", "地方文化书", "其他书籍"]
    en = county.get("/v1/reports/gift-bags?year=2026&lang=en", "evaluator")
    assert [i["item_label"] for i in en["total"]["items"]] == [
        "health handbook", "health-care book", "local-culture book", "other book",
    ]  # fmt: skip


def test_another_county_and_another_year_have_their_own_counts(county: County) -> None:
    other = county.get(f"/v1/reports/gift-bags?year=2026&county={OTHER_COUNTY}", "coordinator")
    assert [(r["township"], r["month"], r["bags"]) for r in other["rows"]] == [("高沟镇", "2026-02", 1)]
    assert other["total"]["bags"] == 1
    empty = county.get("/v1/reports/gift-bags?year=2025", "coordinator")
    assert (empty["rows"], empty["total"]) == ([], {"bags": 0, "items": []})
    county.get("/v1/reports/gift-bags?year=2026&county=nowhere", "coordinator", expect=404)
    county.get("/v1/reports/trainings?year=2026&county=nowhere", "coordinator", expect=404)
    county.get("/v1/reports/gift-bags?year=1999", "coordinator", expect=422)
    county.get("/v1/reports/trainings", "coordinator", expect=422)


def test_trainings_are_counted_by_the_volunteers_township_and_month(county: County) -> None:
    report = county.get("/v1/reports/trainings?year=2026", "evaluator")
    assert report["county"] == "lianshui" and report["position"] >= county.position and report["lag"] == 0
    rows = [(r["township"], r["month"], r["trainings"], r["volunteers"], Decimal(r["hours"])) for r in report["rows"]]
    assert rows == [
        ("高沟镇", "2026-01", 2, 2, Decimal(7)),
        ("高沟镇", "2026-02", 1, 1, Decimal("2.5")),
        ("唐集镇", "2026-02", 1, 1, Decimal("1.5")),
    ]
    total = report["total"]
    assert (total["trainings"], total["volunteers"], Decimal(total["hours"])) == (4, 3, Decimal(11))
    last_year = county.get("/v1/reports/trainings?year=2025", "auditor")
    assert [(r["township"], r["month"], r["trainings"]) for r in last_year["rows"]] == [("高沟镇", "2025-12", 1)]
    other = county.get(f"/v1/reports/trainings?year=2026&county={OTHER_COUNTY}", "coordinator")
    assert (other["total"]["trainings"], Decimal(other["total"]["hours"])) == (1, Decimal(6))


@pytest.mark.parametrize("path", ["/v1/reports/gift-bags?year=2026", "/v1/reports/trainings?year=2026"])
def test_only_coordinators_auditors_and_evaluators_read_the_reports(county: County, path: str) -> None:
    for role in ("coordinator", "auditor", "evaluator"):
        county.get(path, role)
    for refused in ("finance", "admin", county.api.volunteer_key(county.li)):
        problem = county.get(path, refused, expect=403)
        assert problem["status"] == 403
    assert county.api.client.get(path).status_code == 401


def test_the_gift_bag_policy_is_read_and_adopted_like_the_others(county: County) -> None:
    read = county.get("/v1/policies?on=2026-01-15", county.api.volunteer_key(county.li))  # any key reads them
    policies = {p["kind"]: p for p in read["items"]}
    assert policies["gift_bag"]["in_force"]["parameters"] == {
        "handbook": 1, "health_book": 1, "local_culture_book": 2, "other_book": 1,
    }  # fmt: skip
    assert [v["version"] for v in policies["gift_bag"]["versions"]] == [1, 2]
    before = county.api.events()
    for parameters in ({}, {"handbook": 0}, {"umbrella": 1}, {"handbook": -1}):
        body = {"kind": "gift_bag", "version": 3, "parameters": parameters, "effective_from": "2026-06-01"}
        response = county.api.client.post("/v1/policies", json=body, headers=county.api.staff.auth("admin"))
        assert response.status_code == 422, (parameters, response.text)
        assert response.headers["content-type"] == "application/problem+json"
    assert county.api.events() == before
