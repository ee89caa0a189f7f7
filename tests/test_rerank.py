"""The learned fusion (assistant/rerank.py) and what it is built from: label parents, idf-weighted
term coverage, the feature rows of real candidates, and the cross-validated training in evals/tune.py."""

from __future__ import annotations

import re

import numpy as np
import pytest

from assistant.rerank import FEATURES, LearnedFusion, asks_definition, asks_entry, names_item
from assistant.retrieval import Fusion, jurisdictions_named, parent_label, parent_map
from evals.tune import FIT_GRID, GROUPS, FitChoice, fit
from indexer.reader import Filters
from indexer.sparse import SparseIndex


@pytest.mark.parametrize(("label", "parent"), [
    ("§ 742.7(a)(1)", "§ 742.7(a)"), ("§ 742.7(a)", "§ 742.7"), ("Article 28(1)(a)", "Article 28(1)"),
    ("Article 28", None), ("5A001.j.2.b", "5A001.j.2"), ("5A001.j", "5A001"), ("5A001", None),
    ("ECCN 3A981", None), ("5.A.1.j", "5.A.1"), ("Recital (3)", None),
    ("50 U.S.C. § 4819(e)(1)", "50 U.S.C. § 4819(e)"),
])
def test_parent_label(label: str, parent: str | None) -> None:
    assert parent_label(label) == parent


def test_parents_are_the_nearest_labelled_ancestor_in_the_same_document(assistant) -> None:  # noqa: ANN001
    snapshot = assistant.retriever.reader.snapshot()
    parents = parent_map(snapshot)

    def parent_of(doc: str, section: str) -> str | None:
        chunk = next(c for c in snapshot.by_doc[doc] if c.section == section)
        parent = parents.get(chunk.chunk_id)
        return snapshot.by_id[parent].section if parent else None

    assert parent_of("15-cfr-part-742", "§ 742.7(a)(1)") == "§ 742.7(a)"
    assert parent_of("uk-export-control-order-2008", "Article 28(1)(a)") == "Article 28(1)"
    assert parent_of("eu-2021-821-annex-i-control-list", "5A001.j.2") == "5A001.j"
    assert parent_of("15-cfr-part-774-supp-1-ccl", "ECCN 3A981") is None
    assert all(snapshot.by_id[p].doc_id == snapshot.by_id[c].doc_id for c, p in parents.items())


def test_coverage_weights_rare_terms_above_common_ones() -> None:
    texts = ["export licence required", "export of cameras", "export of goods", "export items",
             "intrusion software", "nothing relevant here"]
    index = SparseIndex.build([str(i) for i in range(len(texts))], texts)
    cover = index.coverage("export licence for intrusion software", list(range(len(texts))))
    assert cover[5] == 0.0
    assert cover[4] > cover[1]  # two rare terms outweigh one word every text has
    assert 0.0 < cover[1] < cover[0] < 1.0
    full = index.coverage("intrusion software", [4])
    assert full[0] == pytest.approx(1.0)


def test_british_and_american_spellings_are_one_keyword_term() -> None:
    texts = ["A person who willfully commits an unlawful act shall be fined", "the offence of exporting goods",
             "nothing relevant here"]
    index = SparseIndex.build([str(i) for i in range(len(texts))], texts)
    assert index.search("wilfully", 3)[0][0] == "0"
    assert index.search("offense", 3)[0][0] == "1"


def test_each_spelling_pair_is_one_the_corpus_uses_both_ways() -> None:
    """The table folds only spellings the bundled texts really mix (plus the questions' wilful)."""
    import re
    from pathlib import Path

    from indexer.sparse import QUESTION_SPELLINGS, SPELLING

    words: set[str] = set()
    for path in Path(__file__).resolve().parents[1].joinpath("corpus").rglob("*.md"):
        words.update(re.findall(r"[a-z]+", path.read_text(encoding="utf-8").lower()))
    unused = [(gb, us) for gb, us in SPELLING.items()
              if gb not in QUESTION_SPELLINGS and not (gb in words and us in words)]
    assert not unused


def test_question_kinds() -> None:
    assert asks_definition("What does EAR99 mean?")
    assert asks_definition("Does a repair video count as 'technology'?")
    assert not asks_definition("Can we ship handcuffs to Canada without a licence?")
    assert asks_entry("Which ECCN covers voice print equipment?")
    assert not asks_entry("How long must we keep records?")


