"""What the web desk stands on, without a browser: the shell at ``/`` and its files from the package,
``GET /v1/me``, and ``GET /v1/events/heads`` (the log's head as it moves, for any key).

The pages themselves run in Chromium in ``tests/e2e/test_web_desk.py``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from api.web import PAGES, SERVED
from tests.harness import Harness, harness


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Harness]:
    with harness(f"sqlite:///{tmp_path_factory.mktemp('desk')}/tiexin.db") as made:
        yield made


def auth(api: Harness, role: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {api.keys[role]}"}


def test_the_desk_s_shell_names_its_pages_and_loads_nothing_from_outside_the_server(api: Harness) -> None:
    answer = api.client.get("/")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    policy = answer.headers["content-security-policy"]
    assert "default-src 'self'" in policy and "script-src 'self'" in policy and "frame-ancestors 'none'" in policy
    config = json.loads(re.search(r'<script id="desk-config" type="application/json">(.*?)</script>', answer.text)[1])
    assert {name: tuple(page["roles"]) for name, page in config["pages"].items()} == {
        name: page.roles for name, page in PAGES.items()
    }
    assert config["timezone"] == "Asia/Shanghai"
    sources = re.findall(r'(?:src|href)="([^"]+)"', answer.text)
    assert sources and all(source.startswith(("/", "#")) for source in sources), sources


def test_each_desk_file_is_served_from_the_package_and_no_other(api: Harness) -> None:
    for name, media_type in SERVED.items():
        answer = api.client.get(f"/desk/{name}")
        assert answer.status_code == 200 and answer.headers["content-type"] == media_type, name
    for name in ("index.html", "../web.py", "nothing.js"):
        answer = api.client.get(f"/desk/{name}")
        assert answer.status_code == 404 and answer.headers["content-type"] == "application/problem+json"


def test_the_desk_s_modules_import_only_each_other(api: Harness) -> None:
    for name in ("app.js", "i18n.js", "charts.js"):
        text = api.client.get(f"/desk/{name}").text
        imports = re.findall(r'^import .* from "([^"]+)";', text, flags=re.MULTILINE)
        assert all(re.fullmatch(r"\./[a-z0-9]+\.js", source) for source in imports), (name, imports)
        assert "http://" not in text.replace("http://www.w3.org/2000/svg", "") and "https://" not in text


def test_me_answers_the_key_s_name_role_and_volunteer_and_never_the_key(api: Harness) -> None:
    answer = api.client.get("/v1/me", headers=auth(api, "auditor"))
    assert answer.status_code == 200
    body = answer.json()
    assert body["role"] == "auditor" and body["volunteer_id"] is None and body["name"] == "auditor"
    assert api.keys["auditor"] not in answer.text
    volunteer = api.staff.volunteer()
    key = api.volunteer_key(volunteer)
    mine = api.client.get("/v1/me", headers={"Authorization": f"Bearer {key}"}).json()
    assert mine["role"] == "volunteer" and mine["volunteer_id"] == volunteer


def test_me_without_a_valid_key_is_401_problem(api: Harness) -> None:
    for headers in ({}, {"Authorization": "Bearer tiexin_nope"}):
        answer = api.client.get("/v1/me", headers=headers)
        assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"


def test_heads_tells_any_key_the_log_s_head_and_nothing_of_the_events(api: Harness) -> None:
    head = api.events()
    with api.client.stream("GET", "/v1/events/heads?max_seconds=1", headers=auth(api, "evaluator")) as answer:
        assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/event-stream")
        body = "".join(answer.iter_text())
    assert f"id: {head}\nevent: head\ndata: {json.dumps({'position': head})}\n\n" in body
    assert "topic" not in body and "tiexin." not in body


def test_heads_without_a_key_is_401(api: Harness) -> None:
    answer = api.client.get("/v1/events/heads?max_seconds=1")
    assert answer.status_code == 401 and answer.headers["content-type"] == "application/problem+json"
