"""`regqa lists update`: download the official list and import it through the same checks.

The download is read into memory and validated before anything is written, so a network error,
an error page or a truncated file leaves the previous import in place.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from urllib.parse import urlparse

import httpx

from screening import importer
from screening.records import ImportSummary
from screening.store import ScreeningStore


class ListDownloadError(Exception):
    """The list could not be downloaded; nothing was changed."""


def _file_name(url: str, content_type: str) -> str:
    name = PurePosixPath(urlparse(url).path).name
    if PurePosixPath(name).suffix.lower() in (".csv", ".tsv", ".json"):
        return name
    kind = "json" if "json" in content_type else "tsv" if "tab-separated" in content_type else "csv"
    return f"{name or 'consolidated'}.{kind}"


def download(url: str, *, timeout: float = 60.0, max_bytes: int = importer.MAX_BYTES) -> tuple[bytes, str]:
    """The file's bytes and a file name that tells its format."""
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ListDownloadError(f"not an http(s) URL: {url!r}")
    try:
        with httpx.stream("GET", url, timeout=timeout, follow_redirects=True,
                          headers={"Accept": "text/csv, application/json;q=0.9, */*;q=0.1"}) as response:
            if response.status_code != 200:
                raise ListDownloadError(f"{url} answered HTTP {response.status_code}")
            chunks: list[bytes] = []
            size = 0
            for chunk in response.iter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise ListDownloadError(f"{url} sent more than {max_bytes:,} bytes; stopped")
                chunks.append(chunk)
            return b"".join(chunks), _file_name(str(response.url), response.headers.get("content-type", ""))
    except httpx.HTTPError as exc:
        raise ListDownloadError(f"could not download {url}: {type(exc).__name__}: {exc}") from None


def update(store: ScreeningStore, url: str | None = None, *, timeout: float = 60.0) -> ImportSummary:
    """Download the list (default: REGQA_SCREENING_LIST_URL) and import it; raises
    ListDownloadError or importer.ListFormatError, in both cases with the previous import kept."""
    url = url or store.settings.screening_list_url
    data, name = download(url, timeout=timeout)
    return store.import_bytes(data, name, source_url=url)
