"""Name matching: how close a screened name is to a listed name or alias, on a 0-100 scale.

Why this scorer. Party names differ in ways a plain edit distance handles badly:

* word order ("Prigozhin, Yevgeniy Viktorovich"; "Public Security Bureau of Urumqi") — so names
  are compared word by word, each query word paired with its best listed word (greedy best pairs,
  as Moov Watchman does), not as one string;
* transliteration ("Yevgeniy"/"Evgeniy", "Prigozhin"/"Prigojine", "Uighur"/"Uyghur") — so a word
  pair is scored with Jaro-Winkler (`rapidfuzz.distance.JaroWinkler`), which is lenient on
  scattered single-letter differences and rewards a shared beginning, with Watchman's penalties for
  very different lengths and for a different first letter (Jaro-Winkler alone is too permissive);
* spacing and segmentation ("Hik Vision"/"Hikvision", "Kuang Shi"/"Kuangshi", "Rosoboron Export")
  — so each side is also compared with neighbouring words run together (and all words run
  together). Word pairs still decide the score: comparing whole space-stripped strings (one Indel
  ratio) would count an extra word ("Positive Energy Technologies" vs "Positive Technologies") as a
  few inserted letters and call it a match;
* corporate forms and boilerplate ("Co., Ltd.", "JSC", "Technologies", "Public Security Bureau")
  — corporate forms are dropped, and descriptive words that many unrelated parties share carry a
  fifth of a distinctive word's weight, so that "Hangzhou Municipal Public Security Bureau" does not
  match "Urumqi Municipal Public Security Bureau" on four shared generic words while "Zhejiang
  Dahua" still matches "Zhejiang Dahua Technology Co., Ltd.". Russian patronymics count as generic
  too: screeners often leave them out.

Words of the listed name that the query leaves out lower the score a little (a reviewer still
wants "Dahua" to find "Zhejiang Dahua Technology"); query words that find nothing lower it fully.
Scores are deterministic; ties keep the list's order.

`token_sort_ratio` and `WRatio` were not used: the first compares whole strings after sorting (a
transliterated word shifts every later character; generic words weigh as much as names), the
second takes the best partial alignment, which flags any name containing a short listed name.
The default threshold, 85, and the weights here were set from these arguments, not fitted; the
measured precision and recall on labelled variants are in tests/test_screening.py.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import JaroWinkler

# Legal forms and connectives: they say nothing about who the party is.
CORPORATE_WORDS = frozenset("""
    co company companies corp corporation inc incorporated ltd limited llc llp lp plc sa sas sarl srl
    spa ag gmbh kg bv nv ab oy as asa pte pvt pty group holding holdings jsc ojsc cjsc pjsc oao zao ooo ao
    pao fze fzco fzc kk tbk bhd sdn the of and
""".split())
# Words that describe what kind of organisation it is; shared by many unrelated parties.
GENERIC_WORDS = frozenset("""
    technology technologies information digital science sciences scientific development network networks
    system systems electronic electronics industry industries industrial international trading engineering
    research institute solution solutions service services software communication communications equipment
    public security bureau municipal municipality prefecture city county province provincial autonomous
    region department ministry government peoples national office branch center centre
