"""A named unit missing from the index: left out of a partial copy ("not bundled", an out-of-corpus
answer that names the instrument and its official source) or not existing (a false premise)."""

from __future__ import annotations

import pytest

from assistant.bundled import _MISSING_UNITS, _top, not_bundled
from assistant.references import find_references, normalise


@pytest.mark.parametrize(("question", "where"), [
    ("What licensing policy does BIS apply under § 742.13?", "15 CFR Part 742"),  # between §§ 742.7 and 742.15
    ("What does Article 4A of the Export Control Order 2008 require?", "Export Control Order 2008"),
    ("Which countries are in Supplement No. 3 to part 740?", "15 CFR Part 740"),
    # Before the first / past the last bundled section: the MANIFEST records them as not copied.
    ("What does § 730.1 say about the scope of the EAR?", "15 CFR Part 730"),  # only § 730.5 is bundled
    ("Does § 742.20 cover facial recognition?", "15 CFR Part 742"),  # the last bundled is § 742.19
    ("How does 50 U.S.C. § 4801 define a foreign person?", "50 U.S.C."),  # ECRA: 4811, 4812, 4819 only
])
def test_a_gap_in_a_partial_copy_is_not_bundled(assistant, question: str, where: str) -> None:  # noqa: ANN001
    snapshot = assistant.retriever.reader.snapshot()
    gaps = not_bundled(snapshot, find_references(question))
    assert [g.where for g in gaps] and gaps[0].where.startswith(where)
    response = assistant.ask(question)
    assert response.abstained and response.abstain_kind == "out-of-corpus"
    assert "not in the bundled copy" in response.abstain_reason


@pytest.mark.parametrize("question", [
    "What does § 742.7(z) say about cameras?",  # § 742.7 is bundled, its paragraphs stop before (z)
    "What does Article 99 of Regulation (EU) 2021/821 say?",  # past the last Article
    "Does § 764.12 reduce penalties for voluntary disclosures?",  # past the last bundled section of part 764
    "Is ECCN 5A001.z controlled?",
    "What does Commitment 9 of the ECHRI Code of Conduct require?",  # the bundled summary lists six
    # The UK Order has an Article 38; Regulation (EU) 2021/821, which the question names, does not.
    "What does Article 38 of the EU dual-use regulation (2021/821) require from cloud providers?",
    # Lettered units between two bundled neighbours: no gap in a selection there. (The UK Order's
    # Articles 4A and 12A are recorded as missing from its source: gaps, above.)
    "Under Article 7a of Regulation 2021/821, is brokering of spyware to Russia banned?",
    "What does § 742.4a say about thermal cameras?",
])
def test_a_unit_that_does_not_exist_stays_a_false_premise(assistant, question: str) -> None:  # noqa: ANN001
    snapshot = assistant.retriever.reader.snapshot()
    assert not_bundled(snapshot, find_references(question)) == []
    response = assistant.ask(question)
    assert response.abstained and response.abstain_kind == "false-premise"


@pytest.mark.parametrize("question", [
    "What goes in the Wassenaar report under § 743.1?",
    "What does Supplement No. 2 to part 743 require?",
])
def test_a_unit_of_an_ear_part_that_is_not_bundled_exists(assistant, question: str) -> None:  # noqa: ANN001
    """Part 743 is an EAR part the corpus does not bundle at all: its sections exist."""
    snapshot = assistant.retriever.reader.snapshot()
    gaps = not_bundled(snapshot, find_references(question))
    assert [(g.where, g.held) for g in gaps] == [("15 CFR Part 743", False)]
    response = assistant.ask(question)
    assert response.abstained and response.abstain_kind == "out-of-corpus"
    assert "15 CFR Part 743, which the indexed documents do not include" in response.abstain_reason


@pytest.mark.parametrize(("question", "where"), [
    # The consolidated Regulation is bundled without recitals; the Recommendation with (1)-(4).
    ("What does Recital 5 of Regulation (EU) 2021/821 say about human rights?", "Regulation (EU) 2021/821"),
    ("What does Recital (7) of Recommendation 2024/2659 say?", "Commission Recommendation (EU) 2024/2659"),
    # The Wassenaar List is bundled with Categories 4 and 5 Part 1 only; 6.A.3 exists.
    ("What does Wassenaar entry 6.A.3 cover?", "Wassenaar Arrangement Dual-Use List"),
    # Neither the Wassenaar Munitions List nor the UK Military List is bundled.
    ("Does ML13 of the Munitions List cover armoured vehicles?", "Wassenaar Munitions List"),
    # Category 5 Part 2 ("Information Security") is numbered 5.x.2: not bundled.
    ("What does Wassenaar 5.A.2 control?", "Wassenaar Arrangement Dual-Use List"),
    # The CCL's entries are complete but for the two the MANIFEST names.
    ("What does ECCN 0A980 control?", "15 CFR Part 774, Supplement No. 1"),
])
def test_units_of_lists_and_recitals_the_corpus_leaves_out_exist(assistant, question: str, where: str) -> None:  # noqa: ANN001
    response = assistant.ask(question)
    assert response.abstained and response.abstain_kind == "out-of-corpus", response.abstain_reason
    assert where in response.abstain_reason and "does not exist" not in response.abstain_reason


