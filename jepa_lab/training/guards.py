"""Divergence guards: the errors that stop a run, the bounds, and the checks behind them.

A non-finite loss or gradient norm stops the run naming the step (and the examples) before the
update; non-finite weights, or weights grown far past their start, stop it after one; a loss
that never leaves the uniform-output value ln V is flagged. :class:`~jepa_lab.training.trainer.
JepaTrainer` applies them.
"""

from __future__ import annotations

import math

import torch

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


def trainable_weight_norm(jm: torch.nn.Module) -> float:
    """The L2 norm of all trainable parameters (what the optimizer changes)."""
    params = [p.detach() for p in jm.parameters() if p.requires_grad]
    if not params:
        return 0.0
    norms = torch._foreach_norm(params)
    return float(torch.linalg.vector_norm(torch.stack([n.float() for n in norms])))
