"""Errors as problem+json naming the field or rule, the store down as 503, and no request ever a 500."""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import psycopg
import pytest
from eventsourcing.persistence import OperationalError

from tests.builders import criteria, visit_body
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)
PROBLEM = "application/problem+json"


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock, max_body_bytes=100_000) as made:
        yield made


def post_json(api: Harness, path: str, body: Any, headers: dict[str, str]) -> Any:
    """POST with JSON escaped to ASCII, as many clients send it (so a lone surrogate can be sent)."""
    return api.client.post(
        path, content=json.dumps(body).encode(), headers={**headers, "content-type": "application/json"}
    )


def problem_of(response: Any, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == PROBLEM
    body: dict[str, Any] = response.json()
    assert body["status"] == status and body["type"].startswith("https://") and body["title"] and body["detail"]
    return body


def test_a_refused_command_names_the_field_or_the_rule(api: Harness) -> None:
    staff, client = api.staff, api.client
    future = {
        "name": "王",
        "birth_date": "2027-01-01",
        "sex": "male",
        "township": "高沟镇",
        "address": "x",
        "phone": "1",
    }
    assert problem_of(client.post("/v1/elders", json=future, headers=staff.auth("coordinator")), 422)["field"] == (
        "birth_date"
    )
    elsewhere = {**future, "birth_date": "1931-01-01", "township": "纽约"}
    body = problem_of(client.post("/v1/elders", json=elsewhere, headers=staff.auth("coordinator")), 409)
    assert body["rule"] == "county.unknown_township"

    volunteer_id, _, pairing_id = staff.pair(date(2026, 1, 1))
    visit_id = staff.visit(pairing_id, volunteer_id, FEB)
    again = client.post(
        f"/v1/visits/{visit_id}/confirmation",
        json={"by": "elder", "method": "signature"},
        headers=staff.auth("coordinator"),
    )
    assert problem_of(again, 409)["rule"] == "visit.already_confirmed"
    assert problem_of(again, 409)["instance"] == f"/v1/visits/{visit_id}/confirmation"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"started_at": "2026-02-03T10:00:00", "ended_at": "2026-02-03T10:45:00"}, "started_at"),
        ({"travel_km": "far"}, "travel_km"),
        ({"gift_bag": "yes"}, "gift_bag"),
        ({"services": []}, "services"),
        ({"readings": {"systolic": 300, "diastolic": 80}}, "readings.systolic"),
        ({"kind": "massage"}, "kind"),
        ({"township": None}, "township"),
        ({"nickname": "小王"}, "nickname"),
        ({"notes": "\ud800"}, "notes"),
        ({"started_at": 1770084000}, "started_at"),
    ],
)
def test_a_bad_field_is_422_naming_it(api: Harness, change: dict[str, Any], field: str) -> None:
    volunteer_id, _, pairing_id = api.staff.pair(date(2026, 1, 1))
    before = api.events()
    body = {**visit_body(pairing_id, FEB), **change}
    response = post_json(api, "/v1/visits", body, api.staff.auth(api.volunteer_key(volunteer_id)))
    assert problem_of(response, 422)["field"] == field
    assert api.events() == before


def test_a_date_written_as_a_number_is_refused_not_read_as_seconds_since_1970(api: Harness) -> None:
    for on in ("0", "20260701", "1770084000"):
        response = api.client.get(f"/v1/policies?on={on}", headers=api.staff.auth("auditor"))
        assert problem_of(response, 422)["field"] == "query.on", on
    assert api.client.get("/v1/policies?on=2026-07-01", headers=api.staff.auth("auditor")).status_code == 200


def test_money_is_integer_fen_never_a_float_or_a_string(api: Harness) -> None:
    for bad in (1000.5, "1000", 10**13, -1):
        response = api.client.post(
            "/v1/budgets/2026",
            json={"lines": {"transport": bad, "communication": 0}},
            headers=api.staff.auth("finance"),
        )
        assert problem_of(response, 422)["field"] == "lines.transport", bad


def test_malformed_requests_are_400_naming_what(api: Harness) -> None:
    auth = api.staff.auth("coordinator")
    bad_json = api.client.post("/v1/elders", content=b'{"name": ', headers={**auth, "content-type": "application/json"})
    assert problem_of(bad_json, 400)["field"] == "body"
    digits = api.client.post(
        "/v1/elders", content=b'{"name": ' + b"1" * 5000 + b"}", headers={**auth, "content-type": "application/json"}
    )
    assert problem_of(digits, 400)["field"] == "body"
    key = api.client.post("/v1/elders", json={}, headers={**auth, "Idempotency-Key": "x" * 201})
    assert problem_of(key, 400)["field"] == "Idempotency-Key"
    match = api.client.post(
        f"/v1/elders/{uuid.uuid4()}/relocation",
        json={"township": "高沟镇", "address": "x"},
        headers={**auth, "If-Match": "version three"},
    )
    assert problem_of(match, 400)["field"] == "If-Match"


