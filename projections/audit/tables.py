"""The subsidy audit's tables, declared once for both stores, and the row class each is read back into.

A :class:`Rows` pairs a storage :class:`~projections.storage.Table` with the row class the audit
works with (``make``): its fields are the table's columns, in order, but for the ``derived`` ones,
which are stored for queries and computed by the row class. The storage layer knows tables and
values; which dataclass a row becomes is the audit's business, so the mapping stays here.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import Any

from projections.audit.fold import TrailRow
from projections.audit.rules import (
    VISIT_CODES,
    Anomaly,
    ClaimState,
    DepartureState,
    ItemState,
    LineState,
    PairingState,
    ResidenceState,
    VisitState,
)
from projections.storage import Index, Kind, Table, columns, nullable


@dataclass(frozen=True)
class Rows:
    """A table and the row class its rows are read back into (see the module's docstring)."""

    table: Table
    make: type[Any]
    derived: frozenset[str] = frozenset()
    """Columns stored for queries but computed by the row class, not passed to it."""
    given: tuple[str, ...] = field(init=False, repr=False, compare=False)
    """The columns the row class takes, in order."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "given", tuple(n for n in self.table.names if n not in self.derived))
        if tuple(f.name for f in fields(self.make)) != self.given:  # a row class takes its stored columns in order
            raise ValueError(f"{self.make.__name__} does not take the columns of table {self.suffix!r} in order")

    @property
    def suffix(self) -> str:
        return self.table.suffix

    @property
    def names(self) -> tuple[str, ...]:
        return self.table.names

    def kind(self, column: str) -> Kind:
        return self.table.kinds[column]


VISITS = Rows(
    Table(
        "visits",
        columns(
            ("visit_id", Kind.UUID), ("pairing_id", Kind.UUID), ("volunteer_id", Kind.UUID), ("elder_id", Kind.UUID),
            ("kind", Kind.TEXT), ("started_at", Kind.INSTANT), ("ended_at", Kind.INSTANT),
            ("recorded_at", Kind.INSTANT), ("status", Kind.TEXT), ("recorded_pos", Kind.INT),
            ("status_pos", Kind.INT), nullable("amended_pos", Kind.INT), ("township", Kind.TEXT),
            nullable("confirmed_place", Kind.TEXT), nullable("place_pos", Kind.INT),
        ),
        key=("visit_id",),
        indexes=(
            Index("visits_by_pairing", ("pairing_id",)), Index("visits_by_elder", ("elder_id",)),
            Index("visits_by_volunteer", ("volunteer_id", "ended_at")),
        ),
        compact=False,
    ),
    VisitState,
)  # fmt: skip
PAIRINGS = Rows(
    Table(
        "pairings",
        columns(
            ("pairing_id", Kind.UUID), ("volunteer_id", Kind.UUID), ("elder_id", Kind.UUID), ("from_date", Kind.DAY),
            nullable("ended_on", Kind.DAY), ("formed_pos", Kind.INT), nullable("ended_pos", Kind.INT),
        ),
        key=("pairing_id",),
        compact=False,
    ),
    PairingState,
)  # fmt: skip
DEPARTURES = Rows(
    Table(
        "departures",
        columns(("elder_id", Kind.UUID), ("departed_on", Kind.DAY), ("kind", Kind.TEXT), ("position", Kind.INT)),
        key=("elder_id",),
        compact=False,
    ),
    DepartureState,
)
RESIDENCES = Rows(
    Table(
        "residences",
        columns(("elder_id", Kind.UUID), ("since", Kind.DAY), ("township", Kind.TEXT), ("position", Kind.INT)),
        key=("elder_id", "position"),
        compact=False,
    ),
    ResidenceState,
)
"""Each elder's registered township over time: the registration and every relocation (nothing personal)."""
CLAIMS = Rows(
    Table(
        "claims",
        columns(
            ("claim_id", Kind.UUID), ("volunteer_id", Kind.UUID), ("county", Kind.TEXT), ("month", Kind.TEXT),
            ("submitted_by", Kind.TEXT), ("status", Kind.TEXT), nullable("approved_by", Kind.TEXT),
            ("transport_fen", Kind.INT), ("communication_fen", Kind.INT), ("policy_version", Kind.INT),
            ("submitted_pos", Kind.INT), ("status_pos", Kind.INT), nullable("approved_pos", Kind.INT),
            nullable("paid_pos", Kind.INT),
        ),
        key=("claim_id",),
        indexes=(Index("claims_by_month", ("county", "month", "claim_id")),),  # an export pages a year's by it
        compact=False,
    ),
    ClaimState,
)  # fmt: skip
ITEMS = Rows(
    Table(
        "items",
        columns(("claim_id", Kind.UUID), ("visit_id", Kind.UUID), ("seq", Kind.INT), ("transport_fen", Kind.INT)),
        key=("claim_id", "visit_id"),
        indexes=(Index("items_by_visit", ("visit_id",)),),
        compact=False,
    ),
    ItemState,
)
LINES = Rows(
    Table(
        "lines",
        columns(
            ("budget_id", Kind.UUID), ("line", Kind.TEXT), ("county", Kind.TEXT), ("year", Kind.INT),
            ("appropriated", Kind.INT), ("committed", Kind.INT), ("paid", Kind.INT), ("position", Kind.INT),
        ),
        key=("budget_id", "line"),
        indexes=(Index("lines_by_year", ("county", "year")),),
        compact=False,
    ),
    LineState,
)  # fmt: skip
TRAIL = Rows(
    Table(
        "trail",
        columns(
            ("position", Kind.INT), ("subject_id", Kind.UUID), ("entity_id", Kind.UUID), ("event", Kind.TEXT),
            ("recorded_at", Kind.INSTANT), nullable("principal_id", Kind.TEXT), ("detail", Kind.JSON),
        ),
        key=("position",),
        indexes=(Index("trail_by_subject", ("subject_id",)),),
        compact=False,
    ),
    TrailRow,
)  # fmt: skip
ANOMALIES = Rows(
    Table(
        "anomalies",
        columns(
            ("code", Kind.TEXT), ("subject", Kind.TEXT), ("other", Kind.TEXT), ("ids", Kind.UUIDS),
            ("positions", Kind.INTS), ("position", Kind.INT), ("description", Kind.TEXT), ("amount_fen", Kind.INT),
        ),
        key=("code", "subject", "other"),
        indexes=(Index("anomalies_by_subject", ("subject",)), Index("anomalies_by_other", ("other",))),
        compact=False,
    ),
    Anomaly,
    derived=frozenset({"position"}),
)  # fmt: skip
ROWS = (VISITS, PAIRINGS, DEPARTURES, RESIDENCES, CLAIMS, ITEMS, LINES, TRAIL, ANOMALIES)
TABLES = tuple(r.table for r in ROWS)
"""The view's tables (``compact=False``: SQLite keeps them as rowid tables, as it always has)."""

LOOKUPS = (
    (VISITS, "visit_id"), (VISITS, "pairing_id"), (VISITS, "elder_id"), (PAIRINGS, "pairing_id"),
    (DEPARTURES, "elder_id"), (RESIDENCES, "elder_id"), (CLAIMS, "claim_id"), (ITEMS, "claim_id"),
    (ITEMS, "visit_id"), (LINES, "budget_id"), (TRAIL, "subject_id"), (ANOMALIES, "code"), (ANOMALIES, "subject"),
    (ANOMALIES, "other"),
)  # fmt: skip
"""The columns rows are loaded by, a set of keys at a time."""
CODE_GROUPS: tuple[tuple[tuple[str, ...], str], ...] = (
    (VISIT_CODES, "subject"), (("A01", "A08"), "subject"), (("A01", "A08"), "other"), (("A02",), "subject"),
    (("A05",), "subject"), (("A05",), "other"), (("A07",), "subject"), (("A09",), "subject"),
)  # fmt: skip
"""The rules a page decides again together, by the column their scope is found by."""
