"""Which provision ranks first when a licence question says its item is on a control list."""

from __future__ import annotations

import pytest

from assistant.list_rules import list_provisions

UK = "uk-export-control-order-2008"


@pytest.mark.parametrize(("question", "first"), [
    ("Do we need a licence to email the source code of targeting software that is on the UK Military List "
     "to a partner in Australia?", "Article 3(b)"),
    ("We want to upload CAD files for a sensor pod (it's on the UK Military List) to a subcontractor's cloud. "
     "Licence needed?", "Article 3(b)"),
    ("Our armoured vehicle is on the UK Military List. Do we need a licence to ship it to Kenya?", "Article 3(a)"),
])
def test_an_item_on_the_uk_military_list_is_answered_by_article_3(question: str, first: str) -> None:
    assert list_provisions(question) == [(UK, first), (UK, "Article 3")]


@pytest.mark.parametrize("question", [
    "Do we need a licence to ship thermal cameras to Brazil?",
    # the minimum technology to install or repair goods already licensed: Article 26(2) answers
    "Our SIEL covers radars on the UK Military List; does it also cover the minimum technology to repair them?",
    "Can we ship goods on the UK Military List under an open general licence?",
])
def test_other_questions_rank_nothing_first(question: str) -> None:
    assert list_provisions(question) == []
