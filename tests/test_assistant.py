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


def test_facial_recognition_question_cites_eu_and_us_provisions(assistant) -> None:  # noqa: ANN001
    response = assistant.ask(FACIAL)
    assert not response.abstained
    cited = _sections(response)
    assert any(doc == "eu-2021-821-dual-use-regulation" and s.startswith("Article 5") for doc, s in cited), cited
    assert any(doc == "15-cfr-part-742" and s.startswith("§ 742.7") for doc, s in cited) or \
        any(doc == "15-cfr-part-744" and s.startswith("§ 744.11") for doc, s in cited), cited
    _assert_citations_are_real(assistant, response)
    assert any("Not legal advice" in n for n in response.notices)
    assert any("partial copy" in n for n in response.notices)
    assert response.answer.startswith("The indexed texts that bear on this question:")
    assert {"retrieve", "compose", "verify", "total"} <= set(response.timings_ms)


def test_definition_of_intrusion_software(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("What is intrusion software?")
    assert not response.abstained
    assert any("intrusion software" in c.section.lower() or "intrusion software" in c.quote.lower()
               for c in response.citations)
    assert any(c.doc_id == "wassenaar-2025-dual-use-list-cat4-cat5p1" and "intrusion" in c.section.lower()
               for c in response.citations), _sections(response)
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


def test_out_of_scope_question_abstains(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("What is a good recipe for sourdough bread?")
    assert response.abstained and "does not answer" in response.answer
    _assert_citations_are_real(assistant, response)


@pytest.mark.parametrize("question", ["What does ECCN 9Z999 control?", "What does Article 97 of Regulation 2021/821 say?"])
def test_false_premise_abstains(assistant, question: str) -> None:  # noqa: ANN001
    response = assistant.ask(question)
    assert response.abstained
    assert "no unit named" in response.abstain_reason


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
