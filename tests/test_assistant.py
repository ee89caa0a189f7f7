"""The assistant on the real, fully indexed bundled corpus (extractive mode, no LLM)."""

from __future__ import annotations

import pytest

from assistant.records import Turn
from assistant.service import QuestionError
from indexer.reader import Filters

pytestmark = pytest.mark.slow

FACIAL = "Does exporting facial recognition cameras to a public security bureau in China need a licence?"


def _sections(response) -> set[tuple[str, str]]:  # noqa: ANN001
    return {(c.doc_id, c.section) for c in response.citations}


def _assert_citations_are_real(assistant, response) -> None:  # noqa: ANN001
    snapshot = assistant.reader.snapshot()
    retrieved = {r.chunk_id for r in response.retrieved}
    for citation in response.citations:
        chunk = snapshot.by_id[citation.chunk_id]
        assert citation.quote and citation.quote in chunk.text
        assert citation.chunk_id in retrieved
        assert (citation.doc_id, citation.section, citation.cite_as) == (chunk.doc_id, chunk.section, chunk.cite_as)
        assert f"[{citation.n}]" in response.answer
    markers = {int(m) for m in __import__("re").findall(r"\[(\d+)\]", response.answer)}
    assert markers == {c.n for c in response.citations}


def test_seed_question_cites_article_5_and_742_7_and_nothing_about_shotguns(assistant) -> None:  # noqa: ANN001
    """The seed question names an item and an end user: its answer is the licence check, which
    says what decides it in each jurisdiction and asks for the missing destination."""
    response = assistant.ask(FACIAL)
    assert response.answer.startswith("**Licence check") and "To narrow this down" in response.answer
    _assert_citations_are_real(assistant, response)
    assert not any(w in c.quote.lower() for c in response.citations for w in ("shotgun", "thermal"))
    cited = _sections(response)
    assert any(doc == "eu-2021-821-dual-use-regulation" and s.startswith("Article 5") for doc, s in cited), cited
    assert any(doc == "15-cfr-part-742" and s.startswith("§ 742.7") for doc, s in cited), cited
    assert not any(s.startswith(("§ 742.7(a)(3)", "§ 742.6")) for _, s in cited), cited


