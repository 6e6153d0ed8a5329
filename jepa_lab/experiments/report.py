"""A comparison in plain words and as a standalone HTML report (plotly.js inlined, offline).

:func:`result_lines` is what ``jepa-lab demo`` and ``compare`` print at the end: which data, the
verdict on accuracy, whether the LLM-JEPA arm's embeddings collapsed, where the report is.
:func:`write_report` writes the same sentences, the table and the curves to ``report.html``.
"""

from __future__ import annotations

import html
import inspect
import json
import math
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

CURVES = (
    ("eval_accuracy", "held-out accuracy"),
    ("eval_stop_rate", "generations that stop by themselves (fraction)"),
    ("ntp_loss", "training NTP loss"),
    ("jepa_loss", "training JEPA loss (1 - cos for the default distance)"),
    ("paired_cos", "cos(Pred(Enc(Text)), Enc(Code)), matched pairs"),
    ("random_cos", "the same for random pairs: near the matched value means collapse"),
    ("eff_rank_pred", "effective rank of Pred(Enc(Text)): near 1 means one direction (collapse)"),
)
FRACTION_CURVES = ("eval_stop_rate",)  # drawn on a 0-1 axis (a ±std band may not widen it)
METRIC_NAMES = {"eval_accuracy": "held-out accuracy"}
# What the recorded study found, checked on fresh seeds (benchmarks/test_findings.py keeps this
# sentence in step with the verdict generated from the study's JSON)
BENCHMARKS_POINTER = (
    "at CPU scale, checked on seeds no choice saw, LLM-JEPA gains a small amount (under 3 points "
    "of held-out accuracy) only when fine-tuning the pretrained tiny base on 250 pairs, and "
    "nothing from scratch: benchmarks/README.md in the jepa-lab repository"
)


def data_description(config) -> str:
    """Which data a config trains and evaluates on, in words: dataset, source, sizes."""
    from jepa_lab.training.tasks import TASKS

    task = TASKS.get(config.dataset)
    name = task.title if task else config.dataset
    source = config.data_source
    if source in ("auto", "local", "download") and task is not None:
        path = task.local_file("train") or task.local_file("test")
        source = f"the local copy {path}" if path else "generated offline"
    if source == "generated":
        source = "generated offline"
    if source == "generated offline":
        source += f" by jepa_lab.data ({_generator_knobs(config)})"
    elif source == "hub":
        source = "the Hugging Face hub"
    sizes = [
        f"{_count(config.train_size, 'all')} training pairs",
        f"{_count(config.eval_size, 'all')} held-out pairs",
    ]
    return f"{name}, {source}; " + ", ".join(sizes)


def metric_sentence(config) -> str | None:
    """What 'held-out accuracy' is for the config's task: its headline metric, by name."""
    from jepa_lab.training.tasks import TASKS

    task = TASKS.get(config.dataset)
    if task is None:
        return None
    return (
        f"held-out accuracy is {task.title}'s {task.headline.replace('_', ' ')} "
        f"(Text: {task.views[0]}; Code: {task.views[1]})."
    )


def _generator_knobs(config) -> str:
    from jepa_lab.training.tasks import TASKS

    task = TASKS.get(config.dataset)
    if task is not None and task.knobs:
        steps = config.gsm8k_steps or "difficulty-1"
        biggest = config.gsm8k_max_number or "difficulty-1"
        return f"word problems: {steps} step(s), numbers up to {biggest}"
    return "seed 0, the same pairs for every run"


def _count(n: int | None, none: str) -> str:
    return none if n is None else f"{n:,}"


def collapse_thresholds() -> tuple[float, float, float]:
    """geometry.collapse_report's own defaults: minimum effective rank, pairing margin, and
    the cosine above which matched-vs-random pairs are compared (one home for the rule)."""
    from jepa_lab.geometry.diagnostics import collapse_report

    defaults = inspect.signature(collapse_report).parameters
    return tuple(  # type: ignore[return-value]
        defaults[name].default for name in ("min_effective_rank", "pairing_margin", "high_cosine")
    )


def collapse_sentence(history: Sequence[dict[str, Any]], arm: str = "jepa") -> str | None:
    """Whether ``arm``'s held-out embeddings collapsed at the last epoch, per seed, in words.

    The rule is geometry.collapse_report's: Pred(Enc(Text)) using about one direction
    (effective rank below its minimum), or matched pairs no closer than random ones while both
    are near 1. ``None`` if the history holds no embedding diagnostics for the arm.
    """
    last = _last_records(history, arm)
    last = {s: r for s, r in last.items() if r.get("paired_cos") is not None}
    if not last:
        return None
    min_rank, margin, high = collapse_thresholds()
    collapsed = []
    for r in last.values():
        paired, random = r["paired_cos"], r.get("random_cos")
        one_direction = (r.get("eff_rank_pred") or math.inf) < min_rank
        unpaired = random is not None and min(paired, random) > high and paired - random < margin
        collapsed.append(one_direction or unpaired)
    label = "the LLM-JEPA arm" if arm == "jepa" else f"the {arm} arm"
    numbers = "; ".join(
        f"seed {s}: matched cosine {r['paired_cos']:.3f} vs random {_num(r.get('random_cos'))}, "
        f"effective rank {_num(r.get('eff_rank_pred'), 1)}"
        for s, r in sorted(last.items())
    )
    n, k = len(collapsed), sum(collapsed)
    if k:
        return (
            f"{label} collapsed in {k} of {n} seed(s): its Pred(Enc(Text)) embeddings use "
            f"about one direction or match random pairs as well as true ones, so its low JEPA "
            f"loss says nothing about Text predicting Code ({numbers}; collapse: effective "
            f"rank < {min_rank:g}, or both cosines > {high:g} within {margin:g})."
        )
    return (
        f"{label} did not collapse: matched pairs are closer than random ones and the "
        f"embeddings use several directions ({numbers})."
    )


