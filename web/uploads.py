"""Where uploaded documents go, under safe names, with their provenance sidecar; shared by the
API route and the chat's Admin tab so both follow one set of rules."""

from __future__ import annotations

import hashlib
import re
import shutil
from pathlib import Path
from typing import BinaryIO

import yaml

from indexer.loaders import SUFFIXES
from indexer.loaders.metadata import load_yaml
from indexer.pipeline import Indexer, IndexSummary, ProgressCallback

_SAFE = re.compile(r"[^A-Za-z0-9._-]+")
_MAX_STEM = 100  # a client's 300-character name made mkdir fail (ENAMETOOLONG): a 500
META_KEYS = {"id", "title", "cite_as", "doc_type", "jurisdiction", "authority", "source_url", "obtained_from",
             "as_of", "as_of_note", "license", "completeness", "completeness_note"}


class UploadRejected(ValueError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def parse_metadata(text: str | None) -> dict:
    if not text or not text.strip():
        return {}
    try:
        data = load_yaml(text)  # no aliases: a "billion laughs" would expand to gigabytes
    except yaml.YAMLError as exc:
        raise UploadRejected(422, f"metadata is not valid YAML or JSON: {exc}") from None
    if not isinstance(data, dict):
        raise UploadRejected(422, "metadata must be a mapping of keys to values")
    unknown = sorted(set(map(str, data)) - META_KEYS)
    if unknown:
        raise UploadRejected(422, f"unknown metadata keys: {', '.join(unknown)}")
    return data


def store(uploads: Path, filename: str | None, data: BinaryIO, metadata: str | None) -> Path:
    """Write the upload (and its sidecar) into a folder of its own; return that folder.

    Only the last path component of the client's file name is used, reduced to safe characters,
    so `../../etc/x.md` or `C:\\x.md` cannot land outside the uploads folder."""
    folder, stem, suffix = _target(uploads, filename)
    if suffix not in SUFFIXES:
        raise UploadRejected(415, f"unsupported file type {suffix or '(none)'!r}; upload one of "
                                  f"{', '.join(sorted(SUFFIXES))}")
    extra = parse_metadata(metadata)
    folder.mkdir(parents=True, exist_ok=True)
    staging = folder / f".{stem}{suffix}.part"
    with staging.open("wb") as handle:
        shutil.copyfileobj(data, handle, 1 << 20)
    if extra:
        (folder / f"{stem}.meta.yaml").write_text(yaml.safe_dump(extra, allow_unicode=True), encoding="utf-8")
    staging.replace(folder / f"{stem}{suffix}")
    return folder


def stage_and_index(indexer: Indexer, filename: str | None, data: BinaryIO, metadata: str | None,
                    progress: ProgressCallback | None = None) -> tuple[Path, IndexSummary]:
    """Store the upload and index it, both under the index's writer lock: while another run
    writes, the upload is refused before a byte is stored, so it can neither leave a stray file
    nor replace the file of a document the index still describes.

    A refused upload leaves nothing behind, and a refused re-upload under the name of an
    indexed one puts that one's files back (they were overwritten, then deleted, before)."""
    uploads = indexer.store.root / "uploads"
    with indexer.store.writing():
        folder = _target(uploads, filename)[0]
        previous = _set_aside(folder)
        try:
            folder = store(uploads, filename, data, metadata)
            summary = indexer.run([folder], progress=progress)
        except BaseException:
            _put_back(folder, previous)
            raise
        if summary.skipped:
            _put_back(folder, previous)
        elif previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
        return folder, summary


def _target(uploads: Path, filename: str | None) -> tuple[Path, str, str]:
    """The folder, safe stem and suffix that an upload named `filename` is stored under."""
    name = Path((filename or "").replace("\\", "/")).name
    stem = _SAFE.sub("-", Path(name).stem)[:_MAX_STEM].strip("-.") or "upload"
    if not Path(name).stem.isascii():
        # "出口管制.md" and "监控.md" both reduced to "upload" and the second replaced the first;
        # a digest of the name keeps names in other scripts apart.
        stem = f"{stem}-{hashlib.sha256(Path(name).stem.encode('utf-8', 'surrogateescape')).hexdigest()[:10]}"
    return uploads / stem, stem, Path(name).suffix.lower()


def _set_aside(folder: Path) -> Path | None:
    """Move an earlier upload's files into a dot-folder, which the indexer does not read."""
    files = [p for p in folder.iterdir() if not p.name.startswith(".")] if folder.is_dir() else []
    if not files:
        return None
    previous = folder / ".previous"
    shutil.rmtree(previous, ignore_errors=True)
    previous.mkdir()
    for path in files:
        path.replace(previous / path.name)
    return previous


def _put_back(folder: Path, previous: Path | None) -> None:
    """Remove a refused upload's files; bring back the earlier upload's, if there was one."""
    if previous is None:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for path in folder.iterdir():
        if path != previous:
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    for path in previous.iterdir():
        path.replace(folder / path.name)
    previous.rmdir()
