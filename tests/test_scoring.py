"""NL-RX regex equivalence (dk.brics semantics) and GSM8K answer scoring."""

from __future__ import annotations

import csv
import itertools
import json
import os
import random
import re
import time
from pathlib import Path

import pytest

from jepa_lab.scoring import (
    compare_regex,
    gsm8k_answer,
    gsm8k_correct,
    regex_dfa,
    regex_equivalent,
    regex_exact,
    score_gsm8k,
    score_nlrx,
)

SHARED = Path(
    os.environ.get("JEPA_LAB_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
VECTORS = SHARED / "nl-rx" / "equivalence_vectors.tsv"
GSM8K_TEST = SHARED / "gsm8k" / "test.jsonl"


# --------------------------------------------------------------------------- known answers


@pytest.mark.parametrize(
    ("gold", "candidate", "expected"),
    [
        ("a|b", "b|a", True),
        ("(a&b)", "~(.*)", True),  # both the empty language
        ("(a&b)", "#", True),
        ("(a&b)", "()", False),  # the empty string is not the empty language
        ("", "()", True),
        ("[0-9]{2,}", "[0-9][0-9]+", True),
        ("x{2,3}", "x{2,4}", False),
        ("x{3,2}", "#", True),  # n > m is the empty language in dk.brics
        ("\\b", "b", True),  # backslash makes the letter literal: no word boundary
        ("\\bdog\\b", "bdogb", True),
        ("\\b", "()", False),
        ("~([a-z].*|.*dog.*)", "~([a-z].*)&~(.*dog.*)", True),  # De Morgan
        ("~([a-z].*&.*dog.*)", "~([a-z].*)|~(.*dog.*)", True),
        ("~a*", "~a", True),  # ~ binds tighter than *: (~a)*, and (~a)* is ~a
        ("~a*", "~(a*)", False),
        ("ab|cd", "(ab)|(cd)", True),  # concatenation binds tighter than |
        ("a|b&c", "a|(b&c)", True),  # & binds tighter than |
        ("a|b&c", "(a|b)&c", False),
        ("ab&a.", "ab", True),
        (".", "[a-z]", False),  # . reaches characters that appear in neither regex
        ("~(dog)&.", ".", True),
        ("[^a]", ".&~a", True),
        ("[^a]", "[b-z]", False),
        ("a||b", "a|(\\|b)", True),  # dk.brics reads a '|' that cannot start a union literally
        ("{3}", "\\{3\\}", True),  # so is a '{' with nothing to repeat
        ("[a-]", "a|-", True),
        ('"a|b"', "a\\|b", True),  # quoted string
        ("@", ".*", True),  # any string
        ("<1-10>", "0*([1-9]|10)", True),  # numeric interval, any leading zeros
        ("<3-1>", "1|2|3", True),  # bounds of equal width fix the number of digits
        ("<01-03>", "01|02|03", True),
        ("[z-a]", "#", True),  # a reversed range is empty, not an error
        ("((.*)(.))|(([A-Z]){2,})", "((.*)(.))|(([A-Z])2,})", True),  # from the data: "2,}"
        # & binds looser than concatenation: (b[AEIOUaeiou]) & ([a-z]b) is empty, so this is ()
        ("(\\b([AEIOUaeiou])&([a-z])\\b)*", "()", True),
        ("(\\b([AEIOUaeiou])&([a-z])\\b)*", "(b[aeiou]b)*", False),
        ("\\b([A-Z])&([AEIOUaeiou])\\b", "b[AEIOU]&[AEIOUaeiou]b", True),
        ("([A-Z].*[0-9].*)&(~(dog))", "[A-Z].*[0-9].*", True),
        ("((.*)(.)).*(dog).*", ".+dog.*", True),
        ("((.*)(.)).*(dog).*", ".*dog.*", False),
    ],
)
def test_known_equivalences(gold, candidate, expected):
    verdict = compare_regex(gold, candidate)
    assert verdict.equivalent is expected, verdict.reason
    assert verdict.reason == ("equivalent" if expected else "not equivalent")
    assert regex_equivalent(candidate, gold) is expected  # symmetric


@pytest.mark.parametrize(
    ("candidate", "message"),
    [
        ("(ab", "expected ')' at col 4"),
        ("a{", "integer expected at col 3"),
        ("a{2,x}", "expected '}' at col 5"),
        ("[ab", "expected ']' at col 4"),
        ("a)", "end-of-string expected at col 2"),
        ("a|", "unexpected end-of-string at col 3"),
        ("~", "unexpected end-of-string at col 2"),
        ("a\\", "unexpected end-of-string at col 3"),
        ('"ab', "expected '\"' at col 4"),
        ("<ab>", "automaton <ab> not found at col 1"),
        ("<1-2-3>", "interval syntax error"),
        ("a{2147483648}", "out of range at col 3"),  # Java's Integer.parseInt overflows
    ],
)
def test_parse_errors_name_the_column(candidate, message):
    verdict = compare_regex("a", candidate)
    assert verdict.kind == "parse_error" and verdict.code == "E"
    assert verdict.reason.startswith("candidate does not parse: ")
    assert message in verdict.reason


def test_gold_errors_and_non_strings_never_raise():
    assert compare_regex("(a", "a").reason.startswith("gold does not parse: ")
    for junk in (None, 3, b"a", ["a"]):
        assert regex_equivalent("a", junk) is False  # type: ignore[arg-type]
        assert compare_regex("a", junk).kind == "parse_error"  # type: ignore[arg-type]
    assert regex_equivalent("a", " a \n")  # surrounding whitespace is not part of the regex


@pytest.mark.parametrize(
    "candidate",
    [
        "a{99999}",
        "(.{999}){999}",
        ".*a.{30}",  # the DFA needs 2**31 states
        "(" * 500 + "a" + ")" * 500,
        "a" * 6000,
        "".join(chr(0x4E00 + i) for i in range(150)),
        "([a-z]{1,1000}){1,1000}",
        "<1-99999999>",
    ],
)
def test_pathological_candidates_are_bounded(candidate):
    start = time.perf_counter()
    verdict = compare_regex(".*", candidate)
    elapsed = time.perf_counter() - start
    assert elapsed < 2.0, f"{candidate[:30]!r} took {elapsed:.2f}s"
    assert not verdict.equivalent
    assert verdict.kind in ("bound", "timeout") and verdict.code == "0", verdict.reason


def test_deep_complement_is_fine():
    # ~~x is x, and a long run of ~ (up to the length cap) costs no recursion.
    assert regex_equivalent("a", "~" * 998 + "a")
    assert regex_equivalent("~a", "~" * 997 + "a")
    over = compare_regex("a", "~" * 10_000 + "a")
    assert over.kind == "bound" and "10001 characters > 1000 (not parsed)" in over.reason


def test_exact_and_score_nlrx():
    assert regex_exact("a|b", " a|b\n") and not regex_exact("a|b", "b|a")
    result = score_nlrx(["a|b", "x{2}", "dog", "a"], ["b|a", "x{2}", "(dog", "a{5000}"])
    assert result["n"] == 4
    assert result["semantic_accuracy"] == 0.5 and result["exact_accuracy"] == 0.25
    assert result["unparseable"] == 1 and result["bounded"] == 1
    assert [v.kind for v in result["verdicts"]] == [
        "equivalent",
        "equivalent",
        "parse_error",
        "bound",
    ]
    with pytest.raises(ValueError, match="2 gold regexes but 1 candidates"):
        score_nlrx(["a", "b"], ["a"])


# ------------------------------------------------- property test against an independent oracle


def _random_regex(rng: random.Random, depth: int) -> str:
    """A regex in the syntax Python's `re` and dk.brics share (no & or ~)."""
    if depth == 0 or rng.random() < 0.3:
        return rng.choice(["a", "b", "c", ".", "[ab]", "[a-c]", "(a)", "()"])
    op = rng.choice(["cat", "or", "star", "plus", "opt", "count"])
    left = _random_regex(rng, depth - 1)
    if op == "cat":
        return f"{left}{_random_regex(rng, depth - 1)}"
    if op == "or":
        return f"({left}|{_random_regex(rng, depth - 1)})"
    if op == "count":
        n = rng.randint(0, 2)
        return f"({left}){{{n},{n + rng.randint(0, 2)}}}"
    return f"({left}){ {'star': '*', 'plus': '+', 'opt': '?'}[op] }"


def _words(max_len: int) -> list[str]:
    # "z" stands for a character that no regex mentions.
    return ["".join(w) for n in range(max_len + 1) for w in itertools.product("abcz", repeat=n)]


def test_membership_matches_python_re_on_trusted_regexes():
    """Our DFAs accept exactly what Python's re accepts, for regexes written by this test
    (never for untrusted text), including & and ~ built from them."""
    rng = random.Random(7)
    words = _words(4)
    for _ in range(60):
        r1, r2 = _random_regex(rng, 3), _random_regex(rng, 3)
        oracle1 = {w for w in words if re.fullmatch(r1.replace("()", "(?:)"), w, re.S)}
        oracle2 = {w for w in words if re.fullmatch(r2.replace("()", "(?:)"), w, re.S)}
        fsm1 = regex_dfa.to_fsm(r1)
        assert {w for w in words if fsm1.accepts(w)} == oracle1, r1
        both = regex_dfa.to_fsm(f"({r1})&({r2})")
        assert {w for w in words if both.accepts(w)} == oracle1 & oracle2, (r1, r2)
        neither = regex_dfa.to_fsm(f"~({r1})&~({r2})")
        assert {w for w in words if neither.accepts(w)} == set(words) - oracle1 - oracle2
        if oracle1 != oracle2:  # a witness of difference: must not be called equivalent
            assert not regex_equivalent(r1, r2), (r1, r2)


# ------------------------------------------------------------------ agreement with dk.brics


@pytest.mark.skipif(not VECTORS.exists(), reason=f"shared data absent: {VECTORS}")
def test_agreement_with_dk_brics_vectors():
    with VECTORS.open(newline="") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))
    assert len(rows) > 1000 and set(rows[0]) == {"kind", "gold", "candidate", "verdict"}
    disagreements = []
    for line, row in enumerate(rows, start=2):
        verdict = compare_regex(row["gold"], row["candidate"])
        if verdict.code != row["verdict"]:
            disagreements.append(
                f"{VECTORS.name}:{line} kind={row['kind']} gold={row['gold']!r} "
                f"candidate={row['candidate']!r} expected={row['verdict']} got={verdict.code} "
                f"reason={verdict.reason}"
            )
    for text in disagreements:
        print("DISAGREE", text)
    agreement = 1 - len(disagreements) / len(rows)
    print(f"agreement {agreement:.4%} on {len(rows)} rows")
    assert not disagreements, "\n".join(disagreements)  # all 3,000 agree


