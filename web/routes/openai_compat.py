"""OpenAI-compatible chat completions: GET /v1/models and POST /v1/chat/completions.

Chat front-ends (Open WebUI, LibreChat, the OpenAI SDK, LangChain's ChatOpenAI) speak this
protocol, so they can use RegQA unmodified. The answer comes from the same `Assistant.ask` as
POST /v1/answer, so citations are verified exactly as there; this module only translates.

Mapping, documented in the README:
- the last message must be a user message: it is the question; earlier user and assistant
  turns are the history (an assistant turn loses the "Sources" block this module appended to it;
  turns beyond REGQA_MAX_HISTORY_TURNS are dropped oldest first, as a chat client resends the
  whole conversation every time); system, developer and tool messages are ignored: RegQA has no
  instruction slot, and letting a caller re-instruct the model would bypass its citation rules;
- `model`: `regqa` answers extractively, `regqa-llm` (listed only when an LLM is configured) in
  LLM mode; `max_tokens`, `temperature` and other sampling parameters are accepted and ignored;
- `content` is the verified answer with its `[n]` markers, then a Markdown "Sources" list and
  the notices; the structured citations travel as the top-level `citations` field (and in the
  last stream chunk), `regqa` carries abstained / abstain_reason / notices;
- `usage` counts word pieces with the embedding model's tokenizer (no LLM tokenizer is known);
- streaming sends only verified text: the role chunk at once, then the answer line by line once
  it is verified (LLM tokens are provisional and are never streamed here), then the final chunk.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict, Field
from sse_starlette.sse import EventSourceResponse

from assistant.records import AnswerResponse, Citation, Turn
from assistant.service import Assistant, QuestionError
from indexer.reader import IndexMissing
from web.auth import Role, require
from web.deps import get_assistant, get_metrics
from web.observability import Metrics
from web.schemas import FilterSpec

log = logging.getLogger("regqa.web")

EXTRACTIVE_MODEL, LLM_MODEL = "regqa", "regqa-llm"
SOURCES_HEADING = "**Sources**"
_SOURCES_MARK = f"\n\n---\n{SOURCES_HEADING}"  # where an answer's own text ends in `content`
_STARTED = int(time.time())


# -- errors in the OpenAI shape ------------------------------------------------------------------

class OpenAIErrorBody(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class OpenAIError(BaseModel):
    error: OpenAIErrorBody


def openai_error(status: int, message: str, code: str | None = None, param: str | None = None,
                 headers: dict[str, str] | None = None) -> JSONResponse:
    kind = "server_error" if status >= 500 else "permission_error" if status == 403 else "invalid_request_error"
    body = OpenAIError(error=OpenAIErrorBody(message=message, type=kind, param=param, code=code))
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


class ModelNotFound(Exception):
    def __init__(self, model: str, available: list[str]) -> None:
        super().__init__(f"The model {model!r} does not exist; available: {', '.join(available)}")


class OpenAIRoute(APIRoute):
    """Errors on these routes look like OpenAI's (`{"error": {"message", "type", "code"}}`), so
    OpenAI clients raise their usual exceptions; the rest of the API keeps RegQA's shape."""

    def get_route_handler(self) -> Callable[[Request], Awaitable[Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            try:
                return await handler(request)
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = None if first.get("type") == "json_invalid" else (
                    ".".join(str(p) for p in first.get("loc", ()) if p != "body") or None)
                problem = first.get("msg", "invalid request")
                return openai_error(400, f"{where}: {problem}" if where else problem, "invalid_request", where)
            except HTTPException as exc:
                code = {401: "invalid_api_key", 403: "insufficient_permissions", 413: "request_too_large"}.get(
                    exc.status_code, None)
                return openai_error(exc.status_code, str(exc.detail), code, headers=getattr(exc, "headers", None))
            except QuestionError as exc:
                return openai_error(400, str(exc), "invalid_question", "messages")
            except ModelNotFound as exc:
                return openai_error(404, str(exc), "model_not_found", "model")
            except IndexMissing as exc:
                return openai_error(503, str(exc), "index_missing")
            except Exception:  # noqa: BLE001 - never a stack trace to the client
                log.exception("unhandled error on %s %s", request.method, request.url.path)
                return openai_error(500, "internal error; the server log has the details", "internal_error")

        return route


ERRORS: dict[int | str, dict[str, Any]] = {
    status: {"model": OpenAIError, "description": what} for status, what in (
        (400, "invalid request (OpenAI error shape)"), (401, "missing or invalid API key"),
        (404, "unknown model"), (413, "request body too large"), (503, "no index yet"))}

router = APIRouter(prefix="/v1", tags=["OpenAI-compatible"], route_class=OpenAIRoute)


# -- request and response bodies -----------------------------------------------------------------

class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")

    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="allow")  # name, tool_calls, ... are accepted and ignored

    role: Literal["system", "developer", "user", "assistant", "tool", "function"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):  # only text parts count; images etc. are ignored
            return "\n".join(p.text for p in self.content if p.type == "text" and p.text)
        return self.content or ""


class RegQAOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filters: FilterSpec | None = Field(default=None, description="Same filters as POST /v1/answer.")
    top_k: int | None = Field(default=None, ge=1, le=50, description="Passages to retrieve.")


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="allow")

    include_usage: bool = False


