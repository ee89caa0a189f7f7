"""The extractive composer picks, within a cited unit, the sentence that answers: a rare word of
the question (by the index's idf) counts for more than a common one."""

from __future__ import annotations

import pytest

from assistant.extractive import compose
from assistant.question_text import question_parts
from assistant.retrieval import Passage
from assistant.sentences import heading_text, sentence_spans
from indexer.records import Chunk
from indexer.sparse import SparseIndex

TEXT = ("Software for export control is described in this Article in full. "
        "A handover interface is covered by this Article as well.")
# A small index in which "software" and "export" are everywhere and "handover" occurs once.
CORPUS = [TEXT] + [f"Software for the export of items, number {i}, is controlled as software." for i in range(40)]


def _passage(n: int, text: str) -> Passage:
    chunk = Chunk(chunk_id=f"c{n}", doc_id="doc", ordinal=n, cite_as="Test Act", title="Test Act",
                  section=f"Article {n}", heading_path=f"Article {n}", context="", text=text, start=0,
                  end=len(text), token_count=40, jurisdiction="EU", doc_type="regulation", as_of="2025-01-01",
                  source_url="", completeness="complete", unit=f"Article {n}")
    return Passage([chunk], score=1.0, dense=0.5, exact=False, chunk_scores={chunk.chunk_id: 1.0})


@pytest.fixture(scope="module")
def index() -> SparseIndex:
    return SparseIndex.build([f"c{i}" for i in range(len(CORPUS))], CORPUS)


def test_idf_follows_the_index_and_its_stemming(index: SparseIndex) -> None:
    weights = index.idf(["software", "handover", "interfaces", "zebra"])
    assert weights["handover"] > weights["software"] > 0
    assert weights["interfaces"] == index.idf(["interface"])["interface"]  # one stem
    assert weights["zebra"] == 0.0  # not in the index: tells no sentence apart


def test_the_rare_word_of_the_question_chooses_the_sentence(index: SparseIndex) -> None:
    # The second unit cited gets one quote (the first gets two): which sentence of it?
    passages = [_passage(1, "Nothing in this Article applies to items other than goods."), _passage(2, TEXT)]
    question = "Does the export control of software cover a handover interface?"
    # Counted word for word, the opening sentence shares more ("software", "export", "control").
    plain = compose(question, passages)
    weighted = compose(question, passages, weights=index.idf)
    assert plain.citations[-1].quote.startswith("Software for export control")
    assert weighted.citations[-1].quote.startswith("A handover interface")


# -- a list item is quoted after the words that introduce it ----------------------------------

def test_a_list_item_is_quoted_after_its_introducing_paragraphs(assistant) -> None:  # noqa: ANN001
    from assistant.retrieval import introducers

    snapshot = assistant.retriever.reader.snapshot()
    parents = assistant.retriever.parents(snapshot)
    by_section = {c.section: c for c in snapshot.by_doc["15-cfr-part-734"]}
    chain = introducers(snapshot, by_section["§ 734.3(b)(3)(ii)"], parents)
    assert [c.section for c in chain] == ["§ 734.3(b)", "§ 734.3(b)(3)"]  # outermost first
    assert all(c.text.rstrip().endswith(":") for c in chain)
    # A paragraph that stands alone has nothing to introduce it: "(a) (1) All license applications
    # will be resolved …" does not end with a colon.
    assert introducers(snapshot, next(c for c in snapshot.by_doc["15-cfr-part-750"]
                                      if c.section == "§ 750.4(a)(2)"), parents) == []

    response = assistant.ask("Is fundamental research subject to the EAR?")
    item = next(c for c in response.citations if c.section == "§ 734.3(b)(3)(ii)")
    # Its chain is quoted before it, outermost first — as its lead-ins, or (b) as a quote of its
    # own when retrieval ranked it, with (3) still between them.
    by_section = {c.section: c for c in response.citations}
    outer, middle = by_section["§ 734.3(b)"], by_section["§ 734.3(b)(3)"]
    assert outer.quote == "(b) The following are not subject to the EAR:"
    assert middle.introduces == item.n
    answer = response.answer
    assert answer.index(outer.quote) < answer.index(middle.quote) < answer.index(item.quote)


def test_a_uk_list_item_is_quoted_between_its_dash_lead_in_and_its_closing_words(assistant) -> None:  # noqa: ANN001
    """The UK Order opens its lists with a dash and states the rule's condition after them:
    "(2) Subject to article 26, the enquirer shall not— (a) export the goods in question; or (b)
    transfer … by electronic means to a destination outside the United Kingdom unless, having made
    all reasonable enquiries …". An item quoted alone ("(a) export the goods in question; or")
    tells the reader nothing of the rule."""
    from assistant.retrieval import closing_words, introducers, label_positions

    snapshot = assistant.retriever.reader.snapshot()
    parents = assistant.retriever.parents(snapshot)
    labels = label_positions(snapshot)
    article6 = [c for c in snapshot.by_doc["uk-export-control-order-2008"] if c.section.startswith("Article 6(2)")]
    item = next(c for c in article6 if c.section == "Article 6(2)(a)")
    chain = introducers(snapshot, item, parents)
    assert [c.text for c in chain] == ["(2) Subject to article 26, the enquirer shall not—"]
    closing = closing_words(snapshot, item, chain, labels)
    assert [c.section for c in closing] == ["Article 6(2)"]
    assert closing[0].text.startswith("to a destination outside the United Kingdom unless, having made all "
                                      "reasonable enquiries")
    # A paragraph that is itself the rule (no list, no dash) has neither.
    plain = next(c for c in snapshot.by_doc["uk-export-control-order-2008"] if c.section == "Article 8(1)")
    assert introducers(snapshot, plain, parents) == [] and closing_words(snapshot, plain, [], labels) == []
    # A section's source note after its last paragraph closes nothing.
    item = next(c for c in snapshot.by_doc["15-cfr-part-740"] if c.section == "§ 740.16(b)(1)")
    assert closing_words(snapshot, item, introducers(snapshot, item, parents), labels) == []
    # An EU paragraph's own sentence after its list belongs to it: "brokering services" excludes
    # the sole provision of ancillary services, which is what a freight forwarder asks about.
    item = next(c for c in snapshot.by_doc["eu-2021-821-dual-use-regulation"] if c.section == "Article 2(7)(a)")
    closing = closing_words(snapshot, item, introducers(snapshot, item, parents), labels)
    assert len(closing) == 1 and closing[0].text.startswith(
        "For the purposes of this Regulation, the sole provision of ancillary services is excluded from this definition.")
    # A unit cited by one label (EU004) has none either: its next chunk is its next item or part.
    eu004 = [c for c in snapshot.by_doc["eu-2021-821-dual-use-regulation"] if c.section == "EU004"]
    item = next(c for c in eu004 if c.text.startswith("- (f) the relevant items"))
    assert introducers(snapshot, item, parents) and closing_words(snapshot, item, introducers(snapshot, item, parents),
                                                                  labels) == []

    response = assistant.ask("A UK exporter suspects unlisted goods may be intended for weapons of mass "
                             "destruction. What does the UK Order require before it can export them?")
    quotes = [c.quote for c in response.citations if c.doc_id == "uk-export-control-order-2008"]
    opening = quotes.index("(2) Subject to article 26, the enquirer shall not—")
    condition = next(i for i, q in enumerate(quotes) if q.startswith("to a destination outside the United Kingdom"))
    assert any(q.startswith(("(a) export the goods", "(b) transfer the software")) for q in quotes[opening:condition])
    assert response.answer.index(quotes[opening]) < response.answer.index(quotes[condition])
    # Like the lead-in, the closing words complete the item's sentence and claim nothing alone.
    uk = [c for c in response.citations if c.doc_id == "uk-export-control-order-2008"]
    item = next(c for c in uk[opening + 1 : condition] if c.introduces is None)
    assert uk[condition].introduces == item.n and uk[opening].introduces == item.n


