"""``tiexin demo``: build the demo county into the store and print what was written and how fast."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ledger.settings import redact
from tiexin.cli.output import console, one_line_errors, progress_bar
from tiexin.cli.seals import seal_demo
from tiexin.settings import database_url, master_key

if TYPE_CHECKING:
    from tiexin.demo.generator import DemoSummary

DEMO_KEYS = (("coordinator", "demo-coordinator"), ("auditor", "demo-auditor"), ("finance", "demo-finance"))


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the generator: the same seed builds the same county.")] = 1,
    scale: Annotated[int, typer.Option(min=1, max=200, help="How many counties to build (a province is ~100).")] = 1,
) -> None:
    """Build the demo county of Lianshui (429 elders, 60 volunteers, a year of service) and summarise it."""
    from tiexin.demo.generator import run_demo

    url = database_url()
    console.print(f"Building {scale} demo {'county' if scale == 1 else 'counties'} in {redact(url)}")
    with one_line_errors(), progress_bar("building") as advance:
        summary = run_demo(url, seed=seed, scale=scale, master_key=master_key(), progress=advance)
    print_summary(summary)
    with one_line_errors():
        seal_demo(url)
        print_demo_keys(url)


def print_demo_keys(url: str) -> None:
    """Keys to try the API with on the demo county (stored hashed; shown only here)."""
    from api.keys import KeyStore
    from api.tables import open_tables

    tables = open_tables(url)
    try:
        store = KeyStore(tables)
        console.print("API keys for the demo (shown once; `tiexin keys list` shows them without secrets):")
        for role, name in DEMO_KEYS:
            token, _ = store.create(role=role, name=name)
            console.print(f"  {role:<12} {token}", soft_wrap=True, highlight=False)
    finally:
        tables.close()
    console.print("Next: [bold]tiexin serve[/bold], then open http://127.0.0.1:8000/docs and Authorize with a key.")


def print_summary(summary: DemoSummary) -> None:
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
