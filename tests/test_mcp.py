"""The MCP server through the official `mcp` SDK client: `regqa mcp` over stdio, and /mcp on
`regqa serve` over streamable HTTP, both on a small real index."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import httpx2
import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from regqa.config import Settings

from .test_openai_compat import PROHIBITIONS, READ_KEY, UK_LICENCE, compat_index, served  # noqa: F401 - fixtures

pytestmark = pytest.mark.slow

TOOLS = {"search", "answer", "get_passage", "list_documents", "licence_check"}


async def _exercise(session: ClientSession) -> dict[str, Any]:
    """List the tools and call each one; returns what the checks below need."""
    await session.initialize()
    tools = {tool.name: tool for tool in (await session.list_tools()).tools}
    results: dict[str, Any] = {"tools": tools}
    answer = await session.call_tool("answer", {"question": PROHIBITIONS})
    results["answer"] = answer
    results["passages"] = {}
    for citation in (answer.structured_content or {}).get("citations", []):
        passage = await session.call_tool("get_passage", {"chunk_id": citation["chunk_id"]})
        results["passages"][citation["chunk_id"]] = passage
    results["search"] = await session.call_tool(
        "search", {"query": UK_LICENCE, "jurisdictions": ["UK"], "top_k": 3})
    results["documents"] = await session.call_tool("list_documents", {})
    results["licence"] = await session.call_tool("licence_check", {
        "item": "facial recognition cameras", "destination": "China", "end_user_type": "police"})
    results["bad_licence"] = await session.call_tool("licence_check", {"item": "camera", "destination": "Atlantis"})
    results["missing"] = await session.call_tool("get_passage", {"chunk_id": "no-such-passage"})
    results["too_many"] = await session.call_tool("search", {"query": "licence", "top_k": 500})
    return results


def _check(results: dict[str, Any], compat_index: Settings) -> None:  # noqa: F811
    tools = results["tools"]
    assert set(tools) == TOOLS
    for tool in tools.values():  # typed inputs and descriptions an assistant can act on
        assert tool.description and len(tool.description) > 60
        assert tool.input_schema["type"] == "object" and tool.output_schema
    assert tools["answer"].input_schema["required"] == ["question"]
    assert tools["search"].input_schema["properties"]["top_k"]["maximum"] == 50
    assert tools["get_passage"].annotations.read_only_hint

    answer = results["answer"]
    assert not answer.is_error
    record = answer.structured_content
    assert record["citations"] and not record["abstained"]
    for citation in record["citations"]:  # verified: each quote is in the passage it cites
        passage = results["passages"][citation["chunk_id"]]
        assert not passage.is_error
        text = passage.structured_content["passage"]["text"]
        assert citation["quote"] in text and f"[{citation['n']}]" in record["answer"]
        assert passage.structured_content["document"]["id"] == citation["doc_id"]
    # The text content carries the same record, for clients that ignore structured content.
    assert json.loads(answer.content[0].text)["citations"] == record["citations"]

    hits = results["search"].structured_content["hits"]
    assert 0 < len(hits) <= 3 and all(h["passage"]["jurisdiction"] == "UK" for h in hits)
    assert all(h["passage"]["cite_as"] and h["passage"]["source_url"] for h in hits)

    documents = results["documents"].structured_content["documents"]
    manifest = json.loads((compat_index.index_dir / "manifest.json").read_text())
    assert sorted(d["id"] for d in documents) == sorted(manifest["documents"])
    assert all(d["as_of"] and d["completeness"] in ("full", "partial", "unknown") for d in documents)

    assert results["missing"].is_error and "no passage" in results["missing"].content[0].text
    licence = results["licence"]
    assert not licence.is_error, licence.content
    record = licence.structured_content
    assert [j["name"] for j in record["jurisdictions"]] == ["EU", "US"]
    # This small index lacks most of the instruments: the steps still come, citing what is there.
    assert record["not_covered"] and all(c["quote"] for c in record["citations"])
    assert all(step["outcome"] for j in record["jurisdictions"] for step in j["steps"])
    assert results["bad_licence"].is_error and "unknown country" in results["bad_licence"].content[0].text
    assert results["too_many"].is_error


def test_stdio_server_lists_and_calls_every_tool(compat_index: Settings, tmp_path: Path) -> None:  # noqa: F811
    env = {"REGQA_DATA_DIR": str(compat_index.index_dir), "HF_HUB_OFFLINE": "1",
           "PATH": os.environ.get("PATH", "")}
    params = StdioServerParameters(command=str(Path(sys.executable).with_name("regqa")), args=["mcp"], env=env)

    async def run() -> dict[str, Any]:
        with (tmp_path / "mcp-stderr.log").open("w") as errlog:
            async with stdio_client(params, errlog=errlog) as (read, write), ClientSession(read, write) as session:
                return await _exercise(session)

    results = anyio.run(run)
    _check(results, compat_index)


def test_streamable_http_on_serve_with_the_api_keys(served: str, compat_index: Settings) -> None:  # noqa: F811
    async def run(headers: dict[str, str]) -> dict[str, Any]:
        async with httpx2.AsyncClient(headers=headers, timeout=120) as http, \
                streamable_http_client(f"{served}/mcp", http_client=http) as (read, write), \
                ClientSession(read, write) as session:
            return await _exercise(session)

    results = anyio.run(run, {"Authorization": f"Bearer {READ_KEY}"})
    _check(results, compat_index)
    direct = httpx.post(f"{served}/v1/answer", json={"question": PROHIBITIONS},
                        headers={"Authorization": f"Bearer {READ_KEY}"}, timeout=120).json()
    assert results["answer"].structured_content["citations"] == direct["citations"]

    refused = httpx.post(f"{served}/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, timeout=30,
                         headers={"Accept": "application/json, text/event-stream"})
    assert refused.status_code == 401 and refused.json()["error"]["message"]
