"""The audit's files for people, on the demo: a township's monthly claim sheet (PDF, XLSX) and a
year's export in yuan with its manifest (HTTP and the real CLI), on a SQLite file and on PostgreSQL.

The demo is built once per store (SQLite at scale 2, which also shows that an export's memory
does not grow with a province's rows; PostgreSQL at scale 1) and its read models caught up. Every
file is read back: XLSX with openpyxl, PDF by extracting its text, CSV as text; the money in them
is checked against the read models' integer fen, and the manifest's SHA-256s against the files.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
import tracemalloc
import zipfile
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from openpyxl import load_workbook
from pypdf import PdfReader

from api.claim_sheet import Disclosure, Sources, build_sheet, money
from api.export import write_bundle
from api.personal import pseudonym
from ledger.common import COUNTY_TZ, county_date
from ledger.counties import LIANSHUI, LIANSHUI_TOWNSHIPS
from ledger.elders import Elder
from ledger.privacy import SubjectKind
from ledger.volunteers import Volunteer
from projections import registry
from projections.audit import CLAIMS, ITEMS, VISITS, AuditView, open_audit_view
from projections.desk import ClaimRow, DeskView, open_desk_view
from projections.roster import RosterView, open_roster_view
from projections.runner import Runner
from projections.service import open_log
from tests.builders import MASTER_KEY
from tests.conftest import fresh_postgres_schema
from tests.demo_store import seeded_demo
from tests.harness import Harness, harness
from tiexin.demo.generator import run_demo

LIVE = ("submitted", "approved", "paid")
PROBLEM = "application/problem+json"
SIGNATURES = ("志愿者签字", "镇卫生院审核", "县卫健委审批")


@dataclass
class Demo:
    """A store with the demo built and its desk, audit and roster read models caught up."""

    url: str
    scale: int
    month: str = ""
    """The home county's month with the most paid claims."""
    township: str = ""
    """A township whose team made the fewest claims that month, two at least (a sheet of a few pages)."""

    @property
    def year(self) -> int:
        return int(self.month[:4])


def built(url: str, scale: int) -> Demo:
    if scale == 1:
        seeded_demo(url)
    else:
        run_demo(url, seed=1, scale=scale, master_key=MASTER_KEY)
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
    demo = Demo(url, scale)
    with views(url) as (desk, _, roster):
        paid = every_claim(desk, county=LIANSHUI, status="paid")
        demo.month = max(Counter(c.month for c in paid).items(), key=lambda kv: (kv[1], kv[0]))[0]
        teams = {r.volunteer_id: r.township for r in roster.loads(county=LIANSHUI).rows}
        claimed = Counter(teams[c.volunteer_id] for c in paid if c.month == demo.month)
        demo.township = min((n, t) for t, n in claimed.items() if n >= 2)[1]  # a small sheet, of two volunteers or more
    return demo


class views:
    """The three read models of a store, closed on leaving."""

    def __init__(self, url: str) -> None:
        self.opened = (open_desk_view(url), open_audit_view(url), open_roster_view(url))

    def __enter__(self) -> tuple[DeskView, AuditView, RosterView]:
        return self.opened

    def __exit__(self, *exc: object) -> None:
        for view in self.opened:
            view.close()


def every_claim(desk: DeskView, **filters: Any) -> list[ClaimRow]:
    rows: list[ClaimRow] = []
    before = None
    while page := desk.claims(before=before, limit=500, **filters).rows:
        rows += page
        before = page[-1].position
    return rows


@pytest.fixture(scope="module")
def sqlite_demo(tmp_path_factory: pytest.TempPathFactory) -> Demo:
    return built(f"sqlite:///{tmp_path_factory.mktemp('files')}/tiexin.db", scale=2)


@pytest.fixture(scope="module")
def postgres_demo() -> Iterator[Demo]:
    with fresh_postgres_schema("t_files") as url:
        yield built(url, scale=1)


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def demo(request: pytest.FixtureRequest) -> Demo:
    found: Demo = request.getfixturevalue(f"{request.param}_demo")
    return found


