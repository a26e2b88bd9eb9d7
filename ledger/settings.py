"""A database URL as the eventsourcing library's settings, and as it may be shown.

The URL is ``sqlite:///path.db`` or ``postgresql://user[:password]@host[:port]/db[?schema=name]``;
everything else the library needs is derived here. This module reads no environment: the
composition root (:mod:`tiexin.settings`) reads ``TIEXIN_DATABASE_URL`` and hands the URL in.
"""

from __future__ import annotations

from urllib.parse import parse_qs, unquote, urlsplit

from ledger.errors import ConfigurationError


def store_env(url: str) -> dict[str, str]:
    """The eventsourcing library's settings for a database URL."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        return sqlite_env(url, parts.netloc, parts.path)
    if parts.scheme in ("postgresql", "postgres"):
        return postgres_env(parts.hostname, parts.port, parts.username, parts.password, parts.path, parts.query)
    raise ConfigurationError(
        f"unsupported TIEXIN_DATABASE_URL {redact(url)!r}: use sqlite:///path.db or postgresql://user@host:port/db"
    )


def sqlite_env(url: str, netloc: str, path: str) -> dict[str, str]:
    if netloc or not path or path == "/":
        raise ConfigurationError(f"a SQLite URL names a file: sqlite:///relative.db or sqlite:////abs.db, not {url!r}")
    return {
        "PERSISTENCE_MODULE": "eventsourcing.sqlite",
        "SQLITE_DBNAME": unquote(path[1:]),
        "SQLITE_LOCK_TIMEOUT": "10",
    }


def postgres_env(
    host: str | None, port: int | None, user: str | None, password: str | None, path: str, query: str
) -> dict[str, str]:
    dbname = unquote(path.lstrip("/"))
    if not host or not dbname:
        raise ConfigurationError("a PostgreSQL URL needs a host and a database: postgresql://user@host:5432/db")
    env = {
        "PERSISTENCE_MODULE": "eventsourcing.postgres",
        "POSTGRES_DBNAME": dbname,
        "POSTGRES_HOST": host,
        "POSTGRES_PORT": str(port or 5432),
        "POSTGRES_USER": unquote(user or "postgres"),
        "POSTGRES_PASSWORD": unquote(password or ""),
        "POSTGRES_CONNECT_TIMEOUT": "5",
        "POSTGRES_POOL_SIZE": "5",
        "POSTGRES_MAX_OVERFLOW": "10",
        "POSTGRES_LOCK_TIMEOUT": "10",
        "POSTGRES_ENABLE_DB_FUNCTIONS": "n",
    }
    schema = parse_qs(query).get("schema")
    if schema:
        env["POSTGRES_SCHEMA"] = schema[0]
    return env


def redact(url: str) -> str:
    """The URL without its password, for messages and logs."""
    parts = urlsplit(url)
    if parts.password:
        return url.replace(f":{parts.password}@", ":***@")
    return url
