"""Readiness and metrics: ``/readyz`` (the store answers and takes writes, the read models are live) and ``/metrics``.

``/readyz`` answers 200 when the store answers, this process's writes are not failing, and every
read model that exists is ``caught_up`` or ``running`` with a lag of at most ``max_lag`` events
(default :data:`MAX_LAG`); otherwise 503 (problem+json, with ``Retry-After``):

- ``store-unavailable``: the store failed, or did not answer within
  :data:`~api.faults.HEALTH_DEADLINE` seconds (``answering: false``);
- ``writes-failing``: the store refused this process's last write (a full disk, a read-only or
  locked database) and a probe write now (rolled back: :func:`api.faults.probe_write`), since when;
- ``not-ready``: naming each read model that is not live, and why: stopped at an event (its
  position, type, entity and version), not running (no heartbeat), never run, offline, retrying,
  lagging;
- ``not-verified``: the last verification of the log against its seals (``api.routers.seals``,
  run every ``verify_every_seconds`` and by ``GET /v1/audit/verify``) failed: where and how.

Probes hold no key, so the answer gives states, positions and the failing event, never the free
text of a failure (which can quote the data it failed on); a caller on loopback, or with an
auditor's or admin's key, gets that too.

``/metrics`` (Prometheus text, :mod:`api.metrics`) is open to callers on loopback (a Prometheus
or an agent on the same host); from elsewhere it takes an auditor's or admin's key (Prometheus
sends one with ``authorization: {credentials: …}``). A reverse proxy on the same host looks like
loopback: it must not pass ``/metrics`` through, or must ask for the key itself.

**Fast whatever the store does.** Both are ``async`` and never wait on the request thread pool
(which requests hanging on a dead store can fill). They read the read side's status
(:func:`projections.service.read_status`, which opens each view) at most once every
:data:`STATUS_TTL` seconds per process, in a thread of its own, one read at a time, and wait for
it (and for a key's check) at most :data:`~api.faults.HEALTH_DEADLINE` seconds in all
(:mod:`api.faults`): probes and scrapes cost the store little however often they come, and answer
within a second however the store fails.
"""

from __future__ import annotations

import ipaddress
import logging
import threading
import time
from collections.abc import Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import chain
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Security
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from pydantic import BaseModel, ConfigDict

from api.deps import Services, bearer, check_role, principal_of, services
from api.faults import (
    HEALTH_DEADLINE,
    Deadline,
    NotAnswering,
    PoolWatch,
    WriteFailure,
    WriteHealth,
    pools_of,
    probe_write,
    settled,
    start,
    store_pools,
    within,
    write_health,
)
from api.metrics import CONTENT_TYPE, metrics_of
from api.problems import RETRY_AFTER_S, problem
from api.routers.seals import verification_families, verification_problem
from api.schemas import ProblemOut
from ledger.errors import StoreUnavailable, TiexinError
from ledger.store import store_errors_translated
from projections import registry
from projections.service import ProjectionStatus, describe

log = logging.getLogger(__name__)

READ_SIDE_MODULES = dict(registry.READ_MODELS)
"""The read models as registered when the API started: a view of its read side is borrowed for a
name only while the registry still maps it to the same module (tests register stand-ins)."""

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
    answering: bool = True
    """False: the store did not answer within the deadline (the check goes on in its thread)."""
    writes: WriteFailure | None = None
    """This process's writes are failing: the last one the store refused (and a probe write failed too)."""


class ReadModelClosed(Exception):
    """The status cache was closed (the app shut down) while it opened a view."""


