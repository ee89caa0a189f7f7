"""The facts a licence determination turns on: item, destination, end user, end use.

Validated here once, so the engine, the CLI and the API share one set of rules and hostile
input (empty fields, 10 kB descriptions, unknown countries) fails with a clear message before
any search runs. Countries are resolved with pycountry (ISO 3166), not a hand-kept table.
"""

from __future__ import annotations

import re
from enum import Enum

import pycountry
from pydantic import BaseModel, Field, ValidationError, field_validator

MAX_TEXT = 2000
_CODE = re.compile(r"^(?:ECCN\s*)?(\d[A-E]\d{3}(?:\.[a-z0-9]+)*)$|^(\d\.[A-E]\.\d{1,3}(?:\.[a-z0-9]+)*)$", re.I)
# Names people use that ISO 3166 does not ("UK", "Russia" is found by fuzzy search).
_ALIASES = {"uk": "GB", "britain": "GB", "great britain": "GB", "england": "GB", "usa": "US",
            "america": "US", "united states of america": "US", "south korea": "KR", "north korea": "KP",
            "russia": "RU", "turkey": "TR", "iran": "IR", "syria": "SY", "venezuela": "VE",
            "burma": "MM", "vietnam": "VN", "taiwan": "TW", "prc": "CN", "mainland china": "CN", "laos": "LA",
            "ivory coast": "CI", "czech republic": "CZ", "holland": "NL", "moldova": "MD", "bolivia": "BO",
            "tanzania": "TZ", "uae": "AE", "emirates": "AE"}
# Names that stand for more than one country: asked back, never guessed.
_AMBIGUOUS = {"korea": "South Korea (KR) or North Korea (KP)", "congo": "the Republic of the Congo (CG) or the "
              "Democratic Republic of the Congo (CD)", "guinea": "Guinea (GN), Guinea-Bissau (GW) or Equatorial "
              "Guinea (GQ)"}


class EndUserType(str, Enum):
    government = "government"
    police = "police"  # police, public security, law enforcement
    military = "military"
    telecom = "telecom"  # telecommunications operators and internet service providers
    company = "company"
    individual = "individual"


class Country(BaseModel):
    code: str  # ISO 3166-1 alpha-2
    name: str  # as the bundled texts write it where they list countries ("China", "Russia")
    official: str


def country(value: str) -> Country:
    """A country from its ISO code or name; ValueError (with the value) when unknown."""
    text = " ".join(value.split()).strip().rstrip(".")
    if not text:
        raise ValueError("the destination is empty")
    key = text.lower().removeprefix("the ")
    if key in _AMBIGUOUS:
        raise ValueError(f"{value!r} is ambiguous: say {_AMBIGUOUS[key]}")
    found = None
    if key in _ALIASES:
        found = pycountry.countries.get(alpha_2=_ALIASES[key])
    if found is None:
        # Exact codes and names only (official, common, ISO short): a fuzzy match would turn a
        # typo or "Korea" into some country, and the destination decides licence requirements.
        try:
            found = pycountry.countries.lookup(key)
        except LookupError:
            found = None
    if found is None:
        raise ValueError(f"unknown country {value!r}: give an ISO 3166 code (e.g. CN) or an English name")
    name = getattr(found, "common_name", None) or found.name
    short = {"RU": "Russia", "KR": "South Korea", "IR": "Iran", "SY": "Syria", "VE": "Venezuela", "TW": "Taiwan",
             "VN": "Vietnam", "GB": "United Kingdom", "US": "United States", "MM": "Burma"}.get(found.alpha_2, name)
    return Country(code=found.alpha_2, name=short, official=found.name)


class Facts(BaseModel):
    """What the user says about the export. Only `item` is required; a missing fact makes the
    steps that turn on it say so instead of guessing."""

    item: str = Field(min_length=3, max_length=MAX_TEXT, description="What is exported, in words.")
    codes: list[str] = Field(default_factory=list, max_length=5,
                             description="Known classifications: an Annex I entry (5A001.j), an ECCN "
                             "(3A981) or a Wassenaar entry (5.A.1.j).")
    destination: str | None = Field(default=None, max_length=100,
                                    description="Country of destination: ISO code (CN) or English name.")
    origin: str | None = Field(default=None, max_length=100,
                               description="Country the export leaves from (ISO code or name): GB adds the UK Order's "
                               "steps in place of the EU's; US leaves the EAR alone.")
    end_user: str | None = Field(default=None, max_length=300, description="The end user's name, for screening.")
    end_user_type: EndUserType | None = None
    end_use: str | None = Field(default=None, max_length=MAX_TEXT, description="What the end user will do with it.")

    @field_validator("item", "end_user", "end_use")
    @classmethod
    def _clean(cls, value: str | None) -> str | None:
        if value is None:
            return None
        cleaned = " ".join(value.split())
        if not cleaned:
            raise ValueError("must not be blank")
        return cleaned

    @field_validator("codes")
    @classmethod
    def _codes(cls, values: list[str]) -> list[str]:
        result = []
        for value in values:
            match = _CODE.match(value.strip())
            if not match:
                raise ValueError(f"{value!r} is not an Annex I entry, ECCN or Wassenaar entry (e.g. 5A001.j, "
                                 "3A981, 5.A.1.j)")
            if match.group(1):  # 5a001.J -> 5A001.j
                result.append(match.group(1)[:5].upper() + match.group(1)[5:].lower())
            else:  # 5.a.1.J -> 5.A.1.j
                head, _, rest = match.group(2).partition(".")
                letter, _, tail = rest.partition(".")
                result.append(f"{head}.{letter.upper()}.{tail.lower()}")
        return result

    @field_validator("destination", "origin")
    @classmethod
    def _country_code(cls, value: str | None) -> str | None:
        return None if value is None else country(value).code

    @property
    def country(self) -> Country | None:
        return country(self.destination) if self.destination else None


_END_USER_WORDS: tuple[tuple[EndUserType, re.Pattern[str]], ...] = (
    (EndUserType.police, re.compile(r"\b(police|public security|law enforcement|security bureau|gendarmerie|"
                                    r"prison|penal|border guard|interior ministry|ministry of (?:the )?interior)\b", re.I)),
    (EndUserType.military, re.compile(r"\b(military|army|armed forces|navy|air force|defen[cs]e ministry|"
                                      r"ministry of defen[cs]e|intelligence service)\b", re.I)),
    (EndUserType.telecom, re.compile(r"\b(telecom\w*|network operator|mobile operator|carrier|internet service "
                                     r"provider|isp)\b", re.I)),
    (EndUserType.government, re.compile(r"\b(government|ministry|municipal|agency|authority|state-owned)\b", re.I)),
    (EndUserType.individual, re.compile(r"\b(individual|private person|consumer)\b", re.I)),
    (EndUserType.company, re.compile(r"\b(company|distributor|reseller|firm|corporation|integrator)\b", re.I)),
)


def describe_errors(exc: ValidationError) -> str:
    """Invalid facts in one readable line ("destination: unknown country 'Atlantis': …"), for the
    CLI and the chat form alike."""
    return "; ".join(f"{'.'.join(str(x) for x in e['loc'])}: {e['msg'].removeprefix('Value error, ')}"
                     for e in exc.errors())


def end_user_type_of(text: str) -> EndUserType | None:
    """The kind of end user a description names ("a municipal public security bureau" → police)."""
    for kind, pattern in _END_USER_WORDS:
        if pattern.search(text):
            return kind
    return None
