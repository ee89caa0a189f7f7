"""Server mode: the same pipeline against a real `chroma run` process on a loopback port."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.dense import DenseIndex
from indexer.pipeline import Indexer
from indexer.store import IndexStore
from regqa.config import Settings

from .conftest import free_port, running

pytestmark = [pytest.mark.slow, pytest.mark.server]

CHROMA = Path(sys.executable).with_name("chroma")


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[str]:
    if not CHROMA.exists():
        pytest.fail(f"the chroma CLI is not installed next to {sys.executable}")
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [str(CHROMA), "run", "--path", str(tmp_path / "server-data"), "--host", "127.0.0.1", "--port", str(port)]
    with running(command, f"{url}/api/v2/heartbeat", tmp_path / "chroma.log",
                 {"ANONYMIZED_TELEMETRY": "False", "PATH": "/usr/bin:/bin"}, timeout=60):
        yield url


def test_index_into_a_chroma_server(tmp_path: Path, chroma_server: str, small_corpus: Path,
                                    counting_embedder) -> None:  # noqa: ANN001
    settings = Settings(data_dir=tmp_path / "data", corpus_dir=small_corpus, chroma_url=chroma_server)
    summary = Indexer(settings, embedder_factory=lambda: counting_embedder).run()
    manifest = IndexStore(settings.index_dir).read_manifest()
    indexed = IndexStore(settings.index_dir).read_chunks(manifest.generation)
    # Each distinct passage is embedded once (Annex III of 2021/821 repeats one form row verbatim).
    assert summary.committed and summary.chunks_embedded == len({c.embed_text for c in indexed}) > 0
    assert summary.chunks == len(indexed)
    server = DenseIndex(chroma_server, settings.index_dir / "unused")
    assert server.count(manifest.collection) == summary.chunks
    # Nothing was written to an embedded Chroma folder: the vectors live in the server.
    assert not (settings.index_dir / "chroma").exists()
    # Removing a document removes its vectors on the server.
    Indexer(settings, embedder_factory=lambda: counting_embedder).remove(["15-cfr-part-736"])
    chunks = IndexStore(settings.index_dir).read_chunks(IndexStore(settings.index_dir).read_manifest().generation)
    assert server.all_ids(manifest.collection) == {c.chunk_id for c in chunks}
    shutil.rmtree(settings.index_dir)
