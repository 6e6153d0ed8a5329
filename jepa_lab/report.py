"""A standalone HTML report of a comparison: the table and the curves, readable offline."""

from __future__ import annotations

import html
import json
import os
import tempfile
from pathlib import Path
from typing import Any

CURVES = (
    ("eval_accuracy", "held-out accuracy"),
    ("eval_stop_rate", "generations that stop by themselves"),
    ("ntp_loss", "training NTP loss"),
    ("jepa_loss", "training JEPA loss (1 - cos for the default distance)"),
    ("paired_cos", "cos(Pred(Enc(Text)), Enc(Code)), matched pairs"),
    ("random_cos", "the same for random pairs: near the matched value means collapse"),
)


def write_report(
    path: str | os.PathLike, history: list[dict[str, Any]], comparison, config
) -> Path:
    """Write ``path`` (HTML with plotly.js inlined) and return it."""
    from .plots import curves_figure

    figures = []
    for metric, caption in CURVES:
        if any(r.get(metric) is not None for r in history):
            fig = curves_figure(history, metric, title=caption)
            figures.append(fig.to_html(full_html=False, include_plotlyjs=not figures))
    table = comparison.markdown().splitlines()
    rows = [line.strip("|").split("|") for line in table if not line.startswith("| ---")]
    table_html = (
        "<table>"
        + "".join(
            "<tr>"
            + "".join(
                f"<{'th' if i == 0 else 'td'}>{html.escape(c.strip())}</{'th' if i == 0 else 'td'}>"
                for c in row
            )
            + "</tr>"
            for i, row in enumerate(rows)
        )
        + "</table>"
    )
    body = (
        "<h1>jepa-lab: NTP baseline vs LLM-JEPA</h1>"
        f"<p>preset <b>{html.escape(config.preset)}</b>, "
        f"dataset <b>{html.escape(config.dataset)}</b>, seeds {comparison.seeds}. "
        "Same initial weights and data order per seed; the arms "
        "differ only in the JEPA term.</p>"
        + table_html
        + "".join(figures)
        + "<h2>Configuration</h2><pre>"
        + html.escape(json.dumps(config.to_dict(), indent=2))
        + "</pre>"
    )
    document = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>jepa-lab report</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}</style>"
        f"</head><body>{body}</body></html>"
    )
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(document)
    os.replace(tmp, path)
    return path
