"""The health read model's one table, and the statements that write and read it.

One row per visit not voided: the visit, its elder and volunteer, when it started (``taken_at``)
and its readings (systolic and diastolic pressure, pulse, glucose in mmol/L; each may be
missing). A row is kept for every visit, with readings or not, because an amendment may add
readings to a visit that had none.
"""

from __future__ import annotations

from projections.storage import Index, Kind, Table, columns, nullable

READINGS = ("systolic", "diastolic", "pulse", "glucose_mmol_l")

TABLE = Table(
    "readings",
    columns(
        ("visit_id", Kind.UUID), ("elder_id", Kind.UUID), ("volunteer_id", Kind.UUID), ("taken_at", Kind.INSTANT),
        *(nullable(r, Kind.NUMBER) for r in READINGS),
    ),
    key=("visit_id",),
    indexes=(Index("readings_by_elder", ("elder_id", "taken_at")),),
)  # fmt: skip
TABLES = (TABLE,)

WRITES = {
    "record": (
        "INSERT INTO {readings} (visit_id, elder_id, volunteer_id, taken_at, systolic, diastolic, pulse, "
        "glucose_mmol_l) VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
    ),
    "readings": "UPDATE {readings} SET systolic = ?, diastolic = ?, pulse = ?, glucose_mmol_l = ? WHERE visit_id = ?",
    "move": "UPDATE {readings} SET taken_at = ? WHERE visit_id = ?",
    "void": "DELETE FROM {readings} WHERE visit_id = ?",
    "forget": (
        "UPDATE {readings} SET systolic = NULL, diastolic = NULL, pulse = NULL, glucose_mmol_l = NULL "
        "WHERE elder_id = ?"
    ),
}
"""A page's rows, in the order they are sent: a visit is recorded before it is amended or voided,
the two kinds of amendment set different columns, and nothing is amended once voided."""
EXACT = ("readings", "move", "void")
"""Statements that must find their row: one missing means the view missed the visit's recording."""

OF_ELDER = (
    "SELECT visit_id, volunteer_id, taken_at, systolic, diastolic, pulse, glucose_mmol_l FROM {readings} "
    "WHERE elder_id = ? AND (systolic IS NOT NULL OR pulse IS NOT NULL OR glucose_mmol_l IS NOT NULL)"
)
