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
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from uuid import UUID

from ledger.budgets import BudgetLine, budget_id
from ledger.common import county_date
from projections.audit import (
    ANOMALIES,
    CLAIMS,
    ITEMS,
    LINES,
    RULES,
    VISITS,
    Anomaly,
    AuditView,
    ClaimState,
    ItemState,
    LineState,
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
