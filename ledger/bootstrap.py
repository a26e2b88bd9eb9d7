"""Opening the ledger on a store: a database URL → the library's settings → the application.

The URL is given by the caller (the composition root, :mod:`tiexin.settings`, reads it from the
environment); nothing here reads the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from uuid import UUID, uuid4

from ledger.application import Ledger, store_errors_translated, utc_now
from ledger.common import SYSTEM
from ledger.counties import LIANSHUI, LIANSHUI_NAME, LIANSHUI_TOWNSHIPS, County, county_id
from ledger.settings import bound_store, redact, store_env


def open_ledger(
    url: str,
    *,
    master_key: bytes | None,
    clock: Callable[[], datetime] = utc_now,
    new_id: Callable[[], UUID] = uuid4,
    random_bytes: Callable[[int], bytes] | None = None,
) -> Ledger:
    """Open the ledger on the store a URL names, with the default policies adopted.

    ``master_key`` opens the persons' keys (:mod:`ledger.personal`): the composition root reads
    it from ``TIEXIN_MASTER_KEY`` or its key file. ``random_bytes`` makes the persons' keys and
    nonces (default: the operating system's randomness); the demo passes a seeded stream so that a
    seed writes the same log byte for byte.

    Raises ConfigurationError for a bad URL and StoreUnavailable, with one line saying why,
    when the store cannot be opened.
    """
    env = store_env(url)
    with store_errors_translated(f"the store at {redact(url)}"):
        ledger = Ledger(env, master_key=master_key, clock=clock, new_id=new_id, random_bytes=random_bytes)
        bound_store(ledger)  # PostgreSQL: every wait bounded, reconnection prompt (ledger.settings)
        ledger.ensure_default_policies()
    return ledger


def ensure_home_county(ledger: Ledger) -> None:
    """Establish the home county (涟水县 and its 25 townships) if it is not there yet."""
    if ledger.find(County, county_id(LIANSHUI)) is None:
        ledger.establish_county(LIANSHUI, LIANSHUI_NAME, list(LIANSHUI_TOWNSHIPS), by=SYSTEM)
