"""Download the published datasets into a local cache, checked against pinned SHA-256 hashes.

Resume-safe: bytes land in `<file>.part`; a later call continues it with an HTTP Range request.
Atomic: the file appears under its real name (os.replace) only after its hash matched.
Only urllib is used. Nothing here runs unless asked: the loaders never touch the network.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
CHUNK = 1 << 16


@dataclass(frozen=True)
class RemoteFile:
    """A published file: its path under the base URL, its cache path, and its SHA-256."""

    url_path: str
    cache_path: str
    sha256: str


FILES: dict[str, RemoteFile] = {
    "nlrx-original/src": RemoteFile(
        "nicholaslocascio/deep-regex/master/datasets/NL-RX-Synth/src.txt",
        "nl-rx/original/NL-RX-Synth/src.txt",
        "df4cbf92812314bd98eabfd40ab345d262bce84decfb9b723a40efb541d82bf4"),
    "nlrx-original/targ": RemoteFile(
        "nicholaslocascio/deep-regex/master/datasets/NL-RX-Synth/targ.txt",
        "nl-rx/original/NL-RX-Synth/targ.txt",
        "cf7c6126d2e1cbd4fbc171421dad1e7f2860f93f9153ea0eb24555d6ed5e8b67"),
    "nlrx-jepa/train": RemoteFile(
        "galilai-group/llm-jepa/main/datasets/synth_train.jsonl",
        "nl-rx/llm-jepa-split/synth_train.jsonl",
        "ca959f108fb5a9c363910bca46cd9de69ead3bac016ed2564c74be39ba634e46"),
    "nlrx-jepa/test": RemoteFile(
        "galilai-group/llm-jepa/main/datasets/synth_test.jsonl",
        "nl-rx/llm-jepa-split/synth_test.jsonl",
        "acfce67c9284bb97dc0b89ad9412b00f6464faf2dfbd2581dd4930140716e45d"),
    "gsm8k/train": RemoteFile(
        "openai/grade-school-math/master/grade_school_math/data/train.jsonl",
        "gsm8k/train.jsonl",
        "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465"),
    "gsm8k/test": RemoteFile(
        "openai/grade-school-math/master/grade_school_math/data/test.jsonl",
        "gsm8k/test.jsonl",
        "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14"),
}
# Which files make up each downloadable dataset.
BUNDLES: dict[str, tuple[str, ...]] = {
    "nlrx": ("nlrx-jepa/train", "nlrx-jepa/test"),
    "nlrx-original": ("nlrx-original/src", "nlrx-original/targ"),
    "gsm8k": ("gsm8k/train", "gsm8k/test"),
}


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 is not the pinned one (the bad bytes were deleted)."""


class DownloadError(ConnectionError):
    """The transfer failed; any bytes received are kept in the .part file for the next call."""


def cache_dir() -> Path:
    """Where downloads go: $JEPA_LAB_CACHE, else ~/.cache/jepa-lab."""
    return Path(os.environ.get("JEPA_LAB_CACHE") or Path.home() / ".cache" / "jepa-lab")


def base_url() -> str:
    """$JEPA_LAB_BASE_URL (a mirror, or a test server), else raw.githubusercontent.com."""
    return os.environ.get("JEPA_LAB_BASE_URL") or DEFAULT_BASE_URL


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


def _transfer(url: str, part: Path, timeout: float) -> None:
    """Append the rest of `url` to `part` (Range from its current size); raise DownloadError on
    a failed or short transfer, keeping what arrived."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "jepa-lab"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to fetch: the .part is already whole
            return
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError) as e:
        raise DownloadError(f"{url}: {getattr(e, 'reason', e)}") from e
    with response:
        resumed = have and response.status == 206
        expected = response.headers.get("Content-Length")
        got = 0
        with open(part, "ab" if resumed else "wb") as out:
            try:
                while block := response.read(CHUNK):
                    out.write(block)
                    got += len(block)
            except (http.client.IncompleteRead, OSError) as e:
                raise DownloadError(f"{url}: connection dropped after {got} bytes; "
                                    f"kept {part} to resume") from e
        if expected is not None and got < int(expected):
            raise DownloadError(f"{url}: got {got} of {expected} bytes; kept {part} to resume")


def fetch(name: str, cache: str | Path | None = None, base: str | None = None,
          timeout: float = 30.0, retries: int = 2) -> Path:
    """Path of the verified cached copy of FILES[name], downloading it if needed.

    A cached file is trusted (it was hash-checked before it got its name). A failed transfer is
    retried `retries` times, resuming from the .part file.
    """
    if name not in FILES:
        raise KeyError(f"unknown file {name!r}; known: {sorted(FILES)}")
    remote = FILES[name]
    target = Path(cache or cache_dir()) / remote.cache_path
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    url = f"{(base or base_url()).rstrip('/')}/{remote.url_path}"
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, timeout)
            break
        except DownloadError:
            if attempt == retries:
                raise
    got = sha256_of(part)
    if got != remote.sha256:
        part.unlink()
        raise ChecksumError(f"checksum mismatch for {url}: expected sha256 {remote.sha256}, "
                            f"got {got}; the download was deleted")
    os.replace(part, target)
    return target


def download(dataset: str, cache: str | Path | None = None, base: str | None = None,
             timeout: float = 30.0, retries: int = 2) -> Path:
    """Fetch every file of `dataset` ('nlrx', 'nlrx-original', 'gsm8k'); return the cache root,
    which load_dataset(..., data_dir=root) reads."""
    if dataset not in BUNDLES:
        raise KeyError(f"unknown dataset {dataset!r}; known: {sorted(BUNDLES)}")
    for name in BUNDLES[dataset]:
        fetch(name, cache, base, timeout, retries)
    return Path(cache or cache_dir())
