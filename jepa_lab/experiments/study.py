"""Reading the "where does LLM-JEPA help?" study: its JSON as tables and figures.

``benchmarks/where_it_helps.py`` writes one JSON file; each part (``overfit``, ``scale``,
``base``, ``grid``) maps a point's name to an entry with, per arm, the held-out accuracy after
every epoch of every seed (``ntp_per_epoch`` / ``jepa_per_epoch``: [seed][epoch]), the final-epoch
statistics (``ntp_mean``, ``jepa_mean``, ``*_std``, ``p_value``: paired one-sided t-test of
JEPA > NTP), the model's ``params`` and the collapse diagnostics of the JEPA arm after training
(``paired_cos``, ``random_cos``, ``eff_rank_pred``). Notebook 06 and the benchmark's ``--figures``
draw from it with the functions here.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from jepa_lab.experiments.experiment import format_p, paired_comparison
from jepa_lab.geometry.plots import ARM_COLORS, curves_figure

PARTS = ("overfit", "scale", "base", "grid")
DIAGNOSTICS = ("paired_cos", "random_cos", "eff_rank_pred", "eff_rank_code")


def load_study(path: str | os.PathLike) -> dict[str, Any]:
    """The study JSON at ``path``, checked for the keys every entry must carry."""
    path = Path(path)
    try:
        study = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from err
    need = ("params", "ntp_mean", "jepa_mean", "ntp_per_epoch", "jepa_per_epoch", "p_value")
    for part, points in study.items():
        for name, entry in points.items():
            if not isinstance(entry, Mapping):
                continue  # e.g. grid["point"], the name of the grid's base point
            missing = [k for k in need if k not in entry]
            if missing:
                raise ValueError(f"{path}: {part}.{name} lacks {missing}")
    return study


def entries(part: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    """The points of one part, without bookkeeping fields."""
    return {name: e for name, e in part.items() if isinstance(e, Mapping)}


# what the study keeps per epoch: metric name -> the entry's per-arm curves (``ntp<suffix>``)
PER_EPOCH = {"eval_accuracy": "_per_epoch", "eval_ntp_loss": "_loss_per_epoch"}


def history_records(
    entry: Mapping[str, Any], metric: str = "eval_accuracy"
) -> list[dict[str, Any]]:
    """The entry's per-epoch held-out accuracy (or ``eval_ntp_loss``) as history records, what
    ``curves_figure`` draws."""
    suffix = PER_EPOCH[metric]
    seeds = entry.get("seeds") or list(range(len(entry["ntp_per_epoch"])))
    records = []
    for arm in ("ntp", "jepa"):
        for seed, curve in zip(seeds, entry.get(f"{arm}{suffix}") or [], strict=False):
            records += [
                {"arm": arm, "seed": seed, "epoch": i + 1, metric: value}
                for i, value in enumerate(curve)
            ]
    return records


def epoch_curves_figure(
    entry: Mapping[str, Any], title: str, metric: str = "eval_accuracy"
) -> go.Figure:
    """Held-out accuracy (or ``eval_ntp_loss``) after every epoch, mean ± 1 std over seeds."""
    fig = curves_figure(history_records(entry, metric), metric, title=title)
    fig.update_layout(width=None, autosize=True)
    return fig


def paired_differences(entry: Mapping[str, Any]) -> np.ndarray:
    """JEPA - NTP final accuracy, seed by seed."""
    ntp = np.array([c[-1] for c in entry["ntp_per_epoch"]], dtype=float)
    jepa = np.array([c[-1] for c in entry["jepa_per_epoch"]], dtype=float)
    return jepa - ntp


def gain_vs_params_figure(part: Mapping[str, Any], title: str) -> go.Figure:
    """Final-epoch gain of LLM-JEPA over NTP (mean ± std of the paired differences) against the
    model's parameter count, log-scaled; p-values in the hover."""
    points = sorted(entries(part).items(), key=lambda kv: kv[1]["params"])
    diffs = [paired_differences(e) for _, e in points]
    fig = go.Figure(
        go.Scatter(
            x=[e["params"] for _, e in points],
            y=[float(d.mean()) for d in diffs],
            error_y={
                "type": "data",
                "array": [float(d.std(ddof=1)) if len(d) > 1 else 0.0 for d in diffs],
                "visible": True,
            },
            mode="lines+markers+text",
            text=[name for name, _ in points],
            textposition="top center",
            line={"color": ARM_COLORS["jepa"]},
            customdata=[[e["p_value"], e["n_seeds"]] for _, e in points],
            hovertemplate=(
                "%{x:.3s} parameters<br>JEPA - NTP %{y:+.3f}<br>p = %{customdata[0]:.3g}"
                " (%{customdata[1]} seeds)<extra></extra>"
            ),
            name="JEPA - NTP",
        )
    )
    fig.add_hline(y=0, line={"color": "grey", "dash": "dot"})
    fig.update_layout(
        title=title,
        xaxis={"title": "parameters", "type": "log"},
        yaxis_title="held-out accuracy gain (paired, mean ± std)",
        autosize=True,
        height=420,
    )
    return fig


