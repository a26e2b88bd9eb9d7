"""The seals' two tables, declared once for both stores, and the statements over them.

They live in the **ledger's** database, beside the library's events table (on SQLite in the
ledger's own file, on PostgreSQL in its schema), so a copy of the ledger carries its seals:

- ``seal_leaves``: one row per sealed event, in log order. ``leaf_index`` counts the leaves from
  0 (positions may have gaps: a leaf's index is not its position); ``position`` is the event's
  log position; ``leaf_hash`` its RFC 9162 leaf hash; ``content_hash`` the SHA-256 of its record
  without the position (:func:`projections.seals.merkle.content`), so that verification can tell
  an event moved to another position ("reordered") from one changed ("edited"); ``subtrees`` the
  hashes of the perfect subtrees of 2, 4 … leaves that this leaf completes (32 bytes each, often
  none: see :mod:`projections.seals.merkle`), from which any node of any sealed tree is computed
  with ``O(log n)`` rows, so a proof never needs the whole tree.
- ``seals``: one row per signed seal: ``seq`` (1, 2, …), ``tree_size`` (leaves covered),
  ``last_position`` (the position of the last of them), ``root`` (hex), ``sealed_at`` (the exact
  ISO text that was signed), ``signature`` (Ed25519, hex), ``key_fingerprint`` (SHA-256 of the raw
  public key, hex) and ``public_key`` (raw, hex), so that a copy of the database alone can be
  checked for internal consistency; an auditor checks against the bureau's key itself.

The read side's storage layer gives their DDL and statements (:mod:`projections.storage`); the
tables keep these exact names (not a view's ``view_…`` prefix): they are not a read model and no
rebuild ever touches them.
"""

from __future__ import annotations

from collections.abc import Sequence

from projections.storage import Column, Index, Kind, PostgresDialect, SQLiteDialect, Table, columns

LEAVES = Table(
    "seal_leaves",
    columns(
        ("leaf_index", Kind.INT), Column("position", Kind.INT, unique=True), ("leaf_hash", Kind.BYTES),
        ("content_hash", Kind.BYTES), ("subtrees", Kind.BYTES),
    ),
    key=("leaf_index",),
    indexes=(Index("seal_leaves_by_content", ("content_hash",)),),
)  # fmt: skip
SEALS = Table(
    "seals",
    columns(
        ("seq", Kind.INT), ("tree_size", Kind.INT), ("last_position", Kind.INT), ("root", Kind.TEXT),
        ("sealed_at", Kind.TEXT), ("signature", Kind.TEXT), ("key_fingerprint", Kind.TEXT), ("public_key", Kind.TEXT),
    ),
    key=("seq",),
    compact=False,
)  # fmt: skip
TABLES = (LEAVES, SEALS)
NAMES = tuple(t.suffix for t in TABLES)


class _Named:
    """Tables named exactly as declared (``seal_leaves``), not as a view's (``view_…``)."""

    def full_name(self, suffix: str) -> str:
        return suffix


class SealSQLiteDialect(_Named, SQLiteDialect):
    pass


class SealPostgresDialect(_Named, PostgresDialect):
    pass


def dialects(schema: str | None) -> SQLiteDialect | PostgresDialect:
    """The seals' dialect: SQLite's without a schema, PostgreSQL's in ``schema``."""
    if schema is None:
        return SealSQLiteDialect("seals", TABLES)
    return SealPostgresDialect("seals", TABLES, schema)


HEAD = "SELECT leaf_index, position FROM {seal_leaves} ORDER BY leaf_index DESC LIMIT 1"
"""The last leaf: how far the tree has grown."""
ROWS = "SELECT leaf_index, leaf_hash, subtrees FROM {seal_leaves} WHERE leaf_index {any_of}"
"""The leaves (with the perfect subtrees they complete) of some indexes: the pieces of nodes."""
LEAVES_FROM = (
    "SELECT leaf_index, position, leaf_hash, content_hash FROM {seal_leaves} WHERE leaf_index >= ? "
    "ORDER BY leaf_index LIMIT ?"
)
AT_POSITION = "SELECT leaf_index, position, leaf_hash FROM {seal_leaves} WHERE position = ?"
POSITION_OF_INDEX = "SELECT position FROM {seal_leaves} WHERE leaf_index = ?"
WITH_CONTENT = "SELECT leaf_index, position FROM {seal_leaves} WHERE content_hash = ? ORDER BY leaf_index LIMIT 1"
COUNT = "SELECT COUNT(*) FROM {seal_leaves}"

SEAL_COLUMNS = ", ".join(SEALS.names)
ALL_SEALS = f"SELECT {SEAL_COLUMNS} FROM {{seals}} ORDER BY seq"
SEALS_AFTER = f"SELECT {SEAL_COLUMNS} FROM {{seals}} WHERE seq > ? ORDER BY seq LIMIT ?"
SEAL = f"SELECT {SEAL_COLUMNS} FROM {{seals}} WHERE seq = ?"
LATEST = f"SELECT {SEAL_COLUMNS} FROM {{seals}} ORDER BY seq DESC LIMIT 1"
LAST_SEQ = "SELECT MAX(seq) FROM {seals}"
SEAL_COUNT = "SELECT COUNT(*) FROM {seals}"


def chunks(values: Sequence[int], size: int = 1000) -> list[Sequence[int]]:
    return [values[i : i + size] for i in range(0, len(values), size)]
