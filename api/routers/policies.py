"""Policies: adopt a new version of the subsidy or scoring parameters or of the health gift bag's contents
(admin); read the versions in force (any key: the rules are public to everyone they apply to)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictInt

from api.deps import AdminCreate, Read, reader
from api.reads import LIST_ERRORS, Page, Pages, ledger_meta
from api.schemas import MAX_FEN, WRITE_ERRORS, Day, Text, WrittenOut, choice, examples
from api.service import load
from ledger.common import county_date
from ledger.errors import RuleViolation
from ledger.policies import DEFAULT_PARAMETERS, GiftBagItem, Policy, PolicyKind, policy_id

router = APIRouter(prefix="/v1/policies", tags=["policies"])

Parameter = Annotated[StrictInt, Field(ge=0, le=MAX_FEN)]
EXAMPLE_VERSION = {"version": 1, "effective_from": "2000-01-01", "parameters": DEFAULT_PARAMETERS[PolicyKind.SUBSIDY]}


class PolicyIn(BaseModel):
    kind: Text = choice(PolicyKind, PolicyKind.SUBSIDY)
    version: Annotated[StrictInt, Field(ge=1, le=1_000_000, description="the next version of this kind")]
    parameters: Annotated[
        dict[Text, Parameter],
        Field(
            max_length=64,
            description="subsidy, scoring: every parameter of the kind; gift_bag: the items a bag holds, each with "
            f"its count per bag (of {', '.join(GiftBagItem)}; one left out counts 0; at least one above 0)",
        ),
    ]
    effective_from: Day

    model_config = examples(
        {
            "kind": PolicyKind.SUBSIDY,
            "version": 2,
            "parameters": {**DEFAULT_PARAMETERS[PolicyKind.SUBSIDY], "transport_cross_township_fen": 2500},
            "effective_from": "2026-07-01",
        },
        {
            "kind": PolicyKind.GIFT_BAG,
            "version": 2,
            "parameters": {"handbook": 1, "health_book": 1, "local_culture_book": 3},
            "effective_from": "2027-01-01",
        },
    )


@router.post("", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def adopt(body: PolicyIn, write: AdminCreate) -> JSONResponse:
    """Adopt the next version of a policy, in force from a date (admin)."""
    return write.run(
        lambda by: write.ledger.adopt_policy(
            body.kind, version=body.version, parameters=body.parameters, effective_from=body.effective_from, by=by
        ),
        created=True,
    )


class VersionOut(BaseModel):
    version: int
    effective_from: dt.date
    parameters: dict[str, int]


class PolicyOut(BaseModel):
    kind: str = choice(PolicyKind, PolicyKind.SUBSIDY)
    in_force: Annotated[VersionOut | None, Field(description="the version in force on the date asked (null: none)")]
    versions: Annotated[list[VersionOut], Field(description="every version adopted, in order")]

    model_config = examples(
        {
            "kind": PolicyKind.SUBSIDY,
            "in_force": EXAMPLE_VERSION,
            "versions": [EXAMPLE_VERSION],
        }
    )


PolicyReader = Annotated[Read, Depends(reader("admin", "auditor", "finance", "evaluator", "coordinator", "volunteer"))]


@router.get("", response_model=Page[PolicyOut], responses=LIST_ERRORS)
def versions(
    read: PolicyReader,
    response: Response,
    pages: Pages,
    on: Annotated[Day | None, Query(description="the date the versions in force are of (omitted: today)")] = None,
) -> Page[PolicyOut]:
    """The policy versions in force on a date, and every version adopted, of each kind (any key)."""
    day = on or county_date(read.services.settings.clock())
    meta = ledger_meta(read.services, response)
    found = []
    for kind in PolicyKind:
        policy = load(read.ledger, Policy, policy_id(kind), "policy")
        adopted = [VersionOut(**v) for v in policy.versions]
        try:
            current = policy.in_force(day)
        except RuleViolation:
            in_force = None
        else:
            in_force = VersionOut(
                version=current.version, effective_from=current.effective_from, parameters=current.parameters
            )
        found.append(PolicyOut(kind=kind, in_force=in_force, versions=adopted))
    chosen, cursor = pages.page(found, lambda p: (p.kind,))
    return Page[PolicyOut](items=chosen, next_cursor=cursor, **meta)
