"""JepaTrainer: the Hugging Face ``Trainer`` computing the LLM-JEPA objective from packed rows.

The training set is tokenised once, when the trainer is made. Each optimizer step packs its
accumulation window once it knows the step (loss dropout is a pure function of it) and
normalises every micro-batch by the NTP targets and JEPA pairs of the whole window on *all*
data-parallel ranks (:mod:`jepa_lab.training.step`), with one call of
:func:`jepa_lab.objective.losses.objective` per micro-batch. It applies the divergence guards
(:mod:`jepa_lab.training.guards`), writes verified checkpoints
(:mod:`jepa_lab.training.checkpoints`), logs the two terms, the held-out metrics and the collapse
diagnostics to the Trainer's trackers (``report_to``), and at each epoch end evaluates on
held-out data and appends the record to the history.
"""

from __future__ import annotations

import json
import math
import os
import time
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from transformers import Trainer, TrainerCallback

from jepa_lab.objective.losses import objective
from jepa_lab.objective.model import JepaModel
from jepa_lab.training.checkpoints import (
    CHECKPOINT_STATE,
    COMPLETE_MARKER,
    SAVE_TOTAL_LIMIT,
    CheckpointError,
    last_good_checkpoint,
    load_model_weights,
    rotate_checkpoints,
    verify_tensors,
)
from jepa_lab.training.evaluate import evaluate
from jepa_lab.training.guards import (
    GRAD_NORM_LIMIT,
    WEIGHT_GROWTH_LIMIT,
    DivergenceError,
    NonFiniteLossError,
    trainable_weight_norm,
    uniform_loss_flag,
)
from jepa_lab.training.history import History
from jepa_lab.training.presets import TrainConfig
from jepa_lab.training.rundir import write_atomic
from jepa_lab.training.step import add_step, means, new_sums, pack_window


def collate_examples(examples: list[Any]) -> dict[str, list[Any]]:
    """Batches stay as examples: the trainer packs them once it knows the step (loss dropout)."""
    return {"examples": list(examples)}


def _example_ids(examples: list[Any]) -> list[str]:
    return [str(getattr(e, "id", None) or i) for i, e in enumerate(examples)]


# record fields the trackers get at each epoch end, beside every "eval_*" one: the collapse
# diagnostics of the held-out embeddings, and the guards' norms
TRACKED_DIAGNOSTICS = (
    "paired_cos",
    "random_cos",
    "text_code_paired_cos",
    "eff_rank_code",
    "eff_rank_pred",
    "grad_norm_max",
    "weight_norm",
)


def tracked_metrics(record: dict[str, Any]) -> dict[str, float]:
    """The numbers of an epoch's record that go to ``Trainer.log`` (and so to the trackers)."""
    return {
        key: float(value)
        for key, value in record.items()
        if (key.startswith("eval_") or key in TRACKED_DIAGNOSTICS)
        and isinstance(value, int | float)
        and not isinstance(value, bool)
        and math.isfinite(value)
    }


