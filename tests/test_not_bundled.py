"""Questions about what an unbundled instrument *contains* are out of corpus; questions about the
bundled rules that mention it are not."""

from __future__ import annotations

import pytest

from assistant.not_bundled import (asks_about_events, asks_besides_countries, asks_for_countries, foreign_rules,
                                   missing_for, missing_sections_asked,
                                   missing_sections_for, names_countries, not_held)


@pytest.mark.parametrize(("question", "instrument"), [
    ("What does the Country Chart say for exports of 6A003 cameras to Vietnam?", "Country Chart"),
    ("Which countries are in NS Column 2?", "Country Chart"),
    ("Is Vietnam in RS column 1?", "Country Chart"),
    ("Is there an X in the CC Column 1 box for China?", "Country Chart"),
    ("Does 'CC Column 1' on the Country Chart have an X for Brazil? We're quoting police-model IR viewers there.",
     "Country Chart"),
    ("Is Hangzhou Hikvision on the Entity List?", "Entity List"),
    ("Was Dahua added to the Entity List?", "Entity List"),
    ("Is our distributor in Dubai listed on the Entity List?", "Entity List"),
    ("Is Xiamen Meiya Pico on the BIS Entity List, and what review policy applies?", "Entity List"),
    ("Is Dahua currently on the BIS blacklist / Entity List?", "Entity List"),
    ("Is there an X under CC Column 1 for Vietnam on the Commerce Country Chart?", "Country Chart"),
    ("For polygraphs, is Vietnam marked with an X under CC Column 1?", "Country Chart"),
    ("Quick one: on the Commerce Country Chart, is there an X for Vietnam in the CC Column 1 cell?", "Country Chart"),
    ("Fingerprint analyzer, ECCN 3A981. Can you check: is there an X for Brazil under CC Column 1?", "Country Chart"),
    # The asking sentence is found past abbreviations ("No. 1", "e.g.").
    ("Which firms, e.g. Dahua, are on the Military End-User List (Supplement No. 7 to Part 744)? We sell cameras.",
     "Military End-User List"),
    ("What red flags does the EU's 2024 guidance on cyber-surveillance exports list?", "2024/2659"),
    ("Which PL entries of the UK Strategic Export Control List cover interception kit?", "Export Control Order"),
    ("According to the Country Chart, is there an RS Column 2 licence requirement for 6A003 cameras to Vietnam?",
     "Country Chart"),
    ("What did the Court of Justice rule on spyware exports?", "case law"),
    ("What did the last Wassenaar plenary agree on intrusion software?", "plenary"),
    ("Which authority in Ireland issues dual-use export licences?", "competent authorities"),
    ("Which Swedish government agency handles export licences?", "competent authorities"),
    ("Who is currently the Under Secretary of Commerce for Industry and Security?", "office"),
    ("What does BIS's advisory opinion on cloud computing say about deemed exports?", "advisory opinions"),
    ("What does the Wassenaar best practices document on intangible transfers recommend?", "plenary"),
    ("Which firms are on the US Commerce Department's Military End-User List?", "Military End-User List"),
    ("Has the EU imposed sanctions on the Iranian Ministry of Intelligence?", "sanctions"),
    ("Which OGEL covers cryptographic items to Japan, and what conditions does that OGEL set?", "OGEL"),
    # Chat shorthand, lower case.
    ("megvii on the entity list? what review policy applies?", "Entity List"),
    ("is vietnam ticked under CC column 1 on the country chart?", "Country Chart"),
    # Which of the chart's cells are marked for a destination.
    ("Which Country Chart columns are marked for Malaysia?", "Country Chart"),
    ("Which columns are ticked for Peru?", "Country Chart"),
    ("Does CC Column 1 of the Country Chart cover Mexico?", "Country Chart"),  # which destinations a column reaches
    ("Which reason-for-control columns on the Country Chart have an X for Malaysia?", "Country Chart"),
    # Exporters call the Entity List "the blacklist".
    ("is Dahua on the BIS blacklist (the Entity List)? what review policy applies?", "Entity List"),
    ("Is Hikvision on the US blacklist?", "Entity List"),
    ("What does the EU Russia sanctions regulation (833/2014) say about financing such goods?", "sanctions"),
    ("Does an IMSI catcher (5A001.f.2) need a licence to Mexico? Which Country Chart columns have an X for Mexico?",
     "Country Chart"),
    # The asking sentence's pronoun lists what the sentence before it named.
    ("The Commission's 2024 cyber-surveillance guidelines have a due diligence section with red flags about end "
     "users. What red flags do they list for government customers?", "2024/2659"),
    ("We ship to Bengaluru. Is India in Country Group A:5?", "Country Groups"),
    ("Which countries are in Country Group D:5 under the EAR?", "Country Groups"),
    ("Can you tell me whether Vietnam is in Country Group D:1 or only in D:5? We need it for a BAG decision.",
     "Country Groups"),
    ("Please confirm if Saudi Arabia is still in Country Group A:6.", "Country Groups"),
    ("Which Country Group is Kazakhstan in?", "Country Groups"),
    ("Which items are in Schedule 2 of the Export Control Order?", "Export Control Order"),
    ("Which countries does the UK currently subject to an arms embargo?", "Export Control Order"),
    ("which UK-only dual-use items are listed in Schedule 3 of the UK Export Control Order 2008?",
     "Export Control Order"),
    ("Our manual refers to BIS's Know Your Customer guidance. Can you list the red flags BIS sets out there?",
     "Know Your Customer"),
    ("What are the red flags in BIS's KYC guidance?", "Know Your Customer"),
    # The Guidelines named by the Recommendation that annexes them.
    ("What red flags and due-diligence steps does the Annex to Commission Recommendation (EU) 2024/2659 set out "
     "for non-listed cyber-surveillance items?", "2024/2659"),
    ("Which destinations are under a UK arms embargo?", "Export Control Order"),
    ("Can you check whether Xiamen Meiya Pico is on the Entity List and what review policy applies?", "Entity List"),
    # An ECCN's own License Exceptions and License Requirements blocks are not in the bundled CCL.
    ("What's the LVS dollar value limit written into the ECCN 5A991 entry, and does that entry also allow GBS?",
     "License Exceptions blocks"),
    ("What are the reasons for control of ECCN 5A001?", "License Exceptions blocks"),
    # A request asks without a question mark, and "etc." ends no sentence.
    ("Do our DPI probes need a licence to Peru? Please tell me which columns (NS, CC, AT etc.) have an X for "
     "Peru on the Country Chart.", "Country Chart"),
    ("Our ECCN is 5A001. List which columns are marked for Peru.", "Country Chart"),
    ("What due-diligence process do the Commission's 2024 cyber-surveillance guidelines recommend?", "2024/2659"),
    ("Is our drone listed on the UK Military List?", "UK Military List"),
    ("Which UK Military List entry covers our intercept kit?", "UK Military List"),
    ("Which category of the Wassenaar Munitions List covers military jammers?", "Wassenaar Munitions List"),
    ("Does a Wassenaar Munitions List entry cover our army's direction-finding kit?", "Wassenaar Munitions List"),
    ("Is our reseller on the BIS Unverified List?", "Unverified List"),
    ("Leaving licences aside, what does the Country Chart show for Vietnam under CC column 1?", "Country Chart"),
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
    "Which authority decides on a licence application under the EU regulation?",  # Article 12, not a register
    # A pronoun that is the product, not the instrument: the listing stays a stated fact.
    "Our product is on the Dutch national control list that the Netherlands adopted. Do we need an "
    "authorisation in Germany for it?",
    # What an authority may do (Article 7), not which one it is.
    "Goods are trans-shipped through Rotterdam and may feed a missile programme. Can the Dutch authority block "
    "the transit, and who would have to apply?",
    "Who is responsible for keeping the export records?",  # a rule, not an office holder
    "How do we request an advisory opinion on whether our camera is subject to the EAR?",  # § 748.3(c)
    "Can we still ship after a customer is added to the Military End-User List?",  # § 744.21's rule
    "We ship under a UK open general export licence. Do we have to register, and by when?",  # Article 28
    # A listing stated as a fact, then a question about the rule (Article 10, Article 20 of the Order).
    "Our product is on the Dutch national control list that the Netherlands adopted. Do we need an "
    "authorisation in Germany?",
    "We broker drones (they would be on the UK Military List) shipped from China. Does the UK Order catch us?",
    "What happens to parties on the Entity List?",  # § 744.11's rule, not whether one is listed
    "What happens if a customer is put on the blacklist?",
    "What must we do if the end user is on the Entity List?",  # a rule about any listed party
    "Must we check whether a customer is on the Entity List before each shipment?",
    # A relative clause describes any listed party: § 744.16(e)'s removal requests.
    "How can a company that has been placed on the Entity List ask for its listing to be removed or modified?",
    "Can a party which is on the Entity List appeal?",
    # A group named as a fact about the destination; the question is § 740.22's rule.
    "Under License Exception ACE, may we send 4D004 software to the national CERT of a country that is in "
    "Country Group D but also in A:6?",
    # Whether a rule applies when the destination is in a group: the group is the premise.
    "Does License Exception ACE apply if the end user is in Country Group D:1?",
    "Can we use STA if the destination is in Country Group A:5?",
    "If Vietnam is in Country Group D:1, may we still use License Exception ACE for a bank there?",
    "Which destinations are embargoed under part 746 of the EAR?",  # § 746.1, the US's own
    # § 746.8 is the EAR's "Sanctions against Russia and Belarus": the question places it there.
    "Does the Russia sanctions rule in the EAR require a licence for 5A991 routers to our Moscow subsidiary?",
    "What must we do if we see a red flag in an order?",  # § 732.3(m)'s step, not the list
    "What is Commission Recommendation (EU) 2024/2659 about?",  # its title and recitals are bundled
    "Does a UK licence for goods listed in Schedule 3 also cover the technology to install them?",
    "What is an 'embargoed destination' under the UK Export Control Order?",  # Article 2's definition
    # Goods named by the Schedule that lists them; the question is Article 26(2)'s rule.
    "Does a UK export licence for goods specified in Schedule 2 or 3 to the Export Control Order 2008 also "
    "authorise the transfer of the technology needed to install them?",
    # LVS's own rules are § 740.3 and § 740.2: the exception, not an ECCN's value named as a fact.
    "May a license exception such as LVS be used to ship a low-value replacement fingerprint analyzer (ECCN 3A981)?",
    "Our order is worth $12,000 but the LVS limit on that ECCN is $5,000. Can we split it into three shipments?",
    # A statement before the question is not a request, whatever its verb.
    "Our customer showed us which columns are marked for Peru on the Country Chart. Which ECCN covers our probe?",
    # Goods said to be on the list: the Order's own rules for them answer.
    "Is a licence required under the Export Control Order 2008 to email the source code of software listed in the "
    "UK Military List to a partner overseas?",
    "Can our engineers email the CAD files for a targeting camera that's on the UK Military List to Canada?",
    # Goods said to be on the list: a premise about the buyer (§ 740.22's government end user).
    "A buyer distributes items on the Wassenaar Munitions List to armed forces. Is it a government end user for ACE?",
    "We'd send the firmware (it's on the UK Military List) by e-mail. Do we need a licence?",
    # What the asker sets aside is not what they ask about.
    "Leaving the Country Chart aside, how does BIS say it will review licence applications for crime-control items?",
])
def test_rules_that_mention_an_unbundled_instrument_stay_answerable(question: str) -> None:
    assert missing_for(question) == []


