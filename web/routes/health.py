"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from assistant.service import Assistant
from indexer.reader import IndexMissing
from web.auth import Role, require
from web.deps import get_assistant, get_metrics
from web.observability import Metrics

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The index is loaded and answers can be given",
            responses={503: {"description": "no index yet"}})
def readyz(assistant: Assistant = Depends(get_assistant)) -> JSONResponse:
    try:
        snapshot = assistant.reader.snapshot()
    except IndexMissing as exc:
        return JSONResponse({"status": "not ready", "reason": str(exc)}, status_code=503)
    return JSONResponse({"status": "ready", "documents": len(snapshot.manifest.documents),
                         "chunks": len(snapshot.chunks), "generation": snapshot.manifest.generation})


@router.get("/metrics", summary="Prometheus metrics", response_class=Response,
            dependencies=[require(Role.read)])
def metrics(request: Request, assistant: Assistant = Depends(get_assistant),
            registry: Metrics = Depends(get_metrics)) -> Response:
    try:
        snapshot = assistant.reader.snapshot()
        registry.documents.set(len(snapshot.manifest.documents))
        registry.chunks.set(len(snapshot.chunks))
    except IndexMissing:
        pass
    return Response(registry.render(), media_type="text/plain; version=0.0.4")
