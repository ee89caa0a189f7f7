"""Calibrate the independent support check on labelled pairs drawn from the indexed corpus.

Positives: a sentence of a passage, as it stands and reworded by dropping a third of its
words and swapping two clauses (a crude stand-in for paraphrase), against that passage.
Negatives: the same kind of sentence against the most similar passage of a *different* unit
that does not repeat it (same topic, does not say it), and near misses against the *same*
passage: negated, a number changed, the actor changed, a clause appended. Embeddings come
from the backend the product uses (REGQA_EMBEDDING_BACKEND). Thresholds are chosen for at
least 95% precision; the report prints the confusion matrix per kind of pair.

    python -m evals.calibrate [--pairs 400]
"""

from __future__ import annotations

import argparse
import json
import random
import re

import numpy as np

from assistant.sentences import sentence_spans
from evals.support import CALIBRATION, Thresholds, cosine, lexical, verdict
from indexer.embeddings import load_embedder
from indexer.reader import Filters, IndexReader
from regqa.config import Settings, apply_offline_environment


def _reword(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    keep = [w for w in words if rng.random() > 0.33] or words
    if "," in sentence and rng.random() < 0.5:
        head, _, tail = " ".join(keep).partition(",")
        return f"{tail.strip()}, {head.strip()}"
    return " ".join(keep)


_NUMBER = re.compile(r"\b(\d+|one|two|three|four|five|six|ten|thirty|ninety)\b")
_MODAL = re.compile(r"\b(shall|may|must|is|are)\b")
_ACTOR = re.compile(r"\b(exporter|competent authority|Member State|Commission|applicant|BIS|Secretary)\b")
_SWAP = {"exporter": "competent authority", "competent authority": "exporter", "Member State": "Commission",
         "Commission": "Member State", "applicant": "Secretary", "BIS": "applicant", "Secretary": "applicant"}


def near_misses(sentence: str) -> dict[str, str]:
    """False claims that keep most of the sentence's words."""
    out: dict[str, str] = {}
    if _MODAL.search(sentence):
        out["negated"] = _MODAL.sub(lambda m: f"{m.group(1)} not", sentence, count=1)
    match = _NUMBER.search(sentence)
    if match:
        value = match.group(1)
        changed = str(int(value) * 10 + 7) if value.isdigit() else {"one": "seven", "two": "twelve"}.get(value, "fifty")
        out["number"] = sentence[: match.start()] + changed + sentence[match.end() :]
    match = _ACTOR.search(sentence)
    if match:
        out["actor"] = sentence[: match.start()] + _SWAP[match.group(1)] + sentence[match.end() :]
    out["appended"] = sentence.rstrip(" .;:") + ", but cameras are exempt in every destination."
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    apply_offline_environment()
    settings = Settings()
    reader = IndexReader(settings)
    snapshot = reader.snapshot()
    embedder = load_embedder(settings)
    rng = random.Random(args.seed)
    chunks = [c for c in snapshot.chunks if c.token_count >= 40]
    rng.shuffle(chunks)
    rows: list[tuple[str, bool, float, float, str, str]] = []  # kind, label, uni, bi, sentence, passage
    positives = 0
    for chunk in chunks:
        if positives >= args.pairs:
            break
        spans = [s for s in sentence_spans(chunk.text) if len(chunk.text[s.start:s.end].split()) >= 8]
        if not spans:
            continue
        original = chunk.text[spans[0].start : spans[0].end]
        neighbours = reader.dense_search(snapshot, embedder.encode([chunk.embed_text])[0], 10, Filters())
        # Legal texts repeat themselves; a passage that says the same thing is no negative.
        other = next((snapshot.by_id[cid] for cid, _ in neighbours
                      if snapshot.by_id[cid].section != chunk.section
                      and lexical(original, snapshot.by_id[cid].text)[1] < 0.5), None)
        if other is None:
            continue
        pairs = [("exact", True, original, chunk.text), ("reworded", True, _reword(original, rng), chunk.text),
                 ("other passage", False, _reword(original, rng), other.text)]
        pairs += [(kind, False, claim, chunk.text) for kind, claim in near_misses(original).items()]
        for kind, label, sentence, passage in pairs:
            uni, bi = lexical(sentence, passage)
            rows.append((kind, label, uni, bi, sentence, passage))
        positives += 2
    texts = list(dict.fromkeys([r[4] for r in rows] + [r[5] for r in rows]))
    vectors = dict(zip(texts, embedder.encode(texts)))
    sims = [cosine(vectors[r[4]], vectors[r[5]]) for r in rows]
    labels = np.array([r[1] for r in rows])

    def predict(t: Thresholds) -> np.ndarray:
        return np.array([bool(verdict(r[4], r[5], sim, t)) for r, sim in zip(rows, sims)])

    best = None
    for bigram in np.arange(0.2, 0.95, 0.05):
        for similarity in np.arange(0.5, 0.95, 0.05):
            for floor in (0.3, 0.4, 0.5):
                t = Thresholds(round(float(bigram), 3), round(float(similarity), 3), floor)
                predicted = predict(t)
                tp = int((predicted & labels).sum())
                precision = tp / max(1, int(predicted.sum()))
                recall = tp / max(1, int(labels.sum()))
                if precision >= 0.95 and (best is None or recall > best[1]):
                    best = (t, recall, precision)
    if best is None:
        raise SystemExit("no thresholds reach 95% precision on the calibration pairs")
    t, recall, precision = best
    predicted = predict(t)
    matrix: dict[str, dict[str, int]] = {}
    for (kind, label, *_), p in zip(rows, predicted):
        cell = matrix.setdefault(kind, {"pairs": 0, "judged supported": 0, "label": int(label)})
        cell["pairs"] += 1
        cell["judged supported"] += int(p)
    result = {
        "method": __doc__.strip().splitlines()[0],
        "backend": settings.embedding_backend,
        "pairs": {"positive": int(labels.sum()), "negative": int((~labels).sum())},
        "thresholds": {"bigram_recall": round(t.bigram_recall, 3), "similarity": round(t.similarity, 3),
                       "unigram_floor": t.unigram_floor},
        "precision": round(precision, 4), "recall": round(recall, 4), "seed": args.seed,
        "by_kind": matrix,
    }
    CALIBRATION.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
