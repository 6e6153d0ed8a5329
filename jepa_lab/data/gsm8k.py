"""GSM8K loaders: the original JSONL ({"question", "answer"}), the LLM-JEPA chat JSONL, and the
Hugging Face hub copy (only if the optional `datasets` package is installed and asked for)."""

from __future__ import annotations

import json
import re
from pathlib import Path

from jepa_lab.data.chat_jsonl import iter_chat_jsonl
from jepa_lab.data.errors import DataFormatError, Dataset, ErrorPolicy, read_lines
from jepa_lab.data.records import GSM8K_SYSTEM_PROMPT, Example, split_from_name

CALCULATOR_NOTE = re.compile(r"<<[^<>]*>>")
FINAL_ANSWER = re.compile(r"####\s*(\S+)\s*$")


def strip_calculator_notes(solution: str) -> str:
    """'48/2 = <<48/2=24>>24' -> '48/2 = 24'."""
    return CALCULATOR_NOTE.sub("", solution)


def final_answer(solution: str) -> str | None:
    """The N of the closing '#### N' (commas removed), or None if there is none."""
    m = FINAL_ANSWER.search(solution.strip())
    return m.group(1).replace(",", "") if m else None


NUMBER = re.compile(r"-?\d+(\.\d+)?")  # every GSM8K answer: an integer, maybe negative


def _check_solution(path: Path, lineno: int, field: str, solution: str) -> None:
    answer = final_answer(solution)
    if answer is None:
        raise DataFormatError(path, lineno, f"field '{field}' does not end with '#### <answer>'")
    if not NUMBER.fullmatch(answer):
        raise DataFormatError(
            path,
            lineno,
            f"field '{field}' ends with '#### {answer}'; "
            "expected a number after '####' (e.g. '#### 72')",
        )


def _kind(value: object) -> str:
    if isinstance(value, str):
        return "empty"
    names = {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        list: "a list",
        dict: "an object",
        type(None): "null",
    }
    return (
        f"{names.get(type(value), type(value).__name__)} ({json.dumps(value)[:40]}), "
        "expected a string"
    )


def load_gsm8k_original(
    path: str | Path,
    split: str | None = None,
    strip_notes: bool = False,
    on_error: str = "raise",
    system: str | None = GSM8K_SYSTEM_PROMPT,
) -> Dataset:
    """Examples from grade-school-math's train.jsonl / test.jsonl."""
    path = Path(path)
    split = split or split_from_name(path)
    policy, out = ErrorPolicy(on_error), []
    for lineno, line in read_lines(path):
        try:
            if isinstance(line, DataFormatError):
                raise line
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as e:
                raise DataFormatError(
                    path, lineno, f"malformed JSON ({e.msg} at column {e.colno})"
                ) from e
            for field in ("question", "answer"):
                if not isinstance(record, dict) or field not in record:
                    raise DataFormatError(path, lineno, f"missing field '{field}'")
                if not isinstance(record[field], str) or not record[field].strip():
                    raise DataFormatError(
                        path, lineno, f"field '{field}' is {_kind(record[field])}"
                    )
            _check_solution(path, lineno, "answer", record["answer"])
        except DataFormatError as e:
            policy.handle(e)
            continue
        code = strip_calculator_notes(record["answer"]) if strip_notes else record["answer"]
        out.append(
            Example(
                text=record["question"],
                code=code,
                id=f"gsm8k/{split}/{lineno - 1:05d}",
                source="gsm8k/original",
                system=system,
            )
        )
    return policy.finish(out, str(path))


def load_gsm8k_chat(
    path: str | Path, split: str | None = None, strip_notes: bool = False, on_error: str = "raise"
) -> Dataset:
    """Examples from a chat JSONL file ({"messages": [system, user, assistant]})."""
    path = Path(path)
    split = split or split_from_name(path)
    policy, out = ErrorPolicy(on_error), []
    for lineno, item in iter_chat_jsonl(path):
        try:
            if isinstance(item, DataFormatError):
                raise item
            _check_solution(path, lineno, "messages[-1].content", item[2])
        except DataFormatError as e:
            policy.handle(e)
            continue
        system, text, code = item
        code = strip_calculator_notes(code) if strip_notes else code
        out.append(
            Example(
                text=text,
                code=code,
                id=f"gsm8k-chat/{split}/{lineno - 1:05d}",
                source="gsm8k/llm-jepa-split",
                system=system,
            )
        )
    return policy.finish(out, str(path))


def load_gsm8k_hub(
    split: str = "train", strip_notes: bool = False, system: str | None = GSM8K_SYSTEM_PROMPT
) -> Dataset:
    """GSM8K through `datasets.load_dataset("openai/gsm8k", "main")` (network; optional dep)."""
    try:
        import datasets
    except ImportError:
        raise ImportError(
            "source='hub' needs the optional 'datasets' package "
            "(pip install datasets); or use source='download'"
        ) from None
    rows = datasets.load_dataset("openai/gsm8k", "main", split=split)
    out = []
    for i, row in enumerate(rows):
        code = strip_calculator_notes(row["answer"]) if strip_notes else row["answer"]
        out.append(
            Example(
                text=row["question"],
                code=code,
                id=f"gsm8k/{split}/{i:05d}",
                source="gsm8k/hub",
                system=system,
            )
        )
    return Dataset(out)
