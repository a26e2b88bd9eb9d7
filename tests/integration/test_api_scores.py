"""Scores over HTTP for a month with no activity, on a SQLite file and on PostgreSQL: "not rated",
never the 30.00 不合格 that the satisfaction prior alone would make."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime

import pytest

from ledger.common import COUNTY_TZ
from tests.conftest import Clock
from tests.harness import Harness, harness

FEB = datetime(2026, 2, 3, 10, 0, tzinfo=COUNTY_TZ)


@pytest.fixture
def api(store_url: str, clock: Clock) -> Iterator[Harness]:
    with harness(store_url, clock=clock, projections=True) as made:
        yield made


def test_a_month_with_no_activity_is_not_rated_and_ranked_after_every_rated_one(api: Harness) -> None:
    busy, _, busy_pairing = api.staff.pair(date(2026, 1, 1))
    idle, _, _ = api.staff.pair(date(2026, 1, 1))
    api.staff.visit(busy_pairing, busy, FEB)
    head = api.events()
    auth = api.staff.auth("evaluator")

    answer = api.client.get(f"/v1/volunteers/{idle}/score?month=2026-02&after={head}", headers=auth).json()
    assert (answer["grade"], answer["grade_zh"], answer["total"]) == ("not_rated", "未评定（无服务）", None)
    assert answer["inputs"]["paired_elders"] == 1 and answer["inputs"]["contacts_done"] == 0
    assert answer["explanation"][-1].startswith("not rated 未评定（无服务）: no visit and no evaluation this month")
    rated = api.client.get(f"/v1/volunteers/{busy}/score?month=2026-02", headers=auth).json()
    assert rated["grade"] != "not_rated" and rated["total"] is not None

    ranking = api.client.get("/v1/scores?month=2026-02", headers=auth).json()["items"]
    assert [(item["volunteer_id"], item["rank"]) for item in ranking] == [(busy, 1), (idle, None)]
    assert (ranking[1]["grade"], ranking[1]["total"]) == ("not_rated", None)
    first = api.client.get("/v1/scores?month=2026-02&limit=1", headers=auth).json()
    rest = api.client.get(f"/v1/scores?month=2026-02&limit=1&cursor={first['next_cursor']}", headers=auth).json()
    assert [item["volunteer_id"] for item in first["items"] + rest["items"]] == [busy, idle]
    assert rest["next_cursor"] is None
