"""compare(): the paired statistics against a hand computation, and the CLI end to end."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from jepa_lab.cli import _config_from_args, build_parser, main
from jepa_lab.experiments.experiment import format_p, paired_comparison
from jepa_lab.training.validation import InputError


def test_paired_statistics_match_a_hand_computation():
    ntp = [0.61, 0.58, 0.66, 0.60]
    jepa = [0.64, 0.60, 0.71, 0.61]
    result = paired_comparison(ntp, jepa, [0, 1, 2, 3], "eval_accuracy")
    d = np.array(jepa) - np.array(ntp)
    sd = math.sqrt(((d - d.mean()) ** 2).sum() / (len(d) - 1))
    t = d.mean() / (sd / math.sqrt(len(d)))
    assert result.diff_mean == pytest.approx(d.mean())
    assert result.diff_std == pytest.approx(sd)
    assert result.t_statistic == pytest.approx(t)
    assert result.p_value == pytest.approx(stats.t.sf(t, df=len(d) - 1))  # one-sided, JEPA > NTP
    assert result.ntp.std == pytest.approx(np.std(ntp, ddof=1))
    assert "one-sided p" in result.markdown() and "0.6125 ± " in result.markdown()
    worse = paired_comparison(jepa, ntp, [0, 1, 2, 3], "eval_accuracy")
    assert worse.p_value == pytest.approx(1 - result.p_value)


def test_single_seed_has_no_test():
    result = paired_comparison([0.5], [0.6], [0], "eval_accuracy")
    assert math.isnan(result.p_value) and result.diff_mean == pytest.approx(0.1)
    with pytest.raises(ValueError, match="2 NTP, 1 JEPA"):
        paired_comparison([0.5, 0.6], [0.6], [0, 1], "eval_accuracy")
    assert "one-sided p = n/a" in result.markdown()


def test_p_values_print_to_the_digits_each_table_asks_for():
    assert format_p(0.0123456) == "0.0123"  # the study's tables
    assert format_p(0.0123456, digits=2) == "0.012"  # the confirmation table
    assert format_p(0.0123456, digits=4) == "0.01235"  # one comparison
    assert format_p(3.2e-7, digits=2) == "3.2e-07"
    assert format_p(None) == format_p(math.nan) == format_p(np.float64("nan")) == "n/a"


def test_cli_flags_and_set_reach_the_config():
    args = build_parser().parse_args(
        [
            "train",
            "--run-dir",
            "x",
            "--lam",
            "0.5",
            "--k",
            "3",
            "--epochs",
            "4",
            "--set",
            "jepa.stop_grad_code=true",
            "--set",
            "max_new_tokens=20",
            "--set",
            "train_size=none",
        ]
    )
    config = _config_from_args(args)
    assert (config.jepa.lam, config.jepa.k, config.epochs) == (0.5, 3, 4)
    assert config.jepa.stop_grad_code is True and config.max_new_tokens == 20
    assert config.train_size is None
    bad = build_parser().parse_args(["train", "--run-dir", "x", "--set", "nonsense=1"])
    with pytest.raises(InputError, match="unknown field"):
        _config_from_args(bad)


def test_demo_quick_prints_the_table_and_writes_the_report(tmp_path, capsys):
    out = tmp_path / "demo"
    assert (
        main(
            [
                "demo",
                "--quick",
                "--out",
                str(out),
                "--no-progress",
                "--seeds",
                "0",
                "1",
                "--set",
                "hidden_size=32",
                "--set",
                "num_layers=1",
                "--set",
                "vocab_size=300",
            ]
        )
        == 0
    )
    captured = capsys.readouterr()
    printed = captured.out
    assert "| NTP baseline |" in printed and "| LLM-JEPA |" in printed
    # --no-progress: no bars (training, evaluation, saving) and no Trainer log dicts
    for noise in ("{'", "it/s]", "Writing model shards", "evaluate:"):
        assert noise not in captured.out + captured.err, noise
    assert "run 4 of 4: LLM-JEPA seed 1" in printed
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["seeds"] == [0, 1] and len(comparison["ntp_values"]) == 2
    html = (out / "report.html").read_text()
    assert "NTP baseline" in html and "plotly" in html.lower()
    for arm in ("ntp", "jepa"):
        for seed in (0, 1):
            assert (out / f"{arm}-seed{seed}" / "final" / "model.safetensors").is_file()
    records = [json.loads(line) for line in (out / "history.jsonl").read_text().splitlines()]
    assert {(r["arm"], r["seed"]) for r in records} == {
        ("ntp", 0),
        ("jepa", 0),
        ("ntp", 1),
        ("jepa", 1),
    }
    # the eval command reloads a finished run from its directory, with no loading bar either
    assert main(["eval", "--run-dir", str(out / "jepa-seed0"), "--no-progress"]) == 0
    captured = capsys.readouterr()
    assert "eval_accuracy" in captured.out
    assert "%|" not in captured.out + captured.err


def test_run_progress_counts_runs_and_extrapolates_the_time_left(monkeypatch):
    """One line per run and per epoch; the time left is the elapsed time scaled by the share
    of all epochs still to train (hand computation below)."""
    import io

    from jepa_lab.experiments import experiment

    clock = iter([0.0, 10.0, 10.0, 30.0, 30.0])
    monkeypatch.setattr(experiment.time, "perf_counter", lambda: next(clock))
    stream = io.StringIO()
    progress = experiment.RunProgress(runs=2, epochs=2, estimate=99.0, stream=stream)
    progress.start_run("ntp", 0)
    progress.record({"epoch": 1.0, "eval_accuracy": 0.25, "ntp_loss": 1.5})  # 1 of 4 done at 10 s
    progress.start_run("jepa", 0)
    progress.record({"epoch": 1.0, "ntp_loss": 1.0, "jepa_loss": 0.5})  # 3 of 4 done at 30 s
    assert stream.getvalue().splitlines() == [
        "run 1 of 2: NTP baseline seed 0",
        "  epoch 1/2, accuracy 0.250, NTP loss 1.500 | elapsed 0:10, about 0:30 left",
        "run 2 of 2: LLM-JEPA seed 0",
        "  epoch 1/2, NTP loss 1.000, JEPA loss 0.500 | elapsed 0:30, about 0:10 left",
    ]
    assert not progress.live  # a StringIO is no terminal: no in-place line


def test_train_prints_one_readable_line_per_epoch_and_a_comparison_renders_itself():
    """The raw record (ntp_loss_min, grad_norm_max, weight_norm, flops ...) stays in
    history.jsonl; the printed line names four numbers, as the demo does."""
    from jepa_lab.experiments.experiment import in_jupyter
    from jepa_lab.training.trainer import epoch_line

    record = {
        "epoch": 2.0,
        "eval_accuracy": 0.25,
        "ntp_loss": 1.23456,
        "jepa_loss": None,  # the NTP arm
        "eval_ntp_loss": 2.0,
        "ntp_loss_min": 0.9,
        "grad_norm_max": 3.1,
        "weight_norm": 40.0,
        "flops": 1e12,
        "divergence": None,
    }
    assert epoch_line(record) == (
        "epoch 2, accuracy 0.250, NTP loss 1.235, held-out NTP loss 2.000"
    )
    result = paired_comparison([0.5, 0.6], [0.55, 0.62], [0, 1], "eval_accuracy")
    assert result._repr_markdown_() == result.markdown()
    assert not in_jupyter()  # pytest is no kernel: the CLI path keeps printing the table


def test_time_estimate_grows_with_the_work_and_is_none_for_hub_models():
    from jepa_lab.experiments.experiment import estimate_seconds
    from jepa_lab.training.presets import DEMO_SIZES, FULL_DEMO_SIZES, preset

    demo = estimate_seconds(preset("tiny", **DEMO_SIZES), 4)
    assert 0 < demo <= 300  # the demo's promise: within 5 minutes on 2 idle cores
    assert estimate_seconds(preset("tiny", **FULL_DEMO_SIZES), 4) > 3 * demo
    assert estimate_seconds(preset("tiny", **DEMO_SIZES), 8) > demo
    assert estimate_seconds(preset("small", train_size=1000, eval_size=100), 4) > demo
    assert estimate_seconds(preset("llama-1b"), 4) is None
