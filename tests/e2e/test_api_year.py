"""The county's year through real HTTP: `tiexin serve` on a free loopback port, keys made with the CLI.

Runs on a SQLite file (one worker, the read models in its process) and on PostgreSQL (two workers,
so a repeated request may meet the other process, and the read models in a ``tiexin projections
run`` beside them). The year ends by reading the roster, the scores and the audit, each waiting
(``?after=``) for the last write.
"""

from __future__ import annotations

import io
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import httpx2
import pytest
from openpyxl import load_workbook

from ledger.common import COUNTY_TZ
from tests.builders import criteria
from tests.conftest import fresh_postgres_schema


@dataclass
class Server:
    base: str
    url: str
    cwd: Path
    log: Path
    keys: dict[str, str] = field(default_factory=dict)

    def tiexin(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = {**os.environ, "TIEXIN_DATABASE_URL": self.url, "COLUMNS": "200"}
        return subprocess.run(
            [sys.executable, "-m", "tiexin", *args], env=env, cwd=self.cwd, capture_output=True, text=True, timeout=120
        )

    def key(self, role: str, name: str, *more: str) -> str:
        """A key made with the CLI, which prints it, and nothing else, on stdout."""
        made = self.tiexin("keys", "create", "--role", role, "--name", name, *more)
        assert made.returncode == 0, made.stderr
        [token] = made.stdout.splitlines()
        assert token.startswith("tiexin_")
        self.keys[name] = token
        return token


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def serving(url: str, cwd: Path, workers: int = 1, projections: bool = False) -> Iterator[Server]:
    """``tiexin serve`` (and, with ``projections``, ``tiexin projections run`` beside it)."""
    port = free_port()
    log = cwd / "serve.log"
    env = {**os.environ, "TIEXIN_DATABASE_URL": url}
    command = [sys.executable, "-m", "tiexin", "serve", "--port", str(port), "--workers", str(workers)]
    processes = []
    with log.open("w") as out:
        processes.append(subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT))
        if projections:
            run = [sys.executable, "-m", "tiexin", "projections", "run"]
            processes.append(subprocess.Popen(run, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT))
    server = Server(f"http://127.0.0.1:{port}", url, cwd, log)
    try:
        wait_until_up(server, processes[0])
        yield server
    finally:
        for process in processes:
            process.send_signal(signal.SIGINT)
        for process in processes:
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def wait_until_up(server: Server, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"tiexin serve exited with {process.returncode}:\n{server.log.read_text()}")
        try:
            if httpx2.get(server.base + "/healthz", timeout=1).status_code == 200:
                return
        except httpx2.TransportError:
            time.sleep(0.1)
    pytest.fail(f"tiexin serve did not answer within 60 s:\n{server.log.read_text()}")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Server]:
    if request.param == "sqlite":
        with serving("sqlite:///tiexin.db", tmp_path) as running:
            yield running
    else:
        with fresh_postgres_schema("e2e") as url, serving(url, tmp_path, workers=2, projections=True) as running:
            yield running


