"""compare(): the paired statistics against a hand computation, and the CLI end to end."""

import json
import math

import numpy as np
import pytest
from scipy import stats

from jepa_lab.cli import _config_from_args, build_parser, main
from jepa_lab.experiment import paired_comparison
from jepa_lab.validation import InputError


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