class ChatCompletionRequest(BaseModel):
    """OpenAI's request body. Sampling parameters are accepted and ignored: the answer is
    composed from verified quotes (or checked sentence by sentence in LLM mode)."""

    model_config = ConfigDict(extra="allow")  # newer OpenAI parameters: accepted, ignored

    model: str = Field(examples=[EXTRACTIVE_MODEL])
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    stream: bool = False
    stream_options: StreamOptions | None = None
    max_tokens: int | None = Field(default=None, description="Accepted and ignored.")
    max_completion_tokens: int | None = Field(default=None, description="Accepted and ignored.")
    temperature: float | None = Field(default=None, description="Accepted and ignored.")
    top_p: float | None = Field(default=None, description="Accepted and ignored.")
    n: int | None = Field(default=None, ge=1, le=1, description="Only one choice is returned.")
    user: str | None = None
    regqa: RegQAOptions | None = Field(default=None, description="RegQA extras: filters and top_k.")


class AssistantMessage(BaseModel):
    role: Literal["assistant"] = "assistant"
    content: str
    refusal: str | None = None


class Choice(BaseModel):
    index: int = 0
    message: AssistantMessage
    finish_reason: Literal["stop"] = "stop"
    logprobs: None = None


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class RegQAExtras(BaseModel):
    abstained: bool
    abstain_reason: str | None
    notices: list[str]
    mode: str
    standalone_question: str
    unsupported_sentences: list[str]


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"] = "chat.completion"
    created: int
    model: str
    choices: list[Choice]
    usage: Usage
    system_fingerprint: str | None = None
    citations: list[Citation] = Field(description="The verified citations, as in POST /v1/answer.")
    regqa: RegQAExtras


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "regqa"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]


# -- translation ---------------------------------------------------------------------------------

def available_models(assistant: Assistant) -> list[str]:
    return [EXTRACTIVE_MODEL] + ([LLM_MODEL] if assistant.chat_model is not None else [])


def _conversation(body: ChatCompletionRequest, assistant: Assistant) -> tuple[str, list[Turn]]:
    """The question (the last message, which must be the user's) and the earlier turns."""
    last = body.messages[-1]
    if last.role != "user":
        raise QuestionError("the last message must be a user message: it is the question RegQA answers")
    limit = assistant.settings.max_question_chars * 4  # the history rule of POST /v1/answer
    history: list[Turn] = []
    for message in body.messages[:-1]:
        if message.role not in ("user", "assistant"):
            continue  # system/developer/tool: no instruction slot (see the module docstring)
        text = message.text()
        if message.role == "assistant":
            text = text.split(_SOURCES_MARK, 1)[0][:limit]  # RegQA's own earlier answer, sans sources
        elif len(text) > limit:
            raise QuestionError("a history turn is longer than the limit")
        if text.strip():
            history.append(Turn(role=message.role, content=text))
    keep = assistant.settings.max_history_turns
    return assistant.clean_question(last.text()), (history[-keep:] if keep else [])


def _one_line(text: str) -> str:
    return " ".join(text.split())


def sources_markdown(response: AnswerResponse) -> str:
    """A Markdown list any chat client renders: instrument, section, quote, as-of, link."""
    if not response.citations:
        return ""
    heading = "**Closest passages** (not an answer)" if response.abstained else SOURCES_HEADING
    lines = [f"---\n{heading}\n"]
    for c in response.citations:
        where = f"{c.cite_as}, {c.section}" + (f", page {c.page}" if c.page else "")
        parts = [f"- **[{c.n}] {where}**: “{_one_line(c.quote)}”"]  # bullets: numbers may skip
        if c.as_of:
            parts.append(f"as of {c.as_of[:10]}")
        if c.source_url:
            parts.append(f"[official text]({c.source_url})")
        if c.completeness == "partial":
            parts.append("⚠️ *partial document*")
        elif c.completeness != "full":
            parts.append(f"⚠️ *{c.completeness} completeness*")
        lines.append(" · ".join(parts))
    return "\n".join(lines)


def render_content(response: AnswerResponse) -> str:
    """The answer, then the Sources list, then the notices (disclaimer, partial copies)."""
    blocks = [response.answer.strip()]
    sources = sources_markdown(response)
    if sources:
        blocks.append(sources)
    blocks += [f"> {_one_line(notice)}" for notice in response.notices]
    return "\n\n".join(b for b in blocks if b)


@lru_cache(maxsize=4)
def _tokenizer(path: str) -> Any:  # noqa: ANN401 - tokenizers.Tokenizer, or None
    from tokenizers import Tokenizer

    file = Path(path) / "tokenizer.json"
    if not file.exists():
        return None
    tokenizer = Tokenizer.from_file(str(file))
    tokenizer.no_truncation()  # the file carries the model's 128/256 window; usage counts all
    tokenizer.no_padding()
    return tokenizer


