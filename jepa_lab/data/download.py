"""Download the published datasets into a local cache, checked against pinned SHA-256 hashes.

Resume-safe: bytes land in `<file>.part`; a later call continues it with an HTTP Range request.
Atomic: the file appears under its real name (os.replace) only after its hash matched.
Bounded: `timeout` is a total deadline for a file (retries included), not a per-read limit, so
a server trickling bytes cannot hold a call for longer.
Verified: a cached file is hashed again once per process (and whenever its size or mtime
changes) before it is trusted.
Only urllib is used. Nothing here runs unless asked: the loaders never touch the network.
"""

from __future__ import annotations

import hashlib
import http.client
import os
import socket
import time
import urllib.error
import urllib.parse
import urllib.request
import warnings
from dataclasses import dataclass
from pathlib import Path

DEFAULT_BASE_URL = "https://raw.githubusercontent.com"
CHUNK = 1 << 16
DEFAULT_TIMEOUT = 120.0  # seconds for one file, all retries included


@dataclass(frozen=True)
class RemoteFile:
    """A published file: its path under the base URL, its cache path, and its SHA-256 (None
    where it has not been pinned yet: the download then warns with the hash it got)."""

    url_path: str
    cache_path: str
    sha256: str | None


# The LLM-JEPA task files, pinned to the commit the shared copies were taken from (not a branch
# head, whose files may change under the same name).
LLM_JEPA = "galilai-group/llm-jepa/6d7d0d1/datasets"
LLM_JEPA_SHA256 = {
    "gsm8k_test": "a5287ca8aa668fbf272df8b882dafbd41a93fc4710bf09c411ab482955353468",
    "hellaswag_test": "07835fa76c8bf513b5651cab8ee18f814331d49f9e6c6a63039be129c598c095",
    "nq_open_test": "77812745a8650ccf2b23e52dee0e8066b32189e48aaaccde37d08e0bb4ad0e6b",
    "nq_open_train": "a95d112bfc9ba1cbca37511003ca3bc7c5623d4e3187591aeea20273a83a7d37",
    "rotten_tomatoes_test": "adb522ad74f15238ac334274324deacebffbdd0266d892dac85a31bc51f12336",
    "rotten_tomatoes_train": "83cc99291f73fc059bca0b9b2562747a690c462a3a374681870ba5ac8bc6cde4",
    "spider_test": "9462b996c4859bdd27836a46489f741a48f0e8100da1534542d7a44dbab78fe7",
    "spider_train": "84e4b5f717100871e61ae38589e8f3d44dafab33b69c2d3b8e5ee38224070ba4",
    "turk_test": "5cab7cfadd071a15e0956cc32e1d4d1bbe99750868b8f064d55cc569f5aefbd3",
    "turk_train": "61d5d6df65a7a899c6f45948a37729bb84b84b4943750f8fa38c1042250ec664",
}