class StatusCache:
    """The read side's status, read at most once every :data:`STATUS_TTL` seconds, in a thread of its own.

    One read at a time: requests that come while it runs wait for the same one, each for at most
    :data:`~api.faults.HEALTH_DEADLINE` seconds (then: the store is not answering).
    """

    def __init__(self, services: Services, writes: WriteHealth) -> None:
        self.services = services
        self.writes = writes
        self._views: dict[str, Any] = {}
        """The views opened here to read their status (those the API reads are borrowed from its read side)."""
        self._closed = False
        self._lock = threading.Lock()
        self._taken = float("-inf")
        self._snapshot: Snapshot | None = None
        self._reading: Future[Snapshot] | None = None

    async def get(self, seconds: float = HEALTH_DEADLINE) -> Snapshot:
        """The status read in the last :data:`STATUS_TTL` seconds, or read now: waiting for it at most ``seconds``."""
        with self._lock:
            if self._snapshot is not None and time.monotonic() - self._taken < STATUS_TTL:
                return self._snapshot
            try:
                if self._reading is None:
                    self._reading = start(self._refresh)
            except NotAnswering as error:
                return Snapshot(None, [], str(error), answering=False)
            reading = self._reading
        try:
            return await settled(reading, seconds)
        except NotAnswering as error:
            return Snapshot(None, [], str(error), answering=False)

    def _refresh(self) -> Snapshot:
        try:
            snapshot = self._read()
        except BaseException:
            with self._lock:
                self._reading = None
            raise
        with self._lock:
            self._snapshot, self._taken, self._reading = snapshot, time.monotonic(), None
        return snapshot

    def _read(self) -> Snapshot:
        ledger = self.services.ledger
        try:
            with store_errors_translated("the event store"):
                head = ledger.recorder.max_notification_id() or 0
        except TiexinError as error:
            return Snapshot(None, [], error.reason)
        writes = self._writes()
        try:
            now = datetime.now(UTC)
            statuses = [self._status_of(name, head, now) for name in registry.available()]
        except TiexinError as error:
            return Snapshot(head, [], error.reason, writes=writes)
        return Snapshot(head, statuses, writes=writes)

    def _status_of(self, name: str, head: int, now: datetime) -> ProjectionStatus:
        """A read model's status as its runner saved it (:func:`projections.service.describe`), on a view kept open."""
        try:
            view = self._view(name)
        except registry.ReadModelUnavailable as error:
            return ProjectionStatus(name, None, head, "unavailable", error.reason)
        except TiexinError:
            raise
        except Exception as error:  # one read model that cannot open must not hide the others' status
            log.warning("read model %s cannot be opened: %s", name, type(error).__name__)
            return ProjectionStatus(name, None, head, "unavailable", f"cannot be opened: {type(error).__name__}")
        application = self.services.ledger.name
        with store_errors_translated("the read models' store"):
            return describe(name, view.position(application), head, view.saved_status(application), now)

    def _view(self, name: str) -> Any:
        reads = self.services.reads
        borrowed = reads.view(name) if reads is not None else None
        if borrowed is not None and registry.READ_MODELS.get(name) == READ_SIDE_MODULES.get(name):
            return borrowed
        with self._lock:
            view = self._views.get(name)
        if view is None:
            with store_errors_translated("the read models' store"):
                view = registry.open_projection(name, self.services.settings.database_url).paged_view
            with self._lock:
                if self._closed:  # the app shut down while it opened
                    view.close()
                    raise ReadModelClosed(name)
                self._views[name] = view
        return view

    def pools(self) -> list[Any]:
        """The PostgreSQL pools of the views opened here (for :class:`~api.faults.PoolWatch`)."""
        with self._lock:
            views = list(self._views.values())
        return list(pools_of(*views))

    def close(self) -> None:
        with self._lock:
            self._closed = True
            views, self._views = list(self._views.values()), {}
        for view in views:
            view.close()

    def _writes(self) -> WriteFailure | None:
        """While writes fail, a probe write (rolled back) tells whether they would work now."""
        if self.writes.failure is None:
            return None
        try:
            probe_write(self.services.ledger)
        except TiexinError as error:
            self.writes.failed(f"a probe write failed too: {error.reason}")
        else:
            self.writes.succeeded("a probe write succeeded")
        return self.writes.failure


def status_cache(request: Request) -> StatusCache:
    return status_cache_of(request.app)


def status_cache_of(app: Any) -> StatusCache:
    cache: StatusCache | None = getattr(app.state, "status_cache", None)
    if cache is None:
        cache = app.state.status_cache = StatusCache(app.state.services, write_health(app))
    return cache


