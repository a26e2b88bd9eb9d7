"""Every write of the HTTP contract, on both stores: 201/200 with {id, version, position}, documented."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

import pytest

from ledger.counties import LIANSHUI
from ledger.elders import Elder
from ledger.policies import DEFAULT_PARAMETERS
from projections.audit import open_projection
from projections.roster import open_projection as open_roster
from tests.builders import criteria
from tests.conftest import Clock
from tests.harness import Harness, harness
from tests.views import caught_up

FEB = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)  # 10:00 on 3 February in the county; the clock is at 1 March


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock) as made:
        yield made


ID_NAMES = {"elders": "elder_id", "volunteers": "volunteer_id", "pairings": "pairing_id", "visits": "visit_id",
            "evaluations": "evaluation_id", "claims": "claim_id", "budgets": "year", "notices": "notice_id",
            "meetings": "meeting_id"}  # fmt: skip


class Recorder:
    """Posts as a role, checks the answer's shape, and remembers which route of the contract it used."""

    def __init__(self, api: Harness) -> None:
        self.api = api
        self.used: set[str] = set()

    def __call__(self, path: str, body: dict[str, Any] | None, who: str, status: int = 200) -> str:
        response = self.api.client.post(path, json=body, headers=self.api.staff.auth(who))
        assert response.status_code == status, (path, response.text)
        answer = response.json()
        assert set(answer) == {"id", "version", "position"}, answer
        assert isinstance(answer["version"], int) and answer["version"] >= 1
        # the write's last event: a reader waiting for it sees every record the write changed
        assert isinstance(answer["position"], int) and answer["position"] == self.api.events()
        assert response.headers["ETag"] == f'"{answer["version"]}"'
        parts = path.split("/")
        if len(parts) > 3 and parts[2] in ID_NAMES:
            parts[3] = "{" + ID_NAMES[parts[2]] + "}"
        if len(parts) > 5 and parts[4] == "suggestions":
            parts[5] = "{n}"
        self.used.add("/".join(parts))
        return str(answer["id"])


