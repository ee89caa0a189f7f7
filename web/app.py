"""The ASGI app: answer API under /v1, docs at /docs, the chat UI at /."""

from __future__ import annotations

import logging
import sys
import time

import gradio as gr
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.service import Assistant
from web import errors, mcp_server
from web.auth import KeyRing
from web.observability import Metrics, RequestGuard
from web.routes import answer, determine, documents, health, openai_compat, screen, search
from web.ui import CSS, build_ui
from regqa.config import Settings

DESCRIPTION = """Answers to export-control questions on surveillance technology, with citations to the exact
article, CFR section or control-list entry, quoted from the stored official text.

Every citation in a response resolves to a stored passage (`GET /v1/passages/{chunk_id}`), and every
quote is an exact substring of it. Not legal advice.

**Auth:** when `REGQA_API_KEYS` is set, send `Authorization: Bearer KEY` (or `X-API-Key`). Read keys may
use every GET route and the answer/search routes; uploads and deletions need an admin key."""


class SecurityHeaders:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = message.setdefault("headers", [])
                headers += [(b"x-content-type-options", b"nosniff"), (b"referrer-policy", b"no-referrer"),
                            (b"x-frame-options", b"SAMEORIGIN"),
                            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()")]
            await send(message)

        await self.app(scope, receive, with_headers if scope["type"] == "http" else send)


class _AuditHandler(logging.StreamHandler):
    """Writes to the stderr of the moment (a server's log; in tests, whatever captures it)."""

    def emit(self, record: logging.LogRecord) -> None:
        self.stream = sys.stderr
        super().emit(record)


def configure_audit_log() -> None:
    """One line per admin action on stderr: when (UTC), who (the key's label, never the key),
    what. Without a handler of its own the INFO lines were dropped: uvicorn configures only
    its own loggers."""
    logger = logging.getLogger("regqa.audit")
    if not any(isinstance(h, _AuditHandler) for h in logger.handlers):
        handler = _AuditHandler()
        formatter = logging.Formatter("%(asctime)s regqa.audit %(message)s", "%Y-%m-%dT%H:%M:%SZ")
        formatter.converter = time.gmtime
        handler.setFormatter(formatter)
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def create_app(settings: Settings | None = None, *, assistant: Assistant | None = None) -> FastAPI:
    settings = settings or Settings()
    keyring = KeyRing.parse(settings.api_keys.get_secret_value() if settings.api_keys else None)
    assistant = assistant or Assistant(settings)
    metrics = Metrics()
    app = FastAPI(title="RegQA answer API", version="0.1.0", description=DESCRIPTION, docs_url="/docs",
                  redoc_url=None, openapi_url="/openapi.json")
    app.state.settings, app.state.assistant, app.state.keyring, app.state.metrics = (
        settings, assistant, keyring, metrics)
    app.state.screening = assistant.screening  # one store for /v1/screen and the licence check
    errors.install(app)
    configure_audit_log()
    for router in (answer.router, search.router, determine.router, screen.router, documents.router, health.router,
                   openai_compat.router):
        app.include_router(router)
    mcp_server.mount_http(app, assistant, keyring, metrics, settings.host)  # the MCP tools at /mcp
    # Always installed, even with no origins listed: Gradio then leaves CORS to it, where on its
    # own it would echo any Origin, with credentials, whenever the host is not localhost.
    app.add_middleware(CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=["GET", "POST", "DELETE"],
                       allow_headers=["Authorization", "X-API-Key", "Content-Type"])
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestGuard, metrics=metrics, max_body=settings.max_body_bytes,
                       max_upload=settings.max_upload_bytes)
    auth = (lambda _user, key: keyring.identify(key) is not None) if keyring.configured else None
    return gr.mount_gradio_app(
        app, build_ui(assistant, keyring), path="/", auth=auth, css=CSS,
        auth_message="Sign in with a RegQA API key as the password (any user name).",
        max_file_size=settings.max_upload_bytes, footer_links=[], show_error=False,
    )
