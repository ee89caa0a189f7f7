"""Restricted-party screening against a list the user supplies (the US Consolidated Screening List
in its published CSV or JSON layout): import, fuzzy name matching, and results that say which name
or alias matched, how well, and from which list and date."""

from screening.records import ImportSummary, ListEntry, ListInfo, ScreeningHit, ScreeningResult
from screening.store import ScreeningInputError, ScreeningStore, StoreStatus

__all__ = ["ImportSummary", "ListEntry", "ListInfo", "ScreeningHit", "ScreeningInputError", "ScreeningResult",
           "ScreeningStore", "StoreStatus"]
