"""The response record shared by the CLI, the API and the evals."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

Mode = Literal["extractive", "llm"]


class Turn(BaseModel):
    role: Literal["user", "assistant"]
    content: str


class Citation(BaseModel):
    """One numbered source: `quote` is an exact substring of the stored passage `chunk_id`."""

    n: int
    chunk_id: str
    doc_id: str
    cite_as: str
    section: str
    heading_path: str
    quote: str
    source_url: str
    page: int | None = None
    as_of: str
    completeness: str


class RetrievedRef(BaseModel):
    chunk_id: str
    doc_id: str
    section: str
    score: float
    exact_reference: bool = False


class AnswerResponse(BaseModel):
    question: str
    standalone_question: str
    answer: str = Field(description="Answer text with [n] citation markers.")
    citations: list[Citation] = Field(default_factory=list)
    abstained: bool = False
    abstain_reason: str | None = None
    unsupported_sentences: list[str] = Field(default_factory=list)
    notices: list[str] = Field(default_factory=list)
    retrieved: list[RetrievedRef] = Field(default_factory=list)
    mode: Mode = "extractive"
    timings_ms: dict[str, float] = Field(default_factory=dict)
