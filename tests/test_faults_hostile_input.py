"""Scoring and inputs under attack (issue 19, section 3): exact GSM8K comparison, records too
long to tokenise, damaged run files, impossible sizes, unbounded downloads and caches, and the
cases that deserve a line of warning.

Runs are the tiny preset at toy sizes; every refusal is one line, before a run directory exists.
"""

from __future__ import annotations

import errno
import http.server
import json
import os
import shutil
import subprocess
import threading
import warnings
from fractions import Fraction

import pytest
from helpers import SMALL_RUN
from safetensors.torch import load_file, save_file
from transformers import TrainerCallback

from jepa_lab.cli import main
from jepa_lab.data import download as dl
from jepa_lab.data import generate_nlrx
from jepa_lab.scoring.gsm8k import gsm8k_answer, gsm8k_correct
from jepa_lab.training.history import HistoryError
from jepa_lab.training.presets import preset
from jepa_lab.training.train import RunDirectoryError, train
from jepa_lab.training.validation import InputError, check_model_source

TINY = {**SMALL_RUN, "epochs": 1, "data_source": "generated", "save_every": 2}
CLI_TINY = [
    "--no-progress",
    *("--set", "train_size=48", "--set", "eval_size=8", "--set", "epochs=1"),
    *("--set", "batch_size=8", "--set", "hidden_size=32", "--set", "num_layers=1"),
    *("--set", "num_heads=2", "--set", "vocab_size=300", "--set", "max_new_tokens=12"),
    *("--set", "data_source=generated", "--set", "save_every=0"),
]


def tiny(**overrides):
    return preset("tiny", **{**TINY, **overrides})


def cli_error(argv: list[str]) -> str:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    message = str(info.value)
    assert "\n" not in message
    return message


class Killed(BaseException):
    pass


class KillAtStep(TrainerCallback):
    def __init__(self, step: int):
        self.step = step

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Killed(f"killed before step {self.step}")


# ---------------------------------------------------------------------- GSM8K, exactly
def test_gsm8k_off_by_one_is_wrong_and_long_answers_compare_exactly():
    assert not gsm8k_correct("#### 1000001", "#### 1000000")
    assert gsm8k_correct("#### 1000000", "The answer is 1,000,000.")
    big = "7" * 400
    assert gsm8k_correct(f"#### {big}", f"#### {big}")
    assert not gsm8k_correct(f"#### {big}", f"#### {big[:-1]}8")
    assert gsm8k_answer(f"#### {big}") == int(big)  # no float: no inf


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("#### 1,000", Fraction(1000)),  # thousands separators in groups of three
        ("#### 1,00", Fraction(1)),  # not a group of three: the number ends at the comma
        ("#### 1e3", Fraction(1000)),
        ("#### 2.5E-1", Fraction(1, 4)),
        ("#### 1e999", None),  # exponents past MAX_EXPONENT are no answer
        ("#### ½", Fraction(1, 2)),
        ("#### 1½", Fraction(3, 2)),
        ("#### -0", Fraction(0)),
        ("#### 0.1", Fraction(1, 10)),  # exactly a tenth, not the float 0.1000000000000000055
        ("#### " + "1" * 2000, None),  # longer than MAX_DIGITS
    ],
)
def test_gsm8k_documented_number_rules(text, expected):
    assert gsm8k_answer(text) == expected
    assert type(gsm8k_answer(text)) is (Fraction if expected is not None else type(None))


def test_gsm8k_minus_zero_equals_zero_and_a_tenth_is_a_tenth():
    assert gsm8k_correct("#### -0", "#### 0")
    assert gsm8k_correct("0.1", "#### 1/10")
    assert not gsm8k_correct("0.30000000000000004", "#### 0.3")


# ---------------------------------------------------------------------- records too long
@pytest.fixture
def local_data(tmp_path, monkeypatch):
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("JEPA_LAB_DATA_DIR", str(tmp_path / "data"))
    (tmp_path / "data" / "gsm8k").mkdir(parents=True)
    return tmp_path / "data" / "gsm8k"