# -- instruments the index does not hold at all (not_held) ------------------------------------

HELD = ["15 CFR Part 742", "15 CFR Part 744", "15 CFR Part 774, Supplement No. 1 (Commerce Control List)",
        "Regulation (EU) 2021/821", "Commission Recommendation (EU) 2024/2659"]


def _quoted_in_corpus(text: str) -> bool:
    return text in {"428/2009", "952/2013"}  # acts the bundled Regulation cites by number


@pytest.mark.parametrize(("question", "name"), [
    ("What goes in the report under part 743 of the EAR?", "15 CFR Part 743"),
    ("Does 15 CFR 747 apply to our shipment?", "15 CFR Part 747"),
    ("Does 22 CFR part 121 list night vision cameras?", "International Traffic in Arms Regulations"),
    ("Is our thermal scope on the USML?", "International Traffic in Arms Regulations"),
    ("What does Council Regulation (EU) No 833/2014 say about cameras for Russia?", "Regulation (EU) No 833/2014"),
    ("Does Decision 2014/512/CFSP cover surveillance software?", "Decision 2014/512/CFSP"),
])
def test_an_instrument_no_document_is(question: str, name: str) -> None:
    found = not_held(question, HELD, _quoted_in_corpus)
    assert [n.name for n in found if name in n.name]
    assert all(n.url.startswith("https://") for n in found)
    assert all(question[n.span[0]:n.span[1]] for n in found)


