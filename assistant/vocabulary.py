"""Exporters ask in everyday words; the law uses its own. This glossary bridges the two for
retrieval only — it never changes what an answer quotes.

Each entry: a pattern for the everyday phrase, and the legal terms it stands for. A question
usually has several facets (a technology, an end user, a destination); each facet that fires
becomes a sub-query of its own, so one facet (say "cameras") cannot crowd out another
("public security bureau"). Kept small and general, not tuned to individual questions."""

from __future__ import annotations

import re

_GLOSSARY: list[tuple[str, str]] = [
    (r"facial recognition|face recognition|biometric", "cyber-surveillance biometric fingerprint identification"),
    (r"surveillance|monitoring|spy(?:ing)?", "cyber-surveillance surveillance monitoring interception"),
    (r"spyware|malware|hacking tool|exploit|zero[- ]day", "intrusion software"),
    (r"intercept(?:ion|ing)?|wiretap|lawful intercept", "interception intercepting communications"),
    (r"police|public security|law enforcement|security (?:bureau|service|forces)|ministry of (?:the )?interior",
     "police law enforcement crime control internal repression entities end-user"),
    (r"human rights|repression|persecution|uyghur|xinjiang", "internal repression human rights violations"),
    (r"camera|cctv|video", "camera cameras imaging"),
    (r"blacklist|entity list|sanctioned compan", "entity list end-user license requirements"),
    (r"encrypt|crypto", "encryption cryptography information security"),
    # Technology passed on by talking: the law's "oral transmission" / "describing it orally over
    # the telephone" (Article 2(2)(d) of 2021/821, the UK Order's "transfer by electronic means").
    (r"over the phone|(?:phone|video|teams|zoom) call|on a call|orally|verbally|by telephone",
     "oral transmission voice telephone transfer technology"),
    (r"phone|mobile|cellular|imsi", "mobile telecommunications interception jamming"),
    (r"internet|ip network|data retention", "ip network communications surveillance"),
    # What exporters must do, in their words and the law's: record-keeping, disclosure,
    # penalties, appeals, the parties to a shipment, and the kinds of export that are not a sale.
    (r"(?:keep|keeping|kept|hold(?:ing)? on to|hang on to|stor(?:e|ing)|sav(?:e|ing)|maintain(?:ing)?) (?:\w+ ){0,3}"
     r"(?:records?|paperwork|documents?|documentation|files|copies)|record[- ]?keeping|retain|archiv",
     "recordkeeping records retention period retain"),
    (r"throw (?:\w+ )?(?:away|out)|discard|shred|get rid of|destroy|digiti[sz]|electronic cop(?:y|ies)"
     r"|scan(?:ned)? (?:\w+ ){0,2}(?:paper|documents|records|paperwork)",
     "reproduction original records destroy"),
    # "Tell BIS" is a self-disclosure only after a violation (it is a notification elsewhere).
    (r"self[- ]report|report (?:ourselves|the (?:violation|breach|mistake))|own(?:ing)? up|confess|come clean"
     r"|(?:without a licen[cs]e|violat|by mistake|unlawful|illegal|broke (?:the|an?) (?:\w+ )?(?:rules?|law))"
     r".{0,120}\b(?:tell|inform|notify|disclos\w*) (?:it to )?(?:bis|the authorities)",
     "voluntary self-disclosure violations"),
    # A violation found out after the fact ("we just found out our distributor re-exported it
    # without a licence; may we still service it?"): General Prohibition Ten forbids proceeding
    # with a transaction knowing a violation has occurred. Only when the question goes on to deal
    # with the item: one that only asks how to report it is a self-disclosure.
    (r"\b(?:found out|learn(?:ed|t)|discovered|realis(?:ed|e)|realiz(?:ed|e)|turn(?:s|ed) out)\b.{0,120}"
     r"\b(?:without (?:a |the |any )?(?:\w+ ){0,2}(?:licen[cs]es?|authori[sz]ations?)\b|diverted|illegally|unlawfully"
     r"|in violation)(?=[\s\S]*\b(?:carry on|continu\w*|keep \w+ing|still|go ahead|proceed\w*|servic\w*|repair\w*"
     r"|spare parts|support\w*)\b)", "knowledge violation has occurred proceeding with transactions service"),
    (r"penalt|\bfined\b|(?<!is it )(?<!it's )(?<!it is )\bfines?\b(?! to\b)|punish|prosecut|\bjail|prison", "penalties civil criminal violations sanctions"),
    (r"appeal|turned down|refused|rejected|denied|(?:challenge|contest) (?:the|that|this|a|our|their) (?:\w+ )?"
     r"(?:decision|denial|refusal)", "appeal denial refusal"),
    (r"freight forwarder|forwarder|shipping agent|logistics provider", "forwarding agent freight forwarder"),
    (r"remote (?:support|access|maintenance)|troubleshoot|training|technical support", "technical assistance"),
    (r"transit|tran[s]?ship|passing through|stopover", "transit transhipment"),
    (r"\bbroker|middleman|intermediar", "brokering services broker"),
    (r"unlisted|not (?:on|in) (?:\w+ ){0,2}(?:list|annex)|catch[- ]all", "catch-all not listed end-use informed"),
    # Software on a stick or disk is goods: "tangible storage media … are taken to be … goods".
    (r"usb (?:stick|drive|key)|memory stick|thumb ?drive|flash drive|(?:hard|external) (?:disk|drive)|cd-?rom|\bdvd"
     r"|storage (?:media|medium|device)", "tangible storage media software recorded goods"),
    # "Controlled for crime control reasons" is § 742.7's licence requirement, which other rules
    # name by its number (License Exception restrictions in § 740.2(a)(4)).
    (r"crime[- ]control", "crime control detection 742.7"),
]
_COMPILED = [(re.compile(rf"\b(?:{p})", re.I), terms) for p, terms in _GLOSSARY]

# Facets that say what a question is about, as opposed to what it asks (a licence). The
# licence words themselves are not expanded: every question has them, so they only add noise
# (BM25 already folds licence/license and authorisation/authorization).
_NOT_A_TOPIC: set[str] = set()


def facets(question: str) -> list[str]:
    """Legal-term sub-queries for the topics the question touches, in glossary order."""
    return [terms for pattern, terms in _COMPILED if terms not in _NOT_A_TOPIC and pattern.search(question)]


def expand(question: str) -> str:
    """The question plus legal terms for the everyday phrases it uses."""
    extra = [terms for pattern, terms in _COMPILED if pattern.search(question)]
    return f"{question} {' '.join(extra)}" if extra else question
