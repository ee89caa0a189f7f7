"""BM25 keyword index (bm25s) over the same chunks as the dense index, saved beside it."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import bm25s
import numpy as np
import Stemmer
from bm25s.tokenization import Tokenizer

# Keeps legal references whole: "742.7", "5A001.j", "3A981" are single terms.
TOKEN_PATTERN = r"(?u)\b\w+(?:\.\w+)*\b"


# British and American spellings of the same legal word index as one term: the EU and UK texts
# spell one way, the EAR the other, and exporters either. The pairs are those both spellings of
# which occur in the bundled corpus (checked by tests/test_rerank.py), plus QUESTION_SPELLINGS,
# which only questions use ("wilfully" for the statutes' "willfully"). Hand-listed rather than taken from a package:
# the spelling packages on PyPI (localspelling, breame) lack licence, offence, defence and wilful.
SPELLING = {
    "licence": "license", "licences": "licenses", "licenced": "licensed", "licencing": "licensing",
    "authorisation": "authorization", "authorisations": "authorizations", "authorised": "authorized",
    "authorise": "authorize", "authorises": "authorizes", "authorising": "authorizing",
    "unauthorised": "unauthorized", "organisation": "organization", "organisations": "organizations",
    "organised": "organized", "defence": "defense", "offence": "offense", "offences": "offenses",
    "programme": "program", "programmes": "programs", "cybersurveillance": "surveillance",
    "analogue": "analog", "analyse": "analyze", "behaviour": "behavior", "behaviours": "behaviors",
    "centre": "center", "centres": "centers", "recognised": "recognized", "specialised": "specialized",
    "customised": "customized", "harmonised": "harmonized", "minimise": "minimize", "utilise": "utilize",
    "utilising": "utilizing", "characterised": "characterized", "judgement": "judgment",
    "signalling": "signaling", "travelling": "traveling", "modelling": "modeling", "labelled": "labeled",
    "wilful": "willful", "wilfully": "willfully",
}
QUESTION_SPELLINGS = frozenset({"licenced", "licencing", "wilful", "wilfully", "cybersurveillance"})
SPARSE_VERSION = "3"


def _tokenizer() -> Tokenizer:
    stem = Stemmer.Stemmer("english").stemWord
    return Tokenizer(lower=True, splitter=TOKEN_PATTERN, stopwords="en",
                     stemmer=lambda word: stem(SPELLING.get(word, word)))


def covered_share(weights: np.ndarray, present: np.ndarray) -> np.ndarray:
    """Per row: the idf-weighted share of the terms it has (`SparseIndex.presence`'s pair)."""
    total = float(weights.sum())
    return (present @ weights / total).astype(np.float32) if total else np.zeros(len(present), dtype=np.float32)


class SparseIndex:
    """Queries are tokenized with `update_vocab=False`: a question's surface form the corpus never
    uses ("interfaces") still finds its stem ("interfac"), and only the word-to-id cache grows —
    no new terms. bm25s's `"never"` would drop such a word without a trace."""

    def __init__(self, retriever: bm25s.BM25, tokenizer: Tokenizer, ids: list[str]) -> None:
        self._retriever = retriever
        self._tokenizer = tokenizer
        self.ids = ids

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> SparseIndex:
        tokenizer = _tokenizer()
        tokens = tokenizer.tokenize(list(texts), update_vocab=True, return_as="tuple", show_progress=False)
        retriever = bm25s.BM25()
        retriever.index(tokens, show_progress=False)
        return cls(retriever, tokenizer, list(ids))

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self._retriever.save(str(directory), show_progress=False)
        self._tokenizer.save_vocab(str(directory))
        (directory / "ids.json").write_text(json.dumps(self.ids))

    @classmethod
    def load(cls, directory: Path) -> SparseIndex:
        retriever = bm25s.BM25.load(str(directory), show_progress=False)
        tokenizer = _tokenizer()
        tokenizer.load_vocab(str(directory))
        ids = json.loads((directory / "ids.json").read_text())
        return cls(retriever, tokenizer, ids)

    def _term_ids(self, texts: Sequence[str]) -> list[list[int]]:
        """Each text's term ids, `update_vocab=False` (see the class docstring)."""
        if not texts:
            return []
        return self._tokenizer.tokenize(list(texts), update_vocab=False, return_as="ids", show_progress=False)

    def _term_idf(self, term: int) -> float:
        """log(1 + N / df) for one term id; 0.0 for a term no document has."""
        scores = self._retriever.scores
        df = int(scores["indptr"][term + 1] - scores["indptr"][term])
        return float(np.log(1 + max(int(scores["num_docs"]), 1) / df)) if df else 0.0

    def coverage(self, query: str, rows: Sequence[int]) -> np.ndarray:
        """Per row (document position): the share of the query's distinct terms, weighted by
        idf, that the row contains. BM25 rewards one rare word repeated; this rewards a passage
        that has all of the question's words. Read from the index's own term-document matrix."""
        return covered_share(*self.presence(query, rows))

    def presence(self, query: str, rows: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
        """(idf of each of the query's distinct terms, rows x terms: whether the row has it)."""
        tokens = self._term_ids([query])
        scores = self._retriever.scores
        wanted = np.asarray(rows, dtype=np.int64)
        # One flag per document, set from the term's postings and read at the wanted rows:
        # linear in the postings, where np.isin sorts them (a common word's run thousands long).
        flags = np.zeros(max(int(scores["num_docs"]), 1), dtype=bool)
        weights, columns = [], []
        for term in sorted(set(tokens[0])) if tokens else []:
            weight = self._term_idf(term)
            if not weight:
                continue
            postings = scores["indices"][scores["indptr"][term] : scores["indptr"][term + 1]]
            flags[postings] = True
            weights.append(weight)
            columns.append(flags[wanted].astype(np.float64))
            flags[postings] = False
        matrix = np.column_stack(columns) if columns else np.zeros((len(wanted), 0))
        return np.asarray(weights, dtype=np.float64), matrix

    def idf(self, words: Sequence[str]) -> dict[str, float]:
        """Each word's inverse document frequency in this index, log(1 + N / df), through the
        index's own tokenizer ("licences" is "licens"); 0.0 for a word the index does not hold
        (unknown, or a stop word): no passage can be told apart by it."""
        words = list(words)
        return {word: min((self._term_idf(t) for t in ids), default=0.0)  # a split word: its commonest part
                for word, ids in zip(words, self._term_ids(words))}

    def search(self, query: str, k: int, mask: np.ndarray | None = None) -> list[tuple[str, float]]:
        """Top-k (chunk id, BM25 score); `mask` (0/1 per chunk) restricts the candidates."""
        if not self.ids:
            return []
        tokens = self._term_ids([query])
        if not tokens or not tokens[0]:
            return []
        k = min(k, len(self.ids))
        # n_threads=0: in this thread. Any other value makes bm25s start a thread pool per call
        # (one token list each time, so nothing runs in parallel); interleaved in one process on
        # the dev questions, retrieval p95 was about 4 ms lower without it (noisy machine).
        docs, scores = self._retriever.retrieve(
            tokens, k=k, show_progress=False, weight_mask=mask, n_threads=0
        )
        return [(self.ids[int(d)], float(s)) for d, s in zip(docs[0], scores[0]) if s > 0]
