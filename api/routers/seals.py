"""Seals over HTTP: record one, list them, the public key, verification, inclusion and consistency proofs.

The log is sealed by a Merkle tree (RFC 9162) whose roots the bureau signs (docs/seals.md). Auditors
and admins record a seal now (``POST /v1/audit/seals``; an ``Idempotency-Key`` makes a repeat answer
the first seal, through the API's idempotency store), list the seals, run the verification, and
ask for proofs any client can check with ~30 lines of its own (docs/seals.md); the public key is
readable with any key. A proof is checked here before it is answered: a damaged record or tree is
a 409 ``seal.damaged`` naming it, never a proof that fails at the client, nor a 500.

:class:`SealSide` is this process's: the seal store (the ledger's database), the bureau's key
file (read when needed, so a key made after the start is used) and the latest verification,
refreshed every :attr:`~api.settings.ApiSettings.verify_every_seconds` in a thread of its own and
by every ``GET /v1/audit/verify``: ``/readyz`` and ``/metrics`` report it (:func:`verification_problem`,
:func:`verification_families`) without reading the log themselves.
"""

from __future__ import annotations

import base64
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.metrics_core import Metric
from pydantic import BaseModel, ConfigDict, Field

from api.deps import Read, Write, creator, reader
from api.idempotency import Answer
from api.problems import ApiError, BadRequest
from api.reads import LIST_ERRORS, Page, Pages, ledger_meta
from api.schemas import errors
from api.settings import ApiSettings
from ledger.errors import TiexinError
from ledger.store import store_errors_translated
from projections.seals import (
    PublicKey,
    Seal,
    Sealer,
    SealKey,
    SealKeyMissing,
    SealStore,
    VerifyResult,
    consistency,
    inclusion,
    load_key_file,
    open_store,
    sealable,
    verify,
)
from projections.seals.keys import MAKE_ONE
from projections.seals.proofs import find_seal, seals_after

log = logging.getLogger(__name__)
router = APIRouter(prefix="/v1/audit", tags=["seals"])

SEAL_ROLES = ("auditor", "admin")
SealReader = Annotated[Read, Depends(reader(*SEAL_ROLES))]
SealWrite = Annotated[Write, Depends(creator(*SEAL_ROLES))]
AnyKey = Annotated[Read, Depends(reader("coordinator", "volunteer", "evaluator", "finance", "auditor", "admin"))]
MAX_POSITION = 2**62
EXAMPLE_HEX = "9f0c4f3ad2b8e61a74c5d0e3b7a41c28f6e9d05b13a27c84e6f90d1b2c3a4e5f"
SEAL_EXAMPLE: dict[str, Any] = {
    "seq": 3, "tree_size": 42578, "last_position": 42578, "root": EXAMPLE_HEX,
    "sealed_at": "2026-03-01T01:00:00.000000+00:00", "signature": EXAMPLE_HEX * 2, "key_fingerprint": EXAMPLE_HEX,
}  # fmt: skip


class SealUnavailable(ApiError):
    """This ledger cannot hold seals (a ledger in memory)."""

    status, slug = 409, "rule-violation"


class NoSealKey(ApiError):
    status, slug = 404, "not-found"


# This process's seal side ---------------------------------------------------------------------


class SealSide:
    """The seal store, the key file, and the latest verification (see the module's docstring)."""

    def __init__(self, settings: ApiSettings) -> None:
        self.settings = settings
        self.store: SealStore | None = open_store(settings.database_url) if sealable(settings.database_url) else None
        self.key_file = Path(settings.seal_key_file) if settings.seal_key_file else None
        self._lock = threading.Lock()
        self._seal_lock = threading.Lock()
        self.last: VerifyResult | None = None
        self.checked_at: float | None = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def need_store(self) -> SealStore:
        if self.store is None:
            raise SealUnavailable("this ledger is in memory: it cannot be sealed", rule="seal.unavailable")
        return self.store

    def key(self) -> SealKey:
        """The bureau's private key, read now; SealKeyMissing (409, how to make one) without one."""
        if self.key_file is None:
            raise SealKeyMissing(f"this server has no seal key file configured (TIEXIN_SEAL_KEY_FILE): {MAKE_ONE}")
        return load_key_file(self.key_file)

    def public_key(self) -> PublicKey | None:
        """The bureau's public key, if this process has the key file."""
        try:
            return self.key().public
        except SealKeyMissing:
            return None

    def seal(self) -> Seal:
        key = self.key()
        with self._seal_lock:
            return Sealer(self.need_store(), clock=self.settings.clock).seal(key)

    def verify(self) -> VerifyResult:
        """Verify the log now (against the bureau's key when this process has it) and keep the answer."""
        result = verify(self.need_store(), public_key=self.public_key())
        with self._lock:
            self.last, self.checked_at = result, time.time()
        if not result.intact:
            log.error("verification failed: %s at position %s (seal %s)", result.kind, result.position, result.seal)
        return result

    def start(self) -> None:
        every = self.settings.verify_every_seconds
        if self.store is None or every <= 0:
            return
        self._thread = threading.Thread(target=self._watch, args=(every,), name="seal-verification", daemon=True)
        self._thread.start()

    def _watch(self, every: float) -> None:
        while not self._stop.is_set():
            try:
                self.verify()
            except TiexinError as error:
                log.warning("verification could not run: %s", error.reason)
            except Exception as error:  # the watch must outlive one bad moment
                log.error("verification failed to run (%s)", type(error).__name__)
            self._stop.wait(every)

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(30)
        if self.store is not None:
            self.store.close()