def test_closing_words_that_depend_on_other_paragraphs_bring_them(assistant) -> None:  # noqa: ANN001
    """Article 4(1) of the UK Order closes its list with "if paragraph (2) or (3) applies.": the
    answer to "everywhere, or only to certain places?" is in (2), where the destination is a
    prohibited destination in Schedule 3."""
    response = assistant.ask("UK: we have an item on the UK national-only dual-use list (Sched 3). Does that mean we "
                             "need a licence to export it everywhere, or only to certain places?")
    quotes = [c.quote for c in response.citations if c.doc_id == "uk-export-control-order-2008"]
    closing = quotes.index("if paragraph (2) or (3) applies.")
    assert quotes[closing + 1].startswith("(2) This paragraph applies where the destination is one specified in "
                                          "Schedule 3 as a prohibited destination")
    # Like the closing words, the paragraph it brings completes the item's rule: context, no claim.
    cited = next(c for c in response.citations if c.quote == quotes[closing + 1])
    items = {c.n for c in response.citations if c.quote.startswith(("(a) export UK controlled", "(b) transfer UK"))}
    assert cited.introduces in items


def test_an_item_of_a_one_label_unit_is_introduced_past_its_siblings(assistant) -> None:  # noqa: ANN001
    """EU004 is cited by one label, so its items have no parent paragraph. "(f) the relevant
    items are to be exported for a private presentation" is an exclusion: it reads as one only
    after "3. This authorisation does not authorise the export of items where:", several chunks
    back past (a)-(e) and (a)'s own (i)-(iii); the unit's bare heading introduces nothing."""
    from assistant.retrieval import introducers

    snapshot = assistant.retriever.reader.snapshot()
    parents = assistant.retriever.parents(snapshot)
    eu004 = [c for c in snapshot.by_doc["eu-2021-821-dual-use-regulation"] if c.section == "EU004"]
    item = next(c for c in eu004 if c.text.startswith("- (f) the relevant items"))
    chain = introducers(snapshot, item, parents)
    assert [c.text.rstrip().rsplit("\n", 1)[-1] for c in chain] == [
        "- 3.This authorisation does not authorise the export of items where:"]
    # An item whose nearest non-sibling paragraph does not end with a colon has no introducer.
    first_item = next(c for c in eu004 if c.text.startswith("- 1.This authorisation"))
    assert introducers(snapshot, first_item, parents) == []

    response = assistant.ask("We want to take a demo unit of our network monitoring appliance to a trade fair in "
                             "Dubai under EU004. Can we also sell the demo unit there if a visitor wants it?")
    quotes = [c.quote for c in response.citations if c.section == "EU004"]
    assert not any("TEMPORARY EXPORT FOR EXHIBITION OR FAIR" in q for q in quotes), quotes
    # The exclusion that answers (no sale at the fair) is quoted after the words that make it one.
    sale = next(i for i, q in enumerate(quotes) if q.startswith("(i) the export is to take place as a result of a "
                                                                  "commercial transaction"))
    assert "3.This authorisation does not authorise the export of items where:" in quotes[:sale], quotes


def test_an_item_stored_apart_from_its_lists_opening_gets_the_lines_that_open_it(assistant) -> None:  # noqa: ANN001
    """EU005's "(iv) for use in connection with a violation of human rights …" is stored apart from
    "(a) … are or may be intended, in their entirety or in part:", whose paragraph ends with its
    "(iii) …; or", and that from "1.This authorisation does not authorise the export of items
    where:" in the middle of an earlier paragraph. Both are found line by line, outermost first,
    each as exact text of its stored paragraph. In EU008, list 3's "(b)" is opened by "3.This
    authorisation shall not be used if:", not by list 2's "… all of the following conditions:"."""
    from assistant.retrieval import introducers

    snapshot = assistant.retriever.reader.snapshot()
    parents = assistant.retriever.parents(snapshot)
    doc = snapshot.by_doc["eu-2021-821-dual-use-regulation"]

    def openers(section: str, start: str) -> list[str]:
        item = next(c for c in doc if c.section == section and c.text.startswith(start))
        chain = introducers(snapshot, item, parents)
        for c in chain:  # each is its stored paragraph, possibly cut after the opening line
            stored = snapshot.by_id[c.chunk_id]
            assert c.start == stored.start and stored.text.startswith(c.text)
        return [c.text.rstrip().rsplit("\n", 1)[-1] for c in chain]

    assert openers("EU005", "- (iv) for use in connection with a violation of human rights") == [
        "- 1.This authorisation does not authorise the export of items where:",
        "- (a) the exporter has been informed by the competent authority of the Member State in which the exporter "
        "is resident or established that the items in question are or may be intended, in their entirety or in part:"]
    eu008 = openers("EU008", "- (b) the exporter has been informed by the competent authority of the Member State "
                             "in which the exporter is resident or established, or is otherwise aware")
    assert eu008[-1] == "- 3.This authorisation shall not be used if:", eu008