FILES: dict[str, RemoteFile] = {
    "nlrx-original/src": RemoteFile(
        "nicholaslocascio/deep-regex/master/datasets/NL-RX-Synth/src.txt",
        "nl-rx/original/NL-RX-Synth/src.txt",
        "df4cbf92812314bd98eabfd40ab345d262bce84decfb9b723a40efb541d82bf4",
    ),
    "nlrx-original/targ": RemoteFile(
        "nicholaslocascio/deep-regex/master/datasets/NL-RX-Synth/targ.txt",
        "nl-rx/original/NL-RX-Synth/targ.txt",
        "cf7c6126d2e1cbd4fbc171421dad1e7f2860f93f9153ea0eb24555d6ed5e8b67",
    ),
    "nlrx-jepa/train": RemoteFile(
        f"{LLM_JEPA}/synth_train.jsonl",
        "nl-rx/llm-jepa-split/synth_train.jsonl",
        "ca959f108fb5a9c363910bca46cd9de69ead3bac016ed2564c74be39ba634e46",
    ),
    "nlrx-jepa/test": RemoteFile(
        f"{LLM_JEPA}/synth_test.jsonl",
        "nl-rx/llm-jepa-split/synth_test.jsonl",
        "acfce67c9284bb97dc0b89ad9412b00f6464faf2dfbd2581dd4930140716e45d",
    ),
    # NL-RX-TURK as first published, at the deep-regex commit the shared data was taken from
    # (targ.txt is byte-identical to NL-RX-Synth's).
    "nlrx-turk/src": RemoteFile(
        "nicholaslocascio/deep-regex/096490d/datasets/NL-RX-Turk/src.txt",
        "nl-rx/original/NL-RX-Turk/src.txt",
        "c4abd0cf27ad44fabb8a1c198bc5698fae2424287d4b054b31f670f4c33dc81c",
    ),
    "nlrx-turk/targ": RemoteFile(
        "nicholaslocascio/deep-regex/096490d/datasets/NL-RX-Turk/targ.txt",
        "nl-rx/original/NL-RX-Turk/targ.txt",
        "cf7c6126d2e1cbd4fbc171421dad1e7f2860f93f9153ea0eb24555d6ed5e8b67",
    ),
    "gsm8k/train": RemoteFile(
        "openai/grade-school-math/master/grade_school_math/data/train.jsonl",
        "gsm8k/train.jsonl",
        "17f347dc51477c50d4efb83959dbb7c56297aba886e5544ee2aaed3024813465",
    ),
    "gsm8k/test": RemoteFile(
        "openai/grade-school-math/master/grade_school_math/data/test.jsonl",
        "gsm8k/test.jsonl",
        "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
    ),
    **{
        f"llm-jepa/{stem}": RemoteFile(
            f"{LLM_JEPA}/{stem}.jsonl", f"llm-jepa-datasets/{stem}.jsonl", sha256
        )
        for stem, sha256 in LLM_JEPA_SHA256.items()
    },
}
# Which files make up each downloadable dataset.
BUNDLES: dict[str, tuple[str, ...]] = {
    "nlrx": ("nlrx-jepa/train", "nlrx-jepa/test"),
    "nlrx-original": ("nlrx-original/src", "nlrx-original/targ"),
    "nlrx-turk": ("nlrx-turk/src", "nlrx-turk/targ"),
    "gsm8k": ("gsm8k/train", "gsm8k/test"),
    "gsm8k-llm-jepa": ("llm-jepa/gsm8k_test",),
    "turk": ("llm-jepa/turk_train", "llm-jepa/turk_test"),
    "spider": ("llm-jepa/spider_train", "llm-jepa/spider_test"),
    "nq_open": ("llm-jepa/nq_open_train", "llm-jepa/nq_open_test"),
    "hellaswag": ("llm-jepa/hellaswag_test",),  # no train file is published
    "rotten_tomatoes": ("llm-jepa/rotten_tomatoes_train", "llm-jepa/rotten_tomatoes_test"),
}


# Sizes in bytes of the pinned files (as the shared copies hold them). A transfer stops at
# SIZE_FACTOR times that, or at UNKNOWN_SIZE_LIMIT for a file of no known size: a server
# sending without end filled 1.1 GiB in 3 s before the hash could be checked.
KNOWN_SIZES = {
    "nlrx-original/src": 677234,
    "nlrx-original/targ": 269898,
    "nlrx-jepa/train": 2089621,
    "nlrx-jepa/test": 521305,
    "nlrx-turk/src": 615567,
    "nlrx-turk/targ": 269898,
    "gsm8k/train": 4166206,
    "gsm8k/test": 749738,
    "llm-jepa/gsm8k_test": 917251,
    "llm-jepa/hellaswag_test": 2957082,
    "llm-jepa/nq_open_test": 389655,
    "llm-jepa/nq_open_train": 1681867,
    "llm-jepa/rotten_tomatoes_test": 312587,
    "llm-jepa/rotten_tomatoes_train": 2488099,
    "llm-jepa/spider_test": 527336,
    "llm-jepa/spider_train": 2377836,
    "llm-jepa/turk_test": 509811,
    "llm-jepa/turk_train": 2039851,
}
SIZE_FACTOR = 4
UNKNOWN_SIZE_LIMIT = 256 << 20


