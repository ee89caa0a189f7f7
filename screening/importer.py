"""Read a Consolidated Screening List file (CSV, TSV or JSON) and store it, all or nothing.

Like the official importer, a file whose column set differs from the published one is refused:
a renamed or added column means the layout changed, and guessing would put aliases or addresses
in the wrong place, i.e. silently screen against less than the user thinks. Every other defect
(not UTF-8, empty, no rows, bad JSON, an entry without a name) is refused too, with the reason,
before anything is written; the new store replaces the old one by an atomic rename, so a failed
or interrupted import always leaves the previous import in place.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import tempfile
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from screening.records import Address, ImportSummary, ListEntry, ListInfo, SourceInfo

CSV_COLUMNS: tuple[str, ...] = (
    "_id", "source", "entity_number", "type", "programs", "name", "title", "addresses",
    "federal_register_notice", "start_date", "end_date", "standard_order", "license_requirement",
    "license_policy", "call_sign", "vessel_type", "gross_tonnage", "gross_registered_tonnage",
    "vessel_flag", "vessel_owner", "remarks", "source_list_url", "alt_names", "citizenships",
    "dates_of_birth", "nationalities", "places_of_birth", "source_information_url", "ids",
)
JSON_KEYS: frozenset[str] = frozenset(("id", *CSV_COLUMNS[1:]))
VESSEL = ("call_sign", "vessel_type", "gross_tonnage", "gross_registered_tonnage", "vessel_flag", "vessel_owner")
LISTS = ("programs", "alt_names", "citizenships", "dates_of_birth", "nationalities", "places_of_birth", "ids")
TEXT = ("source", "entity_number", "type", "name", "title", "federal_register_notice", "start_date", "end_date",
        "standard_order", "license_requirement", "license_policy", "remarks", "source_list_url",
        "source_information_url")
SEPARATOR = "; "  # how the CSV joins multi-valued cells
MAX_BYTES = 512 * 1024 * 1024
STORE_NAME = "list.json"
STORE_VERSION = 1
Format = Literal["csv", "tsv", "json"]


class ListFormatError(ValueError):
    """The file is not a screening list in the published layout; nothing was stored."""


@dataclass(frozen=True)
class ParsedList:
    format: Format
    entries: list[ListEntry]
    sources_used: list[SourceInfo]


# -- parsing ---------------------------------------------------------------------------------------

def parse_bytes(data: bytes, file_name: str) -> ParsedList:
    """Validate and normalise a list file's bytes; raises ListFormatError with a reason."""
    if len(data) > MAX_BYTES:
        raise ListFormatError(f"{file_name} is {len(data):,} bytes; the limit is {MAX_BYTES:,}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ListFormatError(
            f"{file_name} is not UTF-8 text (invalid byte at offset {exc.start}); the published files "
            "are UTF-8 — download the list again or re-save it as UTF-8") from None
    if not text.strip():
        raise ListFormatError(f"{file_name} is empty")
    suffix = Path(file_name).suffix.lower()
    if suffix == ".json" or (suffix not in (".csv", ".tsv") and text.lstrip()[:1] in "{["):
        return _parse_json(text, file_name)
    header_line = text.split("\n", 1)[0]
    delimiter = "\t" if suffix == ".tsv" or ("\t" in header_line and "," not in header_line) else ","
    return _parse_csv(text, file_name, delimiter)


def _check_columns(found: list[str], expected: tuple[str, ...], file_name: str, what: str) -> None:
    duplicated = sorted(name for name, n in Counter(found).items() if n > 1)
    missing = [c for c in expected if c not in found]
    unexpected = [c for c in found if c not in expected]
    if missing or unexpected or duplicated:
        problems = []
        if missing:
            problems.append(f"missing: {', '.join(missing)}")
        if unexpected:
            problems.append(f"unexpected: {', '.join(repr(c) for c in unexpected)}")
        if duplicated:
            problems.append(f"repeated: {', '.join(duplicated)}")
        raise ListFormatError(
            f"{file_name}: the {what} differ from the published Consolidated Screening List layout "
            f"({'; '.join(problems)}). The layout may have changed; the file was not imported.")


def _split(value: str) -> list[str]:
    return [part.strip() for part in value.split(SEPARATOR) if part.strip()]


