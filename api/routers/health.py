"""Liveness: the process answers (it does not touch the store; readiness comes with the read side)."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel

from api.schemas import examples

router = APIRouter(tags=["operations"])


class HealthOut(BaseModel):
    status: str

    model_config = examples({"status": "ok"})


@router.get("/healthz", response_model=HealthOut)
def healthz() -> HealthOut:
    """The process is alive."""
    return HealthOut(status="ok")
