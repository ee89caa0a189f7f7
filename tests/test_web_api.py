"""The answer API on the real indexed corpus, through the real FastAPI app."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from web.app import create_app

pytestmark = pytest.mark.slow

FACIAL = "Under Regulation (EU) 2021/821, does exporting facial recognition cameras to a public security bureau in China need an authorisation?"
READ_KEY, ADMIN_KEY = "read-key-0123456789abcdef", "admin-key-0123456789abcdef"


@pytest.fixture(scope="module")
def client(corpus_index, assistant) -> TestClient:  # noqa: ANN001
    with TestClient(create_app(corpus_index, assistant=assistant)) as c:
        yield c


@pytest.fixture(scope="module")
def keyed(corpus_index, assistant) -> TestClient:  # noqa: ANN001
    settings = corpus_index.model_copy(update={"api_keys": SecretStr(f"{READ_KEY}:read,{ADMIN_KEY}:admin")})
    with TestClient(create_app(settings, assistant=assistant)) as c:
        yield c


def test_health_ready_metrics(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    ready = client.get("/readyz").json()
    assert ready["status"] == "ready" and ready["chunks"] > 5000
    client.post("/v1/answer", json={"question": "What is intrusion software?"})
    metrics = client.get("/metrics").text
    assert "regqa_http_requests_total" in metrics and 'regqa_answer_stage_seconds_count{stage="retrieve"}' in metrics
    assert "regqa_index_chunks" in metrics


def test_answer_with_verifiable_citations(client: TestClient) -> None:
    response = client.post("/v1/answer", json={"question": FACIAL})
    assert response.status_code == 200
    record = response.json()
    assert any(c["section"].startswith("Article 5") for c in record["citations"])
    for citation in record["citations"]:
        passage = client.get(f"/v1/passages/{citation['chunk_id']}").json()
        assert citation["quote"] in passage["passage"]["text"]
        assert passage["document"]["id"] == citation["doc_id"] and citation["source_url"].startswith("https://")
    assert set(record["timings_ms"]) >= {"retrieve", "compose", "verify", "total"}


def test_filters_and_top_k(client: TestClient) -> None:
    record = client.post("/v1/answer", json={"question": FACIAL, "filters": {"jurisdictions": ["EU"]},
                                             "top_k": 4}).json()
    assert record["citations"] and all(c["doc_id"].startswith("eu-") for c in record["citations"])


def test_stream_ends_with_the_full_record(client: TestClient) -> None:
    with client.stream("POST", "/v1/answer/stream", json={"question": FACIAL}) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/event-stream")
        body = "".join(response.iter_text())
    events = []
    for block in body.replace("\r\n", "\n").split("\n\n"):
        lines = block.strip().splitlines()
        if not lines:
            continue
        name = next((line[6:].strip() for line in lines if line.startswith("event:")), "message")
        data = "\n".join(line[5:].removeprefix(" ") for line in lines if line.startswith("data:"))
        events.append((name, data))
    assert events[-1][0] == "final" and any(name == "sentence" for name, _ in events)
    final = json.loads(events[-1][1])
    direct = client.post("/v1/answer", json={"question": FACIAL}).json()
    assert final["citations"] == direct["citations"] and final["answer"] == direct["answer"]


def test_search_documents_and_passages(client: TestClient) -> None:
    hits = client.post("/v1/search", json={"query": "What does ECCN 3A981 control?", "top_k": 3}).json()["hits"]
    assert 0 < len(hits) <= 3  # top_k passages, though a unit may have contributed two and a lead-in
    assert hits[0]["passage"]["section"] == "ECCN 3A981" and hits[0]["exact_reference"]
    documents = client.get("/v1/documents").json()
    assert len(documents) == 32 and all(d["completeness"] in ("full", "partial") for d in documents)
    assert sum(d["completeness"] == "partial" for d in documents) >= 25  # most bundled copies are partial
    one = client.get("/v1/documents/eu-2021-821-dual-use-regulation").json()
    assert one["cite_as"] == "Regulation (EU) 2021/821" and one["chunks"] > 0 and one["as_of"]
    assert client.get("/v1/documents/nope").status_code == 404
    passage = client.get(f"/v1/passages/{hits[0]['passage']['chunk_id']}").json()
    assert passage["neighbours"] and passage["passage"]["heading_path"].endswith("ECCN 3A981")
    missing = client.get("/v1/passages/no-such-chunk")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"question": ""}, 422),
        ({"question": "   "}, 422),
        ({"question": "x" * 5000}, 422),
        ({"question": "ok?", "history": [{"role": "user", "content": "q"}] * 50}, 422),
        ({"question": "ok?", "top_k": 500}, 422),
        ({"question": "ok?", "mode": "magic"}, 422),
        ({"question": "ok?", "unexpected": 1}, 422),
        ({"question": "ok?", "filters": {"jurisdictions": "EU"}}, 422),
    ],
)
def test_bad_requests_get_clear_4xx(client: TestClient, body: dict, status: int) -> None:
    response = client.post("/v1/answer", json=body)
    assert response.status_code == status
    assert response.json()["error"]["message"]


def test_malformed_json_oversize_and_unknown_routes(client: TestClient) -> None:
    bad = client.post("/v1/answer", content=b'{"question": ', headers={"content-type": "application/json"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"
    huge = client.post("/v1/answer", content=b'{"question": "' + b"a" * 400_000 + b'"}',
                       headers={"content-type": "application/json"})
    assert huge.status_code == 413 and huge.json()["error"]["code"] == "too_large"
    assert client.get("/v1/nothing-here").status_code == 404
    assert "Traceback" not in bad.text + huge.text


def test_auth_and_roles(keyed: TestClient) -> None:
    question = {"question": "What is intrusion software?"}
    assert keyed.post("/v1/answer", json=question).status_code == 401
    assert keyed.post("/v1/answer", json=question, headers={"Authorization": "Bearer wrong-key-000000000"}).status_code == 401
    assert keyed.post("/v1/answer", json=question, headers={"Authorization": f"Bearer {READ_KEY}"}).status_code == 200
    assert keyed.get("/v1/documents", headers={"X-API-Key": READ_KEY}).status_code == 200
    assert keyed.delete("/v1/documents/15-cfr-part-730", headers={"X-API-Key": READ_KEY}).status_code == 403
    upload = keyed.post("/v1/documents", files={"file": ("a.md", b"# A\n\ntext\n")}, headers={"X-API-Key": READ_KEY})
    assert upload.status_code == 403
    assert keyed.get("/healthz").status_code == 200  # probes need no key
    assert keyed.get("/metrics").status_code == 401


def test_security_headers_and_closed_cors(client: TestClient) -> None:
    response = client.get("/healthz", headers={"Origin": "https://evil.example"})
    assert response.headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in response.headers


def test_openapi_documents_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/v1/answer", "/v1/answer/stream", "/v1/search", "/v1/documents", "/v1/documents/{doc_id}",
                 "/v1/passages/{chunk_id}", "/healthz", "/readyz", "/metrics"):
        assert path in paths


@pytest.fixture
def upload_client(settings, small_corpus, embedder):  # noqa: ANN001, ANN201
    """A separate small index, so uploads never touch the shared corpus index."""
    from assistant.service import Assistant
    from indexer.pipeline import Indexer

    Indexer(settings, embedder_factory=lambda: embedder).run()
    keyed_settings = settings.model_copy(update={"api_keys": SecretStr(f"{READ_KEY}:read,{ADMIN_KEY}:admin"),
                                                 "max_upload_bytes": 200_000})
    assistant = Assistant(keyed_settings, embedder=embedder)
    with TestClient(create_app(keyed_settings, assistant=assistant)) as c:
        yield c, keyed_settings


def test_admin_upload_and_delete(upload_client) -> None:  # noqa: ANN001
    client, settings = upload_client
    admin = {"X-API-Key": ADMIN_KEY}
    text = b"# Export note\n\n## Article 1\n\nSurveillance cameras need an authorisation under this note.\n"
    meta = "id: export-note\ncite_as: Export Note 2026\ndoc_type: guidance\njurisdiction: UK\nsource_url: https://example.gov/n\n"
    response = client.post("/v1/documents", files={"file": ("../../etc/Export Note.md", text, "text/markdown")},
                           data={"metadata": meta}, headers=admin)
    assert response.status_code == 201, response.text
    assert response.json()["document_ids"] == ["export-note"]
    stored = list((settings.index_dir / "uploads").rglob("*.md"))
    assert [p.name for p in stored] == ["Export-Note.md"]  # no path traversal, a safe name
    assert all(settings.index_dir / "uploads" in p.parents for p in stored)
    record = client.post("/v1/answer", json={"question": "Do surveillance cameras need an authorisation under the export note?"},
                         headers=admin).json()
    assert any(c["doc_id"] == "export-note" for c in record["citations"])
    assert client.get("/v1/documents/export-note", headers=admin).json()["jurisdiction"] == "UK"
    assert client.delete("/v1/documents/export-note", headers=admin).status_code == 204
    assert client.get("/v1/documents/export-note", headers=admin).status_code == 404
    assert not list((settings.index_dir / "uploads").rglob("*.md"))


@pytest.mark.parametrize(
    ("name", "content", "status"),
    [
        ("tool.exe", b"MZ\x90\x00", 415),
        ("big.txt", b"a" * 300_000, 413),
        ("broken.pdf", b"%PDF-1.7 garbage", 422),
        ("empty.md", b"", 422),
    ],
)
def test_bad_uploads_are_refused(upload_client, name: str, content: bytes, status: int) -> None:  # noqa: ANN001
    client, settings = upload_client
    response = client.post("/v1/documents", files={"file": (name, content)}, headers={"X-API-Key": ADMIN_KEY})
    assert response.status_code == status, response.text
    assert response.json()["error"]["message"]
    leftovers = [p for p in (settings.index_dir / "uploads").rglob("*") if p.is_file()] \
        if (settings.index_dir / "uploads").exists() else []
    assert leftovers == [], leftovers  # a refused upload stores nothing, however it was refused