class JepaTrainer(Trainer):
    """``Trainer`` computing ``gamma * NTP + lam * JEPA`` from packed rows."""

    # compute_loss divides by the window's counts itself: the Trainer must not divide again
    loss_is_scaled_for_ga = True

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
        self.epoch_sums: dict[str, float] = new_sums()
        self.log_sums: dict[str, float] = new_sums()  # since the last Trainer.log
        self._window_parts: torch.Tensor | None = None  # the window's (loss, ntp, jepa) so far
        self.weight_norm_start: float | None = None
        self.resume_note: dict[str, Any] | None = None  # goes into the next history record
        # called with each epoch's record instead of printing it (jepa-lab demo's progress line)
        self.on_record: Callable[[dict[str, Any]], None] | None = None
        self._last_flops = 0.0
        self._started = time.perf_counter()
        self.add_callback(_EpochEnd(self))
        if self.train_dataset is not None:  # tokenised once here, not on every step
            jm: JepaModel = self.accelerator.unwrap_model(self.model)
            self.train_dataset = jm.packer.tokenize(list(self.train_dataset))

    # ------------------------------------------------------------------ the objective
    def get_batch_samples(self, epoch_iterator, num_batches, device):
        """The window's micro-batches, packed once, and its counts over all ranks (the
        Trainer's own count would be label tokens only, without the JEPA pairs)."""
        batch_samples, _ = super().get_batch_samples(epoch_iterator, num_batches, device)
        return batch_samples, self._pack_window(batch_samples) if batch_samples else None

    def _pack_window(self, micro_batches: list[dict[str, Any]]) -> torch.Tensor:
        jm: JepaModel = self.accelerator.unwrap_model(self.model)
        counts = pack_window(jm, micro_batches, self.state.global_step).to(self.args.device)
        if self.accelerator.num_processes > 1:
            counts = self.accelerator.reduce(counts, reduction="sum")
        return counts

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        """This micro-batch's share of the step's objective: its sums over the window's counts
        (``num_items_in_batch``, from :meth:`get_batch_samples`) on all ranks."""
        jm: JepaModel = self.accelerator.unwrap_model(model)
        step = self.state.global_step
        if "batch" not in inputs:  # called outside the training loop: a window of its own
            num_items_in_batch = self._pack_window([inputs])
        counts = num_items_in_batch
        batch = {k: v.to(self.args.device) for k, v in inputs["batch"].items()}
        out = model(**batch, return_loss=False)
        world, cfg = self.accelerator.num_processes, jm.config
        n_ntp, n_pairs = float(counts[0]), float(counts[1])
        step_objective = objective(
            out.ntp_sum, n_ntp, out.jepa_sum, n_pairs, cfg.gamma, cfg.lam, ranks=world
        )
        loss, ntp, jepa = step_objective.loss, step_objective.ntp, step_objective.jepa
        if not torch.isfinite(loss.detach()):
            raise NonFiniteLossError(
                f"step {step}: the loss is {loss.item()} (ntp share {ntp.item()}, jepa share "
                f"{None if jepa is None else jepa.item()}) on the batch of examples "
                f"{_example_ids(inputs['examples'])}; stopping before the update. "
                f"{self._good_checkpoint_text()}"
            )
        self._last_flops = 6.0 * parameter_count(jm) * out.num_tokens  # this rank; Trainer sums
        parts = torch.stack([loss, ntp, ntp * 0 if jepa is None else jepa]).detach().double()
        self._window_parts = parts if self._window_parts is None else self._window_parts + parts
        if inputs.get("window_end", True):
            self._end_window(float(counts[2]), has_jepa=jepa is not None)
        return (loss, out) if return_outputs else loss

    def _end_window(self, tokens: float, has_jepa: bool) -> None:
        """The step's logged means: its shares summed over the window and the ranks."""
        parts, self._window_parts = self._window_parts, None
        world = self.accelerator.num_processes
        if world > 1:  # each rank's share was scaled by the world size for DDP's average
            parts = self.accelerator.reduce(parts, reduction="sum") / world
        loss, ntp, jepa = (float(x) for x in parts)
        for sums in (self.epoch_sums, self.log_sums):
            add_step(sums, loss, ntp, jepa if has_jepa else None)
        self.state.num_input_tokens_seen = int(self.state.num_input_tokens_seen or 0) + int(tokens)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        """A training log gains the two terms' means since the previous one."""
        if "loss" in logs and self.log_sums.get("steps"):
            terms = means(self.log_sums)
            logs.update({k: v for k, v in terms.items() if k != "train_loss" and v is not None})
            self.log_sums = new_sums()
        super().log(logs, start_time)

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
        write_atomic(folder / CHECKPOINT_STATE, json.dumps(self._checkpoint_state()) + "\n")
        try:
            verify_tensors(folder)
        except CheckpointError as err:
            raise NonFiniteLossError(
                f"step {self.state.global_step}: the checkpoint {folder} is not marked complete: "
                f"{err}. {self._good_checkpoint_text()}"
            ) from err
        write_atomic(folder / COMPLETE_MARKER, f"{self.state.global_step}\n")
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
        sums, trainer.epoch_sums = trainer.epoch_sums, new_sums()
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
        tracked = tracked_metrics(record)
        if tracked:
            trainer.log(tracked)
        return control


