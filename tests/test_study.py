"""The where-it-helps study: its statistics against hand computations, its presets, and the
benchmark script end to end at smoke size (reusing finished runs across invocations)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from jepa_lab.experiments.study import (
    collapse_vs_params_figure,
    cost_table,
    epoch_curves_figure,
    gain_scale,
    gain_vs_params_figure,
    grid_heatmap_figure,
    history_records,
    holm_adjusted,
    load_study,
    markdown_table,
    significant_points,
    summarize_point,
)
from jepa_lab.training.presets import MODEL_SIZES, PRESET_NAMES, REGIME_PRESETS, preset

ROOT = Path(__file__).resolve().parents[1]


def _record(curve, params=1000, cpu=2.0, tokens=100, **diag):
    history = [{"eval_accuracy": a, "tokens_seen": tokens * (i + 1)} for i, a in enumerate(curve)]
    history[-1].update(diag)
    return {"history": history, "params": params, "cpu_seconds": cpu}


def test_summarize_point_matches_a_hand_computation():
    ntp_curves = [[0.1, 0.5, 0.3], [0.2, 0.4, 0.35], [0.1, 0.45, 0.4]]
    jepa_curves = [[0.1, 0.3, 0.5], [0.2, 0.3, 0.38], [0.1, 0.2, 0.41]]
    ntp = [_record(c, paired_cos=0.1, random_cos=0.05, eff_rank_pred=30.0) for c in ntp_curves]
    jepa = [
        _record(c, tokens=150, paired_cos=0.99, random_cos=0.98, eff_rank_pred=1.5)
        for c in jepa_curves
    ]
    entry = summarize_point(ntp, jepa, [0, 1, 2])
    ntp_final, jepa_final = [0.3, 0.35, 0.4], [0.5, 0.38, 0.41]
    assert entry["ntp_mean"] == pytest.approx(np.mean(ntp_final))
    assert entry["jepa_std"] == pytest.approx(np.std(jepa_final, ddof=1))
    expected_p = stats.ttest_rel(jepa_final, ntp_final, alternative="greater").pvalue
    assert entry["p_value"] == pytest.approx(expected_p)
    # peak, epoch of the peak and peak-to-final drop, seed by seed
    assert [s["peak"] for s in entry["ntp_per_seed"]] == [0.5, 0.4, 0.45]
    assert [s["peak_epoch"] for s in entry["ntp_per_seed"]] == [2, 2, 2]
    assert [s["drop"] for s in entry["ntp_per_seed"]] == pytest.approx([0.2, 0.05, 0.05])
    assert entry["jepa_drop_mean"] == pytest.approx(0.0)
    assert entry["tokens_ratio"] == pytest.approx(1.5)
    assert entry["paired_cos"] == pytest.approx(0.99)  # the flat names are the JEPA arm's
    assert entry["ntp_eff_rank_pred"] == pytest.approx(30.0)
    assert entry["n_seeds"] == 3 and entry["params"] == 1000


def test_held_out_loss_overfitting_matches_a_hand_computation():
    """Claim II on the held-out loss: rise from each arm's best epoch to the last, and the
    one-sided paired test that JEPA rises less."""

    def record(losses):
        history = [
            {"eval_accuracy": 0.1, "tokens_seen": 10 * (i + 1), "eval_ntp_loss": v}
            for i, v in enumerate(losses)
        ]
        return {"history": history, "params": 10, "cpu_seconds": 1.0}

    ntp_losses = [[2.0, 1.2, 1.5], [2.1, 1.3, 1.45], [1.9, 1.0, 1.4]]  # rises 0.3, 0.15, 0.4
    jepa_losses = [[2.0, 1.3, 1.35], [2.0, 1.25, 1.3], [1.8, 1.1, 1.2]]  # 0.05, 0.05, 0.1
    entry = summarize_point(
        [record(c) for c in ntp_losses], [record(c) for c in jepa_losses], [0, 1, 2]
    )
    ntp_rise, jepa_rise = [0.3, 0.15, 0.4], [0.05, 0.05, 0.1]
    assert entry["ntp_loss_rise_mean"] == pytest.approx(np.mean(ntp_rise))
    assert entry["jepa_loss_rise_mean"] == pytest.approx(np.mean(jepa_rise))
    assert entry["ntp_loss_best_epoch_mean"] == 2.0
    expected = stats.ttest_rel(jepa_rise, ntp_rise, alternative="less").pvalue
    assert entry["loss_rise_p_value"] == pytest.approx(expected)
    row = markdown_table({"p": entry}).splitlines()[-1]
    assert f"| {np.mean(ntp_rise):.3f} / {np.mean(jepa_rise):.3f} ({expected:.3g}) |" in row
    figure = epoch_curves_figure(entry, "held-out loss", metric="eval_ntp_loss")
    means = [list(t.y) for t in figure.data if len(t.y) == 3]  # the mean lines, not the bands
    assert pytest.approx(np.mean(ntp_losses, axis=0).tolist()) in means
    assert pytest.approx(np.mean(jepa_losses, axis=0).tolist()) in means
    # records without the held-out loss: the column says so instead of inventing a number
    assert "loss_rise_p_value" not in summarize_point([_record([0.1])], [_record([0.2])], [0])


def _study():
    def point(params, gain, n=3):
        ntp = [_record([0.2, 0.3 + 0.01 * s], params=params) for s in range(n)]
        jepa = [
            _record([0.2, 0.3 + 0.01 * s + gain + 0.002 * s], params=params, eff_rank_pred=2.0)
            for s in range(n)
        ]
        return summarize_point(ntp, jepa, list(range(n)))

    return {
        "scale": {"tiny": point(4e5, -0.05), "mini": point(1.4e6, 0.0), "small": point(3e6, 0.04)},
        "grid": {"point": "overfit-250-random", "lam1-k1": point(4e5, 0.05, n=5)},
    }


def test_figures_and_tables_draw_what_the_study_holds(tmp_path):
    study = _study()
    path = tmp_path / "study.json"
    path.write_text(json.dumps(study))
    loaded = load_study(path)
    fig = gain_vs_params_figure(loaded["scale"], "gain")
    gains = list(fig.data[0].y)
    assert gains == pytest.approx([-0.05 + 0.002, 0.002, 0.04 + 0.002])  # sorted by params
    assert list(fig.data[0].x) == [4e5, 1.4e6, 3e6]
    collapse = collapse_vs_params_figure(loaded["scale"], "collapse")
    assert {t.name for t in collapse.data} == {"NTP baseline", "LLM-JEPA"}
    records = history_records(loaded["scale"]["tiny"])
    assert len(records) == 2 * 3 * 2  # arms x seeds x epochs
    curves = epoch_curves_figure(loaded["scale"]["tiny"], "curves")
    assert len(curves.data) == 4  # a band and a mean line per arm
    table = markdown_table(loaded["scale"])
    assert table.count("\n") == 2 + 3 - 1 and "| tiny | 0.40M | 3 |" in table
    assert significant_points(loaded) == [("grid", "lam1-k1")]  # 5 seeds, consistent gain


def test_holm_adjustment_matches_its_definition_and_a_worked_example():
    # worked by hand: sorted 0.005 (x4 = 0.02), 0.01 (x3 = 0.03), 0.03 (x2 = 0.06),
    # 0.04 (x1 = 0.04, raised to 0.06 to stay monotone); NaN is untested and stays NaN
    adjusted = holm_adjusted([0.01, 0.04, math.nan, 0.03, 0.005])
    assert adjusted[:2] == pytest.approx([0.03, 0.06]) and math.isnan(adjusted[2])
    assert adjusted[3:] == pytest.approx([0.06, 0.02])
    assert holm_adjusted([0.6, 0.7]) == pytest.approx([1.0, 1.0])  # capped at 1
    # the step-down rule, from its definition, on random families: p_(i) rejected at alpha iff
    # every p_(j), j <= i, is below alpha / (m - j + 1)
    rng = np.random.default_rng(0)
    for _ in range(200):
        p = rng.uniform(0, 0.2, size=rng.integers(1, 12)).tolist()
        adjusted = holm_adjusted(p)
        order = np.argsort(p)
        rejected, still = set(), True
        for rank, i in enumerate(order):
            still = still and p[i] < 0.05 / (len(p) - rank)
            if still:
                rejected.add(int(i))
        assert {i for i, a in enumerate(adjusted) if a < 0.05} == rejected


def test_significant_points_with_holm_treats_each_part_as_one_family():
    # twenty grid points with the same modest gain: each passes alone, none survives Holm;
    # one strong point in a family of its own survives both
    def point(gain, spread):
        ntp = [_record([0.3 + 0.01 * s]) for s in range(5)]
        jepa = [_record([0.3 + 0.01 * s + gain + spread * (s % 2)]) for s in range(5)]
        return summarize_point(ntp, jepa, list(range(5)))

    modest = point(0.02, 0.03)
    assert 0.05 / 20 < modest["p_value"] < 0.05
    study = {
        "grid": {"point": "x", **{f"lam{i}": modest for i in range(20)}},
        "base": {"tiny": point(0.05, 0.001)},
    }
    assert len(significant_points(study)) == 21
    assert significant_points(study, holm=True) == [("base", "tiny")]
    row = markdown_table(study["grid"]).splitlines()[-1]
    # equal p-values: every one is adjusted by the family's size
    assert f"| {modest['p_value']:.3g} ({min(1.0, 20 * modest['p_value']):.3g}) |" in row


def test_the_grid_heatmap_puts_each_pairs_gain_in_its_cell():
    def point(gain):
        ntp = [_record([0.3 + 0.01 * s]) for s in range(3)]
        jepa = [_record([0.3 + 0.01 * s + gain + 0.004 * s]) for s in range(3)]
        return summarize_point(ntp, jepa, [0, 1, 2])

    grid = {
        "point": "overfit-250-base",
        "lam0.5-k0": point(0.01),
        "lam0.5-k2": point(0.05),
        "lam2-k0": point(-0.02),  # lam2-k2 was not run: its cell stays empty
        "ld0.5": point(0.3),  # not a lam x k pair: not in the heatmap
    }
    fig = grid_heatmap_figure(grid, "grid")
    heat = fig.data[0]
    assert list(heat.x) == ["k=0", "k=2"] and list(heat.y) == ["lam=0.5", "lam=2"]
    z = [list(row) for row in heat.z]
    assert z[0] == pytest.approx([grid["lam0.5-k0"]["diff_mean"], grid["lam0.5-k2"]["diff_mean"]])
    assert z[1][0] == pytest.approx(grid["lam2-k0"]["diff_mean"]) and z[1][1] is None
    # centred at 0, and the largest gain (0.05 + the seeds' spread) does not fill the scale
    largest = grid["lam0.5-k2"]["diff_mean"]
    assert heat.zmid == 0 and heat.zmin == -heat.zmax
    assert largest < heat.zmax <= largest + 0.05 and heat.zmax == pytest.approx(0.1)
    assert heat.text[0][1].startswith(f"{grid['lam0.5-k2']['diff_mean']:+.3f}<br>p=")


def test_heatmaps_share_one_colour_scale_that_no_cell_fills():
    """The 1x1 confirmation heatmap used to scale to its own +0.028 and fill the darkest blue."""

    def part(gains):
        out = {"point": "overfit-250-base"}
        for name, gain in gains.items():
            ntp = [_record([0.3 + 0.01 * s]) for s in range(3)]
            jepa = [_record([0.3 + 0.01 * s + gain + 0.002 * s]) for s in range(3)]
            out[name] = summarize_point(ntp, jepa, [0, 1, 2])
        return out

    grid = part({"lam0.5-k4": 0.074, "lam1-k1": -0.12, "lam2-k2": 0.02})
    confirm = part({"lam0.5-k4": 0.028})
    scale = gain_scale(grid, confirm)
    assert scale == pytest.approx(0.15)  # |-0.12 + spread| rounded up to a multiple of 0.05
    figures = [grid_heatmap_figure(p, "t", zmax=scale) for p in (grid, confirm)]
    for fig in figures:
        heat = fig.data[0]
        assert heat.zmid == 0 and heat.zmax == scale and heat.zmin == -scale
        cells = [abs(v) for row in heat.z for v in row if v is not None]
        assert max(cells) < scale
    assert abs(figures[1].data[0].z[0][0]) < scale / 4  # the confirmation's gain reads as small
    alone = grid_heatmap_figure(confirm, "t").data[0]  # without a shared scale: its own, still
    assert alone.zmax == pytest.approx(0.05) and alone.z[0][0] < alone.zmax  # not filled
    with pytest.raises(ValueError, match="zmax must be a positive gain"):
        grid_heatmap_figure(grid, "t", zmax=0)


def test_markdown_table_keeps_the_whole_part_as_holms_family():
    def point(gain):
        ntp = [_record([0.3 + 0.01 * s]) for s in range(3)]
        jepa = [_record([0.3 + 0.01 * s + gain + 0.004 * s]) for s in range(3)]
        return summarize_point(ntp, jepa, [0, 1, 2])

    part = {"a": point(0.05), "b": point(0.01), "c": point(-0.02)}
    adjusted = holm_adjusted([e["p_value"] for e in part.values()])
    one_row = markdown_table(part, names=["a"]).splitlines()[2:]
    assert len(one_row) == 1 and one_row[0].startswith("| a |")
    assert f"({adjusted[0]:.3g})" in one_row[0]  # adjusted over a, b and c, not over a alone
    with pytest.raises(KeyError, match=r"no point \['z'\]"):
        markdown_table(part, names=["z"])


def test_load_study_names_the_point_that_is_incomplete(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text(json.dumps({"scale": {"tiny": {"params": 1}}}))
    with pytest.raises(ValueError, match=r"scale\.tiny lacks \['ntp_mean'"):
        load_study(path)
    path.write_text('{"scale": ')
    with pytest.raises(ValueError, match="bad.json:1: not valid JSON"):
        load_study(path)


def test_regime_presets_grow_width_and_depth_together():
    for name in REGIME_PRESETS:
        assert name in PRESET_NAMES
    sizes = [preset(f"scale-{s}") for s in MODEL_SIZES]
    assert all(a.hidden_size < b.hidden_size for a, b in zip(sizes, sizes[1:], strict=False))
    assert all(a.num_layers < b.num_layers for a, b in zip(sizes, sizes[1:], strict=False))
    assert all(c.train_size == 8000 for c in sizes)
    overfit = preset("overfit-250", init="base")
    assert (overfit.train_size, overfit.epochs, overfit.init) == (250, 30, "base")
    # the named base variant is exactly the study's point, so its command reproduces it
    named = preset("overfit-250-base")
    assert named.preset == "overfit-250-base"
    assert replace(named, preset="overfit-250") == overfit
    # the larger bases differ from it only in the model (and its learning rate)
    for size in ("mini", "small"):
        bigger = preset(f"overfit-250-base-{size}")
        hidden, layers, heads, lr = MODEL_SIZES[size]
        assert (bigger.hidden_size, bigger.num_layers, bigger.num_heads, bigger.lr) == (
            hidden, layers, heads, lr,
        )  # fmt: skip
        model_fields = dict(hidden_size=hidden, num_layers=layers, num_heads=heads, lr=lr)
        assert replace(named, preset=bigger.preset, **model_fields) == bigger


def test_the_benchmark_runs_and_reuses_finished_runs(tmp_path):
    cmd = [
        sys.executable,
        str(ROOT / "benchmarks" / "where_it_helps.py"),
        "--generated",
        "--parts", "overfit", "grid",
        "--overfit-sizes", "250",
        "--inits", "random",
        "--seeds", "0", "1",
        "--grid-lams", "1", "--grid-ks", "0", "1", "--grid-infonce-lams", "0.5",
        "--loss-dropouts", "0.5", "--grid-lr-factors", "2",
        "--epochs", "2", "--train-size", "24", "--eval-size", "4",
        "--out", str(tmp_path / "runs"),
        "--json", str(tmp_path / "where.json"),
        "--figures", str(tmp_path / "figures"),
    ]  # fmt: skip
    first = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    assert first.returncode == 0, first.stderr[-3000:]
    study = load_study(tmp_path / "where.json")
    entry = study["overfit"]["overfit-250-random"]
    for key in ("params", "ntp_mean", "jepa_mean", "ntp_std", "jepa_std", "n_seeds",
                "p_value", "paired_cos", "random_cos", "eff_rank_pred"):  # fmt: skip
        assert key in entry
    assert len(entry["ntp_per_epoch"]) == 2 and len(entry["ntp_per_epoch"][0]) == 2
    assert study["grid"]["point"] == "overfit-250-random"
    assert (tmp_path / "figures" / "overfit-overfit-250-random-curves.html").is_file()
    assert (tmp_path / "figures" / "grid-heatmap.html").is_file()
    trained = len(list((tmp_path / "runs" / "runs").glob("*.json")))
    # the grid's NTP baseline is the point's own: one NTP run per seed for the whole grid,
    # except at another learning rate, where both arms run at that rate
    records = [json.loads(p.read_text()) for p in (tmp_path / "runs" / "runs").glob("*.json")]
    ntp_lrs = sorted(r["config"]["lr"] for r in records if r["arm"] == "ntp")
    base_lr = preset("overfit-250").lr
    assert ntp_lrs == pytest.approx([base_lr, base_lr, 2 * base_lr, 2 * base_lr])
    jepa_lr2 = [r for r in records if r["arm"] == "jepa" and r["label"].endswith("lr2x")]
    assert len(jepa_lr2) == 2 and all(r["config"]["lr"] == 2 * base_lr for r in jepa_lr2)
    second = subprocess.run(cmd, capture_output=True, text=True, env=_env())
    assert second.returncode == 0, second.stderr[-3000:]
    assert "done " not in second.stdout  # nothing trained again
    assert len(list((tmp_path / "runs" / "runs").glob("*.json"))) == trained
    assert load_study(tmp_path / "where.json") == study
    assert not math.isnan(entry["tokens_ratio"])
    assert sorted(study["grid"]) == [  # exactly the variants asked for
        "infonce-lam0.5", "lam1-k0", "lam1-k1", "ld0.5", "lr2x", "ntp_lr_factor", "point",
    ]  # fmt: skip
    # a second grid goes under its own key beside the first, which stays
    again = cmd[: cmd.index("--parts")] + ["--parts", "grid", "--grid-section", "grid_again"]
    again += ["--reuse-only"] + cmd[cmd.index("--parts") + 3 :]
    third = subprocess.run(again, capture_output=True, text=True, env=_env())
    assert third.returncode == 0, third.stderr[-3000:]
    both = load_study(tmp_path / "where.json")
    assert both["grid_again"] == both["grid"] == study["grid"]


def _env():
    import os

    return dict(os.environ)


def test_the_recorded_tables_in_benchmarks_readme_are_the_committed_json():
    """Every table of the study in benchmarks/README.md is ``markdown_table`` of a part of
    benchmarks/results/where_it_helps.json, character for character: no number typed by hand."""
    recorded = load_study(ROOT / "benchmarks" / "results" / "where_it_helps.json")
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    for part, points in recorded.items():
        table = markdown_table(points)
        assert table.count("\n") >= 2, f"{part}: no finished point"
        assert table in readme, f"benchmarks/README.md lacks the {part!r} table of the JSON"
    assert cost_table(recorded) in readme, "benchmarks/README.md lacks the JSON's cost table"


def test_the_cost_table_gives_cpu_seconds_on_a_cpu_and_wall_seconds_on_a_gpu():
    def point(device, cpu, wall):
        runs = [
            {**_record([0.1, 0.2], cpu=cpu, tokens=t), "wall_seconds": wall, "device": device}
            for t in (100, 150)
        ]
        return summarize_point([runs[0]], [runs[1]], [0])

    table = cost_table({"scale": {"tiny": point("cpu", 12.4, 99.0), "1b": point("H200", 3, 61.6)}})
    assert "| scale | tiny | cpu | 12 CPU | 12 CPU | 1.50 |" in table
    assert "| scale | 1b | H200 | 62 wall | 62 wall | 1.50 |" in table


def test_the_gpu_sizes_build_the_published_llama_3_2_1b_body():
    """scale-llama-1b-arch is Llama-3.2-1B's architecture: given that model's own 128,256-token
    vocabulary it has exactly the published 1,235,814,400 parameters (counted on the meta device,
    no memory), and with jepa-lab's tokenizer only the embedding shrinks."""
    import torch
    from transformers import LlamaForCausalLM

    from jepa_lab.training.build import shape_overrides
    from jepa_lab.training.tiny import tiny_llama_config

    config = preset("scale-llama-1b-arch")
    assert config.bf16 and config.init == "random" and config.train_size == 8000

    def count(vocab: int) -> int:
        llama = tiny_llama_config(
            config.hidden_size,
            config.num_layers,
            config.num_heads,
            vocab,
            num_key_value_heads=config.num_key_value_heads,
            **shape_overrides(config),
        )
        with torch.device("meta"):
            return sum(p.numel() for p in LlamaForCausalLM(llama).parameters())

    assert count(128_256) == 1_235_814_400
    assert count(128_256) - count(1_025) == (128_256 - 1_025) * 2048
    hundred_m = preset("scale-100m")
    assert 80e6 < 12 * (4 * 768**2 + 3 * 768 * 3 * 768) < 120e6  # the non-embedding body
    assert (hundred_m.hidden_size, hundred_m.num_layers, hundred_m.bf16) == (768, 12, True)


