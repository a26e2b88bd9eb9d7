"""One storage layer for every read model: tables declared once, a dialect per store, paged views.

- :mod:`~projections.storage.tables`: :class:`Table`, :class:`Column`, :class:`Index`, :class:`Kind`;
- :mod:`~projections.storage.dialect`: SQLite's and PostgreSQL's DDL, statements and values;
- :mod:`~projections.storage.views`: :class:`PagedView` (a page of events per transaction with its
  tracking row, the runner's status, snapshot reads) and :func:`open_view`;
- :mod:`~projections.storage.writer`: :class:`BatchWriter` and :class:`Answer`.
"""

from projections.storage.dialect import Dialect, PostgresDialect, SQLiteDialect, aware, instant_text
from projections.storage.tables import Column, Index, Kind, Table, columns, nullable
from projections.storage.views import (
    STATUS,
    PagedView,
    PostgresView,
    SavedStatus,
    SQLiteView,
    TrackingConflict,
    W,
    Writer,
    is_postgres,
    open_view,
    sqlite_view_path,
)
from projections.storage.writer import Answer, BatchWriter

__all__ = [
    "STATUS",
    "Answer",
    "BatchWriter",
    "Column",
    "Dialect",
    "Index",
    "Kind",
    "PagedView",
    "PostgresDialect",
    "PostgresView",
    "SQLiteDialect",
    "SQLiteView",
    "SavedStatus",
    "Table",
    "TrackingConflict",
    "W",
    "Writer",
    "aware",
    "columns",
    "instant_text",
    "is_postgres",
    "nullable",
    "open_view",
    "sqlite_view_path",
]
