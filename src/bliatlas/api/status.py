"""``GET /api/jobber``: what heavy work runs and waits now (:mod:`bliatlas.jobs`), and
which database state this process serves."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from pydantic import BaseModel

from bliatlas import jobs
from bliatlas.api import deps

router = APIRouter(prefix="/api", tags=["drift"])


class QueueStatus(BaseModel):
    jobb: str
    navn: str
    plasser: int
    kjorer: int
    venter: int
    ko_lengde: int
    ferdige: int
    avvist: int
    delt: int
    typisk_sekunder: float


class Status(BaseModel):
    jobber: list[QueueStatus]
    database: str | None


@router.get("/jobber", summary="Køene for tungt arbeid (matching, PDF) og databasetilstanden",
            response_model=Status)
def job_status() -> dict[str, Any]:
    try:
        token: str | None = deps.current().token
    except deps.DatabaseUnavailable:
        token = None
    return {"jobber": jobs.status(), "database": token}