def test_shape_fields_are_checked_and_refused_with_a_base():
    from jepa_lab.training.validation import ConfigError

    with pytest.raises(ConfigError, match="num_key_value_heads.*divisor of num_heads=4"):
        preset("scale-tiny", num_key_value_heads=3)
    with pytest.raises(ConfigError, match="init.*'random' with intermediate_size"):
        preset("overfit-250-base", intermediate_size=512)
    # and the trained model really has the grouped-query shape asked for
    from jepa_lab.training.build import build_jepa_model
    from jepa_lab.training.tiny import TOY_SIZES

    small = preset("tiny", **TOY_SIZES, num_key_value_heads=2, intermediate_size=40)
    from jepa_lab.data import load_dataset

    jm = build_jepa_model(small, list(load_dataset("nlrx", "train", "generated", n=20)))
    layer = jm.model.model.layers[0]
    assert layer.self_attn.k_proj.out_features == 2 * (32 // 4)
    assert layer.mlp.up_proj.out_features == 40


def test_the_prepared_gpu_script_runs_its_plan_and_keeps_inside_its_budget(tmp_path):
    """benchmarks/device_scale.sh at SMOKE size on CPU: the same loop of invocations the GPU run
    makes, each reusing the last (seeds 0, then 0 1), the JSON naming the device; and a spent
    budget starts nothing."""
    script = ROOT / "benchmarks" / "device_scale.sh"
    env = dict(_env(), SMOKE="1", PYTHON=sys.executable, OUT=str(tmp_path / "out"))
    env["STORE"] = str(tmp_path / "store")
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    entry = load_study(tmp_path / "out" / "where_it_helps_gpu.json")["scale"]["tiny"]
    assert entry["n_seeds"] == 2 and entry["device"] == "cpu"
    assert done.stdout.count("done scale-tiny ntp seed 0") == 1  # reused by the second step
    assert "torch" in (tmp_path / "out" / "environment.txt").read_text()

    env.update(BUDGET="10", OUT=str(tmp_path / "none"))
    spent = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env, cwd=ROOT)
    assert "budget spent: stopping before tiny seeds 0" in spent.stdout
    assert not (tmp_path / "none" / "where_it_helps_gpu.json").exists()


