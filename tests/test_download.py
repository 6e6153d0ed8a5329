"""Downloads against a loopback HTTP server: verify, atomic, resume with Range, cache hits.

No test touches a non-loopback address: every fetch gets the server's 127.0.0.1 base URL.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
from pathlib import Path

import pytest

from jepa_lab.data import download as dl

SHARED = Path(os.environ.get("JEPA_LAB_SHARED_DATA")
              or Path(__file__).resolve().parents[2] / "shared" / "data")
PAYLOAD = "".join(f"line {i}: lines with a number before the string 'dog'\n"
                  for i in range(4000)).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves `files` (url path -> bytes) with Range support; `mode` can corrupt or drop."""

    files: dict[str, bytes] = {}
    mode = "ok"  # "ok" | "corrupt" | "drop-once"
    log: list[tuple[str, str | None]] = []

    def do_GET(self):  # noqa: N802 (http.server's naming)
        type(self).log.append((self.path, self.headers.get("Range")))
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        if self.mode == "corrupt":
            body = body[:-10] + b"X" * 10
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.removeprefix("bytes=").split("-")[0])
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        rest = body[start:]
        self.send_header("Content-Length", str(len(rest)))
        self.end_headers()
        if self.mode == "drop-once":
            type(self).mode = "ok"
            self.wfile.write(rest[: len(rest) // 3])  # then the connection closes early
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(rest)

    def log_message(self, *args):  # keep test output quiet
        pass


@pytest.fixture
def server():
    Handler.files, Handler.mode, Handler.log = {}, "ok", []
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def remote(monkeypatch):
    """A registered file whose pinned hash is that of PAYLOAD."""
    entry = dl.RemoteFile("owner/repo/main/data/sample.txt", "sample/sample.txt",
                          hashlib.sha256(PAYLOAD).hexdigest())
    monkeypatch.setitem(dl.FILES, "test/sample", entry)
    Handler.files = {"/" + entry.url_path: PAYLOAD}
    return entry


def test_good_download_lands_in_cache_then_cache_hit(server, remote, tmp_path):
    path = dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5)
    assert path == tmp_path / "sample" / "sample.txt" and path.read_bytes() == PAYLOAD
    assert not path.with_name("sample.txt.part").exists()
    requests = len(Handler.log)
    Handler.files = {}  # the server now has nothing: a cache hit must not ask it
    assert dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5) == path
    assert len(Handler.log) == requests


def test_corrupt_file_fails_checksum_and_leaves_nothing(server, remote, tmp_path):
    Handler.mode = "corrupt"
    with pytest.raises(dl.ChecksumError) as info:
        dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5)
    message = str(info.value)
    bad = PAYLOAD[:-10] + b"X" * 10
    assert f"{server}/{remote.url_path}" in message and remote.sha256 in message
    assert hashlib.sha256(bad).hexdigest() in message
    assert list((tmp_path / "sample").iterdir()) == []  # neither the file nor a .part


def test_dropped_connection_keeps_part_and_resumes_with_range(server, remote, tmp_path):
    Handler.mode = "drop-once"
    with pytest.raises(dl.DownloadError, match="resume"):
        dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5, retries=0)
    part = tmp_path / "sample" / "sample.txt.part"
    target = tmp_path / "sample" / "sample.txt"
    assert part.exists() and not target.exists()
    kept = part.stat().st_size
    assert 0 < kept < len(PAYLOAD) and PAYLOAD.startswith(part.read_bytes())
    path = dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5, retries=0)
    assert path.read_bytes() == PAYLOAD and not part.exists()
    assert Handler.log[-1][1] == f"bytes={kept}-"  # the second call asked only for the rest


def test_retries_resume_within_one_call(server, remote, tmp_path):
    Handler.mode = "drop-once"
    path = dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5, retries=1)
    assert path.read_bytes() == PAYLOAD
    assert [r for _, r in Handler.log][0] is None and Handler.log[1][1].startswith("bytes=")


def test_http_error_is_a_download_error(server, remote, tmp_path):
    Handler.files = {}
    with pytest.raises(dl.DownloadError, match="HTTP 404"):
        dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5, retries=0)


def test_unreachable_server_fails_fast(tmp_path, remote):
    # a port nobody listens on, on loopback: refused at once, no hang
    with pytest.raises(dl.DownloadError):
        dl.fetch("test/sample", cache=tmp_path, base="http://127.0.0.1:9", timeout=2,
                 retries=0)


def test_env_vars_choose_cache_and_base(monkeypatch, tmp_path):
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path))
    monkeypatch.setenv("JEPA_LAB_BASE_URL", "http://127.0.0.1:1")
    assert dl.cache_dir() == tmp_path and dl.base_url() == "http://127.0.0.1:1"
    monkeypatch.delenv("JEPA_LAB_CACHE")
    assert dl.cache_dir() == Path.home() / ".cache" / "jepa-lab"
    with pytest.raises(KeyError, match="unknown file"):
        dl.fetch("nope")


def test_pinned_urls_are_the_published_ones():
    urls = {f"{dl.DEFAULT_BASE_URL}/{f.url_path}" for f in dl.FILES.values()}
    assert "https://raw.githubusercontent.com/galilai-group/llm-jepa/main/datasets/" \
           "synth_train.jsonl" in urls
    assert "https://raw.githubusercontent.com/openai/grade-school-math/master/" \
           "grade_school_math/data/test.jsonl" in urls
    assert all(len(f.sha256) == 64 for f in dl.FILES.values())


@pytest.mark.skipif(not (SHARED / "gsm8k" / "test.jsonl").exists(), reason="shared data absent")
def test_real_bundles_verify_against_pinned_hashes(server, tmp_path, monkeypatch):
    """Serve the shared copies under their published paths: every pinned hash matches, and
    load_dataset(source='download') reads the result."""
    Handler.files = {"/" + f.url_path: (SHARED / f.cache_path).read_bytes()
                     for f in dl.FILES.values()}
    for bundle in dl.BUNDLES:
        root = dl.download(bundle, cache=tmp_path, base=server, timeout=10)
        assert root == tmp_path
    for f in dl.FILES.values():
        assert dl.sha256_of(tmp_path / f.cache_path) == f.sha256
    from jepa_lab.data import load_dataset

    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path))
    monkeypatch.setenv("JEPA_LAB_BASE_URL", server)
    monkeypatch.delenv("JEPA_LAB_DATA_DIR", raising=False)
    assert len(load_dataset("gsm8k", "test", source="download")) == 1319


@pytest.mark.skipif(not (SHARED / "gsm8k" / "test.jsonl").exists(), reason="shared data absent")
def test_cli_download_fetches_into_the_cache(server, tmp_path, monkeypatch, capsys):
    from jepa_lab.cli import main

    Handler.files = {"/" + f.url_path: (SHARED / f.cache_path).read_bytes()
                     for f in dl.FILES.values()}
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path))
    monkeypatch.setenv("JEPA_LAB_BASE_URL", server)
    assert main(["download", "gsm8k"]) == 0
    assert f"cached under {tmp_path}" in capsys.readouterr().out
    for name in ("train.jsonl", "test.jsonl"):
        assert dl.sha256_of(tmp_path / "gsm8k" / name) == dl.FILES[f"gsm8k/{name[:-6]}"].sha256
