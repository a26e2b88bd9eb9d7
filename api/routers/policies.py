"""Policies: adopt a new version of the subsidy or scoring parameters (admin)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field, StrictInt

from api.deps import AdminWrite
from api.schemas import MAX_FEN, WRITE_ERRORS, Day, Text, WrittenOut, choice, examples
from ledger.policies import DEFAULT_PARAMETERS, KINDS, SUBSIDY

router = APIRouter(prefix="/v1/policies", tags=["policies"])

Parameter = Annotated[StrictInt, Field(ge=0, le=MAX_FEN)]


class PolicyIn(BaseModel):
    kind: Text = choice(KINDS, SUBSIDY)
    version: Annotated[StrictInt, Field(ge=1, le=1_000_000, description="the next version of this kind")]
    parameters: Annotated[dict[Text, Parameter], Field(max_length=64, description="every parameter of the kind")]
    effective_from: Day

    model_config = examples(
        {
            "kind": "subsidy",
            "version": 2,
            "parameters": {**DEFAULT_PARAMETERS[SUBSIDY], "transport_cross_township_fen": 2500},
            "effective_from": "2026-07-01",
        }
    )


@router.post("", status_code=201, response_model=WrittenOut, responses=WRITE_ERRORS)
def adopt(body: PolicyIn, write: AdminWrite) -> JSONResponse:
    """Adopt the next version of a policy, in force from a date (admin)."""
    return write.run(
        lambda by: write.ledger.adopt_policy(
            body.kind, version=body.version, parameters=body.parameters, effective_from=body.effective_from, by=by
        ),
        created=True,
    )