def test_unknown_records_routes_and_methods(api: Harness) -> None:
    auth = api.staff.auth("coordinator")
    nobody = uuid.uuid4()
    confirm = api.client.post(
        f"/v1/visits/{nobody}/confirmation", json={"by": "elder", "method": "signature"}, headers=auth
    )
    assert problem_of(confirm, 404)["kind"] == "visit"
    assert problem_of(api.client.get(f"/v1/elders/{nobody}", headers=auth), 404)["id"] == str(nobody)
    assert problem_of(api.client.get("/v1/elders/not-an-id", headers=auth), 422)["field"] == "path.elder_id"
    assert problem_of(api.client.get("/v1/nothing-here", headers=auth), 404)
    assert problem_of(api.client.delete(f"/v1/elders/{nobody}", headers=auth), 405)
    pairing = {"volunteer_id": str(nobody), "elder_id": str(nobody), "group": "g", "from_date": "2026-01-01"}
    assert problem_of(api.client.post("/v1/pairings", json=pairing, headers=auth), 404)["kind"] == "volunteer"


def test_a_body_over_the_limit_is_413(api: Harness) -> None:
    huge = {"name": "王", "notes": "长" * 60_000}
    response = api.client.post("/v1/elders", json=huge, headers=api.staff.auth("coordinator"))
    problem_of(response, 413)

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit is counted as the body arrives
        yield b'{"notes": "'
        for _ in range(200):
            yield b"x" * 1000
        yield b'"}'

    streamed = api.client.post(
        "/v1/elders", content=chunks(), headers={**api.staff.auth("coordinator"), "content-type": "application/json"}
    )
    problem_of(streamed, 413)


def test_a_store_that_fails_is_503_and_nothing_is_claimed_written(api: Harness, monkeypatch: Any) -> None:
    def broken(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("disk I/O error")

    monkeypatch.setattr(api.ledger.recorder, "insert_events", broken)
    response = api.client.post(
        "/v1/volunteers",
        json={"name": "李", "unit": "u", "profession": "nurse", "phone": "1", "township": "高沟镇"},
        headers=api.staff.auth("coordinator"),
    )
    body = problem_of(response, 503)
    assert response.headers["Retry-After"] and "nothing is known to be written" in body["detail"]


@pytest.mark.postgres
def test_a_postgres_schema_that_vanished_is_503_not_500(postgres_url: str, clock: Clock) -> None:
    with harness(postgres_url, clock=clock) as api:
        schema = postgres_url.rsplit("schema=", 1)[1]
        admin = postgres_url.split("?", 1)[0]
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f"ALTER SCHEMA {schema} RENAME TO {schema}_away")
        try:
            response = api.client.post("/v1/elders", json={}, headers=api.staff.auth("coordinator"))
            problem_of(response, 503)
        finally:
            with psycopg.connect(admin, autocommit=True) as conn:
                conn.execute(f"ALTER SCHEMA {schema}_away RENAME TO {schema}")


def test_an_unexpected_error_is_a_problem_and_is_logged_without_personal_data(
    api: Harness, monkeypatch: Any, caplog: pytest.LogCaptureFixture
) -> None:
    def crash(**kwargs: Any) -> Any:
        raise ValueError(f"cannot handle {kwargs['name']} at {kwargs['phone']}")

    monkeypatch.setattr(api.ledger, "register_elder", crash)
    elder = {
        "name": "王德明",
        "birth_date": "1931-04-12",
        "sex": "male",
        "township": "高沟镇",
        "address": "高沟镇幸福路12号",
        "phone": "13805170000",
    }
    with caplog.at_level(logging.ERROR, logger="api"):
        response = api.client.post("/v1/elders", json=elder, headers=api.staff.auth("coordinator"))
    body = problem_of(response, 500)
    assert body["correlation_id"] == response.headers["X-Correlation-ID"]
    assert "ValueError" in caplog.text and body["correlation_id"] in caplog.text
    assert "王德明" not in caplog.text and "13805170000" not in caplog.text
    assert "王德明" not in response.text


