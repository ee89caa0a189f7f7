"""Exact-reference look-up: the references a question names, in the forms exporters write them,
match the labels the chunker gives the real corpus (issue 18's new structures included)."""

from __future__ import annotations

import pytest

from assistant.references import (
    EAR,
    EU_REGULATION,
    UK_ORDER,
    US_CODE_50,
    Reference,
    find_references,
    names_instrument,
    normalise,
    relation,
)


@pytest.mark.parametrize(
    ("question", "label", "instrument"),
    [
        ("What does Art. 5(2) of 2021/821 require?", "Article 5(2)", EU_REGULATION),
        ("Which exports does EU001 cover?", "EU001", EU_REGULATION),
        ("Is my product caught by 5A001.j?", "5A001.j", ""),
        ("What does section 4812 of ECRA say about US persons?", "50 U.S.C. § 4812", US_CODE_50),
        ("Summarise 50 USC 4812", "50 U.S.C. § 4812", US_CODE_50),
        ("Under 50 U.S.C. § 4812(a)(2)(F), what is controlled?", "50 U.S.C. § 4812(a)(2)(F)", US_CODE_50),
        ("What does Article 6 of the Export Control Order prohibit?", "Article 6", UK_ORDER),
        ("How does § 772.1 define intrusion software?", "§ 772.1", EAR),
        ("What is a military end-use under Article 4(1)(b)(ii) of the dual-use regulation?",
         "Article 4(1)(b)(ii)", EU_REGULATION),
        ("What are cyber-surveillance items under Article 2(20)?", "Article 2(20)", ""),
        ("Does Article 9 of Regulation (EU) 2021/821 let a Member State ban exports?", "Article 9", EU_REGULATION),
        ("Is 6A003.b.4 about thermal cameras?", "6A003.b.4", ""),
        ("What does Commitment 3 of the ECHRI Code of Conduct ask of states?", "Commitment 3", ""),
        # Exporters shorten it: "the EU dual-use reg", "dual use reg."
        ("Under Article 4 of the EU dual-use reg, who must notify?", "Article 4", EU_REGULATION),
        ("Does Art. 22 of the dual use reg. cover transit?", "Article 22", EU_REGULATION),
        # As the EAR cross-refers: the paragraph, then the section it is of.
        ("What conditions does paragraph (c)(3) of § 740.22 set?", "§ 740.22(c)(3)", EAR),
    ],
)
def test_references_in_the_forms_exporters_write(question: str, label: str, instrument: str) -> None:
    found = find_references(question)
    assert [(r.label, r.instrument) for r in found] == [(normalise(label), instrument)]


def test_two_instruments_keep_their_own_articles() -> None:
    found = find_references("Compare Article 4 of the Export Control Order with Article 4(1) of Regulation 2021/821")
    assert [(r.display, r.instrument) for r in found] == [("Article 4", UK_ORDER), ("Article 4(1)", EU_REGULATION)]
    uk, eu = found
    assert names_instrument(uk, "Export Control Order 2008 (UK)") and not names_instrument(uk, "Regulation (EU) 2021/821")
    assert names_instrument(eu, "Regulation (EU) 2021/821") and not names_instrument(eu, "Export Control Order 2008 (UK)")
    assert names_instrument(eu, "Regulation (EU) 2021/821, Annex I")  # the Annex belongs to the Regulation


def test_one_instrument_named_once_applies_to_the_question() -> None:
    (ref,) = find_references("Under the Export Control Order, what does Article 4(1) prohibit?")
    assert (ref.display, ref.instrument) == ("Article 4(1)", UK_ORDER)


def test_ecra_section_numbers_are_not_cfr_sections() -> None:
    assert [r.kind for r in find_references("see § 4819 and § 744.21")] == ["usc", "cfr"]


@pytest.mark.parametrize(
    ("unit", "question", "expected"),
    [
        ("5A001.j.1.a", "5A001.j", 1),  # a sub-item of the named item
        ("5A001.j", "5A001.j.1", 2),  # the item containing the named sub-item
        ("5A001.j", "5A001.j", 0),
        ("50 U.S.C. § 4812(a)(2)(F)", "50 USC 4812", 1),
        ("Article 4(1)(b)(ii)", "Article 4(1)(b)", 1),
        ("Article 40", "Article 4", None),
        ("EU001", "EU001", 0),
        ("§ 772.1", "§ 772.1", 0),
    ],
)
def test_relation_of_indexed_labels_to_named_references(unit: str, question: str, expected: int | None) -> None:
    (ref,) = find_references(question)
    assert relation(normalise(unit), ref) == expected


def test_reference_records_stay_compatible() -> None:
    """Callers that build references by hand (older code, tests) need not name an instrument."""
    ref = Reference("article", "article 5")
    assert ref.instrument == "" and names_instrument(ref, "anything")


def test_a_licence_exception_is_named_by_its_code() -> None:
    [ref] = find_references("What is License Exception TSU?")
    assert (ref.kind, ref.display) == ("heading_code", "License Exception TSU")
    assert [r.display for r in find_references("Can we ship under the ENC license exception?")] == ["License Exception ENC"]
    assert find_references("Is a tsu exception relevant?") == []  # a code is written in capitals


