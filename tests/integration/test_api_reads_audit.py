"""Reads of money and time over HTTP: budgets, claim trails, the audit and its exports, scores, history as of.

On a SQLite file and on PostgreSQL, with the read models run in the API's process.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from openpyxl import load_workbook

from api.export import inert
from ledger.common import COUNTY_TZ
from tests.builders import criteria, visit_body
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 10, 0, tzinfo=COUNTY_TZ)
LINES = {"transport": 1_000_000, "communication": 500_000}


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock, projections=True) as made:
        yield made


def get(api: Harness, path: str, who: str = "auditor", expect: int = 200) -> Any:
    response = api.client.get(path, headers=api.staff.auth(who))
    assert response.status_code == expect, (path, who, response.text)
    return response


@dataclass
class PaidMonth:
    volunteer_id: str
    visits: list[str]
    short_visit: str
    claim_id: str
    position: int


def a_paid_month(api: Harness) -> PaidMonth:
    """A volunteer's February: two visits (one of 3 minutes: A06), claimed, approved and paid."""
    staff = api.staff
    volunteer_id, _, pairing_id = staff.pair(date(2026, 1, 1))
    visits = [staff.visit(pairing_id, volunteer_id, FEB + timedelta(days=d)) for d in (0, 7)]
    short = staff.post("/v1/visits", visit_body(pairing_id, FEB + timedelta(days=9), minutes=3),
                       api.volunteer_key(volunteer_id))["id"]  # fmt: skip
    staff.post(f"/v1/visits/{short}/confirmation", {"by": "family", "method": "phone_callback"}, "coordinator")
    staff.post("/v1/budgets/2026", {"lines": LINES}, "finance")
    body = {"month": "2026-02", "visit_ids": [*visits, short]}
    claim_id = staff.post("/v1/claims", body, api.volunteer_key(volunteer_id))["id"]
    staff.post(f"/v1/claims/{claim_id}/approval", None, "finance")
    paid = staff.post(f"/v1/claims/{claim_id}/payment", {"payment_reference": "国库-7", "paid_on": "2026-03-01"},
                      "finance-2")  # fmt: skip
    return PaidMonth(volunteer_id, visits, short, claim_id, paid["position"])


def test_budget_lines_and_balances_come_from_the_audit(api: Harness) -> None:
    month = a_paid_month(api)
    budget = get(api, f"/v1/budgets/2026?after={month.position}", "finance").json()
    transport, communication = budget["lines"]
    assert (transport["line"], transport["appropriated"], transport["committed"], transport["paid"]) == (
        "transport", 1_000_000, 3000, 3000,
    )  # fmt: skip
    assert transport["available"] == 1_000_000 - 3000 and communication["paid"] == 3000
    assert budget["total"]["committed"] == 6000 and budget["county"] == "lianshui"
    assert budget["position"] >= month.position and budget["projection_state"] == "caught_up"
    get(api, "/v1/budgets/2031", "finance", expect=404)
    get(api, "/v1/budgets/2026?county=nowhere", "finance", expect=404)
    get(api, "/v1/budgets/1999", "finance", expect=422)