def test_every_write_of_the_contract_answers_with_id_version_and_position(api: Harness) -> None:
    post, staff = Recorder(api), api.staff
    coordinator, evaluator, finance = "coordinator", "evaluator", "finance"

    elder = post("/v1/elders", elder_body(), coordinator, 201)
    post(f"/v1/elders/{elder}/relocation", {"township": "涟城镇", "address": "涟城镇安东路8号"}, coordinator)
    post(f"/v1/elders/{elder}/category", {"category": "empty_nester", "reason": "子女迁居外地"}, coordinator)
    post(f"/v1/elders/{staff.elder()}/departure", {"kind": "deceased", "date": "2026-02-20"}, coordinator)

    v = post("/v1/volunteers", volunteer_body(), coordinator, 201)
    post(f"/v1/volunteers/{v}/trainings", {"course": "急救", "hours": 4.5, "date": "2026-02-14"}, coordinator)
    other = staff.volunteer()
    for action in ("suspension", "reinstatement", "retirement"):
        post(f"/v1/volunteers/{other}/{action}", {"reason": "测试"}, coordinator)

    pairing = {"volunteer_id": v, "elder_id": elder, "group": "涟城镇第1组", "from_date": "2026-01-01"}
    pairing_id = post("/v1/pairings", pairing, coordinator, 201)
    _, _, ending = staff.pair(date(2026, 1, 1))
    post(f"/v1/pairings/{ending}/end", {"date": "2026-02-27", "reason": "reassigned"}, coordinator)

    mine = api.volunteer_key(v)
    visits = [post("/v1/visits", visit(pairing_id, FEB + timedelta(days=3 * i)), mine, 201) for i in range(4)]
    for visit_id in visits[:2]:
        post(f"/v1/visits/{visit_id}/confirmation", {"by": "family", "method": "phone_callback"}, coordinator)
    post(f"/v1/visits/{visits[0]}/feedback", {"rating": 5, "comment": "很好"}, coordinator)
    post(f"/v1/visits/{visits[1]}/place-confirmation", {"reason": "老人当月住在涟城镇"}, coordinator)  # not 高沟镇
    audit = open_projection(api.services.settings.database_url)  # finds the visits a certificate counts
    try:
        caught_up(api.ledger, audit)  # (no read model runs in this process on PostgreSQL)
    finally:
        audit.paged_view.close()
    post(f"/v1/volunteers/{v}/certificates", {"from": "2026-02-01", "to": "2026-02-28"}, mine, 201)
    post(f"/v1/visits/{visits[2]}/dispute", {"reason_code": "wrong_time"}, coordinator)
    amendment = {"changes": {"notes": "时间核对无误"}, "reason_code": "late_detail"}
    post(f"/v1/visits/{visits[2]}/amendment", amendment, coordinator)
    post(f"/v1/visits/{visits[3]}/void", {"reason_code": "duplicate"}, coordinator)

    scores = {"volunteer_id": v, "period": "2026-02", "criteria": criteria(90)}
    evaluation = post("/v1/evaluations", scores, evaluator, 201)
    post(f"/v1/evaluations/{evaluation}/withdrawal", {"reason": "录入错误"}, evaluator)

    post("/v1/budgets/2026", {"lines": {"transport": 1_000_000, "communication": 500_000}}, finance, 201)
    post("/v1/budgets/2026/adjustments", {"line": "transport", "delta": -100_000, "reason": "压减"}, finance)

    rejected = post("/v1/claims", {"month": "2026-02", "visit_ids": visits[:1]}, mine, 201)
    post(f"/v1/claims/{rejected}/rejection", {"reason": "请合并申报"}, finance)
    claim = post("/v1/claims", {"month": "2026-02", "visit_ids": visits[:2]}, mine, 201)
    post(f"/v1/claims/{claim}/approval", None, finance)
    post(f"/v1/visits/{visits[1]}/unlock", {"reason": "财政复核：更正时间"}, coordinator)
    post(f"/v1/claims/{claim}/payment", {"payment_reference": "国库支付-0001", "paid_on": "2026-03-01"}, "finance-2")
    post("/v1/audit/samples", {"year": 2026, "size": 1, "seed": 42}, "auditor", 201)  # draws the paid claim
    post(f"/v1/claims/{claim}/reversal", {"reason": "重复支付"}, finance)

    params = {**DEFAULT_PARAMETERS["subsidy"], "transport_cross_township_fen": 2500}
    post("/v1/policies", {"kind": "subsidy", "version": 2, "parameters": params, "effective_from": "2026-07-01"},
         "admin", 201)  # fmt: skip
    post(f"/v1/elders/{staff.elder()}/forget", {"reason": "person_asked"}, "admin")
    post(f"/v1/volunteers/{staff.volunteer()}/forget", {"reason": "retention_ended"}, "admin")
    post("/v1/counties", {"code": "huaiyin", "name": "淮阴区", "townships": ["王营镇"]}, "admin", 201)

    roster = open_roster(api.services.settings.database_url)  # lists the volunteers a notice addresses
    try:
        caught_up(api.ledger, roster)
    finally:
        roster.paged_view.close()
    to_town = {"title": "培训通知", "body": "3月15日培训", "townships": ["涟城镇"]}
    notice = post("/v1/notices", to_town, coordinator, 201)
    post(f"/v1/notices/{notice}/read", None, mine)
    meeting = {"held_on": "2025-06-18", "place": "县委老干部局", "topic": "座谈", "attendees": [v]}
    meeting_id = post("/v1/meetings", meeting, coordinator, 201)
    post(f"/v1/meetings/{meeting_id}/suggestions", {"text": "提高交通补贴", "raised_by": v}, coordinator)
    post(f"/v1/meetings/{meeting_id}/suggestions/1/answer", {"text": "已采纳", "status": "adopted"}, coordinator)

    assert post.used == CONTRACT_WRITES - NOT_LEDGER_WRITES, "every write of the contract is exercised"


def test_a_new_record_has_an_address_and_the_home_county_when_none_is_named(api: Harness) -> None:
    response = api.client.post("/v1/elders", json=elder_body(), headers=api.staff.auth("coordinator"))
    assert response.headers["Location"] == f"/v1/elders/{response.json()['id']}"
    elder = api.ledger.repository.get(UUID(response.json()["id"]))
    assert isinstance(elder, Elder) and elder.county == LIANSHUI
    read = api.client.get(response.headers["Location"], headers=api.staff.auth("coordinator"))
    assert read.status_code == 200 and read.json()["county"] == LIANSHUI and read.json()["name"] == "王德明"


def test_an_unknown_county_is_not_found(api: Harness) -> None:
    response = api.client.post(
        "/v1/elders", json={**elder_body(), "county": "atlantis"}, headers=api.staff.auth("coordinator")
    )
    assert response.status_code == 404 and response.json()["kind"] == "county"


def test_each_event_records_the_key_its_role_and_the_client_s_headers(api: Harness) -> None:
    headers = api.staff.auth("coordinator", Idempotency_Key="reg-0001", X_Correlation_ID="corr-42")
    response = api.client.post("/v1/elders", json=elder_body(), headers=headers)
    assert response.headers["X-Correlation-ID"] == "corr-42"
    [event] = api.ledger.events.get(UUID(response.json()["id"]))
    [key] = [k for k in api.key_store.list_keys() if k.name == "coordinator"]
    assert event.meta.as_dict() == {  # type: ignore[attr-defined]
        "principal_id": key.id,
        "role": "coordinator",
        "idempotency_key": "reg-0001",
        "correlation_id": "corr-42",
    }


