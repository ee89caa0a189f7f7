"""The glossary that bridges exporters' words and the law's: which facets a question gets."""

from __future__ import annotations

import pytest

from assistant.vocabulary import expand, facets


@pytest.mark.parametrize(("question", "facet"), [
    ("How long must we keep our shipping records?", "recordkeeping records retention period retain"),
    ("Can we scan the paper invoices and shred the originals?", "reproduction original records destroy"),
    ("We shipped a camera without a licence by mistake. Should we tell BIS?", "voluntary self-disclosure violations"),
    ("What fines can we get for a wrong export, and can they fine us twice?", "penalties civil criminal violations sanctions"),
    ("Our licence application was turned down. What now?", "appeal denial refusal"),
    ("Does our freight forwarder need to do anything?", "forwarding agent freight forwarder"),
    ("We give remote support to a customer abroad.", "technical assistance"),
    ("The cameras are only passing through the port of Rotterdam.", "transit transhipment"),
    ("Our product is unlisted; can it still need a licence?", "catch-all not listed end-use informed"),
    # other everyday words for the same duties
    ("How long must we hold on to records of our camera exports?", "recordkeeping records retention period retain"),
    ("For how many years do we have to store the paperwork?", "recordkeeping records retention period retain"),
    ("Once our export documents are digitised, may we get rid of the paper versions?",
     "reproduction original records destroy"),
    ("We broke the export rules by shipping early. Does owning up to BIS help?", "voluntary self-disclosure violations"),
    ("Can we challenge the decision to refuse our licence?", "appeal denial refusal"),
    ("If our engineer explains the design over the phone to a client abroad, is that an export?",
     "oral transmission voice telephone transfer technology"),
    ("Does coaching a customer on a Teams call count as a transfer?", "oral transmission voice telephone transfer technology"),
    ("We post the software on a USB stick instead of e-mailing it. Is that goods?",
     "tangible storage media software recorded goods"),
    ("Which licence exceptions are left for items controlled for crime-control reasons?", "crime control detection 742.7"),
    ("We learned that our agent sold two probes on to Iran without a licence. May we still send them spare parts?",
     "knowledge violation has occurred proceeding with transactions service"),
])
def test_everyday_words_get_the_laws_terms(question: str, facet: str) -> None:
    assert facet in facets(question)
    assert facet in expand(question)


@pytest.mark.parametrize("question", [
    # a notification, not a self-disclosure: nothing was violated
    "Our open-source encryption library is on GitHub; do we have to tell BIS anything?",
    # "fine" as in "good", and a penalty-free question
    "Is it fine to ship spare parts under the same licence?",
])
def test_a_word_out_of_its_sense_gets_no_facet(question: str) -> None:
    found = facets(question)
    assert "voluntary self-disclosure violations" not in found
    assert "penalties civil criminal violations sanctions" not in found


def test_a_violation_only_to_be_reported_is_not_a_transaction_to_proceed_with() -> None:
    assert "knowledge violation has occurred proceeding with transactions service" not in facets(
        "We discovered we shipped fingerprint scanners last year without the licence. How do we disclose it to BIS?")


def test_a_question_without_everyday_terms_is_left_as_it_is() -> None:
    assert expand("What does § 762.6 require?") == "What does § 762.6 require?"
    assert facets("What does § 762.6 require?") == []
