"""A determination as Markdown with [n] markers: the same text in the CLI, the chat and the API."""

from __future__ import annotations

from assistant.records import Citation
from determination.records import Determination, Step

_MARK = {"licence required": "⛔", "licence may be required": "⚠️", "no licence required on the bundled texts": "✅",
         "cannot determine — source not bundled": "❔", "cannot determine — fact missing": "❔",
         "not applicable": "·"}


QUOTE_WORDS = 45
# A step that finds no licence requirement (or cannot decide) quotes only the opening words of
# its provisions: the sentence still carries the law's words it rests on, in fewer of them.
CONTEXT_QUOTE_WORDS = 12
_LABELS = {"eu.classification": "Annex I listing", "eu.destination": "destination (EU001, Article 11)",
           "eu.cyber-surveillance": "Article 5 catch-all", "eu.catch-all": "Article 4 catch-all",
           "eu.national": "Article 9 national measures", "us.classification": "classification",
           "us.embargo": "Part 746", "us.crime-control": "§ 742.7", "us.country-chart": "Country Chart",
           "us.all-destinations": "§ 738.3(a)(1), all destinations", "us.exceptions": "§ 740.2, licence exceptions",
           "us.end-user": "end-user screening", "us.military-end-use": "§ 744.21", "us.military-cameras": "§ 744.9",
           "uk.military": "Article 3, UK Military List", "uk.dual-use": "Article 4, UK dual-use list",
           "uk.wmd": "Article 6 WMD control"}


def _label(step: Step) -> str:
    return _LABELS.get(step.key) or step.key.partition(":")[2] or step.key


def in_short(det: Determination) -> str:
    """The answer first: each jurisdiction's outcome and the steps that decide it."""
    parts = []
    for jurisdiction in det.jurisdictions:
        deciding = [_label(s) + "".join(f" [{n}]" for n in s.citations[:2])
                    for s in jurisdiction.steps if s.outcome == jurisdiction.summary]
        parts.append(f"{jurisdiction.name}: {jurisdiction.summary} ({'; '.join(deciding)})")
    return "**In short:** " + " · ".join(parts) + "."


def quoted(citation: Citation, limit: int = QUOTE_WORDS) -> str:
    """The law's own words for a step, cut at a word boundary and marked when long."""
    words = citation.quote.split()
    shown = " ".join(words[:limit]) + ("…" if len(words) > limit else "")
    return f"“{shown}” [{citation.n}]"


def step_line(step: Step, citations: dict[int, Citation]) -> str:
    """A step that finds a licence is or may be required quotes the law's words at length; any
    other step (a catch-all that does not apply, a source that is not bundled, a fact not given)
    quotes only their opening words, the full quotes staying in the source list, so that the
    words go to what may require a licence."""
    outcome = step.outcome + (f" — depends on {step.depends_on}" if step.outcome == "licence may be required"
                              and step.depends_on else "")
    limit = QUOTE_WORDS if step.outcome in ("licence required", "licence may be required") else CONTEXT_QUOTE_WORDS
    quotes = " ".join(quoted(citations[n], limit) for n in step.citations if n in citations)
    return f"- {_MARK[step.outcome]} **{step.question}** {outcome}. {step.finding} {quotes}".rstrip()


def as_markdown(det: Determination, clarify: str | None = None) -> str:
    facts = det.facts
    by_n = {c.n: c for c in det.citations}
    given = [f"item: {facts.item}"]
    if facts.codes:
        given.append(f"classified as {', '.join(facts.codes)}")
    if facts.origin:
        given.append(f"from {facts.origin}")
    if facts.country:
        given.append(f"to {facts.country.name}")
    if facts.end_user or facts.end_user_type:
        who = " ".join(x for x in (facts.end_user, f"({facts.end_user_type.value})" if facts.end_user_type else None) if x)
        given.append(f"end user: {who}")
    if facts.end_use:
        given.append(f"end use: {facts.end_use}")
    lines = [f"**Licence check — {'; '.join(given)}**", "", in_short(det), ""]
    for jurisdiction in det.jurisdictions:
        lines.append(f"**{jurisdiction.name} — {jurisdiction.instrument}: {jurisdiction.summary}**")
        lines += [step_line(step, by_n) for step in jurisdiction.steps]
        lines.append("")
    lines.append("**What the bundled texts cannot decide:** " + " ".join(det.not_covered))
    if clarify:
        lines += ["", clarify]
    return "\n".join(lines).strip()
