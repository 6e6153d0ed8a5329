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


# ----------------------------------------------------------------------------- difficulty knobs

STATED = re.compile(r"\d+")


@pytest.mark.parametrize("steps", [1, 2, 3])
@pytest.mark.parametrize("max_number", [6, 10, 40])
def test_knobs_set_exact_steps_and_bound_the_stated_numbers(steps, max_number):
    examples = gsm8k_synth.generate(150, "train", seed=1, steps=steps, max_number=max_number)
    assert len({e.text for e in examples}) == 150
    for e in examples:
        notes = NOTE.findall(e.code)
        assert len(notes) == steps, e.code
        stated = [int(x) for x in STATED.findall(e.text)]
        assert stated and max(stated) <= max_number, e.text
        # each step is right and works only on numbers the question states or earlier results
        known = set(stated)
        for expression, result in notes:
            assert evaluate(expression) == Fraction(result), (expression, result)
            operands = [int(x) for x in re.findall(r"\d+", expression)]
            assert set(operands) <= known, (e.text, e.code)
            known.add(int(result))
        assert final_answer(e.code) == notes[-1][1]


def test_one_step_answer_is_the_two_stated_numbers_combined():
    """An independent reading: a one-step question states two numbers and its answer is
    their sum, difference, product or quotient, as the worked line says."""
    combine = {
        "+": lambda a, b: a + b,
        "-": lambda a, b: a - b,
        "*": lambda a, b: a * b,
        "/": lambda a, b: Fraction(a, b),
    }
    for e in gsm8k_synth.generate(200, "test", seed=3, steps=1, max_number=10):
        a, b = (int(x) for x in STATED.findall(e.text))
        op = re.search(r"<<\d+([-+*/])\d+=", e.code).group(1)
        # the question states the numbers in the order a - b and a / b need
        assert combine[op](a, b) == Fraction(final_answer(e.code)), (e.text, e.code)


def test_knobs_are_deterministic_and_leave_the_levels_alone():
    knobbed = gsm8k_synth.generate(40, "train", seed=0, steps=2, max_number=12)
    assert knobbed == gsm8k_synth.generate(40, "train", seed=0, steps=2, max_number=12)
    assert gsm8k_synth.generate(
        40, "train", seed=0, steps=None, max_number=None
    ) == gsm8k_synth.generate(40, "train", seed=0)
    # max_number alone keeps the level's step range
    level = gsm8k_synth.LEVELS[1]
    counts = {len(NOTE.findall(e.code)) for e in gsm8k_synth.generate(200, max_number=15)}
    assert counts == set(range(level.min_steps, level.max_steps + 1))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(steps=0), r"steps must be an integer in 1\.\.3 \(or None\), got 0"),
        (dict(steps=4), "got 4"),
        (dict(steps=True), "got True"),
        (dict(steps="2"), "got '2'"),
        (dict(max_number=1), r"max_number must be an integer >= 2 \(or None\), got 1"),
        (dict(max_number=7.5), "got 7.5"),
    ],
)
def test_bad_knobs_are_refused_before_drawing(kwargs, message):
    with pytest.raises(ValueError, match=message):
        gsm8k_synth.generate(5, **kwargs)


def test_too_many_problems_for_tiny_numbers_says_so():
    with pytest.raises(ValueError, match="could not draw 500 distinct problems .*max_number=2"):
        gsm8k_synth.generate(500, steps=1, max_number=2)


def test_load_dataset_passes_the_knobs_to_the_generator():
    from jepa_lab.data import load_dataset

    examples = load_dataset("gsm8k", "test", "generated", n=30, steps=3, max_number=9)
    assert all(len(NOTE.findall(e.code)) == 3 for e in examples)
    assert max(int(x) for e in examples for x in STATED.findall(e.text)) <= 9


# every plural noun the templates write after a number, in questions and in solutions
_COUNTED = "|".join(
    ("years", "hours", "miles", "dollars", "weeks", "trays", "friends", "boxes", *gsm8k_synth.ITEMS)
)
_ONE_PLURAL = re.compile(rf"(?<![\d.])1 (?:more )?({_COUNTED})\b")
_NOTE = re.compile(r"<<([^=>]+)=")


def _many_problems():
    for steps in (1, 2, 3):
        for max_number in (5, 10, 30):
            yield from gsm8k_synth.generate(
                400, "train", seed=3, steps=steps, max_number=max_number
            )
    for difficulty in (1, 2, 3):
        yield from gsm8k_synth.generate(300, "test", seed=4, difficulty=difficulty)


def test_no_problem_repeats_a_step_or_says_one_years():
    """The notebook 07 defects: "5*3" computed twice in one solution, "in 1 years"."""
    problems = list(_many_problems())
    assert len(problems) >= 4000
    ones = 0
    for p in problems:
        notes = _NOTE.findall(p.code)
        assert len(notes) == len(set(notes)), f"{p.id}: a step is repeated:\n{p.code}"
        for text in (p.text, p.code):
            bad = _ONE_PLURAL.search(text)
            assert bad is None, f"{p.id}: {bad.group(0)!r} should be singular in {text!r}"
        ones += len(re.findall(r"(?<![\d.$])1 [a-z]", p.text + p.code))
    assert ones > 50, "the sample never counts one of anything: the check above saw nothing"
