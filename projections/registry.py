"""Every read model by name, so the CLI, the server and the benchmarks can run them all.

Each read model lives in its own module, which exposes ``open_projection(url)``: the projection
on its view for the ledger's store at ``url`` (a SQLite file beside the ledger's, or tables in
the ledger's PostgreSQL schema). Modules are imported only when a read model is asked for.

``open_projection(url)`` uses ``url`` only to decide **where the view lives** (through
:func:`projections.storage.open_view`); it must not open the ledger nor read anything but the
events the runner gives it. So the same call with the URL of a scratch SQLite file gives a
throwaway view of the same read model (:mod:`projections.asof` replays into one).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable
from types import ModuleType
from typing import Any

from ledger.errors import TiexinError
from projections.runner import PagedProjection

READ_MODELS: dict[str, str] = {
    "history": "projections.history",
    "roster": "projections.roster",
    "scores": "projections.scores",
    "audit": "projections.audit",
    "health": "projections.health",
    "desk": "projections.desk",
}


class UnknownReadModel(TiexinError, KeyError):
    """A name that is not in :data:`READ_MODELS`."""

    def __str__(self) -> str:
        return self.reason


class ReadModelUnavailable(TiexinError):
    """A registered read model whose module cannot be imported (not written yet, or broken)."""


def names() -> list[str]:
    return list(READ_MODELS)


def check(requested: Iterable[str]) -> list[str]:
    """The names asked for, each once, in the order given; an unknown one raises UnknownReadModel."""
    chosen = list(dict.fromkeys(requested))
    unknown = [name for name in chosen if name not in READ_MODELS]
    if unknown:
        raise UnknownReadModel(
            f"no read model named {', '.join(map(repr, unknown))}; the read models are {', '.join(READ_MODELS)}"
        )
    return chosen


def load(name: str) -> ModuleType:
    """The read model's module; raises UnknownReadModel or ReadModelUnavailable (with why)."""
    [name] = check([name])
    try:
        return importlib.import_module(READ_MODELS[name])
    except ImportError as error:
        raise ReadModelUnavailable(f"read model {name!r} cannot be loaded: {error}") from error


def available() -> list[str]:
    """The read models whose module exists. One that exists but fails to import raises: a broken
    read model is reported, only one not written yet is passed over."""
    found = []
    for name, module in READ_MODELS.items():
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as error:
            if error.name == module:
                continue
            raise ReadModelUnavailable(f"read model {name!r} cannot be loaded: {error}") from error
        found.append(name)
    return found


def open_projection(name: str, url: str) -> PagedProjection[Any]:
    """The named read model's projection on its view for the store at ``url``."""
    projection: PagedProjection[Any] = load(name).open_projection(url)
    return projection