def test_a_further_quote_that_starts_mid_sentence_gives_way() -> None:
    """"does not control …" read alone inverts the law's meaning; the unit's next best sentence
    is quoted instead (issue 13, "quotes that stand alone")."""
    text = ("Thermal cameras are listed in this entry of the list.\n\n"
            "does not control thermal cameras specially designed for broadcasting.\n\n"
            "Other cameras for broadcasting are described elsewhere in the annex.")
    draft = compose("Are thermal cameras for broadcasting controlled?", [_passage(1, text)])
    quotes = [c.quote for c in draft.citations]
    assert quotes[0].startswith("Thermal cameras are listed")
    assert not any(q.startswith("does not control") for q in quotes)
    assert quotes[-1].startswith("Other cameras for broadcasting")


def test_a_quote_ending_with_a_colon_is_followed_by_its_first_items(assistant) -> None:  # noqa: ANN001
    """"… does not include any of the following:" must not be where the answer stops: the
    exclusions are the answer to what the definition leaves out."""
    from assistant.extractive import MAX_ITEMS

    response = assistant.ask("What does the Wassenaar definition of intrusion software leave out?")
    quotes = [c.quote for c in response.citations]
    colon = next(i for i, q in enumerate(quotes) if q.endswith("does not include any of the following:"))
    items = quotes[colon + 1 : colon + 1 + MAX_ITEMS]
    assert [q[:2] for q in items] == ["a.", "b.", "c."]
    assert "debuggers" in items[0] and "asset tracking" in items[2]


def test_a_further_unit_of_the_same_jurisdiction_is_not_followed_by_its_items(assistant) -> None:  # noqa: ANN001
    """Under "Also relevant", an entry's "as follows:" heading stands alone: its items (5.A.1.a's
    nuclear-hardening criteria for a question on 5.A.1.j) would only lengthen the answer."""
    response = assistant.ask("What does Wassenaar 5.A.1.j control?")
    also = response.answer.split("Also relevant:", 1)[1]
    assert "5. A. 1. Telecommunications systems, equipment, components and accessories, as follows:" in also
    assert "Specially hardened" not in also
    assert "Analysis at the application layer" in response.answer.split("Also relevant:", 1)[0]


def test_a_named_units_paragraphs_are_quoted_on_their_own_evidence(assistant) -> None:  # noqa: ANN001
    """EU005 is pinned whole; the paragraph the question is about is quoted, not its heading."""
    response = assistant.ask("Can we rely on EU005 to ship radio equipment to Turkey if the authority told us it is "
                             "for use in connection with violations of human rights?")
    first = response.answer.split("Also relevant:", 1)[0]
    assert "violation of human rights" in first
    assert "UNION GENERAL EXPORT AUTHORISATION" not in first


@pytest.mark.parametrize(("text", "title", "control_list", "expected"), [
    ("## PART 6 — OFFENCES, ENFORCEMENT AND PENALTIES", "", False, True),
    ("G. **INTRA-GROUP EXPORT OF SOFTWARE AND TECHNOLOGY**", "", False, True),
    ("**Part 3 – Conditions and requirements for use**", "", False, True),
    ("UNION GENERAL EXPORT AUTHORISATION No EU005", "", False, True),
    ("Intra-group export of software and technology",
     "Annex II Section G: INTRA-GROUP EXPORT OF SOFTWARE AND TECHNOLOGY", False, True),
    ("## § 740.5 [Reserved]", "[Reserved]", False, True),
    ("[81 FR 35605, June 3, 2016]", "", False, True),
    # Text that says something stays quotable.
    ("This authorisation covers all technology and software specified in Annex I.", "EU007", False, False),
    ("(B) A license is required to export these items.", "", False, False),
    # A control-list entry's heading is what it controls; a CAS number is not markdown.
    ("Polygraphs (except biomedical recorders designed for use in medical facilities)",
     "Polygraphs (except biomedical recorders designed for use in medical facilities)", True, False),
    ("#7664-39-3) Hydrogen fluoride;", "Chemicals", True, False),
])
def test_headings_are_told_from_text(text: str, title: str, control_list: bool, expected: bool) -> None:
    assert heading_text(text, title, control_list=control_list) is expected


def test_a_unit_retrieved_only_by_its_heading_is_not_cited() -> None:
    import numpy as np

    from assistant.evidence import SelectionPolicy, select
    from assistant.retrieval import SearchResult

    heading = _passage(6, "## PART 6 — OFFENCES, ENFORCEMENT AND PENALTIES")
    rule = _passage(34, "A person guilty of an offence under this Article is liable to imprisonment for a term "
                        "not exceeding 2 years.")
    rule.score, rule.dense = 0.9, 0.48
    result = SearchResult(query="What penalty applies to an export offence?", hits=[], references=[], unresolved=[],
                          snapshot=None, vector=np.zeros(3), passages=[heading, rule])  # type: ignore[arg-type]
    chosen = select(result, SelectionPolicy())
    assert [p.first.section for p in chosen.cited] == ["Article 34"]


def test_confidence_is_the_best_similarity_among_the_leading_units() -> None:
    """The fused ranking may lead with a unit found by its heading or its parent's words whose own
    cosine is low ("(5) Submission of a … manuscript" under § 734.7(a)): the corpus is not taken to
    lack an answer while a unit just below it is close to the question."""
    import numpy as np

    from assistant.evidence import SelectionPolicy, select
    from assistant.retrieval import SearchResult

    units = [_passage(n, f"Paragraph {n} states a rule on the export of manuscripts.") for n in (1, 2, 3, 4)]
    for unit, score, dense in zip(units, (0.9, 0.8, 0.7, 0.6), (0.24, 0.22, 0.56, 0.9)):
        unit.score, unit.dense = score, dense
    result = SearchResult(query="May we send the manuscript abroad?", hits=[], references=[], unresolved=[],
                          snapshot=None, vector=np.zeros(3), passages=units)  # type: ignore[arg-type]
    chosen = select(result, SelectionPolicy(min_confidence=0.25))
    assert chosen.confidence == 0.56  # the fourth unit is not a leading one
    assert chosen.cited[0] is units[0]  # the order stays the fusion's