def _num(value: float | None, digits: int = 3) -> str:
    return "n/a" if value is None else f"{value:.{digits}f}"


def _last_records(history: Sequence[dict[str, Any]], arm: str) -> dict[int, dict[str, Any]]:
    """The last finished epoch's record of ``arm`` per seed."""
    last: dict[int, dict[str, Any]] = {}
    for r in history:
        if r.get("arm") != arm or r.get("stopped"):
            continue
        seed = int(r.get("seed", 0))
        if seed not in last or float(r.get("epoch", 0)) >= float(last[seed].get("epoch", 0)):
            last[seed] = r
    return last


def verdict_sentence(comparison) -> str:
    """The accuracy comparison in words, with what the paired test allows one to say."""
    ntp, jepa = comparison.ntp, comparison.jepa
    n = len(comparison.seeds)
    metric = METRIC_NAMES.get(comparison.metric, comparison.metric)
    numbers = (
        f"{metric}: NTP baseline {ntp.mean:.3f} ± {ntp.std:.3f}, LLM-JEPA "
        f"{jepa.mean:.3f} ± {jepa.std:.3f} over {n} seed(s); paired difference "
        f"{comparison.diff_mean:+.3f} ± {comparison.diff_std:.3f}"
    )
    p = comparison.p_value
    if math.isnan(p):
        return numbers + " (no test: one seed, or the same difference for every seed)."
    numbers += f", one-sided p = {p:.3g}"
    if p < 0.05:
        return numbers + ": LLM-JEPA is ahead at these sizes."
    if p > 0.95:
        return numbers + ": the NTP baseline is ahead at these sizes."
    return numbers + f": no clear difference ({n} seeds cannot show a small one)."


def result_lines(comparison, history, config, out_dir: str | os.PathLike) -> list[str]:
    """The end of a comparison in plain words: data, verdict, collapse, report, pointer."""
    seeds = ", ".join(map(str, comparison.seeds))
    lines = [
        f"data: {data_description(config)}; preset {config.preset}, {config.epochs} epochs, "
        f"seeds {seeds}.",
        "result: " + verdict_sentence(comparison),
    ]
    metric = metric_sentence(config)
    if metric:
        lines.insert(1, "metric: " + metric)
    for flag in getattr(comparison, "flagged", []):  # its accuracy is in the table, but
        lines.append(f"flagged: {flag}")  # a run that learned nothing makes the verdict moot
    collapse = collapse_sentence(history)
    if collapse:
        lines.append("collapse: " + collapse[0].upper() + collapse[1:])
    lines.append(f"report: {Path(out_dir) / 'report.html'} (curves, table, configuration)")
    lines.append(BENCHMARKS_POINTER[0].upper() + BENCHMARKS_POINTER[1:] + ".")
    return lines


def report_figures(history: list[dict[str, Any]]) -> list[tuple[str, Any]]:
    """(metric, plotly figure) for every curve of CURVES the history holds."""
    from jepa_lab.geometry.plots import curves_figure

    figures = []
    for metric, caption in CURVES:
        if any(r.get(metric) is not None for r in history):
            fig = curves_figure(history, metric, title=caption)
            if metric in FRACTION_CURVES:
                fig.update_yaxes(range=[0, 1])
            figures.append((metric, fig))
    return figures


def _figure_html(history: list[dict[str, Any]]) -> list[str]:
    return [
        fig.to_html(full_html=False, include_plotlyjs=i == 0)
        for i, (_, fig) in enumerate(report_figures(history))
    ]


def _table_html(comparison) -> str:
    table = comparison.markdown().splitlines()
    rows = [line.strip("|").split("|") for line in table if not line.startswith("| ---")]
    cells = []
    for i, row in enumerate(rows):
        tag = "th" if i == 0 else "td"
        cells.append("<tr>" + "".join(f"<{tag}>{html.escape(c.strip())}</{tag}>" for c in row))
    return "<table>" + "</tr>".join(cells) + "</tr></table>"


def report_config(config, seeds: Sequence[int]) -> dict[str, Any]:
    """The configuration as the report shows it: the seeds of the comparison, not the
    ``seed`` field (each run sets its own)."""
    shown = config.to_dict()
    shown.pop("seed", None)
    return {"seeds": list(seeds), **shown}


def write_report(
    path: str | os.PathLike, history: list[dict[str, Any]], comparison, config
) -> Path:
    """Write ``path`` (HTML with plotly.js inlined; its mode is what the umask gives any new
    file, as for the figures) and return it."""
    from jepa_lab import write_atomic

    path = Path(path)
    sentences = result_lines(comparison, history, config, path.parent)[:-2]
    body = (
        "<h1>jepa-lab: NTP baseline vs LLM-JEPA</h1>"
        f"<p>preset <b>{html.escape(config.preset)}</b>, seeds {comparison.seeds}. "
        "Same initial weights and data order per seed; the arms differ only in the JEPA "
        "term.</p>"
        + "".join(f"<p>{html.escape(s)}</p>" for s in sentences)
        + _table_html(comparison)
        + "".join(_figure_html(history))
        + f"<p>{html.escape(BENCHMARKS_POINTER[0].upper() + BENCHMARKS_POINTER[1:])}.</p>"
        + "<h2>Configuration</h2><pre>"
        + html.escape(json.dumps(report_config(config, comparison.seeds), indent=2))
        + "</pre>"
    )
    document = (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>jepa-lab report</title>"
        "<style>body{font-family:sans-serif;max-width:1100px;margin:auto}"
        "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px}</style>"
        f"</head><body>{body}</body></html>"
    )
    write_atomic(path, document)
    return path
