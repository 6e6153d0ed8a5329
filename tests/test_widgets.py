"""The explorers: the logic (explore.py) against independent expectations, and the widgets
(widgets.py) driven the way a notebook drives them, by setting .value and clicking buttons."""

from __future__ import annotations

import base64
import json
import sys
import time
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import pytest
import torch
from helpers import PAIRS, make_model, make_tokenizer
from safetensors.torch import load_file

from jepa_lab import JepaConfig, JepaModel
from jepa_lab.geometry import collapse_report
from jepa_lab.geometry.plots import ARM_LABELS, VIEW_LABELS
from jepa_lab.objective.config import MAX_PREDICTOR_TOKENS
from jepa_lab.objective.masks import IGNORE_INDEX, NO_SEGMENT
from jepa_lab.teaching.explore import (
    HyperparameterRun,
    Hyperparameters,
    figure_bundle,
    geometry_view,
    mask_view,
    padded_example,
)
from jepa_lab.training.build import load_examples
from jepa_lab.training.evaluate import extract_embeddings
from jepa_lab.training.presets import preset

w = pytest.importorskip("ipywidgets")
from jepa_lab.teaching import widgets  # noqa: E402  (after the ipywidgets skip)


@pytest.fixture(autouse=True, scope="module")
def one_torch_thread():
    """Tiny models gain nothing from more threads, and on a busy 2-core machine OpenMP threads
    fighting for cores made repeated training runs in one process ~20x slower."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ============================================================================ mask


def columns(view, name_part: str) -> np.ndarray:
    """Columns of the one segment whose name contains ``name_part``."""
    ids = [s for s, n in view.segment_names.items() if name_part in n]
    assert len(ids) == 1, (name_part, view.segment_names)
    return np.flatnonzero(np.asarray(view.segment_ids) == ids[0])


def decoded(view, cols) -> str:
    return "".join(view.token_labels[c] for c in cols)


def test_user_view_row_holds_the_example_in_three_private_segments():
    tokenizer = make_tokenizer("llama3")
    size_before = len(tokenizer)
    text, code = PAIRS[1]
    view = mask_view(PAIRS, 1, k=2, text_view="user", tokenizer=tokenizer, companion=None)

    assert NO_SEGMENT not in view.segment_ids  # alone in the batch: no padding
    ntp, txt, cod = columns(view, "NTP"), columns(view, "Text view"), columns(view, "Code view")
    assert "+ 2 predictor tokens" in view.segment_names[view.segment_ids[txt[0]]]
    assert text in decoded(view, ntp) and code in decoded(view, ntp)
    assert text in decoded(view, txt) and code not in decoded(view, txt)
    assert decoded(view, txt).endswith("<|predictor_1|><|predictor_2|>")
    assert code in decoded(view, cod) and text not in decoded(view, cod)
    targets = [view.token_labels[c] for c, lab in enumerate(view.labels) if lab != IGNORE_INDEX]
    assert "".join(targets) == code + "<|eot_id|>"  # the answer and its end of turn, no more
    assert view.anchors["pred"] == txt[-1]
    assert decoded(view, cod[: list(cod).index(view.anchors["code"]) + 1]).endswith(code)

    # In the user view no segment reads another: each attends causally within itself only.
    seg = np.asarray(view.segment_ids)
    t = len(seg)
    expected = (seg[:, None] == seg[None, :]) & np.tril(np.ones((t, t), dtype=bool))
    assert view.mask.shape == (t, t) and view.mask.dtype == torch.bool
    np.testing.assert_array_equal(view.mask.numpy(), expected)
    for cols in (ntp, txt, cod):  # positions restart in every segment
        assert [view.position_ids[c] for c in cols] == list(range(len(cols)))
    np.testing.assert_array_equal(np.asarray(view.figure.data[0].z), expected.astype(int))
    assert len(view.figure.layout.shapes) == 2 * 2  # two boundaries, drawn on both axes
    # The caller's tokenizer is copied, never given predictor tokens or a new padding side.
    assert len(tokenizer) == size_before and tokenizer.padding_side == "right"


def test_prompt_view_predictors_read_the_prompt_and_continue_its_positions():
    view = mask_view(
        PAIRS, 0, k=3, text_view="prompt", tokenizer=make_tokenizer("llama3"), companion=None
    )
    ntp, pred = columns(view, "NTP"), columns(view, "predictor tokens (read")
    assert decoded(view, pred) == "<|predictor_1|><|predictor_2|><|predictor_3|>"
    first_target = next(c for c in ntp if view.labels[c] != IGNORE_INDEX)
    prompt = ntp[ntp < first_target]  # everything before the answer
    assert decoded(view, prompt).rstrip().endswith("assistant<|end_header_id|>")
    assert [view.read_len[c] for c in pred] == [len(prompt)] * 3
    assert [view.position_ids[c] for c in pred] == [len(prompt) + i for i in range(3)]
    mask = view.mask.numpy()
    for i, q in enumerate(pred):
        allowed = set(np.flatnonzero(mask[q]))
        assert allowed == set(prompt) | set(pred[: i + 1])  # the prompt, never the answer
    assert view.anchors["pred"] == pred[-1]
    assert view.anchors["text"] in set(prompt)  # Enc(Text) is read inside the NTP prompt


@pytest.mark.parametrize("text_view", ["user", "prompt"])
def test_each_predictor_token_adds_one_column(text_view):
    tokenizer = make_tokenizer("chatml")
    widths = [
        len(mask_view(PAIRS, 2, k, text_view, tokenizer=tokenizer, companion=None).token_ids)
        for k in (0, 1, 4)
    ]
    assert widths[1] - widths[0] == 1 and widths[2] - widths[0] == 4


def test_padding_side_moves_padding_and_the_ntp_segment():
    tokenizer = make_tokenizer("llama3")
    short = min(range(len(PAIRS)), key=lambda i: len(PAIRS[i][0]) + len(PAIRS[i][1]))
    long = max(range(len(PAIRS)), key=lambda i: len(PAIRS[i][0]) + len(PAIRS[i][1]))
    right = mask_view(PAIRS, short, 1, "user", "right", tokenizer, companion=long)
    left = mask_view(PAIRS, short, 1, "user", "left", tokenizer, companion=long)
    alone = mask_view(PAIRS, short, 1, "user", "right", tokenizer, companion=None)
    width, n_real = len(right.token_ids), len(alone.token_ids)
    assert len(left.token_ids) == width > n_real  # padded to the companion's row
    pads = width - n_real
    assert right.segment_ids[n_real:] == [NO_SEGMENT] * pads
    assert left.segment_ids[:pads] == [NO_SEGMENT] * pads
    assert left.segment_names[left.segment_ids[-1]].startswith("NTP")  # labels end the row
    assert decoded(left, columns(left, "NTP")) == decoded(right, columns(right, "NTP"))
    for view, pad_cols in ((right, range(n_real, width)), (left, range(pads))):
        for c in pad_cols:  # padding attends to itself only, and nothing attends to it
            assert np.flatnonzero(view.mask[c].numpy()).tolist() == [c]
            assert view.mask[:, c].sum() == 1
    assert "padding" in right.describe() and f"{pads} columns" in right.describe()


def test_mask_view_names_bad_input():
    with pytest.raises(IndexError, match=r"index=9 outside 0\.\.3"):
        mask_view(PAIRS, 9)
    with pytest.raises(ValueError, match="JepaConfig.k"):
        mask_view(PAIRS, 0, k=17)
    with pytest.raises(ValueError, match="padding_side='middle'"):
        mask_view(PAIRS, 0, padding_side="middle")
    with pytest.raises(TypeError, match="pair 1: expected a \\(text, code\\) tuple"):
        mask_view([PAIRS[0], 42], 0)


def typed_array(value) -> np.ndarray:
    """An array as plotly.js reads it from JSON: a list, or {dtype, bdata (base64), shape}."""
    if not isinstance(value, dict):
        return np.asarray(value)
    flat = np.frombuffer(base64.b64decode(value["bdata"]), dtype=value["dtype"])
    shape = [int(n) for n in str(value.get("shape", len(flat))).split(",")]
    return flat.reshape(shape)


def shown_on_the_page(pane) -> dict:
    """The plotly figure the pane's widget state holds: what a browser draws, view or not."""
    (output,) = pane.widget.outputs
    assert output["output_type"] == "display_data"
    return output["data"]["application/vnd.plotly.v1+json"]