def _csv_address(text: str) -> Address:
    """`street, city, state, postal, CC`: empty parts are left out, so only the country is certain."""
    parts = [p.strip() for p in text.split(",") if p.strip()]
    country = parts.pop() if parts and len(parts[-1]) == 2 and parts[-1].isalpha() else ""
    return Address(address=", ".join(parts), country=country.upper())


def _parse_csv(text: str, file_name: str, delimiter: str) -> ParsedList:
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter))
    except csv.Error as exc:
        raise ListFormatError(f"{file_name}: not readable as CSV ({exc})") from None
    header = [c.strip() for c in rows[0]]
    _check_columns(header, CSV_COLUMNS, file_name, "columns")
    entries: list[ListEntry] = []
    bad_width: list[str] = []
    nameless: list[int] = []
    for number, row in enumerate(rows[1:], start=2):
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(header):
            bad_width.append(f"line {number} has {len(row)}")
            continue
        cells = {column: cell.strip() for column, cell in zip(header, row, strict=True)}
        if not cells["name"]:
            nameless.append(number)
            continue
        entries.append(_csv_entry(cells))
    if bad_width:
        raise ListFormatError(f"{file_name}: rows with the wrong number of fields (the header has "
                              f"{len(header)}): {', '.join(bad_width[:5])}{' …' if len(bad_width) > 5 else ''}")
    _refuse_nameless(nameless, file_name, "line")
    if not entries:
        raise ListFormatError(f"{file_name}: the header is right but there are no entries")
    sources = Counter(e.source for e in entries)
    return ParsedList("tsv" if delimiter == "\t" else "csv", entries,
                      [SourceInfo(source=s, entries=n) for s, n in sorted(sources.items())])


def _csv_entry(cells: dict[str, str]) -> ListEntry:
    fields: dict[str, Any] = {key: cells[key] for key in TEXT}
    fields["id"] = cells["_id"]
    for key in LISTS:
        fields[key] = _split(cells[key])
    fields["addresses"] = [_csv_address(a) for a in _split(cells["addresses"])]
    fields["vessel"] = {key: cells[key] for key in VESSEL if cells[key]}
    return ListEntry(**fields)


def _refuse_nameless(where: list[int], file_name: str, unit: str) -> None:
    if where:
        shown = ", ".join(str(n) for n in where[:5]) + (" …" if len(where) > 5 else "")
        raise ListFormatError(f"{file_name}: {len(where)} entr{'y has' if len(where) == 1 else 'ies have'} "
                              f"no name ({unit} {shown}); the file was not imported")


def _text(value: Any, key: str, index: int) -> str:  # noqa: ANN401 - JSON
    if value is None:
        return ""
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        return str(value).strip()
    if isinstance(value, list) and all(isinstance(v, str) for v in value):
        return SEPARATOR.join(v.strip() for v in value if v.strip())
    raise ListFormatError(f"record {index}: `{key}` should be text, got {type(value).__name__}")


def _strings(value: Any, key: str, index: int) -> list[str]:  # noqa: ANN401 - JSON
    if value is None:
        return []
    if isinstance(value, str):
        return _split(value)
    if not isinstance(value, list):
        raise ListFormatError(f"record {index}: `{key}` should be a list, got {type(value).__name__}")
    out: list[str] = []
    for item in value:
        if isinstance(item, dict):  # ids: {type, number, country, issue_date, expiration_date}
            parts = [item.get(k) for k in ("country", "type", "number", "issue_date", "expiration_date")]
            text = ", ".join(str(p).strip() for p in parts if p not in (None, ""))
        elif isinstance(item, (str, int, float)):
            text = str(item).strip()
        else:
            raise ListFormatError(f"record {index}: `{key}` holds a {type(item).__name__}")
        if text:
            out.append(text)
    return out


def _json_addresses(value: Any, index: int) -> list[Address]:  # noqa: ANN401 - JSON
    if value is None:
        return []
    if isinstance(value, str):
        return [_csv_address(a) for a in _split(value)]
    if not isinstance(value, list):
        raise ListFormatError(f"record {index}: `addresses` should be a list, got {type(value).__name__}")
    out = []
    for item in value:
        if isinstance(item, str):
            out.append(_csv_address(item))
        elif isinstance(item, dict):
            fields = {k: _text(item.get(k), f"addresses.{k}", index)
                      for k in ("address", "city", "state", "postal_code", "country")}
            fields["country"] = fields["country"].upper()
            out.append(Address(**fields))
        else:
            raise ListFormatError(f"record {index}: an address is a {type(item).__name__}")
    return out


