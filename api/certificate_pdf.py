"""A service-record certificate (志愿服务记录证明) as a one-page A4 PDF, in Chinese.

The text is set in ReportLab's built-in CID font ``STSong-Light`` (Adobe's Song typeface for
simplified Chinese, which every PDF reader supplies): the file embeds no font, and nothing needs
installing. The PDF is *invariant* (no creation time, a fixed document id), so the same
certificate always makes the same bytes. What it prints: the title, the name as printed at issue,
the period, the verified hours, the visits by kind with their Chinese labels, the issuer (the
county's bureau) and the issue date, the check code and where to check it, and the log position
and digest the certificate rests on.
"""

from __future__ import annotations

import io
from datetime import date

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_RIGHT
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from ledger.certificates import TITLE, TITLE_EN, Certificate, grouped
from ledger.common import county_date
from ledger.labels import label
from ledger.personal import FORGOTTEN
from ledger.visits import VisitKind

FONT = "STSong-Light"
_registered = False


def _font() -> str:
    global _registered
    if not _registered:
        pdfmetrics.registerFont(UnicodeCIDFont(FONT))
        _registered = True
    return FONT


def zh_date(day: date) -> str:
    """``2025-03-01`` → ``2025年3月1日``."""
    return f"{day.year}年{day.month}月{day.day}日"


def zh_duration(minutes: int) -> str:
    hours, rest = divmod(minutes, 60)
    return f"{hours} 小时 {rest} 分钟" if rest else f"{hours} 小时"


def printed_name(certificate: Certificate) -> str | None:
    """The name as printed at issue; None once the volunteer has been forgotten (their key is destroyed)."""
    return None if certificate.name == FORGOTTEN else certificate.name


def certificate_pdf(certificate: Certificate, check_url: str) -> bytes:
    """The certificate as PDF bytes; ``check_url`` is where anyone may check its code."""
    font = _font()
    body = ParagraphStyle("body", fontName=font, fontSize=12.5, leading=22, wordWrap="CJK", firstLineIndent=25)
    title = ParagraphStyle("title", fontName=font, fontSize=26, leading=34, alignment=TA_CENTER)
    subtitle = ParagraphStyle("subtitle", fontName=font, fontSize=10, leading=14, alignment=TA_CENTER)
    right = ParagraphStyle("right", fontName=font, fontSize=12.5, leading=20, alignment=TA_RIGHT)
    small = ParagraphStyle("small", fontName=font, fontSize=9, leading=13, wordWrap="CJK", textColor=colors.grey)
    code_style = ParagraphStyle("code", fontName=font, fontSize=10, leading=14, alignment=TA_RIGHT)

    name = printed_name(certificate) or "（姓名已依法删除）"
    visits = sum(certificate.visits_by_kind.values())
    story = [
        Paragraph(f"核验码 {grouped(certificate.code)}", code_style),
        Spacer(1, 10 * mm),
        Paragraph(TITLE, title),
        Paragraph(TITLE_EN, subtitle),
        Spacer(1, 12 * mm),
        Paragraph(
            f"兹证明 <b>{_escape(name)}</b> 同志于 {zh_date(certificate.date_from)} 至 {zh_date(certificate.date_to)}"
            "期间，参加“贴心儿女进家门”志愿服务活动，经老人或其家属确认的服务记录如下：",
            body,
        ),
        Spacer(1, 6 * mm),
        _table(certificate, visits, font),
        Spacer(1, 8 * mm),
        Paragraph("特此证明。", body),
        Spacer(1, 16 * mm),
        Paragraph(_escape(certificate.issuer), right),
        Paragraph(f"签发日期：{zh_date(county_date(certificate.issued_at))}", right),
        Spacer(1, 20 * mm),
        Paragraph(
            f"核验：本证明的核验码为 {grouped(certificate.code)}，任何人可访问 {_escape(check_url)} 核验真伪"
            "（无需登录）。签发后服务记录如有更正，核验结果将注明变化。",
            small,
        ),
        Paragraph(
            f"本证明依据截至日志位置 {certificate.position} 的服务记录签发；"
            f"所证事实的 SHA-256 摘要：{certificate.digest}",
            small,
        ),
    ]
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=25 * mm,
        rightMargin=25 * mm,
        topMargin=20 * mm,
        bottomMargin=20 * mm,
        title=TITLE,
        author=certificate.issuer,
        subject=f"{TITLE} {certificate.code}",
        invariant=True,
    )
    document.build(story)
    return buffer.getvalue()


def _table(certificate: Certificate, visits: int, font: str) -> Table:
    rows = [
        ["项目", "记录"],
        ["服务时长", f"{zh_duration(certificate.minutes)}（共 {certificate.minutes} 分钟）"],
        ["服务次数", f"{visits} 次"],
    ]
    kinds = [str(k) for k in VisitKind] + sorted(set(certificate.visits_by_kind) - {str(k) for k in VisitKind})
    rows += [[f"其中：{label(VisitKind, k, 'zh')}", f"{certificate.visits_by_kind.get(k, 0)} 次"] for k in kinds]
    table = Table(rows, colWidths=[55 * mm, 100 * mm])
    table.setStyle(
        TableStyle(
            [
                ("FONTNAME", (0, 0), (-1, -1), font),
                ("FONTSIZE", (0, 0), (-1, -1), 12),
                ("LEADING", (0, 0), (-1, -1), 16),
                ("GRID", (0, 0), (-1, -1), 0.6, colors.black),
                ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.93, 0.93, 0.93)),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ("LEFTPADDING", (0, 0), (-1, -1), 8),
            ]
        )
    )
    return table


def _escape(text: str) -> str:
    """Text for a Paragraph (its markup is XML-like)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
