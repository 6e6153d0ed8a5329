"""Plotly figures for LLM-JEPA: attention masks, training curves, embedding geometry, spectra.

Every figure takes plain arrays / dicts (no model needed), so notebooks can plot results loaded
from disk. Colours are fixed once here, so a view (Text, Pred, Code) or an arm (NTP baseline,
LLM-JEPA) has the same colour in every figure.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from jepa_lab.geometry.plot_style import (  # re-exported: plots is the figures' one import
    _FALLBACK_COLORS,
    ARM_COLORS,
    ARM_LABELS,
    MASK_COLORS,
    PAIR_LINK_COLOR,
    SEGMENT_LINE_COLOR,
    VIEW_COLORS,
    VIEW_LABELS,
    _arm_key,
    arm_color,
    arm_label,
    hover_text,
    save_html,
    save_png,
)

__all__ = [
    "ARM_COLORS",
    "ARM_LABELS",
    "MASK_COLORS",
    "PAIR_LINK_COLOR",
    "SEGMENT_LINE_COLOR",
    "VIEW_COLORS",
    "VIEW_LABELS",
    "arm_color",
    "arm_label",
    "curve_stats",
    "curves_figure",
    "geometry_figure",
    "hover_text",
    "loss_dropout_figure",
    "mask_figure",
    "save_html",
    "save_png",
    "spectrum_figure",
]


# ----------------------------------------------------------------------------- attention mask


def mask_figure(
    mask: Any,
    token_labels: Sequence[str],
    segment_ids: Any,
    segment_names: Mapping[int, str] | None = None,
    title: str = "Attention mask of a packed row (row = query, column = key)",
    hover_limit: int = 256,
) -> go.Figure:
    """Heatmap of a boolean attention mask [T, T]: z[q, k] = 1 if query q may attend to key k.

    token_labels: T token strings (tick labels and hover); segment_ids: T ints, one per token;
    boundaries between consecutive segments are drawn as lines on both axes.
    hover_limit: up to this T, every cell's hover names both tokens and their segments; above
    it, hover shows positions only (T^2 strings would make the HTML huge).
    """
    m = np.asarray(mask.detach().cpu() if hasattr(mask, "detach") else mask)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"mask: expected a square [T, T] array, got shape {m.shape}")
    t = m.shape[0]
    seg = np.asarray(segment_ids.detach().cpu() if hasattr(segment_ids, "detach") else segment_ids)
    if seg.shape != (t,):
        raise ValueError(f"segment_ids: expected shape ({t},) to match mask, got {seg.shape}")
    if len(token_labels) != t:
        raise ValueError(
            f"token_labels: expected {t} labels to match mask, got {len(token_labels)}"
        )
    z = m.astype(bool).astype(np.int8)  # [T, T]
    names = {int(s): (segment_names or {}).get(int(s), f"segment {int(s)}") for s in np.unique(seg)}
    # Show whitespace tokens visibly; keep everything else verbatim (regex backslashes too).
    tok = [html.escape(str(lab).replace("\n", "\\n").replace("\t", "\\t")) for lab in token_labels]
    where = [f"{i}: '{tok[i]}' ({html.escape(names[int(seg[i])])})" for i in range(t)]
    if t <= hover_limit:
        hover = [
            [
                f"query {where[q]}<br>key {where[k]}<br>{'allowed' if z[q, k] else 'blocked'}"
                for k in range(t)
            ]
            for q in range(t)
        ]
        template = "%{text}<extra></extra>"
    else:  # T^2 hover strings would make the page huge: show positions only
        hover, template = None, "query %{y}<br>key %{x}<br>allowed %{z}<extra></extra>"
    fig = go.Figure(
        go.Heatmap(
            z=z,
            x=list(range(t)),
            y=list(range(t)),
            text=hover,
            hovertemplate=template,
            zmin=0,
            zmax=1,
            colorscale=[
                [0.0, MASK_COLORS[0]],
                [0.5, MASK_COLORS[0]],
                [0.5, MASK_COLORS[1]],
                [1.0, MASK_COLORS[1]],
            ],
            colorbar={"tickvals": [0.25, 0.75], "ticktext": ["blocked", "allowed"], "len": 0.4},
            xgap=0.5,
            ygap=0.5,
            name="mask",
        )
    )
    boundaries = [i for i in range(1, t) if seg[i] != seg[i - 1]]
    for b in boundaries:
        line = {"color": SEGMENT_LINE_COLOR, "width": 1.5}
        fig.add_shape(type="line", x0=b - 0.5, x1=b - 0.5, y0=-0.5, y1=t - 0.5, line=line)
        fig.add_shape(type="line", x0=-0.5, x1=t - 0.5, y0=b - 0.5, y1=b - 0.5, line=line)
    ticks = {
        "tickmode": "array",
        "tickvals": list(range(t)),
        "ticktext": [str(lab) for lab in token_labels],
        "tickfont": {"size": 8},
    }
    side = max(400, min(1000, 14 * t + 150))
    fig.update_layout(
        title=title,
        height=side,  # width: the page's (a fixed one was clipped in a laptop's JupyterLab)
        xaxis={"title": "key position (attended to)", "side": "top", **ticks},
        yaxis={
            "title": "query position (attending)",
            "autorange": "reversed",
            "scaleanchor": "x",
            **ticks,
        },
    )
    return fig


# ----------------------------------------------------------------------------- training curves


def curve_stats(
    history: Sequence[Mapping[str, Any]], metric: str, x: str = "epoch"
) -> dict[str, dict[str, np.ndarray]]:
    """Per arm: sorted x values, mean and sample std (ddof=1; 0 for one seed) of `metric` over
    seeds, and the number of seeds n at each x. Records lacking the metric or x are skipped."""
    groups: dict[str, dict[float, list[float]]] = {}
    for i, rec in enumerate(history):
        if not isinstance(rec, Mapping):
            raise TypeError(f"history[{i}]: expected a dict, got {type(rec).__name__}")
        if "arm" not in rec:
            raise ValueError(f"history[{i}]: missing key 'arm' (expected 'ntp' or 'jepa')")
        if rec.get(metric) is None or rec.get(x) is None:
            continue
        groups.setdefault(str(rec["arm"]), {}).setdefault(float(rec[x]), []).append(
            float(rec[metric])
        )
    stats = {}
    for arm, by_x in groups.items():
        xs = np.array(sorted(by_x))
        vals = [np.asarray(by_x[v]) for v in xs]
        stats[arm] = {
            "x": xs,
            "mean": np.array([v.mean() for v in vals]),
            "std": np.array([v.std(ddof=1) if len(v) > 1 else 0.0 for v in vals]),
            "n": np.array([len(v) for v in vals]),
        }
    return stats


def curves_figure(
    history: Sequence[Mapping[str, Any]],
    metric: str | Sequence[str] = "eval_accuracy",
    x: str = "epoch",
    title: str | None = None,
) -> go.Figure:
    """Mean curve with a ±1 std band (over seeds) per arm, one panel per metric.

    history: records {"arm": "ntp"|"jepa", "seed": int, "epoch": ..., metric: value, ...};
    missing metrics are allowed (those records are skipped for that panel). Arms are ordered
    NTP baseline first, then LLM-JEPA, then anything else.
    """
    metrics = [metric] if isinstance(metric, str) else list(metric)
    if not metrics:
        raise ValueError("curves_figure: no metric given")
    fig = make_subplots(rows=1, cols=len(metrics), subplot_titles=metrics)
    legend_done: set[str] = set()
    for col, name in enumerate(metrics, start=1):
        stats = curve_stats(history, name, x)
        if not stats:
            keys = sorted({k for rec in history for k in rec})
            raise ValueError(
                f"curves_figure: no record has both {x!r} and {name!r}; keys present: {keys}"
            )
        order = sorted(
            stats,
            key=lambda a: (
                list(ARM_LABELS).index(_arm_key(a)) if _arm_key(a) in ARM_LABELS else 99,
                a,
            ),
        )
        for i, arm in enumerate(order):
            s, color, label = stats[arm], arm_color(arm, i), arm_label(arm)
            upper, lower = s["mean"] + s["std"], s["mean"] - s["std"]
            fig.add_trace(
                go.Scatter(
                    x=np.concatenate([s["x"], s["x"][::-1]]),
                    y=np.concatenate([upper, lower[::-1]]),
                    fill="toself",
                    fillcolor=color,
                    opacity=0.2,
                    line={"width": 0},
                    hoverinfo="skip",
                    legendgroup=arm,
                    showlegend=False,
                    name=f"{label} ±1 std",
                ),
                row=1,
                col=col,
            )
            fig.add_trace(
                go.Scatter(
                    x=s["x"],
                    y=s["mean"],
                    mode="lines+markers",
                    line={"color": color, "width": 2},
                    name=label,
                    legendgroup=arm,
                    showlegend=arm not in legend_done,
                    customdata=np.stack([s["std"], s["n"]], axis=1),
                    hovertemplate=(
                        f"{label}<br>{x} %{{x}}<br>{name} %{{y:.4g}} ± %{{customdata[0]:.3g}}"
                        "<br>seeds %{customdata[1]}<extra></extra>"
                    ),
                ),
                row=1,
                col=col,
            )
            legend_done.add(arm)
        fig.update_xaxes(title_text=x, row=1, col=col)
        fig.update_yaxes(title_text=name, row=1, col=col)
    fig.update_layout(
        title=title or f"{', '.join(metrics)} by {x} (mean ± 1 std over seeds)",
        hovermode="closest",
        height=450,  # width: the page's (a fixed 1,350 px clipped the legend on a laptop)
    )
    return fig


# ----------------------------------------------------------------------------- geometry


def geometry_figure(
    before: Mapping[str, Any],
    after: Mapping[str, Any] | None = None,
    texts: Mapping[str, Sequence[str]] | None = None,
    link_pairs: bool | Sequence[tuple[str, str]] = True,
    titles: tuple[str, str] = ("before", "after"),
    title: str = "Embeddings in 2-D (jointly projected)",
) -> go.Figure:
    """Scatter of 2-D projected views, before and after training side by side on shared axes.

    before / after: view -> [N, 2] coordinates ("text", "pred", "code"; other names allowed),
    e.g. from geometry.project on the union of both models' embeddings.
    texts: view -> N strings shown on hover (the text for Text/Pred, the code for Code).
    link_pairs: True draws a thin segment between text[i] and code[i] (one legend entry per
    panel, click it to hide); or a list of (view_a, view_b) pairs to link.
    """
    panels = [(titles[0], before)] + ([(titles[1], after)] if after is not None else [])
    fig = make_subplots(
        rows=1,
        cols=len(panels),
        subplot_titles=[p[0] for p in panels],
        shared_xaxes=True,
        shared_yaxes=True,
        horizontal_spacing=0.04,
    )
    if link_pairs is True:
        links = [("text", "code")]
    elif link_pairs is False or link_pairs is None:
        links = []
    else:
        links = [tuple(p) for p in link_pairs]
    for col, (panel, coords) in enumerate(panels, start=1):
        pts = {v: np.asarray(c, dtype=np.float64) for v, c in coords.items()}
        for v, c in pts.items():
            if c.ndim != 2 or c.shape[1] != 2:
                raise ValueError(f"{panel}[{v!r}]: expected [N, 2] coordinates, got {c.shape}")
        for a, b in links:
            if a not in pts or b not in pts:
                continue
            if len(pts[a]) != len(pts[b]):
                raise ValueError(
                    f"{panel}: cannot link {a!r} ({len(pts[a])} points) to "
                    f"{b!r} ({len(pts[b])} points); pairs need equal counts"
                )
            xs = np.full(3 * len(pts[a]), np.nan)  # a0 b0 gap a1 b1 gap ... (NaN breaks lines)
            ys = xs.copy()
            xs[0::3], xs[1::3] = pts[a][:, 0], pts[b][:, 0]
            ys[0::3], ys[1::3] = pts[a][:, 1], pts[b][:, 1]
            group = f"link:{a}-{b}"
            fig.add_trace(
                go.Scatter(
                    x=xs,
                    y=ys,
                    mode="lines",
                    line={"color": PAIR_LINK_COLOR, "width": 0.7},
                    name=f"matched pairs {VIEW_LABELS.get(a, a)}–{VIEW_LABELS.get(b, b)}",
                    legendgroup=group,
                    showlegend=col == 1,
                    hoverinfo="skip",
                    connectgaps=False,
                ),
                row=1,
                col=col,
            )
        for i, (v, c) in enumerate(pts.items()):
            strings = list((texts or {}).get(v, []))
            if strings and len(strings) != len(c):
                raise ValueError(f"texts[{v!r}]: {len(strings)} strings for {len(c)} points")
            hover = (
                [hover_text(s) for s in strings] if strings else [f"#{j}" for j in range(len(c))]
            )
            label = VIEW_LABELS.get(v, v)
            fig.add_trace(
                go.Scatter(
                    x=c[:, 0],
                    y=c[:, 1],
                    mode="markers",
                    name=label,
                    legendgroup=v,
                    showlegend=col == 1,
                    hovertext=hover,
                    marker={
                        "color": VIEW_COLORS.get(v, _FALLBACK_COLORS[i % len(_FALLBACK_COLORS)]),
                        "size": 5,
                        "opacity": 0.75,
                    },
                    hovertemplate=f"<b>{label}</b> ({panel})<br>%{{hovertext}}<extra></extra>",
                ),
                row=1,
                col=col,
            )
        fig.update_xaxes(title_text="dim 1", row=1, col=col)
    fig.update_xaxes(matches="x")  # make_subplots shares x only within a column
    fig.update_yaxes(matches="y")
    fig.update_yaxes(title_text="dim 2", row=1, col=1)
    fig.update_layout(
        title=title,
        height=520,
        legend={"itemsizing": "constant"},  # width: the page's
    )
    return fig


def spectrum_figure(
    spectra: Mapping[str, Any], title: str = "Singular values of Enc(Text) − Enc(Code)"
) -> go.Figure:
    """Singular values (descending) on a log y-axis, one trace per model / arm.

    spectra: name -> 1-D array, e.g. {"ntp": svd_spectrum(...), "jepa": ...}. A JEPA-trained
    model should sit lower and fall off faster (Text maps to Code within a narrow subspace).
    """
    fig = go.Figure()
    for i, (name, values) in enumerate(spectra.items()):
        s = np.asarray(values, dtype=np.float64)
        if s.ndim != 1 or s.size == 0:
            raise ValueError(f"spectra[{name!r}]: expected a non-empty 1-D array, got {s.shape}")
        fig.add_trace(
            go.Scatter(
                x=np.arange(1, s.size + 1),
                y=s,
                mode="lines+markers",
                name=arm_label(name),
                line={"color": arm_color(name, i)},
                marker={"size": 4},
                hovertemplate=f"{arm_label(name)}<br>index %{{x}}<br>σ = %{{y:.4g}}<extra></extra>",
            )
        )
    fig.update_layout(
        title=title,
        xaxis_title="singular value index (largest first)",
        yaxis_title="singular value (log scale)",
        yaxis_type="log",
        width=700,
        height=450,
    )
    return fig


def loss_dropout_figure(
    points: Sequence[Mapping[str, Any]], title: str = "Loss dropout: accuracy vs. compute"
) -> go.Figure:
    """Accuracy (mean ± std over seeds) against relative training compute, one point per
    loss-dropout rate LD. points: [{"loss_dropout", "compute", "accuracy_mean", "accuracy_std"}].
    """
    need = ("loss_dropout", "compute", "accuracy_mean", "accuracy_std")
    for i, p in enumerate(points):
        missing = [k for k in need if k not in p]
        if missing:
            raise ValueError(f"points[{i}]: missing keys {missing} (expected {list(need)})")
    if not points:
        raise ValueError("loss_dropout_figure: points is empty")
    pts = sorted(points, key=lambda p: float(p["compute"]))
    ld = [float(p["loss_dropout"]) for p in pts]
    fig = go.Figure(
        go.Scatter(
            x=[float(p["compute"]) for p in pts],
            y=[float(p["accuracy_mean"]) for p in pts],
            error_y={
                "type": "data",
                "array": [float(p["accuracy_std"]) for p in pts],
                "visible": True,
            },
            mode="lines+markers+text",
            text=[f"LD={v:g}" for v in ld],
            textposition="top center",
            line={"color": ARM_COLORS["jepa"]},
            name=ARM_LABELS["jepa"],
            customdata=np.array(ld)[:, None],
            hovertemplate=(
                "LD = %{customdata[0]:g}<br>compute ×%{x:.3g}<br>accuracy %{y:.4g}<extra></extra>"
            ),
        )
    )
    fig.update_layout(
        title=title,
        xaxis_title="relative training compute (NTP baseline = 1)",
        yaxis_title="accuracy (mean ± std over seeds)",
        width=650,
        height=450,
    )
    return fig
