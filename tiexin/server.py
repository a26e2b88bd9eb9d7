"""Serving the HTTP API: the app factory each worker calls, and uvicorn started on it.

``tiexin serve`` runs :func:`serve_api`. With ``--workers N`` uvicorn starts N processes, and each
builds its app by importing :data:`FACTORY` and calling it: all a worker knows is the environment
it inherits, so :func:`serve_api` first writes the settings there (:meth:`Settings.export`) and
:func:`create_app_from_env` reads them back in the worker (:meth:`Settings.from_env`). The api
package itself never reads or writes the environment: it is handed :class:`api.settings.ApiSettings`.
"""

from __future__ import annotations

from fastapi import FastAPI

from api.app import create_app
from tiexin.settings import Settings

FACTORY = "tiexin.server:create_app_from_env"
"""What uvicorn imports in each worker process."""


def create_app_from_env() -> FastAPI:
    """The app of one worker, on the settings its environment holds (written by :func:`serve_api`)."""
    return create_app(Settings.from_env().api())


def serve_api(settings: Settings, *, host: str, port: int, workers: int) -> None:
    """Hand the settings to the workers (through their environment) and serve until stopped."""
    import uvicorn

    settings.export()
    uvicorn.run(
        FACTORY,
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="info",
        timeout_graceful_shutdown=5,  # an open event stream must not hold a shutdown for minutes
    )