def _mentioned(text: str) -> bool:
    return text in {"Export Control Reform Act", "Export Control Act 2002"}  # names the bundled texts use


@pytest.mark.parametrize(("question", "shown"), [
    ("What does Japan's Foreign Exchange and Foreign Trade Act require before we export network probes?",
     "Japan's Foreign Exchange and Foreign Trade Act"),
    ("Does China's Export Control Law apply to our re-exports from Shenzhen?", "China's Export Control Law"),
    ("Under the California Consumer Privacy Act, must we delete plate-reader records?", "California Consumer Privacy Act"),
])
def test_a_statute_named_by_its_title_that_no_document_is_or_mentions(question: str, shown: str) -> None:
    """The question's own first words ("Under the") are not part of the name; a country's
    possessive is shown but not looked up. No official address is known for such a statute."""
    found = not_held(question, HELD, _mentioned)
    assert [(n.name, n.url) for n in found] == [(shown, "")]


@pytest.mark.parametrize("question", [
    "Under the Export Control Reform Act, can BIS impose civil penalties?",  # the bundled texts name it
    "Is the Export Control Act 2002 the basis of the UK Order?",
    "Does the Act apply to us?",  # no name at all
    # The jurisdiction said before the name is not part of it.
    "What are the max penalties under the US Export Control Reform Act if we violate the export rules?",
])
def test_a_statute_the_bundled_texts_name_is_not_reported(question: str) -> None:
    assert not_held(question, HELD, _mentioned) == []


