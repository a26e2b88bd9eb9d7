"""``tiexin audit reconcile`` and ``tiexin audit sample``: the auditor's tools from the command line.

``tiexin audit reconcile --year Y [--county C]`` reconciles a budget year from the log
(:mod:`ledger.reconciliation`): per line, appropriated + adjustments = committed + paid +
available, and compares the Budget aggregate and the audit read model (if it has run) with the
log. It prints the lines and exits 0 when everything balances; otherwise it lists each difference
with the claims and log positions behind it and exits 1.

``tiexin audit sample --year Y --size N --seed S [--stratify township|amount]`` draws a
reproducible sample of the year's approved and paid claims (:mod:`ledger.audit_samples`),
records the draw in the ledger and prints its id, the log position it was drawn at and the claims.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from ledger.counties import LIANSHUI
from tiexin.cli.output import console, errors, fail, one_line_errors
from tiexin.settings import database_url, master_key

if TYPE_CHECKING:
    from ledger.reconciliation import Reconciliation

audit_app = typer.Typer(help="The auditor's tools: reconciliation, reproducible samples, exports, claim sheets.")

YearOption = Annotated[int, typer.Option("--year", help="The budget year.", show_default=False)]
CountyOption = Annotated[str, typer.Option("--county", help="The county's code.")]


@audit_app.command("reconcile")
def reconcile(year: YearOption, county: CountyOption = LIANSHUI) -> None:
    """Reconcile a budget year from the log; exit 1, naming the claims and positions, if it does not balance."""
    from projections.audit import open_audit_view
    from projections.reconcile import reconcile as reconcile_year
    from projections.service import open_log

    url = database_url()
    with one_line_errors():
        ledger = open_log(url)  # nothing personal is read: the budget and claim events carry none
        try:
            view = open_audit_view(url)
            try:
                result = reconcile_year(ledger, county, year, audit=view)
            finally:
                view.close()
        finally:
            ledger.close()
    show(result)
    if not result.balanced:
        for finding in result.findings():
            errors.print(f"  {finding}", highlight=False, soft_wrap=True)
        fail(
            f"the {year} budget of {county} does not reconcile at position {result.position}: "
            f"{len(result.findings())} difference(s), listed above"
        )
    console.print(
        f"the {year} budget of {county} reconciles to the fen at position {result.position:,}", highlight=False
    )


FIGURES = ("appropriated", "adjustments", "committed", "paid", "available", "difference")


def show(result: Reconciliation) -> None:
    """The lines side by side, a figure a row (fen), then what each source was compared at."""
    from rich.table import Table

    table = Table(title=f"{result.county} {result.year}: appropriated + adjustments = committed + paid + available")
    lines = (*result.lines, result.total)
    table.add_column("fen")
    for x in lines:
        table.add_column(x.line, justify="right", no_wrap=True)
    for figure in FIGURES:
        table.add_row(figure, *(f"{getattr(x, figure):,}" for x in lines))
    console.print(table)
    for c in result.comparisons:
        said = f"compared at position {c.position:,}" if c.compared else f"not compared: {c.reason}"
        found = f", {len(c.differences)} difference(s)" if c.differences else ""
        console.print(f"{c.source}: {said}{found}", highlight=False)


@audit_app.command("sample")
def sample(
    year: YearOption,
    size: Annotated[int, typer.Option("--size", help="How many claims to draw.", show_default=False)],
    seed: Annotated[int, typer.Option("--seed", help="The same seed over the same log draws the same.")],
    stratify: Annotated[
        str | None, typer.Option("--stratify", help="township or amount (default: none).", show_default=False)
    ] = None,
    county: CountyOption = LIANSHUI,
    by: Annotated[str, typer.Option("--by", help="Who draws it (recorded with the draw).")] = "cli-auditor",
) -> None:
    """Draw a reproducible sample of a budget year's approved and paid claims and record it."""
    from ledger.audit_samples import AuditSample
    from ledger.bootstrap import open_ledger
    from ledger.common import Provenance
    from projections.sampling import population

    url = database_url()
    with one_line_errors():
        ledger = open_ledger(url, master_key=master_key())
        try:
            written = ledger.draw_audit_sample(
                county=county, year=year, size=size, seed=seed, stratify_by=stratify,
                population=lambda c, y: population(ledger, c, y), by=Provenance(by, "auditor"),
            )  # fmt: skip
            drawn = ledger.find(AuditSample, written.id)
        finally:
            ledger.close()
    if drawn is None:
        fail(f"the sample {written.id} was recorded but cannot be read back")
        return
    console.print(
        f"sample {drawn.id} recorded at position {written.position}: {len(drawn.claims)} of {drawn.population} "
        f"claims of {year}, seed {seed}, drawn over the log up to position {drawn.position}",
        highlight=False,
        soft_wrap=True,
    )
    for claim in drawn.claims:
        console.print(
            f"{claim['claim_id']}  {claim['stratum']}  {claim['total_fen']:>8} fen  {len(claim['visit_ids'])} visits",
            highlight=False,
        )
