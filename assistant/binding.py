"""Which bundled instruments bind anyone: a question that asks for the penalties or the binding
obligations of one that does not rests on a false premise.

The Wassenaar Arrangement's list, the Export Controls and Human Rights Initiative's Code of
Conduct and the Commission's cyber-surveillance guidelines (Recommendation (EU) 2024/2659) bind
no exporter and set no penalty: the Participating and Subscribing States apply them through
their own law, and a Recommendation has no binding force. "Which article of the Wassenaar
Arrangement sets the fines …?" or "Which penalties apply to a company that breaks the legally
binding obligations of the ECHRI Code of Conduct?" cannot be answered from the instrument; the
penalties are in national law (ECRA, the Member States' rules under Article 25 of Regulation
(EU) 2021/821, the UK Order's Part 6). A question that names one of those laws as well asks
about them ("What penalties does ECRA set for exporting a Wassenaar-listed item?").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.question_text import asking_sentences, sentences
from assistant.references import instruments_named


@dataclass(frozen=True)
class NonBinding:
    name: str  # as the answer names it
    nature: str  # what it is, in a clause
    named: re.Pattern[str]


NON_BINDING: tuple[NonBinding, ...] = (
    NonBinding("the Wassenaar Arrangement", "an arrangement among Participating States, whose list each of them "
               "implements in its own export-control law", re.compile(r"\bWassenaar\b", re.I)),
    NonBinding("the Export Controls and Human Rights Initiative's Code of Conduct",
               "a voluntary, nonbinding code of political commitments by Subscribing States",
               re.compile(r"\bECHRI\b|\bCode of Conduct\b|\bExport Controls and Human Rights Initiative\b", re.I)),
    NonBinding("the Commission's cyber-surveillance guidelines (Recommendation (EU) 2024/2659)",
               "a Commission Recommendation, which has no binding force",
               re.compile(r"\b2024/2659\b|\bCommission(?:'s|’s)? (?:recommendation|guidelines)\b"
                          r"|\bcyber[- ]?surveillance guidelines\b", re.I)),
)

# Penalties, or obligations said to bind: what only a binding law can have.
_BINDING_PREMISE = re.compile(
    r"\b(?:penalt(?:y|ies)|fines?|fined|punish\w*|prosecut\w*|criminal (?:liability|offences?|charges?)"
    # "the legally binding licensing obligations of …" ascribes them; "is it legally binding?" asks.
    r"|(?:legally )?binding (?:\w+ )?(?:obligations?|requirements?|rules?|duties))\b", re.I)
# Another law the question names is what it asks about: "penalties under ECRA", "US law", "national law".
_NAMES_LAW = re.compile(r"\b(?:national|domestic|US|U\.S\.|UK|EU|German|French|Dutch|member states?')\s+(?:law|rules)\b"
                        r"|\bunder (?:the )?(?:law|laws) of\b|\bMember States?\b", re.I)


def non_binding_premise(question: str) -> list[NonBinding]:
    """The non-binding instruments to which an asking sentence of the question ascribes penalties
    or binding obligations, when it names no law that has them."""
    if instruments_named(question) or _NAMES_LAW.search(question):
        return []
    found: list[NonBinding] = []
    for sentence in (s for asking in asking_sentences(question) for s in sentences(asking)):
        if _BINDING_PREMISE.search(sentence):
            found += [n for n in NON_BINDING if n.named.search(sentence) and n not in found]
    return found
