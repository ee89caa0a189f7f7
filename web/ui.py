"""The Gradio chat for exporters: answers with clickable [n] markers, a sources panel that opens
each cited passage, filters, examples, and an admin tab for uploads when an admin key exists."""

from __future__ import annotations

import html
import queue
import re
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

import gradio as gr

from assistant.records import AnswerResponse, Citation, RetrievedRef, Turn
from assistant.retrieval import unit_of
from assistant.service import Assistant, QuestionError
from determination.facts import EndUserType, Facts, describe_errors
from determination.render import as_markdown
from indexer.pipeline import Indexer, IndexBusy
from indexer.reader import Filters
from web.auth import KeyRing, Role, audit
from web.index_status import index_state
from web.uploads import UploadRejected, stage_and_index

EXAMPLES = [
    "Does exporting facial recognition cameras to a public security bureau in China need a licence?",
    "What is intrusion software?",
    "What does ECCN 3A981 control?",
    "Is IP network communications surveillance equipment on the EU control list?",
    "When must an EU exporter notify the authority about cyber-surveillance items not listed in Annex I?",
]
JURISDICTIONS = ["EU", "US", "UK", "Wassenaar", "multilateral"]
DOC_TYPES = ["regulation", "control_list", "guidance", "statement", "report"]
DISCLAIMER = ("**Not legal advice.** Answers quote stored copies of official texts, several of them partial; "
              "check the official source before you rely on an answer.")

CSS = """
:is(#sources, #lc-sources) .source {border:1px solid #d0d7de; border-radius:8px; padding:10px 12px; margin-bottom:10px;}
:is(#sources, #lc-sources) .source:target {border-color:#0969da; box-shadow:0 0 0 2px #0969da33;}
:is(#sources, #lc-sources) .n {font-weight:700; color:#0969da;}
:is(#sources, #lc-sources) .partial {background:#fff8c5; color:#7d4e00; border-radius:4px; padding:0 6px; font-size:0.85em;}
:is(#sources, #lc-sources) blockquote {margin:6px 0; padding-left:10px; border-left:3px solid #d0d7de;}
:is(#sources, #lc-sources) .meta {font-size:0.85em; color:#57606a;}
:is(#sources, #lc-sources) pre {white-space:pre-wrap; font-size:0.85em; max-height:320px; overflow:auto;}
a.cite {font-weight:700; text-decoration:none;}
"""

_MARKER = re.compile(r"\[(\d{1,3})\]")


def render_answer(response: AnswerResponse) -> str:
    """Answer text with each [n] turned into a link to its source card."""
    text = _MARKER.sub(lambda m: f'<a class="cite" href="#source-{m.group(1)}">[{m.group(1)}]</a>', response.answer)
    notes = "\n".join(f"> {html.escape(n)}" for n in response.notices)
    removed = "".join(f"\n> Removed as unsupported: {html.escape(s)}" for s in response.unsupported_sentences)
    return f"{text}\n\n{notes}{removed}".strip()


def render_sources(response: AnswerResponse | None, assistant: Assistant) -> str:
    if response is None or not response.citations:
        return '<div id="sources-empty"><p>Sources of the answer appear here.</p></div>'
    return render_citations(response.citations, response.retrieved, assistant)


