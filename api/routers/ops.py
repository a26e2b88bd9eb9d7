"""Readiness and metrics: ``/readyz`` (store reachable, every read model live and close to the head) and ``/metrics``.

``/readyz`` answers 200 when the store answers and every read model that exists is ``caught_up``
or ``running`` with a lag of at most ``max_lag`` events (default :data:`MAX_LAG`); otherwise 503
(problem+json) naming each read model that is not, and why: stopped at an event (its position,
type, entity and version), not running (no heartbeat), never run, offline, retrying, lagging.
The store unreachable is 503 ``store-unavailable``. Probes hold no key, so the answer gives
states, positions and the failing event, never the free text of a failure (which can quote the
data it failed on); a caller on loopback, or with an auditor's or admin's key, gets that too.

``/metrics`` (Prometheus text, :mod:`api.metrics`) is open to callers on loopback (a Prometheus
or an agent on the same host); from elsewhere it takes an auditor's or admin's key (Prometheus
sends one with ``authorization: {credentials: …}``). A reverse proxy on the same host looks like
loopback: it must not pass ``/metrics`` through, or must ask for the key itself.

Both read the read side's status (:func:`projections.service.read_status`, which opens each
view) at most once every :data:`STATUS_TTL` seconds per process, so probes and scrapes cost the
store little however often they come.
"""

from __future__ import annotations

import ipaddress
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from pydantic import BaseModel, ConfigDict

from api.deps import Services, bearer, check_role, principal_of, services
from api.metrics import CONTENT_TYPE, metrics_of
from api.problems import RETRY_AFTER_S, problem
from api.schemas import ProblemOut
from ledger.errors import TiexinError
from ledger.store import store_errors_translated
from projections import registry
from projections.service import ProjectionStatus, read_status

router = APIRouter(tags=["operations"])

MAX_LAG = 1000
STATUS_TTL = 1.0
LIVE_STATES = ("caught_up", "running")
TRUSTED_ROLES = ("auditor", "admin")


# The read side's status, cached ------------------------------------------------------------


@dataclass(frozen=True)
class Snapshot:
    head: int | None
    """The log's last position (None: the store did not answer)."""
    statuses: list[ProjectionStatus]
    error: str | None = None
    """Why the store or the read side could not be read."""


class StatusCache:
    """The read side's status, read at most once every ``ttl`` seconds (one reader at a time)."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self._lock = threading.Lock()
        self._taken = float("-inf")
        self._snapshot = Snapshot(None, [])

    def get(self) -> Snapshot:
        with self._lock:
            if time.monotonic() - self._taken >= STATUS_TTL:
                self._snapshot = self._read()
                self._taken = time.monotonic()
            return self._snapshot

    def _read(self) -> Snapshot:
        ledger = self.services.ledger
        try:
            with store_errors_translated("the event store"):
                head = ledger.recorder.max_notification_id() or 0
        except TiexinError as error:
            return Snapshot(None, [], error.reason)
        try:
            names = registry.available()
            statuses = read_status(self.services.settings.database_url, names, ledger=ledger) if names else []
        except TiexinError as error:
            return Snapshot(head, [], error.reason)
        return Snapshot(statuses[0].head if statuses else head, statuses)


def status_cache(request: Request) -> StatusCache:
    cache: StatusCache | None = getattr(request.app.state, "status_cache", None)
    if cache is None:
        cache = request.app.state.status_cache = StatusCache(services(request))
    return cache


# Readiness ---------------------------------------------------------------------------------


class ProjectionOut(BaseModel):
    name: str
    state: str
    position: int | None
    lag: int | None
    ready: bool
    why: str | None = None
    reason: str | None = None
    failure: dict[str, Any] | None = None


class ReadyOut(BaseModel):
    status: str
    head: int
    max_lag: int
    projections: list[ProjectionOut]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "status": "ready", "head": 1834, "max_lag": 1000,
                    "projections": [
                        {"name": "roster", "state": "caught_up", "position": 1834, "lag": 0, "ready": True}
                    ],
                }
            ]
        }
    )  # fmt: skip


def why_not_ready(status: ProjectionStatus, max_lag: int) -> str | None:
    """None if the read model is live and close enough to the head; else why not (no free text)."""
    lag = status.lag
    if status.state in LIVE_STATES and lag is not None and lag <= max_lag:
        return None
    if status.state in LIVE_STATES:
        return f"lagging {lag} events behind the log (at most {max_lag})"
    failure = status.failure
    if status.state == "stopped" and failure is not None:
        return (
            f"stopped at position {failure.position} ({failure.topic}, "
            f"{failure.originator_id} version {failure.originator_version})"
        )
    return {
        "stopped": "stopped",
        "not running": "not running: its runner has not reported for several heartbeats",
        "never run": "never run",
        "offline": "offline: its runner was shut down",
        "retrying": "retrying: the store failed when it last read or wrote",
        "unavailable": "unavailable: it cannot be loaded",
    }.get(status.state, status.state)


def projection_out(status: ProjectionStatus, max_lag: int, trusted: bool) -> ProjectionOut:
    why = why_not_ready(status, max_lag)
    failure = status.failure
    return ProjectionOut(
        name=status.name, state=status.state, position=status.position, lag=status.lag, ready=why is None, why=why,
        reason=status.reason if trusted and why else None,
        failure=None if failure is None else {
            "position": failure.position, "topic": failure.topic, "entity_id": failure.originator_id,
            "version": failure.originator_version, **({"reason": failure.reason} if trusted else {}),
        },
    )  # fmt: skip


@router.get(
    "/readyz",
    response_model=ReadyOut,
    responses={
        422: {"model": ProblemOut, "description": "`max_lag` is not a whole number from 0 to 10⁹"},
        503: {"model": ProblemOut, "description": "the store is unreachable, or a read model is not live"},
    },
)
def readyz(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    max_lag: Annotated[int, Query(ge=0, le=10**9, description="The most events a read model may lag.")] = MAX_LAG,
) -> JSONResponse:
    """Ready: the store answers and every read model is live within `max_lag` events of the log's head."""
    snapshot = status_cache(request).get()
    if snapshot.head is None:
        return problem(
            503, "store-unavailable", "the ledger's store is unavailable", request=request,
            headers={"Retry-After": RETRY_AFTER_S},
        )  # fmt: skip
    trusted = is_trusted(request, credentials)
    projections = [projection_out(s, max_lag, trusted) for s in snapshot.statuses]
    if snapshot.error is not None:
        detail = "the read models cannot be read" + (f": {snapshot.error}" if trusted else "")
        return problem(503, "not-ready", detail, request=request, headers={"Retry-After": RETRY_AFTER_S})
    waiting = [p for p in projections if not p.ready]
    if waiting:
        detail = "; ".join(f"{p.name}: {p.why}" for p in waiting)
        return problem(
            503, "not-ready", f"not ready: {detail}", request=request, headers={"Retry-After": RETRY_AFTER_S},
            head=snapshot.head, max_lag=max_lag, projections=[p.model_dump(exclude_none=True) for p in projections],
        )  # fmt: skip
    body = ReadyOut(status="ready", head=snapshot.head, max_lag=max_lag, projections=projections)
    return JSONResponse(body.model_dump(exclude_none=True))


