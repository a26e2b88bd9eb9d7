"""What the read models' integration tests share: views opened on a test's store, and a runner caught up."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from ledger.application import Ledger
from projections.runner import PagedProjection, Runner
from projections.storage import PagedView

V = TypeVar("V", bound=PagedView[Any])
P = TypeVar("P", bound=PagedProjection[Any])


@contextmanager
def views_on(store_url: str, open_view: Callable[[str, str], V], default_name: str) -> Iterator[Callable[..., V]]:
    """An opener of views of one read model on the test's store (each named, default ``default_name``),
    every one of them closed when the test ends."""
    opened: list[V] = []

    def opener(name: str = default_name) -> V:
        view = open_view(store_url, name)
        opened.append(view)
        return view

    yield opener
    for view in opened:
        view.close()


def caught_up(ledger: Ledger, projection: P, page_size: int = 500) -> P:
    """The projection, after one runner brought it up to the ledger's head with no failure."""
    runner = Runner(ledger, projection, page_size=page_size)
    runner.run_once()
    assert (runner.state.status, runner.state.failure) == ("caught_up", None), runner.state
    return projection
