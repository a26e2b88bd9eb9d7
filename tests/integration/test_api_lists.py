"""The lists people work from, over HTTP, on a SQLite file and on PostgreSQL: visits, claims,
evaluations, trainings and an elder's health readings; who may list what, filters and pages."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest

from ledger.common import COUNTY_TZ
from tests.builders import criteria, visit_body
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 10, 0, tzinfo=COUNTY_TZ)
LISTS = ("/v1/visits", "/v1/claims", "/v1/evaluations")


@pytest.fixture(scope="module")
def module_clock() -> Clock:
    return Clock()


@dataclass
class County:
    api: Harness
    li: str
    """A volunteer with three February visits (two confirmed) and a January one, trained once."""
    li_elder: str
    li_visits: list[str]
    zhang: str
    """Another volunteer, with one confirmed February visit, in another township (唐集镇)."""
    zhang_visit: str
    evaluation: str
    position: int

    def get(self, path: str, who: str, expect: int = 200) -> Any:
        separator = "&" if "?" in path else "?"
        response = self.api.client.get(f"{path}{separator}after={self.position}", headers=self.api.staff.auth(who))
        assert response.status_code == expect, (path, who, response.text)
        if expect >= 400:
            assert response.headers["content-type"] == "application/problem+json"
        return response.json()

    def key(self, volunteer_id: str) -> str:
        return self.api.volunteer_key(volunteer_id)

    def ids(self, path: str, who: str) -> list[str]:
        return [item["id"] for item in self.get(path, who)["items"]]


def build(api: Harness) -> County:
    staff = api.staff
    li, li_elder, li_pairing = staff.pair(date(2026, 1, 1))
    li_visits = [staff.visit(li_pairing, li, FEB + timedelta(days=d), confirm=d < 14) for d in (0, 7, 14)]
    li_visits.append(staff.visit(li_pairing, li, FEB - timedelta(days=10)))
    staff.post(f"/v1/volunteers/{li}/trainings", {"course": "老年人慢病管理", "hours": 4, "date": "2026-01-20"},
               "coordinator")  # fmt: skip
    zhang = staff.volunteer("唐集镇")
    zhang_elder = staff.elder("唐集镇")
    zhang_pairing = staff.pairing(zhang, zhang_elder, date(2026, 1, 1))
    body = {**visit_body(zhang_pairing, FEB + timedelta(days=1)), "township": "唐集镇"}
    zhang_visit = staff.post("/v1/visits", body, api.volunteer_key(zhang))["id"]
    staff.post(f"/v1/visits/{zhang_visit}/confirmation", {"by": "elder", "method": "signature"}, "coordinator")
    evaluation = staff.post(
        "/v1/evaluations", {"volunteer_id": li, "period": "2026-02", "criteria": criteria(90)}, "evaluator"
    )
    staff.post("/v1/evaluations", {"volunteer_id": zhang, "period": "2026-01", "criteria": criteria(80)},
               "evaluator")  # fmt: skip
    staff.post("/v1/budgets/2026", {"lines": {"transport": 1_000_000, "communication": 500_000}}, "finance")
    return County(api, li, li_elder, li_visits, zhang, zhang_visit, evaluation["id"], api.events())


@pytest.fixture(params=["sqlite", "postgres"])
def county(request: pytest.FixtureRequest, clock: Clock) -> Iterator[County]:
    url = str(request.getfixturevalue(f"{request.param}_url"))
    with harness(url, clock=clock, projections=True) as api:
        yield build(api)


def test_a_volunteer_lists_its_claimable_visits_and_claims_them_from_that_list(county: County) -> None:
    li = county.key(county.li)
    claimable = county.ids("/v1/visits?status=confirmed&claimed=false&month=2026-02", li)
    assert claimable == [county.li_visits[1], county.li_visits[0]]  # newest first; only its own, confirmed ones
    claim = county.api.staff.post("/v1/claims", {"month": "2026-02", "visit_ids": claimable}, li)
    county.position = claim["position"]
    assert county.ids("/v1/visits?status=confirmed&claimed=false&month=2026-02", li) == []
    held = county.get("/v1/visits?claimed=true", li)["items"]
    assert {v["claim_id"] for v in held} == {claim["id"]} and len(held) == 2
    mine = county.get("/v1/claims", li)["items"]
    assert [(c["id"], c["status"], c["total_fen"], c["visits"]) for c in mine] == [
        (claim["id"], "submitted", 2 * 1000 + 3000, 2)
    ]


def test_a_rejected_claim_frees_its_visits_to_be_claimed_again(county: County) -> None:
    li = county.key(county.li)
    visits = county.li_visits[:2]
    claim = county.api.staff.post("/v1/claims", {"month": "2026-02", "visit_ids": visits}, li)
    county.position = county.api.staff.post(f"/v1/claims/{claim['id']}/rejection", {"reason": "缺签字"},
                                            "finance")["position"]  # fmt: skip
    assert sorted(county.ids("/v1/visits?claimed=false&status=confirmed&month=2026-02", li)) == sorted(visits)
    assert county.get("/v1/claims?status=rejected", "coordinator")["items"][0]["id"] == claim["id"]


def test_finance_lists_the_claims_waiting_for_its_approval(county: County) -> None:
    claim = county.api.staff.post(
        "/v1/claims", {"month": "2026-02", "visit_ids": county.li_visits[:2]}, county.key(county.li)
    )
    county.position = claim["position"]
    assert county.ids("/v1/claims?awaiting_me=true", "finance") == [claim["id"]]
    county.position = county.api.staff.post(f"/v1/claims/{claim['id']}/approval", None, "finance")["position"]
    assert county.ids("/v1/claims?awaiting_me=true", "finance") == []
    assert county.ids("/v1/claims?status=approved", "auditor") == [claim["id"]]
    county.get("/v1/claims?awaiting_me=true", "coordinator", expect=403)
    county.get("/v1/claims?awaiting_me=true&status=paid", "finance", expect=400)


def test_visits_are_filtered_by_elder_township_month_kind_and_status(county: County) -> None:
    assert county.ids(f"/v1/visits?volunteer={county.zhang}", "coordinator") == [county.zhang_visit]
    assert county.ids("/v1/visits?township=唐集镇", "auditor") == [county.zhang_visit]
    assert county.ids(f"/v1/visits?elder={county.li_elder}&month=2026-01", "evaluator") == [county.li_visits[3]]
    assert county.ids(f"/v1/visits?volunteer={county.li}&status=recorded", "finance") == [county.li_visits[2]]
    assert county.ids("/v1/visits?kind=phone_call", "coordinator") == []
    county.get("/v1/visits?month=2026-13", "coordinator", expect=422)
    county.get("/v1/visits?status=lost", "coordinator", expect=422)


def test_a_volunteer_s_key_lists_only_its_own_records(county: County) -> None:
    li = county.key(county.li)
    assert set(county.ids("/v1/visits", li)) == set(county.li_visits)
    assert county.ids("/v1/evaluations", li) == [county.evaluation]
    county.get(f"/v1/visits?volunteer={county.zhang}", li, expect=403)
    county.get(f"/v1/claims?volunteer={county.zhang}", li, expect=403)
    county.get(f"/v1/evaluations?volunteer={county.zhang}", li, expect=403)
    county.get(f"/v1/volunteers/{county.zhang}/trainings", li, expect=403)
    trainings = county.get(f"/v1/volunteers/{county.li}/trainings", li)["items"]
    assert [(t["course"], t["hours"], t["on"]) for t in trainings] == [("老年人慢病管理", "4", "2026-01-20")]


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ("/v1/visits", {"coordinator", "auditor", "finance", "evaluator", "volunteer"}),
        ("/v1/claims", {"coordinator", "finance", "auditor", "volunteer"}),
        ("/v1/evaluations", {"evaluator", "coordinator", "auditor", "volunteer"}),
        ("/v1/volunteers/{li}/trainings", {"coordinator", "evaluator", "auditor", "volunteer"}),
        ("/v1/elders/{elder}/health", {"coordinator", "volunteer"}),
    ],
)
def test_each_list_answers_the_roles_it_should_and_refuses_the_others(
    county: County, path: str, allowed: set[str]
) -> None:
    path = path.format(li=county.li, elder=county.li_elder)
    for role in ("coordinator", "auditor", "finance", "evaluator", "admin", "volunteer"):
        who = county.key(county.li) if role == "volunteer" else role
        county.get(path, who, expect=200 if role in allowed else 403)
    county.get(path, "no-such-key", expect=401)


def test_evaluations_are_listed_by_period_and_evaluator(county: County) -> None:
    assert county.ids("/v1/evaluations?period=2026-02", "evaluator") == [county.evaluation]
    assert len(county.ids("/v1/evaluations?period=2026", "coordinator")) == 2
    evaluator_id = county.get("/v1/evaluations", "auditor")["items"][0]["evaluator_id"]
    assert len(county.ids(f"/v1/evaluations?evaluator={evaluator_id}", "auditor")) == 2
    assert county.ids("/v1/evaluations?evaluator=someone-else", "auditor") == []


def test_a_list_is_paged_newest_first_without_repeats_and_a_foreign_cursor_is_refused(county: County) -> None:
    seen: list[str] = []
    cursor = ""
    while True:
        page = county.get(f"/v1/visits?limit=2{cursor}", "coordinator")
        seen += [v["id"] for v in page["items"]]
        positions = [v["position"] for v in page["items"]]
        assert positions == sorted(positions, reverse=True)
        if page["next_cursor"] is None:
            break
        cursor = f"&cursor={page['next_cursor']}"
    assert sorted(seen) == sorted([*county.li_visits, county.zhang_visit]) and len(seen) == len(set(seen))
    first = county.get("/v1/visits?limit=1", "coordinator")["next_cursor"]
    county.get(f"/v1/claims?cursor={first}", "coordinator", expect=400)


def test_an_elder_s_health_readings_are_read_by_time_by_those_who_care_for_the_elder(county: County) -> None:
    readings = county.get(f"/v1/elders/{county.li_elder}/health", "coordinator")["items"]
    assert [r["visit_id"] for r in readings] == [county.li_visits[3], *county.li_visits[:3]]  # oldest first
    assert {(r["systolic"], r["diastolic"]) for r in readings} == {("135", "85")}
    assert county.get(f"/v1/elders/{county.li_elder}/health", county.key(county.li))["items"] == readings
    county.get(f"/v1/elders/{county.li_elder}/health", county.key(county.zhang), expect=403)  # not paired with it
    county.get(f"/v1/elders/{county.li_elder}/health", "auditor", expect=403)
    before = county.api.events()
    reasoned = county.get(f"/v1/elders/{county.li_elder}/health?reason=抽查补贴真实性", "auditor")["items"]
    assert reasoned == readings and county.api.events() == before + 1  # the auditor's read is recorded


def test_codes_are_served_with_labels_in_chinese_by_default_and_in_english_on_request(county: County) -> None:
    [visit] = county.get(f"/v1/visits?volunteer={county.zhang}", "coordinator")["items"]
    assert (visit["kind"], visit["kind_label"], visit["status_label"]) == ("medical", "医疗服务", "已确认")
    english = county.api.client.get(
        f"/v1/visits?volunteer={county.zhang}", headers=county.api.staff.auth("coordinator", Accept_Language="en")
    ).json()["items"][0]
    assert (english["kind_label"], english["status_label"]) == ("medical care", "confirmed")
    assert county.get(f"/v1/visits?volunteer={county.zhang}&lang=en", "coordinator")["items"][0] == english
    labels = county.api.client.get("/v1/labels?lang=en")  # public: no key
    assert labels.status_code == 200 and labels.json()["families"]["Grade"]["fail"] == "fail"
    assert county.api.client.get("/v1/labels").json()["families"]["Grade"]["fail"] == "不合格"
    assert county.api.client.get("/v1/labels?lang=fr").status_code == 422


def test_a_coordinator_finds_elders_and_volunteers_by_part_of_a_name_or_a_phone(county: County) -> None:
    elder = county.get(f"/v1/elders/{county.li_elder}", "coordinator")
    found = county.get(f"/v1/search?q={elder['name']}", "coordinator")["items"]
    assert [(p["kind"], p["id"], p["phone"]) for p in found] == [("elder", county.li_elder, elder["phone"])]
    by_phone = county.get(f"/v1/search?q={elder['phone'][-5:]}", "coordinator")["items"]
    assert [p["id"] for p in by_phone] == [county.li_elder]
    li = county.get(f"/v1/volunteers/{county.li}", "coordinator")
    assert [p["id"] for p in county.get(f"/v1/search?q={li['name']}&kind=volunteer", "evaluator")["items"]] == [
        county.li
    ]
    assert len(county.get("/v1/search?q=志愿者", "auditor")["items"]) == 2  # volunteers only: no elder's name
    assert county.get("/v1/search?q=nobody", "coordinator")["items"] == []
    county.get("/v1/search?q=老人&kind=elder", "auditor", expect=403)
    county.get("/v1/search?q=老人", "finance", expect=403)
    county.get("/v1/search?q=老人", county.key(county.li), expect=403)
    county.get("/v1/search?q=%20", "coordinator", expect=400)


def test_a_forgotten_elder_is_never_found(county: County) -> None:
    elder = county.get(f"/v1/elders/{county.li_elder}", "coordinator")
    county.position = county.api.staff.post(
        f"/v1/elders/{county.li_elder}/forget", {"reason": "person_asked"}, "admin"
    )["position"]
    assert county.get(f"/v1/search?q={elder['name']}", "coordinator")["items"] == []
