"""The licence determination: the law's own decision path, one jurisdiction at a time.

EU (Regulation (EU) 2021/821): is the item listed in Annex I (Article 3(1)); may a Union
general export authorisation (Annex II, EU001) apply or is the transfer intra-Union (Article
11); the cyber-surveillance catch-all (Article 5) and the general catch-all (Article 4); national
measures (Article 9). US (EAR): candidate ECCNs; the regulations that name those ECCNs (e.g.
§ 742.7 crime control); the Country Chart method (§ 738.4, the chart itself not bundled); the
end user (screening against an imported list, § 744.11); military end use and end users
(§ 744.21, § 744.9) only where the facts name them.

An outcome is stated only as strongly as a cited provision and the given facts carry it:
"licence required" when a quoted rule applies on the facts alone, "licence may be required —
depends on X" when it turns on a fact the user has not settled, "cannot determine" when the
deciding text is not bundled or a fact is missing.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from assistant.entry_notes import exclusion_notes
from assistant.evidence import SelectionPolicy
from assistant.retrieval import HybridRetriever
from assistant.provenance import provenance_notices
from assistant.sentences import content_terms
from determination.facts import Country, EndUserType, Facts
from determination.provisions import (
    CCL,
    EU_ANNEX_I,
    EU_REGULATION,
    UK_ORDER,
    WASSENAAR,
    Provisions,
    equivalents,
)
from determination.records import Determination, Jurisdiction, Outcome, ScreeningSummary, Step
from indexer.reader import Filters
from indexer.records import Chunk

# Member States of the Union (ISO codes): an export to one of them is an intra-Union transfer.
EU_MEMBER_STATES = frozenset("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
# A candidate entry is reported as "closest", never as the classification: similarity of a
# description to an entry's text cannot settle technical parameters. Above this similarity the
# finding says the entry should be checked first; below it, that nothing in the list names the item.
NAMED_SIMILARITY = 0.55
CANDIDATES = 3
# A candidate entry is listed only within this cosine of the closest one.
CANDIDATE_MARGIN = 0.06
_STRENGTH: dict[Outcome, int] = {"licence required": 5, "licence may be required": 4,
                                 "cannot determine — source not bundled": 3, "cannot determine — fact missing": 3,
                                 "no licence required on the bundled texts": 1, "not applicable": 0}
_CAMERA = re.compile(r"\b(camera|imag\w+|infrared|thermal|video)\b", re.I)
_MILITARY_USE = re.compile(r"\b(military|army|armed forces|weapons?|defen[cs]e)\b", re.I)
_EU001_DESTINATIONS = re.compile(r"valid throughout the customs territory of the Union for exports to the following destinations")


@dataclass
class Candidate:
    code: str  # "5A001.j", "ECCN 3A981"
    chunk: Chunk
    similarity: float


Screen = Callable[[str, str | None], ScreeningSummary]


class Determiner:
    """`screen(name, country)` is the screening hook (a party list the user imported); without
    one, the end-user step says that no list was imported — never "no match". `min_similarity`
    is the floor below which a candidate entry is named but not quoted (the answerer's own
    floor, `SelectionPolicy.min_confidence`): "1C351.a (Viruses …)" is the closest Annex I entry
    to thumbcuffs, and a citation would claim that it bears on the answer."""

    def __init__(self, retriever: HybridRetriever, screen: Screen | None = None,
                 min_similarity: float | None = None) -> None:
        self.retriever = retriever
        self.screen = screen
        self.min_similarity = SelectionPolicy.load().min_confidence if min_similarity is None else min_similarity

    def determine(self, facts: Facts) -> Determination:
        snapshot = self.retriever.reader.snapshot()
        provisions = Provisions(snapshot)
        destination = facts.country
        screening = self._screening(facts)
        # The export control law of the place of export, then the EAR (which follows US-origin items
        # anywhere): the EU Regulation by default, the UK Order for exports from the UK.
        jurisdictions = []
        if facts.origin == "GB":
            jurisdictions.append(self._uk(facts, provisions))
        elif facts.origin != "US" and not self._us_only(facts, provisions):
            jurisdictions.append(self._eu(facts, destination, provisions))
        jurisdictions.append(self._us(facts, destination, provisions, screening))
        names = [j.name for j in jurisdictions]
        not_covered = [
            "The Commerce Country Chart (Supplement No. 1 to Part 738) is not bundled: which destinations the "
            "reasons for control of an ECCN reach cannot be read here.",
            "The CCL text bundled here has each ECCN's heading and items, not its License Requirements section.",
        ]
        if "EU" in names:
            not_covered.append("Member States' national control lists and measures under Article 9 of Regulation "
                               "(EU) 2021/821 are not bundled.")
        if "UK" in names:
            not_covered.append("The Export Control Order 2008's Schedules (the UK Military List, the UK dual-use "
                               "list, the prohibited and embargoed destinations) are not bundled.")
        if screening.status != "screened":
            not_covered.append("The Entity List and other restricted-party lists (Supplement No. 4 to Part 744, "
                               "the Consolidated Screening List) are not bundled; import one with `regqa lists import`.")
        return Determination(facts=facts, jurisdictions=jurisdictions, citations=provisions.citations,
                             screening=screening, not_covered=not_covered,
                             notices=provenance_notices(provisions.citations, snapshot.manifest))

    # -- EU ----------------------------------------------------------------------------------

    def _eu(self, facts: Facts, destination: Country | None, p: Provisions) -> Jurisdiction:
        steps: list[Step] = []
        listed = [c for c in (self._entry(p, EU_ANNEX_I, equivalents(code).get("EU", "")) for code in facts.codes) if c]
        article_3 = p.first(EU_REGULATION, "Article 3(1)")
        cite_3 = [p.cite(article_3)] if article_3 else []
        if listed:
            entry = listed[0]
            notes = exclusion_notes(p.chunks_of_doc(EU_ANNEX_I), entry.code)
            finding = (f"Yes, as classified by you: {entry.code} ({_heading(entry.chunk)}). Article 3(1) requires "
                       "an authorisation for the export of items listed in Annex I.")
            if notes:
                finding += (" Unless a note to the entry excludes the item: the entry's notes say what it does not "
                            "control (quoted).")
            steps.append(Step(
                key="eu.classification", question="Is the item listed in Annex I?", finding=finding,
                outcome="licence may be required" if notes else "licence required",
                depends_on="whether a quoted note to the entry excludes the item" if notes else None,
                citations=list(dict.fromkeys([p.cite(entry.chunk), *cite_3,
                                              *(p.cite(chunk, focus) for chunk, focus in notes)])),
                candidates=[entry.code]))
            destination_step = self._eu_destination(destination, p)
            if notes and destination_step.outcome == "licence required":  # only if the entry does catch it
                destination_step = destination_step.model_copy(update={
                    "outcome": "licence may be required",
                    "depends_on": "whether a quoted note to the entry excludes the item"})
            steps.append(destination_step)
        else:
            candidates = self._candidates(facts.item, EU_ANNEX_I)
            steps.append(self._classification_step("eu.classification", "Is the item listed in Annex I?",
                                                   facts.item, candidates, p, cite_3, "Annex I"))
            steps.append(self._article_5(facts, p))
        steps.append(self._article_4(facts, p))
        article_9 = p.first(EU_REGULATION, "Article 9(1)")
        if article_9:
            steps.append(Step(
                key="eu.national", question="Has the Member State of export added national measures (Article 9)?",
                finding="A Member State may prohibit or require an authorisation for unlisted items for public-security "
                        "or human-rights reasons; those national measures and lists are not bundled.",
                outcome="cannot determine — source not bundled", citations=[p.cite(article_9)]))
        return Jurisdiction(name="EU", instrument="Regulation (EU) 2021/821", steps=steps, summary=_summary(steps))

    def _eu_destination(self, destination: Country | None, p: Provisions) -> Step:
        question = "Does a Union general export authorisation cover the destination, or is it an intra-Union transfer?"
        if destination is None:
            return Step(key="eu.destination", question=question, finding="No destination was given.",
                        outcome="cannot determine — fact missing", depends_on="the destination country")
        if destination.code in EU_MEMBER_STATES:
            article_11 = p.first(EU_REGULATION, "Article 11(1)")
            return Step(key="eu.destination", question=question,
                        finding=f"{destination.name} is a Member State: this is an intra-Union transfer, which needs "
                                "an authorisation only for the items listed in Annex IV.",
                        outcome="licence may be required", depends_on="whether the item is listed in Annex IV",
                        citations=[p.cite(article_11)] if article_11 else [])
        eu001 = next((c for c in p.chunks(EU_REGULATION, "EU001") if destination.name in c.text), None)
        if eu001 is not None:
            return Step(key="eu.destination", question=question,
                        finding=f"{destination.name} is a destination of Union general export authorisation EU001; "
                                "it may be used for the item unless Annex II excludes it, on EU001's conditions "
                                "(registration and notification of first use).",
                        outcome="licence may be required",
                        depends_on="whether the item is excluded from EU001 and its conditions are met",
                        citations=[p.cite(eu001, destination.name)])
        # The sentence that opens EU001's list of destinations, not its heading: the heading names
        # them too, but a heading read as evidence says only which section it is.
        listed = next((c for c in p.chunks(EU_REGULATION, "EU001") if _EU001_DESTINATIONS.search(c.text)), None)
        return Step(key="eu.destination", question=question,
                    finding=f"{destination.name} is not among EU001's destinations, so an individual or global "
                            "authorisation is needed (other Union general authorisations, EU002-EU008, cover "
                            "specific items and are not matched here).",
                    outcome="licence required",
                    citations=[p.cite(listed, _EU001_DESTINATIONS)] if listed else [])

    def _article_5(self, facts: Facts, p: Provisions) -> Step:
        article_5_1, article_5_2 = p.first(EU_REGULATION, "Article 5(1)"), p.first(EU_REGULATION, "Article 5(2)")
        definition = p.first(EU_REGULATION, "Article 2(20)")
        who = {EndUserType.police: "a police or public-security body", EndUserType.government: "a government body",
               EndUserType.military: "a military body"}.get(facts.end_user_type) if facts.end_user_type else None
        finding = ("If the item is a cyber-surveillance item (Article 2(20)) not listed in Annex I, an authorisation "
                   "is required when the competent authority has informed you that it is or may be intended for "
                   "internal repression or serious violations of human rights; if your due diligence makes you "
                   "aware of such a use, you must notify the authority, which decides.")
        if who:
            finding += f" The end user is {who}: the due diligence the Article asks for bears directly on it."
        return Step(key="eu.cyber-surveillance", question="Does the cyber-surveillance catch-all (Article 5) apply?",
                    finding=finding, outcome="licence may be required",
                    depends_on="whether the authority has informed you, or your due diligence shows, that the items "
                               "are intended for internal repression or serious human-rights violations",
                    citations=[p.cite(c) for c in (article_5_1, article_5_2, definition) if c is not None])

    def _article_4(self, facts: Facts, p: Provisions) -> Step:
        article_4 = p.first(EU_REGULATION, "Article 4(1)")
        military = _military(facts)
        finding = ("An authorisation is required for unlisted items when the competent authority informs you that "
                   "they are or may be intended for weapons of mass destruction, a military end use in a country "
                   "under an arms embargo, or use in illegally exported military items.")
        if military:
            finding += " The end user or end use given is military, which this catch-all turns on."
        return Step(key="eu.catch-all", question="Does the general catch-all (Article 4) apply?", finding=finding,
                    outcome="licence may be required" if military else "no licence required on the bundled texts",
                    depends_on="whether the competent authority informs you of a use listed in Article 4(1)",
                    citations=[p.cite(article_4)] if article_4 else [])

    # -- UK ----------------------------------------------------------------------------------

    def _uk(self, facts: Facts, p: Provisions) -> Jurisdiction:
        """The Export Control Order 2008 as bundled: its articles without its Schedules (the UK
        Military List, the UK dual-use list and the destination lists), so listing and
        destination steps say what is missing, and the WMD end-use control is stated."""
        steps: list[Step] = []
        military = p.first(UK_ORDER, "Article 3(a)")
        if military is not None:
            steps.append(Step(
                key="uk.military", question="Is the item military goods (Article 3)?",
                finding="The Order prohibits exporting military goods without a licence; which goods those are is in "
                        "Schedule 2 (the UK Military List), which is not bundled.",
                outcome="cannot determine — source not bundled", citations=[p.cite(military)]))
        dual = [c for c in (p.first(UK_ORDER, "Article 4(1)(a)"), p.first(UK_ORDER, "Article 4(2)")) if c is not None]
        if dual:
            steps.append(Step(
                key="uk.dual-use", question="Is it a UK controlled dual-use good going to a prohibited destination "
                                           "(Article 4)?",
                finding="The UK controlled dual-use goods and their prohibited destinations are in the Schedules, "
                        "which are not bundled; nor is the dual-use Regulation as it applies in the UK (the EU "
                        "Annex I entries are the closest guide in this corpus).",
                outcome="cannot determine — source not bundled", citations=[p.cite(c) for c in dual]))
        wmd = [c for c in (p.first(UK_ORDER, "Article 6(1)(a)"), p.first(UK_ORDER, "Article 6(2)")) if c is not None]
        if wmd:
            steps.append(Step(
                key="uk.wmd", question="Does the WMD end-use control (Article 6) apply?",
                finding="If you have grounds for suspecting that unlisted dual-use items are or may be intended for "
                        "WMD purposes, you may not export them unless reasonable enquiries satisfy you they will not "
                        "be so used.",
                outcome="licence may be required",
                depends_on="whether you have grounds for suspecting a WMD purpose",
                citations=[p.cite(c) for c in wmd]))
        return Jurisdiction(name="UK", instrument="Export Control Order 2008 (articles; Schedules not bundled)",
                            steps=steps, summary=_summary(steps))

    # -- US ----------------------------------------------------------------------------------

    def _us(self, facts: Facts, destination: Country | None, p: Provisions, screening: ScreeningSummary) -> Jurisdiction:
        steps: list[Step] = []
        classified = [c for c in (self._entry(p, CCL, equivalents(code).get("US", "")) for code in facts.codes) if c]
        if classified:
            entry = classified[0]
            steps.append(Step(key="us.classification", question="Which ECCN on the Commerce Control List?",
                              finding=f"As classified by you: {entry.code} ({_heading(entry.chunk)}).",
                              outcome="not applicable", citations=[p.cite(entry.chunk)], candidates=[entry.code]))
            eccns = classified
        else:
            eccns = self._candidates(facts.item, CCL)
            steps.append(self._classification_step("us.classification", "Which ECCN on the Commerce Control List?",
                                                   facts.item, eccns, p, [], "the Commerce Control List",
                                                   unlisted=p.first("15-cfr-part-734", "§ 734.3(c)")))
        embargo = self._embargo(destination, p)
        if embargo is not None:
            steps.append(embargo)
        codes = _item_codes(facts, eccns)
        steps += self._part_742(facts, codes, destination, p)
        steps += self._named_rules(codes, p)
        chart = p.first("15-cfr-part-738", "§ 738.4(a)")
        steps.append(Step(
            key="us.country-chart", question="Does the Country Chart require a licence for the destination?",
            finding="§ 738.4 says to combine the ECCN's License Requirements with the Commerce Country Chart; the chart "
                    "(Supplement No. 1 to Part 738) and the ECCNs' License Requirements sections are not bundled.",
            outcome="cannot determine — source not bundled", citations=[p.cite(chart)] if chart else []))
        steps.append(self._end_user(facts, screening, p))
        steps += self._military(facts, destination, p)
        return Jurisdiction(name="US", instrument="Export Administration Regulations (15 CFR Parts 730-774)",
                            steps=steps, summary=_summary(steps))

    def _embargo(self, destination: Country | None, p: Provisions) -> Step | None:
        """Part 746 (embargoes and other special controls) where a section is headed with the
        destination's name; its own words decide whether every item needs a licence."""
        if destination is None:
            return None
        name = re.compile(rf"\b{re.escape(destination.name)}\b", re.I)
        heads = [c for c in p.snapshot.by_doc.get("15-cfr-part-746", [])
                 if re.fullmatch(r"§ 746\.\d+", c.unit) and name.search(c.unit_title)]
        if not heads:
            return None
        section = heads[0].unit
        rule = next((c for c in p.chunks("15-cfr-part-746", section)
                     if c.section.startswith(f"{section}(a)") and re.search(r"license", c.text, re.I)), None)
        if rule is None:
            return None
        everything = re.compile(r"(?:all|any) items? subject to the EAR", re.I)
        cite = p.cite(rule, everything if everything.search(rule.text) else re.compile(r"license", re.I))
        quote = next(c.quote for c in p.citations if c.n == cite)
        whole = bool(everything.search(quote))
        return Step(key="us.embargo", question=f"Do the embargo or special controls of Part 746 cover {destination.name}?",
                    finding=f"{section} ({heads[0].unit_title or destination.name}) sets licence requirements for "
                            f"{destination.name}" + (" that reach every item subject to the EAR, subject to the "
                                                     "exceptions it states." if whole else
                                                     ", for the items and reasons for control it names."),
                    outcome="licence required" if whole else "licence may be required",
                    depends_on=None if whole else f"whether the item falls under the controls of {section}",
                    citations=[cite])

    def _part_742(self, facts: Facts, item_codes: list[str], destination: Country | None,
                  p: Provisions) -> list[Step]:
        """The Part 742 sections that name the item's code (its most specific form first:
        `6A003.b.4.b` before `ECCN 6A003`), each quoted where it names it. Codes count when the
        user gave them, or when a candidate entry is close to the description; a distant
        candidate (a camera entry for a face-recognition system) would cite rules about other
        items. With none, § 742.7 is still shown for police and government end users."""
        codes = list(dict.fromkeys(item_codes + [c[:5] for c in item_codes]))
        steps: list[Step] = []
        seen: set[str] = set()
        for code in codes:
            pattern = re.compile(rf"(?<![\w.]){re.escape(code)}(?![\w]|\.[a-z0-9])" if len(code) > 5 else
                                 rf"(?<![\w.]){re.escape(code)}\b")
            for chunk in p.chunks_of_doc("15-cfr-part-742"):
                unit = chunk.unit or chunk.section
                if unit in seen or not pattern.search(chunk.text):
                    continue
                seen.add(unit)
                title = chunk.unit_title or unit
                cites = [p.cite(chunk, pattern)]
                to = f" Whether it reaches {destination.name} turns on the quoted conditions and the Country " \
                    "Chart (not bundled)." if destination else ""
                steps.append(Step(
                    key="us.crime-control" if unit == "§ 742.7" else f"us.part-742:{unit}",
                    question=f"Do the licence requirements of {unit} ({title}) apply?",
                    finding=f"{code if len(code) > 5 else 'ECCN ' + code} is named in {chunk.section}, which sets "
                            f"licence requirements for it.{to}",
                    outcome="licence may be required",
                    depends_on="the conditions the quoted text states and the destination", citations=cites))
                if len(steps) >= 3:
                    return steps
        if "§ 742.7" not in seen:
            lead = p.first("15-cfr-part-742", "§ 742.7(a)")
            police = facts.end_user_type in (EndUserType.police, EndUserType.government)
            finding = ("None of the item's codes is among the ECCNs § 742.7(a) names; the crime-control requirement "
                       "applies only if the item is classified under one of them.")
            if police:
                finding += " The end user is a police or government body, the case these controls were written for."
            if police or not steps:
                steps.append(Step(
                    key="us.crime-control", question="Do the crime-control licence requirements (§ 742.7) apply?",
                    finding=finding,
                    outcome="licence may be required" if police else "no licence required on the bundled texts",
                    depends_on="whether the item is classified under an ECCN § 742.7(a) names",
                    citations=[p.cite(lead)] if lead else []))
        return steps

    def _named_rules(self, codes: list[str], p: Provisions) -> list[Step]:
        """The two EAR provisions that name entries by code outside Part 742: § 738.3(a)(1),
        the ECCNs that need a licence for all destinations whatever the Country Chart says
        (5A980, 0A983, 5A001.f.1 …), and § 740.2(a), the items no licence exception (or only
        GOV) may be used for. Only the exact code counts: 5A001.f.1 is named, 5A001 is not."""
        rules = (("us.all-destinations", "15-cfr-part-738", "§ 738.3(a)",
                  "Does the entry need a licence for all destinations?", "all destinations",
                  "which requires a licence for all destinations for the entries it names, whatever the Country "
                  "Chart says", "licence required"),
                 ("us.exceptions", "15-cfr-part-740", "§ 740.2(a)", "May a licence exception be used?", None,
                  "which restricts the use of licence exceptions for it", "licence may be required"))
        steps: list[Step] = []
        for key, doc_id, within, question, focus, what, outcome in rules:
            for code in codes:
                pattern = re.compile(rf"(?<![\w.]){re.escape(code)}(?![\w]|\.[a-z0-9])")
                chunk = next((c for c in p.chunks_of_doc(doc_id)
                              if c.section.startswith(within) and pattern.search(c.text)), None)
                if chunk is None:
                    continue
                steps.append(Step(
                    key=key, question=question, finding=f"{code} is named in {chunk.section}, {what}.",
                    outcome=outcome, depends_on=None if outcome == "licence required" else
                    "the conditions the quoted text states",
                    citations=[p.cite(chunk, focus or pattern)]))
                break
        return steps

    def _end_user(self, facts: Facts, screening: ScreeningSummary, p: Provisions) -> Step:
        rule = p.first("15-cfr-part-744", "§ 744.11(a)")
        cites = [p.cite(rule, "A license is required")] if rule else []
        question = "Is the end user on a restricted-party list (Entity List, § 744.11)?"
        if screening.status == "screened" and screening.hits:
            return Step(key="us.end-user", question=question, finding=screening.detail, outcome="licence required",
                        citations=cites)
        if screening.status == "screened":
            return Step(key="us.end-user", question=question, finding=screening.detail,
                        outcome="no licence required on the bundled texts", citations=cites)
        outcome: Outcome = "cannot determine — fact missing" if screening.status in ("no-name", "refused") \
            else "cannot determine — source not bundled"
        return Step(key="us.end-user", question=question, finding=screening.detail, outcome=outcome, citations=cites)

    def _military(self, facts: Facts, destination: Country | None, p: Provisions) -> list[Step]:
        """§ 744.21 and § 744.9 only where the facts name a military end user or end use."""
        military = _military(facts)
        if not military:
            return []
        steps = []
        rule = p.first("15-cfr-part-744", "§ 744.21(a)")
        if rule is not None:
            covered = destination is not None and destination.name in rule.text
            where = f"{destination.name} is one of the countries it names" if covered else \
                "the destination is not one of the countries it names" if destination else "no destination was given"
            steps.append(Step(
                key="us.military-end-use", question="Do the military end-use and end-user rules (§ 744.21) apply?",
                finding=f"§ 744.21 requires a licence for items you know are intended for a military end use or "
                        f"end user in the countries it names; {where}.",
                outcome="licence may be required" if covered else "not applicable",
                depends_on="whether you know of a military end use or end user (the ECCNs it covers are in its "
                           "Supplement No. 2, not bundled)",
                citations=[p.cite(rule, destination.name if covered and destination else None)]))
        cameras = p.first("15-cfr-part-744", "§ 744.9(a)")
        if cameras is not None and _CAMERA.search(facts.item):
            steps.append(Step(
                key="us.military-cameras", question="Do the rules on cameras for military end users (§ 744.9) apply?",
                finding="§ 744.9 requires a licence for certain cameras and components (6A003, 6A993 and related "
                        "entries) intended for a military end user.",
                outcome="licence may be required", depends_on="whether the camera falls under the ECCNs § 744.9 lists",
                citations=[p.cite(cameras)]))
        return steps

    # -- pieces ------------------------------------------------------------------------------

    def _screening(self, facts: Facts) -> ScreeningSummary:
        if not facts.end_user:
            return ScreeningSummary(status="no-name", detail="No end-user name was given, so nothing was screened.")
        if self.screen is None:
            return ScreeningSummary(status="no-list", detail="No screening list imported: the end user was not "
                                    "screened (import the Consolidated Screening List with `regqa lists import`).")
        return self.screen(facts.end_user, facts.destination)

    def _us_only(self, facts: Facts, p: Provisions) -> bool:
        """Classified under codes that only the CCL holds ("a covert listening device classified
        under ECCN 5A980", a US-only 980 series), with no place of export given: the exporter
        is under the EAR, and walking the EU Regulation for a code Annex I does not have would
        quote its nearest entries about other items."""
        return facts.origin is None and bool(facts.codes) and all(
            self._entry(p, EU_ANNEX_I, equivalents(code).get("EU", "")) is None
            and self._entry(p, CCL, equivalents(code).get("US", "")) is not None for code in facts.codes)

    def _entry(self, p: Provisions, doc_id: str, code: str) -> Candidate | None:
        chunk = p.first(doc_id, code) if code else None
        return Candidate(code, chunk, 1.0) if chunk is not None else None

    def _candidates(self, item: str, doc_id: str) -> list[Candidate]:
        result = self.retriever.search(item, Filters.of(doc_ids=[doc_id]), CANDIDATES * 2)
        found: list[Candidate] = []
        for passage in result.passages:
            chunk = passage.first
            code = chunk.unit or chunk.section
            if code.startswith("Definition") or any(c.code == code for c in found):
                continue
            # Quoted by its heading (the unit's first chunk), not by whichever paragraph matched.
            heading = next((c for c in result.snapshot.by_doc[doc_id] if (c.unit or c.section) == code), chunk)
            found.append(Candidate(code, heading, round(passage.dense or 0.0, 3)))
        # Only entries nearly as close as the closest: "2B003.b (A face width of 15 % of pitch
        # diameter …)" is not a candidate for a facial-recognition camera because of one word.
        # The closest always stays: how far it is is reported, not hidden.
        best = max((c.similarity for c in found), default=0.0)
        return [c for c in found if c.similarity >= best - CANDIDATE_MARGIN][:CANDIDATES]

    def _classification_step(self, key: str, question: str, item: str, candidates: list[Candidate],
                             p: Provisions, extra: list[int], where: str, unlisted: Chunk | None = None) -> Step:
        """`unlisted` is the provision that says what an item no entry lists is (EAR99, § 734.3(c)),
        quoted when no candidate is close enough to cite."""
        if not candidates:
            return Step(key=key, question=question, finding=f"No entry of {where} resembles the description.",
                        outcome="no licence required on the bundled texts", citations=extra)
        names = "; ".join(f"{c.code} ({_heading(c.chunk)}, similarity {c.similarity:.2f})" for c in candidates)
        naming = next((c for c in candidates if names_item(item, c.chunk.text)), None)
        best, named = naming or candidates[0], naming is not None
        if best.similarity < self.min_similarity and not named:
            finding = f"No entry of {where} names the item or is close to its description."
            if unlisted is not None:
                finding += " Items subject to the EAR that are not listed on the CCL are designated EAR99."
            return Step(key=key, question=question,
                        finding=finding + " If none applies, the item is not listed and the catch-all steps decide.",
                        outcome="licence may be required", depends_on="whether any entry's parameters catch the item",
                        citations=[*extra, *([p.cite(unlisted, "EAR99")] if unlisted is not None else [])],
                        candidates=[c.code for c in candidates])
        if best.similarity >= NAMED_SIMILARITY or named:
            why = "its text names the item" if named else "its text is close to the description"
            finding = (f"Check {best.code} first: {why}. Candidates, closest first: "
                       f"{names}. Classification turns on the entry's technical parameters, which a description "
                       "does not settle.")
        else:
            finding = (f"Not found in {where} as such: no entry names the item. Closest entries: {names}. If none "
                       "applies, the item is not listed and the catch-all steps decide.")
        same = _same_entry(p, best)
        if same:
            finding += f" The same entry in the other bundled lists: {same}."
        return Step(key=key, question=question, finding=finding, outcome="licence may be required",
                    depends_on="whether the item meets a candidate entry's parameters",
                    citations=[p.cite(best.chunk), *extra], candidates=[c.code for c in candidates])


