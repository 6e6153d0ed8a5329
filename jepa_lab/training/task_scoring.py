"""Each task's scorer as the registry calls it: (answers, examples) -> (metrics, correct).

The scorers themselves live in jepa_lab.scoring (strings in, verdicts out); this module only
feeds them what each needs from an Example (Spider's db_id and databases, NQ-Open's split gold
answers) and returns one bool per answer for predictions.jsonl. The Spider, QA and choice
scorers are imported when first used, so a task table that lists them costs nothing to import.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

Scored = tuple[dict[str, float], list[bool]]
SYNTH_DB_FOLDER = "spider-synth-databases"  # under the cache: the generator's sqlite files


def _metrics(result: dict, skip: tuple[str, ...] = ()) -> dict[str, float]:
    """The numeric metrics of a scorer's dict (not its per-example lists, not its count)."""
    return {
        k: float(v)
        for k, v in result.items()
        if k != "n" and k not in skip and isinstance(v, (int, float)) and not isinstance(v, bool)
    }


def _golds(examples: Sequence[Any]) -> list[str]:
    return [e.code for e in examples]


def score_regex(answers: list[str], examples: Sequence[Any]) -> Scored:
    """NL-RX: equivalence of languages (the headline) and exact string match."""
    from jepa_lab.scoring import score_nlrx

    result = score_nlrx(_golds(examples), answers)
    metrics = {"semantic_accuracy": result["semantic_accuracy"], "exact": result["exact_accuracy"]}
    metrics["unparseable"] = float(result["unparseable"])
    return metrics, [v.equivalent for v in result["verdicts"]]


def score_math(answers: list[str], examples: Sequence[Any]) -> Scored:
    """GSM8K: the final number (the headline) and exact string match of the whole solution."""
    from jepa_lab.scoring import score_gsm8k

    golds = _golds(examples)
    result = score_gsm8k(answers, golds)
    exact = [a == g for a, g in zip(answers, golds, strict=True)]
    metrics = {"accuracy": result["accuracy"], "exact": sum(exact) / len(exact) if exact else 0.0}
    metrics["unparseable"] = float(result["unparseable"])
    return metrics, list(result["correct"])


def spider_databases(examples: Sequence[Any]) -> Path | None:
    """Where the examples' databases are: the generator's (built once into the cache) for
    generated examples, else --spider-db-dir / $JEPA_LAB_SPIDER_DB_DIR, else None."""
    from jepa_lab.scoring.sql import spider_db_dir

    if examples and all(str(e.source).startswith("generated/") for e in examples):
        from jepa_lab.data import cache_dir, sql_synth

        return sql_synth.build_databases(cache_dir() / SYNTH_DB_FOLDER)
    return spider_db_dir()


def score_sql(answers: list[str], examples: Sequence[Any]) -> Scored:
    """Spider: execution accuracy on the databases (the headline), exact match after SQL
    normalisation, and how many databases were missing (training goes on without them)."""
    from jepa_lab.scoring.sql import score_spider

    db_ids = [getattr(e, "db_id", None) for e in examples]
    result = score_spider(answers, _golds(examples), db_ids, spider_databases(examples))
    metrics = _metrics(result)  # without databases execution_accuracy is None: left out, so
    metrics["missing_databases"] = float(len(result.get("missing_databases") or []))
    return metrics, _per_example(result, "execution", len(answers))  # exact_match heads


def score_open_qa(answers: list[str], examples: Sequence[Any]) -> Scored:
    """NQ-Open: SQuAD-normalised exact match against any gold answer, and 'contains'."""
    from jepa_lab.scoring.qa import score_nq_open, split_gold_answers

    references = [split_gold_answers(e.code) for e in examples]
    result = score_nq_open(answers, references)
    return _metrics(result), _per_example(result, "exact", len(answers))


def score_letter(answers: list[str], examples: Sequence[Any]) -> Scored:
    """HellaSwag: the letter A-D read from the generation."""
    from jepa_lab.scoring.choice import score_choice

    result = score_choice(answers, _golds(examples), choices=("A", "B", "C", "D"))
    return _metrics(result), _per_example(result, "", len(answers))


def score_letter_by_logits(jepa_model: Any, examples: Sequence[Any]) -> dict[str, float]:
    """HellaSwag the official way: argmax of the next-token probability over A-D after the
    whole prompt (not cut to 128 tokens as the official code cuts it)."""
    from jepa_lab.training.choice_logits import score_choice_by_logits

    return _metrics(score_choice_by_logits(jepa_model, list(examples)))


def score_review_label(answers: list[str], examples: Sequence[Any]) -> Scored:
    """Rotten Tomatoes: the label Good/Bad matches."""
    from jepa_lab.scoring.choice import score_label

    result = score_label(answers, _golds(examples), labels=("Good", "Bad"))
    return _metrics(result), _per_example(result, "", len(answers))


def _per_example(result: dict, prefer: str, n: int) -> list[bool]:
    """The scorer's own per-example verdicts: its 'correct' list, else the first list of n
    booleans whose name has ``prefer`` in it, else any such list."""
    lists = {
        k: v
        for k, v in result.items()
        if isinstance(v, list) and len(v) == n and all(isinstance(x, bool) for x in v)
    }
    if "correct" in lists:
        return lists["correct"]
    named = [v for k, v in lists.items() if prefer and prefer in k] or list(lists.values())
    if named:
        return list(named[0])
    raise ValueError(
        f"the scorer returned no per-example verdicts (a list of {n} booleans, e.g. 'correct'); "
        f"got keys {sorted(result)}"
    )


def user_scorer(
    scorer: Callable[[Sequence[str], Sequence[str]], dict], headline: str
) -> Callable[[list[str], Sequence[Any]], Scored]:
    """A registered task's scorer(predictions, golds) -> dict, with per-example verdicts from
    its 'correct' list or, failing that, from scoring each answer alone."""

    def score(answers: list[str], examples: Sequence[Any]) -> Scored:
        golds = _golds(examples)
        result = scorer(answers, golds)
        if not isinstance(result, dict) or headline not in result:
            raise ValueError(
                f"the task's scorer returned {type(result).__name__} "
                f"{sorted(result) if isinstance(result, dict) else ''}; expected a dict holding "
                f"the headline metric {headline!r}"
            )
        correct = result.get("correct")
        if not (isinstance(correct, list) and len(correct) == len(answers)):
            correct = [
                bool(scorer([a], [g])[headline]) for a, g in zip(answers, golds, strict=True)
            ]
        return _metrics(result), [bool(c) for c in correct]

    return score
