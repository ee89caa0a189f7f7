"""Server mode: the same pipeline against a real `chroma run` process on a loopback port."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.dense import ChromaUnavailable, DenseIndex
from indexer.pipeline import Indexer
from indexer.store import IndexStore
from regqa.config import Settings

from .conftest import SMALL_DOCS, free_port, running

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


def test_deployments_in_their_own_chroma_databases_do_not_see_each_other(
        tmp_path: Path, chroma_server: str, small_corpus: Path, counting_embedder) -> None:  # noqa: ANN001
    """REGQA_CHROMA_TENANT / REGQA_CHROMA_DATABASE: two indexes on one server, same collection
    names, each in its own database; each reader finds its own vectors only. A database that
    does not exist is a clear error naming it, not a silent fallback to the default one."""
    import chromadb

    from indexer.reader import IndexReader
    from regqa.config import ChromaServer

    host, port = chroma_server.removeprefix("http://").split(":")
    admin = chromadb.AdminClient(chromadb.config.Settings(
        chroma_api_impl="chromadb.api.fastapi.FastAPI", chroma_server_host=host, chroma_server_http_port=int(port)))
    admin.create_tenant("agency")
    for database in ("staging", "production"):
        admin.create_database(database, tenant="agency")
    made = {}
    for database, keep in (("staging", SMALL_DOCS[:1]), ("production", SMALL_DOCS)):
        corpus = tmp_path / f"corpus-{database}"
        for rel in keep:
            (corpus / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(small_corpus / rel, corpus / rel)
        settings = Settings(data_dir=tmp_path / database, corpus_dir=corpus, chroma_url=chroma_server,
                            chroma_tenant="agency", chroma_database=database, chroma_token="not-checked-by-chroma")
        summary = Indexer(settings, embedder_factory=lambda: counting_embedder).run()
        made[database] = (settings, summary)
    (staging, one), (production, every) = made["staging"], made["production"]
    assert one.chunks < every.chunks
    manifest = IndexStore(production.index_dir).read_manifest()
    assert manifest.collection == IndexStore(staging.index_dir).read_manifest().collection  # same names
    for settings, summary in (made["staging"], made["production"]):
        dense = DenseIndex(settings.chroma_server, settings.index_dir / "unused")
        assert dense.count(manifest.collection) == summary.chunks
        assert dense.client._server.get_request_headers()["x-chroma-token"] == "not-checked-by-chroma"
        snapshot = IndexReader(settings).snapshot()
        assert snapshot.dense_coverage == 1.0 and len(snapshot.chunks) == summary.chunks
    assert manifest.collection not in DenseIndex(chroma_server, tmp_path / "unused").collection_names()

    with pytest.raises(ChromaUnavailable, match="no-such-database"):
        DenseIndex(ChromaServer(chroma_server, "agency", "no-such-database"), tmp_path / "unused")
    env = {**os.environ, "REGQA_DATA_DIR": str(tmp_path / "cli"), "REGQA_CHROMA_URL": chroma_server,
           "REGQA_CHROMA_DATABASE": "no-such-database", "COLUMNS": "200"}
    done = subprocess.run([sys.executable, "-m", "regqa", "index", str(small_corpus / SMALL_DOCS[0])],
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, done.stderr
    assert "Database [no-such-database] not found" in done.stderr and "Traceback" not in done.stderr