def test_the_openapi_schema_has_an_example_for_every_request_and_response(api: Harness) -> None:
    schema = api.client.get("/openapi.json").json()
    components = schema["components"]["schemas"]

    def example_of(ref_or_schema: dict[str, Any]) -> Any:
        target = components[ref_or_schema["$ref"].rsplit("/", 1)[-1]] if "$ref" in ref_or_schema else ref_or_schema
        return target.get("examples") or target.get("example")

    operations = [(path, method, op) for path, ops in schema["paths"].items() for method, op in ops.items()]
    assert {p for p, m, _ in operations if m == "post"} == CONTRACT_WRITES
    for path, method, op in operations:
        if "requestBody" in op:
            assert example_of(op["requestBody"]["content"]["application/json"]["schema"]), (method, path)
        for code, response in op["responses"].items():
            if (path, code) in DOWNLOADS:  # a file, not JSON: its media types are documented
                assert set(response["content"]) == DOWNLOADS[path, code], path
                continue
            [(media, content)] = response["content"].items()
            assert media == ("application/json" if code < "400" else "application/problem+json"), (path, code)
            assert example_of(content["schema"]), (method, path, code)
        if method == "post":
            names = {p["name"] for p in op.get("parameters", []) if p["in"] == "header"}
            assert {"Idempotency-Key", "If-Match", "X-Correlation-ID"} <= names, path
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert api.client.get("/docs").status_code == 200


XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
DOWNLOADS = {
    ("/v1/audit/export", "200"): {"text/csv", XLSX},
    ("/v1/events/stream", "200"): {"text/event-stream"},
    ("/v1/events/heads", "200"): {"text/event-stream"},
    ("/metrics", "200"): {"text/plain; version=0.0.4; charset=utf-8"},
    ("/v1/volunteers/{volunteer_id}/certificate", "200"): {"application/json", "application/pdf"},
    ("/v1/audit/claim-sheets/{month}", "200"): {"application/pdf", XLSX},
    ("/v1/audit/exports/{year}", "200"): {"application/zip"},
    ("/v1/audit/samples/{sample_id}/export", "200"): {"text/csv", XLSX},
}
CONTRACT_WRITES = {
    "/v1/audit/seals",
    "/v1/audit/samples",
    "/v1/elders",
    "/v1/elders/{elder_id}/relocation",
    "/v1/elders/{elder_id}/category",
    "/v1/elders/{elder_id}/departure",
    "/v1/elders/{elder_id}/forget",
    "/v1/volunteers",
    "/v1/volunteers/{volunteer_id}/trainings",
    "/v1/volunteers/{volunteer_id}/suspension",
    "/v1/volunteers/{volunteer_id}/forget",
    "/v1/volunteers/{volunteer_id}/reinstatement",
    "/v1/volunteers/{volunteer_id}/retirement",
    "/v1/volunteers/{volunteer_id}/certificates",
    "/v1/pairings",
    "/v1/pairings/{pairing_id}/end",
    "/v1/visits",
    "/v1/visits/{visit_id}/confirmation",
    "/v1/visits/{visit_id}/dispute",
    "/v1/visits/{visit_id}/amendment",
    "/v1/visits/{visit_id}/void",
    "/v1/visits/{visit_id}/unlock",
    "/v1/visits/{visit_id}/feedback",
    "/v1/visits/{visit_id}/place-confirmation",
    "/v1/evaluations",
    "/v1/evaluations/{evaluation_id}/withdrawal",
    "/v1/budgets/{year}",
    "/v1/budgets/{year}/adjustments",
    "/v1/claims",
    "/v1/claims/{claim_id}/approval",
    "/v1/claims/{claim_id}/rejection",
    "/v1/claims/{claim_id}/payment",
    "/v1/claims/{claim_id}/reversal",
    "/v1/policies",
    "/v1/counties",
    "/v1/notices",
    "/v1/notices/{notice_id}/read",
    "/v1/meetings",
    "/v1/meetings/{meeting_id}/suggestions",
    "/v1/meetings/{meeting_id}/suggestions/{n}/answer",
}
NOT_LEDGER_WRITES = {"/v1/audit/seals"}
"""POSTs that record no event: a seal is signed over the log, outside it (test_api_seals)."""
"""The writes of the HTTP contract (v1, docs/design.md)."""


def elder_body() -> dict[str, Any]:
    return {
        "name": "王德明",
        "birth_date": "1931-04-12",
        "sex": "male",
        "township": "高沟镇",
        "address": "高沟镇幸福路12号",
        "phone": "13805170000",
    }


def volunteer_body() -> dict[str, Any]:
    return {
        "name": "李芳",
        "unit": "涟水县人民医院",
        "profession": "nurse",
        "phone": "13905170000",
        "township": "涟城镇",
    }


def visit(pairing_id: str, start: datetime) -> dict[str, Any]:
    from tests.builders import visit_body

    return {**visit_body(pairing_id, start), "township": "涟城镇"}