def test_a_claim_is_read_with_its_trail_and_keeps_its_etag(api: Harness) -> None:
    month = a_paid_month(api)
    response = get(api, f"/v1/claims/{month.claim_id}?after={month.position}", "finance")
    claim = response.json()
    assert response.headers["ETag"] == '"3"' and claim["status"] == "paid" and claim["version"] == 3
    trail = claim["trail"]
    assert trail["status"] == "paid" and trail["position"] >= month.position
    assert int(response.headers["X-Tiexin-Position"]) == trail["position"]
    assert [e["event"] for e in trail["events"]][:3] == ["Submitted", "Approved", "Committed"]
    assert "Paid" in [e["event"] for e in trail["events"]]
    assert [i["visit_id"] for i in trail["items"]] == [*month.visits, month.short_visit]
    first = trail["items"][0]
    assert first["visit"]["status"] == "confirmed" and first["pairing"]["volunteer_id"] == month.volunteer_id
    assert [e["event"] for e in first["events"]] == ["Recorded", "Confirmed"]
    assert [e["event"] for e in first["pairing_events"]] == ["Formed"]
    assert [a["code"] for a in trail["anomalies"]] == ["A06"]
    assert trail["anomalies"][0]["subject"] == month.short_visit
    assert trail["positions"] == sorted(trail["positions"]) and month.position in trail["positions"]
    mine = get(api, f"/v1/claims/{month.claim_id}", api.volunteer_key(month.volunteer_id)).json()
    assert mine["trail"]["status"] == "paid"
    etag = response.headers["ETag"]
    stale = api.client.post(f"/v1/claims/{month.claim_id}/reversal", json={"reason": "x"},
                            headers=api.staff.auth("finance", If_Match='"1"'))  # fmt: skip
    assert stale.status_code == 412
    api.staff.post(f"/v1/claims/{month.claim_id}/reversal", {"reason": "复核"}, "finance", If_Match=etag)


def test_the_audit_of_a_year_its_anomalies_and_its_exports(api: Harness) -> None:
    month = a_paid_month(api)
    audited = get(api, f"/v1/audit/budget/2026?after={month.position}").json()
    assert audited["claims"] == {"paid": {"count": 1, "total_fen": 6000}}
    assert audited["anomaly_counts"] == {"A06": 1} and audited["over_committed"] == []
    assert [line["line"] for line in audited["lines"]] == ["transport", "communication"]

    anomalies = get(api, "/v1/audit/anomalies?code=A06", "finance").json()
    [a06] = anomalies["items"]
    assert a06["rule"] == "visit under 5 minutes or over 8 hours" and a06["ids"] == [month.short_visit]
    assert (a06["amount_fen"], a06["amount_yuan"], a06["rule_label"]) == (1000, "10.00", "服务时长不足5分钟或超过8小时")
    english = get(api, "/v1/audit/anomalies?code=A06&lang=en").json()["items"][0]
    assert english["rule_label"] == a06["rule"] and english["amount_yuan"] == "10.00"
    assert get(api, "/v1/audit/anomalies?code=A01").json()["items"] == []
    assert get(api, "/v1/audit/anomalies?code=B01", expect=422).json()["field"] == "query.code"

    claims_csv = get(api, "/v1/audit/export?year=2026&format=csv")
    assert claims_csv.headers["content-type"].startswith("text/csv")
    assert "attachment" in claims_csv.headers["content-disposition"]
    assert int(claims_csv.headers["X-Tiexin-Position"]) >= month.position
    parsed = {part: list(csv.reader(io.StringIO(get(api, f"/v1/audit/export?year=2026&part={part}")
              .content.decode("utf-8-sig")))) for part in ("claims", "budget", "anomalies")}  # fmt: skip
    [header, row] = parsed["claims"]
    claim = dict(zip(header, row, strict=True))
    assert (claim["claim_id"], claim["status"], claim["total_fen"], claim["visits"], claim["anomalies"]) == (
        month.claim_id, "paid", "6000", "3", "A06",
    )  # fmt: skip
    assert [r[2] for r in parsed["budget"][1:]] == ["transport", "communication"]
    assert [r[0] for r in parsed["anomalies"][1:]] == ["A06"]

    xlsx = get(api, "/v1/audit/export?year=2026&format=xlsx", "finance")
    book = load_workbook(io.BytesIO(xlsx.content), read_only=True)
    assert book.sheetnames == ["claims", "budget", "anomalies", "about"]
    for part, rows in parsed.items():
        sheet = [["" if v is None else str(v) for v in row] for row in book[part].iter_rows(values_only=True)]
        assert sheet == rows, part
    assert get(api, "/v1/audit/export?year=2027&format=csv").content.decode("utf-8-sig").count("\n") == 1
    get(api, "/v1/audit/export?year=2026&format=pdf", expect=422)
    get(api, "/v1/audit/export", expect=422)


