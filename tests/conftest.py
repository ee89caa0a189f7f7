"""Shared fixtures: the real embedding model (loaded once) and real corpus files."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import numpy as np
import pytest

from regqa.config import Settings, apply_offline_environment

PROJECT = Path(__file__).resolve().parent.parent
CORPUS = PROJECT / "corpus"
SHARED = PROJECT.parent / "shared" / "corpus"

# Small real documents: enough structure (Articles, CFR sections, Wassenaar entries) to index fast.
SMALL_DOCS = [
    "eu-intl/eu-2021-821-dual-use-regulation.md",
    "eu-intl/echri-code-of-conduct-2023.md",
    "eu-intl/uk-export-control-order-2008.md",
    "us-ear/15-cfr-part-730.md",
    "us-ear/15-cfr-part-736.md",
]

apply_offline_environment()
# The tests of indexing exercise the embedding path, which is what every text but the bundled
# corpus's takes; the shipped vectors (indexer/bundled_vectors.py) are used by the whole-corpus
# index below, as on a user's first start, and tested in test_bundled_vectors.py.
os.environ["REGQA_BUNDLED_VECTORS"] = "false"


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return Settings()


class MemoEmbedder:
    """The real embedder, each distinct text embedded once per test session.

    Dozens of tests index the same few real documents into fresh stores; embedding them again
    each time was most of the suite's run time. The vectors are the model's own (computed by the
    wrapped embedder the first time a text is seen), so what the tests check is unchanged:
    wrappers such as CountingEmbedder still see every text the indexer asks for. Tests that start
    `regqa` in a subprocess embed for themselves."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self.inner = inner
        self.identity = inner.identity
        self.dimension = inner.dimension
        self._vectors: dict[str, np.ndarray] = {}

    def encode(self, texts, on_batch=None):  # noqa: ANN001, ANN201
        missing = list(dict.fromkeys(t for t in texts if t not in self._vectors))
        known = len(texts) - len(missing)
        if known and on_batch:
            on_batch(known)
        if missing:
            for text, vector in zip(missing, self.inner.encode(missing, on_batch=on_batch)):
                self._vectors[text] = vector
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.vstack([self._vectors[t] for t in texts])

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return self.encode(texts).tolist()

    def embed_query(self, text: str) -> list[float]:
        return self.encode([text])[0].tolist()

    def fresh(self) -> FreshEmbedder:
        """Embeds every text anew (as a clean machine would) and remembers the vectors."""
        return FreshEmbedder(self)

    def __getattr__(self, name: str):  # noqa: ANN204 - anything else the real embedder has
        return getattr(self.inner, name)


class FreshEmbedder:
    """For the shared corpus index: its vectors must not depend on which tests ran before it
    (the eval gate's baselines come from a fresh index), so nothing is looked up; the vectors
    are kept for the tests that index the same documents later."""

    def __init__(self, memo: MemoEmbedder) -> None:
        self.memo = memo
        self.identity = memo.identity

    def encode(self, texts, on_batch=None):  # noqa: ANN001, ANN201
        vectors = self.memo.inner.encode(texts, on_batch=on_batch)
        for text, vector in zip(texts, vectors):
            self.memo._vectors.setdefault(text, vector)
        return vectors

    def __getattr__(self, name: str):  # noqa: ANN204
        return getattr(self.memo.inner, name)


@pytest.fixture(scope="session")
def raw_embedder(base_settings: Settings):
    from indexer.embeddings import load_embedder

    return load_embedder(base_settings)


@pytest.fixture(scope="session")
def embedder(raw_embedder):  # noqa: ANN001, ANN201
    return MemoEmbedder(raw_embedder)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.delenv("REGQA_CHROMA_URL", raising=False)
    return Settings(data_dir=tmp_path / "data", corpus_dir=tmp_path / "corpus")


@pytest.fixture
def small_corpus(settings: Settings) -> Path:
    """A writable copy of a few real corpus documents, keeping their folder layout."""
    root = settings.default_corpus
    for rel in SMALL_DOCS:
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(CORPUS / rel, target)
    return root


class CountingEmbedder:
    """Wraps the real embedder and counts what it embeds (the vectors stay real)."""

    def __init__(self, inner) -> None:  # noqa: ANN001
        self.inner = inner
        self.identity = inner.identity
        self.texts: list[str] = []

    def encode(self, texts, on_batch=None):  # noqa: ANN001, ANN201
        self.texts.extend(texts)
        return self.inner.encode(texts, on_batch=on_batch)

    def embed_query(self, text: str):  # noqa: ANN201
        return self.inner.embed_query(text)


@pytest.fixture
def counting_embedder(embedder) -> CountingEmbedder:  # noqa: ANN001
    return CountingEmbedder(embedder)