def test_a_label_names_its_unit_without_quotation_marks_or_a_full_stop() -> None:
    from assistant.extractive import unit_label

    chunk = _passage(1, "Cameras as follows.").first.model_copy(update={
        "cite_as": "15 CFR Part 774, Supplement No. 1", "section": "ECCN 6A003",
        "unit_title": "Cameras, systems or equipment, and “components” therefor (see List of Items Controlled)."})
    label = unit_label(chunk)
    assert "“" not in label and "”" not in label and not label.endswith(".)")
    assert "ECCN 6A003 (Cameras, systems or equipment, and components therefor" in label


def test_a_long_sentence_is_quoted_from_the_clause_that_answers() -> None:
    """Past seventy words, the run of clauses sharing most of the question's terms is quoted,
    marked as cut at the front, not the sentence's first seventy words."""
    head = "exports of goods and software from the customs territory of the Union, " * 8
    text = (f"(d) transmission of {head}by any means; it also includes the oral transmission of technology "
            "when the technology is described over a voice transmission medium;")
    draft = compose("Is describing technology on a voice call an export?", [_passage(1, text)])
    quote = draft.citations[0].quote
    assert quote.startswith("it also includes the oral transmission") and quote in text
    assert "“…it also includes" in draft.answer
    # Without the question's terms in a later clause, the sentence is quoted from its start.
    plain = compose("What is a transmission of goods?", [_passage(1, text)])
    assert plain.citations[0].quote.startswith("(d) transmission of exports")


def _entry(n: int, code: str, score: float, doc: str = "ccl", jurisdiction: str = "EU", title: str = "") -> Passage:
    passage = _passage(n, f"Entry {code}, as follows.")
    passage.chunks[0] = passage.first.model_copy(update={"doc_id": doc, "section": code, "unit": code,
                                                         "jurisdiction": jurisdiction, "unit_title": title})
    passage.score, passage.dense = score, 0.45
    return passage


def _cited(question: str, passages: list[Passage], block_ratio: float = 0.15) -> list[str]:
    """The labels evidence selection cites for these ranked units (the question's own references)."""
    import numpy as np

    from assistant.evidence import SelectionPolicy, select
    from assistant.references import find_references
    from assistant.retrieval import SearchResult

    result = SearchResult(query=question, hits=[], references=find_references(question), unresolved=[],
                          snapshot=None, vector=np.zeros(3), passages=passages)  # type: ignore[arg-type]
    chosen = select(result, SelectionPolicy(score_ratio=0.6, max_units=3, block_ratio=block_ratio))
    return [p.first.section for p in chosen.cited]


@pytest.mark.parametrize(("question", "expected"), [
    # Equipment and its companion app: the software entry of the same number joins, in the last slot.
    ("Which ECCNs cover covert audio bugs and the companion app that records them?",
     ["ECCN 5A980", "ECCN 5A001", "ECCN 5D980"]),
    # No software asked about: the ranking's own choice.
    ("Which ECCN covers covert audio bugs?", ["ECCN 5A980", "ECCN 5A001", "ECCN 5D001"]),
])
def test_a_question_about_equipment_and_its_software_cites_both_entries(question: str, expected: list[str]) -> None:
    passages = [_entry(1, "ECCN 5A980", 0.039), _entry(2, "ECCN 5A001", 0.036), _entry(3, "ECCN 5D001", 0.035),
                _entry(4, "ECCN 5D980", 0.009), _entry(5, "5D980", 0.030, doc="other-list")]
    assert _cited(question, passages) == expected


@pytest.mark.parametrize(("question", "eu_score", "expected"), [
    # A licence question that names no jurisdiction is answered for the EU and the US; the EU's
    # best unit gets a block when it is a fair answer of its own ...
    ("Do we need a licence to support this end user?", 0.02, ["§ 744.6(b)(5)", "Article 5(1)"]),
    # ... not when it is only the least bad of its kind (a definition that shares a word).
    ("Do we need a licence to support this end user?", 0.005, ["§ 744.6(b)(5)"]),
    # A jurisdiction the question names gets its block however weak its best unit.
    ("Do we need a licence under the EU and the US rules to support this end user?", 0.005,
     ["§ 744.6(b)(5)", "Article 5(1)"]),
])
def test_an_implied_jurisdictions_block_needs_a_share_of_the_best_units_score(
        question: str, eu_score: float, expected: list[str]) -> None:
    us = _entry(1, "§ 744.6(b)(5)", 0.05, doc="15-cfr-part-744", jurisdiction="US")
    eu = _entry(2, "Article 5(1)", eu_score, doc="eu-2021-821-dual-use-regulation")
    assert _cited(question, [us, eu]) == expected


@pytest.mark.parametrize(("question", "expected"), [
    # The EU named: the CCL's entry, ranked first, answers for another jurisdiction.
    ("Does our DPI box need an EU export authorisation?", ["5A001.j"]),
    # None named: each jurisdiction's unit stays.
    ("Is our DPI box controlled?", ["ECCN 5A001", "5A001.j"]),
])
def test_a_question_that_names_one_jurisdiction_cites_only_its_units(question: str, expected: list[str]) -> None:
    us = _entry(1, "ECCN 5A001", 0.05, doc="15-cfr-part-774-supp-1-ccl", jurisdiction="US")
    eu = _entry(2, "5A001.j", 0.045, doc="eu-2021-821-annex-i-control-list")
    assert _cited(question, [us, eu]) == expected


@pytest.mark.parametrize(("question", "expected"), [
    # EU007 named: EU005, ranked first on shared words, is an alternative nobody asked about.
    ("Can we send the source code to our subsidiary in India under EU007?", ["EU007"]),
    # None named: both stay.
    ("Which Union general export authorisation covers source code sent to a subsidiary?", ["EU005", "EU007"]),
])
def test_a_question_that_names_a_general_authorisation_cites_no_other(question: str, expected: list[str]) -> None:
    eu005 = _entry(1, "EU005", 0.05, doc="eu-2021-821-dual-use-regulation")
    eu007 = _entry(2, "EU007", 0.045, doc="eu-2021-821-dual-use-regulation")
    assert _cited(question, [eu005, eu007]) == expected


