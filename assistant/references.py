"""Legal references named in a question (`ECCN 3A981`, `5A001.j`, `Article 5(2)`, `§ 744.11`,
`Supplement No. 4 to part 744`, `50 U.S.C. § 4812`, `EU001`, `Commitment 3`), the instrument the question names
for them ("… of 2021/821", "… of the Export Control Order"), and whether an indexed unit carries
them."""

from __future__ import annotations

import re
from dataclasses import dataclass

_PARAGRAPHS = r"((?:\s?\((?:\d{1,3}[a-z]?|[a-z]{1,5}|[A-Z])\))*)"
# A licence exception named by its code, in a question or in the texts ("License Exception TSU",
# "the ENC license exception"): the words in any case, the code in capitals as the EAR writes it.
LICENCE_EXCEPTION_CODE = re.compile(
    r"\b(?i:license\s+exceptions?)\s+([A-Z]{3})\b|\b([A-Z]{3})\s+(?i:license\s+exceptions?)\b")

_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("supplement", re.compile(r"\bSupp(?:lement|\.)?\s*(?:No\.?|number)?\s*(\d+)\s+to\s+(?:15\s+CFR\s+)?part\s+(\d{3})\b", re.I)),
    # The U.S. Code: "50 U.S.C. § 4812(a)(2)(F)", "50 USC 4812", and ECRA's own sections 4801-4852
    # named alone ("section 4812 of ECRA", "§ 4812").
    ("usc", re.compile(r"\b(\d{1,2})\s*U\.?\s?S\.?\s?C\.?\s*(?:§+\s*|sec(?:tion|\.)\s*)?(\d{3,5}[a-z]?)" + _PARAGRAPHS, re.I)),
    ("usc", re.compile(r"(?:§+|\bsec(?:tion|\.))\s*(48[0-5]\d)(?![\d.])" + _PARAGRAPHS, re.I)),
    # "paragraph (c)(3) of § 740.22" names § 740.22(c)(3), as the EAR cross-refers.
    ("cfr", re.compile(r"\bparagraphs?\s+((?:\([a-zA-Z0-9]{1,4}\))+)\s+of\s+(?:§+|sec(?:tion|\.)|15\s+CFR)\s*"
                       r"(\d{3}\.\d{1,3}[a-z]?)\b", re.I)),
    ("cfr", re.compile(r"(?:§+|\bsec(?:tion|\.)|\b15\s+CFR)\s*(\d{3}\.\d{1,3}[a-z]?)((?:\([a-zA-Z0-9]{1,4}\))*)", re.I)),
    ("article", re.compile(r"\bArt(?:icle|\.)?\s*(\d{1,3}[a-z]?)" + _PARAGRAPHS, re.I)),
    ("recital", re.compile(r"\bRecital\s*\(?(\d{1,3})\)?", re.I)),
    # The ECHRI Code of Conduct's units ("Commitment 3"); capitalised, as a label is written.
    ("commitment", re.compile(r"\bCommitment\s+(\d{1,2})\b")),
    ("authorisation", re.compile(r"\bEU\s?(0\d{2})\b")),
    ("wassenaar", re.compile(r"\b(\d{1,2})\.\s?([A-E])\.\s?(\d{1,3})((?:\.\s?[a-z0-9]{1,2}(?![\w]))*)\.?(?![\w])")),
    ("control_code", re.compile(r"\bECCN\s*(\d[A-Za-z]\d{3})((?:\.[a-z0-9]{1,3})*)\b")),
    ("control_code", re.compile(r"\b(\d[A-Ea-e]\d{3})((?:\.[a-z0-9]{1,3})*)\b")),
    ("munitions", re.compile(r"\bML\s?(\d{1,2})\b")),
    # A licence exception by its code ("License Exception TSU", "the ENC license exception"): the
    # EAR names § 740.13 so; the retriever maps the code to the section whose heading defines it.
    ("heading_code", LICENCE_EXCEPTION_CODE),
]

# Instruments a question may name, as the start of their documents' `cite_as`.
EU_REGULATION = "Regulation (EU) 2021/821"
UK_ORDER = "Export Control Order 2008"
US_CODE_50 = "50 U.S.C."
EAR = "15 CFR"
_INSTRUMENTS: list[tuple[str, re.Pattern[str]]] = [
    (EU_REGULATION, re.compile(r"\b2021/821\b|\bdual[- ]use\s+reg(?:ulation\b|\.|\b)(?!\s+2008)", re.I)),
    (UK_ORDER, re.compile(r"\bExport\s+Control\s+Order\b|\bECO\s*2008\b|\bUK\s+Order\b|\b2008/3231\b", re.I)),
    (US_CODE_50, re.compile(r"\bECRA\b|\bExport\s+Control\s+Reform\s+Act\b|\b50\s*U\.?\s?S\.?\s?C\b", re.I)),
    (EAR, re.compile(r"\bEAR\b|\bExport\s+Administration\s+Regulations\b|\b15\s*C\.?F\.?R\b", re.I)),
]
# "Article 6 of the Export Control Order": the instrument right after a reference is its own.
_OF = re.compile(r"^[\s,]*(?:of|in|under|from)\s+(?:the\s+)?", re.I)
_INHERENT = {"usc": US_CODE_50, "cfr": EAR, "supplement": EAR, "authorisation": EU_REGULATION, "heading_code": EAR}


