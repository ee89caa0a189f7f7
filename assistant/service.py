"""The assistant: question → retrieval → answer (extractive or LLM) → verified citations."""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Callable, Sequence
from typing import Any

from assistant import abstention, llm
from assistant.citations import citation_for, verify_citations
from assistant.conversation import is_follow_up, standalone_question
from assistant.evidence import Selection, SelectionPolicy, heading_only, select
from assistant.equivalents import same_code_line
from assistant.extractive import compose, unit_label
from assistant.not_bundled import NotHeld, missing_sections_for, not_held
from assistant.records import AnswerResponse, Citation, Mode, RetrievedRef, Turn
from assistant.bundled import not_bundled
from assistant.references import names_instrument, normalise
from assistant.quote_ranking import QuoteModel
from assistant.retrieval import (FUSION, Fusion, HybridRetriever, Passage, QueryEmbedder, SearchResult, exception_codes,
                                 parent_label)
from assistant.provenance import provenance_notices
from assistant.scope import ScopeCheck
from assistant.sentences import sentence_spans
from assistant.support import check
from determination.engine import Determiner
from determination.from_question import ReadFacts, read_facts
from determination.render import as_markdown
from determination.screening_step import screen_with
from screening import ScreeningStore
from indexer.reader import Filters, IndexReader, Snapshot
from indexer.records import Chunk
from regqa.config import Settings



class QuestionError(ValueError):
    """The question cannot be answered as asked (empty, too long, ...)."""


