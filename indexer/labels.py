"""Citable labels: which legal reference a heading, a paragraph marker or an inline item stands for.

The rules follow `corpus/README.md`: the label is the legal reference at the start of a
heading (`§ 742.7`, `ECCN 3A981`, `Article 5(1)`, `5A001.j`, `4.A.5`, `50 U.S.C. § 4812`,
`EU001`); paragraph markers inside a unit extend it (`§ 742.7(a)(1)`, `Article 4(1)(b)(ii)`,
`50 U.S.C. § 4812(a)(2)(F)`); the inline enumeration of an EU Annex I entry extends its code
(`5A001.j`, `5A001.f.1`); defined terms are units of their own (`§ 772.1` “Intrusion software”,
`Definition of "intrusion software"`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_ROMAN = re.compile(r"^(?=[ivxlc]+$)c{0,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})$")

# (kind, pattern). Order matters: the first match wins.
_RULES: list[tuple[str, re.Pattern[str]]] = [
    ("usc", re.compile(r"^(?P<t>\d{1,2})\s+U\.?\s?S\.?\s?C\.?\s*(?:§+\s*)?(?P<n>\d{3,5}[a-z]?)\b", re.I)),
    ("cfr", re.compile(r"^§+\s*(?P<n>\d+\.\d+[a-z]?)")),
    ("eccn", re.compile(r"^ECCN\s+(?P<n>\d[A-E]\d{3}(?:\.[A-Za-z0-9]+)*)", re.I)),
    (
        "article",
        re.compile(r"^(?:Article|Art\.)\s+(?P<n>\d+[a-z]?)(?P<p>(?:\s?\(\d+[a-z]?\))*(?:\s?\([a-z]\))*)", re.I),
    ),
    ("recital", re.compile(r"^Recital\s+\(?(?P<n>\d+)\)?", re.I)),
    ("supplement", re.compile(r"^Supplement\s+No\.?\s*(?P<n>\d+)\s+to\s+Part\s+(?P<p>\d+)", re.I)),
    ("annex", re.compile(r"^Annex\s+(?P<n>[IVXLC]+)\b(?!\w)", re.I)),
    ("authorisation", re.compile(r"^(?P<n>EU\d{3})\b")),
    ("control_code", re.compile(r"^(?P<n>\d[A-E]\d{3}(?:\.[A-Za-z0-9]+)*)(?=\.?(?:\s|$))")),
    (
        "wassenaar",
        re.compile(r"^(?P<n>\d{1,2}\.\s?[A-E]\.\s?\d{1,3}\.(?:\s{0,3}[a-z0-9]{1,2}\.)*)(?=\s|$)"),
    ),
    ("munitions", re.compile(r"^(?P<n>ML\d{1,2})\.(?=\s|$)")),
    ("commitment", re.compile(r"^Commitment\s+(?P<n>\d+)", re.I)),
    ("question", re.compile(r"^(?P<n>HL\d{3,}|UIN\s?\d+)\b")),
]


@dataclass(frozen=True)
class Label:
    kind: str
    text: str
    # The heading's own words after the reference ("Crime control and detection"); not part of
    # the label, so two headings with the same reference compare equal.
    title: str = field(default="", compare=False)


def heading_label(heading: str) -> Label:
    """The citable label of a heading; headings without a reference keep their own words."""
    text = heading.strip().lstrip("#").strip()
    for kind, pattern in _RULES:
        match = pattern.match(text)
        if not match:
            continue
        number = match.group("n")
        title = _title_after(text[match.end():])
        if kind == "usc":
            return Label(kind, f"{match.group('t')} U.S.C. § {number}", title)
        if kind == "cfr":
            return Label(kind, f"§ {number}", title)
        if kind == "eccn":
            return Label(kind, f"ECCN {number.upper()[:5]}{number[5:]}", title)
        if kind == "article":
            paragraphs = re.sub(r"\s+", "", match.group("p") or "")
            return Label(kind, f"Article {number}{paragraphs}", title)
        if kind == "recital":
            return Label(kind, f"Recital ({number})", title)
        if kind == "supplement":
            return Label(kind, f"Supplement No. {number} to Part {match.group('p')}", title)
        if kind == "annex":
            return Label(kind, f"Annex {number.upper()}", title)
        if kind == "wassenaar":
            return Label(kind, re.sub(r"\s+", "", number).rstrip("."), title)
        if kind == "commitment":
            return Label(kind, f"Commitment {number}", title)
        return Label(kind, number, title)
    parts = re.split(r"\s+—\s+", text, maxsplit=1)
    head = re.sub(r"\s*\([^()]*\)\s*$", "", parts[0]).strip().rstrip(".").strip()
    return Label("heading", head or text, _title_after(parts[1]) if len(parts) > 1 else "")


def _title_after(rest: str) -> str:
    """`§ 742.7 Crime control and detection.` -> `Crime control and detection`."""
    rest = re.sub(r"^[\s.:;,—–-]+", "", rest)
    return re.sub(r"\s*\((?:quoted|beginning only|[^()]*only)\)\s*$", "", rest).strip().rstrip(".").strip()


# --- paragraph markers inside a unit -------------------------------------------------------

_ONE_MARKER = r"\(\*?(?:[a-z]{1,5}|[A-Z]|[IVX]{2,5}|\d{1,3})\*?\)"  # (a) (1) (iv) (A) (IV) (*1*)
_MARKER = re.compile(r"\((\*?)([a-z]{1,5}|[A-Z]|[IVX]{2,5}|\d{1,3})(\*?)\)")  # the same, its parts grouped
_LEADING_MARKERS = re.compile(rf"^\s*((?:{_ONE_MARKER}){{1,4}})(?=\s|$)")
# Paragraph kinds. CFR nests (a) (1) (i) (A) (*1*) (*i*); the U.S. Code (a) (1) (A) (i) (I);
# EU and UK Articles 1. or (1), then (a), then (i).
LOWER, NUMBER, ROMAN, UPPER, ITALIC_NUMBER, ITALIC_ROMAN, UPPER_ROMAN = (
    "lower", "number", "roman", "upper", "italic_number", "italic_roman", "upper_roman")
CFR_SCHEME = (LOWER, NUMBER, ROMAN, UPPER, ITALIC_NUMBER, ITALIC_ROMAN)
USC_SCHEME = (LOWER, NUMBER, UPPER, ROMAN, UPPER_ROMAN)
ARTICLE_SCHEME = (NUMBER, LOWER, ROMAN, UPPER)
# Kept for callers that think in CFR levels.
LEVEL_LOWER, LEVEL_NUMBER, LEVEL_ROMAN, LEVEL_UPPER, LEVEL_ITALIC_NUMBER, LEVEL_ITALIC_ROMAN = range(6)


def is_roman(token: str) -> bool:
    return bool(token) and bool(_ROMAN.match(token))


# A CFR paragraph's first sub-paragraph may follow on the same line, after the paragraph's
# italic heading, a dash or only spaces: `(a) *General prohibitions.* (1) In addition to …`,
# `(d) *Entries*—(1) …`, `(c) —(1) …` and `(b)  (1) …` all open (x) and (x)(1) at once.
_HEADED_MARKERS = re.compile(rf"(?:\s+\*[^*\n]{{1,200}}\*[.:]?)?\s*(?:[-—–]+\s*)?((?:{_ONE_MARKER}){{1,3}})(?=\s|$)")


def leading_markers(paragraph: str) -> list[str]:
    """The paragraph markers a paragraph starts with, e.g. `(b)(1) Text` -> ['b', '1'] and
    `(a) *Scope.* (1) Text` -> ['a', '1']."""
    match = _LEADING_MARKERS.match(paragraph)
    if not match:
        return []
    groups = [match.group(1)]
    headed = _HEADED_MARKERS.match(paragraph, match.end())
    if headed:
        groups.append(headed.group(1))
    return [m.group(0)[1:-1] for group in groups for m in _MARKER.finditer(group)][:4]


def marker_kinds(marker: str) -> list[str]:
    """Kinds a marker may be, most likely first (`i` may be a letter or a numeral)."""
    italic = marker.startswith("*")
    core = marker.strip("*")
    if core.isdigit():
        return [ITALIC_NUMBER] if italic else [NUMBER]
    if italic:
        return [ITALIC_ROMAN] if is_roman(core) else []
    if core.isupper():
        if len(core) == 1:
            return [UPPER, UPPER_ROMAN] if is_roman(core.lower()) else [UPPER]
        return [UPPER_ROMAN] if is_roman(core.lower()) else []
    if len(core) == 1 and is_roman(core):
        return [LOWER, ROMAN]
    if is_roman(core):
        return [ROMAN]
    if len(core) == 1 or (len(core) == 2 and core[0] == core[1]):
        return [LOWER]  # (aa) follows (z) in long CFR lists
    return []


def marker_levels(marker: str, scheme: tuple[str, ...] = CFR_SCHEME) -> list[int]:
    """Depths a marker may stand at in a scheme, most likely first."""
    return [scheme.index(kind) for kind in marker_kinds(marker) if kind in scheme]


def format_markers(markers: list[str]) -> str:
    return "".join(f"({m.strip('*')})" for m in markers)


_LETTER_OF = {ROMAN: LOWER, UPPER_ROMAN: UPPER}


def choose_level(marker: str, stack: list[tuple[int, str]], following: str | None, floor: int,
                 scheme: tuple[str, ...] = CFR_SCHEME) -> int:
    """The depth of a marker given the open paragraphs (`stack` of (depth, marker)); -1: none.

    `(i)`, `(v)`, `(x)` (and `(I)` in the U.S. Code) are letters after `(h)`, `(u)`, `(w)` or
    numerals under the level above the numerals; when both fit, `(i)` followed by `(ii)` is a
    numeral. `following` is the next paragraph's first marker (the look-ahead)."""
    options = [lvl for lvl in marker_levels(marker, scheme) if lvl > floor]
    if not options:
        return -1
    if len(options) == 1:
        return options[0]
    letter_level, numeral_level = options[0], options[1]
    numeral_kind = scheme[numeral_level]
    letter_ok = any(lvl == letter_level and _is_next_letter(m, marker) for lvl, m in stack)
    parent = numeral_level - 1
    lower = marker.lower()
    roman_ok = any(lvl == parent for lvl, _ in stack) and (
        lower == "i" or any(lvl == numeral_level and _is_next_roman(m.lower(), lower) for lvl, m in stack))
    if letter_ok and roman_ok:
        if following is not None and lower == "i":
            # What comes next tells: `(ii)`, or the level under the numerals (`(A)` under `(i)` in
            # the CFR), not the one under the letters (`(1)` under `(i)`).
            below = marker_kinds(following)
            under_numeral = numeral_level + 1 < len(scheme) and scheme[numeral_level + 1] in below
            under_letter = letter_level + 1 < len(scheme) and scheme[letter_level + 1] in below
            if following.lower() == "ii" or (under_numeral and not under_letter):
                return numeral_level
        return letter_level
    if roman_ok:
        return numeral_level
    if numeral_kind == UPPER_ROMAN and not letter_ok and any(lvl == parent for lvl, _ in stack):
        return numeral_level
    return letter_level