def test_no_problem_and_no_log_line_quotes_a_request_s_free_text(
    api: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    """A name typed into a code field, a township or a comment is never sent back in a problem, nor logged."""
    staff, client, name = api.staff, api.client, "王德明"
    volunteer_id, _, pairing_id = staff.pair(date(2026, 1, 1))
    visit_id = staff.visit(pairing_id, volunteer_id, FEB, confirm=False)
    coordinator = staff.auth("coordinator")
    with caplog.at_level(logging.DEBUG):
        answers = [
            client.post(f"/v1/visits/{visit_id}/dispute", json={"reason_code": f"{name}说没来"}, headers=coordinator),
            client.post(
                "/v1/elders", headers=coordinator,
                json={"name": "李", "birth_date": "1931-04-12", "sex": "male", "township": f"{name}家",
                      "address": "x", "phone": "1"},
            ),
            client.post(f"/v1/visits/{visit_id}/dispute", json={"reason_code": "wrong_time", "comment": f"{name}说"},
                        headers=coordinator),
            client.post(f"/v1/visits/{visit_id}/dispute", json={"reason_code": "wrong_time", "comment": f"{name}又说"},
                        headers=coordinator),
        ]  # fmt: skip
    assert [a.status_code for a in answers] == [422, 409, 200, 409], [a.text for a in answers]
    for answer in answers[:2] + answers[3:]:
        assert answer.headers["content-type"] == PROBLEM and name not in answer.text, answer.text
    assert problem_of(answers[0], 422)["detail"].startswith("reason_code: '…' is not one of")
    assert name not in caplog.text


# No request gets a 500 ------------------------------------------------------------------------

BAD_VALUES: list[Any] = [
    None,
    "",
    " ",
    "x" * 3000,
    "\ud800",
    "a\x00b",
    0,
    -1,
    10**40,
    -(10**40),
    1.5,
    1e308,
    True,
    [],
    {},
    [1, "a"],
    {"a": {"b": None}},
    "2026-02-10T10:00:00",
    "9999-12-31T23:59:59+14:00",
    "0001-01-01T00:00:00-12:00",
    "9999-12-31",
    "0001-01-01",
    "NaN",
    "-Infinity",
    "not-an-id",
    "00000000-0000-0000-0000-000000000000",
    "2026-13",
    "9999-12",
    "0000-01",
    "高沟镇",
]
RAW_BODIES = [
    b"",
    b"null",
    b"[]",
    b'"text"',
    b"12",
    b"Infinity",
    b'{"travel_km": 1e400}',
    b"[" * 5000 + b"]" * 5000,
    b"\xff\xfe\x00",
    b'{"a": "\\ud800"}',
    b"{" * 10_000,
]
ALLOWED = {200, 201, 400, 403, 404, 405, 409, 412, 413, 422}


def test_no_request_on_any_write_gets_a_5xx(api: Harness) -> None:
    routes = valid_requests(api)
    seen: dict[int, int] = {}
    for path, body, who in routes:
        for variant in mutations(body):
            note(seen, post_json(api, path, variant, api.staff.auth(who)), path, variant)
        for raw in RAW_BODIES:
            headers = {**api.staff.auth(who), "content-type": "application/json"}
            note(seen, api.client.post(path, content=raw, headers=headers), path, raw[:40])
        for other_id in (str(uuid.uuid4()), "not-an-id", "0" * 400):
            strange = path.replace(path.split("/")[3], other_id) if path.count("/") > 3 else path + "/" + other_id
            note(seen, api.client.post(strange, json=body, headers=api.staff.auth(who)), strange, body)
    assert seen.get(201, 0) + seen.get(200, 0) > 0 and seen.get(422, 0) > 100, seen


def note(seen: dict[int, int], response: Any, path: str, sent: Any) -> None:
    assert response.status_code in ALLOWED, (path, sent, response.status_code, response.text[:300])
    if response.status_code >= 400:
        assert response.headers["content-type"] == PROBLEM, (path, sent)
    seen[response.status_code] = seen.get(response.status_code, 0) + 1


def mutations(body: dict[str, Any] | None) -> Iterator[Any]:
    """The body with each field, and each field of a nested object, replaced by each bad value."""
    yield body
    if not body:
        yield {"unexpected": 1}
        return
    for name, value in body.items():
        for bad in BAD_VALUES:
            yield {**body, name: bad}
        if isinstance(value, dict):
            for inner in list(value) or ["x"]:
                for bad in BAD_VALUES[:20]:
                    yield {**body, name: {**value, inner: bad}}
        yield {k: v for k, v in body.items() if k != name}


def valid_requests(api: Harness) -> list[tuple[str, dict[str, Any] | None, str]]:
    """A valid request for every write, against records that exist."""
    staff = api.staff
    volunteer_id, elder_id, pairing_id = staff.pair(date(2026, 1, 1))
    volunteer = api.volunteer_key(volunteer_id)
    visits = [staff.visit(pairing_id, volunteer_id, FEB.replace(day=d)) for d in (3, 6, 9)]
    staff.post("/v1/budgets/2026", {"lines": {"transport": 10**6, "communication": 10**6}}, "finance")
    claim = staff.post("/v1/claims", {"month": "2026-02", "visit_ids": visits[:1]}, volunteer)["id"]
    evaluation = staff.post(
        "/v1/evaluations",
        {"volunteer_id": volunteer_id, "period": "2026-02", "criteria": criteria(90)},
        "evaluator",
    )["id"]
    held = {"held_on": "2025-06-18", "place": "p", "topic": "t", "attendees": [volunteer_id]}
    meeting = staff.post("/v1/meetings", held, "coordinator")["id"]
    staff.post(f"/v1/meetings/{meeting}/suggestions", {"text": "s", "raised_by": volunteer_id}, "coordinator")
    return [
        (
            "/v1/elders",
            {
                "name": "王",
                "birth_date": "1931-04-12",
                "sex": "male",
                "township": "高沟镇",
                "address": "x",
                "phone": "1",
                "notes": "",
            },
            "coordinator",
        ),
        (f"/v1/elders/{elder_id}/relocation", {"township": "涟城镇", "address": "y"}, "coordinator"),
        (f"/v1/elders/{elder_id}/departure", {"kind": "withdrawn", "date": "2026-02-28"}, "coordinator"),
        (
            "/v1/volunteers",
            {"name": "李", "unit": "u", "profession": "doctor", "phone": "2", "township": "高沟镇"},
            "coordinator",
        ),
        (f"/v1/volunteers/{volunteer_id}/trainings", {"course": "c", "hours": 2, "date": "2026-02-01"}, "coordinator"),
        (f"/v1/volunteers/{volunteer_id}/suspension", {"reason": "r"}, "coordinator"),
        (f"/v1/volunteers/{volunteer_id}/reinstatement", {"reason": "r"}, "coordinator"),
        (f"/v1/volunteers/{volunteer_id}/retirement", {"reason": "r"}, "coordinator"),
        (
            "/v1/pairings",
            {"volunteer_id": volunteer_id, "elder_id": elder_id, "group": "g", "from_date": "2026-01-01"},
            "coordinator",
        ),
        (f"/v1/pairings/{pairing_id}/end", {"date": "2026-02-28", "reason": "other"}, "coordinator"),
        ("/v1/visits", visit_body(pairing_id, FEB.replace(day=12)), volunteer),
        (f"/v1/visits/{visits[1]}/confirmation", {"by": "elder", "method": "signature"}, "coordinator"),
        (f"/v1/visits/{visits[1]}/dispute", {"reason_code": "other", "comment": ""}, "coordinator"),
        (
            f"/v1/visits/{visits[2]}/amendment",
            {"changes": {"travel_km": 3, "readings": {"pulse": 70}}, "reason_code": "typo"},
            "coordinator",
        ),
        (f"/v1/visits/{visits[2]}/void", {"reason_code": "duplicate"}, "coordinator"),
        (f"/v1/visits/{visits[0]}/unlock", {"reason": "r"}, "coordinator"),
        (f"/v1/visits/{visits[0]}/feedback", {"rating": 4, "comment": ""}, "coordinator"),
        (
            "/v1/evaluations",
            {"volunteer_id": volunteer_id, "period": "2026-Q1", "criteria": criteria(1), "comment": ""},
            "evaluator",
        ),
        (f"/v1/evaluations/{evaluation}/withdrawal", {"reason": "r"}, "evaluator"),
        ("/v1/budgets/2027", {"lines": {"transport": 1, "communication": 2}}, "finance"),
        ("/v1/budgets/2026/adjustments", {"line": "transport", "delta": 5, "reason": "r"}, "finance"),
        ("/v1/claims", {"month": "2026-02", "visit_ids": visits[1:2]}, volunteer),
        (f"/v1/claims/{claim}/approval", None, "finance"),
        (f"/v1/claims/{claim}/rejection", {"reason": "r"}, "finance"),
        (f"/v1/claims/{claim}/payment", {"payment_reference": "p", "paid_on": "2026-03-01"}, "finance-2"),
        (f"/v1/claims/{claim}/reversal", {"reason": "r"}, "finance"),
        (
            "/v1/policies",
            {"kind": "scoring", "version": 2, "parameters": {"weight_service": 40}, "effective_from": "2026-07-01"},
            "admin",
        ),
        ("/v1/meetings", held, "coordinator"),
        (f"/v1/meetings/{meeting}/suggestions", {"text": "s", "raised_by": volunteer_id}, "coordinator"),
        (f"/v1/meetings/{meeting}/suggestions/1/answer", {"text": "a", "status": "noted"}, "coordinator"),
    ]