@pytest.mark.parametrize("question", [
    "What does part 742 of the EAR say about crime control items?",  # bundled
    "Is Regulation (EC) No 428/2009 still in force?",  # the bundled Regulation repeals it (Article 31)
    "What does Regulation (EU) 2021/821 say about brokering?",
    "What does Supplement No. 1 to part 738 show?",  # a supplement: the reference rules decide (bundled.py)
    "Which parts of Category 5 Part 2 cover encryption?",  # not a CFR part
])
def test_held_or_quoted_instruments_are_not_reported(question: str) -> None:
    assert not_held(question, HELD, _quoted_in_corpus) == []


@pytest.mark.parametrize(("question", "name"), [
    ("What does part 743 of the EAR require us to report?", "15 CFR Part 743"),  # "the EAR" is only its home
    ("Does 22 CFR part 121 list night vision cameras?", "International Traffic in Arms Regulations"),
    ("What does Council Regulation (EU) No 833/2014 say about exporting cameras to Russia?", "833/2014"),
])
def test_a_question_about_an_instrument_not_held_is_out_of_corpus(assistant, question: str, name: str) -> None:  # noqa: ANN001
    response = assistant.ask(question)
    assert response.abstained and response.abstain_kind == "out-of-corpus"
    assert name in response.abstain_reason and "do not hold" in response.abstain_reason


