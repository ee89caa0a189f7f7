"""The gold-set format: JSON Lines, one question per line.

Gold is given by evidence, not by label: every gold item of an answerable question carries
`evidence`, a verbatim string of the source file that answers it. A citation or a retrieved
passage counts only where its characters overlap that evidence (see `evals/gold.py`), so the
score cannot be earned by quoting another paragraph of a large section, and it survives a
change of labelling or chunking.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, ValidationError, model_validator

QuestionType = Literal["licence", "definition", "list-lookup", "cross-jurisdiction", "procedure",
                       "false-premise", "out-of-scope", "out-of-corpus"]
ANSWERABLE_TYPES = ("licence", "definition", "list-lookup", "cross-jurisdiction", "procedure")
# The three kinds of "no": not export control; export control the bundled texts do not hold;
# a named article, section or entry that does not exist.
UNANSWERABLE_TYPES = ("out-of-scope", "out-of-corpus", "false-premise")


class GoldCitation(BaseModel):
    doc: str
    section: str  # the unit's label, for people reading reports; matching uses `evidence`
    evidence: str = Field(min_length=20)


class EvalQuestion(BaseModel):
    id: str
    question: str = Field(min_length=1)
    answerable: bool
    gold: list[GoldCitation] = Field(default_factory=list)
    must_mention: list[str] = Field(default_factory=list)
    type: QuestionType
    jurisdiction: str = ""
    missing: str = ""  # for out-of-corpus questions: what the bundled texts lack

    @model_validator(mode="after")
    def _consistent(self) -> EvalQuestion:
        if self.answerable != (self.type in ANSWERABLE_TYPES):
            raise ValueError(f"type {self.type!r} does not match answerable={self.answerable}")
        if self.answerable and not self.gold:
            raise ValueError("an answerable question needs at least one gold citation")
        if not self.answerable and self.gold:
            raise ValueError("an unanswerable question has no gold citations")
        return self


class DatasetError(ValueError):
    pass


def load_dataset(path: Path) -> list[EvalQuestion]:
    questions: list[EvalQuestion] = []
    seen: set[str] = set()
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip():
            continue
        try:
            question = EvalQuestion.model_validate(json.loads(line))
        except (json.JSONDecodeError, ValidationError) as exc:
            raise DatasetError(f"{path}:{number}: {exc}") from None
        if question.id in seen:
            raise DatasetError(f"{path}:{number}: duplicate id {question.id!r}")
        seen.add(question.id)
        questions.append(question)
    if not questions:
        raise DatasetError(f"{path} has no questions")
    return questions
