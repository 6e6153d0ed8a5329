"""The logic behind the notebook explorers (widgets.py), as plain functions and classes.

* :func:`mask_view` (:mod:`jepa_lab.teaching.mask_view`): one packed row of ``Packer.build_batch``
for one
  example, under a chosen ``k`` / Text view / padding side: its tokens, segments, position ids,
  attention mask and figure.
* :class:`HyperparameterRun` (:mod:`jepa_lab.experiments.runner`): both arms (NTP baseline,
LLM-JEPA)
  trained one after the other in a background thread, each epoch's record streamed to a
  callback, stoppable at a step boundary without losing what was trained.
* :func:`geometry_view`: several models' embeddings of the same pairs on one shared 2-D map,
  with their geometry summaries and collapse verdicts; :func:`curves_view`: the curves so far.

Nothing here needs ipywidgets; tests call these directly, and the widgets only wire them. This
module is the explorers' one import: it re-exports the mask view and the runner.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import plotly.graph_objects as go

from jepa_lab.experiments.runner import HyperparameterRun, Hyperparameters, explorer_config
from jepa_lab.geometry import plots
from jepa_lab.geometry.diagnostics import VIEWS, Embeddings, geometry_summary, project_models
from jepa_lab.teaching.mask_view import MaskView, default_tokenizer, mask_view, padded_example
from jepa_lab.training.evaluate import extract_embeddings

__all__ = [
    "CURVE_METRICS",
    "GeometryView",
    "HyperparameterRun",
    "Hyperparameters",
    "MaskView",
    "curves_view",
    "default_tokenizer",
    "embeddings_of",
    "explorer_config",
    "figure_bundle",
    "fit_to_width",
    "geometry_view",
    "mask_view",
    "padded_example",
]

CURVE_METRICS = ("eval_ntp_loss", "eval_jepa_loss", "eval_accuracy")


def fit_to_width(figure: go.Figure) -> go.Figure:
    """A copy of ``figure`` that takes the width of where it is drawn instead of a fixed one,
    so it is not clipped in a narrow window (the height stays as designed)."""
    fitted = go.Figure(figure)
    fitted.update_layout(width=None, autosize=True)
    return fitted


def figure_bundle(figure: go.Figure) -> dict[str, Any]:
    """The figure as a display output (a notebook output's JSON), data included.

    JupyterLab, Notebook 7 and VS Code draw ``application/vnd.plotly.v1+json``; Colab and
    other HTML front ends get ``text/html`` that loads plotly.js from its CDN.
    """
    # No config {"responsive": true}: with it, plotly sizes the plot to 100% of its container,
    # and inside a widget's output area that container can be 0 px tall: an empty figure.
    # JupyterLab's plotly renderer already refits the width whenever the output area resizes.
    spec = json.loads(figure.to_json())
    data = {
        "application/vnd.plotly.v1+json": spec,
        "text/html": figure.to_html(include_plotlyjs="cdn", full_html=False),
        "text/plain": f"<plotly figure: {figure.layout.title.text or 'untitled'}>",
    }
    return {"output_type": "display_data", "data": data, "metadata": {}}


def curves_view(
    history: Sequence[Mapping[str, Any]], metrics: Sequence[str] = CURVE_METRICS
) -> go.Figure:
    """plots.curves_figure over the metrics some record has (an empty figure before any)."""
    present = [m for m in metrics if any(r.get(m) is not None for r in history)]
    if not present:
        fig = go.Figure()
        fig.update_layout(title="Training curves appear here after each epoch", height=450)
        return fig
    return plots.curves_figure(history, present, title="NTP baseline vs LLM-JEPA, per epoch")


# ============================================================================ geometry


@dataclass
class GeometryView:
    """What the geometry explorer shows for one choice of models, views and points."""

    figure: go.Figure
    summary: dict[str, dict[str, Any]]  # model -> geometry_summary (incl. collapsed, message)
    coords: dict[str, dict[str, np.ndarray]]  # model -> view -> [n, 2]
    embeddings: dict[str, Embeddings]  # model -> the n pairs shown
    index: np.ndarray  # [n] which pairs (rows of the full embeddings) are shown

    def collapse_messages(self) -> dict[str, str]:
        return {name: s["collapse_message"] for name, s in self.summary.items()}


def embeddings_of(item: Any, pairs: Sequence[Any] | None = None, batch_size: int = 32):
    """Embeddings as given, or extracted from a JepaModel (with ``pairs``) / (JepaModel, pairs)."""
    if isinstance(item, Embeddings):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        item, pairs = item
    if pairs is None:
        raise ValueError(f"a {type(item).__name__} needs pairs to embed; pass pairs=")
    return extract_embeddings(item, pairs, batch_size=batch_size, progress=False)


def geometry_view(
    models: Mapping[str, Any],
    method: str = "pca",
    views: Sequence[str] = VIEWS,
    n_points: int | None = None,
    seed: int = 0,
    pairs: Sequence[Any] | None = None,
    batch_size: int = 32,
) -> GeometryView:
    """One or two models' embeddings of the same pairs, projected jointly to one 2-D map.

    models: name -> Embeddings, JepaModel (embedded on ``pairs``) or (JepaModel, pairs); the
    first is drawn left, the second right. n_points: show this many pairs, drawn at random
    (``seed``) but the same for every model; None shows all. The summary (geometry_summary,
    with its collapse verdict) is computed on the pairs shown, over all three views.
    """
    if not models:
        raise ValueError("geometry_view: no models given")
    if len(models) > 2:
        raise ValueError(
            f"geometry_view: shows one or two models side by side, got {len(models)} "
            f"({list(models)})"
        )
    views = list(views)
    unknown = [v for v in views if v not in VIEWS]
    if not views or unknown:
        raise ValueError(f"geometry_view: views={views}: expected a non-empty subset of {VIEWS}")
    full = {name: embeddings_of(m, pairs, batch_size) for name, m in models.items()}
    sizes = {name: len(e) for name, e in full.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"geometry_view: the models embedded different numbers of pairs {sizes}")
    n = next(iter(sizes.values()))
    if n_points is None or n_points >= n:
        index = np.arange(n)
    elif n_points < 2:
        raise ValueError(f"geometry_view: n_points={n_points}: expected at least 2")
    else:
        index = np.sort(np.random.default_rng(seed).choice(n, n_points, replace=False))
    shown = {name: e.subset(index) for name, e in full.items()}
    coords = project_models(shown, method=method, seed=seed, views=views)
    names = list(shown)
    first = shown[names[0]]
    figure = plots.geometry_figure(
        coords[names[0]],
        coords[names[1]] if len(names) > 1 else None,
        texts=first.hover(),
        titles=(names[0], names[1] if len(names) > 1 else ""),
        title=f"Embeddings of {len(index)} pairs ({method.upper()}, one shared projection)",
    )
    summary = {name: geometry_summary(e, seed=seed) for name, e in shown.items()}
    return GeometryView(figure, summary, coords, shown, index)