@pytest.mark.parametrize("question", [
    "Is 5.A.1.z in the Wassenaar list?",  # 5.A.1 is bundled; it has no item z
    "Does ML30 cover lasers?",  # the Munitions List runs ML1-ML22
    # Categories 4 and 5 Part 1 of the Wassenaar List are bundled in full (MANIFEST).
    "Which exploit-development tools are controlled under Wassenaar item 4.D.5?",
    "Which AI video surveillance systems fall under Wassenaar entry 5.A.9?",
    # The CCL is partial in its License Requirements blocks, not its entries: every ECCN but
    # 0A980 and 8D001 is there, so one in a gap between bundled ECCNs does not exist.
    "What does ECCN 3A982 for facial recognition cameras control?",
])
def test_missing_parts_of_what_is_bundled_stay_false_premises(assistant, question: str) -> None:  # noqa: ANN001
    response = assistant.ask(question)
    assert response.abstained and response.abstain_kind == "false-premise"


def test_a_section_of_no_ear_part_stays_a_false_premise(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("What does § 731.2 of the EAR require?")  # there is no part 731
    assert response.abstained and response.abstain_kind == "false-premise"


def test_a_named_gap_beside_a_bundled_unit_is_a_notice(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("Does § 742.7 or § 742.13 cover voice print equipment?")
    assert not response.abstained
    assert any(n.startswith("§ 742.13 is not in the bundled copy of 15 CFR Part 742") for n in response.notices)


def test_a_gap_beside_an_exception_named_by_its_code_is_a_notice(assistant) -> None:  # noqa: ANN001
    """License Exception ENC names § 740.17, which is bundled: the unbundled supplement the question
    qualifies the destination with is a notice. Asked for on its own, it is still a gap."""
    response = assistant.ask("Our encrypted penetration testing suite is 5D002. Can it go under License Exception "
                             "ENC to a ministry of defence in a country not listed in supplement no. 3 to part 740?")
    assert not response.abstained
    assert response.citations[0].section.startswith("§ 740.17")
    assert any("Supplement No. 3 to Part 740" in n for n in response.notices)
    alone = assistant.ask("Which countries are listed in supplement no. 3 to part 740?")
    assert alone.abstained and alone.abstain_kind == "out-of-corpus"


def test_an_instrument_mentioned_elsewhere_in_the_question_does_not_bind_the_reference(assistant) -> None:  # noqa: ANN001
    """"EAR" is the only instrument named, but Article 5(1) is not the EAR's: it resolves where it
    exists (Regulation (EU) 2021/821) instead of becoming a false premise."""
    result = assistant.retriever.search("How does the EAR crime control rule compare with Article 5(1)?", None, 10)
    assert not result.unresolved
    assert any(h.exact is not None and h.chunk.section == "Article 5(1)" for h in result.hits)


def test_units_the_manifest_records_as_missing_are_missing_from_the_index(assistant) -> None:  # noqa: ANN001
    """When a corpus refresh bundles one of them, its entry in RECORDED_MISSING is stale."""
    snapshot = assistant.retriever.reader.snapshot()
    bundled = {top for chunks in snapshot.by_doc.values() for c in chunks
               for kind in ("cfr", "usc") if (top := _top(kind, normalise(c.section)))}
    assert len(_MISSING_UNITS) > 40
    assert not bundled & _MISSING_UNITS, sorted(bundled & _MISSING_UNITS)


def test_a_licence_exception_whose_section_is_not_bundled(assistant) -> None:  # noqa: ANN001
    """AGR is § 740.18, which the MANIFEST records as not bundled: not answered from passing mentions."""
    response = assistant.ask("What is License Exception AGR?")
    assert response.abstained and response.abstain_kind == "out-of-corpus"
    assert "License Exception AGR (§ 740.18) is not in the bundled copy of 15 CFR Part 740" in response.abstain_reason


@pytest.mark.parametrize(("question", "exists"), [
    # Laid out as spaced codes inside 5.A.1.b ("5. A. 1.    b.   5.    Being digitally controlled radio
    # receivers"): the item exists, and the nearest entry holding it (5.A.1.b, not 5.A.1) answers.
    ("Is our 4,000-channel scanning receiver caught by Wassenaar 5.A.1.b.5?", True),
    ("What does Wassenaar 5.A.1.b.9 control?", False),
    ("What does Wassenaar 5.A.1.k control?", False),
    # 4.A.5 is a leaf entry: it has no lettered items at all.
    ("Which delivery platforms for intrusion software are covered by Wassenaar sub-item 4.A.5.c?", False),
])
def test_a_numbered_wassenaar_sub_item_laid_out_inline(assistant, question: str, exists: bool) -> None:  # noqa: ANN001
    result = assistant.retriever.search(question, None, 10)
    assert bool(result.unresolved) is not exists
    if exists:
        assert result.hits[0].chunk.section == "5.A.1.b"


def test_a_leaf_entry_itself_is_found(assistant) -> None:  # noqa: ANN001
    result = assistant.retriever.search("Which delivery platforms for intrusion software does Wassenaar 4.A.5 cover?",
                                        None, 10)
    assert not result.unresolved and result.hits[0].chunk.section == "4.A.5"
