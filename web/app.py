"""The ASGI app: answer API under /v1, docs at /docs, the chat UI at /."""

from __future__ import annotations

import gradio as gr
from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.service import Assistant
from web import errors
from web.auth import KeyRing
from web.observability import Metrics, RequestGuard
from web.routes import answer, documents, health, search
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


def create_app(settings: Settings | None = None, *, assistant: Assistant | None = None) -> FastAPI:
    settings = settings or Settings()
    keyring = KeyRing.parse(settings.api_keys.get_secret_value() if settings.api_keys else None)
    assistant = assistant or Assistant(settings)
    metrics = Metrics()
    app = FastAPI(title="RegQA answer API", version="0.1.0", description=DESCRIPTION, docs_url="/docs",
                  redoc_url=None, openapi_url="/openapi.json")
    app.state.settings, app.state.assistant, app.state.keyring, app.state.metrics = (
        settings, assistant, keyring, metrics)
    errors.install(app)
    for router in (answer.router, search.router, documents.router, health.router):
        app.include_router(router)
    if settings.cors_origins:
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
