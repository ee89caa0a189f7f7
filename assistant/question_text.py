"""How a question is read: the sentences that ask, and the several things one message asks.

A compliance e-mail states facts and asks questions in one breath: "Our product is on the
Dutch national control list. Do we need an authorisation?" states the listing and asks about
the rule (Article 10); "Can it go under a licence exception, how long can it stay on the stand,
and what if a visitor wants to buy it?" asks three things, each answered by a different
paragraph (§ 740.9(a)(5) and (a)(14)). One reader for both, on one list of abbreviations whose
full stop ends no sentence ("the U.S. Entity List", "NS, CC, AT etc.").
"""

from __future__ import annotations

import re

from assistant.sentences import ABBREVIATIONS, content_terms

_ABBREVIATION_STOP = re.compile(rf"\b({ABBREVIATIONS}|incl)\.", re.I)
# Unlike a passage's (sentences._ABBREVIATION), a question's sentence may end in a digit or a
# single letter: "We exported it in 2022. Do the keys need a licence?"
_ENDS_WITH_ABBREVIATION = re.compile(rf"\b(?:{ABBREVIATIONS}|incl)\.$", re.I)
_SENTENCE_BREAK = re.compile(r"(?<=[.?!])\s+(?=[A-Z])")
# "Please tell me which columns have an X for Kenya.": a request asks without a question mark.
_REQUEST = re.compile(r"(?:please\s+|kindly\s+|can you\s+|could you\s+)?(?:tell|list|explain|show|give|confirm"
                      r"|identify|describe|provide|advise|clarify|name|let\s+(?:me|us)\s+know)\b", re.I)
_PRONOUN_ASKS = re.compile(r"\b(?:do|does|did)\s+(?:they|it|these|those)\s+(?:list|say|set out|contain|include|give"
                          r"|name|mention|recommend|require)\b", re.I)

# Where one asked part ends and the next begins: a question mark, a semicolon, or a comma or
# "and" followed by a question word ("…, how long can it …", "… and do we have to …").
_ASKING = (r"(?:what|how|when|which|who|whom|whether|where|why|is|are|can|could|do|does|did|must|may|"
           r"should|will|would|has|have)\b")
_PART_BREAK = re.compile(rf"\?+|;\s+|,\s*(?:and\s+|or\s+)?(?={_ASKING})|\s+(?:and|or)\s+(?={_ASKING})", re.I)
# A part needs this many content words of its own to be asked ("and is that right" is not a part).
MIN_PART_TERMS = 2
# At most this many parts are given their own quote: a longer list is a request for a list.
MAX_PARTS = 4


def without_abbreviation_stops(text: str) -> str:
    """The text with an abbreviation's full stop removed ("etc." → "etc"), so that a pattern's
    `[^?.]` window, which stays within one sentence, does not stop at it."""
    return _ABBREVIATION_STOP.sub(lambda m: m[1].replace(".", ""), text)


def sentences(question: str) -> list[str]:
    """The question's sentences, as written; an abbreviation's full stop ends none."""
    found: list[str] = []
    start = 0
    for boundary in _SENTENCE_BREAK.finditer(question):
        if not _ENDS_WITH_ABBREVIATION.search(question, max(0, boundary.start() - 12), boundary.start()):
            found.append(question[start : boundary.start()])
            start = boundary.end()
    found.append(question[start:])
    return found


def asking_sentences(question: str) -> list[str]:
    """The sentences of a question that ask (contain "?", or request: "Please list …"), or all of
    them when none does."""
    parts = sentences(question)
    # "The Commission's guidelines have a due-diligence section. What red flags do they list?":
    # an asking sentence whose pronoun says, lists or contains asks what the sentence before named.
    asking = [part if i == 0 or not _PRONOUN_ASKS.search(part) else f"{parts[i - 1]} {part}"
              for i, part in enumerate(parts) if "?" in part or _REQUEST.match(part)]
    return asking or [question]


def asked_sentences(question: str) -> str:
    """`asking_sentences` as one text, for patterns that look across them."""
    return " ".join(asking_sentences(question))


def question_parts(question: str) -> list[str]:
    """The asked parts, in order; a question that asks one thing gives one part (or none). The
    composer quotes, for each part, the sentence that answers it best."""
    parts = [part.strip(" ,.;:") for part in _PART_BREAK.split(question)]
    return [part for part in parts if len(content_terms(part)) >= MIN_PART_TERMS][:MAX_PARTS]
