"""The programme's platform over HTTP, on a SQLite file and on PostgreSQL: notices to volunteers (who has
read them) and volunteer meetings (suggestions and their answers); who may do what."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from uuid import uuid4

import pytest

from tests.conftest import Clock
from tests.harness import Harness, harness

HERE, THERE = "高沟镇", "唐集镇"


@dataclass
class County:
    api: Harness
    a: str
    """Two nurses of 高沟镇 (a, b) and one of 唐集镇 (c)."""
    b: str
    c: str

    def key(self, volunteer_id: str) -> str:
        return self.api.volunteer_key(volunteer_id)

    def call(self, method: str, path: str, who: str, body: Any = None, expect: int = 200) -> Any:
        response = self.api.client.request(method, path, json=body, headers=self.api.staff.auth(who))
        assert response.status_code == expect, (method, path, response.text)
        if expect >= 400:
            assert response.headers["content-type"] == "application/problem+json"
        return response.json()

    def post(self, path: str, body: Any, who: str, expect: int = 200) -> Any:
        return self.call("POST", path, who, body, expect)

    def get(self, path: str, who: str, expect: int = 200) -> Any:
        return self.call("GET", path, who, expect=expect)

    def publish(self, expect: int = 201, **audience: Any) -> Any:
        body = {"title": "三月培训通知", "body": "3月15日上午9点在县人民医院培训。", **audience}
        return self.post("/v1/notices", body, "coordinator", expect)


@pytest.fixture(params=["sqlite", "postgres"])
def county(request: pytest.FixtureRequest, clock: Clock) -> Iterator[County]:
    url = str(request.getfixturevalue(f"{request.param}_url"))
    with harness(url, clock=clock, projections=True) as api:
        staff = api.staff
        yield County(api, staff.volunteer(HERE), staff.volunteer(HERE), staff.volunteer(THERE))


# Notices -----------------------------------------------------------------------------------


def test_a_notice_to_a_township_is_read_by_its_volunteers_and_the_coordinator_sees_who_has_not(
    county: County,
) -> None:
    notice = county.publish(townships=[HERE])
    path = f"/v1/notices/{notice['id']}"
    read = county.post(f"{path}/read", None, county.key(county.a))
    again = county.post(f"{path}/read", None, county.key(county.a))
    assert (again["id"], again["version"]) == (read["id"], read["version"]) == (notice["id"], 2)
    seen = county.get(path, "coordinator")
    assert (seen["addressed"], seen["read_count"], seen["read"]) == (2, 1, None)
    assert [r["volunteer_id"] for r in seen["readers"]] == [county.a] and seen["not_read"] == [county.b]
    assert county.get(path, "auditor")["not_read"] == [county.b]
    own = county.get(path, county.key(county.b))
    assert (own["read"], own["readers"], own["not_read"], own["addressed"]) == (False, None, None, None)


def test_a_volunteer_lists_only_the_notices_addressed_to_it_each_read_or_not(county: County) -> None:
    to_here = county.publish(townships=[HERE])["id"]
    to_all = county.publish()["id"]
    county.post(f"/v1/notices/{to_all}/read", None, county.key(county.a))
    mine = county.get("/v1/notices", county.key(county.a))["items"]
    assert [(n["id"], n["read"]) for n in mine] == [(to_all, True), (to_here, False)]  # newest first
    assert [n["id"] for n in county.get("/v1/notices?unread=true", county.key(county.a))["items"]] == [to_here]
    assert [n["id"] for n in county.get("/v1/notices", county.key(county.c))["items"]] == [to_all]
    staff = county.get("/v1/notices", "coordinator")["items"]
    assert [(n["id"], n["addressed"], n["read_count"]) for n in staff] == [(to_all, 3, 1), (to_here, 2, 0)]
    county.get("/v1/notices?county=huaiyin", county.key(county.a), expect=403)
    county.get("/v1/notices?unread=true", "coordinator", expect=400)
    assert county.get("/v1/notices?county=huaiyin", "coordinator")["items"] == []


def test_notices_are_listed_in_pages(county: County) -> None:
    ids = [county.publish(title=f"通知{n}")["id"] for n in range(3)]
    first = county.get("/v1/notices?limit=2", "coordinator")
    assert [n["id"] for n in first["items"]] == ids[:0:-1] and first["next_cursor"]
    rest = county.get(f"/v1/notices?limit=2&cursor={first['next_cursor']}", "coordinator")
    assert [n["id"] for n in rest["items"]] == ids[:1] and rest["next_cursor"] is None


def test_only_a_coordinator_publishes_and_only_the_addressed_volunteer_marks_its_own_read(county: County) -> None:
    before = county.api.events()
    county.post("/v1/notices", {"title": "t", "body": "b"}, county.key(county.a), expect=403)
    county.post("/v1/notices", {"title": "t", "body": "b"}, "auditor", expect=403)
    notice = county.publish(townships=[HERE])["id"]
    assert county.api.events() == before + 3  # notice.Published, notice_board.Opened and .Posted
    refused = county.post(f"/v1/notices/{notice}/read", None, county.key(county.c), expect=409)
    assert refused["rule"] == "notice.not_addressed"
    county.post(f"/v1/notices/{notice}/read", None, "coordinator", expect=403)
    county.get(f"/v1/notices/{notice}", county.key(county.c), expect=403)
    county.post(f"/v1/notices/{notice}/read", None, county.key(county.b))  # b marks its own; a's stays unread
    assert county.get(f"/v1/notices/{notice}", "coordinator")["not_read"] == [county.a]
    county.post(f"/v1/notices/{uuid4()}/read", None, county.key(county.a), expect=404)


def test_an_audience_with_nobody_in_it_or_not_of_the_county_is_refused_and_writes_nothing(county: County) -> None:
    before = county.api.events()
    assert county.publish(profession="doctor", expect=409)["rule"] == "notice.no_addressees"  # all are nurses
    assert county.publish(townships=["月球镇"], expect=409)["rule"] == "county.unknown_township"
    assert county.publish(profession="astronaut", expect=422)["field"] == "profession"
    assert county.publish(townships=[HERE, HERE], expect=422)["field"] == "townships"
    assert county.api.events() == before


# Meetings ----------------------------------------------------------------------------------


def test_a_meeting_s_suggestions_are_tracked_until_answered(county: County) -> None:
    body = {
        "held_on": "2025-06-18",
        "place": "县委老干部局",
        "topic": "上门服务的难处",
        "attendees": [county.a, county.b],
    }
    meeting = county.post("/v1/meetings", body, "coordinator", 201)["id"]
    path = f"/v1/meetings/{meeting}"
    county.post(f"{path}/suggestions", {"text": "提高交通补贴", "raised_by": county.a}, "coordinator")
    county.post(f"{path}/suggestions", {"text": "统一配发血压计", "raised_by": county.b}, "coordinator")
    assert [m["id"] for m in county.get("/v1/meetings?open=true", "coordinator")["items"]] == [meeting]
    county.post(f"{path}/suggestions/1/answer", {"text": "已纳入政策修订", "status": "adopted"}, "coordinator")
    county.post(f"{path}/suggestions/2/answer", {"text": "已记录", "status": "noted"}, "coordinator")
    assert county.get("/v1/meetings?open=true", "coordinator")["items"] == []
    [listed] = county.get("/v1/meetings?open=false", "auditor")["items"]
    assert (listed["attendees"], listed["suggestions"], listed["open_suggestions"]) == (2, 2, 0)
    seen = county.get(f"{path}?lang=en", county.key(county.c))  # a volunteer of the county reads it
    assert [(s["n"], s["raised_by"], s["status"], s["status_label"]) for s in seen["suggestions"]] == [
        (1, county.a, "adopted", "adopted"),
        (2, county.b, "noted", "noted"),
    ]
    assert county.get(path, "coordinator")["suggestions"][0]["status_label"] == "已采纳"


def test_meeting_refusals_write_nothing(county: County) -> None:
    body = {"held_on": "2025-06-18", "place": "县委老干部局", "topic": "座谈", "attendees": [county.a]}
    meeting = county.post("/v1/meetings", body, "coordinator", 201)["id"]
    path = f"/v1/meetings/{meeting}"
    county.post(f"{path}/suggestions", {"text": "建议", "raised_by": county.a}, "coordinator")
    before = county.api.events()
    county.post("/v1/meetings", body, county.key(county.a), expect=403)
    county.post(f"{path}/suggestions", {"text": "建议", "raised_by": county.a}, county.key(county.a), expect=403)
    not_there = county.post(f"{path}/suggestions", {"text": "建议", "raised_by": county.c}, "coordinator", 409)
    assert not_there["rule"] == "meeting.not_attendee"
    county.post(f"{path}/suggestions/2/answer", {"text": "答复", "status": "noted"}, "coordinator", 404)
    county.post(f"{path}/suggestions/0/answer", {"text": "答复", "status": "noted"}, "coordinator", 422)
    county.post(f"{path}/suggestions/1/answer", {"text": "答复", "status": "open"}, "coordinator", 422)
    county.post("/v1/meetings", {**body, "attendees": [str(uuid4())]}, "coordinator", 404)
    county.post("/v1/meetings", {**body, "held_on": "2026-03-02"}, "coordinator", 422)
    county.post("/v1/meetings", {**body, "attendees": []}, "coordinator", 422)
    county.get(f"/v1/meetings/{uuid4()}", "coordinator", expect=404)
    county.get("/v1/meetings", "finance", expect=403)
    county.get("/v1/meetings?county=huaiyin", county.key(county.a), expect=403)
    assert county.api.events() == before
