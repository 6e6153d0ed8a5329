"""Scoring GSM8K: the final numeric answer of a worked solution or a model's output.

The final answer is the number after `#### ` (else the last number in the text), read exactly
as a :class:`fractions.Fraction` and compared exactly: a relative tolerance called
`1000001` correct against `1000000`, and floats made 400-digit answers inf, all equal. The
rules (`1,000`, `1e3`, `½`, `-0`, ...) are in docs/scoring.md.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from decimal import Decimal
from fractions import Fraction

_VULGAR = "¼½¾⅐⅑⅒⅓⅔⅕⅖⅗⅘⅙⅚⅛⅜⅝⅞"
# A fixed pattern without nested quantifiers (linear time on any text). Thousands separators
# only count in groups of three, so "1,2,3" reads as three numbers, not 123. A minus sign counts
# only where it cannot be a subtraction or a range ("10-4", "x - 4").
_NUMBER = re.compile(
    r"(?:(?<![\w)])(?P<sign>[-\u2212]))?\$?"
    r"(?:(?P<value>(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)"
    r"(?:[eE](?P<exponent>[-+]?\d+))?"
    rf"(?P<part>[{_VULGAR}])?"
    rf"|(?P<vulgar>[{_VULGAR}]))"
    r"(?:/(?P<denominator>\d+(?:\.\d+)?))?"
)
_FINAL_MARK = "####"
MAX_DIGITS = 1000  # longer numbers are no answer (and never a costly conversion)
MAX_EXPONENT = 100  # `1e3` is 1000; `1e99999999` would be a number of 10**8 digits


def _vulgar(char: str) -> Fraction:
    return Fraction(unicodedata.numeric(char)).limit_denominator(10)


def _exact(digits: str) -> Fraction | None:
    digits = digits.replace(",", "")
    if len(digits) > MAX_DIGITS:
        return None
    return Fraction(Decimal(digits))  # exact: Decimal keeps every digit of the string


def _to_number(match: re.Match[str]) -> Fraction | None:
    if match["vulgar"] is not None:
        value: Fraction | None = _vulgar(match["vulgar"])
    else:
        value = _exact(match["value"])
        if value is None:
            return None
        if match["exponent"] is not None:
            exponent = int(match["exponent"]) if len(match["exponent"]) <= 4 else MAX_EXPONENT + 1
            if abs(exponent) > MAX_EXPONENT:
                return None
            value *= Fraction(10) ** exponent
        if match["part"] is not None:  # 1½ is one and a half
            value += _vulgar(match["part"])
    if match["denominator"] is not None:
        denominator = _exact(match["denominator"])
        if not denominator:  # x/0, or too long to read
            return None
        value /= denominator
    return -value if match["sign"] else value  # Fraction has no -0: -0 reads as 0


def gsm8k_answer(text: str) -> Fraction | None:
    """The final numeric answer in a GSM8K solution or a model's output, exactly, or None.

    Takes the first number after the last `####` when present, else the last number in the
    text. Handles `1,000`, `$5`, `-3`, `2.50`, `18.` (trailing period), `3/4`, `50%`, `1e3`
    and `½`. The result compares equal to ints and floats of the same value (`== 0.75`).
    """
    if not isinstance(text, str):
        return None
    marker = text.rfind(_FINAL_MARK)
    if marker != -1:
        match = _NUMBER.search(text, marker + len(_FINAL_MARK))
        if match is not None:
            return _to_number(match)
    last = None
    for last in _NUMBER.finditer(text):  # noqa: B007 - we want the final match
        pass
    return _to_number(last) if last is not None else None


def gsm8k_correct(prediction: str, reference: str) -> bool:
    """Whether the prediction's final answer equals the reference's, exactly."""
    predicted, expected = gsm8k_answer(prediction), gsm8k_answer(reference)
    if predicted is None or expected is None:
        return False
    return predicted == expected


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
