"""Bad input and remote code, driven through the CLI (``jepa_lab.cli.main``) and the public API.

Every bad input must stop before a run directory is written, with a message naming the option,
the field or file:line, and what is expected. A run directory handed to ``jepa-lab eval`` is
data: its files can never make the reader's machine run code; only ``--trust-remote-code`` on
that very command can.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from jepa_lab.cli import main
from jepa_lab.data import Example
from jepa_lab.objective.config import JepaConfig
from jepa_lab.training.presets import TrainConfig, preset
from jepa_lab.training.validation import ConfigError

REPO = Path(__file__).resolve().parents[1]
FAST = ["--train-size", "8", "--eval-size", "4", "--epochs", "1", "--no-progress"]


def cli_error(argv: list[str]) -> str:
    """The one-line message ``main(argv)`` must stop with (exit status 2, no traceback)."""
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2, "the command must fail with the usage-error status"
    return str(info.value)


@pytest.fixture
def no_real_data(tmp_path, monkeypatch):
    """No cached or local real data, unless a test puts some in JEPA_LAB_DATA_DIR."""
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("JEPA_LAB_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


# ---------------------------------------------------------------------- configuration
@pytest.mark.parametrize(
    "flags,needles",
    [
        (["--lam", "nan"], ["--lam:", "JepaConfig.lam=nan", "a finite number >= 0"]),
        (["--lam", "inf"], ["--lam:", "JepaConfig.lam=inf", "finite"]),
        (["--lam", "-1"], ["--lam:", "JepaConfig.lam=-1.0", ">= 0"]),
        (["--gamma", "nan"], ["--gamma:", "JepaConfig.gamma=nan"]),
        (["--lr", "nan"], ["--lr:", "TrainConfig.lr=nan", "a finite number > 0"]),
        (["--train-size", "0"], ["--train-size:", "TrainConfig.train_size=0", "integer >= 1"]),
        (["--epochs", "0"], ["--epochs:", "TrainConfig.epochs=0", "integer >= 1"]),
        (["--k", "17"], ["--k:", "JepaConfig.k=17", "<= 16"]),
        (["--loss-dropout", "1.5"], ["--loss-dropout:", "JepaConfig.loss_dropout=1.5", "<= 1"]),
        (["--set", "k=abc"], ["--set k=abc", "expected an integer", "'abc'"]),
        (["--set", "seed=1.5"], ["--set seed=1.5", "expected an integer"]),
        (["--set", "train_size=x"], ["--set train_size=x", "an integer or none"]),
        (["--set", "bf16=maybe"], ["--set bf16=maybe", "expected true or false"]),
        (["--set", "warmup_ratio=2"], ["--set warmup_ratio", "<= 1"]),
        (["--set", "scheduler=nope"], ["--set scheduler", "'cosine'"]),
        (["--set", "jepa.temperature=0"], ["--set temperature", "> 0"]),
        (["--set", "max_grad_norm=-inf"], ["--set max_grad_norm", "finite"]),
        (["--set", "hidden_size=130"], ["--set hidden_size", "num_heads=4 times an even"]),
        (["--set", "hidden_size=100"], ["TrainConfig.hidden_size=100", "even head size"]),
        (["--set", "data_source=web"], ["--set data_source", "'download'"]),
        (["--set", "nonsense=1"], ["--set nonsense: unknown field", "known fields"]),
    ],
)
def test_bad_option_fails_naming_it_before_any_run_dir(tmp_path, flags, needles):
    run_dir = tmp_path / "run"
    message = cli_error(["train", "--run-dir", str(run_dir), *FAST, *flags])  # flags last: they win
    for needle in needles:
        assert needle in message, message
    assert not run_dir.exists()


def test_lam_nan_cannot_reach_training_through_the_api():
    """The old failure: lam=nan passed with_arm('jepa') (nan != 0) and trained plain NTP."""
    with pytest.raises(ConfigError, match=r"JepaConfig.lam=nan: expected a finite number"):
        preset("tiny", jepa={"lam": float("nan")})
    with pytest.raises(ConfigError, match="JepaConfig.lam=nan"):
        TrainConfig(jepa={"lam": float("nan")})
    with pytest.raises(ConfigError, match="JepaConfig.k=True"):  # a bool is not a count
        JepaConfig(k=True)


def test_bare_set_name_means_the_train_config_field():
    """``--set seed=3`` sets the run's seed, not JepaConfig.seed (both fields exist)."""
    from jepa_lab.cli import _config_from_args, build_parser

    args = build_parser().parse_args(["train", "--run-dir", "x", "--set", "seed=3"])
    config = _config_from_args(args)
    assert (config.seed, config.jepa.seed) == (3, 0)
    args = build_parser().parse_args(["train", "--run-dir", "x", "--set", "jepa.seed=5"])
    config = _config_from_args(args)
    assert (config.seed, config.jepa.seed) == (0, 5)


