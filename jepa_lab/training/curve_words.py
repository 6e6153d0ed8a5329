"""What a learning curve says, in words computed from the records the figure draws, so that a
notebook's sentence about its curves ("which arm rises first") cannot disagree with them."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from typing import Any

from jepa_lab.geometry.plot_style import ARM_LABELS

RISE_MARGIN = 0.05  # an accuracy curve "rises" once it is this far above its first epoch
METRIC_WORDS = {"eval_accuracy": "held-out accuracy", "eval_ntp_loss": "held-out NTP loss"}


def mean_curves(
    records: Iterable[Mapping[str, Any]], metric: str = "eval_accuracy"
) -> dict[str, list[tuple[float, float]]]:
    """Per arm, (epoch, mean of ``metric`` over seeds) in epoch order; records without it skip."""
    values: dict[str, dict[float, list[float]]] = defaultdict(lambda: defaultdict(list))
    for r in records:
        value = r.get(metric)
        if isinstance(value, int | float) and not isinstance(value, bool):
            values[str(r["arm"])][float(r["epoch"])].append(float(value))
    return {
        arm: [(epoch, sum(v) / len(v)) for epoch, v in sorted(by_epoch.items())]
        for arm, by_epoch in values.items()
    }


def first_rise(
    records: Iterable[Mapping[str, Any]],
    metric: str = "eval_accuracy",
    margin: float = RISE_MARGIN,
) -> dict[str, float | None]:
    """Per arm, the first epoch at which its mean curve is ``margin`` above its first epoch's
    value (None: it never is)."""
    out: dict[str, float | None] = {}
    for arm, curve in mean_curves(records, metric).items():
        start = curve[0][1]
        out[arm] = next((epoch for epoch, v in curve[1:] if v >= start + margin), None)
    return out


def rise_sentence(
    records: Iterable[Mapping[str, Any]],
    metric: str = "eval_accuracy",
    margin: float = RISE_MARGIN,
) -> str:
    """Which arm's curve rises first, in one sentence, e.g. "NTP baseline rises first: its
    held-out accuracy is 0.05 above its first epoch at epoch 2; LLM-JEPA's at epoch 3."."""
    rises = first_rise(records, metric, margin)
    label = {arm: ARM_LABELS.get(arm, arm) for arm in rises}
    what = f"{margin:g} above its first epoch"
    metric = METRIC_WORDS.get(metric, metric)
    risen = {arm: epoch for arm, epoch in rises.items() if epoch is not None}
    if not risen:
        return f"Neither arm's {metric} rises {what} in these epochs."
    order = sorted(risen, key=lambda arm: risen[arm])
    first = order[0]
    if len(order) > 1 and risen[order[1]] == risen[first]:
        return f"Both arms' {metric} rise {what} at the same epoch, {risen[first]:g}."
    rest = [
        f"{label[arm]}'s at epoch {risen[arm]:g}" if arm in risen else f"{label[arm]}'s never"
        for arm in sorted(rises, key=lambda arm: (rises[arm] is None, rises[arm] or 0.0))
        if arm != first
    ]
    return f"{label[first]} rises first: its {metric} is {what} at epoch {risen[first]:g}" + (
        f"; {', '.join(rest)}." if rest else "."
    )
