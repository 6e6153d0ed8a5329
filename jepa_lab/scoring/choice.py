"""Scoring multiple choice (HellaSwag: a letter A-D) and labels (Rotten Tomatoes: Good / Bad)
from generated text.

HellaSwag is also scored the official way, by the next-token probability of each letter after
the prompt: that needs the model and lives in `jepa_lab.training.choice_logits`.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

_MAX_CHARS = 2_000  # a letter is found near the start; longer output is read up to here


def _letters_pattern(choices: Sequence[str]) -> str:
    return "|".join(re.escape(c) for c in sorted(choices, key=len, reverse=True))


def choice_letter(text: object, choices: Sequence[str] = ("A", "B", "C", "D")) -> str | None:
    """The answer letter of a generation, or None when there is none or it is ambiguous.

    Read, in this order: the whole answer is a letter (``B``, ``B.``, ``(B)``, ``b``); an
    ``answer`` phrase (``Answer: B``, ``The answer is (B)``); a letter that opens the answer as
    a label (``B) If you ...``, ``B. ...``); a single distinct letter written as a label anywhere
    (``I pick (C)``). Two different letters in the winning form (``Answer: B or C``) is None.
    """
    if not isinstance(text, str) or not choices:
        return None
    text = text.strip()[:_MAX_CHARS]
    letters = _letters_pattern(choices)
    bare = re.fullmatch(rf"\(?({letters})\)?[.):]?", text, re.IGNORECASE)
    if bare:
        return _canonical(bare.group(1), choices)
    # the letter is a word of its own ("Answer: Bob" is no answer), in capitals after the
    # phrase ("the answer is a dog" is none either), and no second letter follows it ("B or C")
    stated = [
        m.group(1)
        for m in re.finditer(
            rf"(?i:\banswer(?:\s+is)?)\s*[:\-]?\s*\(?({letters})(?![\w'])\)?"
            rf"(?P<more>\s*(?i:or|and|/|,)\s*\(?(?:{letters})(?!\w))?",
            text,
        )
        if m.group("more") is None
    ]
    if stated:
        return stated[0] if len(set(stated)) == 1 else None
    # a letter written as a label: "B) ...", "(B)"; the output that lists several is none
    labelled = {m.group(1) for m in re.finditer(rf"(?<!\w)\(?({letters})\)", text)}
    opening = re.match(rf"\(?({letters})[).:](?:\s|$)", text)
    if opening:
        return opening.group(1) if labelled <= {opening.group(1)} else None
    return labelled.pop() if len(labelled) == 1 else None


def _canonical(letter: str, choices: Sequence[str]) -> str | None:
    matches = [c for c in choices if c.lower() == letter.lower()]
    return matches[0] if len(matches) == 1 else None


def score_choice(
    predictions: Sequence[str],
    references: Sequence[str],
    choices: Sequence[str] = ("A", "B", "C", "D"),
) -> dict:
    """{"n", "accuracy", "unparseable" (no letter found), "correct"} of generated answers
    against gold letters."""
    if len(predictions) != len(references):
        raise ValueError(
            f"score_choice: {len(predictions)} predictions but {len(references)} references"
        )
    letters = [choice_letter(p, choices) for p in predictions]
    correct = [
        letter is not None and letter == str(ref).strip()
        for letter, ref in zip(letters, references, strict=True)
    ]
    n = len(correct)
    return {
        "n": n,
        "accuracy": sum(correct) / n if n else 0.0,
        "unparseable": sum(letter is None for letter in letters),
        "correct": correct,
    }


def _fold(text: str) -> str:
    return text.strip().strip(string.punctuation + " ").casefold()


def label_of(text: object, labels: Sequence[str] = ("Good", "Bad")) -> str | None:
    """The label a generation gives: the whole answer, or its first word, equal to a label
    after stripping punctuation and case-folding (``good.``, ``Bad\\n``, ``Good - it is...``)."""
    if not isinstance(text, str):
        return None
    by_fold = {_fold(label): label for label in labels}
    whole = _fold(text)
    if whole in by_fold:
        return by_fold[whole]
    first = _fold(text.split(maxsplit=1)[0]) if text.split() else ""
    return by_fold.get(first)


def score_label(
    predictions: Sequence[str],
    references: Sequence[str],
    labels: Sequence[str] = ("Good", "Bad"),
) -> dict:
    """{"n", "accuracy", "unparseable" (no label found), "correct"}: label match after
    stripping and case-folding (Rotten Tomatoes: "Good" or "Bad")."""
    if len(predictions) != len(references):
        raise ValueError(
            f"score_label: {len(predictions)} predictions but {len(references)} references"
        )
    found = [label_of(p, labels) for p in predictions]
    correct = [
        label is not None and label == label_of(ref, labels)
        for label, ref in zip(found, references, strict=True)
    ]
    n = len(correct)
    return {
        "n": n,
        "accuracy": sum(correct) / n if n else 0.0,
        "unparseable": sum(label is None for label in found),
        "correct": correct,
    }
