"""The figures' shared style (one colour per view and per arm, hover text) and atomic saving
to HTML / PNG: what every figure module uses."""

from __future__ import annotations

import html
import os
from pathlib import Path

import plotly.graph_objects as go

from jepa_lab import write_atomic

# One colour per view and per arm, shared by every figure.
VIEW_COLORS = {"text": "#1f77b4", "pred": "#2ca02c", "code": "#d62728"}
VIEW_LABELS = {"text": "Enc(Text)", "pred": "Pred(Enc(Text))", "code": "Enc(Code)"}
ARM_COLORS = {"ntp": "#7f7f7f", "jepa": "#9467bd"}
# The colours' names, for the words beside a figure ("blue = Enc(Text)"); tests check a
# notebook's colour key against VIEW_COLORS through this table.
COLOR_NAMES = {"#1f77b4": "blue", "#2ca02c": "green", "#d62728": "red", "#7f7f7f": "grey"}
COLOR_NAMES["#9467bd"] = "purple"
ARM_LABELS = {"ntp": "NTP baseline", "jepa": "LLM-JEPA"}
PAIR_LINK_COLOR = "rgba(120, 120, 120, 0.35)"
MASK_COLORS = ("#f7f7f7", "#08306b")  # blocked, allowed
SEGMENT_LINE_COLOR = "#e6550d"
_FALLBACK_COLORS = ("#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#1f77b4")
_HOVER_WIDTH = 60  # characters per hover line
_HOVER_MAX = 400  # characters kept per hover text (GSM8K solutions are long)


def arm_color(arm: str, i: int = 0) -> str:
    """Colour for an arm key ("ntp", "jepa") or label; other names cycle through a palette."""
    key = _arm_key(arm)
    return ARM_COLORS.get(key, _FALLBACK_COLORS[i % len(_FALLBACK_COLORS)])


def arm_label(arm: str) -> str:
    return ARM_LABELS.get(_arm_key(arm), str(arm))


def _arm_key(arm: str) -> str:
    lowered = str(arm).lower()
    for key, label in ARM_LABELS.items():
        if lowered in (key, label.lower()):
            return key
    return lowered


def hover_text(s: str) -> str:
    """Escape a string for plotly hover (regexes hold < > &) and wrap it into short lines."""
    s = s if len(s) <= _HOVER_MAX else s[: _HOVER_MAX - 1] + "…"
    lines = [s[i : i + _HOVER_WIDTH] for i in range(0, len(s), _HOVER_WIDTH)] or [""]
    return "<br>".join(html.escape(line) for line in lines)


# ----------------------------------------------------------------------------- saving


def save_html(fig: go.Figure, path: str | os.PathLike) -> Path:
    """Write a standalone HTML file with plotly.js inlined (opens offline), atomically."""
    return write_atomic(path, fig.to_html(include_plotlyjs=True, full_html=True).encode("utf-8"))


def save_png(fig: go.Figure, path: str | os.PathLike, scale: float = 2.0) -> Path:
    """Write a PNG via kaleido, atomically. Raises ImportError if kaleido is not installed.

    Plotly >= 6 renders through kaleido >= 1, which drives a local Google Chrome / Chromium.
    """
    try:
        import kaleido  # noqa: F401
    except ImportError as err:
        raise ImportError(
            "save_png needs the 'kaleido' package to render plotly figures to PNG: "
            'pip install "kaleido>=1" (it also needs Chrome; `plotly_get_chrome` installs one). '
            "save_html needs nothing extra."
        ) from err
    return write_atomic(path, fig.to_image(format="png", scale=scale))