def render_citations(citations: list[Citation], retrieved: list[RetrievedRef], assistant: Assistant,
                     anchor: str = "source") -> str:
    """One card per numbered source, each opening its full passage; then what was retrieved but not cited."""
    snapshot = assistant.reader.snapshot()
    documents = snapshot.manifest.documents
    cards = ['<div class="sources-list">']
    for c in citations:
        chunk = snapshot.by_id.get(c.chunk_id)
        # The passage and its neighbours inside the same unit (not the end of the previous section).
        neighbours = [n for n in snapshot.neighbours(c.chunk_id) if unit_of(n) == unit_of(chunk)] if chunk else []
        passage = "\n\n".join(n.text for n in neighbours) if neighbours else (chunk.text if chunk else c.quote)
        partial = '<span class="partial">partial document</span>' if c.completeness != "full" else ""
        page = f" · page {c.page}" if c.page else ""
        link = (f' · <a href="{html.escape(c.source_url, quote=True)}" target="_blank" rel="noopener noreferrer">'
                "official source</a>") if c.source_url.startswith(("http://", "https://")) else ""
        cards.append(
            f'<div class="source" id="{anchor}-{c.n}">'
            f'<div class="head"><span class="n">[{c.n}]</span> <b>{html.escape(c.cite_as)}</b> — '
            f'<span class="section">{html.escape(c.section)}</span> {partial}</div>'
            f"<blockquote>{html.escape(c.quote)}</blockquote>"
            f'<div class="meta">As of: {html.escape(c.as_of[:120])}{page}{link}</div>'
            f'<details class="passage"><summary>Open the full passage</summary>'
            f'<div class="meta">{html.escape(c.heading_path)}</div><pre>{html.escape(passage)}</pre>'
            f"{_provenance(documents.get(c.doc_id))}</details>"
            "</div>"
        )
    cited = {(c.doc_id, c.section) for c in citations}
    others = list(dict.fromkeys((r.doc_id, r.section) for r in retrieved if (r.doc_id, r.section) not in cited))
    if others:
        names = {d: e.meta.cite_as for d, e in documents.items()}
        items = "".join(f"<li>{html.escape(names.get(d, d))}, {html.escape(s)}</li>" for d, s in others)
        cards.append(f'<details class="retrieved"><summary>Also retrieved, not cited ({len(others)})</summary>'
                     f"<ul>{items}</ul></details>")
    cards.append("</div>")
    return "".join(cards)


def _provenance(entry) -> str:  # noqa: ANN001 - indexer.store manifest entry
    """The long provenance prose, only where a reader opens a source's details."""
    if entry is None:
        return ""
    meta = entry.meta
    rows = [("Completeness", meta.completeness), ("About the date", getattr(meta, "as_of_note", "")),
            ("Obtained from", meta.obtained_from)]
    return "".join(f'<div class="meta"><b>{label}:</b> {html.escape(text[:1500])}</div>' for label, text in rows if text)


def _turns(history: list[dict]) -> list[Turn]:
    turns = []
    for message in history:
        role, content = message.get("role"), message.get("content")
        if role in ("user", "assistant") and isinstance(content, str):
            turns.append(Turn(role=role, content=re.sub(r"<[^>]+>", "", content)))
    return turns