def test_mask_explorer_redraws_on_every_control():
    tokenizer = make_tokenizer("llama3")
    explorer = widgets.mask_explorer(PAIRS, tokenizer)
    assert isinstance(explorer.pane.widget, w.Output)

    def expect(index, k, text_view, side):
        ref = mask_view(PAIRS, index, k, text_view, side, tokenizer)
        fig = explorer.pane.figure
        np.testing.assert_array_equal(np.asarray(fig.data[0].z), ref.mask.numpy().astype(int))
        assert list(fig.layout.xaxis.ticktext) == ref.token_labels
        assert explorer.text.value == ref.describe()
        state = shown_on_the_page(explorer.pane)  # the widget state carries the same data
        np.testing.assert_array_equal(typed_array(state["data"][0]["z"]), ref.mask.numpy())
        assert "width" not in state["layout"]  # sized to the page, never clipped

    lengths = [
        len(mask_view(PAIRS, i, tokenizer=tokenizer, companion=None).token_ids)
        for i in range(len(PAIRS))
    ]
    first_padded = next(i for i in range(len(PAIRS) - 1) if lengths[i] < lengths[i + 1])
    assert explorer.index.value == first_padded  # opens on a row that shows padding
    assert "[padding]" in explorer.text.value
    explorer.index.value = 0
    expect(0, 1, "user", "right")
    explorer.k.value = 4
    expect(0, 4, "user", "right")
    explorer.index.value = 2
    expect(2, 4, "user", "right")
    assert PAIRS[2][0] in explorer.text.value
    explorer.text_view.value = "prompt"
    expect(2, 4, "prompt", "right")
    explorer.padding_side.value = "left"
    expect(2, 4, "prompt", "left")
    explorer.k.value = explorer.k.max  # the slider reaches every k the config accepts
    assert explorer.k.max == MAX_PREDICTOR_TOKENS
    expect(2, MAX_PREDICTOR_TOKENS, "prompt", "left")


