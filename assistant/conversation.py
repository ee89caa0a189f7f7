"""Follow-up questions ("and if the buyer is in Russia?") made standalone for retrieval."""

from __future__ import annotations

import re

from assistant.records import Turn

_FOLLOW_UP_START = re.compile(
    r"^\s*(and|but|also|or|so|then|what about|how about|what if|and if|and what|same for|"
    r"in that case|is that|does that|would that|does it|is it|are they|do they|can i)\b",
    re.I,
)
_PRONOUN = re.compile(r"\b(it|its|they|them|their|this|that|these|those|such|there|same)\b", re.I)


def is_follow_up(question: str) -> bool:
    words = question.split()
    return bool(_FOLLOW_UP_START.match(question)) or (len(words) <= 10 and bool(_PRONOUN.search(question)))


def standalone_question(question: str, history: list[Turn]) -> str:
    """The previous question joined to a follow-up; a self-contained question is left alone."""
    previous = [t.content.strip() for t in history if t.role == "user" and t.content.strip()]
    if not previous or not is_follow_up(question):
        return question
    return f"{previous[-1]} {question}"