class Assistant:
    def __init__(self, settings: Settings, *, embedder: Any = None, reader: IndexReader | None = None,  # noqa: ANN401
                 chat_model: Any = None, fusion: Fusion | None = None) -> None:  # noqa: ANN401
        self.settings = settings
        if embedder is None:
            from indexer.embeddings import load_embedder

            embedder = load_embedder(settings)
        self.embed = QueryEmbedder(embedder)
        self.reader = reader or IndexReader(settings, embedding=getattr(embedder, "identity", None))
        self.retriever = HybridRetriever(self.reader, self.embed, fusion=fusion)
        self.scope = ScopeCheck(self.embed, settings.scope_margin)
        # The party list the user imported beside the index; the licence check screens end users with it.
        self.screening = ScreeningStore(settings)
        self.policy = SelectionPolicy.load()
        self.determiner = Determiner(self.retriever, screen=screen_with(self.screening),
                                     min_similarity=self.policy.min_confidence)
        self.quotes = QuoteModel.load(FUSION)
        self.chat_model = chat_model if chat_model is not None else llm.build_chat_model(settings)

    # -- public ------------------------------------------------------------------------------

    def ask(self, question: str, *, history: Sequence[Turn] = (), filters: Filters | None = None,
            top_k: int | None = None, mode: Mode | None = None,
            on_token: Callable[[str], None] | None = None) -> AnswerResponse:
        """Answer a question. `on_token` receives the language model's text as it arrives
        (LLM mode only; it is provisional — the returned record holds the verified answer)."""
        started = time.perf_counter()
        timings: dict[str, float] = {}
        question = self.clean_question(question)
        history = list(history)[-self.settings.max_history_turns :] if self.settings.max_history_turns else []
        # Earlier turns reach the embedder and the model too: an unpaired surrogate in one (JSON
        # allows the escape) made the tokenizer raise, a 500.
        history = [turn.model_copy(update={"content": _visible(turn.content)}) for turn in history]
        mode = mode or self.settings.mode
        notices: list[str] = []

        t = time.perf_counter()
        standalone = standalone_question(question, history)
        if mode == "llm" and self.chat_model is not None and history and is_follow_up(question):
            try:
                standalone = llm.rewrite(self.chat_model, question, history)
            except llm.LLMUnavailable:
                pass  # the heuristic rewrite above stands
        timings["rewrite"] = _ms(t)

        t = time.perf_counter()
        result = self.retriever.search(standalone, filters, top_k or self.settings.top_k)
        timings["retrieve"] = _ms(t)
        response = AnswerResponse(
            question=question, standalone_question=standalone, answer="", mode=mode,
            retrieved=[_retrieved_ref(h.chunk, h.score, exact=h.exact is not None) for h in result.hits],
        )

        # A licence question with its facts gets the licence check, unless the caller restricted the
        # sources (filters) or named a unit (a false premise is answered as such). One that names a
        # provision ("does the 'military end-user' rule in § 744.9 even apply to police?") asks what
        # that provision says: the answerer quotes it; the check's path would not.
        unheld = _not_held(result)
        notices += [f"The provision on {m.topic}, {m.label}, is not in the bundled copy of {m.instrument} "
                    f"(official text: {m.url}); this answer cannot quote it."
                    for m in missing_sections_for(standalone) if not self._indexed(result.snapshot, m.label)]
        names_provision = any(r.kind in _PROVISION_KINDS for r in result.references)
        routed = (self.settings.licence_check_in_chat and not result.unresolved and not unheld
                  and (filters is None or filters.empty) and not names_provision)
        read = read_facts(standalone, exception_codes(result.snapshot)) if routed else None
        if read is not None:
            t = time.perf_counter()
            self._determination_answer(response, read)
            timings["determine"] = _ms(t)
            return self._finish(response, result, notices, timings, started)

        selection = select(result, self.policy)
        verdict = self._abstain_reason(result, selection, unheld)
        if verdict:
            return self._finish(self._abstain(response, result, *verdict), result, notices, timings, started)

        if result.unresolved:  # only gaps of partial copies are left here: a false name abstained above
            notices += [f"{abstention.not_bundled_text(g)}; the answer covers the rest."
                        for g in not_bundled(result.snapshot, result.unresolved)]
        notices += [f"{n.name} is not among the indexed documents{abstention.official(n.url)}; the answer "
                    "covers the rest." for n in unheld]

        if mode == "llm":
            if self.chat_model is None:
                notices.append("LLM mode is not configured (set REGQA_LLM_BASE_URL and REGQA_LLM_MODEL); "
                               "this answer was composed from the passages without a language model.")
                response.mode = "extractive"
            else:
                try:
                    self._llm_answer(response, result, selection.cited, history, timings, on_token)
                except llm.LLMUnavailable as exc:
                    notices.append(f"The language model could not be reached ({exc}); this answer was "
                                   "composed from the passages without it.")
                    response.mode = "extractive"
        if response.mode == "extractive":
            t = time.perf_counter()
            retrieved = {h.chunk.chunk_id for h in result.hits}

            def retrieved_lead_in(chunk):  # noqa: ANN001, ANN202 - only a retrieved lead-in may be cited
                parent = self.retriever.lead_in(result.snapshot, chunk)
                return parent if parent is not None and parent.chunk_id in retrieved else None

            def retrieved_only(find):  # noqa: ANN001, ANN202 - a retriever method (snapshot, chunk) -> chunks
                return lambda chunk: [c for c in find(result.snapshot, chunk) if c.chunk_id in retrieved]

            draft = compose(standalone, selection.cited, lead_in=retrieved_lead_in,
                            introducers=retrieved_only(self.retriever.introducing),
                            closers=retrieved_only(self.retriever.closing),
                            weights=result.snapshot.sparse.idf,
                            model=self.quotes, references=result.references)
            timings["compose"] = _ms(t)
            response.answer, response.citations = draft.answer, draft.citations
            # A control-list entry: where the same code stands in the other bundled lists.
            others = same_code_line([p.first for p in selection.cited], self.retriever.sections(result.snapshot),
                                    unit_label)
            if others and draft.citations:
                response.answer += f"\n\n{others}"
            if not draft.citations:
                return self._finish(
                    self._abstain(response, result, "out-of-corpus", "none of the retrieved passages contains "
                                  "a quotable sentence that matches the question"),
                    result, notices, timings, started)
        # Judged on what the answer quotes: a cited passage may name countries in a paragraph the
        # answer leaves out ("except Australia, Canada, or the United Kingdom" for shotgun shells).
        if abstention.countries_left_out(result.query, (c.quote for c in response.citations)):
            notices.append("The question also asks which countries: no quoted passage names them, and the bundled "
                           "texts do not hold that list (for the EAR, the Commerce Country Chart, Supplement No. 1 "
                           "to Part 738, is not bundled); the answer covers the rest.")
        return self._finish(response, result, notices, timings, started)

    def clean_question(self, question: str) -> str:
        text = re.sub(r"\s+", " ", _visible(question or "")).strip()
        if not text:
            raise QuestionError("the question is empty")
        if len(text) > self.settings.max_question_chars:
            raise QuestionError(
                f"the question is {len(text)} characters long; the limit is {self.settings.max_question_chars}")
        return text

    # -- steps -------------------------------------------------------------------------------

    def _abstain_reason(self, result: SearchResult, selection: Selection,
                        unheld: list[NotHeld]) -> tuple[str, str] | None:
        """(kind, reason) when the corpus does not answer, else None (`assistant/abstention.py`)."""
        floor = self.settings.min_similarity if self.settings.min_similarity is not None else self.policy.min_confidence
        return abstention.verdict(abstention.Case(result, selection, unheld, self.scope,
                                                  self.settings.in_scope_similarity, floor))

    def _indexed(self, snapshot: Snapshot, label: str) -> bool:
        """Has a refresh bundled a provision the MANIFEST recorded as missing? (A stale record then
        says nothing.) `§§ 734.13-734.16` counts as bundled when its first section is."""
        first = re.sub(r"^§§\s*", "§ ", label).split("-")[0].strip()
        return normalise(first) in self.retriever.sections(snapshot)

    def _determination_answer(self, response: AnswerResponse, read: ReadFacts) -> None:
        """A licence question with its facts: the cited decision path is the answer. The units it
        cites join `retrieved`, being what the answer was composed from."""
        determination = self.determiner.determine(read.facts)
        response.answer = as_markdown(determination, read.clarifying_question)
        response.citations = determination.citations
        have = {r.chunk_id for r in response.retrieved}
        response.retrieved += [RetrievedRef(chunk_id=c.chunk_id, doc_id=c.doc_id, section=c.section, score=0.0,
                                            exact_reference=True, unit=c.unit, start=c.start, end=c.end)
                               for c in determination.citations if c.chunk_id not in have]

    def _abstain(self, response: AnswerResponse, result: SearchResult, kind: str, reason: str) -> AnswerResponse:
        response.abstained = True
        response.abstain_kind = kind  # type: ignore[assignment]
        response.abstain_reason = reason
        closest: list[Citation] = []
        # A false premise names a part of a real unit (`5A001.z`, `§ 742.7(z)`): the real unit is
        # the first reference, so the reader sees what does exist.
        real = self._containing(result) if kind == "false-premise" else []
        have = {r.chunk_id for r in response.retrieved}
        # Looked up by the reference's parent label, so part of what this answer retrieved.
        response.retrieved += [_retrieved_ref(c, 0.0, exact=True) for c in real if c.chunk_id not in have]
        chunks = list({(c.doc_id, c.section): c for c in [*real, *(p.first for p in result.passages)]}.values())
        for chunk in chunks[:3]:
            spans = sentence_spans(chunk.text)
            quote = chunk.text[spans[0].start : spans[0].end] if spans else chunk.text
            closest.append(citation_for(len(closest) + 1, chunk, quote))
        lead = {"out-of-scope": "This is outside what RegQA covers",
                "false-premise": "The question rests on a false premise",
                "out-of-corpus": "The bundled texts do not answer this"}[kind]
        lines = [f"{lead}: {reason}."]
        if closest:
            lines.append("Closest passages (references, not an answer):")
            # The unit where one label holds several (`§ 772.1 “Reexport”`), so that two lines differ.
            lines += [f"- {c.cite_as}, {c.unit if c.unit.startswith(c.section) and c.unit != c.section else c.section}"
                      f" [{c.n}]" for c in closest]
        response.answer = "\n".join(lines)
        response.citations = closest
        return response

    def _containing(self, result: SearchResult) -> list[Chunk]:
        """For each reference that names nothing, the first passage of the nearest unit above it
        that exists (`5A001` for `5A001.z`)."""
        sections = self.retriever.sections(result.snapshot)
        found: list[Chunk] = []
        for ref in result.unresolved:
            label = parent_label(ref.label)
            while label is not None and label not in sections:
                label = parent_label(label)
            if label is None:
                continue
            chunks = sections[label]
            own = [c for c in chunks if names_instrument(ref, c.cite_as)] if ref.instrument else []
            # Of the instrument the question names; else the one the search ranked first.
            holders = [c.doc_id for c in own or chunks]
            doc = next((p.first.doc_id for p in result.passages if p.first.doc_id in holders), holders[0])
            # The unit's first passage that says something (`§ 742.7(a)`), not a heading line or
            # the amendment note that is all that carries the bare label `§ 742.7`.
            inside = (c for c in result.snapshot.by_doc[doc]
                      if (n := normalise(c.section)) == label or n.startswith((label + "(", label + ".")))
            first = next((c for c in inside if not heading_only(c)), None)
            if first is not None:
                found.append(first)
        return found

    def _llm_answer(self, response: AnswerResponse, result: SearchResult, selected: list[Passage],
                    history: list[Turn], timings: dict[str, float],
                    on_token: Callable[[str], None] | None = None) -> None:
        # The same selected evidence as an extractive answer: fewer, better passages.
        passages = selected or result.passages[:3]
        t = time.perf_counter()
        messages = llm.answer_messages(response.standalone_question, passages, history)
        if on_token is None:
            text = llm.generate(self.chat_model, messages)
        else:
            pieces = []
            for piece in llm.stream(self.chat_model, messages):
                pieces.append(piece)
                on_token(piece)
            text = "".join(pieces)
        timings["generate"] = _ms(t)
        t = time.perf_counter()
        sources: dict[int, Passage] = {n: p for n, p in enumerate(passages, start=1)}
        checks = check(text, sources, self.embed)
        kept: list[str] = []
        citations: dict[int, Citation] = {}
        for item in checks:
            if not item.supported:
                response.unsupported_sentences.append(item.text)
                continue
            kept.append(item.raw)
            for n, (chunk, a, b) in (item.evidence or {}).items():
                citations.setdefault(n, citation_for(n, chunk, chunk.text[a:b]))
        response.answer = " ".join(kept)
        response.citations = list(citations.values())
        timings["support"] = _ms(t)
        if not kept:
            raise llm.LLMUnavailable("no sentence of the model's answer was supported by the sources")

    def _finish(self, response: AnswerResponse, result: SearchResult, notices: list[str],
                timings: dict[str, float], started: float) -> AnswerResponse:
        t = time.perf_counter()
        checked = verify_citations(response.answer, response.citations, result.snapshot,
                                   {r.chunk_id for r in response.retrieved})
        response.answer, response.citations = checked.answer, checked.citations
        if checked.dropped_markers:
            notices.append(f"Removed {len(checked.dropped_markers)} citation(s) that did not resolve to a "
                           "retrieved passage.")
        timings["verify"] = _ms(t)
        response.signals, response.dense_coverage = _signals(result)
        if response.dense_coverage < 1.0:
            notices.append(f"The index is still warming up: dense (meaning-based) search covers "
                           f"{int(100 * response.dense_coverage)} % of the passages so far, so this answer rests "
                           "mostly on exact references, keywords and titles. Ask again in a minute or two for "
                           "the full search.")
        response.notices = notices + provenance_notices(response.citations, result.snapshot.manifest)
        timings["total"] = _ms(started)
        response.timings_ms = timings
        return response