def build_ui(assistant: Assistant, keyring: KeyRing) -> gr.Blocks:
    llm_ready = assistant.chat_model is not None

    def respond(message: str, history: list[dict], jurisdictions: list[str], doc_types: list[str],
                mode: str) -> Iterator[tuple[list[dict], str, str]]:
        history = list(history or [])
        try:
            question = assistant.clean_question(message)
        except QuestionError as exc:
            gr.Warning(str(exc))
            yield history, gr.update(), message
            return
        history.append({"role": "user", "content": question})
        pending: queue.Queue[tuple[str, Any]] = queue.Queue()

        def work() -> None:
            try:
                response = assistant.ask(
                    question, history=_turns(history[:-1]), filters=Filters.of(jurisdictions, doc_types),
                    mode=mode if mode in ("extractive", "llm") else None,
                    on_token=lambda piece: pending.put(("token", piece)))
                pending.put(("final", response))
            except Exception as exc:  # noqa: BLE001 - shown to the user, never a crash
                pending.put(("error", exc))

        threading.Thread(target=work, daemon=True).start()
        partial = ""
        while True:
            kind, value = pending.get()
            if kind == "token":
                partial += value
                yield history + [{"role": "assistant", "content": partial + " …"}], gr.update(), ""
            elif kind == "final":
                history.append({"role": "assistant", "content": render_answer(value)})
                yield history, render_sources(value, assistant), ""
                return
            else:
                message_text = str(value) if isinstance(value, QuestionError) else "Something went wrong; see the server log."
                history.append({"role": "assistant", "content": message_text})
                yield history, gr.update(), ""
                return

    with gr.Blocks(title="RegQA — export-control answers") as ui:
        gr.Markdown("# RegQA\nExport-control answers on surveillance technology, quoted from the law with "
                    "numbered sources.\n\n" + DISCLAIMER)
        with gr.Tab("Ask"):
            state = index_state(assistant)
            status = gr.Markdown(state.line(), elem_id="index-status")
            # Polls only while there is something to report; stops once the index is whole.
            timer = gr.Timer(2.0, active=state.status != "ready")

            def refresh_status() -> tuple[str, gr.Timer]:
                now = index_state(assistant)
                return now.line(), gr.Timer(active=now.status != "ready")

            timer.tick(refresh_status, None, [status, timer], api_visibility="private")
            ui.load(refresh_status, None, [status, timer], api_visibility="private")
            with gr.Row():
                with gr.Column(scale=3):
                    # No floating label: it covered the first words of the user's question.
                    chat = gr.Chatbot(label="Conversation", show_label=False, height=520, elem_id="chat",
                                      sanitize_html=True, render_markdown=True)
                    question = gr.Textbox(placeholder="Ask a question, e.g. does exporting facial recognition "
                                                      "cameras to a public security bureau need a licence?",
                                          show_label=False, lines=2, elem_id="question", max_length=4000)
                    with gr.Row():
                        ask = gr.Button("Ask", variant="primary", elem_id="ask")
                        clear = gr.Button("New conversation", elem_id="clear")
                    with gr.Accordion("Filters and answer mode", open=False):
                        jurisdictions = gr.CheckboxGroup(JURISDICTIONS, label="Jurisdictions (none = all)")
                        doc_types = gr.CheckboxGroup(DOC_TYPES, label="Document types (none = all)")
                        mode = gr.Radio(["extractive", "llm"], value="llm" if llm_ready and
                                        assistant.settings.mode == "llm" else "extractive",
                                        label="Answer mode (llm needs REGQA_LLM_* settings)",
                                        interactive=llm_ready)
                    gr.Examples(EXAMPLES, inputs=question, label="Try one of these")
                with gr.Column(scale=2):
                    gr.Markdown("### Sources")
                    sources = gr.HTML(render_sources(None, assistant), elem_id="sources")
            inputs = [question, chat, jurisdictions, doc_types, mode]
            ask.click(respond, inputs, [chat, sources, question])
            question.submit(respond, inputs, [chat, sources, question])
            clear.click(lambda: ([], render_sources(None, assistant), ""), None, [chat, sources, question])

        _licence_tab(assistant)
        if keyring.has_admin:
            _admin_tab(assistant, keyring)
    return ui


