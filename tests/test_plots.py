"""Figures hold the data they were given: traces, values, bands, axes, hover text, saved files."""

from __future__ import annotations

import json

import numpy as np
import plotly.io as pio
import pytest

from jepa_lab.geometry import plots


def _history():
    """3 seeds x 4 epochs for each arm, with a few records lacking the metric."""
    r = np.random.default_rng(0)
    recs = []
    for arm, base in (("ntp", 0.5), ("jepa", 0.6)):
        for seed in range(3):
            for epoch in range(1, 5):
                rec = {
                    "arm": arm,
                    "seed": seed,
                    "epoch": epoch,
                    "eval_accuracy": base + 0.05 * epoch + 0.02 * r.normal(),
                    "train_loss": 2.0 / epoch + 0.1 * r.normal(),
                }
                if arm == "jepa":
                    rec["jepa_loss"] = 0.3 / epoch
                recs.append(rec)
    recs.append({"arm": "ntp", "seed": 9, "epoch": 1, "train_loss": 3.0})  # no eval_accuracy
    return recs


# ----------------------------------------------------------------------------- mask


def _mask_row():
    seg = np.array([0, 0, 0, 1, 1, 2, 2, 2])  # three segments of one packed row
    same = seg[:, None] == seg[None, :]
    causal = np.tril(np.ones((8, 8), dtype=bool))
    return same & causal, seg, ["<s>", "a", "b", "x", "<|predictor_1|>", "\\b", "d", "\n"]


def test_mask_heatmap_is_the_mask():
    mask, seg, labels = _mask_row()
    fig = plots.mask_figure(mask, labels, seg, {0: "NTP", 1: "Text", 2: "Code"})
    heat = fig.data[0]
    np.testing.assert_array_equal(np.asarray(heat.z), mask.astype(int))
    assert fig.layout.yaxis.autorange == "reversed"  # query 0 at the top, like a matrix
    assert list(fig.layout.xaxis.ticktext) == labels
    # Two boundaries (between tokens 2|3 and 4|5), each drawn on both axes.
    xs = sorted({s.x0 for s in fig.layout.shapes if s.x0 == s.x1})
    ys = sorted({s.y0 for s in fig.layout.shapes if s.y0 == s.y1})
    assert xs == [2.5, 4.5] and ys == [2.5, 4.5]
    hover = heat.text
    assert "key 4: '&lt;|predictor_1|&gt;' (Text)" in hover[4][4] and "allowed" in hover[4][4]
    assert "blocked" in hover[5][4] and "(Code)" in hover[5][4]
    assert "\\n" in hover[7][7]  # a newline token is shown, not swallowed
    assert "key 5: '\\b' (Code)" in hover[6][5]  # a regex backslash stays single
    assert fig.layout.title.text


def test_big_mask_hover_falls_back_to_positions():
    t = 12
    seg = np.repeat([0, 1, 2], 4)
    fig = plots.mask_figure(np.ones((t, t), bool), [str(i) for i in range(t)], seg, hover_limit=8)
    assert fig.data[0].text is None and "%{x}" in fig.data[0].hovertemplate
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), np.ones((t, t)))


def test_mask_figure_rejects_mismatched_inputs():
    mask, seg, labels = _mask_row()
    with pytest.raises(ValueError, match="square"):
        plots.mask_figure(mask[:, :5], labels, seg)
    with pytest.raises(ValueError, match="segment_ids"):
        plots.mask_figure(mask, labels, seg[:5])
    with pytest.raises(ValueError, match="token_labels"):
        plots.mask_figure(mask, labels[:3], seg)


def test_mask_figure_accepts_torch():
    torch = pytest.importorskip("torch")
    mask, seg, labels = _mask_row()
    fig = plots.mask_figure(torch.from_numpy(mask), labels, torch.from_numpy(seg))
    np.testing.assert_array_equal(np.asarray(fig.data[0].z), mask.astype(int))


# ----------------------------------------------------------------------------- curves