def test_nonexistent_model_path_says_it_does_not_exist(tmp_path, no_real_data):
    run_dir = tmp_path / "run"
    message = cli_error(
        ["train", "--run-dir", str(run_dir), "--set", "model=/nonexistent/model", *FAST]
    )
    assert "TrainConfig.model='/nonexistent/model'" in message
    assert "/nonexistent/model does not exist" in message and "'org/name'" in message
    assert not run_dir.exists()
    empty = tmp_path / "not-a-model"
    empty.mkdir()
    message = cli_error(["train", "--run-dir", str(run_dir), "--model", str(empty), *FAST])
    assert "has none" in message and "config.json" in message
    assert not run_dir.exists()


# ---------------------------------------------------------------------- compare
def test_compare_duplicate_seeds_fail_before_any_arm(tmp_path):
    out = tmp_path / "cmp"
    message = cli_error(["compare", "--out", str(out), "--seeds", "0", "0", *FAST])
    assert "--seeds 0 0" in message and "[0] repeated" in message and "distinct" in message
    assert not out.exists()


def test_compare_eval_size_zero_fails_before_any_arm(tmp_path):
    out = tmp_path / "cmp"
    argv = ["compare", "--out", str(out), "--seeds", "0", "1", *FAST, "--eval-size", "0"]
    message = cli_error(argv)
    assert "--eval-size: TrainConfig.eval_size=0" in message and "at least 1" in message
    assert not out.exists()


def test_compare_api_checks_seeds_before_writing(tmp_path):
    from jepa_lab.experiments.experiment import compare

    with pytest.raises(ValueError, match=r"\[1\] repeated"):
        compare(preset("tiny", train_size=8, eval_size=4), [1, 2, 1], tmp_path / "cmp")
    assert not (tmp_path / "cmp").exists()


