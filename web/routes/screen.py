"""POST /v1/screen: a party name against the imported restricted-party list."""

from __future__ import annotations

from fastapi import APIRouter, Depends, HTTPException
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from screening import ScreeningInputError, ScreeningResult, ScreeningStore
from web.auth import Role, require
from web.deps import get_screening
from web.errors import error
from web.routes.answer import ERRORS
from web.schemas import ErrorResponse, ScreenRequest

router = APIRouter(prefix="/v1", tags=["screening"])

NOT_SCREENED = {
    409: {"model": ErrorResponse, "description": "No screening list is imported (`error.code` "
                                                 "`no_screening_list`): the name was not screened."},
    503: {"model": ErrorResponse, "description": "The imported list cannot be read (`error.code` "
                                                 "`screening_list_unreadable`): the name was not screened."},
}


@router.post(
    "/screen", response_model=ScreeningResult, responses={**ERRORS, **NOT_SCREENED},
    summary="Screen a party name against the imported restricted-party list", dependencies=[require(Role.read)])
async def screen(body: ScreenRequest, store: ScreeningStore = Depends(get_screening)) -> ScreeningResult | JSONResponse:
    """Each hit gives the score (0-100), the field that matched (`name` or `alt_names[i]`) and its
    text, the threshold, the source list and its date, and the listed entry (addresses, Federal
    Register citation, licence requirement and policy). A missing or unreadable list is an error
    response, never an empty list of hits. Name screening does not see ownership (`reminder`)."""
    try:
        result = await run_in_threadpool(store.screen, body.name, body.country, body.threshold)
    except ScreeningInputError as exc:
        raise HTTPException(422, str(exc)) from None
    if result.status == "no-list":
        return error(409, result.message, [{"status": result.status}], code="no_screening_list")
    if result.status == "unreadable":
        return error(503, result.message, [{"status": result.status}], code="screening_list_unreadable")
    return result