def is_loopback(request: Request) -> bool:
    host = request.client.host if request.client else ""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def is_trusted(request: Request, credentials: HTTPAuthorizationCredentials | None) -> bool:
    if is_loopback(request):
        return True
    if credentials is None:
        return False
    principal = services(request).keys.authenticate(credentials.credentials)
    return principal is not None and principal.role in TRUSTED_ROLES


# Metrics -----------------------------------------------------------------------------------

METRICS_EXAMPLE = """\
# TYPE tiexin_http_requests_total counter
tiexin_http_requests_total{method="POST",route="/v1/visits",status="201"} 1834.0
# TYPE tiexin_projection_lag gauge
tiexin_projection_lag{projection="roster"} 0.0
"""


@router.get(
    "/metrics",
    response_class=Response,
    responses={
        200: {
            "content": {CONTENT_TYPE: {"schema": {"type": "string"}, "example": METRICS_EXAMPLE}},
            "description": "Prometheus text format",
        },
        401: {"model": ProblemOut, "description": "from off the host: no API key, or an unknown or revoked one"},
        403: {"model": ProblemOut, "description": "from off the host: a key that is not an auditor's or admin's"},
    },
)
def metrics(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Response:
    """Prometheus metrics (open on loopback; otherwise an auditor's or admin's key)."""
    if not is_loopback(request):
        check_role(principal_of(request, credentials), TRUSTED_ROLES)
    cache = status_cache(request)
    text = metrics_of(request.app).exposition(lambda: store_families(cache.get()))
    return Response(text, media_type=CONTENT_TYPE)


def store_families(snapshot: Snapshot) -> Iterator[Metric]:
    """The log's head and each read model's position, lag and state, as the snapshot has them."""
    yield GaugeMetricFamily("tiexin_store_up", "Whether the ledger's store answered.", value=snapshot.head is not None)
    if snapshot.head is None:
        return
    yield GaugeMetricFamily(
        "tiexin_log_head_position", "The log's last position: every event appended, by any process.",
        value=snapshot.head,
    )  # fmt: skip
    position = GaugeMetricFamily("tiexin_projection_position", "The last log position applied.", labels=["projection"])
    lag = GaugeMetricFamily("tiexin_projection_lag", "Events the read model is behind the log.", labels=["projection"])
    state = GaugeMetricFamily(
        "tiexin_projection_state", "1 for the read model's current state.", labels=["projection", "state"]
    )
    for status in snapshot.statuses:
        if status.position is not None:
            position.add_metric([status.name], status.position)
        if status.lag is not None:
            lag.add_metric([status.name], status.lag)
        state.add_metric([status.name, status.state], 1)
    yield from (position, lag, state)
    ready = snapshot.error is None and all(why_not_ready(s, MAX_LAG) is None for s in snapshot.statuses)
    yield GaugeMetricFamily("tiexin_ready", f"Whether /readyz answers 200 (max_lag {MAX_LAG}).", value=ready)