def test_curve_means_and_bands_equal_numpy():
    hist = _history()
    fig = plots.curves_figure(hist, "eval_accuracy")
    by_name = {t.name: t for t in fig.data}
    for arm in ("ntp", "jepa"):
        vals = np.array(
            [
                [
                    r["eval_accuracy"]
                    for r in hist
                    if r["arm"] == arm and r["epoch"] == e and "eval_accuracy" in r
                ]
                for e in range(1, 5)
            ]
        )
        mean, std = vals.mean(axis=1), vals.std(axis=1, ddof=1)  # sample std over 3 seeds
        line = by_name[plots.ARM_LABELS[arm]]
        np.testing.assert_allclose(line.x, [1, 2, 3, 4])
        np.testing.assert_allclose(line.y, mean)
        assert line.line.color == plots.ARM_COLORS[arm]
        band = by_name[f"{plots.ARM_LABELS[arm]} ±1 std"]
        np.testing.assert_allclose(band.y[:4], mean + std)
        np.testing.assert_allclose(band.y[4:], (mean - std)[::-1])
        assert band.fill == "toself" and band.legendgroup == line.legendgroup
    # NTP baseline comes first, whatever order the history is in.
    assert fig.data[1].name == plots.ARM_LABELS["ntp"]


def test_curves_skip_missing_metrics_and_make_one_panel_per_metric():
    hist = _history()
    fig = plots.curves_figure(hist, ["train_loss", "jepa_loss"])
    names = [t.name for t in fig.data if t.showlegend is not False]
    assert names == [plots.ARM_LABELS["ntp"], plots.ARM_LABELS["jepa"]]  # legend once per arm
    jepa_panel = [t for t in fig.data if t.xaxis == "x2" and t.mode == "lines+markers"]
    assert [t.name for t in jepa_panel] == [plots.ARM_LABELS["jepa"]]  # NTP has no jepa_loss
    ntp_loss = [t for t in fig.data if t.xaxis == "x" and t.name == plots.ARM_LABELS["ntp"]][0]
    # The extra seed-9 record (epoch 1) joins the epoch-1 mean.
    e1 = [r["train_loss"] for r in hist if r["arm"] == "ntp" and r["epoch"] == 1]
    assert len(e1) == 4 and ntp_loss.y[0] == pytest.approx(np.mean(e1))


def test_curves_errors_name_the_problem():
    with pytest.raises(ValueError, match="no record has both 'epoch' and 'bleu'"):
        plots.curves_figure(_history(), "bleu")
    with pytest.raises(ValueError, match=r"history\[0\].*'arm'"):
        plots.curves_figure([{"epoch": 1, "eval_accuracy": 0.5}])


def test_single_seed_has_zero_band():
    s = plots.curve_stats([{"arm": "jepa", "seed": 0, "epoch": 1, "m": 0.4}], "m")
    assert s["jepa"]["std"][0] == 0.0 and s["jepa"]["n"][0] == 1


# ----------------------------------------------------------------------------- geometry


def _coords(n=5, shift=0.0):
    r = np.random.default_rng(int(shift))
    return {v: r.normal(size=(n, 2)) + shift for v in ("text", "pred", "code")}


def test_geometry_figure_before_after_with_hover_and_links():
    before, after = _coords(), _coords(shift=3.0)
    texts = {
        "text": [f"describe <{i}> & more" for i in range(5)],
        "pred": [f"p{i}" for i in range(5)],
        "code": [f"(.*[0-9]{{{i}}}.*)" for i in range(5)],
    }
    fig = plots.geometry_figure(before, after, texts)
    points = [t for t in fig.data if t.mode == "markers"]
    assert len(points) == 6  # 3 views x 2 panels
    code_after = [t for t in points if t.name == plots.VIEW_LABELS["code"] and t.xaxis == "x2"][0]
    np.testing.assert_allclose(code_after.x, after["code"][:, 0])
    np.testing.assert_allclose(code_after.y, after["code"][:, 1])
    assert code_after.marker.color == plots.VIEW_COLORS["code"]
    assert code_after.hovertext[2] == "(.*[0-9]{2}.*)"
    text_before = [t for t in points if t.name == plots.VIEW_LABELS["text"] and t.xaxis == "x"][0]
    assert text_before.hovertext[1] == "describe &lt;1&gt; &amp; more"  # escaped for plotly
    # Shared axes: the right panel's axes follow the left panel's.
    assert fig.layout.xaxis2.matches == "x" and fig.layout.yaxis2.matches == "y"
    links = [t for t in fig.data if t.mode == "lines"]
    assert len(links) == 2 and links[0].legendgroup == links[1].legendgroup
    assert [t.showlegend for t in links] == [True, False]  # one legend toggle for both panels
    lx = np.asarray(links[0].x, dtype=float)
    np.testing.assert_allclose(lx[0::3], before["text"][:, 0])
    np.testing.assert_allclose(lx[1::3], before["code"][:, 0])
    assert np.all(np.isnan(lx[2::3]))


