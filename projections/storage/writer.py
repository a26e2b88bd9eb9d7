"""How a page's rows reach a view, and how an answer carries the position it reflects."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from projections.storage.dialect import Dialect
from projections.storage.types import Cursor

R = TypeVar("R")


@dataclass(frozen=True)
class Answer(Generic[R]):
    """Rows of a read model and the log position they reflect (0: the view has applied nothing)."""

    position: int
    rows: tuple[R, ...]


class BatchWriter:
    """Buffers a page's rows by statement; :meth:`flush` sends them in ``order``, one ``executemany`` each.

    ``statements`` are templates (:meth:`Dialect.render`). A statement named in ``exact`` must
    touch one row per row of parameters: an update of a row the view does not have means the view
    missed an event, and the page is refused, not skipped.
    """

    def __init__(
        self,
        cursor: Cursor,
        dialect: Dialect,
        statements: Mapping[str, str],
        order: Sequence[str],
        exact: Iterable[str],
    ) -> None:
        self.cursor = cursor
        self.dialect = dialect
        self.statements = statements
        self.exact = frozenset(exact)
        self.pending: dict[str, list[tuple[Any, ...]]] = {name: [] for name in order}

    def add(self, statement: str, *params: Any) -> None:
        self.pending[statement].append(params)

    def flush(self) -> None:
        for name, rows in self.pending.items():
            if rows:
                self.cursor.executemany(self.dialect.render(self.statements[name]), rows)
                if name in self.exact and (changed := self.dialect.changed(self.cursor)) != len(rows):
                    raise ValueError(f"{name}: {len(rows) - changed} of its rows are not in the view")
                rows.clear()
