"""NL-RX-TURK is its own dataset: load_dataset('nlrx-turk'), labelled TURK, downloadable, and a
clear error when it is asked for offline."""

from __future__ import annotations

import http.server
import json
import threading
from pathlib import Path

import pytest

from jepa_lab.data import DownloadError, load_dataset, load_nlrx_chat
from jepa_lab.data import download as dl

# Ten made-up lines in the published layout (the real files are not in the shared data).
DESCRIPTIONS = [f"lines with the string 'dog' at least {i} times" for i in range(10)]
REGEXES = [f"(.*dog.*){{{i},}}" for i in range(10)]


def _write_turk(root: Path) -> Path:
    folder = root / "nl-rx" / "original" / "NL-RX-Turk"
    folder.mkdir(parents=True)
    (folder / "src.txt").write_text("\n".join(DESCRIPTIONS) + "\n", encoding="utf-8")
    (folder / "targ.txt").write_text("\n".join(REGEXES) + "\n", encoding="utf-8")
    return folder


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """No local copy anywhere and no reachable network."""
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("JEPA_LAB_DATA_DIR", raising=False)
    monkeypatch.setenv("JEPA_LAB_BASE_URL", "http://127.0.0.1:1")


def test_turk_is_its_own_dataset_with_turk_labels(tmp_path, offline):
    _write_turk(tmp_path)
    train = load_dataset("nlrx-turk", "train", data_dir=tmp_path)
    test = load_dataset("nlrx-turk", "test", data_dir=tmp_path)
    assert (len(train), len(test)) == (8, 2)  # the seeded 80/20 split
    assert {e.code for e in train} | {e.code for e in test} == set(REGEXES)
    for example in [*train, *test]:
        assert example.source == "nl-rx/original/NL-RX-Turk"
        line = int(example.id.removeprefix("nlrx-turk/"))
        assert (example.text, example.code) == (DESCRIPTIONS[line - 1], REGEXES[line - 1])
    again = load_dataset("nlrx-turk", "test", data_dir=tmp_path)
    assert [e.id for e in again] == [e.id for e in test]


def test_chat_file_named_turk_is_labelled_turk_and_synth_keeps_its_labels(tmp_path):
    record = {
        "messages": [
            {"role": "system", "content": "s"},
            {"role": "user", "content": "lines with 'dog'"},
            {"role": "assistant", "content": ".*dog.*"},
        ]
    }
    for name in ("turk_test.jsonl", "synth_test.jsonl"):
        (tmp_path / name).write_text(json.dumps(record) + "\n", encoding="utf-8")
    (turk,) = load_nlrx_chat(tmp_path / "turk_test.jsonl")
    (synth,) = load_nlrx_chat(tmp_path / "synth_test.jsonl")
    assert (turk.id, turk.source) == ("nlrx-jepa-turk/test/00000", "nl-rx/llm-jepa-split/turk")
    assert (synth.id, synth.source) == ("nlrx-jepa/test/00000", "nl-rx/llm-jepa-split")
    (forced,) = load_nlrx_chat(tmp_path / "synth_test.jsonl", corpus="turk")
    assert forced.source == "nl-rx/llm-jepa-split/turk"
    with pytest.raises(ValueError, match="corpus must be one of"):
        load_nlrx_chat(tmp_path / "synth_test.jsonl", corpus="TURK")


def test_turk_offline_says_where_it_looked_and_what_to_do(offline):
    with pytest.raises(FileNotFoundError, match="no local copy of NL-RX-TURK") as err:
        load_dataset("nlrx-turk", "train")
    assert "source='download'" in str(err.value) and "empty-cache" in str(err.value)
    with pytest.raises(ValueError, match="no generator for NL-RX-TURK"):
        load_dataset("nlrx-turk", "train", source="generated")
    with pytest.raises(DownloadError, match="NL-RX-Turk/src.txt"):
        load_dataset("nlrx-turk", "train", source="download")


class _Files(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}

    def do_GET(self):  # noqa: N802 (http.server's naming)
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def _serve_turk(folder: Path):
    _Files.files = {
        "/" + dl.FILES[f"nlrx-turk/{n}"].url_path: (folder / f"{n}.txt").read_bytes()
        for n in ("src", "targ")
    }
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Files)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def _point_at(server, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("JEPA_LAB_BASE_URL", f"http://127.0.0.1:{server.server_port}")
    monkeypatch.delenv("JEPA_LAB_DATA_DIR", raising=False)


def test_turk_download_is_pinned_so_other_bytes_are_refused(tmp_path, monkeypatch):
    """The published src.txt's SHA-256 is pinned now: made-up files under its URL fail."""
    server = _serve_turk(_write_turk(tmp_path / "published"))
    try:
        _point_at(server, tmp_path, monkeypatch)
        with pytest.raises(dl.ChecksumError, match="checksum mismatch.*NL-RX-Turk/src.txt"):
            load_dataset("nlrx-turk", "train", source="download")
    finally:
        server.shutdown()


def test_an_unpinned_file_downloads_with_a_warning_naming_its_hash(tmp_path, monkeypatch):
    from dataclasses import replace

    for n in ("src", "targ"):  # what fetch() does for a file whose hash is still unknown
        key = f"nlrx-turk/{n}"
        monkeypatch.setitem(dl.FILES, key, replace(dl.FILES[key], sha256=None))
    server = _serve_turk(_write_turk(tmp_path / "published"))
    try:
        _point_at(server, tmp_path, monkeypatch)
        with pytest.warns(UserWarning, match=r"(?s)nlrx-turk/src.*sha256 [0-9a-f]{64}"):
            data = load_dataset("nlrx-turk", "train", source="download")
    finally:
        server.shutdown()
    assert len(data) == 8 and data[0].source == "nl-rx/original/NL-RX-Turk"