def byte_limit(name: str) -> int:
    """The most bytes a download of FILES[name] may bring."""
    known = KNOWN_SIZES.get(name)
    return SIZE_FACTOR * known if known else UNKNOWN_SIZE_LIMIT


class ChecksumError(ValueError):
    """A downloaded file's SHA-256 is not the pinned one (the bad bytes were deleted)."""


class DownloadError(ConnectionError):
    """The transfer failed; any bytes received are kept in the .part file for the next call.

    ``deadline`` is True when the total timeout ran out (retrying then cannot help)."""

    def __init__(self, message: str, deadline: bool = False):
        super().__init__(message)
        self.deadline = deadline


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


# Cached files whose hash matched in this process, with the (size, mtime) they had then.
_verified: dict[Path, tuple[int, int]] = {}


def _signature(path: Path) -> tuple[int, int]:
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def verify_cached(path: str | Path, remote: RemoteFile) -> Path:
    """``path`` if its SHA-256 is ``remote``'s pinned one, else ChecksumError naming the file.

    Hashes once per process; later calls only compare size and mtime with the verified ones.
    """
    path = Path(path)
    key = path.resolve()
    if remote.sha256 is None or _verified.get(key) == _signature(path):
        return path  # an unpinned file has nothing to be checked against
    got = sha256_of(path)
    if got != remote.sha256:
        raise ChecksumError(
            f"cached file {path} does not match its pinned sha256 (expected {remote.sha256}, "
            f"got {got}): it changed after it was downloaded; delete it and download again "
            "(jepa-lab download <dataset>)"
        )
    _verified[key] = _signature(path)
    return path


def _full_url(base: str, remote: RemoteFile) -> str:
    """``base``/``remote.url_path``; a base that is not an http(s) URL is a DownloadError."""
    try:
        parts = urllib.parse.urlsplit(base)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:  # e.g. an unclosed [IPv6 bracket
        ok = False
    if not ok:
        raise DownloadError(
            f"base URL {base!r} (from base= or $JEPA_LAB_BASE_URL): expected "
            "http(s)://host[/path], e.g. https://raw.githubusercontent.com"
        )
    return f"{base.rstrip('/')}/{remote.url_path}"


def _left(deadline: float, url: str, part: Path, total: float) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        got = part.stat().st_size if part.exists() else 0
        raise DownloadError(
            f"{url}: not finished within the {total:g} s timeout ({got} bytes "
            f"so far); kept {part} to resume",
            deadline=True,
        )
    return left


def _socket_of(response) -> socket.socket | None:
    """The response's socket, so each read can wait only for the time left (urllib exposes
    no public handle; None just falls back to the per-read timeout given at connect)."""
    raw = getattr(getattr(response, "fp", None), "raw", None)
    sock = getattr(raw, "_sock", None)
    return sock if isinstance(sock, socket.socket) else None


