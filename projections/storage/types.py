"""The names the storage layer gives to what the two database drivers share no typed interface for.

The library's SQLite cursor and psycopg's cursor, their rows (``sqlite3.Row`` or a dict) and a
statement (``str`` on SQLite, a :mod:`psycopg.sql` composition on PostgreSQL) have no common type
that mypy can check; these aliases are the read side's one, documented use of ``Any`` for them.
"""

from __future__ import annotations

from typing import Any, TypeAlias

Cursor: TypeAlias = Any
"""A cursor in a view's transaction (the library's SQLite cursor or psycopg's)."""
Row: TypeAlias = Any
"""A fetched row (``sqlite3.Row`` or psycopg's dict row): index it by column name."""
Statement: TypeAlias = Any
"""A statement ready to execute: ``str`` on SQLite, a psycopg ``Composed`` on PostgreSQL."""
SQLValue: TypeAlias = Any
"""A parameter or column value as a driver takes or returns it."""
