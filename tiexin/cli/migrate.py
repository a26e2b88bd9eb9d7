"""``tiexin migrate --to URL``: move the SQLite ledger to an empty PostgreSQL database, every position intact.

The work is :func:`tiexin.migrate.migrate`; this command shows its progress, says what was
copied and what to do next, and ends with the seals' verification of the target.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.settings import redact
from tiexin.cli.output import console, fail, one_line_errors, progress_bar
from tiexin.settings import database_url

if TYPE_CHECKING:
    from tiexin.migrate import Copied


def bureau_public_key() -> Any | None:
    """The public half of the bureau's seal key file, if this machine has it (else the seals' own keys are used)."""
    try:
        from tiexin.cli.seals import bureau_public_key as public_key
    except ImportError:
        return None
    with one_line_errors():
        return public_key()


def migrate(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            help="The empty PostgreSQL database to move to: postgresql://user[:password]@host[:port]/db[?schema=name].",
            show_default=False,
        ),
    ],
    page_size: Annotated[int, typer.Option(min=1, help="Events read and written at a time.")] = 5000,
) -> None:
    """Copy this SQLite ledger (TIEXIN_DATABASE_URL) to an empty PostgreSQL database: events, keys, seals.

    Every event keeps its position; read models are not copied but rebuilt on the target.
    Refuses a target that holds anything. Ends by verifying the target against the seals.
    """
    from tiexin.migrate import migrate as move
    from tiexin.migrate import verify_target

    url = database_url()
    console.print(f"Moving the ledger at {redact(url)} to {redact(to)}", highlight=False)
    key = bureau_public_key()  # before the copy: a bad key file stops the command before anything is written
    with one_line_errors(), progress_bar("events") as advance:
        copied = move(url, to, page=page_size, progress=advance)
    print_copied(copied)
    with one_line_errors():
        result = verify_target(copied, to, key)
    if result is None:
        console.print("verification: skipped (this tiexin has no seals: projections.seals is not installed)")
    elif not result.intact:
        fail(f"verification of the target against the source's seals failed: {result.summary}")
    elif result.seal is None:
        console.print("verification: the source had no seals to check against; seal the target with `tiexin seal`")
    else:
        console.print(
            f"verification against the source's {result.seals} seals (signatures with {result.key}): "
            f"[green]{result.summary}[/green]",
            highlight=False,
        )
    console.print(
        "Read models are not copied: rebuild them on the target with\n"
        f"  TIEXIN_DATABASE_URL='{redact(to)}' tiexin projections rebuild\n"
        "then point TIEXIN_DATABASE_URL at it for the server, with the same master key "
        "(TIEXIN_MASTER_KEY or its key file) and seal key as before.",
        highlight=False,
        soft_wrap=True,
    )


def print_copied(copied: Copied) -> None:
    positions = (
        f" (positions {copied.first_position:,}–{copied.last_position:,})" if copied.last_position is not None else ""
    )
    console.print(
        f"copied {copied.events:,} events{positions} and {copied.snapshots:,} snapshots "
        f"in {copied.seconds:.1f} s ({copied.events_per_second:,.0f} events/s)",
        highlight=False,
    )
    for name, rows in copied.tables.items():
        console.print(f"copied {name}: {rows:,} rows", highlight=False)
    if copied.skipped:
        console.print(f"skipped (not in the source): {', '.join(copied.skipped)}", highlight=False)
    if copied.unknown:
        console.print(
            f"[yellow]not copied (unknown to this tiexin): {', '.join(copied.unknown)}[/yellow]", highlight=False
        )
    console.print(
        f"read back from the target: the same {copied.events:,} events, byte for byte (sha256 {copied.digest[:16]}…)",
        highlight=False,
    )