@pytest.fixture(scope="module")
def api(demo: Demo) -> Iterator[Harness]:
    # The read models were caught up by ``built``; none runs here (the other models would take the CPU).
    with harness(demo.url, projections=False, keys_named=f"files-{demo.scale}-") as made:
        yield made


def get(api: Harness, path: str, who: str, expect: int = 200, **params: Any) -> Any:
    response = api.client.get(path, params=params, headers=api.staff.auth(who))
    assert response.status_code == expect, (path, who, response.status_code, response.text[:500])
    if expect >= 400:
        assert response.headers["content-type"].startswith(PROBLEM)
    return response


def pdf_text(content: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(content)).pages)


def team_claims(demo: Demo, township: str) -> list[ClaimRow]:
    """The live claims of the month of the township's volunteers (read here, not through the sheet)."""
    with views(demo.url) as (desk, _, roster):
        team = {r.volunteer_id for r in roster.loads(county=LIANSHUI, township=township).rows}
        return [
            c
            for c in every_claim(desk, county=LIANSHUI, month=demo.month)
            if c.status in LIVE and c.volunteer_id in team
        ]


# The claim sheet ------------------------------------------------------------------------------


def test_the_claim_sheet_as_xlsx_lists_each_visit_amount_and_totals_in_yuan(demo: Demo, api: Harness) -> None:
    response = get(api, f"/v1/audit/claim-sheets/{demo.month}", "finance", township=demo.township, format="xlsx")
    assert "attachment" in response.headers["content-disposition"]
    assert int(response.headers["X-Tiexin-Position"]) > 0
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = list(sheet.iter_rows())
    assert "领取补贴" in rows[0][0].value and demo.township in rows[0][0].value
    header = [c.value for c in rows[3]]
    assert header[:2] == ["志愿者", "服务日期"] and header[-3:] == ["交通补贴（元）", "通讯补贴（元）", "小计（元）"]

    claims = team_claims(demo, demo.township)
    with views(demo.url) as (_, audit, _roster), audit.reading() as cursor:
        items = audit.load(cursor, ITEMS, "claim_id", [c.claim_id for c in claims])
    visit_rows = [r for r in rows[4:] if isinstance(r[1].value, str) and r[1].value[:4].isdigit()]
    amounts = Counter(r[9].value for r in visit_rows if r[9].value is not None)
    assert amounts == Counter(Decimal(i.transport_fen) / 100 for i in items)  # one row per claimed visit
    assert all(r[9].number_format.endswith("0.00") for r in visit_rows if r[9].value is not None)
    [total] = [r for r in rows if r[0].value == "合计"]
    expected = (sum(c.transport_fen for c in claims), sum(c.communication_fen for c in claims))
    assert (total[9].value, total[10].value) == tuple(Decimal(f) / 100 for f in expected)
    assert total[11].value == Decimal(sum(expected)) / 100 and total[11].number_format == '"¥"#,##0.00'
    texts = [str(r[0].value) for r in rows if r[0].value]
    for signature in SIGNATURES:
        assert any(t.startswith(signature) for t in texts), signature


def test_the_claim_sheet_as_pdf_reads_back_with_its_township_totals_and_signature_lines(
    demo: Demo, api: Harness
) -> None:
    response = get(api, f"/v1/audit/claim-sheets/{demo.month}", "coordinator", township=demo.township)
    assert response.headers["content-type"] == "application/pdf"
    text = pdf_text(response.content)
    claims = team_claims(demo, demo.township)
    assert "领取补贴" in text and demo.township in text and "涟水县" in text
    assert money(sum(c.transport_fen + c.communication_fen for c in claims)) in text
    for signature in SIGNATURES:
        assert signature in text


