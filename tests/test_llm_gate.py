"""The gate for LLM mode: a model (a real OpenAI-protocol server on loopback) that writes true
sentences and near misses of them — negated, a number changed, the actor changed, a clause
appended — must have every near miss removed, and what remains must pass the eval's own
support check."""

from __future__ import annotations

import re

import pytest

from assistant.service import Assistant
from evals.calibrate import near_misses
from evals.dataset import load_dataset
from evals.gold import SourceTexts
from evals.runner import InProcess, run
from evals.support import Thresholds

from .conftest import CORPUS, PROJECT
from .openai_stub import OpenAIStub

pytestmark = pytest.mark.slow
SOURCE = re.compile(r"<<<SOURCE (\d+)\n(.*?)\nSOURCE \1>>>", re.S)
SENTENCE = re.compile(r"[A-Z][^.;:]{40,300}[.;]")


LIES: list[list[str]] = []  # the near misses of each reply, in call order


def deceitful_model(messages: list[dict]) -> str:
    """For the first source: its first full sentence, then each near miss of it, all cited."""
    sources = SOURCE.findall(messages[-1]["content"])
    for n, text in sources:
        match = SENTENCE.search(" ".join(text.split()))
        if match:
            true = match.group(0).rstrip(".;")
            lies = [lie.rstrip(".") for lie in near_misses(true).values()]
            LIES.append(lies)
            return " ".join([f"{true} [{n}]."] + [f"{lie} [{n}]." for lie in lies])
    LIES.append([])
    return "The sources do not answer this question."


def test_near_misses_are_removed_and_the_rest_is_supported(corpus_index, embedder) -> None:  # noqa: ANN001
    LIES.clear()
    questions = [q for q in load_dataset(PROJECT / "evals" / "datasets" / "dev.jsonl") if q.answerable][:15]
    with OpenAIStub(deceitful_model) as stub:
        settings = corpus_index.model_copy(update={"llm_base_url": stub.base_url, "llm_model": "stub",
                                                   "llm_timeout": 30.0})
        assistant = Assistant(settings, embedder=embedder)
        responses = []

        class Recording(InProcess):
            def answer(self, question: str, mode: str):  # noqa: ANN201
                response = super().answer(question, mode)
                responses.append(response)
                return response

        result = run(questions, Recording(assistant), embedder.encode, SourceTexts(CORPUS), mode="llm",
                     thresholds=Thresholds.load())
    assert not result.errors
    llm_answers = [r for r in responses if r.mode == "llm"]
    assert len(llm_answers) >= 10, "the stub model was not used"
    told = [lie for lies in LIES for lie in lies]
    assert len(told) > len(llm_answers)  # every reply lies at least once (the appended clause), most more
    for response in responses:
        for lie in told:
            assert lie not in response.answer, f"a near miss survived verification: {lie!r}"
    sentences = sum(s.sentences for s in result.scores)
    supported = sum(s.supported_sentences for s in result.scores)
    assert sentences and supported / sentences >= 0.98, [s.unsupported for s in result.scores if s.unsupported]
