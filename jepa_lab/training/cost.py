"""What one training step costs: wall time (median over repeats, after a warm-up), peak GPU
memory, and the batch's shape (rows x width, real tokens, padded cells). benchmarks/step_cost.py
and notebook 05 measure with these same functions."""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Any

import torch


@dataclass
class StepCost:
    rows: int
    width: int
    cells: int  # rows x width, padding included: what the model computes over
    tokens: int  # real (non-padding) tokens
    seconds: float  # median wall time of one forward + backward (+ optimizer step)
    peak_gb: float | None  # peak GPU memory of a step; None on a CPU
    loss: float


def batch_shape(batch: dict[str, torch.Tensor]) -> dict[str, int]:
    """Rows, width, padded cells and real tokens of a packed batch."""
    rows, width = batch["input_ids"].shape
    tokens = int((batch["segment_ids"] != -1).sum())
    return {"rows": rows, "width": width, "cells": rows * width, "tokens": tokens}


def time_step(
    jm: Any, batch: dict[str, torch.Tensor], optimizer: torch.optim.Optimizer | None = None
) -> tuple[float, float, float | None]:
    """One forward + backward (+ ``optimizer`` step): (seconds, loss, peak GPU GB or None)."""
    on_gpu = batch["input_ids"].is_cuda
    if on_gpu:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    out = jm(**batch)
    out.loss.backward()
    if optimizer is not None:
        optimizer.step()
    if on_gpu:
        torch.cuda.synchronize()  # the kernels are asynchronous: wait before reading the clock
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if on_gpu else None
    if optimizer is not None:
        optimizer.zero_grad(set_to_none=True)
    else:
        jm.zero_grad(set_to_none=True)
    return seconds, float(out.loss.detach()), peak


def step_cost(
    jm: Any,
    batch: dict[str, torch.Tensor],
    repeats: int = 5,
    optimizer: torch.optim.Optimizer | None = None,
) -> StepCost:
    """The median of ``repeats`` timed steps after one warm-up (kernels, caches, allocator)."""
    if repeats < 1:
        raise ValueError(f"step_cost: repeats={repeats}: expected at least 1")
    time_step(jm, batch, optimizer)
    runs = [time_step(jm, batch, optimizer) for _ in range(repeats)]
    peaks = [p for _, _, p in runs if p is not None]
    return StepCost(
        **batch_shape(batch),
        seconds=statistics.median(s for s, _, _ in runs),
        peak_gb=max(peaks) if peaks else None,
        loss=runs[-1][1],
    )
