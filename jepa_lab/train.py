"""Training on the Hugging Face ``Trainer``: NTP baseline and LLM-JEPA through one subclass.

Both arms run through :class:`JepaTrainer` with the same collator and data order; the baseline
is simply ``lam = 0`` (its batches then carry no view segments at all). The Trainer brings
checkpoints, resume, gradient accumulation, mixed precision, ``accelerate launch`` and
``torchrun`` (DDP, FSDP). jepa-lab adds:

* the packed objective, built per step so loss dropout is a pure function of the step;
* data-parallel normalisation by the token and pair counts of *all* ranks, so a 2-process run
  computes exactly the loss and gradient of a 1-process run with the same global batch;
* a non-finite loss stops the run naming the step and the examples, before any update;
* per-epoch held-out evaluation appended atomically to ``history.jsonl``;
* checkpoints as safetensors, marked complete only once fully written, so ``resume`` never
  picks a half-written one; a run directory holding a different run is never overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
import time
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


class NonFiniteLossError(FloatingPointError):
    """The loss became NaN or infinite; the run stops before the update is applied."""


class RunDirectoryError(FileExistsError):
    """The run directory holds a different run (or any run, without --resume/--overwrite)."""


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
        **kwargs: Any,
    ):
        kwargs.setdefault("data_collator", collate_examples)
        super().__init__(*args, **kwargs)
        self.eval_examples = eval_examples or []
        self.run_config = run_config
        self.history = history
        self.arm = arm
        self.epoch_sums: dict[str, float] = defaultdict(float)
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
            checkpoint = last_complete_checkpoint(self.args.output_dir)
            raise NonFiniteLossError(
                f"step {step}: the loss is {loss.item()} (ntp {ntp.item()}, jepa "
                f"{None if jepa is None else jepa.item()}) on the batch of examples "
                f"{_example_ids(examples)}; stopping before the update. The last good "
                f"checkpoint is {checkpoint or 'none yet'}."
            )
        tokens = float(totals[2])
        self._last_flops = 6.0 * _parameter_count(jm) * tokens / world  # Trainer sums ranks
        self.state.num_input_tokens_seen = int(self.state.num_input_tokens_seen or 0) + int(tokens)
        ntp_mean = float(totals[3] / n_ntp)
        sums = self.epoch_sums
        sums["steps"] += 1
        sums["ntp_loss"] += ntp_mean
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
        super()._save_checkpoint(model, trial)
        if self.args.should_save:
            folder = (
                Path(self._get_output_dir(trial=trial)) / f"checkpoint-{self.state.global_step}"
            )
            _write_atomic(folder / COMPLETE_MARKER, f"{self.state.global_step}\n")

    def _load_from_checkpoint(self, resume_from_checkpoint: str, model=None) -> None:
        if self.is_fsdp_enabled or self.is_deepspeed_enabled:
            return super()._load_from_checkpoint(resume_from_checkpoint, model)
        jm: JepaModel = self.accelerator.unwrap_model(model or self.model)
        load_model_weights(jm, resume_from_checkpoint)


class _EpochEnd(TrainerCallback):
    """Evaluate on held-out data at each epoch end and append the record to the history."""

    def __init__(self, trainer: JepaTrainer):
        self.trainer = trainer

    def on_epoch_end(self, args, state, control, **kwargs):
        trainer = self.trainer
        sums, trainer.epoch_sums = trainer.epoch_sums, defaultdict(float)
        if not state.is_world_process_zero:
            return control
        steps = max(sums["steps"], 1)
        record: dict[str, Any] = {
            "arm": trainer.arm,
            "seed": args.seed,
            "epoch": round(state.epoch or 0.0, 4),
            "step": state.global_step,
            "train_loss": sums["loss"] / steps,
            "ntp_loss": sums["ntp_loss"] / steps,
            "jepa_loss": sums["jepa_loss"] / sums["jepa_steps"] if sums["jepa_steps"] else None,
            "jepa_steps": int(sums["jepa_steps"]),
            "tokens_seen": int(state.num_input_tokens_seen or 0),
            # 6 x non-embedding parameters x tokens: forward plus backward, all ranks
            "flops": 6.0
            * _parameter_count(trainer.accelerator.unwrap_model(trainer.model))
            * float(state.num_input_tokens_seen or 0),
            "wall_time": time.perf_counter() - trainer._started,
        }
        config = trainer.run_config
        if trainer.eval_examples and config is not None:
            jm: JepaModel = trainer.accelerator.unwrap_model(trainer.model)
            metrics = evaluate(
                jm,
                trainer.eval_examples,
                dataset=config.dataset,
                max_new_tokens=config.max_new_tokens,
                batch_size=config.eval_batch_size,
                progress=not args.disable_tqdm,
            )
            predictions = metrics.pop("predictions")
            record.update(metrics)
            _write_atomic(
                Path(args.output_dir) / "predictions.jsonl",
                "".join(json.dumps(p) + "\n" for p in predictions),
            )
        if trainer.history is not None:
            trainer.history.append(record)
        shown = {k: v for k, v in record.items() if isinstance(v, float)}
        print(
            f"[{trainer.arm} seed {args.seed}] epoch {record['epoch']:g}: "
            + ", ".join(f"{k} {v:.4g}" for k, v in shown.items() if k != "flops")
        )
        return control


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


def last_complete_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest ``checkpoint-N`` whose COMPLETE marker was written, else None."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return None
    complete = [
        p
        for p in run_dir.glob("checkpoint-*")
        if p.is_dir() and (p / COMPLETE_MARKER).is_file() and p.name.split("-")[-1].isdigit()
    ]
    return max(complete, key=lambda p: int(p.name.split("-")[-1]), default=None)


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


def prepare_run_dir(
    run_dir: str | os.PathLike, identity: dict[str, Any], resume: bool, overwrite: bool
) -> Path:
    """Create or check ``run_dir``; never silently replace a different run."""
    run_dir = Path(run_dir)
    run_file = run_dir / RUN_FILE
    if run_file.is_file():
        existing = json.loads(run_file.read_text(encoding="utf-8"))
        if overwrite:
            shutil.rmtree(run_dir)
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
    elif run_dir.is_dir() and any(run_dir.iterdir()) and not overwrite:
        raise RunDirectoryError(f"{run_dir} is not empty and holds no jepa-lab run; choose another")
    elif overwrite and run_dir.is_dir():
        shutil.rmtree(run_dir)
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
        warmup_steps=config.warmup_ratio,
        lr_scheduler_type=config.scheduler,
        max_grad_norm=config.max_grad_norm,
        bf16=config.bf16 and on_gpu,
        seed=config.seed,
        data_seed=config.seed,
        save_strategy="steps" if save_steps else "epoch",
        save_steps=save_steps or 500,
        save_total_limit=2,
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

    ``resume`` continues from the newest complete checkpoint (a killed run ends where the
    uninterrupted one would); the history keeps only the epochs that checkpoint had finished.
    """
    from .build import build_jepa_model, load_examples

    config = config.with_arm(arm)
    identity = {"arm": arm, "config": config.to_dict()}
    # load (and so check) the data before anything is written: bad input leaves no run dir behind
    train_examples, eval_examples = data if data is not None else load_examples(config)
    if int(os.environ.get("RANK", "0")) == 0:
        run_dir = prepare_run_dir(run_dir, identity, resume=resume, overwrite=overwrite)
    else:  # other data-parallel ranks wait for rank 0 to lay out (or refuse) the directory
        run_dir = _wait_for_run_dir(Path(run_dir), identity)
    jm = build_jepa_model(config, train_examples)
    history = History(run_dir / "history.jsonl")
    checkpoint = last_complete_checkpoint(run_dir) if resume else None
    if int(os.environ.get("RANK", "0")) == 0 and resume:
        done = 0.0
        if checkpoint is not None:
            state = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))
            done = float(state.get("epoch") or 0.0)
        history.truncate_after(done)
    args = training_arguments(config, run_dir, progress)
    trainer = JepaTrainer(
        model=jm,
        args=args,
        train_dataset=train_examples,
        eval_examples=eval_examples,
        run_config=config,
        history=history,
        arm=arm,
        callbacks=callbacks,
    )
    if not progress:  # no per-step log dicts or save bars either; the epoch records still print
        from transformers.trainer_callback import PrinterCallback
        from transformers.utils import logging as hf_logging

        trainer.remove_callback(PrinterCallback)
        hf_logging.disable_progress_bar()
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:
        if not progress:
            hf_logging.enable_progress_bar()
    if trainer.args.should_save:
        final, tmp = run_dir / "final", run_dir / "final.tmp"
        shutil.rmtree(tmp, ignore_errors=True)
        trainer._save(str(tmp))
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    return TrainResult(run_dir, history.read(), jm)
