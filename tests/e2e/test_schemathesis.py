"""Schemathesis against ``/openapi.json``: every operation, with each role's key, on the demo county.

``tiexin serve`` runs on a free loopback port over the demo county's year (:func:`tiexin.demo.generator.run_demo`),
on a SQLite file and on PostgreSQL (one worker, the read models in ``tiexin projections run`` beside
it); a key is made for each role with ``tiexin keys create``, the volunteer's bound to a volunteer of
the demo. For each role, ``schemathesis run`` loads the schema the server publishes and sends every
operation its documented examples, a few fuzzed cases and, once per operation, the coverage sweep
(each boundary, each kind of invalid value, each undocumented method; deterministic), and checks
every answer: never a 5xx; a status code the operation documents; the content type documented for
it; a body that fits its schema (a problem for an error); a 405 with the path's methods in
``Allow``. ``/readyz`` may answer its documented 503 (a read model lags a write just made), and so
may the reads that take ``?as_of=`` (a replay not ready in time: :mod:`api.asof`); nothing else may.
The six roles run at once, as six clients would, on the same records. Afterwards the server's log
must hold no 5xx (but those) and no unhandled error.

Ids are drawn, most of the time, from records the demo holds (in paths, and a visit's pairing, a
claim's visits… in bodies; the volunteer's own for the volunteer's key), so the cases reach the
ledger's rules and the 200 answers are checked too, not only 404s. Writes that pass go to the ledger
like any other: a few per operation and role, on records the demo has plenty of. ``?wait=`` is
pinned low while fuzzing, so a read whose ``?after=`` lies past the log does not wait its 2 s. The
event streams (open-ended server-sent events) are left out: ``test_api_stream.py`` drives the events',
``test_api_web_desk.py`` the heads'.

The coverage sweep of an operation runs once, for one of the roles that may call it (shared out
evenly, so the six runs end together): past the key, what an operation accepts does not depend on
the role. An operation a role may not call answers 403
before it reads anything, so for that role it gets its examples and :data:`FORBIDDEN_EXAMPLES`
fuzzed cases; a probe of each operation with each key, and no body, tells which these are.

Bounded for CI (about 70 s a store on two cores): derandomised generation, at most
:data:`MAX_EXAMPLES` fuzzed cases per operation and role. It runs schemathesis's command line, with
the same checks as its Python API: the pytest plugin's lazy schemas (``from_fixture``) fail on
pytest 9.2 (``Function`` has no ``_nodeid``), and the keys and the demo's ids exist only once the
server does, after an eager schema would have been loaded.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx2
import pytest

from tests.conftest import fresh_postgres_schema
from tests.demo_store import seeded_demo
from tests.e2e.test_api_year import Server, serving

ROLES = ("coordinator", "volunteer", "evaluator", "finance", "auditor", "admin")
MAX_EXAMPLES = 5
FORBIDDEN_EXAMPLES = 2
SEED = 20260214
"""Handed to schemathesis: derandomised generation draws nothing from it; a run without ``deterministic`` would."""
CHECKS = (
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_schema_conformance",
    "response_headers_conformance",
    "unsupported_method",
    "allow_header_conformance",
)
EXCLUDED = ("/v1/events/stream", "/v1/events/heads")
AS_OF_PATHS = (
    "^/v1/(scores|roster(/unpaired|/overdue|/townships)?|budgets/[{]year[}]|audit/budget/[{]year[}](/burndown)?"
    "|audit/anomalies|volunteers/[{]volunteer_id[}]/score)$"
)
"""The reads that take ``?as_of=``: a replay not ready in time (or one too many at once) is their documented 503."""
REAL_RECORD_PROBABILITY = 0.8
"""How often a path parameter names a record of the demo rather than a generated value."""
BODY_FIELDS = {
    "body.pairing_id": "pairing_id",
    "body.volunteer_id": "volunteer_id",
    "body.elder_id": "elder_id",
    "body.visit_ids[*]": "visit_id",
}
"""Ids in request bodies (a visit's pairing, a pairing's volunteer and elder, a claim's visits), drawn like paths'."""
YEARS = [2025, 2026]
"""The demo's budget years (and the next), for ``{year}``."""
READY_WITHIN_S = 240
RUN_WITHIN_S = 300
"""One role's run; far more than it takes (a hung server fails the test instead of CI)."""


@dataclass
class Demo:
    server: Server
    operations: list[tuple[str, str]]
    """(method, path) of every operation in the published schema."""
    tokens: dict[str, str]
    records: dict[str, list[str]]
    """Ids of the demo's records by path parameter (``visit_id``…), for every role but the volunteer."""
    own: dict[str, list[str]]
    """The same for the volunteer's key: that volunteer's own records where it has any."""


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    cwd = tmp_path_factory.mktemp(f"schemathesis-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{cwd / 'tiexin.db'}"
        seeded_demo(url)
        with serving(url, cwd) as server:
            yield prepared(server)
    else:
        with fresh_postgres_schema("st") as url:
            seeded_demo(url)
            with serving(url, cwd, workers=1, projections=True) as server:
                yield prepared(server)


def prepared(server: Server) -> Demo:
    """The server caught up with the demo, a key per role and the records to aim at."""
    wait_until_ready(server)
    auditor = server.key("auditor", "schemathesis-auditor")
    records, own, volunteer_id = demo_records(server, auditor)
    tokens = {"auditor": auditor}
    for role in ROLES:
        if role != "auditor":
            more = ("--volunteer", volunteer_id) if role == "volunteer" else ()
            tokens[role] = server.key(role, f"schemathesis-{role}", *more)
    published = httpx2.get(server.base + "/openapi.json", timeout=30).json()
    operations = [(method.upper(), path) for path, ops in published["paths"].items() for method in ops]
    return Demo(server, [op for op in operations if op[1] not in EXCLUDED], tokens, records, own)


def wait_until_ready(server: Server) -> None:
    """``/readyz`` is 200 once every read model has applied the demo (tens of thousands of events)."""
    deadline = time.monotonic() + READY_WITHIN_S
    while time.monotonic() < deadline:
        if httpx2.get(server.base + "/readyz", timeout=10).status_code == 200:
            return
        time.sleep(0.5)
    pytest.fail(f"the read models did not catch up with the demo within {READY_WITHIN_S} s")


def demo_records(server: Server, token: str) -> tuple[dict[str, list[str]], dict[str, list[str]], str]:
    """Ids from the log, by the path parameter that names them, and a volunteer with visits and claims."""
    http = httpx2.Client(base_url=server.base, headers={"Authorization": f"Bearer {token}"}, timeout=60)

    def events(topic: str, limit: int = 20) -> list[dict[str, Any]]:
        response = http.get("/v1/events", params={"type": f"tiexin.{topic}", "limit": limit})
        assert response.status_code == 200, response.text
        items: list[dict[str, Any]] = response.json()["items"]
        assert items, f"the demo holds no {topic}"
        return items

    with http:
        visits = events("visit.Recorded", 1000)
        claims = events("claim.Submitted", 1000)
        records = {
            "elder_id": ids(events("elder.Registered")),
            "volunteer_id": ids(events("volunteer.Recruited")),
            "pairing_id": ids(events("pairing.Formed")),
            "visit_id": ids(visits[:20]),
            "claim_id": ids(claims[:20]),
            "evaluation_id": ids(events("evaluation.Submitted")),
        }
    claimants = Counter(c["data"]["volunteer_id"] for c in claims)
    volunteer_id = max(claimants, key=lambda v: (claimants[v], v))
    own_visits = [v for v in visits if v["data"]["volunteer_id"] == volunteer_id]
    own = {
        **records,
        "volunteer_id": [volunteer_id],
        "pairing_id": sorted({v["data"]["pairing_id"] for v in own_visits}),
        "visit_id": ids(own_visits[:20]),
        "claim_id": ids([c for c in claims if c["data"]["volunteer_id"] == volunteer_id]),
    }
    assert own["visit_id"] and own["claim_id"], "the chosen volunteer has no visits or claims"
    for found in (records, own):
        found["entity_id"] = found["visit_id"][:5] + found["elder_id"][:5]
    return records, own, volunteer_id


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [str(item["entity_id"]) for item in items]


NO_RECORD = "00000000-0000-4000-8000-000000000000"
"""An id no record has (a notice, a meeting: the demo has none)."""


def path_values(demo: Demo, role: str) -> dict[str, list[Any]]:
    """What each path parameter is drawn from, most of the time, for this role."""
    return {
        **(demo.own if role == "volunteer" else demo.records),
        "year": YEARS,
        "seq": [1, 2],
        "position": [1, 2, 1000],
        "code": ["7KQ2MX9D4T"],
        "notice_id": [NO_RECORD],  # the demo publishes no notice and records no meeting: these answer 404
        "meeting_id": [NO_RECORD],
        "n": [1, 2],
        "month": ["2025-06", "2025-12"],
        "sample_id": [NO_RECORD],  # a sample drawn by the auditor's run is found by fuzzing the list
    }


def forbidden(demo: Demo, role: str) -> list[str]:
    """The operations that answer this role's key 403 with no body: the key is checked before anything else."""
    records = path_values(demo, role)
    found = []
    with httpx2.Client(base_url=demo.server.base, headers={"Authorization": f"Bearer {demo.tokens[role]}"}) as http:
        for method, path in demo.operations:
            filled = path.format(**{name: values[0] for name, values in records.items()})
            if http.request(method, filled, timeout=30).status_code == 403:
                found.append(f"{method} {path}")
    return found


@dataclass
class Plan:
    """Which operations a role's run sweeps (coverage phase), and which it only fuzzes."""

    sweep: list[str]
    swept_by_another: list[str]
    """Operations the role may call that another role's run sweeps: examples and fuzzing only."""
    refused: list[str]
    """Operations that answer the role 403: examples and :data:`FORBIDDEN_EXAMPLES` fuzzed cases."""


def plans(demo: Demo) -> dict[str, Plan]:
    """Each operation is swept once, by one of the roles that may call it.

    Past the key, what an operation accepts does not depend on the role, so one sweep of its
    boundaries and invalid values is enough; what each role sees and may do is what its examples
    and fuzzed cases test. The sweeps are shared out evenly (an operation few roles may call
    first, each to the role with the fewest so far): the six runs go at once, and one run holding
    most sweeps would leave the others' cores idle while it ends.
    """
    refused = {role: forbidden(demo, role) for role in ROLES}
    allowed = {role: [f"{m} {p}" for m, p in demo.operations if f"{m} {p}" not in refused[role]] for role in ROLES}
    callers = {op: [role for role in ROLES if op in allowed[role]] for ops in allowed.values() for op in ops}
    sweeps: dict[str, set[str]] = {role: set() for role in ROLES}
    for op, roles in sorted(callers.items(), key=lambda item: len(item[1])):
        sweeps[min(roles, key=lambda role: len(sweeps[role]))].add(op)
    return {
        role: Plan(
            [op for op in allowed[role] if op in sweeps[role]],
            [op for op in allowed[role] if op not in sweeps[role]],
            refused[role],
        )
        for role in ROLES
    }


def config_for(demo: Demo, role: str, plan: Plan) -> str:
    """The run's ``schemathesis.toml``: the demo's ids for path parameters and ids in bodies, and the plan's limits."""
    records = path_values(demo, role)
    lines = ["[generation]", "deterministic = true", 'database = "none"', ""]
    for name, values in {**records, "wait": [0.05]}.items():
        lines += [f"[dictionaries.{name}]", f"values = {json.dumps(values)}", ""]
    lines.append("[parameters]")
    bound = {f"path.{name}": name for name in records} | BODY_FIELDS
    for key, name in bound.items():
        lines.append(f'"{key}" = {{ dictionary = "{name}", probability = {REAL_RECORD_PROBABILITY} }}')
    lines += ['"query.wait" = { dictionary = "wait", probability = 1.0 }', ""]
    lines += [
        "[[operations]]",
        'include-path = "/readyz"',
        'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]',
        "",
        "[[operations]]",
        f"include-path-regex = '{AS_OF_PATHS}'",
        'checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "503"]',
        "",
    ]
    for names, settings in (
        (plan.swept_by_another, []),
        (plan.refused, [f"generation.max-examples = {FORBIDDEN_EXAMPLES}"]),
    ):
        if names:
            lines += ["[[operations]]", f"include-name = {json.dumps(names)}", "phases.coverage.enabled = false"]
            lines += [*settings, ""]
    return "\n".join(lines)


@dataclass
class Run:
    """One role's ``schemathesis run``, started in the background."""

    role: str
    process: subprocess.Popen[bytes]
    output: Path
    started: float

    def finish(self) -> tuple[int, str]:
        """Its exit code and its output (it is ended if it outlives :data:`RUN_WITHIN_S`)."""
        try:
            code = self.process.wait(timeout=max(1.0, self.started + RUN_WITHIN_S - time.monotonic()))
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            pytest.fail(f"schemathesis as {self.role} ran past {RUN_WITHIN_S} s:\n{self.output.read_text()[-3000:]}")
        return code, self.output.read_text(errors="replace")


@pytest.fixture(scope="module")
def runs(demo: Demo, tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Run]]:
    """Every role's run, all at once (as six clients would be): the server is the same, the records shared."""
    started: dict[str, Run] = {}
    try:
        for role, plan in plans(demo).items():
            started[role] = start_run(demo, role, plan, tmp_path_factory.mktemp(f"schemathesis-{role}"))
        yield started
    finally:
        for run in started.values():
            if run.process.poll() is None:
                run.process.kill()
                run.process.wait()


def start_run(demo: Demo, role: str, plan: Plan, cwd: Path) -> Run:
    config = cwd / "schemathesis.toml"
    config.write_text(config_for(demo, role, plan), encoding="utf-8")
    command = [
        sys.executable, "-m", "schemathesis.cli", "--no-color", "--config-file", str(config),
        "run", f"{demo.server.base}/openapi.json",
        "--header", f"Authorization: Bearer {demo.tokens[role]}",
        *(arg for path in EXCLUDED for arg in ("--exclude-path", path)),
        "--checks", ",".join(CHECKS),
        "--phases", "examples,coverage,fuzzing",
        "--max-examples", str(MAX_EXAMPLES),
        "--seed", str(SEED),
        "--workers", "1",
        "--suppress-health-check", "all",
        "--request-timeout", "30",
    ]  # fmt: skip
    output = cwd / "schemathesis.out"
    with output.open("wb") as out:
        process = subprocess.Popen(
            command, cwd=cwd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, "COLUMNS": "120"}
        )
    return Run(role, process, output, time.monotonic())