# ------------------------------------------------------------------------------------- GSM8K


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("so she pays 18 dollars.\n#### 18", 18.0),
        ("#### 1,000", 1000.0),
        ("The answer is $1,234.50.", 1234.5),
        ("The answer is 18.", 18.0),
        ("3.00", 3.0),
        ("#### -3", -3.0),
        ("it fell to -$5", -5.0),
        ("3/4 of the cake", 0.75),
        ("That is 50%", 50.0),
        ("10-4 = 6", 6.0),  # a subtraction, not a negative number
        ("Then 12 - 4", 4.0),
        ("steps 1,2,3", 3.0),  # not a thousands separator
        ("7 apples #### 42 extra 9", 42.0),  # #### wins over the last number
        ("no digits here", None),
        ("#### none", None),
        ("1/0", None),
    ],
)
def test_gsm8k_answer_hand_cases(text, expected):
    assert gsm8k_answer(text) == expected


def test_gsm8k_correct_and_score():
    assert gsm8k_correct("The total is 1,000.", "blah\n#### 1000")
    assert gsm8k_correct("0.5", "#### 1/2")
    assert not gsm8k_correct("The total is 999.", "#### 1000")
    assert not gsm8k_correct("I don't know", "#### 3")
    result = score_gsm8k(["#### 5", "6", "none"], ["#### 5", "#### 7", "#### 1"])
    assert result == {"n": 3, "accuracy": 1 / 3, "unparseable": 1, "correct": [True, False, False]}
    with pytest.raises(ValueError, match="1 predictions but 2 references"):
        score_gsm8k(["1"], ["1", "2"])


@pytest.mark.skipif(not GSM8K_TEST.exists(), reason=f"shared data absent: {GSM8K_TEST}")
def test_gsm8k_real_references():
    records = [json.loads(line) for line in GSM8K_TEST.open()]
    assert len(records) > 1000
    for line, record in enumerate(records, start=1):
        answer = record["answer"]
        final = answer.rsplit("####", 1)[1].strip()
        expected = float(final.replace(",", ""))  # independent: plain string handling
        assert gsm8k_answer(answer) == expected, f"{GSM8K_TEST.name}:{line} {final!r}"
        assert gsm8k_correct(answer, answer)
        assert gsm8k_correct(final, answer)
