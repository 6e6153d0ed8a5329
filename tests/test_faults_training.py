"""Fault injection for training, through train(), compare() and the CLI: what --overwrite may
delete, damaged run.json, NaN and divergence guards, history records a kill used to lose,
damaged checkpoints, and the warm-up schedule.

A "kill" is an exception raised from a TrainerCallback at the chosen moment (files on disk are
then what a SIGKILL would leave; tests/test_train.py has the real SIGKILL run). Every run uses
the tiny preset at toy sizes: 6 optimizer steps per epoch, 2 epochs.
"""

from __future__ import annotations

import json
import math
import shutil
import warnings
from pathlib import Path

import pytest
import torch
from helpers import SMALL_RUN
from safetensors.torch import load_file, save_file
from transformers import TrainerCallback

from jepa_lab.cli import main
from jepa_lab.experiments.experiment import compare
from jepa_lab.training.history import History
from jepa_lab.training.presets import preset
from jepa_lab.training.train import (
    NonFiniteLossError,
    RunDirectoryError,
    last_complete_checkpoint,
    train,
    warmup_steps,
)

SMALL = dict(
    **SMALL_RUN,
    data_source="generated",
    save_every=2,  # checkpoints at steps 2, 4, ..., 12; epochs end at steps 6 and 12
)
CLI_SIZES = [
    "--preset",
    "tiny",
    "--train-size",
    "48",
    "--eval-size",
    "8",
    "--epochs",
    "2",
    "--batch-size",
    "8",
    "--no-progress",
    *("--set", "hidden_size=32", "--set", "num_layers=1", "--set", "num_heads=2"),
    *("--set", "vocab_size=300", "--set", "max_new_tokens=12"),
    *("--set", "data_source=generated"),
]
# what an epoch record says about training, and what evaluation adds
TRAIN_KEYS = ("step", "train_loss", "ntp_loss", "jepa_loss", "jepa_steps", "tokens_seen")
EVAL_KEYS = ("eval_accuracy", "eval_ntp_loss", "eval_jepa_loss", "paired_cos")


def small_config(**overrides):
    return preset("tiny", **{**SMALL, **overrides})


class Killed(BaseException):
    """Stands in for SIGKILL: nothing in jepa-lab or the Trainer catches it."""


class KillAtStep(TrainerCallback):
    """Die as step ``step`` begins (its checkpoint, if any, was written at the step before)."""

    def __init__(self, step: int):
        self.step = step

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Killed(f"killed before step {self.step}")


class KillAtEpochEnd(TrainerCallback):
    """Die when epoch ``epoch`` ends: after its boundary checkpoint, before its evaluation."""

    def __init__(self, epoch: int):
        self.epoch = epoch

    def on_epoch_end(self, args, state, control, **kwargs):
        if round(state.epoch) == self.epoch:
            raise Killed(f"killed at the end of epoch {self.epoch}")


class PoisonWeights(TrainerCallback):
    """Fill the first weight with NaN right after the update of step ``step``."""

    def __init__(self, step: int):
        self.step = step

    def on_step_end(self, args, state, control, model=None, **kwargs):
        if state.global_step == self.step:
            with torch.no_grad():
                next(model.parameters()).fill_(float("nan"))


def final_weights(run_dir: Path) -> dict[str, torch.Tensor]:
    return load_file(str(run_dir / "final" / "model.safetensors"))


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)


