"""Request and response bodies of the answer API (the answer itself is assistant.records)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.records import Turn
from indexer.reader import Filters


class FilterSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    jurisdictions: list[str] | None = Field(default=None, max_length=20, examples=[["EU", "US"]])
    doc_types: list[str] | None = Field(default=None, max_length=20, examples=[["regulation"]])
    doc_ids: list[str] | None = Field(default=None, max_length=200)

    def to_filters(self) -> Filters:
        return Filters.of(self.jurisdictions, self.doc_types, self.doc_ids)


class AnswerRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, examples=[
        "Does exporting facial recognition cameras to a public security bureau in China need a licence?"])
    history: list[Turn] = Field(default_factory=list, description="Earlier turns, oldest first.")
    filters: FilterSpec | None = None
    top_k: int | None = Field(default=None, ge=1, le=50)
    mode: Literal["extractive", "llm"] | None = None


class SearchRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, examples=["intrusion software"])
    filters: FilterSpec | None = None
    top_k: int = Field(default=10, ge=1, le=50)


class ScreenRequest(BaseModel):
    """A party name to screen against the imported restricted-party list."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=300, examples=["Urumqi Public Security Bureau"],
                      description="Company, authority or person; word order, spacing, accents and corporate "
                                  "forms do not matter.")
    country: str | None = Field(default=None, pattern=r"^[A-Za-z]{2}$", examples=["CN"],
                                description="ISO-2 code: only entries with an address there (or none on file).")
    threshold: float | None = Field(default=None, ge=0, le=100,
                                    description="Lowest score reported (default REGQA_SCREENING_THRESHOLD, 85).")

    @field_validator("name")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("the name is blank")
        return value


class PassageInfo(BaseModel):
    chunk_id: str
    doc_id: str
    cite_as: str
    section: str
    heading_path: str
    text: str
    page: int | None
    start: int
    end: int
    jurisdiction: str
    doc_type: str
    as_of: str
    source_url: str
    completeness: str


class SearchHit(BaseModel):
    rank: int
    score: float
    similarity: float | None
    exact_reference: bool
    passage: PassageInfo


class SearchResponse(BaseModel):
    query: str
    hits: list[SearchHit]


class DocumentInfo(BaseModel):
    id: str
    title: str
    cite_as: str
    doc_type: str
    jurisdiction: str
    authority: str
    source_url: str
    obtained_from: str
    as_of: str
    license: str
    completeness: str
    completeness_detail: str
    chunks: int
    indexed_at: str


class PassageResponse(BaseModel):
    passage: PassageInfo
    neighbours: list[PassageInfo]
    document: DocumentInfo


class UploadResponse(BaseModel):
    document_ids: list[str]
    added: list[str]
    updated: list[str]
    chunks: int
    chunks_embedded: int
    seconds: float


class ErrorBody(BaseModel):
    code: str
    message: str
    details: list[dict] | None = None


class ErrorResponse(BaseModel):
    error: ErrorBody
