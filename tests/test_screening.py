"""Restricted-party screening: import, matching, the stored list's states, CLI, API and `lists update`.

Every list here is a small file written in the published Consolidated Screening List layout
(tests/screening_fixtures.py). No test needs the corpus index or the embedding model.
"""

from __future__ import annotations

import hashlib
import http.server
import json
import os
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from regqa.config import Settings
from screening import ScreeningInputError, ScreeningStore
from screening.importer import CSV_COLUMNS, ListFormatError
from screening.matching import NameForm, similarity, tokens
from screening.update import ListDownloadError, update

from .screening_fixtures import (
    COLUMNS, DECOYS, HELD_OUT_DECOYS, HELD_OUT_VARIANTS, NSO, ROWS, URUMQI, VARIANTS, full_row, write_csv,
    write_json,
)


@pytest.fixture
def store(settings: Settings) -> ScreeningStore:
    return ScreeningStore(settings)


@pytest.fixture
def loaded(store: ScreeningStore, tmp_path: Path) -> ScreeningStore:
    store.import_file(write_csv(tmp_path / "consolidated.csv"))
    return store


def test_the_tests_use_this_checkout() -> None:
    import screening

    assert Path(screening.__file__).resolve().parent.parent == Path(__file__).resolve().parent.parent


def test_fixture_is_in_the_published_layout() -> None:
    assert list(CSV_COLUMNS) == COLUMNS and len(COLUMNS) == 29


# -- import and screen -----------------------------------------------------------------------------

def test_csv_import_then_a_name_hit_shows_field_score_list_and_licence_terms(store: ScreeningStore,
                                                                            tmp_path: Path) -> None:
    path = write_csv(tmp_path / "consolidated.csv")
    summary = store.import_file(path)
    assert summary.list_info.entries == len(ROWS) and summary.list_info.format == "csv"
    assert summary.list_info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert summary.list_info.file_name == "consolidated.csv" and summary.replaced_sha256 is None
    assert {s.source: s.entries for s in summary.list_info.sources_used}[ROWS[0]["source"]] == 15

    result = store.screen("Hangzhou Hikvision Digital Technology Company")
    assert result.status == "screened" and result.threshold == 85
    top = result.hits[0]
    assert top.matched_field == "name" and top.matched_text == ROWS[0]["name"] and top.score == 100
    assert top.entry.federal_register_notice == "84 FR 54005"
    assert top.entry.license_requirement == "For all items subject to the EAR."
    assert top.entry.license_policy == "Presumption of denial."
    assert top.entry.addresses[0].country == "CN" and "Qianmo Road" in top.entry.addresses[0].address
    assert top.entry.source.startswith("Entity List (EL)")
    assert result.list_info.sha256 == summary.list_info.sha256
    assert "50 %" in result.reminder and "ownership" in result.reminder
    assert [h.score for h in result.hits] == sorted((h.score for h in result.hits), reverse=True)


def test_an_alias_hit_says_which_alias(loaded: ScreeningStore) -> None:
    hit = loaded.screen("Q-Cyber Technologies").hits[0]
    assert hit.entry.name == NSO
    assert hit.matched_field == "alt_names[1]" and hit.matched_text == "Q Cyber Technologies Ltd."
    assert hit.entry.alt_names[1] == hit.matched_text
    sensetime = loaded.screen("Shang Tang Tech").hits[0]
    assert sensetime.matched_field == "alt_names[1]" and sensetime.matched_text == "Shangtang Technology"
    # the name and an alias equally good: the name is reported
    psb = loaded.screen("Ürümqi Municipal PSB").hits[0]
    assert psb.entry.name == URUMQI and psb.matched_field == "name" and psb.score == 100


def test_json_import_keeps_source_dates_lists_and_address_objects(store: ScreeningStore, tmp_path: Path) -> None:
    summary = store.import_file(write_json(tmp_path / "consolidated.json"))
    assert summary.list_info.format == "json"
    dates = {s.source: s.source_last_updated for s in summary.list_info.sources_used}
    assert dates[ROWS[0]["source"]] == "2025-03-25T12:00:00-04:00"
    hit = store.screen("Public Security Bureau of Urumqi Municipality").hits[0]
    assert hit.entry.name == URUMQI and hit.source_last_updated == "2025-03-25T12:00:00-04:00"
    assert hit.entry.alt_names == ["Urumqi City Public Security Bureau", "Ürümqi Municipal PSB"]
    person = store.screen("Prigozhin, Yevgeniy Viktorovich").hits[0].entry
    assert person.type == "Individual" and person.programs[0] == "CYBER2" and person.ids == ["RU, Passport, 721314398"]
    assert person.addresses[0].city == "St. Petersburg" and person.addresses[0].country == "RU"


