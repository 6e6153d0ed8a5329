"""Downloads against a loopback HTTP server: verify, atomic, resume with Range, cache hits.

No test touches a non-loopback address: every fetch gets the server's 127.0.0.1 base URL.
"""

from __future__ import annotations

import hashlib
import http.server
import os
import threading
import time
from pathlib import Path

import pytest

from jepa_lab.data import download as dl

SHARED = Path(
    os.environ.get("JEPA_LAB_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
PAYLOAD = "".join(
    f"line {i}: lines with a number before the string 'dog'\n" for i in range(4000)
).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    """Serves `files` (url path -> bytes) with Range support; `mode` can corrupt or drop."""

    files: dict[str, bytes] = {}
    mode = "ok"  # "ok" | "corrupt" | "drop-once" | "trickle"
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
        if self.mode == "trickle":  # a byte every 20 ms: each read succeeds, the whole never ends
            for i in range(len(rest)):
                try:
                    self.wfile.write(rest[i : i + 1])
                    self.wfile.flush()
                except OSError:  # the client gave up
                    return
                time.sleep(0.02)
            return
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
    entry = dl.RemoteFile(
        "owner/repo/main/data/sample.txt", "sample/sample.txt", hashlib.sha256(PAYLOAD).hexdigest()
    )
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
        dl.fetch("test/sample", cache=tmp_path, base="http://127.0.0.1:9", timeout=2, retries=0)


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
    assert (
        "https://raw.githubusercontent.com/galilai-group/llm-jepa/6d7d0d1/datasets/"
        "synth_train.jsonl" in urls
    )
    assert (
        "https://raw.githubusercontent.com/openai/grade-school-math/master/"
        "grade_school_math/data/test.jsonl" in urls
    )
    assert all(len(f.sha256) == 64 for f in dl.FILES.values() if f.sha256 is not None)
    assert [k for k, f in dl.FILES.items() if f.sha256 is None] == []  # every file is pinned
    # The LLM-JEPA files come from one commit, never a branch head that may move.
    llm_jepa = [f.url_path for f in dl.FILES.values() if "llm-jepa" in f.url_path]
    assert llm_jepa and all("/llm-jepa/6d7d0d1/datasets/" in u for u in llm_jepa)


@pytest.mark.skipif(not (SHARED / "gsm8k" / "test.jsonl").exists(), reason="shared data absent")
def test_real_bundles_verify_against_pinned_hashes(server, tmp_path, monkeypatch):
    """Serve the shared copies under their published paths: every pinned hash matches, and
    load_dataset(source='download') reads the result."""
    Handler.files = {
        "/" + f.url_path: (SHARED / f.cache_path).read_bytes()
        for f in dl.FILES.values()
        if (SHARED / f.cache_path).exists()
    }
    for bundle, names in dl.BUNDLES.items():
        if all(dl.FILES[name].sha256 for name in names):  # not the unpinned NL-RX-TURK
            root = dl.download(bundle, cache=tmp_path, base=server, timeout=10)
            assert root == tmp_path
    for f in dl.FILES.values():
        if f.sha256 is not None:
            assert dl.sha256_of(tmp_path / f.cache_path) == f.sha256
    from jepa_lab.data import load_dataset

    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path))
    monkeypatch.setenv("JEPA_LAB_BASE_URL", server)
    monkeypatch.delenv("JEPA_LAB_DATA_DIR", raising=False)
    assert len(load_dataset("gsm8k", "test", source="download")) == 1319


@pytest.mark.skipif(not (SHARED / "gsm8k" / "test.jsonl").exists(), reason="shared data absent")
def test_cli_download_fetches_into_the_cache(server, tmp_path, monkeypatch, capsys):
    from jepa_lab.cli import main

    Handler.files = {
        "/" + f.url_path: (SHARED / f.cache_path).read_bytes()
        for f in dl.FILES.values()
        if (SHARED / f.cache_path).exists()
    }
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path))
    monkeypatch.setenv("JEPA_LAB_BASE_URL", server)
    assert main(["download", "gsm8k"]) == 0
    assert f"cached under {tmp_path}" in capsys.readouterr().out
    for name in ("train.jsonl", "test.jsonl"):
        assert dl.sha256_of(tmp_path / "gsm8k" / name) == dl.FILES[f"gsm8k/{name[:-6]}"].sha256


