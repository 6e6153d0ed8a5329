"""Run directories under attack (issue 19, section 2): two processes on one directory, user files
named like jepa-lab's, and data edited under a run that is then resumed.

Every run is the tiny preset at toy sizes (48 generated pairs, 1 epoch of 6 steps).
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from dataclasses import replace

import pytest
from helpers import SMALL_RUN
from transformers import TrainerCallback

from jepa_lab.cli import main
from jepa_lab.data import generate_nlrx
from jepa_lab.training.fingerprint import examples_fingerprint
from jepa_lab.training.history import History
from jepa_lab.training.presets import preset
from jepa_lab.training.train import RunDirectoryError, train

TINY = {
    **SMALL_RUN,
    "epochs": 1,
    "data_source": "generated",
    "save_every": 2,  # checkpoints at steps 2, 4, 6; rotation keeps the two newest
}
CLI_TINY = [
    "--no-progress",
    *("--set", "train_size=48", "--set", "eval_size=8", "--set", "epochs=1"),
    *("--set", "batch_size=8", "--set", "hidden_size=32", "--set", "num_layers=1"),
    *("--set", "num_heads=2", "--set", "vocab_size=300", "--set", "max_new_tokens=12"),
]


def tiny(**overrides):
    return preset("tiny", **{**TINY, **overrides})


def cli_error(argv: list[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    message = str(info.value)
    assert "\n" not in message and "Traceback" not in message
    return message


class Pause(TrainerCallback):
    """Hold the run at step ``step`` until the test lets it go on."""

    def __init__(self, step: int):
        self.step, self.reached, self.go = step, threading.Event(), threading.Event()

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            self.reached.set()
            assert self.go.wait(120), "the test never released the run"


# ---------------------------------------------------------------------- the lock
def test_a_second_train_on_a_running_run_dir_fails_naming_the_pid_and_the_first_is_intact(
    tmp_path,
):
    run_dir = tmp_path / "run"
    pause = Pause(step=3)
    outcome: dict = {}

    def first():
        try:
            outcome["result"] = train(
                tiny(seed=0), run_dir, "jepa", progress=False, callbacks=[pause]
            )
        except BaseException as err:  # noqa: BLE001 - reported by the main thread
            outcome["error"] = err

    thread = threading.Thread(target=first)
    thread.start()
    try:
        assert pause.reached.wait(300), outcome
        # the audit's attack: another run, --overwrite, on the same directory
        message = cli_error(
            ["train", "--run-dir", str(run_dir), "--overwrite", *CLI_TINY, "--set", "seed=1"]
        )
        assert f"in use by another jepa-lab process (PID {os.getpid()})" in message
        with pytest.raises(RunDirectoryError, match=r"in use by another jepa-lab process \(PID"):
            train(tiny(seed=1), run_dir, "ntp", resume=True, progress=False)
    finally:
        pause.go.set()
        thread.join(300)
    assert "error" not in outcome, outcome.get("error")
    identity = json.loads((run_dir / "run.json").read_text())
    assert identity["arm"] == "jepa" and identity["config"]["seed"] == 0
    records = History(run_dir / "history.jsonl").read()
    assert [(r["arm"], r["seed"], r["epoch"]) for r in records] == [("jepa", 0, 1.0)]
    assert json.loads((run_dir / "summary.json").read_text())["status"] == "finished"
    assert (run_dir / "final" / "model.safetensors").is_file()
    assert not (run_dir / ".jepa-lab.lock").exists()  # released with the run


def test_the_lock_is_released_when_a_run_fails(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(ValueError):
        train(tiny(), run_dir, "jepa", progress=False, data=([], []))
    assert not run_dir.exists()  # bad input: nothing written, not even the lock
    train(tiny(save_every=0), run_dir, "jepa", progress=False)  # the directory is free


# ---------------------------------------------------------------------- user files
def test_overwrite_keeps_user_files_named_like_checkpoints(tmp_path):
    run_dir = tmp_path / "run"
    train(tiny(), run_dir, "jepa", progress=False)
    (run_dir / "checkpoint-notes.txt").write_text("my notes")
    (run_dir / "checkpoint-2-keep").mkdir()
    (run_dir / "checkpoint-2-keep" / "weights.bin").write_bytes(b"mine")
    (run_dir / "checkpoint-3").mkdir()  # digits only, but holding a user's file, no marker
    (run_dir / "checkpoint-3" / "analysis.ipynb").write_text("{}")
    assert (run_dir / "checkpoint-6" / "COMPLETE").is_file()
    train(tiny(save_every=0), run_dir, "ntp", overwrite=True, progress=False)
    assert (run_dir / "checkpoint-notes.txt").read_text() == "my notes"
    assert (run_dir / "checkpoint-2-keep" / "weights.bin").read_bytes() == b"mine"
    assert (run_dir / "checkpoint-3" / "analysis.ipynb").read_text() == "{}"
    assert not (run_dir / "checkpoint-6").exists()  # jepa-lab's own checkpoints are gone


class UserFolders(TrainerCallback):
    """A user adds folders to the run directory while it trains (before any rotation)."""

    def __init__(self, run_dir, names):
        self.run_dir, self.names = run_dir, names

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == 1:
            for name in self.names:
                (self.run_dir / name).mkdir()
                (self.run_dir / name / "notes.txt").write_text(name)


def test_rotation_keeps_user_folders_named_like_checkpoints(tmp_path):
    run_dir = tmp_path / "run"
    mine = ["checkpoint-mine-3", "checkpoint-keep-12", "checkpoint-keep-1", "checkpoint-1"]
    callbacks = [UserFolders(run_dir, mine)]
    train(tiny(), run_dir, "jepa", progress=False, callbacks=callbacks)  # rotates at 4 and 6
    for name in mine:
        assert (run_dir / name / "notes.txt").read_text() == name
    assert sorted(p.name for p in run_dir.glob("checkpoint-*") if p.name not in mine) == [
        "checkpoint-4",
        "checkpoint-6",
    ]


# ---------------------------------------------------------------------- the data's identity
def test_resume_on_edited_training_data_refuses(tmp_path):
    run_dir = tmp_path / "run"
    examples = generate_nlrx(56, "train", seed=3)
    train_set, held_out = examples[:48], examples[48:]
    train(tiny(), run_dir, "jepa", progress=False, data=(train_set, held_out))
    recorded = json.loads((run_dir / "run.json").read_text())
    assert recorded["data"]["train"]["n"] == 48 and recorded["data"]["eval"]["n"] == 8
    assert len(recorded["tokenizer"]) == 64  # a sha256
    edited = list(train_set)
    edited[5] = replace(edited[5], code=edited[5].code + "x")
    assert examples_fingerprint(edited) != examples_fingerprint(train_set)
    assert examples_fingerprint(list(train_set)) == recorded["data"]["train"]
    with pytest.raises(RunDirectoryError, match="refusing to resume, the train examples differ"):
        train(tiny(), run_dir, "jepa", resume=True, progress=False, data=(edited, held_out))
    other_test = list(held_out[:-1])
    with pytest.raises(RunDirectoryError, match="the eval examples differ"):
        train(tiny(), run_dir, "jepa", resume=True, progress=False, data=(train_set, other_test))
    # the same data resume as before (nothing left to do: the run had finished)
    train(tiny(), run_dir, "jepa", resume=True, progress=False, data=(train_set, held_out))


def test_resume_under_another_tokenizer_refuses(tmp_path):
    run_dir = tmp_path / "run"
    train(tiny(save_every=0), run_dir, "jepa", progress=False)
    identity = json.loads((run_dir / "run.json").read_text())
    identity["tokenizer"] = "0" * 64  # the run was trained with another tokenizer
    (run_dir / "run.json").write_text(json.dumps(identity))
    with pytest.raises(RunDirectoryError, match="the tokenizer differs from the run's"):
        train(tiny(save_every=0), run_dir, "jepa", resume=True, progress=False)


GSM8K_LINE = (
    '{{"question": "Tom has {a} apples and buys {b}. How many now?", '
    '"answer": "{a}+{b}={c}\\n#### {c}"}}\n'
)


def write_gsm8k(folder, split: str, n: int, start: int = 0) -> None:
    (folder / "gsm8k").mkdir(parents=True, exist_ok=True)
    lines = [GSM8K_LINE.format(a=i, b=i + 2, c=2 * i + 2) for i in range(start, start + n)]
    (folder / "gsm8k" / f"{split}.jsonl").write_text("".join(lines))


@pytest.fixture
def local_data(tmp_path, monkeypatch):
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("JEPA_LAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


GSM8K_CLI = [*CLI_TINY, "--set", "dataset=gsm8k", "--set", "save_every=0"]


def test_files_read_are_recorded_and_an_edited_file_refuses_the_resume(tmp_path, local_data):
    write_gsm8k(local_data, "train", 48)
    write_gsm8k(local_data, "test", 8, start=100)
    run_dir = tmp_path / "run"
    assert main(["train", "--run-dir", str(run_dir), *GSM8K_CLI, "--set", "data_source=local"]) == 0
    files = json.loads((run_dir / "run.json").read_text())["data"]["files"]
    for split, name in (("train", "train.jsonl"), ("eval", "test.jsonl")):
        file = local_data / "gsm8k" / name
        entry = next(f for f in files if f["split"] == split)
        assert entry["path"] == str(file.resolve())
        assert entry["sha256"] == hashlib.sha256(file.read_bytes()).hexdigest()
        assert entry["bytes"] == file.stat().st_size
    train_file = local_data / "gsm8k" / "train.jsonl"
    train_file.write_text(train_file.read_text().replace("Tom has 7 apples", "Tom has 8 apples"))
    message = cli_error(
        ["train", "--run-dir", str(run_dir), "--resume", *GSM8K_CLI, "--set", "data_source=local"]
    )
    assert "refusing to resume, the train examples differ" in message


def test_a_local_train_file_without_a_test_file_is_refused(tmp_path, local_data):
    write_gsm8k(local_data, "train", 48)  # no test.jsonl: 'auto' would evaluate on generated
    run_dir = tmp_path / "run"
    message = cli_error(["train", "--run-dir", str(run_dir), *GSM8K_CLI])
    assert "data_source='auto'" in message and "gsm8k/original" in message
    assert "generated" in message and not run_dir.exists()