def _item_codes(facts: Facts, eccns: list[Candidate]) -> list[str]:
    """The codes the item's rules are looked up by: the ones the user gave, and a candidate entry
    that names the item or is close to the description (a distant one would cite rules about
    other items)."""
    codes = [c for c in facts.codes if re.match(r"^\d[A-E]\d{3}", c)]
    codes += [c.code.removeprefix("ECCN ") for c in eccns
              if c.similarity >= NAMED_SIMILARITY or names_item(facts.item, c.chunk.text)]
    return list(dict.fromkeys(codes))


# A CCL entry's "Related Controls:" paragraph names what it does not control and where that is
# ("Thumbcuffs and fingercuffs are classified under ECCN 0A983", in ECCN 0A982).
_RELATED_CONTROLS = re.compile(r"^Related Controls:.*$", re.M)


def names_item(item: str, text: str) -> bool:
    """Does an entry's text name the item in its own words ("thumbcuffs" in ECCN 0A983's "implements
    of torture, including thumbscrews, thumbcuffs, …")? Then it is the entry to check first, however
    far a short description's vector is from the entry's. Not in its pointers to other entries."""
    wanted = content_terms(item)
    return bool(wanted) and wanted <= content_terms(_RELATED_CONTROLS.sub(" ", text))


def _same_entry(p: Provisions, entry: Candidate) -> str:
    """The entry's equivalents that exist in the other bundled lists, derived from the code."""
    own = {CCL: "US", EU_ANNEX_I: "EU", WASSENAAR: "Wassenaar"}.get(entry.chunk.doc_id)
    docs = {"EU": EU_ANNEX_I, "Wassenaar": WASSENAAR, "US": CCL}
    found = [f"{name} {code}" for name, code in equivalents(entry.code.removeprefix("ECCN ")).items()
             if name != own and p.first(docs[name], code) is not None]
    return "; ".join(found)


def _military(facts: Facts) -> bool:
    """Do the facts name a military end user or end use (what Article 4 and § 744.21 turn on)?"""
    return facts.end_user_type is EndUserType.military or bool(facts.end_use and _MILITARY_USE.search(facts.end_use))


def _heading(chunk: Chunk) -> str:
    """An entry's heading as a label (its quotation marks dropped: it names, it does not quote)."""
    title = (chunk.unit_title or chunk.text.split("\n", 1)[0]).translate(str.maketrans("", "", "“”\"‘’"))
    return title if len(title) <= 90 else title[:87].rsplit(" ", 1)[0] + "…"


def _summary(steps: list[Step]) -> Outcome:
    return max((s.outcome for s in steps), key=lambda o: _STRENGTH[o], default="not applicable")