def test_licence_question_answers_first_in_the_laws_words(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("Under Regulation (EU) 2021/821, does exporting facial recognition cameras to a "
                             "public security bureau in China need an authorisation?")
    assert not response.abstained
    cited = _sections(response)
    first = response.citations[0]
    assert (first.doc_id, first.section) == ("eu-2021-821-dual-use-regulation", "Article 5(1)"), cited
    assert 1 <= len({s for _, s in cited}) <= 4
    # The answer opens with the unit's name and its own words, quoted and cited.
    first_line = response.answer.splitlines()[0]
    assert first_line.startswith("**Regulation (EU) 2021/821, Article 5") and "“1. An authorisation shall be required" in first_line
    _assert_citations_are_real(assistant, response)
    assert any(n.startswith("Not legal advice") and "Texts as of: Regulation (EU) 2021/821 2023-05-26" in n
               for n in response.notices), response.notices
    assert len(response.notices) <= 3 and all(len(n) < 400 for n in response.notices)
    assert {"retrieve", "compose", "verify", "total"} <= set(response.timings_ms)


def test_definition_of_intrusion_software(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("What is intrusion software?")
    assert not response.abstained
    assert any("intrusion software" in c.section.lower() or "intrusion software" in c.quote.lower()
               for c in response.citations)
    # The definition itself, in the law's words, comes first (any of the bundled definitions).
    assert "intrusion software" in (response.citations[0].unit + response.citations[0].unit_title).lower()
    assert "avoid detection" in response.answer
    _assert_citations_are_real(assistant, response)


def test_named_eccn_comes_first(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("What does ECCN 3A981 control?")
    assert response.retrieved[0].section == "ECCN 3A981" and response.retrieved[0].exact_reference
    assert response.citations[0].section == "ECCN 3A981"
    assert "Polygraphs" in response.citations[0].quote or "fingerprint" in response.answer
    _assert_citations_are_real(assistant, response)


@pytest.mark.parametrize(
    ("question", "section"),
    [
        ("Explain 5A001.j", "5A001.j"),
        ("What does Article 5 say?", "Article 5"),
        ("What does § 744.11 require?", "§ 744.11"),
        ("What is in 5.A.1.j of the Wassenaar list?", "5.A.1.j"),
    ],
)
def test_exact_references_resolve_first(assistant, question: str, section: str) -> None:  # noqa: ANN001
    first = assistant.ask(question).retrieved[0]
    assert first.exact_reference and (first.section == section or first.section.startswith(section + "("))


def test_a_named_entrys_parts_rank_on_their_evidence(assistant) -> None:  # noqa: ANN001
    """The named entry and its notes are all pinned above other units; among them the note that
    answers ranks first, not the entry's heading by document order."""
    result = assistant.retriever.search(
        "Our deep packet inspection box is only used for quality of service on an ISP network. "
        "Is it caught by 5A001.j?", None, 8)
    first = result.hits[0]
    assert first.exact is not None and first.chunk.section.startswith("5A001.j")
    assert "does not control" in first.chunk.text and "Quality of Service" in first.chunk.text
    # The same entry asked for as such: the entry itself first, its parts after it.
    plain = assistant.retriever.search("Explain 5A001.j", None, 8)
    assert plain.hits[0].chunk.section == "5A001.j"


@pytest.mark.parametrize(("question", "cite_as"), [
    # "Article 5" alone: the EU Regulation's and the UK Order's both exist; the rest of the
    # question decides which is meant, not the alphabet or which one is labelled exactly.
    ("What does Article 5 say about exporting cyber-surveillance items?", "Regulation (EU) 2021/821"),
    ("Does Article 5 cover moving UK controlled dual-use goods within the customs territory?",
     "Export Control Order 2008"),
])
def test_an_article_of_several_instruments_resolves_to_the_one_the_question_is_about(
        assistant, question: str, cite_as: str) -> None:  # noqa: ANN001
    result = assistant.retriever.search(question, None, 8)
    first = result.passages[0]
    assert first.exact and first.first.cite_as.startswith(cite_as), first.first.cite_as


def test_out_of_scope_question_abstains(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("What is a good recipe for sourdough bread?")
    assert response.abstained and response.abstain_kind == "out-of-scope"
    assert response.answer.startswith("This is outside what RegQA covers")
    _assert_citations_are_real(assistant, response)


@pytest.mark.parametrize("question", [
    # A neighbouring field of law, in words export questions also use ("sell", "authorization").
    "Which import tariff does Canada charge on surveillance cameras we bring in from Korea?",
    "Does our doorbell camera need CE marking before we can sell it in French shops?",
    "How long may a police customer keep the recordings our body cameras make under data protection law?",
])
def test_questions_from_a_neighbouring_field_are_out_of_scope(assistant, question: str) -> None:  # noqa: ANN001
    response = assistant.ask(question)
    assert response.abstained and response.abstain_kind == "out-of-scope", response.answer


@pytest.mark.parametrize("question", [
    "Do we need a licence to sell our body cameras to a police force abroad?",
    "Do we need a licence to ship thermal cameras to Brazil?",
    # No export words, but it quotes the control list's own words.
    "We make ankle tags for offenders on probation. What is meant by 'electronic monitoring restraint devices'?",
    # A chemical weapons programme is what catch-all controls are about, whatever the other words.
    "Our engineers in Manchester and Dublin give remote maintenance support for sensors at a plant abroad that "
    "turns out to be part of a chemical weapons programme. What do the UK and the EU rules require of them?",
    # The EU's own licence types name the field.
    "We're taking a demo unit to a security fair in Dubai and may sell it there. Does the EU general authorisation "
    "for exhibitions and fairs cover this?",
])
def test_export_questions_stay_in_scope(assistant, question: str) -> None:  # noqa: ANN001
    response = assistant.ask(question)
    assert response.abstain_kind != "out-of-scope", response.answer


@pytest.mark.parametrize("question", ["What does ECCN 9Z999 control?", "What does Article 97 of Regulation 2021/821 say?",
                                      "What does 5A001.z of the EU control list cover?", "What does § 742.7(z) require?"])
def test_false_premise_abstains(assistant, question: str) -> None:  # noqa: ANN001
    response = assistant.ask(question)
    assert response.abstained and response.abstain_kind == "false-premise"
    assert "no unit named" in response.abstain_reason


@pytest.mark.parametrize(("question", "unit", "label"), [
    ("What does 5A001.z of the EU control list cover?", "5A001", "5A001"),
    ("What does § 742.7(z) require?", "§ 742.7", "§ 742.7("),
    ("Is software under ECCN 5D980.c controlled?", "ECCN 5D980", "ECCN 5D980"),
])
def test_a_false_premise_first_lists_the_real_unit_it_names_a_part_of(assistant, question: str, unit: str,
                                                                        label: str) -> None:  # noqa: ANN001
    """"5A001.z does not exist" is only half the help: the reader sees 5A001 first, whether or not
    the search ranked it (a passage that says something, not its heading or amendment note)."""
    response = assistant.ask(question)
    assert response.abstain_kind == "false-premise", response.answer
    first = response.citations[0]
    assert (first.unit or first.section) == unit and first.section.startswith(label), response.answer
    assert first.chunk_id in {r.chunk_id for r in response.retrieved}
    assert not any("Removed" in n for n in response.notices), response.notices


def test_an_invented_unit_beside_a_real_one_is_still_a_false_premise(assistant) -> None:  # noqa: ANN001
    # Article 5 exists; Article 44 of 2021/821 does not. The answer must not pass over the
    # invented part by answering from the real one.
    response = assistant.ask("Article 44 of Regulation (EU) 2021/821 exempts universities from the Article 5 "
                             "notification. How does a research lab claim that exemption?")
    assert response.abstained and response.abstain_kind == "false-premise", response.answer
    assert "Article 44" in response.abstain_reason and "Article 5" not in response.abstain_reason


@pytest.mark.parametrize(("question", "instrument", "source"), [
    ("Is Hangzhou Hikvision on the Entity List?", "Entity List (Supplement No. 4 to Part 744)", "ecfr.gov"),
    # Parts of bundled instruments that the MANIFEST records as missing.
    ("Which red flags does the Commission's 2024 guidance list for cyber-surveillance exports?",
     "Recommendation (EU) 2024/2659", "eur-lex.europa.eu"),
    ("Which PL entries of the UK Strategic Export Control List cover interception equipment?",
     "Schedules of the Export Control Order 2008", "legislation.gov.uk"),
])
def test_a_question_about_an_unbundled_list_says_which_instrument_would_answer(
        assistant, question: str, instrument: str, source: str) -> None:  # noqa: ANN001
    response = assistant.ask(question)
    assert response.abstained and response.abstain_kind == "out-of-corpus"
    assert instrument in response.abstain_reason and source in response.abstain_reason


def test_filters_restrict_the_sources(assistant) -> None:  # noqa: ANN001
    response = assistant.ask(FACIAL, filters=Filters.of(jurisdictions=["US"]))
    snapshot = assistant.reader.snapshot()
    assert response.retrieved and all(snapshot.by_id[r.chunk_id].jurisdiction == "US" for r in response.retrieved)


def test_results_are_diverse(assistant) -> None:  # noqa: ANN001
    response = assistant.ask(FACIAL)
    sections = [(r.doc_id, r.section) for r in response.retrieved]
    # At most two hits of one unit, plus the chunk where the unit states its rule.
    assert max(sections.count(s) for s in sections) <= 3
    assert len({assistant.reader.snapshot().by_id[r.chunk_id].jurisdiction for r in response.retrieved}) >= 2


def test_follow_up_keeps_the_conversation(assistant) -> None:  # noqa: ANN001
    history = [Turn(role="user", content=FACIAL), Turn(role="assistant", content="...")]
    response = assistant.ask("And if the buyer is in Russia?", history=history)
    assert "facial recognition" in response.standalone_question and "Russia" in response.standalone_question
    standalone = assistant.ask("What does ECCN 3A981 control?", history=history)
    assert standalone.standalone_question == "What does ECCN 3A981 control?"


@pytest.mark.parametrize("question", ["", "   ", "\x00\x07"])
def test_empty_questions_are_refused(assistant, question: str) -> None:  # noqa: ANN001
    with pytest.raises(QuestionError, match="empty"):
        assistant.ask(question)


def test_overlong_question_is_refused(assistant) -> None:  # noqa: ANN001
    with pytest.raises(QuestionError, match="limit"):
        assistant.ask("licence " * 1000)


def test_langchain_retriever(assistant) -> None:  # noqa: ANN001
    from assistant.retrieval import RegQARetriever

    retriever = RegQARetriever(hybrid=assistant.retriever, k=4)
    documents = retriever.invoke("What does ECCN 3A981 control?")
    assert len(documents) == 4 and documents[0].metadata["section"] == "ECCN 3A981"
    assert documents[0].metadata["cite_as"].startswith("15 CFR Part 774")


def test_a_named_entry_brings_the_note_that_excludes_items(assistant) -> None:  # noqa: ANN001
    # 5A001.j's Note ("does not control … Network Quality of Service (QoS)") stands in its eighth
    # paragraph, past the paragraphs a named entry pins first.
    response = assistant.ask("We sell DPI appliances to ISPs for traffic shaping and QoS. Are they caught by the "
                             "EU entry 5A001.j?")
    assert not response.abstained
    assert any("does not control" in c.quote and "Quality of Service" in c.quote for c in response.citations), \
        response.answer


def test_the_rule_that_names_the_first_entrys_code_ranks_next(assistant) -> None:  # noqa: ANN001
    # Leg irons are ECCN 0A982; the CCL bundled here has no License Requirements section, and the
    # rule that decides is § 742.7(a)(4) ("all destinations, except Canada only"), which names it.
    result = assistant.retriever.search("Do we need a licence to sell leg irons and shackles to a prison "
                                        "service in Australia?", None, 8)
    assert result.passages[0].first.section == "ECCN 0A982"
    assert "§ 742.7(a)(4)" in [c.section for c in result.passages[1].chunks]


def test_a_licence_question_about_goods_on_the_uk_military_list_is_answered_by_article_3(assistant) -> None:  # noqa: ANN001
    # The item is said to be on the list (a premise, not a question about what the list holds,
    # whose Schedules are not bundled): the Order's prohibition answers, not its definitions.
    response = assistant.ask("We are a UK firm. Do we need a licence to upload the design files of a sighting "
                             "system that's on the UK Military List to a cloud server our partner in Japan uses?")
    assert not response.abstained, response.answer
    assert ("uk-export-control-order-2008", "Article 3(b)") in {(c.doc_id, c.section) for c in response.citations}


def test_a_definition_asked_for_ranks_above_the_entries_that_use_the_term(assistant) -> None:  # noqa: ANN001
    result = assistant.retriever.search("5A001.j mentions searches on 'hard selectors'. What counts as a hard "
                                        "selector?", None, 8)
    first = result.passages[0].first
    assert "hard selectors" in first.section.lower() or "hard selectors" in first.unit.lower(), first.section
    assert any(p.exact for p in result.passages[1:])  # the named entry still follows


def test_a_named_entrys_parts_are_cited_on_their_evidence(assistant) -> None:  # noqa: ANN001
    """Named units are cited when the question bears on them, not each one by rank: the body-armour
    question names ECCN 1A005, and the EU list's 1A005 and 1A005.b (same code, no evidence of their
    own) no longer crowd out the licence exception that answers it."""
    response = assistant.ask("Is a bulletproof vest I take on a business trip for my own protection caught by "
                             "ECCN 1A005?")
    numbers = {c.n for c in response.citations}
    claims = [c for c in response.citations if c.introduces not in numbers]
    assert any(c.section.startswith("ECCN 1A005") for c in claims)
    assert not any(c.doc_id == "eu-2021-821-annex-i-control-list" for c in claims)
    assert any(c.section.startswith("§ 740.14") for c in claims)


def test_the_answer_opens_with_the_rule_not_the_glossary(assistant) -> None:  # noqa: ANN001
    """Article 2(1) of the UK Order defines "dual-use", a word the question shares: it may be cited,
    but after the rule that answers; asked for a definition, it leads."""
    rule = assistant.ask("We export a UK-controlled dual-use item to a reseller in a country that is not a prohibited "
                         "destination for it. We now learn the reseller will pass the units on to an end user in a "
                         "prohibited destination. Is our export to the reseller still prohibited under the 2008 Order?")
    assert rule.citations and rule.citations[0].section != "Article 2(1)"
    assert any(c.section.startswith("Article 4(3)") for c in rule.citations)
    definition = assistant.ask("Under the 2008 Order, what is a transfer by electronic means?")
    assert definition.citations[0].section == "Article 2(1)"
