"""Questions about what an unbundled instrument *contains* are out of corpus; questions about the
bundled rules that mention it are not."""

from __future__ import annotations

import pytest

from assistant.not_bundled import missing_for


@pytest.mark.parametrize(("question", "instrument"), [
    ("What does the Country Chart say for exports of 6A003 cameras to Vietnam?", "Country Chart"),
    ("Which countries are in NS Column 2?", "Country Chart"),
    ("Is Vietnam in RS column 1?", "Country Chart"),
    ("Is there an X in the CC Column 1 box for China?", "Country Chart"),
    ("Is Hangzhou Hikvision on the Entity List?", "Entity List"),
    ("Was Dahua added to the Entity List?", "Entity List"),
    ("Is our distributor in Dubai listed on the Entity List?", "Entity List"),
    ("What red flags does the EU's 2024 guidance on cyber-surveillance exports list?", "2024/2659"),
    ("Which PL entries of the UK Strategic Export Control List cover interception kit?", "Export Control Order"),
])
def test_asking_what_an_unbundled_instrument_contains(question: str, instrument: str) -> None:
    assert [m.name for m in missing_for(question) if instrument in m.name]


@pytest.mark.parametrize("question", [
    # How to use the chart is § 738.4; a column named as a fact leaves § 742.7 to answer.
    "We have classified our product under an ECCN. How do we then use the Country Chart to work out whether we "
    "need a licence?",
    "Our voice-print equipment is going to a customer in a country listed in CC Column 1. Do we need a licence?",
    "What does the EAR say happens when a company is added to the Entity List?",
    "What must we do if our customer is listed on the Entity List after we ship?",
    "What does the 2024 guidance say cyber-surveillance items are?",
])
def test_rules_that_mention_an_unbundled_instrument_stay_answerable(question: str) -> None:
    assert missing_for(question) == []
