"""Instruments the bundled corpus does not hold, as its MANIFEST files record, and where to read
them. An honest "not covered" names what would answer and links the official source.

A question that asks what such an instrument *contains* (is a company on the Entity List,
what the Country Chart says for a destination) cannot be answered from the bundled texts,
however close the rules *about* that instrument are; a question about those rules can.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import pycountry

from assistant.references import EAR, instruments_named
from assistant.question_text import asked_sentences, without_abbreviation_stops


@dataclass(frozen=True)
class Missing:
    name: str
    url: str
    asks_content: re.Pattern[str]  # a question about what the instrument lists or says
    # The question places what it asks in a bundled text ("the Russia sanctions rule in the EAR"
    # is § 746.8, "Sanctions against Russia and Belarus"): not this instrument's content.
    unless: re.Pattern[str] | None = None


_ECFR = "https://www.ecfr.gov/current/title-15/subtitle-B/chapter-VII/subchapter-C"
# "whether X is …", "tell me if X is …", "check if X is …": a named thing asked about indirectly
# (a bare "if" is a premise: "if Vietnam is in D:1, may we use ACE?").
_ASKED_IF = r"\b(?:whether|(?:tell|let)\s+(?:me|us)\s+if|(?:check|confirm|know|see|verify)\s+if)"
# What the 2024/2659 Guidelines set out: "due-diligence steps", "… process", "… checklist".
_DUE_DILIGENCE = r"due[- ]diligence (?:steps|measures|questions|process|procedures?|checklists?)"
def _not_after(*phrases: str) -> str:
    """Lookbehinds that keep a name from matching where it says where goods are listed ("specified
    in Schedule 2", "listed on the UK Military List"), not what the list holds."""
    return "".join(f"(?<!{phrase} )" for phrase in phrases)


MISSING: tuple[Missing, ...] = (
    Missing("the Commerce Country Chart (Supplement No. 1 to Part 738)", f"{_ECFR}/part-738/appendix-Supplement%20No.%201%20to%20Part%20738",
            # What the chart says, not how to use it ("How do we use the Country Chart?" is § 738.4)
            # nor a column named as a fact ("a customer in a country listed in CC Column 1").
            re.compile(r"\bcountry chart\b[^?.]{0,40}\b(?:say|says|show|shows|list|lists|mark|marks|marked|ticked|checked"
                       r"|entry|entries|box|boxes)\b"
                       # "Does CC Column 1 of the Country Chart cover Mexico?": which destinations a column reaches
                       r"|\b(?:CC|NS|RS|AT|NP|MT|CB|EI|FC|SL|SI)\s+column\s+\d\b[^?.]{0,40}\b(?:cover|covers|include|includes"
                       r"|reach|reaches)\s+(?-i:[A-Z][a-z]+)"
                       # "which columns are marked for Vietnam?": the chart's cells for a destination
                       r"|\b(?:which|what)\s+(?:[\w-]+\s+){0,3}columns?\b[^?.]{0,40}\b(?:marked|ticked|checked|crossed"
                       r"|(?:have|has|carry|carries|show|shows)\s+an?\s+[\"“']?X\b)"
                       r"|\b(?:according to|as per|per) the (?:commerce )?country chart\b"
                       r"|\b(?:what|which)\s+(?:countries|destinations|reasons for control)\b[^?.]{0,60}"
                       r"\b(?:country chart|column \d)"
                       r"|\b(?:is|are)\s+(?-i:[A-Z][A-Za-z]+(?:\s+[A-Z][A-Za-z]+)*)\s+(?:in|under|listed in|marked in)\s+"
                       r"(?:the\s+)?(?:CC|NS|RS|AT|NP|MT|CB|EI|FC|SL|SI)\s+column\s+\d"
                       r"|\b[\"“']?X[\"”']?\s+(?:in|for)\s+the\b[^?.]{0,30}\b(?:box|cell|column|country chart)"
                       # "an X under CC Column 1 for Vietnam", "marked with an X under …"
                       r"|\ban?\s+[\"“']?X[\"”']?\s+(?:under|in|at)\s+(?:the\s+)?(?:CC|NS|RS|AT|NP|MT|CB|EI|FC|SL|SI)\s+column\b"
                       r"|\bmarked with an?\s+[\"“']?X\b"
                       # "is there an X for Vietnam in the CC Column 1 cell?"
                       r"|\ban?\s+[\"“']?X[\"”']?\s+(?:for|against|next to)\s+[A-Z][\w-]*(?:\s+[A-Z][\w-]*)?\s+"
                       r"(?:in|under|at)\s+[^?.]{0,30}\b(?:box|cell|column)\b"
                       # "Does 'CC Column 1' on the Country Chart have an X for Brazil?": a cell's mark, in a
                       # sentence that names the chart or a column
                       r"|(?=[^?.]*\b(?:country chart|column\s+\d)\b)[^?.]*\b(?:have|has|carry|carries|show|shows"
                       r"|there (?:is|an?))\s+(?:an?\s+)?[\"“'‘]?X[\"”'’]?\s+(?:for|against|next to)\b"
                       # "is vietnam ticked under CC column 1": a chart's cell, whatever the case
                       r"|\b(?:ticked|checked|crossed|marked)\b[^?.]{0,40}\b(?:CC|NS|RS|AT|NP|MT|CB|EI|FC|SL|SI)\s+column\s+\d",
                       re.I)),
    Missing("the Entity List (Supplement No. 4 to Part 744)", f"{_ECFR}/part-744/appendix-Supplement%20No.%204%20to%20Part%20744",
            # Whether a party is listed, not what happens to a party that is ("when a company is
            # added to the Entity List" is § 744.11's rule).
            # A relative clause describes any listed party ("a company that has been placed on the
            # Entity List may ask …"), it does not ask about one.
            re.compile(r"(?<!\bthat\s)(?<!\bwho\s)(?<!\bwhich\s)"
                       r"\b(?:is|are|was|were|has|have)\s+(?!(?:a|an|any|every|each|someone|somebody|anyone|added|listed"
                       r"|placed|put|removed)\b)[^?.]{1,80}?\s+(?:been\s+)?(?:on|in|added to|listed on|placed on|removed from)"
                       # "the Entity List", "the BIS Entity List", "the BIS blacklist / Entity List"
                       r"\s+the\s+(?:[\w./-]+\s+){0,3}?(?:entity\s+list|black-?list)\b|\bentity list (?:entry|entries) for\b"
                       # "check whether Xiamen Meiya Pico is on the Entity List": a named party, asked indirectly
                       r"|" + _ASKED_IF + r"\s+(?!(?:a|an|any|every|each|someone|somebody|anyone|our|the)\b)[\w&.-]+"
                       r"(?:\s+[\w&.-]+){0,4}\s+(?:is|are|was|were)\s+(?:still\s+|currently\s+|now\s+)?"
                       r"(?:on|listed on|added to|placed on)\s+the\s+(?:BIS\s+)?entity\s+list\b"
                       # Chat shorthand: "megvii on the entity list?" (a name, then the list, then "?")
                       r"|(?:^|[.?!]\s+)(?!(?:are|is|can|could|do|does|may|must|should|what|which|who|how|why|when"
                       r"|if|any|our|we|us|you|they|companies|parties|firms|customers|buyers)\b)[\w&.-]+(?:\s+[\w&.-]+){0,3}"
                       r"\s+(?:on|in)\s+the\s+(?:BIS\s+)?entity\s+list\s*\?", re.I)),
    Missing("the Military End-User List (Supplement No. 7 to Part 744)", f"{_ECFR}/part-744/appendix-Supplement%20No.%207%20to%20Part%20744",
            re.compile(r"\b(?:on|in)\s+the\s+(?:[^?.]{0,40}\s)?(?:MEU|military end[- ]user)\s+list\b", re.I)),
    Missing("the Unverified List (Supplement No. 6 to Part 744)", f"{_ECFR}/part-744/appendix-Supplement%20No.%206%20to%20Part%20744",
            re.compile(r"\b(?:on|in)\s+the\s+(?:BIS\s+)?unverified\s+list\b", re.I)),
    Missing("the Country Groups (Supplement No. 1 to Part 740)", f"{_ECFR}/part-740/appendix-Supplement%20No.%201%20to%20Part%20740",
            # Whether a named destination is in a group ("Is India in Country Group A:5?"), or which
            # are; not a group named as a fact ("a country that is in Country Group D but also in A:6").
            re.compile(r"\b(?:is|are)\s+(?!(?:a|an|the|it|this|that|they|located|listed|also|not|in)\b)[A-Za-z][\w-]*"
                       r"(?:\s+[A-Za-z][\w-]*){0,3}\s+(?:also\s+)?(?:in|listed in|part of|a member of)\s+(?:the\s+)?"
                       r"country\s+group\s+[A-E]"
                       r"|\b(?:which|what)\s+(?:countries|destinations)\b[^?.]{0,40}\bcountry\s+group\s+[A-E]"
                       # "Can you tell me whether Vietnam is in Country Group D:1 or only in D:5?"
                       r"|" + _ASKED_IF + r"\s+(?!(?:a|an|the|it|this|that|they|our|their|its)\b)[A-Za-z][\w-]*"
                       r"(?:\s+[A-Za-z][\w-]*){0,2}\s+(?:is|are)\s+(?:also\s+|only\s+|still\s+)?(?:in|listed in|part of"
                       r"|a member of)\s+(?:the\s+)?country\s+groups?\s+[A-E]"
                       # "Which Country Group is Vietnam in?"
                       r"|\bwhich\s+country\s+groups?\s+(?:is|are|does|do)\s+[A-Z]", re.I)),
    # The CCL copy holds each ECCN's heading and items, not its License Requirements and License
    # Exceptions blocks (MANIFEST): an entry's own LVS value, exceptions or reasons for control.
    Missing("the License Requirements and License Exceptions blocks of the CCL's ECCN entries (the bundled "
            "Commerce Control List holds each ECCN's heading and items only)",
            f"{_ECFR}/part-774/appendix-Supplement%20No.%201%20to%20Part%20774",
            re.compile(r"\b(?:LVS|GBS|CIV|TSR|APP)\s+(?:\w+\s+){0,2}(?:value|limit|dollar)\b[^?.]{0,40}\b(?:ECCN|entry)\b"
                       r"|\b(?:ECCN|entry)\b[^?.]{0,40}\b(?:allows?|permits?|lists?|says?)\b[^?.]{0,20}\b(?:LVS|GBS|CIV|TSR|APP)\b"
                       r"|\b(?:what|which)\s+(?:is\s+the\s+|are\s+the\s+)?(?:LVS\s+(?:value|limit|dollar)|reasons?\s+for\s+control)\b"
                       r"[^?.]{0,40}\b(?:of|for|in|under|on)\s+(?:ECCN\s+)?\d[A-E]\d{3}\b", re.I)),
    Missing("the Member States' national control lists", "https://policy.trade.ec.europa.eu/help-exporters-and-importers/exporting-dual-use-items_en",
            re.compile(r"\bnational (?:control )?list of (?:Germany|France|Italy|Spain|the Netherlands|Sweden|Poland|Belgium|Austria|Ireland|Denmark|Finland)\b"
                       r"|\b(?:German|French|Italian|Spanish|Dutch|Swedish|Polish|Belgian)\s+national\s+(?:control\s+)?list\b", re.I)),
    # The bundled Recommendation holds its title and first recitals only (MANIFEST: "Recommendation
    # points and the entire Guidelines annex" missing).
    Missing("the Guidelines annexed to Commission Recommendation (EU) 2024/2659 (scope, due diligence, red flags, "
            "examples)", "https://eur-lex.europa.eu/eli/reco/2024/2659/oj",
            # Named as the guidelines, or as the Recommendation that annexes them.
            re.compile(rf"\b(?:guid(?:ance|elines)|Recommendation|2024/2659)\b[^?.]{{0,80}}\b(?:red flags?"
                       rf"|{_DUE_DILIGENCE}|examples?|case stud)"
                       rf"|\b(?:red flags?|{_DUE_DILIGENCE})\b[^?.]{{0,80}}"
                       r"\b(?:guid(?:ance|elines)|Recommendation|2024/2659)\b", re.I)),
    # The Wassenaar file holds the Dual-Use List's Category 4 and Category 5 Part 1 (MANIFEST), not
    # the Munitions List: which of its entries covers something is out of corpus; goods said to be
    # on it ("a company that distributes items on the Wassenaar Munitions List") are a premise.
    Missing("the Wassenaar Munitions List", "https://www.wassenaar.org/control-lists/",
            re.compile(r"\b(?:which|what)\b[^?.]{0,40}\b(?:entry|entries|category|categories|ML\s?\d{0,2})\b[^?.]{0,30}"
                       r"\bWassenaar Munitions List\b"
                       r"|\bWassenaar Munitions List\b[^?.]{0,20}\b(?:entry|entries|category|categories)\b[^?.]{0,40}"
                       r"\b(?:cover|covers|include|includes|control|controls)\b", re.I)),
    # The Export Control Order is bundled without its Schedules (MANIFEST).
    Missing("the Schedules of the Export Control Order 2008 (the UK Strategic Export Control List, incl. the UK "
            "Military List and the UK's national 'PL' entries)", "https://www.legislation.gov.uk/uksi/2008/3231/schedules",
            re.compile(r"\bUK Strategic Export Control Lists?\b|\bPL\s?\d{4}[a-z]?\b"
                       # what the Military List holds; not goods it is said to hold ("software listed in
                       # the UK Military List": the Order's rules for such goods answer)
                       r"|" + _not_after("listed in the", "listed on the", "rated on the", "rated in the",
                                         "specified in the", "controlled under the", "covered by the",
                                         # a premise in a relative clause: "a camera that's on the …"
                                         "that's on the", "that is on the", "which is on the", "that are on the",
                                         "it's on the", "they're on the")
                       + r"\bUK Military List\b"
                       r"|\b(?:is|are)\s+(?:[\w-]+\s+){1,5}?(?:listed|rated|specified|controlled|covered)\s+"
                       r"(?:in|on|under|by)\s+the\s+UK Military List\b"
                       r"|['‘\"]PL['’\"] entr|\bPL entr(?:y|ies)\b"
                       # what a Schedule lists; not goods named as "specified in Schedule 2 or 3"
                       r"|" + _not_after("specified in", "listed in", "set out in", "controlled under", "specified under")
                       + r"\bSchedule\s+[1-4]\b[^?.]{0,30}\b(?:Export Control )?Order\b"
                       # "which UK-only dual-use items are listed in Schedule 3 of the Order?"
                       r"|\b(?:which|what)\b[^?.]{0,60}\b(?:listed|specified|set out|included|contained)\s+in\s+"
                       r"Schedule\s+[1-4]\b"
                       # which destinations the UK embargoes: Schedule 4 lists them (Part 746 is the US's)
                       r"|^(?=[\s\S]*\b(?:UK|U\.K\.|United Kingdom|British|Export Control Order)\b)[\s\S]*"
                       r"\b(?:which|what)\s+(?:countries|destinations|territories)\b[^?.]{0,60}\b(?:embargo|transit control)",
                       re.I)),
    # The Order provides for general licences (registration, Article 28; suspension, Article 32);
    # which OGELs exist and what each one's conditions are is in the licences themselves.
    Missing("the UK's open general export licences (OGELs) themselves",
            "https://www.gov.uk/government/collections/open-general-export-licences-ogels",
            re.compile(r"\bwhich\s+(?:\w+\s+){0,2}(?:OGELs?|open general (?:export )?licen[cs]es?)\b"
                       r"|\b(?:conditions?|requirements?)\s+(?:does|do|of|in|under)\s+(?:that|the|this|each)\s+"
                       r"(?:OGEL|open general)", re.I)),
    # § 732.3(m) points to the guidance; the supplement with the red flags is not bundled (MANIFEST).
    Missing("BIS's 'Know Your Customer' guidance and red flags (Supplement No. 1 to Part 732)",
            f"{_ECFR}/part-732",
            re.compile(r"^(?![\s\S]*\b(?:EU|Commission|2024/2659|Union)\b)[\s\S]*(?:"
                       r"\b(?:list|enumerate|what are|which are)\b[^?.]{0,40}\bred flags\b"
                       r"|\bred flags\b[^?.]{0,40}\b(?:BIS|KYC|Know Your Customer)\b[^?.]{0,30}\b(?:sets?|lists?|gives?)\b)",
                       re.I)),
    # Kinds of source the corpus holds none of: court judgments, Wassenaar plenary documents,
    # the registers of who holds an office or which authority licenses in a Member State.
    Missing("court judgments (case law)", "https://curia.europa.eu/juris/recherche.jsf?language=en",
            re.compile(r"\b(?:Court of Justice|CJEU|ECJ|General Court|Supreme Court|court of appeals?)\b"
                       r"|\b(?:judgment|case law|court (?:ruled|held|decided|ruling))\b", re.I)),
    Missing("the Wassenaar Arrangement's plenary statements and other public documents", "https://www.wassenaar.org/public-documents/",
            re.compile(r"\bplenary\b|\bWassenaar\b[^?]{0,60}\bbest practices?\b|\bbest practices?\b[^?]{0,60}\bWassenaar\b", re.I)),
    Missing("BIS advisory opinions", "https://www.bis.gov/",
            # What an opinion says; how to ask for one is § 748.3(c).
            re.compile(r"\badvisory opinions?\b[^?]{0,60}\b(?:say|says|said|conclude[sd]?|found|find|finds|held)\b", re.I)),
    Missing("the Commission's list of the Member States' competent authorities (Official Journal, C series)",
            "https://policy.trade.ec.europa.eu/help-exporters-and-importers/exporting-dual-use-items_en",
            re.compile(r"\b(?:which|what|who)\b[^?.]{0,20}\b(?:authority|authorities|agency|ministry|office|body)\b[^?.]{0,60}"
                       r"\b(?:in|of) (?:Ireland|Germany|France|Italy|Spain|the Netherlands|Sweden|Poland|Belgium|Austria|Denmark"
                       r"|Finland|Portugal|Greece|Czechia|the Czech Republic|Hungary|Romania|Bulgaria|Croatia|Slovakia|Slovenia"
                       r"|Estonia|Latvia|Lithuania|Luxembourg|Malta|Cyprus)\b"
                       # Asked which one it is ("Which Swedish government agency …?"), not what it may do
                       # ("Can the Dutch authority block the transit?", Article 7 answers).
                       r"|\b(?:which|what|who)\b[^?.]{0,20}\b(?:Irish|German|French|Italian|Spanish|Dutch|Swedish|Polish"
                       r"|Belgian|Austrian|Danish|Finnish"
                       r"|Portuguese|Greek|Czech)\s+(?:government\s+)?(?:authority|agency|ministry)\b", re.I)),
    Missing("who holds an office today (the bundled texts name offices, not their holders)", "",
            re.compile(r"\b(?i:who) (?:is|are) (?:currently |now )?(?:the )?(?:current |present )?"
                       r"(?:[A-Z][\w.-]* |of |for |and ){0,8}(?:Secretary|Minister|Director|Commissioner|Chair\w*|head)\b")),
    Missing("sanctions regulations (OFAC, EU restrictive measures)", "https://sanctionssearch.ofac.treas.gov/",
            re.compile(r"\bOFAC\b|\bSDN list\b|\b(?:impose[sd]?|imposing|adopted) (?:\w+ )?sanctions\b"
                       r"|\bsanctions (?:on|against)\b"
                       r"|\bsanctions? (?:regulation|package|list)s? (?:on|against) (?:Russia|Iran|Belarus|Syria|North Korea)\b"
                       # "the EU Russia sanctions regulation (833/2014)"
                       r"|\b(?:Russia|Iran|Belarus|Syria|North Korea)n? sanctions (?:regulations?|rules?|packages?)\b",
                       re.I),
            re.compile(r"\b(?:in|of|under|by) (?:the )?(?:EAR|Export Administration Regulations)\b"
                       r"|\b(?:part|§)\s*746\b|\bEAR'?s\b", re.I)),
)


# What happened (or how many) in a given year: statistics and events, which legal texts do not
# record. A year the retrieved passages themselves carry (the 2024 guidelines) is their own.
_YEAR = re.compile(r"(?<![/\d])(?:19[89]\d|20[0-4]\d)(?![/\d])|\b(?:last|this|previous|past) year\b", re.I)
_EVENT = re.compile(r"\bhow many\b|\bon average\b|\bwhat did\b|\bwhich\b[^?]{0,80}\b(?:did|were|was)\b"
                    r"|\b(?:added|granted|issued|refused|denied|approved|agreed|decided|ruled|adopted)\b", re.I)


_AMENDMENT_NOTE = re.compile(r"\d+ FR \d+[^\]\n]*")
# What an authority did: "how much did BIS fine …", "what guidance did the ECJU publish", "which
# Member States have notified measures". Laws say what an authority may or must do, not what it did.
_AUTHORITY_ACTED = re.compile(
    r"\b(?:did|has|have|had)\s+(?:the\s+)?(?:UK'?s?\s+|US\s+|EU\s+)?(?:BIS|ECJU|Commission|Council|OFAC|DDTC|BAFA|HMRC"
    r"|government|authorities|agency|department|Export Control Joint Unit|Member States?)\b[^?]{0,60}?"
    r"\b(?:fine[sd]?|penali[sz]e[sd]?|publish(?:ed)?|issue[sd]?|add(?:ed)?|grant(?:ed)?|refuse[sd]?|approve[sd]?"
    r"|announce[sd]?|notif(?:y|ied)|sanction(?:ed)?|impose[sd]?)\b"
    r"|\bwhich\b[^?]{0,60}\b(?:have|has)\s+(?:\w+\s+)?(?:notified|published|fined|imposed|added|granted|refused"
    r"|adopted|introduced)\b", re.I)


def asks_about_events(question: str, texts: Iterable[str]) -> bool:
    """Does the question ask what an authority did ("how much did BIS fine …", "what guidance did
    the ECJU publish"), or what happened, or how many, in a year that no retrieved passage
    mentions ("How many licences did the UK grant in 2023")?"""
    if _AUTHORITY_ACTED.search(question):
        return True
    # Only where the question asks: "In 2022 we exported servers to a company since added to the
    # Entity List. Do the renewal keys need a licence?" states its year as background.
    asked = asked_sentences(question)
    years = [m.group(0) for m in _YEAR.finditer(asked)]
    if not years or not _EVENT.search(asked):
        return False
    # Amendment notes ("[84 FR 54009, Oct. 9, 2019]") date the text, not the events asked about.
    haystack = _AMENDMENT_NOTE.sub(" ", " ".join(texts))
    return not any(re.fullmatch(r"\d{4}", y) and y in haystack for y in years)


# "Which countries are Wassenaar Participating States", "which Member States have notified
# measures": the answer is a list of countries, which a passage naming none cannot give. ("Which
# destinations need a licence" is answered by a rule: "all destinations", a Country Chart column.)
_ASKS_COUNTRIES = re.compile(r"\b(?:which|what|list (?:the |all )?)\s*(?:other\s+|\w+\s+){0,2}"
                             r"(?:countries|states|member states|nations)\b", re.I)
_COUNTRY_ALIASES = ("Russia", "Iran", "North Korea", "South Korea", "Syria", "Vietnam", "Venezuela", "Bolivia",
                    "Taiwan", "Laos", "Moldova", "Tanzania", "Macau", "Burma", "Czech Republic", "Turkey", "UK",
                    "United States", "U.S.", "USA", "Britain")


def _country_names() -> re.Pattern[str]:
    names = set(_COUNTRY_ALIASES)
    for country in pycountry.countries:
        names.update(n for n in (country.name, getattr(country, "common_name", None)) if n)
    alternatives = "|".join(re.escape(n) for n in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<!\w)(?:{alternatives})(?!\w)|\bCountry Groups? [A-E](?::\d)?\b")


_COUNTRY_NAMES = _country_names()


def asks_for_countries(question: str) -> bool:
    return bool(_ASKS_COUNTRIES.search(question))


def asks_besides_countries(question: str) -> bool:
    """"do we need a licence to export AFIS? to which countries, and will BIS approve it?": a
    question that asks something else in a sentence of its own is answered, the list of countries
    noted as missing; "which countries need a licence?" asks for the list alone, and so does a
    single sentence that joins the list to another part ("what does 3A981 control, and which
    countries …?")."""
    parts = [part for part in re.split(r"\?+", question) if len(part.split()) >= 3]
    return any(asks_for_countries(p) for p in parts) and any(not asks_for_countries(p) for p in parts)


# The instruments' own countries: "U.S. person", "distance the United States from such
# violations", "a destination outside the United Kingdom" say who exports, not where to.
_HOME_COUNTRIES = frozenset({"United States", "U.S.", "USA", "United Kingdom", "UK", "Britain"})


def names_countries(texts: Iterable[str]) -> bool:
    """Does any text name a country or a Country Group (a destination an answer could list)?"""
    return any(m.group(0) not in _HOME_COUNTRIES for text in texts for m in _COUNTRY_NAMES.finditer(text))


# "Canada's Export Control List", "China's MOFCOM catalogue", "Germany's national control list",
# "Japan's export rules": another country's own controls. The corpus bundles US, EU, UK and
# Wassenaar texts only; a Member State's national list is not bundled either.
_COUNTRY_RULES = re.compile(
    r"\b([A-Z][a-z]+(?: [A-Z][a-z]+)?)(?:'s|’s)\s+(?:[\w-]+\s+){0,3}?"
    r"(?i:list|catalogue|catalog|law|act|regulations?|rules|controls|licen[cs]ing)\b")
_BUNDLED_COUNTRIES = frozenset({"US", "GB"})


def foreign_rules(question: str) -> list[str]:
    """The countries (other than the US and the UK) whose own export-control list, law or rules
    the question asks about, by their short names."""
    found: list[str] = []
    for match in _COUNTRY_RULES.finditer(question):
        words = match.group(1)  # "South Korea", or "Do India" at a question's start
        country = None
        for name in dict.fromkeys([words, words.split()[-1]]):
            try:
                country = pycountry.countries.lookup(name)
                break
            except LookupError:
                continue
        if country is None:
            continue
        name = getattr(country, "common_name", None) or country.name
        if country.alpha_2 not in _BUNDLED_COUNTRIES and name not in found:
            found.append(name)
    return found


# "Leaving the Country Chart aside, how does BIS say it will approach …?": what the asker sets
# aside is not what they ask about.
_SET_ASIDE = re.compile(r"\b(?:leaving|setting|putting|leave|set|put)\s+"
                        r"(?:aside\s+(?:the\s+)?[^,;?.]{1,60}?(?=[,;?.]|$)|(?:the\s+)?[^,;?.]{1,60}?\s+aside\b)", re.I)


def missing_for(question: str) -> list[Missing]:
    """The unbundled instruments whose contents the question asks about, in its asking sentences."""
    asked = _SET_ASIDE.sub(" ", asked_sentences(without_abbreviation_stops(question)))
    return [m for m in MISSING if m.asks_content.search(asked) and not (m.unless and m.unless.search(asked))]


# The parts of the EAR (15 CFR chapter VII, subchapter C), as eCFR's table of contents lists
# them. A part the corpus does not bundle (743 Wassenaar reporting, 747 SIRA, 752 SCL) exists:
# a question about it is out of corpus, not a false premise; `§ 731.2` names no part at all.
EAR_PARTS = frozenset({730, 732, 734, 736, 738, 740, 742, 743, 744, 745, 746, 747, 748, 750, 752, 754, 756,
                       758, 760, 762, 764, 766, 768, 770, 772, 774})


def ear_part_url(part: int) -> str:
    return f"{_ECFR}/part-{part}"


@dataclass(frozen=True)
class NotHeld:
    """An instrument the question names that no indexed document is (nor quotes by number)."""

    name: str
    url: str  # "" when RegQA knows no official address for it (a foreign statute by its name)
    span: tuple[int, int]  # where the question names it


_EAR_PART = re.compile(r"(?<!\bto )\b(?:15\s*C\.?F\.?R\.?\s*(?:part\s*)?|part\s+)(7\d\d)\b(?!\.\d)", re.I)
_ITAR = re.compile(r"\bITAR\b|\b22\s*C\.?F\.?R\b|\bInternational Traffic in Arms Regulations?\b"
                   r"|\bU\.?S\.? Munitions List\b|\bUSML\b", re.I)
_ITAR_NAME = ("the International Traffic in Arms Regulations (22 CFR Parts 120-130), with the U.S. Munitions "
              "List")
_ITAR_URL = "https://www.ecfr.gov/current/title-22/chapter-I/subchapter-M"
# "Council Regulation (EU) No 833/2014", "Regulation 359/2011", "Decision (CFSP) 2019/797",
# "Decision 2014/512/CFSP": an EU act by its number.
_EU_ACT = re.compile(r"\b(?:Regulation|Decision|Directive|Recommendation|Common Position)\s*"
                     r"(?:\((?:EU|EC|EEC|CFSP|Euratom)\)\s*)?"
                     r"(?:No\.?\s*)?(\d{1,4}/\d{1,4})(?:/(?:EU|EC|EEC|CFSP))?\b", re.I)


# A statute by its name: "Japan's Foreign Exchange and Foreign Trade Act", "the Export Control
# Act 2002", "China's Export Control Law". Capitalised words, then Act/Law/Ordinance/Decree.
_NAMED_STATUTE = re.compile(
    r"\b((?:\(?[A-Z][\w’'-]*\)?\s+(?:(?:and|of|on|for|the)\s+)*){2,8}(?:Act|Law|Ordinance|Decree)\b(?:\s+(?:of\s+)?\d{4})?)")
# What precedes the name: the question's first words ("Under the", "Does the"), and a country's
# possessive ("Japan's"), kept in the name shown but not in the name looked up.
_LEADING = re.compile(r"^(?:(?:Under|Does|Do|Is|Are|Was|Were|What|Which|How|Can|Could|Would|Should|Will|Did|Has|Have|"
                      r"According|In|By|Per|If|When|Why|Our|We|The|To|For|From|the)\s+)+")
_POSSESSIVE = re.compile(r"^[A-Z][\w-]*[’']s\s+")
# "the US Export Control Reform Act": the jurisdiction said before the name is not part of it.
_JURISDICTION_PREFIX = re.compile(r"^(?:US|U\.S\.|USA|UK|U\.K\.|EU|E\.U\.|American|British|European|Federal)\s+")


def names_held_instrument(question: str, unheld: list[NotHeld]) -> bool:
    """Does the question also name an indexed instrument, besides the ones it does not hold? "Part
    743 of the EAR" names the EAR only as where part 743 is."""
    rest = question
    for n in unheld:
        rest = rest[: n.span[0]] + " " * (n.span[1] - n.span[0]) + rest[n.span[1] :]
    named = set(instruments_named(rest))
    if any(n.name.startswith("15 CFR Part") for n in unheld):
        named.discard(EAR)
    return bool(named)


# "What do that Common Position's criteria say", "which annex of that regulation lists them": the
# content of an act, which a bundled text that only refers to it (Article 15 of 2021/821 citing
# Common Position 2008/944/CFSP) does not give.
_WHAT_IT_SAYS = re.compile(r"\bwhat (?:do|does|did)\s+([^?]{0,80}?)\s+(?:say|says|provide|provides|list|lists|contain|"
                           r"contains)\b", re.I)
_WHICH_PART_OF = re.compile(r"\bwhich (?:annex|article|criteri(?:on|a))\b[^?]{0,20}?\b(?:of|in)\s+([^?,;]{0,60})", re.I)
_THAT_ACT = re.compile(r"\b(?:that|this|the said)\s+(?:regulation|common position|decision|directive|act)\b", re.I)


def asks_what_it_says(question: str, act: str) -> bool:
    """Does the question ask what an act itself says ("what do that Common Position's criteria
    say", "which annex of that regulation lists them"), not what a held text says about it
    ("what does Article 31 say about Regulation 428/2009")?"""
    asking = asked_sentences(question)
    subjects = [m.group(1) for m in _WHAT_IT_SAYS.finditer(asking)] + [m.group(1) for m in _WHICH_PART_OF.finditer(asking)]
    return any(act in subject or _THAT_ACT.search(subject) for subject in subjects)


def asked_only_about(question: str, unheld: list[NotHeld]) -> bool:
    """Do the question's asking sentences refer to an instrument it does not hold (by its name or
    "that Common Position") and name no held one? A held instrument named only where the question
    states its premise does not make it a question about the held one."""
    asking = asked_sentences(question)
    if asking == question or instruments_named(asking):
        return False
    return any(question[n.span[0] : n.span[1]] in asking for n in unheld) or bool(_THAT_ACT.search(asking))


def not_held(question: str, cite_as: Iterable[str], corpus_mentions: Callable[[str], bool]) -> list[NotHeld]:
    """The instruments the question names that the index does not hold: an EAR part no bundled
    document is, the ITAR, an EU act by a number that no bundled document carries. An act the
    bundled texts quote by number (Regulation (EC) No 428/2009, repealed by Article 31 of
    2021/821) is not counted: what they say about it may be the answer — unless the question
    asks what that act itself says (`asks_what_it_says`). `corpus_mentions(text)`
    says whether any indexed passage contains `text`."""
    held = list(cite_as)
    parts = {int(m) for name in held for m in re.findall(r"\b15 CFR Part (7\d\d)\b", name)}
    found: list[NotHeld] = []
    for match in _EAR_PART.finditer(question):
        part = int(match.group(1))
        if part in EAR_PARTS and part not in parts:
            found.append(NotHeld(f"15 CFR Part {part}", ear_part_url(part), match.span()))
    match = _ITAR.search(question)
    if match:
        found.append(NotHeld(_ITAR_NAME, _ITAR_URL, match.span()))
    for match in _NAMED_STATUTE.finditer(question):
        shown = _LEADING.sub("", match.group(1))
        name = _JURISDICTION_PREFIX.sub("", _POSSESSIVE.sub("", shown))
        if len(name.split()) >= 2 and not any(name.lower() in held_name.lower() for held_name in held) \
                and not corpus_mentions(name):
            found.append(NotHeld(shown, "", match.span()))
    for match in _EU_ACT.finditer(question):
        number = match.group(1)
        if not any(number in name for name in held) and (not corpus_mentions(number)
                                                         or asks_what_it_says(question, match.group(0))):
            found.append(NotHeld(match.group(0),
                                 f"https://eur-lex.europa.eu/search.html?scope=EURLEX&text={number}", match.span()))
    return found


# -- topics whose own section is recorded as missing ------------------------------------------

@dataclass(frozen=True)
class MissingSection:
    """A provision the us-ear MANIFEST records as existing but not bundled, with the words a
    question about its topic uses. Other bundled passages may mention the topic (§ 734.3(b)(3)
    points to § 734.8); an answer quoting them must say that the governing text is not here."""

    label: str
    topic: str
    instrument: str
    url: str
    asks: re.Pattern[str]
    # What only the missing section says of its topic (§ 742.13's licensing policy): a question
    # that asks it is out of corpus, however much the bundled passages say of the items.
    decides: re.Pattern[str] | None = None


MISSING_SECTIONS: tuple[MissingSection, ...] = (
    MissingSection("§ 734.8", "technology and software arising from fundamental research", "15 CFR Part 734",
                   f"{_ECFR}/part-734/section-734.8", re.compile(r"\bfundamental research\b", re.I)),
    MissingSection("§§ 734.13-734.16", "the EAR's definitions of export, reexport, release and transfer (in-country)",
                   "15 CFR Part 734", f"{_ECFR}/part-734",
                   re.compile(r"\b(?:definition of|define[sd]?|meaning of)\s+(?:an?\s+|the\s+)?['‘\"“]?(?:export|re-?export|release|"
                              r"transfer \(in-country\))\b|\bwhat (?:is|counts as) (?:an?\s+)?['‘\"“]?(?:export|re-?export|release)"
                              r"['’\"”]?\s*(?:under the EAR)?\?", re.I)),
    MissingSection("§ 742.13", "the licence policy for communications intercepting devices (ECCNs 5A980, 5D980, 5E980)",
                   "15 CFR Part 742", f"{_ECFR}/part-742/section-742.13",
                   re.compile(r"\b5[ADE]980\b|\bcommunications? intercepting\b|\b(?:surreptitious|covert)\b[^?.]{0,40}"
                              r"\b(?:intercept\w*|listening|eavesdropping)\b", re.I),
                   # "licence requirements and policy", "the EAR section on communications intercepting
                   # devices": what the section itself says.
                   re.compile(r"\b(?:licen[cs]e|licensing|review)\s+(?:requirements?\s+and\s+)?polic(?:y|ies)\b"
                              r"|\bpresumption of (?:denial|approval)\b|\bcase[- ]by[- ]case\b"
                              r"|\b(?:section|provision)s? (?:on|for|about|covering)\b", re.I)),
    MissingSection("Supplement No. 1 to Part 732", "BIS's 'Know Your Customer' guidance and red flags", "15 CFR Part 732",
                   f"{_ECFR}/part-732/appendix-Supplement%20No.%201%20to%20Part%20732",
                   re.compile(r"\bknow your customer\b|\bKYC\b", re.I)),
    MissingSection("Supplement No. 1 to Part 736", "the General Orders", "15 CFR Part 736",
                   f"{_ECFR}/part-736/appendix-Supplement%20No.%201%20to%20Part%20736",
                   re.compile(r"\bgeneral orders?\b", re.I)),
)


def missing_sections_for(question: str) -> list[MissingSection]:
    """The recorded-missing provisions whose topic the question asks about."""
    return [m for m in MISSING_SECTIONS if m.asks.search(question)]


def missing_sections_asked(question: str) -> list[MissingSection]:
    """The recorded-missing provisions whose own content the question asks for ("What is BIS's
    licensing policy for covert interception devices (5A980)?")."""
    asked = asked_sentences(question)
    return [m for m in missing_sections_for(question) if m.decides is not None and m.decides.search(asked)]
