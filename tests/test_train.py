"""Training: reproducible seeds, identical arms, resume after SIGKILL, NaN stop, run-dir safety,
and data-parallel training equal to one process."""

import json
import math
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import torch
from helpers import SMALL_RUN
from safetensors.torch import load_file

from jepa_lab.objective.losses import jepa_dropped
from jepa_lab.training.build import build_jepa_model, load_examples
from jepa_lab.training.history import History
from jepa_lab.training.presets import preset
from jepa_lab.training.train import (
    NonFiniteLossError,
    RunDirectoryError,
    last_complete_checkpoint,
    prepare_run_dir,
    train,
)

REPO = Path(__file__).resolve().parents[1]
SMALL = SMALL_RUN


def small_config(**overrides):
    return preset("tiny", **{**SMALL, **overrides})


def run_script(
    tmp_path: Path, body: str, *launcher: str, env_extra=None
) -> subprocess.CompletedProcess:
    script = tmp_path / f"script_{abs(hash(body)) % 10**8}.py"
    script.write_text(textwrap.dedent(body))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), **(env_extra or {})}
    return subprocess.run(
        [*(launcher or (sys.executable,)), str(script)],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def test_same_seed_same_losses_and_arms_start_identical(tmp_path):
    config = small_config(epochs=1)
    a = train(config, tmp_path / "a", "jepa", progress=False)
    b = train(config, tmp_path / "b", "jepa", progress=False)
    keys = ("train_loss", "ntp_loss", "jepa_loss", "eval_ntp_loss")
    assert [[r[k] for k in keys] for r in a.history] == [[r[k] for k in keys] for r in b.history]
    data = load_examples(config)
    ntp = build_jepa_model(config.with_arm("ntp"), data[0]).state_dict()
    jepa = build_jepa_model(config.with_arm("jepa"), data[0]).state_dict()
    assert ntp.keys() == jepa.keys() and all(torch.equal(ntp[k], jepa[k]) for k in ntp)
    other_seed = build_jepa_model(small_config(seed=1), data[0]).state_dict()
    assert not all(torch.equal(ntp[k], other_seed[k]) for k in ntp)


def test_history_and_checkpoint_contents(tmp_path):
    result = train(small_config(), tmp_path / "run", "jepa", progress=False)
    history = result.history
    assert [r["epoch"] for r in history] == [1.0, 2.0]
    for record in history:
        for key in (
            "train_loss",
            "ntp_loss",
            "jepa_loss",
            "eval_accuracy",
            "eval_exact",
            "eval_stop_rate",
            "tokens_seen",
            "flops",
            "wall_time",
            "paired_cos",
            "random_cos",
            "eff_rank_code",
        ):
            assert record[key] is not None and math.isfinite(record[key]), key
        assert record["train_loss"] == pytest.approx(record["ntp_loss"] + record["jepa_loss"])
    assert history[1]["tokens_seen"] == 2 * history[0]["tokens_seen"]
    final = tmp_path / "run" / "final"
    assert (final / "model.safetensors").is_file() and (final / "jepa_config.json").is_file()
    assert not list((tmp_path / "run").glob("**/*.bin")) or all(
        p.name == "training_args.bin" or p.suffix != ".bin"
        for p in (tmp_path / "run").glob("**/*.bin")
    )
    assert last_complete_checkpoint(tmp_path / "run").name == "checkpoint-12"


def test_loss_dropout_skips_the_steps_the_seeded_rule_names(tmp_path):
    config = small_config(epochs=1, jepa={"loss_dropout": 0.5, "seed": 7})
    result = train(config, tmp_path / "run", "jepa", progress=False)
    expected = sum(not jepa_dropped(step, 0.5, seed=7) for step in range(6))
    assert result.history[0]["jepa_steps"] == expected
    assert 0 < expected < 6


def test_ntp_arm_has_no_jepa_term(tmp_path):
    result = train(small_config(epochs=1), tmp_path / "run", "ntp", progress=False)
    assert result.history[0]["jepa_loss"] is None and result.history[0]["jepa_steps"] == 0
    assert result.jepa_model.config.lam == 0


def test_run_directory_is_never_silently_overwritten(tmp_path):
    identity = {"arm": "jepa", "config": {"lr": 1}}
    prepare_run_dir(tmp_path / "r", identity, resume=False, overwrite=False)
    with pytest.raises(RunDirectoryError, match="--resume.*--overwrite"):
        prepare_run_dir(tmp_path / "r", identity, resume=False, overwrite=False)
    with pytest.raises(RunDirectoryError, match=r"differs in \['config.lr'\]"):
        prepare_run_dir(tmp_path / "r", {"arm": "jepa", "config": {"lr": 2}}, True, False)
    prepare_run_dir(tmp_path / "r", identity, resume=True, overwrite=False)  # same run: fine
    (tmp_path / "r" / "keep.txt").write_text("x")
    (tmp_path / "r" / "history.jsonl").write_text('{"epoch": 1}\n')
    prepare_run_dir(tmp_path / "r", {"arm": "ntp", "config": {}}, resume=False, overwrite=True)
    assert (tmp_path / "r" / "keep.txt").read_text() == "x"  # not jepa-lab's: kept
    assert not (tmp_path / "r" / "history.jsonl").exists()  # jepa-lab's: replaced
    assert json.loads((tmp_path / "r" / "run.json").read_text())["arm"] == "ntp"
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.txt").write_text("mine")
    with pytest.raises(RunDirectoryError, match="not empty"):
        prepare_run_dir(tmp_path / "other", identity, resume=False, overwrite=False)
    with pytest.raises(RunDirectoryError, match="holds no jepa-lab run.*only replaces"):
        prepare_run_dir(tmp_path / "other", identity, resume=False, overwrite=True)
    assert (tmp_path / "other" / "notes.txt").read_text() == "mine"


def test_history_appends_and_truncates(tmp_path):
    history = History(tmp_path / "h.jsonl")
    for epoch in (1.0, 2.0, 3.0):
        history.append({"epoch": epoch, "x": float("nan") if epoch == 2 else epoch})
    assert [r["x"] for r in history.read()] == [1.0, None, 3.0]
    history.truncate_after(2.5)
    assert [r["epoch"] for r in history.read()] == [1.0, 2.0]
    (tmp_path / "h.jsonl").write_text('{"epoch": 1}\n{"epoch": 2\n')
    with pytest.raises(ValueError, match=r"h.jsonl:2"):
        history.read()


def test_non_finite_loss_stops_naming_step_and_batch(tmp_path):
    from transformers import TrainerCallback

    class Poison(TrainerCallback):
        def on_step_begin(self, args, state, control, model=None, **kwargs):
            if state.global_step == 3:
                with torch.no_grad():
                    next(model.parameters()).fill_(float("nan"))

    config = small_config(epochs=1, save_every=2)
    with pytest.raises(
        NonFiniteLossError, match=r"step 3: the loss is nan.*examples \[.*checkpoint-2"
    ):
        train(config, tmp_path / "run", "jepa", progress=False, callbacks=[Poison()])
    good = last_complete_checkpoint(tmp_path / "run")
    assert good.name == "checkpoint-2"
    weights = load_file(str(good / "model.safetensors"))
    assert all(torch.isfinite(w).all() for w in weights.values())


def test_save_every_zero_writes_no_checkpoint_and_trains_the_same_weights(tmp_path):
    # checkpoints are a side effect: turning them off must not change what is trained
    train(small_config(epochs=2), tmp_path / "a", "jepa", progress=False)
    without = train(small_config(epochs=2, save_every=0), tmp_path / "b", "jepa", progress=False)
    assert list((tmp_path / "a").glob("checkpoint-*")), "the reference run should checkpoint"
    assert not list((tmp_path / "b").glob("checkpoint-*"))
    assert (tmp_path / "b" / "final" / "model.safetensors").is_file()
    assert [r["epoch"] for r in without.history] == [1, 2]
    a = load_file(str(tmp_path / "a" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "b" / "final" / "model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    with pytest.raises(ValueError, match="save_every"):
        small_config(save_every=-1)


TRAIN_SCRIPT = """
import os, signal, sys
import torch
from transformers import TrainerCallback
from jepa_lab.training.presets import preset
from jepa_lab.training.train import train

torch.set_num_threads(1)
config = preset("tiny", **{small}, save_every=2)
kill_at = int(sys.argv[1]) if len(sys.argv) > 1 else -1

class Kill(TrainerCallback):
    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)

train(config, os.environ["RUN_DIR"], "jepa", resume=os.environ.get("RESUME") == "1",
      progress=False, callbacks=[Kill()])
"""


def test_sigkill_mid_epoch_then_resume_reaches_the_same_weights(tmp_path):
    script = TRAIN_SCRIPT.format(small=SMALL)
    path = tmp_path / "train_script.py"
    path.write_text(script)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}

    def run(run_dir, *args, resume=False):
        return subprocess.run(
            [sys.executable, str(path), *args],
            capture_output=True,
            text=True,
            timeout=600,
            env={**env, "RUN_DIR": str(run_dir), "RESUME": "1" if resume else "0"},
        )

    straight = run(tmp_path / "straight")
    assert straight.returncode == 0, straight.stderr[-3000:]
    killed = run(tmp_path / "killed", "9")  # step 9 of 12: mid-way through epoch 2
    assert killed.returncode == -9, killed.stderr[-3000:]
    assert last_complete_checkpoint(tmp_path / "killed").name == "checkpoint-8"
    assert not (tmp_path / "killed" / "final").exists()
    resumed = run(tmp_path / "killed", resume=True)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    a = load_file(str(tmp_path / "straight" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "killed" / "final" / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6, msg=key)
    epochs = [r["epoch"] for r in History(tmp_path / "killed" / "history.jsonl").read()]
    assert epochs == [1.0, 2.0]


DDP_SCRIPT = """
import json, os
import torch
from jepa_lab.training.presets import preset
from jepa_lab.training.train import train

torch.set_num_threads(1)
world = int(os.environ.get("WORLD_SIZE", "1"))
config = preset("tiny", **{small}, batch_size=8 // world)
result = train(config, os.environ["RUN_DIR"], "jepa", progress=False)
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_process_ddp_matches_one_process_with_the_same_global_batch(tmp_path):
    script = tmp_path / "ddp_script.py"
    small = {k: v for k, v in SMALL.items() if k != "batch_size"}
    script.write_text(DDP_SCRIPT.format(small={**small, "eval_size": 0}))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    one = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "RUN_DIR": str(tmp_path / "one")},
    )
    assert one.returncode == 0, one.stderr[-3000:]
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            f"--master_port={_free_port()}",
            "--master_addr=127.0.0.1",
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "RUN_DIR": str(tmp_path / "two")},
    )
    assert two.returncode == 0, two.stderr[-3000:]
    h1 = History(tmp_path / "one" / "history.jsonl").read()
    h2 = History(tmp_path / "two" / "history.jsonl").read()
    assert len(h1) == len(h2) == 2
    for r1, r2 in zip(h1, h2, strict=True):
        assert r1["tokens_seen"] == r2["tokens_seen"]
        for key in ("train_loss", "ntp_loss", "jepa_loss"):
            assert r1[key] == pytest.approx(r2[key], rel=1e-5), key
    a = load_file(str(tmp_path / "one" / "final" / "model.safetensors"))
    b = load_file(str(tmp_path / "two" / "final" / "model.safetensors"))
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5, msg=key)


def test_evaluate_on_a_single_example_reports_no_random_pairing():
    from jepa_lab.training.evaluate import evaluate

    config = small_config()
    train_examples, held_out = load_examples(config)
    jm = build_jepa_model(config, train_examples)
    metrics = evaluate(jm, held_out[:1], max_new_tokens=4, progress=False)
    assert metrics["random_cos"] is None and len(metrics["predictions"]) == 1
    assert -1.0 <= metrics["paired_cos"] <= 1.0
