"""The metrics history of a run: JSON Lines, every append atomic (write a copy, then rename);
and each run's last epoch as a markdown table (:func:`final_table`)."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jepa_lab import write_atomic
from jepa_lab.objective.checks import InputError


class HistoryError(InputError):
    """A damaged ``history.jsonl``: the message names file:line and what is wrong."""


def _clean(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None  # JSON has no NaN/inf; None reads as "not measured"
    return value


class History:
    """Append-only records, one JSON object per line."""

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)

    def read(self) -> list[dict[str, Any]]:
        if not self.path.is_file():
            return []
        records = []
        for lineno, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise ValueError(f"{self.path}:{lineno}: not a JSON record ({err.msg})") from err
        return records

    def _write(self, records: list[dict[str, Any]]) -> None:
        lines = (json.dumps({k: _clean(v) for k, v in record.items()}) + "\n" for record in records)
        write_atomic(self.path, "".join(lines))

    def append(self, record: dict[str, Any]) -> None:
        """Add one record; a crash leaves either the old file or the new one, never half."""
        self._write(self.read() + [record])

    def keep(self, predicate: Callable[[dict[str, Any]], bool]) -> None:
        """Keep only the records ``predicate`` accepts (one atomic rewrite, if any is dropped)."""
        records = self.read()
        kept = [r for r in records if predicate(r)]
        if len(kept) != len(records):
            self._write(kept)

    def truncate_after(self, epoch: float) -> None:
        """Drop records past ``epoch`` (work a resumed run is about to redo)."""
        self.keep(lambda r: float(r.get("epoch", 0.0)) <= epoch + 1e-9)


def check_history(path: str | os.PathLike) -> None:
    """Refuse a damaged history before a resume reads it: a line cut short or not JSON, a line
    that is not a record (an object with a numeric ``epoch``), or an epoch recorded twice."""
    path = Path(path)
    if not path.is_file():
        return
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise HistoryError(f"{path}: not UTF-8 text ({err.reason}); the file is damaged") from None
    seen: dict[tuple[Any, Any, float], int] = {}
    lines = text.splitlines()
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as err:
            cut = lineno == len(lines) and not text.endswith("\n")
            why = "cut short" if cut else f"not valid JSON ({err.msg})"
            raise HistoryError(
                f"{path}:{lineno}: damaged history record, {why}; delete that line (or the "
                "file) to resume, or use --overwrite"
            ) from None
        epoch = record.get("epoch") if isinstance(record, dict) else None
        if isinstance(epoch, bool) or not isinstance(epoch, (int, float)):
            raise HistoryError(
                f"{path}:{lineno}: not a history record (expected a JSON object with a numeric "
                f"'epoch', got {json.dumps(record)[:60]}); delete that line to resume"
            )
        if record.get("stopped"):
            continue  # a stopped partial epoch is redone by the resume
        key = (record.get("arm"), record.get("seed"), round(float(epoch), 4))
        if key in seen:
            raise HistoryError(
                f"{path}:{lineno}: epoch {epoch:g} of {key[0]} seed {key[1]} is recorded twice "
                f"(also line {seen[key]}); delete one of the two lines to resume"
            )
        seen[key] = lineno


def run_name(record: dict[str, Any]) -> str:
    """A run's name in tables: its arm and seed ("jepa seed 0")."""
    return f"{record.get('arm', 'run')} seed {record.get('seed', '?')}"


def final_records(
    records: list[dict[str, Any]], name: Callable[[dict[str, Any]], str] = run_name
) -> dict[str, dict[str, Any]]:
    """The last epoch's record of each run, keyed by ``name(record)``, in order of appearance."""
    final: dict[str, dict[str, Any]] = {}
    for record in records:
        key = name(record)
        if key not in final or record.get("epoch", 0.0) >= final[key].get("epoch", 0.0):
            final[key] = record
    return final


def final_table(
    records: list[dict[str, Any]],
    columns: list[str],
    name: Callable[[dict[str, Any]], str] = run_name,
    digits: int = 4,
) -> str:
    """A markdown table of each run's last epoch: one row per run, one column per metric.

    A metric a run did not record (the NTP arm's ``jepa_loss``) reads "n/a"; a column that no
    record holds is a typo and raises, naming the columns there are.
    """
    if not records:
        raise ValueError("final_table: no records (has any epoch finished?)")
    known = sorted({key for record in records for key in record})
    unknown = [c for c in columns if c not in known]
    if unknown:
        raise ValueError(f"final_table: no record has column(s) {unknown}; recorded: {known}")

    def cell(value: Any) -> str:
        if value is None:
            return "n/a"
        if isinstance(value, float):
            return f"{value:.{digits}f}"
        return str(value)

    lines = ["| run | " + " | ".join(columns) + " |", "| --- |" + " ---: |" * len(columns)]
    for key, record in final_records(records, name).items():
        lines.append(f"| {key} | " + " | ".join(cell(record.get(c)) for c in columns) + " |")
    return "\n".join(lines)
