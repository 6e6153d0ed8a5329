"""The study's findings in words (findings): the README's prose is generated from the
committed JSON, and each sentence follows the numbers it is given, not a fixed story."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from findings import study_findings, study_verdict

from jepa_lab.experiments.study import holm_adjusted, load_study, summarize_point

ROOT = Path(__file__).resolve().parents[1]


def _entry(ntp_finals, jepa_finals, params=5e5, rank=1.8, seeds=None):
    def record(final):
        history = [
            {"eval_accuracy": final + 0.01, "tokens_seen": 100, "eval_ntp_loss": 1.0},
            {
                "eval_accuracy": final,
                "tokens_seen": 200,
                "eval_ntp_loss": 1.2,
                "paired_cos": 0.99,
                "random_cos": 0.99,
                "eff_rank_pred": rank,
            },
        ]
        return {"history": history, "params": params, "cpu_seconds": 1.0}

    seeds = seeds or list(range(len(ntp_finals)))
    return summarize_point([record(v) for v in ntp_finals], [record(v) for v in jepa_finals], seeds)


NTP = [0.20, 0.15, 0.18, 0.22, 0.17]


def _shifted(gains):
    return [n + g for n, g in zip(NTP, gains, strict=True)]


def _flat(text: str) -> str:
    return " ".join(text.split())


def test_the_readme_prose_is_the_findings_of_the_committed_json():
    recorded = load_study(ROOT / "benchmarks" / "results" / "where_it_helps.json")
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    assert study_findings(recorded) in readme, (
        "benchmarks/README.md's 'What the curve shows' is not study_findings() of the JSON: "
        "regenerate it (benchmarks/README.md says how)"
    )


def test_a_significant_point_is_named_with_its_holm_verdict():
    strong = _entry(NTP, _shifted([0.05, 0.06, 0.05, 0.055, 0.06]))
    text = _flat(study_findings({"overfit": {"overfit-250-base": strong}}))
    # a screen alone is never called a finding
    assert text.startswith("* **On its screen seeds one regime is significantly above NTP (not yet")
    assert f"gains {strong['diff_mean']:+.3f} held-out accuracy" in text
    assert "Holm's correction over the overfit table's 1 point as well" in text
    # the same point among five null ones no longer survives the family's correction
    null = _entry(NTP, _shifted([0.02, -0.02, 0.01, -0.01, 0.0]))
    weak = _entry(NTP, _shifted([0.03, 0.0, 0.04, 0.01, 0.03]))
    overfit = {"overfit-250-base": weak, **{f"x{i}": null for i in range(5)}}
    adjusted = holm_adjusted([e["p_value"] for e in overfit.values()])[0]
    assert weak["p_value"] < 0.05 <= adjusted
    assert f"Holm's adjusted p is {adjusted:.2g}" in _flat(study_findings({"overfit": overfit}))
    # and a point that misses p < 0.05 is not called significant
    text = study_findings({"overfit": {"overfit-250-base": null}})
    assert text.startswith("* **No regime clears p < 0.05 over 5 seeds")


def test_the_base_bullet_says_shrinks_only_when_the_gain_shrinks():
    gains = {"tiny": 0.05, "mini": 0.03, "small": 0.01}

    def base(order):
        return {
            size: _entry(NTP, _shifted([g - 0.002, g + 0.002, g, g - 0.001, g + 0.001]), params=p)
            for (size, p), g in zip(
                (("tiny", 5e5), ("mini", 1.6e6), ("small", 3.7e6)), order, strict=True
            )
        }

    shrinking = _flat(study_findings({"base": base(gains.values())}))
    assert "does not make the gain larger; it shrinks.**" in shrinking
    assert "the mini base (1.6M) +0.030" in shrinking
    growing = _flat(study_findings({"base": base(reversed(list(gains.values())))}))
    assert "does not make the gain larger.**" in growing and "shrinks" not in growing


def test_the_grid_bullet_reads_the_seeds_and_the_first_seed_screen():
    def pair(seed0_gain, later_gain):
        return _entry(NTP[:3], _shifted([seed0_gain, later_gain, later_gain] + [0, 0])[:3])

    grid = {
        "point": "overfit-250-base",
        "lam1-k0": pair(-0.01, -0.02),
        "lam1-k1": pair(0.02, 0.06),
        "lam2-k0": pair(0.10, -0.06),  # first on seed 0 alone, not over three seeds
        "lam2-k1": pair(0.01, 0.04),
    }
    text = _flat(study_findings({"grid": grid}))
    assert "3 seeds per pair" in text and "2 of 4 (lam, k) pairs have a positive" in text
    by_k0 = np.mean([grid["lam1-k0"]["diff_mean"], grid["lam2-k0"]["diff_mean"]])
    assert f"k = 0 / 1 give {by_k0:+.3f}" in text
    assert "Seed 0 alone ranked `lam2-k0` first (+0.100)" in text
    assert f"over 3 seeds it gives {grid['lam2-k0']['diff_mean']:+.3f}" in text
    assert "and `lam1-k1` is first; one seed overstated it." in text


def test_the_rates_bullet_compares_each_arm_at_its_own_best_rate():
    at_preset = _entry(NTP, _shifted([0.05, 0.06, 0.05, 0.055, 0.06]))  # JEPA best here
    tuned_ntp = [v + 0.06 for v in NTP]  # NTP at 2x catches up with JEPA at 1x
    grid = {
        "lam1-k1": at_preset,
        "lr2x": _entry(tuned_ntp, [v - 0.02 for v in tuned_ntp]),
        "lr0.5x": _entry([v - 0.05 for v in NTP], [v - 0.05 for v in NTP]),
    }
    text = _flat(study_findings({"grid": grid}))
    assert (
        "**Against NTP at its own best learning rate, the default pair's gain does not hold.**"
        in text
    )
    assert "0.5 / 1 / 2x the preset's rate" in text
    assert f"NTP is best at 2x ({np.mean(tuned_ntp):.3f}), JEPA at 1x" in text
    expected = at_preset["jepa_mean"] - np.mean(tuned_ntp)
    assert f"paired by seed: {expected:+.3f}" in text
    grid["lr2x"] = _entry(NTP, NTP)  # NTP is best at the preset's rate: the gain holds
    assert "the default pair's gain holds.**" in _flat(study_findings({"grid": grid}))


def test_missing_parts_leave_their_bullets_out():
    assert study_findings({}) == ""
    scale = {"tiny": _entry(NTP, _shifted([0.0, 0.01, -0.01, 0.0, 0.005]))}
    text = study_findings({"scale": scale})
    assert text.count("\n* ") == 0 and text.startswith("* **Scale, from scratch")
    assert "no gain beyond the seed spread" in text


def test_update_readme_rewrites_stale_tables_and_findings_from_the_json(tmp_path):
    import importlib.util
    import json

    spec = importlib.util.spec_from_file_location(
        "where_it_helps", ROOT / "benchmarks" / "where_it_helps.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    readme = (ROOT / "benchmarks" / "README.md").read_text(encoding="utf-8")
    recorded = json.loads((ROOT / "benchmarks" / "results" / "where_it_helps.json").read_text())
    stale = readme.replace("<!-- findings -->\n", "<!-- findings -->\n* an old sentence\n", 1)
    stale = stale.replace("| overfit-250-base |", "| a stale row |", 1)
    assert stale != readme
    copy = tmp_path / "README.md"
    copy.write_text(stale, encoding="utf-8")
    module.update_readme(copy, recorded)
    assert copy.read_text(encoding="utf-8") == readme
    copy.write_text("no markers here\n", encoding="utf-8")
    with pytest.raises(SystemExit, match="no '<!-- findings -->' or '<!-- verdict -->'"):
        module.update_readme(copy, recorded)


def test_the_confirmation_bullet_says_whether_the_pick_holds_on_fresh_seeds():
    picked = _entry(NTP, _shifted([0.09, 0.1, 0.11, 0.1, 0.1]))
    grid = {"point": "p", "lam0.5-k4": picked, "lam1-k1": _entry(NTP, _shifted([0.0] * 5))}
    fresh_seeds = [5, 6, 7, 8, 9]
    holds = _entry(NTP, _shifted([0.05, 0.04, 0.06, 0.05, 0.045]), seeds=fresh_seeds)
    text = _flat(study_findings({"grid": grid, "grid_confirm": {"lam0.5-k4": holds}}))
    assert (
        "The grid's best pair on fresh seeds, against NTP at the preset's rate: the gain holds.**"
        in text
    )
    assert "on seeds 5, 6, 7, 8, 9, which the pick never saw" in text
    assert f"{holds['diff_mean']:+.3f} (p = {holds['p_value']:.2g};" in text
    fails = _entry(NTP, _shifted([0.02, -0.03, 0.01, -0.02, 0.0]), seeds=fresh_seeds)
    text = _flat(study_findings({"grid": grid, "grid_confirm": {"lam0.5-k4": fails}}))
    assert "the gain is smaller and not significant.**" in text and "JEPA ahead in 2 of 5" in text
    # against a tuned NTP baseline (the section records the NTP rate), the heading says so
    tuned = {"ntp_lr_factor": 2.0, "lam0.5-k4": holds}
    text = _flat(study_findings({"grid": grid, "grid_confirm_tuned": tuned}))
    assert "on fresh seeds, against NTP at 2x the rate: the gain holds.**" in text


def _screen_and_fresh(fresh_gains):
    screen = _entry(NTP + NTP[:3], _shifted([0.05, 0.04, 0.06, 0.03, 0.05]) + [0.25, 0.19, 0.2])
    fresh_seeds = list(range(10, 15))
    fresh = _entry(NTP, _shifted(fresh_gains), seeds=fresh_seeds)
    return {"overfit": {"overfit-250-base": screen}, "overfit_confirm": {"overfit-250-base": fresh}}


def test_the_verdict_is_the_fresh_seeds_not_the_screen():
    study = _screen_and_fresh([0.02, -0.01, 0.01, 0.0, 0.015])  # small, same sign, not significant
    text = _flat(study_findings(study))
    assert text.startswith(
        "* **No CPU-scale setting shows a gain that survives fresh seeds; the direction is "
        "consistent and small.**"
    )
    assert "base, does not replicate.**" in text  # the screen's bullet says so too
    assert "on 5 fresh seeds (10-14); pooled over all 13 seeds" in text
    held = _flat(study_findings(_screen_and_fresh([0.05, 0.045, 0.06, 0.05, 0.055])))
    assert held.startswith(
        "* **On fresh seeds, 1 of the 1 claims hold: `overfit-250-base`'s held-out"
    )
    assert "base, holds on fresh seeds.**" in held


def test_a_trend_must_show_on_fresh_seeds_too():
    base = {
        "tiny": _entry(NTP, _shifted([0.05] * 4 + [0.06])),
        "mini": _entry(NTP, _shifted([0.02] * 4 + [0.03])),
    }
    fresh = {
        "tiny": _entry(NTP, _shifted([0.01] * 4 + [0.02]), seeds=[10, 11, 12, 13, 14]),
        "mini": _entry(NTP, _shifted([0.03] * 4 + [0.04]), seeds=[10, 11, 12, 13, 14]),
    }
    assert "; it shrinks" in study_findings({"base": base})
    text = _flat(study_findings({"base": base, "base_confirm": fresh}))
    assert "; it shrinks" not in text and "so the trend does not replicate" in text


def test_the_readme_verdict_is_generated_from_the_committed_json():
    recorded = load_study(ROOT / "benchmarks" / "results" / "where_it_helps.json")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    block = readme.split("<!-- verdict -->\n", 1)[1].split("\n<!-- /verdict -->", 1)[0]
    assert block == study_verdict(recorded), (
        "README.md's verdict is not study_verdict() of the committed JSON: regenerate it with "
        "benchmarks/where_it_helps.py --reuse-only --json benchmarks/results/where_it_helps.json "
        "--update-readme README.md"
    )


def test_the_demos_closing_line_agrees_with_the_verdict():
    """`jepa-lab demo` ends with one sentence on what the study found; it must say what the
    fresh seeds say: a small gain from the base (when that claim holds and is small), else none."""
    from findings import SMALL_GAIN, _claims

    from jepa_lab.experiments.report import BENCHMARKS_POINTER

    recorded = load_study(ROOT / "benchmarks" / "results" / "where_it_helps.json")
    held = {label: c[m] for label, c, m in _claims(recorded) if m == "accuracy" and c[m]["holds"]}
    base_gain = held.get("`overfit-250-base`'s held-out accuracy gain")
    if base_gain is not None and abs(base_gain["pooled"]["mean"]) < SMALL_GAIN:
        assert "gains a small amount" in BENCHMARKS_POINTER
        assert "pretrained tiny base on 250 pairs" in BENCHMARKS_POINTER
    elif not held:
        assert "no setting" in BENCHMARKS_POINTER or "nothing" in BENCHMARKS_POINTER
    assert "nothing from scratch" in BENCHMARKS_POINTER  # the scale part never gains
    scale = recorded["scale"]
    assert all(e["p_value"] >= 0.05 for e in scale.values() if isinstance(e, dict))