_EU_REG = "eu-2021-821-dual-use-regulation"


@pytest.mark.parametrize(("question", "scores", "expected"), [
    # None named: EU002's exclusions share a catch-all question's words, not its subject ...
    ("Our unlisted cameras will be built into armoured vehicles in an embargoed country. Must we do anything?",
     (0.05, 0.048, 0.045), ["Article 4(1)"]),
    # ... and when only authorisations were close, the best other unit answers instead.
    ("Our unlisted cameras will be built into armoured vehicles in an embargoed country. Must we do anything?",
     (0.05, 0.048, 0.01), ["Article 4(1)"]),
    # One described by what its title says it is for ("repair") stays.
    ("Can we send the repaired probe back to Brazil without a new licence?", (0.05, 0.048, 0.045),
     ["EU003", "Article 4(1)"]),
    # General authorisations asked about as such: all stay.
    ("Which general export authorisation could cover these cameras?", (0.05, 0.048, 0.045),
     ["EU002", "EU003", "Article 4(1)"]),
])
def test_an_unasked_general_authorisation_is_not_cited(question: str, scores: tuple[float, float, float],
                                                        expected: list[str]) -> None:
    passages = [_entry(1, "EU002", scores[0], doc=_EU_REG,
                       title="Annex II Section B: EXPORTS OF CERTAIN DUAL-USE ITEMS TO CERTAIN DESTINATIONS"),
                _entry(2, "EU003", scores[1], doc=_EU_REG, title="Annex II Section C: EXPORT AFTER REPAIR/REPLACEMENT"),
                _entry(3, "Article 4(1)", scores[2], doc=_EU_REG, title="Article 4")]
    assert _cited(question, passages) == expected


@pytest.mark.parametrize(("question", "expected"), [
    ("Does the trade control prohibition on Category B goods catch a bank that only finances the deal?",
     ["Article 22(3)"]),
    ("Does the trade control prohibition catch a bank that only finances the deal?",
     ["Article 23(1)", "Article 22(3)"]),
])
def test_a_question_that_names_a_goods_category_cites_no_other(question: str, expected: list[str]) -> None:
    order = "uk-export-control-order-2008"
    passages = [_entry(1, "Article 23(1)", 0.05, doc=order, jurisdiction="UK", title="Category C goods"),
                _entry(2, "Article 22(3)", 0.048, doc=order, jurisdiction="UK", title="Category B goods")]
    assert _cited(question, passages) == expected


def test_the_software_twin_is_the_same_list_and_number() -> None:
    from assistant.evidence import _software_twin

    wassenaar = [_entry(1, "5.D.1", 0.1, doc="wa"), _entry(2, "5.D.2", 0.1, doc="wa")]
    assert _software_twin(_entry(3, "5.A.1", 0.2, doc="wa"), wassenaar) is wassenaar[0]
    assert _software_twin(_entry(4, "5.A.1", 0.2, doc="eu"), wassenaar) is None  # another list
    assert _software_twin(_entry(5, "5A001.f.1", 0.2, doc="wa"), wassenaar) is None  # not an entry


def _unit_of_paragraphs(texts: list[str]) -> Passage:
    chunks = [Chunk(chunk_id=f"p{i}", doc_id="doc", ordinal=i, cite_as="Test Act", title="Test Act",
                    section=f"Article 9({i + 1})", heading_path="Article 9", context="", text=text, start=0,
                    end=len(text), token_count=30, jurisdiction="EU", doc_type="regulation", as_of="2025-01-01",
                    source_url="", completeness="complete", unit="Article 9")
              for i, text in enumerate(texts)]
    return Passage(chunks, score=1.0, dense=0.5, exact=False, chunk_scores={c.chunk_id: 1.0 for c in chunks})


EXHIBITION = ["(1) Demonstration equipment may be exhibited at a trade fair abroad under this authorisation.",
              "(2) Exhibited equipment shall return within 120 days after the trade fair closes.",
              "(3) An exporter who sells the exhibited equipment to a visitor shall apply for a licence first."]


@pytest.mark.parametrize(("question", "parts"), [
    ("Can it go under a licence exception, how long can it sit on display at the stand, and what happens if a "
     "visitor wants to buy the demo unit?", 3),
    ("Is the ECHRI code legally binding? Has the UK signed up?", 2),
    ("What is intrusion software?", 1),
    ("Does exporting facial recognition cameras to a public security bureau in China need a licence?", 1),
])
def test_the_parts_a_question_asks(question: str, parts: int) -> None:
    assert len(question_parts(question)) == parts


def test_each_part_of_a_question_is_quoted_from_the_paragraph_that_answers_it() -> None:
    """A compliance e-mail asks three things that three paragraphs of one unit answer; a
    question that asks one thing keeps its one or two quotes."""
    unit = _unit_of_paragraphs(EXHIBITION)
    asked = compose("May we exhibit demonstration equipment at a trade fair abroad, how many days until it must "
                    "return, and what if a visitor wants to buy the exhibited equipment?", [unit])
    quoted = " ".join(c.quote for c in asked.citations)
    assert all(text in quoted for text in EXHIBITION), quoted
    single = compose("Do we need a licence to exhibit demonstration equipment at a trade fair abroad?", [unit])
    assert len(single.citations) <= 2 and EXHIBITION[0] in single.citations[0].quote


DEMONSTRATION = ["(1) A demonstration item is equipment shown to customers at a trade fair.",
                 "(2) A demonstration item does not include equipment sold to customers at the trade fair.",
                 "(3) A demonstration item does not include equipment left abroad after the trade fair.",
                 "(4) Nothing in this Article applies to aircraft."]


@pytest.mark.parametrize(("question", "quotes"), [
    ("What counts as a demonstration item shown to customers at a trade fair?", 3),
    ("Do we need a licence for a demonstration item shown to customers at a trade fair?", 2),
])
def test_the_best_unit_gets_a_third_sentence_unless_a_licence_is_asked(question: str, quotes: int) -> None:
    """A definition's exceptions stand in its further sentences: the best unit may be quoted three
    times. A licence answer has a block per jurisdiction, and there a third sentence of the first
    unit added words, not answers (measured on dev by question type)."""
    draft = compose(question, [_unit_of_paragraphs(DEMONSTRATION)])
    assert len(draft.citations) == quotes, [c.quote for c in draft.citations]
    assert DEMONSTRATION[0] in draft.citations[0].quote and not any("aircraft" in c.quote for c in draft.citations)


