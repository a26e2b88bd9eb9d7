"""A budget year's audit as files: its claims, its budget lines and its anomalies, as CSV or XLSX.

The rows are read from the audit read model in one transaction, so the three tables agree with
each other and with the one position they reflect. A year's anomalies are those about any of its
entities: its claims and the visits they hold, the visits that started in that year (county
dates), and its budget. Money stays integer fen; ids are text; lists are space-separated.

CSV is one table (``part``: claims, budget or anomalies), UTF-8 with a byte-order mark so that a
spreadsheet opens the Chinese text as such. XLSX holds all three, a sheet each.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from pathlib import Path
from typing import Any
from urllib.parse import quote
from uuid import UUID

from ledger.budgets import BudgetLine, budget_id
from ledger.claims import ClaimStatus
from ledger.common import COUNTY_TZ, county_date
from ledger.labels import label
from ledger.visits import VisitKind, VisitStatus
from projections.audit import (
    ANOMALIES,
    CLAIMS,
    ITEMS,
    LINES,
    RULES,
    TRAIL,
    VISITS,
    Anomaly,
    AuditView,
    ClaimState,
    ItemState,
    LineState,
    TrailRow,
    VisitState,
)

PARTS = ("claims", "budget", "anomalies")
CLAIM_COLUMNS = (
    "claim_id", "county", "month", "volunteer_id", "status", "transport_fen", "communication_fen", "total_fen",
    "policy_version", "visits", "submitted_by", "approved_by", "submitted_position", "approved_position",
    "paid_position", "anomalies",
)  # fmt: skip
BUDGET_COLUMNS = ("county", "year", "line", "appropriated_fen", "committed_fen", "paid_fen", "available_fen")
ANOMALY_COLUMNS = ("code", "rule", "subject", "other", "ids", "positions", "description")
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass(frozen=True)
class YearRows:
    position: int
    county: str
    year: int
    claims: tuple[ClaimState, ...]
    items: dict[UUID, tuple[ItemState, ...]]
    lines: tuple[LineState, ...]
    anomalies: tuple[Anomaly, ...]

    def table(self, part: str) -> tuple[tuple[str, ...], list[tuple[Any, ...]]]:
        """The header and rows of one part."""
        if part == "claims":
            return CLAIM_COLUMNS, [self.claim_row(c) for c in self.claims]
        if part == "budget":
            return BUDGET_COLUMNS, [
                (line.county, line.year, line.line, line.appropriated, line.committed, line.paid, line.available)
                for line in self.lines
            ]
        return ANOMALY_COLUMNS, [
            (a.code, RULES[a.code], a.subject, a.other, joined(a.ids), joined(a.positions), a.description)
            for a in self.anomalies
        ]

    def claim_row(self, c: ClaimState) -> tuple[Any, ...]:
        held = {str(c.claim_id), *(str(i.visit_id) for i in self.items.get(c.claim_id, ()))}
        codes = sorted({a.code for a in self.anomalies if held & {a.subject, a.other}})
        return (
            str(c.claim_id), c.county, c.month, str(c.volunteer_id), c.status, c.transport_fen, c.communication_fen,
            c.total_fen, c.policy_version, len(self.items.get(c.claim_id, ())), c.submitted_by, c.approved_by or "",
            c.submitted_pos, c.approved_pos or "", c.paid_pos or "", " ".join(codes),
        )  # fmt: skip


def joined(values: Iterable[object]) -> str:
    return " ".join(str(v) for v in values)


def year_rows(view: AuditView, county: str, year: int) -> YearRows:
    """The year's claims, lines and anomalies, read together (see the module's docstring)."""
    with view.reading() as cursor:  # one snapshot for all of it
        position = view.position_in(cursor)  # the tracking row, in this transaction
        claims = [c for c in view.every(cursor, CLAIMS) if c.county == county and c.year == year]
        wanted = {c.claim_id for c in claims}
        items = [i for i in view.every(cursor, ITEMS) if i.claim_id in wanted]
        visits: list[VisitState] = view.every(cursor, VISITS)
        lines = view.load(cursor, LINES, "budget_id", [budget_id(county, year)])
        anomalies: list[Anomaly] = view.every(cursor, ANOMALIES)
    by_claim: dict[UUID, list[ItemState]] = {}
    for item in sorted(items, key=lambda i: i.seq):
        by_claim.setdefault(item.claim_id, []).append(item)
    ours = {budget_id(county, year), *wanted, *(i.visit_id for i in items)}
    ours |= {v.visit_id for v in visits if county_date(v.started_at).year == year}
    mine = [a for a in anomalies if ours & set(a.ids)]
    return YearRows(
        position,
        county,
        year,
        tuple(sorted(claims, key=lambda c: (c.month, str(c.claim_id)))),
        {k: tuple(v) for k, v in by_claim.items()},
        tuple(sorted(lines, key=lambda line: (line.line != BudgetLine.TRANSPORT, line.line))),
        tuple(sorted(mine, key=lambda a: (a.code, a.position, a.subject, a.other))),
    )


def as_csv(rows: YearRows, part: str) -> bytes:
    header, body = rows.table(part)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(header)
    writer.writerows([inert(value) for value in row] for row in body)
    return ("\ufeff" + out.getvalue()).encode("utf-8")


def as_xlsx(rows: YearRows) -> bytes:
    from openpyxl import Workbook  # imported here: only an export needs it

    book = Workbook(write_only=True)
    for part in PARTS:
        sheet = book.create_sheet(part)
        header, body = rows.table(part)
        sheet.append(list(header))
        for row in body:
            sheet.append([text_cell(sheet, value) for value in row])
    summary = book.create_sheet("about")
    for row in about(rows):
        summary.append([text_cell(summary, value) for value in row])
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def inert(value: Any) -> Any:
    """A CSV cell a spreadsheet will not run: text that could start a formula gets a leading ``'``.

    Recorded text (a payment reference, a reason) comes from users; an auditor opening the
    export must not have ``=HYPERLINK(…)`` evaluated (OWASP's CSV injection advice).
    """
    return "'" + value if isinstance(value, str) and value.startswith(FORMULA_LEADS) else value


def text_cell(sheet: Any, value: Any) -> Any:
    """An XLSX cell: text stays text (never a formula), and characters XML cannot hold become U+FFFD."""
    if not isinstance(value, str):
        return value
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

    cell = WriteOnlyCell(sheet, ILLEGAL_CHARACTERS_RE.sub("\ufffd", value))
    cell.data_type = "s"
    return cell


def about(rows: YearRows) -> Sequence[tuple[str, Any]]:
    return (
        ("county", rows.county),
        ("year", rows.year),
        ("position", rows.position),
        ("claims", len(rows.claims)),
        ("anomalies", len(rows.anomalies)),
    )


def attachment(filename: str) -> str:
    """A ``Content-Disposition`` naming the file safely whatever the county's code holds (RFC 6266).

    The plain ``filename`` keeps ASCII letters, digits, dots and dashes (anything else becomes
    ``_``); ``filename*`` carries the exact name, percent-encoded UTF-8, for clients that read it.
    A raw name could hold quotes, line breaks or characters a header cannot carry.
    """
    plain = re.sub(r"[^A-Za-z0-9._-]", "_", filename)
    return f"attachment; filename=\"{plain}\"; filename*=UTF-8''{quote(filename, safe='')}"


# The audit bundle: files in yuan, headed in Chinese and English, with a manifest ----------------
#
# ``write_bundle`` writes a budget year (of one county, or of every county in the store: a
# province) as CSV files and one XLSX workbook into a folder, then ``manifest.json``: the log
# position the files reflect, when they were made, and each file's name, rows and SHA-256.
# Everything is read in one snapshot of the audit view, a page of claims (or anomalies) at a time,
# and each row is written as it is read (CSV straight to its file, XLSX through openpyxl's
# write-only mode), so the memory it takes does not grow with the number of rows.

BUNDLE_FORMAT = "tiexin-audit-export/1"
BUNDLE_PAGE = 50
"""Claims (and anomalies) read per query of a bundle (a claim holds up to a few dozen visits)."""
MANIFEST = "manifest.json"
WORKBOOK = "audit.xlsx"
YUAN_FORMAT = "0.00"
DAY_FORMAT = "yyyy-mm-dd"


def yuan(fen: int) -> str:
    """Integer fen as yuan with two decimals, exactly: ``1200`` → ``"12.00"``, ``-5`` → ``"-0.05"``."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}{whole}.{cents:02d}"


def yuan_value(fen: int) -> Decimal:
    """Integer fen as a decimal number of yuan (exact; an XLSX cell shows it with :data:`YUAN_FORMAT`)."""
    return Decimal(fen).scaleb(-2)


class Cell(Enum):
    TEXT = "text"
    NUMBER = "number"
    YUAN = "yuan"
    """Given in fen; written as yuan: text with two decimals in CSV, a number formatted 0.00 in XLSX."""
    DAY = "day"


@dataclass(frozen=True)
class Column:
    zh: str
    en: str
    cell: Cell = Cell.TEXT

    @property
    def header(self) -> str:
        return f"{self.zh} / {self.en}"


def _money(zh: str, en: str) -> tuple[Column, Column]:
    """A sum of money as two columns: integer fen (exact, for machines) and yuan (for people)."""
    return Column(f"{zh}（分）", f"{en} (fen)", Cell.NUMBER), Column(f"{zh}（元）", f"{en} (yuan)", Cell.YUAN)


@dataclass(frozen=True)
class Part:
    """One table of the bundle: its CSV file, its sheet of the workbook and its columns."""

    name: str
    sheet: str
    columns: tuple[Column, ...]
    in_workbook: bool = True
    """False: in its CSV file only (a province's visits outgrow a sheet's 1,048,576 rows)."""

    @property
    def file(self) -> str:
        return f"{self.name}.csv"


CLAIMS_PART = Part(
    "claims", "申领 claims",
    (
        Column("申领编号", "claim id"), Column("县", "county"), Column("月份", "month"),
        Column("志愿者编号", "volunteer id"), Column("状态代码", "status"), Column("状态", "status label"),
        *_money("交通补贴", "transport"), *_money("通讯补贴", "communication"), *_money("合计", "total"),
        Column("服务次数", "visits", Cell.NUMBER), Column("补贴标准版本", "policy version", Cell.NUMBER),
        Column("提交日期", "submitted on", Cell.DAY), Column("审批日期", "approved on", Cell.DAY),
        Column("支付日期", "paid on", Cell.DAY), Column("支付凭证号", "payment reference"),
        Column("提交人", "submitted by"), Column("审批人", "approved by"),
        Column("提交日志位置", "submitted position", Cell.NUMBER),
        Column("审批日志位置", "approved position", Cell.NUMBER), Column("支付日志位置", "paid position", Cell.NUMBER),
        Column("异常代码", "anomalies"),
    ),
)  # fmt: skip
ITEMS_PART = Part(
    "items", "申领明细 items",
    (
        Column("申领编号", "claim id"), Column("县", "county"), Column("月份", "month"),
        Column("序号", "item", Cell.NUMBER), Column("服务编号", "visit id"), Column("老人编号", "elder id"),
        Column("服务日期", "visit date", Cell.DAY), Column("开始", "starts"), Column("结束", "ends"),
        Column("时长（分钟）", "minutes", Cell.NUMBER), Column("类别代码", "kind"), Column("类别", "kind label"),
        Column("服务状态代码", "visit status"), Column("服务状态", "visit status label"),
        *_money("交通补贴", "transport"),
    ),
    in_workbook=False,
)  # fmt: skip
BUDGET_PART = Part(
    "budget", "预算 budget",
    (
        Column("县", "county"), Column("年度", "year", Cell.NUMBER), Column("科目代码", "line"),
        Column("科目", "line label"), *_money("预算", "appropriated"), *_money("已承诺", "committed"),
        *_money("已支付", "paid"), *_money("可用", "available"),
    ),
)  # fmt: skip
ANOMALIES_PART = Part(
    "anomalies", "异常 anomalies",
    (
        Column("代码", "code"), Column("规则", "rule (zh)"), Column("规则（英文）", "rule"), Column("对象", "subject"),
        Column("关联对象", "other"), Column("涉及编号", "ids"), Column("依据日志位置", "positions"),
        Column("最新日志位置", "position", Cell.NUMBER), Column("说明", "description"),
    ),
)  # fmt: skip
BUNDLE_PARTS = (CLAIMS_PART, ITEMS_PART, BUDGET_PART, ANOMALIES_PART)


@dataclass(frozen=True)
class FileEntry:
    name: str
    rows: int
    """Data rows (headers not counted); for the workbook, of all its sheets."""
    bytes: int
    sha256: str


@dataclass(frozen=True)
class Manifest:
    year: int
    county: str | None
    """None: every county in the store."""
    position: int
    generated_at: datetime
    files: tuple[FileEntry, ...]

    def as_json(self) -> bytes:
        body = {
            "format": BUNDLE_FORMAT,
            "year": self.year,
            "county": self.county,
            "counties": "one" if self.county is not None else "all",
            "position": self.position,
            "generated_at": self.generated_at.astimezone(COUNTY_TZ).isoformat(),
            "time_zone": str(COUNTY_TZ),
            "money": "columns (分) / (fen) are integer fen; columns (元) / (yuan) are yuan with two decimals",
            "files": [{"name": f.name, "rows": f.rows, "bytes": f.bytes, "sha256": f.sha256} for f in self.files],
        }
        return (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode("utf-8")


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


class PartWriter:
    """Writes one part's rows as they come: to its CSV file and to its sheet of the workbook."""

    def __init__(self, folder: Path, part: Part, book: Any) -> None:
        self.part, self.path, self.rows = part, folder / part.file, 0
        self.file = self.path.open("w", encoding="utf-8-sig", newline="")
        self.csv = csv.writer(self.file, lineterminator="\r\n")
        self.csv.writerow([c.header for c in part.columns])
        self.sheet = book.create_sheet(part.sheet) if part.in_workbook else None
        if self.sheet is not None:
            self.sheet.append([text_cell(self.sheet, c.header) for c in part.columns])

    def write(self, row: Sequence[Any]) -> None:
        pairs = list(zip(self.part.columns, row, strict=True))
        self.csv.writerow([csv_value(c.cell, v) for c, v in pairs])
        if self.sheet is not None:
            self.sheet.append([xlsx_value(self.sheet, c.cell, v) for c, v in pairs])
        self.rows += 1

    def close(self) -> FileEntry:
        self.file.close()
        return FileEntry(self.part.file, self.rows, self.path.stat().st_size, sha256_of(self.path))


def csv_value(cell: Cell, value: Any) -> Any:
    if value is None:
        return ""
    if cell is Cell.YUAN:
        return yuan(value)
    if cell is Cell.DAY:
        return value.isoformat()
    return inert(value)


def xlsx_value(sheet: Any, cell: Cell, value: Any) -> Any:
    if value is None or cell is Cell.TEXT:
        return text_cell(sheet, value)
    from openpyxl.cell import WriteOnlyCell

    if cell is Cell.YUAN:
        made = WriteOnlyCell(sheet, yuan_value(value))
        made.number_format = YUAN_FORMAT
        return made
    if cell is Cell.DAY:
        made = WriteOnlyCell(sheet, value)
        made.number_format = DAY_FORMAT
        return made
    return value


@dataclass
class YearPage:
    """What one page of a year's claims needs besides the claims, read in the same snapshot."""

    items: dict[UUID, list[ItemState]]
    visits: dict[UUID, VisitState]
    trail: dict[UUID, list[TrailRow]]
    codes: dict[str, set[str]]
    """Anomaly codes by the claim or visit id they involve."""

    @classmethod
    def read(cls, view: AuditView, cursor: Any, claims: list[ClaimState]) -> YearPage:
        ids = [c.claim_id for c in claims]
        items: dict[UUID, list[ItemState]] = {}
        for item in sorted(view.load(cursor, ITEMS, "claim_id", ids), key=lambda i: (str(i.claim_id), i.seq)):
            items.setdefault(item.claim_id, []).append(item)
        visit_ids = [i.visit_id for held in items.values() for i in held]
        visits = {v.visit_id: v for v in view.load(cursor, VISITS, "visit_id", visit_ids)}
        trail: dict[UUID, list[TrailRow]] = {}
        for row in sorted(view.load(cursor, TRAIL, "subject_id", ids), key=lambda r: r.position):
            trail.setdefault(row.subject_id, []).append(row)
        keys = [str(k) for k in (*ids, *visit_ids)]
        codes: dict[str, set[str]] = {}
        for a in view.load(cursor, ANOMALIES, "subject", keys) + view.load(cursor, ANOMALIES, "other", keys):
            for involved in (a.subject, a.other):
                codes.setdefault(involved, set()).add(a.code)
        return cls(items, visits, trail, codes)

    def claim_row(self, c: ClaimState) -> tuple[Any, ...]:
        held = self.items.get(c.claim_id, [])
        codes = set(self.codes.get(str(c.claim_id), set()))
        for item in held:
            codes |= self.codes.get(str(item.visit_id), set())
        events = {row.event: row for row in self.trail.get(c.claim_id, [])}  # the latest of each
        submitted, approved, paid = events.get("Submitted"), events.get("Approved"), events.get("Paid")
        paid_on = date.fromisoformat(paid.detail["paid_on"]) if paid and paid.detail.get("paid_on") else None
        return (
            str(c.claim_id), c.county, c.month, str(c.volunteer_id), c.status, label(ClaimStatus, c.status),
            c.transport_fen, c.transport_fen, c.communication_fen, c.communication_fen, c.total_fen, c.total_fen,
            len(held), c.policy_version,
            county_date(submitted.recorded_at) if submitted else None,
            county_date(approved.recorded_at) if approved else None,
            paid_on, str(paid.detail.get("reference") or "") if paid else "",
            c.submitted_by, c.approved_by or "", c.submitted_pos, c.approved_pos, c.paid_pos, " ".join(sorted(codes)),
        )  # fmt: skip

    def item_rows(self, c: ClaimState) -> Iterator[tuple[Any, ...]]:
        for item in self.items.get(c.claim_id, []):
            v = self.visits.get(item.visit_id)
            start, end = (v.started_at.astimezone(COUNTY_TZ), v.ended_at.astimezone(COUNTY_TZ)) if v else (None, None)
            yield (
                str(c.claim_id), c.county, c.month, item.seq, str(item.visit_id), str(v.elder_id) if v else "",
                start.date() if start else None, f"{start:%H:%M}" if start else "", f"{end:%H:%M}" if end else "",
                minutes(v.started_at, v.ended_at) if v else None, v.kind if v else "",
                label(VisitKind, v.kind) if v else "", v.status if v else "", label(VisitStatus, v.status) if v else "",
                item.transport_fen, item.transport_fen,
            )  # fmt: skip


def minutes(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


@dataclass(frozen=True)
class Belonging:
    """Whether an anomaly belongs to the year's bundle: it involves the year's budget, one of its
    claims, a visit one of them holds, or a visit that started in the year (as ``year_rows``)."""

    year: int
    county: str | None

    def ours(self, view: AuditView, cursor: Any, anomalies: list[Anomaly]) -> list[Anomaly]:
        ids = sorted({i for a in anomalies for i in a.ids}, key=str)
        if not ids:
            return []
        mine: set[UUID] = set()
        lines = view.load(cursor, LINES, "budget_id", ids)
        mine |= {line.budget_id for line in lines if line.year == self.year and self.county in (None, line.county)}
        mine |= {c.claim_id for c in view.load(cursor, CLAIMS, "claim_id", ids) if self.claims(c)}
        held = view.load(cursor, ITEMS, "visit_id", ids)
        holders = {
            c.claim_id for c in view.load(cursor, CLAIMS, "claim_id", {i.claim_id for i in held}) if self.claims(c)
        }
        mine |= {i.visit_id for i in held if i.claim_id in holders}
        visits = view.load(cursor, VISITS, "visit_id", ids)
        mine |= {v.visit_id for v in visits if county_date(v.started_at).year == self.year}
        return [a for a in anomalies if mine & set(a.ids)]

    def claims(self, c: ClaimState) -> bool:
        return c.year == self.year and self.county in (None, c.county)


def anomaly_file_row(a: Anomaly) -> tuple[Any, ...]:
    return (
        a.code, label("AnomalyRule", a.code, "zh"), label("AnomalyRule", a.code, "en"), a.subject, a.other,
        joined(a.ids), joined(a.positions), a.position, a.description,
    )  # fmt: skip


def budget_file_row(line: LineState) -> tuple[Any, ...]:
    return (
        line.county, line.year, line.line, label(BudgetLine, line.line), line.appropriated, line.appropriated,
        line.committed, line.committed, line.paid, line.paid, line.available, line.available,
    )  # fmt: skip


Progress = Callable[[int, int], None]


def write_bundle(
    view: AuditView,
    folder: Path,
    year: int,
    county: str | None = None,
    *,
    now: datetime,
    progress: Progress | None = None,
    page: int = BUNDLE_PAGE,
) -> Manifest:
    """Write a year's audit into ``folder`` (see the section's comment); answer its manifest, also written.

    ``progress(done, total)`` after each page: claims and anomalies read, of how many.
    """
    from openpyxl import Workbook

    folder.mkdir(parents=True, exist_ok=True)
    book = Workbook(write_only=True)
    writers = {part.name: PartWriter(folder, part, book) for part in BUNDLE_PARTS}
    try:
        with view.reading() as cursor:  # one snapshot for every file
            position = view.position_in(cursor)
            total = view.count_claims_of_year(cursor, year, county) + view.count_anomalies(cursor)
            done = 0
            after: tuple[str, str, UUID] | None = None
            while claims := view.claims_of_year(cursor, year, county, after, page):
                found = YearPage.read(view, cursor, claims)
                for claim in claims:
                    writers["claims"].write(found.claim_row(claim))
                    for row in found.item_rows(claim):
                        writers["items"].write(row)
                after, done = (claims[-1].county, claims[-1].month, claims[-1].claim_id), done + len(claims)
                if progress is not None:
                    progress(done, total)
            lines = [x for x in view.every(cursor, LINES) if x.year == year and county in (None, x.county)]
            for line in sorted(lines, key=lambda x: (x.county, x.line != BudgetLine.TRANSPORT, x.line)):
                writers["budget"].write(budget_file_row(line))
            belonging, seen = Belonging(year, county), None
            while anomalies := view.anomalies_after(cursor, seen, page):
                for a in belonging.ours(view, cursor, anomalies):
                    writers["anomalies"].write(anomaly_file_row(a))
                seen, done = (anomalies[-1].code, anomalies[-1].subject, anomalies[-1].other), done + len(anomalies)
                if progress is not None:
                    progress(done, total)
        about = book.create_sheet("说明 about")
        for key, value in bundle_about(year, county, position, now):
            about.append([text_cell(about, key), text_cell(about, value) if isinstance(value, str) else value])
    except BaseException:
        for sheet in book.worksheets:  # end each sheet's temporary file, which would complain at exit
            with suppress(Exception):
                sheet.close()
        raise
    finally:
        entries = [w.close() for w in writers.values()]
    workbook = folder / WORKBOOK
    book.save(workbook)
    rows = sum(e.rows for e, w in zip(entries, writers.values(), strict=True) if w.sheet is not None)
    entries.append(FileEntry(WORKBOOK, rows, workbook.stat().st_size, sha256_of(workbook)))
    manifest = Manifest(year, county, position, now, tuple(entries))
    (folder / MANIFEST).write_bytes(manifest.as_json())
    return manifest


def bundle_about(year: int, county: str | None, position: int, now: datetime) -> tuple[tuple[str, Any], ...]:
    return (
        ("年度 / year", year),
        ("县 / county", county or "全部 / all"),
        ("日志位置 / log position", position),
        ("生成时间 / generated at", now.astimezone(COUNTY_TZ).isoformat()),
        ("时区 / time zone", str(COUNTY_TZ)),
    )


def zip_bundle(folder: Path, target: Path, manifest: Manifest) -> None:
    """The bundle's files (those the manifest names, then the manifest) as one ZIP, written in place atomically."""
    partial = target.with_name(target.name + ".partial")
    with zipfile.ZipFile(partial, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for name in [*(f.name for f in manifest.files), MANIFEST]:
            archive.write(folder / name, arcname=name)
    partial.replace(target)
