"""Checks of a run's examples before its directory is written: where they came from, their size,
and what would otherwise be accepted silently (duplicated rows, held-out pairs also in the
training data, fewer rows than asked for).

Refusals raise :class:`InputError` in one line; what only deserves a warning warns in one line.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Sequence
from typing import Any

from jepa_lab.data.errors import MAX_RECORD_BYTES
from jepa_lab.objective.checks import InputError
from jepa_lab.training.fingerprint import is_generated, pair_key, source_kinds


def _ident(example: Any, index: int) -> str:
    return str(getattr(example, "id", None) or f"#{index}")


def check_record_sizes(examples: Sequence[Any], what: str) -> None:
    """No example longer than :data:`MAX_RECORD_BYTES` reaches the tokenizer: a 50 MB line ran
    the tokenizer's training for minutes at gigabytes of memory."""
    for i, example in enumerate(examples):
        size = sum(len(part or "") for part in pair_key(example))
        if size > MAX_RECORD_BYTES:
            raise InputError(
                f"{what} example {_ident(example, i)}: {size} characters, longer than the limit "
                f"of {MAX_RECORD_BYTES} per record; shorten or drop it"
            )


def check_sources(config: Any, train: Sequence[Any], held_out: Sequence[Any]) -> None:
    """Train and held-out examples from the same kind of source: with a local training file and
    no test file, ``data_source='auto'`` would otherwise score a model trained on real data
    against the generator's test split."""
    if not held_out or config.eval_size == 0 or is_generated(train) == is_generated(held_out):
        return
    message = (
        f"the train examples come from {source_kinds(train)} but the held-out ones from "
        f"{source_kinds(held_out)}"
    )
    if config.data_source == "auto":
        raise InputError(
            f"data_source='auto': {message} (a local copy of one split only); put the other "
            "split next to it, or set data_source='generated'"
        )
    warnings.warn(f"{message}; held-out scores then measure another distribution", stacklevel=3)


def warn_data_quality(config: Any, train: Sequence[Any], held_out: Sequence[Any]) -> None:
    """One line each: duplicated training rows, held-out pairs also in the training data, and
    fewer rows than ``train_size`` / ``eval_size`` asked for."""
    keys = [pair_key(e)[:2] for e in train]
    repeats = {k: n for k, n in Counter(keys).items() if n > 1}
    if repeats:
        first = next(i for i, k in enumerate(keys) if k in repeats)
        extra = sum(repeats.values()) - len(repeats)
        warnings.warn(
            f"train data: {extra} duplicated row(s) ({len(repeats)} pair(s) appear more than "
            f"once; first: example {_ident(train[first], first)}); each copy weighs again",
            stacklevel=3,
        )
    seen = set(keys)
    shared = [i for i, e in enumerate(held_out) if pair_key(e)[:2] in seen]
    if shared:
        warnings.warn(
            f"held-out data: {len(shared)} of {len(held_out)} pair(s) are also in the training "
            f"data (first: example {_ident(held_out[shared[0]], shared[0])}); held-out scores "
            "overstate generalisation on them",
            stacklevel=3,
        )
    for what, examples in (("train", train), ("eval", held_out)):
        asked = getattr(config, f"{what}_size")
        if asked and len(examples) < asked:
            warnings.warn(
                f"--{what}-size {asked}: the data hold only {len(examples)} {what} row(s); "
                f"the run uses {len(examples)}",
                stacklevel=3,
            )


def check_pair_lengths(jm: Any, train: Sequence[Any]) -> None:
    """Refuse training data of which no pair fits ``max_length``: every batch would be empty.

    A pair's row holds at least its text and its code tokens, so that sum is a lower bound: a
    pair over the limit by it is surely too long (the packer drops the rest as it goes)."""
    limit = jm.config.max_length
    if not train or limit is None:
        return
    pairs = jm.packer.tokenize(train)  # pairs the run already tokenised pass through
    shortest = min(len(p.text) + len(p.code) for p in pairs)
    if shortest > limit:
        raise InputError(
            f"every one of the {len(train)} training pairs is longer than max_length={limit} "
            f"tokens (the shortest has at least {shortest}); raise jepa.max_length or use "
            "shorter examples"
        )
