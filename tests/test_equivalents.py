"""The same control-list code in the other bundled lists (assistant/equivalents.py)."""

from __future__ import annotations

import pytest

from assistant.equivalents import LINE_LEAD, Code, same_code_elsewhere
from evals.support import answer_sentences


@pytest.mark.parametrize(("label", "labels"), [
    ("5A001.j.2", ["5A001.j.2", "5.A.1.j.2", "5A001.j", "5.A.1.j", "5A001", "5.A.1"]),
    ("5.A.1.j", ["5A001.j", "5.A.1.j", "5A001", "5.A.1"]),
    ("ECCN 4D004", ["4D004", "4.D.4"]),
])
def test_a_code_in_every_lists_numbering(label: str, labels: list[str]) -> None:
    code = Code.of(label)
    assert code is not None and code.labels() == labels


@pytest.mark.parametrize("label", ["§ 742.7(a)", "Article 5(1)", "EU005", "Definition of \"intrusion software\""])
def test_other_labels_are_not_codes(label: str) -> None:
    assert Code.of(label) is None


def test_an_eu_entry_names_the_wassenaar_entry_and_the_ccl_eccn(assistant) -> None:  # noqa: ANN001
    snapshot = assistant.retriever.reader.snapshot()
    sections = assistant.retriever.sections(snapshot)
    eu = next(c for c in snapshot.by_doc["eu-2021-821-annex-i-control-list"] if c.section == "5A001.j")
    others = {(c.doc_id, c.section) for c in same_code_elsewhere([eu], sections)}
    assert others == {("wassenaar-2025-dual-use-list-cat4-cat5p1", "5.A.1.j"),
                      ("15-cfr-part-774-supp-1-ccl", "ECCN 5A001")}
    # a list the index holds only in part names nothing it does not hold (Wassenaar has no 6.A.3)
    camera = next(c for c in snapshot.by_doc["15-cfr-part-774-supp-1-ccl"] if c.section == "ECCN 6A003")
    assert {c.doc_id for c in same_code_elsewhere([camera], sections)} == {"eu-2021-821-annex-i-control-list"}


def test_the_answer_names_them_on_one_line_that_is_not_a_claim(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("What does Wassenaar 5.A.1.j control?")
    line = next(ln for ln in response.answer.splitlines() if ln.startswith(LINE_LEAD))
    assert "5A001.j" in line and "ECCN 5A001" in line
    assert all(LINE_LEAD not in text for text, _ in answer_sentences(response.answer))
