"""``tiexin projections …``: the read models' status, rebuilds, and running them in the foreground.

The store is ``TIEXIN_DATABASE_URL`` (:func:`tiexin.settings.database_url`). The heavy imports
happen inside the commands, so mounting this app costs the other commands nothing.
"""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from ledger.settings import redact
from tiexin.cli.output import console, errors, one_line_errors
from tiexin.settings import database_url, master_key

if TYPE_CHECKING:
    from eventsourcing.application import Application

    from projections.service import ProjectionStatus

projections_app = typer.Typer(
    help="The read models: their status, rebuilding them, running them.", no_args_is_help=True
)

Names = Annotated[list[str] | None, typer.Argument(help="Read models (default: all).", show_default=False)]
PageSize = Annotated[int, typer.Option(min=1, help="Events applied per view transaction.")]


STATE_STYLE = {"caught_up": "green", "running": "cyan", "retrying": "yellow", "stopped": "bold red"}


@projections_app.command()
def status() -> None:
    """Each read model's position, lag behind the ledger, and state (with the reason when not well)."""
    from projections.service import read_status

    url = database_url()
    with one_line_errors():
        rows = read_status(url)
    console.print(status_table(url, rows))


def status_table(url: str, rows: list[ProjectionStatus]) -> Table:
    table = Table(title=f"Read models of {redact(url)}")
    for column, justify in (("name", "left"), ("position", "right"), ("lag", "right"), ("state", "left")):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    table.add_column("reason", overflow="fold")
    for row in rows:
        style = STATE_STYLE.get(row.state, "dim")
        table.add_row(
            row.name,
            "–" if row.position is None else f"{row.position:,}",
            "–" if row.lag is None else f"{row.lag:,}",
            f"[{style}]{row.state}[/{style}]",
            row.reason or "",
        )
    return table


@projections_app.command()
def rebuild(names: Names = None, page_size: PageSize = 500) -> None:
    """Empty read models and apply the whole log again in one pass, with a progress bar; prints events/s.

    The log is read once and each event decoded once for all the read models chosen; each still
    commits its own pages with its own position (projections.onepass).
    """
    from projections import registry
    from projections.service import open_log

    url = database_url()
    with one_line_errors():
        chosen = registry.check(names) if names else registry.available()
        log = open_log(url, master_key())
        try:
            failed = rebuild_in_one_pass(log, url, chosen, page_size)
        finally:
            log.close()
    if failed:
        sys.exit(1)


def rebuild_in_one_pass(log: Application[Any], url: str, names: list[str], page_size: int) -> list[str]:
    """Rebuild the read models together; the names of those that stopped on an event (after saying why)."""
    from ledger.store import store_errors_translated
    from projections.onepass import OnePass
    from projections.runner import Runner
    from projections.service import open_projections

    projections = open_projections(url, names)
    runners = [Runner(log, projection, page_size=page_size) for projection in projections.values()]
    one_pass = OnePass(log, runners, page_size=page_size)
    columns = (TextColumn(", ".join(names)), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    try:
        with Progress(*columns, console=errors, transient=True) as progress:
            task = progress.add_task("rebuild", total=None)
            one_pass.on_page = lambda done, total: progress.update(task, completed=done, total=total)
            started = time.perf_counter()
            with store_errors_translated(f"the store at {redact(url)}"):
                one_pass.rebuild()
            seconds = time.perf_counter() - started
        for runner in runners:
            runner.shutdown()
    finally:
        one_pass.close()
        for projection in projections.values():
            projection.paged_view.close()
    failed = []
    for runner in runners:
        if runner.state.status == "stopped":
            errors.print(f"[red]error:[/red] {runner.name} stopped: {runner.state.reason}", highlight=False)
            failed.append(runner.name)
            continue
        applied = one_pass.applied[runner.view.view_name]
        console.print(f"{runner.name}: {applied:,} events applied (log to position {runner.position:,})")
    head = max((runner.position for runner in runners), default=0)
    rate = head / seconds if seconds > 0 else float("inf")
    models = f"{len(runners)} read model{'' if len(runners) == 1 else 's'}"
    console.print(f"{models} rebuilt in one pass over {head:,} events in {seconds:.2f} s: {rate:,.0f} events/s")
    return failed


@projections_app.command()
def run(
    names: Names = None,
    poll_interval: Annotated[
        float | None, typer.Option(min=0.01, help="Seconds between polls (default 0.2 on SQLite, 5 on PostgreSQL).")
    ] = None,
    page_size: PageSize = 500,
    listen: Annotated[bool, typer.Option(help="Wake on PostgreSQL's LISTEN/NOTIFY (polling goes on anyway).")] = True,
) -> None:
    """Keep read models caught up with the ledger, in the foreground, until Ctrl-C or SIGTERM."""
    from projections.service import ProjectionService
    from tiexin.cli.seals import sealing_policy

    url = database_url()
    with one_line_errors():
        service = ProjectionService(
            url,
            names,
            poll_interval=poll_interval,
            page_size=page_size,
            listen=listen,
            master_key=master_key(),
            sealing=sealing_policy(),
        )
    how = "LISTEN/NOTIFY and polling" if service.listener else "polling"
    sealing = "; the sealer follows the log too" if service.sealer else ""
    service.run_until_signalled(
        started=lambda: errors.print(
            f"running {', '.join(service.runners)} on {redact(url)} "
            f"({how} every {service.poll_interval:g} s){sealing}; Ctrl-C to stop",
            highlight=False,
        )
    )
    errors.print("stopped", highlight=False)