def test_the_run_store_treats_the_preset_name_as_a_label(tmp_path):
    """A run recorded as ``overfit-250`` with ``init="base"`` is the same run as the named
    preset ``overfit-250-base`` (the base part reuses the overfit part's runs); a run that
    differs in any real field is not, and a record from before a field existed still matches."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "where_it_helps", ROOT / "benchmarks" / "where_it_helps.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    recorded = preset("overfit-250", init="base").with_arm("ntp").to_dict()
    del recorded["num_key_value_heads"]  # as written before the field existed
    (tmp_path / "runs").mkdir()
    record = {"arm": "ntp", "config": recorded, "data": "nlrx-llm-jepa", "label": "x"}
    (tmp_path / "runs" / "old.json").write_text(json.dumps(record))
    store = module.RunStore(tmp_path, Path("unused"), threads=1, reuse_only=True)
    assert store.find(preset("overfit-250-base"), "ntp")["label"] == "x"
    assert store.find(preset("overfit-250-base"), "jepa") is None  # the other arm
    # how often a run checkpoints does not change what it trains (the store trains with none)
    assert store.find(preset("overfit-250-base", save_every=0), "ntp")["label"] == "x"
    assert store.find(preset("overfit-250-base", lr=1e-3), "ntp") is None
    assert store.find(preset("overfit-250"), "ntp") is None  # random init is another run
