"""The determination record shared by the engine, the CLI, the API and the chat."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from assistant.records import Citation
from determination.facts import Facts

Outcome = Literal["licence required", "licence may be required", "no licence required on the bundled texts",
                  "cannot determine — source not bundled", "cannot determine — fact missing", "not applicable"]


class Step(BaseModel):
    """One question of the decision path, what the bundled texts and the facts say, and the
    citations that carry it (each a verified quote, numbered across the whole determination)."""

    key: str  # stable name: "eu.classification", "us.crime-control", ...
    question: str
    finding: str
    outcome: Outcome
    depends_on: str | None = Field(default=None, description="For 'licence may be required': the fact it turns on.")
    citations: list[int] = Field(default_factory=list, description="Numbers into Determination.citations.")
    candidates: list[str] = Field(default_factory=list, description="Control-list entries considered, best first.")


class Jurisdiction(BaseModel):
    name: Literal["EU", "UK", "US"]
    instrument: str
    steps: list[Step]
    summary: Outcome  # the strongest outcome of its steps


class ScreeningSummary(BaseModel):
    status: Literal["screened", "no-list", "unreadable", "no-name", "refused"]
    detail: str
    hits: list[dict] = Field(default_factory=list)


class Determination(BaseModel):
    facts: Facts
    jurisdictions: list[Jurisdiction]
    citations: list[Citation]
    screening: ScreeningSummary
    not_covered: list[str] = Field(description="What the bundled texts cannot decide for this export.")
    notices: list[str] = Field(default_factory=list)
