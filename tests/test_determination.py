"""The licence check on the real index of the bundled corpus: each step's outcome follows from the
facts and a cited provision, and every citation is a verified quote of a stored passage."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from determination.facts import EndUserType, Facts, country
from regqa.config import Settings
from determination.provisions import equivalents
from determination.records import Determination
from web.app import create_app

pytestmark = pytest.mark.slow
SEED = Facts(item="facial recognition cameras with IP network features", destination="China",
             end_user="Urumqi Municipal Public Security Bureau", end_user_type=EndUserType.police)


def _steps(det: Determination) -> dict[str, object]:
    return {step.key: step for j in det.jurisdictions for step in j.steps}


def _cited(det: Determination, step) -> list[tuple[str, str]]:  # noqa: ANN001
    by_n = {c.n: c for c in det.citations}
    return [(by_n[n].doc_id, by_n[n].section) for n in step.citations]


def _assert_verified(assistant, det: Determination) -> None:  # noqa: ANN001
    snapshot = assistant.reader.snapshot()
    assert [c.n for c in det.citations] == list(range(1, len(det.citations) + 1))
    used = {n for j in det.jurisdictions for s in j.steps for n in s.citations}
    assert used == {c.n for c in det.citations}, "a citation no step uses, or a step citing nothing listed"
    for c in det.citations:
        chunk = snapshot.by_id[c.chunk_id]
        assert c.quote and c.quote in chunk.text
        assert (c.doc_id, c.section) == (chunk.doc_id, chunk.section)


def test_seed_case_walks_both_jurisdictions(assistant) -> None:  # noqa: ANN001
    det = assistant.determiner.determine(SEED)
    _assert_verified(assistant, det)
    steps = _steps(det)
    eu = steps["eu.classification"]
    assert eu.outcome == "licence may be required" and "Not found in Annex I as such" in eu.finding
    assert eu.candidates, "the closest Annex I entries are shown"
    five = _cited(det, steps["eu.cyber-surveillance"])
    assert ("eu-2021-821-dual-use-regulation", "Article 5(1)") in five
    assert ("eu-2021-821-dual-use-regulation", "Article 5(2)") in five
    assert "police or public-security body" in steps["eu.cyber-surveillance"].finding
    assert steps["eu.national"].outcome == "cannot determine — source not bundled"
    assert ("eu-2021-821-dual-use-regulation", "Article 9(1)") in _cited(det, steps["eu.national"])
    assert steps["us.classification"].candidates
    assert ("15-cfr-part-742", "§ 742.7(a)") in _cited(det, steps["us.crime-control"])
    end_user = steps["us.end-user"]
    assert end_user.outcome == "cannot determine — source not bundled"
    assert "no screening list" in end_user.finding.lower() and det.screening.status == "no-list"
    assert any("Country Chart" in line for line in det.not_covered)
    # Nothing about shotguns or thermal imaging is quoted for a facial-recognition camera.
    assert not any("shotgun" in c.quote.lower() or "thermal" in c.quote.lower() for c in det.citations)


def test_the_rendering_quotes_at_length_only_the_steps_that_may_require_a_licence(assistant) -> None:  # noqa: ANN001
    # Article 5's words are quoted at length where the step may require an authorisation; Article
    # 9's (its national measures are not bundled) by their opening words only.
    from determination.render import CONTEXT_QUOTE_WORDS, as_markdown

    det = assistant.determiner.determine(SEED)
    text = as_markdown(det)
    by_n = {c.n: c for c in det.citations}
    steps = _steps(det)
    five = by_n[steps["eu.cyber-surveillance"].citations[0]].quote.split()
    nine = by_n[steps["eu.national"].citations[0]].quote.split()
    assert len(five) > CONTEXT_QUOTE_WORDS + 5 and " ".join(five[: CONTEXT_QUOTE_WORDS + 5]) in text
    assert len(nine) > CONTEXT_QUOTE_WORDS + 1
    line = next(x for x in text.splitlines() if "(Article 9)" in x)
    assert " ".join(nine[:CONTEXT_QUOTE_WORDS]) + "…" in line and " ".join(nine[: CONTEXT_QUOTE_WORDS + 1]) not in line


def test_listed_item_needs_an_authorisation(assistant) -> None:  # noqa: ANN001
    det = assistant.determiner.determine(Facts(item="IP network communications surveillance system",
                                               codes=["5A001.j"], destination="BR"))
    _assert_verified(assistant, det)
    steps = _steps(det)
    listed = steps["eu.classification"]
    assert ("eu-2021-821-dual-use-regulation", "Article 3(1)") in _cited(det, listed)
    assert ("eu-2021-821-annex-i-control-list", "5A001.j") in _cited(det, listed)
    # 5A001.j's own note ("does not control … marketing purpose …") is quoted: the listing
    # requires an authorisation unless that note excludes the item, so "may be required".
    by_n = {c.n: c for c in det.citations}
    assert any("does not control" in by_n[n].quote for n in listed.citations)
    assert listed.outcome == "licence may be required" and "note" in (listed.depends_on or "")
    assert steps["eu.destination"].outcome == "licence may be required"  # Brazil: not EU001, if listed
    assert "eu.cyber-surveillance" not in steps  # a listed item is decided by Article 3, not the catch-all
    assert det.jurisdictions[0].summary == "licence may be required"
    assert steps["us.classification"].candidates == ["ECCN 5A001"]


def test_an_entry_without_exclusion_notes_settles_the_listing(assistant) -> None:  # noqa: ANN001
    # 4A005 (systems for the generation or delivery of "intrusion software") carries no such note.
    det = assistant.determiner.determine(Facts(item="exploit delivery platform", codes=["4A005"], destination="BR"))
    _assert_verified(assistant, det)
    steps = _steps(det)
    assert steps["eu.classification"].outcome == "licence required"
    assert steps["eu.destination"].outcome == "licence required"  # Brazil is not an EU001 destination
    # Quoted from where EU001 lists its destinations, not from its heading.
    quote = next(c.quote for c in det.citations if c.n in steps["eu.destination"].citations)
    assert quote.startswith("This authorisation is valid throughout the customs territory of the Union for exports "
                            "to the following destinations"), quote
    assert det.jurisdictions[0].summary == "licence required"


def test_a_note_that_excludes_part_of_the_entry_is_quoted(assistant) -> None:  # noqa: ANN001
    # 4E001.c "Technology" for intrusion software; its Note 1: not "vulnerability disclosure".
    det = assistant.determiner.determine(Facts(item="exploit write-ups sent to a vendor", codes=["4E001.c"],
                                               destination="China"))
    _assert_verified(assistant, det)
    listed = _steps(det)["eu.classification"]
    by_n = {c.n: c for c in det.citations}
    assert any("vulnerability disclosure" in by_n[n].quote for n in listed.citations)
    assert listed.outcome == "licence may be required"
    assert det.jurisdictions[0].summary != "licence required"


@pytest.mark.parametrize(("destination", "cited", "phrase"), [
    ("Japan", ("eu-2021-821-dual-use-regulation", "EU001"), "Japan"),
    ("Germany", ("eu-2021-821-dual-use-regulation", "Article 11(1)"), "Member State"),
])
def test_destination_decides_the_eu_route(assistant, destination: str, cited: tuple[str, str],  # noqa: ANN001
                                          phrase: str) -> None:
    det = assistant.determiner.determine(Facts(item="IP network surveillance system", codes=["5A001.j"],
                                               destination=destination))
    step = _steps(det)["eu.destination"]
    assert step.outcome == "licence may be required" and cited in _cited(det, step)
    assert phrase in step.finding
    if cited[1] == "EU001":
        quote = next(c.quote for c in det.citations if c.n in step.citations)
        assert "JAPAN" in quote.upper()


def test_an_eccn_named_by_the_crime_control_section(assistant) -> None:  # noqa: ANN001
    det = assistant.determiner.determine(Facts(item="automated fingerprint identification system", codes=["3A981"],
                                               destination="Brazil", end_user_type=EndUserType.police))
    _assert_verified(assistant, det)
    step = _steps(det)["us.crime-control"]
    assert "ECCN 3A981 is named in § 742.7(a)(1)" in step.finding
    assert any("3A981" in c.quote for c in det.citations if c.n in step.citations)
    assert "Brazil" in step.finding  # the destination question is left to the (unbundled) Country Chart


def test_military_rules_only_when_the_facts_name_them(assistant) -> None:  # noqa: ANN001
    civil = _steps(assistant.determiner.determine(Facts(item="thermal imaging camera", destination="China",
                                                        end_user_type=EndUserType.company)))
    assert "us.military-end-use" not in civil and "us.military-cameras" not in civil
    det = assistant.determiner.determine(Facts(item="thermal imaging camera", destination="China",
                                               end_user_type=EndUserType.military))
    _assert_verified(assistant, det)
    steps = _steps(det)
    assert steps["us.military-end-use"].outcome == "licence may be required"
    assert "China" in steps["us.military-end-use"].finding
    assert ("15-cfr-part-744", "§ 744.9(a)(1)") in _cited(det, steps["us.military-cameras"])


@pytest.mark.parametrize("fields", [
    {"item": ""}, {"item": "   "}, {"item": "x" * 10_000}, {"item": "camera", "destination": "Atlantis"},
    {"item": "camera", "codes": ["XYZ"]}, {"item": "camera", "end_user_type": "alien"},
])
def test_hostile_facts_are_refused(fields: dict) -> None:
    with pytest.raises(ValidationError):
        Facts(**fields)


def test_codes_and_countries_normalise() -> None:
    assert Facts(item="camera", codes=["eccn 3a981", "5a001.J", "5.a.1.J"]).codes == ["3A981", "5A001.j", "5.A.1.j"]
    assert country("uk").code == "GB" and country("Russia").name == "Russia" and country("cn").code == "CN"
    for unclear in ("Korea", "Congo", "Republic of"):  # asked back, never guessed
        with pytest.raises(ValueError):
            country(unclear)
    assert equivalents("5A001.j") == {"EU": "5A001.j", "Wassenaar": "5.A.1.j", "US": "ECCN 5A001"}
    assert equivalents("5.A.1.j")["EU"] == "5A001.j"


def test_api_determines_and_refuses_bad_facts(corpus_index, assistant) -> None:  # noqa: ANN001
    with TestClient(create_app(corpus_index, assistant=assistant)) as client:
        ok = client.post("/v1/determine", json=SEED.model_dump(mode="json"))
        assert ok.status_code == 200
        body = Determination.model_validate(ok.json())
        assert [j.name for j in body.jurisdictions] == ["EU", "US"]
        for bad in ({"item": ""}, {"item": "camera", "destination": "Atlantis"}, {"item": "x" * 10_000},
                    {"destination": "CN"}, {"item": "camera", "codes": ["not-a-code"]}):
            response = client.post("/v1/determine", json=bad)
            assert response.status_code == 422, bad
            assert response.json()["error"]["code"] == "invalid_request"
        assert "/v1/determine" in client.get("/openapi.json").json()["paths"]


def test_cli_determine(corpus_index) -> None:  # noqa: ANN001
    regqa = Path(sys.executable).with_name("regqa")
    env = {**os.environ, "REGQA_DATA_DIR": str(corpus_index.data_dir), "COLUMNS": "200"}
    bad = subprocess.run([str(regqa), "determine", "--item", "camera", "--to", "Atlantis"], capture_output=True,
                         text=True, env=env, timeout=600)
    assert bad.returncode == 2 and "unknown country" in bad.stderr
    good = subprocess.run([str(regqa), "determine", "--item", "exploit delivery platform", "--code", "4A005",
                           "--to", "BR", "--json"], capture_output=True, text=True, env=env, timeout=600)
    assert good.returncode == 0, good.stderr
    det = Determination.model_validate_json(good.stdout)
    assert det.jurisdictions[0].summary == "licence required"



def test_seed_case_with_an_imported_list_requires_a_licence(assistant, corpus_index, tmp_path: Path) -> None:  # noqa: ANN001
    """With a party list imported, the bureau's Entity List entry decides the US end-user step:
    licence required, with the entry's terms and § 744.11(a) quoted. The list goes to a store of
    its own, not beside the shared test index."""
    from determination.engine import Determiner
    from determination.screening_step import screen_with
    from screening import ScreeningStore

    from .screening_fixtures import write_csv

    # A new Settings, not a model_copy: index_dir is a cached property a copy would keep.
    store = ScreeningStore(Settings(data_dir=tmp_path / "data", corpus_dir=corpus_index.corpus_dir))
    assert store.directory.is_relative_to(tmp_path)
    determiner = Determiner(assistant.retriever, screen=screen_with(store))
    assert _steps(determiner.determine(SEED))["us.end-user"].outcome == "cannot determine — source not bundled"
    store.import_file(write_csv(tmp_path / "csl.csv"))
    det = determiner.determine(SEED)
    _assert_verified(assistant, det)
    step = _steps(det)["us.end-user"]
    assert det.screening.status == "screened" and det.screening.hits
    assert step.outcome == "licence required"
    for shown in ("Urumqi Municipal Public Security Bureau", "84 FR 54005", "For all items subject to the EAR.",
                  "Presumption of denial.", "threshold"):
        assert shown in step.finding, shown
    assert ("15-cfr-part-744", "§ 744.11(a)") in _cited(det, step)
    assert det.jurisdictions[1].summary == "licence required"
    clean = determiner.determine(SEED.model_copy(update={"end_user": "Acme Optics GmbH"}))
    assert _steps(clean)["us.end-user"].outcome == "no licence required on the bundled texts"
    assert "ownership or control" in _steps(clean)["us.end-user"].finding  # the reminder name screening needs


def test_exports_from_the_uk_walk_the_order_not_the_eu_regulation(assistant) -> None:  # noqa: ANN001
    det = assistant.determiner.determine(Facts(item="thermal cameras", origin="United Kingdom", destination="BR"))
    _assert_verified(assistant, det)
    assert [j.name for j in det.jurisdictions] == ["UK", "US"]
    steps = _steps(det)
    assert steps["uk.military"].outcome == "cannot determine — source not bundled"
    assert ("uk-export-control-order-2008", "Article 6(1)(a)") in _cited(det, steps["uk.wmd"])
    assert any("Schedules" in line for line in det.not_covered)
    assert not any("Article 9" in line for line in det.not_covered)
    us_only = assistant.determiner.determine(Facts(item="thermal cameras", origin="US", destination="BR"))
    assert [j.name for j in us_only.jurisdictions] == ["US"]


def test_chat_reads_the_facts_of_a_licence_question() -> None:
    from functools import partial

    from determination.from_question import read_facts as read_with_codes
    read_facts = partial(read_with_codes, exception_codes=frozenset({"LVS", "TMP", "GOV"}))  # Part 740's, as derived

    seed = read_facts("Does exporting facial recognition cameras to a public security bureau in China need a licence?")
    assert seed is not None and seed.facts.item == "facial recognition cameras"
    assert (seed.facts.destination, seed.facts.end_user_type) == ("CN", EndUserType.police)
    assert seed.clarifying_question and "ECCN or Annex I entry" in seed.clarifying_question
    uk = read_facts("Do we need a licence to export our thermal cameras from the UK to Brazil?")
    assert uk is not None and (uk.facts.item, uk.facts.origin, uk.facts.destination) == ("thermal cameras", "GB", "BR")
    batch = read_facts("Our uncooled thermal cameras are classed 6A003.b.4.b. Can we ship a batch to a customer in "
                       "Brazil without an export licence?")
    assert batch is not None and batch.facts.item == "uncooled thermal cameras" and batch.facts.codes == ["6A003.b.4.b"]
    assert read_facts("What is intrusion software?") is None
    # "export" as a noun names no item: not "uthorisation" (the article ran into the word), not the
    # permission, not a phrase that runs on past the end of its sentence.
    assert read_facts("German vendor of DPI probes here. Do we need an export authorisation to ship it to an "
                      "operator in Egypt?") is None
    moved = read_facts("We're moving listed probes from our plant in Germany to our hub in France; from there "
                       "they'll later be exported to Asia. Do we need a transfer licence just for the Germany to "
                       "France move?")
    assert moved is None or not moved.facts.item.lower().startswith("to ")
    assert read_facts("Under Regulation (EU) 2021/821, does exporting cameras to China need an authorisation?") is None
    # The check has no UK path: a question under the UK's own law is answered from the Order ...
    assert read_facts("Our UK subsidiary of a US parent holds a SIEL. Under the 2008 Order, do we need another licence "
                      "to export the servers to India?") is None
    # ... while an export from the UK (origin, not law) still gets the check.
    assert uk is not None
    # A named licence exception is that exception's question; "any licence exception" is part of the check.
    assert read_facts("Can we ship covert GSM room bugs (5A980) to a police unit in Brazil under LVS?") is None
    assert read_facts("Can we ship our demo thermal camera to Dubai using TMP, or do we need a licence?") is None
    assert read_facts("Do we need a licence to export a covert listening device (5A980) to Brazil, and may any "
                      "licence exception be used?") is not None
    # Military goods are not on the check's dual-use paths: the ordinary answer cites the law that governs them.
    assert read_facts("Is a licence needed to send military software or technology to an overseas customer "
                      "by email?") is None
    assert read_facts("Do we need a licence to export our military-listed thermal sight to a distributor in "
                      "Brazil?") is None
    assert read_facts("Do we need a licence to export our thermal sight to a military unit in Brazil?") is not None


def test_candidate_entries_are_close_to_the_description_not_to_one_word(assistant) -> None:  # noqa: ANN001
    # The facts the chat reads from the seed question.
    det = assistant.determiner.determine(Facts(item="facial recognition cameras", destination="China",
                                               end_user_type=EndUserType.police))
    eu = _steps(det)["eu.classification"]
    assert eu.candidates and "2B003.b" not in eu.candidates  # "A face width of 15 % of pitch diameter"
    assert "face width" not in eu.finding


def test_an_entry_that_names_the_item_decides_however_short_the_description(assistant) -> None:  # noqa: ANN001
    # "thumbcuffs" is one word: its vector is far from every entry, yet ECCN 0A983 names it, and
    # § 742.11 (which names 0A983) requires a licence to all destinations including Canada.
    det = assistant.determiner.determine(Facts(item="thumbcuffs", destination="Canada",
                                               end_user_type=EndUserType.police))
    _assert_verified(assistant, det)
    steps = _steps(det)
    us = steps["us.classification"]
    assert "Check ECCN 0A983 first: its text names the item" in us.finding
    assert ("15-cfr-part-774-supp-1-ccl", "ECCN 0A983") in _cited(det, us)
    cited = {c.section for c in det.citations}
    assert "§ 742.11(a)" in cited, "the section that names the entry's code is walked"


def test_a_distant_candidate_entry_is_named_never_quoted(assistant) -> None:  # noqa: ANN001
    # The closest Annex I entries to thumbcuffs (viruses, protective suits) share nothing with them:
    # below the answerer's own similarity floor they are not cited, and the finding says so.
    det = assistant.determiner.determine(Facts(item="thumbcuffs", destination="Canada",
                                               end_user_type=EndUserType.police))
    eu = _steps(det)["eu.classification"]
    assert eu.candidates and "No entry of Annex I names the item or is close to its description" in eu.finding
    assert all(section == "Article 3(1)" for _, section in _cited(det, eu))
    assert not any(c.doc_id == "eu-2021-821-annex-i-control-list" for c in det.citations)


def test_names_item_wants_every_word_of_the_item() -> None:
    from determination.engine import names_item

    text = "Specially designed implements of torture, including thumbscrews, thumbcuffs, fingercuffs"
    assert names_item("thumbcuffs", text) and names_item("Thumbcuff", text)
    assert not names_item("thumbcuffs for children", text) and not names_item("", text)
    pointer = ("Law enforcement restraint devices, including leg irons, shackles, and handcuffs.\n\n"
               "Related Controls: Thumbcuffs and fingercuffs are classified under ECCN 0A983.")
    assert not names_item("thumbcuffs", pointer), "a pointer to another entry does not name the item"


def test_an_entry_the_ear_names_for_all_destinations_needs_a_licence_everywhere(assistant) -> None:  # noqa: ANN001
    # "a covert listening device classified under ECCN 5A980" with no place of export: the EAR
    # only (Annex I has no 5A980), § 738.3(a)(1) requires a licence for all destinations, and
    # § 740.2(a)(3) restricts the licence exceptions.
    det = assistant.determiner.determine(Facts(item="covert listening device", codes=["5A980"],
                                               destination="United Kingdom", end_user_type=EndUserType.company))
    _assert_verified(assistant, det)
    assert [j.name for j in det.jurisdictions] == ["US"]
    steps = _steps(det)
    assert steps["us.all-destinations"].outcome == "licence required"
    assert ("15-cfr-part-738", "§ 738.3(a)(1)") in _cited(det, steps["us.all-destinations"])
    assert ("15-cfr-part-740", "§ 740.2(a)(3)") in _cited(det, steps["us.exceptions"])
    assert det.jurisdictions[0].summary == "licence required"


def test_a_code_is_named_only_exactly(assistant) -> None:  # noqa: ANN001
    # § 738.3(a)(1) names 5A001.f.1, not 5A001.j: an IP-interception system is not 'all destinations'.
    det = assistant.determiner.determine(Facts(item="IP network interception system", codes=["5A001.j"],
                                               destination="Brazil", end_user_type=EndUserType.police))
    _assert_verified(assistant, det)
    assert "us.all-destinations" not in _steps(det)
    assert "EU" in [j.name for j in det.jurisdictions], "Annex I has 5A001.j: the EU Regulation is walked"


def test_a_licence_question_that_names_a_provision_is_answered_from_it(assistant) -> None:  # noqa: ANN001
    """"Does the 'military end-user' rule in § 744.9 even apply to police?" asks what § 744.9 says:
    the answerer quotes it. Without the section's name the same facts get the licence check."""
    asked = ("Is a license required to export 6A003 thermal cameras to the national police force of a country "
             "outside Country Group A:1?")
    routed = assistant.ask(asked)
    assert "determine" in routed.timings_ms
    named = assistant.ask(asked + " The buyer isn't the army, so does the 'military end-user' rule in § 744.9 apply?")
    assert "determine" not in named.timings_ms
    assert named.citations and named.citations[0].section.startswith("§ 744.9")
