"""Every read model by name, so the CLI, the server and the benchmarks can run them all.

Each read model lives in its own module, which exposes ``open_projection(url)``: the projection
on its view for the ledger's store at ``url`` (a SQLite file beside the ledger's, or tables in
the ledger's PostgreSQL schema). Modules are imported only when a read model is asked for.
"""

from __future__ import annotations

import importlib
from typing import Any

from projections.runner import PagedProjection

READ_MODELS: dict[str, str] = {
    "history": "projections.history",
    "roster": "projections.roster",
    "scores": "projections.scores",
    "audit": "projections.audit",
    "health": "projections.health",
}


def names() -> list[str]:
    return list(READ_MODELS)


def open_projection(name: str, url: str) -> PagedProjection[Any]:
    """The named read model's projection on its view for the store at ``url``."""
    if name not in READ_MODELS:
        raise KeyError(f"no read model named {name!r}; one of {', '.join(READ_MODELS)}")
    module = importlib.import_module(READ_MODELS[name])
    projection: PagedProjection[Any] = module.open_projection(url)
    return projection
