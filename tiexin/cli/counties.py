"""``tiexin county add|list``: the programme's counties and their townships, on the store itself.

``add`` establishes a county as the command line's principal (``cli``, role ``admin``), as
``POST /v1/counties`` does for an admin's key; a code already established is refused with one line
and nothing is written. ``list`` prints every county with its townships, as ``GET /v1/counties``.
Neither needs the master key: a county holds nothing personal.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from tiexin.cli.certificates import CLI
from tiexin.cli.output import console, one_line_errors
from tiexin.settings import database_url

if TYPE_CHECKING:
    from ledger.application import Ledger

county_app = typer.Typer(help="The programme's counties and their townships: add one, list them.", no_args_is_help=True)


@contextmanager
def opened() -> Iterator[Ledger]:
    from ledger.bootstrap import open_ledger

    ledger = open_ledger(database_url(), master_key=None)  # nothing personal is read or written
    try:
        yield ledger
    finally:
        ledger.close()


@county_app.command("add")
def add(
    code: Annotated[
        str, typer.Argument(metavar="CODE", help="The county's code, for good: lowercase letters, digits, - and _.")
    ],
    name: Annotated[str, typer.Argument(metavar="NAME", help="The county's name, e.g. 淮阴区.")],
    township: Annotated[
        list[str],
        typer.Option("--township", help="A township or park (乡镇/园区) of the county; repeat for each."),
    ],
) -> None:
    """Establish a county and its townships; a code already established is refused and nothing is written."""
    with one_line_errors(), opened() as ledger:
        written = ledger.establish_county(code, name, list(township), by=CLI)
    console.print(
        f"established county {code} ({name}) with {len(township)} townships at log position {written.position}",
        highlight=False,
    )


@county_app.command("list")
def list_counties() -> None:
    """Every county established, by code, with its townships."""
    with one_line_errors(), opened() as ledger:
        counties = ledger.counties()
    table = Table(title="counties")
    for column in ("code", "name", "townships"):
        table.add_column(column, overflow="fold")
    for county in counties:
        table.add_row(county.code, county.name, "、".join(county.townships))
    console.print(table)
