"""The roster's tables and statements, one text for both stores (see :mod:`projections.dialect`).

Four tables, keyed by the ledger's ids: ``elders`` (county, township, departure, last contact),
``volunteers`` (county, township, status), ``pairings`` (who, group, from, ended) and
``visits`` (whose, when, voided): the state the roster needs across events, e.g. which elder a
later ``Voided`` event's visit was for.

A page's rows go in the order of :data:`WRITES`: the inserts, then the updates, then
``last_contact``, which recomputes, in one statement, the last contact of every elder whose
visits the page touched (recorded, moved by an amendment or voided) from the ``visits`` table.
Within a page the updates of one statement keep the log's order, and no two statements set the
same column, so the page ends exactly where applying its events one by one would.
"""

from __future__ import annotations

TABLES = ("elders", "volunteers", "pairings", "visits")
INDEXES = ("pairings_by_elder", "pairings_by_volunteer", "visits_by_elder")

DDL = (
    "CREATE TABLE IF NOT EXISTS {elders} ("
    "elder_id {uuid} PRIMARY KEY, county TEXT NOT NULL, township TEXT NOT NULL, departed_on {day}, "
    "departure_kind TEXT, last_contact_at {instant}, last_visit_id {uuid}) {without_rowid}",
    "CREATE TABLE IF NOT EXISTS {volunteers} ("
    "volunteer_id {uuid} PRIMARY KEY, county TEXT NOT NULL, township TEXT NOT NULL, status TEXT NOT NULL) "
    "{without_rowid}",
    "CREATE TABLE IF NOT EXISTS {pairings} ("
    "pairing_id {uuid} PRIMARY KEY, volunteer_id {uuid} NOT NULL, elder_id {uuid} NOT NULL, grp TEXT NOT NULL, "
    "from_date {day} NOT NULL, ended_on {day}, end_reason TEXT) {without_rowid}",
    "CREATE INDEX IF NOT EXISTS {pairings_by_elder} ON {pairings} (elder_id)",
    "CREATE INDEX IF NOT EXISTS {pairings_by_volunteer} ON {pairings} (volunteer_id)",
    "CREATE TABLE IF NOT EXISTS {visits} ("
    "visit_id {uuid} PRIMARY KEY, elder_id {uuid} NOT NULL, volunteer_id {uuid} NOT NULL, "
    "started_at {instant} NOT NULL, voided {flag} NOT NULL) {without_rowid}",
    "CREATE INDEX IF NOT EXISTS {visits_by_elder} ON {visits} (elder_id, started_at)",
)

WRITES: dict[str, str] = {
    "register": "INSERT INTO {elders} (elder_id, county, township) VALUES (?, ?, ?)",
    "recruit": "INSERT INTO {volunteers} (volunteer_id, county, township, status) VALUES (?, ?, ?, ?)",
    "form": "INSERT INTO {pairings} (pairing_id, volunteer_id, elder_id, grp, from_date) VALUES (?, ?, ?, ?, ?)",
    "record": "INSERT INTO {visits} (visit_id, elder_id, volunteer_id, started_at, voided) VALUES (?, ?, ?, ?, FALSE)",
    "relocate": "UPDATE {elders} SET township = ? WHERE elder_id = ?",
    "depart": "UPDATE {elders} SET departed_on = ?, departure_kind = ? WHERE elder_id = ?",
    "status": "UPDATE {volunteers} SET status = ? WHERE volunteer_id = ?",
    "end": "UPDATE {pairings} SET ended_on = ?, end_reason = ? WHERE pairing_id = ?",
    "move": "UPDATE {visits} SET started_at = ? WHERE visit_id = ?",
    "void": "UPDATE {visits} SET voided = TRUE WHERE visit_id = ?",
}
"""The rows of a page, in the order they are sent (one ``executemany`` each)."""

LAST_CONTACT = (
    "UPDATE {elders} AS e SET (last_contact_at, last_visit_id) = ("
    "SELECT v.started_at, v.visit_id FROM {visits} v WHERE v.elder_id = e.elder_id AND NOT v.voided "
    "ORDER BY v.started_at DESC, v.visit_id DESC LIMIT 1) "
    "WHERE e.elder_id IN (SELECT elder_id FROM {visits} WHERE visit_id {any_of})"
)
"""Then, once a page: the last contact of the elders of the visits it touched, from their visits."""

EXACT = ("relocate", "depart", "status", "end", "move", "void")
"""Updates that must find their row: one missing means the view missed the event that made it."""

PAIRINGS = (
    'SELECT p.pairing_id, p.elder_id, p.volunteer_id, e.county, e.township, p.grp AS "group", p.from_date, '
    "v.status AS volunteer_status, e.departed_on AS elder_departed_on "
    "FROM {pairings} p JOIN {elders} e ON e.elder_id = p.elder_id "
    "JOIN {volunteers} v ON v.volunteer_id = p.volunteer_id WHERE p.ended_on IS NULL"
)
PAIRING_ORDER = ("e.county {bytewise}", "e.township {bytewise}", "p.grp {bytewise}", "p.elder_id", "p.pairing_id")
"""The roster's order; text compared by code point on both stores (``bytewise``: PostgreSQL's "C"
collation; SQLite's default), as Python compares the cursor's text."""
PAIRINGS_AFTER = f" AND ({', '.join(PAIRING_ORDER)}) > (?, ?, ?, ?, ?)"
PAIRINGS_ORDERED = f" ORDER BY {', '.join(PAIRING_ORDER)}"
UNPAIRED = (
    "SELECT e.elder_id, e.county, e.township, "
    "(SELECT COUNT(*) FROM {pairings} p WHERE p.elder_id = e.elder_id AND p.ended_on IS NULL) AS pairings, "
    "e.last_contact_at FROM {elders} e WHERE e.departed_on IS NULL AND NOT EXISTS ("
    "SELECT 1 FROM {pairings} p JOIN {volunteers} v ON v.volunteer_id = p.volunteer_id "
    "WHERE p.elder_id = e.elder_id AND p.ended_on IS NULL AND v.status = 'active')"
)
LOADS = (
    "SELECT v.volunteer_id, v.county, v.township, v.status, (SELECT COUNT(*) FROM {pairings} p "
    "WHERE p.volunteer_id = v.volunteer_id AND p.ended_on IS NULL) AS active_pairings "
    "FROM {volunteers} v WHERE TRUE"
)
ELDERS = (
    "SELECT e.elder_id, e.county, e.township, e.departed_on, e.departure_kind, e.last_contact_at, e.last_visit_id "
    "FROM {elders} e WHERE TRUE"
)
OVERDUE = (
    "SELECT e.elder_id, e.county, e.township, e.last_contact_at, e.last_visit_id, p.volunteer_id "
    "FROM {elders} e LEFT JOIN {pairings} p ON p.elder_id = e.elder_id AND p.ended_on IS NULL "
    "WHERE e.departed_on IS NULL AND (e.last_contact_at IS NULL OR e.last_contact_at < ?)"
)

KINDS = {
    **dict.fromkeys(("elder_id", "volunteer_id", "pairing_id", "last_visit_id"), "uid"),
    **dict.fromkeys(("from_date", "departed_on", "elder_departed_on"), "day"),
    "last_contact_at": "instant",
}
"""How the columns the queries answer are decoded (:meth:`projections.dialect.Dialect.decode`)."""