def open_seal_side(settings: ApiSettings) -> SealSide:
    side = SealSide(settings)
    side.start()
    return side


def seal_side(request: Request) -> SealSide:
    found: SealSide = request.app.state.seals
    return found


def verification_problem(app: Any) -> str | None:
    """Why ``/readyz`` should say not ready: the last verification failed (None: it passed or has not run)."""
    side: SealSide | None = getattr(app.state, "seals", None)
    last = side.last if side is not None else None
    if last is None or last.intact:
        return None
    return f"verification failed: {last.summary}"


def verification_families(app: Any) -> Iterator[Metric]:
    """``tiexin_seal_verified`` (1 intact, 0 failed; absent before the first check), the position
    it holds up to, the latest seal's size and when it was checked."""
    side: SealSide | None = getattr(app.state, "seals", None)
    last = side.last if side is not None else None
    if side is None or last is None:
        return
    yield GaugeMetricFamily(
        "tiexin_seal_verified", "1 if the log matched every seal at the last verification, 0 if not.",
        value=1 if last.intact else 0,
    )  # fmt: skip
    if last.position is not None:
        yield GaugeMetricFamily(
            "tiexin_seal_verified_position",
            "Intact: the last sealed position verified; failed: the first position that no longer matches.",
            value=last.position,
        )
    yield GaugeMetricFamily("tiexin_seal_tree_size", "Leaves covered by the seals verified.", value=last.tree_size)
    if side.checked_at is not None:
        yield GaugeMetricFamily(
            "tiexin_seal_verified_at_seconds", "When the last verification ran (Unix time).", value=side.checked_at
        )


# Answers ---------------------------------------------------------------------------------------


class SealOut(BaseModel):
    """A signed seal: the Merkle tree of the log's first `tree_size` events had `root` at `sealed_at`."""

    seq: Annotated[int, Field(description="the seal's number (1, 2, …)")]
    tree_size: Annotated[int, Field(description="events (leaves) covered, from the first")]
    last_position: Annotated[int, Field(description="the log position of the last of them")]
    root: Annotated[str, Field(description="the tree's root, hex (RFC 9162 hashing)")]
    sealed_at: Annotated[str, Field(description="when, as the exact ISO 8601 text that was signed")]
    signature: Annotated[
        str, Field(description="Ed25519, hex, over UTF-8 `tiexin-seal/1 {tree_size} {root} {sealed_at}`")
    ]
    key_fingerprint: Annotated[str, Field(description="SHA-256 of the signing key's 32 raw bytes, hex")]

    model_config = ConfigDict(json_schema_extra={"examples": [SEAL_EXAMPLE]})


def seal_out(seal: Seal) -> SealOut:
    return SealOut(**seal.exported())


class SealKeyOut(BaseModel):
    algorithm: Annotated[str, Field(description="always Ed25519")]
    public_key_pem: Annotated[str, Field(description="SubjectPublicKeyInfo, PEM")]
    public_key: Annotated[str, Field(description="the 32 raw bytes, hex")]
    fingerprint: Annotated[str, Field(description="SHA-256 of the 32 raw bytes, hex")]

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "algorithm": "Ed25519",
                    "public_key_pem": (
                        "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAgY0rPsJQkT9W1ppWyrbfZ7Oq3y8sZCG3uhljH+6P3Qo=\n"
                        "-----END PUBLIC KEY-----\n"
                    ),
                    "public_key": EXAMPLE_HEX,
                    "fingerprint": EXAMPLE_HEX,
                }
            ]
        }
    )