def count_tokens(assistant: Assistant, texts: list[str]) -> int:
    """Word pieces of the embedding model's tokenizer, special tokens excluded; 0 if it has none."""
    tokenizer = _tokenizer(str(assistant.settings.model_path))
    if tokenizer is None or not texts:
        return 0
    # JSON allows unpaired surrogates (\ud800); the tokenizer cannot take them.
    clean = [t.encode("utf-8", "replace").decode("utf-8") for t in texts]
    return sum(len(e.ids) for e in tokenizer.encode_batch(clean, add_special_tokens=False))


def _usage(assistant: Assistant, body: ChatCompletionRequest, content: str) -> Usage:
    prompt = count_tokens(assistant, [m.text() for m in body.messages])
    completion = count_tokens(assistant, [content])
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _extras(response: AnswerResponse) -> RegQAExtras:
    return RegQAExtras(abstained=response.abstained, abstain_reason=response.abstain_reason,
                       notices=response.notices, mode=response.mode,
                       standalone_question=response.standalone_question,
                       unsupported_sentences=response.unsupported_sentences)


# -- routes --------------------------------------------------------------------------------------

@router.get("/models", response_model=ModelList, responses=ERRORS, summary="Models, OpenAI-style",
            dependencies=[require(Role.read)])
def list_models(assistant: Assistant = Depends(get_assistant)) -> ModelList:
    """`regqa` (extractive answers) and, when an LLM is configured, `regqa-llm`."""
    return ModelList(data=[ModelCard(id=m, created=_STARTED) for m in available_models(assistant)])


@router.get("/models/{model}", response_model=ModelCard, responses=ERRORS, summary="One model, OpenAI-style",
            dependencies=[require(Role.read)])
def get_model(model: str, assistant: Assistant = Depends(get_assistant)) -> ModelCard:
    if model not in available_models(assistant):
        raise ModelNotFound(model, available_models(assistant))
    return ModelCard(id=model, created=_STARTED)


@router.post(
    "/chat/completions", response_model=ChatCompletion,
    responses={200: {"content": {"text/event-stream": {}},
                     "description": "A chat.completion, or with `stream: true` `chat.completion.chunk` "
                                    "events ending with `data: [DONE]`."}, **ERRORS},
    summary="Chat completions, OpenAI-style, with verified citations", dependencies=[require(Role.read)])
async def chat_completions(body: ChatCompletionRequest, assistant: Assistant = Depends(get_assistant),
                           metrics: Metrics = Depends(get_metrics)) -> ChatCompletion | EventSourceResponse:
    """The last user message is the question, earlier user/assistant turns its history; system
    messages are ignored. `regqa: {"filters": {...}, "top_k": n}` narrows the search."""
    models = available_models(assistant)
    if body.model not in models:
        raise ModelNotFound(body.model, models)
    question, history = _conversation(body, assistant)  # refuses bad input before any streaming
    options = body.regqa or RegQAOptions()
    filters = options.filters.to_filters() if options.filters else None
    mode = "llm" if body.model == LLM_MODEL else "extractive"
    completion_id, created = f"chatcmpl-{uuid.uuid4().hex}", int(time.time())

    def ask() -> AnswerResponse:
        response = assistant.ask(question, history=history, filters=filters, top_k=options.top_k, mode=mode)
        metrics.observe_stages(response.timings_ms)
        return response

    if not body.stream:
        response = await run_in_threadpool(ask)
        content = render_content(response)
        return ChatCompletion(id=completion_id, created=created, model=body.model,
                              choices=[Choice(message=AssistantMessage(content=content))],
                              usage=_usage(assistant, body, content), citations=response.citations,
                              regqa=_extras(response))

    def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, str]:  # noqa: ANN401
        payload = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                   "model": body.model, "system_fingerprint": None,
                   "choices": [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}], **extra}
        return {"data": json.dumps(payload, ensure_ascii=False)}

    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    async def events() -> AsyncIterator[dict[str, str]]:
        yield chunk({"role": "assistant", "content": ""})
        try:
            response = await run_in_threadpool(ask)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # noqa: BLE001 - reported in-stream, as OpenAI does, then [DONE]
            if not isinstance(exc, QuestionError | IndexMissing):
                log.exception("unhandled error while streaming a chat completion")
            message = str(exc) if isinstance(exc, QuestionError | IndexMissing) else "internal error"
            yield {"data": json.dumps({"error": {"message": message, "type": "server_error", "param": None,
                                                 "code": None}})}
            yield {"data": "[DONE]"}
            return
        content = render_content(response)
        for line in content.splitlines(keepends=True):
            yield chunk({"content": line})
        usage = _usage(assistant, body, content)
        yield chunk({}, "stop", citations=[c.model_dump() for c in response.citations],
                    regqa=_extras(response).model_dump(), usage=None)
        if include_usage:  # OpenAI's shape: one more chunk with no choices and the usage
            yield {"data": json.dumps({"id": completion_id, "object": "chat.completion.chunk",
                                       "created": created, "model": body.model, "choices": [],
                                       "usage": usage.model_dump()})}
        yield {"data": "[DONE]"}

    return EventSourceResponse(events(), sep="\n")
