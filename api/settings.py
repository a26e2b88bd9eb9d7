"""The HTTP API's settings: which store, which county is home, and its few limits.

``create_app`` takes one of these; ``ApiSettings.from_env()`` reads the same environment as the
rest of tiexin (``TIEXIN_DATABASE_URL``), so the server, the CLI and the tests agree on the store.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ledger.counties import LIANSHUI
from ledger.errors import ConfigurationError
from ledger.settings import database_url
from ledger.store import utc_now

PROJECTIONS_ENV = "TIEXIN_PROJECTIONS"


@dataclass(frozen=True)
class ApiSettings:
    database_url: str
    home_county: str = LIANSHUI
    """The county a request means when it names none."""
    idempotency_wait: float = 3.0
    """How long (s) a repeated request waits for the first one, still running, to finish."""
    idempotency_lease: float = 30.0
    """After this long (s) a reservation that never finished is presumed dead and resolved from the log."""
    idempotency_retention: float = 30 * 86_400
    """How long (s) an answer is kept for replay; older ones are forgotten at startup."""
    auth_cache_ttl: float = 1.0
    """How long (s) a valid key is trusted without asking the store again (so a revocation takes this long)."""
    max_body_bytes: int = 1_000_000
    clock: Callable[[], datetime] = utc_now
    """The ledger's clock: the tests move it by hand."""
    projections: bool | None = None
    """Run the read models in this process (None: yes on SQLite, no on PostgreSQL, where
    ``tiexin projections run`` is expected beside the workers)."""
    read_wait: float = 2.0
    """How long (s) a read with ``?after=`` waits for its read model by default."""
    read_wait_max: float = 10.0
    """The longest ``?wait=`` a read may ask for."""

    @classmethod
    def from_env(cls) -> ApiSettings:
        """``TIEXIN_DATABASE_URL``, and ``TIEXIN_PROJECTIONS`` (``in-process`` or ``off``; unset: by store)."""
        return cls(database_url=database_url(), projections=projections_from_env())


def projections_from_env() -> bool | None:
    value = os.environ.get(PROJECTIONS_ENV, "").strip().lower()
    if value in ("", "default", "auto"):
        return None
    if value in ("in-process", "1", "true", "yes", "on"):
        return True
    if value in ("off", "0", "false", "no"):
        return False
    raise ConfigurationError(f"{PROJECTIONS_ENV} must be in-process or off, not {value!r}")
