"""``tiexin serve``: the HTTP API on the configured store (FastAPI and uvicorn imported only here)."""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import typer
from rich.console import Console

from ledger.errors import TiexinError
from ledger.settings import redact, store_env
from tiexin.cli.output import one_line_errors
from tiexin.settings import Settings, database_url, master_key

console = Console(soft_wrap=True)


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
    import tempfile

    from api.app import open_services
    from api.settings import ApiSettings
    from tiexin.server import serve_api

    url = database_url()
    with one_line_errors():
        sqlite = store_env(url)["PERSISTENCE_MODULE"] == "eventsourcing.sqlite"
        if sqlite and workers > 1:
            raise TiexinError(
                "SQLite serves from one worker: the file has one writer at a time, so more processes only queue "
                "for its lock, and each would keep its own cache; use PostgreSQL for several workers"
            )
        open_services(
            ApiSettings(database_url=url, master_key=master_key())
        ).close()  # fail here, in one line, if the store is unusable
        create_view_tables(url)  # once, here: several workers starting at once would race to create them
    with one_line_errors():
        settings = Settings.from_env(projections=projections)
    if workers > 1 and settings.metrics_dir is None:  # /metrics of any worker sums them all
        settings = replace(settings, metrics_dir=tempfile.mkdtemp(prefix="tiexin-metrics-"))
    in_process = settings.projections if settings.projections is not None else sqlite
    read_side = "in this process" if in_process else "by `tiexin projections run` (reads poll their views)"
    base = f"http://{'[' + host + ']' if ':' in host else host}:{port}"
    console.print(
        f"tiexin API on {base} ({workers} worker{'s' * (workers > 1)}), store {redact(url)}\n"
        f"  desk: open {base}/ in a browser and paste an API key (`tiexin demo` prints one per role)\n"
        f"  docs: {base}/docs   OpenAPI: {base}/openapi.json   health: {base}/healthz\n"
        f"  read models: run {read_side}\n"
        "  keys: tiexin keys create --role ROLE --name NAME",
        highlight=False,
    )
    serve_api(settings, host=host, port=port, workers=workers)


def create_view_tables(url: str) -> None:
    """Open every read model's view once, which creates its tables if they are missing."""
    from projections.registry import names, open_projection

    for name in names():
        open_projection(name, url).paged_view.close()
