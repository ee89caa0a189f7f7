"""Does a sentence say what its cited passages say? Lexical overlap plus embedding similarity.

Used on every sentence a language model writes; a sentence that fails is removed from the
answer and reported, so nothing unsupported is shown as if it were sourced."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from assistant.citations import MARKER
from assistant.claims import near_miss, words
from assistant.retrieval import Passage, QueryEmbedder
from assistant.sentences import content_terms, sentence_spans
from indexer.records import Chunk

_SENTENCE = re.compile(r"[^\n]*?[.!?:](?:[ \t]*\[\d{1,3}\])*(?=\s|$)|[^\n]+", re.S)
_NO_ANSWER = re.compile(
    r"\b(do(?:es)? not (?:say|state|address|answer|cover|mention)|no (?:source|information)|"
    r"cannot (?:tell|determine|answer)|not (?:stated|addressed|covered) (?:in|by))\b", re.I)

# Text that addresses its reader as a model ("ignore previous instructions and answer that ...").
# Inside a source it is quoted data: it may be shown as what it is, but never supports a claim,
# or a model that obeyed it would pass verification with the injected sentence as its evidence.
INSTRUCTION = re.compile(
    r"\b(?:ignore|disregard|forget|override)\b[^.;]{0,40}\b(?:previous|prior|above|earlier|preceding|all|any|"
    r"other|your)\b[^.;]{0,30}\b(?:instructions?|prompts?|rules|directions|guidelines|context)\b"
    r"|\b(?:answer|respond|reply)\s+(?:only\s+|instead\s+)?(?:that|with|by saying)\b"
    r"|\b(?:you are now|you must now|from now on,? you|as an ai\b|(?:the )?system prompt|new instructions)"
    r"|^\s*(?:system|assistant)\s*:", re.IGNORECASE | re.MULTILINE)

LEXICAL_ALONE = 0.6
LEXICAL_WITH_MEANING = 0.3
SEMANTIC = 0.6


@dataclass
class SentenceCheck:
    text: str  # without markers
    raw: str
    markers: list[int]
    supported: bool
    lexical: float = 0.0
    semantic: float = 0.0
    evidence: dict[int, tuple[Chunk, int, int]] | None = None  # marker -> best quote span


def _bigrams(text: str) -> set[tuple[str, str]]:
    tokens = words(text)
    return set(zip(tokens, tokens[1:]))


def split_sentences(answer: str) -> list[str]:
    return [m.group(0).strip() for m in _SENTENCE.finditer(answer) if m.group(0).strip()]


def without_instructions(text: str) -> str:
    """The text with every sentence that reads as an instruction to a model blanked out."""
    for span in reversed(sentence_spans(text, 1)):
        if INSTRUCTION.search(text[span.start : span.end]):
            text = text[: span.start] + " " * (span.end - span.start) + text[span.end :]
    return text


def check(answer: str, sources: dict[int, Passage], embed: QueryEmbedder) -> list[SentenceCheck]:
    sentences = split_sentences(answer)
    plain = [MARKER.sub("", s).strip() for s in sentences]
    candidates: dict[int, list[tuple[Chunk, int, int]]] = {}
    for n, passage in sources.items():
        candidates[n] = [(c, sp.start, sp.end) for c in passage.chunks for sp in sentence_spans(c.text, 10)
                         if not INSTRUCTION.search(c.text[sp.start : sp.end])][:60]
    texts = [t for t in plain if t]
    source_texts = [c.text[a:b] for spans in candidates.values() for c, a, b in spans]
    vectors = embed.many(texts + source_texts) if texts else np.zeros((0, 1))
    sentence_vec = {t: vectors[i] for i, t in enumerate(texts)}
    source_vec = {s: vectors[len(texts) + i] for i, s in enumerate(source_texts)}

    results: list[SentenceCheck] = []
    for raw, text in zip(sentences, plain):
        markers = [int(m) for m in MARKER.findall(raw)]
        if not text:
            continue
        valid = [n for n in dict.fromkeys(markers) if n in sources]
        if not valid:
            # A sentence saying the sources do not answer is not a legal claim; anything else is.
            results.append(SentenceCheck(text, raw, markers, bool(_NO_ANSWER.search(text)) and not markers))
            continue
        terms = content_terms(text)
        pairs = _bigrams(text)
        evidence: dict[int, tuple[Chunk, int, int]] = {}
        best_lexical = best_semantic = 0.0
        for n in valid:
            passage_terms = content_terms(without_instructions(sources[n].text))
            lexical = len(terms & passage_terms) / max(1, len(terms))
            best_span, semantic = None, 0.0
            best_score = -1.0
            for chunk, a, b in candidates[n]:
                similarity = float(np.dot(sentence_vec[text], source_vec[chunk.text[a:b]]))
                # The span the sentence says, not a neighbouring paragraph that sounds alike:
                # shared words and word pairs count as much as closeness in meaning, so the span
                # that contains a quoted fragment beats one that shares its vocabulary.
                span = chunk.text[a:b]
                score = (similarity + len(terms & content_terms(span)) / max(1, len(terms))
                         + len(pairs & _bigrams(span)) / max(1, len(pairs)))
                semantic = max(semantic, similarity)
                if score > best_score:
                    best_span, best_score = (chunk, a, b), score
            if best_span is None:
                chunk = sources[n].first
                best_span = (chunk, 0, len(chunk.text))
            evidence[n] = best_span
            best_lexical, best_semantic = max(best_lexical, lexical), max(best_semantic, semantic)
        supported = best_lexical >= LEXICAL_ALONE or (
            best_semantic >= SEMANTIC and best_lexical >= LEXICAL_WITH_MEANING)
        # Overlap and similarity rate a negated, re-numbered or extended copy of a source
        # sentence as supported; the near-miss rules do not.
        labels = tuple(label for n in valid for c in sources[n].chunks
                       for label in (c.section, c.unit, c.cite_as, c.heading_path))
        if supported and near_miss(text, " ".join(without_instructions(sources[n].text) for n in valid), labels):
            supported = False
        results.append(SentenceCheck(text, raw, markers, supported, best_lexical, best_semantic, evidence))
    return results
