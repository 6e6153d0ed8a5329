"""Bad-input handling shared by the loaders: one exception type, and raise-or-skip bookkeeping."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ON_ERROR = ("raise", "skip")
# the longest record a loader accepts: GSM8K and NL-RX records are under 4 KB, and one 50 MB
# line (no spaces) ran the tokenizer's training for minutes at 3.4 GB
MAX_RECORD_BYTES = 1 << 20


class DataFormatError(ValueError):
    """A data file is malformed. The message names file:line and the problem."""

    def __init__(self, path: str | Path, line: int | None, problem: str):
        self.path, self.line, self.problem = Path(path), line, problem
        where = f"{self.path.name}:{line}" if line is not None else self.path.name
        super().__init__(f"{where}: {problem}")


class Dataset(list):
    """A list of Examples plus what loading it skipped (`skipped`: count, `errors`: messages)."""

    def __init__(self, items=(), skipped: int = 0, errors: list[str] | None = None):
        super().__init__(items)
        self.skipped = skipped
        self.errors = errors or []


@dataclass
class ErrorPolicy:
    """Applies on_error='raise'|'skip' to DataFormatErrors raised while reading one file."""

    on_error: str = "raise"
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.on_error not in ON_ERROR:
            raise ValueError(f"on_error must be one of {ON_ERROR}, got {self.on_error!r}")

    def handle(self, err: DataFormatError) -> None:
        if self.on_error == "raise":
            raise err
        self.errors.append(str(err))

    def finish(self, items: list, what: str) -> Dataset:
        """Wrap the records and warn once with the number skipped; no records at all is an
        error here, not an empty dataset failing later deep inside a sampler."""
        if not items:
            problem = "holds no records (the file is empty)"
            if self.errors:
                problem = (
                    f"no usable records: all {len(self.errors)} were skipped; first: "
                    f"{self.errors[0]}"
                )
            raise DataFormatError(what, None, problem)
        if self.errors:
            warnings.warn(
                f"{what}: skipped {len(self.errors)} bad record(s); first: {self.errors[0]}",
                stacklevel=3,
            )
        return Dataset(items, skipped=len(self.errors), errors=list(self.errors))


def read_lines(path: str | Path) -> Iterator[tuple[int, str | DataFormatError]]:
    """(1-based line number, line without newline) for each line of a UTF-8 text file.

    A line that is not valid UTF-8 comes back as a DataFormatError in place of its text, so a
    loader can raise it or skip that one line.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"data file not found: {path}") from None
    lines = raw.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()  # trailing newline at end of file
    for i, line in enumerate(lines, start=1):
        if len(line) > MAX_RECORD_BYTES:
            yield (
                i,
                DataFormatError(
                    path,
                    i,
                    f"record of {len(line)} bytes, longer than the limit of {MAX_RECORD_BYTES} "
                    "bytes per line (is this the right file?)",
                ),
            )
            continue
        try:
            yield i, line.decode("utf-8").rstrip("\r")
        except UnicodeDecodeError as e:
            yield (
                i,
                DataFormatError(
                    path, i, f"not valid UTF-8 (byte {e.start} of the line: {e.reason})"
                ),
            )
