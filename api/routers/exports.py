"""Files for people: a township's monthly claim sheet (XLSX, PDF) and a year's audit bundle in yuan (ZIP).

- ``GET /v1/audit/claim-sheets/{month}?township=…&format=pdf|xlsx`` (finance, auditor, coordinator):
  the sheet the bureau files (:mod:`api.claim_sheet`). Names follow the record routes' rules: a
  coordinator sees volunteers' and elders' names, finance volunteers' names, an auditor neither
  (pseudonyms).
- ``GET /v1/audit/exports/{year}`` (auditor, finance): the year's claims, claim items, budget lines
  and anomalies as CSV files and a workbook, in yuan with Chinese and English headers, with
  ``manifest.json`` (log position, SHA-256 of each file), as one ZIP (:func:`api.export.write_bundle`).
  It is built in a temporary folder, a page of rows at a time, and streamed from there.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from fastapi import Path as PathParam
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.claim_sheet import ClaimSheet, Disclosure, Sources, as_pdf, as_xlsx, build_sheet
from api.export import XLSX, attachment, write_bundle, zip_bundle
from api.labels import Language
from api.reads import ReadModelUnavailable, ViewRead, view_reader
from api.routers.elders import PERSONAL_READERS
from api.routers.volunteers import NAME_READERS
from api.schemas import READ_ERRORS, Text
from ledger.budgets import FIRST_YEAR, LAST_YEAR
from ledger.store import store_errors_translated

router = APIRouter(prefix="/v1/audit", tags=["audit"])

SheetRead = Annotated[ViewRead, Depends(view_reader("desk", "finance", "auditor", "coordinator"))]
BundleRead = Annotated[ViewRead, Depends(view_reader("audit", "auditor", "finance"))]
PDF = "application/pdf"
ZIP = "application/zip"
SHEET_MODELS = ("audit", "roster")
"""Read with the desk for a sheet: a sheet waits (bounded) until they have reached the desk's position."""


def other_view(read: ViewRead, name: str) -> Any:
    view = read.side.view(name)
    if view is None:
        raise ReadModelUnavailable(f"the {name} read model is unavailable: {read.side.state(name).reason}")
    return view


def passed_headers(read: ViewRead, filename: str) -> dict[str, str]:
    headers = {k: v for k, v in read.response.headers.items() if k.startswith("x-tiexin-")}
    headers["Content-Disposition"] = attachment(filename)
    return headers


@router.get(
    "/claim-sheets/{month}",
    response_class=Response,
    responses={
        **READ_ERRORS,
        200: {
            "description": "the township's claim sheet of the month, to print, sign and file",
            "content": {
                PDF: {"schema": {"type": "string", "format": "binary"}},
                XLSX: {"schema": {"type": "string", "format": "binary"}},
            },
        },
    },
)
async def claim_sheet(
    read: SheetRead,
    lang: Language,
    month: Annotated[
        str, PathParam(pattern=r"^\d{4}-(0[1-9]|1[0-2])$", description="a county month, YYYY-MM", examples=["2026-02"])
    ],
    township: Annotated[Text, Query(description="one township of the county", examples=["高沟镇"])],
    county: Annotated[Text | None, Query(description="the county's code (omitted: the home county)")] = None,
    format: Annotated[str, Query(pattern="^(pdf|xlsx)$", description="pdf or xlsx")] = "pdf",
) -> Response:
    """A township's monthly claim sheet: each volunteer's visits, amounts and confirmations, totals in yuan,
    and the lines to sign (finance, auditor, coordinator; names only for the roles that read them)."""
    position = await run_in_threadpool(read.position)
    wait = read.services.settings.read_wait
    for name in SHEET_MODELS:
        await read.side.wait_for(name, position, wait)
    role = read.principal.role
    names = Disclosure(volunteer_names=role in NAME_READERS, elder_names=role in PERSONAL_READERS)
    chosen = county or read.services.settings.home_county

    def build() -> tuple[ClaimSheet, bytes]:
        src = Sources(read.services.ledger, read.view(), other_view(read, "audit"), other_view(read, "roster"))
        with store_errors_translated("the event store"):
            sheet = build_sheet(
                src, chosen, month, township, names=names, now=read.services.settings.clock(), lang=lang
            )
        return sheet, (as_xlsx(sheet) if format == "xlsx" else as_pdf(sheet))

    sheet, content = await run_in_threadpool(build)
    read.meta(sheet.position)
    media = XLSX if format == "xlsx" else PDF
    return Response(content, media_type=media, headers=passed_headers(read, f"{sheet.filename}.{format}"))


Year = Annotated[int, PathParam(ge=FIRST_YEAR, le=LAST_YEAR, description="the fiscal year", examples=[2026])]


@router.get(
    "/exports/{year}",
    response_class=Response,
    responses={
        **READ_ERRORS,
        200: {
            "description": "claims.csv, items.csv, budget.csv, anomalies.csv, audit.xlsx and manifest.json, zipped",
            "content": {ZIP: {"schema": {"type": "string", "format": "binary"}}},
        },
    },
)
def export_bundle(
    year: Year,
    read: BundleRead,
    county: Annotated[Text | None, Query(description="one county's code (omitted: every county in the store)")] = None,
) -> Response:
    """A year's audit in yuan, headed in Chinese and English, with a manifest of SHA-256s, zipped (auditor, finance)."""
    folder = Path(tempfile.mkdtemp(prefix="tiexin-export-"))
    try:
        with store_errors_translated("the audit read model"):
            manifest = write_bundle(read.view(), folder / "files", year, county, now=read.services.settings.clock())
        target = folder / "bundle.zip"
        zip_bundle(folder / "files", target, manifest)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    read.meta(manifest.position)
    headers = passed_headers(read, f"tiexin-audit-{year}-{county or 'all'}.zip")
    return FileResponse(
        target, media_type=ZIP, headers=headers, background=BackgroundTask(shutil.rmtree, folder, ignore_errors=True)
    )