# ---------------------------------------------------------------------- data
def write_lines(path: Path, lines: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return path


def gsm(answer) -> str:
    return json.dumps({"question": "Tom has 3 apples and buys 4. How many?", "answer": answer})


def test_empty_data_file_is_named_not_a_sampler_error(tmp_path, no_real_data):
    train_file = write_lines(no_real_data / "nl-rx" / "llm-jepa-split" / "synth_train.jsonl", [])
    write_lines(train_file.with_name("synth_test.jsonl"), [])
    run_dir = tmp_path / "run"
    message = cli_error(["train", "--run-dir", str(run_dir), *FAST])
    assert "synth_train.jsonl: holds no records (the file is empty)" in message
    assert not run_dir.exists()


@pytest.mark.parametrize(
    "bad,needle",
    [
        (gsm(72), "train.jsonl:2: field 'answer' is a number (72), expected a string"),
        (
            gsm("3 + 4 = 7\n#### abc"),
            "train.jsonl:2: field 'answer' ends with '#### abc'; expected a number",
        ),
        (gsm("3 + 4 = 7"), "train.jsonl:2: field 'answer' does not end with '#### <answer>'"),
        (gsm(""), "train.jsonl:2: field 'answer' is empty"),
    ],
)
def test_bad_gsm8k_answer_is_named_with_file_and_line(tmp_path, no_real_data, bad, needle):
    train_file = write_lines(
        no_real_data / "gsm8k" / "train.jsonl", [gsm("3 + 4 = 7\n#### 7"), bad]
    )
    write_lines(train_file.with_name("test.jsonl"), [gsm("3 + 4 = 7\n#### 7")])
    run_dir = tmp_path / "run"
    message = cli_error(["train", "--run-dir", str(run_dir), "--dataset", "gsm8k", *FAST])
    assert needle in message, message
    assert not run_dir.exists()


def test_gsm8k_answers_with_commas_and_signs_still_load(tmp_path):
    from jepa_lab.data import load_gsm8k_original

    path = write_lines(
        tmp_path / "train.jsonl", [gsm("#### 1,000"), gsm("#### -3"), gsm("#### 2.5")]
    )
    assert [e.code[-5:].strip("# ") for e in load_gsm8k_original(path)] == ["1,000", "-3", "2.5"]


def test_examples_passed_to_train_are_checked_before_the_run_dir(tmp_path):
    from jepa_lab.training.train import train

    good = Example("lines with a number", "[0-9]", "mine/1", "test")
    bad = Example("lines with a vowel", "   ", "mine/2", "test")
    run_dir = tmp_path / "run"
    config = preset("tiny", train_size=2, eval_size=1, epochs=1)
    with pytest.raises(ValueError, match=r"train example mine/2: field 'code' is empty"):
        train(config, run_dir, "jepa", progress=False, data=([good, bad], [good]))
    with pytest.raises(ValueError, match=r"TrainConfig.train_size=2: expected at least one"):
        train(config, run_dir, "jepa", progress=False, data=([], [good]))
    assert not run_dir.exists()


def test_over_long_pairs_are_reported_by_example_id():
    from helpers import make_model, make_tokenizer

    from jepa_lab.objective.model import JepaModel

    tokenizer = make_tokenizer("llama3")
    jm = JepaModel(make_model("llama", len(tokenizer) + 1), tokenizer, JepaConfig(max_length=48))
    short = Example("lines with a number", "[0-9]", "nlrx/train/00007", "test")
    long = Example("lines with a vowel " * 20, "[AEIOUaeiou]", "nlrx/train/00042", "test")
    with pytest.warns(UserWarning, match=r"1 of 2 pairs exceed max_length=48") as caught:
        batch = jm.build_batch([long, short])
    message = str(caught[0].message)
    assert "'nlrx/train/00042'" in message and "00007" not in message
    assert "batch position" not in message and batch["input_ids"].shape[0] == 1


# ---------------------------------------------------------------------- run files
def test_truncated_run_json_is_named_by_eval(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    text = json.dumps({"arm": "jepa", "config": preset("tiny").to_dict()}, indent=2)
    (run_dir / "run.json").write_text(text[: len(text) // 2], encoding="utf-8")
    message = cli_error(["eval", "--run-dir", str(run_dir), "--no-progress"])
    assert f"{run_dir / 'run.json'}:" in message and "not valid JSON" in message
    assert "truncated" in message
    message = cli_error(["eval", "--run-dir", str(tmp_path / "nothing"), "--no-progress"])
    assert "run.json: no such file" in message and "jepa-lab run directory" in message


def test_truncated_run_json_is_named_by_resume(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    text = json.dumps({"arm": "jepa", "config": preset("tiny").to_dict()}, indent=2)
    (run_dir / "run.json").write_text(text[:100], encoding="utf-8")
    message = cli_error(["train", "--run-dir", str(run_dir), "--resume", *FAST])
    assert str(run_dir / "run.json") in message and "not valid JSON" in message
    assert sorted(p.name for p in run_dir.iterdir()) == ["run.json"]  # nothing else written


def test_eval_bad_eval_size_names_the_option(tmp_path):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    record = {"arm": "jepa", "config": preset("tiny").to_dict()}
    (run_dir / "run.json").write_text(json.dumps(record), encoding="utf-8")
    message = cli_error(["eval", "--run-dir", str(run_dir), "--eval-size", "-1"])
    assert "--eval-size: TrainConfig.eval_size=-1" in message


# ---------------------------------------------------------------------- remote code
EVIL = """
from pathlib import Path
Path({marker!r}).write_text("the run directory's code ran")
from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast


class EvilConfig(LlamaConfig):
    model_type = {model_type!r}


class EvilModel(LlamaForCausalLM):
    config_class = EvilConfig


class EvilTokenizer(PreTrainedTokenizerFast):
    pass
"""


def poisoned_run_dir(root: Path, model_type: str = "llama") -> tuple[Path, Path]:
    """A finished-looking run whose final/ declares custom code (auto_map -> evil.py, which
    writes a marker file when imported) and whose run.json asks for trust_remote_code."""
    from helpers import make_model, make_tokenizer

    from jepa_lab.objective.model import JepaModel

    run_dir, marker = root / "handed-over-run", root / "MARKER"
    final = run_dir / "final"
    tokenizer = make_tokenizer("llama3")
    JepaModel(make_model("llama", len(tokenizer) + 1), tokenizer, JepaConfig()).save_pretrained(
        final
    )
    (final / "evil.py").write_text(EVIL.format(marker=str(marker), model_type=model_type))
    config = json.loads((final / "config.json").read_text())
    config["auto_map"] = {"AutoConfig": "evil.EvilConfig", "AutoModelForCausalLM": "evil.EvilModel"}
    config["model_type"] = model_type
    (final / "config.json").write_text(json.dumps(config))
    tok_config = json.loads((final / "tokenizer_config.json").read_text())
    tok_config["auto_map"] = {"AutoTokenizer": [None, "evil.EvilTokenizer"]}
    (final / "tokenizer_config.json").write_text(json.dumps(tok_config))
    train_config = preset("tiny", eval_size=2, max_new_tokens=4, trust_remote_code=True)
    record = {"arm": "jepa", "config": train_config.to_dict()}
    (run_dir / "run.json").write_text(json.dumps(record))
    return run_dir, marker


def run_eval(run_dir: Path, tmp_path: Path, *flags: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO),
        "HF_MODULES_CACHE": str(tmp_path / "hf-modules"),  # where transformers copies the code
        "HF_HUB_OFFLINE": "1",
        "JEPA_LAB_CACHE": str(tmp_path / "cache"),
        "OMP_NUM_THREADS": "1",
    }
    env.pop("JEPA_LAB_DATA_DIR", None)
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "jepa_lab",
            "eval",
            "--run-dir",
            str(run_dir),
            "--no-progress",
            *flags,
        ],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
    )


def test_poisoned_run_dir_runs_no_code_without_the_flag(tmp_path):
    run_dir, marker = poisoned_run_dir(tmp_path)
    result = run_eval(run_dir, tmp_path)
    assert result.returncode == 0, result.stderr[-2000:]
    assert not marker.exists(), "run.json / auto_map made eval run the directory's code"
    assert "NOT running the custom code declared in" in result.stderr
    assert str(run_dir / "final" / "config.json") in result.stderr
    assert "--trust-remote-code" in result.stderr
    assert "eval_accuracy" in result.stdout


def test_poisoned_run_dir_code_runs_only_with_the_flag_on_the_command(tmp_path):
    run_dir, marker = poisoned_run_dir(tmp_path)
    result = run_eval(run_dir, tmp_path, "--trust-remote-code")
    assert result.returncode == 0, result.stderr[-2000:]
    assert marker.exists()  # the user asked for it on this very command
    assert "NOT running" not in result.stderr


def test_custom_model_type_without_the_flag_is_a_clear_error(tmp_path, capsys):
    """A model type transformers does not know cannot load without its code: say so."""
    run_dir, marker = poisoned_run_dir(tmp_path, model_type="evil-llama")
    message = cli_error(["eval", "--run-dir", str(run_dir), "--no-progress"])
    assert not marker.exists()
    assert "the model needs its own Python code" in message
    assert "pass --trust-remote-code" in message
    assert "NOT running the custom code" in capsys.readouterr().err


def test_from_pretrained_warns_and_runs_no_code(tmp_path):
    from jepa_lab.objective.model import JepaModel

    run_dir, marker = poisoned_run_dir(tmp_path)
    with pytest.warns(UserWarning, match=r"not running the custom code declared in .*auto_map"):
        jm = JepaModel.from_pretrained(run_dir / "final")
    assert not marker.exists() and type(jm.model).__name__ == "LlamaForCausalLM"