""".split())
ABBREVIATIONS: dict[str, tuple[str, ...]] = {
    "psb": ("public", "security", "bureau"),
    "mps": ("ministry", "public", "security"),
    "tech": ("technology",),
    "techs": ("technologies",),
    "intl": ("international",),
    "sci": ("science",),
    "univ": ("university",),
    "natl": ("national",),
    "govt": ("government",),
    "dept": ("department",),
    "mfg": ("manufacturing",),
    "eng": ("engineering",),
    "info": ("information",),
}
GENERIC_WEIGHT = 0.2
UNMATCHED_LISTED_PENALTY = 0.3  # the score's share lost when the query covers none of a listed name
_PATRONYMIC = re.compile(r"(ovich|evich|ovych|evych|ovna|evna|ichna|ivna)$")  # Russian, Ukrainian
_FOLD = str.maketrans({"ø": "o", "đ": "d", "ð": "d", "ł": "l", "ı": "i", "þ": "th", "æ": "ae", "œ": "oe"})
_APOSTROPHES = re.compile(r"['\u2018\u2019\u02bc`\u00b4]")
_NON_WORD = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """Casefold and reduce to ASCII letters: "Ürümqi" → "urumqi", "Łódź" → "lodz"."""
    text = unicodedata.normalize("NFKD", text.casefold().translate(_FOLD))
    return "".join(c for c in text if not unicodedata.combining(c)).translate(_FOLD)


def tokens(text: str) -> tuple[str, ...]:
    """The words compared: folded, punctuation removed ("People's" → "peoples", "Q-Cyber" → "q cyber"),
    runs of single letters joined ("N.S.O." → "nso"), abbreviations expanded, corporate words dropped
    (unless nothing else is left)."""
    words = _NON_WORD.sub(" ", _APOSTROPHES.sub("", fold(text))).split()
    joined: list[str] = []
    letters: list[bool] = []  # joined[i] is a run of single letters
    for word in words:
        single = len(word) == 1 and word.isalpha()
        if single and letters and letters[-1]:
            joined[-1] += word
        else:
            joined.append(word)
            letters.append(single)
    expanded = [part for word in joined for part in ABBREVIATIONS.get(word, (word,))]
    kept = [w for w in expanded if w not in CORPORATE_WORDS]
    return tuple(kept or expanded)


def normalise(text: str) -> str:
    return " ".join(tokens(text))


def weight(word: str) -> float:
    if word in GENERIC_WORDS or (len(word) > 6 and _PATRONYMIC.search(word)):
        return GENERIC_WEIGHT
    return 1.0


@dataclass(frozen=True)
class NameForm:
    """A name prepared once for comparison (the list's names are prepared at load time)."""

    text: str
    words: tuple[str, ...]
    weights: tuple[float, ...]
    joined: str

    @classmethod
    def of(cls, text: str) -> NameForm:
        words = tokens(text)
        return cls(text, words, tuple(weight(w) for w in words), "".join(words))

    @property
    def mass(self) -> float:
        return sum(len(w) * k for w, k in zip(self.words, self.weights, strict=True))


@lru_cache(maxsize=65536)
def word_similarity(a: str, b: str) -> float:
    """Jaro-Winkler with Watchman's penalties: different lengths, different first letters."""
    if a == b:
        return 1.0
    score = JaroWinkler.normalized_similarity(a, b, prefix_weight=0.1)
    shorter, longer = sorted((len(a), len(b)))
    if shorter / longer < 0.9:
        score *= 1 - (1 - shorter / longer) * 0.3
    if a[0] != b[0]:
        score *= 0.9
    return score


def _coverage_factor(covered: float, total: float) -> float:
    return 1 - (1 - (covered / total if total else 1.0)) * UNMATCHED_LISTED_PENALTY


def best_pairs(query: NameForm, listed: NameForm) -> float:
    """Each query word paired with its most similar listed word (each used once), averaged by
    length × weight over all query words and the listed words they matched, then lowered for the
    listed words left over."""
    if not query.words or not listed.words:
        return 0.0
    pairs = sorted(((word_similarity(q, c), i, j) for i, q in enumerate(query.words)
                    for j, c in enumerate(listed.words)), key=lambda p: (-p[0], p[1], p[2]))
    used_q: set[int] = set()
    used_c: set[int] = set()
    total = matched_listed = 0.0
    for score, i, j in pairs:
        if i in used_q or j in used_c:
            continue
        used_q.add(i)
        used_c.add(j)
        q_mass = len(query.words[i]) * query.weights[i]
        c_mass = len(listed.words[j]) * listed.weights[j]
        total += score * (q_mass + c_mass)
        matched_listed += c_mass
        if len(used_q) == len(query.words) or len(used_c) == len(listed.words):
            break
    average = total / (query.mass + matched_listed)
    return average * _coverage_factor(matched_listed, listed.mass)


def segmentations(form: NameForm) -> list[NameForm]:
    """The name as written, with each pair of neighbouring words run together, and all run together:
    "hik vision" ~ "hikvision", "kuang shi technology" ~ "kuangshi technology"."""
    out = [form]
    words, weights = form.words, form.weights
    for i in range(len(words) - 1):
        merged = (*words[:i], words[i] + words[i + 1], *words[i + 2:])
        out.append(NameForm(form.text, merged, (*weights[:i], max(weights[i], weights[i + 1]), *weights[i + 2:]),
                            form.joined))
    if len(words) > 2:
        out.append(NameForm(form.text, (form.joined,), (max(weights),), form.joined))
    return out


def similarity(query: NameForm, listed: NameForm) -> float:
    """The match score, 0-100 (one decimal): the best of the name as written and re-segmented on
    either side (one side at a time)."""
    if not query.words or not listed.words:
        return 0.0
    if query.joined == listed.joined:
        return 100.0
    score = max(max(best_pairs(q, listed) for q in segmentations(query)),
                max((best_pairs(query, c) for c in segmentations(listed)[1:]), default=0.0))
    return round(100 * score, 1)


@dataclass(frozen=True)
class NameMatch:
    """The best-scoring field of one entry."""

    entry: int
    field: str
    text: str
    score: float


def _pieces(form: NameForm) -> dict[str, float]:
    """Every word any segmentation of the name can hold, with its mass (length × weight)."""
    pieces: dict[str, float] = {}
    for variant in segmentations(form):
        for word, k in zip(variant.words, variant.weights, strict=True):
            pieces[word] = max(pieces.get(word, 0.0), len(word) * k)
    return pieces


class NameIndex:
    """Every name and alias of a list, prepared once, searchable many times.

    A query is scored in full only against names that could reach the threshold. The bound: a
    score is a weighted mean of word-pair similarities (weights: the words' masses), so it is at
    most the best mean reachable when every query word gets its best similarity against the name's
    words and as much extra mass as helps, up to the name's heaviest distinctive word for a
    distinctive pairing and its heaviest generic word for a generic one. That needs only each query
    word's best similarity per name, computed for all names at once with `rapidfuzz.process.cdist`
    over the distinct words; the result is the same as scoring every name (a test checks this).
    """

    def __init__(self, names: Sequence[tuple[int, str, str]]) -> None:
        """`names`: (entry number, field, text), an entry's name first, then its aliases in order."""
        self.names = [(entry, field, NameForm.of(text)) for entry, field, text in names]
        vocabulary: dict[str, int] = {"": 0}  # every name gets "" in both groups (similarity 0)
        groups: dict[bool, tuple[list[int], list[int], list[float]]] = {True: ([], [], []), False: ([], [], [])}
        for _, _, form in self.names:
            pieces = _pieces(form)
            for distinctive, (flat, offsets, heaviest) in groups.items():
                chosen = {p: m for p, m in pieces.items() if (m >= len(p)) == distinctive}
                offsets.append(len(flat))
                flat += [0] + [vocabulary.setdefault(p, len(vocabulary)) for p in sorted(chosen)]
                heaviest.append(max(chosen.values(), default=0.0))
        self._groups = [(np.array(flat, dtype=np.int64), np.array(offsets, dtype=np.int64),
                         np.array(heaviest, dtype=np.float32)) for flat, offsets, heaviest in groups.values()]
        self._vocabulary = list(vocabulary)
        self._lengths = np.array([max(len(v), 1) for v in self._vocabulary], dtype=np.float32)
        self._firsts = np.array([v[:1] for v in self._vocabulary])

    def _bounds(self, query: NameForm) -> np.ndarray:
        """For every name, an upper bound of `similarity(query, name) / 100`."""
        if not self.names:
            return np.zeros(0, dtype=np.float32)
        pieces = sorted(_pieces(query))
        raw = process.cdist(pieces, self._vocabulary, scorer=JaroWinkler.normalized_similarity,
                            scorer_kwargs={"prefix_weight": 0.1}, dtype=np.float32)
        lengths = np.array([len(p) for p in pieces], dtype=np.float32)[:, None]
        ratio = np.minimum(lengths, self._lengths) / np.maximum(lengths, self._lengths)
        raw *= np.where(ratio < 0.9, 1 - (1 - ratio) * 0.3, 1.0).astype(np.float32)
        raw *= np.where(np.array([p[:1] for p in pieces])[:, None] != self._firsts, 0.9, 1.0).astype(np.float32)
        raw[:, 0] = 0.0
        # per group: each query piece's best similarity per name, and the group's heaviest mass per name
        per_group = [(np.maximum.reduceat(raw[:, flat], offsets, axis=1), heaviest)
                     for flat, offsets, heaviest in self._groups]
        row = {piece: k for k, piece in enumerate(pieces)}
        bound = np.zeros(len(self.names), dtype=np.float32)
        for variant in segmentations(query):
            rows = [row[w] for w in variant.words]
            mass = np.array([len(w) * k for w, k in zip(variant.words, variant.weights, strict=True)],
                            dtype=np.float32)[:, None]
            best = np.maximum(per_group[0][0][rows], per_group[1][0][rows])  # (words, names)
            numerator = (best * mass).sum(axis=0)
            denominator = np.full(len(self.names), mass.sum(), dtype=np.float32)
            mean = numerator / denominator
            # extra mass: one option per query word and group; best values first
            values = np.concatenate([sims[rows] for sims, _ in per_group])
            extra = np.concatenate([np.broadcast_to(heaviest, (len(rows), len(heaviest))) for _, heaviest in per_group])
            order = np.argsort(-values, axis=0, kind="stable")
            for value, weight_ in zip(np.take_along_axis(values, order, 0), np.take_along_axis(extra, order, 0),
                                      strict=True):
                numerator = numerator + value * weight_
                denominator = denominator + weight_
                mean = np.maximum(mean, numerator / np.maximum(denominator, 1e-9))
            bound = np.maximum(bound, mean)
        return bound

    def search(self, query: str, threshold: float, entries: set[int] | None = None) -> list[NameMatch]:
        """Entries whose name or an alias scores at least `threshold`, best first (ties: list order)."""
        form = NameForm.of(query)
        if not form.words:
            return []
        bounds = self._bounds(form)
        best: dict[int, NameMatch] = {}
        # 0.5: slack for float32 and the score's rounding to one decimal
        for n in np.flatnonzero(bounds * 100 >= threshold - 0.5).tolist():
            entry, field, listed = self.names[n]
            if entries is not None and entry not in entries:
                continue
            score = similarity(form, listed)
            if score >= threshold and (entry not in best or score > best[entry].score):
                best[entry] = NameMatch(entry, field, listed.text, score)
        return sorted(best.values(), key=lambda m: (-m.score, m.entry))