PENALTIES = ["(1) Authority The Secretary may impose the following civil penalties on a person for each violation "
             "of this subchapter, for each violation:",
             "(A) A fine of not more than $300,000 or an amount that is twice the value of the transaction.",
             "(B) Revocation of a license issued under this subchapter to the person.",
             "(2) Procedures Any civil penalty under this subsection may be imposed only after notice and "
             "opportunity for an agency hearing on the record."]


def test_a_lead_in_quoted_before_another_paragraph_still_gets_its_items() -> None:
    """"The Secretary may impose the following civil penalties …:" promises the penalties: its items
    follow it even when a later paragraph of the unit is quoted too (the maximum fine is the answer)."""
    unit = _unit_of_paragraphs(PENALTIES)
    draft = compose("What is the maximum civil penalty the Secretary may impose for each violation?", [unit])
    quotes = [c.quote for c in draft.citations]
    colon = next(i for i, q in enumerate(quotes) if q.endswith("for each violation:"))
    assert quotes[colon + 1].startswith("(A) A fine of not more than $300,000"), quotes


@pytest.mark.parametrize("pointer", ["The term does not include", "Such devices do not include"])
def test_a_sentence_that_points_back_is_quoted_after_the_sentence_it_points_to(pointer: str) -> None:
    """"The term does not include devices that confine …" alone does not say which term: the
    sentence before it, which names the term, is quoted first (issue 13, quotes that stand alone)."""
    text = ("Items: The list of items controlled is contained in the entry heading. In this entry, electronic "
            "monitoring restraint devices are devices used to record the location of confined persons. "
            f"{pointer} devices that confine memory impaired patients to medical facilities.")
    # A further unit (one quote of its own): the sentence pointed to comes in as its lead-in.
    first = _passage(0, "Restraint devices for confined patients are described in the entry below.")
    draft = compose("Does the entry include devices that confine memory impaired patients?", [first, _passage(1, text)])
    quotes = [c.quote for c in draft.citations]
    at = next(i for i, q in enumerate(quotes) if q.startswith(pointer))
    assert at > 0 and quotes[at - 1].startswith("In this entry, electronic monitoring restraint devices")
    assert draft.citations[at - 1].introduces == draft.citations[at].n
    # A sentence that names its own subject stands alone.
    plain = text.replace(pointer, "The entry does not include")
    citations = compose("Does the entry include devices that confine memory impaired patients?",
                        [_passage(1, plain)]).citations
    assert any(c.quote.startswith("The entry does not include") for c in citations)
    assert all(c.introduces is None for c in citations)


@pytest.mark.parametrize(("text", "sentences"), [
    # The control lists set each Note in italics after the item it qualifies: each is a sentence.
    ("2. Circumvent controls of the device. *Technical Note:* *For the purposes of 5A004.b.1., data means "
     "binary data.* *Note 1:* *5A004.b. does not control systems for development.* *Note 2:* *5A004.b. does "
     "not include:* a. *Debuggers;* b. *Items limited to logical data extraction.*",
     ["2. Circumvent controls of the device. *Technical Note:* *For the purposes of 5A004.b.1., data means "
      "binary data.*", "*Note 1:* *5A004.b. does not control systems for development.*",
      "*Note 2:* *5A004.b. does not include:* a. *Debuggers;* b. *Items limited to logical data extraction.*"]),
    # An italic list designator is not a sentence's end.
    ("*Note:* *5A001.j. does not control systems specially designed for any of the following:* *a.* *Marketing "
     "purpose;* *b.* *Network Quality of Service (QoS);* *or* *c.* *Quality of Experience (QoE).*",
     ["*Note:* *5A001.j. does not control systems specially designed for any of the following:* *a.* *Marketing "
      "purpose;* *b.* *Network Quality of Service (QoS);* *or* *c.* *Quality of Experience (QoE).*"]),
    # An italic paragraph heading stays with the sentence it heads.
    ("(c) *Software updates.* The provisions of paragraph (c) authorize exports of bug fixes.",
     ["(c) *Software updates.* The provisions of paragraph (c) authorize exports of bug fixes."]),
])
def test_an_italic_note_after_an_italic_sentence_is_a_sentence_of_its_own(text: str, sentences: list[str]) -> None:
    assert [text[s.start : s.end] for s in sentence_spans(text)] == sentences


def test_a_short_list_item_is_quoted_after_the_sentence_that_introduces_it() -> None:
    """"e. Mediation devices." is too short to read as text alone, but it is what answers "is
    mediation-device software caught?": quoted after "Note … does not apply to … any of the
    following:" (with the shipped quote model). A short line that no sentence of its paragraph
    introduces is still not quoted."""
    from assistant.quote_ranking import QuoteModel
    from assistant.retrieval import FUSION

    model = QuoteModel.load(FUSION)
    text = ("Software specially designed for monitoring or analysis for law enforcement purposes is "
            "controlled by this entry.\n"
            "Note This entry does not apply to software specially designed for any of the following:\n"
            "a. Billing purposes;\nb. Quality of Service;\nc. Quality of Experience;\nd. Mobile payment; or\n"
            "e. Mediation devices.")
    quotes = [c.quote for c in compose("Does the entry catch mediation devices software, or is it carved out?",
                                       [_passage(1, text)], model=model).citations]
    assert "e. Mediation devices." in quotes
    note = next(i for i, q in enumerate(quotes) if q.startswith("Note This entry does not apply"))
    assert note < quotes.index("e. Mediation devices.")
    lone = "Software for law enforcement monitoring is controlled by this entry in full.\nMediation devices."
    assert not any(c.quote == "Mediation devices." for c in compose(
        "Does the entry catch mediation devices?", [_passage(1, lone)], model=model).citations)