@contextmanager
def watching(app: Any) -> Iterator[None]:
    """While the app serves: its PostgreSQL pools checked (:class:`~api.faults.PoolWatch`); after, the
    status cache's views closed. ``app.state.services`` is open already."""
    watch = PoolWatch(lambda: [*store_pools(app.state.services), *status_cache_of(app).pools()])
    watch.start()
    try:
        yield
    finally:
        watch.stop()
        cache: StatusCache | None = getattr(app.state, "status_cache", None)
        if cache is not None:
            cache.close()


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
async def readyz(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)],
    max_lag: Annotated[int, Query(ge=0, le=10**9, description="The most events a read model may lag.")] = MAX_LAG,
) -> JSONResponse:
    """Ready: the store answers and takes writes, and every read model is live within `max_lag` events of the head."""
    deadline = Deadline()
    snapshot = await status_cache(request).get(deadline.left())
    retry = {"Retry-After": RETRY_AFTER_S}
    if snapshot.head is None:
        trusted = is_loopback(request)  # the key store is most likely down as well: no key is read
        if not snapshot.answering:
            detail = f"the ledger's store did not answer within {HEALTH_DEADLINE:g} s"
        else:
            detail = "the ledger's store is unavailable" + (f": {snapshot.error}" if trusted and snapshot.error else "")
        return problem(503, "store-unavailable", detail, request=request, headers=retry, answering=snapshot.answering)
    trusted = await is_trusted(request, credentials, deadline.left())
    projections = [projection_out(s, max_lag, trusted) for s in snapshot.statuses]
    if snapshot.writes is not None:
        failure = snapshot.writes
        detail = (
            f"writes are failing: the store has refused this process's writes since "
            f"{failure.since:%Y-%m-%dT%H:%M:%SZ}, and a probe write too" + (f" ({failure.reason})" if trusted else "")
        )
        return problem(
            503, "writes-failing", detail, request=request, headers=retry, head=snapshot.head,
            writes_failing_since=failure.since.isoformat(),
        )  # fmt: skip
    if snapshot.error is not None:
        detail = "the read models cannot be read" + (f": {snapshot.error}" if trusted else "")
        return problem(503, "not-ready", detail, request=request, headers=retry)
    if (tampered := verification_problem(request.app)) is not None:  # the log no longer matches its seals
        return problem(503, "not-verified", tampered, request=request, head=snapshot.head)
    waiting = [p for p in projections if not p.ready]
    if waiting:
        detail = "; ".join(f"{p.name}: {p.why}" for p in waiting)
        return problem(
            503, "not-ready", f"not ready: {detail}", request=request, headers=retry,
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


async def is_trusted(
    request: Request, credentials: HTTPAuthorizationCredentials | None, seconds: float = HEALTH_DEADLINE
) -> bool:
    """On loopback, or with an auditor's or admin's key (read within ``seconds``: else not trusted)."""
    if is_loopback(request):
        return True
    if credentials is None:
        return False
    keys = services(request).keys
    try:
        principal = await within(lambda: keys.authenticate(credentials.credentials), seconds)
    except (NotAnswering, TiexinError):
        return False
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
async def metrics(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer)]
) -> Response:
    """Prometheus metrics (open on loopback; otherwise an auditor's or admin's key)."""
    deadline = Deadline()
    if not is_loopback(request):
        try:
            principal = await within(lambda: principal_of(request, credentials), deadline.left())
        except NotAnswering:
            raise StoreUnavailable("the key store did not answer in time") from None
        check_role(principal, TRUSTED_ROLES)
    snapshot = await status_cache(request).get(deadline.left())
    writes = write_health(request.app).failure
    verified = verification_problem(request.app) is None
    text = metrics_of(request.app).exposition(
        lambda: chain(store_families(snapshot, writes, verified), verification_families(request.app))
    )
    return Response(text, media_type=CONTENT_TYPE)


def store_families(snapshot: Snapshot, writes: WriteFailure | None = None, verified: bool = True) -> Iterator[Metric]:
    """Whether the store answers and takes writes; the log's head and each read model's position, lag and state."""
    yield GaugeMetricFamily(
        "tiexin_store_up", f"Whether the ledger's store answered (within {HEALTH_DEADLINE:g} s).",
        value=snapshot.head is not None,
    )  # fmt: skip
    yield GaugeMetricFamily(
        "tiexin_store_writes_failing", "1 while the store refuses this process's writes (and a probe write).",
        value=writes is not None,
    )  # fmt: skip
    if snapshot.head is None:
        yield GaugeMetricFamily("tiexin_ready", f"Whether /readyz answers 200 (max_lag {MAX_LAG}).", value=False)
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
    ready = (
        snapshot.error is None
        and snapshot.writes is None
        and verified
        and all(why_not_ready(s, MAX_LAG) is None for s in snapshot.statuses)
    )
    yield GaugeMetricFamily("tiexin_ready", f"Whether /readyz answers 200 (max_lag {MAX_LAG}).", value=ready)
