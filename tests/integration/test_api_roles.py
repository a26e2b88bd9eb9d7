"""Keys and roles: 401 without a valid key, 403 for a wrong role, a volunteer's key reaches only its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import pytest

from api.keys import KeyStore, token_hash
from ledger.errors import InvalidInput, NotFound, RuleViolation
from tests.builders import criteria, visit_body
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 2, 0, tzinfo=UTC)
ROLES = ("coordinator", "volunteer", "evaluator", "finance", "auditor", "admin")
X = "00000000-0000-4000-8000-000000000000"

WHO_WRITES = {
    "coordinator": [
        "/v1/elders",
        f"/v1/elders/{X}/relocation",
        f"/v1/elders/{X}/departure",
        "/v1/volunteers",
        f"/v1/volunteers/{X}/trainings",
        f"/v1/volunteers/{X}/suspension",
        f"/v1/volunteers/{X}/reinstatement",
        f"/v1/volunteers/{X}/retirement",
        "/v1/pairings",
        f"/v1/pairings/{X}/end",
        f"/v1/visits/{X}/confirmation",
        f"/v1/visits/{X}/dispute",
        f"/v1/visits/{X}/amendment",
        f"/v1/visits/{X}/void",
        f"/v1/visits/{X}/unlock",
        f"/v1/visits/{X}/feedback",
        f"/v1/visits/{X}/place-confirmation",
        f"/v1/volunteers/{X}/certificates",
        "/v1/notices",
        "/v1/meetings",
        f"/v1/meetings/{X}/suggestions",
        f"/v1/meetings/{X}/suggestions/1/answer",
    ],
    "volunteer": ["/v1/visits", "/v1/claims", f"/v1/volunteers/{X}/certificates", f"/v1/notices/{X}/read"],
    "evaluator": ["/v1/evaluations", f"/v1/evaluations/{X}/withdrawal"],
    "finance": [
        "/v1/budgets/2026",
        "/v1/budgets/2026/adjustments",
        f"/v1/claims/{X}/approval",
        f"/v1/claims/{X}/rejection",
        f"/v1/claims/{X}/payment",
        f"/v1/claims/{X}/reversal",
    ],
    "admin": ["/v1/policies", f"/v1/volunteers/{X}/certificates"],
    "auditor": [],
}
WHO_READS = {
    f"/v1/elders/{X}": {"coordinator", "auditor", "volunteer"},
    f"/v1/volunteers/{X}": {"coordinator", "auditor", "evaluator", "finance", "volunteer"},
    f"/v1/visits/{X}": {"coordinator", "auditor", "evaluator", "finance", "volunteer"},
    f"/v1/claims/{X}": {"coordinator", "auditor", "finance", "volunteer"},
    f"/v1/volunteers/{X}/certificate": {"coordinator", "admin", "volunteer"},
    f"/v1/notices/{X}": {"coordinator", "auditor", "volunteer"},
    "/v1/notices": {"coordinator", "auditor", "volunteer"},
    f"/v1/meetings/{X}": {"coordinator", "auditor", "volunteer"},
    "/v1/meetings": {"coordinator", "auditor", "volunteer"},
}
SHARED_WRITES = {f"/v1/volunteers/{X}/certificates"}
"""Writes more than one role may make (a certificate: the bureau's roles, or the volunteer's own key)."""


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock) as made:
        made.keys["volunteer"] = made.volunteer_key(made.staff.volunteer())
        yield made


def status(response: Any) -> int:
    code: int = response.status_code
    return code


def test_no_key_a_wrong_key_or_a_revoked_key_is_401(api: Harness) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer tiexin_nope"},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        {"Authorization": "Bearer"},
    ):
        response = api.client.post("/v1/elders", json={}, headers=headers)
        assert status(response) == 401 and response.headers["WWW-Authenticate"].startswith("Bearer")
        assert response.headers["content-type"] == "application/problem+json"
    api.key_store.revoke("coordinator")
    assert status(api.client.post("/v1/elders", json={}, headers=api.staff.auth("coordinator"))) == 401


def test_every_write_is_refused_to_every_other_role_and_nothing_is_written(api: Harness) -> None:
    before = api.events()
    owners = {path: {o for o, paths in WHO_WRITES.items() if path in paths} for path in SHARED_WRITES}
    for owner, paths in WHO_WRITES.items():
        for path in paths:
            for role in ROLES:
                response = api.client.post(path, json={}, headers=api.staff.auth(role))
                if role == owner or role in owners.get(path, ()):
                    assert status(response) not in (401, 403), (role, path, response.text)
                else:
                    assert status(response) == 403, (role, path, response.text)
                    assert response.json()["role"] == role
    assert api.events() == before
    assert len({path for paths in WHO_WRITES.values() for path in paths}) == 34


def test_every_read_is_refused_to_the_roles_that_do_not_need_it(api: Harness) -> None:
    for path, readers in WHO_READS.items():
        for role in ROLES:
            code = status(api.client.get(path, headers=api.staff.auth(role)))
            assert (code != 403) == (role in readers) or (role == "volunteer" and code == 403), (role, path, code)
        assert status(api.client.get(path)) == 401


def test_checking_a_certificate_s_code_is_the_one_read_that_takes_no_key(api: Harness) -> None:
    assert status(api.client.get(f"/v1/volunteers/{X}/certificate")) == 401
    response = api.client.get("/v1/certificates/7KQ2MX9D4T")
    assert status(response) == 404 and response.json()["genuine"] is False  # not genuine: no certificate has it
    assert status(api.client.get("/v1/certificates/7KQ2MX9D4T", headers={"Authorization": "Bearer tiexin_nope"})) == 404


def test_a_volunteer_s_key_writes_and_reads_only_that_volunteer_s_records(api: Harness) -> None:
    staff = api.staff
    mine, mine_elder, my_pairing = staff.pair(date(2026, 1, 1))
    theirs, their_elder, their_pairing = staff.pair(date(2026, 1, 1))
    me = staff.auth(api.volunteer_key(mine))

    response = api.client.post("/v1/visits", json=visit_body(their_pairing, FEB), headers=me)
    assert status(response) == 403 and "another volunteer" in response.json()["detail"]
    my_visit = staff.visit(my_pairing, mine, FEB)
    their_visit = staff.visit(their_pairing, theirs, FEB)

    claim = {"volunteer_id": theirs, "month": "2026-02", "visit_ids": [their_visit]}
    assert status(api.client.post("/v1/claims", json=claim, headers=me)) == 403
    mine_claim = api.client.post("/v1/claims", json={"month": "2026-02", "visit_ids": [my_visit]}, headers=me)
    assert status(mine_claim) == 201
    their_claim = staff.post("/v1/claims", {"month": "2026-02", "visit_ids": [their_visit]}, api.volunteer_key(theirs))

    assert status(api.client.get(f"/v1/visits/{my_visit}", headers=me)) == 200
    assert status(api.client.get(f"/v1/visits/{their_visit}", headers=me)) == 403
    assert status(api.client.get(f"/v1/claims/{mine_claim.json()['id']}", headers=me)) == 200
    assert status(api.client.get(f"/v1/claims/{their_claim['id']}", headers=me)) == 403
    assert status(api.client.get(f"/v1/volunteers/{mine}", headers=me)) == 200
    assert status(api.client.get(f"/v1/volunteers/{theirs}", headers=me)) == 403
    elder = api.client.get(f"/v1/elders/{mine_elder}", headers=me)
    assert status(elder) == 200 and elder.json()["phone"] and elder.json()["personal"] is True
    assert status(api.client.get(f"/v1/elders/{their_elder}", headers=me)) == 403


def test_personal_fields_are_withheld_from_roles_that_do_not_need_them(api: Harness) -> None:
    volunteer_id, elder_id, pairing_id = api.staff.pair(date(2026, 1, 1))
    visit_id = api.staff.visit(pairing_id, volunteer_id, FEB)
    for role, personal in (("coordinator", True), ("auditor", False)):
        elder = api.client.get(f"/v1/elders/{elder_id}", headers=api.staff.auth(role)).json()
        assert elder["personal"] is personal
        assert all((elder[f] is not None) == personal for f in ("name", "birth_date", "address", "phone", "notes"))
        assert elder["township"] == "高沟镇"
    for role, personal in (("coordinator", True), ("auditor", False), ("finance", False), ("evaluator", False)):
        visit = api.client.get(f"/v1/visits/{visit_id}", headers=api.staff.auth(role)).json()
        assert visit["personal"] is personal and (visit["readings"] is not None) == personal, role
    for role, phone, name in (("coordinator", True, True), ("evaluator", False, True), ("auditor", False, False)):
        volunteer = api.client.get(f"/v1/volunteers/{volunteer_id}", headers=api.staff.auth(role)).json()
        assert (volunteer["phone"] is not None) == phone and (volunteer["name"] is not None) == name, role
        assert volunteer["pseudonym"] == f"volunteer-{volunteer_id.replace('-', '')[:8]}"


def test_an_evaluation_is_withdrawn_only_by_the_key_that_submitted_it(api: Harness) -> None:
    volunteer_id = api.staff.volunteer()
    body = {"volunteer_id": volunteer_id, "period": "2026-02", "criteria": criteria(90)}
    evaluation = api.staff.post("/v1/evaluations", body, "evaluator")["id"]
    other = api.key_store.create(role="evaluator", name="evaluator-2")[0]
    path = f"/v1/evaluations/{evaluation}/withdrawal"
    assert status(api.client.post(path, json={"reason": "x"}, headers=api.staff.auth(other))) == 403
    assert status(api.client.post(path, json={"reason": "x"}, headers=api.staff.auth("evaluator"))) == 200


def test_maker_checker_holds_over_http(api: Harness) -> None:
    """Finance keys cannot submit claims, so never approve or pay their own; the ledger checks too."""
    volunteer_id, _, pairing_id = api.staff.pair(date(2026, 1, 1))
    visit_id = api.staff.visit(pairing_id, volunteer_id, FEB)
    body = {"volunteer_id": volunteer_id, "month": "2026-02", "visit_ids": [visit_id]}
    assert status(api.client.post("/v1/claims", json=body, headers=api.staff.auth("finance"))) == 403
    claim = api.staff.post("/v1/claims", body, api.volunteer_key(volunteer_id))["id"]
    api.staff.post("/v1/budgets/2026", {"lines": {"transport": 10**6, "communication": 10**6}}, "finance")
    api.staff.post(f"/v1/claims/{claim}/approval", None, "finance")
    pay = {"payment_reference": "国库-1", "paid_on": "2026-03-01"}
    assert status(api.client.post(f"/v1/claims/{claim}/payment", json=pay, headers=api.staff.auth("finance"))) == 200


def test_keys_are_stored_only_as_hashes_and_listed_without_secrets(api: Harness) -> None:
    store: KeyStore = api.key_store
    token, info = store.create(role="auditor", name="审计-张")
    assert token.startswith("tiexin_") and len(token) > 40
    rows = store.tables.query("SELECT * FROM {api_keys} WHERE id = ?", (info.id,))
    assert token not in repr(rows) and token_hash(token) in repr(rows)
    assert token not in repr(store.list_keys())
    principal = store.authenticate(token)
    assert principal is not None and (principal.key_id, principal.role) == (info.id, "auditor")

    with pytest.raises(RuleViolation):
        store.create(role="auditor", name="审计-张")
    with pytest.raises(InvalidInput):
        store.create(role="system", name="root")
    with pytest.raises(InvalidInput):
        store.create(role="volunteer", name="v-without-id")
    with pytest.raises(InvalidInput):
        store.create(role="finance", name="f-with-id", volunteer_id=UUID(X))
    with pytest.raises(NotFound):
        store.revoke(str(uuid.uuid4()))
    store.revoke(info.id)
    assert store.authenticate(token) is None
    with pytest.raises(RuleViolation):
        store.revoke("审计-张")