@pytest.mark.parametrize("role", ROLES)
def test_every_answer_is_documented_and_none_is_a_5xx(runs: dict[str, Run], role: str) -> None:
    code, output = runs[role].finish()
    print(f"{role}:\n{summary_of(output)}")
    assert code == 0, f"schemathesis as {role} failed:\n{failures_of(output)}"


def summary_of(output: str) -> str:
    lines = output.strip().splitlines()
    return "\n".join([line for line in lines if "generated" in line] + lines[-1:])


def failures_of(output: str) -> str:
    """The run's failures and errors as schemathesis reports them, each with a curl to reproduce it."""
    starts = [i for i in (output.find("= FAILURES ="), output.find("= ERRORS =")) if i >= 0]
    if not starts:
        return output[-5000:]
    start = output.rfind("\n", 0, min(starts)) + 1
    end = output.find("= WARNINGS =", start)
    report = output[start : output.rfind("\n", 0, end) if end >= 0 else len(output)]
    return f"{report.strip()}\n{summary_of(output)}"


def test_the_server_logged_no_unhandled_error(demo: Demo, runs: dict[str, Run]) -> None:
    """After the runs (on this store): the access log holds no 5xx but /readyz's, the error log nothing unhandled."""
    for run in runs.values():
        run.finish()
    log = Path(demo.server.log).read_text(errors="replace")
    served = [line for line in log.splitlines() if '" 5' in line and "HTTP/1.1" in line]
    assert [line for line in served if "/readyz" not in line and not ("as_of=" in line and '" 503' in line)] == []
    assert "unhandled" not in log
