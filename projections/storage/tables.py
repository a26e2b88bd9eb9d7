"""A read model's tables, declared once for both stores.

A :class:`Table` names its columns with a :class:`Kind` (what the value is, not how a store keeps
it), its primary key and its indexes. The dialects (:mod:`projections.storage.dialect`) turn a
declaration into each store's DDL and statements and convert values on their way in and out, so
a read model never writes ``CREATE TABLE`` or a store's type name itself.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum


class Kind(StrEnum):
    """What a column holds; each dialect decides how its store keeps it."""

    UUID = "uuid"
    TEXT = "text"
    INT = "int"
    REAL = "real"
    NUMBER = "number"
    """An exact decimal."""
    INSTANT = "instant"
    """A timezone-aware date-time (SQLite: fixed-width UTC text, so text order is time order)."""
    DAY = "day"
    FLAG = "flag"
    UUIDS = "uuids"
    """A tuple of ids, kept as JSON text."""
    INTS = "ints"
    """A tuple of integers, kept as JSON text."""
    JSON = "json"
    """Any JSON value, kept as text."""
    BYTES = "bytes"
    """Raw bytes (a hash): SQLite ``BLOB``, PostgreSQL ``bytea``."""


JSON_KINDS = frozenset({Kind.UUIDS, Kind.INTS, Kind.JSON})


@dataclass(frozen=True)
class Column:
    name: str
    kind: Kind
    nullable: bool = False
    unique: bool = False


@dataclass(frozen=True)
class Index:
    """An index ``view_{view}_{suffix}`` on some columns of its table."""

    suffix: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    """One table ``view_{view}_{suffix}`` of a read model."""

    suffix: str
    columns: tuple[Column, ...]
    key: tuple[str, ...]
    indexes: tuple[Index, ...] = ()
    compact: bool = True
    """Keyed storage where the store offers it (SQLite ``WITHOUT ROWID``)."""
    kinds: dict[str, Kind] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kinds", {c.name: c.kind for c in self.columns})
        missing = [n for n in (*self.key, *(c for i in self.indexes for c in i.columns)) if n not in self.kinds]
        if missing:
            raise ValueError(f"table {self.suffix!r} has no column {', '.join(missing)}")

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.columns)


def columns(*spec: tuple[str, Kind] | Column) -> tuple[Column, ...]:
    """Columns from ``(name, kind)`` pairs (not null) or :class:`Column`\\ s."""
    return tuple(c if isinstance(c, Column) else Column(*c) for c in spec)


def nullable(name: str, kind: Kind) -> Column:
    return Column(name, kind, nullable=True)
