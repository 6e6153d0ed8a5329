"""report_to reaches the Trainer, and a real TensorBoard event file of a tiny run holds the two
terms, the held-out metrics and the collapse diagnostics, equal to the run's own history."""

import importlib.util
from pathlib import Path

import pytest
from helpers import SMALL_RUN

from jepa_lab.objective.checks import ConfigError
from jepa_lab.training.presets import preset
from jepa_lab.training.train import train

pytest.importorskip("tensorboard")

LOGGING_STEPS = 10  # jepa_lab.training.train.training_arguments logs every 10 steps


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (events,) = run_dir.glob("runs/*/events.out.tfevents.*")
    accumulator = EventAccumulator(str(events))
    accumulator.Reload()
    return {
        tag: [(event.step, event.value) for event in accumulator.Scalars(tag)]
        for tag in accumulator.Tags()["scalars"]
    }


def test_a_tensorboard_event_file_holds_the_terms_and_the_held_out_metrics(tmp_path, monkeypatch):
    monkeypatch.delenv("TENSORBOARD_LOGGING_DIR", raising=False)
    # one epoch of exactly LOGGING_STEPS steps: the step-10 log covers the epoch's steps
    sizes = {**SMALL_RUN, "train_size": LOGGING_STEPS * 8, "batch_size": 8, "epochs": 1}
    config = preset("tiny", **sizes, save_every=0, report_to="tensorboard")
    result = train(config, tmp_path / "run", "jepa", progress=False)
    (record,) = result.history
    found = scalars(tmp_path / "run")
    for term in ("ntp_loss", "jepa_loss"):
        (step, value) = found[f"train/{term}"][-1]
        assert step == LOGGING_STEPS
        assert value == pytest.approx(record[term], rel=1e-5), term
    ((_, loss),) = found["train/loss"]
    assert loss == pytest.approx(record["train_loss"], rel=1e-4)  # the Trainer's own mean
    for key, tag in (
        ("eval_accuracy", "eval/accuracy"),
        ("eval_ntp_loss", "eval/ntp_loss"),
        ("paired_cos", "train/paired_cos"),
        ("eff_rank_code", "train/eff_rank_code"),
    ):
        assert found[tag][-1][1] == pytest.approx(record[key], rel=1e-5, abs=1e-6), tag
    assert (tmp_path / "run" / "history.jsonl").is_file()  # the record resume keeps exact


@pytest.mark.parametrize(
    "value, expected",
    [
        ("tensorbord", r"'none', 'all' or comma-separated names from \[.*'tensorboard'.*\]"),
        ("tensorboard,nonesuch", r"'none', .* names from \[.*\] \('nonesuch' is not one\)"),
        ("", "a non-empty string"),
        pytest.param(
            "clearml",
            r"trackers that are installed \('clearml' is not: pip install clearml\)",
            marks=pytest.mark.skipif(
                importlib.util.find_spec("clearml") is not None, reason="clearml is installed"
            ),
        ),
    ],
)
def test_an_unknown_tracker_fails_naming_the_field_before_the_run_dir(tmp_path, value, expected):
    config = preset("tiny", **SMALL_RUN)
    config.report_to = value
    with pytest.raises(ConfigError, match=rf"TrainConfig.report_to='{value}': expected {expected}"):
        train(config, tmp_path / "run", "jepa", progress=False)
    assert not (tmp_path / "run").exists()