def collapse_vs_params_figure(part: Mapping[str, Any], title: str) -> go.Figure:
    """Per size, both arms: effective rank of Pred(Enc(Text)), and the cosine gap between
    matched and random (Pred, Code) pairs. Collapse is rank ~1 and gap ~0."""
    points = sorted(entries(part).items(), key=lambda kv: kv[1]["params"])
    params = [e["params"] for _, e in points]
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=("effective rank of Pred(Enc(Text))", "matched - random cos")
    )
    for arm, label in (("ntp", "NTP baseline"), ("jepa", "LLM-JEPA")):
        rank = [e.get(f"{arm}_eff_rank_pred") for _, e in points]
        gap = [
            None
            if e.get(f"{arm}_paired_cos") is None
            else e[f"{arm}_paired_cos"] - e[f"{arm}_random_cos"]
            for _, e in points
        ]
        style = {"color": ARM_COLORS[arm]}
        fig.add_trace(
            go.Scatter(x=params, y=rank, name=label, line=style, legendgroup=arm), row=1, col=1
        )
        fig.add_trace(
            go.Scatter(x=params, y=gap, name=label, line=style, legendgroup=arm, showlegend=False),
            row=1,
            col=2,
        )
    fig.update_xaxes(type="log", title_text="parameters")
    fig.update_layout(title=title, autosize=True, height=420)
    return fig


GAIN_STEP = 0.05  # a heatmap's colour scale ends at a multiple of this, above its largest gain


def _grid_cells(points: Mapping[str, Any]) -> dict[tuple[float, int], str]:
    """(lam, k) -> point name, for the points named ``lam<lam>-k<k>``."""
    return {
        (float(name[3:].split("-k")[0]), int(name.split("-k")[1])): name
        for name in points
        if name.startswith("lam") and "-k" in name
    }


def gain_scale(*parts: Mapping[str, Any]) -> float:
    """One colour limit for several grid heatmaps: the largest |JEPA - NTP| of their lam x k
    cells, rounded up to the next multiple of ``GAIN_STEP``. Shared, so that a small gain in a
    one-cell heatmap looks small next to the grid; rounded up, so that no cell fills it."""
    gains = [
        abs(entries(part)[name]["diff_mean"])
        for part in parts
        for name in _grid_cells(entries(part)).values()
    ]
    top = max(gains, default=0.0)
    return (math.floor(top / GAIN_STEP) + 1) * GAIN_STEP