def assert_same_records(got: list[dict], want: list[dict], keys=TRAIN_KEYS + EVAL_KEYS) -> None:
    assert [r["epoch"] for r in got] == [r["epoch"] for r in want]
    for g, w in zip(got, want, strict=True):
        for key in keys:
            if isinstance(w[key], float):
                assert g[key] == pytest.approx(w[key], rel=1e-5), (g["epoch"], key)
            else:
                assert g[key] == w[key], (g["epoch"], key)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The uninterrupted run every interrupted one must end up equal to."""
    run_dir = tmp_path_factory.mktemp("reference") / "run"
    result = train(small_config(), run_dir, "jepa", progress=False)
    return run_dir, result.history


@pytest.fixture(scope="module")
def killed_late(tmp_path_factory):
    """A run killed before step 11: complete checkpoints 8 and 10 (epoch 2 is under way)."""
    run_dir = tmp_path_factory.mktemp("killed") / "run"
    with pytest.raises(Killed):
        train(small_config(), run_dir, "jepa", progress=False, callbacks=[KillAtStep(11)])
    return run_dir


# ---------------------------------------------------------------------- 1. --overwrite
def test_healthy_reference_run_is_complete_finite_and_not_flagged(reference):
    run_dir, history = reference
    assert [r["epoch"] for r in history] == [1.0, 2.0]
    assert all(r["divergence"] is None and not r.get("stopped") for r in history)
    assert all(0 < r["grad_norm_max"] and 0 < r["weight_norm"] for r in history)
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["final"] == "final"
    assert summary["epochs_recorded"] == [1.0, 2.0]
    assert all(torch.isfinite(w).all() for w in final_weights(run_dir).values())
    # rotation keeps the two newest complete checkpoints, nothing half-written
    assert sorted(p.name for p in run_dir.glob("checkpoint-*")) == [
        "checkpoint-10",
        "checkpoint-12",
    ]


def test_overwrite_replaces_only_jepa_labs_files(tmp_path):
    run_dir = tmp_path / "run"
    train(small_config(epochs=1), run_dir, "jepa", progress=False)
    (run_dir / "notes.txt").write_text("my notes")
    (run_dir / "my_analysis.ipynb").write_text("{}")
    (run_dir / "plots").mkdir()
    (run_dir / "plots" / "fig.png").write_bytes(b"png")
    assert (run_dir / "checkpoint-6").is_dir()
    result = train(
        small_config(epochs=1, save_every=None), run_dir, "ntp", overwrite=True, progress=False
    )
    assert (run_dir / "notes.txt").read_text() == "my notes"
    assert (run_dir / "my_analysis.ipynb").read_text() == "{}"
    assert (run_dir / "plots" / "fig.png").read_bytes() == b"png"
    assert not (run_dir / "checkpoint-2").exists()  # the old run's checkpoints are gone
    assert json.loads((run_dir / "run.json").read_text())["arm"] == "ntp"
    assert [(r["arm"], r["epoch"]) for r in result.history] == [("ntp", 1.0)]


def test_overwrite_refuses_a_directory_that_holds_no_run(tmp_path, capsys):
    folder = tmp_path / "home"
    folder.mkdir()
    (folder / "notes.txt").write_text("precious")
    with pytest.raises(RunDirectoryError, match=r"holds no jepa-lab run \(no run.json\)"):
        train(small_config(), folder, "jepa", overwrite=True, progress=False)
    with pytest.raises(SystemExit, match="holds no jepa-lab run.*only replaces a jepa-lab run"):
        main(["train", "--run-dir", str(folder), "--overwrite", *CLI_SIZES])
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]
    assert (folder / "notes.txt").read_text() == "precious"


@pytest.mark.parametrize("damage", ["truncated", "empty"])
def test_damaged_run_json_is_named_and_can_be_overwritten(tmp_path, damage):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    record = json.dumps({"arm": "jepa", "config": small_config().to_dict()})
    (run_dir / "run.json").write_text(record[: len(record) // 2] if damage == "truncated" else "")
    (run_dir / "history.jsonl").write_text('{"epoch": 1.0}\n')
    (run_dir / "notes.txt").write_text("mine")
    for resume in (False, True):
        with pytest.raises(RunDirectoryError) as err:
            train(small_config(), run_dir, "jepa", resume=resume, progress=False)
        message = str(err.value)
        assert str(run_dir / "run.json") in message and "not valid JSON" in message
        assert "--overwrite" in message
    result = train(small_config(epochs=1), run_dir, "jepa", overwrite=True, progress=False)
    assert [r["epoch"] for r in result.history] == [1.0]  # the stale record is gone
    assert (run_dir / "notes.txt").read_text() == "mine"
    assert json.loads((run_dir / "run.json").read_text())["config"]["epochs"] == 1


def test_a_foreign_run_json_is_not_overwritten(tmp_path):
    folder = tmp_path / "other-tool"
    folder.mkdir()
    (folder / "run.json").write_text('{"experiment": "not jepa-lab"}')
    with pytest.raises(RunDirectoryError, match="not a jepa-lab run record"):
        train(small_config(), folder, "jepa", overwrite=True, progress=False)
    assert (folder / "run.json").read_text() == '{"experiment": "not jepa-lab"}'


def test_compare_refuses_an_out_dir_without_a_comparison(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "history.jsonl").write_text("my own history\n")
    with pytest.raises(RunDirectoryError, match="holds no jepa-lab comparison"):
        compare(small_config(), seeds=[0], out_dir=out, overwrite=True, progress=False)
    assert (out / "history.jsonl").read_text() == "my own history\n"
    assert sorted(p.name for p in out.iterdir()) == ["history.jsonl"]


# ---------------------------------------------------------------------- 3. NaN and divergence
def test_lr_1e6_stops_as_diverged_and_the_cli_exits_non_zero(tmp_path, capsys):
    run_dir = tmp_path / "run"
    code = main(
        ["train", "--run-dir", str(run_dir), "--lr", "1e6", "--save-every", "1", *CLI_SIZES]
    )
    assert code == 3
    err = capsys.readouterr().err
    assert "the run stopped (diverged)" in err and "times its start value" in err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "diverged" and summary["final"] is None
    history = History(run_dir / "history.jsonl").read()
    assert history and history[-1]["stopped"].startswith("diverged: step 2")
    assert not (run_dir / "final").exists()
    # the weights on disk stayed sane: only the checkpoint before the blow-up, finite
    good = last_complete_checkpoint(run_dir)
    assert sorted(p.name for p in run_dir.glob("checkpoint-*")) == ["checkpoint-1"]
    weights = load_file(str(good / "model.safetensors"))
    norm = math.sqrt(sum(float(w.float().pow(2).sum()) for w in weights.values()))
    assert all(torch.isfinite(w).all() for w in weights.values()) and norm < 1e3


def test_compare_with_a_diverging_arm_exits_non_zero_naming_the_run(tmp_path, capsys):
    out = tmp_path / "compare"
    code = main(["compare", "--out", str(out), "--seeds", "0", "--lr", "1e6", *CLI_SIZES])
    assert code == 3
    err = capsys.readouterr().err
    assert "jepa-lab compare: the run stopped (diverged): step 2: the weights diverged" in err
    assert not (out / "comparison.json").exists()  # no table from a run that failed
    summary = json.loads((out / "ntp-seed0" / "summary.json").read_text())
    assert summary["status"] == "diverged"


def test_nan_weights_stop_the_run_and_resume_from_the_last_finite_checkpoint(tmp_path, reference):
    run_dir = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"step 3: the weights became non-finite") as err:
        train(small_config(), run_dir, "jepa", progress=False, callbacks=[PoisonWeights(3)])
    assert f"The last good checkpoint is {run_dir / 'checkpoint-2'}" in str(err.value)
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "non_finite"
    result = train(small_config(), run_dir, "jepa", resume=True, progress=False)
    assert all(torch.isfinite(w).all() for w in final_weights(run_dir).values())
    assert_same_weights(final_weights(run_dir), final_weights(reference[0]))
    assert [r["epoch"] for r in result.history] == [1.0, 2.0]  # the stopped record is gone
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "finished"


def test_a_checkpoint_with_nan_weights_is_never_marked_complete_nor_rotates_the_good_ones(
    tmp_path, monkeypatch
):
    # Blind the per-step weight check so NaN weights reach a save: the save must catch them.
    monkeypatch.setattr("jepa_lab.training.trainer.trainable_weight_norm", lambda jm: 1.0)
    run_dir = tmp_path / "run"
    with pytest.raises(NonFiniteLossError, match=r"checkpoint-6 is not marked complete") as err:
        train(small_config(), run_dir, "jepa", progress=False, callbacks=[PoisonWeights(6)])
    assert "holds NaN or infinite values" in str(err.value)
    assert f"The last good checkpoint is {run_dir / 'checkpoint-4'}" in str(err.value)
    assert not (run_dir / "checkpoint-6" / "COMPLETE").exists()
    complete = sorted(p.parent.name for p in run_dir.glob("checkpoint-*/COMPLETE"))
    assert complete == ["checkpoint-2", "checkpoint-4"]  # both kept: 6 did not count
    for name in complete:
        weights = load_file(str(run_dir / name / "model.safetensors"))
        assert all(torch.isfinite(w).all() for w in weights.values()), name


def test_a_loss_stuck_at_ln_v_is_flagged_and_the_cli_exits_non_zero(tmp_path, capsys):
    run_dir = tmp_path / "run"
    sizes = CLI_SIZES + ["--batch-size", "4"]  # 2 x 12 updates: past STUCK_AFTER_STEPS = 20
    code = main(["train", "--run-dir", str(run_dir), "--lr", "1e-9", *sizes])
    assert code == 3
    err = capsys.readouterr().err
    vocab = json.loads((run_dir / "final" / "config.json").read_text())["vocab_size"]
    assert "the run is flagged" in err and f"ln V = {math.log(vocab):.4g} (V = {vocab})" in err
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["status"] == "flagged" and summary["final"] == "final"
    history = History(run_dir / "history.jsonl").read()
    assert [r["epoch"] for r in history] == [1.0, 2.0]
    assert history[0]["divergence"] is None  # 12 updates: too early to call it stuck
    assert "uniform-output value" in history[1]["divergence"]
    assert history[1]["ntp_loss_min"] >= 0.98 * math.log(vocab)


# ---------------------------------------------------------------------- 4. history records
def test_kill_between_the_last_checkpoint_and_its_evaluation_loses_no_record(tmp_path, reference):
    run_dir = tmp_path / "run"
    with pytest.raises(Killed):
        train(small_config(), run_dir, "jepa", progress=False, callbacks=[KillAtEpochEnd(2)])
    assert last_complete_checkpoint(run_dir).name == "checkpoint-12"
    assert [r["epoch"] for r in History(run_dir / "history.jsonl").read()] == [1.0]
    result = train(small_config(), run_dir, "jepa", resume=True, progress=False)
    assert_same_records(result.history, reference[1])
    assert result.history[1]["evaluated_on_resume"] is True
    assert_same_weights(final_weights(run_dir), final_weights(reference[0]))


def test_compare_after_a_kill_before_the_final_evaluation_reports_the_final_epoch(
    tmp_path, reference
):
    out = tmp_path / "compare"
    config = small_config(epochs=1)
    with pytest.raises(Killed):
        train(config, out / "jepa-seed0", "jepa", progress=False, callbacks=[KillAtEpochEnd(1)])
    assert History(out / "jepa-seed0" / "history.jsonl").read() == []
    comparison = compare(
        config,
        seeds=[0],
        out_dir=out,
        metric="eval_ntp_loss",
        resume=True,
        progress=False,
        report=False,
    )
    straight = train(config, tmp_path / "straight", "jepa", progress=False).history
    assert comparison.per_epoch["jepa"][0] == pytest.approx([straight[0]["eval_ntp_loss"]])
    assert comparison.jepa.values == pytest.approx([straight[0]["eval_ntp_loss"]])


def test_mid_epoch_resume_keeps_the_whole_epochs_running_sums(tmp_path, reference, killed_late):
    run_dir = tmp_path / "run"
    shutil.copytree(killed_late, run_dir)
    assert last_complete_checkpoint(run_dir).name == "checkpoint-10"
    result = train(small_config(), run_dir, "jepa", resume=True, progress=False)
    # epoch 2 = steps 7..12; checkpoint-10 carried the sums of steps 7..10
    assert_same_records(result.history, reference[1])
    assert result.history[1]["resume"] == {"from": "checkpoint-10", "rejected": []}
    assert_same_weights(final_weights(run_dir), final_weights(reference[0]))


# ---------------------------------------------------------------------- 5. damaged checkpoints
def _truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _fill_nan(path: Path) -> None:
    weights = load_file(str(path))
    save_file({k: torch.full_like(v, float("nan")) for k, v in weights.items()}, str(path))


DAMAGE = {
    "truncated safetensors": ("model.safetensors", _truncate),
    "truncated optimizer": ("optimizer.pt", _truncate),
    "truncated trainer_state": ("trainer_state.json", _truncate),
    "empty safetensors": ("model.safetensors", lambda p: p.write_bytes(b"")),
    "nan in the weights": ("model.safetensors", lambda p: _fill_nan(p)),
}


# the first three run by default; the rest repeat the fallback with other damage (slow)
@pytest.mark.parametrize(
    "case",
    [c if i < 3 else pytest.param(c, marks=pytest.mark.slow) for i, c in enumerate(DAMAGE)],
)
def test_a_damaged_newest_checkpoint_falls_back_with_a_warning_naming_the_file(
    tmp_path, reference, killed_late, case
):
    name, damage = DAMAGE[case]
    run_dir = tmp_path / "run"
    shutil.copytree(killed_late, run_dir)
    bad = run_dir / "checkpoint-10" / name
    damage(bad)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = train(small_config(), run_dir, "jepa", resume=True, progress=False)
    messages = [str(w.message) for w in caught]
    assert any(str(bad) in m and "falling back" in m for m in messages), messages
    note = result.history[1]["resume"]
    assert note["from"] == "checkpoint-8"
    assert [(r["checkpoint"], r["file"]) for r in note["rejected"]] == [("checkpoint-10", str(bad))]
    assert_same_records(result.history, reference[1])
    assert_same_weights(final_weights(run_dir), final_weights(reference[0]))


# ---------------------------------------------------------------------- 9. warm-up
def hand_schedule(kind: str, lr: float, ratio: float, total: int) -> list[float]:
    """transformers' linear and cosine schedules with warm-up, written out."""
    warm = math.ceil(ratio * total)
    out = []
    for step in range(total):
        if step < warm:
            out.append(lr * step / warm)
        elif kind == "linear":
            out.append(lr * (total - step) / (total - warm))
        else:
            progress = (step - warm) / (total - warm)
            out.append(lr * 0.5 * (1.0 + math.cos(math.pi * progress)))
    return out


