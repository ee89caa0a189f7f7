"""Is a question about export control at all? RegQA answers only within its subject.

Two tests, because neither alone is enough. Words: a question that uses the vocabulary of
export control (exporting, licences, control lists, end users, destinations, a control-list
code) is in scope. Meaning: a question without those words is out of scope when the embedding
model places it nearer a neighbouring field of law (import duties and VAT, tax, data
protection, product certification, employment, food and drugs) than export control — VAT on
imported CCTV cameras, or FCC certification before *selling* cameras in US stores, mention
cameras and selling but are not export-control questions. Words such as "sell", "ship" or
"customers" are common to both, so they decide only when the meaning test is not clear.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np

from regqa.config import Settings

# Words that only an export-control question uses (or that name its instruments and parties).
# A licence plate (a camera reading one) is not a licence.
_EXPORT_CONTROL_WORDS = re.compile(
    r"\b(export\w*|re-?export\w*|eccns?|ear|ear99|cfr|bis|ccl|commerce control list|ultimate consignees?|wass?enaa?r|dual[- ]use|end[- ]users?|"
    r"end[- ]uses?|entity list|sanction\w*|embargo\w*|deemed|classif\w*|annex [iv]+|catch-all|"
    r"regulation \(eu\)|2021/821|cyber-?surveillance|intrusion software|intercept\w*|encryption|"
    r"country (?:chart|groups?)|control(?:led)? lists?|controlled|destinations?|brokering|"
    r"human rights|echri|hikvision|dahua|record-?keeping|technical assistance|industry and security|"
    # What the catch-all clauses turn on: use for (internal) repression, and items not on a list
    # ("unlisted network monitoring kit"); unlisted shares and companies are another field's.
    r"(?:internal )?repression|(?:un|non-?)listed(?!\s+(?:compan\w*|shares?|stocks?|securities|firms?))|"
    # Proliferation and military end use: what catch-all and transit controls are about.
    # "The transit" of dual-use goods is controlled; goods damaged "in transit" are a shipping matter.
    r"(?<!\bin )transit|missiles?|weapons of mass destruction|wmd|(?:chemical|biological|nuclear) weapons?|proliferation|military end[- ]us\w*|arms embargo\w*|"
    # Arms export control: the ITAR, its registration office and list.
    r"itar|ddtc|usml|munitions list|"
    # Licensing authorities and licence types by name, and UK "trade controls" (brokering).
    r"ecju|export control joint unit|siel|oiel|ogel|bafa|trade controls?|"
    # The EU's licence types: "the EU general authorisation for exhibitions and fairs", EU004.
    r"(?:eu|union) general (?:export )?authori[sz]ations?|general export authori[sz]ations?|eu00\d|"
    # Enforcement: BIS's Office of Export Enforcement and voluntary self-disclosures to it.
    r"oee|office of export enforcement|voluntary (?:self-)?disclosures?|self-disclos\w*|"
    # The EAR's own term: "any licence exceptions?" ("a licence" alone is every field's word).
    r"licen[cs]e exceptions?)\b"
    # An export-control instrument named by its jurisdiction: "the EU regulation", "the US entry".
    r"|\b(?:EU|E\.U\.|US|U\.S\.|UK|Union|dual-use)\s+(?:regulation|control list|list|entry|entries)\b"
    # A control-list code or a legal reference: `6A003`, `5A001.j`, `§ 742.7`, `Article 5`.
    r"|\b\d[A-E]\d{3}\b|§\s*\d|\bArticle\s+\d"
    # A licence refused, revoked or appealed: to exporters of these goods, an export licence
    # ("Our UK licence application for a network monitoring system was refused. Can we appeal?").
    r"|\b(?:refus\w*|revok\w*|revocation|suspen\w*|den(?:y|ied|ial))\b[^?.]{0,40}\blicen[cs]e"
    r"|\blicen[cs]e\b[^?.]{0,60}\b(?:refus\w*|revok\w*|suspen\w*|denied|appeal\w*)",
    re.I,
)
# Words both fields use: they keep a question in scope only when its meaning is not clearly
# nearer another field.
_SHARED_WORDS = re.compile(
    r"\b(authori[sz]ation\w*|permits?|licen[cs]\w*|ship\w*|sell\w*|sales?|customers?|buyers?|abroad|foreign|overseas|"
    r"transfer\w*|surveillance|compliance|violations?|penalt\w*|lists?|entry|entries|caught by|covered by)\b",
    re.I,
)

# Words that only a neighbouring field's question uses: without any export-control word, they
# decide as the meaning test would ("what import duty does the US charge on thermal cameras"
# mentions cameras, which pulls its meaning towards export control).
_OTHER_FIELD_WORDS = re.compile(
    r"\b(import (?:dut(?:y|ies)|tax\w*|vat|tariffs?)|customs dut(?:y|ies)|tariffs?|vat|sales tax|income tax|"
    r"tax (?:credits?|returns?|rates?)|gdpr|data protection|personal data|fcc|ce marking|ul certification|"
    # Trade terms and cargo insurance decide who pays and who insures, not whether an export is allowed.
    r"incoterms?|cargo insurance|insurance (?:claims?|cover|policy|policies|premiums?)|insure|"
    r"non-compete|employment (?:contracts?|law)|labou?r law|unfair dismissal|wrongful (?:dismissal|termination)|"
    # Immigration and consumption taxes by their own names.
    r"visas?|sponsor licen[cs]es?|work permits?|immigration|h-?1b|optional practical training|gst|hst"
    r"|goods and services tax)\b",
    re.I,
)

# Words that name what a product is (an interception platform, encryption) rather than an
# export-control matter: beside another field's own words they do not keep a question in scope
# ("what VAT rate do we put on invoices for our lawful intercept software subscription?").
_PRODUCT_WORDS = re.compile(r"\b(?:intercept\w*|encryption|cyber-?surveillance|intrusion software|hikvision|dahua)\b"
                            # "the corporate tax rate on profits from our export sales": the business, not the control
                            r"|\bexports? (?:sales|revenues?|profits?|income|turnover|earnings)\b", re.I)

# Short descriptions of export control and of the fields most often confused with it.
IN_SCOPE = (
    "export controls: a licence or authorisation needed to export, re-export or transfer items",
    "control list classification of dual-use items: ECCN, Annex I entries, the Wassenaar list",
    "end-user and end-use controls, catch-all clauses, embargoed destinations, restricted parties",
    "export of surveillance technology, intrusion software, interception, facial recognition",
    "export compliance: record keeping, penalties for export violations, licence exceptions",
)
NEIGHBOURING_FIELDS = (
    "customs duties, tariffs and import VAT on goods brought into a country",
    "sales tax, income tax, tax credits and tax returns",
    "data protection and privacy law: GDPR, personal data, consent, retention of recordings",
    "product safety and conformity: FCC equipment authorization, CE marking, UL certification, labelling",
    "employment law: wages, holidays, working time, dismissal, non-compete clauses",
    "food, drugs, cosmetics and dietary supplement regulation",
    "cooking, recipes, travel, sports and entertainment",
    "patents, trademarks, copyright and licensing of intellectual property",
    "company law, contracts, insurance and accounting",
)


# A quotation mark, not an apostrophe ("our tool's code … 'in the public domain'").
_QUOTED = re.compile(r"(?<![A-Za-z])['‘\"“]([^'’\"”]{4,120})['’\"”](?![A-Za-z])")


_CODE = re.compile(r"\b[A-Z]{3}\b")


def uses_export_control_vocabulary(question: str, exception_codes: frozenset[str] = frozenset()) -> bool:
    """Export-control words, or a licence exception's code as the bundled Part 740 defines it
    ("a demo camera to an expo under TMP"), written in capitals as the regulations write it."""
    return bool(_EXPORT_CONTROL_WORDS.search(question)) or bool(set(_CODE.findall(question)) & exception_codes)


_ACT_NUMBER = re.compile(r"\b\d{1,4}/\d{2,4}\b")


def quotes_the_texts(question: str, texts: list[str]) -> bool:
    """Does the question quote words that the retrieved texts contain ("what does the US list
    mean by 'electronic monitoring restraint devices'"), or name an act by a number they cite
    ("Regulation (EC) No 428/2009", repealed by Article 31)? Then it asks about those texts."""
    quoted = [q.strip().lower() for q in _QUOTED.findall(question) if len(q.split()) >= 2]
    quoted += _ACT_NUMBER.findall(question)
    haystack = " ".join(" ".join(t.split()) for t in texts).lower()
    return any(q in haystack for q in quoted)


class ScopeCheck:
    """Decides out-of-scope questions; the description vectors are embedded once, on first use."""

    def __init__(self, embed: Callable[[str], np.ndarray],
                 margin: float = Settings.model_fields["scope_margin"].default) -> None:
        self._embed = embed
        self.margin = margin
        self._prototypes: tuple[np.ndarray, np.ndarray] | None = None

    def nearer_other_field(self, question: str) -> bool:
        if self._prototypes is None:
            self._prototypes = (np.vstack([self._embed(t) for t in IN_SCOPE]),
                                np.vstack([self._embed(t) for t in NEIGHBOURING_FIELDS]))
        inside, outside = self._prototypes
        vector = self._embed(question)
        return float((outside @ vector).max()) - float((inside @ vector).max()) > self.margin

    def out_of_scope(self, question: str, confidence: float, floor: float, texts: list[str],
                     exception_codes: frozenset[str] = frozenset()) -> bool:
        """`confidence`: the best passage's similarity; below `floor` a question with no export
        words at all is taken to be about something else even when no other field is nearer.
        `texts`: the retrieved passages, for a question that quotes them. `exception_codes`:
        the licence exceptions' codes (TSU, TMP, GOV), which are export-control words."""
        if quotes_the_texts(question, texts):
            return False
        other_field = bool(_OTHER_FIELD_WORDS.search(question))
        if other_field and not uses_export_control_vocabulary(_PRODUCT_WORDS.sub(" ", question), exception_codes):
            return True
        if uses_export_control_vocabulary(question, exception_codes):
            return False
        if other_field or self.nearer_other_field(question):
            return True
        return not _SHARED_WORDS.search(question) and confidence < floor
