"""The words test of the scope check: export-control vocabulary keeps a question in scope."""

from __future__ import annotations

import pytest

from assistant.scope import ScopeCheck, uses_export_control_vocabulary


@pytest.mark.parametrize(("question", "expected"), [
    # The EAR's own term, where the question has no other export word ("a licence" alone is any field's).
    ("Covert bug for landlines, buyer in Canada. Do we really need a licence even for Canada? Any licence "
     "exceptions?", True),
    ("Do we need a licence to sell alcohol at the trade fair?", False),
    ("Do we need an export licence to ship thermal cameras to Brazil?", True),
    # Licences exist in many fields (private security, software, driving): the word alone is
    # shared, and the meaning test decides.
    ("Do our technicians need a licence from the state private security board to install CCTV?", False),
    ("How much is the annual DDTC registration fee under ITAR part 122?", True),  # arms export control
    ("Which licences cover 5A001.j?", True),
    ("Is a licence exception available for encryption items?", True),
    # A licence plate is not a licence: privacy law on plate-reader records is another field.
    ("Must we delete licence-plate-reader records when a driver asks us to?", False),
    ("How long may our license plate cameras keep images under state privacy law?", False),
    ("What VAT applies to cameras we import?", False),
    # Transit and proliferation controls are export control, though "port" and "import" sound like customs.
    ("Cameras are in transit through Rotterdam; can the authorities stop them if they may go to a missile "
     "programme?", True),
    ("Does a military end user abroad change anything for our thermal cameras?", True),
    ("EU-made IMSI catchers are transhipped at Felixstowe. Does the transit need an authorisation?", True),
    ("ECJU has refused our SIEL for a network monitoring system. How long do we have to appeal?", True),
    ("We're a UK haulier moving pepper-spray devices from China to Kenya. Do UK trade controls catch us?", True),
    ("We shipped software without the licence it needed. When must a voluntary self-disclosure reach OEE?", True),
    # The catch-all clauses turn on use for repression and on items that are not listed.
    ("shipping some unlisted network monitoring kit out of belfast. can HMRC detain it if it may be used for "
     "repression?", True),
    ("Are non-listed cyber-surveillance items ever caught?", True),
    ("Do we pay stamp duty when we sell unlisted shares?", False),
    # Goods damaged "in transit" are a shipping and insurance matter.
    ("Our cameras got water damage in transit to Rotterdam. Who pays?", False),
    # The Commerce Control List, the EAR99 designation and the ultimate consignee's statement.
    ("which CCL entry covers electronic ankle monitors that a prison service uses?", True),
    ("Which Commerce Control List entry covers police-model infrared viewers?", True),
    ("got an RFQ for EAR99 network taps from a military intelligence bureau. can we quote?", True),
    ("We signed the vendor's Statement by Ultimate Consignee and Purchaser; can we correct it now?", True),
    ("Who is the consignee on the bill of lading for our camera shipment?", False),
    ("Does it count as 'in the public domain' for Wassenar list purposes?", True),  # a common misspelling
    ("Our UK licence application for a network monitoring system was refused. Do we get reasons, and how can we "
     "appeal?", True),
    ("The Secretary of State revoked our licence for CCTV analytics kit. Can we keep shipping?", True),
])
def test_export_control_words(question: str, expected: bool) -> None:
    assert uses_export_control_vocabulary(question) is expected


@pytest.mark.parametrize("question", [
    "What import duty does the US charge on thermal cameras we bring in from the UK?",
    "Which tariffs apply to the CCTV cameras we buy from Korea?",
    "Does the GDPR let us keep face templates of our shoppers?",
    "Our IP cameras got water damage in transit to Rotterdam. Can we claim under our cargo insurance?",
    "Under Incoterms 2020 CIF, who has to insure our shipment of CCTV cameras to Lagos?",
    "Can we enforce a non-compete clause against an engineer who leaves for a competitor?",
    "We want to hire an engineer from India. Do we need a sponsor licence for the skilled worker visa?",
    "How long can our foreign graduate students stay on OPT after graduation, and what's the H-1B cap?",
    "What's the corporate tax rate in Ireland on profits from our surveillance-software export sales?",
    "Do we have to charge Canadian GST on subscriptions to our video analytics platform?",
    # Words that only say what the product is do not outweigh another field's own words.
    "what vat rate do we put on invoices for our lawful intercept software subscription to a customer in norway?",
    "Which import tariffs apply to the encryption modules we buy from Taiwan?",
    "Can we fire an employee in California for posting about our surveillance products, or would that breach "
    "employment law?",
])
def test_a_neighbouring_fields_own_words_decide_without_export_words(question: str) -> None:
    """Without any export-control word, words only another field uses put a question out of
    scope, even when its subject (cameras) pulls its meaning towards export control; the
    embedding is never consulted."""
    def no_embedding(text: str) -> None:
        raise AssertionError("the meaning test was not needed")

    assert ScopeCheck(no_embedding).out_of_scope(question, confidence=0.9, floor=0.3, texts=[])


@pytest.mark.parametrize("question", [
    "Do we need an export licence, and what customs duty applies, for thermal cameras to Brazil?",
    "Does our lawful intercept software need an export licence to Norway, and what VAT applies?",
    "Do our export sales of intercept software to Norway need an export licence, and what VAT applies?",
])
def test_export_words_keep_a_question_with_customs_words_in_scope(question: str) -> None:
    assert not ScopeCheck(lambda text: None).out_of_scope(  # type: ignore[arg-type,return-value]
        question, confidence=0.9, floor=0.3, texts=[])


@pytest.mark.parametrize(("question", "expected"), [
    ("We take a demo camera to an expo in Singapore under TMP. Can the distributor keep it?", True),
    ("Can the police unit buy our kit under GOV?", True),
    # Only in capitals, as the regulations write them: "gov" and "bag" are ordinary words.
    ("Which gov website lists the holidays? Can I bring a bag?", False),
])
def test_a_licence_exception_code_is_export_control_vocabulary(question: str, expected: bool) -> None:
    codes = frozenset({"TMP", "GOV", "BAG", "TSU"})  # what assistant/abstention.py derives from Part 740
    assert uses_export_control_vocabulary(question, codes) is expected


def test_a_quoted_phrase_of_the_texts_is_found_past_an_apostrophe() -> None:
    """"Our monitoring tool's code …": the apostrophe does not open a quotation, so the quoted
    'in the public domain' that the retrieved definition holds is still found."""
    from assistant.scope import quotes_the_texts

    texts = ['"In the public domain" means "technology" or "software" which has been made available without '
             "restrictions upon its further dissemination."]
    question = "Our monitoring tool's code is freely downloadable. Does it count as 'in the public domain' here?"
    assert quotes_the_texts(question, texts)
    assert not quotes_the_texts("Our tool's code is free. Is it 'open to everyone' here?", texts)
