"""How a model trained on generated word problems does on a slice of the real GSM8K test set.

The ``gsm8k-tiny`` preset teaches a 2-layer model generated one-step problems with small
numbers. Real GSM8K asks for several steps, larger numbers and words the model never saw, so a
tiny model scores about 0% there (a rare hit is a coincidence, at the level of answering each
question's last number); this module measures it with the same greedy decoding and
numeric scorer as the held-out evaluation, and says so in plain words. It reads a local copy of
the test set only (``data_dir``, ``$JEPA_LAB_DATA_DIR`` or the download cache; never the
network) and reports plainly when there is none.

    from jepa_lab.experiments.gsm8k_real import evaluate_real_gsm8k
    result = evaluate_real_gsm8k("runs/gsm8k-tiny/ntp-seed0", n=50)
    print(result.summary())

or from a shell: ``jepa-lab eval-gsm8k runs/gsm8k-tiny/ntp-seed0 --n 50``.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from numbers import Integral
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jepa_lab.data import load_dataset, local_path
from jepa_lab.objective.checks import InputError
from jepa_lab.scoring import score_gsm8k

if TYPE_CHECKING:  # torch is imported when a model is used, so the command line starts fast
    from jepa_lab.objective.model import JepaModel

DEFAULT_SLICE = 50  # problems; a few minutes of greedy decoding on 2 CPU cores at most
NO_COPY = (
    "no local copy of the real GSM8K test set (looked in data_dir, $JEPA_LAB_DATA_DIR and the "
    "download cache); `jepa-lab download gsm8k` fetches it (network), or set "
    "JEPA_LAB_DATA_DIR to a folder holding gsm8k/test.jsonl"
)


@dataclass
class RealSliceResult:
    """Greedy answers on the first ``n`` real test problems, scored numerically.

    ``path`` is the file read (None when there is no local copy: then ``n`` is 0).
    ``last_number_accuracy`` is a reference that needs no model: answering each question's last
    number. ``predictions`` holds one dict per problem (id, question, gold, answer, correct).
    """

    path: Path | None
    n: int = 0
    accuracy: float = 0.0
    unparseable: int = 0
    stop_rate: float = 0.0
    last_number_accuracy: float = 0.0
    predictions: list[dict[str, Any]] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.path is not None

    @property
    def correct(self) -> int:
        return sum(p["correct"] for p in self.predictions)

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": None if self.path is None else str(self.path),
            "n": self.n,
            "accuracy": self.accuracy,
            "correct": self.correct,
            "unparseable": self.unparseable,
            "stop_rate": self.stop_rate,
            "last_number_accuracy": self.last_number_accuracy,
        }

    def summary(self) -> str:
        """What the numbers say, in words."""
        if not self.available:
            return f"Real GSM8K: not evaluated, {NO_COPY}."
        reference = round(self.last_number_accuracy * self.n)
        stopped = round(self.stop_rate * self.n)
        if self.correct > max(2 * reference, 0.1 * self.n):
            verdict = (
                "This is well above the no-model reference: read the answers it got "
                "right before believing it."
            )
        else:
            verdict = (
                "That is about the no-model reference: a model trained only on generated "
                "problems has never seen GSM8K's words or its multi-step reasoning and "
                "answers with the templates it knows, so a hit here is a coincidence (a "
                "number it writes equals the gold one), not reasoning. The generated "
                "held-out accuracy is the figure that measures learning at this scale."
            )
        return (
            f"Real GSM8K test set, first {self.n} problems ({self.path}): {self.correct}/{self.n}"
            f" correct ({self.accuracy:.1%}). Answering each question's last number, with no "
            f"model, scores {reference}/{self.n} ({self.last_number_accuracy:.1%}). The model "
            f"ended {stopped}/{self.n} answers by itself; {self.unparseable} held no number. "
            + verdict
        )


def real_test_slice(n: int = DEFAULT_SLICE, data_dir: str | os.PathLike | None = None):
    """(path, the first ``n`` real GSM8K test examples), or (None, []) without a local copy."""
    if isinstance(n, bool) or not isinstance(n, Integral) or n < 1:
        raise InputError(f"n={n!r}: expected a positive number of test problems")
    path = local_path("gsm8k", "test", data_dir=data_dir)
    if path is None:
        return None, []
    return path, list(load_dataset("gsm8k", "test", "local", n=n, data_dir=data_dir))


def _as_model(model: JepaModel | str | os.PathLike) -> JepaModel:
    """A JepaModel, or one loaded from a run directory (its ``final/``) or a saved model."""
    from jepa_lab.objective.model import JepaModel

    if isinstance(model, JepaModel):
        return model
    folder = Path(model)
    if (folder / "final").is_dir():
        folder = folder / "final"
    if not (folder / "config.json").is_file():
        raise FileNotFoundError(
            f"{model}: not a trained run directory (no final/config.json) "
            "nor a saved model (no config.json)"
        )
    return JepaModel.from_pretrained(folder)


def answer(
    jm: JepaModel,
    examples: Sequence[Any],
    max_new_tokens: int,
    batch_size: int = 16,
    progress: bool = False,
) -> tuple[list[str], list[bool]]:
    """Greedy answers to ``examples`` and, for each, whether generation stopped by itself."""
    from jepa_lab.training.evaluate import greedy_answers

    return greedy_answers(jm, examples, max_new_tokens, batch_size, progress, desc="real GSM8K")


def evaluate_real_gsm8k(
    model: JepaModel | str | os.PathLike,
    n: int = DEFAULT_SLICE,
    *,
    data_dir: str | os.PathLike | None = None,
    max_new_tokens: int = 64,
    batch_size: int = 16,
    progress: bool = False,
) -> RealSliceResult:
    """Score ``model`` (a JepaModel, a run directory or a saved model) on the first ``n``
    problems of the real GSM8K test set, with the numeric scorer. Without a local copy the
    result has ``available == False`` and its summary says where it looked."""
    path, examples = real_test_slice(n, data_dir)
    if path is None:
        return RealSliceResult(path=None)
    jm = _as_model(model)
    was_training = jm.training
    jm.eval()
    try:
        answers, stopped = answer(jm, examples, max_new_tokens, batch_size, progress)
    finally:
        jm.train(was_training)
    golds = [e.code for e in examples]
    scores = score_gsm8k(answers, golds)
    reference = score_gsm8k([e.text for e in examples], golds)  # the question's last number
    predictions = [
        {"id": e.id, "question": e.text, "gold": g, "answer": a, "correct": bool(c)}
        for e, g, a, c in zip(examples, golds, answers, scores["correct"], strict=True)
    ]
    return RealSliceResult(
        path=path,
        n=len(examples),
        accuracy=scores["accuracy"],
        unparseable=scores["unparseable"],
        stop_rate=sum(stopped) / len(stopped),
        last_number_accuracy=reference["accuracy"],
        predictions=predictions,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``jepa-lab eval-gsm8k``'s arguments."""
    parser.description = "Score trained runs on the first n problems of the real GSM8K test set."
    parser.add_argument("run_dirs", nargs="+", help="run directories (with final/) or models")
    parser.add_argument("--n", type=int, default=DEFAULT_SLICE, help="test problems to score")
    parser.add_argument("--data-dir", help="a folder holding gsm8k/test.jsonl")
    parser.add_argument("--max-new-tokens", type=int, default=64)
    parser.add_argument("--json", help="write the results here")


def run(args: argparse.Namespace) -> int:
    """Score each run of ``args.run_dirs``, print its summary and write ``args.json``."""
    results = {}
    for run_dir in args.run_dirs:
        result = evaluate_real_gsm8k(
            run_dir, args.n, data_dir=args.data_dir, max_new_tokens=args.max_new_tokens
        )
        print(f"{run_dir}: {result.summary()}")
        results[str(run_dir)] = result.to_dict()
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    return 0
