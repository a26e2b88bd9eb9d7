"""The auditor's tools over HTTP: a budget year's reconciliation, and reproducible samples with their evidence.

On a SQLite file and on PostgreSQL, with the read models run in the API's process. Who may ask, what
is refused (as problem+json, writing nothing), the evidence of each sampled visit and its exports.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from openpyxl import load_workbook

from ledger.common import COUNTY_TZ
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 10, 0, tzinfo=COUNTY_TZ)
LINES = {"transport": 1_000_000, "communication": 500_000}
PROBLEM = "application/problem+json"


@dataclass
class Year:
    claims: list[str]
    visits: dict[str, list[str]]
    """Each claim's visits."""


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock, projections=True) as made:
        yield made


@pytest.fixture
def year(api: Harness) -> Year:
    """Two volunteers' February 2026, each claimed: one claim approved and paid, the other approved."""
    staff = api.staff
    staff.post("/v1/budgets/2026", {"lines": LINES}, "finance")
    claims, visits = [], {}
    for n in range(2):
        volunteer_id, _, pairing_id = staff.pair(date(2026, 1, 1))
        ids = [staff.visit(pairing_id, volunteer_id, FEB + timedelta(days=d + n)) for d in (0, 7)]
        body = {"month": "2026-02", "visit_ids": ids}
        claim_id = staff.post("/v1/claims", body, api.volunteer_key(volunteer_id))["id"]
        staff.post(f"/v1/claims/{claim_id}/approval", None, "finance")
        claims.append(claim_id)
        visits[claim_id] = ids
    staff.post(f"/v1/claims/{claims[0]}/payment", {"payment_reference": "国库-7", "paid_on": "2026-03-01"},
               "finance-2")  # fmt: skip
    return Year(claims, visits)


def get(api: Harness, path: str, who: str = "auditor", expect: int = 200) -> Any:
    response = api.client.get(path, headers=api.staff.auth(who))
    assert response.status_code == expect, (path, who, response.text)
    if expect >= 400:
        assert response.headers["content-type"].startswith(PROBLEM)
    return response


def post(api: Harness, body: dict[str, Any], who: str = "auditor", expect: int = 201, **headers: str) -> Any:
    response = api.client.post("/v1/audit/samples", json=body, headers=api.staff.auth(who, **headers))
    assert response.status_code == expect, (body, who, response.text)
    if expect >= 400:
        assert response.headers["content-type"].startswith(PROBLEM)
    return response


# Reconciliation ---------------------------------------------------------------------------------


def test_the_reconciliation_balances_for_auditors_finance_and_administrators(api: Harness, year: Year) -> None:
    for who in ("auditor", "finance", "admin"):
        answer = get(api, "/v1/audit/budget/2026/reconciliation", who).json()
        assert answer["balanced"] is True and answer["claims"] == [] and answer["findings"] == []
        assert (answer["county"], answer["year"], answer["projection_state"]) == ("lianshui", 2026, "ledger")
        transport, communication = answer["lines"]
        assert (transport["line"], transport["appropriated"], transport["difference"]) == ("transport", 1_000_000, 0)
        assert transport["committed"] > 0 and transport["paid"] > 0 and communication["paid"] > 0
        total = answer["total"]
        assert total["appropriated"] + total["adjustments"] == total["committed"] + total["paid"] + total["available"]
        assert answer["position"] == api.events()
        assert [c["source"] for c in answer["comparisons"]] == ["budget", "audit"]
        assert all(c["compared"] and c["differences"] == [] for c in answer["comparisons"])
    for who in ("coordinator", "evaluator"):
        get(api, "/v1/audit/budget/2026/reconciliation", who, expect=403)
    get(api, "/v1/audit/budget/2031/reconciliation", expect=404)
    get(api, "/v1/audit/budget/2026/reconciliation?county=nowhere", expect=404)
    get(api, "/v1/audit/budget/1999/reconciliation", expect=422)


# Samples ----------------------------------------------------------------------------------------


