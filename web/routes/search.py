"""POST /v1/search: ranked passages with scores and citation metadata, no answer."""

from __future__ import annotations

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool

from assistant.service import Assistant
from web.auth import Role, require
from web.deps import get_assistant, passage_info
from web.routes.answer import ERRORS
from web.schemas import SearchHit, SearchRequest, SearchResponse

router = APIRouter(prefix="/v1", tags=["search"])


@router.post("/search", response_model=SearchResponse, responses=ERRORS, summary="Search passages",
             dependencies=[require(Role.read)])
async def search(body: SearchRequest, assistant: Assistant = Depends(get_assistant)) -> SearchResponse:
    query = assistant.clean_question(body.query)
    result = await run_in_threadpool(
        assistant.retriever.search, query, body.filters.to_filters() if body.filters else None, body.top_k)
    return SearchResponse(query=query, hits=[
        SearchHit(rank=i, score=round(h.score, 6), similarity=None if h.dense is None else round(h.dense, 6),
                  exact_reference=h.exact is not None, passage=passage_info(h.chunk))
        # At most top_k passages: a unit may contribute two paragraphs and its lead-ins, which the
        # ranking keeps for the answer, not for a caller who asked for top_k.
        for i, h in enumerate(result.hits[: body.top_k], start=1)
    ])
