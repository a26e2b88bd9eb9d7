"""The composition root: settings → store → application. Everything builds the ledger here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from eventsourcing.persistence import PersistenceError

from ledger.application import Ledger, utc_now
from ledger.common import SYSTEM
from ledger.counties import LIANSHUI, LIANSHUI_NAME, LIANSHUI_TOWNSHIPS, County, county_id
from ledger.errors import StoreUnavailable
from ledger.settings import database_url, redact, store_env


def open_ledger(
    url: str | None = None,
    *,
    clock: Callable[[], datetime] = utc_now,
    new_id: Callable[[], UUID] = uuid4,
) -> Ledger:
    """Open the ledger on the store a URL names (default: ``TIEXIN_DATABASE_URL``).

    Raises ConfigurationError for a bad URL and StoreUnavailable, with one line saying why,
    when the store cannot be opened.
    """
    url = url or database_url()
    env = store_env(url)
    try:
        ledger = Ledger(env, clock=clock, new_id=new_id)
        ledger.ensure_default_policies()
    except PersistenceError as error:
        raise StoreUnavailable(f"cannot open {redact(url)}: {first_line(error)}") from None
    except Exception as error:  # the drivers raise their own errors before the library wraps them
        if type(error).__module__.split(".")[0] in ("psycopg", "psycopg_pool", "sqlite3"):
            raise StoreUnavailable(f"cannot open {redact(url)}: {first_line(error)}") from None
        raise
    return ledger


def ensure_home_county(ledger: Ledger) -> None:
    """Establish the report's county (涟水县 and its 25 townships) if it is not there yet."""
    if ledger._find(County, county_id(LIANSHUI)) is None:
        ledger.establish_county(LIANSHUI, LIANSHUI_NAME, list(LIANSHUI_TOWNSHIPS), by=SYSTEM)


def first_line(error: BaseException) -> str:
    text = str(error).strip() or type(error).__name__
    return text.splitlines()[0]