# REGQA_TEST_INDEX_DIR lets several checkouts or developers on one machine keep their own.
CORPUS_INDEX = Path(os.environ.get("REGQA_TEST_INDEX_DIR") or PROJECT / ".pytest_cache" / "regqa-index")
_BUILD = pytest.StashKey[tuple[subprocess.Popen, Path]]()


def _needs_corpus_index(item: pytest.Item) -> bool:
    return "corpus_index" in getattr(item, "fixturenames", ())


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests on the whole-corpus index run last (a stable sort: file order otherwise), so that
    the others run while `regqa index` builds it in the background (below)."""
    items.sort(key=_needs_corpus_index)


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start building the whole-corpus index in a subprocess as soon as the tests are known.

    On a fresh clone the build reads, chunks and stores the corpus with the shipped vectors
    (about a minute; about nine CPU-minutes of embedding if the shipped file were stale); most
    tests do not need it and are mostly one process waiting on another, so the two overlap. The
    `corpus_index` fixture waits for the process to exit (a condition, not a time) and then
    runs the indexer in-process, which finds every document up to date."""
    if session.config.option.collectonly or not any(_needs_corpus_index(i) for i in session.items):
        return
    CORPUS_INDEX.mkdir(parents=True, exist_ok=True)
    log = CORPUS_INDEX.parent / "regqa-index-build.log"
    env = {**os.environ, "REGQA_DATA_DIR": str(CORPUS_INDEX), "REGQA_CORPUS_DIR": str(CORPUS),
           "REGQA_BUNDLED_VECTORS": "true"}
    for name in ("REGQA_CHROMA_URL", "REGQA_PAUSE_AT"):
        env.pop(name, None)
    with log.open("w") as out:
        process = subprocess.Popen([sys.executable, "-m", "regqa", "index", "--json"], stdout=out,
                                   stderr=subprocess.STDOUT, env=env)
    session.config.stash[_BUILD] = (process, log)


def pytest_sessionfinish(session: pytest.Session) -> None:
    """A session cut short (Ctrl-C, -x) does not leave the build running."""
    build = session.config.stash.get(_BUILD, None)
    if build is not None and build[0].poll() is None:
        build[0].terminate()
        build[0].wait()


@pytest.fixture(scope="session")
def corpus_index(request: pytest.FixtureRequest, embedder) -> Settings:  # noqa: ANN001
    """The whole bundled corpus, indexed once per machine into .pytest_cache/.

    Indexing is incremental and checks every document's hash, so a re-run only does work
    when the corpus or the chunker changed; a fresh clone (CI) builds it from scratch, in the
    background build started at collection when there is one.
    """
    from indexer.pipeline import Indexer

    build = request.config.stash.get(_BUILD, None)
    if build is not None:
        process, log = build
        if process.wait() != 0:
            pytest.fail(f"building the corpus index failed (exit {process.returncode}); its output "
                        f"({log}):\n{log.read_text()[-3000:]}")
    settings = Settings(data_dir=CORPUS_INDEX, corpus_dir=CORPUS, bundled_vectors=True)
    Indexer(settings, embedder_factory=embedder.fresh).run()
    return settings


@pytest.fixture(scope="session")
def assistant(corpus_index: Settings, embedder):  # noqa: ANN001, ANN201
    from assistant.service import Assistant

    return Assistant(corpus_index, embedder=embedder, chat_model=None)


@contextmanager
def running(command: list[str], ready_url: str, log_path: Path, env: dict[str, str] | None = None,
            timeout: float = 180) -> Iterator[subprocess.Popen]:
    """Start a real server process, wait until `ready_url` answers 200, stop it afterwards.

    Readiness is a condition polled until it holds; `timeout` only guards against a server that
    never comes up, and each way of failing says which it was, with the server's output."""
    name = " ".join(Path(part).name if i == 0 else part for i, part in enumerate(command[:2]))
    with log_path.open("w") as log:
        process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        try:
            deadline = time.monotonic() + timeout
            last = "no answer yet"
            while True:
                try:
                    status = httpx.get(ready_url, timeout=2).status_code
                    if status == 200:
                        break
                    last = f"HTTP {status}"
                except httpx.HTTPError as exc:
                    last = f"{type(exc).__name__}: {exc}"
                if process.poll() is not None:
                    pytest.fail(f"`{name}` exited with code {process.returncode} before {ready_url} answered "
                                f"200; its output ({log_path}):\n{log_path.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"`{name}` was still not ready after {timeout:.0f} s ({ready_url}: {last}); "
                                f"its output ({log_path}):\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)  # between polls of the readiness condition
            yield process
        finally:
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()  # never leave a server behind
                process.wait(timeout=30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]
