"""``tiexin keys …`` and ``tiexin serve``: mounted on the ``tiexin`` command by :mod:`ledger.cli`.

Kept light: FastAPI and uvicorn are imported only when ``serve`` runs.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from uuid import UUID

import typer
from rich.console import Console
from rich.table import Table

from ledger.errors import TiexinError
from ledger.settings import database_url, redact, store_env

keys_app = typer.Typer(help="API keys: create (printed once, stored hashed), list, revoke.", no_args_is_help=True)
console = Console(soft_wrap=True)
errors = Console(stderr=True, soft_wrap=True)


@contextmanager
def one_line_errors() -> Iterator[None]:
    try:
        yield
    except TiexinError as error:
        errors.print(f"[red]error:[/red] {error.reason}", highlight=False)
        sys.exit(1)


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

    with one_line_errors():
        volunteer_id = None
        if volunteer is not None:
            try:
                volunteer_id = UUID(volunteer)
            except ValueError:
                raise InvalidInput("volunteer", f"{volunteer!r} is not a volunteer id") from None
            check_volunteer_exists(volunteer_id)
        tables = open_tables(database_url())
        try:
            token, info = KeyStore(tables).create(role=role, name=name, volunteer_id=volunteer_id)
        finally:
            tables.close()
    errors.print(f"created key {info.id} ({info.name}, {info.role}); it is shown once, below", highlight=False)
    print(token)


def check_volunteer_exists(volunteer_id: UUID) -> None:
    from api.service import load
    from ledger.bootstrap import open_ledger
    from ledger.volunteers import Volunteer

    ledger = open_ledger()
    try:
        load(ledger, Volunteer, volunteer_id, "volunteer")
    finally:
        ledger.close()


@keys_app.command("list")
def list_keys() -> None:
    """The keys: id, name, role, volunteer, created, revoked (never a key or its hash)."""
    from api.keys import KeyStore
    from api.tables import open_tables

    with one_line_errors():
        tables = open_tables(database_url())
        try:
            keys = KeyStore(tables).list_keys()
        finally:
            tables.close()
    table = Table(title=f"API keys of {redact(database_url())}")
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


def serve(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="The port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (PostgreSQL only; SQLite: 1).")] = 1,
    projections: Annotated[
        bool | None,
        typer.Option(
            "--projections/--no-projections",
            help="Run the read models in the server's process(es). Default: yes on SQLite; no on PostgreSQL, "
            "where `tiexin projections run` runs them beside the workers.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Serve the HTTP API (v1) on the configured store; the docs are at /docs."""
    import os
    import tempfile

    import uvicorn

    from api.app import open_services
    from api.settings import PROJECTIONS_ENV, ApiSettings, projections_from_env

    url = database_url()
    with one_line_errors():
        sqlite = store_env(url)["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
        if sqlite and workers > 1:
            raise TiexinError(
                "SQLite serves from one worker: the file has one writer at a time, so more processes only queue "
                "for its lock, and each would keep its own cache; use PostgreSQL for several workers"
            )
        open_services(ApiSettings(database_url=url)).close()  # fail here, in one line, if the store is unusable
        create_view_tables(url)  # once, here: several workers starting at once would race to create them
    if workers > 1 and "PROMETHEUS_MULTIPROC_DIR" not in os.environ:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="tiexin-metrics-")  # /metrics sums workers
    if projections is not None:
        os.environ[PROJECTIONS_ENV] = "in-process" if projections else "off"  # read by each worker's app
    with one_line_errors():
        chosen = projections_from_env()
    in_process = chosen if chosen is not None else sqlite
    read_side = "in this process" if in_process else "by `tiexin projections run` (reads poll their views)"
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    console.print(
        f"tiexin API on {base} ({workers} worker{'s' * (workers > 1)}), store {redact(url)}\n"
        f"  docs: {base}/docs   OpenAPI: {base}/openapi.json   health: {base}/healthz\n"
        f"  read models: run {read_side}\n"
        "  keys: tiexin keys create --role ROLE --name NAME",
        highlight=False,
    )
    uvicorn.run(
        "api.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        timeout_graceful_shutdown=5,  # an open event stream must not hold a shutdown for minutes
    )


def create_view_tables(url: str) -> None:
    """Open every read model's view once, which creates its tables if they are missing."""
    from projections.registry import names, open_projection

    for name in names():
        open_projection(name, url).paged_view.close()
