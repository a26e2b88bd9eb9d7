"""A township's monthly claim sheet (志愿者领取补贴明细表), as the county bureau files it: XLSX and PDF.

One sheet per county, month and township. It lists the township's volunteer team (the roster's
volunteers of the township, whatever their status now) and, for each volunteer, their visits of
the month (the desk read model: date, time, elder, place, kind, duration, how it was confirmed),
the live claim that holds each (submitted, approved or paid), the transport amount of each
claimed visit (the audit read model's claim items) and the claim's communication amount, with a
line for the volunteer to sign; then the township's totals and the lines where the township
health centre reviews (镇卫生院审核) and the county health commission approves (县卫健委审批).

A claim is on the sheet of its volunteer's township, so the sheets of a month add up to the
county's live claims of the month, each counted once; a visit made in another township is listed
with its place. A visit neither claimed nor voided is listed without an amount (未申领); a voided
visit is listed only while a claim still holds it (the audit flags that: A08).

Names are personal data (:mod:`api.personal`): a sheet shows a volunteer's or an elder's name only
when its :class:`Disclosure` says so (the caller's role may read it), and a pseudonym otherwise
(``elder-3f9a2c1b``); a forgotten person is shown by pseudonym. Money is integer fen until it is
printed, in yuan with two decimals (``¥12.00``). The PDF is set in ReportLab's built-in CID font
``STSong-Light`` (a PDF reader's own Song typeface; no font file is shipped or embedded).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar
from uuid import UUID

from eventsourcing.domain import Aggregate

from api.personal import pseudonym
from ledger.application import Ledger
from ledger.claims import ClaimStatus
from ledger.common import COUNTY_TZ
from ledger.counties import County, county_id
from ledger.elders import Elder
from ledger.errors import NotFound, TiexinError
from ledger.labels import Lang, label
from ledger.privacy import SubjectKind
from ledger.visits import Confirmer, ConfirmMethod, VisitKind, VisitStatus
from ledger.volunteers import Volunteer
from projections.audit import ITEMS, TRAIL, VISITS, AuditView, ItemState, TrailRow, VisitState
from projections.desk import ClaimRow, DeskView, VisitRow
from projections.roster import RosterView
from projections.storage import Answer

R = TypeVar("R")

LIVE = frozenset({ClaimStatus.SUBMITTED, ClaimStatus.APPROVED, ClaimStatus.PAID})
TITLE = "志愿者领取补贴明细表"
PROGRAMME = "贴心儿女志愿服务"
VOLUNTEER_SIGNS = "志愿者签字"
TOWNSHIP_REVIEWS = "镇卫生院审核（签字盖章）"
COUNTY_APPROVES = "县卫健委审批（签字盖章）"
UNCLAIMED = "未申领"
HEADER = (
    "志愿者", "服务日期", "时间", "服务对象", "服务地点", "服务类别", "时长（分钟）", "确认情况", "申领状态",
    "交通补贴（元）", "通讯补贴（元）", "小计（元）",
)  # fmt: skip
MONEY_COLUMNS = (9, 10, 11)
NOTE = "交通补贴按每次已申领的服务计；通讯补贴按每份申领计（每月一次）；未申领的服务不计金额。"
FONT = "STSong-Light"
XLSX_MONEY = '"¥"#,##0.00'
PAGE = 500
"""Rows per desk query (a volunteer has a few dozen visits a month at most)."""


def money(fen: int) -> str:
    """``¥12.00``: integer fen printed as yuan with two decimals."""
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), 100)
    return f"{sign}¥{whole}.{cents:02d}"


@dataclass(frozen=True)
class Sources:
    """Where a sheet is read from: the ledger (places, names) and three read models."""

    ledger: Ledger
    desk: DeskView
    audit: AuditView
    roster: RosterView


@dataclass(frozen=True)
class Disclosure:
    """Whose names the sheet may print (else pseudonyms): the caller's role decides."""

    volunteer_names: bool = False
    elder_names: bool = False


@dataclass(frozen=True)
class SheetVisit:
    visit_id: UUID
    day: date
    hours: str
    """``09:00–09:45``, county time."""
    minutes: int
    elder: str
    place: str
    kind: str
    confirmation: str
    claim: str
    """The holding claim's status (label), or 未申领."""
    transport_fen: int | None
    """None: not claimed (or the audit view has not seen the claim's items yet)."""