def grid_heatmap_figure(
    part: Mapping[str, Any], title: str, zmax: float | None = None
) -> go.Figure:
    """The lam x k grid as a heatmap of the paired gain JEPA - NTP (mean over seeds), each cell
    annotated with the gain and its p (Holm's adjustment over the whole table in the hover).

    The colour scale is centred at 0 and runs to ``zmax`` (default: :func:`gain_scale` of this
    part); pass one ``gain_scale(...)`` of all the heatmaps shown side by side so they compare."""
    points = entries(part)
    holm = holm_by_point(part)
    cells = _grid_cells(points)
    if zmax is not None and not zmax > 0:
        raise ValueError(f"grid_heatmap_figure: zmax must be a positive gain, got {zmax!r}")
    limit = gain_scale(part) if zmax is None else float(zmax)
    lams = sorted({lam for lam, _ in cells})
    ks = sorted({k for _, k in cells})

    def grid(value) -> list[list[Any]]:
        return [[value(cells[(lam, k)]) if (lam, k) in cells else None for k in ks] for lam in lams]

    gain = grid(lambda n: points[n]["diff_mean"])
    fig = go.Figure(
        go.Heatmap(
            z=gain,
            x=[f"k={k}" for k in ks],
            y=[f"lam={lam:g}" for lam in lams],
            colorscale="RdBu",
            zmid=0,
            zmin=-limit,
            zmax=limit,
            text=grid(
                lambda n: f"{points[n]['diff_mean']:+.3f}<br>p={format_p(points[n]['p_value'])}"
            ),
            texttemplate="%{text}",
            customdata=grid(lambda n: [points[n]["n_seeds"], format_p(holm[n])]),
            hovertemplate=(
                "%{y}, %{x}<br>JEPA - NTP %{z:+.3f}<br>%{customdata[0]} seeds, Holm p = "
                "%{customdata[1]}<extra></extra>"
            ),
            colorbar={"title": "JEPA - NTP"},
        )
    )
    fig.update_layout(title=title, autosize=True, height=420)
    return fig


def holm_adjusted(p_values: list[float | None]) -> list[float]:
    """Holm's step-down adjustment of one family of p-values (NaN / None stay NaN).

    The i-th smallest of m tested p-values becomes max over j <= i of min(1, (m - j + 1) p_(j)),
    so "adjusted p < alpha" controls the chance of any false "JEPA helps" in the family at alpha.
    A table of many points tested at once (the grid's 20 lam x k pairs) needs it: at p < 0.05
    one point in twenty passes by chance alone.
    """
    values = [math.nan if p is None else float(p) for p in p_values]
    tested = sorted((p, i) for i, p in enumerate(values) if not math.isnan(p))
    adjusted = [math.nan] * len(values)
    running = 0.0
    for rank, (p, i) in enumerate(tested):
        running = max(running, min(1.0, (len(tested) - rank) * p))
        adjusted[i] = running
    return adjusted


def holm_by_point(part: Mapping[str, Any]) -> dict[str, float]:
    """Each point's Holm-adjusted p, the part's points taken as one family."""
    points = entries(part)
    return dict(
        zip(points, holm_adjusted([e.get("p_value") for e in points.values()]), strict=True)
    )


