"""HellaSwag letters and Rotten Tomatoes labels read from generated text."""

from __future__ import annotations

import pytest

from jepa_lab.scoring.choice import choice_letter, label_of, score_choice, score_label


@pytest.mark.parametrize(
    "text, letter",
    [
        ("B", "B"),
        ("B.", "B"),
        ("(B)", "B"),
        ("b", "B"),
        (" C\n", "C"),
        ("Answer: B", "B"),
        ("answer - D", "D"),
        ("The answer is B", "B"),
        ("The answer is (A).", "A"),
        ("The answer is B because it fits", "B"),
        ("B) If you bring your makeup ...", "B"),
        ("I pick (C) here", "C"),
    ],
)
def test_the_answer_letter_is_read(text, letter):
    assert choice_letter(text) == letter


@pytest.mark.parametrize(
    "text",
    [
        "",
        "A man walks into the store.",  # an article, not an answer
        "Answer: B or C",
        "(A) or (B)",
        "D) first ending\nA) second ending",  # the options repeated
        "the answer is a dog",
        "answer: Bob",
        "E",
        None,
    ],
)
def test_no_letter_when_absent_or_ambiguous(text):
    assert choice_letter(text) is None


def test_score_choice_counts_unparseable_as_wrong():
    result = score_choice(["A", "Answer: C", "no idea", "B"], ["A", "B", "C", "B"])
    assert result["correct"] == [True, False, False, True]
    assert result["accuracy"] == 0.5 and result["unparseable"] == 1 and result["n"] == 4
    assert score_choice(["2"], ["2"], choices=("1", "2"))["accuracy"] == 1.0
    with pytest.raises(ValueError, match="1 predictions but 2 references"):
        score_choice(["A"], ["A", "B"])


def test_labels_match_after_stripping_and_case_folding():
    assert label_of(" good.\n") == "Good" and label_of("BAD") == "Bad"
    assert label_of("Good - a fine film") == "Good"
    assert label_of("Goodness") is None and label_of("") is None and label_of("neutral") is None
    result = score_label(["Good", "bad!", "meh", "Good"], ["Good", "Bad", "Good", "Bad"])
    assert result["correct"] == [True, True, False, False]
    assert result["accuracy"] == 0.5 and result["unparseable"] == 1