def test_the_sheets_of_a_month_add_up_to_the_county_s_live_claims_each_counted_once(demo: Demo) -> None:
    log = open_log(demo.url, MASTER_KEY)
    try:
        with views(demo.url) as (desk, audit, roster):
            src = Sources(log, desk, audit, roster)
            sheets = [
                build_sheet(src, LIANSHUI, demo.month, t, names=Disclosure(), now=datetime.now(UTC))
                for t in LIANSHUI_TOWNSHIPS
            ]
            live = [c for c in every_claim(desk, county=LIANSHUI, month=demo.month) if c.status in LIVE]
    finally:
        log.close()
    listed = [c.claim_id for s in sheets for c in s.claims]
    assert sorted(listed) == sorted(c.claim_id for c in live) and len(set(listed)) == len(listed)
    assert sum(s.total_fen for s in sheets) == sum(c.transport_fen + c.communication_fen for c in live)
    for s in sheets:  # each volunteer's claimed visits add up to their claims' transport
        for v in s.volunteers:
            assert sum(x.transport_fen or 0 for x in v.visits if x.claim != "未申领") == v.transport_fen


def test_a_claim_sheet_names_people_only_for_the_roles_that_read_their_names(demo: Demo, api: Harness) -> None:
    with views(demo.url) as (desk, _, roster):
        team = [r.volunteer_id for r in roster.loads(county=LIANSHUI, township=demo.township).rows]
        visits = [v for t in team for v in desk.visits(volunteer_id=t, month=demo.month, limit=500).rows]
    visit = next(v for v in visits if v.claim_id is not None)
    elder, volunteer = api.ledger.find(Elder, visit.elder_id), api.ledger.find(Volunteer, visit.volunteer_id)
    assert elder is not None and volunteer is not None
    elder_label, volunteer_label = (
        pseudonym(SubjectKind.ELDER, elder.id), pseudonym(SubjectKind.VOLUNTEER, volunteer.id),
    )  # fmt: skip
    seen = {
        who: pdf_text(get(api, f"/v1/audit/claim-sheets/{demo.month}", who, township=demo.township).content)
        for who in ("coordinator", "finance", "auditor")
    }
    assert elder.name in seen["coordinator"] and volunteer.name in seen["coordinator"]
    assert elder.name not in seen["finance"] and elder_label in seen["finance"] and volunteer.name in seen["finance"]
    assert elder.name not in seen["auditor"] and volunteer.name not in seen["auditor"]
    assert elder_label in seen["auditor"] and volunteer_label in seen["auditor"]


def test_a_claim_sheet_is_refused_to_other_roles_and_to_what_is_not_there(demo: Demo, api: Harness) -> None:
    path = f"/v1/audit/claim-sheets/{demo.month}"
    for who in ("evaluator", "admin"):
        assert get(api, path, who, 403, township=demo.township).json()["status"] == 403
    volunteer = team_claims(demo, demo.township)[0].volunteer_id
    get(api, path, api.volunteer_key(str(volunteer)), 403, township=demo.township)
    assert api.client.get(path, params={"township": demo.township}).status_code == 401
    assert "火星镇" in get(api, path, "auditor", 404, township="火星镇").json()["detail"]
    get(api, path, "auditor", 404, township=demo.township, county="no-such-county")
    get(api, "/v1/audit/claim-sheets/2025-13", "auditor", 422, township=demo.township)
    get(api, path, "auditor", 422, township=demo.township, format="csv")
    get(api, path, "auditor", 422)


# The export in yuan -----------------------------------------------------------------------------


