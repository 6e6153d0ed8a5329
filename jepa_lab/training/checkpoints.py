"""Checkpoints: marked complete only once fully written and finite, verified before a resume
uses them (falling back to the previous one, naming the bad file), rotated so the last good one
is never deleted, and loaded back into a JepaModel."""

from __future__ import annotations

import json
import os
import shutil
import warnings
from pathlib import Path

import torch

from jepa_lab.objective.model import JepaModel
from jepa_lab.training.rundir import write_atomic

COMPLETE_MARKER = "COMPLETE"
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
            write_atomic(folder / "REJECTED", f"{err}\n")
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