def test_country_filter_uses_any_address_and_keeps_entries_without_one(store: ScreeningStore, tmp_path: Path) -> None:
    rows = [*ROWS, {"_id": "x1", "source": ROWS[0]["source"], "name": "Example Vision Trading LLC",
                    "addresses": "", "license_requirement": "For all items subject to the EAR."},
            {**ROWS[10], "_id": "x2", "name": "NSO Group Cyprus", "alt_names": "",
             "addresses": "Limassol, CY; 22 Galgalei Haplada Street, Herzliya, IL"}]
    store.import_file(write_csv(tmp_path / "list.csv", rows))
    assert [h.entry.name for h in store.screen("Urumqi City Public Security Bureau", country="CN").hits] == [URUMQI]
    assert store.screen("Urumqi City Public Security Bureau", country="US").hits == []
    assert store.screen("Urumqi City Public Security Bureau", country="cn").country == "CN"
    # an entry with two addresses is found through either country
    assert "NSO Group Cyprus" in [h.entry.name for h in store.screen("NSO Group Cyprus", country="IL").hits]
    assert "NSO Group Cyprus" in [h.entry.name for h in store.screen("NSO Group Cyprus", country="CY").hits]
    # no address country on file: the filter cannot rule the entry out
    assert store.screen("Example Vision Trading", country="DE").hits[0].entry.name == "Example Vision Trading LLC"


def test_threshold_default_setting_and_per_call(loaded: ScreeningStore, settings: Settings) -> None:
    query = "Wulumuqi Municipal Public Security Bureau"  # pinyin of Urumqi: scores between 80 and 85
    assert loaded.screen(query).hits == []
    lower = loaded.screen(query, threshold=80)
    assert lower.threshold == 80 and lower.hits[0].entry.name == URUMQI and 80 <= lower.hits[0].score < 85
    assert all(h.threshold == 80 for h in lower.hits)
    relaxed = ScreeningStore(settings.model_copy(update={"screening_threshold": 80.0}))
    assert relaxed.screen(query).threshold == 80 and relaxed.screen(query).hits
    wide = {h.entry.id for h in loaded.screen("Public Security Bureau", threshold=50).hits}
    narrow = {h.entry.id for h in loaded.screen("Public Security Bureau", threshold=75).hits}
    assert narrow <= wide and len(wide) > len(narrow)


def test_the_threshold_setting_comes_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REGQA_SCREENING_THRESHOLD", "92.5")
    assert Settings().screening_threshold == 92.5
    monkeypatch.setenv("REGQA_SCREENING_THRESHOLD", "101")
    with pytest.raises(ValueError):
        Settings()


@pytest.mark.parametrize(("name", "country", "threshold", "problem"), [
    ("", None, None, "empty"),
    ("   ", None, None, "empty"),
    ("x" * 301, None, None, "limit is 300"),
    ("?!", None, None, "no letters"),
    ("乌鲁木齐市公安局", None, None, "not in Latin script"),
    ("Рособоронэкспорт", None, None, "not in Latin script"),
    ("Huawei", "CHN", None, "two-letter"),
    ("Huawei", "C1", None, "two-letter"),
    ("Huawei", None, -1, "between 0 and 100"),
    ("Huawei", None, 100.5, "between 0 and 100"),
])
def test_unusable_input_is_refused(loaded: ScreeningStore, name: str, country: str | None,
                                   threshold: float | None, problem: str) -> None:
    with pytest.raises(ScreeningInputError, match=problem):
        loaded.screen(name, country=country, threshold=threshold)


# -- refusing bad files, keeping the previous import -----------------------------------------------

def _csv_text(columns: list[str], rows: list[dict[str, str]]) -> str:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for row in rows:
        writer.writerow([row.get(c, "") for c in columns])
    return buffer.getvalue()


