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
import os
import shutil
import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import TrainerCallback, TrainingArguments

from jepa_lab.objective.model import JepaModel
from jepa_lab.training.build import build_jepa_model, load_examples
from jepa_lab.training.checkpoints import (
    CHECKPOINT_STATE,
    choose_resume_checkpoint,
    disk_full_error,
    expected_tensors,
    is_disk_full,
    last_complete_checkpoint,
    last_good_checkpoint,
    load_model_weights,
)
from jepa_lab.training.data_checks import check_pair_lengths
from jepa_lab.training.fingerprint import data_identity, tokenizer_fingerprint
from jepa_lab.training.guards import NonFiniteLossError, TrainingStopped, trainable_weight_norm
from jepa_lab.training.history import History, check_history
from jepa_lab.training.locks import run_dir_lock
from jepa_lab.training.presets import TrainConfig
from jepa_lab.training.rundir import (
    SUMMARY_FILE,
    RunDirectoryError,
    prepare_run_dir,
    record_tokenizer,
    wait_for_run_dir,
    write_atomic,
)
from jepa_lab.training.trainer import (
    JepaTrainer,
    append_record,
    epoch_record,
    evaluate_into,
    warmup_steps,
)
from jepa_lab.training.validation import trackers, validate_run

# Names the entry point's users import from here (the CLI, the tests).
__all__ = [
    "NonFiniteLossError",
    "RunDirectoryError",
    "TrainResult",
    "TrainingStopped",
    "last_complete_checkpoint",
    "prepare_run_dir",
    "train",
    "warmup_steps",
]


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
        save_strategy="no" if save_steps == 0 else "steps" if save_steps else "epoch",
        save_steps=save_steps or 500,
        save_total_limit=None,  # rotate_checkpoints keeps SAVE_TOTAL_LIMIT verified ones
        logging_steps=10,
        logging_strategy="steps",
        report_to=trackers(config.report_to),
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
    expected = expected_tensors(trainer.accelerator.unwrap_model(trainer.model))
    checkpoint, rejected = choose_resume_checkpoint(run_dir, mark=is_main, expected=expected)
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
    write_atomic(run_dir / SUMMARY_FILE, json.dumps(summary, indent=2) + "\n")


@contextmanager
def _progress_bars(shown: bool) -> Iterator[None]:
    """transformers' and the hub's bars (checkpoint and model saving) off inside, if not shown."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    if not shown:
        hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if was_enabled and not shown:
            hf_logging.enable_progress_bar()


def _save_final(trainer: JepaTrainer, run_dir: Path) -> Path | None:
    """The trained model into ``run_dir/final``, replaced whole (never half written)."""
    if not trainer.args.should_save:
        return None
    final, tmp = run_dir / "final", run_dir / "final.tmp"
    shutil.rmtree(tmp, ignore_errors=True)
    trainer._save(str(tmp))
    shutil.rmtree(final, ignore_errors=True)
    os.replace(tmp, final)
    return final


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
    on_record: Callable[[dict[str, Any]], None] | None = None,
) -> TrainResult:
    """Train one arm (``"ntp"`` or ``"jepa"``) of ``config`` into ``run_dir``.

    ``resume`` continues from the newest checkpoint that verifies (a killed run ends where the
    uninterrupted one would, with the same history); a damaged newer one is skipped with a
    warning naming the bad file. A run that goes non-finite or diverges raises
    :class:`TrainingStopped` (``summary.json`` and the history say why); one whose loss never
    leaves ln V finishes with ``TrainResult.diverged`` set. ``on_record`` receives each epoch's
    history record instead of the printed line. ``progress=False`` shows no bars at all, the
    final save's included.
    """
    main_rank = int(os.environ.get("RANK", "0")) == 0  # other ranks wait for rank 0's layout
    options = dict(resume=resume, overwrite=overwrite, progress=progress, callbacks=callbacks)
    with run_dir_lock(run_dir) if main_rank else nullcontext():
        return _train_locked(config, run_dir, arm, data=data, on_record=on_record, **options)


def _train_locked(
    config: TrainConfig,
    run_dir: str | os.PathLike,
    arm: str,
    *,
    resume: bool,
    overwrite: bool,
    progress: bool,
    callbacks: list[TrainerCallback] | None,
    data: tuple[list[Any], list[Any]] | None,
    on_record: Callable[[dict[str, Any]], None] | None,
) -> TrainResult:
    """``train``'s body, run while the run directory's lock is held."""
    config = config.with_arm(arm)
    identity = {"arm": arm, "config": config.to_dict()}
    # load (and so check) the data before anything is written: bad input leaves no run dir behind
    train_examples, eval_examples = data if data is not None else load_examples(config)
    validate_run(config, train_examples, eval_examples)  # config, model path and data, up front
    identity["data"] = data_identity(config, train_examples, eval_examples)
    if resume:  # a damaged history is named now, not as a traceback mid-resume
        check_history(Path(run_dir) / "history.jsonl")
    jm = build_jepa_model(config, train_examples)  # writes nothing: before the run dir too
    train_pairs = jm.packer.tokenize(train_examples)  # once for the run, not once per epoch
    check_pair_lengths(jm, train_pairs)
    is_main = int(os.environ.get("RANK", "0")) == 0
    if is_main:
        run_dir = prepare_run_dir(run_dir, identity, resume=resume, overwrite=overwrite)
    else:  # other data-parallel ranks wait for rank 0 to lay out (or refuse) the directory
        run_dir = wait_for_run_dir(Path(run_dir), identity)
    if is_main:  # a resume under another tokenizer would read the weights with other token ids
        record_tokenizer(run_dir, tokenizer_fingerprint(jm.tokenizer))
    history = History(run_dir / "history.jsonl")
    args = training_arguments(config, run_dir, progress)
    trainer = JepaTrainer(
        model=jm,
        args=args,
        train_dataset=train_pairs,
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
    trainer.on_record = on_record
    checkpoint = prepare_resume(trainer, run_dir, is_main) if resume else None
    if not progress:  # no per-step log dicts or save bars either; the epoch records still print
        from transformers.trainer_callback import PrinterCallback

        trainer.remove_callback(PrinterCallback)
    with _progress_bars(progress):
        try:
            trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
        except TrainingStopped as err:
            if is_main:
                record_stop(trainer, err)
                write_summary(trainer, err.status, str(err), None)
            raise
        except OSError as err:  # a full disk: say which checkpoint a resume would start from
            if is_disk_full(err):
                raise disk_full_error(run_dir, err) from None
            raise
        final = _save_final(trainer, run_dir)
    records = history.read()
    flags = [f"epoch {r['epoch']:g}: {r['divergence']}" for r in records if r.get("divergence")]
    diverged = "; ".join(flags) or None
    if is_main:
        write_summary(trainer, "flagged" if diverged else "finished", diverged, final)
    return TrainResult(run_dir, records, jm, diverged)