@dataclass(frozen=True)
class SheetClaim:
    claim_id: UUID
    status: str
    status_label: str
    transport_fen: int
    communication_fen: int

    @property
    def total_fen(self) -> int:
        return self.transport_fen + self.communication_fen


@dataclass(frozen=True)
class SheetVolunteer:
    volunteer_id: UUID
    name: str
    visits: tuple[SheetVisit, ...]
    claims: tuple[SheetClaim, ...]

    @property
    def transport_fen(self) -> int:
        return sum(c.transport_fen for c in self.claims)

    @property
    def communication_fen(self) -> int:
        return sum(c.communication_fen for c in self.claims)

    @property
    def total_fen(self) -> int:
        return self.transport_fen + self.communication_fen


@dataclass(frozen=True)
class ClaimSheet:
    county: str
    county_name: str
    township: str
    month: str
    volunteers: tuple[SheetVolunteer, ...]
    position: int
    """The desk's log position (the lowest of its reads): the visits and claims are as of it."""
    audit_position: int
    generated_at: datetime
    names: Disclosure

    @property
    def title(self) -> str:
        year, month = self.month.split("-")
        return f"{self.county_name}{self.township} {year}年{int(month)}月 {PROGRAMME} {TITLE}"

    @property
    def transport_fen(self) -> int:
        return sum(v.transport_fen for v in self.volunteers)

    @property
    def communication_fen(self) -> int:
        return sum(v.communication_fen for v in self.volunteers)

    @property
    def total_fen(self) -> int:
        return self.transport_fen + self.communication_fen

    @property
    def visits(self) -> int:
        return sum(len(v.visits) for v in self.volunteers)

    @property
    def claims(self) -> tuple[SheetClaim, ...]:
        return tuple(c for v in self.volunteers for c in v.claims)

    @property
    def filename(self) -> str:
        return f"tiexin-claim-sheet-{self.county}-{self.month}-{self.township}"

    def about(self) -> str:
        names = "姓名如实显示" if self.names.volunteer_names or self.names.elder_names else "人员以化名显示"
        shown = self.generated_at.astimezone(COUNTY_TZ).strftime("%Y-%m-%d %H:%M")
        return f"县代码 {self.county}；数据截至日志位置 {self.position}；制表时间 {shown}（北京时间）；{names}"


# Reading ------------------------------------------------------------------------------------


def every(query: Callable[..., Answer[R]], **filters: Any) -> tuple[int, list[R]]:
    """Every row of a desk list (newest first, a page at a time) and the lowest position read."""
    rows: list[R] = []
    position: int | None = None
    before: int | None = None
    while True:
        answer = query(before=before, limit=PAGE, **filters)
        position = answer.position if position is None else min(position, answer.position)
        rows.extend(answer.rows)
        if len(answer.rows) < PAGE:
            return position, rows
        before = answer.rows[-1].position  # type: ignore[attr-defined]