def read_bundle(content: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    manifest = json.loads(files["manifest.json"])
    return manifest, files


def check_manifest(manifest: dict[str, Any], files: dict[str, bytes]) -> None:
    assert sorted(files) == sorted([*(f["name"] for f in manifest["files"]), "manifest.json"])
    for entry in manifest["files"]:
        content = files[entry["name"]]
        assert hashlib.sha256(content).hexdigest() == entry["sha256"], entry["name"]
        assert len(content) == entry["bytes"]
        if entry["name"].endswith(".csv"):
            assert content.decode("utf-8-sig").count("\r\n") == entry["rows"] + 1, entry["name"]


def table(content: bytes) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


def as_yuan(fen: str) -> str:
    whole, cents = divmod(int(fen), 100)
    return f"{whole}.{cents:02d}"


def test_an_export_in_yuan_has_chinese_and_english_headers_county_dates_and_a_manifest(
    demo: Demo, api: Harness
) -> None:
    response = get(api, f"/v1/audit/exports/{demo.year}", "auditor", county=LIANSHUI)
    assert response.headers["content-type"] == "application/zip"
    manifest, files = read_bundle(response.content)
    check_manifest(manifest, files)
    assert manifest["position"] == int(response.headers["X-Tiexin-Position"]) and manifest["year"] == demo.year
    assert manifest["time_zone"] == "Asia/Shanghai" and datetime.fromisoformat(manifest["generated_at"]).utcoffset()

    claims, items = table(files["claims.csv"]), table(files["items.csv"])
    with views(demo.url) as (_, audit, _roster), audit.reading() as cursor:
        ours = [c for c in audit.every(cursor, CLAIMS) if c.county == LIANSHUI and c.year == demo.year]
        visits = {
            v.visit_id: v
            for v in audit.load(cursor, VISITS, "visit_id", [UUID(i["服务编号 / visit id"]) for i in items])
        }
    assert sorted(c["申领编号 / claim id"] for c in claims) == sorted(str(c.claim_id) for c in ours)
    for claim in claims:
        for part in ("交通补贴", "通讯补贴", "合计"):
            fen, yuan = claim[f"{part}（分） / " + FEN[part]], claim[f"{part}（元） / " + YUAN[part]]
            assert yuan == as_yuan(fen)
        if claim["状态代码 / status"] == "paid":
            assert (
                claim["状态 / status label"] == "已支付"
                and claim["支付日期 / paid on"] >= claim["提交日期 / submitted on"]
            )
    assert sum(int(c["合计（分） / total (fen)"]) for c in claims) == sum(c.total_fen for c in ours)
    for item in items:
        visit = visits[UUID(item["服务编号 / visit id"])]
        assert item["服务日期 / visit date"] == county_date(visit.started_at).isoformat()  # the county's date
        assert item["开始 / starts"] == f"{visit.started_at.astimezone(COUNTY_TZ):%H:%M}"
        assert item["交通补贴（元） / transport (yuan)"] == as_yuan(item["交通补贴（分） / transport (fen)"])

    book = load_workbook(io.BytesIO(files["audit.xlsx"]), read_only=True)
    assert book.sheetnames == ["申领 claims", "预算 budget", "异常 anomalies", "说明 about"]
    sheet = list(load_workbook(io.BytesIO(files["audit.xlsx"]))["申领 claims"].iter_rows())
    header = [c.value for c in sheet[0]]
    assert header == list(claims[0]) and "交通补贴（元） / transport (yuan)" in header
    fen_at, yuan_at = header.index("合计（分） / total (fen)"), header.index("合计（元） / total (yuan)")
    for row in sheet[1:]:
        assert row[yuan_at].value == Decimal(row[fen_at].value) / 100 and row[yuan_at].number_format == "0.00"
    budget = table(files["budget.csv"])
    assert [b["科目代码 / line"] for b in budget] == ["transport", "communication"]
    assert all(b["可用（元） / available (yuan)"] == as_yuan(b["可用（分） / available (fen)"]) for b in budget)


FEN = {"交通补贴": "transport (fen)", "通讯补贴": "communication (fen)", "合计": "total (fen)"}
YUAN = {"交通补贴": "transport (yuan)", "通讯补贴": "communication (yuan)", "合计": "total (yuan)"}


def test_an_export_is_refused_to_roles_that_do_not_audit(demo: Demo, api: Harness) -> None:
    for who in ("coordinator", "evaluator", "admin"):
        get(api, f"/v1/audit/exports/{demo.year}", who, 403)
    get(api, "/v1/audit/exports/1999", "auditor", 422)


def test_an_export_s_memory_does_not_grow_with_the_rows_of_a_province(sqlite_demo: Demo, tmp_path: Path) -> None:
    """Scale 2: the whole store holds twice the rows of its first county; a bundle of each reads a page
    of 20 claims at a time, and the most memory either takes stays the same and far below the rows."""
    view = open_audit_view(sqlite_demo.url)
    try:
        now = datetime.now(UTC)
        write_bundle(view, tmp_path / "warm", sqlite_demo.year, "no-such-county", now=now)  # imports, statements
        peaks, rows, sizes = {}, {}, {}
        for county in (LIANSHUI, None):
            tracemalloc.start()
            manifest = write_bundle(view, tmp_path / str(county), sqlite_demo.year, county, now=now, page=20)
            peaks[county] = tracemalloc.get_traced_memory()[1]
            tracemalloc.stop()
            rows[county] = {f.name: f.rows for f in manifest.files}
            sizes[county] = sum(f.bytes for f in manifest.files if f.name.endswith(".csv"))
    finally:
        view.close()
    assert rows[None]["items.csv"] >= 1.9 * rows[LIANSHUI]["items.csv"]  # the province has twice the rows
    grown = sizes[None] - sizes[LIANSHUI]
    assert peaks[None] - peaks[LIANSHUI] < grown / 10, (peaks, sizes)  # twice the rows, (about) the same peak
    assert peaks[None] <= 3 * 1024 * 1024 and peaks[None] < sizes[None] * 0.6, (peaks, sizes)


# The command line -----------------------------------------------------------------------------


def tiexin(cwd: Path, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TIEXIN_DATABASE_URL": url, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "tiexin", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=600
    )


def test_the_cli_exports_a_year_as_a_zip_or_a_folder_with_matching_manifests(sqlite_demo: Demo, tmp_path: Path) -> None:
    year = str(sqlite_demo.year)
    zipped = tiexin(tmp_path, sqlite_demo.url, "audit", "export", "--year", year, "--out", "audit.zip")
    assert zipped.returncode == 0, zipped.stderr
    manifest, files = read_bundle((tmp_path / "audit.zip").read_bytes())
    check_manifest(manifest, files)
    assert manifest["county"] is None and str(manifest["position"]) in zipped.stdout.replace(",", "")
    counties = {c["县 / county"] for c in table(files["claims.csv"])}
    assert len(counties) == sqlite_demo.scale  # every county of the store

    folder = tiexin(tmp_path, sqlite_demo.url, "audit", "export", "--year", year, "--county", LIANSHUI, "--out", "d")
    assert folder.returncode == 0, folder.stderr
    written = {p.name: p.read_bytes() for p in (tmp_path / "d").iterdir()}
    one = json.loads(written["manifest.json"])
    check_manifest(one, written)
    assert {c["县 / county"] for c in table(written["claims.csv"])} == {LIANSHUI}
    assert one["position"] == manifest["position"]


def test_the_cli_writes_a_claim_sheet_as_pdf_and_xlsx_with_names_only_when_asked(
    sqlite_demo: Demo, tmp_path: Path
) -> None:
    args = ("audit", "claim-sheet", "--month", sqlite_demo.month, "--township", sqlite_demo.township)
    done = tiexin(tmp_path, sqlite_demo.url, *args, "--pdf", "s.pdf", "--xlsx", "s.xlsx")
    assert done.returncode == 0, done.stderr
    text = pdf_text((tmp_path / "s.pdf").read_bytes())
    assert "领取补贴" in text and "elder-" in text and "volunteer-" in text
    assert load_workbook(tmp_path / "s.xlsx").active["A1"].value.endswith("志愿者领取补贴明细表")
    named = tiexin(tmp_path, sqlite_demo.url, *args, "--names")
    assert named.returncode == 0, named.stderr
    [pdf] = list(tmp_path.glob("tiexin-claim-sheet-*.pdf"))
    assert "elder-" not in pdf_text(pdf.read_bytes())
    unknown = tiexin(
        tmp_path, sqlite_demo.url, "audit", "claim-sheet", "--month", sqlite_demo.month, "--township", "火星镇"
    )
    assert unknown.returncode == 1 and "火星镇" in unknown.stderr and "Traceback" not in unknown.stderr


# The reports of gift bags and trainings (the desk read model), on the demo ---------------------


def test_the_demo_s_gift_bags_and_trainings_reports_agree_with_the_log(demo: Demo, api: Harness) -> None:
    from ledger.common import month_of
    from ledger.policies import DEFAULT_PARAMETERS, PolicyKind
    from ledger.visits import Visit
    from projections.logscan import head, scan

    county_of: dict[UUID, tuple[str, str]] = {}
    visits: dict[UUID, dict[str, Any]] = {}
    trained: Counter[tuple[str, str]] = Counter()
    hours: dict[tuple[str, str], Decimal] = {}
    log = open_log(demo.url, MASTER_KEY)
    try:
        kinds = [Volunteer.Recruited, Volunteer.TrainingCompleted, Visit.Recorded, Visit.Amended, Visit.Voided]
        for _, e in scan(log, kinds, until=head(log)):
            if isinstance(e, Volunteer.Recruited):
                county_of[e.originator_id] = (e.county, e.township)
            elif isinstance(e, Volunteer.TrainingCompleted):
                county, township = county_of[e.originator_id]
                if county == LIANSHUI and e.on.year == demo.year:
                    key = (township, month_of(e.on))
                    trained[key] += 1
                    hours[key] = hours.get(key, Decimal(0)) + e.hours
            elif isinstance(e, Visit.Recorded):
                visits[e.originator_id] = {"volunteer": e.volunteer_id, "gift_bag": e.gift_bag, "voided": False,
                                           "township": e.township, "started_at": e.started_at}  # fmt: skip
            elif isinstance(e, Visit.Amended):
                visits[e.originator_id].update({k: v for k, v in e.changes.items() if k in visits[e.originator_id]})
            else:
                visits[e.originator_id]["voided"] = True
    finally:
        log.close()
    bags = Counter(
        (v["township"], month_of(county_date(v["started_at"])))
        for v in visits.values()
        if v["gift_bag"] and not v["voided"] and county_of[v["volunteer"]][0] == LIANSHUI
        and county_date(v["started_at"]).year == demo.year
    )  # fmt: skip
    assert sum(bags.values()) > 0 and sum(trained.values()) > 0

    report = get(api, "/v1/reports/gift-bags", "auditor", year=demo.year, lang="en").json()
    assert {(r["township"], r["month"]): r["bags"] for r in report["rows"]} == dict(bags)
    assert {r["policy_version"] for r in report["rows"]} == {1}  # the demo keeps the programme's bag
    bag = DEFAULT_PARAMETERS[PolicyKind.GIFT_BAG]
    assert all({i["item"]: i["count"] for i in r["items"]} == {k: n * r["bags"] for k, n in bag.items()}
               for r in report["rows"])  # fmt: skip
    assert report["total"]["bags"] == sum(bags.values())
    assert {i["item"]: i["count"] for i in report["total"]["items"]} == {
        k: n * sum(bags.values()) for k, n in bag.items()
    }
    assert [r["township"] for r in report["rows"]] == sorted(
        (r["township"] for r in report["rows"]), key=LIANSHUI_TOWNSHIPS.index
    )

    courses = get(api, "/v1/reports/trainings", "coordinator", year=demo.year).json()
    assert {(r["township"], r["month"]): r["trainings"] for r in courses["rows"]} == dict(trained)
    assert {(r["township"], r["month"]): Decimal(r["hours"]) for r in courses["rows"]} == hours
    assert courses["total"]["trainings"] == sum(trained.values())