def marker_ordinal(marker: str, kind: str) -> int:
    """A marker's place in its list when read as `kind`: (c) 3, (iv) 4, (12) 12, (aa) 27."""
    core = marker.strip("*").lower()
    if kind in (NUMBER, ITALIC_NUMBER):
        return int(core)
    if kind in (ROMAN, ITALIC_ROMAN, UPPER_ROMAN):
        values = [{"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}.get(ch, 0) for ch in core]
        return sum(-v if i + 1 < len(values) and v < values[i + 1] else v for i, v in enumerate(values))
    return ord(core[0]) - 96 + (26 if len(core) == 2 else 0)


def goes_back(marker: str, level: int, stack: list[tuple[int, str]], scheme: tuple[str, ...]) -> bool:
    """Would the marker restart or repeat the list open at its level? "(a) Wide Area Network" after
    § 740.17(b) is open is an inline list inside a paragraph's text, not a paragraph (a)."""
    kind = scheme[level]
    return any(lvl == level and marker_ordinal(marker, kind) <= marker_ordinal(open_marker, kind)
               for lvl, open_marker in stack)


def continues_list(previous: str, marker: str) -> bool:
    """Is `marker` the item right after `previous` in a list of one kind ((b) after (a), (3) after (2))?"""
    kinds = [k for k in marker_kinds(previous) if k in marker_kinds(marker)]
    return any(marker_ordinal(marker, k) == marker_ordinal(previous, k) + 1 for k in kinds)


def _is_next_letter(previous: str, marker: str) -> bool:
    return len(previous) == 1 and previous.isalpha() and ord(marker) == ord(previous) + 1


def _is_next_roman(previous: str, marker: str) -> bool:
    return is_roman(previous) and is_roman(marker) and \
        marker_ordinal(marker, ROMAN) == marker_ordinal(previous, ROMAN) + 1


# --- the inline enumeration of an EU Annex I entry -----------------------------------------
#
# `|  | 5A001 | Telecommunications systems … as follows: a. Any type … features: 1. Specially
# designed …; *Note 1:* *5A001.a.3. and 5A001.a.4. control only …* b. Telecommunication … |`
# Items alternate letters and numbers (a. → 1. → a. → 1.); Notes are in italics and their own
# enumerations do not count. A marker is often ambiguous (`b.` after `a.1.a` continues either
# list), so the parse is a beam search over all readings, scored by what legal drafting makes
# likely and checked against the codes the entry's own Notes name ("5A001.b.3.b. does not
# control …" names an item that precedes it).

_INLINE_MARKER = re.compile(r"(?<!\S)([a-z]|\d{1,2})\.(?=\s)")
_CLOSER = re.compile(r"(?:\b(?:or|and)|\*(?:or|and)\*)\s*$")
_BEAM = 24
_REJECT = 1.0  # reading a well-placed marker as prose
_SECOND_GAP = 0.8  # `13.` after `11.`: one item lost (e.g. "12 Clostridium" without its dot)
_WIDE_GAP = 1.2  # `k.` after `f.`: numbering with gaps (entries that follow the Wassenaar numbers)
_CLOSED = 0.4  # continuing a list whose last item was introduced by "or"/"and"
_UNBOUNDED = 0.5  # a marker not after ; : . * or a closing "or"/"and"
_SHALLOWER = 0.05  # per level given up: the nearest list continues, other things equal
_OPEN_GAPPED = 0.3  # a list opened after ":" with a first item other than a./1.
_OPEN_SAME_KIND = 0.5  # `1.` directly under `10.` after ":" (the alternation broken)
_NOTE_NAMES_LATER_ITEM = 2.0  # a Note names an item not yet read: this reading is wrong
_TEXT_NAMES_ELSEWHERE = 0.3


@dataclass(frozen=True)
class InlineItem:
    """One sub-item of an entry: where its marker starts in the cell text, and its path."""

    start: int
    path: tuple[str, ...]  # ("b", "3", "b") for 5A001.b.3.b

    def label(self, code: str) -> str:
        return ".".join((code, *self.path))


def italic_mask(text: str) -> bytearray:
    """1 for characters inside `*…*` (Markdown emphasis; `**` bold pairs are ignored)."""
    mask = bytearray(len(text))
    inside = False
    i = 0
    while i < len(text):
        if text.startswith("**", i):
            i += 2
            continue
        if text[i] == "*":
            inside = not inside
        mask[i] = inside
        i += 1
    return mask


def _kind(value: str) -> str:
    return NUMBER if value.isdigit() else LOWER


def _ordinal(value: str) -> int:
    return int(value) if value.isdigit() else ord(value) - 96


@dataclass(frozen=True)
class _Marker:
    pos: int
    value: str
    closer: bool  # introduced by "or"/"and": the last item of its list
    colon: bool  # right after a lead-in ending in ":"
    bounded: bool  # after ; : . * or a closer, where list items start


@dataclass(frozen=True)
class _Mention:
    pos: int
    path: tuple[str, ...]
    in_note: bool


def _events(cell: str, code: str) -> list[_Marker | _Mention]:
    italic = italic_mask(cell)
    events: list[_Marker | _Mention] = []
    for match in _INLINE_MARKER.finditer(cell):
        if italic[match.start()] or cell[match.end() : match.end() + 3].lstrip().startswith("*"):
            continue  # inside a Note, or the item of a Note's own list (`a. *Civil …*`)
        before = cell[max(0, match.start() - 12) : match.start()].rstrip()
        closer = bool(_CLOSER.search(before))
        colon = before.endswith(":") or before.endswith(":*")
        bounded = closer or before[-1:] in (";", ":", ".", "*")
        events.append(_Marker(match.start(), match.group(1), closer, colon, bounded))
    mention = re.compile(re.escape(code) + r"((?:\.(?:[a-z]|\d{1,2})(?![a-z0-9]))+)")
    for match in mention.finditer(cell):
        path = tuple(match.group(1).strip(".").split("."))
        events.append(_Mention(match.start(), path, bool(italic[match.start()])))
    events.sort(key=lambda e: e.pos)
    return events


_Open = tuple[tuple[str, str, bool], ...]  # (kind, value, closer) per open level


def _options(stack: _Open, marker: _Marker) -> list[tuple[int, float]]:
    """(level, cost) of every reading of a marker: open a deeper list, or continue one."""
    kind, number = _kind(marker.value), _ordinal(marker.value)
    found: list[tuple[int, float]] = []
    depth = len(stack)
    if not stack or stack[-1][0] != kind:
        if number == 1:
            found.append((depth, 0.0))
        elif marker.colon:
            found.append((depth, _OPEN_GAPPED))
    elif marker.colon and number == 1:
        found.append((depth, _OPEN_SAME_KIND))
    for level, (open_kind, value, closer) in enumerate(stack):
        if open_kind != kind:
            continue
        gap = number - _ordinal(value)
        if gap == 1:
            cost = 0.0
        elif gap == 2:
            cost = _SECOND_GAP
        elif gap > 2 and marker.bounded:
            cost = _WIDE_GAP
        else:
            continue
        found.append((level, cost + (_CLOSED if closer else 0.0)))
    if not found:
        return []
    deepest = max(level for level, _ in found)
    extra = 0.0 if marker.bounded else _UNBOUNDED
    return [(level, cost + _SHALLOWER * (deepest - level) + extra) for level, cost in found]


def inline_items(cell: str, code: str) -> list[InlineItem]:
    """The sub-items of an entry's text, in order; text before the first is the entry's own."""
    # state: (score, open levels, accepted items, paths read so far)
    states: list[tuple[float, _Open, tuple[InlineItem, ...], frozenset[tuple[str, ...]]]] = [
        (0.0, (), (), frozenset())]
    for event in _events(cell, code):
        best: dict[tuple[_Open, int], tuple[float, _Open, tuple[InlineItem, ...], frozenset]] = {}
        for score, stack, items, seen in states:
            successors = []
            if isinstance(event, _Mention):
                path = tuple(v for _, v, _ in stack)
                named = event.path
                if event.in_note:  # a Note names the item it follows, an ancestor or an earlier item
                    here = path[: len(named)] == named
                    score += 0.3 if here else 0.0 if named in seen else -_NOTE_NAMES_LATER_ITEM
                else:  # item text may point anywhere, though mostly near
                    near = named in seen or (len(path) >= len(named) - 1 and path[: len(named) - 1] == named[:-1])
                    score += 0.0 if near else -_TEXT_NAMES_ELSEWHERE
                successors.append((score, stack, items, seen))
            else:
                options = _options(stack, event)
                successors.append((score - (_REJECT if options else 0.0), stack, items, seen))
                for level, cost in options:
                    opened = stack[:level] + ((_kind(event.value), event.value, event.closer),)
                    path = tuple(v for _, v, _ in opened)
                    successors.append((score - cost, opened, items + (InlineItem(event.pos, path),), seen | {path}))
            for state in successors:
                key = (state[1], state[2][-1].start if state[2] else -1)
                if key not in best or best[key][0] < state[0]:
                    best[key] = state
        # Ties keep the reading that accepted more markers, then the earlier-found one.
        states = sorted(best.values(), key=lambda s: (-s[0], -len(s[2])))[:_BEAM]
    return list(states[0][2])


# --- defined terms -------------------------------------------------------------------------

# § 772.1 writes each headword in italics, in several typographic variants.
_CFR_HEADWORDS = [
    re.compile(r"^\*(?P<t>[^*\n]{1,140}?)\.\*(?=\s|$|\*)"),  # *Intrusion software.*
    re.compile(r"^\*(?P<t>[^*\n]{1,140}?)\*\s*(?=means\b|is\b|are\b|or\b|\(|—|–|See\b|\.)"),  # *Term* means
    re.compile(r"^“\*(?P<t>[^*”\n]{1,140}?)\*”\.?"),  # “*Authentication*”.
    re.compile(r"^“\*(?P<t>[^*”\n]{1,140}?)”\.?\*"),  # “*Missiles”.*
    re.compile(r"^\*“(?P<t>[^*”\n]{1,140}?)\.?”\.?\*"),  # *“APP”*, *“Data signaling rate.”*
    re.compile(r"^“(?P<t>[^”\n]{1,140}?)”\.?\s*(?=\.|\((?:Cat|All|MTCR|gyro))"),  # “Bias”. (gyro)
    re.compile(r"^\*“(?P<t>[^”\n]{1,140}?)”\s*(?=\()"),  # *“Government end user” (as applied …
    re.compile(r"^\*“(?P<t>[^*”\n]{1,140}?)\*”\."),  # *“Real-time Processing*”.
    re.compile(r"^“\*(?P<t>[^*”\n]{1,140}?)”\s*\(“[^”]{1,20}”\)\.?\*"),  # “*Unmanned aerial vehicle” (“UAV”).*
]
_NOT_A_TERM = re.compile(r"^(?:Notes?\b|Technical Notes?\b|N\.B|For\s|\d+\.\s|[a-z]\.\s|'|‘)", re.I)
NOTE_HEADER = re.compile(r"^\*?(?:Notes?|Technical Notes?|N\.B\.?)\b[^\n]{0,120}?:?\*?:?\s*$")
_QUALIFIER = re.compile(r"^[\s.*”]*\((?!Cat\b|Cat\.|All\)|[0-9])(?P<q>[^()]{1,40})\)")


def cfr_definition_term(paragraph: str) -> tuple[str, int] | None:
    """The headword a § 772.1-style definition paragraph starts with (`*Intrusion software.* …`),
    and where the headword's markup ends."""
    for pattern in _CFR_HEADWORDS:
        match = pattern.match(paragraph)
        if match:
            term = match.group("t").strip().strip("“”\"").strip().rstrip(".").strip()
            if not term or _NOT_A_TERM.match(term) or ":" in term:
                return None
            return term, match.end()
    return None


def definition_qualifier(paragraph: str, term_end: int) -> str:
    """`(gyro)` in `“Bias”. (gyro) (Cat 7)`: what tells two definitions of one word apart."""
    match = _QUALIFIER.match(paragraph[term_end : term_end + 60])
    return match.group("q").strip() if match else ""


_ANNEX_TERM = re.compile(r'^"(?P<t>[^"\n]{1,120}?)(?:"|(?=\s\(")|(?=\s\())(?P<rest>[^\n]*)')


def annex_definition_term(paragraph: str) -> tuple[str, str] | None:
    """(term, qualifier) of an EU/Wassenaar Annex I definition: `"Intrusion software" (4 5) means …`;
    `"Bias" (gyro) (7) means …` -> ("Bias", "gyro")."""
    match = _ANNEX_TERM.match(paragraph)
    if not match:
        return None
    term = match.group("t").strip().rstrip("(").strip()
    rest = match.group("rest")
    words = re.match(r'^\s*([a-z][a-z ]{0,30}?)\s*(?=\()', rest)  # "Spread spectrum" radar (6)
    if words:
        term = f"{term} {words.group(1).strip()}"
    qualifier = ""
    for group in re.findall(r"\(([^()]{1,40})\)", rest[:120]):
        tokens = group.replace(",", " ").split()
        if all(t.isdigit() or t.isupper() or t in ("All", "def") or t.startswith('"') for t in tokens):
            continue  # category references such as (2 3 6), (GTN NTN All), or an acronym ("DBRN")
        if group.startswith("or "):
            continue  # "Source code" (or source language)
        qualifier = group.strip()
        break
    return term, qualifier


def definition_label(term: str, qualifier: str = "") -> str:
    """`Definition of "intrusion software"`, as the Wassenaar document labels its definitions."""
    words = [w if any(ch.isupper() for ch in w[1:]) else w.lower() for w in re.split(r"(?<=[\s-])", term)]
    label = f'Definition of "{"".join(words)}"'
    return f"{label} ({qualifier})" if qualifier else label


_LAST_PART = re.compile(r"^(.+?)(?:\([0-9a-zA-Z]+\)|\.[0-9a-zA-Z]+)$")


def parent_label(label: str) -> str | None:
    """The label one level up: `§ 742.7(a)(1)` → `§ 742.7(a)`, `Article 28(1)(a)` →
    `Article 28(1)`, `5A001.j.2` → `5A001.j`; None at the top (`§ 742.7`, `ECCN 3A981`)."""
    match = _LAST_PART.match(label)
    return match.group(1) if match and not match.group(1).endswith(("§", " ")) else None