def test_sibling_contrast_counts_only_the_words_a_units_other_candidates_lack(assistant) -> None:  # noqa: ANN001
    # § 740.22(c)(1)(ii) "A government end user" and (iii) "A non-government end user" share the
    # question's "government end user": coverage cannot tell them apart, the contrast discounts it.
    retriever = assistant.retriever
    snapshot = retriever.reader.snapshot()
    question = "May License Exception ACE be used for a government end user in a Country Group D:1 country?"
    found = retriever.candidates(snapshot, question, retriever.signals(snapshot, question, Filters(), 50))
    coverage, contrast = (found.matrix[:, FEATURES.index(name)] for name in ("coverage", "sibling_contrast"))
    assert (contrast <= coverage + 1e-5).all()
    units = [snapshot.by_id[cid].doc_id + snapshot.by_id[cid].unit for cid in found.ids]
    alone = np.array([units.count(u) == 1 for u in units])
    assert alone.any() and (~alone).any()
    assert np.allclose(contrast[alone], coverage[alone], atol=1e-5), "a unit's only candidate keeps its coverage"
    assert (contrast[~alone] < coverage[~alone] - 1e-5).any(), "words every sibling has count for less"


def test_candidate_features_describe_every_signals_candidates(assistant) -> None:  # noqa: ANN001
    retriever = assistant.retriever
    snapshot = retriever.reader.snapshot()
    question = "Do we need a licence to export intrusion software?"
    signals = retriever.signals(snapshot, question, Filters(), 50)
    found = retriever.candidates(snapshot, question, signals)
    assert found.matrix.shape == (len(found.ids), len(FEATURES))
    assert np.isfinite(found.matrix).all()
    expected = {cid for cid, _ in signals.dense} | {cid for cid, _ in signals.body} | {cid for cid, _ in signals.title}
    assert expected <= set(found.ids)
    column = FEATURES.index("dense")
    row = {cid: i for i, cid in enumerate(found.ids)}
    for cid, similarity in signals.dense[:5]:
        assert found.matrix[row[cid], column] == pytest.approx(similarity, abs=1e-6)


