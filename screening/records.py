"""The records screening hands to the CLI, the API and the determination engine.

A hit must carry what a compliance reviewer needs to act on it without opening the list: which
field matched (the name or which alias) and how well, the threshold, the list and its date, and
the entry's licence requirement, licence policy and Federal Register citation. A result also says
whether screening happened at all: "no list" and "list unreadable" are never "no match".
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

ScreeningStatus = Literal["screened", "no-list", "unreadable"]

REMINDER = (
    "Name screening compares names only. It does not see ownership or control: an entity owned 50 % "
    "or more by blocked persons is blocked under OFAC's 50 % rule without being named on any list, "
    "and listed parties' subsidiaries, affiliates and addresses need their own checks. A hit is a lead "
    "to review, not a determination; no hit is not a clearance."
)


class Address(BaseModel):
    """One address; `country` is the ISO-2 code (the CSV carries it as the last comma part)."""

    address: str = ""
    city: str = ""
    state: str = ""
    postal_code: str = ""
    country: str = ""

    @property
    def text(self) -> str:
        return ", ".join(p for p in (self.address, self.city, self.state, self.postal_code, self.country) if p)


class ListEntry(BaseModel):
    """One party on the list, in the published column names (multi-valued cells as lists)."""

    id: str = ""
    source: str
    entity_number: str = ""
    type: str = ""
    programs: list[str] = Field(default_factory=list)
    name: str
    title: str = ""
    alt_names: list[str] = Field(default_factory=list)
    addresses: list[Address] = Field(default_factory=list)
    federal_register_notice: str = ""
    start_date: str = ""
    end_date: str = ""
    standard_order: str = ""
    license_requirement: str = ""
    license_policy: str = ""
    remarks: str = ""
    source_list_url: str = ""
    source_information_url: str = ""
    citizenships: list[str] = Field(default_factory=list)
    nationalities: list[str] = Field(default_factory=list)
    dates_of_birth: list[str] = Field(default_factory=list)
    places_of_birth: list[str] = Field(default_factory=list)
    ids: list[str] = Field(default_factory=list)
    # call_sign, vessel_type, gross_tonnage, ...: kept, shown only in the full record
    vessel: dict[str, str] = Field(default_factory=dict)

    @property
    def countries(self) -> set[str]:
        return {a.country for a in self.addresses if a.country}


class SourceInfo(BaseModel):
    """One list inside the file and its date, as the JSON's `sources_used` gives it."""

    source: str
    source_last_updated: str | None = None
    last_imported: str | None = None
    import_rate: str | None = None
    entries: int | None = Field(default=None, description="Entries of this source in the imported file.")


class ListInfo(BaseModel):
    """Where the stored list came from; the CSV has no dates, so the file's hash and import time stand in."""

    file_name: str
    sha256: str
    format: Literal["csv", "tsv", "json"]
    imported_at: str = Field(description="UTC, ISO 8601.")
    entries: int
    sources_used: list[SourceInfo]
    source_url: str | None = Field(default=None, description="Set when `regqa lists update` downloaded it.")


class ImportSummary(BaseModel):
    """What `import_file` stored."""

    list_info: ListInfo
    stored_at: str
    replaced_sha256: str | None = Field(default=None, description="The previous import's hash, if any.")


class ScreeningHit(BaseModel):
    """One listed party whose name or an alias scored at or above the threshold."""

    entry: ListEntry
    matched_field: str = Field(description='"name" or "alt_names[i]" (0-based, as in entry.alt_names).')
    matched_text: str
    score: float = Field(ge=0, le=100)
    threshold: float
    source_last_updated: str | None = Field(default=None, description="The entry's source list's date, if known.")


class ScreeningResult(BaseModel):
    """The answer to one screening question; read `status` before `hits`."""

    query: str
    country: str | None = None
    status: ScreeningStatus
    message: str
    threshold: float
    hits: list[ScreeningHit] = Field(default_factory=list, description="Best score first.")
    list_info: ListInfo | None = None
    reminder: str = REMINDER

    @property
    def screened(self) -> bool:
        return self.status == "screened"