def build_sheet(
    src: Sources, county: str, month: str, township: str, *, names: Disclosure, now: datetime, lang: Lang = "zh"
) -> ClaimSheet:
    """The sheet of a county's township for a month (see the module's docstring)."""
    place = find(src.ledger, County, county_id(county), "county")
    if township not in place.townships:
        raise UnknownTownship(township, place)
    team = src.roster.loads(county=county, township=township)
    positions = [team.position]
    found: list[tuple[UUID, list[VisitRow], list[ClaimRow]]] = []
    for member in team.rows:
        seen, visits = every(src.desk.visits, volunteer_id=member.volunteer_id, month=month)
        counted, claims = every(src.desk.claims, volunteer_id=member.volunteer_id, month=month)
        positions += [seen, counted]
        live = [c for c in claims if c.status in LIVE]
        listed = [v for v in visits if v.claim_id is not None or v.status != VisitStatus.VOIDED]
        if listed or live:
            found.append((member.volunteer_id, listed, live))
    claim_ids = [c.claim_id for _, _, claims in found for c in claims]
    visit_ids = [v.visit_id for _, visits, _ in found for v in visits]
    with src.audit.reading() as cursor:
        audit_position = src.audit.position_in(cursor)
        items: list[ItemState] = src.audit.load(cursor, ITEMS, "claim_id", claim_ids)
        trail: list[TrailRow] = src.audit.load(cursor, TRAIL, "subject_id", visit_ids)
        missing = {i.visit_id for i in items} - set(visit_ids)
        strays: list[VisitState] = src.audit.load(cursor, VISITS, "visit_id", missing)
    transport = {(i.claim_id, i.visit_id): i.transport_fen for i in items}
    confirmed = {r.subject_id: r.detail for r in sorted(trail, key=lambda r: r.position) if r.event == "Confirmed"}
    people = Names(src.ledger, names)
    volunteers = []
    for volunteer_id, visits, claims in found:
        statuses = {c.claim_id: label(ClaimStatus, c.status, lang) for c in claims}
        rows = [
            SheetVisit(
                v.visit_id, local(v.started_at).date(), hours(v.started_at, v.ended_at),
                minutes(v.started_at, v.ended_at), people.elder(v.elder_id), v.township,
                label(VisitKind, v.kind, lang), confirmation(v.status, confirmed.get(v.visit_id), lang),
                statuses.get(v.claim_id, UNCLAIMED) if v.claim_id else UNCLAIMED,
                transport.get((v.claim_id, v.visit_id)) if v.claim_id else None,
            )
            for v in visits
        ]  # fmt: skip
        held = {v.visit_id for v in visits}
        rows += [
            SheetVisit(
                s.visit_id, local(s.started_at).date(), hours(s.started_at, s.ended_at),
                minutes(s.started_at, s.ended_at), people.elder(s.elder_id), "—", label(VisitKind, s.kind, lang),
                confirmation(s.status, confirmed.get(s.visit_id), lang), statuses[i.claim_id], i.transport_fen,
            )
            for i in items if i.visit_id not in held and i.claim_id in statuses
            for s in strays if s.visit_id == i.visit_id
        ]  # fmt: skip
        sheet_claims = tuple(
            SheetClaim(c.claim_id, c.status, statuses[c.claim_id], c.transport_fen, c.communication_fen)
            for c in sorted(claims, key=lambda c: c.position)
        )
        rows.sort(key=lambda r: (r.day, r.hours, str(r.visit_id)))
        volunteers.append(SheetVolunteer(volunteer_id, people.volunteer(volunteer_id), tuple(rows), sheet_claims))
    volunteers.sort(key=lambda v: (v.name, str(v.volunteer_id)))
    return ClaimSheet(
        county, place.name, township, month, tuple(volunteers), min(positions), audit_position, now, names
    )


A = TypeVar("A", bound=Aggregate)


class UnknownTownship(NotFound):
    """The county has no such township (404 over HTTP)."""

    def __init__(self, township: str, county: County) -> None:
        TiexinError.__init__(self, f"{township!r} is not a township of {county.name} ({county.code})")
        self.kind, self.ident = "township", township


def find(ledger: Ledger, cls: type[A], ident: UUID, kind: str) -> A:
    found = ledger.find(cls, ident)
    if found is None:
        raise NotFound(kind, ident)
    return found


class Names:
    """A person's name from the ledger when disclosed (and not forgotten), else their pseudonym."""

    def __init__(self, ledger: Ledger, disclose: Disclosure) -> None:
        self.ledger, self.disclose = ledger, disclose
        self.known: dict[UUID, str] = {}

    def elder(self, elder_id: UUID) -> str:
        return self.name(Elder, SubjectKind.ELDER, elder_id, self.disclose.elder_names)

    def volunteer(self, volunteer_id: UUID) -> str:
        return self.name(Volunteer, SubjectKind.VOLUNTEER, volunteer_id, self.disclose.volunteer_names)

    def name(self, cls: type[Any], kind: SubjectKind, ident: UUID, disclosed: bool) -> str:
        if not disclosed:
            return pseudonym(kind, ident)
        if ident not in self.known:
            person = self.ledger.find(cls, ident)
            named = person is not None and not person.forgotten
            self.known[ident] = str(person.name) if named and person is not None else pseudonym(kind, ident)
        return self.known[ident]