@pytest.mark.parametrize("verb", ["also reach", "extend to"])
def test_does_the_entry_reach_asks_what_its_note_leaves_out(assistant, verb: str) -> None:  # noqa: ANN001
    """"Does the entry also reach equipment built for network operators?" asks whether the item is
    caught, as "does it cover" does: the Note's item that leaves it out is the answer, not the
    entry's heading and first items."""
    response = assistant.ask(f"Does the Wassenaar entry on IMSI catchers {verb} equipment built for mobile "
                             "network operators?")
    quotes = [" ".join(c.quote.split()) for c in response.citations]  # the list's PDF layout
    assert "b. Equipment designed for mobile telecommunications network operators; or" in quotes, quotes


CRIME_CONTROL = [
    "(a) *License requirements.* A license is required to export crime control and detection equipment as follows:",
    "(1) Crime control and detection instruments and equipment identified in the appropriate ECCNs on the CCL "
    "under CC Column 1 in the Country Chart.",
    "(3) Shotguns with barrel length greater than or equal to 24 inches, identified in ECCN 0A502 on the CCL under "
    "CC Column 3 only if for sale or resale to police or law enforcement entities in countries listed in CC Column 3.",
]


@pytest.mark.parametrize(("question", "shotguns"), [
    # The shotgun paragraph shares "police" and "law enforcement", not the item.
    ("We sell fingerprint identification systems to a police force abroad. Do we need a licence?", False),
    ("Do shotguns sold to a police force abroad need a licence?", True),
    ("Does 0A502 kit sold to a police force abroad need a licence?", True),
])
def test_a_paragraph_about_another_item_is_not_quoted(question: str, shotguns: bool) -> None:
    quotes = [c.quote for c in compose(question, [_unit_of_paragraphs(CRIME_CONTROL)]).citations]
    assert any(q.startswith("(3) Shotguns") for q in quotes) is shotguns, quotes


@pytest.mark.parametrize(("sentence", "expected"), [
    ("(23) Exports, reexports, or transfers (in-country) of semi-automatic firearms or shotguns controlled under "
     "ECCNs 0A506, 0A507, or 0A508 sold under a contract …", True),
    # A list of codes names no one item; "the appropriate ECCNs" names none.
    ("0A502, 0A504, 0E505 (technology for buckshot shotgun shells controlled under ECCN 0A505.b), 3A981", False),
    ("(1) Crime control and detection instruments identified in the appropriate ECCNs on the CCL", False),
    # The question's own code, also written with a sub-item.
    ("(ii) Mass market encryption items classified under ECCN 5A992 may be exported", False),
])
def test_which_sentences_are_about_another_item(sentence: str, expected: bool) -> None:
    from assistant.extractive import about_another_item
    from assistant.sentences import content_terms

    terms = content_terms("Can we ship fingerprint analysers and 5A992.c routers to a police force under an exception?")
    assert about_another_item(sentence, terms) is expected


def test_the_paragraph_that_states_a_rule_is_quoted_before_one_that_applies_it(assistant) -> None:  # noqa: ANN001
    """"(2) BIS will review … in accordance with the licensing policy in paragraph (b)(1) of this
    section" shares the question's words best, but (b)(1) states the policy it asks about."""
    response = assistant.ask("Our IP-backbone monitoring system already needs a licence for national security "
                             "reasons. Will BIS also weigh human rights when it reviews the application, even "
                             "though it isn't a crime-control item?")
    sections = [c.section for c in response.citations]
    assert "§ 742.7(b)(1)" in sections
    assert any("violate or abuse human rights" in c.quote for c in response.citations)


def test_a_quote_ending_with_a_dash_is_followed_by_its_first_items() -> None:
    """The UK Order introduces its lists with a dash, not a colon: "(2) Subject to article 26, the
    enquirer shall not—" is followed by what the enquirer shall not do."""
    texts = ["(1) This article applies where a person has grounds for suspecting that goods may be intended "
             "for WMD purposes.",
             "(2) Subject to article 26, the person shall not export or transfer the goods in question—\n\n"
             "(a) by electronic means to a destination outside the United Kingdom; or\n\n"
             "(b) to a person the enquirer knows will take them outside the United Kingdom."]
    draft = compose("We suspect the goods may be intended for WMD purposes. Can we still export or transfer them?",
                    [_unit_of_paragraphs(texts)])
    quotes = [c.quote for c in draft.citations]
    assert any(q.endswith("goods in question—") for q in quotes)
    assert any(q.startswith("(a) by electronic means") for q in quotes)


def _split_unit(texts: list[str], n: int, jurisdiction: str = "EU") -> Passage:
    """One labelled unit (`Article n`) stored as several chunks, as a long paragraph is."""
    chunks, offset = [], 0
    for i, text in enumerate(texts):
        chunks.append(Chunk(chunk_id=f"s{n}-{i}", doc_id="doc", ordinal=10 * n + i, cite_as="Test Act",
                            title="Test Act", section=f"Article {n}", heading_path=f"Article {n}", context="",
                            text=text, start=offset, end=offset + len(text), token_count=30, jurisdiction=jurisdiction,
                            doc_type="regulation", as_of="2025-01-01", source_url="", completeness="complete",
                            unit=f"Article {n}"))
        offset += len(text) + 2
    return Passage(chunks, score=0.9, dense=0.5, exact=False, chunk_scores={c.chunk_id: 0.9 for c in chunks})


def test_a_further_unit_split_over_chunks_is_quoted_from_each_passage_that_answers() -> None:
    """A further unit is cited once, but a unit stored as two chunks may answer in both: the second
    passage of the same label is quoted too (citation precision counts units, so it costs nothing
    there); it does not bring a list's items, which would only lengthen the answer (the unit leads
    its jurisdiction's block, where the best quote's list would be completed)."""
    first = _passage(1, "Demonstration equipment exhibited at a trade fair abroad needs an authorisation.")
    further = _split_unit(["Demonstration equipment exhibited at a trade fair abroad shall return within "
                           "120 days after the trade fair closes.",
                           "Demonstration equipment sold at a trade fair abroad shall be reported within the "
                           "following periods:",
                           "(a) 30 days for equipment sold to a visitor.",
                           "Nothing in this Article applies to aircraft."], 2, jurisdiction="UK")
    draft = compose("Within how many days must demonstration equipment exhibited or sold at a trade fair abroad "
                    "return or be reported?", [first, further])
    quoted = [c.quote for c in draft.citations if c.section == "Article 2"]
    assert len(quoted) == 2, quoted
    assert any("120 days" in q for q in quoted) and any("following periods:" in q for q in quoted)
    assert not any(q.startswith("(a) 30 days") for q in quoted)  # the extra passage brings no items
    assert not any("aircraft" in q for q in quoted)  # nor a passage that shares no word


