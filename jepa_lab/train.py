"""Training on the Hugging Face ``Trainer``: NTP baseline and LLM-JEPA through one subclass.

Both arms run through :class:`JepaTrainer` with the same collator and data order; the baseline
is simply ``lam = 0`` (its batches then carry no view segments at all). The Trainer brings
checkpoints, resume, gradient accumulation, mixed precision, ``accelerate launch`` and
``torchrun`` (DDP, FSDP). jepa-lab adds:

* the packed objective, built per step so loss dropout is a pure function of the step;
* data-parallel normalisation by the token and pair counts of *all* ranks, so a 2-process run
  computes exactly the loss and gradient of a 1-process run with the same global batch;
* a non-finite loss or gradient norm stops the run naming the step (and the examples) before
  the update; non-finite weights, or weights grown far past their start, stop it after one;
  a loss that never leaves the uniform-output value ln V is flagged (:class:`TrainingStopped`,
  ``summary.json``, the history);
* per-epoch held-out evaluation appended atomically to ``history.jsonl``; an epoch's running
  sums travel in every checkpoint, and a resume re-runs an evaluation a kill prevented, so
  the history of a killed and resumed run is the uninterrupted one;
* checkpoints as safetensors, marked complete only once fully written and finite, rotated so
  the last good one is never deleted; ``resume`` verifies a checkpoint before using it and
  falls back to the previous one, naming the bad file;
* a run directory holding a different run is never overwritten, and ``overwrite`` removes only
  jepa-lab's own files (:data:`RUN_OUTPUTS`).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import time
import warnings
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback, TrainingArguments

from .evaluate import evaluate
from .history import History
from .model import JepaModel
from .presets import TrainConfig

COMPLETE_MARKER = "COMPLETE"
RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"
CHECKPOINT_STATE = "jepa_state.json"  # the epoch's running sums, wall time, start weight norm
SAVE_TOTAL_LIMIT = 2  # complete checkpoints kept; the newest good one is never deleted
# Divergence bounds. Healthy runs move the weight norm by a few percent (the tiny preset: 10.25
# -> 10.36 over two epochs); lr 1e6 multiplies it by 1e7 in one step.
WEIGHT_GROWTH_LIMIT = 10.0  # stop once the trainable weights' norm exceeds 10x its start value
GRAD_NORM_LIMIT = 1e6  # stop on a pre-clip gradient norm past this (clipping cannot save it)
# An epoch whose every step kept the NTP loss >= 0.98 ln V (uniform output) is flagged, once the
# run has had STUCK_AFTER_STEPS updates to leave it: an untrained model's batches dip ~1% below
# ln V; the tiny preset at lr 2e-3 is 6% below within 6 steps.
UNIFORM_LOSS_TOLERANCE = 0.02
STUCK_AFTER_STEPS = 20


class TrainingStopped(RuntimeError):
    """The run stopped because it went wrong; ``summary.json`` and the history say why."""

    status = "stopped"


class NonFiniteLossError(TrainingStopped, FloatingPointError):
    """The loss, gradient norm or weights became NaN or infinite; the run stops."""

    status = "non_finite"


class DivergenceError(TrainingStopped):
    """The weights or gradients grew past the divergence bounds; the run stops."""

    status = "diverged"


class CheckpointError(ValueError):
    """A checkpoint file is missing, cut short, unreadable or holds non-finite tensors."""

    def __init__(self, file: Path, reason: str):
        super().__init__(f"{file}: {reason}")
        self.file, self.reason = Path(file), reason


class RunDirectoryError(FileExistsError):
    """The run directory holds a different run (or any run, without --resume/--overwrite)."""

    def __init__(self, message: str, damaged_record: bool = False):
        super().__init__(message)
        self.damaged_record = damaged_record  # run.json cut short: still jepa-lab's to replace


def collate_examples(examples: list[Any]) -> dict[str, list[Any]]:
    """Batches stay as examples: the trainer packs them once it knows the step (loss dropout)."""
    return {"examples": list(examples)}


def _example_ids(examples: list[Any]) -> list[str]:
    return [str(getattr(e, "id", i)) for i, e in enumerate(examples)]


class JepaTrainer(Trainer):
    """``Trainer`` computing ``gamma * NTP + lam * JEPA`` from packed rows."""

    def __init__(
        self,
        *args: Any,
        eval_examples: list[Any] | None = None,
        run_config: TrainConfig | None = None,
        history: History | None = None,
        arm: str = "jepa",
        warmup_ratio: float = 0.0,
        **kwargs: Any,
    ):
        kwargs.setdefault("data_collator", collate_examples)
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples or []
        self.run_config = run_config
        self.history = history
        self.arm = arm
        self.warmup_ratio = warmup_ratio
        self.epoch_sums: dict[str, float] = defaultdict(float)
        self.weight_norm_start: float | None = None
        self.resume_note: dict[str, Any] | None = None  # goes into the next history record
        self._last_flops = 0.0
        self._started = time.perf_counter()
        self.add_callback(_EpochEnd(self))

    # ------------------------------------------------------------------ the objective
    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        jm: JepaModel = self.accelerator.unwrap_model(model)
        examples = inputs["examples"]
        step = self.state.global_step
        use_jepa = jm.jepa_active(step)
        batch = jm.build_batch(examples, jepa=use_jepa)
        batch = {k: v.to(self.args.device) for k, v in batch.items()}
        out = model(**batch)
        zero = torch.zeros((), device=self.args.device)
        totals = torch.stack(  # counts and detached sums, so logged means are global too
            [
                torch.tensor(float(out.ntp_count), device=self.args.device),
                torch.tensor(float(out.jepa_count or 0), device=self.args.device),
                torch.tensor(float(out.num_tokens), device=self.args.device),
                out.ntp_sum.detach().float(),
                (out.jepa_sum.detach().float() if out.jepa_sum is not None else zero),
            ]
        ).double()
        world = self.accelerator.num_processes
        if world > 1:  # normalise by what ALL ranks saw; DDP then averages gradients over ranks
            totals = self.accelerator.reduce(totals, reduction="sum")
        n_ntp, n_jepa = totals[0].clamp(min=1), totals[1].clamp(min=1)
        ntp = out.ntp_sum / n_ntp.to(out.ntp_sum.dtype) * world
        loss = jm.config.gamma * ntp
        jepa = None
        if out.jepa_sum is not None:
            jepa = out.jepa_sum / n_jepa.to(out.jepa_sum.dtype) * world
            loss = loss + jm.config.lam * jepa
        if not torch.isfinite(loss.detach()):
            raise NonFiniteLossError(
                f"step {step}: the loss is {loss.item()} (ntp {ntp.item()}, jepa "
                f"{None if jepa is None else jepa.item()}) on the batch of examples "
                f"{_example_ids(examples)}; stopping before the update. "
                f"{self._good_checkpoint_text()}"
            )
        tokens = float(totals[2])
        self._last_flops = 6.0 * _parameter_count(jm) * tokens / world  # Trainer sums ranks
        self.state.num_input_tokens_seen = int(self.state.num_input_tokens_seen or 0) + int(tokens)
        ntp_mean = float(totals[3] / n_ntp)
        sums = self.epoch_sums
        sums["steps"] += 1
        sums["ntp_loss"] += ntp_mean
        sums["ntp_loss_min"] = min(sums.get("ntp_loss_min", math.inf), ntp_mean)
        step_loss = jm.config.gamma * ntp_mean
        if jepa is not None:
            jepa_mean = float(totals[4] / n_jepa)
            sums["jepa_loss"] += jepa_mean
            sums["jepa_steps"] += 1
            step_loss += jm.config.lam * jepa_mean
        sums["loss"] += step_loss
        return (loss, out) if return_outputs else loss

    def floating_point_ops(self, inputs: dict[str, Any]) -> float:
        return self._last_flops

    def create_scheduler(self, num_training_steps: int, optimizer=None):
        """Warm up over ``warmup_ratio`` of the run (transformers 5 reads warmup_steps >= 1 as a
        count of steps, so a ratio of 1.0 passed there would mean one step)."""
        if self.lr_scheduler is None:
            from transformers import get_scheduler

            self.lr_scheduler = get_scheduler(
                self.args.lr_scheduler_type,
                optimizer=optimizer or self.optimizer,
                num_warmup_steps=warmup_steps(self.warmup_ratio, num_training_steps),
                num_training_steps=num_training_steps,
                scheduler_specific_kwargs=self.args.lr_scheduler_kwargs,
            )
            self._created_lr_scheduler = True
        return self.lr_scheduler

    # ------------------------------------------------------------------ divergence guards
    def _get_grad_norm(self, model, grad_norm=None):
        """The pre-clip gradient norm; non-finite or past the bound stops before the update."""
        grad_norm = super()._get_grad_norm(model, grad_norm=grad_norm)
        value = float(grad_norm)
        step = self.state.global_step
        if not math.isfinite(value):
            raise NonFiniteLossError(
                f"step {step}: the gradient norm is {value}; stopping before the update. "
                f"{self._good_checkpoint_text()}"
            )
        if value > GRAD_NORM_LIMIT:
            raise DivergenceError(
                f"step {step}: the gradient norm is {value:.3g}, past the divergence bound "
                f"{GRAD_NORM_LIMIT:g} (learning rate too high?); stopping before the update. "
                f"{self._good_checkpoint_text()}"
            )
        self.epoch_sums["grad_norm_max"] = max(self.epoch_sums.get("grad_norm_max", 0.0), value)
        return grad_norm

    def _guards_apply(self) -> bool:
        return not (self.is_fsdp_enabled or self.is_deepspeed_enabled)  # sharded: norms per rank

    def check_weights(self) -> float | None:
        """Stop on non-finite weights or weights past the growth bound; return their norm."""
        if not self._guards_apply():
            return None
        norm = trainable_weight_norm(self.accelerator.unwrap_model(self.model))
        self.epoch_sums["weight_norm"] = norm
        step = self.state.global_step
        if not math.isfinite(norm):
            raise NonFiniteLossError(
                f"step {step}: the weights became non-finite (norm {norm}) in that step's "
                f"update; stopping. {self._good_checkpoint_text()}"
            )
        start = self.weight_norm_start
        if start and norm > WEIGHT_GROWTH_LIMIT * start:
            raise DivergenceError(
                f"step {step}: the weights diverged, their norm is {norm:.3g}, "
                f"{norm / start:.3g} times its start value {start:.3g} (bound "
                f"{WEIGHT_GROWTH_LIMIT:g}x; learning rate too high?); stopping. "
                f"{self._good_checkpoint_text()}"
            )
        return norm

    def _good_checkpoint_text(self) -> str:
        good = last_good_checkpoint(self.args.output_dir)
        if good is None:
            return "There is no good checkpoint yet."
        return f"The last good checkpoint is {good} (resume=True / --resume continues from it)."

    # ------------------------------------------------------------------ checkpoints
    def _save(self, output_dir: str | None = None, state_dict: dict | None = None) -> None:
        if self.is_fsdp_enabled or self.is_deepspeed_enabled:
            return super()._save(output_dir, state_dict)
        if not self.args.should_save:
            return
        output_dir = output_dir or self.args.output_dir
        jm: JepaModel = self.accelerator.unwrap_model(self.model)
        jm.save_pretrained(output_dir)  # safetensors; tied weights handled by transformers
        torch.save(self.args, os.path.join(output_dir, "training_args.bin"))

    def _save_checkpoint(self, model, trial) -> None:
        folder = Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
        if self.args.should_save:  # a re-save into an old folder is incomplete until re-marked
            (folder / COMPLETE_MARKER).unlink(missing_ok=True)
            (folder / "REJECTED").unlink(missing_ok=True)
        super()._save_checkpoint(model, trial)
        if not self.args.should_save:
            return
        _write_atomic(folder / CHECKPOINT_STATE, json.dumps(self._checkpoint_state()) + "\n")
        try:
            verify_tensors(folder)
        except CheckpointError as err:
            raise NonFiniteLossError(
                f"step {self.state.global_step}: the checkpoint {folder} is not marked complete: "
                f"{err}. {self._good_checkpoint_text()}"
            ) from err
        _write_atomic(folder / COMPLETE_MARKER, f"{self.state.global_step}\n")
        rotate_checkpoints(folder.parent, SAVE_TOTAL_LIMIT)

    def _checkpoint_state(self) -> dict[str, Any]:
        return {
            "epoch_sums": dict(self.epoch_sums),
            "wall_time": time.perf_counter() - self._started,
        }

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        if self.is_fsdp_enabled or self.is_deepspeed_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        jm: JepaModel = self.accelerator.unwrap_model(model or self.model)
        load_model_weights(jm, resume_from_checkpoint)


class _EpochEnd(TrainerCallback):
    """Check the weights after every update; at each epoch end evaluate on held-out data and
    append the record to the history."""

    def __init__(self, trainer: JepaTrainer):
        self.trainer = trainer

    def on_step_end(self, args, state, control, **kwargs):
        self.trainer.check_weights()
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        trainer = self.trainer
        sums, trainer.epoch_sums = trainer.epoch_sums, defaultdict(float)
        if not state.is_world_process_zero:
            return control
        record = epoch_record(
            trainer,
            sums,
            epoch=state.epoch or 0.0,
            step=state.global_step,
            tokens_seen=int(state.num_input_tokens_seen or 0),
        )
        evaluate_into(trainer, record)
        append_record(trainer, record)
        return control


def epoch_record(
    trainer: JepaTrainer, sums: dict[str, float], *, epoch: float, step: int, tokens_seen: int
) -> dict[str, Any]:
    """The training half of an epoch's history record, from the epoch's running sums."""
    jm: JepaModel = trainer.accelerator.unwrap_model(trainer.model)
    steps = sums.get("steps", 0.0)
    jepa_steps = sums.get("jepa_steps", 0.0)
    record: dict[str, Any] = {
        "arm": trainer.arm,
        "seed": trainer.args.seed,
        "epoch": round(epoch, 4),
        "step": step,
        "train_loss": sums["loss"] / steps if steps else None,
        "ntp_loss": sums["ntp_loss"] / steps if steps else None,
        "jepa_loss": sums["jepa_loss"] / jepa_steps if jepa_steps else None,
        "jepa_steps": int(jepa_steps),
        "tokens_seen": tokens_seen,
        # 6 x non-embedding parameters x tokens: forward plus backward, all ranks
        "flops": 6.0 * _parameter_count(jm) * float(tokens_seen),
        "wall_time": time.perf_counter() - trainer._started,
        "ntp_loss_min": sums.get("ntp_loss_min"),  # lowest step loss: vs ln V, stuck or not
        "grad_norm_max": sums.get("grad_norm_max"),
        "weight_norm": sums.get("weight_norm"),
        "divergence": uniform_loss_flag(sums, _vocab_size(jm), step),
    }
    return record


def uniform_loss_flag(sums: dict[str, float], vocab_size: int, step: int) -> str | None:
    """A reason when every step of the epoch kept the NTP loss at ln V (uniform output)."""
    lowest = sums.get("ntp_loss_min")
    if lowest is None or not vocab_size or step < STUCK_AFTER_STEPS:
        return None
    uniform = math.log(vocab_size)
    if lowest < (1.0 - UNIFORM_LOSS_TOLERANCE) * uniform:
        return None
    return (
        f"the NTP loss never fell below {lowest:.4g}, the uniform-output value ln V = "
        f"{uniform:.4g} (V = {vocab_size}): the model learned nothing this epoch (diverged, or "
        "the learning rate is too small)"
    )


def evaluate_into(trainer: JepaTrainer, record: dict[str, Any]) -> None:
    """Held-out metrics of the current weights into ``record``; predictions.jsonl beside."""
    config = trainer.run_config
    if not trainer.eval_examples or config is None:
        return
    jm: JepaModel = trainer.accelerator.unwrap_model(trainer.model)
    metrics = evaluate(
        jm,
        trainer.eval_examples,
        dataset=config.dataset,
        max_new_tokens=config.max_new_tokens,
        batch_size=config.eval_batch_size,
        progress=not trainer.args.disable_tqdm,
    )
    predictions = metrics.pop("predictions")
    record.update(metrics)
    _write_atomic(
        Path(trainer.args.output_dir) / "predictions.jsonl",
        "".join(json.dumps(p) + "\n" for p in predictions),
    )


def append_record(trainer: JepaTrainer, record: dict[str, Any]) -> None:
    if trainer.resume_note is not None:  # the first record after a resume says how it resumed
        record["resume"], trainer.resume_note = trainer.resume_note, None
    if trainer.history is not None:
        trainer.history.append(record)
    shown = {k: v for k, v in record.items() if isinstance(v, float)}
    print(
        f"[{trainer.arm} seed {trainer.args.seed}] epoch {record['epoch']:g}: "
        + ", ".join(f"{k} {v:.4g}" for k, v in shown.items() if k != "flops")
    )
    if record.get("divergence"):
        warnings.warn(f"epoch {record['epoch']:g}: {record['divergence']}", stacklevel=2)


def _vocab_size(jm: JepaModel) -> int:
    output = jm.model.get_output_embeddings()
    return int(output.weight.shape[0]) if output is not None else 0


def trainable_weight_norm(jm: JepaModel) -> float:
    """The L2 norm of all trainable parameters (what the optimizer changes)."""
    params = [p.detach() for p in jm.parameters() if p.requires_grad]
    if not params:
        return 0.0
    norms = torch._foreach_norm(params)
    return float(torch.linalg.vector_norm(torch.stack([n.float() for n in norms])))


def warmup_steps(ratio: float, total_steps: int) -> int:
    """Steps of linear warm-up for ``ratio`` of ``total_steps`` (rounded up, as transformers)."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"warmup_ratio: expected a fraction of the run in [0, 1], got {ratio}")
    return math.ceil(ratio * total_steps)