def local(moment: datetime) -> datetime:
    return moment.astimezone(COUNTY_TZ)


def hours(start: datetime, end: datetime) -> str:
    return f"{local(start):%H:%M}–{local(end):%H:%M}"


def minutes(start: datetime, end: datetime) -> int:
    return int((end - start).total_seconds() // 60)


def confirmation(status: str, detail: dict[str, Any] | None, lang: Lang) -> str:
    """How a confirmed visit was confirmed (``老人本人（签字）``); else the visit's status."""
    if status == VisitStatus.CONFIRMED and detail:
        by, method = str(detail.get("confirmed_by", "")), str(detail.get("method", ""))
        return f"{label(Confirmer, by, lang)}（{label(ConfirmMethod, method, lang)}）"
    return label(VisitStatus, status, lang)


# The sheet's rows, for both renderings ------------------------------------------------------


@dataclass(frozen=True)
class Line:
    kind: str
    """``visit``, ``subtotal``, ``sign`` (a volunteer's signature), ``total``, ``approve``, ``note``."""
    cells: tuple[Any, ...]
    """Twelve cells (:data:`HEADER`); money as integer fen (None: blank); a ``sign``, ``approve`` or
    ``note`` line has one text cell, spanning the row."""


def lines(sheet: ClaimSheet) -> Iterable[Line]:
    for v in sheet.volunteers:
        for n, visit in enumerate(v.visits):
            yield Line(
                "visit",
                (
                    v.name if n == 0 else "", visit.day.isoformat(), visit.hours, visit.elder, visit.place,
                    visit.kind, visit.minutes, visit.confirmation, visit.claim, visit.transport_fen, None, None,
                ),
            )  # fmt: skip
        held = "；".join(f"申领 {str(c.claim_id)[:8]}（{c.status_label}）" for c in v.claims) or "无申领"
        name = v.name if not v.visits else ""
        yield Line(
            "subtotal",
            (name, "小计", f"{len(v.visits)} 次服务", held, "", "", "", "", "", v.transport_fen, v.communication_fen,
             v.total_fen),
        )  # fmt: skip
        yield Line("sign", (f"{VOLUNTEER_SIGNS}：________________    日期：____________",))
    yield Line(
        "total",
        ("合计", f"{len(sheet.volunteers)} 名志愿者", f"{sheet.visits} 次服务", f"{len(sheet.claims)} 份申领", "", "",
         "", "", "", sheet.transport_fen, sheet.communication_fen, sheet.total_fen),
    )  # fmt: skip
    yield Line("approve", (f"{TOWNSHIP_REVIEWS}：________________________    日期：____________",))
    yield Line("approve", (f"{COUNTY_APPROVES}：________________________    日期：____________",))
    yield Line("note", (f"说明：{NOTE}",))
    yield Line("note", (sheet.about(),))


# XLSX ---------------------------------------------------------------------------------------

WIDTHS = (16, 11, 12, 16, 11, 10, 8, 16, 9, 12, 12, 12)


def as_xlsx(sheet: ClaimSheet) -> bytes:
    """The sheet as a workbook, laid out to print on landscape A4 (the header row repeats on each page)."""
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
    from openpyxl.utils import get_column_letter

    book = Workbook()
    ws = book.active
    ws.title = f"{sheet.month} 领取补贴"
    last = get_column_letter(len(HEADER))
    thin = Side(style="thin")
    box = Border(left=thin, right=thin, top=thin, bottom=thin)
    shaded = PatternFill("solid", fgColor="EEEEEE")
    ws.append([sheet.title])
    ws.merge_cells(f"A1:{last}1")
    ws["A1"].font = Font(size=14, bold=True)
    ws["A1"].alignment = Alignment(horizontal="center")
    ws.append([f"县：{sheet.county_name}    乡镇：{sheet.township}    月份：{sheet.month}"])
    ws.merge_cells(f"A2:{last}2")
    ws.append([])
    ws.append(list(HEADER))
    for cell in ws[4]:
        cell.font, cell.border, cell.fill = Font(bold=True), box, shaded
        cell.alignment = Alignment(horizontal="center", wrap_text=True)
    for line in lines(sheet):
        if len(line.cells) == 1:
            ws.append([line.cells[0]])
            ws.merge_cells(f"A{ws.max_row}:{last}{ws.max_row}")
            if line.kind in ("sign", "approve"):
                ws.row_dimensions[ws.max_row].height = 28
            continue
        ws.append([xlsx_cell(n, value) for n, value in enumerate(line.cells)])
        for n, cell in enumerate(ws[ws.max_row]):
            cell.border = box
            if n in MONEY_COLUMNS:
                cell.number_format = XLSX_MONEY
            if line.kind in ("subtotal", "total"):
                cell.fill = shaded
                cell.font = Font(bold=line.kind == "total")
    for n, width in enumerate(WIDTHS, start=1):
        ws.column_dimensions[get_column_letter(n)].width = width
    ws.print_title_rows = "4:4"
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = ws.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def xlsx_cell(column: int, value: Any) -> Any:
    if column in MONEY_COLUMNS and isinstance(value, int):
        return Decimal(value).scaleb(-2)
    return value


# PDF ----------------------------------------------------------------------------------------


def as_pdf(sheet: ClaimSheet) -> bytes:
    """The sheet on landscape A4 pages, set in the built-in CID font STSong-Light (no font file)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    if FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
    body = ParagraphStyle("cell", fontName=FONT, fontSize=8, leading=10, wordWrap="CJK")
    title = ParagraphStyle("title", fontName=FONT, fontSize=15, leading=20, alignment=1)
    plain = ParagraphStyle("plain", fontName=FONT, fontSize=9, leading=13, wordWrap="CJK")

    def para(value: Any, column: int = 0) -> Any:
        """A cell: short text as it is (fast), longer text as a paragraph that wraps in its column."""
        if value is None:
            return ""
        text = money(value) if column in MONEY_COLUMNS and isinstance(value, int) else str(value)
        fits = pdfmetrics.stringWidth(text, FONT, body.fontSize) <= widths[column] - 13  # less the cell's padding
        return text if fits else Paragraph(escape(text), body)

    widths = [w * 2.05 * mm for w in WIDTHS]
    rows: list[list[Any]] = [[para(h, n) for n, h in enumerate(HEADER)]]
    style: list[tuple[Any, ...]] = [
        ("FONT", (0, 0), (-1, -1), FONT, 8),
        ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
        ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#EEEEEE")),
    ]
    for line in lines(sheet):
        n = len(rows)
        if len(line.cells) == 1:
            rows.append([Paragraph(escape(str(line.cells[0])), plain), *[""] * (len(HEADER) - 1)])
            style.append(("SPAN", (0, n), (-1, n)))
            if line.kind in ("sign", "approve"):
                style.append(("TOPPADDING", (0, n), (-1, n), 8))
            continue
        rows.append([para(value, column) for column, value in enumerate(line.cells)])
        style.append(("GRID", (0, n), (-1, n), 0.4, colors.grey))
        if line.kind in ("subtotal", "total"):
            style.append(("BACKGROUND", (0, n), (-1, n), colors.HexColor("#F3F3F3")))
    style.append(("GRID", (0, 0), (-1, 0), 0.4, colors.grey))
    table = Table(rows, colWidths=widths, repeatRows=1)
    table.setStyle(TableStyle(style))
    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=landscape(A4), leftMargin=12 * mm, rightMargin=12 * mm, topMargin=12 * mm,
        bottomMargin=12 * mm, title=sheet.title, author="tiexin", subject=TITLE,
    )  # fmt: skip

    def footer(canvas: Any, document: Any) -> None:
        canvas.saveState()
        canvas.setFont(FONT, 7)
        canvas.drawRightString(landscape(A4)[0] - 12 * mm, 7 * mm, f"第 {document.page} 页")
        canvas.restoreState()

    heading = f"县：{sheet.county_name}    乡镇：{sheet.township}    月份：{sheet.month}"
    story = [Paragraph(escape(sheet.title), title), Paragraph(escape(heading), plain), Spacer(1, 4 * mm), table]
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    return out.getvalue()


def escape(text: str) -> str:
    """Text for a ReportLab paragraph (its markup is XML-like)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
