"""The parts of a question that asks several things at once.

A compliance e-mail often asks three things in one message: "Can it go under a licence
exception, how long can it stay on the stand, and what if a visitor wants to buy it?". Each
part is usually answered by a different paragraph of the same section (§ 740.9(a)(5) and
(a)(14)), and an answer that quotes only the paragraph nearest the whole message leaves the
other parts unanswered. The composer quotes, for each part, the sentence that answers it best.
"""

from __future__ import annotations

import re

from assistant.sentences import content_terms

# Where one asked part ends and the next begins: a question mark, a semicolon, or a comma or
# "and" followed by a question word ("…, how long can it …", "… and do we have to …").
_ASKING = (r"(?:what|how|when|which|who|whom|whether|where|why|is|are|can|could|do|does|did|must|may|"
           r"should|will|would|has|have)\b")
_BREAK = re.compile(rf"\?+|;\s+|,\s*(?:and\s+|or\s+)?(?={_ASKING})|\s+(?:and|or)\s+(?={_ASKING})", re.I)
# A part needs this many content words of its own to be asked ("and is that right" is not a part).
MIN_TERMS = 2
# At most this many parts are given their own quote: a longer list is a request for a list.
MAX_PARTS = 4


def question_parts(question: str) -> list[str]:
    """The asked parts, in order; a question that asks one thing gives one part (or none)."""
    parts = [part.strip(" ,.;:") for part in _BREAK.split(question)]
    return [part for part in parts if len(content_terms(part)) >= MIN_TERMS][:MAX_PARTS]