def epoch_record(
    trainer: JepaTrainer, sums: dict[str, float], *, epoch: float, step: int, tokens_seen: int
) -> dict[str, Any]:
    """The training half of an epoch's history record, from the epoch's running sums."""
    jm: JepaModel = trainer.accelerator.unwrap_model(trainer.model)
    record: dict[str, Any] = {
        "arm": trainer.arm,
        "seed": trainer.args.seed,
        "epoch": round(epoch, 4),
        "step": step,
        **means(sums),
        "jepa_steps": int(sums.get("jepa_steps", 0.0)),
        "tokens_seen": tokens_seen,
        # 6 x non-embedding parameters x tokens: forward plus backward, all ranks
        "flops": 6.0 * parameter_count(jm) * float(tokens_seen),
        "wall_time": time.perf_counter() - trainer._started,
        "ntp_loss_min": sums.get("ntp_loss_min"),  # lowest step loss: vs ln V, stuck or not
        "grad_norm_max": sums.get("grad_norm_max"),
        "weight_norm": sums.get("weight_norm"),
        "divergence": uniform_loss_flag(sums, _vocab_size(jm), step),
    }
    return record


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
    write_atomic(
        Path(trainer.args.output_dir) / "predictions.jsonl",
        "".join(json.dumps(p) + "\n" for p in predictions),
    )


def append_record(trainer: JepaTrainer, record: dict[str, Any]) -> None:
    if trainer.resume_note is not None:  # the first record after a resume says how it resumed
        record["resume"], trainer.resume_note = trainer.resume_note, None
    if trainer.history is not None:
        trainer.history.append(record)
    if trainer.on_record is not None:
        trainer.on_record(record)
    else:  # one readable line; the record with every field is in history.jsonl
        print(f"[{trainer.arm} seed {trainer.args.seed}] " + epoch_line(record, trainer))
    if record.get("divergence"):
        warnings.warn(f"epoch {record['epoch']:g}: {record['divergence']}", stacklevel=2)


# what an epoch's line shows, in the order shown: the record's key and its label
EPOCH_LINE_FIELDS = (
    ("eval_accuracy", "accuracy"),
    ("ntp_loss", "NTP loss"),
    ("jepa_loss", "JEPA loss"),
    ("eval_ntp_loss", "held-out NTP loss"),
)


def epoch_line(record: dict[str, Any], trainer: JepaTrainer | None = None) -> str:
    """``epoch 2/3, accuracy 0.250, NTP loss 1.234, JEPA loss 0.012``: the demo's style."""
    epochs = trainer.args.num_train_epochs if trainer is not None else None
    head = f"epoch {record.get('epoch', 0):g}" + ("" if epochs is None else f"/{epochs:g}")
    parts = [
        f"{label} {record[key]:.3f}"
        for key, label in EPOCH_LINE_FIELDS
        if isinstance(record.get(key), float | int) and not isinstance(record.get(key), bool)
    ]
    return ", ".join([head, *parts])


def _vocab_size(jm: JepaModel) -> int:
    output = jm.model.get_output_embeddings()
    return int(output.weight.shape[0]) if output is not None else 0


def warmup_steps(ratio: float, total_steps: int) -> int:
    """Steps of linear warm-up for ``ratio`` of ``total_steps`` (rounded up, as transformers)."""
    if not 0.0 <= ratio <= 1.0:
        raise ValueError(f"warmup_ratio: expected a fraction of the run in [0, 1], got {ratio}")
    return math.ceil(ratio * total_steps)


def parameter_count(jm: JepaModel) -> int:
    model = jm.model.get_base_model() if hasattr(jm.model, "get_base_model") else jm.model
    if not hasattr(jm, "_n_params"):
        jm._n_params = model.num_parameters(exclude_embeddings=True)
    return jm._n_params
