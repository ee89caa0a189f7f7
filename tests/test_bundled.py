"""A named unit missing from the index: left out of a partial copy ("not bundled", an out-of-corpus
answer that names the instrument and its official source) or not existing (a false premise)."""

from __future__ import annotations

import pytest

from assistant.bundled import not_bundled
from assistant.references import find_references


@pytest.mark.parametrize(("question", "where"), [
    ("What licensing policy does BIS apply under § 742.13?", "15 CFR Part 742"),  # between §§ 742.7 and 742.15
    ("What does Article 4A of the Export Control Order 2008 require?", "Export Control Order 2008"),
    ("Which countries are in Supplement No. 3 to part 740?", "15 CFR Part 740"),
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
])
def test_a_unit_that_does_not_exist_stays_a_false_premise(assistant, question: str) -> None:  # noqa: ANN001
    snapshot = assistant.retriever.reader.snapshot()
    assert not_bundled(snapshot, find_references(question)) == []
    response = assistant.ask(question)
    assert response.abstained and response.abstain_kind == "false-premise"


def test_a_named_gap_beside_a_bundled_unit_is_a_notice(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("Does § 742.7 or § 742.13 cover voice print equipment?")
    assert not response.abstained
    assert any(n.startswith("§ 742.13 is not in the bundled copy of 15 CFR Part 742") for n in response.notices)


def test_an_instrument_mentioned_elsewhere_in_the_question_does_not_bind_the_reference(assistant) -> None:  # noqa: ANN001
    """"EAR" is the only instrument named, but Article 5(1) is not the EAR's: it resolves where it
    exists (Regulation (EU) 2021/821) instead of becoming a false premise."""
    result = assistant.retriever.search("How does the EAR crime control rule compare with Article 5(1)?", None, 10)
    assert not result.unresolved
    assert any(h.exact is not None and h.chunk.section == "Article 5(1)" for h in result.hits)
