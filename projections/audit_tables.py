"""The subsidy audit's tables, declared once for both stores (see :mod:`projections.audit_sql`).

Each table names its columns with a *kind* (uuid, text, int, instant, date, or uuids/ints/json
kept as JSON text), its key, its indexes and the row class it is read back into — whose fields
are the stored columns, in order, but for ``derived`` ones the row class computes.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from projections.audit_fold import TrailRow
from projections.audit_rules import (
    VISIT_CODES,
    Anomaly,
    ClaimState,
    DepartureState,
    ItemState,
    LineState,
    PairingState,
    VisitState,
)


@dataclass(frozen=True)
class Table:
    suffix: str
    columns: tuple[tuple[str, str], ...]
    """(name, kind): kind is uuid, text, int, instant, date, uuids, ints or json."""
    key: tuple[str, ...]
    make: type[Any]
    indexes: tuple[tuple[str, ...], ...] = ()
    nullable: frozenset[str] = frozenset()
    derived: frozenset[str] = frozenset()
    """Columns stored for queries but computed by the row class, not passed to it."""

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(name for name, _ in self.columns)


U, T, N, TS, D = "uuid", "text", "int", "instant", "date"
JSON_KINDS = ("uuids", "ints", "json")

VISITS = Table(
    "visits",
    (("visit_id", U), ("pairing_id", U), ("volunteer_id", U), ("elder_id", U), ("kind", T), ("started_at", TS),
     ("ended_at", TS), ("recorded_at", TS), ("status", T), ("recorded_pos", N), ("status_pos", N),
     ("amended_pos", N)),
    ("visit_id",), VisitState, (("pairing_id",), ("elder_id",), ("volunteer_id", "ended_at")),
    frozenset({"amended_pos"}),
)  # fmt: skip
PAIRINGS = Table(
    "pairings",
    (("pairing_id", U), ("volunteer_id", U), ("elder_id", U), ("from_date", D), ("ended_on", D), ("formed_pos", N),
     ("ended_pos", N)),
    ("pairing_id",), PairingState, nullable=frozenset({"ended_on", "ended_pos"}),
)  # fmt: skip
DEPARTURES = Table(
    "departures", (("elder_id", U), ("departed_on", D), ("kind", T), ("position", N)), ("elder_id",), DepartureState
)
CLAIMS = Table(
    "claims",
    (("claim_id", U), ("volunteer_id", U), ("county", T), ("month", T), ("submitted_by", T), ("status", T),
     ("approved_by", T), ("transport_fen", N), ("communication_fen", N), ("policy_version", N),
     ("submitted_pos", N), ("status_pos", N), ("approved_pos", N), ("paid_pos", N)),
    ("claim_id",), ClaimState, nullable=frozenset({"approved_by", "approved_pos", "paid_pos"}),
)  # fmt: skip
ITEMS = Table(
    "items", (("claim_id", U), ("visit_id", U), ("seq", N), ("transport_fen", N)), ("claim_id", "visit_id"),
    ItemState, (("visit_id",),),
)  # fmt: skip
LINES = Table(
    "lines",
    (("budget_id", U), ("line", T), ("county", T), ("year", N), ("appropriated", N), ("committed", N), ("paid", N),
     ("position", N)),
    ("budget_id", "line"), LineState, (("county", "year"),),
)  # fmt: skip
TRAIL = Table(
    "trail",
    (("position", N), ("subject_id", U), ("entity_id", U), ("event", T), ("recorded_at", TS), ("principal_id", T),
     ("detail", "json")),
    ("position",), TrailRow, (("subject_id",),), frozenset({"principal_id"}),
)  # fmt: skip
ANOMALIES = Table(
    "anomalies",
    (("code", T), ("subject", T), ("other", T), ("ids", "uuids"), ("positions", "ints"), ("position", N),
     ("description", T)),
    ("code", "subject", "other"), Anomaly, (("subject",), ("other",)), derived=frozenset({"position"}),
)  # fmt: skip
TABLES = (VISITS, PAIRINGS, DEPARTURES, CLAIMS, ITEMS, LINES, TRAIL, ANOMALIES)
for _t in TABLES:  # a row class takes its stored columns in order
    assert [f.name for f in fields(_t.make)] == [n for n in _t.names if n not in _t.derived], _t.suffix

LOOKUPS = (
    (VISITS, "visit_id"), (VISITS, "pairing_id"), (VISITS, "elder_id"), (PAIRINGS, "pairing_id"),
    (DEPARTURES, "elder_id"), (CLAIMS, "claim_id"), (ITEMS, "claim_id"), (ITEMS, "visit_id"), (LINES, "budget_id"),
    (TRAIL, "subject_id"), (ANOMALIES, "code"), (ANOMALIES, "subject"), (ANOMALIES, "other"),
)  # fmt: skip
CODE_GROUPS: tuple[tuple[tuple[str, ...], str], ...] = (
    (VISIT_CODES, "subject"), (("A01", "A08"), "subject"), (("A01", "A08"), "other"), (("A02",), "subject"),
    (("A05",), "subject"), (("A05",), "other"), (("A07",), "subject"), (("A09",), "subject"),
)  # fmt: skip
"""The rules a page decides again together, by the column their scope is found by."""
