"""``tiexin audit export`` and ``tiexin audit claim-sheet``: the audit's files, from the command line.

``tiexin audit export --year Y --out DIR|FILE.zip [--county C]`` writes a budget year (of one
county, or of every county in the store: a province) as CSV files and a workbook in yuan, headed
in Chinese and English, with ``manifest.json`` (:func:`api.export.write_bundle`), into a folder or
one ZIP, a page of rows at a time with a progress bar.

``tiexin audit claim-sheet --month YYYY-MM --township T [--county C] [--pdf FILE] [--xlsx FILE]
[--names]`` writes a township's monthly claim sheet (:mod:`api.claim_sheet`) as PDF and/or XLSX
(without either option: ``tiexin-claim-sheet-C-YYYY-MM-T.pdf`` in the current folder). People are
shown by pseudonym unless ``--names`` is given (which opens the persons' keys with the master key).

Both read the read models of ``TIEXIN_DATABASE_URL``. First they apply whatever part of the log the
models have not (as ``tiexin projections run`` would, writing nothing in their status), so the
files reflect the ledger as it is now even when no server keeps the models up.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.counties import LIANSHUI
from ledger.settings import redact
from tiexin.cli.output import console, fail, one_line_errors, progress_bar
from tiexin.settings import database_url, master_key

if TYPE_CHECKING:
    from api.export import Manifest
    from ledger.application import Ledger
    from projections.runner import PagedProjection

YearOption = Annotated[int, typer.Option("--year", help="The budget year.", show_default=False)]


def caught_up(log: Ledger, url: str, names: tuple[str, ...]) -> dict[str, PagedProjection[Any]]:
    """The read models ``names`` on ``url``, after applying the part of the log they have not."""
    from ledger.store import store_errors_translated
    from projections.runner import Runner
    from projections.service import open_projections

    projections = open_projections(url, names)
    try:
        for name, projection in projections.items():
            runner = Runner(log, projection, save_status=False)
            with store_errors_translated(f"the store at {redact(url)}"):
                runner.run_once()
            if runner.state.status == "stopped":
                fail(f"the {name} read model is stopped: {runner.state.reason} (see `tiexin projections status`)")
    except BaseException:
        close(projections)
        raise
    return projections


def close(projections: dict[str, PagedProjection[Any]]) -> None:
    for projection in projections.values():
        projection.paged_view.close()


def export_year(
    year: YearOption,
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="A folder to write the files into, or a FILE.zip to write them as.", show_default=False
        ),
    ],
    county: Annotated[
        str | None, typer.Option("--county", help="One county's code (default: every county in the store).")
    ] = None,
) -> None:
    """Write a budget year's audit in yuan (claims, claim items, budget, anomalies; CSV and XLSX) with a manifest."""
    from api.export import write_bundle, zip_bundle
    from ledger.store import store_errors_translated
    from projections.service import open_log

    url = database_url()
    with one_line_errors():
        log = open_log(url)  # the audit read model holds nothing personal
        try:
            projections = caught_up(log, url, ("audit",))
        finally:
            log.close()
        view: Any = projections["audit"].paged_view
        now = datetime.now(UTC)
        try:
            with (
                unwritable(out),
                store_errors_translated(f"the audit read model of {redact(url)}"),
                progress_bar(f"exporting {year}") as advance,
            ):
                if out.suffix.lower() == ".zip":
                    out.parent.mkdir(parents=True, exist_ok=True)
                    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".tiexin-export-") as folder:
                        manifest = write_bundle(view, Path(folder), year, county, now=now, progress=advance)
                        zip_bundle(Path(folder), out, manifest)
                else:
                    manifest = write_bundle(view, out, year, county, now=now, progress=advance)
        finally:
            close(projections)
    show(manifest, out)


@contextmanager
def unwritable(out: Path) -> Iterator[None]:
    """A folder or file that cannot be written ends the command with one line."""
    try:
        yield
    except OSError as error:
        fail(f"cannot write {error.filename or out}: {error.strerror}")


def show(manifest: Manifest, out: Path) -> None:
    console.print(f"{out}: the {manifest.year} audit of {manifest.county or 'every county'}", highlight=False)
    for f in manifest.files:
        console.print(
            f"  {f.name:<14} {f.rows:>10,} rows {f.bytes:>13,} bytes  sha256 {f.sha256}",
            highlight=False,
            soft_wrap=True,
        )
    console.print(f"as of log position {manifest.position:,}; manifest.json lists the files and their SHA-256")


def written(target: Path, content: bytes) -> None:
    try:
        target.write_bytes(content)
    except OSError as error:
        fail(f"cannot write {target}: {error.strerror}")
    console.print(f"wrote {target}", highlight=False)


def claim_sheet(
    month: Annotated[str, typer.Option("--month", help="The county month, YYYY-MM.", show_default=False)],
    township: Annotated[str, typer.Option("--township", help="The township.", show_default=False)],
    county: Annotated[str, typer.Option("--county", help="The county's code.")] = LIANSHUI,
    pdf: Annotated[Path | None, typer.Option("--pdf", help="Write the sheet as PDF to FILE.")] = None,
    xlsx: Annotated[Path | None, typer.Option("--xlsx", help="Write the sheet as XLSX to FILE.")] = None,
    names: Annotated[
        bool, typer.Option("--names", help="Print volunteers' and elders' names (else pseudonyms).")
    ] = False,
) -> None:
    """Write a township's monthly claim sheet, to print, sign and file (PDF and/or XLSX)."""
    import re

    from api.claim_sheet import Disclosure, Sources, as_pdf, as_xlsx, build_sheet, money
    from ledger.store import store_errors_translated
    from projections.service import open_log

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        fail(f"--month {month!r} is not a month YYYY-MM")
    url = database_url()
    with one_line_errors():
        log = open_log(url, master_key() if names else None)
        try:
            projections = caught_up(log, url, ("desk", "audit", "roster"))
            try:
                views: dict[str, Any] = {name: p.paged_view for name, p in projections.items()}
                src = Sources(log, views["desk"], views["audit"], views["roster"])
                with store_errors_translated(f"the read models of {redact(url)}"):
                    sheet = build_sheet(
                        src, county, month, township, names=Disclosure(names, names), now=datetime.now(UTC)
                    )
            finally:
                close(projections)
        finally:
            log.close()
        if pdf is None and xlsx is None:
            pdf = Path(f"{sheet.filename}.pdf")
        for target, render in ((pdf, as_pdf), (xlsx, as_xlsx)):
            if target is not None:
                written(target, render(sheet))
    console.print(
        f"{sheet.title}: {len(sheet.volunteers)} volunteers, {sheet.visits} visits, {len(sheet.claims)} claims, "
        f"total {money(sheet.total_fen)} (log position {sheet.position:,})",
        highlight=False,
    )
