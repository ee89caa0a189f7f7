"""Defined terms read from the corpus's own structure and words (assistant/definitions.py), and
the definition question that ranks the defining unit first."""

from __future__ import annotations

import pytest

from assistant.definitions import DefinedTerms, normalise


@pytest.fixture(scope="module")
def snapshot(assistant):  # noqa: ANN001, ANN201
    return assistant.retriever.reader.snapshot()


@pytest.fixture(scope="module")
def terms(snapshot) -> DefinedTerms:  # noqa: ANN001
    return DefinedTerms.build(snapshot.chunks)


def _units(snapshot, chunk_ids: list[str]) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(snapshot.by_id[c].doc_id, snapshot.by_id[c].unit or snapshot.by_id[c].section) for c in chunk_ids}


def test_normalise_folds_quotes_case_plurals_and_spelling() -> None:
    assert normalise("‘Dual-use items’") == normalise("dual-use item") == "dual-use item"
    assert normalise("*general licence*") == "general license"
    assert normalise("access") == "access"  # "ss" is not a plural


def test_terms_come_from_definition_units_and_from_defining_sentences(snapshot, terms) -> None:  # noqa: ANN001
    # a unit per term (§ 772.1), a definitions article (Article 2(n)), an Annex definition
    assert ("15-cfr-part-772", "§ 772.1 “Knowledge”") in _units(snapshot, terms.chunks_for(["knowledge"]))
    assert ("eu-2021-821-dual-use-regulation", "Article 2(1)") in _units(snapshot, terms.chunks_for(["dual-use item"]))
    assert ("wassenaar-2025-dual-use-list-cat4-cat5p1", 'Definition of "intrusion software"') in \
        _units(snapshot, terms.chunks_for(["intrusion software"]))
    # a paragraph headed by the term in italics: "(4) *Government end user,* for the purpose of § 740.22, is …"
    assert ("15-cfr-part-740", "§ 740.22(b)(4)") in {(snapshot.by_id[c].doc_id, snapshot.by_id[c].section)
                                                    for c in terms.chunks_for(["government end user"])}
    assert not terms.chunks_for(["software update"])  # "(c) *Software updates.* The provisions …" is a heading
    # "'internal compliance programme' or 'ICP' means": both names
    assert _units(snapshot, terms.chunks_for(["icp"])) == _units(snapshot, terms.chunks_for(["internal compliance programme"]))
    # a term used in a sentence that does not define it is not a definition
    assert all("means" in snapshot.by_id[c].text or snapshot.by_id[c].unit != snapshot.by_id[c].section
               or snapshot.by_id[c].section.startswith(("Definition", "Article 2("))
               for c in terms.chunks_for(["dual-use item"]))


@pytest.mark.parametrize(("question", "asked"), [
    ("What are 'dual-use items' under Regulation (EU) 2021/821?", ["dual-use item"]),
    ("what exactly is an ICP in EU export control speak?", ["icp"]),
    ("Is a tracking agent the owner installs considered 'intrusion software'?", ["intrusion software"]),
    ("How does the Wassenaar list define intrusion software?", ["intrusion software"]),
    ("What is meant by 'transit' in Regulation (EU) 2021/821?", ["transit"]),
    ("What does the EAR mean by knowledge?", ["knowledge"]),  # not "the EAR"
    ("what's an exporter under 2021/821", ["exporter"]),
    ("What is the meaning of 'transfer (in-country)'?", ["transfer"]),  # defined under its head word
    ("Does a repair video count as technology under the EAR?", ["technology"]),
    # not what the question asks about: a longer phrase of which the term is a small part
    ("What counts as 'sales technology' under the EAR?", []),
    # not a definition question at all, though it uses defined terms
    ("Do we need a licence to export intrusion software to Brazil?", []),
    ("Which ECCN covers technology for facial recognition cameras?", []),
])
def test_the_term_a_question_asks_about(terms: DefinedTerms, question: str, asked: list[str]) -> None:
    assert terms.asked(question) == asked