def test_padded_example_is_the_first_row_shorter_than_the_next():
    tokenizer = make_tokenizer("llama3")
    pairs = [("a b c d e f", "x y z"), ("a b", "x"), ("a b c d", "x y z w"), ("a", "b")]

    def alone(i):
        return len(mask_view(pairs, i, tokenizer=tokenizer, companion=None).token_ids)

    assert alone(0) > alone(1) < alone(2)  # so the first padded row is example 1
    assert padded_example(pairs, tokenizer) == 1
    view = mask_view(pairs, 1, tokenizer=tokenizer)  # batched with the next, as by default
    assert view.segment_ids.count(-1) == alone(2) - alone(1)
    assert padded_example(pairs[:2], tokenizer) == 0  # none shorter than the next: the first


def test_figure_bundle_carries_the_figure_for_lab_and_html_front_ends():
    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4], name="s"))
    fig.update_layout(title="t", width=1350)
    fitted = widgets.fit_to_width(fig)
    assert fitted.layout.width is None and fig.layout.width == 1350  # a copy; the input kept
    data = figure_bundle(fitted)["data"]
    spec = data["application/vnd.plotly.v1+json"]
    assert list(typed_array(spec["data"][0]["y"])) == [3, 4]
    assert "width" not in spec["layout"]
    assert "cdn.plot.ly" in data["text/html"] and '"y":[3,4]' in data["text/html"]
    assert json.dumps(figure_bundle(fitted))  # JSON all the way (numpy arrays converted)


# ============================================================================ hyperparameters

SMALL = dict(
    train_size=32,
    eval_size=8,
    epochs=2,
    batch_size=8,
    hidden_size=32,
    num_layers=1,
    num_heads=2,
    vocab_size=300,
    max_new_tokens=8,
)


@pytest.fixture(scope="module")
def small():
    config = preset("tiny", **SMALL)
    return config, load_examples(config)


def arm_records(history, arm):
    return sorted((r for r in history if r["arm"] == arm), key=lambda r: r["epoch"])