def _transfer(
    url: str, part: Path, deadline: float, total: float, limit: int = UNKNOWN_SIZE_LIMIT
) -> None:
    """Append the rest of `url` to `part` (Range from its current size) before ``deadline``
    (time.monotonic); raise DownloadError on a failed, short or late transfer, keeping what
    arrived, and on one past ``limit`` bytes, deleting it."""
    have = part.stat().st_size if part.exists() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "jepa-lab"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=_left(deadline, url, part, total))
    except urllib.error.HTTPError as e:
        if e.code == 416 and have:  # nothing left to fetch: the .part is already whole
            return
        raise DownloadError(f"{url}: HTTP {e.code} {e.reason}") from e
    except (urllib.error.URLError, OSError, ValueError, http.client.HTTPException) as e:
        raise DownloadError(f"{url}: {getattr(e, 'reason', e)}") from e
    with response:
        resumed = have and response.status == 206
        expected = response.headers.get("Content-Length")
        base = have if resumed else 0
        if expected is not None and expected.isdigit() and base + int(expected) > limit:
            part.unlink(missing_ok=True)
            raise _too_big(url, base + int(expected), limit)
        sock = _socket_of(response)
        got = 0
        with open(part, "ab" if resumed else "wb") as out:
            try:
                while True:
                    if sock is not None:
                        sock.settimeout(_left(deadline, url, part, total))
                    block = response.read1(CHUNK)  # one socket read: never waits for a full CHUNK
                    if not block:
                        break
                    if base + got + len(block) > limit:
                        out.close()
                        part.unlink(missing_ok=True)
                        raise _too_big(url, base + got + len(block), limit)
                    out.write(block)
                    got += len(block)
                    out.flush()
                    _left(deadline, url, part, total)
            except DownloadError:  # past the byte cap (an OSError too): already said
                raise
            except (http.client.IncompleteRead, OSError) as e:
                late = isinstance(e, TimeoutError) or time.monotonic() >= deadline
                what = (
                    f"not finished within the {total:g} s timeout" if late else "connection dropped"
                )
                raise DownloadError(
                    f"{url}: {what} after {got} bytes; kept {part} to resume", deadline=late
                ) from e
        if expected is not None and got < int(expected):
            raise DownloadError(f"{url}: got {got} of {expected} bytes; kept {part} to resume")


def _too_big(url: str, size: int, limit: int) -> DownloadError:
    return DownloadError(
        f"{url}: more than {limit} bytes ({size} so far), past the cap for this file "
        f"({SIZE_FACTOR}x its known size); stopped and deleted what arrived",
        deadline=True,  # retrying would only fetch the same again
    )


def fetch(
    name: str,
    cache: str | Path | None = None,
    base: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = 2,
) -> Path:
    """Path of the verified cached copy of FILES[name], downloading it if needed.

    A cached file is checked against its pinned hash (once per process); one that fails is
    replaced by a fresh download, with a warning. ``timeout`` bounds the whole call, retries
    included. A failed transfer is retried `retries` times, resuming from the .part file.
    """
    if name not in FILES:
        raise KeyError(f"unknown file {name!r}; known: {sorted(FILES)}")
    if not timeout > 0:
        raise ValueError(f"timeout={timeout!r}: expected a positive number of seconds")
    deadline = time.monotonic() + timeout
    remote = FILES[name]
    target = Path(cache or cache_dir()) / remote.cache_path
    if target.exists():
        try:
            return verify_cached(target, remote)
        except ChecksumError as err:
            warnings.warn(f"{err}; downloading it again", stacklevel=2)
            target.unlink()
    url = _full_url(base or base_url(), remote)
    target.parent.mkdir(parents=True, exist_ok=True)
    part = target.with_name(target.name + ".part")
    for attempt in range(retries + 1):
        try:
            _transfer(url, part, deadline, timeout, limit=byte_limit(name))
            break
        except DownloadError as err:
            if attempt == retries or err.deadline:
                raise
    got = sha256_of(part)
    if remote.sha256 is None:
        warnings.warn(
            f"{url}: no pinned sha256 for {name!r}, so it is unchecked; it has sha256 "
            f"{got} (pin that in FILES once the file is known good)",
            stacklevel=2,
        )
    elif got != remote.sha256:
        part.unlink()
        raise ChecksumError(
            f"checksum mismatch for {url}: expected sha256 {remote.sha256}, "
            f"got {got}; the download was deleted"
        )
    os.replace(part, target)
    _verified[target.resolve()] = _signature(target)
    return target


def download(
    dataset: str,
    cache: str | Path | None = None,
    base: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    retries: int = 2,
) -> Path:
    """Fetch every file of `dataset` (a key of BUNDLES); return the cache root, which
    load_dataset(..., data_dir=root) reads. ``timeout`` bounds each file."""
    if dataset not in BUNDLES:
        raise KeyError(f"unknown dataset {dataset!r}; known: {sorted(BUNDLES)}")
    for name in BUNDLES[dataset]:
        fetch(name, cache, base, timeout, retries)
    return Path(cache or cache_dir())
