"""The end-user step's screening: a ScreeningStore result as the determination reports it.

Every hit carries what a compliance reviewer must see (matched field and score against the
threshold, the list and its date, licence requirement and policy, Federal Register citation);
a missing or unreadable list is reported as such, never as "no match"."""

from __future__ import annotations

from determination.records import ScreeningSummary
from screening import ScreeningInputError, ScreeningResult, ScreeningStore


def screen_with(store: ScreeningStore):  # noqa: ANN201 - the Determiner's Screen hook
    def screen(name: str, country: str | None) -> ScreeningSummary:
        try:
            result = store.screen(name, country)
        except ScreeningInputError as exc:
            return ScreeningSummary(status="refused", detail=f"The end-user name was not screened: {exc}.")
        return summary(result)

    return screen


def summary(result: ScreeningResult) -> ScreeningSummary:
    if result.status != "screened":
        status = "no-list" if result.status == "no-list" else "unreadable"
        return ScreeningSummary(status=status, detail=result.message)
    listed = result.list_info.file_name if result.list_info else "the imported list"
    if not result.hits:
        return ScreeningSummary(status="screened", detail=(
            f"No entry of {listed} scored {result.threshold:g} or more for {result.query!r}. {result.reminder}"))
    lines = []
    for hit in result.hits[:3]:
        entry = hit.entry
        dated = f" (list dated {hit.source_last_updated})" if hit.source_last_updated else ""
        parts = [f"{entry.name} — {entry.source}{dated}; matched {hit.matched_field} “{hit.matched_text}” with "
                 f"score {hit.score:.0f} (threshold {hit.threshold:g})"]
        if entry.addresses:
            parts.append("address: " + "; ".join(a.text for a in entry.addresses[:2]))
        for label, value in (("licence requirement", entry.license_requirement),
                             ("licence review policy", entry.license_policy),
                             ("Federal Register", entry.federal_register_notice)):
            if value:
                parts.append(f"{label}: {value}")
        lines.append(", ".join(parts))
    return ScreeningSummary(status="screened", detail=(
        f"Possible match on {listed}: " + " | ".join(lines) + f". {result.reminder}"),
        hits=[h.model_dump(mode="json") for h in result.hits[:3]])
