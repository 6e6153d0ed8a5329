"""One optimizer step, computed once: pack the accumulation window, count it, normalise by it.

An optimizer step sums the gradients of ``grad_accum`` micro-batches on each of the ranks. For
that sum to be the gradient of the step's whole batch, every micro-batch's NTP sum is divided by
the NTP targets of the whole window on all ranks, and its JEPA sum by the window's pairs, never
by its own counts (a mean of micro-batch means weights a short micro-batch's tokens up).
:func:`pack_window` packs each micro-batch once, when the window is drawn, and returns those
counts; :class:`jepa_lab.training.trainer.JepaTrainer` reduces them over the ranks.

Two extensions stay per micro-batch by nature, and so are not exact under accumulation: the
InfoNCE distance (its negatives are the micro-batch's other pairs) and the variance/covariance
penalty (a statistic of the micro-batch).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import torch

from jepa_lab.objective.masks import IGNORE_INDEX, NO_SEGMENT
from jepa_lab.objective.model import JepaModel

# what a window's counts tensor holds, in order
WINDOW_COUNTS = ("ntp_targets", "pairs", "tokens")


def batch_counts(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """[NTP targets, JEPA pairs, real tokens] of a packed batch, as ``JepaModel.forward`` counts
    them (``ntp_count``, ``jepa_count``, ``num_tokens``), without running the model."""
    targets = int((batch["labels"][:, 1:] != IGNORE_INDEX).sum())  # labels[j + 1] of logits[j]
    pairs = len(batch["text_index"]) if "text_index" in batch else 0
    tokens = int((batch["segment_ids"] != NO_SEGMENT).sum())
    return torch.tensor([targets, pairs, tokens], dtype=torch.float64)


def pack_window(jm: JepaModel, micro_batches: Sequence[dict[str, Any]], step: int) -> torch.Tensor:
    """Pack each micro-batch of optimizer step ``step`` into ``inputs["batch"]`` (all with the
    step's loss-dropout decision), mark the last one, and return the window's counts."""
    use_jepa = jm.jepa_active(step)
    counts = torch.zeros(len(WINDOW_COUNTS), dtype=torch.float64)
    for i, inputs in enumerate(micro_batches):
        inputs["batch"] = jm.build_batch(inputs["examples"], jepa=use_jepa)
        inputs["window_end"] = i == len(micro_batches) - 1
        counts += batch_counts(inputs["batch"])
    return counts


def add_step(sums: dict[str, float], loss: float, ntp: float, jepa: float | None) -> None:
    """One optimizer step's means into running sums (an epoch's, or a logging interval's)."""
    sums["steps"] += 1
    sums["loss"] += loss
    sums["ntp_loss"] += ntp
    sums["ntp_loss_min"] = min(sums.get("ntp_loss_min", float("inf")), ntp)
    if jepa is not None:
        sums["jepa_loss"] += jepa
        sums["jepa_steps"] += 1


def means(sums: dict[str, float]) -> dict[str, float | None]:
    """The running sums' mean loss and mean terms (JEPA over the steps that had the term)."""
    steps, jepa_steps = sums.get("steps", 0.0), sums.get("jepa_steps", 0.0)
    return {
        "train_loss": sums["loss"] / steps if steps else None,
        "ntp_loss": sums["ntp_loss"] / steps if steps else None,
        "jepa_loss": sums["jepa_loss"] / jepa_steps if jepa_steps else None,
    }


def new_sums() -> defaultdict[str, float]:
    return defaultdict(float)