# ---------------------------------------------------------------------- files
def _write_atomic(path: Path, text: str) -> None:
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _parameter_count(jm: JepaModel) -> int:
    model = jm.model.get_base_model() if hasattr(jm.model, "get_base_model") else jm.model
    if not hasattr(jm, "_n_params"):
        jm._n_params = model.num_parameters(exclude_embeddings=True)
    return jm._n_params


def _complete_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints whose COMPLETE marker was written, newest first."""
    if not run_dir.is_dir():
        return []
    complete = [
        p
        for p in run_dir.glob("checkpoint-*")
        if p.is_dir() and (p / COMPLETE_MARKER).is_file() and p.name.split("-")[-1].isdigit()
    ]
    return sorted(complete, key=_step_of, reverse=True)


def _step_of(folder: Path) -> int:
    return int(folder.name.split("-")[-1])


def last_complete_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest ``checkpoint-N`` whose COMPLETE marker was written, else None."""
    return next(iter(_complete_checkpoints(Path(run_dir))), None)


def verify_tensors(folder: str | os.PathLike) -> None:
    """Every ``*.safetensors`` in ``folder`` loads and holds only finite values."""
    from safetensors import safe_open

    folder = Path(folder)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(folder, "no *.safetensors weights file")
    for file in files:
        try:
            with safe_open(str(file), framework="pt") as f:
                for key in f.keys():
                    tensor = f.get_tensor(key)
                    if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                        raise CheckpointError(file, f"tensor {key} holds NaN or infinite values")
        except CheckpointError:
            raise
        except Exception as err:  # safetensors raises its own types for cut-short files
            raise CheckpointError(file, f"cannot be read ({type(err).__name__}: {err})") from err