def test_an_instrument_not_held_beside_a_held_one_is_a_notice(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("Are night vision cameras controlled under the EAR or under the ITAR?")
    assert not response.abstained
    assert any("International Traffic in Arms Regulations" in n and "not among the indexed documents" in n
               for n in response.notices)


def test_an_act_the_corpus_quotes_is_answered_from_the_quote(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("Is Regulation (EC) No 428/2009 still in force?")
    assert not response.abstained
    assert any(c.section == "Article 31" and "repealed" in c.quote for c in response.citations)


# -- topics whose own provision the MANIFEST records as missing -------------------------------

@pytest.mark.parametrize(("question", "label"), [
    ("Our university sponsor wants to vet papers first. Is it still fundamental research?", "§ 734.8"),
    ("What is the definition of 'export' under the EAR?", "§§ 734.13-734.16"),
    ("What counts as a release?", "§§ 734.13-734.16"),
    ("Do we need a licence for a covert listening device (5A980)?", "§ 742.13"),
    ("What are BIS's Know Your Customer red flags?", "Supplement No. 1 to Part 732"),
    ("Which General Order covers our shipment?", "Supplement No. 1 to Part 736"),
])
def test_a_topic_whose_provision_is_not_bundled(question: str, label: str) -> None:
    assert [m.label for m in missing_sections_for(question)] == [label]


@pytest.mark.parametrize("question", [
    "Do we need an export licence for thermal cameras to Brazil?",  # "export" as a verb, not its definition
    "Is interception equipment for mobile networks listed in Annex I?",  # EU 5A001.f, not § 742.13
    "What is released under Article 31?",
])
def test_other_questions_get_no_missing_provision_notice(question: str) -> None:
    assert missing_sections_for(question) == []


def test_the_answer_says_its_governing_provision_is_not_bundled(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("Is fundamental research subject to the EAR?")
    assert not response.abstained and response.citations  # § 734.3(b)(3) answers in part
    assert any(n.startswith("The provision on technology and software arising from fundamental research, § 734.8, "
                            "is not in the bundled copy of 15 CFR Part 734") for n in response.notices)


@pytest.mark.parametrize(("question", "texts", "expected"), [
    ("How many export licences for intrusion software did the UK grant in 2023?", ["Article 26 licences …"], True),
    ("How many licence applications did Member States refuse last year?", ["Article 26(2) annual report"], True),
    ("Which companies did BIS add to the Entity List in October 2019?",
     ["(a) The Entity List … [84 FR 54009, Oct. 9, 2019]"], True),  # an amendment note dates the text only
    # the year is the passage's own: the 2024 guidelines are the bundled Recommendation 2024/2659
    ("What did the 2024 guidelines add on emotion recognition?", ["Recommendation of 2024 on guidelines"], False),
    ("What does the EAR say about cameras made before 1990?", ["no year here"], False),  # not an event question
    ("Is Regulation (EU) 2021/821 in force?", ["nothing"], False),  # an act's number is not a year
    # What an authority did, in any year: a law says what it may or must do.
    ("How much did BIS fine the distributor for export violations?", ["(c) Civil penalties …"], True),
    ("What guidance did the UK's Export Control Joint Unit publish on facial recognition exports?", ["…"], True),
    ("Which EU Member States have notified national measures under Article 9?", ["Article 9(4) …"], True),
    ("What penalty can BIS impose for an export violation?", ["(c) Civil penalties …"], False),
    ("Has the exporter notified the competent authority in time?", ["Article 5(2) …"], False),
    # A year stated as background, before the asking sentence, is not the question's period.
    ("In 2022 we exported servers to a company in Asia. The customer has since been added to the Entity List. "
     "Do the renewal keys need a licence?", ["§ 734.19 …"], False),
    ("We export cameras. How many licences did the UK grant in 2023?", ["…"], True),
])
def test_questions_about_events_or_statistics_of_a_year(question: str, texts: list[str], expected: bool) -> None:
    assert asks_about_events(question, texts) is expected


def test_a_wassenaar_category_the_bundled_list_does_not_hold(assistant) -> None:  # noqa: ANN001
    from assistant.bundled import category_gap

    snapshot = assistant.retriever.reader.snapshot()
    gap = category_gap(snapshot, "What does Category 3 of the Wassenaar list control for semiconductor equipment?")
    assert gap.startswith("Category 3 is not in the bundled copy of Wassenaar") and "https://" in gap
    assert category_gap(snapshot, "Which Wassenaar Category 5 Part 2 entries cover encryption?")
    assert category_gap(snapshot, "What does Category 5 Part 1 of the Wassenaar list control?") == ""
    assert category_gap(snapshot, "What does Category 3 of the CCL control?") == ""  # not the Wassenaar list
    response = assistant.ask("What does Category 3 of the Wassenaar dual-use list control for semiconductor "
                             "manufacturing equipment?")
    assert response.abstained and response.abstain_kind == "out-of-corpus"


@pytest.mark.parametrize(("question", "expected"), [
    ("Which licence does Japan's export control law require for our cameras?", ["Japan"]),
    ("What does Brazil's national control list say about interception kit?", ["Brazil"]),
    ("Do India's SCOMET rules cover our probes?", ["India"]),
    # The bundled jurisdictions and a possessive that is not a country stay answerable.
    ("Does the UK's Export Control Order cover brokering?", []),
    ("Does the United States's EAR apply to our foreign-made cameras?", []),
    ("Is the buyer's list of end users something we must check?", []),
    ("China's police want our cameras: do we need a licence?", []),
])
def test_another_countrys_own_controls_are_not_bundled(question: str, expected: list[str]) -> None:
    assert foreign_rules(question) == expected


def test_a_question_about_another_countrys_list_is_out_of_corpus(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("What does Singapore's Strategic Goods Control List say about IMSI catchers?")
    assert response.abstained and response.abstain_kind == "out-of-corpus", response.answer
    assert "Singapore" in response.abstain_reason


@pytest.mark.parametrize(("question", "cited", "gap"), [
    # A list of countries that no cited passage names is not in the bundled texts.
    ("Which countries are Participating States of the Wassenaar Arrangement?",
     ["“Participating state” is a state participating in the Wassenaar Arrangement."], True),
    ("Which EU Member States have notified national measures for cyber-surveillance items?",
     ["1. A Member State may prohibit or impose an authorisation requirement on the export …"], True),
    ("Which countries are embargoed under part 746?", ["… Cuba, Iran, North Korea, and Syria …"], False),
    ("Which countries need a licence for crime control items?", ["… all countries in Country Group D:1 …"], False),
    # "Which destinations" is answered by a rule ("all destinations except Canada"), not a list.
    ("For which destinations do we need a licence for 5A002 recorders?", ["to all destinations"], False),
])
def test_a_question_that_asks_which_countries(question: str, cited: list[str], gap: bool) -> None:
    assert (asks_for_countries(question) and not names_countries(cited)) is gap


@pytest.mark.parametrize(("question", "besides"), [
    # Another question in a sentence of its own: the rest is answered, the list is a notice.
    ("do we need a licence to export fingerprint computers? to which countries, and will BIS approve it", True),
    ("What does ECCN 5A980 control? Which countries need a licence for it?", True),
    # The list alone, or joined to another part in one sentence: declined as before.
    ("Which countries need a licence for crime control items?", False),
    ("We make thermal cameras. Which countries can we ship them to without a licence?", False),
    ("What does the UK entry PL5001 cover, and which countries are listed as prohibited destinations?", False),
    ("Do we need a licence for 5A980? Is a licence exception available?", False),  # no country asked
])
def test_a_question_that_asks_more_than_which_countries(question: str, besides: bool) -> None:
    assert asks_besides_countries(question) is besides


def test_which_countries_beside_a_licence_question_is_a_notice(assistant) -> None:  # noqa: ANN001
    question = "Do we need a licence to export fingerprint computers? To which countries, and will BIS approve it?"
    response = assistant.ask(question)
    assert not response.abstained and response.citations, response.abstain_reason
    assert any("also asks which countries" in n for n in response.notices)


@pytest.mark.parametrize(("text", "names"), [
    ("In support of U.S. foreign policy … distance the United States from such violations", False),
    ("a destination outside the United Kingdom", False),
    ("require a license to all destinations other than Australia, Canada, or the United Kingdom", True),
    ("a country in Country Group A:1", True),
])
def test_the_instruments_own_countries_are_not_destinations(text: str, names: bool) -> None:
    """"U.S. person" and "the United States considers" say who exports: they do not answer "to which
    countries", so they cannot silence the notice that the answer leaves that out."""
    assert names_countries([text]) is names


def test_the_countries_notice_judges_the_quotes_not_the_whole_passage(assistant) -> None:  # noqa: ANN001
    """The notice stands when the quotes name no destination, even if an unquoted paragraph of a cited
    section does (§ 742.7(a)(6)'s "except Australia, Canada" for shotgun shells)."""
    response = assistant.ask("Do we need a licence to export fingerprint computers? To which countries, and will "
                             "BIS approve it?")
    notice = any("also asks which countries" in n for n in response.notices)
    assert notice is not names_countries(c.quote for c in response.citations)


def test_a_question_led_by_an_unbundled_section_is_declined_beside_a_named_entry(assistant) -> None:  # noqa: ANN001
    """§ 742.13 is not bundled; ECCN 5A980, named after it, only says which devices."""
    response = assistant.ask("What licensing policy does § 742.13 of the EAR apply to communications intercepting "
                             "devices controlled under ECCN 5A980?")
    assert response.abstained and response.abstain_kind == "out-of-corpus"
    assert "§ 742.13" in response.abstain_reason
    entry = assistant.ask("What does ECCN 5A980 control, the devices § 742.13 is about?")
    assert not entry.abstained and any(c.section == "ECCN 5A980" for c in entry.citations)
    assert any("§ 742.13" in n for n in entry.notices)


@pytest.mark.parametrize(("question", "asked"), [
    # What only § 742.13 says: its licensing policy, however the devices are named.
    ("What is BIS's licensing policy for covert communications interception devices (5A980 / 5A001.f.1)? Is it "
     "case-by-case or a presumption of denial?", ["§ 742.13"]),
    ("what review policy does BIS apply to 5A980 bugs?", ["§ 742.13"]),
    # The section itself, named by its topic; "licence requirements and policy".
    ("What licence requirements and policy apply to exports of phone-tapping kits under the EAR section on "
     "communications intercepting devices?", ["§ 742.13"]),
    # The topic without its policy: the bundled rules answer (§ 738.3(a)(1), § 740.2(a)(3)).
    ("which countrys need a license for our 5A980 bug and is there any licence exception at all?", []),
    # A policy for items that are not § 742.13's: § 742.7 is bundled.
    ("What licence policy applies to 3A981 fingerprint analyzers?", []),
])
def test_what_only_a_missing_section_says(question: str, asked: list[str]) -> None:
    assert [m.label for m in missing_sections_asked(question)] == asked


def test_a_missing_sections_policy_is_declined_beside_a_named_entry(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("What is BIS's licensing policy for covert communications interception devices "
                             "(5A980 / 5A001.f.1)?")
    assert response.abstained and response.abstain_kind == "out-of-corpus"
    assert "§ 742.13" in response.abstain_reason


def test_a_gap_the_question_only_states_leaves_the_asked_rule_to_answer(assistant) -> None:  # noqa: ANN001
    """The supplement is not bundled, but the question asks about the military end-user rule."""
    response = assistant.ask("A military logistics base in China wants our rack servers, and as far as we can tell "
                             "they are listed in Supplement No. 2 to Part 744. Do we need a licence just because "
                             "the buyer is the military?")
    assert not response.abstained and response.citations
    assert any("Supplement No. 2 to Part 744" in n for n in response.notices)
    asked = assistant.ask("What does Supplement No. 2 to Part 744 list?")
    assert asked.abstained and asked.abstain_kind == "out-of-corpus"
    # A gap the question does not name (the definition's pointer to § 734.8) is still the answer's.
    pointed = assistant.ask("A sponsor wants to vet our lab's papers before publication. Does the work still "
                            "count as 'fundamental research'?")
    assert pointed.abstained and pointed.abstain_kind == "out-of-corpus"


def test_what_an_unbundled_list_says_of_a_named_entry_is_out_of_corpus(assistant) -> None:  # noqa: ANN001
    """The entry gives its reasons for control; whether a destination is marked is the chart's."""
    response = assistant.ask("Fingerprint analysers under 3A981 are CC1 controlled. Is there an X under CC Column 1 "
                             "for Peru on the Commerce Country Chart?")
    assert response.abstained and response.abstain_kind == "out-of-corpus"
    assert "Country Chart" in (response.abstain_reason or "")


@pytest.mark.parametrize(("question", "act", "asks"), [
    ("Article 15 says authorities must consider Common Position 2008/944/CFSP. What do that Common Position's "
     "criteria say?", "Common Position 2008/944/CFSP", True),
    ("Under Regulation (EU) 2019/125, which annex of that regulation lists stun belts?", "Regulation (EU) 2019/125",
     True),
    # What a held text says about the act is the held text's.
    ("What does Article 31 say about Regulation 428/2009?", "Regulation 428/2009", False),
    ("Is Regulation 428/2009 still in force?", "Regulation 428/2009", False),
])
def test_asking_what_an_act_the_corpus_only_mentions_says(question: str, act: str, asks: bool) -> None:
    from assistant.not_bundled import asks_what_it_says

    assert asks_what_it_says(question, act) is asks


def test_an_act_the_corpus_only_cites_asked_about_beside_a_named_article(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("Article 15 of the EU dual-use regulation says authorities must consider Common "
                             "Position 2008/944/CFSP. What do that Common Position's criteria say about human "
                             "rights?")
    assert response.abstained and response.abstain_kind == "out-of-corpus"
    assert "2008/944" in (response.abstain_reason or "")
    named = assistant.ask("Which EU Member States have notified national measures under Article 9?")
    assert named.abstained and named.abstain_kind == "out-of-corpus"


@pytest.mark.parametrize(("question", "asked"), [
    # An abbreviation's full stop ends no sentence: the whole question asks.
    ("Is the buyer on the U.S. Entity List?", "Is the buyer on the U.S. Entity List?"),
    ("Which columns (NS, CC, AT etc.) apply? Thanks.", "Which columns (NS, CC, AT etc.) apply?"),
    # A year's full stop does end one: the statement is background.
    ("We exported servers to them in 2022. Do the renewal keys need a licence?", "Do the renewal keys need a licence?"),
    # A request asks without a question mark; a pronoun's question brings the sentence it points to.
    ("Please list the red flags.", "Please list the red flags."),
    ("The guidelines have a due-diligence section. What red flags do they list?",
     "The guidelines have a due-diligence section. What red flags do they list?"),
])
def test_the_sentences_that_ask(question: str, asked: str) -> None:
    from assistant.question_text import asked_sentences

    assert asked_sentences(question) == asked


@pytest.mark.parametrize(("question", "named"), [
    ("Which penalties apply to a company that breaks the legally binding licensing obligations of the ECHRI Code of "
     "Conduct?", ["the Export Controls and Human Rights Initiative's Code of Conduct"]),
    ("what fines does wassenaar impose on exporters who ship 5.A.1.j kit without a licence?", ["the Wassenaar Arrangement"]),
    # Whether it binds is a question, not a premise; so is what it asks states to do.
    ("Is the Export Controls and Human Rights Initiative Code of Conduct legally binding, and who endorsed it?", []),
    ("What does the Wassenaar list say about 5.A.1.j?", []),
    # A law the question names has penalties: ECRA, national law.
    ("What penalties does ECRA set for exporting a Wassenaar-listed item without a licence?", []),
    ("Which national law sets the fines for breaching the Wassenaar controls in Germany?", []),
])
def test_penalties_asked_of_an_instrument_that_binds_no_one(question: str, named: list[str]) -> None:
    from assistant.binding import non_binding_premise

    assert [n.name for n in non_binding_premise(question)] == named


def test_a_non_binding_premise_is_declined_with_where_penalties_are(assistant) -> None:  # noqa: ANN001
    response = assistant.ask("Which article of the Wassenaar Arrangement sets the fines exporters must pay for "
                             "shipping 5.A.1.j surveillance systems without a Wassenaar licence?")
    assert response.abstained and response.abstain_kind == "false-premise"
    assert "50 U.S.C. § 4819" in response.abstain_reason and "Article 25" in response.abstain_reason
    assert response.answer.startswith("The question rests on a false premise")
