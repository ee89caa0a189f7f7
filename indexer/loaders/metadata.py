"""Document metadata from YAML front matter, a `NAME.meta.yaml` sidecar, or the file itself."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from indexer.loaders.errors import LoadError
from indexer.records import DocumentMeta


class _MetadataLoader(yaml.SafeLoader):
    """Safe YAML without aliases: a few lines of nested `*name` references expand to gigabytes
    ("billion laughs"; a front matter like that took minutes and 5 GB before it was refused)."""

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(
                None, None, "aliases (*name) are not allowed in document metadata", self.peek_event().start_mark)
        return super().compose_node(parent, index)


def load_yaml(text: str) -> Any:
    """Parse provenance YAML (front matter, sidecars, upload metadata) safely and boundedly;
    every failure is a yaml.YAMLError, including nesting too deep for the parser."""
    try:
        return yaml.load(text, Loader=_MetadataLoader)  # a SafeLoader subclass
    except RecursionError:
        raise yaml.YAMLError("the YAML is nested too deeply") from None


_FRONT_MATTER = re.compile(r"\A---[ \t]*\r?\n(.*?)\r?\n---[ \t]*(?:\r?\n|\Z)", re.S)


def split_front_matter(text: str) -> tuple[dict[str, Any], int]:
    """The front matter mapping and the offset where the body starts (0 when there is none)."""
    match = _FRONT_MATTER.match(text)
    if not match:
        if text.startswith("---\n") or text.startswith("---\r\n"):
            raise LoadError("front matter starts with '---' but has no closing '---' line")
        return {}, 0
    try:
        data = load_yaml(match.group(1))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 2})" if mark is not None else ""
        raise LoadError(f"front matter is not valid YAML{where}: {getattr(exc, 'problem', exc)}") from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise LoadError("front matter must be a YAML mapping of keys to values")
    return data, match.end()


def sidecar_path(path: Path) -> Path | None:
    for candidate in (path.with_name(f"{path.name}.meta.yaml"), path.with_suffix(".meta.yaml")):
        if candidate.is_file():
            return candidate
    return None


def read_sidecar(path: Path) -> dict[str, Any]:
    sidecar = sidecar_path(path)
    if sidecar is None:
        return {}
    try:
        data = load_yaml(sidecar.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LoadError(f"sidecar {sidecar.name} is not valid UTF-8 YAML: {exc}") from None
    if not isinstance(data, dict):
        raise LoadError(f"sidecar {sidecar.name} must be a YAML mapping")
    return data


def slug(name: str) -> str:
    value = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._")
    return (value or "document")[:128]


def build_meta(path: Path, found: dict[str, Any], fallback_title: str | None) -> DocumentMeta:
    """Merge file-derived defaults < front matter/PDF info < sidecar, and validate."""
    data: dict[str, Any] = {"id": slug(path.stem)}
    data.update({k: v for k, v in found.items() if v not in (None, "")})
    data.update(read_sidecar(path))
    title = data.get("title") or fallback_title or path.stem.replace("-", " ").replace("_", " ")
    data["title"] = title
    data.setdefault("cite_as", title)
    if "id" in data:
        data["id"] = str(data["id"])
    try:
        return DocumentMeta.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise LoadError(f"invalid document metadata: {problems}") from None
