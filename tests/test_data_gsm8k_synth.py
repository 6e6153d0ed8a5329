"""GSM8K-style generator: every worked step is arithmetically right, checked independently."""

from __future__ import annotations

import re
from fractions import Fraction

import pytest

from jepa_lab.data import final_answer, gsm8k_synth, strip_calculator_notes

NOTE = re.compile(r"<<([^<>=]*)=([^<>]*)>>")


def evaluate(expression: str) -> Fraction:
    """Exact value of 'a op b (op c ...)' with + - * / and usual precedence; no eval()."""
    tokens = re.findall(r"\d+(?:\.\d+)?|[-+*/]", expression.replace(" ", ""))
    if "".join(tokens) != expression.replace(" ", ""):
        raise ValueError(f"unexpected characters in {expression!r}")
    terms: list[Fraction] = []  # additive terms after applying * and /
    sign, value, op = 1, None, None
    for tok in tokens:
        if tok in "+-":
            terms.append(sign * value)
            sign, value, op = (1 if tok == "+" else -1), None, None
        elif tok in "*/":
            op = tok
        else:
            number = Fraction(tok)
            value = number if value is None else (value * number if op == "*" else value / number)
    terms.append(sign * value)
    return sum(terms, Fraction(0))


def test_evaluator_is_right():
    assert evaluate("48/2") == 24 and evaluate("2+3*4") == 14 and evaluate("10-4-3") == 3
    assert evaluate("100-50-30-15") == 5 and evaluate("0.2*50") == 10


@pytest.mark.parametrize("difficulty", [1, 2, 3])
def test_notes_are_right_and_answer_is_last_value(difficulty):
    level = gsm8k_synth.LEVELS[difficulty]
    for e in gsm8k_synth.generate(400, "train", seed=difficulty, difficulty=difficulty):
        lines = e.code.split("\n")
        assert lines[-1].startswith("#### ")
        notes = NOTE.findall(e.code)
        assert level.min_steps <= len(notes) <= level.max_steps, e.code
        assert len(notes) == len(lines) - 1  # one note per worked line
        for expression, result in notes:
            assert evaluate(expression) == Fraction(result), (expression, result)
            assert Fraction(result) >= 0 and Fraction(result).denominator == 1
        assert final_answer(e.code) == notes[-1][1]
        # the visible text repeats the note: "a op b = <<a op b=c>>c"
        for line, (expression, result) in zip(lines, notes, strict=False):
            assert f"{expression} = <<{expression}={result}>>{result}" in line
        # numbers in the question are small (a bill may exceed max_number: total + change)
        bound = 9 * 12 + 2 * level.max_number
        assert all(int(x) <= bound for x in re.findall(r"\d+", e.text)), e.text


def test_deterministic_distinct_splits_and_varied():
    train = gsm8k_synth.generate(1000, "train", seed=0)
    assert train == gsm8k_synth.generate(1000, "train", seed=0)
    assert train[:10] == gsm8k_synth.generate(10, "train", seed=0)
    test = gsm8k_synth.generate(300, "test", seed=0)
    assert not {e.text for e in train} & {e.text for e in test}
    assert len({e.text for e in train}) == 1000
    # every template is used
    stories = {"buys": 0, "shares": 0, "miles": 0, "years old": 0, "saves": 0, "bakes": 0}
    for e in train:
        for key in stories:
            stories[key] += key in e.text
    assert min(stories.values()) > 50, stories


def test_strip_calculator_notes():
    e = gsm8k_synth.generate(1, seed=0, difficulty=2)[0]
    stripped = strip_calculator_notes(e.code)
    assert "<<" not in stripped and stripped.endswith(e.code.split("\n")[-1])
    assert strip_calculator_notes("48/2 = <<48/2=24>>24 clips") == "48/2 = 24 clips"


def test_rejects_bad_difficulty():
    with pytest.raises(ValueError, match="difficulty"):
        gsm8k_synth.generate(3, difficulty=4)
