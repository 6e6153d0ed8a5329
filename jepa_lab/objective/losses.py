"""The LLM-JEPA objective: distances between embeddings, the total loss, and loss dropout.

    loss = gamma * NTP + lambda * d(Pred(Enc(Text)), Enc(Code))

``d`` is ``1 - cos`` in the paper; L2, MSE and InfoNCE are its ablations. The extensions below
the paper's line (``centered_cosine``, ``stop_grad_code``, a variance/covariance term) exist to
study the collapse a tiny model shows; they are off by default and labelled as ours.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

# the names live with the config checks, which must not import torch (jepa-lab --help)
from jepa_lab.objective.checks import DISTANCES
from jepa_lab.objective.checks import EXTENSION_DISTANCES as EXTENSION_DISTANCES
from jepa_lab.objective.checks import PAPER_DISTANCES as PAPER_DISTANCES


def jepa_distance(
    pred: torch.Tensor,
    target: torch.Tensor,
    kind: str = "cosine",
    temperature: float = 0.07,
    reduction: str = "mean",
) -> torch.Tensor:
    """Distance between rows of ``pred`` [B, H] and ``target`` [B, H], averaged (or summed,
    ``reduction="sum"``, so data-parallel ranks can normalise by a global count) over rows.

    * ``cosine``: 1 - cos(pred_i, target_i)
    * ``l2``: ||pred_i - target_i||_2
    * ``mse``: mean over dimensions of (pred_i - target_i)^2
    * ``infonce``: cross-entropy of pred_i picking target_i among the batch's targets, by cosine
      similarity / temperature (in-batch negatives; needs B >= 2 to mean anything)
    * ``centered_cosine`` (extension): cosine after subtracting each side's batch mean, so a
      shared constant direction cannot satisfy it
    """
    if pred.shape != target.shape or pred.dim() != 2:
        raise ValueError(
            f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must both be [B, H]"
        )
    if reduction not in ("mean", "sum"):
        raise ValueError(f"reduction must be 'mean' or 'sum', got {reduction!r}")
    per_row = _per_row_distance(pred.float(), target.float(), kind, temperature)  # [B]
    return per_row.mean() if reduction == "mean" else per_row.sum()


def _per_row_distance(
    pred: torch.Tensor, target: torch.Tensor, kind: str, temperature: float
) -> torch.Tensor:
    if kind == "cosine":
        return 1.0 - F.cosine_similarity(pred, target, dim=-1)
    if kind == "l2":
        return (pred - target).norm(dim=-1)
    if kind == "mse":
        return (pred - target).pow(2).mean(dim=-1)
    if kind == "infonce":
        logits = F.normalize(pred, dim=-1) @ F.normalize(target, dim=-1).T / temperature  # [B, B]
        labels = torch.arange(len(pred), device=pred.device)
        return F.cross_entropy(logits, labels, reduction="none")
    if kind == "centered_cosine":
        pred_c = pred - pred.mean(dim=0, keepdim=True)
        target_c = target - target.mean(dim=0, keepdim=True)
        return 1.0 - F.cosine_similarity(pred_c, target_c, dim=-1)
    raise ValueError(f"unknown distance {kind!r}; expected one of {DISTANCES}")


def variance_covariance_penalty(emb: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    """VICReg-style regulariser (extension): keep each dimension's std >= 1 and decorrelate them.

    A collapsed batch (every row the same vector) has zero variance and is penalised; an
    isotropic one is not. Returns a scalar; needs B >= 2.
    """
    emb = emb.float()
    centred = emb - emb.mean(dim=0, keepdim=True)
    std = torch.sqrt(centred.var(dim=0) + eps)
    variance_term = F.relu(1.0 - std).mean()
    n, dim = emb.shape
    cov = centred.T @ centred / max(n - 1, 1)  # [H, H]
    off_diagonal = cov - torch.diag(torch.diag(cov))
    covariance_term = off_diagonal.pow(2).sum() / dim
    return variance_term + covariance_term


def total_loss(ntp: torch.Tensor, jepa: torch.Tensor, gamma: float, lam: float) -> torch.Tensor:
    """``gamma * ntp + lam * jepa``."""
    return gamma * ntp + lam * jepa


@dataclass
class Objective:
    """The objective of one step: the loss and the two means it combines (``jepa`` is None for
    a step without the JEPA term). Tensors or floats, as the sums were."""

    loss: Any
    ntp: Any
    jepa: Any = None


def objective(
    ntp_sum: Any,
    ntp_count: float,
    jepa_sum: Any,
    jepa_count: float,
    gamma: float,
    lam: float,
    ranks: int = 1,
) -> Objective:
    """``gamma * NTP + lam * JEPA`` from summed token cross-entropy and summed pair distance.

    The only place the objective is written: the model's output, the trainer's optimised loss
    and its logged means all call it. Means come from sums and counts so a data-parallel trainer
    can pass the counts of *all* ranks; ``ranks`` then scales each rank's share back up, because
    DDP averages the gradients over ranks. ``jepa_sum=None`` is a step without the JEPA term.
    """
    ntp = ntp_sum / max(ntp_count, 1) * ranks
    if jepa_sum is None:
        return Objective(gamma * ntp, ntp)
    jepa = jepa_sum / max(jepa_count, 1) * ranks
    return Objective(total_loss(ntp, jepa, gamma, lam), ntp, jepa)


def require_jepa_lam(lam: float, name: str = "lam") -> None:
    """The LLM-JEPA arm needs ``lam > 0``: with ``lam = 0`` it would be the NTP baseline."""
    if not lam > 0:
        raise ValueError(
            f"{name}={lam}: the LLM-JEPA arm needs lambda > 0 "
            "(lambda = 0 is the NTP baseline, which is its own arm)"
        )


def jepa_dropped(step: int, rate: float, seed: int = 0) -> bool:
    """Loss dropout: is the JEPA term (and its extra tokens) skipped at ``step``?

    A pure function of (seed, step), so a resumed run drops exactly the steps the uninterrupted
    run would have, and two arms with the same seed drop the same steps.
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"loss_dropout must be in [0, 1], got {rate}")
    if rate == 0.0:
        return False
    if rate == 1.0:
        return True
    digest = hashlib.blake2b(f"{seed}:{step}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < rate
