"""Documents and passages: provenance for everyone with a read key; upload and delete for admins."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Depends, File, Form, HTTPException, Path as PathParam, UploadFile
from fastapi.concurrency import run_in_threadpool

from assistant.service import Assistant
from indexer.pipeline import Indexer
from indexer.store import DocumentEntry
from web.auth import Principal, Role, require
from web.deps import get_assistant, passage_info
from web.routes.answer import ERRORS
from web.schemas import DocumentInfo, PassageResponse, UploadResponse
from web.uploads import UploadRejected, stage_and_index

router = APIRouter(prefix="/v1", tags=["documents"])
audit = logging.getLogger("regqa.audit")


def document_info(doc_id: str, entry: DocumentEntry) -> DocumentInfo:
    meta = entry.meta
    return DocumentInfo(
        id=doc_id, title=meta.title, cite_as=meta.cite_as, doc_type=meta.doc_type, jurisdiction=meta.jurisdiction,
        authority=meta.authority, source_url=meta.source_url, obtained_from=meta.obtained_from, as_of=meta.as_of,
        license=meta.license, completeness=meta.completeness_status, completeness_detail=meta.completeness,
        chunks=entry.chunk_count, indexed_at=entry.indexed_at)


@router.get("/documents", response_model=list[DocumentInfo], responses=ERRORS, summary="Indexed documents",
            dependencies=[require(Role.read)])
def list_documents(assistant: Assistant = Depends(get_assistant)) -> list[DocumentInfo]:
    manifest = assistant.reader.snapshot().manifest
    return [document_info(doc_id, entry) for doc_id, entry in sorted(manifest.documents.items())]


@router.get("/documents/{doc_id}", response_model=DocumentInfo, responses={404: ERRORS[422], **ERRORS},
            summary="One document's provenance", dependencies=[require(Role.read)])
def get_document(doc_id: Annotated[str, PathParam(max_length=128)],
                 assistant: Assistant = Depends(get_assistant)) -> DocumentInfo:
    entry = assistant.reader.snapshot().manifest.documents.get(doc_id)
    if entry is None:
        raise HTTPException(404, f"no document {doc_id!r} in the index")
    return document_info(doc_id, entry)


@router.get("/passages/{chunk_id}", response_model=PassageResponse, responses={404: ERRORS[422], **ERRORS},
            summary="A passage with its neighbours, for citation click-through",
            dependencies=[require(Role.read)])
def get_passage(chunk_id: Annotated[str, PathParam(max_length=200)],
                assistant: Assistant = Depends(get_assistant)) -> PassageResponse:
    snapshot = assistant.reader.snapshot()
    chunk = snapshot.by_id.get(chunk_id)
    if chunk is None:
        raise HTTPException(404, f"no passage {chunk_id!r} in the index")
    neighbours = [c for c in snapshot.neighbours(chunk_id) if c.chunk_id != chunk_id]
    return PassageResponse(passage=passage_info(chunk), neighbours=[passage_info(c) for c in neighbours],
                           document=document_info(chunk.doc_id, snapshot.manifest.documents[chunk.doc_id]))


@router.post("/documents", response_model=UploadResponse, status_code=201,
             responses={409: ERRORS[422], 415: ERRORS[422], **ERRORS},
             summary="Upload and index a document (admin)")
async def upload_document(
    file: Annotated[UploadFile, File(description="PDF, HTML, Markdown or text")],
    metadata: Annotated[str | None, Form(description="Optional YAML/JSON provenance: id, cite_as, doc_type, "
                                                     "jurisdiction, source_url, as_of, completeness, ...")] = None,
    principal: Principal = require(Role.admin),
    assistant: Assistant = Depends(get_assistant),
) -> UploadResponse:
    indexer = Indexer(assistant.settings, lambda: assistant.embed.embedder)
    try:
        folder, summary = await run_in_threadpool(stage_and_index, indexer, file.filename, file.file, metadata)
    except UploadRejected as exc:
        raise HTTPException(exc.status, str(exc)) from None
    assistant.reader.invalidate()
    if summary.skipped:  # stage_and_index has already removed it (and put back an earlier upload)
        reasons = "; ".join(s.reason for s in summary.skipped)
        raise HTTPException(422, f"the document could not be indexed: {reasons}")
    audit.info("admin=%s action=upload folder=%s documents=%s", principal.name, folder.name,
               ",".join(summary.added + summary.updated + summary.unchanged))
    return UploadResponse(document_ids=summary.added + summary.updated + summary.unchanged, added=summary.added,
                          updated=summary.updated, chunks=summary.chunks, chunks_embedded=summary.chunks_embedded,
                          seconds=round(summary.seconds, 2))


@router.delete("/documents/{doc_id}", status_code=204, responses={404: ERRORS[422], 409: ERRORS[422], **ERRORS},
               summary="Remove a document from the index (admin)")
async def delete_document(doc_id: Annotated[str, PathParam(max_length=128)],
                          principal: Principal = require(Role.admin),
                          assistant: Assistant = Depends(get_assistant)) -> None:
    manifest = assistant.reader.snapshot().manifest
    entry = manifest.documents.get(doc_id)
    if entry is None:
        raise HTTPException(404, f"no document {doc_id!r} in the index")
    await run_in_threadpool(Indexer(assistant.settings, lambda: assistant.embed.embedder).remove, [doc_id])
    assistant.reader.invalidate()
    uploads = (assistant.settings.index_dir / "uploads").resolve()
    source = Path(entry.path).resolve()
    if uploads in source.parents:
        shutil.rmtree(source.parent, ignore_errors=True)  # an uploaded file goes with its document
    audit.info("admin=%s action=delete document=%s", principal.name, doc_id)