def verify_checkpoint(folder: str | os.PathLike) -> None:
    """Check what ``resume`` will load: the trainer state parses, the weights load and are
    finite, the optimizer, scheduler and RNG states load. Raises :class:`CheckpointError`."""
    folder = Path(folder)
    for name in ("trainer_state.json", CHECKPOINT_STATE):
        file = folder / name
        if name == CHECKPOINT_STATE and not file.exists():
            continue  # checkpoints of older jepa-lab versions: resumable, without the sums
        try:
            state = json.loads(file.read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise CheckpointError(file, "missing") from err
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise CheckpointError(file, f"not valid JSON ({err})") from err
        if not isinstance(state, dict):
            raise CheckpointError(file, "not a JSON object")
        if name == "trainer_state.json" and not isinstance(state.get("global_step"), int):
            raise CheckpointError(file, "has no integer global_step")
    verify_tensors(folder)
    try:  # numpy RNG states, as the Trainer; transformers 4.x keeps the helper in trainer
        from transformers.trainer_pt_utils import safe_globals
    except ImportError:
        from transformers.trainer import safe_globals

    for file in sorted(folder.glob("*.pt")) + sorted(folder.glob("rng_state*.pth")):
        try:  # mmap: structure checked without reading the optimizer state into memory
            with safe_globals():
                torch.load(file, map_location="cpu", weights_only=True, mmap=True)
        except Exception as err:
            raise CheckpointError(file, f"cannot be loaded ({type(err).__name__}: {err})") from err


def last_good_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest complete checkpoint that passes :func:`verify_checkpoint` (read only)."""
    for folder in _complete_checkpoints(Path(run_dir)):
        try:
            verify_checkpoint(folder)
        except CheckpointError:
            continue
        return folder
    return None


def choose_resume_checkpoint(
    run_dir: Path, mark: bool = True
) -> tuple[Path | None, list[dict[str, str]]]:
    """The newest checkpoint that verifies, and the newer ones rejected on the way.

    With ``mark`` (rank 0), a rejected checkpoint loses its COMPLETE marker (a ``REJECTED``
    file says why), so no later resume picks it and rotation treats it as the leftover it is.
    """
    rejected: list[dict[str, str]] = []
    for folder in _complete_checkpoints(run_dir):
        try:
            verify_checkpoint(folder)
        except CheckpointError as err:
            rejected.append(
                {"checkpoint": folder.name, "file": str(err.file), "reason": err.reason}
            )
            if not mark:
                continue
            warnings.warn(
                f"resume: skipping {folder.name}, {err.file} is damaged ({err.reason}); "
                "falling back to the previous complete checkpoint",
                stacklevel=2,
            )
            _write_atomic(folder / "REJECTED", f"{err}\n")
            (folder / COMPLETE_MARKER).unlink(missing_ok=True)
            continue
        return folder, rejected
    return None, rejected


def rotate_checkpoints(run_dir: Path, keep: int) -> None:
    """Keep the ``keep`` newest complete checkpoints; delete older complete ones and the
    unmarked leftovers older than the newest complete one. The newest complete checkpoint,
    written and verified finite just before, is never deleted."""
    complete = _complete_checkpoints(run_dir)
    if not complete:
        return
    newest = _step_of(complete[0])
    doomed = complete[max(keep, 1) :]
    doomed += [
        p
        for p in run_dir.glob("checkpoint-*")
        if p.is_dir()
        and p.name.split("-")[-1].isdigit()
        and not (p / COMPLETE_MARKER).is_file()
        and _step_of(p) < newest
    ]
    for folder in doomed:
        shutil.rmtree(folder, ignore_errors=True)


def load_model_weights(jm: JepaModel, folder: str | os.PathLike) -> None:
    """Load weights saved by :meth:`JepaModel.save_pretrained` into ``jm`` in place."""
    from safetensors.torch import load_file

    folder = Path(folder)
    if hasattr(jm.model, "peft_config"):
        from peft import set_peft_model_state_dict
        from peft.utils import load_peft_weights

        set_peft_model_state_dict(jm.model, load_peft_weights(str(folder)))
        return
    files = sorted(folder.glob("model*.safetensors"))
    if not files:
        raise FileNotFoundError(f"{folder}: no model*.safetensors to resume from")
    state: dict[str, torch.Tensor] = {}
    for file in files:
        state.update(load_file(str(file)))
    missing, unexpected = jm.model.load_state_dict(state, strict=False)
    tied = set(getattr(jm.model, "_tied_weights_keys", None) or [])
    untied_missing = [k for k in missing if k not in tied and not _is_tied(jm.model, k)]
    if unexpected or untied_missing:
        raise ValueError(
            f"{folder}: checkpoint does not match the model (missing {untied_missing[:5]}, "
            f"unexpected {unexpected[:5]})"
        )
    jm.model.tie_weights()


def _is_tied(model: torch.nn.Module, key: str) -> bool:
    output = model.get_output_embeddings()
    return (
        output is not None
        and output.weight is model.get_input_embeddings().weight
        and key.endswith("lm_head.weight")
    )


# What jepa-lab writes, in one place: ``--overwrite`` removes exactly these names (glob patterns)
# and keeps everything else, so a user's notes or notebooks next to a run survive it.
RUN_OUTPUTS = (
    RUN_FILE,
    "history.jsonl",
    "predictions.jsonl",
    "summary.json",
    "final",
    "final.tmp",
    "checkpoint-*",
    # atomic writes a kill interrupted
    "run.json.tmp",
    "history.jsonl.tmp",
    "predictions.jsonl.tmp",
    "summary.json.tmp",
)
COMPARISON_OUTPUTS = (
    "comparison.json",
    "comparison.md",
    "history.jsonl",
    "report.html",
    "history.jsonl.tmp",
    ".report.html.*.tmp",
)


def _outputs(folder: Path, patterns: tuple[str, ...]) -> list[Path]:
    return sorted({p for pattern in patterns for p in folder.glob(pattern)})


def remove_outputs(folder: Path, patterns: tuple[str, ...]) -> list[Path]:
    """Delete what jepa-lab wrote in ``folder`` (``patterns``); return what was kept."""
    for path in _outputs(folder, patterns):
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)  # a link is removed, never followed
        else:
            shutil.rmtree(path)
    return sorted(folder.iterdir())


def read_run_identity(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run recorded in ``run_dir/run.json``; None when there is no such file.

    A damaged file (cut short by a kill or a full disk, not JSON, not a jepa-lab run record)
    raises :class:`RunDirectoryError` naming the file and what is wrong with it.
    """
    run_file = Path(run_dir) / RUN_FILE
    if not run_file.is_file():
        return None
    try:
        identity = json.loads(run_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        reason = getattr(err, "msg", None) or str(err)
        where = f" (line {err.lineno}, column {err.colno})" if hasattr(err, "lineno") else ""
        raise RunDirectoryError(
            f"{run_file}: damaged run record, not valid JSON{where}: {reason}",
            damaged_record=True,
        ) from err
    if not isinstance(identity, dict) or not {"arm", "config"} <= set(identity):
        raise RunDirectoryError(
            f"{run_file}: not a jepa-lab run record (expected a JSON object with 'arm' and "
            "'config')"
        )
    return identity


def prepare_run_dir(
    run_dir: str | os.PathLike, identity: dict[str, Any], resume: bool, overwrite: bool
) -> Path:
    """Create or check ``run_dir``; never silently replace a different run.

    ``overwrite`` replaces a jepa-lab run (also one whose ``run.json`` is damaged) by removing
    only the files jepa-lab writes (:data:`RUN_OUTPUTS`); other files stay. A non-empty
    directory without a jepa-lab run is refused, with or without ``overwrite``.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir} is a file, not a directory; choose another run dir")
    run_file = run_dir / RUN_FILE
    if run_file.exists():
        try:
            existing = read_run_identity(run_dir)
        except RunDirectoryError as err:
            if not (overwrite and err.damaged_record):
                raise RunDirectoryError(
                    f"{err}; pass overwrite=True (--overwrite) to replace this run (only "
                    "jepa-lab's own files are removed), or choose another run directory"
                ) from err
            existing = None  # a damaged record of a run: replaceable, it is jepa-lab's file
        if overwrite:
            kept = remove_outputs(run_dir, RUN_OUTPUTS)
            if kept:
                print(
                    f"{run_dir}: replacing the run; kept {len(kept)} file(s) jepa-lab did not "
                    f"write: {', '.join(p.name for p in kept[:10])}"
                )
        elif not resume:
            raise RunDirectoryError(
                f"{run_dir} already holds a run; pass resume=True (--resume) to continue it "
                "or overwrite=True (--overwrite) to replace it"
            )
        elif existing != identity:
            differing = sorted(_diff_keys(existing, identity))
            raise RunDirectoryError(
                f"{run_dir} holds a different run (differs in {differing}); use another run "
                "directory, or --overwrite to replace it"
            )
    elif run_dir.is_dir() and any(run_dir.iterdir()):
        why = " (--overwrite only replaces a jepa-lab run)" if overwrite else ""
        raise RunDirectoryError(
            f"{run_dir} is not empty and holds no jepa-lab run (no {RUN_FILE}){why}; choose "
            "another run directory"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    if not run_file.is_file():
        _write_atomic(run_file, json.dumps(identity, indent=2, sort_keys=True) + "\n")
    return run_dir


def _wait_for_run_dir(run_dir: Path, identity: dict[str, Any], timeout: float = 600.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_file = run_dir / RUN_FILE
        if run_file.is_file():
            try:
                if json.loads(run_file.read_text(encoding="utf-8")) == identity:
                    return run_dir
            except json.JSONDecodeError:
                pass
        time.sleep(0.2)
    raise RunDirectoryError(f"{run_dir}: rank 0 did not prepare this run within {timeout:.0f} s")


def _diff_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]


# ---------------------------------------------------------------------- entry point
@dataclass
class TrainResult:
    run_dir: Path
    history: list[dict[str, Any]]
    jepa_model: JepaModel
    diverged: str | None = None  # why the run is flagged (the loss stayed at ln V), else None


def training_arguments(config: TrainConfig, run_dir: Path, progress: bool) -> TrainingArguments:
    on_gpu = torch.cuda.is_available()
    save_steps = config.save_every
    return TrainingArguments(
        output_dir=str(run_dir),
        num_train_epochs=config.epochs,
        per_device_train_batch_size=config.batch_size,
        gradient_accumulation_steps=config.grad_accum,
        learning_rate=config.lr,
        weight_decay=config.weight_decay,
        warmup_steps=0,  # JepaTrainer.create_scheduler applies config.warmup_ratio
        lr_scheduler_type=config.scheduler,
        max_grad_norm=config.max_grad_norm,
        bf16=config.bf16 and on_gpu,
        seed=config.seed,
        data_seed=config.seed,
        save_strategy="steps" if save_steps else "epoch",
        save_steps=save_steps or 500,
        save_total_limit=None,  # rotate_checkpoints keeps SAVE_TOTAL_LIMIT verified ones
        logging_steps=10,
        logging_strategy="steps",
        report_to="none",
        remove_unused_columns=False,
        dataloader_num_workers=0,
        use_cpu=not on_gpu,
        ddp_backend="gloo" if not on_gpu and int(os.environ.get("WORLD_SIZE", "1")) > 1 else None,
        disable_tqdm=not progress,
        average_tokens_across_devices=False,  # the trainer normalises by global counts itself
    )


def _read_json(file: Path) -> dict[str, Any]:
    return json.loads(file.read_text(encoding="utf-8")) if file.is_file() else {}


def prepare_resume(trainer: JepaTrainer, run_dir: Path, is_main: bool) -> Path | None:
    """Pick the checkpoint to resume from and bring the history and running sums to it.

    The history keeps the epochs the checkpoint had finished; an epoch whose evaluation a kill
    prevented (the checkpoint sits on the epoch boundary, its record is missing) is evaluated
    now from the checkpoint's weights and sums. Mid-epoch, the epoch's running sums continue
    from the checkpoint, so the epoch's record covers all of its steps.
    """
    checkpoint, rejected = choose_resume_checkpoint(run_dir, mark=is_main)
    if checkpoint is None and not rejected:
        if is_main and trainer.history is not None:
            trainer.history.keep(lambda r: False)  # nothing to continue: start over
        return None
    state = _read_json(checkpoint / "trainer_state.json") if checkpoint else {}
    saved = _read_json(checkpoint / CHECKPOINT_STATE) if checkpoint else {}
    done = float(state.get("epoch") or 0.0)
    trainer._started = time.perf_counter() - float(saved.get("wall_time") or 0.0)
    trainer.resume_note = {
        "from": checkpoint.name if checkpoint else None,
        "rejected": rejected,
    }
    sums = defaultdict(float, saved.get("epoch_sums") or {})
    on_boundary = abs(done - round(done)) < 1e-9
    trainer.epoch_sums = defaultdict(float) if on_boundary else sums
    history = trainer.history
    if not is_main or history is None:
        return checkpoint
    history.keep(lambda r: not r.get("stopped") and float(r.get("epoch", 0.0)) <= done + 1e-9)
    recorded = {round(float(r.get("epoch", 0.0)), 4) for r in history.read()}
    if checkpoint is not None and on_boundary and done >= 1 and round(done, 4) not in recorded:
        jm: JepaModel = trainer.accelerator.unwrap_model(trainer.model)
        load_model_weights(jm, checkpoint)
        record = epoch_record(
            trainer,
            sums,
            epoch=done,
            step=int(state.get("global_step", 0)),
            tokens_seen=int(state.get("num_input_tokens_seen") or 0),
        )
        record["evaluated_on_resume"] = True
        evaluate_into(trainer, record)
        append_record(trainer, record)
    return checkpoint


def record_stop(trainer: JepaTrainer, err: TrainingStopped) -> None:
    """The partial epoch's training record, marked ``stopped`` with the reason."""
    state = trainer.state
    record = epoch_record(
        trainer,
        trainer.epoch_sums,
        epoch=state.epoch or 0.0,
        step=state.global_step,
        tokens_seen=int(state.num_input_tokens_seen or 0),
    )
    record["stopped"] = f"{err.status}: {err}"
    record["divergence"] = None  # a partial epoch says nothing about being stuck; "stopped" does
    append_record(trainer, record)


def write_summary(
    trainer: JepaTrainer, status: str, message: str | None, final: Path | None
) -> None:
    """``summary.json``: how the run ended, in one place a script or a person can check."""
    run_dir = Path(trainer.args.output_dir)
    good = last_good_checkpoint(run_dir)
    records = trainer.history.read() if trainer.history is not None else []
    summary = {
        "status": status,  # finished | flagged | non_finite | diverged
        "message": message,
        "arm": trainer.arm,
        "seed": trainer.args.seed,
        "step": trainer.state.global_step,
        "epochs_recorded": [r.get("epoch") for r in records if not r.get("stopped")],
        "last_good_checkpoint": good.name if good else None,
        "final": final.name if final else None,
    }
    _write_atomic(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")


def train(
    config: TrainConfig,
    run_dir: str | os.PathLike,
    arm: str = "jepa",
    *,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
    callbacks: list[TrainerCallback] | None = None,
    data: tuple[list[Any], list[Any]] | None = None,
) -> TrainResult:
    """Train one arm (``"ntp"`` or ``"jepa"``) of ``config`` into ``run_dir``.

    ``resume`` continues from the newest checkpoint that verifies (a killed run ends where the
    uninterrupted one would, with the same history); a damaged newer one is skipped with a
    warning naming the bad file. A run that goes non-finite or diverges raises
    :class:`TrainingStopped` (``summary.json`` and the history say why); one whose loss never
    leaves ln V finishes with ``TrainResult.diverged`` set.
    """
    from .build import build_jepa_model, load_examples
    from .validation import validate_run

    config = config.with_arm(arm)
    identity = {"arm": arm, "config": config.to_dict()}
    # load (and so check) the data before anything is written: bad input leaves no run dir behind
    train_examples, eval_examples = data if data is not None else load_examples(config)
    validate_run(config, train_examples, eval_examples)  # config, model path and data, up front
    is_main = int(os.environ.get("RANK", "0")) == 0
    if is_main:
        run_dir = prepare_run_dir(run_dir, identity, resume=resume, overwrite=overwrite)
    else:  # other data-parallel ranks wait for rank 0 to lay out (or refuse) the directory
        run_dir = _wait_for_run_dir(Path(run_dir), identity)
    jm = build_jepa_model(config, train_examples)
    history = History(run_dir / "history.jsonl")
    args = training_arguments(config, run_dir, progress)
    trainer = JepaTrainer(
        model=jm,
        args=args,
        train_dataset=train_examples,
        eval_examples=eval_examples,
        run_config=config,
        history=history,
        arm=arm,
        warmup_ratio=config.warmup_ratio,
        callbacks=callbacks,
    )
    # the start weights are a function of the config, so a resumed run measures growth from
    # the same start as the original one
    trainer.weight_norm_start = trainable_weight_norm(jm)
    checkpoint = prepare_resume(trainer, run_dir, is_main) if resume else None
    if not progress:  # no per-step log dicts or save bars either; the epoch records still print
        from transformers.trainer_callback import PrinterCallback
        from transformers.utils import logging as hf_logging

        trainer.remove_callback(PrinterCallback)
        hf_logging.disable_progress_bar()
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    except TrainingStopped as err:
        if is_main:
            record_stop(trainer, err)
            write_summary(trainer, err.status, str(err), None)
        raise
    finally:
        if not progress:
            hf_logging.enable_progress_bar()
    final = None
    if trainer.args.should_save:
        final, tmp = run_dir / "final", run_dir / "final.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        trainer._save(str(tmp))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    records = history.read()
    flags = [f"epoch {r['epoch']:g}: {r['divergence']}" for r in records if r.get("divergence")]
    diverged = "; ".join(flags) or None
    if is_main:
        write_summary(trainer, "flagged" if diverged else "finished", diverged, final)
    return TrainResult(run_dir, records, jm, diverged)