class RecordLR(TrainerCallback):
    def __init__(self):
        self.lrs: list[float] = []

    def on_pre_optimizer_step(self, args, state, control, optimizer=None, **kwargs):
        self.lrs.append(optimizer.param_groups[0]["lr"])


@pytest.mark.parametrize(
    ("kind", "ratio"),
    [("linear", 1.0), ("cosine", 0.5), pytest.param("linear", 0.2, marks=pytest.mark.slow)],
)
def test_warmup_ratio_is_a_ratio_of_the_run(tmp_path, kind, ratio):
    config = small_config(epochs=1, eval_size=0, scheduler=kind, warmup_ratio=ratio, lr=1e-3)
    lrs = RecordLR()
    train(config, tmp_path / "run", "ntp", progress=False, callbacks=[lrs])
    assert lrs.lrs == pytest.approx(hand_schedule(kind, 1e-3, ratio, 6), abs=1e-12)
    if ratio == 1.0:  # the whole run warms up: the rate only ever rises
        assert lrs.lrs == sorted(lrs.lrs) and lrs.lrs[-1] == pytest.approx(1e-3 * 5 / 6)


def test_warmup_steps_rounds_up_and_rejects_ratios_outside_0_1():
    assert [warmup_steps(r, 12) for r in (0.0, 0.05, 0.5, 1.0)] == [0, 1, 6, 12]
    with pytest.raises(ValueError, match=r"warmup_ratio.*\[0, 1\], got 1.5"):
        warmup_steps(1.5, 12)


def test_compare_with_an_arm_stuck_at_ln_v_names_it_and_exits_non_zero(tmp_path, capsys):
    """Both arms finish, but at lr 1e-9 neither learns: compare reports the flagged runs in its
    result, in comparison.json and on stderr, and exits 3 as train does, instead of presenting
    a verdict between two models that learned nothing."""
    out = tmp_path / "compare"
    sizes = CLI_SIZES + ["--batch-size", "4"]  # 2 x 12 updates: past STUCK_AFTER_STEPS = 20
    code = main(["compare", "--out", str(out), "--seeds", "0", "--lr", "1e-9", *sizes])
    assert code == 3
    captured = capsys.readouterr()
    assert "jepa-lab compare: flagged: ntp seed 0: epoch 2: the NTP loss never fell" in captured.err
    assert "; jepa seed 0: epoch 2: the NTP loss never fell" in captured.err
    assert "flagged: jepa seed 0: epoch 2: the NTP loss never fell" in captured.out
    saved = json.loads((out / "comparison.json").read_text())
    assert [f.split(":")[0] for f in saved["flagged"]] == ["ntp seed 0", "jepa seed 0"]
