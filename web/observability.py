"""Prometheus metrics kept per app (no process-global registry), and request-size limits."""

from __future__ import annotations

import time

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from web.errors import error


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("regqa_http_requests_total", "HTTP requests", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("regqa_http_request_seconds", "HTTP request latency", ["route"],
                                 registry=self.registry)
        self.stage = Histogram("regqa_answer_stage_seconds", "Time per answer stage", ["stage"],
                               buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
                               registry=self.registry)
        self.documents = Gauge("regqa_index_documents", "Documents in the index", registry=self.registry)
        self.chunks = Gauge("regqa_index_chunks", "Chunks in the index", registry=self.registry)

    def observe_stages(self, timings_ms: dict[str, float]) -> None:
        for stage, ms in timings_ms.items():
            self.stage.labels(stage).observe(ms / 1000)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class RequestGuard:
    """Counts requests, and refuses bodies over the limit before they are read in full."""

    def __init__(self, app: ASGIApp, metrics: Metrics, max_body: int, max_upload: int) -> None:
        self.app = app
        self.metrics = metrics
        self.max_body = max_body
        self.max_upload = max_upload

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope["path"]
        limit = self.max_upload if path.rstrip("/") == "/v1/documents" else self.max_body
        if not path.startswith("/v1/"):
            limit = max(limit, self.max_upload)  # the chat UI's own uploads and assets
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            await error(413, f"request body over the limit of {limit:,} bytes")(scope, receive, send)
            self._count(scope, 413, 0.0)
            return
        received = 0
        status = {"code": 500}
        started = time.perf_counter()

        async def limited_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:  # the app's exception handling turns this into a JSON 413
                    raise HTTPException(413, f"request body over the limit of {limit:,} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, limited_receive, tracking_send)
        self._count(scope, status["code"], time.perf_counter() - started)

    def _count(self, scope: Scope, status: int, seconds: float) -> None:
        route = scope.get("route")
        name = getattr(route, "path", None) or ("/v1/*" if scope["path"].startswith("/v1/") else "/ui")
        self.metrics.requests.labels(scope["method"], name, str(status)).inc()
        self.metrics.latency.labels(name).observe(seconds)
