"""Structured JSON errors everywhere; a stack trace never reaches the client."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.service import QuestionError
from indexer.pipeline import IndexBusy
from indexer.reader import IndexMissing

log = logging.getLogger("regqa.web")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "busy", 413: "too_large", 415: "unsupported_media_type", 422: "invalid_request",
          429: "too_many_requests", 503: "unavailable"}


def error(status: int, message: str, details: list[dict] | None = None,
          headers: dict[str, str] | None = None, code: str | None = None) -> JSONResponse:
    # `type` as OpenAI's errors have it: the 413 the body-size guard sends before any route runs
    # then also parses in OpenAI clients of /v1/chat/completions.
    body: dict = {"error": {"code": code or _CODES.get(status, "error"), "message": message,
                            "type": "server_error" if status >= 500 else "invalid_request_error"}}
    if details:
        body["error"]["details"] = details
    return JSONResponse(body, status_code=status, headers=headers)


def install(app: FastAPI) -> None:
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return error(exc.status_code, str(exc.detail), headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        details = [{"location": ".".join(str(p) for p in e.get("loc", ())), "problem": e.get("msg", "")}
                   for e in exc.errors()]
        return error(422, "the request body or parameters are not valid", details)

    @app.exception_handler(QuestionError)
    async def bad_question(request: Request, exc: QuestionError) -> JSONResponse:
        return error(422, str(exc))

    @app.exception_handler(IndexBusy)
    async def busy(request: Request, exc: IndexBusy) -> JSONResponse:
        return error(409, str(exc), headers={"Retry-After": "30"})

    @app.exception_handler(IndexMissing)
    async def missing(request: Request, exc: IndexMissing) -> JSONResponse:
        return error(503, str(exc))

    @app.exception_handler(Exception)
    async def crash(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return error(500, "internal error; the server log has the details")