def test_the_section_a_code_names_ranks_first_without_being_pinned(assistant) -> None:  # noqa: ANN001
    from assistant.retrieval import heading_codes

    snapshot = assistant.retriever.reader.snapshot()
    codes = heading_codes(snapshot.chunks)
    assert codes["TSU"] == "§ 740.13" and codes["ACE"] == "§ 740.22" and codes["STA"] == "§ 740.20"
    assert "AGR" not in codes  # § 740.18 is not bundled: the code names nothing here
    result = assistant.retriever.search("What is License Exception TSU?", None, 10)
    assert result.hits[0].chunk.section == "§ 740.13" and result.hits[0].exact is None
    # Not an exact reference: a question about what the section's supplement lists is still declined.
    response = assistant.ask("Which countries are in Supplement No. 3 to part 740 for License Exception STA?")
    assert response.abstained and response.abstain_kind == "out-of-corpus"


@pytest.mark.parametrize(("question", "kind"), [
    # No bundled text names a License Exception CAM (or CIV, removed from the EAR in 2020).
    ("Does License Exception CAM cover exports of police body cameras to Brazil?", "false-premise"),
    ("Can we send the demo IMSI catcher to Dubai under the CIV license exception?", "false-premise"),
    # § 740.18 (AGR) is recorded as not bundled: a gap, not a false premise.
    ("Can we use License Exception AGR for fingerprint readers?", "out-of-corpus"),
    # Named by a bundled rule but not defined by a bundled heading (Part 754): not a false premise.
    ("Can we use License Exception WRC for our surveillance cameras?", None),
    ("Can we use License Exception TSU for our spyware source code?", None),
])
def test_a_licence_exception_code_no_bundled_text_names_is_a_false_premise(assistant, question: str,  # noqa: ANN001
                                                                        kind: str | None) -> None:
    from assistant.retrieval import exception_codes, named_exception_codes

    snapshot = assistant.retriever.reader.snapshot()
    assert "WRC" in named_exception_codes(snapshot) - exception_codes(snapshot)
    response = assistant.ask(question)
    assert (response.abstain_kind if response.abstained else None) == kind, response.answer
    if kind == "false-premise":
        assert "License Exception C" in response.abstain_reason


@pytest.mark.parametrize(("question", "missing"), [
    ("What exactly is controlled by ECCN 5D980.c?", True),  # 5D980 lists items a. and b. inline
    ("Is our interception software caught by ECCN 5D980.a?", False),
    ("What does 6A003.e cover?", True),  # the CCL's 6A003 lists a.-d.; EU Annex I 6A003 has no .e either
    # Items "contained in the ECCN heading": the heading is the whole list, it has no lettered items.
    ("What does ECCN 3A981.c control?", True),
    # Wassenaar's 4.E.1 lays out its items a.-c. line by line, in one unlabelled unit.
    ("Wassenaar 4.E.1.d controls technology for surveillance malware - what are its parameters?", True),
    ("What does 4.E.1.c of the Wassenaar list cover?", False),
    # The CCL's 5A004 lists b. inline; that Annex I labels 5A004.a and .b says nothing of the CCL.
    ("Our US-origin board is classified 5A004.b under the EAR. Does de minimis apply to our kit?", False),
    # Annex I's 5A001.j (labelled j.1, j.2) is nearer than the CCL's ECCN 5A001, which lists j inline.
    ("What are the thresholds in sub-item 5A001.j.3 of the EU control list?", True),
    # The CCL writes deeper items out by their path ("f.1. Interception equipment …"), which the
    # Annex I reading ("f. … 1. …") does not see: they exist all the same.
    ("Our US supplier classifies the unit under ECCN 5A001.f.1. Under the EAR, is a licence needed for Norway?", False),
    ("Under the EAR, does ECCN 5A001.b.5 catch our scanning receiver?", False),
    ("Under the EAR, what does ECCN 5A001.f.7 control?", True),
])
def test_a_sub_item_an_entry_does_not_list_inline(assistant, question: str, missing: bool) -> None:  # noqa: ANN001
    result = assistant.retriever.search(question, None, 10)
    assert bool(result.unresolved) is missing


@pytest.mark.parametrize(("question", "missing"), [
    # Wassenaar's 4.D.4 has one unnumbered Note ("Note 4.D.4 does not apply to …"): no Note 2, and
    # its own code after "Note" is not a Note 4.
    ("Note 2 to 4.D.4 of the Wassenaar list exempts penetration-testing tools - how does it define them?", True),
    ("Does Note 4 to 4.D.4 cover red-team courses?", True),
    ("Does Note 3 to 6A003.b.4 release our 8.3 Hz thermal camera?", False),  # EU Annex I: "Note 3: 6A003.b.4.b. …"
    ("Is our logical-extraction tool excluded by 5A004.b Note 2?", False),
    ("What does Note 1 to ECCN 4E001 exclude?", False),
])
def test_a_numbered_note_the_named_entry_does_not_have(assistant, question: str, missing: bool) -> None:  # noqa: ANN001
    """A Note number past an entry's own is a false premise, as a sub-item letter past its last is."""
    result = assistant.retriever.search(question, None, 10)
    assert bool(result.unresolved) is missing
    if missing:
        response = assistant.ask(question)
        assert response.abstained and response.abstain_kind == "false-premise"
        assert "Note" in response.abstain_reason


def test_a_note_number_is_read_beside_the_entry_it_names() -> None:
    (before,) = find_references("What does Note 2 to ECCN 5A004.b exclude?")
    (after,) = find_references("Is it caught by 5A004.b, Note 2?")
    (plain,) = find_references("Is it caught by 5A004.b? See the Note.")
    assert (before.note, after.note, plain.note) == (2, 2, None)
    assert before.label == after.label == "5a004.b"