def test_explorer_trains_both_arms_with_the_chosen_knobs_and_plots_every_epoch(
    small, tmp_path, capsys
):
    config, data = small
    explorer = widgets.hyperparameter_explorer(config, tmp_path, data=data)
    explorer.lam.value = 0.7
    explorer.k.value = 2
    explorer.distance.value = "l2"
    explorer.epochs.value = 2
    streams = (sys.stdout, sys.stderr)
    seen_while_training = []  # the process's streams at every step, from the training thread
    show_status = explorer._set_status

    def status_and_streams(text):
        seen_while_training.append((sys.stdout, sys.stderr))
        show_status(text)

    explorer._set_status = status_and_streams
    explorer.start.click()
    assert explorer.stop.disabled is False
    assert explorer.run.join(timeout=300), "training did not finish"
    run = explorer.run
    assert run.error is None, run.error
    assert explorer.start.disabled is False and explorer.stop.disabled is True
    assert explorer.status.value.startswith("done")
    assert len(seen_while_training) > 2 * 2 and set(seen_while_training) == {streams}
    assert "epoch" not in capsys.readouterr().out  # the epoch lines go to the widget only
    log = "".join(o.get("text", "") for o in explorer.training_log.outputs).splitlines()
    for arm in ("ntp", "jepa"):  # one line per epoch record, in order
        lines = [line for line in log if line.startswith(f"[{arm} seed 0] ")]
        assert [line.split(",")[0] for line in lines] == [
            f"[{arm} seed 0] epoch 1",
            f"[{arm} seed 0] epoch 2",
        ]

    for arm, lam in (("ntp", 0.0), ("jepa", 0.7)):
        identity = json.loads((tmp_path / arm / "run.json").read_text())
        assert identity["arm"] == arm
        assert identity["config"]["jepa"]["lam"] == pytest.approx(lam)
        assert identity["config"]["jepa"]["k"] == 2
        assert identity["config"]["jepa"]["distance"] == "l2"
        records = arm_records(run.history, arm)
        assert [r["epoch"] for r in records] == [1.0, 2.0]
        on_disk = [json.loads(line) for line in (tmp_path / arm / "history.jsonl").open()]
        assert [r["eval_ntp_loss"] for r in on_disk] == [r["eval_ntp_loss"] for r in records]
        assert (tmp_path / arm / "final" / "model.safetensors").is_file()

    # Every panel holds each arm's per-epoch values, read straight from the records.
    fig = explorer.pane.figure
    for panel, metric in enumerate(explorer.metrics):
        axis = "x" if panel == 0 else f"x{panel + 1}"
        for arm in ("ntp", "jepa"):
            (trace,) = [t for t in fig.data if t.name == ARM_LABELS[arm] and t.xaxis == axis]
            records = arm_records(run.history, arm)
            assert list(trace.x) == [r["epoch"] for r in records]
            np.testing.assert_allclose(list(trace.y), [r[metric] for r in records])


def test_stop_ends_at_a_step_and_keeps_the_model_and_the_history(small, tmp_path):
    config, data = small
    config = Hyperparameters(lam=1.0, epochs=3).apply(config)
    run = None

    def stop_at_first_jepa_record(record, history):
        if record["arm"] == "jepa":
            run.stop()

    run = HyperparameterRun(config, tmp_path, on_record=stop_at_first_jepa_record, data=data)
    run.start()
    assert run.join(timeout=300)
    assert run.error is None, run.error
    assert run.status.startswith("stopped")
    assert [r["epoch"] for r in arm_records(run.history, "ntp")] == [1.0, 2.0, 3.0]
    # 4 steps per epoch: stop is asked after epoch 1, so training ends after step 5.
    jepa = arm_records(run.history, "jepa")
    assert [r["epoch"] for r in jepa] == [1.0, 1.25]
    assert [r["step"] for r in jepa] == [4, 5]
    folder = tmp_path / "jepa"
    assert [json.loads(line)["step"] for line in (folder / "history.jsonl").open()] == [4, 5]
    final = load_file(folder / "final" / "model.safetensors")
    at_stop = load_file(folder / "checkpoint-5" / "model.safetensors")
    before = load_file(folder / "checkpoint-4" / "model.safetensors")
    assert final.keys() == at_stop.keys()
    assert all(torch.equal(final[k], at_stop[k]) for k in final)
    assert not all(torch.equal(final[k], before[k]) for k in final)  # step 5 was kept
    loaded = JepaModel.from_pretrained(folder / "final")
    assert loaded.config.lam == 1.0 and loaded.config.k == config.jepa.k


