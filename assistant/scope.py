"""Is a question about export control at all? RegQA answers only within its subject.

A question counts as in scope when it uses the vocabulary of export control (exporting,
licences, control lists, end users, destinations, controlled technologies) or is very close in
meaning to a passage of the corpus. Questions about VAT, data protection or recipes are not,
even when they mention a camera."""

from __future__ import annotations

import re

_EXPORT_CONTROL_WORDS = re.compile(
    r"\b(export\w*|re-?export\w*|licen[cs]\w*|authori[sz]ation\w*|permits?|control(?:led)? lists?|"
    r"controlled|eccns?|ear|cfr|bis|wassenaar|dual[- ]use|end[- ]users?|end[- ]uses?|entity list|"
    r"sanction\w*|embargo\w*|ship\w*|sell\w*|sales?|customers?|buyers?|abroad|foreign|overseas|"
    r"destinations?|transfer\w*|deemed|classif\w*|annex i|catch-all|regulation \(eu\)|2021/821|"
    r"cyber-?surveillance|intrusion software|surveillance|intercept\w*|encryption|"
    r"record-?keeping|compliance|violations?|penalt\w*|hikvision|dahua|human rights|echri|"
    r"country groups?|lists?|entry|entries|caught by|covered by)\b",
    re.I,
)


def uses_export_control_vocabulary(question: str) -> bool:
    return bool(_EXPORT_CONTROL_WORDS.search(question))
