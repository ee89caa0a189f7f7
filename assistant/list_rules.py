"""The provision that attaches a licence requirement to a control list.

"Do we need a licence to email the source code of targeting software that is on the UK Military
List?" is answered by the Export Control Order's Article 3 ("no person shall— … (b) transfer
military software or technology by electronic means"). Its words are few and plain, so the
definitions and the licence-scope article (Article 26(2)), which share more of the question's
words, outrank it. When a licence question says its item is on such a list, the provision that
attaches the requirement to that list ranks first; the rest still compete below it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# Software or technology sent by e-mail, upload or download: the Order's "transfer … by electronic
# means", not an export of goods.
_ELECTRONIC = re.compile(
    r"\b(?:e-?mail\w*|upload\w*|download\w*|electronic(?:ally)?|online|cloud|ftp|file[- ]shar\w*|internet"
    r"|transfer\w*\s+(?:\w+\s+){0,3}(?:software|technology|source code|code|files?|data|drawings|designs?))\b", re.I)
_SOFTWARE = re.compile(r"\b(?:software|technology|source code|code|firmware|files?|drawings|design data|designs?"
                       r"|cad|blueprints?|data)\b", re.I)
# A general licence or the minimum technology to install and repair goods already licensed: the
# Order's licence articles answer those, not the prohibition.
_NOT_THE_PROHIBITION = re.compile(r"\bgeneral licen[cs]e|\bOGEL|\bopen general\b|\bminimum (?:technology|necessary)\b",
                                  re.I)


@dataclass(frozen=True)
class ListRule:
    """A list named as where the item is, and the paragraphs that require a licence for it."""

    on_list: re.Pattern[str]
    doc_id: str
    goods: str  # exporting goods on the list
    electronic: str  # transferring software or technology on the list by electronic means
    lead_in: str

    def provisions(self, question: str) -> list[tuple[str, str]]:
        """(document, label) to rank first, best first; [] when the question does not say its
        item is on this list."""
        if not self.on_list.search(question) or _NOT_THE_PROHIBITION.search(question):
            return []
        sent = _ELECTRONIC.search(question) and _SOFTWARE.search(question)
        return [(self.doc_id, self.electronic if sent else self.goods), (self.doc_id, self.lead_in)]


# A question about what the list holds ("which entry of the UK Military List …") is out of corpus
# (the Schedules are not bundled: assistant/not_bundled.py) and never reaches the ranking.
RULES: tuple[ListRule, ...] = (
    ListRule(re.compile(r"\bUK Military List\b|\bSchedule 2\b[^?.]{0,40}\b(?:Export Control )?Order\b", re.I),
             "uk-export-control-order-2008", "Article 3(a)", "Article 3(b)", "Article 3"),
)


def list_provisions(question: str) -> list[tuple[str, str]]:
    """Every rule's provisions for the question, in the table's order."""
    return [found for rule in RULES for found in rule.provisions(question)]