def test_an_export_names_its_file_safely_whatever_the_county_code_holds(api: Harness) -> None:
    for county in ("涟水", 'a"b', "a\r\nSet-Cookie: x=1"):
        response = api.client.get("/v1/audit/export", params={"year": 2026, "county": county},
                                  headers=api.staff.auth("auditor"))  # fmt: skip
        assert response.status_code == 200, (county, response.text)
        disposition = response.headers["content-disposition"]
        assert disposition.isascii() and "\n" not in disposition
        assert f"filename*=UTF-8''{quote(f'tiexin-audit-{county}-2026-claims.csv', safe='')}" in disposition


def test_an_xlsx_export_keeps_text_as_text_even_with_control_characters_or_formulas(api: Harness) -> None:
    response = api.client.get("/v1/audit/export", params={"year": 2026, "county": "=1+1\x1c", "format": "xlsx"},
                              headers=api.staff.auth("auditor"))  # fmt: skip
    assert response.status_code == 200, response.text
    about = load_workbook(io.BytesIO(response.content))["about"]
    county = next(row for row in about.iter_rows() if row[0].value == "county")[1]
    assert (county.value, county.data_type) == ("=1+1\ufffd", "s")


def test_a_csv_cell_that_could_start_a_formula_is_made_inert() -> None:
    assert [inert(v) for v in ("=HYPERLINK(1)", "+1", "-2", "@x", "国库-7", 6000, None)] == [
        "'=HYPERLINK(1)", "'+1", "'-2", "'@x", "国库-7", 6000, None,
    ]  # fmt: skip


def test_scores_rank_a_month_and_explain_one_volunteer(api: Harness) -> None:
    staff = api.staff
    ranked = []
    for visits in (2, 1, 0):
        volunteer_id, _, pairing_id = staff.pair(date(2026, 1, 1))
        for d in range(visits):
            staff.visit(pairing_id, volunteer_id, FEB + timedelta(days=d))
        ranked.append(volunteer_id)
    evaluation = {"volunteer_id": ranked[0], "period": "2026-02", "criteria": criteria(90)}
    written = staff.post("/v1/evaluations", evaluation, "evaluator")
    page = get(api, f"/v1/scores?month=2026-02&township=高沟镇&limit=2&after={written['position']}", "evaluator")
    body = page.json()
    assert [i["volunteer_id"] for i in body["items"]] == ranked[:2] and [i["rank"] for i in body["items"]] == [1, 2]
    assert body["policy_version"] == 1 and body["month"] == "2026-02" and body["next_cursor"]
    rest = get(api, f"/v1/scores?month=2026-02&township=高沟镇&limit=2&cursor={body['next_cursor']}").json()
    assert [i["volunteer_id"] for i in rest["items"]] == ranked[2:] and rest["next_cursor"] is None
    score = get(api, f"/v1/volunteers/{ranked[0]}/score?month=2026-02", "evaluator").json()
    assert score["inputs"]["contacts_done"] == 2 and score["inputs"]["evaluation_means"] == ["90"]
    assert score["total"] == body["items"][0]["total"] and score["explanation"]
    (submitted,) = get(api, f"/v1/evaluations?volunteer={ranked[0]}", "evaluator").json()["items"]
    assert score["sources"]["last"] == submitted["position"] <= written["position"]
    assert score["terms"]["service"] == "40.00"
    get(api, f"/v1/volunteers/{ranked[0]}/score?month=2026-13", expect=422)
    get(api, f"/v1/volunteers/{ranked[0]}/score?month=feb", expect=422)
    get(api, "/v1/volunteers/00000000-0000-4000-8000-000000000000/score?month=2026-02", expect=404)


