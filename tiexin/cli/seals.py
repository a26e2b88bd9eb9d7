"""``tiexin seal``, ``tiexin seals export FILE|list``, ``tiexin verify``: seals from the command line.

``tiexin verify`` needs no server: it reads the ledger named by ``TIEXIN_DATABASE_URL`` (the
SQLite file itself, a copy of it, or PostgreSQL) and checks it against the seals stored there, or
against an exported seals file an auditor kept (``--seals``), under a public key (``--public-key``;
default: the seals file's, else the bureau's key file if this machine has it, else the key stored
with each seal). It prints "intact up to position P under seal S" and exits 0, or names the first
position that no longer matches and how, and exits 1. A ledger never sealed is an error too.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.settings import redact
from tiexin.cli.output import console, errors, fail, one_line_errors
from tiexin.settings import database_url, seal_key_file

if TYPE_CHECKING:
    from projections.seals import PublicKey, SealPolicy, VerifyResult

seals_app = typer.Typer(help="The seals: export them for an auditor, list them.", no_args_is_help=True)


def seal() -> None:
    """Seal the log now: add every new event to the Merkle tree and sign its root with the seal key."""
    from projections.seals import load_key_file, seal_store

    url = database_url()
    with one_line_errors():
        key = load_key_file(seal_key_file())
        made = seal_store(url, key)
    console.print(
        f"seal {made.seq}: {made.tree_size:,} events up to position {made.last_position:,}, root {made.root}, "
        f"signed at {made.sealed_at} by key {made.key_fingerprint[:16]}…",
        highlight=False,
        soft_wrap=True,
    )


@seals_app.command("export")
def export(
    file: Annotated[Path, typer.Argument(help="The JSON file to write (replaced if it exists).", show_default=False)],
) -> None:
    """Write every seal and the public key that signed them to FILE, for an auditor to keep away from the system."""
    from projections.seals import export_seals

    url = database_url()
    with one_line_errors():
        exported = export_seals(url, bureau_public_key())
        try:
            exported.write(file)
        except OSError as error:
            fail(f"cannot write {file}: {error.strerror}")
    last = exported.seals[-1] if exported.seals else None
    upto = f", the last covering {last.tree_size:,} events up to position {last.last_position:,}" if last else ""
    console.print(f"wrote {len(exported.seals)} seals{upto} to {file}", highlight=False)


@seals_app.command("list")
def list_seals() -> None:
    """The seals: number, events covered, last position, when, root and key."""
    from rich.table import Table

    from projections.seals import all_seals, open_store

    url = database_url()
    with one_line_errors():
        store = open_store(url, create=False)
        try:
            found = all_seals(store) if store.has_tables() else []
        finally:
            store.close()
    table = Table(title=f"Seals of {redact(url)}")
    for column in ("seq", "events", "last position", "sealed at", "root", "key"):
        table.add_column(column, no_wrap=True)
    for s in found:
        table.add_row(
            str(s.seq), f"{s.tree_size:,}", f"{s.last_position:,}", s.sealed_at, s.root[:16] + "…",
            s.key_fingerprint[:16] + "…",
        )  # fmt: skip
    console.print(table)


def verify(
    seals: Annotated[
        Path | None, typer.Option("--seals", help="An exported seals file to check against (default: the store's).")
    ] = None,
    public_key: Annotated[
        Path | None, typer.Option("--public-key", help="The bureau's public key (PEM) to check signatures with.")
    ] = None,
) -> None:
    """Check the log against its seals, offline: "intact up to position P under seal S", or where and how not."""
    from projections.seals import PublicKey, load_seals_file, verify_store

    url = database_url()
    with one_line_errors():
        kept = load_seals_file(seals) if seals is not None else None
        key = read_public_key(public_key) if public_key is not None else None
        if key is None and kept is None:
            key = bureau_public_key()
        result = verify_store(url, seals=kept, public_key=key)
    report(result, isinstance(key, PublicKey))


def report(result: VerifyResult, with_key: bool) -> None:
    if result.seal is None and result.intact:
        fail(f"{result.summary}; seal it with `tiexin seal`")
    if not result.intact:
        console.print(f"[red]{result.summary}[/red]", highlight=False, soft_wrap=True)
        errors.print(f"checked {result.seals} seals with {result.key} in {result.seconds:.2f} s", highlight=False)
        raise typer.Exit(1)
    console.print(f"[green]{result.summary}[/green]", highlight=False)
    unsealed = f"; {result.unsealed:,} later events not sealed yet" if result.unsealed else ""
    console.print(
        f"{result.tree_size:,} events checked against {result.seals} seals, signatures with {result.key}, "
        f"in {result.seconds:.2f} s{unsealed}",
        highlight=False,
        soft_wrap=True,
    )


def read_public_key(path: Path) -> PublicKey:
    from projections.seals import PublicKey, SealKeyError

    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as error:
        raise SealKeyError(f"cannot read the public key {path}: {getattr(error, 'strerror', None) or error}") from None
    try:
        return PublicKey.from_pem(text)
    except SealKeyError as error:
        raise SealKeyError(f"{path}: {error.reason}") from None


def bureau_public_key() -> PublicKey | None:
    """The public half of the seal key file, if this machine has it."""
    from projections.seals import SealKeyMissing, load_key_file

    try:
        return load_key_file(seal_key_file()).public
    except SealKeyMissing:
        return None


def sealing_policy() -> SealPolicy:
    """The running sealer's policy from the settings: seal every N events or T minutes, with the key file."""
    from projections.seals import SealPolicy, load_key_file
    from tiexin.settings import Settings

    settings = Settings.from_env()
    path = Path(settings.seal_key_file)
    return SealPolicy(
        key=lambda: load_key_file(path),
        every_events=settings.seal_every_events,
        every_seconds=settings.seal_every_minutes * 60,
    )


def seal_demo(url: str) -> None:
    """Seal the demo's log, making the seal key first if this directory has none (a demo's convenience:
    a bureau makes its key on purpose, with ``tiexin keys seal-key``)."""
    from projections.seals import SealKeyMissing, create_key_file, load_key_file, seal_store

    path = seal_key_file()
    try:
        key = load_key_file(path)
    except SealKeyMissing:
        key = create_key_file(path)
        console.print(f"created a seal key for the demo in {path.resolve()}", highlight=False, soft_wrap=True)
    made = seal_store(url, key)
    console.print(
        f"sealed the log: seal {made.seq} covers {made.tree_size:,} events up to position {made.last_position:,} "
        "(check it with `tiexin verify`)",
        highlight=False,
        soft_wrap=True,
    )
