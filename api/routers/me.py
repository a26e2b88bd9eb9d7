"""Who a key belongs to: its name, role and (for a volunteer's key) volunteer, for pages and clients.

The web desk (:mod:`api.web`) asks this once after a key is pasted, to show the pages of the key's
role; any client may ask it to check a key before using it. The key itself is never answered.
"""

from __future__ import annotations

from typing import Annotated
from uuid import UUID

from fastapi import APIRouter
from pydantic import BaseModel, Field

from api.deps import Authenticated
from api.schemas import errors, examples

router = APIRouter(prefix="/v1/me", tags=["keys"])


class MeOut(BaseModel):
    key_id: str
    name: Annotated[str, Field(description="the key's name, as given to `tiexin keys create`")]
    role: Annotated[str, Field(description="coordinator, volunteer, evaluator, finance, auditor or admin")]
    volunteer_id: Annotated[UUID | None, Field(description="the volunteer a volunteer's key is bound to")]

    model_config = examples({"key_id": "k_3f9a2c", "name": "auditor-zhou", "role": "auditor", "volunteer_id": None})


@router.get("", response_model=MeOut, responses=errors())
async def me(principal: Authenticated) -> MeOut:
    """The key's name, role and volunteer (any valid key; 401 otherwise)."""
    return MeOut(key_id=principal.key_id, name=principal.name, role=principal.role, volunteer_id=principal.volunteer_id)
