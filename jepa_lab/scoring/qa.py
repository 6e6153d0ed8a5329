"""Scoring NQ-Open: the open-domain QA rule, SQuAD's answer normalisation and exact match.

An answer is normalised as SQuAD's evaluation script does (lowercase, punctuation removed, the
articles a / an / the removed, whitespace collapsed), and it is right when it equals any gold
answer so normalised: the headline figure of open-domain QA papers. The paper's wording, "a gold
answer appears in the generation", is the second figure ("contains"): some normalised gold
answer occurs in the normalised prediction as a run of whole words.

Unlike the official LLM-JEPA scorer (substring match of the prediction inside the gold, without
normalisation), an empty prediction is never right, and a gold answer that normalises to
nothing (say "The") matches nothing.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

GOLD_SEPARATOR = "; "  # how the LLM-JEPA NQ-Open files join several gold answers
_ARTICLES = re.compile(r"\b(a|an|the)\b")  # fixed and linear: no nested quantifiers
_PUNCTUATION = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD v1.1's normalize_answer: lower, drop punctuation, drop articles, fix spaces."""
    text = text.lower().translate(_PUNCTUATION)
    return " ".join(_ARTICLES.sub(" ", text).split())


def split_gold_answers(text: str) -> list[str]:
    """The gold answers of one record: the official files join several with ``"; "``."""
    return [part.strip() for part in text.split(GOLD_SEPARATOR) if part.strip()]


def _golds(reference: str | Sequence[str]) -> list[str]:
    answers = split_gold_answers(reference) if isinstance(reference, str) else list(reference)
    return [g for g in (normalize_answer(a) for a in answers) if g]


def qa_exact_match(prediction: str, reference: str | Sequence[str]) -> bool:
    """Normalised prediction equals a normalised gold answer (never when it is empty)."""
    predicted = normalize_answer(prediction) if isinstance(prediction, str) else ""
    return bool(predicted) and predicted in _golds(reference)


def qa_contains(prediction: str, reference: str | Sequence[str]) -> bool:
    """A normalised gold answer occurs in the normalised prediction, as whole words."""
    predicted = normalize_answer(prediction) if isinstance(prediction, str) else ""
    padded = f" {predicted} "
    return bool(predicted) and any(f" {gold} " in padded for gold in _golds(reference))


def score_nq_open(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> dict:
    """{"n", "exact_match", "contains", "correct" (per row, exact match)}. A reference is the
    record's answer text (golds joined with "; ") or a list of gold answers."""
    if len(predictions) != len(references):
        raise ValueError(
            f"score_nq_open: {len(predictions)} predictions but {len(references)} references"
        )
    pairs = list(zip(predictions, references, strict=True))
    correct = [qa_exact_match(p, r) for p, r in pairs]
    contains = [qa_contains(p, r) for p, r in pairs]
    n = len(pairs)
    return {
        "n": n,
        "exact_match": sum(correct) / n if n else 0.0,
        "contains": sum(contains) / n if n else 0.0,
        "correct": correct,
    }
