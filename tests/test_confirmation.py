"""A claim's verdict comes from seeds its choice never saw (jepa_lab.experiments.confirmation):
the pooled interval is computed by hand here, and a screen that looks good cannot rescue a
confirmation that fails."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from jepa_lab.experiments.confirmation import (
    confirm_point,
    confirmation_table,
    confirmations,
    one_sample,
)
from jepa_lab.experiments.study import load_study

ROOT = Path(__file__).resolve().parents[1]


def entry(seeds, ntp, jepa, ntp_loss=None, jepa_loss=None):
    """The fields of a study point that a confirmation reads."""
    e = {
        "seeds": list(seeds),
        "n_seeds": len(seeds),
        "ntp_per_seed": [{"seed": s, "final": v} for s, v in zip(seeds, ntp, strict=True)],
        "jepa_per_seed": [{"seed": s, "final": v} for s, v in zip(seeds, jepa, strict=True)],
        "p_value": 0.5,
    }
    if ntp_loss is not None:
        e["ntp_loss_per_epoch"], e["jepa_loss_per_epoch"] = ntp_loss, jepa_loss
    return e


def test_one_sample_interval_and_p_match_the_textbook_formulas():
    x = [0.03, -0.01, 0.05, 0.02, 0.00, 0.04]
    n, mean, sd = len(x), sum(x) / len(x), float(np.std(x, ddof=1))
    t_crit = stats.t.ppf(0.975, n - 1)
    got = one_sample(x)
    assert got["mean"] == pytest.approx(mean)
    assert got["ci_low"] == pytest.approx(mean - t_crit * sd / math.sqrt(n))
    assert got["ci_high"] == pytest.approx(mean + t_crit * sd / math.sqrt(n))
    # one-sided p from the t statistic by hand
    assert got["p_value"] == pytest.approx(stats.t.sf(mean / (sd / math.sqrt(n)), n - 1))


def test_one_value_or_no_spread_leaves_the_test_undefined():
    assert math.isnan(one_sample([0.1])["p_value"])
    assert math.isnan(one_sample([0.1, 0.1, 0.1])["ci_low"])


def test_a_strong_screen_does_not_rescue_a_failed_confirmation():
    screen = entry(range(8), [0.10] * 8, [0.16, 0.15, 0.17, 0.14, 0.16, 0.15, 0.18, 0.16])
    confirm = entry(range(10, 16), [0.10] * 6, [0.11, 0.09, 0.10, 0.12, 0.08, 0.10])
    c = confirm_point(screen, confirm)["accuracy"]
    assert c["screen"]["p_value"] < 0.001
    assert c["pooled"]["p_value"] < 0.05  # pooled, the screen's luck carries it
    assert c["confirm"]["p_value"] > 0.05 and not c["holds"]  # but the verdict is the fresh one


def test_a_gain_that_replicates_holds_and_keeps_its_direction():
    rng = np.random.default_rng(0)
    screen = entry(range(5), [0.1] * 5, list(0.15 + rng.normal(0, 0.01, 5)))
    confirm = entry(range(5, 15), [0.1] * 10, list(0.14 + rng.normal(0, 0.01, 10)))
    c = confirm_point(screen, confirm)["accuracy"]
    assert c["holds"] and c["same_direction"]
    assert c["pooled"]["n"] == 15
    true_gain = (5 * 0.05 + 10 * 0.04) / 15  # the gains the seeds were drawn around
    assert c["pooled"]["ci_low"] < true_gain < c["pooled"]["ci_high"]


def test_the_loss_rise_is_confirmed_from_the_curves():
    curves = lambda rise: [[1.0, 0.8, 0.8 + r] for r in rise]  # noqa: E731
    screen = entry(range(3), [0.1] * 3, [0.1] * 3, curves([0.2, 0.3, 0.25]), curves([0.1] * 3))
    confirm = entry(
        range(3, 6), [0.1] * 3, [0.1] * 3, curves([0.2, 0.21, 0.22]), curves([0.2, 0.2, 0.2])
    )
    c = confirm_point(screen, confirm)["loss_rise"]
    assert c["screen"]["mean"] == pytest.approx(0.15)  # NTP rises 0.25 on average, JEPA 0.1
    assert c["confirm"]["mean"] == pytest.approx(0.01)


def test_a_confirmation_on_the_screens_own_seeds_is_refused():
    with pytest.raises(ValueError, match=r"reuses the screen's seeds \[3\]"):
        confirm_point(entry([1, 2, 3], [0] * 3, [0] * 3), entry([3, 4], [0] * 2, [0] * 2))


def test_the_recorded_grid_pick_is_judged_by_its_fresh_seeds():
    study = load_study(ROOT / "benchmarks" / "results" / "where_it_helps.json")
    found = confirmations(study)
    grid_pick = found["grid/lam0.5-k4"]["accuracy"]
    assert grid_pick["confirm"]["p_value"] == pytest.approx(
        study["grid_confirm"]["lam0.5-k4"]["p_value"]
    )
    assert grid_pick["holds"] == (study["grid_confirm"]["lam0.5-k4"]["p_value"] < 0.05)
    table = confirmation_table(study)
    assert "| grid/lam0.5-k4 | final accuracy, JEPA - NTP | 0-4 |" in table
