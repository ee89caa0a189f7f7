"""RegQA as a Model Context Protocol server: search, answer, get_passage and list_documents.

AI assistants that call tools over MCP (desktop assistants, IDE agents) get the same records as
the HTTP API, because every tool calls the API route function it mirrors: the answer's citations
are verified by the same `Assistant.ask`, passages come with their neighbours as
GET /v1/passages/{id} gives them. Two transports, one tool set:

- stdio: `regqa mcp` (`serve_stdio`), what a desktop assistant's configuration starts;
- streamable HTTP at `/mcp` on `regqa serve` (`mount_http`), stateless JSON responses behind the
  same API keys as /v1 (Authorization: Bearer KEY or X-API-Key).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Annotated, Any, Literal

from fastapi import FastAPI, HTTPException
from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.server.streamable_http_manager import StreamableHTTPSessionManager
from mcp.types import ToolAnnotations
from pydantic import BaseModel, Field, ValidationError
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from assistant.records import AnswerResponse, Turn
from assistant.service import Assistant, QuestionError
from determination.facts import EndUserType, Facts
from determination.records import Determination
from indexer.reader import IndexMissing
from web.auth import KeyRing, presented_key
from web.errors import error
from web.observability import Metrics
from web.routes import answer as answer_route
from web.routes import documents as documents_route
from web.routes import search as search_route
from web.schemas import AnswerRequest, DocumentInfo, FilterSpec, PassageResponse, SearchRequest, SearchResponse

INSTRUCTIONS = """RegQA answers export-control questions on surveillance technology (facial recognition,
network surveillance, intrusion software, biometrics, cameras) from a local corpus of official texts:
EU Regulation 2021/821, the US EAR (15 CFR), the UK Export Control Order, Wassenaar lists and guidance.
Use `answer` for a question (it returns an answer whose every [n] marker cites a quote that is an exact
substring of a stored passage, or abstains when the corpus does not answer); `search` for ranked
passages; `get_passage` to read a cited passage in context; `list_documents` for what is indexed, as of
when, and how complete each copy is (most are partial). Quote the citations; this is not legal advice."""

Jurisdictions = Annotated[list[str] | None, Field(
    description="Only these jurisdictions, e.g. [\"EU\", \"US\"]; values as list_documents shows them "
                "(US, EU, UK, Wassenaar, multilateral).", max_length=20)]
DocTypes = Annotated[list[str] | None, Field(
    description="Only these document types, e.g. [\"regulation\"]; values as list_documents shows them.",
    max_length=20)]
READ_ONLY = ToolAnnotations(read_only_hint=True, destructive_hint=False, idempotent_hint=True,
                            open_world_hint=False)


class DocumentList(BaseModel):
    documents: list[DocumentInfo]


def _filters(jurisdictions: list[str] | None, doc_types: list[str] | None) -> FilterSpec | None:
    return FilterSpec(jurisdictions=jurisdictions, doc_types=doc_types) if jurisdictions or doc_types else None


@asynccontextmanager
async def _as_tool_errors() -> AsyncIterator[None]:
    """What the HTTP API answers with a 4xx becomes a tool error the assistant can read."""
    try:
        yield
    except HTTPException as exc:
        raise ToolError(str(exc.detail)) from None
    except (QuestionError, IndexMissing) as exc:
        raise ToolError(str(exc)) from None
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors())
        raise ToolError(f"invalid arguments: {problems}") from None


def build_server(assistant: Assistant, metrics: Metrics | None = None) -> MCPServer:
    """The five read-only tools over one assistant (and its index)."""
    metrics = metrics or Metrics()
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    server: MCPServer = MCPServer("regqa", title="RegQA export-control law", instructions=INSTRUCTIONS,
                                  version="0.1.0", log_level="WARNING")
    # MCPServer calls logging.basicConfig; inside `regqa serve` that would print every library's
    # DEBUG records (Chroma's) on stderr. The process keeps the logging it had.
    root.handlers[:] = handlers
    root.setLevel(level)

    @server.tool(title="Answer with verified citations", annotations=READ_ONLY)
    async def answer(
        question: Annotated[str, Field(min_length=1, description="The question, as an exporter would ask it.")],
        history: Annotated[list[Turn] | None, Field(
            description="Earlier turns of the conversation, oldest first, for follow-up questions.")] = None,
        jurisdictions: Jurisdictions = None,
        doc_types: DocTypes = None,
        top_k: Annotated[int | None, Field(ge=1, le=50, description="Passages to retrieve (default 10).")] = None,
        mode: Annotated[Literal["extractive", "llm"] | None, Field(
            description="extractive (quotes only, the default) or llm (needs a configured LLM; falls back "
                        "to extractive with a notice).")] = None,
    ) -> AnswerResponse:
        """Answer an export-control question from the indexed official texts. Every [n] marker in
        `answer` refers to `citations[n]`, whose `quote` is an exact substring of the stored passage
        `chunk_id` (open it with get_passage). `abstained` is true when the corpus does not answer;
        `notices` say how current and how complete the cited copies are."""
        async with _as_tool_errors():
            body = AnswerRequest(question=question, history=history or [],
                                 filters=_filters(jurisdictions, doc_types), top_k=top_k, mode=mode)
            return await answer_route.answer(body, assistant, metrics)

    @server.tool(title="Search passages", annotations=READ_ONLY)
    async def search(
        query: Annotated[str, Field(min_length=1, description="Words, a question, or a reference such as "
                                                              "'ECCN 3A981', 'Article 5', '§ 744.11'.")],
        jurisdictions: Jurisdictions = None,
        doc_types: DocTypes = None,
        top_k: Annotated[int, Field(ge=1, le=50, description="How many passages to return.")] = 8,
    ) -> SearchResponse:
        """Ranked passages (hybrid: named references first, then dense + BM25), each with its
        citation metadata: instrument (cite_as), section, heading path, page, as-of date, official
        URL and the completeness of the stored copy. No answer is composed."""
        async with _as_tool_errors():
            body = SearchRequest(query=query, filters=_filters(jurisdictions, doc_types), top_k=top_k)
            return await search_route.search(body, assistant)

    @server.tool(title="Read a passage in context", annotations=READ_ONLY)
    async def get_passage(
        chunk_id: Annotated[str, Field(min_length=1, max_length=200, description=(
            "A passage id: `chunk_id` of a citation from answer or of a passage from search."))],
    ) -> PassageResponse:
        """The stored passage with its neighbouring passages and its document's provenance, to read
        a citation in context or check that a quote is really there."""
        async with _as_tool_errors():
            return await _in_thread(documents_route.get_passage, chunk_id, assistant=assistant)

    @server.tool(title="Licence check", annotations=READ_ONLY)
    async def licence_check(
        item: Annotated[str, Field(min_length=3, max_length=2000, description="What is exported, in words.")],
        destination: Annotated[str | None, Field(description="Destination country: ISO code or name.")] = None,
        origin: Annotated[str | None, Field(description="Country of export (default the EU; GB: the UK Order; "
                                                        "US: the EAR alone).")] = None,
        end_user: Annotated[str | None, Field(description="The end user's name (screened when a party list "
                                                          "is imported).")] = None,
        end_user_type: Annotated[EndUserType | None, Field(description="The kind of end user.")] = None,
        end_use: Annotated[str | None, Field(description="What the end user will do with the item.")] = None,
        codes: Annotated[list[str] | None, Field(description="Known classifications: Annex I entry (5A001.j), "
                                                             "ECCN (3A981) or Wassenaar entry (5.A.1.j).")] = None,
    ) -> Determination:
        """Walk the licence decision path for one export — EU Regulation 2021/821 (or, with
        origin GB, the UK Order) and the US EAR — step by step: each step has its question, the
        finding, an outcome (licence required / may be required, depending on what / no licence
        required on the bundled texts / cannot determine) and numbered citations whose quotes are
        exact stored text. `not_covered` says what the bundled texts cannot decide."""
        async with _as_tool_errors():
            facts = Facts(item=item, destination=destination, origin=origin, end_user=end_user,
                          end_user_type=end_user_type, end_use=end_use, codes=codes or [])
            return await _in_thread(assistant.determiner.determine, facts)

    @server.tool(title="List indexed documents", annotations=READ_ONLY)
    async def list_documents() -> DocumentList:
        """Every indexed document: title, how to cite it, type, jurisdiction, authority, official
        URL, as-of date, licence, completeness (most bundled copies are partial) and passage count."""
        async with _as_tool_errors():
            return DocumentList(documents=await _in_thread(documents_route.list_documents, assistant=assistant))

    return server


async def _in_thread(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:  # noqa: ANN401
    from fastapi.concurrency import run_in_threadpool

    return await run_in_threadpool(fn, *args, **kwargs)


def serve_stdio(assistant: Assistant) -> None:
    """Serve the tools over stdin/stdout until the client closes the pipe."""
    build_server(assistant).run("stdio")


class _HTTPEndpoint:
    """/mcp on the API server: the API's keys first, then the SDK's streamable HTTP transport.

    A session manager runs once, so each app lifespan starts a fresh one (tests start an app's
    lifespan more than once); stateless JSON mode keeps no session between requests."""

    def __init__(self, server: MCPServer, keyring: KeyRing, host: str) -> None:
        self.server, self.keyring, self.host = server, keyring, host
        self.manager: StreamableHTTPSessionManager | None = None

    @asynccontextmanager
    async def running(self) -> AsyncIterator[None]:
        self.server.streamable_http_app(stateless_http=True, json_response=True, host=self.host)
        manager = self.server.session_manager  # the fresh one streamable_http_app() just made
        async with manager.run():
            self.manager = manager
            try:
                yield
            finally:
                self.manager = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        from starlette.requests import Request

        if self.keyring.configured and self.keyring.identify(presented_key(Request(scope))) is None:
            response = error(401, "a valid API key is required (Authorization: Bearer KEY or X-API-Key)",
                             headers={"WWW-Authenticate": "Bearer"})
        elif self.manager is None:
            response = error(503, "the MCP endpoint starts with the server's lifespan")
        else:
            await self.manager.handle_request(scope, receive, send)
            return
        await response(scope, receive, send)


def mount_http(app: FastAPI, assistant: Assistant, keyring: KeyRing, metrics: Metrics, host: str) -> None:
    """Serve the same tools at /mcp (streamable HTTP), started and stopped with the app."""
    # Without keys the server listens on loopback only: keep the SDK's DNS-rebinding guard on.
    endpoint = _HTTPEndpoint(build_server(assistant, metrics), keyring, host if keyring.configured else "127.0.0.1")
    app.router.routes.append(Route("/mcp", endpoint=endpoint))
    previous = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:  # noqa: ANN401
        async with endpoint.running(), previous(application) as state:
            yield state

    app.router.lifespan_context = lifespan
