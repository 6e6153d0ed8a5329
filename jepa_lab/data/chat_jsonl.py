"""Reader for LLM-JEPA chat JSONL: one {"messages": [system?, user, assistant]} per line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from jepa_lab.data.errors import DataFormatError, read_lines


def parse_chat_line(path: Path, lineno: int, line: str) -> tuple[str | None, str, str]:
    """(system or None, user text, assistant text) of one chat record; DataFormatError if bad."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError as e:
        raise DataFormatError(path, lineno, f"malformed JSON ({e.msg} at column {e.colno})") from e
    if not isinstance(record, dict) or not isinstance(record.get("messages"), list):
        raise DataFormatError(path, lineno, "missing field 'messages' (expected a list of turns)")
    turns = record["messages"]
    roles = [t.get("role") if isinstance(t, dict) else None for t in turns]
    if roles not in (["system", "user", "assistant"], ["user", "assistant"]):
        raise DataFormatError(
            path,
            lineno,
            f"field 'messages' has roles {roles}, expected "
            "[system, user, assistant] or [user, assistant]",
        )
    contents = []
    for i, turn in enumerate(turns):
        content = turn.get("content")
        if not isinstance(content, str):
            raise DataFormatError(
                path, lineno, f"field 'messages[{i}].content' is missing or not a string"
            )
        if turn["role"] != "system" and not content.strip():
            raise DataFormatError(path, lineno, f"field 'messages[{i}].content' is empty")
        contents.append(content)
    system = contents[0] if len(turns) == 3 else None
    return system, contents[-2], contents[-1]


def iter_chat_jsonl(path: str | Path) -> Iterator[tuple[int, tuple | DataFormatError]]:
    """(line number, (system, user, assistant) or the DataFormatError for that line); blank lines
    are ignored."""
    path = Path(path)
    for lineno, line in read_lines(path):
        if isinstance(line, DataFormatError):
            yield lineno, line
            continue
        if not line.strip():
            continue
        try:
            yield lineno, parse_chat_line(path, lineno, line)
        except DataFormatError as e:
            yield lineno, e
