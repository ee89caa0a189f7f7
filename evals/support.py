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

from assistant.claims import near_miss, novel_words, words

CALIBRATION = Path(__file__).with_name("support_calibration.json")
_WORD = re.compile(r"[a-z0-9]+")
_MARKER = re.compile(r"\[\d{1,3}\]")
# A quotation runs to the closing mark just before its citation marker (quoted law has quotes inside).
_QUOTED = re.compile(r"“(.*?)”…?\s*(?=\[\d{1,3}\])")
_FRAMING = re.compile(r"^(The indexed texts that bear on this question|The corpus does not answer|Closest passages"
                      r"|Also relevant:|The sources do not (?:answer|say)"
                      # A licence check's statement of what the corpus lacks, and its question back.
                      r"|\*\*What the bundled texts cannot decide:\*\*|To narrow this down:|\*\*In short:\*\*"
                      # Where the same control-list code stands in the other lists: labels, not a claim.
                      r"|\*\*Same code in the other bundled lists:\*\*)")


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


def verdict(sentence: str, passage: str, similarity: float | None, t: Thresholds,
            labels: tuple[str, ...] = ()) -> bool | None:
    """True supported, False not; None: the words do not settle it and the embedding
    similarity (not given yet) must."""
    if near_miss(sentence, passage, labels):
        return False
    uni, bi = lexical(sentence, passage)
    # A sentence with a word of its own is judged by meaning, not by the words it shares.
    if supported(uni, bi, 0.0, t) and not novel_words(sentence, set(words(passage))):
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
            markers = [int(m[1:-1]) for m in _MARKER.findall(piece)]
            # A quotation claims what it quotes; the label naming its source ("**§ 742.7 (Crime
            # control):**") is not a claim of its own.
            quoted = _QUOTED.findall(piece)
            claim = " ".join(q.rstrip("…") for q in quoted) if quoted else piece
            if len(_MARKER.sub("", claim).strip()) >= 3:
                result.append((claim if quoted else piece, markers))
    return result


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))
