"""Reading a licence check's facts from a chat question.

"Does exporting facial recognition cameras to a public security bureau in China need a
licence?" names an item, an end user and a destination: enough to walk the decision path. A
question that does not name the item, or is not a licence question, is left to the ordinary
answerer. What is missing becomes one clarifying question at the end of the determination.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from pydantic import ValidationError

from assistant.retrieval import jurisdictions_named, licence_question
from determination.facts import Facts, country, end_user_type_of

_MOVE = r"(?:export(?:ing|s|ed)?|re-?export(?:ing)?|ship(?:ping|s)?|sell(?:ing|s)?|send(?:ing|s)?|supply(?:ing)?)"
# "exporting <item> to <rest>", "export our <item> to <rest>"
# The article is a word of its own ("export authorisation" names no item "uthorisation"); the
# item stays in its sentence ("… exported to Asia. Do we need …" is no item), is not a place, and
# is not the permission itself ("an export authorisation to ship it to …": "export" is a noun).
_ITEM = re.compile(rf"\b{_MOVE}\s+(?:(?:our|my|an?|the|some|these|this)\s+)?"
                   rf"(?!(?:to|into|from|for)\s|(?:licen[cs]es?|authori[sz]ations?|permits?|controls?)\b)"
                   rf"(?P<item>(?:(?!\.\s)[^?,;]){{3,120}}?)\s+(?:to|into)\s+(?P<rest>[^?;]{{2,200}})", re.I)
_TAIL = re.compile(r"\s+(?:need|needs|require|requires|required|without|under|from|\bso\b|,).*$", re.I)
_IN = re.compile(r"\b(?:in|to)\s+(?:the\s+)?([A-Z][A-Za-z]+(?:\s+[A-Z][A-Za-z]+)?)\b")
_STAND_IN = re.compile(r"^(?:(?:a|an|the|one|some|this|that|these|those)\s+)?(?:one|it|them|they|batch|shipment|"
                       r"consignment|order|lot|units?|samples?|products?|goods|items?|some|any|anything|"
                       r"something)\b", re.I)
_OUR = re.compile(r"\b(?:our|we (?:make|sell|build|produce|manufacture|develop|design))\s+(?P<item>[^.?,;]{3,80}?)"
                  r"\s+(?:are|is|was|were|have|has|run|runs|can|could|use|uses|[,.;(])", re.I)
# "from the UK", "from Germany": the country of export.
_FROM = re.compile(r"\bfrom\s+(?:the\s+)?([A-Z][A-Za-z]+(?:\s+[A-Z][A-Za-z]+)?)\b")
_CODE = re.compile(r"\b(?:ECCN\s+)?(\d[A-E]\d{3}(?:\.[a-z0-9]+)*)\b")
# "can we ship … under LVS?": whether a named exception applies is answered by that exception's
# conditions and § 740.2's restrictions, not by the whole path (which "may any licence exception
# be used?" still gets, beside the licence requirement it asks about). The code, in capitals.
_UNDER_CODE = re.compile(r"\b(?i:under|use|using|via|with)\s+(?:(?i:license|licence)\s+exception\s+)?([A-Z]{3})\b")
# Military goods ("our military-listed thermal sight", "military software or technology", "on the UK
# Military List"): the check walks the dual-use paths (Annex I and the EU catch-alls, the CCL's
# crime-control and end-use rules); the military lists and the UK Order's military controls are
# not on it, and its walk of them would answer a question the asker did not ask.
_MILITARY_GOODS = re.compile(r"\bmilitary[- ]listed\b|\bmilitary list\b|\bmunitions? list\b|\bUSML\b"
                             r"|\bmilitary (?:goods|items?|software|technology|equipment)\b", re.I)


@dataclass
class ReadFacts:
    facts: Facts
    missing: list[str]  # deciding facts the question does not give

    @property
    def clarifying_question(self) -> str | None:
        if "destination" in self.missing:
            return "To narrow this down: which country is the item going to?"
        if "classification" in self.missing:
            return "To narrow this down: which ECCN or Annex I entry is the item classified under, if you know it?"
        return None


def read_facts(question: str, exception_codes: frozenset[str]) -> ReadFacts | None:
    """The facts of a licence question, or None when it is not one, names no item, asks under
    one named jurisdiction ("Under Regulation (EU) 2021/821, ...": that instrument's own words
    answer it more precisely than the two-jurisdiction path), or asks for one licence exception
    by its code (`exception_codes`: those Part 740 defines, `retrieval.exception_codes`), or is
    about military goods (the check walks the dual-use paths only)."""
    names_exception = any(code in exception_codes for code in _UNDER_CODE.findall(question))
    if not licence_question(question) or names_exception or _MILITARY_GOODS.search(question):
        return None
    origin = None
    for found in _FROM.findall(question):
        try:
            origin = country(found).code
            break
        except ValueError:
            continue
    named = jurisdictions_named(question)
    # The check walks the EU's and the US's paths only: a question that asks under the UK's own
    # law (the Export Control Order, not merely an export from the UK) is answered from it, and
    # one under another single jurisdiction from that jurisdiction's own words.
    if ("UK" in named and origin != "GB") or (len(named) == 1 and named != ["UK"]):
        return None
    match = _ITEM.search(question)
    if not match:
        return None
    item = re.sub(r"\s+from\s+(?:the\s+)?[A-Z].*$", "", match.group("item")).strip()  # "… from the UK"
    if _STAND_IN.match(item):
        # "ship a batch", "export them": the item is named elsewhere ("Our uncooled thermal cameras are…").
        named = _OUR.search(question)
        if named is None:
            return None
        item = named.group("item").strip()
    rest = _TAIL.sub("", match.group("rest")).strip()
    destination = None
    for candidate in [rest, *_IN.findall(question)]:
        try:
            destination = country(candidate).code
            break
        except ValueError:
            continue
    end_user_type = end_user_type_of(rest) or end_user_type_of(question)
    end_user = None
    if destination is None or end_user_type is not None:
        # "to a public security bureau (in China)": the phrase after "to" names the end user.
        end_user = re.sub(r"\s+in\s+[A-Z].*$", "", rest).strip() or None
        if end_user and re.match(r"^(?:an?|the)\s", end_user, re.I) and end_user_type is not None:
            end_user = None  # a kind of end user ("a public security bureau"), not a name to screen
    codes = list(dict.fromkeys(_CODE.findall(question)))
    try:
        facts = Facts(item=item, codes=codes, destination=destination, origin=origin, end_user=end_user,
                      end_user_type=end_user_type)
    except ValidationError:
        return None
    if facts.destination is None and facts.end_user_type is None:
        return None  # neither where nor to whom: not enough to walk the path
    missing = [name for name, value in (("destination", facts.destination), ("classification", facts.codes)) if not value]
    return ReadFacts(facts, missing)