def _renamed(old: str, new: str) -> list[str]:
    return [new if c == old else c for c in COLUMNS]


BAD_FILES: dict[str, tuple[str, bytes, str]] = {
    "renamed column": ("list.csv", _csv_text(_renamed("alt_names", "aliases"), ROWS).encode(),
                       "missing: alt_names; unexpected: 'aliases'"),
    "extra column": ("list.csv", _csv_text([*COLUMNS, "risk_score"], ROWS).encode(), "unexpected: 'risk_score'"),
    "missing column": ("list.csv", _csv_text([c for c in COLUMNS if c != "ids"], ROWS).encode(), "missing: ids"),
    "repeated column": ("list.csv", _csv_text([*COLUMNS, "name"], ROWS).encode(), "repeated: name"),
    "empty file": ("list.csv", b"", "is empty"),
    "only whitespace": ("list.csv", b"\n \n", "is empty"),
    "header only": ("list.csv", _csv_text(COLUMNS, []).encode(), "no entries"),
    "not UTF-8": ("list.csv", _csv_text(COLUMNS, ROWS).encode("utf-8").replace("Ürümqi".encode(), "Ürümqi".encode("latin-1")),
                  "not UTF-8"),
    "row without a name": ("list.csv", _csv_text(COLUMNS, [*ROWS, {"_id": "z", "source": "x", "name": ""}]).encode(),
                           "no name (line 20)"),
    "row with too few fields": ("list.csv", (_csv_text(COLUMNS, ROWS) + "abc,Entity List,,Entity,,Some Name\r\n").encode(),
                                "wrong number of fields"),
    "bad JSON": ("list.json", b'{"results": [{"name": "Huawei"', "not valid JSON"),
    "JSON without results": ("list.json", json.dumps({"total": 0, "items": []}).encode(), "`results` list"),
    "JSON with no entries": ("list.json", json.dumps({"results": [], "sources_used": []}).encode(), "no entries"),
    "JSON with a new key": ("list.json", json.dumps({"results": [{"id": "1", "source": "EL", "name": "A",
                                                                  "aliases": ["B"]}]}).encode(), "unexpected: 'aliases'"),
    "JSON record without a name": ("list.json", json.dumps({"results": [{"id": "1", "source": "EL", "name": "A"},
                                                                        {"id": "2", "source": "EL"}]}).encode(),
                                   "no name (results index 1)"),
    "JSON addresses of the wrong type": ("list.json", json.dumps({"results": [{"id": "1", "source": "EL", "name": "A",
                                                                               "addresses": 7}]}).encode(),
                                         "`addresses` should be a list"),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
def test_a_malformed_file_is_refused_and_the_previous_import_kept(loaded: ScreeningStore, tmp_path: Path,
                                                                  case: str) -> None:
    file_name, data, problem = BAD_FILES[case]
    before = loaded.path.read_bytes()
    bad = tmp_path / "incoming" / file_name
    bad.parent.mkdir()
    bad.write_bytes(data)
    with pytest.raises(ListFormatError) as refused:
        loaded.import_file(bad)
    assert problem in str(refused.value)
    assert loaded.path.read_bytes() == before
    assert sorted(p.name for p in loaded.directory.iterdir()) == ["list.json"]  # no temp file left
    assert loaded.screen("Hik Vision").hits[0].entry.name == ROWS[0]["name"]


def test_a_reordered_header_with_the_same_columns_is_read_by_name(store: ScreeningStore, tmp_path: Path) -> None:
    path = tmp_path / "reordered.csv"
    path.write_text(_csv_text(list(reversed(COLUMNS)), ROWS), encoding="utf-8")
    store.import_file(path)
    hit = store.screen("Zhejiang Dahua").hits[0]
    assert hit.entry.name == ROWS[1]["name"] and hit.entry.federal_register_notice == "84 FR 54005"


def test_a_tsv_file_and_a_byte_order_mark_are_accepted(store: ScreeningStore, tmp_path: Path) -> None:
    path = tmp_path / "consolidated.tsv"
    path.write_bytes(b"\xef\xbb\xbf" + "\n".join("\t".join(full_row(r)[c] if r else c for c in COLUMNS)
                                                for r in [{}, *ROWS]).encode())
    assert store.import_file(path).list_info.format == "tsv"
    assert store.screen("Megvii").hits[0].entry.name == ROWS[5]["name"]


def test_an_interrupted_write_leaves_the_previous_import(loaded: ScreeningStore, tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    before = loaded.path.read_bytes()

    def crash(src: object, dst: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError, match="disk full"):
        loaded.import_file(write_json(tmp_path / "new.json"))
    monkeypatch.undo()
    assert loaded.path.read_bytes() == before
    assert sorted(p.name for p in loaded.directory.iterdir()) == ["list.json"]


# -- never "no match" without a list -----------------------------------------------------------------

def test_without_a_list_the_answer_is_no_list_not_no_match(store: ScreeningStore) -> None:
    result = store.screen("Huawei Technologies")
    assert result.status == "no-list" and not result.screened
    assert result.hits == [] and result.list_info is None
    assert result.message.startswith("Not screened") and "regqa lists import" in result.message
    assert store.status().status == "no-list"


@pytest.mark.parametrize("damage", ["truncated", "garbage", "not JSON object", "other version", "count mismatch",
                                    "entry without name"])
def test_a_damaged_store_is_unreadable_not_no_match(loaded: ScreeningStore, tmp_path: Path, damage: str) -> None:
    text = loaded.path.read_text(encoding="utf-8")
    document = json.loads(text)
    if damage == "truncated":
        new = text[: len(text) // 2]
    elif damage == "garbage":
        new = "\x00\xff not json"
    elif damage == "not JSON object":
        new = "[]"
    elif damage == "other version":
        new = json.dumps({**document, "format_version": 99})
    elif damage == "count mismatch":
        new = json.dumps({**document, "entries": document["entries"][:-1]})
    else:
        del document["entries"][0]["name"]
        new = json.dumps(document)
    loaded.path.write_text(new, encoding="utf-8", errors="surrogateescape")
    result = loaded.screen("Hik Vision")
    assert result.status == "unreadable" and result.hits == [] and result.message.startswith("Not screened")
    state = loaded.status()
    assert state.status == "unreadable" and state.problem
    loaded.import_file(write_csv(tmp_path / "again.csv"))  # importing again repairs it
    assert loaded.screen("Hik Vision").status == "screened"


# -- matching ----------------------------------------------------------------------------------------

def test_names_are_normalised_before_comparison() -> None:
    assert tokens("N.S.O. Group") == ("nso",)
    assert tokens("Ürümqi Municipal PSB") == ("urumqi", "municipal", "public", "security", "bureau")
    assert tokens("Xinjiang Uighur Autonomous Region (XUAR) People's Government")[-2:] == ("peoples", "government")
    assert tokens("JOINT STOCK COMPANY ROSOBORONEXPORT") == ("joint", "stock", "rosoboronexport")
    assert tokens("Co., Ltd.") == ("co", "ltd")  # nothing but corporate words: kept rather than emptied
    assert tokens("Łódź Trading Sp. z o.o.")[:2] == ("lodz", "trading")
    assert similarity(NameForm.of("Hik Vision"), NameForm.of("Hikvision")) == 100
    assert similarity(NameForm.of("Prigozhin, Yevgeniy"), NameForm.of("Yevgeniy PRIGOZHIN")) == 100


def _measure(store: ScreeningStore, variants: list[tuple[str, str]], decoys: list[str]) -> tuple[float, float]:
    """Precision over every reported (query, entry) pair; recall over the variants."""
    correct = wrong = found = 0
    for query, expected in [*variants, *((d, None) for d in decoys)]:
        names = [h.entry.name for h in store.screen(query).hits]
        correct += names.count(expected) if expected else 0
        wrong += sum(name != expected for name in names)
        found += expected in names
    return correct / max(correct + wrong, 1), found / len(variants)


def test_precision_and_recall_on_name_variants_at_the_default_threshold(loaded: ScreeningStore) -> None:
    assert len(VARIANTS) == 30 and len(DECOYS) >= 10
    precision, recall = _measure(loaded, VARIANTS, DECOYS)
    print(f"\n30 variants + {len(DECOYS)} decoys at {loaded.settings.screening_threshold:g}: "
          f"precision {precision:.3f}, recall {recall:.3f}")
    assert precision >= 0.9 and recall >= 0.85
    held_precision, held_recall = _measure(loaded, HELD_OUT_VARIANTS, HELD_OUT_DECOYS)
    print(f"held-out {len(HELD_OUT_VARIANTS)} variants + {len(HELD_OUT_DECOYS)} decoys: "
          f"precision {held_precision:.3f}, recall {held_recall:.3f}")
    assert held_precision >= 0.8 and held_recall >= 0.7  # bounds fixed before the set was first run


def test_the_fast_search_finds_what_scoring_every_name_finds(loaded: ScreeningStore) -> None:
    index = loaded._load().index
    for query in [q for q, _ in VARIANTS + HELD_OUT_VARIANTS] + DECOYS + HELD_OUT_DECOYS:
        form = NameForm.of(query)
        every: dict[int, tuple[str, float]] = {}
        for entry, field, listed in index.names:
            score = similarity(form, listed)
            if entry not in every or score > every[entry][1]:
                every[entry] = (field, score)
        ranked = sorted(((e, f, s) for e, (f, s) in every.items()), key=lambda t: (-t[2], t[0]))
        for threshold in (0, 40, 60, 75, 85, 95):
            fast = [(m.entry, m.field, m.score) for m in index.search(query, threshold)]
            assert fast == [t for t in ranked if t[2] >= threshold], (query, threshold)


# -- command line --------------------------------------------------------------------------------------

@pytest.fixture
def cli(settings: Settings) -> Iterator[tuple[CliRunner, dict[str, str]]]:
    from regqa.cli import app

    runner = CliRunner()
    env = {"REGQA_DATA_DIR": str(settings.index_dir), "COLUMNS": "200", "REGQA_SCREENING_THRESHOLD": "85"}

    def run(*args: str):  # noqa: ANN202
        return runner.invoke(app, list(args), env=env)

    yield run, env


def test_cli_screen_lists_and_exit_codes(cli, tmp_path: Path, settings: Settings) -> None:  # noqa: ANN001
    run, _ = cli
    status = run("lists", "status")
    assert status.exit_code == 3 and "No screening list imported" in status.output
    not_screened = run("screen", "Huawei")
    assert not_screened.exit_code == 3 and "Not screened" in not_screened.output
    as_json = run("screen", "Huawei", "--json")
    assert as_json.exit_code == 3 and json.loads(as_json.stdout)["status"] == "no-list"

    bad = tmp_path / "bad.csv"
    bad.write_text(_csv_text(_renamed("name", "party_name"), ROWS), encoding="utf-8")
    refused = run("lists", "import", str(bad))
    assert refused.exit_code == 2 and "Not imported" in refused.output and "party_name" in refused.output
    assert "unchanged" in refused.output
    assert run("lists", "import", str(tmp_path / "missing.csv")).exit_code == 2

    imported = run("lists", "import", str(write_json(tmp_path / "consolidated.json")))
    assert imported.exit_code == 0, imported.output
    assert "18 entries" in imported.output and "last updated 2025-03-25" in imported.output
    listed = run("lists", "status", "--json")
    assert listed.exit_code == 0 and json.loads(listed.stdout)["list"]["entries"] == 18

    hit = run("screen", "Urumqi City PSB", "--country", "CN")
    assert hit.exit_code == 0
    for shown in ("alt_names[0]", "Urumqi Municipal Public Security Bureau", "84 FR 54005",
                  "For all items subject to the EAR.", "Presumption of denial.", "threshold 85", "2025-03-25",
                  "50 % rule"):
        assert shown in hit.output, shown
    record = json.loads(run("screen", "Urumqi City PSB", "--json").stdout)
    assert record["status"] == "screened" and record["hits"][0]["matched_field"] == "alt_names[0]"
    assert record["hits"][0]["entry"]["license_policy"] == "Presumption of denial."
    none = run("screen", "Bosch Security Systems")
    assert none.exit_code == 0 and "No name or alias scored 85" in none.output
    assert run("screen", "Huawei", "--country", "China").exit_code == 2
    assert run("screen", "Huawei", "--threshold", "150").exit_code == 2
    assert run("screen", "   ").exit_code == 2

    (settings.index_dir / "screening" / "list.json").write_text("{broken", encoding="utf-8")
    unreadable = run("screen", "Huawei")
    assert unreadable.exit_code == 4 and "cannot be read" in unreadable.output
    assert run("lists", "status").exit_code == 4


def test_cli_help_explains_screening(cli) -> None:  # noqa: ANN001
    run, _ = cli
    top = run("--help").output
    assert "screen" in top and "lists" in top
    screen_help = run("screen", "--help").output
    for words in ("alias", "--country", "--threshold", "--json", "ownership", "Exit codes"):
        assert words in screen_help, words
    assert "29 published columns" in run("lists", "import", "--help").output


# -- lists update against a loopback server ----------------------------------------------------------

class _ListServer(http.server.ThreadingHTTPServer):
    daemon_threads = True
    files: dict[str, tuple[int, str, bytes]]


class _Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802 - http.server's API
        status, content_type, body = self.server.files.get(self.path, (404, "text/plain", b"not found"))
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def list_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    for variable in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
        monkeypatch.delenv(variable, raising=False)
    server = _ListServer(("127.0.0.1", 0), _Handler)
    server.files = {
        "/v1/consolidated.csv": (200, "text/csv", write_csv(tmp_path / "served.csv").read_bytes()),
        "/v1/consolidated": (200, "application/json", write_json(tmp_path / "served.json").read_bytes()),
        "/v1/error": (500, "text/plain", b"internal error"),
        "/v1/page.csv": (200, "text/html", b"<html><body>Service unavailable</body></html>"),
    }
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_lists_update_downloads_and_imports(store: ScreeningStore, list_server: str) -> None:
    summary = update(store, f"{list_server}/v1/consolidated.csv")
    assert summary.list_info.source_url == f"{list_server}/v1/consolidated.csv"
    assert summary.list_info.file_name == "consolidated.csv" and summary.list_info.entries == len(ROWS)
    assert store.screen("Hik Vision").hits[0].entry.name == ROWS[0]["name"]
    # no extension in the URL: the content type says JSON
    assert update(store, f"{list_server}/v1/consolidated").list_info.format == "json"
    assert store.status().info.source_url.endswith("/v1/consolidated")


def test_lists_update_failures_keep_the_previous_import(loaded: ScreeningStore, list_server: str) -> None:
    before = loaded.path.read_bytes()
    with pytest.raises(ListDownloadError, match="ConnectError"):
        update(loaded, f"http://127.0.0.1:{_closed_port()}/consolidated.csv", timeout=10)
    with pytest.raises(ListDownloadError, match="HTTP 500"):
        update(loaded, f"{list_server}/v1/error")
    with pytest.raises(ListDownloadError, match="HTTP 404"):
        update(loaded, f"{list_server}/v1/missing.csv")
    with pytest.raises(ListFormatError, match="missing: _id"):  # an HTML error page served as the file
        update(loaded, f"{list_server}/v1/page.csv")
    with pytest.raises(ListDownloadError, match="not an http"):
        update(loaded, "ftp://example.org/list.csv")
    assert loaded.path.read_bytes() == before


def test_cli_lists_update(cli, list_server: str) -> None:  # noqa: ANN001
    run, _ = cli
    failed = run("lists", "update", "--url", f"http://127.0.0.1:{_closed_port()}/x.csv")
    assert failed.exit_code == 5 and "Download failed" in failed.output and "unchanged" in failed.output
    done = run("lists", "update", "--url", f"{list_server}/v1/consolidated.csv", "--json")
    assert done.exit_code == 0, done.output
    assert json.loads(done.stdout)["list_info"]["source_url"].endswith("/v1/consolidated.csv")
    assert run("lists", "update", "--url", f"{list_server}/v1/page.csv").exit_code == 2


# -- POST /v1/screen -------------------------------------------------------------------------------------

class _NoEmbedder:
    """The app needs an assistant; screening never embeds anything, so a stub stands in."""

    identity = "none"


def _client(settings: Settings):  # noqa: ANN202
    from fastapi.testclient import TestClient

    from assistant.service import Assistant
    from web.app import create_app

    return TestClient(create_app(settings, assistant=Assistant(settings, embedder=_NoEmbedder(), chat_model=None)))


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[object, ScreeningStore]]:
    """The real app (routes, auth, body guard, error handlers) over an empty index: nothing is embedded."""
    root = tmp_path_factory.mktemp("api")
    settings = Settings(data_dir=root / "data", corpus_dir=root / "corpus")
    with _client(settings) as client:
        yield client, ScreeningStore(settings)


def test_api_without_a_list_says_not_screened(api) -> None:  # noqa: ANN001
    client, store = api
    if store.path.exists():
        store.path.unlink()
    response = client.post("/v1/screen", json={"name": "Huawei"})
    assert response.status_code == 409
    body = response.json()["error"]
    assert body["code"] == "no_screening_list" and body["message"].startswith("Not screened")


def test_api_screens_and_reports_the_hit(api, tmp_path: Path) -> None:  # noqa: ANN001
    client, store = api
    store.import_file(write_json(tmp_path / "consolidated.json"))
    response = client.post("/v1/screen", json={"name": "Urumqi City Public Security Bureau", "country": "cn",
                                               "threshold": 90})
    assert response.status_code == 200
    record = response.json()
    assert record["status"] == "screened" and record["country"] == "CN" and record["threshold"] == 90
    hit = record["hits"][0]
    assert hit["matched_field"] == "alt_names[0]" and hit["score"] == 100 and hit["threshold"] == 90
    assert hit["entry"]["federal_register_notice"] == "84 FR 54005"
    assert hit["entry"]["license_requirement"] == "For all items subject to the EAR."
    assert hit["source_last_updated"] == "2025-03-25T12:00:00-04:00"
    assert record["list_info"]["sha256"] and "50 %" in record["reminder"]
    assert client.post("/v1/screen", json={"name": "Bosch Security Systems"}).json()["hits"] == []
    assert "/v1/screen" in client.get("/openapi.json").json()["paths"]


@pytest.mark.parametrize(("body", "where"), [
    ({"name": ""}, "body.name"),
    ({"name": "   "}, "body.name"),
    ({"name": "x" * 301}, "body.name"),
    ({"name": "Huawei", "country": "CHN"}, "body.country"),
    ({"name": "Huawei", "country": "1"}, "body.country"),
    ({"name": "Huawei", "threshold": 100.1}, "body.threshold"),
    ({"name": "Huawei", "threshold": -5}, "body.threshold"),
    ({"name": "Huawei", "threshold": "high"}, "body.threshold"),
    ({"name": 42}, "body.name"),
    ({}, "body.name"),
    ({"name": "Huawei", "fuzzy": True}, "body.fuzzy"),
])
def test_api_refuses_bad_requests_with_a_clear_4xx(api, body: dict, where: str) -> None:  # noqa: ANN001
    client, _ = api
    response = client.post("/v1/screen", json=body)
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "invalid_request" and where in [d["location"] for d in error["details"]]


def test_api_refuses_a_name_without_letters_and_a_non_json_body(api) -> None:  # noqa: ANN001
    client, _ = api
    response = client.post("/v1/screen", json={"name": "?!"})
    assert response.status_code == 422 and "no letters" in response.json()["error"]["message"]
    assert client.post("/v1/screen", content=b"name=Huawei",
                       headers={"content-type": "application/x-www-form-urlencoded"}).status_code == 422


def test_api_with_an_unreadable_list_says_not_screened(api, tmp_path: Path) -> None:  # noqa: ANN001
    client, store = api
    store.import_file(write_csv(tmp_path / "consolidated.csv"))
    store.path.write_text("{broken", encoding="utf-8")
    response = client.post("/v1/screen", json={"name": "Huawei"})
    assert response.status_code == 503 and response.json()["error"]["code"] == "screening_list_unreadable"


def test_api_screening_needs_a_key_when_keys_are_set(tmp_path: Path) -> None:
    from pydantic import SecretStr

    key = "read-key-0123456789abcdef"
    settings = Settings(data_dir=tmp_path / "data", api_keys=SecretStr(f"{key}:read"))
    ScreeningStore(settings).import_file(write_csv(tmp_path / "consolidated.csv"))
    with _client(settings) as client:
        assert client.post("/v1/screen", json={"name": "Huawei"}).status_code == 401
        allowed = client.post("/v1/screen", json={"name": "Huawei"}, headers={"Authorization": f"Bearer {key}"})
        assert allowed.status_code == 200 and allowed.json()["hits"][0]["entry"]["name"] == ROWS[14]["name"]