class VerifyOut(BaseModel):
    """The log checked against every seal: intact up to a position under a seal, or where and how not."""

    intact: bool
    summary: Annotated[str, Field(description="`intact up to position P under seal S`, or the first bad position")]
    seal: Annotated[int | None, Field(description="intact: the latest seal; else the seal no longer matched")]
    position: Annotated[int | None, Field(description="intact: the last sealed position; else the first bad one")]
    kind: Annotated[
        str | None, Field(description="edited, deleted, inserted, reordered, altered, leaves or forged (null: intact)")
    ]
    detail: str | None
    tree_size: Annotated[int, Field(description="events the seals cover")]
    seals: Annotated[int, Field(description="seals checked")]
    unsealed: Annotated[int, Field(description="events after the last sealed position (not yet sealed)")]
    key: Annotated[str, Field(description="which public key the signatures were checked with")]
    seconds: float

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "intact": True, "summary": "intact up to position 42578 under seal 3", "seal": 3,
                    "position": 42578, "kind": None, "detail": None, "tree_size": 42578, "seals": 3, "unsealed": 12,
                    "key": "the given public key 9f0c4f3ad2b8e61a…", "seconds": 0.41,
                },
                {
                    "intact": False,
                    "summary": "position 1834: edited (seal 3 no longer matches): the event at position 1834 is "
                    "not the one sealed there",
                    "seal": 3, "position": 1834, "kind": "edited",
                    "detail": "the event at position 1834 is not the one sealed there", "tree_size": 42578,
                    "seals": 3, "unsealed": 0, "key": "the given public key 9f0c4f3ad2b8e61a…", "seconds": 0.52,
                },
            ]
        }
    )  # fmt: skip


class InclusionOut(BaseModel):
    """That the event at `position` is leaf `leaf_index` of the sealed tree (RFC 9162 inclusion proof)."""

    position: int
    leaf_index: Annotated[int, Field(description="the event's leaf (positions may have gaps)")]
    record: Annotated[
        str,
        Field(
            description="the event's canonical record, base64: position (8 bytes BE) ‖ originator id (16) ‖ "
            "version (8 BE) ‖ len(topic) (4 BE) ‖ topic ‖ len(state) (4 BE) ‖ state; leaf = SHA-256(0x00 ‖ record)"
        ),
    ]
    leaf_hash: Annotated[str, Field(description="hex")]
    path: Annotated[list[str], Field(description="the audit path, hex, from the leaf up (RFC 9162 §2.1.3)")]
    seal: SealOut

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "position": 1834, "leaf_index": 1833,
                    "record": "AAAAAAAABykx8p3Ea0xGJq1tSZyD1Q4AAAAAAAAAAQAAABV0aWV4aW4udmlzaXQuUmVjb3JkZWQAAAACe30=",
                    "leaf_hash": EXAMPLE_HEX, "path": [EXAMPLE_HEX, EXAMPLE_HEX], "seal": SEAL_EXAMPLE,
                }
            ]
        }
    )  # fmt: skip


class ConsistencyOut(BaseModel):
    """That seal `to`'s tree extends seal `from`'s: the log only grew in between (RFC 9162 consistency proof)."""

    from_seal: Annotated[SealOut, Field(alias="from")]
    to_seal: Annotated[SealOut, Field(alias="to")]
    proof: Annotated[list[str], Field(description="hex, in RFC 9162 §2.1.4 order; empty for equal sizes")]

    model_config = ConfigDict(
        populate_by_name=True,
        json_schema_extra={
            "examples": [
                {
                    "from": {**SEAL_EXAMPLE, "seq": 2, "tree_size": 40000, "last_position": 40000},
                    "to": SEAL_EXAMPLE,
                    "proof": [EXAMPLE_HEX, EXAMPLE_HEX, EXAMPLE_HEX],
                }
            ]
        },
    )


def verify_out(result: VerifyResult) -> VerifyOut:
    return VerifyOut(
        intact=result.intact, summary=result.summary, seal=result.seal, position=result.position, kind=result.kind,
        detail=result.detail, tree_size=result.tree_size, seals=result.seals, unsealed=result.unsealed,
        key=result.key, seconds=round(result.seconds, 3),
    )  # fmt: skip


# Routes ------------------------------------------------------------------------------------------


@dataclass
class _SealJob:
    """A seal as the idempotency store runs it (:class:`api.idempotency.Job`)."""

    side: SealSide

    def execute(self) -> Answer:
        with store_errors_translated("the event store"):
            seal = self.side.seal()
        return Answer(201, seal_out(seal).model_dump(), {"Location": f"/v1/audit/seals/{seal.seq}"})

    def log_position(self) -> int:
        return 0

    def recover(self, since: int, status: int) -> Answer | None:
        """A request that died half-way left no mark on its seal: seal again (a second seal is harmless)."""
        return None