def _signals(result: SearchResult) -> tuple[list[str], float]:
    """The retrieval signals behind the answer, and how much of the index dense search covered."""
    coverage = round(result.snapshot.dense_coverage, 3)
    signals = ["exact reference"] if any(h.exact is not None for h in result.hits) else []
    signals += ["keywords", "titles"] + (["dense"] if coverage > 0 else [])
    return signals, coverage


def _visible(text: str) -> str:
    """NFC text without control, format, private-use or unpaired surrogate characters."""
    return "".join(ch for ch in unicodedata.normalize("NFC", text)
                   if ch in "\n\t" or unicodedata.category(ch)[0] != "C")


def _not_held(result: SearchResult) -> list[NotHeld]:
    """Instruments the question names that the index does not hold (assistant/not_bundled.py)."""
    snapshot = result.snapshot
    return not_held(result.query, (chunks[0].cite_as for chunks in snapshot.by_doc.values() if chunks),
                    lambda text: any(text in c.text for c in snapshot.chunks))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 2)


# References to a provision of an instrument (not a control-list code or an exception's code).
_PROVISION_KINDS = frozenset({"cfr", "article", "usc", "supplement"})


def _retrieved_ref(chunk: Chunk, score: float, *, exact: bool) -> RetrievedRef:
    return RetrievedRef(chunk_id=chunk.chunk_id, doc_id=chunk.doc_id, section=chunk.section, score=round(score, 6),
                        exact_reference=exact, unit=chunk.unit or chunk.section, start=chunk.start, end=chunk.end)
