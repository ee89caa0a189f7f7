"""POST /v1/determine: the licence decision path for one export, each step cited."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from assistant.service import Assistant
from determination.facts import Facts
from determination.records import Determination
from web.auth import Role, require
from web.deps import get_assistant
from web.routes.answer import ERRORS

router = APIRouter(prefix="/v1", tags=["licence check"])


@router.post("/determine", response_model=Determination, responses=ERRORS,
             summary="Licence check: EU and US steps with outcomes and verified citations",
             dependencies=[require(Role.read)])
async def determine(facts: Facts, assistant: Assistant = Depends(get_assistant)) -> Determination:
    """Item (required), known codes, destination, end user and end use in; per jurisdiction an
    ordered list of steps out, each with its question, finding, outcome and citations. Facts that
    are missing make the steps that turn on them say so; invalid facts get a 422."""
    return await run_in_threadpool(assistant.determiner.determine, facts)
