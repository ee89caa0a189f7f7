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
    unit: str = ""  # the citable unit the passage belongs to (`§ 772.1 “Intrusion software”`, `Article 5`)
    unit_title: str = ""  # the unit's own words: a heading's title, a defined term
    # Where the quote stands in the stored document text (character offsets), so a reader or an
    # evaluator can find it in the source file without searching.
    start: int | None = None
    end: int | None = None
    # Set on a lead-in quoted only to introduce another quote (a list's "as follows:"), or on the
    # words that close the list after it ("… shall not— (a) export …; or … unless …"): the number
    # of the citation whose sentence it completes. It makes no claim of its own.
    introduces: int | None = None


class RetrievedRef(BaseModel):
    chunk_id: str
    doc_id: str
    section: str
    score: float
    exact_reference: bool = False
    unit: str = ""
    start: int | None = None  # the passage's character offsets in the stored document text
    end: int | None = None


class AnswerResponse(BaseModel):
    question: str
    standalone_question: str
    answer: str = Field(description="Answer text with [n] citation markers.")
    citations: list[Citation] = Field(default_factory=list)
    abstained: bool = False
    abstain_reason: str | None = None
    abstain_kind: Literal["out-of-scope", "out-of-corpus", "false-premise"] | None = Field(
        default=None, description="Why the corpus does not answer: not export control; export control the "
        "bundled texts do not hold; or a named article, section or entry that does not exist.")
    unsupported_sentences: list[str] = Field(default_factory=list)
    notices: list[str] = Field(default_factory=list)
    retrieved: list[RetrievedRef] = Field(default_factory=list)
    mode: Mode = "extractive"
    signals: list[str] = Field(default_factory=list, description="The retrieval signals this answer used: "
                               "`exact reference`, `keywords`, `titles`, `dense`.")
    dense_coverage: float = Field(default=1.0, description="Share of passages dense search could find: "
                                  "below 1 while a first index is still warming up (keywords and titles "
                                  "answer from the start, dense vectors arrive as they are embedded).")
    timings_ms: dict[str, float] = Field(default_factory=dict)
