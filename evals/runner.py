"""Run a gold set through the assistant, in-process or against a running server's API."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
import numpy as np

from assistant.records import AnswerResponse, Mode
from evals.dataset import EvalQuestion
from evals.gold import SourceTexts
from evals.metrics import QuestionScore, score_error, score_question
from evals.support import Thresholds

if TYPE_CHECKING:
    from assistant.service import Assistant


class Backend:
    """Where answers come from; also resolves passages for the quote check."""

    def answer(self, question: str, mode: Mode) -> AnswerResponse:
        raise NotImplementedError

    def passage(self, chunk_id: str) -> str | None:
        raise NotImplementedError


class InProcess(Backend):
    def __init__(self, assistant: Assistant) -> None:
        self.assistant = assistant
        self.embedder = assistant.embed.embedder

    def answer(self, question: str, mode: Mode) -> AnswerResponse:
        return self.assistant.ask(question, mode=mode)

    def passage(self, chunk_id: str) -> str | None:
        chunk = self.assistant.reader.snapshot().by_id.get(chunk_id)
        return chunk.text if chunk else None


class OverHTTP(Backend):
    """A RegQA server: POST /v1/answer, GET /v1/passages/{id}."""

    def __init__(self, base_url: str, api_key: str | None = None, timeout: float = 120.0) -> None:
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self.client = httpx.Client(base_url=base_url.rstrip("/"), headers=headers, timeout=timeout)

    def answer(self, question: str, mode: Mode) -> AnswerResponse:
        response = self.client.post("/v1/answer", json={"question": question, "mode": mode})
        response.raise_for_status()
        return AnswerResponse.model_validate(response.json())

    def passage(self, chunk_id: str) -> str | None:
        response = self.client.get(f"/v1/passages/{chunk_id}")
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()["passage"]["text"]


@dataclass
class RunResult:
    scores: list[QuestionScore]
    seconds: float

    @property
    def errors(self) -> list[str]:
        return [f"{s.id}: {s.error}" for s in self.scores if s.error]


def run(questions: Sequence[EvalQuestion], backend: Backend, embed: Callable[[list[str]], np.ndarray],
        sources: SourceTexts, *, mode: Mode = "extractive", thresholds: Thresholds | None = None,
        on_progress: Callable[[QuestionScore], None] | None = None) -> RunResult:
    """Answer and score every question. A question that raises is scored as a failure (zero
    everywhere, a wrong decision) and the run reports it; it never passes as an abstention."""
    thresholds = thresholds or Thresholds.load()
    started = time.perf_counter()
    scores: list[QuestionScore] = []
    for q in questions:
        t = time.perf_counter()
        try:
            response = backend.answer(q.question, mode)
        except Exception as exc:  # noqa: BLE001 - a failed question is a result, not a crash
            score = score_error(q, f"{type(exc).__name__}: {exc}", (time.perf_counter() - t) * 1000)
        else:
            latency = (time.perf_counter() - t) * 1000  # wall clock, as a caller sees it
            score = score_question(q, response, latency, backend.passage, embed, thresholds, sources)
        scores.append(score)
        if on_progress:
            on_progress(score)
    return RunResult(scores, time.perf_counter() - started)
