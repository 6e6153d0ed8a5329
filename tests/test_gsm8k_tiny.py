"""GSM8K at tiny scale: the generator's difficulty in TrainConfig, the gsm8k-tiny preset end to
end (train, compare through the CLI), and the real-GSM8K slice evaluation."""

from __future__ import annotations

import json
import re
from dataclasses import replace

import pytest
from helpers import SHARED_DATA

from jepa_lab.cli import build_parser, main
from jepa_lab.experiments.gsm8k_real import RealSliceResult, evaluate_real_gsm8k, real_test_slice
from jepa_lab.scoring import gsm8k_correct
from jepa_lab.training.build import build_jepa_model, load_examples
from jepa_lab.training.presets import PRESET_NAMES, TrainConfig, preset
from jepa_lab.training.validation import ConfigError

REAL_TEST = SHARED_DATA / "gsm8k" / "test.jsonl"
NOTE = re.compile(r"<<[^<>]*>>")
# smoke sizes: seconds on a CPU, same code path as the preset
SMOKE = dict(
    train_size=48,
    eval_size=6,
    epochs=1,
    hidden_size=32,
    num_layers=1,
    vocab_size=300,
    batch_size=16,
    max_new_tokens=12,
)


def test_preset_is_listed_and_round_trips():
    assert "gsm8k-tiny" in PRESET_NAMES
    config = preset("gsm8k-tiny")
    assert (config.dataset, config.data_source) == ("gsm8k", "generated")
    assert (config.model, config.hidden_size, config.num_layers) == ("tiny", 128, 2)
    assert config.gsm8k_steps == 1 and config.gsm8k_max_number == 10
    assert TrainConfig.from_dict(json.loads(config.to_json())) == config
    # the worked solutions fit the generation budget with room to stop
    train, held_out = load_examples(replace(config, train_size=200, eval_size=50))
    jm = build_jepa_model(config, train)
    longest = max(len(jm.tokenizer(e.code)["input_ids"]) for e in held_out)
    assert longest + 1 <= config.max_new_tokens


def test_preset_data_follow_the_knobs():
    config = preset("gsm8k-tiny", gsm8k_steps=2, gsm8k_max_number=7, train_size=40, eval_size=20)
    train, held_out = load_examples(config)
    assert (len(train), len(held_out)) == (40, 20)
    assert not {e.text for e in train} & {e.text for e in held_out}
    for e in train + held_out:
        assert len(NOTE.findall(e.code)) == 2
        assert max(int(x) for x in re.findall(r"\d+", e.text)) <= 7
        assert e.code.rstrip().split("\n")[-1].startswith("#### ")  # Code view: the solution


@pytest.mark.parametrize(
    ("overrides", "field", "expected"),
    [
        (dict(gsm8k_steps=4), "gsm8k_steps", "an integer >= 1 and <= 3"),
        (dict(gsm8k_steps=0), "gsm8k_steps", "an integer >= 1 and <= 3"),
        (dict(gsm8k_steps=1.0), "gsm8k_steps", "None or an integer"),
        (dict(gsm8k_max_number=1), "gsm8k_max_number", "an integer >= 2"),
        (dict(gsm8k_max_number="10"), "gsm8k_max_number", "an integer >= 2"),
        (dict(dataset="nlrx"), "gsm8k_steps", "None with dataset='nlrx'"),
        (dict(data_source="auto"), "gsm8k_steps", "need data_source='generated'"),
    ],
)
def test_bad_knobs_name_the_field(overrides, field, expected):
    with pytest.raises(ConfigError, match=re.escape(expected)) as err:
        preset("gsm8k-tiny", **overrides)
    assert err.value.field == field and f"TrainConfig.{field}=" in str(err.value)


def test_knobs_default_to_none_and_stay_out_of_the_other_presets():
    for name in ("tiny", "small", "overfit-250"):
        config = preset(name)
        assert config.gsm8k_steps is None and config.gsm8k_max_number is None


def test_cli_compare_with_the_preset(tmp_path, capsys):
    """Both arms at smoke size through compare and train(), with the numeric accuracy each
    records on held-out problems, then the runs scored on real GSM8K from a shell."""
    out = tmp_path / "compare"
    args = [
        "compare",
        "--preset",
        "gsm8k-tiny",
        "--seeds",
        "0",
        "--out",
        str(out),
        "--no-progress",
        "--train-size",
        "32",
        "--eval-size",
        "4",
        "--epochs",
        "1",
        "--set",
        "hidden_size=32",
        "--set",
        "num_layers=1",
        "--set",
        "vocab_size=300",
        "--set",
        "max_new_tokens=8",
        "--set",
        "gsm8k_steps=2",
    ]
    assert main(args) == 0
    assert "| NTP baseline |" in capsys.readouterr().out
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["config"]["preset"] == "gsm8k-tiny"
    assert comparison["config"]["gsm8k_steps"] == 2
    assert len(comparison["ntp_values"]) == len(comparison["jepa_values"]) == 1
    for arm in ("ntp", "jepa"):
        run = out / f"{arm}-seed0"
        predictions = [
            json.loads(line) for line in (run / "predictions.jsonl").read_text().splitlines()
        ]
        assert len(predictions) == 4
        assert all(len(NOTE.findall(p["gold"])) == 2 for p in predictions)
        # the recorded accuracy, recomputed from the saved answers independently of evaluate()
        right = sum(gsm8k_correct(p["answer"], p["gold"]) for p in predictions) / 4
        assert comparison[f"{arm}_values"] == [pytest.approx(right)]
        saved = json.loads((run / "run.json").read_text())["config"]
        assert (saved["gsm8k_steps"], saved["gsm8k_max_number"]) == (2, 10)
    if not REAL_TEST.is_file():
        return
    # the trained run, scored on real GSM8K from a shell
    report = tmp_path / "real.json"
    assert (
        main(
            [
                "eval-gsm8k",
                str(out / "ntp-seed0"),
                "--n",
                "3",
                "--data-dir",
                str(SHARED_DATA),
                "--max-new-tokens",
                "4",
                "--json",
                str(report),
            ]
        )
        == 0
    )
    assert "first 3 problems" in capsys.readouterr().out
    saved = json.loads(report.read_text())[str(out / "ntp-seed0")]
    assert saved["n"] == 3 and saved["path"] == str(REAL_TEST)


