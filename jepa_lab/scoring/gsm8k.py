"""Scoring GSM8K: the final numeric answer of a worked solution or a model's output.

The final answer is the number after `#### ` (else the last number in the text), compared
numerically after normalising commas, `$`, `%`, trailing `.0`, fractions and signs.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

# A fixed pattern without nested quantifiers (linear time on any text). Thousands separators
# only count in groups of three, so "1,2,3" reads as three numbers, not 123. A minus sign counts
# only where it cannot be a subtraction or a range ("10-4", "x - 4").
_NUMBER = re.compile(
    r"(?:(?<![\w)])(?P<sign>[-\u2212]))?\$?"
    r"(?P<value>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:/(?P<denominator>\d+(?:\.\d+)?))?"
)
_FINAL_MARK = "####"


def _to_float(match: re.Match[str]) -> float | None:
    value = float(match["value"].replace(",", ""))
    if match["denominator"] is not None:
        denominator = float(match["denominator"])
        if denominator == 0:
            return None
        value /= denominator
    return -value if match["sign"] else value


def gsm8k_answer(text: str) -> float | None:
    """The final numeric answer in a GSM8K solution or a model's output, or None.

    Takes the first number after the last `####` when present, else the last number in the
    text. Handles `1,000`, `$5`, `-3`, `2.50`, `18.` (trailing period), `3/4` (0.75) and `50%`.
    """
    if not isinstance(text, str):
        return None
    marker = text.rfind(_FINAL_MARK)
    if marker != -1:
        match = _NUMBER.search(text, marker + len(_FINAL_MARK))
        if match is not None:
            return _to_float(match)
    last = None
    for last in _NUMBER.finditer(text):  # noqa: B007 - we want the final match
        pass
    return _to_float(last) if last is not None else None


def gsm8k_correct(prediction: str, reference: str) -> bool:
    """Whether the prediction's final answer equals the reference's (relative tolerance 1e-6)."""
    predicted, expected = gsm8k_answer(prediction), gsm8k_answer(reference)
    if predicted is None or expected is None:
        return False
    return math.isclose(predicted, expected, rel_tol=1e-6, abs_tol=1e-9)


def score_gsm8k(predictions: Sequence[str], references: Sequence[str]) -> dict:
    """Returns {"n", "accuracy", "unparseable" (predictions with no number), "correct"}."""
    if len(predictions) != len(references):
        raise ValueError(
            f"score_gsm8k: {len(predictions)} predictions but {len(references)} references"
        )
    correct = [gsm8k_correct(p, r) for p, r in zip(predictions, references, strict=True)]
    n = len(correct)
    return {
        "n": n,
        "accuracy": sum(correct) / n if n else 0.0,
        "unparseable": sum(gsm8k_answer(p) is None for p in predictions),
        "correct": correct,
    }