class Client:
    """Real HTTP as one key holder; every answer is checked to be no 5xx and, if an error, a problem."""

    def __init__(self, server: Server, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx2.Client(base_url=server.base, headers=headers, timeout=30)

    def post(self, path: str, body: Any = None, expect: int | None = None, **headers: str) -> httpx2.Response:
        response = self.http.post(path, json=body, headers={k.replace("_", "-"): v for k, v in headers.items()})
        return self._checked(response, expect)

    def get(self, path: str, expect: int | None = None) -> httpx2.Response:
        return self._checked(self.http.get(path), expect)

    def raw(self, path: str, content: bytes, expect: int) -> httpx2.Response:
        response = self.http.post(path, content=content, headers={"content-type": "application/json"})
        return self._checked(response, expect)

    @staticmethod
    def _checked(response: httpx2.Response, expect: int | None) -> httpx2.Response:
        assert response.status_code < 500, response.text
        if response.status_code >= 400:
            assert response.headers["content-type"] == "application/problem+json", response.text
        if expect is not None:
            assert response.status_code == expect, response.text
        return response


def test_the_county_s_year_over_http(server: Server) -> None:
    today = datetime.now(COUNTY_TZ).date()
    month_start = (today.replace(day=1) - timedelta(days=1)).replace(day=1)  # the month before this one
    month = f"{month_start:%Y-%m}"
    visit_times = [
        datetime.combine(month_start + timedelta(days=d), datetime.min.time(), COUNTY_TZ).replace(hour=10)
        for d in (2, 9)
    ]

    coordinator = Client(server, server.key("coordinator", "coord-wang"))
    finance = Client(server, server.key("finance", "fin-liu"))
    evaluator = Client(server, server.key("evaluator", "eval-sun"))
    auditor = Client(server, server.key("auditor", "audit-zhou"))

    elder_body = {
        "name": "王德明",
        "birth_date": "1931-04-12",
        "sex": "male",
        "township": "高沟镇",
        "address": "高沟镇幸福路12号",
        "phone": "13805170000",
    }
    elder = coordinator.post("/v1/elders", elder_body, 201, Idempotency_Key="elder-1").json()
    again = coordinator.post("/v1/elders", elder_body, 201, Idempotency_Key="elder-1")
    assert again.json() == elder and again.headers["Idempotent-Replayed"] == "true"

    volunteer = coordinator.post(
        "/v1/volunteers",
        {"name": "李芳", "unit": "涟水县人民医院", "profession": "nurse", "phone": "13905170000", "township": "高沟镇"},
        201,
    ).json()
    coordinator.post(
        f"/v1/volunteers/{volunteer['id']}/trainings",
        {"course": "老年人慢病管理", "hours": 4, "date": month_start.isoformat()},
        200,
    )
    li = Client(server, server.key("volunteer", "vol-li", "--volunteer", volunteer["id"]))
    pairing = coordinator.post(
        "/v1/pairings",
        {
            "volunteer_id": volunteer["id"],
            "elder_id": elder["id"],
            "group": "高沟镇第1组",
            "from_date": month_start.isoformat(),
        },
        201,
    ).json()

    visits = []
    for start in visit_times:
        body = {
            "pairing_id": pairing["id"],
            "kind": "medical",
            "services": ["blood_pressure", "health_advice"],
            "readings": {"systolic": 138, "diastolic": 86},
            "started_at": start.isoformat(),
            "ended_at": (start + timedelta(minutes=50)).isoformat(),
            "township": "高沟镇",
            "distance_band": "at_home",
            "travel_km": 3.2,
            "gift_bag": True,
        }
        visits.append(li.post("/v1/visits", body, 201).json()["id"])
    for visit_id in visits:
        seen = coordinator.get(f"/v1/visits/{visit_id}", 200).headers["ETag"]
        confirmed = coordinator.post(
            f"/v1/visits/{visit_id}/confirmation", {"by": "elder", "method": "signature"}, 200, If_Match=seen
        ).json()
    coordinator.post(f"/v1/visits/{visits[0]}/feedback", {"rating": 5, "comment": "很耐心"}, 200)

    finance.post(
        f"/v1/budgets/{month_start.year}", {"lines": {"transport": 12_000_000, "communication": 2_160_000}}, 201
    )
    claimable = li.get(f"/v1/visits?status=confirmed&claimed=false&month={month}&after={confirmed['position']}", 200)
    listed = [v["id"] for v in claimable.json()["items"]]  # the volunteer's own list is all a claim needs
    assert sorted(listed) == sorted(visits) and claimable.json()["lag"] >= 0
    claim = li.post("/v1/claims", {"month": month, "visit_ids": listed}, 201, Idempotency_Key="claim-1").json()
    held = li.get(f"/v1/visits?claimed=true&after={claim['position']}", 200).json()["items"]
    assert {v["claim_id"] for v in held} == {claim["id"]} and len(held) == 2
    assert li.get(f"/v1/visits?claimed=false&status=confirmed&after={claim['position']}", 200).json()["items"] == []
    waiting = finance.get(f"/v1/claims?awaiting_me=true&after={claim['position']}", 200).json()["items"]
    assert [c["id"] for c in waiting] == [claim["id"]]
    health = li.get(f"/v1/elders/{elder['id']}/health?after={claim['position']}", 200).json()["items"]
    assert [(h["systolic"], h["diastolic"]) for h in health] == [("138", "86"), ("138", "86")]
    assert li.get(f"/v1/claims/{claim['id']}", 200).json()["total_fen"] == 2 * 1000 + 3000
    li.post(f"/v1/claims/{claim['id']}/approval", None, 403)
    etag = finance.get(f"/v1/claims/{claim['id']}", 200).headers["ETag"]
    finance.post(f"/v1/claims/{claim['id']}/approval", None, 200, If_Match=etag)
    finance.post(
        f"/v1/claims/{claim['id']}/payment",
        {"payment_reference": "国库支付-2026-000123", "paid_on": today.isoformat()},
        200,
    )
    evaluation = evaluator.post(
        "/v1/evaluations",
        {
            "volunteer_id": volunteer["id"],
            "period": month,
            "criteria": criteria(95, professional_skill=88, record_keeping=88),  # mean 91.5
        },
        201,
    ).json()

    paid = auditor.get(f"/v1/claims/{claim['id']}", 200)
    assert paid.json()["status"] == "paid" and paid.headers["ETag"] == '"3"'
    seen_by_auditor = auditor.get(f"/v1/visits/{visits[0]}", 200).json()
    assert seen_by_auditor["status"] == "confirmed" and seen_by_auditor["readings"] is None
    assert auditor.get(f"/v1/elders/{elder['id']}", 200).json()["name"] is None
    assert li.get(f"/v1/elders/{elder['id']}", 200).json()["phone"] == "13805170000"
    year = Year(month, evaluation["position"], elder["id"], volunteer["id"], pairing["id"], claim["id"])
    read_the_year(year, coordinator, evaluator, auditor, li)
    assert_no_request_is_a_5xx(server, coordinator, li, pairing["id"], visits[0])


@dataclass
class Year:
    month: str
    last: int
    """The log position of the year's last write: every read waits for it (?after=)."""
    elder: str
    volunteer: str
    pairing: str
    claim: str


def read_the_year(year: Year, coordinator: Client, evaluator: Client, auditor: Client, volunteer: Client) -> None:
    """The roster, the scores and the audit, each as of the last write, through real HTTP."""
    after = f"after={year.last}&wait=10"
    roster = coordinator.get(f"/v1/roster?{after}", 200)
    assert int(roster.headers["X-Tiexin-Position"]) >= year.last and roster.headers["X-Tiexin-Lag"].isdigit()
    [pairing] = roster.json()["items"]
    assert (pairing["pairing_id"], pairing["elder_id"], pairing["volunteer_id"]) == (
        year.pairing, year.elder, year.volunteer,
    )  # fmt: skip
    assert roster.json()["projection_state"] in ("caught_up", "running")
    assert year.elder not in [
        u["elder_id"] for u in coordinator.get(f"/v1/roster/unpaired?{after}", 200).json()["items"]
    ]
    [elder] = coordinator.get(f"/v1/elders?names=true&{after}", 200).json()["items"]
    assert elder["name"] == "王德明" and elder["last_contact_at"]

    scores = evaluator.get(f"/v1/scores?month={year.month}&township=高沟镇&{after}", 200).json()
    [ranked] = scores["items"]
    assert ranked["volunteer_id"] == year.volunteer and ranked["rank"] == 1 and scores["policy_version"] == 1
    mine = volunteer.get(f"/v1/volunteers/{year.volunteer}/score?month={year.month}&{after}", 200).json()
    assert mine["total"] == ranked["total"] and mine["inputs"]["contacts_done"] == 2
    assert mine["inputs"]["evaluation_means"] == ["91.5"] and mine["inputs"]["ratings"] == [5]
    volunteer.get(f"/v1/scores?month={year.month}", 403)

    budget = auditor.get(f"/v1/audit/budget/{year.month[:4]}?{after}", 200).json()
    assert budget["claims"] == {"paid": {"count": 1, "total_fen": 5000}}
    assert [(line["line"], line["paid"]) for line in budget["lines"]] == [("transport", 2000), ("communication", 3000)]
    codes = {a["code"] for a in auditor.get(f"/v1/audit/anomalies?{after}", 200).json()["items"]}
    assert codes <= {"A10"}  # recorded late only if this month is late enough; nothing else is irregular
    trail = auditor.get(f"/v1/claims/{year.claim}?{after}", 200).json()["trail"]
    assert trail["status"] == "paid" and len(trail["items"]) == 2
    book = load_workbook(io.BytesIO(auditor.get(f"/v1/audit/export?year={year.month[:4]}&format=xlsx", 200).content))
    claims = list(book["claims"].iter_rows(values_only=True))
    assert len(claims) == 2 and claims[1][0] == year.claim
    history = auditor.get(f"/v1/history/{year.claim}?{after}", 200).json()["items"]
    assert [h["event"] for h in history] == ["Submitted", "Approved", "Paid"]


def assert_no_request_is_a_5xx(
    server: Server, coordinator: Client, volunteer: Client, pairing: str, visit: str
) -> None:
    """Malformed JSON, wrong types, huge numbers, naive times and unknown ids: never a 5xx, always a problem."""
    Client(server, None).post("/v1/elders", {}, 401)
    Client(server, "tiexin_not-a-key").post("/v1/elders", {}, 401)
    coordinator.raw("/v1/elders", b'{"name": "\xe7\x8e\x8b', 400)
    coordinator.raw("/v1/elders", b"[" * 10_000, 400)
    coordinator.raw("/v1/elders", b'{"name": ' + b"9" * 5000 + b"}", 400)
    coordinator.post("/v1/elders", {"name": 12, "birth_date": "yesterday"}, 422)
    coordinator.post("/v1/pairings", {"volunteer_id": "x", "elder_id": 10**30, "group": [], "from_date": 1}, 422)
    naive = {
        "pairing_id": pairing,
        "kind": "medical",
        "services": ["chat"],
        "started_at": "2026-02-03T10:00:00",
        "ended_at": "2026-02-03T11:00:00",
        "township": "高沟镇",
        "distance_band": "at_home",
    }
    assert volunteer.post("/v1/visits", naive, 422).json()["field"] == "started_at"
    volunteer.post("/v1/visits", {**naive, "started_at": "9999-12-31T23:59:59+14:00", "travel_km": 1e308}, 422)
    coordinator.post(f"/v1/visits/{visit}/feedback", {"rating": 10**100}, 422)
    coordinator.post("/v1/visits/00000000-0000-4000-8000-000000000000/void", {"reason_code": "duplicate"}, 404)
    coordinator.post(f"/v1/visits/{visit}/void", {"reason_code": "duplicate"}, 400, If_Match="not a tag")
    coordinator.get("/v1/visits/not-an-id", 422)
    coordinator.get("/v1/no/such/route", 404)
    coordinator.post("/v1/elders", {"notes": "长" * 400_000}, 413)


def test_keys_from_the_cli_list_without_secrets_and_revoke_within_a_second(server: Server) -> None:
    token = server.key("coordinator", "coord-zhao")
    listed = server.tiexin("keys", "list")
    assert listed.returncode == 0 and "coord-zhao" in listed.stdout and "coordinator" in listed.stdout
    assert token not in listed.stdout and token[7:20] not in listed.stdout
    coordinator = Client(server, token)
    body = {"name": "李", "unit": "u", "profession": "doctor", "phone": "1", "township": "高沟镇"}
    coordinator.post("/v1/volunteers", body, 201)
    revoked = server.tiexin("keys", "revoke", "coord-zhao")
    assert revoked.returncode == 0 and "revoked" in revoked.stdout
    time.sleep(1.2)  # a running server trusts a key it has seen for up to a second
    coordinator.post("/v1/volunteers", body, 401)
    again = server.tiexin("keys", "revoke", "coord-zhao")
    assert again.returncode == 1 and again.stderr.startswith("error:") and "Traceback" not in again.stderr
    bad = server.tiexin(
        "keys",
        "create",
        "--role",
        "volunteer",
        "--name",
        "v-nobody",
        "--volunteer",
        "00000000-0000-4000-8000-000000000000",
    )
    assert bad.returncode == 1 and "no volunteer" in bad.stderr and bad.stdout == ""


def test_serve_refuses_several_workers_on_sqlite_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "TIEXIN_DATABASE_URL": "sqlite:///tiexin.db"}
    result = subprocess.run(
        [sys.executable, "-m", "tiexin", "serve", "--workers", "2"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error:") and "SQLite" in line


def test_serve_on_an_unreachable_store_ends_in_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "TIEXIN_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/test"}
    result = subprocess.run(
        [sys.executable, "-m", "tiexin", "serve", "--port", str(free_port())],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 1 and "Traceback" not in result.stderr
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("error:") and "unavailable" in line