def _synthetic(seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Questions whose answering candidate has a high "coverage" and nothing else tells."""
    rng = np.random.default_rng(seed)
    rows = []
    for _ in range(40):
        x = rng.normal(size=(30, len(FEATURES)))
        y = np.zeros(30, dtype=int)
        y[0] = 1
        x[0, FEATURES.index("coverage")] += 3.0
        rows.append((x, y))
    return rows


def test_fit_learns_the_informative_feature_and_ablation_zeroes_a_group() -> None:
    model = fit(_synthetic(), 1.0)
    weights = dict(zip(FEATURES, model.weights))
    assert weights["coverage"] == max(weights.values()) > 0.5
    ablated = fit(_synthetic(), 1.0, GROUPS["term coverage"])
    assert all(dict(zip(FEATURES, ablated.weights))[name] == 0.0 for name in GROUPS["term coverage"])


@pytest.mark.parametrize(("text", "choice"), [("0.01:pairwise", FitChoice(0.01, True)),
                                              ("1:pointwise", FitChoice(1.0, False))])
def test_the_tuners_fit_option_names_one_fit(text: str, choice: FitChoice) -> None:
    """`--fit C:pairwise` narrows the tuner to the fits named (minutes instead of the grid's hour)."""
    assert FitChoice.parse(text) == choice and choice in FIT_GRID


@pytest.mark.parametrize("text", ["0.01", "0.01:pairs", "small:pairwise"])
def test_a_malformed_fit_option_is_refused_with_what_it_takes(text: str) -> None:
    import argparse

    with pytest.raises(argparse.ArgumentTypeError, match="--fit"):
        FitChoice.parse(text)


def test_learned_fusion_round_trips_and_refuses_other_features() -> None:
    model = fit(_synthetic(), 1.0)
    again = LearnedFusion.from_dict(model.to_dict())
    x = _synthetic(1)[0][0]
    assert np.allclose(again.score(x), model.score(x), atol=1e-4)
    assert ((model.score(x) > 0) & (model.score(x) < 1)).all()
    data = model.to_dict() | {"features": ["dense"]}
    with pytest.raises(ValueError, match="other features"):
        LearnedFusion.from_dict(data)


def test_the_shipped_fusion_is_learned_and_ranks_on_it(assistant) -> None:  # noqa: ANN001
    fusion = Fusion.load()
    assert fusion.learned is not None and fusion.learned.features == FEATURES
    result = assistant.retriever.search("Is intrusion software controlled in the EU?", None, 10, fusion=fusion)
    scores = [h.score for h in result.hits if h.exact is None]
    assert all(0.0 < s < 1.0 for s in scores)  # probabilities, not reciprocal ranks


def test_a_sections_paragraphs_share_one_title_row(assistant) -> None:  # noqa: ANN001
    """One row per heading: the words of § 740.2's heading count once for BM25's idf, not once
    per paragraph, so they do not look more common than a short section's "(TSU)"."""
    from assistant.titles import TitleIndex, title_of

    snapshot = assistant.retriever.reader.snapshot()
    tsu = [c for c in snapshot.by_doc["15-cfr-part-740"] if c.section.startswith("§ 740.13")]
    assert len(tsu) > 3 and len({title_of(c) for c in tsu}) == 1
    assert "(TSU)" in title_of(tsu[0]) and "§ 740.13(a)" not in title_of(tsu[0])
    index = TitleIndex.build([snapshot.by_id[cid] for cid in snapshot.sparse.ids])
    rows = {int(index.row_of[snapshot.positions[c.chunk_id]]) for c in tsu}
    assert len(rows) == 1


def test_a_code_the_heading_defines_is_a_feature_a_passing_mention_is_not(assistant) -> None:  # noqa: ANN001
    retriever = assistant.retriever
    snapshot = retriever.reader.snapshot()
    question = "What is License Exception TSU?"
    found = retriever.candidates(snapshot, question, retriever.signals(snapshot, question, Filters(), 100))
    column = FEATURES.index("named_in_heading")
    named = {snapshot.by_id[cid].section for cid, row in zip(found.ids, found.matrix) if row[column] == 1.0}
    assert named and all(section.startswith("§ 740.13") for section in named)
    mentions = [cid for cid in found.ids if snapshot.by_id[cid].section.startswith("§ 740.2(a)")]
    assert mentions and all(found.matrix[found.ids.index(cid), column] == 0.0 for cid in mentions)


@pytest.mark.parametrize(("question", "asks"), [
    ("How long do we have to keep records?", True),
    ("How many days does BIS have to decide?", True),
    ("Do we have to register, and by when?", True),
    ("What is the deadline for an appeal?", True),
    ("How do we keep records?", False),
    ("How many categories does the CCL have?", False),
])
def test_questions_that_ask_for_a_period(question: str, asks: bool) -> None:
    from assistant.retrieval import asks_duration

    assert asks_duration(question) is asks


@pytest.mark.parametrize(("text", "states"), [
    ("must be retained for five years from the latest of the following times:", True),
    ("not later than 45 days after the date appearing on the written notification", True),
    ("within thirty (30) calendar days", True),
    ("a four-year validity period", True),
    ("The appeal must include a full written statement", False),
    ("Category 5 Part 2", False),
])
def test_paragraphs_that_state_a_period(text: str, states: bool) -> None:
    from assistant.retrieval import states_duration

    assert states_duration(text) is states


def test_a_period_question_ranks_the_paragraph_that_states_the_period(assistant, monkeypatch) -> None:  # noqa: ANN001
    """§ 762.6(a) ("retained for five years") answers; its (1)-(4) items and § 762.2 only share
    the words. The paragraph that states a period is scored DURATION_BOOST times higher for a
    "how long" question (with the query adapter it also ranks first without the boost; the
    boost is what another embedding model, without an adapter, relies on)."""
    import assistant.retrieval as retrieval

    question = "How long do we have to keep records of our exports of surveillance equipment?"

    def period_score() -> tuple[str, float]:
        result = assistant.retriever.search(question, None, 10)
        score = next(h.score for h in result.hits if (h.chunk.doc_id, h.chunk.section) == ("15-cfr-part-762", "§ 762.6(a)"))
        return result.passages[0].first.section, score

    boost = retrieval.DURATION_BOOST
    first, boosted = period_score()
    assert first == "§ 762.6(a)" and boost > 1
    monkeypatch.setattr(retrieval, "DURATION_BOOST", 1.0)
    assert period_score()[1] == pytest.approx(boosted / boost, rel=1e-6)


@pytest.mark.parametrize(("question", "expected"), [
    # The code says what the item is; the question asks what may be done with it.
    ("Can we ship our IMSI catcher (5A001.f.1) to the German police?", True),
    ("Our AFIS systems are 3A981. Do we need a BIS licence for Brazil, and would it be different for Japan?", True),
    # The question asks about the entry itself.
    ("What does 5A001.j cover?", False),
    ("Is our probe caught by 5A001.j?", False),
    ("How does 5A001.j differ from 5.A.1.j of the Wassenaar list?", False),
    ("What is the difference between ECCN 5A001 and 5A002 for export licensing?", False),
])
def test_a_code_in_a_may_we_ship_question_names_the_item(question: str, expected: bool) -> None:
    assert names_item(question) is expected


@pytest.mark.parametrize(("question", "expected"), [
    ("The ECJU refused our SIEL for an intercept system. Can we appeal?", ["UK"]),
    ("DBT wants to suspend our open general licence", ["UK"]),
    ("Can we ship it under license exception LVS?", ["US"]),
    ("BAFA granted us an individual licence; may our forwarder lodge the declaration in Rotterdam?", ["EU"]),
    ("Compare the EU and the US record-keeping rules", ["EU", "US"]),
    ("What records must an exporter keep?", []),
    # Abbreviations with full stops, followed by a space (no word boundary after the stop).
    ("What are the U.S. penalties compared with the U.K. ones?", ["US", "UK"]),
    ("Is an E.U. authorisation needed?", ["EU"]),
    # Chat in lower case; "us" stays a pronoun.
    ("uk exporter here. do we need a separate licence for the manuals?", ["UK"]),
    ("is that an export under the eu dual use reg?", ["EU"]),
    ("is it true member states can go further than 'aware' for unlisted kit?", ["EU"]),
    ("can you let us know if we need a licence?", []),
    # EAR99 is the EAR's own designation for items it does not list.
    ("Is a licence needed to export an EAR99 server to China for a military-intelligence end user?", ["US"]),
    # A licence exception by its code alone names the EAR; APP is also Wassenaar's performance figure.
    ("demo unit at a trade show - how long can it stay out under us TMP vs eu EU004?", ["EU", "US"]),
    ("How does the Wassenaar list work out the APP of a computer?", ["Wassenaar"]),
])
def test_a_jurisdiction_is_named_by_its_institutions_and_licences(question: str, expected: list[str]) -> None:
    assert jurisdictions_named(question) == expected


def test_the_licence_exception_codes_that_name_the_us_are_those_the_ear_knows(assistant) -> None:  # noqa: ANN001
    """A hand-kept list, held to the bundled texts: a code a new EAR text defines or names joins it."""
    from assistant.retrieval import EAR_EXCEPTION_CODES, named_exception_codes

    known = named_exception_codes(assistant.retriever.reader.snapshot())
    assert set(EAR_EXCEPTION_CODES) == known - {"APP", "EAR"}


def test_a_rule_that_names_the_questions_code_and_a_limit_on_exceptions_are_features(assistant) -> None:  # noqa: ANN001
    """"STA for 6A002 arrays?": § 740.20(b)(2)(x) names 6A002 and limits STA; the ECCN 6A002 entry
    names the code too, but as the entry, and § 740.13's grant of TSU limits nothing."""
    retriever = assistant.retriever
    snapshot = retriever.reader.snapshot()
    question = "Could we use License Exception STA to send focal plane arrays (ECCN 6A002) to a partner?"
    found = retriever.candidates(snapshot, question, retriever.signals(snapshot, question, Filters(), 200))
    code, limit = FEATURES.index("code_in_rule"), FEATURES.index("exception_limit")
    rows = {cid: row for cid, row in zip(found.ids, found.matrix)}
    named = [cid for cid, row in rows.items() if row[code] == 1.0]
    assert named and all("6A002" in snapshot.by_id[cid].text for cid in named)
    assert all(snapshot.by_id[cid].doc_type != "control_list" for cid in named)
    limits = {snapshot.by_id[cid].section: snapshot.by_id[cid].text for cid, row in rows.items() if row[limit] == 1.0}
    assert any(section.startswith("§ 740.20(b)(2)") for section in limits)
    # § 740.13's grant of TSU limits nothing; its exclusions ("(d)(2) … are not available for …") do.
    tsu = {section: text for section, text in limits.items() if section.startswith("§ 740.13")}
    assert "§ 740.13" not in tsu and "§ 740.13(a)" not in tsu
    assert all(re.search(r"not available|may not|not authori[sz]ed", text) for text in tsu.values()), tsu
    # A question that asks what an entry covers is not about exceptions: the limit stays off.
    other = "What does ECCN 6A002 control?"
    plain = retriever.candidates(snapshot, other, retriever.signals(snapshot, other, Filters(), 100))
    assert not plain.matrix[:, limit].any()


@pytest.mark.parametrize(("text", "heading", "limits"), [
    ("(x) License Exception STA may not be used for items controlled by ECCNs 6A002;", "", True),
    ("(2) *End-use restrictions.* License Exception ACE is not authorized if the exporter …", "", True),
    ("(4) The item being exported is subject to the license requirements described in § 742.7",
     "§ 740.2 Restrictions on all License Exceptions.", True),
    ("License Exception TSU authorizes exports of operation technology and software", "§ 740.13 TSU", False),
])
def test_passages_that_limit_licence_exceptions(text: str, heading: str, limits: bool) -> None:
    from assistant.rerank import limits_exception

    assert limits_exception(text, heading) is limits


@pytest.mark.parametrize(("text", "only"), [
    ("[61 FR 12768, Mar. 25, 1996. Redesignated at 61 FR 64274, Dec. 4, 1996]", True),
    ("Link to an amendment published at 89 FR 34702, Apr. 30, 2024.", True),
    ("Link to an amendment published at 86 FR 58209, Oct. 21, 2021.This amendment was delayed until Mar. 7, "
     "2022, at 87 FR 1670, Jan. 12, 2022.", True),
    ("Link to an amendment published at 88 FR 73492, Oct. 25, 2023.\n\nThis License Exception allows the "
     "following reexports:", False),
    ("(a) *Scope.* This License Exception authorizes individuals leaving the United States", False),
    ("(d) Satellite;", False),  # a short list item is text
])
def test_provenance_only_chunks(text: str, only: bool) -> None:
    from assistant.retrieval import provenance_only

    assert provenance_only(text) is only


@pytest.mark.parametrize(("question", "first"), [
    # Asked only about the code: the section's scope, not its source note "[61 FR 12768, …]" (the
    # eCFR sets that before (a) when a section has no text of its own above it).
    ("What is License Exception BAG?", "§ 740.14(a)"),
    ("What is License Exception ACE?", "§ 740.22(a)"),
    # Asked about something the section says: its paragraph with the best evidence.
    ("Under License Exception BAG, what security precautions are needed when an employee carries "
     "technology abroad on a laptop?", "§ 740.14(g)(2)"),
])
def test_a_named_license_exception_ranks_its_paragraph_that_answers_first(assistant, question: str,  # noqa: ANN001
                                                                         first: str) -> None:
    result = assistant.retriever.search(question, None, 10)
    assert result.hits[0].chunk.section.startswith(first)
    assert not any(h.chunk.text.startswith("[") and " FR " in h.chunk.text[:12] for h in result.hits[:10])


def test_a_unit_keeps_every_paragraph_that_retrieval_found(assistant) -> None:  # noqa: ANN001
    """A long unit (a general authorisation, an ECCN) answers in its third or fifth paragraph as
    often as in its first two: its passage keeps every paragraph a signal found, best first, not
    only the best two (recall@10 0.783 -> 0.800 on the frozen split, no answer lost)."""
    from collections import Counter

    result = assistant.retriever.search(
        "Our due diligence shows that the buyer of our unlisted network monitoring software works for a police "
        "force accused of serious human rights violations. Can we still ship it under a Union general export "
        "authorisation?", None, 10)
    assert not result.references  # nothing named: no unit is pinned whole
    per_label = [Counter(c.section for c in passage.chunks) for passage in result.passages]
    assert max(n for counts in per_label for n in counts.values()) > 2
