"""Loaders for the LLM-JEPA task files beyond NL-RX and GSM8K: Spider, NQ-Open, HellaSwag and
Rotten Tomatoes, each a chat JSONL file ``{"messages": [system, user, assistant]}``.

Text view = the user turn, Code view = the assistant turn, as the official code trains them.
Each task adds the check its scorer relies on, so a record that would score as garbage fails
at load time with file:line instead (a Spider question with no ``For db_id:[name]``, a HellaSwag
answer that is no letter A-D, a review label that is not Good/Bad).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

from jepa_lab.data.chat_jsonl import iter_chat_jsonl
from jepa_lab.data.errors import DataFormatError, Dataset, ErrorPolicy
from jepa_lab.data.records import Example, split_from_name

# The system prompts of the official files (every record of a file has the same one).
SPIDER_SYSTEM_PROMPT = "Convert natural language to SQL."
NQ_OPEN_SYSTEM_PROMPT = "Answer the question below."
HELLASWAG_SYSTEM_PROMPT = (
    "Which one of A), B), C), or D) is the best ending for the context? Answer A, B, C, or D."
)
ROTTEN_TOMATOES_SYSTEM_PROMPT = "Determine whether the comment is positive or negative"

DB_ID = re.compile(r"For db_id:\[([^\]\s]+)\]")
HELLASWAG_LETTERS = ("A", "B", "C", "D")
REVIEW_LABELS = ("Good", "Bad")
ANSWER_FIELD = "messages[2].content"

# (path, line, user, assistant) -> extra Example fields; raises DataFormatError for a bad record
RecordCheck = Callable[[Path, int, str, str], dict]


def spider_db_id(user: str) -> str | None:
    """``name`` of a Spider question that starts ``For db_id:[name]``, else None."""
    match = DB_ID.match(user)
    return match.group(1) if match else None


def _spider(path: Path, lineno: int, user: str, sql: str) -> dict:
    db_id = spider_db_id(user)
    if db_id is None:
        raise DataFormatError(
            path,
            lineno,
            f"field 'messages[1].content' starts {user[:30]!r}; expected 'For db_id:[name]' "
            "(the database the question is asked about)",
        )
    return {"db_id": db_id}


def _one_of(allowed: tuple[str, ...]) -> RecordCheck:
    def check(path: Path, lineno: int, user: str, answer: str) -> dict:
        if answer.strip() not in allowed:
            raise DataFormatError(
                path,
                lineno,
                f"field '{ANSWER_FIELD}' is {answer[:30]!r}; expected one of {allowed}",
            )
        return {}

    return check


def _any(path: Path, lineno: int, user: str, answer: str) -> dict:
    return {}


CHECKS: dict[str, RecordCheck] = {
    "spider": _spider,
    "nq_open": _any,  # gold answers joined with '; ': the scorer splits them
    "hellaswag": _one_of(HELLASWAG_LETTERS),
    "rotten_tomatoes": _one_of(REVIEW_LABELS),
}


def load_chat_task(
    path: str | Path,
    task: str,
    split: str | None = None,
    on_error: str = "raise",
    check: RecordCheck | None = None,
    source: str | None = None,
) -> Dataset:
    """Examples of one chat JSONL file of ``task``, ids ``<task>/<split>/<line - 1>``.

    check: the task's record check (default: CHECKS[task], else none), returning extra Example
    fields such as Spider's db_id. Any task's file reads this way, including one of your own.
    """
    path = Path(path)
    split = split or split_from_name(path)
    check = check or CHECKS.get(task, _any)
    policy, out = ErrorPolicy(on_error), []
    for lineno, item in iter_chat_jsonl(path):
        try:
            if isinstance(item, DataFormatError):
                raise item
            system, text, code = item
            extra = check(path, lineno, text, code)
        except DataFormatError as e:
            policy.handle(e)
            continue
        out.append(
            Example(
                text=text,
                code=code,
                id=f"{task}/{split}/{lineno - 1:05d}",
                source=source or f"llm-jepa/{task}",
                system=system,
                **extra,
            )
        )
    return policy.finish(out, str(path))


def load_spider_chat(
    path: str | Path, split: str | None = None, on_error: str = "raise"
) -> Dataset:
    """Spider text-to-SQL (spider_train/test.jsonl): Code = the gold SQL, db_id kept."""
    return load_chat_task(path, "spider", split, on_error)


def load_nq_open_chat(
    path: str | Path, split: str | None = None, on_error: str = "raise"
) -> Dataset:
    """NQ-Open (nq_open_train/test.jsonl): Code = the gold answers joined with '; '."""
    return load_chat_task(path, "nq_open", split, on_error)


def load_hellaswag_chat(
    path: str | Path, split: str | None = None, on_error: str = "raise"
) -> Dataset:
    """HellaSwag (hellaswag_test.jsonl; no train file is published): Text = the context with
    its four endings A) to D), Code = the letter of the right one."""
    return load_chat_task(path, "hellaswag", split, on_error)


def load_rotten_tomatoes_chat(
    path: str | Path, split: str | None = None, on_error: str = "raise"
) -> Dataset:
    """Rotten Tomatoes (rotten_tomatoes_train/test.jsonl): Code = 'Good' or 'Bad'."""
    return load_chat_task(path, "rotten_tomatoes", split, on_error)


def split_off(data: Dataset, fraction: float, part: str) -> Dataset:
    """A fixed cut of one file into two disjoint parts, for a task published with a test file
    only (HellaSwag): 'train' is every record but each 1/fraction-th, 'test' those."""
    if part not in ("train", "test"):
        raise ValueError(f"part must be 'train' or 'test', got {part!r}")
    step = round(1 / fraction)
    chosen = [e for i, e in enumerate(data) if (i % step == 0) == (part == "test")]
    return Dataset(chosen, data.skipped, data.errors)