def _parse_json(text: str, file_name: str) -> ParsedList:
    try:
        body = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ListFormatError(f"{file_name}: not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None
    if not isinstance(body, dict) or not isinstance(body.get("results"), list):
        raise ListFormatError(f"{file_name}: expected the published JSON layout, an object with a "
                              "`results` list (and `sources_used`)")
    records = body["results"]
    if not records:
        raise ListFormatError(f"{file_name}: `results` is empty; there are no entries")
    if not all(isinstance(r, dict) for r in records):
        raise ListFormatError(f"{file_name}: every item of `results` must be an object")
    unexpected = sorted(set().union(*(r.keys() for r in records)) - JSON_KEYS)
    if unexpected:  # records may leave out empty keys, so only new keys show a changed layout
        raise ListFormatError(
            f"{file_name}: the records have keys the published layout does not (unexpected: "
            f"{', '.join(repr(k) for k in unexpected)}). The layout may have changed; the file was not imported.")
    entries: list[ListEntry] = []
    nameless: list[int] = []
    for index, record in enumerate(records):
        try:
            fields: dict[str, Any] = {key: _text(record.get(key), key, index) for key in TEXT}
            if not fields["name"]:
                nameless.append(index)
                continue
            fields["id"] = _text(record.get("id"), "id", index)
            for key in LISTS:
                fields[key] = _strings(record.get(key), key, index)
            fields["addresses"] = _json_addresses(record.get("addresses"), index)
            fields["vessel"] = {k: v for k in VESSEL if (v := _text(record.get(k), k, index))}
        except ListFormatError as exc:
            raise ListFormatError(f"{file_name}: {exc}") from None
        entries.append(ListEntry(**fields))
    _refuse_nameless(nameless, file_name, "results index")
    return ParsedList("json", entries, _sources(body.get("sources_used"), entries, file_name))


def _sources(value: Any, entries: list[ListEntry], file_name: str) -> list[SourceInfo]:  # noqa: ANN401
    counts = Counter(e.source for e in entries)
    if value is None:
        value = []
    if not isinstance(value, list) or not all(isinstance(v, dict) and v.get("source") for v in value):
        raise ListFormatError(f"{file_name}: `sources_used` should be a list of objects with a `source`")
    sources = []
    for item in value:
        name = str(item["source"])
        sources.append(SourceInfo(
            source=name, entries=counts.get(name, 0),
            **{k: str(item[k]) for k in ("source_last_updated", "last_imported", "import_rate") if item.get(k)}))
    named = {s.source for s in sources}
    sources += [SourceInfo(source=s, entries=n) for s, n in sorted(counts.items()) if s not in named]
    return sources


# -- storing ---------------------------------------------------------------------------------------

def store_path(directory: Path) -> Path:
    return directory / STORE_NAME


def write_atomically(path: Path, data: bytes) -> None:
    """A temp file in the same folder, fsynced, then renamed over `path`: readers see old or new."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as stream:
            stream.write(data)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temp, path)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise
    try:
        directory = os.open(path.parent, os.O_RDONLY)
    except OSError:  # pragma: no cover - platforms without directory fds
        return
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def import_bytes(data: bytes, file_name: str, directory: Path, *, source_url: str | None = None,
                 previous_sha256: str | None = None) -> ImportSummary:
    """Parse `data` and, only if it is a valid list, replace the store in `directory`."""
    parsed = parse_bytes(data, file_name)
    info = ListInfo(
        file_name=Path(file_name).name or file_name, sha256=hashlib.sha256(data).hexdigest(), format=parsed.format,
        imported_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
        entries=len(parsed.entries), sources_used=parsed.sources_used, source_url=source_url)
    document = {"format_version": STORE_VERSION, "list": info.model_dump(mode="json"),
                "entries": [e.model_dump(mode="json", exclude_defaults=True) for e in parsed.entries]}
    target = store_path(directory)
    write_atomically(target, json.dumps(document, ensure_ascii=False, separators=(",", ":")).encode("utf-8"))
    return ImportSummary(list_info=info, stored_at=str(target), replaced_sha256=previous_sha256)
