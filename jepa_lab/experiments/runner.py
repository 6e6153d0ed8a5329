"""Training in the background: both arms (NTP baseline, LLM-JEPA) one after the other in a
thread, each epoch's record streamed to a callback, stoppable at a step boundary without losing
what was trained (:class:`HyperparameterRun`, behind the hyperparameter explorer).
"""

from __future__ import annotations

import os
import tempfile
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from jepa_lab.experiments.experiment import ARMS
from jepa_lab.geometry import plots
from jepa_lab.objective.losses import require_jepa_lam
from jepa_lab.training.presets import EXPLORER_SIZES, TrainConfig, preset


def explorer_config(**overrides: Any) -> TrainConfig:
    """The tiny preset at :data:`~jepa_lab.training.presets.EXPLORER_SIZES`: both arms in under a
    minute
    on a laptop CPU, long enough for the losses to fall and accuracy to start moving."""
    return preset("tiny", **{**EXPLORER_SIZES, **overrides})


@dataclass
class Hyperparameters:
    """The knobs the hyperparameter explorer exposes, applied onto a TrainConfig."""

    lam: float = 1.0
    gamma: float = 1.0
    k: int = 1
    distance: str = "cosine"
    loss_dropout: float = 0.0
    lr: float = 2e-3
    epochs: int = 4

    @classmethod
    def from_config(cls, config: TrainConfig) -> Hyperparameters:
        j = config.jepa
        return cls(j.lam, j.gamma, j.k, j.distance, j.loss_dropout, config.lr, config.epochs)

    def apply(self, config: TrainConfig) -> TrainConfig:
        """``config`` with these values; the JEPA arm needs lambda > 0 (lambda = 0 is NTP)."""
        require_jepa_lam(self.lam, "lambda")
        if not self.lr > 0:
            raise ValueError(f"learning rate={self.lr}: expected > 0")
        jepa = replace(
            config.jepa,
            lam=float(self.lam),
            gamma=float(self.gamma),
            k=int(self.k),
            distance=self.distance,
            loss_dropout=float(self.loss_dropout),
        )
        return replace(config, lr=float(self.lr), epochs=int(self.epochs), jepa=jepa)


class _StatusAndStop(TrainerCallback):
    """Reports each optimizer step as the run's status, and stops training on request."""

    def __init__(self, run: HyperparameterRun, arm: str):
        self.run, self.arm = run, arm

    def on_step_end(self, args, state, control, **kwargs):
        if self.run.stop_requested:
            control.should_training_stop = True  # the Trainer then ends the epoch and saves
        self.run._set_status(
            f"{plots.arm_label(self.arm)}: step {state.global_step}/{state.max_steps} "
            f"(epoch {state.epoch or 0:.2f})" + (", stopping..." if self.run.stop_requested else "")
        )
        return control


class HyperparameterRun:
    """Train the NTP baseline and LLM-JEPA arms of ``config`` one after the other, in a thread.

    run_dir: each arm goes to ``run_dir/<arm>`` (replaced if it holds an earlier run); a
    temporary directory when None. data: (train, held-out) examples, else loaded from config.
    on_record(record, history): called in the training thread with each epoch's record as soon
    as it is written, and the list of all records so far; the trainer then prints no epoch line
    (a caller that wants one shows it from the record). on_status(text): progress in words.
    on_finish(run): called last in the thread, however the run ended (see ``error``).
    ``stop()`` ends training at the next optimizer step; the Trainer then closes the epoch
    (a record for the partial epoch), saves a checkpoint, and ``train`` saves ``final/``.
    """

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | os.PathLike | None = None,
        on_record: Callable[[dict[str, Any], list[dict[str, Any]]], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        on_finish: Callable[[HyperparameterRun], None] | None = None,
        arms: Sequence[str] = ARMS,
        data: tuple[list[Any], list[Any]] | None = None,
        progress: bool = False,
    ):
        for arm in arms:
            if arm not in ARMS:
                raise ValueError(f"arms: {arm!r} is not one of {ARMS}")
        if "jepa" in arms:
            require_jepa_lam(config.jepa.lam, "config.jepa.lam")
        self.config = config
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="jepa-lab-explore-"))
        self.arms = tuple(arms)
        self.on_record, self.on_status, self.on_finish = on_record, on_status, on_finish
        self.data, self.progress = data, progress
        self.history: list[dict[str, Any]] = []
        self.results: dict[str, Any] = {}  # arm -> train.TrainResult
        self.status = "not started"
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        for arm in self.arms:  # train(overwrite=True) wipes the folder: only ever a run's
            folder = self.arm_dir(arm)
            if folder.is_dir() and any(folder.iterdir()) and not (folder / "run.json").is_file():
                raise FileExistsError(
                    f"{folder} exists, is not empty and holds no jepa-lab run; "
                    "choose another run_dir"
                )

    def arm_dir(self, arm: str) -> Path:
        return self.run_dir / arm

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def start(self) -> HyperparameterRun:
        if self._thread is not None:
            raise RuntimeError("this run was already started; make a new HyperparameterRun")
        self._thread = threading.Thread(target=self._train_arms, name="jepa-lab-explore")
        self._thread.daemon = True  # a closing kernel must not hang on it
        self._set_status("starting...")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop at the next optimizer step, keeping everything trained so far on disk."""
        self._stop.set()
        if self.running:
            self._set_status(self.status + " (stop requested)")

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True once it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def records(self, arm: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.history if r.get("arm") == arm]

    # ------------------------------------------------------------------ in the thread
    def _set_status(self, text: str) -> None:
        self.status = text
        if self.on_status is not None:
            self.on_status(text)

    def _add_record(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.history.append(record)
            snapshot = list(self.history)
        if self.on_record is not None:
            self.on_record(record, snapshot)

    def _train_arms(self) -> None:
        from jepa_lab.training.build import load_examples
        from jepa_lab.training.train import train

        try:
            if self.data is None:
                self._set_status("loading data...")
                self.data = load_examples(self.config)
            for arm in self.arms:
                if self.stop_requested:
                    break
                self._set_status(f"{plots.arm_label(arm)}: building the model...")
                result = train(
                    self.config,
                    self.arm_dir(arm),
                    arm,
                    overwrite=True,
                    progress=self.progress,
                    callbacks=[_StatusAndStop(self, arm)],
                    data=self.data,
                    on_record=self._add_record,
                )
                self.results[arm] = result
            done = ", ".join(f"{plots.arm_label(a)}: {r.run_dir}" for a, r in self.results.items())
            if self.stop_requested:
                self._set_status(f"stopped; kept what was trained ({done or 'nothing yet'})")
            else:
                self._set_status(f"done ({done})")
        except BaseException as err:  # reported to the notebook, never lost in the thread
            self.error = err
            self._set_status(f"failed: {type(err).__name__}: {err}")
        finally:
            if self.on_finish is not None:
                self.on_finish(self)