def test_history_travels_in_time(api: Harness, clock: Clock) -> None:
    elder_id = api.staff.elder()
    clock.advance(days=2)
    api.staff.post(f"/v1/elders/{elder_id}/relocation", {"township": "涟城镇", "address": "安东路8号"}, "coordinator")
    clock.advance(days=3)
    departed = api.staff.post(f"/v1/elders/{elder_id}/departure", {"kind": "deceased", "date": "2026-03-05"},
                              "coordinator")  # fmt: skip
    now = get(api, f"/v1/history/{elder_id}?after={departed['position']}").json()
    assert [h["event"] for h in now["items"]] == ["Registered", "Relocated", "Departed"]
    assert now["items"][2]["happened_at"] == "2026-03-05" and now["items"][2]["role"] == "coordinator"
    on_day_one = get(api, f"/v1/history/{elder_id}?as_of=2026-03-01").json()["items"]
    assert [h["event"] for h in on_day_one] == ["Registered"]
    by_then = get(api, f"/v1/history/{elder_id}?as_of=2026-03-03T10:00:00%2B08:00").json()["items"]
    assert [h["event"] for h in by_then] == ["Registered", "Relocated"]
    assert get(api, f"/v1/history/{elder_id}?as_of=2020-01-01").json()["items"] == []
    paged = get(api, f"/v1/history/{elder_id}?limit=2").json()
    assert len(paged["items"]) == 2 and paged["next_cursor"]
    for bad in ("2026-03-03T10:00:00", "yesterday", "2026-02-30"):
        assert get(api, f"/v1/history/{elder_id}?as_of={bad}", expect=422).json()["field"] == "query.as_of"
    get(api, "/v1/history/not-an-id", expect=422)


def test_a_visit_recorded_outside_the_elders_township_is_priced_where_the_elder_lives_and_flagged(
    api: Harness,
) -> None:
    """POST a visit typed as in 涟城镇 for an elder of 高沟镇: the claim pays ¥10, not ¥20, and the audit
    shows A11 with the ¥10 at stake; once the claim is rejected and a coordinator confirms the place,
    the next claim pays ¥20 and A11 clears."""
    staff = api.staff
    volunteer_id, _, pairing_id = staff.pair(date(2026, 1, 1))  # both of 高沟镇
    key = api.volunteer_key(volunteer_id)
    visit_id = staff.post("/v1/visits", {**visit_body(pairing_id, FEB), "township": "涟城镇"}, key)["id"]
    staff.post(f"/v1/visits/{visit_id}/confirmation", {"by": "elder", "method": "signature"}, "coordinator")
    claim = staff.post("/v1/claims", {"month": "2026-02", "visit_ids": [visit_id]}, key)
    written = get(api, f"/v1/claims/{claim['id']}", "finance").json()
    assert [i["transport_fen"] for i in written["items"]] == [1000]
    [a11] = get(api, f"/v1/audit/anomalies?code=A11&after={claim['position']}").json()["items"]
    assert (a11["subject"], a11["amount_fen"], a11["amount_yuan"]) == (visit_id, 1000, "10.00")
    assert a11["rule_label"] == "服务地点与老人登记乡镇不符且未经协调员确认"

    staff.post(f"/v1/claims/{claim['id']}/rejection", {"reason": "地点待核实"}, "finance")
    confirmed = staff.post(f"/v1/visits/{visit_id}/place-confirmation", {"reason": "老人当天在女儿家"}, "coordinator")
    assert get(api, f"/v1/audit/anomalies?code=A11&after={confirmed['position']}").json()["items"] == []
    again = staff.post("/v1/claims", {"month": "2026-02", "visit_ids": [visit_id]}, key)
    assert [i["transport_fen"] for i in get(api, f"/v1/claims/{again['id']}", "finance").json()["items"]] == [2000]
    refused = api.client.post(
        f"/v1/visits/{visit_id}/place-confirmation", json={"reason": "再次确认"}, headers=staff.auth("coordinator")
    )
    assert refused.status_code == 409 and refused.json()["rule"] == "visit.place_already_confirmed"