def _definitions(texts: list[str], cite_as: str = "Export Control Order 2008 (UK)") -> Passage:
    chunks = [Chunk(chunk_id=f"d{i}", doc_id="doc", ordinal=i, cite_as=cite_as, title=cite_as,
                    section="Article 2(1)", heading_path="Article 2", context="", text=text, start=0,
                    end=len(text), token_count=30, jurisdiction="UK", doc_type="regulation", as_of="2025-01-01",
                    source_url="", completeness="complete", unit="Article 2(1)")
              for i, text in enumerate(texts)]
    return Passage(chunks, score=1.0, dense=0.5, exact=False, chunk_scores={c.chunk_id: 1.0 for c in chunks})


UK_DEFINITIONS = ["- “*the torture Regulation*” means the Regulation concerning trade in goods which could be used "
                  "for torture;",
                  "- “*transfer*”, in relation to technology, means transfer by electronic or non-electronic means "
                  "from a person in the United Kingdom to a person outside the United Kingdom;",
                  "- “*transfer by non-electronic means*” means disclosure of technology by any means, including "
                  "oral communication;",
                  "- “*UK licence*” means a licence in writing granted by the Secretary of State;"]


def test_a_list_of_definitions_is_quoted_for_the_terms_the_question_uses() -> None:
    """The paragraph of the UK Order's definitions that holds "transfer" holds "the torture
    Regulation" too: a further quote defines a term the question uses, not a neighbour of it.
    "UK" names the instrument, so it does not make "UK licence" a term the question uses."""
    draft = compose("Under the UK Export Control Order, is explaining our technology to a customer abroad on a "
                    "phone call a transfer?", [_definitions(UK_DEFINITIONS)])
    quoted = [c.quote for c in draft.citations]
    assert any("“*transfer*”" in q for q in quoted) and any("non-electronic means*”" in q for q in quoted), quoted
    assert not any("torture" in q or "UK licence" in q for q in quoted), quoted


def test_a_paragraph_that_defines_a_term_in_passing_is_still_quoted() -> None:
    """"(d) In this section, the term “military end-user” means … national police" answers
    whether the police count, though the question never says "military end-user"."""
    unit = _unit_of_paragraphs(["(a) A license is required for the export of cameras to a military end-user.",
                                "(d) In this section, the term “military end-user” means the national armed "
                                "services, as well as the national police."])
    draft = compose("Do we need a license to sell cameras to a national police force?", [unit])
    assert any("national police" in c.quote for c in draft.citations), [c.quote for c in draft.citations]


@pytest.mark.parametrize(("text", "sentence"), [
    # The defined term's quotation marks are both in the sentence: without the opening one it
    # starts mid-structure ("transfer by electronic means”, …") and defines nothing.
    ("“transfer by electronic means”, in relation to software and technology, means transmission by telephone;",
     "“transfer by electronic means”, in relation to software and technology, means transmission by telephone;"),
    ("- “transfer by electronic means” means transmission by facsimile, telephone or other electronic media;",
     "“transfer by electronic means” means transmission by facsimile, telephone or other electronic media;"),
    # A quotation mark closed only in a later sentence is left out, as before.
    ("“The exporter shall keep the records for five years. Then the quotation goes on.”",
     "The exporter shall keep the records for five years."),
])
def test_an_opening_quotation_mark_stays_when_the_sentence_closes_it(text: str, sentence: str) -> None:
    assert text[sentence_spans(text)[0].start : sentence_spans(text)[0].end] == sentence


def test_a_promised_list_ends_at_a_heading() -> None:
    """EU007's "… to the following destinations:" is followed (its short country items aside) by
    "**Part 3 – Conditions and requirements for use**": the heading ends the list; it and Part 3's
    paragraphs are not the list's items."""
    text = ("This authorisation is valid for exports of software and technology to the following destinations:\n\n"
            "**Part 3 – Conditions and requirements for use**\n\n"
            "- 1.This authorisation authorises exports by an exporter to its own subsidiary, provided that:")
    draft = compose("Which destinations is the intra-group authorisation valid for?", [_passage(1, text)])
    quotes = [c.quote for c in draft.citations]
    assert quotes[0].endswith("to the following destinations:"), quotes
    assert not any("Part 3" in q for q in quotes), quotes


def test_a_short_list_item_is_quoted_when_the_question_names_it() -> None:
    """EU004's destinations are items too short to be sentences ("— Singapore,"): after "… to the
    following destinations:" the one the question names is quoted, not the first of twenty."""
    text = ("This authorisation is valid throughout the customs territory of the Union for exports to the "
            "following destinations:\n\n- — Albania,\n\n- — Argentina,\n\n- — Singapore,\n\n- — Turkey.")
    draft = compose("Is Singapore one of the destinations the authorisation is valid for?", [_passage(1, text)])
    quotes = [c.quote for c in draft.citations]
    assert quotes[0].endswith("the following destinations:") and "— Singapore," in quotes, quotes
    assert not any("Albania" in q or "Argentina" in q for q in quotes), quotes
    unnamed = compose("Which destinations is the authorisation valid for?", [_passage(1, text)])
    assert [c.quote for c in unnamed.citations] == [quotes[0]]


def test_a_bare_heading_or_a_reference_note_is_not_quoted() -> None:
    """"G. **INTRA-GROUP EXPORT OF SOFTWARE AND TECHNOLOGY**" repeats the unit's label and
    "(referred to in point (d) of Article 12(1) of this Regulation)" says where it is used: neither
    answers, though both share the question's words."""
    text = ("G. **INTRA-GROUP EXPORT OF SOFTWARE AND TECHNOLOGY**\n\n"
            "(referred to in point (d) of Article 12(1) of this Regulation)\n\n"
            "This authorisation covers all technology and software specified in Annex I, except those in Section I.")
    draft = compose("Does the intra-group export authorisation cover software and technology?", [_passage(1, text)])
    quotes = [c.quote for c in draft.citations]
    assert quotes and not any("**" in q or "referred to in point" in q for q in quotes), quotes
