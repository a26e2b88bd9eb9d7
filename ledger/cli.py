"""The ``tiexin`` command line."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Annotated

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from api.cli import keys_app, serve
from ledger.errors import TiexinError
from ledger.settings import database_url, redact
from projections.cli import projections_app

app = typer.Typer(help="tiexin: the service-record ledger of the caring sons and daughters programme.")
console = Console()
errors = Console(stderr=True)
app.add_typer(projections_app, name="projections")
app.add_typer(keys_app, name="keys")
app.command()(serve)


@app.callback()
def main() -> None:
    """The store is chosen by TIEXIN_DATABASE_URL (default sqlite:///tiexin.db)."""


@app.command()
def demo(
    seed: Annotated[int, typer.Option(help="Seed of the generator: the same seed builds the same county.")] = 1,
    scale: Annotated[int, typer.Option(min=1, max=200, help="How many counties to build (a province is ~100).")] = 1,
) -> None:
    """Build the demo county of the report (429 elders, 60 volunteers, a year of service) and summarise it."""
    from ledger.demo import DemoSummary, run_demo

    console.print(f"Building {scale} demo {'county' if scale == 1 else 'counties'} in {redact(database_url())}")
    with one_line_errors(), progress_bar("building") as advance:
        summary: DemoSummary = run_demo(seed=seed, scale=scale, progress=advance)
    print_summary(summary)
    with one_line_errors():
        print_demo_keys()


DEMO_KEYS = (("coordinator", "demo-coordinator"), ("auditor", "demo-auditor"), ("finance", "demo-finance"))


def print_demo_keys() -> None:
    """Keys to try the API with on the demo county (stored hashed; shown only here)."""
    from api.keys import KeyStore
    from api.tables import open_tables

    tables = open_tables(database_url())
    try:
        store = KeyStore(tables)
        console.print("API keys for the demo (shown once; `tiexin keys list` shows them without secrets):")
        for role, name in DEMO_KEYS:
            token, _ = store.create(role=role, name=name)
            console.print(f"  {role:<12} {token}", soft_wrap=True, highlight=False)
    finally:
        tables.close()
    console.print("Next: [bold]tiexin serve[/bold], then open http://127.0.0.1:8000/docs and Authorize with a key.")


def print_summary(summary: object) -> None:
    from ledger.demo import DemoSummary

    assert isinstance(summary, DemoSummary)
    table = Table(title="Events recorded, by type")
    table.add_column("event type")
    table.add_column("count", justify="right")
    for topic, count in sorted(summary.events_by_type.items()):
        table.add_row(topic, f"{count:,}")
    table.add_row("[bold]total", f"[bold]{summary.total_events:,}")
    console.print(table)
    console.print(
        f"{summary.counties} {'county' if summary.counties == 1 else 'counties'}: "
        f"{summary.total_events:,} events in {summary.seconds:.1f} s "
        f"({summary.events_per_second:,.0f} events/s)"
    )
    planted = Table(title="Deliberate irregularities (for the audit to find)")
    planted.add_column("code")
    planted.add_column("what")
    planted.add_column("ids")
    for item in summary.irregularities:
        planted.add_row(item.code, item.description, ", ".join(str(i) for i in item.entity_ids))
    for code, why in sorted(summary.not_plantable.items()):
        planted.add_row(code, f"not planted: {why}", "")
    console.print(planted)


@contextmanager
def progress_bar(label: str) -> Iterator[Callable[[int, int], None]]:
    columns = (TextColumn(label), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=errors, transient=True) as progress:
        task = progress.add_task(label, total=None)

        def advance(done: int, total: int) -> None:
            progress.update(task, completed=done, total=total)

        yield advance


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Our own errors end the command with one line on stderr and exit status 1, not a traceback."""
    try:
        yield
    except TiexinError as error:
        errors.print(f"[red]error:[/red] {error.reason}", highlight=False)
        sys.exit(1)