def _licence_tab(assistant: Assistant) -> None:
    """A short form, then the EU and US steps with outcomes; the quotes open in the sources panel."""

    def check(item: str, codes: str, origin: str, destination: str, end_user: str, end_user_type: str | None,
              end_use: str) -> tuple[str, str]:
        try:
            facts = Facts(item=item, codes=[c for c in re.split(r"[,;\s]+", codes or "") if c],
                          origin=origin.strip() or None,
                          destination=destination.strip() or None, end_user=end_user.strip() or None,
                          end_user_type=end_user_type or None, end_use=end_use.strip() or None)
        except ValidationError as exc:
            problems = describe_errors(exc)
            return f"**Please correct the form:** {html.escape(problems)}", render_sources(None, assistant)
        determination = assistant.determiner.determine(facts)
        text = _MARKER.sub(lambda m: f'<a class="cite" href="#lc-source-{m.group(1)}">[{m.group(1)}]</a>',
                           as_markdown(determination))
        notes = "\n".join(f"> {html.escape(n)}" for n in determination.notices)
        return f"{text}\n\n{notes}", render_citations(determination.citations, [], assistant, "lc-source")

    with gr.Tab("Licence check"):
        gr.Markdown("Walk the licence decision path for one export, EU and US. Each step says what it asks, what "
                    "the bundled texts and your facts give, and cites the law; what the texts cannot decide is "
                    "said plainly.")
        with gr.Row():
            with gr.Column(scale=3):
                item = gr.Textbox(label="Item (required)", placeholder="e.g. facial recognition cameras with IP "
                                  "network features", elem_id="lc-item", max_length=2000)
                codes = gr.Textbox(label="Known classification (optional)", placeholder="e.g. 5A001.j or 3A981",
                                   elem_id="lc-codes", max_length=100)
                origin = gr.Textbox(label="Exporting from (optional; default the EU, GB for the UK Order)",
                                    placeholder="e.g. DE, GB or US", elem_id="lc-from", max_length=100)
                destination = gr.Textbox(label="Destination country", placeholder="ISO code or name, e.g. CN",
                                         elem_id="lc-to", max_length=100)
                end_user = gr.Textbox(label="End user's name (screened when a party list is imported)",
                                      elem_id="lc-end-user", max_length=300)
                end_user_type = gr.Dropdown([t.value for t in EndUserType], value=None, label="End-user type",
                                            elem_id="lc-end-user-type")
                end_use = gr.Textbox(label="End use (optional)", lines=2, elem_id="lc-end-use", max_length=2000)
                run = gr.Button("Check", variant="primary", elem_id="lc-check")
                result = gr.Markdown(elem_id="lc-result")
            with gr.Column(scale=2):
                gr.Markdown("### Sources")
                sources = gr.HTML(render_sources(None, assistant), elem_id="lc-sources")
        run.click(check, [item, codes, origin, destination, end_user, end_user_type, end_use], [result, sources])


def _admin_tab(assistant: Assistant, keyring: KeyRing) -> None:
    def index_upload(key: str, upload: str | None, metadata: str, progress: gr.Progress = gr.Progress()) -> str:
        principal = keyring.identify(key)
        if principal is None or principal.role is not Role.admin:
            audit.warning("admin=%s action=denied via=chat-upload", principal.name if principal else "unknown-key")
            return "An admin key is required."
        if not upload:
            return "Choose a file first."
        def report(stage: str, done: int, total: int) -> None:
            progress(done / max(1, total), desc={"scan": "Reading", "embed": "Embedding",
                                                 "write": "Writing the index"}.get(stage, stage))

        indexer = Indexer(assistant.settings, lambda: assistant.embed.embedder)
        try:
            with Path(upload).open("rb") as data:
                _, summary = stage_and_index(indexer, Path(upload).name, data, metadata, report)
            assistant.reader.invalidate()
        except UploadRejected as exc:
            return f"Not accepted: {exc}"
        except IndexBusy as exc:
            return f"Busy: {exc}"
        if summary.skipped:
            return "Not indexed: " + "; ".join(s.reason for s in summary.skipped)
        audit.info("admin=%s action=upload via=chat documents=%s", principal.name,
                   ",".join(summary.added + summary.updated + summary.unchanged))
        return (f"Indexed {', '.join(summary.added + summary.updated) or 'nothing new'}: {summary.chunks} "
                f"chunks in the upload, {summary.chunks_embedded} embedded, {summary.seconds:.1f} s.")

    with gr.Tab("Admin"):
        gr.Markdown("Upload an official document (PDF, HTML, Markdown, text) to index it. "
                    "Give its provenance as YAML (id, cite_as, doc_type, jurisdiction, source_url, as_of, "
                    "completeness).")
        key = gr.Textbox(label="Admin API key", type="password")
        upload = gr.File(label="Document", file_types=[".pdf", ".html", ".htm", ".md", ".txt"], type="filepath")
        metadata = gr.Textbox(label="Provenance (YAML, optional)", lines=5)
        run = gr.Button("Index document", variant="primary")
        result = gr.Markdown()
        run.click(index_upload, [key, upload, metadata], result)
