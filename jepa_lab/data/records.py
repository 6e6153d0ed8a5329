"""The one record type shared by every dataset: an Example with a Text view and a Code view;
how a pair is read, and which split a data file's name says its records belong to."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

NLRX_SYSTEM_PROMPT = "Convert natural language to regular expression."
# The LLM-JEPA GSM8K chat files are not published with a known system prompt; this is ours.
GSM8K_SYSTEM_PROMPT = "Solve the math problem step by step. End with '#### <answer>'."


@dataclass(frozen=True)
class Example:
    """One paired example.

    text: Text view: NL description (NL-RX) or question (GSM8K).
    code: Code view: regex (NL-RX) or full worked solution ending '#### N' (GSM8K).
    id: stable id, e.g. "nlrx-synth/train/00042".
    source: where it came from, e.g. "nl-rx/llm-jepa-split", "gsm8k/original",
        "generated/nlrx-synth".
    system: system prompt of the chat record, if any.
    db_id: the database a text-to-SQL example is asked about (Spider's ``For db_id:[name]``), so
        a scorer can run its queries there; None for every other task.
    """

    text: str
    code: str
    id: str
    source: str
    system: str | None = None
    db_id: str | None = None

    @property
    def messages(self) -> list[dict[str, str]]:
        """Chat record: [system?, user(text), assistant(code)]."""
        turns = [{"role": "system", "content": self.system}] if self.system is not None else []
        turns.append({"role": "user", "content": self.text})
        turns.append({"role": "assistant", "content": self.code})
        return turns


def text_and_code(item: object, index: int) -> tuple[str, str, str | None]:
    """(text, code, system) of one pair: a ``(text, code)`` tuple or list, or an object with
    ``.text`` and ``.code`` (an :class:`Example`, any record) and optionally ``.system``.

    The one place every entry point (packing, embedding extraction, the mask explorer) reads a
    pair, so a bad pair fails with the same message, naming its index, wherever it is passed.
    """
    if isinstance(item, (tuple, list)) and len(item) == 2:
        text, code, system = item[0], item[1], None
    elif hasattr(item, "text") and hasattr(item, "code"):
        text, code, system = item.text, item.code, getattr(item, "system", None)
    else:
        raise TypeError(
            f"pair {index}: expected a (text, code) tuple or an object with .text and .code, "
            f"got {type(item).__name__}"
        )
    for view, value in (("text", text), ("code", code)):
        if not isinstance(value, str):
            raise TypeError(
                f"pair {index}: {view} view must be a string, got {type(value).__name__}"
            )
    return text, code, system


# the words of a file name that say its split (as in the ids, ``<task>/<split>/<line>``)
SPLIT_WORDS = {
    "train": "train",
    "training": "train",
    "test": "test",
    "testing": "test",
    "validation": "validation",
    "valid": "validation",
    "val": "validation",
    "dev": "validation",
}


def split_from_name(path: str | Path) -> str:
    """The split a data file's name says: ``synth_test.jsonl`` -> ``test``, ``dev.json`` ->
    ``validation``; a name with no split word (``my_pairs.jsonl``) is training data.

    Whole words only (``latest.jsonl`` is not a test file); ``trainset``-style words count. A
    name with words of two splits (``train_test.jsonl``) is refused, since either guess would
    put held-out ids on training rows or the reverse.
    """
    words = re.findall(r"[a-z]+", Path(path).stem.lower())
    found = sorted(
        {SPLIT_WORDS[w] for w in (w.removesuffix("set") for w in words) if w in SPLIT_WORDS}
    )
    if len(found) > 1:
        raise ValueError(
            f"{Path(path).name}: the file name names the splits {', '.join(found)}; "
            "pass split= to say which"
        )
    return found[0] if found else "train"
