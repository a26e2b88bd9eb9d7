"""Reads from the read models over HTTP: roles, pages, position and lag, waiting for a write, a stopped model.

On a SQLite file and on PostgreSQL, with the read models run in the API's process (the default on
SQLite; ``projections=True`` on PostgreSQL), and once with them run beside it, as another process
would (the API then polls the views' tracking rows).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

import pytest

from ledger.common import COUNTY_TZ
from projections.roster import RosterProjection, RosterView
from projections.service import running
from tests.builders import MASTER_KEY
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 10, 0, tzinfo=COUNTY_TZ)
ROLES = ("coordinator", "volunteer", "evaluator", "finance", "auditor", "admin")
X = "00000000-0000-4000-8000-000000000000"
STAFF_READS = {
    "/v1/elders": {"coordinator", "auditor"},
    "/v1/volunteers": {"coordinator", "auditor", "evaluator"},
    "/v1/roster": {"coordinator", "auditor", "volunteer"},
    "/v1/roster/unpaired": {"coordinator", "auditor"},
    "/v1/roster/overdue?days=7": {"coordinator", "auditor"},
    "/v1/scores?month=2026-02": {"evaluator", "coordinator", "auditor"},
    "/v1/budgets/2026": {"finance", "auditor"},
    "/v1/audit/budget/2026": {"finance", "auditor"},
    "/v1/audit/anomalies": {"finance", "auditor"},
    "/v1/audit/export?year=2026": {"finance", "auditor"},
    f"/v1/history/{X}": {"auditor", "coordinator", "finance"},
    "/v1/policies": set(ROLES),
    "/v1/reports/gift-bags?year=2026": {"coordinator", "auditor", "evaluator"},
    "/v1/reports/trainings?year=2026": {"coordinator", "auditor", "evaluator"},
}


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock, projections=True) as made:
        yield made


def get(api: Harness, path: str, who: str = "auditor", expect: int = 200) -> Any:
    response = api.client.get(path, headers=api.staff.auth(who))
    assert response.status_code == expect, (path, who, response.text)
    return response


def elder_body(n: int, township: str = "高沟镇") -> dict[str, Any]:
    return {
        "name": f"读者{n}", "birth_date": "1933-03-03", "sex": "male", "township": township,
        "address": f"{township}读书路{n}号", "phone": f"1370000{n:04d}",
    }  # fmt: skip


def test_every_read_is_refused_to_the_roles_that_do_not_need_it(api: Harness) -> None:
    volunteer_id = api.staff.volunteer()
    api.keys["volunteer"] = api.volunteer_key(volunteer_id)
    api.staff.post("/v1/budgets/2026", {"lines": {"transport": 10**6, "communication": 10**6}}, "finance")
    reads = {**STAFF_READS, f"/v1/volunteers/{volunteer_id}/score?month=2026-02": {"coordinator", "evaluator",
             "auditor", "volunteer"}}  # fmt: skip
    for path, readers in reads.items():
        for role in ROLES:
            code = api.client.get(path, headers=api.staff.auth(role)).status_code
            assert (code == 403) != (role in readers), (role, path, code)
            assert code < 500
        assert api.client.get(path).status_code == 401


def test_every_list_pages_by_limit_and_cursor_and_says_its_position(api: Harness) -> None:
    written = [api.staff.post("/v1/elders", elder_body(n), "coordinator") for n in range(7)]
    after = written[-1]["position"]
    seen, cursor, pages = [], None, 0
    while True:
        query = f"?township=高沟镇&limit=3&after={after}" + (f"&cursor={cursor}" if cursor else "")
        response = get(api, "/v1/elders" + query, "coordinator")
        body = response.json()
        assert body["position"] >= after and body["lag"] == 0 and body["projection_state"] == "caught_up"
        assert response.headers["X-Tiexin-Position"] == str(body["position"])
        assert response.headers["X-Tiexin-Lag"] == "0" and "X-Tiexin-Behind" not in response.headers
        seen += [item["id"] for item in body["items"]]
        pages += 1
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert pages == 3 and sorted(seen) == sorted(w["id"] for w in written) and len(set(seen)) == 7

    first = get(api, "/v1/elders?township=高沟镇&limit=3", "coordinator").json()
    other_filter = get(api, f"/v1/elders?limit=3&cursor={first['next_cursor']}", expect=400)
    assert other_filter.json()["field"] == "query.cursor"
    assert get(api, "/v1/elders?cursor=not-a-cursor", expect=400).json()["field"] == "query.cursor"
    for limit in (0, 501, "x"):
        assert get(api, f"/v1/elders?limit={limit}", expect=422).json()["field"] == "query.limit"
    assert len(get(api, "/v1/elders?limit=500").json()["items"]) == 7
    assert get(api, "/v1/elders?status=departed").json()["items"] == []
    assert get(api, "/v1/elders?status=gone", expect=422).json()["field"] == "query.status"


def test_lists_carry_personal_data_only_for_the_roles_that_need_it(api: Harness) -> None:
    volunteer_id, elder_id, _ = api.staff.pair(date(2026, 1, 1))
    head = api.events()
    mine = get(api, f"/v1/elders?names=true&after={head}", "coordinator").json()["items"]
    assert [e["name"] for e in mine if e["id"] == elder_id] == [api.client.get(f"/v1/elders/{elder_id}",
            headers=api.staff.auth("coordinator")).json()["name"]]  # fmt: skip
    assert all(e["name"] is None for e in get(api, "/v1/elders").json()["items"])
    get(api, "/v1/elders?names=true", "auditor", expect=403)
    volunteers = get(api, "/v1/volunteers?names=true", "evaluator").json()["items"]
    assert [v["name"] for v in volunteers if v["id"] == volunteer_id] == ["志愿者1"]
    assert "phone" not in volunteers[0]
    assert "name" not in get(api, "/v1/roster").json()["items"][0]


def test_a_volunteer_s_key_reads_only_its_own(api: Harness) -> None:
    mine, _, my_pairing = api.staff.pair(date(2026, 1, 1))
    theirs, _, their_pairing = api.staff.pair(date(2026, 1, 1))
    me = api.volunteer_key(mine)
    my_visit = api.staff.visit(my_pairing, mine, FEB)
    their_visit = api.staff.visit(their_pairing, theirs, FEB)
    head = api.events()

    roster = get(api, f"/v1/roster?after={head}", me).json()["items"]
    assert [p["pairing_id"] for p in roster] == [my_pairing]
    assert [p["pairing_id"] for p in get(api, f"/v1/roster?volunteer_id={theirs}", me).json()["items"]] == [my_pairing]
    assert len(get(api, "/v1/roster").json()["items"]) == 2
    score = get(api, f"/v1/volunteers/{mine}/score?month=2026-02&after={head}", me).json()
    assert score["volunteer_id"] == mine and score["inputs"]["contacts_done"] == 1
    get(api, f"/v1/volunteers/{theirs}/score?month=2026-02", me, expect=403)
    assert [h["event"] for h in get(api, f"/v1/history/{my_visit}?after={head}", me).json()["items"]] == [
        "Recorded",
        "Confirmed",
    ]
    assert get(api, f"/v1/history/{mine}", me).json()["items"][0]["event"] == "Recruited"
    for path in (f"/v1/history/{their_visit}", f"/v1/history/{theirs}", f"/v1/history/{X}", "/v1/scores"):
        get(api, path, me, expect=403)


def test_after_a_write_the_read_waits_for_it_and_returns_it(api: Harness, capsys: pytest.CaptureFixture[str]) -> None:
    timings = []
    for n in range(25):
        written = api.staff.post("/v1/elders", elder_body(100 + n, "涟城镇"), "coordinator")
        started = time.perf_counter()
        response = get(api, f"/v1/elders?township=涟城镇&limit=500&after={written['position']}", "coordinator")
        timings.append((time.perf_counter() - started) * 1000)
        assert written["id"] in [item["id"] for item in response.json()["items"]]
        assert int(response.headers["X-Tiexin-Position"]) >= written["position"]
        assert "X-Tiexin-Behind" not in response.headers
    with capsys.disabled():
        print(
            f"\n[{api.services.settings.database_url.split(':')[0]}, in-process] write → readable "
            f"(GET ?after=): median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms over 25 writes"
        )


def test_a_position_not_reached_in_time_is_answered_with_how_far_behind(api: Harness) -> None:
    head = api.events()
    started = time.monotonic()
    response = get(api, f"/v1/roster?after={head + 1000}&wait=0.3")
    waited = time.monotonic() - started
    assert 0.3 <= waited < 2.0
    assert int(response.headers["X-Tiexin-Behind"]) == head + 1000 - int(response.headers["X-Tiexin-Position"])
    assert response.json()["projection_state"] == "caught_up"
    assert get(api, "/v1/roster?after=1&wait=11", expect=422).json()["field"] == "query.wait"
    assert get(api, "/v1/roster?after=-1", expect=422).json()["field"] == "query.after"


def test_a_stopped_read_model_says_so_instead_of_serving_stale_rows_silently(
    api: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    elder_id = api.staff.elder()
    original = RosterProjection.apply

    def refuses_departures(self: RosterProjection, writer: Any, event: Any, notification: Any) -> None:
        if notification.topic == "tiexin.elder.Departed":
            raise ValueError("cannot apply a departure")
        original(self, writer, event, notification)

    monkeypatch.setattr(RosterProjection, "apply", refuses_departures)
    departed = api.staff.post(f"/v1/elders/{elder_id}/departure", {"kind": "withdrawn", "date": "2026-02-20"},
                              "coordinator")  # fmt: skip
    started = time.monotonic()
    response = get(api, f"/v1/elders?after={departed['position']}")
    assert time.monotonic() - started < 1.5  # a stopped model is not waited for
    body = response.json()
    assert body["projection_state"] == "stopped" and response.headers["X-Tiexin-Projection-State"] == "stopped"
    assert f"at position {departed['position']}" in body["projection_reason"]
    assert "cannot apply a departure" in body["projection_reason"]
    assert body["lag"] >= 1 and body["position"] < departed["position"]
    assert int(response.headers["X-Tiexin-Behind"]) >= 1
    assert [e["status"] for e in body["items"] if e["id"] == elder_id] == ["active"]  # stale, and says so
    history = get(api, f"/v1/history/{elder_id}?after={departed['position']}").json()
    assert history["projection_state"] == "caught_up" and len(history["items"]) == 2  # the others go on


def test_read_models_run_by_another_process_are_read_by_polling_their_views(
    store_url: str, clock: Clock, capsys: pytest.CaptureFixture[str]
) -> None:
    with harness(store_url, clock=clock, projections=False) as api:
        elder = api.staff.post("/v1/elders", elder_body(1), "coordinator")
        nobody = get(api, f"/v1/elders?after={elder['position']}&wait=0.2").json()
        assert nobody["projection_state"] == "never run" and nobody["items"] == []
        assert nobody["lag"] == api.events() and nobody["position"] == 0
        with running(store_url, poll_interval=0.02, master_key=MASTER_KEY):
            timings = []
            for n in range(10):
                written = api.staff.post("/v1/elders", elder_body(200 + n), "coordinator")
                started = time.perf_counter()
                body = get(api, f"/v1/elders?limit=500&after={written['position']}").json()
                timings.append((time.perf_counter() - started) * 1000)
                assert written["id"] in [item["id"] for item in body["items"]]
                assert body["projection_state"] in ("caught_up", "running")
        with capsys.disabled():
            print(
                f"\n[{store_url.split(':')[0]}, runner in another service, polled every 20 ms] write → readable: "
                f"median {statistics.median(timings):.1f} ms, max {max(timings):.1f} ms over 10 writes"
            )
        time.sleep(1.1)  # the saved state is read at most once a second
        assert get(api, "/v1/elders").json()["projection_state"] == "offline"


def test_roster_reads_pairings_unpaired_and_overdue(api: Harness, clock: Clock) -> None:
    volunteer_id, elder_id, pairing_id = api.staff.pair(date(2026, 1, 1))
    lonely = api.staff.elder()
    api.staff.visit(pairing_id, volunteer_id, FEB)
    head = api.events()
    pairings = get(api, f"/v1/roster?group=第1组&after={head}", "coordinator").json()["items"]
    assert [(p["volunteer_id"], p["elder_id"], p["volunteer_status"]) for p in pairings] == [
        (volunteer_id, elder_id, "active")
    ]
    assert get(api, "/v1/roster?township=涟城镇").json()["items"] == []
    assert [u["elder_id"] for u in get(api, "/v1/roster/unpaired").json()["items"]] == [lonely]
    overdue = get(api, "/v1/roster/overdue?days=40").json()["items"]
    assert [o["elder_id"] for o in overdue] == [lonely]  # 2026-02-03 is within 40 days of 2026-03-01
    overdue = get(api, "/v1/roster/overdue?days=7").json()["items"]
    assert [o["elder_id"] for o in overdue] == [lonely, elder_id]  # never contacted first
    assert overdue[1]["volunteer_ids"] == [volunteer_id] and overdue[1]["days_without_contact"] == 26
    clock.advance(days=30)
    assert get(api, "/v1/roster/overdue?days=40").json()["items"][1]["days_without_contact"] == 56
    assert get(api, "/v1/roster/overdue?days=-1", expect=422).json()["field"] == "query.days"


def test_a_repeated_read_is_answered_from_the_kept_answer_until_its_model_moves(
    api: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    volunteer_id, _, pairing_id = api.staff.pair(date(2026, 1, 1))
    reads: list[str | None] = []
    original = RosterView.pairings

    def counted(self: RosterView, **filters: Any) -> Any:
        reads.append(filters.get("township"))
        return original(self, **filters)

    monkeypatch.setattr(RosterView, "pairings", counted)
    first = get(api, f"/v1/roster?after={api.events()}")
    assert get(api, "/v1/roster").content == first.content and len(reads) == 1
    assert get(api, "/v1/roster?township=涟城镇").json()["items"] == [] and len(reads) == 2
    assert [p["pairing_id"] for p in get(api, "/v1/roster", api.volunteer_key(volunteer_id)).json()["items"]] == [
        pairing_id
    ]
    assert len(reads) == 3  # a volunteer's answer is its own
    fresh = api.client.get("/v1/roster", headers={**api.staff.auth("auditor"), "Cache-Control": "no-cache"})
    assert fresh.content == first.content and len(reads) == 4

    _, _, another = api.staff.pair(date(2026, 1, 1))
    moved = get(api, f"/v1/roster?after={api.events()}").json()
    assert another in [p["pairing_id"] for p in moved["items"]] and len(reads) == 5
    assert moved["position"] > first.json()["position"] and moved["lag"] == 0


def test_a_list_joined_with_names_from_the_ledger_is_never_kept(api: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    api.staff.elder()
    reads: list[bool] = []
    original = RosterView.elders

    def counted(self: RosterView, **filters: Any) -> Any:
        reads.append(True)
        return original(self, **filters)

    monkeypatch.setattr(RosterView, "elders", counted)
    head = api.events()
    for _ in range(2):
        get(api, f"/v1/elders?names=true&after={head}", "coordinator")
    assert len(reads) == 2
    for _ in range(2):
        get(api, "/v1/elders", "coordinator")
    assert len(reads) == 3


def test_the_read_side_starts_and_stops_with_the_app(store_url: str, clock: Clock) -> None:
    with harness(store_url, clock=clock, projections=True) as api:
        reads = api.services.reads
        assert reads is not None and reads.service is not None
        threads = list(reads.service._threads.values())
        assert threads and all(t.is_alive() for t in threads)
    assert api.services.reads is None and not any(t.is_alive() for t in threads)
    with harness(store_url, clock=clock, projections=True, keys_named="again-") as api:
        assert get(api, "/v1/roster").json()["projection_state"] in ("caught_up", "running")


def test_policies_read_the_versions_in_force(api: Harness) -> None:
    from ledger.policies import DEFAULT_PARAMETERS

    later = {**DEFAULT_PARAMETERS["subsidy"], "transport_cross_township_fen": 2500}
    api.staff.post("/v1/policies", {"kind": "subsidy", "version": 2, "parameters": later,
                                    "effective_from": "2026-07-01"}, "admin")  # fmt: skip
    now = {p["kind"]: p for p in get(api, "/v1/policies", "finance").json()["items"]}
    assert now["subsidy"]["in_force"]["version"] == 1 and len(now["subsidy"]["versions"]) == 2
    assert now["scoring"]["in_force"]["version"] == 1
    july = get(api, "/v1/policies?on=2026-07-01").json()
    assert {p["kind"]: p["in_force"]["version"] for p in july["items"]} == {"subsidy": 2, "scoring": 1, "gift_bag": 1}
    assert july["projection_state"] == "ledger" and july["position"] == api.events()