def test_a_definition_question_ranks_the_defining_unit_first(assistant) -> None:  # noqa: ANN001
    result = assistant.retriever.search("What are 'dual-use items' under Regulation (EU) 2021/821?", None, 10)
    first = result.passages[0].chunks[0]
    assert (first.doc_id, first.section) == ("eu-2021-821-dual-use-regulation", "Article 2(1)")
    # naming a jurisdiction picks that jurisdiction's definition of a term several instruments define
    result = assistant.retriever.search("What does 'cryptography' mean in the EAR?", None, 10)
    first = result.passages[0].chunks[0]
    assert (first.doc_id, first.unit) == ("15-cfr-part-772", "§ 772.1 “Cryptography”")


def test_the_answer_quotes_the_sentence_that_defines_the_term_first(assistant) -> None:  # noqa: ANN001
    """In a unit that is a list of definitions (Article 2(1) of the UK Order), the quote is the
    one that defines the asked term, not the unit's first definition or one sharing its words."""
    response = assistant.ask("What does 'technology' mean in the UK Export Control Order?")
    first = response.citations[0]
    assert (first.doc_id, first.section) == ("uk-export-control-order-2008", "Article 2(1)")
    # (without the rule: "“*UK controlled*” in relation to dual-use goods, software and technology, means …")
    assert first.quote.lstrip("- ").startswith("“*technology*” means")


def test_a_definition_that_points_elsewhere_is_answered_by_the_section_it_points_to(assistant) -> None:  # noqa: ANN001
    """§ 772.1 "*Published.* See § 734.7 of the EAR.": § 734.7 answers, the pointer comes after it."""
    result = assistant.retriever.search("What does 'published' mean under the EAR?", None, 10)
    firsts = [(p.first.doc_id, p.first.unit or p.first.section) for p in result.passages[:2]]
    assert firsts[0][0] == "15-cfr-part-734" and firsts[0][1].startswith("§ 734.7")
    assert firsts[1] == ("15-cfr-part-772", "§ 772.1 “Published”")
    assert not result.unresolved


def test_a_definition_pointing_to_a_section_left_out_of_the_bundle_is_an_honest_gap(assistant) -> None:  # noqa: ANN001
    """§ 772.1 "*Reexport.* See § 734.14 of the EAR." and the MANIFEST records § 734.14 as not
    bundled: the answer says so and links the official text, rather than quoting the pointer."""
    response = assistant.ask("What is a 'reexport' under the EAR?")
    assert response.abstained and response.abstain_kind == "out-of-corpus"
    assert "§ 734.14 is not in the bundled copy of 15 CFR Part 734" in response.abstain_reason
    assert "https://www.ecfr.gov/" in response.answer


def test_a_case_the_law_decides_beside_a_pointer_gap_is_answered(assistant) -> None:  # noqa: ANN001
    """"*Export.* See § 734.13" points to a section the bundle leaves out, but § 734.18, whose own
    title is about exports ("Activities that are not exports …"), answers whether storing
    encrypted data abroad is one: the answer quotes it, with the gap as a notice. Asked whether
    something is 'fundamental research', no cited unit's title is about the term: still a gap."""
    response = assistant.ask("Does storing controlled technical data on a cloud server located outside the United "
                             "States count as an export under the EAR if the data is protected with end-to-end "
                             "encryption?")
    assert not response.abstained
    assert any(c.section.startswith("§ 734.18") for c in response.citations)
    assert any("§ 734.13 is not in the bundled copy of 15 CFR Part 734" in n for n in response.notices)
    response = assistant.ask("Our university lab does face-recognition research with an industry sponsor who wants "
                             "to vet papers before publication. Does it still count as 'fundamental research'?")
    assert response.abstained and response.abstain_kind == "out-of-corpus"


def test_a_question_that_only_asks_for_a_definition_cites_the_definition_alone(assistant) -> None:  # noqa: ANN001
    """Nothing else is asked, so a unit that merely uses the term (Article 27's records of
    dual-use items) is not cited; a question that also describes a product keeps the other
    units that may bear on it."""
    from assistant.definitions import asked_phrases, rest_of_question

    response = assistant.ask("What are 'dual-use items' under Regulation (EU) 2021/821?")
    numbers = {c.n for c in response.citations}
    claims = {(c.doc_id, c.section) for c in response.citations if c.introduces not in numbers}
    assert claims == {("eu-2021-821-dual-use-regulation", "Article 2(1)")}
    question = "Is an anti-theft laptop tracking agent that the owner installs considered 'intrusion software'?"
    assert {"laptop", "owner"} <= rest_of_question(question, asked_phrases(question))
