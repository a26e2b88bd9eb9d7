"""``tiexin demo``: build the demo county into the store and print what was written and how fast."""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from ledger.common import county_date
from ledger.settings import redact
from tiexin.cli.output import console, one_line_errors, progress_bar
from tiexin.cli.seals import seal_demo
from tiexin.settings import database_url, master_key

if TYPE_CHECKING:
    from uuid import UUID

    from tiexin.demo.generator import DemoSummary, ExistingDemo

DEMO_ROLES = ("coordinator", "volunteer", "evaluator", "finance", "auditor", "admin")
"""A key for each role of the API, printed by every run (the volunteer's names a demo volunteer)."""


def demo(
    seed: Annotated[int, typer.Option(help="Seed of the generator: the same seed builds the same county.")] = 1,
    scale: Annotated[int, typer.Option(min=1, max=200, help="How many counties to build (a province is ~100).")] = 1,
    until: Annotated[
        datetime | None,
        typer.Option(
            formats=["%Y-%m-%d"],
            help="The day the demo's year ends (YYYY-MM-DD; default: today, the county's date): its month is the "
            "last of the twelve, with visits up to the day before and last month's claims waiting for approval.",
        ),
    ] = None,
) -> None:
    """Build the demo county of Lianshui (429 elders, 60 volunteers, a year of service) and summarise it.

    The demo's twelve months end today (or on ``--until``): this month's visits, last month's claims
    waiting for approval, and no elder overdue for a contact.

    On a store that already holds the demo county, keep it as it is and make new keys (so that
    ``tiexin demo && tiexin serve`` can be run again); a store holding other records is refused.
    """
    from tiexin.demo.generator import DemoExists, run_demo

    url = database_url()
    last = until.date() if until is not None else county_date(datetime.now(UTC))
    console.print(f"Building {scale} demo {'county' if scale == 1 else 'counties'} in {redact(url)}")
    with one_line_errors():
        try:
            with progress_bar("building") as advance:
                summary = run_demo(url, seed=seed, scale=scale, master_key=master_key(), progress=advance, until=last)
        except DemoExists as exists:
            print_kept(exists.demo, url)
            volunteer = exists.demo.volunteer_id
        else:
            print_summary(summary)
            seal_demo(url)
            volunteer = summary.volunteer_id
        print_demo_keys(url, volunteer)


def print_kept(demo: ExistingDemo, url: str) -> None:
    more = demo.counties - 1
    counties = f" and {more} more demo {'county' if more == 1 else 'counties'}" if more else ""
    console.print(
        f"Nothing to build: the store at {redact(url)} already holds the demo county {demo.name} ({demo.county})"
        f"{counties}, {demo.total_events:,} events, built by an earlier `tiexin demo`: kept as it is. "
        "(To build it afresh, point TIEXIN_DATABASE_URL at a new file or schema; --seed, --scale and --until apply "
        "only to an empty store.) Earlier demo keys still work; `tiexin keys list` names them, "
        "`tiexin keys revoke NAME` revokes one.",
        highlight=False,
        soft_wrap=True,
    )


def print_demo_keys(url: str, volunteer_id: UUID) -> None:
    """A key per role to try the API with on the demo county (stored hashed; shown only here).

    Names are never reused: a later run's keys are ``demo-ROLE-2``, ``demo-ROLE-3``…"""
    from api.keys import KeyStore
    from api.tables import open_tables

    tables = open_tables(url)
    try:
        store = KeyStore(tables)
        taken = {key.name for key in store.list_keys()}
        console.print("API keys for the demo (shown once; `tiexin keys list` shows them without secrets):")
        for role in DEMO_ROLES:
            name = next(n for n in key_names(role) if n not in taken)
            bound = volunteer_id if role == "volunteer" else None
            token, _ = store.create(role=role, name=name, volunteer_id=bound)
            mine = f"  (volunteer {volunteer_id}: its own records only)" if bound else ""
            console.print(f"  {role:<12} {token}{mine}", soft_wrap=True, highlight=False)
    finally:
        tables.close()
    console.print(
        "Next: [bold]tiexin serve[/bold], then open [bold]http://127.0.0.1:8000/[/bold] in a browser and paste one of "
        "these keys (the auditor's sees the most: the county, the budget, the audit and the evaluations); the API's "
        "docs are at http://127.0.0.1:8000/docs (Authorize with a key)."
    )


def key_names(role: str) -> Iterator[str]:
    yield f"demo-{role}"
    for n in itertools.count(2):
        yield f"demo-{role}-{n}"


def covered(summary: DemoSummary) -> str:
    """Which months the demo covers, in a sentence."""
    first, last = (date.fromisoformat(f"{month}-01") for month in summary.months)
    if summary.until is None:
        return f"The demo covers {first:%B %Y} to {last:%B %Y}; the claims of {last:%B} are paid the month after."
    before = summary.until.replace(day=1) - timedelta(days=1)
    return (
        f"The demo covers {first:%B %Y} to {summary.until.isoformat()}: visits up to the day before; the claims of "
        f"{before:%B %Y}, submitted from the 3rd, a third of them left awaiting approval; nothing recorded after "
        f"{summary.until.isoformat()}."
    )


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
    console.print(covered(summary), highlight=False)
    planted = Table(title="Deliberate irregularities (for the audit to find)")
    planted.add_column("code", no_wrap=True)
    planted.add_column("what", ratio=1, overflow="fold")  # a long word (an id in a refusal) folds, never cut
    planted.add_column("ids", no_wrap=True, min_width=36)  # whole ids, one a line: to copy into a request
    for item in summary.irregularities:
        planted.add_row(item.code, item.description, "\n".join(str(i) for i in item.entity_ids))
    for code, why in sorted(summary.not_plantable.items()):
        planted.add_row(code, f"not planted: {why}", "")
    console.print(planted)
