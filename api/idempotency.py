"""``Idempotency-Key``: a repeated POST gets the first answer and writes nothing.

One row per (principal, key) in ``api_idempotency`` holds a fingerprint of the request (SHA-256
of method, path and canonical body), its state and, once done, the answer. A POST with a key:

1. **reserves** the row (an insert that only one of two racing requests can make), noting the
   log's position at that moment, then runs the command;
2. on success **completes** the row with the answer; if the command was refused (invalid input,
   a broken rule, a conflict, a stale ``If-Match``: nothing was written) it **releases** the row,
   so the same key may be tried again. If the outcome is unknown (the store failed mid-way, the
   process died) the row stays *pending*.

A request that finds the row: with another fingerprint → 409 ``idempotency.key_reused``; done →
the first answer again (``Idempotent-Replayed: true``); pending → it waits up to ``wait`` seconds
for the first to finish, then 409 ``idempotency.in_progress`` with ``Retry-After``. A row pending
for longer than ``lease`` seconds (far beyond any command's lock timeouts) belongs to a request
that will never finish: the log after its noted position is searched for the events that carry
this key and principal in their provenance. Found → the row is completed from them and their
answer returned; not found → nothing was written, so this request takes the row over and runs.

Answers are kept for ``idempotency_retention`` (30 days by default; older ones are forgotten when
the server starts), far longer than any client retries a request.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from typing import Any, Protocol

from api.problems import ApiError, IdempotencyConflict
from api.tables import Tables
from ledger.errors import ConflictError, InvalidInput, NotFound, RuleViolation

PENDING, DONE = "pending", "done"
POLL_S = 0.02
NOTHING_WRITTEN = (InvalidInput, NotFound, RuleViolation, ConflictError, ApiError)
"""Errors after which the store is known to hold nothing of the request."""


@dataclass(frozen=True)
class Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Keyed:
    """A request that carries an idempotency key."""

    principal_id: str
    key: str
    fingerprint: str


class Job(Protocol):
    """What the store needs from the write it guards."""

    def execute(self) -> Answer: ...

    def log_position(self) -> int: ...

    def recover(self, since: int, status: int) -> Answer | None:
        """The answer of a write with this key found in the log after ``since``, if any."""


@dataclass(frozen=True)
class _Row:
    fingerprint: str
    state: str
    reserved_at: float
    log_position: int
    status: int
    body: str | None
    headers: str | None

    def answer(self) -> Answer:
        return Answer(self.status, json.loads(self.body or "{}"), json.loads(self.headers or "{}"))


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """The same request, however its JSON is spaced or ordered, has the same fingerprint."""
    try:
        canonical = json.dumps(json.loads(body), sort_keys=True, separators=(",", ":")) if body else ""
    except (ValueError, RecursionError):
        canonical = body.hex()
    text = json.dumps([method.upper(), path, query, canonical])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


class IdempotencyStore:
    def __init__(self, tables: Tables, *, wait: float, lease: float) -> None:
        self.tables = tables
        self.wait = wait
        self.lease = lease

    def run(self, request: Keyed, status: int, job: Job) -> tuple[Answer, bool]:
        """The answer to ``request`` and whether it is a replay of an earlier one."""
        deadline = time.monotonic() + self.wait
        while True:
            reserved_at = self._reserve(request, status, job.log_position())
            if reserved_at is not None:
                return self._execute(request, reserved_at, job), False
            row = self._load(request)
            if row is not None:
                if row.fingerprint != request.fingerprint:
                    raise IdempotencyConflict(
                        f"idempotency key {request.key!r} was used for a different request; use a new key",
                        rule="idempotency.key_reused",
                    )
                if row.state == DONE:
                    return row.answer(), True
                if time.time() - row.reserved_at >= self.lease:
                    found = self._resolve(request, row, job)
                    if found is not None:
                        return found
                    continue
            if time.monotonic() >= deadline:
                raise IdempotencyConflict(
                    f"a request with idempotency key {request.key!r} is still in progress; retry shortly",
                    rule="idempotency.in_progress",
                    headers={"Retry-After": "1"},
                )
            time.sleep(POLL_S)

    def _execute(self, request: Keyed, reserved_at: float, job: Job) -> Answer:
        try:
            answer = job.execute()
        except NOTHING_WRITTEN:
            self._release(request, reserved_at)
            raise
        self._complete(request, reserved_at, answer)
        return answer

    def _resolve(self, request: Keyed, row: _Row, job: Job) -> tuple[Answer, bool] | None:
        """A reservation past its lease: complete it from the log, or take it over and run."""
        found = job.recover(row.log_position, row.status)
        if found is not None:
            self._complete(request, row.reserved_at, found)
            return found, True
        taken = self._take_over(request, row.reserved_at, job.log_position())
        if taken is not None:
            return self._execute(request, taken, job), False
        return None

    def purge(self, older_than: float) -> int:
        """Forget the answers kept longer than ``older_than`` seconds: a retry after that writes anew."""
        return self.tables.execute(
            "DELETE FROM {api_idempotency} WHERE state = ? AND reserved_at < ?", (DONE, time.time() - older_than)
        )

    # The rows ---------------------------------------------------------------------------

    def _reserve(self, request: Keyed, status: int, position: int) -> float | None:
        now = time.time()
        inserted = self.tables.execute(
            "INSERT INTO {api_idempotency} (principal_id, idempotency_key, fingerprint, state, reserved_at, "
            "log_position, status) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
            (request.principal_id, request.key, request.fingerprint, PENDING, now, position, status),
        )
        return now if inserted == 1 else None

    def _load(self, request: Keyed) -> _Row | None:
        rows = self.tables.query(
            "SELECT fingerprint, state, reserved_at, log_position, status, body, headers FROM {api_idempotency} "
            "WHERE principal_id = ? AND idempotency_key = ?",
            (request.principal_id, request.key),
        )
        return _Row(*rows[0]) if rows else None

    def _complete(self, request: Keyed, reserved_at: float, answer: Answer) -> None:
        self.tables.execute(
            "UPDATE {api_idempotency} SET state = ?, status = ?, body = ?, headers = ? "
            "WHERE principal_id = ? AND idempotency_key = ? AND state = ? AND reserved_at = ?",
            (DONE, answer.status, json.dumps(answer.body), json.dumps(answer.headers),
             request.principal_id, request.key, PENDING, reserved_at),
        )  # fmt: skip

    def _release(self, request: Keyed, reserved_at: float) -> None:
        self.tables.execute(
            "DELETE FROM {api_idempotency} WHERE principal_id = ? AND idempotency_key = ? AND state = ? "
            "AND reserved_at = ?",
            (request.principal_id, request.key, PENDING, reserved_at),
        )

    def _take_over(self, request: Keyed, stale_at: float, position: int) -> float | None:
        now = time.time()
        changed = self.tables.execute(
            "UPDATE {api_idempotency} SET reserved_at = ?, log_position = ? "
            "WHERE principal_id = ? AND idempotency_key = ? AND state = ? AND reserved_at = ?",
            (now, position, request.principal_id, request.key, PENDING, stale_at),
        )
        return now if changed == 1 else None
