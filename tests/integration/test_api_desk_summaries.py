"""The desk's summaries over HTTP, on a SQLite file and on PostgreSQL: each township's elders
(``/v1/roster/townships``), a month's contacts by township and kind (``/v1/reports/contacts``) and a
budget year month by month (``/v1/audit/budget/{year}/burndown``).

On the seed-1 demo county (built once per store, its read models caught up), every figure is the one
the lists and budgets answer: the unpaired and overdue lists counted by township, the visits listed
for the month counted by township and kind, the budget now. On a store of a few records moved through
four months by hand, the burndown shows each movement in the month it was recorded, and each answer
as of a past day is that day's. An empty store answers empty lists and zeros; a role that may not read
a summary gets 403 and writes nothing; a malformed parameter gets 422 (a foreign cursor 400).
"""

from __future__ import annotations

import itertools
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import uuid4

import pytest

from api import asof as http_asof
from ledger.budgets import budget_id
from ledger.common import COUNTY_TZ, county_date, month_of
from ledger.counties import LIANSHUI, LIANSHUI_TOWNSHIPS
from ledger.visits import VisitKind
from projections import registry
from projections.runner import Runner
from projections.service import open_log
from tests.builders import FINANCE_A, MASTER_KEY
from tests.conftest import Clock, fresh_postgres_schema
from tests.demo_store import seeded_demo
from tests.harness import Harness, harness

PROBLEM = "application/problem+json"
SUMMARIES = ("/v1/roster/townships", "/v1/reports/contacts", "/v1/audit/budget/2026/burndown")
READERS = {
    "/v1/roster/townships": {"coordinator", "auditor"},
    "/v1/reports/contacts": {"coordinator", "auditor", "evaluator", "finance"},
    "/v1/audit/budget/2026/burndown": {"auditor", "finance"},
}
FIGURES = ("appropriated", "committed", "paid", "available")
KEYS = itertools.count(1)


def get(api: Harness, path: str, who: str, expect: int = 200, **params: Any) -> Any:
    response = api.client.get(path, params=params, headers=api.staff.auth(who))
    assert response.status_code == expect, (path, params, who, response.status_code, response.text[:500])
    if expect >= 400:
        assert response.headers["content-type"] == PROBLEM, response.headers
    return response.json()


def every(api: Harness, path: str, who: str, **params: Any) -> list[dict[str, Any]]:
    """Every item of a list, page after page."""
    items: list[dict[str, Any]] = []
    cursor = None
    while True:
        page = get(api, path, who, limit=500, **params, **({"cursor": cursor} if cursor else {}))
        items += page["items"]
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def figures(line: dict[str, Any]) -> tuple[int, ...]:
    return tuple(line[f] for f in FIGURES)


