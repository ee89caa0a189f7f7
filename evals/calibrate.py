"""Calibrate the independent support check on labelled pairs drawn from the indexed corpus.

Positives: a sentence of a passage, reworded by dropping a third of its words and swapping
two clauses (a crude stand-in for paraphrase), against that passage. Negatives: the same
kind of sentence against the most similar passage of a *different* unit that does not
repeat the original sentence (hard negatives: same topic, does not say it). Thresholds are chosen for at least 95% precision on this set;
the report prints precision, recall and the pair counts.

    python -m evals.calibrate [--pairs 400]
"""

from __future__ import annotations

import argparse
import json
import random

import numpy as np

from assistant.sentences import sentence_spans
from evals.support import CALIBRATION, Thresholds, cosine, lexical, supported
from indexer.embeddings import SentenceTransformerEmbedder
from indexer.reader import Filters, IndexReader
from regqa.config import Settings, apply_offline_environment


def _reword(sentence: str, rng: random.Random) -> str:
    words = sentence.split()
    keep = [w for w in words if rng.random() > 0.33] or words
    if "," in sentence and rng.random() < 0.5:
        head, _, tail = " ".join(keep).partition(",")
        return f"{tail.strip()}, {head.strip()}"
    return " ".join(keep)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=400)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    apply_offline_environment()
    settings = Settings()
    reader = IndexReader(settings)
    snapshot = reader.snapshot()
    embedder = SentenceTransformerEmbedder(settings.model_path)
    rng = random.Random(args.seed)
    chunks = [c for c in snapshot.chunks if c.token_count >= 40]
    rng.shuffle(chunks)
    rows: list[tuple[bool, float, float, float]] = []
    for chunk in chunks:
        if len(rows) >= args.pairs * 2:
            break
        spans = [s for s in sentence_spans(chunk.text) if len(chunk.text[s.start:s.end].split()) >= 8]
        if not spans:
            continue
        original = chunk.text[spans[0].start : spans[0].end]
        sentence = _reword(original, rng)
        vector = embedder.encode([sentence])[0]
        neighbours = reader.dense_search(snapshot, embedder.encode([chunk.embed_text])[0], 10, Filters())
        # Legal texts repeat themselves; a passage that says the same thing is no negative.
        other = next((snapshot.by_id[cid] for cid, _ in neighbours
                      if snapshot.by_id[cid].section != chunk.section
                      and lexical(original, snapshot.by_id[cid].text)[1] < 0.5), None)
        if other is None:
            continue
        for label, passage in ((True, chunk), (False, other)):
            uni, bi = lexical(sentence, passage.text)
            sim = cosine(vector, embedder.encode([passage.text])[0])
            rows.append((label, uni, bi, sim))

    labels = np.array([r[0] for r in rows])
    if args.verbose:
        for name, i in (("unigram", 1), ("bigram", 2), ("similarity", 3)):
            pos = np.array([r[i] for r in rows if r[0]]); neg = np.array([r[i] for r in rows if not r[0]])
            print(name, "pos p10/p50/p90", np.percentile(pos, [10, 50, 90]).round(3),
                  "neg p50/p90/p99", np.percentile(neg, [50, 90, 99]).round(3))
    best = None
    for bigram in np.arange(0.2, 0.95, 0.05):
        for similarity in np.arange(0.4, 0.95, 0.025):
            for floor in (0.3, 0.4, 0.5):
                t = Thresholds(float(bigram), float(similarity), floor)
                predicted = np.array([supported(u, b, s, t) for _, u, b, s in rows])
                tp = int((predicted & labels).sum())
                precision = tp / max(1, int(predicted.sum()))
                recall = tp / max(1, int(labels.sum()))
                if precision >= 0.95 and (best is None or recall > best[1]):
                    best = (t, recall, precision)
    if best is None:
        raise SystemExit("no thresholds reach 95% precision on the calibration pairs")
    t, recall, precision = best
    result = {
        "method": __doc__.strip().splitlines()[0],
        "pairs": {"positive": int(labels.sum()), "negative": int((~labels).sum())},
        "thresholds": {"bigram_recall": round(t.bigram_recall, 3), "similarity": round(t.similarity, 3),
                       "unigram_floor": t.unigram_floor},
        "precision": round(precision, 4), "recall": round(recall, 4), "seed": args.seed,
    }
    CALIBRATION.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
