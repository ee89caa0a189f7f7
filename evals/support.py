"""An independent check that an answer sentence is supported by its cited passage.

Independent of the assistant's own verifier on purpose: it compares the sentence with the
whole cited passage (not sentence by sentence), uses unstemmed word bigrams (not stemmed
content words), and its thresholds are calibrated on labelled pairs from the corpus by
`python -m evals.calibrate` (results in evals/support_calibration.json)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

CALIBRATION = Path(__file__).with_name("support_calibration.json")
_WORD = re.compile(r"[a-z0-9]+")
_MARKER = re.compile(r"\[\d{1,3}\]")
_FRAMING = re.compile(r"^(The indexed texts that bear on this question|The corpus does not answer|Closest passages)")


@dataclass(frozen=True)
class Thresholds:
    bigram_recall: float
    similarity: float
    unigram_floor: float

    @classmethod
    def load(cls, path: Path = CALIBRATION) -> Thresholds:
        data = json.loads(path.read_text(encoding="utf-8"))["thresholds"]
        return cls(data["bigram_recall"], data["similarity"], data["unigram_floor"])


def _grams(text: str) -> tuple[set[str], set[tuple[str, str]]]:
    words = _WORD.findall(text.lower())
    return set(words), set(zip(words, words[1:]))


def lexical(sentence: str, passage: str) -> tuple[float, float]:
    """(unigram recall, bigram recall) of the sentence's words in the passage."""
    s1, s2 = _grams(sentence)
    p1, p2 = _grams(passage)
    return len(s1 & p1) / max(1, len(s1)), len(s2 & p2) / max(1, len(s2))


def supported(unigram: float, bigram: float, similarity: float, t: Thresholds) -> bool:
    return bigram >= t.bigram_recall or (similarity >= t.similarity and unigram >= t.unigram_floor)


# -- near misses: a sentence that shares most words with its passage but says something else --

_NEGATION = {"not", "no", "never", "neither", "nor", "without", "except", "unless", "cannot", "none", "nothing"}
_NUMBER_WORDS = {
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "fifteen", "twenty", "thirty", "forty", "fifty", "sixty", "ninety", "hundred", "thousand", "million",
    "billion", "half", "first", "second", "third", "fourth", "fifth", "once", "twice"}
_ACTORS = ("exporter", "competent authority", "competent authorities", "member state", "member states",
           "commission", "applicant", "secretary", "bis", "council", "broker", "government", "end user",
           "consignee", "importer", "person", "u.s. person", "customs", "licensee")
_MODAL = re.compile(r"\b(" + "|".join(re.escape(a) for a in sorted(_ACTORS, key=len, reverse=True))
                    + r")\s+(shall|may|must|will|is required|are required)\b")
_STOP = set("""a an the of to in on for by with from at as or and be is are was were been being this that these
those it its which who whom whose any all each such other than then there their them they he she his her
shall may must will would should can could under into upon about after before also only same more most
per where when if so not no""".split())


def _words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def near_miss(sentence: str, passage: str) -> str | None:
    """Why a sentence that looks like its passage does not say what it says, or None.

    Changed numbers and dates, a negation added or dropped, a changed actor ("the exporter
    shall" where the passage says "the competent authority shall"), and words the passage
    does not have (an appended clause, a country it never names)."""
    s_words, p_words = _words(sentence), _words(passage)
    p_set = set(p_words)
    p_bigrams = set(zip(p_words, p_words[1:]))
    numbers = {w for w in s_words if w.isdigit() or w in _NUMBER_WORDS}
    if numbers - p_set:
        return f"number not in the passage: {sorted(numbers - p_set)}"
    for a, b in zip(s_words, s_words[1:]):
        if a in _NEGATION and (a, b) not in p_bigrams:
            return f"negation not in the passage: '{a} {b}'"
    p_trigrams = set(zip(p_words, p_words[1:], p_words[2:]))
    for a, b in zip(s_words, s_words[1:]):
        if (a, b) not in p_bigrams and any((a, n, b) in p_trigrams for n in _NEGATION):
            return f"the passage negates '{a} {b}'"
    p_lower = " ".join(p_words)
    for match in _MODAL.finditer(" ".join(s_words)):
        if match.group(0) not in p_lower:
            return f"actor not in the passage: '{match.group(0)}'"
    novel = novel_words(sentence, p_set)
    names = [w for w in re.findall(r"(?<=[a-z,;] )[A-Z][a-z]+", sentence) if w.lower() in novel]
    if names:
        return f"a name the passage does not have: {names[:3]}"
    if len(novel) >= 3:
        return f"words not in the passage: {novel[:5]}"
    return None


def novel_words(sentence: str, passage_words: set[str]) -> list[str]:
    """Content words of the sentence that its passage does not have (plural-tolerant)."""
    return [w for w in dict.fromkeys(_words(sentence)) if len(w) > 2 and w not in _STOP
            and w not in passage_words and w.rstrip("s") not in passage_words and w + "s" not in passage_words]


def verdict(sentence: str, passage: str, similarity: float | None, t: Thresholds) -> bool | None:
    """True supported, False not; None: the words do not settle it and the embedding
    similarity (not given yet) must."""
    if near_miss(sentence, passage):
        return False
    uni, bi = lexical(sentence, passage)
    # A sentence with a word of its own is judged by meaning, not by the words it shares.
    if supported(uni, bi, 0.0, t) and not novel_words(sentence, set(_words(passage))):
        return True
    if uni < t.unigram_floor:
        return False
    if similarity is None:
        return None
    return supported(uni, bi, similarity, t)


def answer_sentences(answer: str) -> list[tuple[str, list[int]]]:
    """Claim-bearing sentences of an answer with their citation markers; headings and the
    assistant's framing lines (which only list what was cited) are not claims."""
    result = []
    for line in answer.splitlines():
        line = line.strip()
        if line.startswith("**") and line.endswith("**"):
            continue  # a heading naming the jurisdiction and instrument
        line = re.sub(r"^[-*•]\s+", "", line)
        if not line or _FRAMING.match(line):
            continue
        # A claim runs up to the citation markers that close it (a quote may hold several
        # sentences); text after the last marker is a claim of its own.
        for piece in re.findall(r".+?(?:\s*\[\d{1,3}\])+[.,;:]?(?=\s|$)|.+$", line):
            piece = piece.strip()
            if len(_MARKER.sub("", piece).strip()) >= 3:
                result.append((piece, [int(m[1:-1]) for m in _MARKER.findall(piece)]))
    return result


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
