"""The grades table: one row per student, written by the grader alone, atomically after each row
(a grader killed mid-run keeps every row it finished), and read back to resume.

Cells a spreadsheet would run as a formula (starting with ``= + - @``, a tab or a carriage
return) are written with a leading single quote, so a student named ``=HYPERLINK(...)`` is text.
"""

from __future__ import annotations

import csv
import io
import os
import tempfile
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

GRADED = "graded"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class Grade:
    """One submission's scores, question by question."""

    student: str
    scores: dict[str, float]
    possible: dict[str, float]
    status: str = GRADED
    seconds: float = 0.0
    log: Path | None = field(default=None, repr=False)

    @property
    def total(self) -> float:
        return sum(self.scores.values())


def escape_cell(text: str) -> str:
    return "'" + text if text.startswith(_FORMULA_START) else text


def header(questions: Sequence[str]) -> list[str]:
    return ["student", *questions, "total", "possible", "status", "seconds"]


def row(grade: Grade, questions: Sequence[str]) -> list[str]:
    cells = [
        grade.student,
        *(_number(grade.scores[q]) for q in questions),
        _number(grade.total),
        _number(sum(grade.possible.values())),
        grade.status,
        f"{grade.seconds:.1f}",
    ]
    return [escape_cell(c) for c in cells]


def _number(x: float) -> str:
    return f"{x:g}"


def check_writable(path: Path) -> None:
    """Fail now, before hours of grading, if the table could not be written at ``path``."""
    if path.is_dir():
        raise IsADirectoryError(
            f"--csv {path} is a directory; give a file name, e.g. {path}/grades.csv"
        )
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        with tempfile.NamedTemporaryFile(dir=path.parent, prefix=f".{path.name}.", delete=True):
            pass
    except OSError as err:
        raise PermissionError(f"--csv {path}: cannot write in {path.parent} ({err})") from None


class Table:
    """Rows by student; every :meth:`add` rewrites the file through a temporary file and an
    atomic rename, so the file on disk is always a whole table."""

    def __init__(self, path: Path | None, questions: Sequence[str], rows: dict[str, list[str]]):
        self.path, self.questions = path, list(questions)
        self.rows = dict(rows)
        self._lock = threading.Lock()

    def add(self, grade: Grade) -> None:
        with self._lock:
            self.rows[escape_cell(grade.student)] = row(grade, self.questions)
            self._write()

    def _write(self) -> None:
        if self.path is None:
            return
        text = io.StringIO()
        writer = csv.writer(text)
        writer.writerow(header(self.questions))
        writer.writerows(self.rows[s] for s in sorted(self.rows))
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
        try:
            with os.fdopen(fd, "w", newline="") as f:
                f.write(text.getvalue())
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


def finished_rows(path: Path, questions: Sequence[str]) -> dict[str, list[str]]:
    """The rows of an earlier run's table, by (escaped) student, for ``--resume``."""
    if not path.is_file():
        return {}
    with open(path, newline="") as f:
        lines = list(csv.reader(f))
    want = header(questions)
    if not lines or lines[0] != want:
        got = ",".join(lines[0]) if lines else "nothing"
        raise ValueError(f"--resume: {path} has columns {got}, not {','.join(want)}")
    for number, cells in enumerate(lines[1:], start=2):
        if len(cells) != len(want):
            raise ValueError(f"--resume: {path}:{number}: {len(cells)} cells, expected {len(want)}")
    return {cells[0]: cells for cells in lines[1:]}


def write_csv(grades: Sequence[Grade], path: Path | str) -> Path:
    """One row per student: a column per question, total, possible, status, seconds."""
    if not grades:
        raise ValueError("write_csv: no grades to write")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    table = Table(path, list(grades[0].possible), {})
    with table._lock:
        table.rows = {escape_cell(g.student): row(g, table.questions) for g in grades}
        table._write()
    return path