def test_stop_button_stops_the_run_and_keeps_the_finished_arm(small, tmp_path):
    config, data = small
    explorer = widgets.hyperparameter_explorer(config, tmp_path, data=data)
    explorer.epochs.value = 3
    explorer.start.click()
    deadline = time.monotonic() + 120
    while not explorer.run.history and time.monotonic() < deadline:
        time.sleep(0.02)
    assert explorer.run.history, "no epoch finished in time"
    explorer.stop.click()
    assert explorer.run.join(timeout=120)
    assert explorer.run.error is None and explorer.status.value.startswith("stopped")
    assert len(explorer.run.history) < 2 * 3  # it did not run to the end
    assert (tmp_path / "ntp" / "final" / "model.safetensors").is_file()
    assert explorer.start.disabled is False


def test_explorer_refuses_to_start_over_foreign_files(small, tmp_path):
    config, data = small
    (tmp_path / "ntp").mkdir()
    (tmp_path / "ntp" / "notes.txt").write_text("mine")
    explorer = widgets.hyperparameter_explorer(config, tmp_path, data=data)
    explorer.start.click()
    assert explorer.run is None
    assert "cannot start" in explorer.status.value and "holds no jepa-lab run" in (
        explorer.status.value
    )
    assert (tmp_path / "ntp" / "notes.txt").read_text() == "mine"
    with pytest.raises(ValueError, match="lambda=0"):
        Hyperparameters(lam=0.0).apply(config)
    with pytest.raises(ValueError, match="JepaConfig.distance"):
        Hyperparameters(distance="cos").apply(config)


# ============================================================================ geometry

GEOMETRY_PAIRS = [(f"{t} number {i}", f"{c}{i}") for i in range(3) for t, c in PAIRS]  # 12


def tiny_jepa(seed: int) -> JepaModel:
    tokenizer = make_tokenizer("llama3")
    return JepaModel(make_model("llama", len(tokenizer) + 1, seed=seed), tokenizer, JepaConfig())


def panel_points(fig, view: str, axis: str) -> np.ndarray:
    (trace,) = [t for t in fig.data if t.name == VIEW_LABELS[view] and t.xaxis == axis]
    return np.stack([np.asarray(trace.x), np.asarray(trace.y)], axis=1)


def test_geometry_view_projects_the_chosen_points_jointly_and_reports_collapse():
    before, after = tiny_jepa(0), tiny_jepa(1)
    views = ("text", "code")
    view = geometry_view(
        {"before": (before, GEOMETRY_PAIRS), "after": after},
        "pca",
        views,
        n_points=7,
        seed=3,
        pairs=GEOMETRY_PAIRS,
    )
    index = view.index
    assert len(index) == 7 and len(set(index)) == 7 and list(index) == sorted(index)
    emb = {
        "before": extract_embeddings(before, GEOMETRY_PAIRS, progress=False).subset(index),
        "after": extract_embeddings(after, GEOMETRY_PAIRS, progress=False).subset(index),
    }
    # Reference: PCA of all shown rows stacked, by SVD here (signs may differ per axis).
    stacked = np.concatenate([getattr(emb[m], v) for m in emb for v in views]).astype(np.float64)
    centred = stacked - stacked.mean(axis=0)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    reference = u[:, :2] * s[:2]
    shown = np.concatenate(
        [panel_points(view.figure, v, axis) for axis in ("x", "x2") for v in views]
    )
    np.testing.assert_allclose(np.abs(shown), np.abs(reference), rtol=1e-3, atol=1e-4)
    assert not [t for t in view.figure.data if t.name == VIEW_LABELS["pred"]]
    for name, e in emb.items():
        report = collapse_report(e.text, e.code, seed=3)
        assert view.summary[name]["collapsed"] == report.collapsed
        assert view.summary[name]["collapse_message"] == report.message
        assert view.summary[name]["n"] == 7


def test_geometry_view_names_bad_input():
    emb = extract_embeddings(tiny_jepa(0), GEOMETRY_PAIRS, progress=False)
    with pytest.raises(ValueError, match="one or two models"):
        geometry_view({"a": emb, "b": emb, "c": emb})
    with pytest.raises(ValueError, match="views="):
        geometry_view({"a": emb}, views=["txt"])
    with pytest.raises(ValueError, match="different numbers of pairs"):
        geometry_view({"a": emb, "b": emb.subset(range(5))})
    with pytest.raises(ValueError, match="needs pairs"):
        geometry_view({"a": tiny_jepa(0)})


