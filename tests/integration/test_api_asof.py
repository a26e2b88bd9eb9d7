"""Time travel over HTTP and the CLI, on a SQLite file and on PostgreSQL.

``?as_of=DATE`` on scores, the roster, budgets and anomalies answers as the live model answered at
the end of that day (replayed from the log up to the day's position cut), and differs from today's
after a later write; ``?version=N`` on one record answers the record as it was, with the live
read's personal-data rules; ``tiexin asof`` prints the figures the HTTP route answers.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import pytest
from typer.testing import CliRunner

import projections.asof
from api import asof as http_asof
from ledger.common import COUNTY_TZ
from projections.asof import AsOfViews
from tests.builders import criteria, visit_body
from tests.conftest import Clock
from tests.harness import Harness, harness
from tiexin.cli import app as cli

FEB = datetime(2026, 2, 3, 10, 0, tzinfo=COUNTY_TZ)
DAY1 = "2026-03-01"  # the tests' clock starts at 2026-03-01 09:00 in the county
LINES = {"transport": 1_000_000, "communication": 200_000}
META = ("lag", "projection_state", "projection_reason", "as_of")
READS = {
    "ranking": ("/v1/scores?month=2026-02", "evaluator"),
    "roster": ("/v1/roster", "coordinator"),
    "overdue": ("/v1/roster/overdue?days=30", "coordinator"),
    "unpaired": ("/v1/roster/unpaired", "coordinator"),
    "budget": ("/v1/budgets/2026", "finance"),
    "audit": ("/v1/audit/budget/2026", "auditor"),
    "anomalies": ("/v1/audit/anomalies", "auditor"),
}


@dataclass
class TwoDays:
    """Day 1 (2026-03-01): a budget, two pairs, one visit, and the live answers read at its end.
    Day 2: a rating, a second visit, a 3-minute visit (A06), a budget adjustment, a pairing ended."""

    api: Harness
    clock: Clock
    day1: dict[str, dict[str, Any]]
    volunteer_a: str
    volunteer_b: str
    elder_b: str

    def get(self, path: str, who: str) -> Any:
        response = self.api.client.get(path, headers=self.api.staff.auth(who))
        assert response.status_code == 200, (path, response.status_code, response.text)
        return response.json()

    def score_path(self) -> str:
        return f"/v1/volunteers/{self.volunteer_a}/score?month=2026-02"


def without_meta(answer: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in answer.items() if k not in META}


def with_param(path: str, param: str) -> str:
    return f"{path}{'&' if '?' in path else '?'}{param}"


@pytest.fixture
def two_days(store_url: str, clock: Clock) -> Iterator[TwoDays]:
    with harness(store_url, clock=clock, projections=True) as api:
        staff = api.staff
        staff.post("/v1/budgets/2026", {"lines": LINES}, "finance")
        volunteer_a, _, pairing_a = staff.pair(date(2026, 1, 1))
        volunteer_b, elder_b, pairing_b = staff.pair(date(2026, 1, 1))
        visit = staff.visit(pairing_a, volunteer_a, FEB)
        head = api.events()
        made = TwoDays(api, clock, {}, volunteer_a, volunteer_b, elder_b)
        reads = {**READS, "score": (made.score_path(), "evaluator")}
        made.day1 = {name: made.get(with_param(path, f"after={head}"), who) for name, (path, who) in reads.items()}
        assert {a["position"] for a in made.day1.values()} == {head}

        clock.advance(days=1)
        staff.post(f"/v1/visits/{visit}/feedback", {"rating": 1}, "coordinator")
        staff.visit(pairing_b, volunteer_b, FEB + timedelta(days=17))
        short = staff.post("/v1/visits", visit_body(pairing_a, FEB + timedelta(days=22), minutes=3),
                           api.volunteer_key(volunteer_a))  # fmt: skip
        assert short["id"]
        body = {"line": "transport", "delta": 500_000, "reason": "追加预算"}
        staff.post("/v1/budgets/2026/adjustments", body, "finance")
        staff.post(f"/v1/pairings/{pairing_b}/end", {"date": "2026-03-02", "reason": "reassigned"}, "coordinator")
        yield made


def test_as_of_a_day_before_later_writes_answers_as_the_live_model_did_then(two_days: TwoDays) -> None:
    head = two_days.api.events()
    reads = {**READS, "score": (two_days.score_path(), "evaluator")}
    for name, (path, who) in reads.items():
        today = two_days.get(with_param(path, f"after={head}"), who)
        assert without_meta(today) != without_meta(two_days.day1[name]), f"{name}: the later writes changed nothing"

        then = two_days.get(with_param(path, f"as_of={DAY1}"), who)
        assert without_meta(then) == without_meta(two_days.day1[name]), name
        assert (then["as_of"], then["projection_state"]) == (DAY1, "as_of"), name
        assert then["lag"] == head - then["position"]
        assert two_days.day1[name]["as_of"] is None

    overdue = two_days.get(f"/v1/roster/overdue?days=30&as_of={DAY1}", "coordinator")
    assert [item["elder_id"] for item in overdue["items"]] == [two_days.elder_b]  # never contacted, as of day 1


def test_as_of_sets_the_overdue_days_and_the_scores_month_from_its_day(two_days: TwoDays) -> None:
    api = two_days.api
    response = api.client.get(f"/v1/roster/overdue?days=10&as_of={DAY1}", headers=api.staff.auth("coordinator"))
    assert response.headers["X-Tiexin-As-Of"] == DAY1 and response.headers["X-Tiexin-Projection-State"] == "as_of"
    overdue = {item["elder_id"]: item["days_without_contact"] for item in response.json()["items"]}
    assert overdue[two_days.elder_b] is None and len(overdue) == 2  # a's visit of 3 February is 26 days before

    ranking = two_days.get(f"/v1/scores?as_of={DAY1}", "evaluator")  # no month: the day's month, March
    assert ranking["month"] == "2026-03"


def test_as_of_today_is_the_live_answer_and_a_replay_is_kept_for_the_next_read(
    two_days: TwoDays, monkeypatch: pytest.MonkeyPatch
) -> None:
    head = two_days.api.events()
    live = two_days.get(f"/v1/audit/anomalies?after={head}", "auditor")
    today = two_days.get("/v1/audit/anomalies?as_of=2026-03-02", "auditor")
    assert today["items"] == live["items"] and today["projection_state"] in ("caught_up", "running")
    assert today["as_of"] == "2026-03-02"

    replays: list[tuple[str, int | None]] = []
    real = projections.asof.replay

    def counted(url: str, name: str, **kwargs: Any) -> projections.asof.Replayed:
        replays.append((name, kwargs.get("position")))
        return real(url, name, **kwargs)

    monkeypatch.setattr(projections.asof, "replay", counted)
    first = two_days.get(f"/v1/audit/anomalies?as_of={DAY1}", "auditor")
    again = two_days.get(f"/v1/audit/anomalies?as_of={DAY1}&code=A06", "auditor")
    budget = two_days.get(f"/v1/audit/budget/2026?as_of={DAY1}", "finance")
    assert first["position"] == again["position"] == budget["position"]
    assert replays == [("audit", first["position"])]  # one replay of the audit up to the cut, read three times
    views: AsOfViews = two_days.api.app.state.asof
    assert ("audit", first["position"]) in views.kept()


def test_a_replay_not_ready_in_time_or_one_too_many_answers_503_with_retry_after(
    two_days: TwoDays, monkeypatch: pytest.MonkeyPatch
) -> None:
    api = two_days.api
    release = threading.Event()
    real = projections.asof.replay

    def slow(url: str, name: str, **kwargs: Any) -> projections.asof.Replayed:
        release.wait(30)
        return real(url, name, **kwargs)

    monkeypatch.setattr(projections.asof, "replay", slow)
    monkeypatch.setattr(http_asof, "REPLAY_WAIT", 0.05)
    views: AsOfViews = api.app.state.asof
    monkeypatch.setattr(views, "replays", 1)
    try:
        waiting = api.client.get(f"/v1/scores?month=2026-02&as_of={DAY1}", headers=api.staff.auth("evaluator"))
        assert waiting.status_code == 503 and waiting.headers["content-type"] == "application/problem+json"
        assert int(waiting.headers["Retry-After"]) >= 1 and "being replayed" in waiting.json()["detail"]
        busy = api.client.get(f"/v1/roster?as_of={DAY1}", headers=api.staff.auth("coordinator"))
        assert busy.status_code == 503 and int(busy.headers["Retry-After"]) >= 1
        assert "at once" in busy.json()["detail"]
    finally:
        release.set()
    deadline = time.monotonic() + 30
    while not any(name == "scores" for name, _ in views.kept()) and time.monotonic() < deadline:
        time.sleep(0.02)
    ranking = two_days.get(f"/v1/scores?month=2026-02&as_of={DAY1}", "evaluator")  # the retry: from the kept view
    assert without_meta(ranking) == without_meta(two_days.day1["ranking"])


@pytest.mark.parametrize(
    ("as_of", "reason"),
    [
        ("2026-02-30", "calendar date"),
        ("2026-3-1", "string should match pattern"),
        ("yesterday", "string should match pattern"),
        ("2026-03-03", "after today"),
        ("1999-12-31", "between"),
    ],
)
def test_an_as_of_that_is_not_a_past_or_present_county_day_is_422(two_days: TwoDays, as_of: str, reason: str) -> None:
    api = two_days.api
    for path, who in READS.values():
        response = api.client.get(with_param(path, f"as_of={as_of}"), headers=api.staff.auth(who))
        assert response.status_code == 422, (path, response.text)
        assert response.headers["content-type"] == "application/problem+json"
        problem = response.json()
        assert problem["field"] == "query.as_of" and reason in problem["detail"].lower(), problem


def test_as_of_keeps_the_roles_of_the_live_read(two_days: TwoDays) -> None:
    api = two_days.api
    volunteer = api.staff.auth(api.volunteer_key(two_days.volunteer_a))
    assert api.client.get(f"/v1/audit/anomalies?as_of={DAY1}", headers=volunteer).status_code == 403
    assert api.client.get(f"/v1/roster/overdue?as_of={DAY1}", headers=volunteer).status_code == 403
    other = f"/v1/volunteers/{two_days.volunteer_b}/score?month=2026-02&as_of={DAY1}"
    assert api.client.get(other, headers=volunteer).status_code == 403
    own = api.client.get(f"{two_days.score_path()}&as_of={DAY1}", headers=volunteer)
    assert own.status_code == 200 and without_meta(own.json()) == without_meta(two_days.day1["score"])
    mine = api.client.get(f"/v1/roster?as_of={DAY1}", headers=volunteer).json()["items"]
    assert {item["volunteer_id"] for item in mine} == {two_days.volunteer_a}


def test_tiexin_asof_prints_the_figures_the_http_route_answers(
    two_days: TwoDays, store_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TIEXIN_DATABASE_URL", store_url)
    runner = CliRunner()
    asked = {
        "scores": (["--month", "2026-02"], "ranking"),
        "overdue": (["--days", "30"], "overdue"),
        "budget": (["--year", "2026"], "audit"),
        "anomalies": ([], "anomalies"),
    }
    for model, (options, read) in asked.items():
        result = runner.invoke(cli, ["asof", model, "--date", DAY1, *options, "--json"])
        assert result.exit_code == 0, result.output
        printed = json.loads(result.stdout)
        path, who = READS[read]
        answered = two_days.get(with_param(path, f"as_of={DAY1}"), who)
        assert without_meta(printed) == without_meta(answered), model
        assert printed["as_of"] == DAY1 and printed["projection_state"] == "as_of"

    score = runner.invoke(
        cli, ["asof", "scores", "--date", DAY1, "--month", "2026-02", "--volunteer", two_days.volunteer_a]
    )
    assert score.exit_code == 0, score.output
    total = two_days.day1["score"]["total"]
    assert f"as known on {DAY1}" in score.stdout and total in score.stdout

    table = runner.invoke(cli, ["asof", "overdue", "--date", DAY1])
    assert table.exit_code == 0 and two_days.elder_b in table.stdout  # ids printed whole

    for args, said in (
        (["asof", "scores", "--date", "2026-02-30"], "calendar date"),
        (["asof", "nothing", "--date", DAY1], "no MODEL"),
        (["asof", "scores", "--date", "2999-01-01"], "between"),
    ):
        refused = runner.invoke(cli, args)
        assert refused.exit_code == 1 and said in refused.output, refused.output


# ?version=N ---------------------------------------------------------------------------------


def test_version_n_of_a_visit_shows_its_values_before_an_amendment(store_url: str, clock: Clock) -> None:
    with harness(store_url, clock=clock) as api:
        staff = api.staff
        volunteer, _, pairing = staff.pair(date(2026, 1, 1))
        visit = staff.visit(pairing, volunteer, FEB)  # version 1 recorded, 2 confirmed
        later = {
            "started_at": (FEB + timedelta(hours=2)).isoformat(),
            "ended_at": (FEB + timedelta(hours=3)).isoformat(),
        }
        staff.post(f"/v1/visits/{visit}/amendment", {"changes": later, "reason_code": "wrong_time"}, "coordinator")

        def read(query: str, who: str = "coordinator") -> Any:
            return api.client.get(f"/v1/visits/{visit}{query}", headers=staff.auth(who))

        now, first = read("").json(), read("?version=1")
        assert first.status_code == 200 and first.headers["ETag"] == '"1"'
        assert (first.json()["version"], first.json()["status"]) == (1, "recorded")
        assert datetime.fromisoformat(first.json()["started_at"]) == FEB
        assert datetime.fromisoformat(now["started_at"]) == FEB + timedelta(hours=2) and now["version"] == 3
        assert read(f"?version={now['version']}").json() == now
        assert first.json()["personal"] is True and first.json()["readings"]
        audited = read("?version=1", "auditor").json()
        assert audited["personal"] is False and audited["readings"] is None and audited["notes"] is None

        beyond = read("?version=4")
        assert beyond.status_code == 404 and beyond.headers["content-type"] == "application/problem+json"
        assert "no version 4" in beyond.json()["detail"]
        for bad in ("0", "-1", "two"):
            refused = read(f"?version={bad}")
            assert refused.status_code == 422 and refused.headers["content-type"] == "application/problem+json"
        stranger, _, _ = staff.pair(date(2026, 1, 1))
        assert read("?version=1", api.volunteer_key(stranger)).status_code == 403


def test_version_n_of_every_record_read_from_the_ledger(store_url: str, clock: Clock) -> None:
    with harness(store_url, clock=clock) as api:
        staff = api.staff
        volunteer, elder, pairing = staff.pair(date(2026, 1, 1))
        staff.post(f"/v1/elders/{elder}/relocation", {"township": "涟城镇", "address": "安东路8号"}, "coordinator")
        staff.post(f"/v1/volunteers/{volunteer}/suspension", {"reason": "外出进修"}, "coordinator")
        evaluation = staff.post(
            "/v1/evaluations", {"volunteer_id": volunteer, "period": "2026-02", "criteria": criteria(90)},
            "evaluator",
        )["id"]  # fmt: skip
        staff.post(f"/v1/evaluations/{evaluation}/withdrawal", {"reason": "录错"}, "evaluator")
        clock.advance(days=1)
        staff.post(f"/v1/pairings/{pairing}/end", {"date": "2026-03-02", "reason": "reassigned"}, "coordinator")

        def read(path: str, who: str = "coordinator") -> Any:
            response = api.client.get(path, headers=staff.auth(who))
            assert response.status_code == 200, (path, response.text)
            return response.json()

        assert read(f"/v1/elders/{elder}?version=1")["township"] == "高沟镇"
        assert read(f"/v1/elders/{elder}")["township"] == "涟城镇"
        assert read(f"/v1/volunteers/{volunteer}?version=1")["status"] == "active"
        assert read(f"/v1/volunteers/{volunteer}")["status"] == "suspended"
        assert read(f"/v1/evaluations/{evaluation}?version=1", "auditor")["withdrawn"] is False
        assert read(f"/v1/evaluations/{evaluation}", "evaluator")["withdrawn"] is True
        assert read(f"/v1/pairings/{pairing}?version=1", "auditor")["ended_on"] is None
        assert read(f"/v1/pairings/{pairing}")["ended_on"] == "2026-03-02"
        own = staff.auth(api.volunteer_key(volunteer))
        assert api.client.get(f"/v1/pairings/{pairing}?version=1", headers=own).status_code == 200
        assert api.client.get(f"/v1/evaluations/{evaluation}", headers=own).status_code == 200

        auditor = read(f"/v1/elders/{elder}?version=1", "auditor")
        assert auditor["personal"] is False and auditor["name"] is None and auditor["address"] is None
        staff.post(f"/v1/elders/{elder}/forget", {"reason": "person_asked"}, "admin")
        forgotten = read(f"/v1/elders/{elder}?version=1")
        assert forgotten["forgotten"] is True and forgotten["name"] == "[forgotten]" and forgotten["birth_date"] is None
        staff.post(f"/v1/volunteers/{volunteer}/forget", {"reason": "person_asked"}, "admin")
        gone = read(f"/v1/volunteers/{volunteer}?version=1")
        assert gone["forgotten"] is True and gone["name"] == "[forgotten]" and gone["phone"] == "[forgotten]"
        for path in (f"/v1/elders/{elder}?version=9", f"/v1/pairings/{pairing}?version=3"):
            assert api.client.get(path, headers=staff.auth("coordinator")).status_code == 404


def test_version_n_of_a_claim_is_its_state_then(store_url: str, clock: Clock) -> None:
    with harness(store_url, clock=clock) as api:
        staff = api.staff
        staff.post("/v1/budgets/2026", {"lines": LINES}, "finance")
        volunteer, _, pairing = staff.pair(date(2026, 1, 1))
        visit = staff.visit(pairing, volunteer, FEB)
        claim = staff.post("/v1/claims", {"month": "2026-02", "visit_ids": [visit]}, api.volunteer_key(volunteer))
        staff.post(f"/v1/claims/{claim['id']}/approval", None, "finance")
        first = api.client.get(f"/v1/claims/{claim['id']}?version=1", headers=staff.auth("finance"))
        assert first.status_code == 200 and (first.json()["status"], first.json()["version"]) == ("submitted", 1)
        now = api.client.get(f"/v1/claims/{claim['id']}", headers=staff.auth("finance")).json()
        assert now["status"] == "approved" and now["version"] == 2