def gsm8k_lines(n: int, start: int = 0) -> str:
    return "".join(
        json.dumps(
            {"question": f"Tom has {i} apples and buys 2.", "answer": f"{i}+2\n#### {i + 2}"}
        )
        + "\n"
        for i in range(start, start + n)
    )


def test_a_50_mb_line_is_refused_by_file_and_line_before_tokenising(tmp_path, local_data):
    line = json.dumps({"question": "x" * (50 << 20), "answer": "#### 1"})
    (local_data / "train.jsonl").write_text(gsm8k_lines(1) + line + "\n")
    (local_data / "test.jsonl").write_text(gsm8k_lines(4, start=50))
    run_dir = tmp_path / "run"
    message = cli_error(
        ["train", "--run-dir", str(run_dir), *CLI_TINY, "--set", "dataset=gsm8k"]
        + ["--set", "data_source=local"]
    )
    assert "train.jsonl:2: record of" in message and "longer than the limit" in message
    assert not run_dir.exists()


def test_an_over_long_example_passed_to_train_is_named(tmp_path):
    examples = generate_nlrx(9, "train", seed=0)
    huge = examples[0].__class__("lines " * 400_000, "a", "mine/huge", "test")
    run_dir = tmp_path / "run"
    with pytest.raises(InputError, match=r"train example mine/huge: \d+ characters, longer"):
        train(tiny(), run_dir, "jepa", progress=False, data=([huge, *examples[1:8]], examples[8:]))
    assert not run_dir.exists()


# ---------------------------------------------------------------------- damaged run files
@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("finished") / "run"
    train(tiny(), run_dir, "jepa", progress=False)
    return run_dir