@router.post("/seals", status_code=201, response_model=SealOut, responses=errors(400, 409))
def record_seal(write: SealWrite, request: Request) -> JSONResponse:
    """Seal the log now: catch the tree up and sign its root with the bureau's key (auditor, admin)."""
    if write.if_match is not None:
        raise BadRequest("a seal is a new record: If-Match takes no entity tag here", field="If-Match")
    job = _SealJob(seal_side(request))
    if write.keyed is None:
        answer, replayed = job.execute(), False
    else:
        answer, replayed = write.services.idempotency.run(write.keyed, 201, job)
    headers = {**answer.headers, **({"Idempotent-Replayed": "true"} if replayed else {})}
    return JSONResponse(answer.body, status_code=answer.status, headers=headers)


@router.get("/seals", response_model=Page[SealOut], responses=LIST_ERRORS)
def list_seals(read: SealReader, request: Request, response: Response, pages: Pages) -> Page[SealOut]:
    """Every seal, oldest first (auditor, admin)."""
    meta = ledger_meta(read.services, response)
    after = pages.after_key()
    last = int(after[0]) if after and isinstance(after[0], int) else 0
    store = seal_side(request).need_store()
    with store_errors_translated("the event store"):
        found = seals_after(store, last, pages.limit + 1)
    chosen, cursor = pages.window(found, lambda s: (s.seq,))
    return Page[SealOut](items=[seal_out(s) for s in chosen], next_cursor=cursor, **meta)


@router.get("/seals/{seq}", response_model=SealOut, responses=errors(404, 409))
def get_seal(
    read: SealReader, request: Request, seq: Annotated[int, PathParam(ge=1, le=MAX_POSITION, description="seal number")]
) -> SealOut:
    """One seal (auditor, admin)."""
    store = seal_side(request).need_store()
    with store_errors_translated("the event store"), store.reading() as session:
        return seal_out(find_seal(session, seq))


@router.get("/seal-key", response_model=SealKeyOut, responses=errors(404))
def seal_key(read: AnyKey, request: Request) -> SealKeyOut:
    """The bureau's public seal key, to check seals' signatures with (any key)."""
    public = seal_side(request).public_key()
    if public is None:
        raise NoSealKey(f"this server has no seal key: {MAKE_ONE}", kind="seal key")
    return SealKeyOut(
        algorithm="Ed25519", public_key_pem=public.pem, public_key=public.raw.hex(), fingerprint=public.fingerprint
    )


@router.get("/verify", response_model=VerifyOut, responses=errors(409))
def verify_log(read: SealReader, request: Request) -> VerifyOut:
    """Recompute the tree from the stored events and check it against every seal (auditor, admin).

    Always 200: `intact` says whether the log matches; if not, `position` and `kind` say where and how.
    """
    with store_errors_translated("the event store"):
        return verify_out(seal_side(request).verify())


@router.get("/proof/{position}", response_model=InclusionOut, responses=errors(404, 409))
def proof(
    read: SealReader,
    request: Request,
    position: Annotated[int, PathParam(ge=1, le=MAX_POSITION, description="the event's log position")],
    seal: Annotated[int | None, Query(ge=1, le=MAX_POSITION, description="the seal (default: the latest)")] = None,
) -> InclusionOut:
    """The inclusion proof of the event at a log position under a seal, with its record (auditor, admin)."""
    store = seal_side(request).need_store()
    with store_errors_translated("the event store"):
        found = inclusion(store, position, seal)
    return InclusionOut(
        position=found.position, leaf_index=found.leaf_index, record=base64.b64encode(found.record).decode(),
        leaf_hash=found.leaf_hash.hex(), path=[h.hex() for h in found.path], seal=seal_out(found.seal),
    )  # fmt: skip


@router.get("/consistency", response_model=ConsistencyOut, responses=errors(404, 409))
def consistency_proof(
    read: SealReader,
    request: Request,
    from_seal: Annotated[int, Query(alias="from", ge=1, le=MAX_POSITION, description="the earlier seal's number")],
    to_seal: Annotated[int, Query(alias="to", ge=1, le=MAX_POSITION, description="the later seal's number")],
) -> JSONResponse:
    """The proof that seal `to`'s tree extends seal `from`'s: nothing sealed was changed since (auditor, admin)."""
    store = seal_side(request).need_store()
    with store_errors_translated("the event store"):
        found = consistency(store, from_seal, to_seal)
    body = ConsistencyOut(
        from_seal=seal_out(found.first), to_seal=seal_out(found.second), proof=[h.hex() for h in found.proof]
    )
    return JSONResponse(body.model_dump(by_alias=True))
