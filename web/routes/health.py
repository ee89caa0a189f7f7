"""Liveness, readiness and Prometheus metrics."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request, Response
from fastapi.responses import JSONResponse

from assistant.service import Assistant
from indexer.reader import IndexMissing
from web.auth import Role, require
from web.deps import get_assistant, get_metrics
from web.index_status import index_state
from web.observability import Metrics

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@router.get("/readyz", summary="The index is loaded and answers can be given",
            responses={503: {"description": "no index yet (`indexing` says how far a running indexer got)"}})
def readyz(assistant: Assistant = Depends(get_assistant)) -> JSONResponse:
    """`ready` with the whole index; `warming` while a first index is still storing its vectors
    (answers work, dense search covers `dense_coverage` of the passages); 503 before that."""
    state = index_state(assistant)
    if state.status == "not ready":
        return JSONResponse({"status": state.status, "reason": state.reason, "indexing": state.indexing},
                            status_code=503)
    return JSONResponse({"status": state.status, "dense_coverage": state.dense_coverage,
                         "documents": state.documents, "chunks": state.chunks, "generation": state.generation,
                         "indexing": state.indexing})


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
