"""NTP baseline versus LLM-JEPA over several seeds, with the statistics the paper reports.

For every seed both arms start from the same weights and see the same data in the same order;
the only difference is the JEPA term. The table gives mean ± std per arm, the paired difference
(JEPA - NTP, seed by seed) and a paired one-sided t-test (H1: JEPA > NTP).
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from jepa_lab.training.presets import TrainConfig

ARMS = ("ntp", "jepa")
ARM_NAMES = {"ntp": "NTP baseline", "jepa": "LLM-JEPA"}

# The up-front time estimate: seconds per training pair and epoch, per held-out pair and epoch
# (greedy generation plus the embedding diagnostics), per run (tokenizer, model, saving) and
# once (imports, data), for the tiny preset's model on 2 idle CPU cores, fitted to measured
# `jepa-lab demo` runs (benchmarks/README.md). Other from-config sizes scale with
# hidden^2 x layers. A hub model gets no estimate: its cost depends on hardware we cannot see.
# Fitted to one thread's CPU time (a busy machine gives no more), it also predicts idle runs of
# 2,000 and 3,000 pairs within ~15%.
TINY_SECONDS_PER_TRAIN_PAIR = 0.0035
TINY_SECONDS_PER_EVAL_PAIR = 0.01
SECONDS_PER_RUN = 2.0
SECONDS_AT_START = 6.0


@dataclass
class ArmStats:
    mean: float
    std: float
    values: list[float]


@dataclass
class Comparison:
    """Final-epoch held-out accuracy per arm and seed, and the paired statistics."""

    seeds: list[int]
    metric: str
    ntp: ArmStats
    jepa: ArmStats
    diff_mean: float
    diff_std: float
    t_statistic: float
    p_value: float
    per_epoch: dict[str, dict[int, list[float]]] = field(default_factory=dict)
    # runs that finished but learned nothing (the loss stayed at ln V): "<arm> seed <s>: why"
    flagged: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "seeds": self.seeds,
            "metric": self.metric,
            "ntp_mean": self.ntp.mean,
            "ntp_std": self.ntp.std,
            "ntp_values": self.ntp.values,
            "jepa_mean": self.jepa.mean,
            "jepa_std": self.jepa.std,
            "jepa_values": self.jepa.values,
            "diff_mean": self.diff_mean,
            "diff_std": self.diff_std,
            "t_statistic": self.t_statistic,
            "p_value": self.p_value,
            "per_epoch": {
                arm: {str(s): v for s, v in by_seed.items()}
                for arm, by_seed in self.per_epoch.items()
            },
            "flagged": self.flagged,
        }

    def markdown(self) -> str:
        def cell(stats: ArmStats) -> str:
            return f"{stats.mean:.4f} ± {stats.std:.4f}"

        p = format_p(self.p_value, digits=4)
        rows = [
            f"| arm | {self.metric} (mean ± std over {len(self.seeds)} seeds) | per seed |",
            "| --- | --- | --- |",
            f"| NTP baseline | {cell(self.ntp)} | {_per_seed(self.ntp.values)} |",
            f"| LLM-JEPA | {cell(self.jepa)} | {_per_seed(self.jepa.values)} |",
            f"| JEPA - NTP (paired) | {self.diff_mean:+.4f} ± {self.diff_std:.4f} | "
            f"t = {self.t_statistic:.3f}, one-sided p = {p} |",
        ]
        return "\n".join(rows)

    def _repr_markdown_(self) -> str:
        """Jupyter renders a comparison as its table (the cell's last line: ``comparison``)."""
        return self.markdown()


def in_jupyter() -> bool:
    """True in a Jupyter kernel, where a returned table renders itself: printing its markdown
    source as well would show it twice, once as raw text."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return type(shell).__name__ == "ZMQInteractiveShell"


def format_p(p: float | None, digits: int = 3) -> str:
    """A p-value to ``digits`` significant digits, ``n/a`` where none was computed (None, NaN).

    Each table keeps its own ``digits`` (the single comparison 4, the study's tables 3, the
    confirmation's 2), so the committed tables print as they always have.
    """
    return "n/a" if p is None or math.isnan(p) else f"{p:.{digits}g}"


def _per_seed(values: Sequence[float]) -> str:
    return ", ".join(f"{v:.4f}" for v in values)


def _std(values: Sequence[float]) -> float:
    return float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def paired_comparison(
    ntp: Sequence[float], jepa: Sequence[float], seeds: Sequence[int], metric: str
) -> Comparison:
    """Mean ± std per arm, the paired difference and a one-sided paired t-test (JEPA > NTP)."""
    from scipy import stats

    if len(ntp) != len(jepa) or len(ntp) != len(seeds):
        raise ValueError(f"paired_comparison: {len(ntp)} NTP, {len(jepa)} JEPA, {len(seeds)} seeds")
    diff = np.asarray(jepa, dtype=float) - np.asarray(ntp, dtype=float)
    if len(diff) > 1 and np.std(diff) > 0:
        test = stats.ttest_rel(jepa, ntp, alternative="greater")
        t_statistic, p_value = float(test.statistic), float(test.pvalue)
    else:  # one seed, or identical differences: the test is undefined
        t_statistic, p_value = float("nan"), float("nan")
    return Comparison(
        seeds=list(seeds),
        metric=metric,
        ntp=ArmStats(float(np.mean(ntp)), _std(ntp), [float(v) for v in ntp]),
        jepa=ArmStats(float(np.mean(jepa)), _std(jepa), [float(v) for v in jepa]),
        diff_mean=float(diff.mean()),
        diff_std=_std(diff),
        t_statistic=t_statistic,
        p_value=p_value,
    )


def estimate_seconds(config: TrainConfig, runs: int) -> float | None:
    """About how long ``runs`` runs of ``config`` take on 2 idle CPU cores (None: no estimate
    for hub models or unbounded data)."""
    if not config.from_config or config.train_size is None or config.eval_size is None:
        return None
    scale = (config.hidden_size / 128) ** 2 * config.num_layers / 2
    per_epoch = (
        config.train_size * TINY_SECONDS_PER_TRAIN_PAIR
        + config.eval_size * TINY_SECONDS_PER_EVAL_PAIR * config.max_new_tokens / 48
    )
    return SECONDS_AT_START + runs * (SECONDS_PER_RUN + config.epochs * per_epoch * scale)


def minutes_text(seconds: float) -> str:
    """``0:42``, ``12:05``: elapsed times and what is left."""
    seconds = max(0, int(round(seconds)))
    return f"{seconds // 60}:{seconds % 60:02d}"


def one_thread_if_busy() -> str | None:
    """On a machine already busy (1-minute load >= its cores), torch's two threads wait for
    each other: measured on 2 cores at load 9, an epoch of the demo took 87 s on 2 threads and
    7 s on 1. Train on one thread then, unless the user chose (OMP_NUM_THREADS)."""
    if "OMP_NUM_THREADS" in os.environ or not hasattr(os, "getloadavg"):
        return None
    load, cores = os.getloadavg()[0], os.cpu_count() or 1
    if cores < 2 or load < cores:
        return None
    import torch

    torch.set_num_threads(1)
    return (
        f"the machine is busy (load {load:.1f} on {cores} cores): training on one thread, "
        "which is faster than threads waiting for each other (OMP_NUM_THREADS overrides). "
    )


class RunProgress:
    """What compare prints while it trains: ``run k of N: <arm> seed s``, one line per epoch
    (its accuracy and losses, the time so far and about how much is left), and, with ``live``
    on a terminal, a line rewritten in place at each step. Never the Trainer's log dicts."""

    def __init__(
        self, runs: int, epochs: int, estimate: float | None, live: bool = True, stream=None
    ):
        self.stream = stream or sys.stdout
        self.runs, self.epochs, self.estimate = runs, epochs, estimate
        self.live = live and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.perf_counter()
        self.run = 0
        self._shown = 0  # width of the in-place line now on screen
        self._last_live = 0.0

    def start_run(self, arm: str, seed: int) -> None:
        self.run += 1
        self._print(f"run {self.run} of {self.runs}: {ARM_NAMES.get(arm, arm)} seed {seed}")

    def left(self, epoch: float) -> float | None:
        """Seconds left after ``epoch`` (fractional) epochs of the current run."""
        done = ((self.run - 1) * self.epochs + epoch) / (self.runs * self.epochs)
        elapsed = time.perf_counter() - self.started
        if done <= 0.0:
            return None if self.estimate is None else max(self.estimate - elapsed, 0.0)
        return elapsed * (1.0 - done) / done

    def _times(self, epoch: float) -> str:
        elapsed = minutes_text(time.perf_counter() - self.started)
        left = self.left(epoch)
        return f"elapsed {elapsed}" + ("" if left is None else f", about {minutes_text(left)} left")

    def step(self, epoch: float) -> None:
        """In place, at most twice a second: the epoch, its share done, the times."""
        now = time.perf_counter()
        if not self.live or now - self._last_live < 0.5:
            return
        self._last_live = now
        current = min(math.floor(epoch) + 1, self.epochs)
        share = 100 * (epoch - math.floor(epoch))
        self._rewrite(f"  epoch {current}/{self.epochs} {share:3.0f}% | {self._times(epoch)}")

    def evaluating(self, epoch: float) -> None:
        if self.live:
            self._rewrite(f"  epoch {round(epoch)}/{self.epochs}: evaluating on held-out pairs")

    def record(self, record: dict[str, Any]) -> None:
        """An epoch's line, from its history record (trainer.append_record calls it)."""
        epoch = float(record.get("epoch", 0.0))
        parts = [f"epoch {epoch:g}/{self.epochs}"]
        for key, label in (
            ("eval_accuracy", "accuracy"),
            ("ntp_loss", "NTP loss"),
            ("jepa_loss", "JEPA loss"),
        ):
            if isinstance(record.get(key), float | int):
                parts.append(f"{label} {record[key]:.3f}")
        self._print("  " + ", ".join(parts) + " | " + self._times(epoch))

    def _rewrite(self, line: str) -> None:
        pad = max(self._shown - len(line), 0)
        self.stream.write("\r" + line + " " * pad)
        self.stream.flush()
        self._shown = len(line)

    def _print(self, line: str) -> None:
        if self._shown:
            self.stream.write("\r" + " " * self._shown + "\r")
            self._shown = 0
        print(line, file=self.stream, flush=True)


def _live_callback(progress: RunProgress):
    """A TrainerCallback feeding ``progress`` (made here: transformers loads only to train)."""
    from transformers import TrainerCallback

    class LiveProgress(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            progress.step(float(state.epoch or 0.0))
            return control

        def on_epoch_end(self, args, state, control, **kwargs):
            progress.evaluating(float(state.epoch or 0.0))
            return control

    return LiveProgress()


def check_comparison_dir(out_dir: Path) -> None:
    """Refuse a non-empty ``out_dir`` that holds no earlier jepa-lab comparison."""
    from jepa_lab.training.rundir import RunDirectoryError

    if out_dir.exists() and not out_dir.is_dir():
        raise RunDirectoryError(f"{out_dir} is a file, not a directory; choose another out dir")
    if not out_dir.is_dir() or not any(out_dir.iterdir()):
        return
    holds_runs = any(any(out_dir.glob(f"{arm}-seed*/run.json")) for arm in ARMS)
    if not (out_dir / "comparison.json").is_file() and not holds_runs:
        raise RunDirectoryError(
            f"{out_dir} is not empty and holds no jepa-lab comparison (no comparison.json, no "
            "<arm>-seed<s>/run.json); choose another output directory"
        )


def compare(
    config: TrainConfig,
    seeds: Sequence[int] = (0, 1, 2),
    out_dir: str | os.PathLike = "runs/compare",
    *,
    metric: str = "eval_accuracy",
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    report: bool = True,
) -> Comparison:
    """Train both arms for every seed into ``out_dir/<arm>-seed<s>``; print and save the table.

    Writes ``comparison.json``, ``comparison.md``, ``history.jsonl`` (all runs' records) and,
    with ``report=True``, ``report.html`` with the curves; prints ``run k of N`` and a line per
    epoch while it trains (``progress``: also a live line on a terminal), the table (not in
    Jupyter, where the returned comparison renders itself) and the result in words at the end
    (:func:`jepa_lab.experiments.report.result_lines`). A ``init="base"`` config pretrains its
    base first, outside the time estimate. ``out_dir`` must be empty or hold an earlier
    comparison; ``overwrite`` removes only what compare and train wrote
    (``rundir.COMPARISON_OUTPUTS``, ``rundir.RUN_OUTPUTS``), never other files.
    """
    from dataclasses import replace

    from jepa_lab.training.build import load_examples
    from jepa_lab.training.history import History
    from jepa_lab.training.rundir import COMPARISON_OUTPUTS, remove_outputs
    from jepa_lab.training.train import train
    from jepa_lab.training.validation import validate_compare, validate_run

    out_dir = Path(out_dir)
    validate_compare(config, seeds)  # duplicate seeds or no held-out data: before any arm
    data = load_examples(config)  # bad data stops here, before out_dir is touched
    validate_run(config, *data)
    check_comparison_dir(out_dir)
    if overwrite and out_dir.is_dir():
        remove_outputs(out_dir, COMPARISON_OUTPUTS)  # no stale table if this run stops early
    out_dir.mkdir(parents=True, exist_ok=True)
    finals: dict[str, list[float]] = {arm: [] for arm in ARMS}
    per_epoch: dict[str, dict[int, list[float]]] = {arm: {} for arm in ARMS}
    records: list[dict[str, Any]] = []
    flagged: list[str] = []
    runs = len(seeds) * len(ARMS)
    if config.init == "base":  # a one-off pretraining is not part of this comparison's time
        from jepa_lab.training.base import base_path, spec_for

        base_path(spec_for(config))
    tracker = RunProgress(runs, config.epochs, estimate_seconds(config, runs), live=progress)
    for seed in seeds:
        for arm in ARMS:
            tracker.start_run(arm, seed)
            run = train(  # the tracker's lines instead of the Trainer's bars and log dicts
                replace(config, seed=seed),
                out_dir / f"{arm}-seed{seed}",
                arm,
                resume=resume,
                overwrite=overwrite,
                progress=False,
                callbacks=[_live_callback(tracker)],
                data=data,
                on_record=tracker.record,
            )
            values = [r.get(metric) for r in run.history]
            if not values or values[-1] is None:
                raise RuntimeError(f"{run.run_dir}: no {metric} recorded (no held-out data?)")
            finals[arm].append(float(values[-1]))
            per_epoch[arm][seed] = [float(v) for v in values]
            records += run.history
            if run.diverged:
                flagged.append(f"{arm} seed {seed}: {run.diverged}")
    comparison = paired_comparison(finals["ntp"], finals["jepa"], list(seeds), metric)
    comparison.per_epoch = per_epoch
    comparison.flagged = flagged
    all_history = History(out_dir / "history.jsonl")
    all_history.path.unlink(missing_ok=True)
    for record in records:
        all_history.append(record)
    (out_dir / "comparison.json").write_text(
        json.dumps({"config": config.to_dict(), **comparison.to_dict()}, indent=2) + "\n",
        encoding="utf-8",
    )
    (out_dir / "comparison.md").write_text(comparison.markdown() + "\n", encoding="utf-8")
    from jepa_lab.experiments.report import result_lines, write_report

    if report:
        write_report(out_dir / "report.html", records, comparison, config)
    if not in_jupyter():  # a notebook renders the returned comparison itself
        print("\n" + comparison.markdown() + "\n")
    lines = result_lines(comparison, records, config, out_dir)
    print("\n".join(line for line in lines if report or not line.startswith("report:")))
    return comparison
