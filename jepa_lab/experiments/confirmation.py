"""A claim checked on seeds its choice never saw: the screen, the confirmation and the pooled
estimate of one point of the study.

A point picked because it looked best on some seeds (the winner of a screen) has an optimistic
p on those same seeds. The rule this study follows: every claim is tested again on fresh seeds,
and the verdict is the confirmation's alone (one-sided paired t-test, JEPA > NTP, at ``alpha``).
The pooled estimate over all seeds, with its 95% confidence interval, says how large the effect
is; it is not a second chance to pass.

The study's JSON keeps each confirmation as its own part (``overfit_confirm`` beside
``overfit``, ``base_confirm`` beside ``base``, ``grid_confirm`` beside ``grid``), with the same
point names, so ``CONFIRMATIONS`` pairs them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from jepa_lab.experiments.experiment import format_p
from jepa_lab.experiments.study import entries

# confirmation part -> the screen part whose choice it tests
CONFIRMATIONS = {"overfit_confirm": "overfit", "base_confirm": "base", "grid_confirm": "grid"}
ALPHA = 0.05


def _finals(entry: Mapping[str, Any], arm: str) -> dict[int, float]:
    return {s["seed"]: float(s["final"]) for s in entry[f"{arm}_per_seed"]}


def accuracy_gains(entry: Mapping[str, Any]) -> dict[int, float]:
    """JEPA - NTP final held-out accuracy, per seed."""
    ntp, jepa = _finals(entry, "ntp"), _finals(entry, "jepa")
    return {seed: jepa[seed] - ntp[seed] for seed in entry["seeds"]}


def loss_rise_gains(entry: Mapping[str, Any]) -> dict[int, float] | None:
    """NTP's held-out loss rise minus JEPA's, per seed (positive: JEPA overfits less), or None
    when the point has no per-epoch held-out loss."""
    if not entry.get("ntp_loss_per_epoch"):
        return None
    rises = {
        arm: [c[-1] - min(c) for c in entry[f"{arm}_loss_per_epoch"]] for arm in ("ntp", "jepa")
    }
    return {
        seed: n - j for seed, n, j in zip(entry["seeds"], rises["ntp"], rises["jepa"], strict=True)
    }


def one_sample(values: list[float], confidence: float = 0.95) -> dict[str, Any]:
    """Mean, its two-sided ``confidence`` interval (Student's t) and the one-sided p that the
    mean is above 0. NaN where fewer than two values or no spread make them undefined."""
    from scipy import stats

    x = np.asarray(values, dtype=float)
    out: dict[str, Any] = {"n": len(x), "mean": float(x.mean()) if len(x) else math.nan}
    if len(x) < 2 or float(x.std(ddof=1)) <= 1e-12 * max(1.0, abs(out["mean"])):  # no spread
        return {**out, "ci_low": math.nan, "ci_high": math.nan, "p_value": math.nan}
    half = float(stats.t.ppf(0.5 + confidence / 2, len(x) - 1) * x.std(ddof=1) / math.sqrt(len(x)))
    p = float(stats.ttest_1samp(x, 0.0, alternative="greater").pvalue)
    return {**out, "ci_low": out["mean"] - half, "ci_high": out["mean"] + half, "p_value": p}


def confirm_point(
    screen: Mapping[str, Any], confirm: Mapping[str, Any], alpha: float = ALPHA
) -> dict[str, Any]:
    """Screen, confirmation and pooled figures of one point, for the accuracy gain and (where
    recorded) the held-out loss rise. ``holds``: the confirmation alone passes p < alpha."""
    overlap = set(screen["seeds"]) & set(confirm["seeds"])
    if overlap:
        raise ValueError(f"confirmation reuses the screen's seeds {sorted(overlap)}")
    out: dict[str, Any] = {
        "screen_seeds": list(screen["seeds"]),
        "confirm_seeds": list(confirm["seeds"]),
    }
    for measure, gains in (("accuracy", accuracy_gains), ("loss_rise", loss_rise_gains)):
        screened, confirmed = gains(screen), gains(confirm)
        if screened is None or confirmed is None:
            continue
        figures = {
            "screen": one_sample(list(screened.values())),
            "confirm": one_sample(list(confirmed.values())),
            "pooled": one_sample([*screened.values(), *confirmed.values()]),
        }
        p = figures["confirm"]["p_value"]
        figures["holds"] = bool(not math.isnan(p) and p < alpha)
        # the same sign on both seed sets: a direction, even where the size is not significant
        figures["same_direction"] = bool(
            np.sign(figures["screen"]["mean"]) == np.sign(figures["confirm"]["mean"]) != 0
        )
        out[measure] = figures
    return out


def confirmations(study: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """``"part/point"`` -> :func:`confirm_point` for every confirmed point of the study."""
    found = {}
    for confirm_part, screen_part in CONFIRMATIONS.items():
        screened = entries(study.get(screen_part, {}))
        for name, confirm in entries(study.get(confirm_part, {})).items():
            if name in screened:
                found[f"{screen_part}/{name}"] = confirm_point(screened[name], confirm)
    return found


def _effect(f: Mapping[str, Any]) -> str:
    return f"{f['mean']:+.3f} (p = {format_p(f['p_value'], digits=2)}, {f['n']})"


def _interval(f: Mapping[str, Any]) -> str:
    if math.isnan(f["ci_low"]):
        return f"{f['mean']:+.3f}"
    return f"{f['mean']:+.3f} [{f['ci_low']:+.3f}, {f['ci_high']:+.3f}]"


def _seed_range(seeds: list[int]) -> str:
    s = sorted(seeds)
    contiguous = s == list(range(s[0], s[-1] + 1))
    return f"{s[0]}-{s[-1]}" if contiguous and len(s) > 2 else ", ".join(map(str, s))


def confirmation_table(study: Mapping[str, Any]) -> str:
    """One row per confirmed point and measure: which seeds chose and which confirmed, the
    screen's and the confirmation's gain with p and seed count, the pooled gain with its 95%
    interval, and the verdict (the confirmation's alone)."""
    rows = [
        "| point | measure | chosen on seeds | screen | confirmed on seeds | confirmation "
        "| pooled, 95% CI | verdict |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    labels = {"accuracy": "final accuracy, JEPA - NTP", "loss_rise": "loss rise, NTP - JEPA"}
    for point, c in confirmations(study).items():
        for measure, label in labels.items():
            if measure not in c:
                continue
            f = c[measure]
            verdict = "holds" if f["holds"] else "not confirmed"
            rows.append(
                f"| {point} | {label} | {_seed_range(c['screen_seeds'])} | {_effect(f['screen'])} "
                f"| {_seed_range(c['confirm_seeds'])} | {_effect(f['confirm'])} "
                f"| {_interval(f['pooled'])} | {verdict} |"
            )
    return "\n".join(rows)
