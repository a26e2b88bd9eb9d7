"""The HTTP API's settings: which store, which county is home, and its few limits.

``create_app`` takes one of these, built by its caller: the composition root
(:mod:`tiexin.settings`, from the environment) or a test. Nothing in ``api`` reads the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from ledger.counties import LIANSHUI
from ledger.store import utc_now


@dataclass(frozen=True)
class ApiSettings:
    database_url: str
    master_key: bytes | None = field(repr=False)
    """Opens the persons' keys (the composition root reads it: TIEXIN_MASTER_KEY or its file)."""
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
    metrics_dir: str | None = None
    """The directory the server's worker processes share their request metrics in, so a scrape of
    any worker sums them all (prometheus-client's multiprocess mode); None: this process's own."""
    seal_key_file: str | None = None
    """The bureau's Ed25519 seal key file (read when a seal is made); None: this process cannot seal."""
    seal_every_events: int = 1000
    """The in-process sealer (with the read models) seals after this many new events…"""
    seal_every_seconds: float = 3600.0
    """…or after this long with at least one new event."""
    verify_every_seconds: float = 900.0
    """How often this process checks the log against its seals for ``/readyz`` and ``/metrics``
    (and once at startup); 0: only when ``GET /v1/audit/verify`` asks."""