def test_a_sample_is_recorded_and_read_back_with_the_evidence_of_each_visit(api: Harness, year: Year) -> None:
    before = api.events()
    drawn = post(api, {"year": 2026, "size": 1, "seed": 42})
    assert drawn.headers["Location"] == f"/v1/audit/samples/{drawn.json()['id']}"
    assert api.events() == before + 1 and drawn.json()["position"] == before + 1
    sample = get(api, f"/v1/audit/samples/{drawn.json()['id']}?after={drawn.json()['position']}").json()
    assert (sample["year"], sample["size"], sample["seed"], sample["stratify_by"]) == (2026, 1, 42, None)
    assert (sample["population"], sample["drawn_position"]) == (2, before)
    assert sample["strata"] == {"all": {"population": 2, "chosen": 1, "min_fen": sample["strata"]["all"]["min_fen"],
                                        "max_fen": sample["strata"]["all"]["max_fen"]}}  # fmt: skip
    [claim] = sample["claims"]
    assert claim["claim_id"] in year.claims and claim["status"] in ("approved", "paid") and claim["month"] == "2026-02"
    assert claim["total_fen"] == claim["transport_fen"] + claim["communication_fen"] and claim["positions"]
    assert [v["visit_id"] for v in claim["visits"]] == year.visits[claim["claim_id"]]
    for visit in claim["visits"]:
        assert (visit["kind"], visit["status"], visit["status_label"]) == ("medical", "confirmed", "已确认")
        confirmation = visit["confirmation"]
        assert (confirmation["by"], confirmation["method"]) == ("elder", "signature")
        assert confirmation["position"] in visit["positions"] and visit["transport_fen"] >= 0
        assert datetime.fromisoformat(visit["started_at"]) < datetime.fromisoformat(visit["ended_at"])
    assert sum(v["transport_fen"] for v in claim["visits"]) == claim["transport_fen"]
    assert get(api, f"/v1/audit/samples/{drawn.json()['id']}", "finance").json()["claims"] == sample["claims"]
    get(api, f"/v1/audit/samples/{drawn.json()['id']}", "coordinator", expect=403)
    get(api, "/v1/audit/samples/6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", expect=404)
    again = get(api, f"/v1/audit/samples/{post(api, {'year': 2026, 'size': 1, 'seed': 42}).json()['id']}").json()
    assert again["claims"] == sample["claims"]


def test_a_sample_is_exported_with_a_row_per_visit_as_csv_and_xlsx(api: Harness, year: Year) -> None:
    sample_id = post(api, {"year": 2026, "size": 2, "seed": 7, "stratify_by": "amount"}).json()["id"]
    response = get(api, f"/v1/audit/samples/{sample_id}/export")
    assert response.headers["content-type"].startswith("text/csv")
    assert f"tiexin-sample-lianshui-2026-{sample_id}.csv" in response.headers["content-disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))
    assert sorted(r["visit_id"] for r in rows) == sorted(v for vs in year.visits.values() for v in vs)
    assert {r["claim_id"] for r in rows} == set(year.claims) and {r["stratum"] for r in rows} <= {"q1", "q2", "q3"}
    for row in rows:
        assert (row["kind"], row["kind_zh"], row["visit_status"]) == ("medical", "医疗服务", "confirmed")
        assert row["confirmed_by"] == "elder" and row["started_at"].endswith("+08:00")
        assert row["transport_yuan"] == f"{int(row['transport_fen']) / 100:.2f}"
    book = load_workbook(io.BytesIO(get(api, f"/v1/audit/samples/{sample_id}/export?format=xlsx").content))
    assert book.sheetnames == ["visits", "sample"]
    visits = list(book["visits"].iter_rows(values_only=True))
    assert visits[0][:3] == ("sample_id", "stratum", "claim_id") and len(visits) == len(rows) + 1
    about = dict(book["sample"].iter_rows(values_only=True))
    assert (about["sample_id"], about["seed"], about["stratify_by"], about["claims"]) == (sample_id, 7, "amount", 2)


REFUSED = [
    ({"year": 2026, "size": 0, "seed": 42}, "auditor", 422),
    ({"year": 2026, "size": -5, "seed": 42}, "auditor", 422),
    ({"year": 2026, "size": 1, "seed": -1}, "auditor", 422),
    ({"year": 2026, "size": 1, "seed": 42, "stratify_by": "volunteer"}, "auditor", 422),
    ({"year": 2031, "size": 1, "seed": 42}, "auditor", 404),
    ({"year": 2026, "size": 1, "seed": 42, "county": "nowhere"}, "auditor", 404),
    ({"year": 2025, "size": 1, "seed": 42}, "auditor", 409),
    ({"year": 2026, "size": 1, "seed": 42}, "finance", 403),
    ({"year": 2026, "size": 1, "seed": 42}, "coordinator", 403),
]
"""Size not positive, a seed or stratification not allowed, a year never appropriated, an unknown county, a year
with no claims, a role that does not audit."""


def test_a_refused_sample_writes_nothing_and_answers_a_problem(api: Harness, year: Year) -> None:
    api.staff.post("/v1/budgets/2025", {"lines": LINES}, "finance")  # a year with no claims to sample: 409
    before = api.events()
    for body, who, status in REFUSED:
        problem = post(api, body, who, expect=status).json()
        assert problem["status"] == status and problem["detail"], (body, who)
        if status == 409:
            assert problem["rule"] == "sample.no_claims"
        assert api.events() == before, (body, who)


def test_a_repeated_draw_with_its_idempotency_key_answers_the_first_and_writes_nothing(
    api: Harness, year: Year
) -> None:
    first = post(api, {"year": 2026, "size": 1, "seed": 3}, Idempotency_Key="draw-1")
    before = api.events()
    again = post(api, {"year": 2026, "size": 1, "seed": 3}, Idempotency_Key="draw-1")
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert api.events() == before