def markdown_table(part: Mapping[str, Any], names: Sequence[str] | None = None) -> str:
    """One row per point: sizes, both arms' final and peak accuracy, gain, p (raw, and Holm's
    adjustment over the part's points as one family), held-out loss rise, collapse.

    ``names`` keeps only those points (in that order); Holm's p stays the whole part's."""
    holm = holm_by_point(part)
    points = entries(part)
    if names is not None:
        missing = [n for n in names if n not in points]
        if missing:
            raise KeyError(f"markdown_table: no point {missing} (the part has {list(points)})")
        points = {n: points[n] for n in names}
    rows = [
        "| point | params | seeds | NTP final | JEPA final | JEPA - NTP | p (Holm) "
        "| NTP peak / drop | JEPA peak / drop | held-out loss rise NTP / JEPA (p) "
        "| matched / random cos | eff. rank Pred |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, e in points.items():
        p_holm = holm[name]
        p = format_p(e["p_value"]) + ("" if math.isnan(p_holm) else f" ({format_p(p_holm)})")
        rows.append(
            f"| {name} | {e['params'] / 1e6:.2f}M | {e['n_seeds']} "
            f"| {e['ntp_mean']:.3f} ± {e['ntp_std']:.3f} "
            f"| {e['jepa_mean']:.3f} ± {e['jepa_std']:.3f} "
            f"| {e['jepa_mean'] - e['ntp_mean']:+.3f} | {p} "
            f"| {e['ntp_peak_mean']:.3f} / {e['ntp_drop_mean']:.3f} "
            f"| {e['jepa_peak_mean']:.3f} / {e['jepa_drop_mean']:.3f} "
            f"| {_loss_rise(e)} "
            f"| {_num(e.get('paired_cos'))} / {_num(e.get('random_cos'))} "
            f"| {_num(e.get('eff_rank_pred'), 1)} |"
        )
    return "\n".join(rows)


def cost_table(study: Mapping[str, Any]) -> str:
    """What each point cost: mean seconds per arm (CPU on a CPU, wall on a GPU, where CPU
    seconds only count the host), the JEPA arm's tokens relative to NTP's, and the device."""
    rows = [
        "| part | point | device | NTP s / arm | JEPA s / arm | JEPA / NTP tokens |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for part, points in study.items():
        for name, e in entries(points).items():
            device = e.get("device", "cpu")
            kind = "cpu_seconds_per_arm" if device == "cpu" else "wall_seconds_per_arm"
            seconds = e.get(kind) or {}
            unit = "CPU" if device == "cpu" else "wall"
            ntp, jepa = seconds.get("ntp"), seconds.get("jepa")
            rows.append(
                f"| {part} | {name} | {device} "
                f"| {'n/a' if ntp is None else f'{ntp:.0f} {unit}'} "
                f"| {'n/a' if jepa is None else f'{jepa:.0f} {unit}'} "
                f"| {_num(e.get('tokens_ratio'), 2)} |"
            )
    return "\n".join(rows)


def _loss_rise(e: Mapping[str, Any]) -> str:
    if e.get("ntp_loss_rise_mean") is None:
        return "n/a"
    rise = f"{e['ntp_loss_rise_mean']:.3f} / {e['jepa_loss_rise_mean']:.3f}"
    return f"{rise} ({format_p(e['loss_rise_p_value'])})"


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def significant_points(
    study: Mapping[str, Any], alpha: float = 0.05, min_seeds: int = 5, holm: bool = False
):
    """(part, point) pairs where JEPA beats NTP: one-sided paired p < alpha over >= min_seeds.

    ``holm=True`` uses Holm's adjusted p instead, each part taken as one family (the points
    with >= min_seeds), so a part that tests many points does not pass some by chance."""
    found = []
    for part, points in study.items():
        eligible = {n: e for n, e in entries(points).items() if e["n_seeds"] >= min_seeds}
        raw = [e.get("p_value") for e in eligible.values()]
        for name, p in zip(eligible, holm_adjusted(raw) if holm else raw, strict=True):
            if p is not None and not math.isnan(p) and p < alpha:
                found.append((part, name))
    return found


def accuracies(record: dict[str, Any]) -> list[float]:
    return [float(r.get("eval_accuracy") or 0.0) for r in record["history"]]


def held_out_losses(record: dict[str, Any]) -> list[float] | None:
    """The held-out NTP loss after every epoch (None where a record lacks it)."""
    losses = [r.get("eval_ntp_loss") for r in record["history"]]
    return None if any(v is None for v in losses) else [float(v) for v in losses]


def loss_overfitting(ntp: list[dict], jepa: list[dict], seeds: list[int]) -> dict[str, Any]:
    """Claim II measured on the held-out NTP loss rather than on accuracy: each arm's rise from
    its best epoch to the last (overfitting shows as a rise), and a one-sided paired t-test that
    the JEPA arm rises less. Empty when the records carry no held-out loss."""
    curves = {
        arm: [held_out_losses(r) for r in recs] for arm, recs in (("ntp", ntp), ("jepa", jepa))
    }
    if any(c is None for arm_curves in curves.values() for c in arm_curves):
        return {}
    out: dict[str, Any] = {}
    rises = {}
    for arm, arm_curves in curves.items():
        rises[arm] = [c[-1] - min(c) for c in arm_curves]
        out[f"{arm}_loss_per_epoch"] = arm_curves
        out[f"{arm}_loss_rise_mean"] = float(np.mean(rises[arm]))
        out[f"{arm}_loss_best_epoch_mean"] = float(np.mean([np.argmin(c) + 1 for c in arm_curves]))
    # "JEPA > NTP" on the negated rise is "JEPA rises less"
    less = paired_comparison([-r for r in rises["ntp"]], [-r for r in rises["jepa"]], seeds, "rise")
    out["loss_rise_p_value"] = less.p_value
    return out


def summarize_point(ntp: list[dict], jepa: list[dict], seeds: list[int]) -> dict[str, Any]:
    """One point of the study from its runs' records (``{"history", "params", "cpu_seconds"}``
    per seed and arm): the final-epoch paired comparison, peak / final / drop per seed, the
    compute ratio and the collapse diagnostics after training."""
    ntp_curves = [accuracies(r) for r in ntp]
    jepa_curves = [accuracies(r) for r in jepa]
    final = paired_comparison(
        [c[-1] for c in ntp_curves], [c[-1] for c in jepa_curves], seeds, "eval_accuracy"
    )
    peak = paired_comparison(
        [max(c) for c in ntp_curves], [max(c) for c in jepa_curves], seeds, "eval_accuracy"
    )
    entry: dict[str, Any] = {
        "params": ntp[0]["params"],
        "n_seeds": len(seeds),
        "seeds": seeds,
        "ntp_mean": final.ntp.mean,
        "jepa_mean": final.jepa.mean,
        "ntp_std": final.ntp.std,
        "jepa_std": final.jepa.std,
        "diff_mean": final.diff_mean,
        "p_value": final.p_value,
        "peak_p_value": peak.p_value,
        "peak_diff_mean": peak.diff_mean,
        "ntp_per_epoch": ntp_curves,
        "jepa_per_epoch": jepa_curves,
        "tokens_ratio": float(
            np.mean([j["history"][-1]["tokens_seen"] for j in jepa])
            / np.mean([n["history"][-1]["tokens_seen"] for n in ntp])
        ),
        "cpu_seconds_per_arm": {
            "ntp": float(np.mean([r["cpu_seconds"] for r in ntp])),
            "jepa": float(np.mean([r["cpu_seconds"] for r in jepa])),
        },
        # on a GPU the wall time is the cost (CPU seconds only count the host's work)
        "wall_seconds_per_arm": {
            arm: float(np.mean([r.get("wall_seconds", np.nan) for r in records]))
            for arm, records in (("ntp", ntp), ("jepa", jepa))
        },
        "device": jepa[0].get("device", "cpu"),
    }
    for arm, curves in (("ntp", ntp_curves), ("jepa", jepa_curves)):
        entry[f"{arm}_per_seed"] = [
            {
                "seed": s,
                "peak": max(c),
                "peak_epoch": int(np.argmax(c)) + 1,
                "final": c[-1],
                "drop": max(c) - c[-1],
            }
            for s, c in zip(seeds, curves, strict=True)
        ]
        entry[f"{arm}_peak_mean"] = float(np.mean([max(c) for c in curves]))
        entry[f"{arm}_drop_mean"] = float(np.mean([max(c) - c[-1] for c in curves]))
    entry.update(loss_overfitting(ntp, jepa, seeds))
    for key in DIAGNOSTICS:
        for arm, records in (("ntp", ntp), ("jepa", jepa)):
            values = [r["history"][-1].get(key) for r in records]
            values = [float(v) for v in values if v is not None]
            entry[f"{arm}_{key}"] = float(np.mean(values)) if values else None
        # the unprefixed name is the JEPA arm's, the arm whose collapse the tables report
        entry[key] = entry[f"jepa_{key}"]
    return entry
