"""NQ-Open scoring: SQuAD's answer normaliser on its known cases, exact match against any gold
answer, 'contains' as whole words, and an empty answer that is never right."""

from __future__ import annotations

import json
import re
import string

import pytest
from helpers import SHARED_DATA

from jepa_lab.scoring.qa import (
    normalize_answer,
    qa_contains,
    qa_exact_match,
    score_nq_open,
    split_gold_answers,
)


def squad_normalize(s: str) -> str:
    """SQuAD v1.1's evaluate-v1.1.py normalize_answer, as published (the independent oracle)."""

    def remove_articles(text):
        return re.sub(r"\b(a|an|the)\b", " ", text)

    def white_space_fix(text):
        return " ".join(text.split())

    def remove_punc(text):
        exclude = set(string.punctuation)
        return "".join(ch for ch in text if ch not in exclude)

    return white_space_fix(remove_articles(remove_punc(s.lower())))


@pytest.mark.parametrize(
    "text, expected",
    [
        ("The  Beatles!", "beatles"),
        ("a cat", "cat"),
        ("An Apple, a day.", "apple day"),
        ("Theatre", "theatre"),  # an article only as a whole word
        ("U.S.A.", "usa"),
        ("  1,000  ", "1000"),
        ("the", ""),
        ("6 geese a-laying", "6 geese alaying"),  # punctuation goes before articles
    ],
)
def test_squad_normalisation_known_cases(text, expected):
    assert normalize_answer(text) == expected == squad_normalize(text)


def test_agrees_with_squads_normaliser_on_every_real_gold_answer():
    path = SHARED_DATA / "llm-jepa-datasets" / "nq_open_test.jsonl"
    if not path.exists():
        pytest.skip(f"no shared data at {path}")
    for line in path.read_text(encoding="utf-8").splitlines():
        answer = json.loads(line)["messages"][-1]["content"]
        for gold in split_gold_answers(answer):
            assert normalize_answer(gold) == squad_normalize(gold)


def test_exact_match_against_any_gold_and_contains_as_whole_words():
    golds = "6 geese a-laying; maids a-milking"
    assert split_gold_answers(golds) == ["6 geese a-laying", "maids a-milking"]
    assert qa_exact_match("Maids a-milking.", golds)
    assert not qa_exact_match("six geese", golds)
    assert qa_contains("I think it is the 6 geese a-laying, surely", golds)
    assert not qa_contains("66 geese a-laying", golds)  # not a run of whole words
    assert qa_exact_match("the cat", ["A cat", "dog"])  # a list of golds works too


def test_empty_answers_are_never_right():
    assert not qa_exact_match("", "Nine") and not qa_contains("", "Nine")
    assert not qa_exact_match("The", "Nine")  # normalises to nothing
    assert not qa_exact_match("", "The") and not qa_contains("anything at all", "The; a")
    # the official rule (prediction in gold, no normalisation) calls "" right for any gold
    assert "" in "Nine"


def test_score_nq_open():
    result = score_nq_open(
        ["Nine", "the Beatles", "", "Paris, France"], ["nine", "Beatles; Wings", "x", "Paris"]
    )
    assert result["n"] == 4 and result["correct"] == [True, True, False, False]
    assert result["exact_match"] == 0.5 and result["contains"] == 0.75
    with pytest.raises(ValueError, match="2 predictions but 1 references"):
        score_nq_open(["a", "b"], ["a"])
