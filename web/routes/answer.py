"""POST /v1/answer and its streamed twin."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from sse_starlette.sse import EventSourceResponse

from assistant.records import AnswerResponse
from assistant.service import Assistant
from web.auth import Role, require
from web.deps import get_assistant, get_metrics
from web.observability import Metrics
from web.schemas import AnswerRequest, ErrorResponse

router = APIRouter(prefix="/v1", tags=["answers"])
ERRORS = {401: {"model": ErrorResponse}, 403: {"model": ErrorResponse}, 413: {"model": ErrorResponse},
          422: {"model": ErrorResponse}, 503: {"model": ErrorResponse}}


def _history_limit(body: AnswerRequest, assistant: Assistant) -> None:
    from assistant.service import QuestionError

    limit = assistant.settings.max_history_turns
    if len(body.history) > limit:
        raise QuestionError(f"history has {len(body.history)} turns; the limit is {limit}")
    for turn in body.history:
        if len(turn.content) > assistant.settings.max_question_chars * 4:
            raise QuestionError("a history turn is longer than the limit")


@router.post("/answer", response_model=AnswerResponse, responses=ERRORS,
             summary="Answer a question with verified citations", dependencies=[require(Role.read)])
async def answer(body: AnswerRequest, assistant: Assistant = Depends(get_assistant),
                 metrics: Metrics = Depends(get_metrics)) -> AnswerResponse:
    _history_limit(body, assistant)
    response = await run_in_threadpool(
        assistant.ask, body.question, history=body.history,
        filters=body.filters.to_filters() if body.filters else None, top_k=body.top_k, mode=body.mode)
    metrics.observe_stages(response.timings_ms)
    return response


@router.post(
    "/answer/stream", responses={200: {"content": {"text/event-stream": {}},
                                       "description": "`token` events (provisional text), then one `final` "
                                                      "event with the full verified record."}, **ERRORS},
    summary="The same answer, streamed as server-sent events", dependencies=[require(Role.read)])
async def answer_stream(body: AnswerRequest, assistant: Assistant = Depends(get_assistant),
                        metrics: Metrics = Depends(get_metrics)) -> EventSourceResponse:
    _history_limit(body, assistant)
    assistant.clean_question(body.question)  # refuse bad questions with a 422 before streaming
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[str, str]] = asyncio.Queue()

    def produce() -> None:
        try:
            response = assistant.ask(
                body.question, history=body.history,
                filters=body.filters.to_filters() if body.filters else None, top_k=body.top_k, mode=body.mode,
                on_token=lambda piece: loop.call_soon_threadsafe(queue.put_nowait, ("token", piece)))
            metrics.observe_stages(response.timings_ms)
            if response.mode == "extractive":
                for line in response.answer.splitlines(keepends=True):
                    loop.call_soon_threadsafe(queue.put_nowait, ("sentence", line))
            loop.call_soon_threadsafe(queue.put_nowait, ("final", response.model_dump_json()))
        except Exception as exc:  # noqa: BLE001 - reported as an event, the stream still ends cleanly
            message = str(exc) if exc.__class__.__name__ == "QuestionError" else "internal error"
            loop.call_soon_threadsafe(queue.put_nowait, ("error", json.dumps({"message": message})))

    threading.Thread(target=produce, daemon=True).start()

    async def events() -> AsyncIterator[dict[str, str]]:
        while True:
            event, data = await queue.get()
            yield {"event": event, "data": data}
            if event in ("final", "error"):
                return

    return EventSourceResponse(events())