def test_trickling_server_is_cut_at_the_total_deadline(server, remote, tmp_path):
    """Every socket read succeeds (a byte each 20 ms), so only a total deadline stops it:
    timeout=1 with 2 retries must end in about a second, not after the whole payload."""
    Handler.mode = "trickle"
    start = time.monotonic()
    with pytest.raises(dl.DownloadError, match=r"not finished within the 1 s timeout") as info:
        dl.fetch("test/sample", cache=tmp_path, base=server, timeout=1, retries=2)
    elapsed = time.monotonic() - start
    assert elapsed < 2.5, f"held for {elapsed:.1f} s with timeout=1"
    assert info.value.deadline and "kept" in str(info.value)
    part = tmp_path / "sample" / "sample.txt.part"
    assert 0 < part.stat().st_size < len(PAYLOAD)  # what arrived is kept for a later resume
    assert len(Handler.log) == 1  # no retry once the deadline is spent


@pytest.mark.parametrize(
    "base", ["htp//mirror", "not a url", "http://[::1", "ftp://host/x", "http://"]
)
def test_malformed_base_url_is_a_download_error(remote, tmp_path, base):
    with pytest.raises(dl.DownloadError, match="base URL") as info:
        dl.fetch("test/sample", cache=tmp_path, base=base, timeout=2, retries=0)
    assert repr(base) in str(info.value) and "http(s)://host" in str(info.value)
    assert not (tmp_path / "sample").exists()  # nothing written for a URL that cannot work


def test_tampered_cache_file_is_detected_and_fetched_again(server, remote, tmp_path):
    path = dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5)
    path.write_bytes(PAYLOAD[:-5] + b"EVIL\n")  # changed after download: size and hash differ
    with pytest.warns(UserWarning, match="does not match its pinned sha256"):
        again = dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5)
    assert again.read_bytes() == PAYLOAD
    assert Handler.log[-1] == ("/" + remote.url_path, None)  # a fresh, whole download


def test_same_size_tamper_is_caught_by_the_hash(remote, tmp_path):
    dl._verified.clear()  # a new process: nothing verified yet
    path = tmp_path / remote.cache_path
    path.parent.mkdir(parents=True)
    path.write_bytes(PAYLOAD.replace(b"dog", b"cat", 1))  # same size, different bytes
    with pytest.raises(dl.ChecksumError, match=str(path)):
        dl.verify_cached(path, remote)


def test_cached_file_is_hashed_once_per_process(server, remote, tmp_path, monkeypatch):
    path = dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5)
    dl._verified.clear()  # as if a new process started with the file already cached
    hashed = []
    real = dl.sha256_of
    monkeypatch.setattr(dl, "sha256_of", lambda p: hashed.append(p) or real(p))
    for _ in range(3):
        assert dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5) == path
    assert hashed == [path]
    os.utime(path, ns=(1, 1))  # touched since: hash it again
    dl.fetch("test/sample", cache=tmp_path, base=server, timeout=5)
    assert len(hashed) == 2


def test_loaders_refuse_a_changed_file_in_the_download_cache(monkeypatch, tmp_path):
    """load_dataset reads the cache without the network; a cached file that no longer has its
    pinned hash is an error naming the file, not silently different data."""
    from jepa_lab.data import load_dataset

    remote = dl.FILES["gsm8k/test"]
    path = tmp_path / remote.cache_path
    path.parent.mkdir(parents=True)
    path.write_text('{"question": "Q?", "answer": "#### 1"}\n', encoding="utf-8")
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path))
    monkeypatch.delenv("JEPA_LAB_DATA_DIR", raising=False)
    with pytest.raises(dl.ChecksumError, match=rf"cached file {path} does not match"):
        load_dataset("gsm8k", "test")
    # the same bytes as the user's own copy (data_dir) are read as they are
    mine = tmp_path / "mine" / remote.cache_path
    mine.parent.mkdir(parents=True)
    mine.write_bytes(path.read_bytes())
    assert len(load_dataset("gsm8k", "test", data_dir=tmp_path / "mine")) == 1
