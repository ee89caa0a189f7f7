"""The imported list beside the index, and screening against it.

`ScreeningStore(settings).screen(name)` is the one call the CLI, the API and the determination
engine make. It never answers "no match" unless a list was read: a missing list is status
"no-list" and a list that cannot be read is "unreadable", both with no hits and a message that
says what to do.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from pydantic import ValidationError

from regqa.config import Settings
from screening import importer
from screening.matching import NameIndex, tokens
from screening.records import ImportSummary, ListEntry, ListInfo, ScreeningHit, ScreeningResult

MAX_NAME_CHARS = 300
_COUNTRY = re.compile(r"^[A-Za-z]{2}$")


class ScreeningInputError(ValueError):
    """The name, country or threshold given to `screen` is not usable."""


class StoreUnreadable(Exception):
    """The stored list exists but cannot be read (damaged, edited, or from another version)."""


@dataclass(frozen=True)
class LoadedList:
    info: ListInfo
    entries: list[ListEntry]
    index: NameIndex


@dataclass(frozen=True)
class StoreStatus:
    status: str  # "loaded" | "no-list" | "unreadable"
    path: Path
    info: ListInfo | None = None
    problem: str | None = None


class ScreeningStore:
    """The list stored under `<index dir>/screening/`, read once and kept while the file is unchanged."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.directory = settings.index_dir / "screening"
        self.path = importer.store_path(self.directory)
        self._lock = threading.Lock()
        self._cached: tuple[tuple[int, int, int], LoadedList] | None = None

    # -- importing -------------------------------------------------------------------------------

    def import_file(self, path: Path) -> ImportSummary:
        """Validate `path` and make it the list screened against; raises ListFormatError (nothing
        stored, the previous import kept) or OSError (the file cannot be read)."""
        return self.import_bytes(Path(path).read_bytes(), Path(path).name)

    def import_bytes(self, data: bytes, file_name: str, *, source_url: str | None = None) -> ImportSummary:
        summary = importer.import_bytes(data, file_name, self.directory, source_url=source_url,
                                        previous_sha256=self._previous_sha256())
        with self._lock:
            self._cached = None
        return summary

    def _previous_sha256(self) -> str | None:
        try:
            return str(json.loads(self.path.read_bytes())["list"]["sha256"])
        except Exception:  # noqa: BLE001 - no previous import, or one that cannot be read: nothing to name
            return None

    # -- reading ---------------------------------------------------------------------------------

    def _load(self) -> LoadedList:
        """The stored list; FileNotFoundError when none, StoreUnreadable when it cannot be used."""
        try:
            stat = self.path.stat()
        except FileNotFoundError:
            raise
        except OSError as exc:  # e.g. no permission on the folder: there may be a list, unread
            raise StoreUnreadable(f"{self.path} cannot be read ({exc.strerror or exc})") from None
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        with self._lock:
            if self._cached and self._cached[0] == stamp:
                return self._cached[1]
            try:
                document = json.loads(self.path.read_bytes().decode("utf-8"))
                if not isinstance(document, dict) or document.get("format_version") != importer.STORE_VERSION:
                    raise StoreUnreadable(f"{self.path} is not a RegQA screening store (format_version "
                                          f"{document.get('format_version') if isinstance(document, dict) else '?'})")
                info = ListInfo.model_validate(document["list"])
                entries = [ListEntry.model_validate(e) for e in document["entries"]]
            except FileNotFoundError:
                raise
            except StoreUnreadable:
                raise
            except (OSError, UnicodeDecodeError, json.JSONDecodeError, KeyError, TypeError, ValidationError) as exc:
                raise StoreUnreadable(f"{self.path} cannot be read ({type(exc).__name__}: {str(exc)[:200]})") from None
            if info.entries != len(entries):
                raise StoreUnreadable(f"{self.path} holds {len(entries)} entries but its metadata says "
                                      f"{info.entries}; it is incomplete")
            names = [(i, field, text) for i, entry in enumerate(entries)
                     for field, text in [("name", entry.name),
                                         *((f"alt_names[{k}]", a) for k, a in enumerate(entry.alt_names))]]
            loaded = LoadedList(info, entries, NameIndex(names))
            self._cached = (stamp, loaded)
            return loaded

    def status(self) -> StoreStatus:
        """Whether a list is imported and readable, and where it came from."""
        try:
            return StoreStatus("loaded", self.path, self._load().info)
        except FileNotFoundError:
            return StoreStatus("no-list", self.path)
        except StoreUnreadable as exc:
            return StoreStatus("unreadable", self.path, problem=str(exc))

    # -- screening -------------------------------------------------------------------------------

    def check_input(self, name: str, country: str | None, threshold: float | None) -> tuple[str, str | None, float]:
        """The cleaned inputs, or ScreeningInputError saying what is wrong."""
        if not isinstance(name, str) or not name.strip():
            raise ScreeningInputError("the name to screen is empty")
        name = " ".join(name.split())
        if len(name) > MAX_NAME_CHARS:
            raise ScreeningInputError(f"the name is {len(name)} characters long; the limit is {MAX_NAME_CHARS}")
        if not tokens(name):
            if any(c.isalnum() for c in name):  # letters, but none that fold to Latin
                raise ScreeningInputError(
                    f"the name {name!r} is not in Latin script; the list's names are, and screening compares "
                    "Latin letters only: give the romanised name (e.g. pinyin, or the name as on the invoice)")
            raise ScreeningInputError(f"the name {name!r} has no letters or digits to compare")
        if country is not None:
            country = country.strip()
            if not _COUNTRY.match(country):
                raise ScreeningInputError(f"country must be a two-letter ISO 3166 code such as CN, got {country!r}")
            country = country.upper()
        if threshold is None:
            threshold = self.settings.screening_threshold
        if not 0 <= threshold <= 100:
            raise ScreeningInputError(f"threshold must be between 0 and 100, got {threshold}")
        return name, country, float(threshold)

    def screen(self, name: str, country: str | None = None, threshold: float | None = None) -> ScreeningResult:
        """Screen one party name against the imported list.

        `country` (ISO-2) keeps entries with an address in that country, and entries with no
        address country on file (the filter cannot rule those out). `threshold` (0-100) defaults to
        REGQA_SCREENING_THRESHOLD. Raises ScreeningInputError for unusable input; never raises for
        a missing or unreadable list (see `status` of the result).
        """
        name, country, threshold = self.check_input(name, country, threshold)
        base = {"query": name, "country": country, "threshold": threshold}
        try:
            loaded = self._load()
        except FileNotFoundError:
            return ScreeningResult(**base, status="no-list", message=(
                "Not screened: no screening list is imported. Import the Consolidated Screening List "
                "(`regqa lists import FILE` or `regqa lists update`) and screen again."))
        except StoreUnreadable as exc:
            return ScreeningResult(**base, status="unreadable", message=(
                f"Not screened: the imported screening list cannot be read ({exc}). Import it again "
                "with `regqa lists import FILE`."))
        allowed = None
        if country:
            allowed = {i for i, e in enumerate(loaded.entries) if not e.countries or country in e.countries}
        dates = {s.source: s.source_last_updated for s in loaded.info.sources_used}
        hits = [ScreeningHit(entry=loaded.entries[m.entry], matched_field=m.field, matched_text=m.text,
                             score=m.score, threshold=threshold,
                             source_last_updated=dates.get(loaded.entries[m.entry].source))
                for m in loaded.index.search(name, threshold, allowed)]
        scope = f" with an address in {country} (or none on file)" if country else ""
        message = (f"{len(hits)} possible match{'es' if len(hits) != 1 else ''} at or above {threshold:g} "
                   f"among {loaded.info.entries:,} entries{scope}." if hits else
                   f"No name or alias scored {threshold:g} or more among {loaded.info.entries:,} entries{scope}.")
        return ScreeningResult(**base, status="screened", message=message, hits=hits, list_info=loaded.info)
