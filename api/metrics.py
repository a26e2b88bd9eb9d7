"""Prometheus metrics: requests, latencies and writes counted as they happen; the log and read models read at scrape.

Counted by :class:`RequestMetrics`, a plain ASGI middleware (so a streamed response streams):

- ``tiexin_http_requests_total{route, method, status}``: ``route`` is the route's template
  (``/v1/visits/{visit_id}``, ``/openapi.json``, ``/docs``), never the path itself, so ids do not
  multiply the series; a request that matched no route counts as ``unmatched``;
- ``tiexin_http_request_duration_seconds{route, method}``: until the response is complete (for an
  event stream, until it starts: a stream lasts as long as its client stays);
- ``tiexin_writes_total{route}``: writes that appended to the log (a ``POST`` answered 200/201,
  not an idempotent replay);
- ``tiexin_event_streams``: the event streams open now;
- ``tiexin_damaged_record_answers_total``: answers naming a damaged record (409
  ``record.damaged``: stored events deleted or altered behind the ledger's back).

A successful write also tells the process's :class:`~api.faults.WriteHealth` that writes work.

Read when scraped (:class:`StoreFamilies`, from the read side's status): ``tiexin_store_up``,
``tiexin_log_head_position`` (the last position of the log: every event ever appended, by every
process), and per read model ``tiexin_projection_position``, ``tiexin_projection_lag`` and
``tiexin_projection_state{state}`` (1 for its current state), ``tiexin_store_writes_failing``
and ``tiexin_ready`` (:mod:`api.routers.ops`); from this process's last verification of the log
against its seals, ``tiexin_seal_verified`` (1 intact, 0 not) and the position it holds up to
(:mod:`api.routers.seals`).

Several worker processes (``tiexin serve --workers N``) each count their own requests; with
``PROMETHEUS_MULTIPROC_DIR`` set to an empty directory, the same for every worker, before they start
(prometheus-client reads it when it is imported), and that directory handed in as
:attr:`~api.settings.ApiSettings.metrics_dir`, a scrape of any worker sums them all
(prometheus-client's multiprocess mode). This module reads no environment itself.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from fastapi import FastAPI
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, disable_created_metrics, generate_latest
from prometheus_client.metrics_core import Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from api.faults import WriteHealth, write_health

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
disable_created_metrics()  # type: ignore[no-untyped-call]  # the ``…_created`` series double the text and tell nothing here

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


class Metrics:
    """The process's request metrics, in a registry of the app's own (tests build many apps).

    ``multiprocess_dir``: where the workers of one server share their counts (None: one process).
    """

    def __init__(self, multiprocess_dir: str | None = None, writes: WriteHealth | None = None) -> None:
        self.multiprocess_dir = multiprocess_dir
        self.write_health = writes or WriteHealth()
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "tiexin_http_requests", "HTTP requests answered, by route template, method and status.",
            ("route", "method", "status"), registry=self.registry,
        )  # fmt: skip
        self.latency = Histogram(
            "tiexin_http_request_duration_seconds", "Time to answer a request, by route template and method.",
            ("route", "method"), buckets=LATENCY_BUCKETS, registry=self.registry,
        )  # fmt: skip
        self.writes = Counter(
            "tiexin_writes", "Writes that appended events to the log (POSTs answered 200/201, not replays), by route.",
            ("route",), registry=self.registry,
        )  # fmt: skip
        self.streams = Gauge(
            "tiexin_event_streams", "Server-sent event streams open now.", registry=self.registry,
            multiprocess_mode="livesum",
        )  # fmt: skip
        self.damaged = Counter(
            "tiexin_damaged_record_answers", "Answers naming a damaged record (409 record.damaged).",
            registry=self.registry,
        )  # fmt: skip

    def exposition(self, store: Callable[[], Iterable[Metric]]) -> bytes:
        """The text format: this process's metrics (or every worker's) and the store's, read now."""
        counted: Collector = self.registry
        if self.multiprocess_dir:
            counted = MultiProcessCollector(None, path=self.multiprocess_dir)  # type: ignore[no-untyped-call]
        return generate_latest(_Both(counted, store))

    def observe(self, scope: Scope, status: int, seconds: float | None, replayed: bool) -> None:
        route = route_of(scope)
        method = scope.get("method", "")
        method = method if method in METHODS else "other"
        self.requests.labels(route, method, str(status)).inc()
        if seconds is not None:
            self.latency.labels(route, method).observe(seconds)
        if method == "POST" and status in (200, 201) and not replayed:
            self.writes.labels(route).inc()
            self.write_health.succeeded()


class _Both(Collector):
    def __init__(self, counted: Collector, store: Callable[[], Iterable[Metric]]) -> None:
        self.counted = counted
        self.store = store

    def collect(self) -> Iterator[Metric]:
        yield from self.counted.collect()
        yield from self.store()


def route_of(scope: Scope) -> str:
    """The template of the route that answered (``/v1/visits/{visit_id}``), or ``unmatched``.

    FastAPI's routes name themselves in the scope (``route``); Starlette's plain routes, such as
    FastAPI's own ``/openapi.json``, leave only their ``endpoint``, found back among the app's routes.
    """
    route = scope.get("route") or _plain_route(scope)
    template = getattr(route, "path_format", None) or getattr(route, "path", None)
    return template if isinstance(template, str) and template else "unmatched"


def _plain_route(scope: Scope) -> Any:
    endpoint = scope.get("endpoint")
    if endpoint is None:
        return None
    for route in getattr(scope.get("app"), "routes", ()):
        if getattr(route, "endpoint", None) is endpoint:
            return route
    return None


class RequestMetrics:
    """Counts every HTTP request, by the route that answered it (see the module's docstring)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status, replayed, streaming = 500, False, False

        async def sending(message: Message) -> None:
            nonlocal status, replayed, streaming
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = dict(message.get("headers", []))
                replayed = headers.get(b"idempotent-replayed") == b"true"
                streaming = headers.get(b"content-type", b"").startswith(b"text/event-stream")
                if streaming:
                    self.metrics.streams.inc()
                    self.metrics.observe(scope, status, time.perf_counter() - started, replayed)
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            if streaming:
                self.metrics.streams.dec()
            else:
                self.metrics.observe(scope, status, time.perf_counter() - started, replayed)


def install_metrics(app: FastAPI, multiprocess_dir: str | None = None) -> None:
    """Count the app's requests (outermost, so every answer is seen as sent) and keep the metrics on ``app.state``."""
    app.state.metrics = Metrics(multiprocess_dir, write_health(app))
    app.add_middleware(RequestMetrics, metrics=app.state.metrics)


def metrics_of(app: Any) -> Metrics:
    found: Metrics = app.state.metrics
    return found