@pytest.mark.parametrize(
    ("damage", "needle"),
    [
        (
            lambda text: text[: len(text) // 2],
            r"history.jsonl:1: damaged history record, cut short",
        ),
        (lambda text: text + "[1, 2, 3]\n", r"history.jsonl:2: not a history record"),
        (lambda text: text + text, r"history.jsonl:2: epoch 1 of jepa seed 0 is recorded twice"),
    ],
    ids=["truncated", "non-record", "duplicated-epoch"],
)
def test_a_damaged_history_is_named_before_the_resume(tmp_path, finished, damage, needle):
    run_dir = tmp_path / "run"
    shutil.copytree(finished, run_dir)
    history = run_dir / "history.jsonl"
    history.write_text(damage(history.read_text()))
    before = sorted(p.name for p in run_dir.iterdir())
    with pytest.raises(HistoryError, match=needle):
        train(tiny(), run_dir, "jepa", resume=True, progress=False)
    assert sorted(p.name for p in run_dir.iterdir()) == before


@pytest.fixture(scope="module")
def killed(tmp_path_factory):
    """Killed before step 5: complete checkpoints 2 and 4."""
    run_dir = tmp_path_factory.mktemp("killed") / "run"
    with pytest.raises(Killed):
        train(tiny(), run_dir, "jepa", progress=False, callbacks=[KillAtStep(5)])
    return run_dir


def _reshape(tensors):
    key = next(k for k in tensors if k.endswith("embed_tokens.weight"))
    tensors[key] = tensors[key][:-1].clone()  # one token row short
    return "has shape"


def _drop(tensors):
    key = next(k for k in tensors if "layers.0.mlp" in k)
    del tensors[key]
    return "is missing"


@pytest.mark.parametrize("damage", [_reshape, _drop], ids=["wrong-shape", "missing-tensor"])
def test_a_checkpoint_of_another_shape_falls_back_to_the_previous_one(tmp_path, killed, damage):
    run_dir = tmp_path / "run"
    shutil.copytree(killed, run_dir)
    weights = run_dir / "checkpoint-4" / "model.safetensors"
    tensors = load_file(str(weights))
    why = damage(tensors)
    save_file(tensors, str(weights), metadata={"format": "pt"})
    with pytest.warns(UserWarning, match=rf"skipping checkpoint-4, .*checkpoint-4.* {why}"):
        result = train(tiny(), run_dir, "jepa", resume=True, progress=False)
    assert [r["epoch"] for r in result.history] == [1.0]
    assert result.history[0]["resume"]["from"] == "checkpoint-2"


def _immutable(folder):
    """A directory nobody may write to, root included (chattr +i; chmod for other users)."""
    if os.geteuid() == 0:
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: cannot make a read-only directory")
        if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
            pytest.skip("chattr +i not permitted here")
        return lambda: subprocess.run(["chattr", "-i", str(folder)], check=True)
    folder.chmod(0o555)
    return lambda: folder.chmod(0o755)


def test_a_read_only_run_dir_is_one_line_before_anything(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    undo = _immutable(run_dir)
    try:
        message = cli_error(["train", "--run-dir", str(run_dir), *CLI_TINY])
        assert "the run directory is not writable" in message and str(run_dir) in message
        with pytest.raises(RunDirectoryError, match="not writable"):
            train(tiny(), run_dir, "jepa", progress=False)
    finally:
        undo()
    assert list(run_dir.iterdir()) == []


def test_a_full_disk_names_the_last_complete_checkpoint(tmp_path, monkeypatch):
    import jepa_lab.training.trainer as trainer_module

    real = trainer_module.write_atomic

    def full_at_step_4(path, text):
        if path.parent.name == "checkpoint-4":
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        real(path, text)

    monkeypatch.setattr(trainer_module, "write_atomic", full_at_step_4)
    run_dir = tmp_path / "run"
    with pytest.raises(RunDirectoryError) as info:
        train(tiny(), run_dir, "jepa", progress=False)
    message = str(info.value)
    assert (
        "the disk is full" in message and "the last complete checkpoint is checkpoint-2" in message
    )
    assert "\n" not in message


# ---------------------------------------------------------------------- impossible sizes
@pytest.mark.parametrize(
    ("flags", "needle"),
    [
        (["--set", "vocab_size=1"], "TrainConfig.vocab_size=1: expected at least 262"),
        (["--set", "hidden_size=65536"], "GiB for weights, gradients and Adam state"),
        (["--set", "jepa.max_length=4"], "every one of the 48 training pairs is longer than"),
        (["--set", "max_new_tokens=1000000"], "expected at most 1024, the model's positions"),
        (["--set", "train_size=1000000000"], "train_size=1000000000: expected None or an"),
    ],
    ids=["vocab-1", "hidden-65536", "every-pair-too-long", "max-new-tokens", "train-size"],
)
def test_impossible_sizes_are_refused_before_the_run_dir(tmp_path, flags, needle):
    run_dir = tmp_path / "run"
    message = cli_error(["train", "--run-dir", str(run_dir), *CLI_TINY, *flags])
    assert needle in message
    assert not run_dir.exists()


def test_fewer_rows_than_train_size_warns(tmp_path, local_data):
    (local_data / "train.jsonl").write_text(gsm8k_lines(48))
    (local_data / "test.jsonl").write_text(gsm8k_lines(8, start=100))
    config = tiny(dataset="gsm8k", data_source="local", train_size=500, save_every=0)
    with pytest.warns(UserWarning, match=r"--train-size 500: the data hold only 48 train row"):
        train(config, tmp_path / "run", "jepa", progress=False)


# ---------------------------------------------------------------------- custom code
def model_dir(tmp_path, model_type: str):
    folder = tmp_path / "model"
    folder.mkdir()
    config = {
        "model_type": model_type,
        "auto_map": {"AutoModelForCausalLM": "evil.EvilModel"},
        "max_position_embeddings": 64,
    }
    (folder / "config.json").write_text(json.dumps(config))
    return folder


def test_an_auto_map_model_of_unknown_type_is_one_line(tmp_path):
    folder = model_dir(tmp_path, "evil-llama")
    run_dir = tmp_path / "run"
    message = cli_error(["train", "--run-dir", str(run_dir), *CLI_TINY, "--set", f"model={folder}"])
    assert "of type 'evil-llama', which needs its own Python code" in message
    assert "--trust-remote-code" in message and not run_dir.exists()


def test_an_auto_map_model_trained_with_the_built_in_class_warns(tmp_path):
    folder = model_dir(tmp_path, "llama")
    config = preset("tiny", model=str(folder))
    with pytest.warns(UserWarning, match=r"declares custom code .* built-in 'llama' class"):
        check_model_source(config)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        check_model_source(preset("tiny", model=str(folder), trust_remote_code=True))


# ---------------------------------------------------------------------- unbounded downloads
class Endless(http.server.BaseHTTPRequestHandler):
    """Sends zeros without end and without a Content-Length."""

    sent = 0

    def do_GET(self):  # noqa: N802
        self.send_response(200)
        self.end_headers()
        block = b"\0" * (1 << 16)
        try:
            while type(self).sent < (64 << 20):  # a safety stop far past the cap
                self.wfile.write(block)
                type(self).sent += len(block)
        except OSError:
            return

    def log_message(self, *args):
        pass


def test_a_download_stops_at_a_multiple_of_the_known_size(tmp_path, monkeypatch):
    entry = dl.RemoteFile("owner/repo/main/big.txt", "big/big.txt", "0" * 64)
    monkeypatch.setitem(dl.FILES, "test/big", entry)
    monkeypatch.setitem(dl.KNOWN_SIZES, "test/big", 100_000)
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Endless)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        base = f"http://127.0.0.1:{httpd.server_address[1]}"
        with pytest.raises(dl.DownloadError, match=r"more than 400000 bytes .* past the cap"):
            dl.fetch("test/big", cache=tmp_path, base=base, timeout=20)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert list((tmp_path / "big").iterdir()) == []  # nothing kept, no .part
    assert Endless.sent < (8 << 20)  # the client hung up soon after the cap
    assert dl.byte_limit("no/such/file") == dl.UNKNOWN_SIZE_LIMIT


# ---------------------------------------------------------------------- the regex cache
def test_the_regex_compile_cache_is_bounded_in_bytes(monkeypatch):
    from jepa_lab.scoring import regex_dfa

    regex_dfa.clear_caches()
    cache = regex_dfa._compile_outcome
    monkeypatch.setattr(cache, "max_bytes", 50_000)
    sizes = []
    for n in range(40, 100):
        automaton = regex_dfa.compile_regex(f"[a-z]{{{n}}}")  # n + 2 states
        sizes.append(regex_dfa.outcome_bytes("", automaton))
        assert automaton.accepts("q" * n) and not automaton.accepts("q" * (n + 1))
    assert sum(sizes) > 50_000  # the 60 automata would not all fit
    assert cache.cache_bytes() <= 50_000 and 0 < len(cache) < 60
    regex_dfa.clear_caches()
    assert cache.cache_bytes() == 0


# ---------------------------------------------------------------------- warnings
def test_duplicated_rows_and_held_out_pairs_in_train_warn(tmp_path):
    examples = generate_nlrx(48, "train", seed=1)
    train_set = [*examples[:40], *examples[:8]]  # 8 rows twice
    held_out = [examples[3], *generate_nlrx(4, "test", seed=1)]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        train(
            tiny(save_every=0), tmp_path / "run", "jepa", progress=False, data=(train_set, held_out)
        )
    messages = [str(w.message) for w in caught]
    assert any("train data: 8 duplicated row(s)" in m for m in messages), messages
    assert any("1 of 5 pair(s) are also in the training data" in m for m in messages), messages


def test_mask_explorer_of_none_warns_and_shows_generated_pairs():
    pytest.importorskip("ipywidgets")
    from jepa_lab.teaching.widgets import mask_explorer

    with pytest.warns(UserWarning, match=r"mask_explorer\(None\): no examples given"):
        explorer = mask_explorer(None)
    assert len(explorer.examples) == 8