def test_geometry_figure_single_panel_without_links():
    fig = plots.geometry_figure(_coords(), None, None, link_pairs=False)
    assert all(t.mode == "markers" for t in fig.data) and len(fig.data) == 3
    assert fig.data[0].hovertext[3] == "#3"
    with pytest.raises(ValueError, match=r"\[N, 2\]"):
        plots.geometry_figure({"text": np.zeros((4, 3))})
    with pytest.raises(ValueError, match="strings"):
        plots.geometry_figure(_coords(), texts={"text": ["only one"]})


def test_long_hover_text_is_wrapped_and_cut():
    s = "x" * 1000
    h = plots.hover_text(s)
    assert "<br>" in h and len(h.replace("<br>", "")) <= 400


# ----------------------------------------------------------------------------- spectrum, LD


def test_spectrum_axis_is_log_and_holds_the_values():
    ntp, jepa = np.array([10.0, 5.0, 1.0]), np.array([2.0, 0.1, 0.01, 0.001])
    fig = plots.spectrum_figure({"ntp": ntp, "jepa": jepa})
    assert fig.layout.yaxis.type == "log"
    np.testing.assert_allclose(fig.data[1].y, jepa)
    np.testing.assert_allclose(fig.data[1].x, [1, 2, 3, 4])
    assert fig.data[0].name == "NTP baseline" and fig.data[1].line.color == plots.ARM_COLORS["jepa"]
    with pytest.raises(ValueError, match="1-D"):
        plots.spectrum_figure({"bad": np.zeros((2, 2))})


def test_loss_dropout_figure_sorted_by_compute():
    pts = [
        {"loss_dropout": 0.0, "compute": 2.0, "accuracy_mean": 0.7, "accuracy_std": 0.02},
        {"loss_dropout": 0.75, "compute": 1.25, "accuracy_mean": 0.68, "accuracy_std": 0.01},
    ]
    fig = plots.loss_dropout_figure(pts)
    tr = fig.data[0]
    np.testing.assert_allclose(tr.x, [1.25, 2.0])
    np.testing.assert_allclose(tr.y, [0.68, 0.7])
    np.testing.assert_allclose(tr.error_y.array, [0.01, 0.02])
    assert list(tr.text) == ["LD=0.75", "LD=0"]
    with pytest.raises(ValueError, match=r"points\[0\].*accuracy_std"):
        plots.loss_dropout_figure([{"loss_dropout": 0, "compute": 1, "accuracy_mean": 0.5}])


# ----------------------------------------------------------------------------- saving


def test_save_html_is_standalone_and_holds_the_data(tmp_path):
    fig = plots.geometry_figure(_coords(), texts={"text": ["hello regex world"] * 5})
    path = plots.save_html(fig, tmp_path / "sub" / "geo.html")
    page = path.read_text(encoding="utf-8")
    assert page.lstrip().lower().startswith("<html") or "<!doctype" in page[:50].lower()
    assert "hello regex world" in page
    assert '<script src="http' not in page and len(page) > 1_000_000  # plotly.js inlined
    # Every trace's coordinates as serialised by plotly (typed arrays) are in the page.
    for trace in json.loads(pio.to_json(fig))["data"]:
        blob = trace["x"]["bdata"] if isinstance(trace["x"], dict) else json.dumps(trace["x"])
        assert blob.replace("/", "\\u002f") in page  # plotly escapes "/" inside <script>
    assert [p.name for p in path.parent.iterdir()] == ["geo.html"]  # no temp file left


def test_save_png_needs_kaleido(tmp_path):
    fig = plots.spectrum_figure({"ntp": [3.0, 1.0]})
    try:
        import kaleido  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="pip install .kaleido>=1"):
            plots.save_png(fig, tmp_path / "s.png")
        assert not (tmp_path / "s.png").exists()
    else:
        pytest.skip("kaleido is installed; the PNG path needs a browser to render")
