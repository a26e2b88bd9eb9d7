"""``tiexin keys …``: API keys made (printed once, stored hashed), listed and revoked."""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from ledger.settings import redact
from tiexin.cli.output import errors, one_line_errors
from tiexin.settings import database_url

keys_app = typer.Typer(help="API keys: create (printed once, stored hashed), list, revoke.", no_args_is_help=True)
console = Console(soft_wrap=True)


@keys_app.command("create")
def create_key(
    role: Annotated[str, typer.Option(help="coordinator, volunteer, evaluator, finance, auditor or admin.")],
    name: Annotated[str, typer.Option(help="A name for the key's holder, unique for good (e.g. coord-wang).")],
    volunteer: Annotated[str | None, typer.Option(help="The volunteer's id (volunteer keys only).")] = None,
) -> None:
    """Make a key and print it, and only it, once: it is stored only as a hash."""
    from api.keys import KeyStore
    from api.tables import open_tables
    from ledger.errors import InvalidInput

    url = database_url()
    with one_line_errors():
        volunteer_id = None
        if volunteer is not None:
            try:
                volunteer_id = UUID(volunteer)
            except ValueError:
                raise InvalidInput("volunteer", f"{volunteer!r} is not a volunteer id") from None
            check_volunteer_exists(url, volunteer_id)
        tables = open_tables(url)
        try:
            token, info = KeyStore(tables).create(role=role, name=name, volunteer_id=volunteer_id)
        finally:
            tables.close()
    errors.print(f"created key {info.id} ({info.name}, {info.role}); it is shown once, below", highlight=False)
    print(token)


def check_volunteer_exists(url: str, volunteer_id: UUID) -> None:
    from api.service import load
    from ledger.bootstrap import open_ledger
    from ledger.volunteers import Volunteer

    ledger = open_ledger(url, master_key=None)  # only whether the volunteer exists: nothing personal is read
    try:
        load(ledger, Volunteer, volunteer_id, "volunteer")
    finally:
        ledger.close()


@keys_app.command("list")
def list_keys() -> None:
    """The keys: id, name, role, volunteer, created, revoked (never a key or its hash)."""
    from api.keys import KeyStore
    from api.tables import open_tables

    url = database_url()
    with one_line_errors():
        tables = open_tables(url)
        try:
            keys = KeyStore(tables).list_keys()
        finally:
            tables.close()
    table = Table(title=f"API keys of {redact(url)}")
    for column in ("id", "name", "role", "volunteer", "created", "revoked"):
        table.add_column(column, no_wrap=True)
    for key in keys:
        table.add_row(key.id, key.name, key.role, str(key.volunteer_id or ""), key.created_at, key.revoked_at or "")
    Console(width=max(console.width, 160)).print(table)


@keys_app.command("revoke")
def revoke_key(name_or_id: Annotated[str, typer.Argument(metavar="NAME|ID", help="The key's name or id.")]) -> None:
    """Revoke a key: from now on (within a second on a running server) it is refused with 401."""
    from api.keys import KeyStore
    from api.tables import open_tables

    with one_line_errors():
        tables = open_tables(database_url())
        try:
            info = KeyStore(tables).revoke(name_or_id)
        finally:
            tables.close()
    console.print(f"revoked key {info.id} ({info.name}, {info.role}) at {info.revoked_at}", highlight=False)


@keys_app.command("seal-key")
def seal_key() -> None:
    """Make the bureau's Ed25519 seal key (TIEXIN_SEAL_KEY_FILE, default tiexin-seal.key); never overwrites one."""
    from projections.seals import create_key_file
    from tiexin.settings import seal_key_file

    path = seal_key_file()
    with one_line_errors():
        made = create_key_file(path)
    public = made.public
    console.print(
        f"created the seal key in {path.resolve()} (mode 0600). It signs every seal: keep it secret, back it up "
        "apart from the database, and give it to every process that seals (docs/operations.md, Keys).",
        highlight=False,
    )
    console.print(f"public key fingerprint: {public.fingerprint}", highlight=False)
    console.print(public.pem.rstrip(), highlight=False)
