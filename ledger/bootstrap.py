"""The composition root: settings → store → application. Everything builds the ledger here."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from ledger.application import Ledger, store_errors_translated, utc_now
from ledger.common import SYSTEM
from ledger.counties import LIANSHUI, LIANSHUI_NAME, LIANSHUI_TOWNSHIPS, County, county_id
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
    with store_errors_translated(f"the store at {redact(url)}"):
        ledger = Ledger(env, clock=clock, new_id=new_id)
        ledger.ensure_default_policies()
    return ledger


def ensure_home_county(ledger: Ledger) -> None:
    """Establish the report's county (涟水县 and its 25 townships) if it is not there yet."""
    if ledger._find(County, county_id(LIANSHUI)) is None:
        ledger.establish_county(LIANSHUI, LIANSHUI_NAME, list(LIANSHUI_TOWNSHIPS), by=SYSTEM)
