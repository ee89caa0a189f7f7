"""Near misses: a claim that shares most of its words with a passage but says something else.

Changed numbers and dates, a negation added or dropped, a changed actor ("the exporter shall"
where the passage says "the competent authority shall"), a name or a clause the passage does
not have. Word overlap and embedding similarity both rate such a claim as supported; these
rules do not. Used by the assistant's verifier of LLM sentences and by the eval's support
check (which is otherwise independent: whole-passage bigrams and calibrated thresholds).
"""

from __future__ import annotations

import re

_WORD = re.compile(r"[a-z0-9]+")
# Legal references name where a claim comes from; their numbers are not the claim's numbers.
_REFERENCE = re.compile(
    r"(?:Articles?|Art\.|Recitals?|Annex(?:es)?|Supplement No\.|Part|Chapter|Section|section|Category)\s+[\dIVXL]+[\w().]*"
    r"|Regulation \((?:EU|EC)\)(?: No)? \d+/\d+|(?:Council |Delegated )?Regulation \d+/\d+|\b\d+/\d+\b"
    r"|§+\s*\d+\.\d+[\w()]*|\bECCN\s+\w+[\w.]*|\b\d+\s+(?:CFR|U\.S\.C\.)(?:\s+Part)?(?:\s+§+)?\s*\d+[\w.()]*"
    r"|\b\d[A-E]\d{3}(?:\.[a-z0-9]+)*|\b\d{1,2}\.[A-E]\.\d+(?:\.[a-z0-9]+)*|\bEU00\d|\[\d{1,3}\]")

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


def words(text: str) -> list[str]:
    return _WORD.findall(text.lower())


def _compact(reference: str) -> str:
    """`Art. 5 (2)` and `Article 5(2)` alike."""
    text = re.sub(r"[\s.]+", "", reference.lower())
    return "article" + text[3:] if text.startswith("art") and not text.startswith("article") else text


def _extends(longer: str, shorter: str) -> bool:
    """`article5(2)` extends `article5`; `article97` does not extend `article9`."""
    return longer == shorter or (longer.startswith(shorter) and longer[len(shorter)] in "(.")


def near_miss(sentence: str, passage: str, labels: tuple[str, ...] = ()) -> str | None:
    """Why a sentence that looks like its passage does not say what it says, or None.

    Changed numbers and dates, a negation added or dropped, a changed actor ("the exporter
    shall" where the passage says "the competent authority shall"), and words the passage
    does not have (an appended clause, a country it never names). A legal reference in the
    sentence must be one the passage names, or the cited unit's own label or instrument
    (`labels`): "Article 97(4)" where the source says "Article 9(4)" is a near miss too."""
    known = [_compact(r) for r in [*_REFERENCE.findall(passage), *labels] if r]
    for reference in _REFERENCE.findall(sentence):
        ref = _compact(reference)
        if ref.startswith("[") or any(_extends(k, ref) or _extends(ref, k) for k in known):
            continue
        return f"a reference the passage does not have: '{reference}'"
    sentence = _REFERENCE.sub(" ", sentence)
    s_words, p_words = words(sentence), words(passage)
    p_set = set(p_words)
    # The sentence's references are gone, so word pairs across them ("No EU005 in" → "no in")
    # are looked up in the passage with its references gone too, beside its own pairs.
    bare = words(_REFERENCE.sub(" ", passage))
    p_bigrams = set(zip(p_words, p_words[1:])) | set(zip(bare, bare[1:]))
    numbers = {w for w in s_words if w.isdigit() or w in _NUMBER_WORDS}
    if numbers - p_set:
        return f"number not in the passage: {sorted(numbers - p_set)}"
    # A number or an actor must stand beside the same words as in the passage: "Column 17"
    # is not "Column 1" because 17 occurs elsewhere; "the competent authority has been
    # informed" is not "the exporter has been informed" because both actors occur.
    actor_words = {w for a in _ACTORS for w in a.split()}
    for i, w in enumerate(s_words):
        if w in numbers or w in actor_words:
            for pair in ((s_words[i - 1], w) if i else None, (w, s_words[i + 1]) if i + 1 < len(s_words) else None):
                if pair and pair not in p_bigrams:
                    return f"'{' '.join(pair)}' is not in the passage"
    for a, b in zip(s_words, s_words[1:]):
        if a in _NEGATION and (a, b) not in p_bigrams:
            return f"negation not in the passage: '{a} {b}'"
    p_trigrams = set(zip(p_words, p_words[1:], p_words[2:])) | set(zip(bare, bare[1:], bare[2:]))
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
    return [w for w in dict.fromkeys(words(sentence)) if len(w) > 2 and w not in _STOP
            and w not in passage_words and w.rstrip("s") not in passage_words and w + "s" not in passage_words]