def test_geometry_explorer_follows_its_controls(tmp_path):
    before, after = tiny_jepa(0), tiny_jepa(1)
    before.save_pretrained(tmp_path / "before")
    explorer = widgets.geometry_explorer(
        {"before": tmp_path / "before", "after": after}, GEOMETRY_PAIRS
    )
    assert "before" in explorer.loaded  # the path was loaded as a JepaModel, once
    cached = explorer.embeddings("before")
    assert explorer.embeddings("before") is cached
    direct = extract_embeddings(before, GEOMETRY_PAIRS, progress=False)
    np.testing.assert_allclose(cached.code, direct.code, rtol=1e-5, atol=1e-5)

    def expect(method, views, n_points, right=True):
        models = {"before": explorer.embeddings("before")}
        if right:
            models["after"] = explorer.embeddings("after")
        ref = geometry_view(models, method, views, n_points, seed=0)
        fig = explorer.pane.figure
        for m, axis in zip(models, ("x", "x2"), strict=False):
            for v in views:
                np.testing.assert_allclose(
                    panel_points(fig, v, axis), ref.coords[m][v], rtol=1e-5, atol=1e-5
                )
        assert sorted(t.name for t in fig.data if t.mode == "markers") == sorted(
            VIEW_LABELS[v] for m in models for v in views
        )
        for m in models:
            assert ref.summary[m]["collapse_message"] in explorer.message.value.replace(
                "&#x27;", "'"
            )
        if not right:
            assert not [t for t in fig.data if t.xaxis == "x2"]

    expect("pca", ["text", "pred", "code"], 12)
    explorer.view_boxes["pred"].value = False
    expect("pca", ["text", "code"], 12)
    explorer.points.value = 5
    expect("pca", ["text", "code"], 5)
    assert all(len(t.x) == 5 for t in explorer.pane.figure.data if t.mode == "markers")
    explorer.method.value = "tsne"
    expect("tsne", ["text", "code"], 5)
    explorer.right.value = widgets.NONE
    expect("tsne", ["text", "code"], 5, right=False)
    explorer.view_boxes["text"].value = False
    explorer.view_boxes["code"].value = False
    assert "at least one view" in explorer.message.value


# ============================================================================ in a real kernel


@pytest.mark.slow
def test_explorers_in_a_jupyter_kernel(tmp_path):
    """Displayed as widgets, redrawn on change, training output kept in the explorer's log."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    tests_dir = str(Path(__file__).resolve().parent)
    cells = [
        f"import sys, torch; sys.path.insert(0, {tests_dir!r}); torch.set_num_threads(1)\n"
        "from helpers import PAIRS, make_tokenizer\n"
        "from jepa_lab.teaching import widgets\nfrom jepa_lab.training.presets import preset",
        "mask = widgets.mask_explorer(PAIRS, make_tokenizer('llama3'))\nmask",
        "mask.k.value = 5\nprint('columns', len(mask.pane.figure.data[0].z))",
        f"hp = widgets.hyperparameter_explorer(preset('tiny', **{SMALL!r}), {str(tmp_path)!r})\nhp",
        "hp.start.click(); hp.run.join(120)\nprint('status', hp.status.value)",
        "print('log', ''.join(o.get('text', '') for o in hp.training_log.outputs))",
    ]
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nbclient.NotebookClient(nb, timeout=180, kernel_name="python3").execute()
    outputs = [c["outputs"] for c in nb.cells]

    def text(i):
        return "".join(o.get("text", "") for o in outputs[i] if o["output_type"] == "stream")

    for i in (1, 3):
        assert "application/vnd.jupyter.widget-view+json" in outputs[i][0]["data"]
    expected = len(mask_view(PAIRS, 0, 5, tokenizer=make_tokenizer("llama3")).token_ids)
    assert f"columns {expected}" in text(2)
    assert "status done" in text(4) and "seed 0]" not in text(4)  # the log caught the prints
    assert "[ntp seed 0] epoch 1" in text(5) and "[jepa seed 0] epoch 2" in text(5)
