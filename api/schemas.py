"""What every route shares at the edge: the write answer, the problem, and the checked field types.

Field types here refuse what the ledger should never see: naive date-times (422), moments and
dates outside the programme's plausible range, money that is not an integer number of fen (a
float or a string is refused, not rounded), text that cannot be stored as UTF-8. The ledger
still checks every rule itself; these keep garbage from reaching it.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from typing import Annotated, Any
from uuid import UUID

from pydantic import AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt

MAX_FEN = 10**12
"""¥10 billion: more than any county's budget, far less than anything that overflows a column."""
EARLIEST = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)
LATEST = dt.datetime(2100, 1, 1, tzinfo=dt.UTC)


def _storable(text: str) -> str:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("must be valid Unicode text (no lone surrogates)") from None
    if "\x00" in text:
        raise ValueError("must not contain NUL characters")
    return text


ISO_DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
ISO_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]")


def _iso_day(value: Any) -> Any:
    """A date is written ``2026-02-10``: not a number (which pydantic would read as seconds since 1970)."""
    if isinstance(value, dt.date) or (isinstance(value, str) and ISO_DAY.fullmatch(value)):
        return value
    raise ValueError("must be a date written YYYY-MM-DD, e.g. 2026-02-10")


def _iso_moment(value: Any) -> Any:
    """A moment is written ``2026-02-10T10:00:00+08:00``: not a number of seconds."""
    if isinstance(value, dt.datetime) or (isinstance(value, str) and ISO_MOMENT.match(value)):
        return value
    raise ValueError("must be a date-time written YYYY-MM-DDTHH:MM:SS with its offset, e.g. 2026-02-10T10:00:00+08:00")


def _plausible_moment(moment: dt.datetime) -> dt.datetime:
    if not EARLIEST <= moment <= LATEST:
        raise ValueError(f"must be between {EARLIEST.date()} and {LATEST.date()}")
    return moment


def _plausible_day(day: dt.date) -> dt.date:
    if not dt.date(1890, 1, 1) <= day <= dt.date(2100, 12, 31):
        raise ValueError("must be between 1890-01-01 and 2100-12-31")
    return day


Text = Annotated[str, AfterValidator(_storable)]
Instant = Annotated[AwareDatetime, BeforeValidator(_iso_moment), AfterValidator(_plausible_moment)]
"""A timezone-aware moment (``2026-02-10T10:00:00+08:00``); a naive one is refused."""
Day = Annotated[dt.date, BeforeValidator(_iso_day), AfterValidator(_plausible_day)]
Fen = Annotated[StrictInt, Field(ge=0, le=MAX_FEN, description="integer fen (分); ¥1 = 100")]
SignedFen = Annotated[StrictInt, Field(ge=-MAX_FEN, le=MAX_FEN, description="integer fen (分), + or −")]


def choice(values: Iterable[str], example: str | None = None, **kwargs: Any) -> Any:
    """A text field documented as one of ``values``, a ledger StrEnum (the ledger, which owns the codes, checks it)."""
    listed: list[Any] = [str(value) for value in values]
    return Field(json_schema_extra={"enum": listed}, examples=[str(example or listed[0])], **kwargs)


def examples(*items: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(items)})


class WrittenOut(BaseModel):
    """The answer to every write: the record, its new version (its ETag) and the log position."""

    id: Annotated[UUID, Field(description="the record written")]
    version: Annotated[int, Field(description="the record's version after this write; its ETag")]
    position: Annotated[int, Field(description="the log position of the write: pass it as ?after= to reads")]

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"id": "6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10", "version": 2, "position": 1834}]}
    )


class FieldError(BaseModel):
    field: str
    reason: str
    type: str | None = None


class ProblemOut(BaseModel):
    """An error, as RFC 9457 problem details, with the field or the rule at fault."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    field: Annotated[str | None, Field(description="the field or header at fault (400, 422)")] = None
    errors: Annotated[list[FieldError] | None, Field(description="every field at fault (422)")] = None
    rule: Annotated[str | None, Field(description="the broken rule, a stable dotted code (409)")] = None
    kind: str | None = None
    id: str | None = None
    current_version: Annotated[int | None, Field(description="the record's version now (412)")] = None
    correlation_id: str | None = None

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {
                    "type": "https://tiexin.example/problems/rule-violation",
                    "title": "Conflict",
                    "status": 409,
                    "detail": "visit 6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10 is already confirmed",
                    "instance": "/v1/visits/6f1c2a7e-2d4b-4a55-9c1e-0b7f3c2d9a10/confirmation",
                    "rule": "visit.already_confirmed",
                },
                {
                    "type": "https://tiexin.example/problems/invalid-input",
                    "title": "Unprocessable Entity",
                    "status": 422,
                    "detail": "started_at: Input should have timezone info",
                    "instance": "/v1/visits",
                    "field": "started_at",
                    "errors": [
                        {"field": "started_at", "reason": "Input should have timezone info", "type": "timezone_aware"}
                    ],
                },
            ]
        },
    )


ERROR_TEXT = {
    400: "malformed JSON or header (the field or header is named)",
    401: "no API key, or an unknown or revoked one",
    403: "the key's role may not do this, or the record is another volunteer's",
    404: "no such record",
    409: "a broken rule (named by `rule`), a racing write, a reused idempotency key, or a damaged record "
    "(`record.damaged`: its stored events no longer load; `id`, `version`, `damage`)",
    412: "If-Match names a version the record has moved past; nothing was written",
    413: "the body is too large",
    422: "a field is missing, of the wrong type or out of range (named by `field`)",
    503: "the store is unavailable; nothing is known to be written; retry after Retry-After",
}


def errors(*codes: int) -> dict[int | str, dict[str, Any]]:
    """The problem responses a route documents (always 401, 403, 422, 503 as well)."""
    wanted = sorted({401, 403, 422, 503, *codes})
    return {code: {"model": ProblemOut, "description": ERROR_TEXT[code]} for code in wanted}


WRITE_ERRORS = errors(400, 404, 409, 413)
TARGETED_WRITE_ERRORS = errors(400, 404, 409, 412, 413)
READ_ERRORS = errors(404, 409)  # 409: a damaged record (record.damaged)
