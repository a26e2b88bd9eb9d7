"""Seals over HTTP on both stores: recording, listing, the key, verification, proofs, bad input, readiness."""

from __future__ import annotations

import base64
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from projections.seals import create_key_file, merkle
from tests.harness import Harness, harness
from tests.integration.test_seals import Raw, edit_a_byte_of_state

PROBLEM = "application/problem+json"


@pytest.fixture
def key_file(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "tiexin-seal.key"
    path.parent.mkdir()
    create_key_file(path)
    return path


@pytest.fixture
def api(store_url: str, key_file: Path) -> Iterator[Harness]:
    with harness(store_url, seal_key_file=str(key_file), verify_every_seconds=0, projections=False) as made:
        for _ in range(2):
            made.staff.pair(date(2026, 1, 1))
        yield made


def call(api: Harness, method: str, path: str, who: str = "auditor", status: int = 200) -> Any:
    response = api.client.request(method, path, headers=api.staff.auth(who))
    assert response.status_code == status, (path, response.status_code, response.text)
    if status >= 400:
        assert response.headers["content-type"] == PROBLEM
    return response.json()


def test_auditors_and_admins_record_seals_and_list_them_in_pages(api: Harness, key_file: Path) -> None:
    first = call(api, "POST", "/v1/audit/seals", status=201)
    assert first["seq"] == 1 and first["tree_size"] == first["last_position"] == api.events()
    api.staff.pair(date(2026, 1, 1))
    second = call(api, "POST", "/v1/audit/seals", "admin", status=201)
    assert second["seq"] == 2 and second["tree_size"] > first["tree_size"]
    call(api, "POST", "/v1/audit/seals", "coordinator", status=403)
    page = call(api, "GET", "/v1/audit/seals?limit=1")
    assert [s["seq"] for s in page["items"]] == [1] and page["next_cursor"]
    rest = call(api, "GET", f"/v1/audit/seals?limit=1&cursor={page['next_cursor']}")
    assert rest["items"] == [second] and rest["next_cursor"] is None
    assert call(api, "GET", "/v1/audit/seals/2") == second
    key = call(api, "GET", "/v1/audit/seal-key", "coordinator")
    assert key["fingerprint"] == first["key_fingerprint"] and key["public_key_pem"].startswith("-----BEGIN PUBLIC KEY")


def test_without_a_seal_key_sealing_is_a_problem_that_says_how_to_make_one(store_url: str, tmp_path: Path) -> None:
    with harness(store_url, seal_key_file=str(tmp_path / "none.key"), verify_every_seconds=0, projections=False) as api:
        problem = call(api, "POST", "/v1/audit/seals", status=409)
        assert problem["rule"] == "seal.no_key" and "tiexin keys seal-key" in problem["detail"]
        assert "tiexin keys seal-key" in call(api, "GET", "/v1/audit/seal-key", status=404)["detail"]


def test_verification_answers_intact_then_names_tampering_and_readiness_and_metrics_say_so(
    api: Harness, store_url: str
) -> None:
    seal = call(api, "POST", "/v1/audit/seals", status=201)
    verified = call(api, "GET", "/v1/audit/verify")
    assert verified["intact"] and verified["summary"] == f"intact up to position {seal['last_position']} under seal 1"
    assert "given public key" in verified["key"]
    metrics = api.client.get("/metrics", headers=api.staff.auth("auditor")).text
    assert "tiexin_seal_verified 1.0" in metrics
    raw = Raw(store_url)
    at, _ = edit_a_byte_of_state(raw, raw.positions())
    failed = call(api, "GET", "/v1/audit/verify")
    assert (failed["intact"], failed["position"], failed["kind"], failed["seal"]) == (False, at, "edited", 1)
    ready = api.client.get("/readyz")
    assert ready.status_code == 503 and ready.json()["type"].endswith("/not-verified")
    assert f"position {at}: edited" in ready.json()["detail"]
    metrics = api.client.get("/metrics", headers=api.staff.auth("auditor")).text
    assert "tiexin_seal_verified 0.0" in metrics and f"tiexin_seal_verified_position {float(at)}" in metrics
    assert "tiexin_ready 0.0" in metrics
    problem = call(api, "GET", f"/v1/audit/proof/{at}", status=409)
    assert problem["rule"] == "seal.damaged" and f"position {at}" in problem["detail"]


def test_proofs_verify_with_the_rfc_algorithms(api: Harness) -> None:
    call(api, "POST", "/v1/audit/seals", status=201)
    api.staff.pair(date(2026, 1, 1))
    call(api, "POST", "/v1/audit/seals", status=201)
    for position in (1, 5, api.events()):
        answer = call(api, "GET", f"/v1/audit/proof/{position}")
        record = base64.b64decode(answer["record"])
        assert int.from_bytes(record[:8], "big") == position and answer["seal"]["seq"] == 2
        assert merkle.verify_inclusion(
            merkle.leaf_hash(record), answer["leaf_index"], answer["seal"]["tree_size"],
            [bytes.fromhex(h) for h in answer["path"]], bytes.fromhex(answer["seal"]["root"]),
        )  # fmt: skip
    assert call(api, "GET", "/v1/audit/proof/1?seal=1")["seal"]["seq"] == 1
    answer = call(api, "GET", "/v1/audit/consistency?from=1&to=2")
    old, new = answer["from"], answer["to"]
    assert merkle.verify_consistency(
        old["tree_size"], new["tree_size"], bytes.fromhex(old["root"]), bytes.fromhex(new["root"]),
        [bytes.fromhex(h) for h in answer["proof"]],
    )  # fmt: skip


def test_bad_input_is_a_problem(api: Harness) -> None:
    seal = call(api, "POST", "/v1/audit/seals", status=201)
    api.staff.pair(date(2026, 1, 1))
    assert "no event at position" in call(api, "GET", "/v1/audit/proof/999999", status=404)["detail"]
    unsealed = call(api, "GET", f"/v1/audit/proof/{seal['last_position'] + 1}", status=409)
    assert unsealed["rule"] == "seal.not_sealed"
    call(api, "GET", "/v1/audit/proof/0", status=422)
    call(api, "GET", "/v1/audit/proof/abc", status=422)
    call(api, "GET", "/v1/audit/proof/1?seal=9", status=404)
    call(api, "POST", "/v1/audit/seals", status=201)
    after = call(api, "GET", "/v1/audit/consistency?from=2&to=1", status=422)
    assert after["field"] == "query.from"
    call(api, "GET", "/v1/audit/consistency?from=1&to=7", status=404)
    call(api, "GET", "/v1/audit/consistency?from=1", status=422)
    call(api, "GET", "/v1/audit/seals/7", status=404)
    call(api, "GET", "/v1/audit/verify", "coordinator", status=403)


def test_the_server_running_the_read_models_also_seals_and_watches_the_log(store_url: str, key_file: Path) -> None:
    with harness(store_url, seal_key_file=str(key_file), projections=True, seal_every_events=1) as api:
        api.staff.pair(date(2026, 1, 1))
        head = api.events()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            seals = call(api, "GET", "/v1/audit/seals?limit=500")["items"]
            if seals and seals[-1]["last_position"] >= head:
                break
            time.sleep(0.05)
        assert seals and seals[-1]["last_position"] >= head
        deadline = time.monotonic() + 30
        while (
            "tiexin_seal_verified 1.0" not in api.client.get("/metrics", headers=api.staff.auth("auditor")).text
            and time.monotonic() < deadline
        ):
            time.sleep(0.05)
        assert "tiexin_seal_verified 1.0" in api.client.get("/metrics", headers=api.staff.auth("auditor")).text


def test_a_seal_request_repeated_with_its_idempotency_key_gets_the_first_seal(api: Harness) -> None:
    headers = api.staff.auth("auditor", Idempotency_Key="seal-march")
    first = api.client.post("/v1/audit/seals", headers=headers)
    again = api.client.post("/v1/audit/seals", headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again.headers["Idempotent-Replayed"] == "true"
    assert call(api, "GET", "/v1/audit/seals")["items"] == [first.json()]
    tagged = api.client.post("/v1/audit/seals", headers=api.staff.auth("auditor", If_Match='"3"'))
    assert tagged.status_code == 400 and tagged.json()["field"] == "If-Match"
