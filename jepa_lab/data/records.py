"""The one record type shared by every dataset: an Example with a Text view and a Code view."""

from __future__ import annotations

from dataclasses import dataclass

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
    """

    text: str
    code: str
    id: str
    source: str
    system: str | None = None

    @property
    def messages(self) -> list[dict[str, str]]:
        """Chat record: [system?, user(text), assistant(code)]."""
        turns = [{"role": "system", "content": self.system}] if self.system is not None else []
        turns.append({"role": "user", "content": self.text})
        turns.append({"role": "assistant", "content": self.code})
        return turns