@dataclass(frozen=True)
class Reference:
    kind: str
    label: str  # normalised, comparable with normalise(section)
    display: str = ""  # as a reader writes it: "ECCN 9Z999", "Article 97", "§ 742.99"
    # The instrument the question names for it, as the start of a document's cite_as
    # ("Regulation (EU) 2021/821", "Export Control Order 2008"); "" when it names none.
    instrument: str = ""
    # True when the instrument is named right after the reference ("Article 38 of the EU dual-use
    # regulation") or is the only one its kind can belong to (`§ 742.7`: the EAR); False when it
    # is only the one instrument the question mentions somewhere.
    explicit: bool = False
    # "Note 2 to 4.D.4", "5A004.b Note 2": the numbered Note of the entry the question names.
    note: int | None = None


def normalise(section: str) -> str:
    """Comparable form of a label: no `ECCN`/`§` prefix, no spaces, lower case."""
    text = section.strip().lower()
    text = re.sub(r"^eccn\s+", "", text)
    text = re.sub(r"^§+\s*", "§", text)
    text = text.replace("art. ", "article ")
    text = re.sub(r"\s+", " ", text)
    text = re.sub(r"(?<=[\d)]) (?=\()", "", text)
    return text.rstrip(".")


def find_references(question: str) -> list[Reference]:
    found: list[Reference] = []
    taken: list[tuple[int, int]] = []
    mentioned = instruments_named(question)
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(question):
            span = match.span()
            if any(a < span[1] and span[0] < b for a, b in taken):
                continue
            label = _label(kind, match)
            if label:
                taken.append(span)
                shown = {"control_code": f"ECCN {label}", "heading_code": f"License Exception {label}"}.get(kind, label)
                named = _instrument_after(question, span[1]) or _INHERENT.get(kind, "")
                instrument = named or (mentioned[0] if len(mentioned) == 1 else "")
                note = _note_named(question, span) if kind in ("control_code", "wassenaar") else None
                if note is not None:
                    shown = f"Note {note} to {shown}"
                ref = Reference(kind, normalise(label), shown, instrument, explicit=bool(named), note=note)
                if all(r.label != ref.label or r.instrument != ref.instrument for r in found):
                    found.append(ref)
    return found


_NOTE_BEFORE = re.compile(r"\bNote\s+(\d{1,2})\s+(?:to|of|in|under)\s+(?:the\s+)?(?:ECCN\s+|entry\s+)?$", re.I)
_NOTE_AFTER = re.compile(r"^\.?,?\s*(?:its\s+)?Note\s+(\d{1,2})\b", re.I)


def _note_named(question: str, span: tuple[int, int]) -> int | None:
    """The number of the Note a question names beside a list entry ("Note 2 to 4.D.4"), if any."""
    found = _NOTE_BEFORE.search(question[max(0, span[0] - 40) : span[0]]) or _NOTE_AFTER.match(question[span[1] :])
    return int(found.group(1)) if found else None


def names_instrument(reference: Reference, cite_as: str) -> bool:
    """Does a document cited as `cite_as` belong to the instrument the question names? (Article
    4(1) of the Export Control Order is not Article 4(1) of Regulation 2021/821.)"""
    return not reference.instrument or cite_as.startswith(reference.instrument)


def instruments_named(question: str) -> list[str]:
    """The instruments a question names anywhere, as the start of their documents' cite_as."""
    return [name for name, pattern in _INSTRUMENTS if pattern.search(question)]


def _instrument_after(question: str, end: int) -> str:
    rest = question[end : end + 80]
    lead = _OF.match(rest)
    if not lead:
        return ""
    rest = rest[lead.end():]
    for name, pattern in _INSTRUMENTS:
        match = pattern.search(rest)
        if match and match.start() <= 25:  # "of the EU dual-use Regulation", "of Regulation (EU) 2021/821"
            return name
    return ""


def _label(kind: str, match: re.Match[str]) -> str | None:
    g = match.groups()
    if kind == "supplement":
        return f"Supplement No. {g[0]} to Part {g[1]}"
    if kind == "usc":
        title, section, paragraphs = (g[0], g[1], g[2]) if len(g) == 3 else ("50", g[0], g[1])
        return f"{title} U.S.C. § {section}" + re.sub(r"\s+", "", paragraphs or "")
    if kind == "cfr":
        section, paragraphs = (g[1], g[0]) if g[0].startswith("(") else (g[0], g[1])
        return f"§ {section}{paragraphs or ''}"
    if kind == "article":
        return f"Article {g[0]}" + re.sub(r"\s+", "", g[1] or "")
    if kind == "recital":
        return f"Recital ({g[0]})"
    if kind == "commitment":
        return f"Commitment {g[0]}"
    if kind == "authorisation":
        return f"EU{g[0]}"
    if kind == "wassenaar":
        return f"{g[0]}.{g[1]}.{g[2]}" + re.sub(r"\s+", "", g[3] or "")
    if kind == "control_code":
        return g[0][0] + g[0][1].upper() + g[0][2:] + (g[1] or "")
    if kind == "munitions":
        return f"ML{g[0]}"
    if kind == "heading_code":
        return g[0] or g[1]
    return None


def relation(unit: str, reference: Reference) -> int | None:
    """How a unit (its normalised label) stands to a reference: 0 it is the reference, 1 a
    sub-unit of it (Article 5(2) for Article 5), 2 the unit containing it (ECCN 5A001 for
    5A001.j); None: unrelated (Article 50 for Article 5)."""
    ref = reference.label
    if unit == ref:
        return 0
    if unit.startswith(ref) and unit[len(ref)] in "(.":
        return 1
    if ref.startswith(unit) and ref[len(unit)] in "(." and reference.kind != "article":
        return 2
    return None
