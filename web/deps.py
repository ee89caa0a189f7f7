"""Shared request dependencies: the app's assistant, indexer and metrics."""

from __future__ import annotations

from fastapi import Request

from assistant.service import Assistant
from indexer.records import Chunk
from screening import ScreeningStore
from web.observability import Metrics
from web.schemas import PassageInfo


def get_assistant(request: Request) -> Assistant:
    return request.app.state.assistant


def get_screening(request: Request) -> ScreeningStore:
    return request.app.state.screening


def get_metrics(request: Request) -> Metrics:
    return request.app.state.metrics


def passage_info(chunk: Chunk) -> PassageInfo:
    return PassageInfo(**chunk.model_dump(include=set(PassageInfo.model_fields)))
