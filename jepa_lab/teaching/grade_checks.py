"""What the grader checks outside the sandbox: the instructor's autograder zip (read once, hashed),
and each submission's reported scores and test files against it.

A submission's kernel runs otter's tests, so everything it leaves behind (results, test files)
is the student's to forge. The grader takes a score only if every question is one the zip has,
every score is between 0 and that question's points in the zip, and every test file otter ran
is byte for byte the zip's; otherwise the row is invalid, with the reason.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import stat
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

MAX_ZIP_BYTES = 256 << 20
MAX_RESULTS_BYTES = 16 << 20


@dataclass(frozen=True)
class Autograder:
    """The instructor's zip as read at the start: its bytes (what every sandbox gets a copy of),
    their SHA-256, the points per question and the SHA-256 of every ``tests/*.py``."""

    path: Path
    data: bytes
    sha256: str
    points: dict[str, float]
    tests: dict[str, str]  # file name (q1.py) -> sha256

    def changed_on_disk(self) -> str | None:
        """None if the zip on disk is still what was read, else a one-line description."""
        try:
            now = hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError as err:
            return f"{self.path}: no longer readable ({err})"
        if now != self.sha256:
            return f"{self.path} changed during grading (sha256 {self.sha256[:12]} -> {now[:12]})"
        return None


def load_autograder(path: Path | str) -> Autograder:
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"autograder zip not found: {path}")
    data = path.read_bytes()
    if len(data) > MAX_ZIP_BYTES:
        raise ValueError(f"{path}: {len(data)} bytes; an autograder zip is far smaller")
    try:
        zf = zipfile.ZipFile(io.BytesIO(data))
    except zipfile.BadZipFile as err:
        raise ValueError(f"{path}: not a zip file ({err})") from None
    with zf, tempfile.TemporaryDirectory() as tmp:
        names = sorted(n for n in zf.namelist() if n.startswith("tests/") and n.endswith(".py"))
        if not names:
            raise ValueError(f"{path}: no tests/*.py inside; is it an otter autograder zip?")
        tests = {Path(n).name: hashlib.sha256(zf.read(n)).hexdigest() for n in names}
        zf.extractall(tmp, members=names)
        files = [create_test_file(str(Path(tmp, n)), NBMetadataConfig()) for n in names]
    points = {f.name: float(f.possible) for f in files}
    return Autograder(path, data, hashlib.sha256(data).hexdigest(), points, tests)


def read_beneath(root: Path, relative: str, limit: int) -> bytes:
    """The bytes of ``root/relative``, refusing a symbolic link at any step (the student owns
    everything below ``root`` and could point it at a file of the grader's)."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        *dirs, name = Path(relative).parts
        for part in dirs:
            step = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = step
        leaf = os.open(name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK, dir_fd=fd)
    finally:
        os.close(fd)
    with os.fdopen(leaf, "rb") as f:
        info = os.fstat(f.fileno())
        if not stat.S_ISREG(info.st_mode):
            raise OSError(f"{relative}: not a regular file")
        if info.st_size > limit:
            raise OSError(f"{relative}: {info.st_size} bytes, more than {limit}")
        return f.read(limit + 1)[:limit]


def list_beneath(root: Path, relative: str) -> list[str]:
    """The entries of the directory ``root/relative``, with no symbolic link on the way."""
    fd = os.open(root, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    try:
        for part in Path(relative).parts:
            step = os.open(part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = step
        return sorted(os.listdir(fd))
    finally:
        os.close(fd)


def changed_tests(ag_dir: Path, autograder: Autograder) -> str | None:
    """None if otter's copies of the tests (source/tests and submission/tests) are the zip's."""
    for folder in ("source/tests", "submission/tests"):
        try:
            names = {n for n in list_beneath(ag_dir, folder) if n.endswith(".py")}
            if names != set(autograder.tests):
                extra = sorted(names ^ set(autograder.tests))
                return f"{folder} holds other test files than the autograder's: {extra}"
            for name, want in autograder.tests.items():
                got = hashlib.sha256(read_beneath(ag_dir, f"{folder}/{name}", 1 << 24))
                if got.hexdigest() != want:
                    return f"{folder}/{name} was changed during grading"
        except OSError as err:
            return f"{folder} cannot be checked ({err})"
    return None


def checked_scores(results: bytes, points: dict[str, float]) -> tuple[dict[str, float], str | None]:
    """Per-question scores from otter's results.json (Gradescope format: one entry per question,
    plus summaries such as "Public Tests" without a score), and why they cannot be taken, if so.
    A question absent from the results scores 0."""
    scores = dict.fromkeys(points, 0.0)
    try:
        tests = json.loads(results)["tests"]
    except (ValueError, KeyError, TypeError) as err:
        return scores, f"results.json is not otter's results ({type(err).__name__})"
    if not isinstance(tests, list):
        return scores, "results.json: 'tests' is not a list"
    seen: set[str] = set()
    for entry in tests:
        if not isinstance(entry, dict):
            return scores, "results.json: a test entry is not an object"
        name, score = entry.get("name"), entry.get("score")
        if score is None and name not in points:
            continue  # a summary entry, e.g. "Public Tests"
        if not isinstance(name, str) or name not in points:
            return scores, f"unknown question {str(name)[:60]!r}"
        if name in seen:
            return scores, f"question {name!r} reported twice"
        seen.add(name)
        if score is None:
            continue
        ok = isinstance(score, (int, float)) and not isinstance(score, bool)
        if not ok or not math.isfinite(score) or not 0 <= score <= points[name] + 1e-9:
            return scores, f"question {name!r} scored {str(score)[:30]} of {points[name]:g}"
        limit = entry.get("max_score", points[name])
        if limit != points[name]:
            return (
                scores,
                f"question {name!r} claims {str(limit)[:30]} points, not {points[name]:g}",
            )
        scores[name] = float(score)
    return scores, None
