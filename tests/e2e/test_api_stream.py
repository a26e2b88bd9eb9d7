"""The event stream, readiness and metrics through real HTTP: `tiexin serve` on a free loopback port.

On a SQLite file (one worker) and on PostgreSQL (two workers, counting metrics together through
``PROMETHEUS_MULTIPROC_DIR``). The read models run beside the server, in ``tiexin projections
run``, so a test can stop them.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.conftest import fresh_postgres_schema
from tests.e2e.test_api_year import Server, serving

RECRUITED = "tiexin.volunteer.Recruited"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Server]:
    metrics_dir = tmp_path / "prometheus"
    metrics_dir.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(metrics_dir))
    monkeypatch.setenv("TIEXIN_PROJECTIONS", "off")
    if request.param == "sqlite":
        with serving("sqlite:///tiexin.db", tmp_path) as running:
            yield running
    else:
        with fresh_postgres_schema("e2e") as url:
            create_views(url, tmp_path)
            with serving(url, tmp_path, workers=2) as running:
                yield running


def create_views(url: str, cwd: Path) -> None:
    """The ledger's and read models' tables, made before two workers start and race to make them."""
    env = {**os.environ, "TIEXIN_DATABASE_URL": url}
    for command in (["keys", "list"], ["projections", "status"]):
        done = subprocess.run([sys.executable, "-m", "tiexin", *command], env=env, cwd=cwd, capture_output=True)
        assert done.returncode == 0, done.stderr


@dataclass
class Message:
    id: str | None = None
    event: str | None = None
    data: str = ""


class Stream:
    """Server-sent events off a real connection; a read that waits over ``read_timeout`` s fails."""

    def __init__(self, server: Server, token: str, path: str, read_timeout: float = 10, **headers: str) -> None:
        self.client = httpx2.Client(base_url=server.base, timeout=httpx2.Timeout(30, read=read_timeout))
        request = self.client.build_request(
            "GET", path, headers={"Authorization": f"Bearer {token}", "Accept": "text/event-stream", **headers}
        )
        self.response = self.client.send(request, stream=True)
        assert self.response.status_code == 200, self.response.read()
        assert self.response.headers["content-type"].startswith("text/event-stream")
        self.comments: list[str] = []
        self._messages = self._parse()

    def _parse(self) -> Iterator[Message]:
        current = Message()
        for line in self.response.iter_lines():
            if line.startswith(":"):
                self.comments.append(line)
            elif not line:
                if current.id is not None or current.data:
                    yield current
                current = Message()
            else:
                name, _, value = line.partition(":")
                value = value[1:] if value.startswith(" ") else value
                if name in ("id", "event"):
                    setattr(current, name, value)
                elif name == "data":
                    current.data += value

    def take(self, count: int) -> list[Message]:
        return [next(self._messages) for _ in range(count)]

    def rest(self) -> list[Message]:
        """Every message until the server ends the stream."""
        return list(self._messages)

    def close(self) -> None:
        self.response.close()
        self.client.close()


@contextmanager
def streaming(server: Server, token: str, path: str, **headers: str) -> Iterator[Stream]:
    stream = Stream(server, token, path, **headers)
    try:
        yield stream
    finally:
        stream.close()


def http(server: Server, token: str | None = None) -> httpx2.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx2.Client(base_url=server.base, headers=headers, timeout=30)


def recruit(client: httpx2.Client, n: int) -> dict[str, Any]:
    body = {
        "name": f"志愿者{n}",
        "unit": "涟水县人民医院",
        "profession": "nurse",
        "phone": f"139{n:08d}",
        "township": "高沟镇",
    }
    response = client.post("/v1/volunteers", json=body)
    assert response.status_code == 201, response.text
    answer: dict[str, Any] = response.json()
    return answer


def test_a_stream_resumes_with_last_event_id_exactly_after_the_last_event_received(server: Server) -> None:
    coordinator = http(server, server.key("coordinator", "coord-wang"))
    auditor = server.key("auditor", "audit-zhou")
    for n in range(6):
        recruit(coordinator, n)
    log = http(server, auditor).get("/v1/events", params={"limit": 1000}).json()["items"]
    recruited = [item for item in log if item["topic"] == RECRUITED]
    assert len(recruited) == 6

    with streaming(server, auditor, f"/v1/events/stream?type={RECRUITED}") as first:
        got = first.take(3)
    assert [m.id for m in got] == [str(i["position"]) for i in recruited[:3]]
    assert all(m.event == RECRUITED for m in got)
    assert [json.loads(m.data) for m in got] == recruited[:3]

    # Resumed where it left off (the header wins over ?after=), then live: a new write arrives.
    resume = {"Last-Event-ID": got[-1].id or ""}
    with streaming(server, auditor, f"/v1/events/stream?type={RECRUITED}&after=0", **resume) as again:
        assert [m.id for m in again.take(3)] == [str(i["position"]) for i in recruited[3:]]
        written = recruit(coordinator, 7)
        [live] = again.take(1)
        assert live.id == str(written["position"]) and live.event == RECRUITED
        assert json.loads(live.data)["data"]["phone"] is None  # an auditor's view

    # Unfiltered, every position after the one given, in order and each once.
    head = http(server, auditor).get("/v1/events", params={"after": 10**6}).json()["head"]
    tail_path = "/v1/events/stream?max_seconds=2"
    with streaming(server, auditor, tail_path, **{"Last-Event-ID": str(head - 4)}) as tail:
        assert [int(m.id or 0) for m in tail.rest()] == list(range(head - 3, head + 1))


def test_a_quiet_stream_sends_heartbeats_ends_when_due_and_is_freed_on_disconnect(server: Server) -> None:
    auditor = server.key("auditor", "audit-qian")
    head = http(server, auditor).get("/v1/events").json()["head"]
    with streaming(server, auditor, f"/v1/events/stream?after={head}&heartbeat=1&max_seconds=3") as quiet:
        started = time.monotonic()
        assert quiet.rest() == [] and len(quiet.comments) >= 2
        assert 2.5 < time.monotonic() - started < 6
    open_streams = [Stream(server, auditor, f"/v1/events/stream?after={head}") for _ in range(3)]
    time.sleep(0.5)
    assert gauge(server, "tiexin_event_streams") == 3
    for stream in open_streams:
        stream.close()
    deadline = time.monotonic() + 10
    while gauge(server, "tiexin_event_streams") != 0:
        assert time.monotonic() < deadline, "the server kept streaming to clients that left"
        time.sleep(0.1)


def test_a_revoked_key_s_stream_ends_at_the_next_heartbeat(server: Server) -> None:
    token = server.key("auditor", "audit-sun")
    with streaming(server, token, "/v1/events/stream?heartbeat=1&after=1000000") as stream:
        assert server.tiexin("keys", "revoke", "audit-sun").returncode == 0
        assert stream.rest() == []  # ends: a stream that went on would fail the read timeout


def test_metrics_on_loopback_count_every_worker_s_requests(server: Server) -> None:
    auditor = http(server, server.key("auditor", "audit-li"))
    for _ in range(10):
        assert auditor.get("/v1/events", params={"limit": 1}).status_code == 200
    response = http(server).get("/metrics")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
    text = response.text
    assert 'tiexin_http_requests_total{method="GET",route="/v1/events",status="200"} 10.0' in text
    assert 'tiexin_http_request_duration_seconds_count{method="GET",route="/v1/events"} 10.0' in text
    assert "tiexin_store_up 1.0" in text and "tiexin_log_head_position" in text
    assert 'tiexin_projection_lag{projection="roster"}' in text


def test_ready_once_the_read_models_catch_up_and_not_when_they_stop(server: Server) -> None:
    coordinator = http(server, server.key("coordinator", "coord-zhao"))
    recruit(coordinator, 1)
    probe = http(server)
    assert probe.get("/healthz").status_code == 200
    not_yet = probe.get("/readyz")
    assert not_yet.status_code == 503 and not_yet.headers["content-type"] == "application/problem+json"
    assert "never run" in not_yet.json()["detail"]
    with projections_running(server):
        deadline = time.monotonic() + 60
        while (answer := probe.get("/readyz")).status_code != 200:
            assert time.monotonic() < deadline, answer.text
            time.sleep(0.2)
        assert {p["state"] for p in answer.json()["projections"]} <= {"caught_up", "running"}
    time.sleep(1.2)  # the status is read at most once a second
    stopped = probe.get("/readyz")
    assert stopped.status_code == 503 and "offline" in stopped.json()["detail"]


@contextmanager
def projections_running(server: Server) -> Iterator[None]:
    env = {**os.environ, "TIEXIN_DATABASE_URL": server.url}
    command = [sys.executable, "-m", "tiexin", "projections", "run", "--poll-interval", "0.1"]
    with (server.cwd / "projections.log").open("w") as out:
        process = subprocess.Popen(command, env=env, cwd=server.cwd, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def gauge(server: Server, name: str) -> float:
    for line in http(server).get("/metrics").text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"no {name}")
