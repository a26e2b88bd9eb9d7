"""Forgetting a person over HTTP, on both stores: their data goes everywhere, money and records stay.

Also the auditor's reasoned read of personal data, which is itself recorded.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest

from tests.builders import elder_fields, visit_body
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)
NOTES = "老人说最近夜里胸闷"
COMMENT = "王阿姨很满意"


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    clock.now = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)
    with harness(store_url, clock=clock, projections=True) as made:
        yield made


def get(api: Harness, path: str, who: str = "coordinator") -> Any:
    response = api.client.get(path, headers=api.staff.auth(who))
    assert response.status_code == 200, (path, response.status_code, response.text)
    return response.json()


def post(api: Harness, path: str, body: dict[str, Any], who: str) -> Any:
    return api.client.post(path, json=body, headers=api.staff.auth(who))


def dump_tables(url: str) -> str:
    """Every row of every table in the ledger's database (events, keys, views), as text."""
    if url.startswith("sqlite"):  # the ledger's file and, beside it, the API's and each view's
        rows = []
        paths = sorted(Path(urlsplit(url).path).parent.glob("*.db"))
        assert any("view_health" in path.name for path in paths), paths
        for path in paths:
            with sqlite3.connect(path) as conn:
                names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
                rows += [row for name in names for row in conn.execute(f'SELECT * FROM "{name}"')]
        return "\n".join(as_text(v) for row in rows for v in row)
    schema = parse_qs(urlsplit(url).query)["schema"][0]
    admin = url.split("?")[0]
    with psycopg.connect(admin) as conn:
        names = [r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = %s", (schema,))]
        out = []
        for name in names:
            for row in conn.execute(f'SELECT * FROM "{schema}"."{name}"'):
                out += [
                    bytes(v).decode("utf-8", "replace") if isinstance(v, bytes | memoryview) else str(v) for v in row
                ]
        return "\n".join(out)


def as_text(value: object) -> str:
    return bytes(value).decode("utf-8", "replace") if isinstance(value, bytes | memoryview) else str(value)


def elder_with_a_paid_visit(api: Harness) -> tuple[dict[str, Any], str, str]:
    """A paired elder (answered with their fields), a visit with notes and feedback, claimed and paid."""
    volunteer_id, elder_id, pairing_id = api.staff.pair(date(2026, 1, 1))
    elder = get(api, f"/v1/elders/{elder_id}")
    visit = {**visit_body(pairing_id, FEB), "notes": NOTES}
    visit_id = api.staff.post("/v1/visits", visit, api.volunteer_key(volunteer_id))["id"]
    api.staff.post(f"/v1/visits/{visit_id}/confirmation", {"by": "elder", "method": "signature"}, "coordinator")
    api.staff.post(f"/v1/visits/{visit_id}/feedback", {"rating": 5, "comment": COMMENT}, "coordinator")
    api.staff.post("/v1/budgets/2026", {"lines": {"transport": 10**6, "communication": 10**6}}, "finance")
    claim = {"volunteer_id": volunteer_id, "month": "2026-02", "visit_ids": [visit_id]}
    claim_id = api.staff.post("/v1/claims", claim, api.volunteer_key(volunteer_id))["id"]
    api.staff.post(f"/v1/claims/{claim_id}/approval", {}, "finance")
    api.staff.post(
        f"/v1/claims/{claim_id}/payment", {"payment_reference": "LS-1", "paid_on": "2026-03-02"}, "finance-2"
    )
    return elder, str(visit_id), str(claim_id)


def personal_values(elder: dict[str, Any]) -> list[str]:
    return [elder["name"], elder["address"], elder["phone"], NOTES, COMMENT]


def caught_up(api: Harness) -> None:
    """Wait until the in-process read models have applied the whole log."""
    reads = api.services.reads
    assert reads is not None
    head = api.events()
    deadline = time.monotonic() + 30
    assert reads.service is not None
    runners = reads.service.runners.values()
    while any(runner.position < head for runner in runners):
        assert time.monotonic() < deadline, "the read models did not catch up"
        reads.wake(head)
        time.sleep(0.02)


def money(api: Harness, claim_id: str) -> tuple[Any, Any]:
    budget = get(api, "/v1/audit/budget/2026", "auditor")
    claim = get(api, f"/v1/claims/{claim_id}", "finance")
    return budget["lines"], [claim[k] for k in ("status", "items", "communication_fen", "total_fen", "approved_on")]


def test_a_forgotten_elder_leaves_no_personal_value_in_any_answer_or_table_and_the_money_is_unchanged(
    api: Harness, store_url: str
) -> None:
    elder, visit_id, claim_id = elder_with_a_paid_visit(api)
    caught_up(api)
    before = money(api, claim_id)
    assert elder["name"] in json.dumps(get(api, f"/v1/elders/{elder['id']}"), ensure_ascii=False)

    forgotten = api.staff.post(f"/v1/elders/{elder['id']}/forget", {"reason": "person_asked"}, "admin")
    caught_up(api)

    answers = [
        get(api, f"/v1/elders/{elder['id']}"),
        get(api, f"/v1/visits/{visit_id}"),
        get(api, "/v1/events?after=0&limit=1000"),
        get(api, f"/v1/history/{elder['id']}"),
        get(api, "/v1/elders?names=true"),
        get(api, f"/v1/claims/{claim_id}", "finance"),
    ]
    exports = [
        api.client.get(f"/v1/audit/export?year=2026&format={f}&part={p}", headers=api.staff.auth("auditor")).content
        for f, p in (("csv", "claims"), ("csv", "budget"), ("csv", "anomalies"), ("xlsx", "claims"))
    ]
    text = json.dumps(answers, ensure_ascii=False) + "".join(e.decode("utf-8", "replace") for e in exports)
    tables = dump_tables(store_url)
    for value in personal_values(elder):
        assert value not in text, value
        assert value not in tables, value
    assert answers[0]["name"] == answers[0]["address"] == "[forgotten]" and answers[0]["forgotten"] is True
    assert (answers[1]["readings"], answers[1]["notes"]) == ({}, "[forgotten]")
    assert money(api, claim_id) == before
    assert forgotten["version"] == elder["version"] + 1


def test_forgetting_twice_is_a_409_and_writes_nothing(api: Harness) -> None:
    elder_id = api.staff.elder()
    api.staff.post(f"/v1/elders/{elder_id}/forget", {"reason": "retention_ended"}, "admin")
    before = api.events()
    again = api.client.post(
        f"/v1/elders/{elder_id}/forget", json={"reason": "person_asked"}, headers=api.staff.auth("admin")
    )
    assert again.status_code == 409 and again.headers["content-type"] == "application/problem+json"
    assert "already been forgotten" in again.json()["detail"]
    assert api.events() == before


def test_nothing_personal_is_recorded_about_a_forgotten_elder(api: Harness) -> None:
    elder_id = api.staff.elder()
    api.staff.post(f"/v1/elders/{elder_id}/forget", {"reason": "person_asked"}, "admin")
    before = api.events()
    moved = api.client.post(
        f"/v1/elders/{elder_id}/relocation", json={"township": "涟城镇", "address": "涟城镇安东路8号"},
        headers=api.staff.auth("coordinator"),
    )  # fmt: skip
    assert moved.status_code == 409 and "forgotten" in moved.json()["detail"]
    assert "安东路" not in moved.text
    assert api.events() == before


def test_only_an_admin_forgets_and_only_for_a_known_reason(api: Harness) -> None:
    elder_id = api.staff.elder()
    refused = api.client.post(
        f"/v1/elders/{elder_id}/forget", json={"reason": "person_asked"}, headers=api.staff.auth("coordinator")
    )
    assert refused.status_code == 403
    unknown = api.client.post(
        f"/v1/elders/{elder_id}/forget", json={"reason": "他要求的"}, headers=api.staff.auth("admin")
    )
    assert unknown.status_code == 422
    assert get(api, f"/v1/elders/{elder_id}")["forgotten"] is False


def test_a_forgotten_volunteer_reads_forgotten_and_keeps_their_visits_and_claims(api: Harness) -> None:
    volunteer_id, _, pairing_id = api.staff.pair(date(2026, 1, 1))
    visit_id = api.staff.visit(pairing_id, volunteer_id, FEB)
    name = get(api, f"/v1/volunteers/{volunteer_id}")["name"]
    api.staff.post(f"/v1/volunteers/{volunteer_id}/forget", {"reason": "consent_withdrawn"}, "admin")
    volunteer = get(api, f"/v1/volunteers/{volunteer_id}")
    assert (volunteer["name"], volunteer["phone"], volunteer["forgotten"]) == ("[forgotten]", "[forgotten]", True)
    assert get(api, f"/v1/visits/{visit_id}")["volunteer_id"] == volunteer_id
    assert name not in json.dumps(get(api, "/v1/events?after=0&limit=1000"), ensure_ascii=False)


def test_an_auditor_sees_a_pseudonym_unless_giving_a_reason_and_that_read_is_recorded(api: Harness) -> None:
    elder_id = api.staff.elder()
    plain = get(api, f"/v1/elders/{elder_id}", "auditor")
    assert plain["name"] is None and plain["pseudonym"] == f"elder-{elder_id.replace('-', '')[:8]}"
    before = api.events()

    reasoned = get(api, f"/v1/elders/{elder_id}?reason=核对2026年2月补贴申领", "auditor")

    assert reasoned["name"] == elder_fields(1)["name"] and reasoned["personal"] is True
    assert api.events() == before + 1
    [item] = get(api, f"/v1/events?after={before}")["items"]
    assert item["topic"] == "tiexin.personal_data_read.Read"
    assert (item["data"]["subject_id"], item["data"]["subject_kind"], item["data"]["role"]) == (
        elder_id,
        "elder",
        "auditor",
    )
    assert item["data"]["reason"] == "核对2026年2月补贴申领"  # the coordinator reads the reason
    for_auditor = get(api, f"/v1/events?after={before}", "auditor")["items"][0]
    assert for_auditor["data"]["reason"] is None and "reason" in for_auditor["redacted"]


def test_a_reason_does_not_open_personal_data_to_other_roles(api: Harness) -> None:
    volunteer_id = api.staff.volunteer()
    before = api.events()
    refused = api.client.get(f"/v1/volunteers/{volunteer_id}?reason=想看看", headers=api.staff.auth("admin"))
    assert refused.status_code == 403 and refused.headers["content-type"] == "application/problem+json"
    assert api.events() == before
