"""The comparison report and the demo's closing words: the collapse verdict against the rule of
geometry.collapse_report, the data and seeds it names, its curves and axes, and its file mode."""

import html
import json
import os
import re
import stat

import numpy as np
import pytest

from jepa_lab.data import FILES
from jepa_lab.experiments.experiment import paired_comparison
from jepa_lab.experiments.report import (
    collapse_sentence,
    data_description,
    report_figures,
    result_lines,
    write_report,
)
from jepa_lab.geometry import (
    collapse_report,
    effective_rank,
    paired_cosine,
    random_pair_cosine,
)
from jepa_lab.geometry.plot_style import save_html
from jepa_lab.training.presets import DEMO_SIZES, preset


def records(arm, seed, paired, random, rank, stop=(0.5, 1.0)):
    """Two epochs of one run's history with the given last-epoch diagnostics."""
    out = []
    for epoch, stop_rate in enumerate(stop, start=1):
        out.append(
            {
                "arm": arm,
                "seed": seed,
                "epoch": float(epoch),
                "eval_accuracy": 0.1 * epoch + 0.01 * seed,
                "eval_stop_rate": stop_rate,
                "ntp_loss": 2.0 / epoch,
                "jepa_loss": 0.01 if arm == "jepa" else None,
                "paired_cos": paired,
                "random_cos": random,
                "eff_rank_pred": rank,
            }
        )
    return out


COLLAPSED = dict(paired=0.995, random=0.993, rank=1.8)  # one direction, unpaired
HEALTHY = dict(paired=0.80, random=0.30, rank=12.0)


def history(jepa=COLLAPSED, ntp=HEALTHY, seeds=(0, 1)):
    return [
        r for s in seeds for arm, d in (("ntp", ntp), ("jepa", jepa)) for r in records(arm, s, **d)
    ]


def comparison_of(hist, seeds=(0, 1)):
    last = {(r["arm"], r["seed"]): r["eval_accuracy"] for r in hist}
    return paired_comparison(
        [last[("ntp", s)] for s in seeds],
        [last[("jepa", s)] for s in seeds],
        list(seeds),
        "eval_accuracy",
    )


@pytest.mark.parametrize(
    "case",
    [
        COLLAPSED,
        HEALTHY,
        dict(paired=0.97, random=0.96, rank=6.0),
        dict(paired=0.5, random=0.4, rank=1.5),
    ],
)
def test_collapse_verdict_follows_the_geometry_rule(case):
    """The sentence's verdict is collapse_report's rule applied to the Pred embeddings: checked
    against collapse_report's own verdict on embeddings built to have those statistics."""
    min_rank = 2.0  # collapse_report's defaults, read from its signature by report.py
    expected = case["rank"] < min_rank or (
        min(case["paired"], case["random"]) > 0.9 and case["paired"] - case["random"] < 0.02
    )
    sentence = collapse_sentence(records("jepa", 0, **case))
    assert ("collapsed in 1 of 1" in sentence) is expected
    assert ("did not collapse" in sentence) is (not expected)
    assert f"matched cosine {case['paired']:.3f} vs random {case['random']:.3f}" in sentence


def test_collapse_sentence_agrees_with_collapse_report_on_real_embeddings():
    rng = np.random.default_rng(0)
    direction = rng.normal(size=32)
    collapsed = direction + 0.01 * rng.normal(size=(50, 32))  # every row about one vector
    spread = rng.normal(size=(50, 32))
    for pred, code in (
        (collapsed, collapsed + 0.001 * rng.normal(size=(50, 32))),
        (spread, spread + 0.3 * rng.normal(size=(50, 32))),
    ):
        stats = dict(
            paired=paired_cosine(pred, code),
            random=random_pair_cosine(pred, code, seed=0),
            rank=effective_rank(pred),
        )
        verdict = collapse_report(pred, code).collapsed
        assert ("collapsed in 1 of 1" in collapse_sentence(records("jepa", 0, **stats))) is verdict


def test_the_demo_result_says_collapse_data_and_where_to_look(tmp_path):
    hist = history()
    config = preset("tiny", **DEMO_SIZES)
    lines = result_lines(comparison_of(hist), hist, config, tmp_path)
    text = "\n".join(lines)
    assert "The LLM-JEPA arm collapsed in 2 of 2 seed(s)" in text
    assert "NL-RX-SYNTH, generated offline" in text
    assert f"{DEMO_SIZES['train_size']:,} training pairs" in text
    assert f"{DEMO_SIZES['eval_size']:,} held-out pairs" in text
    assert "seeds 0, 1" in text and str(tmp_path / "report.html") in text
    assert "benchmarks/README.md" in text
    healthy = history(jepa=HEALTHY)
    assert "did not collapse" in "\n".join(
        result_lines(comparison_of(healthy), healthy, config, tmp_path)
    )


def test_data_description_names_a_local_copy_when_auto_finds_one(tmp_path, monkeypatch):
    monkeypatch.setenv("JEPA_LAB_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "cache"))
    config = preset("tiny", data_source="auto", train_size=10, eval_size=5)
    assert "generated offline" in data_description(config)
    rel = FILES["nlrx-jepa/train"].cache_path
    (tmp_path / rel).parent.mkdir(parents=True)
    (tmp_path / rel).write_text("")
    assert f"the local copy {tmp_path / rel}" in data_description(config)


def test_report_html_holds_the_sentences_seeds_data_and_curves(tmp_path):
    hist = history()
    config = preset("tiny", **DEMO_SIZES)
    path = write_report(tmp_path / "report.html", hist, comparison_of(hist), config)
    page = path.read_text()
    assert "The LLM-JEPA arm collapsed in 2 of 2 seed(s)" in page
    assert "NL-RX-SYNTH, generated offline" in page
    pre = re.search(r"<h2>Configuration</h2><pre>(.*?)</pre>", page, re.S).group(1)
    shown = json.loads(html.unescape(pre))
    assert shown["seeds"] == [0, 1] and "seed" not in shown  # not a lone "seed": 0
    assert "effective rank of Pred(Enc(Text))" in page
    figures = dict(report_figures(hist))
    assert "eff_rank_pred" in figures
    # the stop rate is a fraction: its axis is 0-1 even when the ±std band would reach past 1
    assert tuple(figures["eval_stop_rate"].layout.yaxis.range) == (0, 1)
    assert figures["eval_accuracy"].layout.yaxis.range is None  # others keep autorange


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_report_and_figure_files_get_the_umask_mode(tmp_path, umask):
    hist = history()
    old = os.umask(umask)
    try:
        report = write_report(tmp_path / "r.html", hist, comparison_of(hist), preset("tiny"))
        figure = save_html(report_figures(hist)[0][1], tmp_path / "f.html")
    finally:
        os.umask(old)
    for path in (report, figure):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask, path
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f.html", "r.html"]  # no temp left
