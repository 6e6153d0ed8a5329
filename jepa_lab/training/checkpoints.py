"""Checkpoints: marked complete only once fully written and finite, verified before a resume
uses them (falling back to the previous one, naming the bad file), rotated so the last good one
is never deleted, and loaded back into a JepaModel."""

from __future__ import annotations

import errno
import json
import os
import shutil
import warnings
from pathlib import Path

import torch

from jepa_lab.objective.model import JepaModel
from jepa_lab.training.rundir import (
    COMPLETE_MARKER,
    REJECTED_MARKER,
    RunDirectoryError,
    checkpoint_step,
    is_own_checkpoint,
    write_atomic,
)

CHECKPOINT_STATE = "jepa_state.json"  # the epoch's running sums, wall time, start weight norm
SAVE_TOTAL_LIMIT = 2  # complete checkpoints kept; the newest good one is never deleted


class CheckpointError(ValueError):
    """A checkpoint file is missing, cut short, unreadable or holds non-finite tensors."""

    def __init__(self, file: Path, reason: str):
        super().__init__(f"{file}: {reason}")
        self.file, self.reason = Path(file), reason


def _complete_checkpoints(run_dir: Path) -> list[Path]:
    """Checkpoints whose COMPLETE marker was written, newest first."""
    if not run_dir.is_dir():
        return []
    complete = [
        p
        for p in run_dir.glob("checkpoint-*")
        if checkpoint_step(p) is not None and p.is_dir() and (p / COMPLETE_MARKER).is_file()
    ]
    return sorted(complete, key=_step_of, reverse=True)


def _step_of(folder: Path) -> int:
    return checkpoint_step(folder)  # only called on names checkpoint_step accepted


def last_complete_checkpoint(run_dir: str | os.PathLike) -> Path | None:
    """The newest ``checkpoint-N`` whose COMPLETE marker was written, else None."""
    return next(iter(_complete_checkpoints(Path(run_dir))), None)


# name -> (shape, required): what the model's weights files must hold (tied copies optional)
Expected = dict[str, tuple[tuple[int, ...], bool]]


def expected_tensors(jm: JepaModel) -> Expected | None:
    """The tensors a full-model checkpoint of ``jm`` holds; None for LoRA (adapters only)."""
    if hasattr(jm.model, "peft_config"):
        return None
    tied = set(getattr(jm.model, "_tied_weights_keys", None) or [])
    return {
        key: (tuple(value.shape), key not in tied and not _is_tied(jm.model, key))
        for key, value in jm.model.state_dict().items()
    }


def verify_tensors(folder: str | os.PathLike, expected: Expected | None = None) -> None:
    """Every ``*.safetensors`` in ``folder`` loads and holds only finite values; with
    ``expected``, the model's weights have exactly the model's names and shapes."""
    from safetensors import safe_open

    folder = Path(folder)
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        raise CheckpointError(folder, "no *.safetensors weights file")
    found: set[str] = set()
    for file in files:
        model_file = file.name.startswith("model")
        try:
            with safe_open(str(file), framework="pt") as f:
                for key in f.keys():
                    if expected is not None and model_file:
                        _check_shape(file, key, f.get_slice(key).get_shape(), expected)
                        found.add(key)
                    tensor = f.get_tensor(key)
                    if tensor.is_floating_point() and not torch.isfinite(tensor).all():
                        raise CheckpointError(file, f"tensor {key} holds NaN or infinite values")
        except CheckpointError:
            raise
        except Exception as err:  # safetensors raises its own types for cut-short files
            raise CheckpointError(file, f"cannot be read ({type(err).__name__}: {err})") from err
    if expected is not None and any(f.name.startswith("model") for f in files):
        missing = sorted(k for k, (_, required) in expected.items() if required and k not in found)
        if missing:
            raise CheckpointError(folder, f"tensor {missing[0]} is missing ({len(missing)} in all)")


def _check_shape(file: Path, key: str, shape: list[int], expected: Expected) -> None:
    if key not in expected:
        raise CheckpointError(file, f"tensor {key} is not a weight of this model")
    want = expected[key][0]
    if tuple(shape) != want:
        raise CheckpointError(
            file, f"tensor {key} has shape {tuple(shape)}, the model expects {want}"
        )


def verify_checkpoint(folder: str | os.PathLike, expected: Expected | None = None) -> None:
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
    verify_tensors(folder, expected)
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
    run_dir: Path, mark: bool = True, expected: Expected | None = None
) -> tuple[Path | None, list[dict[str, str]]]:
    """The newest checkpoint that verifies, and the newer ones rejected on the way.

    With ``mark`` (rank 0), a rejected checkpoint loses its COMPLETE marker (a ``REJECTED``
    file says why), so no later resume picks it and rotation treats it as the leftover it is.
    ``expected`` (:func:`expected_tensors`) also rejects weights of another shape or a missing
    one.
    """
    rejected: list[dict[str, str]] = []
    for folder in _complete_checkpoints(run_dir):
        try:
            verify_checkpoint(folder, expected)
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
            write_atomic(folder / REJECTED_MARKER, f"{err}\n")
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
    doomed += [  # a user's checkpoint-12/ of notes is not a leftover of ours
        p
        for p in run_dir.glob("checkpoint-*")
        if is_own_checkpoint(p) and not (p / COMPLETE_MARKER).is_file() and _step_of(p) < newest
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


class DiskFullError(RunDirectoryError):
    """The disk filled up during a run; the message names the checkpoint a resume starts from."""


def is_disk_full(err: BaseException) -> bool:
    """``err`` (or what caused it: torch and safetensors wrap the OSError) is a full disk."""
    seen: BaseException | None = err
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in (errno.ENOSPC, errno.EDQUOT):
            return True
        if "No space left on device" in str(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def disk_full_error(run_dir: str | os.PathLike, err: BaseException) -> DiskFullError:
    good = last_good_checkpoint(run_dir)
    where = (
        f"the last complete checkpoint is {good.name} (--resume continues from it once there "
        "is space)"
        if good is not None
        else "there is no complete checkpoint yet (the run starts over)"
    )
    reason = getattr(err, "strerror", None) or str(err).splitlines()[0]
    return DiskFullError(f"{run_dir}: the disk is full ({reason}); {where}")