def budget_figures(answer: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """A budget's (or a burndown point's) lines and total by name."""
    return {line["line"]: figures(line) for line in [*answer["lines"], answer["total"]]}


# The demo county ----------------------------------------------------------------------------------


def built(url: str) -> str:
    seeded_demo(url)
    log = open_log(url, MASTER_KEY)
    try:
        for name in ("desk", "audit", "roster"):
            projection = registry.open_projection(name, url)
            runner = Runner(log, projection, save_status=False)
            runner.run_once()
            assert (runner.state.status, runner.state.failure) == ("caught_up", None), runner.state
            projection.paged_view.close()
    finally:
        log.close()
    return url


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> str:
    return built(f"sqlite:///{tmp_path_factory.mktemp('summaries')}/tiexin.db")


@pytest.fixture(scope="module")
def postgres_demo() -> Iterator[str]:
    with fresh_postgres_schema("t_summaries") as url:
        yield built(url)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """The API on the demo county (its clock the real one: the demo's year, 2025, is past); no read model
    runs here: ``built`` caught them up."""
    url: str = request.getfixturevalue(f"{request.param}_demo")
    with harness(url, projections=False, keys_named=f"summaries-{next(KEYS)}-") as made:
        yield made


def today() -> date:
    return county_date(datetime.now(UTC))


@pytest.mark.parametrize("since", [None, date(2025, 12, 1), date(2025, 12, 16), date(2018, 1, 1)])
def test_each_township_counts_what_the_unpaired_and_overdue_lists_hold(demo: Harness, since: date | None) -> None:
    days = 30 if since is None else (today() - since).days  # no contact since: the demo's last month, or ever
    answer = get(demo, "/v1/roster/townships", "coordinator", days=days, county=LIANSHUI)
    assert answer["position"] > 0 and answer["as_of"] is None and answer["next_cursor"] is None
    townships = {(t["county"], t["township"]): t for t in answer["items"]}
    assert [t for _, t in townships] == sorted(LIANSHUI_TOWNSHIPS)  # every township has elders; by code point

    unpaired = Counter(u["township"] for u in every(demo, "/v1/roster/unpaired", "coordinator"))
    overdue = Counter(o["township"] for o in every(demo, "/v1/roster/overdue", "coordinator", days=days))
    present = Counter(e["township"] for e in every(demo, "/v1/elders", "coordinator", status="active"))
    assert sum(present.values()) > 400  # the demo leaves nobody unpaired: the hand-made store below does
    for (_, township), t in townships.items():
        assert (t["elders"], t["unpaired"], t["overdue"]) == (present[township], unpaired[township], overdue[township])
        assert t["paired"] == t["elders"] - t["unpaired"] >= 0
    overdue_in_all = sum(t["overdue"] for t in townships.values())
    if since is None:  # the demo's year ended long before the last 30 days
        assert overdue_in_all == sum(present.values())
    if since == date(2025, 12, 16):  # some were contacted in the second half of December, some not
        assert 0 < overdue_in_all < sum(present.values())


def test_the_townships_take_the_lists_filters_and_pages(demo: Harness) -> None:
    every_county = get(demo, "/v1/roster/townships", "auditor")
    assert every_county["items"] == get(demo, "/v1/roster/townships", "auditor", county=LIANSHUI)["items"]
    assert get(demo, "/v1/roster/townships", "auditor", category="retired_cadre")["items"] == every_county["items"]
    assert get(demo, "/v1/roster/townships", "auditor", category="disabled")["items"] == []  # the demo has none
    assert get(demo, "/v1/roster/townships", "auditor", county="huaiyin")["items"] == []

    paged = every(demo, "/v1/roster/townships", "auditor")
    first = get(demo, "/v1/roster/townships", "auditor", limit=10)
    assert len(first["items"]) == 10 and first["next_cursor"]
    assert paged == every_county["items"]
    get(demo, "/v1/roster/townships", "auditor", 400, cursor=first["next_cursor"], days=7)  # another query's


@pytest.mark.parametrize("month", ["2025-06", "2025-12"])
def test_a_month_s_contacts_are_the_visits_listed_for_it_that_were_not_voided(demo: Harness, month: str) -> None:
    listed = every(demo, "/v1/visits", "coordinator", month=month)
    counted = Counter((v["township"], v["kind"]) for v in listed if v["status"] != "voided")
    assert len(counted) > 25 and len(listed) > 500

    answer = get(demo, "/v1/reports/contacts", "evaluator", month=month, county=LIANSHUI, lang="en")
    assert (answer["county"], answer["month"]) == (LIANSHUI, month) and answer["position"] > 0
    assert [r["township"] for r in answer["rows"]] == list(LIANSHUI_TOWNSHIPS)  # the county's order, every one
    for row in answer["rows"]:
        kinds = {k["kind"]: k["contacts"] for k in row["kinds"]}
        assert list(kinds) == list(VisitKind)
        assert kinds == {kind: counted[row["township"], kind] for kind in VisitKind}, row["township"]
        assert row["contacts"] == sum(kinds.values())
        assert row["home_visits"] == row["contacts"] - kinds["phone_call"]
    total = answer["total"]
    assert total["contacts"] == sum(counted.values()) == sum(r["contacts"] for r in answer["rows"])
    assert {k["kind"]: k["kind_label"] for k in total["kinds"]}["phone_call"] == "phone call"
    assert {k["kind"]: k["contacts"] for k in total["kinds"]} == {
        kind: sum(n for (_, k), n in counted.items() if k == kind) for kind in VisitKind
    }


def test_the_contacts_default_to_this_county_month_with_chinese_labels(demo: Harness) -> None:
    answer = get(demo, "/v1/reports/contacts", "finance")
    assert (answer["county"], answer["month"]) == (LIANSHUI, month_of(today()))
    assert answer == {**get(demo, "/v1/reports/contacts", "finance", month=month_of(today())), "lag": answer["lag"]}
    assert answer["total"]["contacts"] == 0  # the demo's year is past
    assert {k["kind"]: k["kind_label"] for k in answer["total"]["kinds"]}["phone_call"] == "电话问候"
    get(demo, "/v1/reports/contacts", "coordinator", 404, county="nowhere")


def test_the_burndown_of_a_year_ended_has_twelve_months_and_the_budget_now(demo: Harness) -> None:
    budget = get(demo, "/v1/budgets/2025", "finance")
    answer = get(demo, "/v1/audit/budget/2025/burndown", "auditor")
    assert budget_figures(answer) == budget_figures(budget) and answer["position"] == budget["position"]
    points = answer["months"]
    assert [(p["month"], p["partial"]) for p in points] == [(f"2025-{m:02d}", False) for m in range(1, 13)]
    assert [p["through"] for p in points][::11] == ["2025-01-31", "2025-12-31"]
    for point in points:
        assert [line["line"] for line in point["lines"]] == [line["line"] for line in budget["lines"]]
        for line in [*point["lines"], point["total"]]:
            assert line["available"] == line["appropriated"] - line["committed"]
        assert point["total"]["appropriated"] == budget["total"]["appropriated"]  # appropriated in December 2024
    paid = [p["total"]["paid"] for p in points]
    assert paid[0] == 0 and paid == sorted(paid) and paid[-1] > 0  # paid month after month
    # December's claims were approved and paid in January 2026: in the budget now, not in December's point
    assert points[-1]["total"]["paid"] < budget["total"]["paid"]
    assert get(demo, "/v1/audit/budget/2026/burndown", "finance")["lines"] == []  # the demo appropriated no 2026


def test_each_point_of_the_burndown_is_the_budget_as_of_its_month_s_last_day(
    demo: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(http_asof, "REPLAY_WAIT", 300.0)  # one replay of the demo's audit, on a busy machine
    points = {p["month"]: p for p in get(demo, "/v1/audit/budget/2025/burndown", "auditor")["months"]}
    then = get(demo, "/v1/budgets/2025", "finance", as_of="2025-06-30")
    assert budget_figures(points["2025-06"]) == budget_figures(then)
    replayed = get(demo, "/v1/audit/budget/2025/burndown", "auditor", as_of="2025-06-30")
    assert [p["month"] for p in replayed["months"]] == [f"2025-{m:02d}" for m in range(1, 7)]
    assert replayed["months"][:5] == [points[f"2025-{m:02d}"] for m in range(1, 6)]
    assert replayed["months"][-1] == {**points["2025-06"], "partial": True}
    assert budget_figures(replayed) == budget_figures(then) and replayed["position"] == then["position"]


# A store moved by hand ----------------------------------------------------------------------------


@dataclass
class FourMonths:
    """2026: a budget appropriated on 10 January, raised on 20 February; a claim of February's two visits
    submitted and approved on 2 March, paid on 5 April; read on 10 April. One elder departed, one unpaired."""

    api: Harness
    clock: Clock
    claim: str
    township: str


@pytest.fixture
def four_months(store_url: str, clock: Clock) -> Iterator[FourMonths]:
    clock.now = datetime(2026, 1, 10, 1, 0, tzinfo=UTC)
    with harness(store_url, clock=clock, projections=True) as api:
        staff = api.staff
        staff.post("/v1/budgets/2026", {"lines": {"transport": 1_000_000, "communication": 200_000}}, "finance")
        volunteer, elder, pairing = staff.pair(date(2026, 1, 1))
        staff.elder("唐集镇")  # unpaired
        departed = staff.elder("唐集镇")
        staff.post(f"/v1/elders/{departed}/departure", {"kind": "moved_away", "date": "2026-01-09"}, "coordinator")
        clock.now = datetime(2026, 2, 20, 1, 0, tzinfo=UTC)
        body = {"line": "transport", "delta": 500_000, "reason": "追加预算"}
        staff.post("/v1/budgets/2026/adjustments", body, "finance")
        start = datetime(2026, 2, 3, 10, 0, tzinfo=COUNTY_TZ)
        visits = [staff.visit(pairing, volunteer, start + timedelta(days=d)) for d in (0, 3)]
        clock.now = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
        claim = staff.post("/v1/claims", {"month": "2026-02", "visit_ids": visits}, api.volunteer_key(volunteer))
        staff.post(f"/v1/claims/{claim['id']}/approval", None, "finance")
        clock.now = datetime(2026, 4, 5, 1, 0, tzinfo=UTC)
        payment = {"payment_reference": "PAY-2026-04-001", "paid_on": "2026-04-05"}
        staff.post(f"/v1/claims/{claim['id']}/payment", payment, "finance-2")
        clock.now = datetime(2026, 4, 10, 1, 0, tzinfo=UTC)
        assert elder
        yield FourMonths(api, clock, claim["id"], "高沟镇")


def after(api: Harness) -> dict[str, int]:
    """Wait for the read model to reflect every write so far."""
    return {"after": api.events(), "wait": 10}


def test_the_burndown_shows_each_movement_in_the_month_it_was_recorded(four_months: FourMonths) -> None:
    api = four_months.api
    answer = get(api, "/v1/audit/budget/2026/burndown", "finance", **after(api))
    transport = {p["month"]: figures(p["lines"][0]) for p in answer["months"]}
    assert transport == {
        "2026-01": (1_000_000, 0, 0, 1_000_000),
        "2026-02": (1_500_000, 0, 0, 1_500_000),
        "2026-03": (1_500_000, 2_000, 0, 1_498_000),  # two home visits in the volunteer's township: ¥10 each
        "2026-04": (1_500_000, 2_000, 2_000, 1_498_000),
    }
    communication = [figures(p["lines"][1]) for p in answer["months"]]
    assert communication == [(200_000, 0, 0, 200_000)] * 2 + [
        (200_000, 3_000, 0, 197_000),
        (200_000, 3_000, 3_000, 197_000),
    ]
    assert [(p["through"], p["partial"]) for p in answer["months"]] == [
        ("2026-01-31", False), ("2026-02-28", False), ("2026-03-31", False), ("2026-04-10", True),
    ]  # fmt: skip
    assert budget_figures(answer["months"][-1]) == budget_figures(get(api, "/v1/budgets/2026", "finance"))

    api.staff.post(f"/v1/claims/{four_months.claim}/reversal", {"reason": "重复申领"}, "finance")
    reversed_ = get(api, "/v1/audit/budget/2026/burndown", "auditor", **after(api))
    assert reversed_["months"][:3] == answer["months"][:3]  # the past stays as it was known
    assert budget_figures(reversed_["months"][-1]) == budget_figures(get(api, "/v1/budgets/2026", "finance"))
    assert reversed_["total"]["committed"] == reversed_["total"]["paid"] == 0

    assert get(api, "/v1/audit/budget/2025/burndown", "finance")["months"][-1]["month"] == "2025-12"
    assert get(api, "/v1/audit/budget/2027/burndown", "finance")["months"] == []  # a year not begun


def test_a_summary_as_of_a_past_day_is_what_the_lists_and_the_budget_answered_then(four_months: FourMonths) -> None:
    api = four_months.api
    day = "2026-03-31"
    burndown = get(api, "/v1/audit/budget/2026/burndown", "auditor", as_of=day)
    assert (burndown["as_of"], burndown["projection_state"]) == (day, "as_of")
    assert [(p["month"], p["partial"]) for p in burndown["months"]][-1] == ("2026-03", True)
    then = get(api, "/v1/budgets/2026", "finance", as_of=day)
    assert budget_figures(burndown["months"][-1]) == budget_figures(burndown) == budget_figures(then)
    assert burndown["total"]["paid"] == 0 and burndown["total"]["committed"] == 5_000

    townships = get(api, "/v1/roster/townships", "auditor", as_of=day, days=30)
    assert townships["as_of"] == day
    counts = {t["township"]: (t["elders"], t["paired"], t["unpaired"], t["overdue"]) for t in townships["items"]}
    assert counts == {"高沟镇": (1, 1, 0, 1), "唐集镇": (1, 0, 1, 1)}  # the visits of 3 and 6 Feb: over 30 days
    unpaired = get(api, "/v1/roster/unpaired", "auditor", as_of=day)["items"]
    overdue = get(api, "/v1/roster/overdue", "auditor", as_of=day, days=30)["items"]
    assert (len(unpaired), len(overdue)) == (1, 2)
    live = get(api, "/v1/roster/townships", "auditor", days=30)  # 10 April: 66 and 63 days
    assert {t["township"]: t["overdue"] for t in live["items"]} == {"高沟镇": 1, "唐集镇": 1}
    assert {t["township"]: t["overdue"] for t in get(api, "/v1/roster/townships", "auditor", days=70)["items"]} == {
        "高沟镇": 0, "唐集镇": 1,
    }  # fmt: skip


def test_the_burndown_holds_a_commitment_the_year_s_claims_do_not_account_for(four_months: FourMonths) -> None:
    ledger = four_months.api.ledger
    budget = ledger.repository.get(budget_id(LIANSHUI, 2026))
    budget._committed(claim_id=uuid4(), line="transport", amount=1_500, timestamp=four_months.clock.now, meta=FINANCE_A)
    ledger.save(budget)  # past the commands, which commit only a claim of the year (the audit trusts no such rule)
    api = four_months.api
    answer = get(api, "/v1/audit/budget/2026/burndown", "auditor", **after(api))
    assert answer["months"][-1]["total"]["committed"] == 5_000 + 1_500
    assert budget_figures(answer["months"][-1]) == budget_figures(get(api, "/v1/budgets/2026", "finance"))
    assert answer["months"][2]["total"]["committed"] == 5_000  # recorded in April


# Empty stores, roles, parameters --------------------------------------------------------------------


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock, projections=True) as made:
        yield made


def test_an_empty_store_answers_empty_lists_and_zeros(api: Harness) -> None:
    assert get(api, "/v1/roster/townships", "coordinator", **after(api))["items"] == []
    contacts = get(api, "/v1/reports/contacts", "coordinator", **after(api))
    assert contacts["month"] == "2026-03" and [r["township"] for r in contacts["rows"]] == list(LIANSHUI_TOWNSHIPS)
    assert {r["contacts"] for r in contacts["rows"]} == {0} and contacts["total"]["contacts"] == 0
    assert [k["contacts"] for k in contacts["total"]["kinds"]] == [0] * len(VisitKind)
    burndown = get(api, "/v1/audit/budget/2026/burndown", "finance", **after(api))
    assert (burndown["lines"], figures(burndown["total"])) == ([], (0, 0, 0, 0))
    assert [(p["month"], p["lines"], figures(p["total"])) for p in burndown["months"]] == [
        (f"2026-0{m}", [], (0, 0, 0, 0)) for m in (1, 2, 3)
    ]


def test_a_role_that_may_not_read_a_summary_is_refused_and_nothing_is_written(api: Harness) -> None:
    volunteer = api.staff.volunteer()
    api.keys["volunteer"] = api.volunteer_key(volunteer)
    head = api.events()
    for path, readers in READERS.items():
        for role in ("coordinator", "volunteer", "evaluator", "finance", "auditor", "admin"):
            if role in readers:
                get(api, path, role)
                continue
            problem = get(api, path, role, 403)
            assert problem["status"] == 403 and problem["role"] == role
            assert f"a {role} key may not do this" in problem["detail"], problem
        assert api.client.get(path).status_code == 401
    assert api.events() == head


@pytest.mark.parametrize(
    ("path", "params", "status"),
    [
        ("/v1/roster/townships", {"days": -1}, 422),
        ("/v1/roster/townships", {"days": "a week"}, 422),
        ("/v1/roster/townships", {"days": 3661}, 422),
        ("/v1/roster/townships", {"category": "cadre"}, 422),
        ("/v1/roster/townships", {"as_of": "2026-02-30"}, 422),
        ("/v1/roster/townships", {"as_of": "2026-03-02"}, 422),  # after today
        ("/v1/roster/townships", {"cursor": "not-a-cursor"}, 400),
        ("/v1/roster/townships", {"limit": 0}, 422),
        ("/v1/reports/contacts", {"month": "2026-13"}, 422),
        ("/v1/reports/contacts", {"month": "2026-3"}, 422),
        ("/v1/reports/contacts", {"lang": "fr"}, 422),
        ("/v1/reports/contacts", {"county": "lian\x00shui"}, 422),
        ("/v1/audit/budget/1999/burndown", {}, 422),
        ("/v1/audit/budget/twenty/burndown", {}, 422),
        ("/v1/audit/budget/2026/burndown", {"as_of": "yesterday"}, 422),
    ],
)
def test_a_malformed_parameter_is_a_problem_not_an_answer(
    api: Harness, path: str, params: dict[str, Any], status: int
) -> None:
    who = "auditor"
    problem = get(api, path, who, status, **params)
    assert problem["status"] == status and problem["detail"]


def test_every_summary_is_documented_with_an_example(api: Harness) -> None:
    paths = api.client.get("/openapi.json").json()["paths"]
    for path in ("/v1/roster/townships", "/v1/reports/contacts", "/v1/audit/budget/{year}/burndown"):
        responses = paths[path]["get"]["responses"]
        assert {"200", "401", "403", "422"} <= set(responses), path
    assert set(SUMMARIES) == set(READERS)
