"""The web desk in a real browser: Debian's Chromium, headless, driven by Playwright, on `tiexin serve`.

The seed-1 demo county is served from a SQLite file; each page is opened with a key of a role that
may see it, and its tables are compared with what the API answers the same key. A page must load
with no console error, no failed request and no error answer. Each page's screenshot, in Chinese
and in English, is saved under ``test-artifacts/desk/``. An empty store shows every page's empty
state. The browser is Debian's (``/usr/bin/chromium``, installed by ``.ci/run``), never a download.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import uuid4

import httpx2
import pytest

from ledger.common import COUNTY_TZ
from tests.builders import MASTER_KEY
from tests.conftest import skip_or_fail
from tests.e2e.test_api_year import Server, serving
from tiexin.demo.generator import run_demo

playwright_api = pytest.importorskip("playwright.sync_api", reason="the web desk's tests need Playwright")

CHROMIUM = Path(os.environ.get("TIEXIN_TEST_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "desk"
ROLES = ("coordinator", "volunteer", "evaluator", "finance", "auditor", "admin")
PAGES = {  # the desk's pages and the roles that see them (api.web.PAGES), checked against it below
    "county": {"coordinator", "auditor"},
    "township": {"coordinator", "auditor"},
    "volunteer": {"coordinator", "evaluator", "auditor", "volunteer"},
    "elder": {"coordinator", "auditor", "volunteer"},
    "budget": {"finance", "auditor"},
    "claim": {"coordinator", "finance", "auditor", "volunteer"},
    "audit": {"auditor"},
    "evaluation": {"evaluator", "coordinator", "auditor"},
}


def yuan(fen: int) -> str:
    return f"{fen / 100:,.2f}" if fen >= 0 else f"-{-fen / 100:,.2f}"


def county_month(months_back: int = 0) -> str:
    day = datetime.now(COUNTY_TZ).date().replace(day=1)
    for _ in range(months_back):
        day = (day - timedelta(days=1)).replace(day=1)
    return f"{day:%Y-%m}"


# The served stores, the browser, and a page that records what went wrong ---------------------------


@dataclass
class Served:
    server: Server
    keys: dict[str, str]
    volunteer_id: str = ""

    def api(self, role: str, path: str) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        response = httpx2.get(self.server.base + path, headers=headers, timeout=60)
        assert response.status_code == 200, response.text
        return response.json()

    def every(self, role: str, path: str) -> list[Any]:
        items: list[Any] = []
        cursor = None
        while True:
            sep = "&" if "?" in path else "?"
            page = self.api(role, f"{path}{sep}limit=500" + (f"&cursor={cursor}" if cursor else ""))
            items += page["items"]
            cursor = page.get("next_cursor")
            if not cursor:
                return items

    def post(self, role: str, path: str, body: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.keys[role]}"}
        response = httpx2.post(self.server.base + path, json=body, headers=headers, timeout=60)
        assert response.status_code in (200, 201), response.text
        return response.json()


def served_keys(server: Server, volunteer_id: str | None) -> dict[str, str]:
    keys = {role: server.key(role, f"desk-{role}") for role in ROLES if role != "volunteer"}
    if volunteer_id:
        keys["volunteer"] = server.key("volunteer", "desk-volunteer", "--volunteer", volunteer_id)
    return keys


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        skip_or_fail(f"the web desk's tests need Debian's chromium at {CHROMIUM} (apt-get install -y chromium)")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield browser
        browser.close()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("desk-demo")
    today = datetime.now(COUNTY_TZ).date()  # the demo as `tiexin demo` builds it: its year ends today
    summary = run_demo(f"sqlite:///{folder}/tiexin.db", seed=1, master_key=MASTER_KEY, until=today)
    with serving("sqlite:///tiexin.db", folder) as server:
        served = Served(server, served_keys(server, str(summary.volunteer_id)), str(summary.volunteer_id))
        caught_up(served)
        yield served


def caught_up(served: Served) -> None:
    """Wait until every read model the pages read has applied the whole log (the server starts behind)."""
    head = served.api("auditor", "/v1/audit/seals")["position"]  # answered from the ledger: the log's head
    elder = served.api("coordinator", f"/v1/roster?limit=1&after={head}&wait=10")["items"][0]["elder_id"]
    reads = [
        ("coordinator", "/v1/roster?limit=1"), ("evaluator", "/v1/scores?limit=1"),
        ("auditor", "/v1/audit/anomalies?limit=1"), ("coordinator", "/v1/visits?limit=1"),
        ("coordinator", f"/v1/elders/{elder}/health?limit=1"),
    ]  # fmt: skip
    deadline = time.monotonic() + 180
    for role, path in reads:
        while served.api(role, f"{path}&after={head}&wait=10")["lag"] > 0:
            assert time.monotonic() < deadline, f"{path} did not catch up"


@pytest.fixture(scope="module")
def empty(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    folder = tmp_path_factory.mktemp("desk-empty")
    with serving("sqlite:///tiexin.db", folder) as server:
        yield Served(server, served_keys(server, None))


@dataclass
class Desk:
    """One browser tab on the desk, signed in with a key; it notes every console error and failed request."""

    page: Any
    served: Served
    problems: list[str] = field(default_factory=list)
    allowed: tuple[str, ...] = ()
    """Error answers a test expects (a URL part): a page told of a record that does not exist."""

    def __post_init__(self) -> None:
        self.page.on("console", self._console)
        self.page.on("pageerror", lambda error: self.problems.append(f"page error: {error}"))
        self.page.on("requestfailed", self._failed)
        self.page.on("response", self._answered)

    def _console(self, message: Any) -> None:
        if message.type == "error" and not (self.allowed and "status of 404" in message.text):
            self.problems.append(f"console: {message.text}")

    def _failed(self, request: Any) -> None:
        if "/v1/events/" not in request.url and "favicon" not in request.url:  # cut when the tab moves on
            self.problems.append(f"failed: {request.url} {request.failure}")

    def _answered(self, response: Any) -> None:
        if response.status >= 400 and not any(part in response.url for part in self.allowed):
            self.problems.append(f"HTTP {response.status}: {response.url}")

    def sign_in(self, role: str, lang: str = "zh") -> Desk:
        self.page.goto(self.served.server.base + "/")
        if lang == "en":
            self.page.click("#lang")
        self.page.fill("#key", self.served.keys[role])
        self.page.click("form.sign-in button[type=submit]")
        self.page.wait_for_selector("[data-testid=who]")
        return self

    def open(self, route: str) -> Desk:
        self.page.evaluate("route => { location.hash = route }", f"#/{route}")
        self.page.wait_for_selector("main[data-ready]", timeout=60_000)
        return self

    def cells(self, table: str) -> list[list[str]]:
        rows = self.page.locator(f"[data-testid={table}] tbody tr")
        return [[c.strip() for c in row.locator("th, td").all_inner_texts()] for row in rows.all()]

    def text(self, selector: str) -> str:
        return str(self.page.inner_text(selector)).strip()

    def shot(self, name: str) -> None:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)

    def assert_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)


@pytest.fixture
def tab(chromium: Any) -> Iterator[Any]:
    context = chromium.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    yield context.new_page()
    context.close()


# The pages on the demo ------------------------------------------------------------------------------


def test_the_desk_s_role_matrix_is_the_server_s() -> None:
    from api.web import PAGES as SERVED_PAGES

    assert {name: set(page.roles) for name, page in SERVED_PAGES.items()} == PAGES


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_county_at_a_glance_shows_each_township_as_the_api_counts_it(demo: Served, tab: Any, lang: str) -> None:
    desk = Desk(tab, demo).sign_in("coordinator", lang).open("county")
    townships = demo.api("coordinator", "/v1/roster/townships")["items"]
    contacts = demo.api("coordinator", f"/v1/reports/contacts?month={county_month()}")["rows"]
    kinds = list(demo.api("coordinator", f"/v1/labels?lang={lang}")["families"]["VisitKind"])
    by_township = {c["township"]: c for c in contacts}

    def of_kind(township: str, kind: str) -> int:
        return next(k["contacts"] for k in by_township[township]["kinds"] if k["kind"] == kind)

    expected = [
        [t["township"], *(str(t[c]) for c in ("elders", "paired", "unpaired", "overdue"))]
        + [str(of_kind(t["township"], k)) for k in kinds]
        + [str(by_township[t["township"]]["contacts"])]
        for t in townships
    ]
    assert len(expected) == 25
    assert desk.cells("townships") == expected
    heading = desk.text("[data-testid=section-county] thead")
    assert ("老人" in heading) == (lang == "zh") and ("Elders" in heading) == (lang == "en")
    desk.shot(f"county-{lang}")
    desk.assert_clean()


def test_a_township_links_to_its_roster(demo: Served, tab: Any) -> None:
    desk = Desk(tab, demo).sign_in("auditor").open("county")
    township = demo.api("auditor", "/v1/roster/townships")["items"][0]["township"]
    tab.click(f"[data-testid=townships] tr[data-township='{township}'] a")
    tab.wait_for_selector("main[data-ready][data-page=township]")
    pairings = demo.every("auditor", f"/v1/roster?township={township}")
    assert len(desk.cells("pairings")) == len(pairings) > 0
    desk.shot("township-zh")
    desk.assert_clean()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_a_volunteer_s_page_shows_visits_by_month_score_and_trainings_as_the_api(
    demo: Served, tab: Any, lang: str
) -> None:
    volunteer = demo.volunteer_id
    desk = Desk(tab, demo).sign_in("volunteer", lang)  # a volunteer's key lands on its own page
    tab.wait_for_selector("main[data-ready][data-page=volunteer]")
    visits = demo.every("volunteer", f"/v1/visits?volunteer={volunteer}")
    by_month = Counter(v["month"] for v in visits)
    assert {row[0]: int(row[-1]) for row in desk.cells("visits-by-month")} == by_month
    month = county_month(1)
    score = demo.api("volunteer", f"/v1/volunteers/{volunteer}/score/{month}/explanation")
    assert desk.text("[data-testid=score-total]") == (score["total"] or "—")
    assert [row[1] for row in desk.cells("score-terms")] == [term["value"] for term in score["terms"]]
    trainings = demo.every("volunteer", f"/v1/volunteers/{volunteer}/trainings")
    assert [row[0] for row in desk.cells("trainings")] == [t["on"] for t in trainings]
    desk.shot(f"volunteer-{lang}")
    desk.assert_clean()


def test_a_volunteer_downloads_its_certificate_from_its_page(demo: Served, tab: Any) -> None:
    desk = Desk(tab, demo).sign_in("volunteer")
    tab.wait_for_selector("main[data-ready][data-page=volunteer]")
    with tab.expect_download() as download:
        tab.click("form[data-action=certificate] button[type=submit]")
    path = download.value.path()
    assert Path(path).read_bytes().startswith(b"%PDF")
    desk.assert_clean()


def test_an_elder_s_record_plots_the_health_readings_the_api_gives(demo: Served, tab: Any) -> None:
    elder = demo.api("coordinator", "/v1/roster?limit=1")["items"][0]["elder_id"]
    desk = Desk(tab, demo).sign_in("coordinator").open(f"elder/{elder}")
    readings = demo.every("coordinator", f"/v1/elders/{elder}/health")
    rows = desk.cells("health-readings")
    assert [row[1:] for row in rows] == [
        [r["systolic"] or "", r["diastolic"] or "", r["pulse"] or "", r["glucose_mmol_l"] or ""] for r in readings
    ]
    assert tab.locator("[data-testid=section-health] svg polyline").count() == 4
    visits = demo.every("coordinator", f"/v1/visits?elder={elder}")
    assert len(desk.cells("elder-visits")) == len(visits)
    desk.shot("elder-zh")
    desk.assert_clean()


def test_an_auditor_gives_a_reason_before_an_elder_s_health_is_shown(demo: Served, tab: Any) -> None:
    elder = demo.api("coordinator", "/v1/roster?limit=1")["items"][0]["elder_id"]
    desk = Desk(tab, demo).sign_in("auditor").open(f"elder/{elder}")
    assert tab.locator("[data-testid=health-readings]").count() == 0
    tab.fill("form[data-action=reason] input[name=reason]", "claim sample check")
    tab.click("form[data-action=reason] button")
    tab.wait_for_selector("[data-testid=health-readings]")
    desk.assert_clean()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_budget_page_shows_lines_burn_down_and_claims_as_the_api(demo: Served, tab: Any, lang: str) -> None:
    year = county_month()[:4]
    desk = Desk(tab, demo).sign_in("finance", lang).open(f"budget/{year}")
    audit = demo.api("finance", f"/v1/audit/budget/{year}")
    lines = [*audit["lines"], audit["total"]]
    expected = [[yuan(line[k]) for k in ("appropriated", "committed", "paid", "available")] for line in lines]
    assert [row[1:] for row in desk.cells("budget-lines")] == expected
    burndown = demo.api("finance", f"/v1/audit/budget/{year}/burndown")["months"]
    assert [row[0] for row in desk.cells("burndown")] == [m["month"] for m in burndown]
    money = ("appropriated", "committed", "paid", "available")
    assert desk.cells("burndown")[-1][1:] == [yuan(burndown[-1]["total"][k]) for k in money]
    statuses = {row[1]: row[2] for row in desk.cells("claims-by-status")}
    assert sorted(statuses.values()) == sorted(yuan(c["total_fen"]) for c in audit["claims"].values())
    desk.shot(f"budget-{lang}")
    tab.click("[data-testid=claims] tbody tr a[href^='#/claim/']")
    tab.wait_for_selector("main[data-ready][data-page=claim]")
    claim_id = tab.url.rsplit("/", 1)[-1]
    claim = demo.api("finance", f"/v1/claims/{claim_id}")
    assert [int(row[0]) for row in desk.cells("trail")] == [e["position"] for e in claim["trail"]["events"]]
    desk.shot(f"claim-{lang}")
    desk.assert_clean()


def test_the_auditor_s_desk_shows_anomalies_reconciliation_seals_and_draws_a_sample(demo: Served, tab: Any) -> None:
    year = county_month()[:4]
    desk = Desk(tab, demo).sign_in("auditor").open("audit")
    anomalies = demo.every("auditor", "/v1/audit/anomalies")
    by_rule = Counter(a["code"] for a in anomalies)
    assert {row[0]: int(row[2]) for row in desk.cells("anomalies-by-rule")} == by_rule
    reconciliation = demo.api("auditor", f"/v1/audit/budget/{year}/reconciliation")
    assert reconciliation["balanced"] and desk.text("[data-testid=reconciliation-result]") == "平衡"
    assert len(desk.cells("seals")) == len(demo.api("auditor", "/v1/audit/seals")["items"])
    tab.click("button[data-action=verify]")
    verify = tab.locator("[data-testid=verify-result]")
    verify.filter(has_text="✔").wait_for()
    assert demo.api("auditor", "/v1/audit/verify")["summary"] in verify.inner_text()
    tab.fill("form[data-action=sample] input[name=size]", "5")
    tab.click("form[data-action=sample] button[type=submit]")
    tab.wait_for_selector("[data-testid=sample]")
    assert len(desk.cells("sample")) == 5
    desk.shot("audit-zh")
    with tab.expect_download() as download:
        tab.click("button[data-action=export]")
    assert Path(download.value.path()).read_bytes()[:2] == b"PK"
    desk.assert_clean()


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_the_evaluator_s_desk_shows_grades_ranking_and_two_policy_versions(demo: Served, tab: Any, lang: str) -> None:
    month = county_month(1)
    desk = Desk(tab, demo).sign_in("evaluator", lang).open(f"evaluation?month={month}")
    distribution = demo.api("evaluator", f"/v1/scores/distribution?month={month}&limit=500")
    grades = ("excellent", "good", "pass", "fail", "not_rated")
    assert desk.cells("distribution") == [
        [r["township"], *(str(r["grades"][g]) for g in grades), str(r["volunteers"])] for r in distribution["items"]
    ]
    ranking = demo.every("evaluator", f"/v1/scores?month={month}")
    assert [row[3] for row in desk.cells("ranking")] == [s["total"] or "" for s in ranking]
    desk.shot(f"evaluation-{lang}")
    desk.assert_clean()


def test_a_month_under_two_policy_versions_appears_once_a_second_is_adopted(demo: Served, tab: Any) -> None:
    month = county_month(1)
    scoring = next(p for p in demo.api("admin", "/v1/policies")["items"] if p["kind"] == "scoring")
    if len(scoring["versions"]) < 2:
        parameters = {**scoring["in_force"]["parameters"], "weight_service": 50, "weight_satisfaction": 20}
        next_year = f"{int(month[:4]) + 1}-01-01"  # in force later: this month's scores stay as they are
        demo.post(
            "admin",
            "/v1/policies",
            {"kind": "scoring", "version": 2, "effective_from": next_year, "parameters": parameters},
        )
    desk = Desk(tab, demo).sign_in("evaluator").open(f"evaluation?month={month}")
    tab.wait_for_selector("[data-testid=section-compare]")
    top = demo.every("evaluator", f"/v1/scores?month={month}")[0]["volunteer_id"]
    side = demo.api("evaluator", f"/v1/volunteers/{top}/score/{month}/compare?versions=1,2")
    rows = {row[0]: row[1:] for row in desk.cells("compare")}
    assert rows["合计"] == [v["total"] for v in side["versions"]]
    desk.assert_clean()


# Roles ----------------------------------------------------------------------------------------------


def test_each_role_sees_its_pages_and_is_told_when_a_page_is_not_for_it(demo: Served, tab: Any) -> None:
    year = county_month()[:4]
    pairing = demo.api("coordinator", f"/v1/roster?volunteer_id={demo.volunteer_id}&limit=1")["items"][0]
    claim = demo.api("volunteer", "/v1/claims?limit=1")["items"][0]["id"]
    routes = {
        "county": "county", "township": f"township/{pairing['township']}",
        "volunteer": f"volunteer/{demo.volunteer_id}", "elder": f"elder/{pairing['elder_id']}",
        "budget": f"budget/{year}", "claim": f"claim/{claim}", "audit": "audit", "evaluation": "evaluation",
    }  # fmt: skip
    for role in ROLES:
        desk = Desk(tab, demo).sign_in(role)
        for page, route in routes.items():
            desk.open(route)
            refused = tab.locator("[data-testid=not-for-role]").count() == 1
            assert refused == (role not in PAGES[page]), f"{role} on {page}"
        desk.assert_clean()
        tab.click("button[data-action=sign-out]")
    other = demo.api("coordinator", "/v1/scores?limit=2")["items"][-1]["volunteer_id"]
    desk = Desk(tab, demo).sign_in("volunteer").open(f"volunteer/{other}")
    assert tab.locator("[data-testid=not-for-role]").count() == 1


def test_the_key_stays_in_the_session_never_in_a_url_or_the_server_s_log(demo: Served, tab: Any) -> None:
    urls: list[str] = []
    tab.on("request", lambda request: urls.append(request.url))
    desk = Desk(tab, demo).sign_in("auditor").open("audit").open("evaluation")
    key = demo.keys["auditor"]
    assert not [url for url in urls if key in url]
    assert key not in demo.server.log.read_text()
    assert tab.evaluate("() => sessionStorage.getItem('tiexin.key')") == key
    assert tab.evaluate("() => JSON.stringify(localStorage)").find(key) == -1
    tab.reload()  # the same tab keeps its session
    tab.wait_for_selector("[data-testid=who]")
    desk.assert_clean()


def test_a_wrong_key_is_refused_with_a_clear_message(demo: Served, tab: Any) -> None:
    tab.goto(demo.server.base + "/")
    tab.fill("#key", "tiexin_not-a-key")
    tab.click("form.sign-in button[type=submit]")
    assert tab.locator("form.sign-in [role=alert]").inner_text() == "密钥无效或已吊销"


# Live -----------------------------------------------------------------------------------------------


def test_a_write_through_the_api_appears_on_an_open_page_without_reload(demo: Served, tab: Any) -> None:
    desk = Desk(tab, demo).sign_in("coordinator").open("county")
    tab.evaluate("() => { window.stillThisPage = true }")
    township = demo.api("coordinator", "/v1/roster/townships")["items"][1]
    row = tab.locator(f"[data-testid=townships] tr[data-township='{township['township']}'] td").first
    assert row.inner_text() == str(township["elders"])
    demo.post(
        "coordinator",
        "/v1/elders",
        {"name": "王德明", "birth_date": "1931-04-12", "sex": "male", "township": township["township"],
         "address": f"{township['township']}幸福路12号", "phone": "13805170000"},
    )  # fmt: skip
    playwright_api.expect(row).to_have_text(str(township["elders"] + 1), timeout=15_000)
    assert tab.evaluate("() => window.stillThisPage") is True
    desk.assert_clean()


def test_a_volunteer_s_page_follows_the_log_s_head_without_reload(demo: Served, tab: Any) -> None:
    desk = Desk(tab, demo).sign_in("volunteer")
    tab.wait_for_selector("main[data-ready][data-page=volunteer]")
    tab.evaluate("() => { window.stillThisPage = true }")
    before = len(desk.cells("trainings"))
    demo.post(
        "coordinator",
        f"/v1/volunteers/{demo.volunteer_id}/trainings",
        {"course": "老年人急救常识", "hours": "2", "date": datetime.now(COUNTY_TZ).date().isoformat()},
    )
    playwright_api.expect(tab.locator("[data-testid=trainings] tbody tr")).to_have_count(before + 1, timeout=15_000)
    assert tab.evaluate("() => window.stillThisPage") is True
    desk.assert_clean()


# An empty store -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("role", "route", "empty_marks"),
    [
        ("coordinator", "county", ["townships-empty"]),
        ("finance", "budget", ["budget-lines-empty", "burndown-empty", "claims-by-status-empty"]),
        ("auditor", "audit", ["anomalies-by-rule-empty", "reconciliation-empty", "seals-empty"]),
        ("evaluator", "evaluation", ["distribution-empty", "ranking-empty"]),
        ("coordinator", "township/高沟镇", ["pairings-empty", "unpaired-empty", "overdue-empty"]),
    ],
)
def test_an_empty_store_shows_each_page_s_empty_state(
    empty: Served, tab: Any, role: str, route: str, empty_marks: list[str]
) -> None:
    desk = Desk(tab, empty).sign_in(role).open(route)
    for mark in empty_marks:
        assert tab.locator(f"[data-testid={mark}]").count() == 1, mark
    desk.shot(f"empty-{route.split('/')[0]}")
    desk.assert_clean()


@pytest.mark.parametrize("route", ["volunteer", "elder", "claim"])
def test_an_empty_store_says_a_record_is_not_found(empty: Served, tab: Any, route: str) -> None:
    desk = Desk(tab, empty, allowed=("/v1/",))  # the record's reads answer 404
    desk.sign_in("coordinator").open(f"{route}/{uuid4()}")
    text = desk.text("main")
    assert re.search("未找到|暂无数据", text), text
    desk.assert_clean()