def test_cli_names_the_option_of_a_bad_knob():
    args = build_parser().parse_args(
        ["compare", "--preset", "gsm8k-tiny", "--set", "gsm8k_steps=9"]
    )
    from jepa_lab.cli import _config_from_args
    from jepa_lab.training.validation import InputError

    with pytest.raises(InputError, match=r"--set gsm8k_steps: TrainConfig.gsm8k_steps=9"):
        _config_from_args(args)


# ----------------------------------------------------------------------------- real GSM8K slice


def _untrained_model():
    config = preset("gsm8k-tiny", **SMOKE)
    train, _ = load_examples(config)
    return build_jepa_model(config, train)


def test_without_a_local_copy_the_result_says_so(tmp_path, monkeypatch):
    monkeypatch.delenv("JEPA_LAB_DATA_DIR", raising=False)
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "cache"))
    result = evaluate_real_gsm8k("no/such/run", n=3, data_dir=tmp_path)
    assert not result.available and result.n == 0
    assert "not evaluated, no local copy of the real GSM8K test set" in result.summary()


@pytest.mark.parametrize("n", [0, -1, 2.5, True])
def test_slice_size_must_be_positive(n):
    with pytest.raises(ValueError, match="expected a positive number of test problems"):
        real_test_slice(n)


@pytest.mark.skipif(not REAL_TEST.is_file(), reason=f"{REAL_TEST} absent")
def test_real_slice_is_scored_numerically(monkeypatch):
    lines = REAL_TEST.read_text(encoding="utf-8").splitlines()[:4]
    real = [json.loads(line) for line in lines]
    result = evaluate_real_gsm8k(_untrained_model(), n=4, data_dir=SHARED_DATA, max_new_tokens=6)
    assert result.available and result.n == 4 and result.path == REAL_TEST
    assert [p["question"] for p in result.predictions] == [r["question"] for r in real]
    assert [p["gold"] for p in result.predictions] == [r["answer"] for r in real]
    for p in result.predictions:  # the verdicts are the numeric scorer's
        assert p["correct"] == gsm8k_correct(p["answer"], p["gold"])
    assert result.accuracy == pytest.approx(result.correct / 4)
    # the no-model reference: each question's last number against the '#### N'
    last = [re.findall(r"\d+(?:\.\d+)?", r["question"].replace(",", ""))[-1] for r in real]
    gold = [r["answer"].split("####")[-1].strip().replace(",", "") for r in real]
    expected = sum(float(a) == float(b) for a, b in zip(last, gold, strict=True)) / 4
    assert result.last_number_accuracy == pytest.approx(expected)
    assert f"first 4 problems ({REAL_TEST})" in result.summary()


def test_summary_reads_the_score_against_the_no_model_reference():
    def result(correct: int, reference: float) -> RealSliceResult:
        predictions = [{"correct": i < correct} for i in range(50)]
        return RealSliceResult(
            path=REAL_TEST,
            n=50,
            accuracy=correct / 50,
            last_number_accuracy=reference,
            predictions=predictions,
        )

    chance = result(3, 0.04).summary()  # what the measured gsm8k-tiny run got
    assert "3/50 correct (6.0%)" in chance and "scores 2/50 (4.0%)" in chance
    assert "a hit here is a coincidence" in chance
    skilled = result(30, 0.04).summary()
    assert "well above the no-model reference" in skilled and "coincidence" not in skilled


@pytest.mark.skipif(not REAL_TEST.is_file(), reason=f"{REAL_TEST} absent")
def test_real_slice_counts_right_answers(monkeypatch):
    """With the model's answers replaced by the golds' final lines, every problem is right."""
    import jepa_lab.experiments.gsm8k_real as real

    def perfect(jm, examples, max_new_tokens, batch_size=16, progress=False):
        return [e.code.split("\n")[-1] for e in examples], [True] * len(examples)

    monkeypatch.setattr(real, "answer", perfect)
    result = evaluate_real_gsm8k(_untrained_model(), n=5, data_dir=SHARED_DATA)
    assert (result.accuracy, result.correct, result.stop_rate) == (1.0, 5, 1.0)
    assert "5/5 correct (100.0%)" in result.summary()
    assert "well above the no-model reference" in result.summary()


@pytest.mark.skipif(not REAL_TEST.is_file(), reason=f"{REAL_TEST} absent")
def test_a_folder_that_is_no_run_is_refused(tmp_path, capsys):
    with pytest.raises(FileNotFoundError, match="not a trained run directory"):
        evaluate_real_gsm8k(tmp_path, n=1, data_dir=SHARED_DATA)
    with pytest.raises(SystemExit) as stop:  # from a shell: one line, no traceback
        main(["eval-gsm8k", str(tmp_path), "--data-dir", str(SHARED_DATA)])
    assert stop.value.code == 2
    assert "error: " + str(tmp_path) + ": not a trained run directory" in capsys.readouterr().err
