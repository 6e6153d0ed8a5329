"""The task registry: a user's own task trains and is scored end to end, every task of the
paper's table runs a tiny compare, and an unknown task name is one line listing the tasks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import SHARED_DATA

from jepa_lab.training.presets import preset
from jepa_lab.training.tasks import TASKS, get_task, register_task, unregister_task
from jepa_lab.training.validation import ConfigError

TINY = dict(hidden_size=32, num_layers=1, num_heads=4, vocab_size=300, batch_size=8)
WORDS = ["lamp", "river", "stone", "cloud", "apple", "tiger", "pencil", "garden", "window"]


def _write_reversal_task(folder: Path) -> tuple[Path, Path]:
    """A task no built-in one is: spell a word backwards."""
    paths = []
    for split, words in (("train", WORDS * 4), ("test", WORDS[:6])):
        path = folder / f"reverse_{split}.jsonl"
        lines = [
            json.dumps(
                {
                    "messages": [
                        {"role": "user", "content": f"reverse {w}"},
                        {"role": "assistant", "content": w[::-1]},
                    ]
                }
            )
            for w in words
        ]
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths[0], paths[1]


def reversal_scorer(predictions, golds):
    correct = [p.strip() == g for p, g in zip(predictions, golds, strict=True)]
    first = [p[:1] == g[:1] for p, g in zip(predictions, golds, strict=True)]
    return {"accuracy": sum(correct) / len(correct), "first_letter": sum(first) / len(first)}


@pytest.fixture
def reversal_task(tmp_path):
    train, test = _write_reversal_task(tmp_path)
    task = register_task("reverse", train=train, test=test, scorer=reversal_scorer)
    yield task
    unregister_task("reverse")


def _predictions(run_dir: Path) -> list[dict]:
    lines = (run_dir / "predictions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def _check_scored_as_recorded(out: Path, task_name: str) -> dict:
    """Each run's last eval_accuracy is the task's scorer on its own predictions.jsonl."""
    task = get_task(task_name)
    records = [json.loads(x) for x in (out / "history.jsonl").read_text().splitlines()]
    finals = {}
    for run_dir in sorted(p for p in out.iterdir() if (p / "predictions.jsonl").exists()):
        predictions = _predictions(run_dir)
        arm, seed = run_dir.name.split("-seed")
        last = [r for r in records if r.get("arm") == arm and r.get("eval_accuracy") is not None]
        assert last, run_dir
        finals[arm] = last[-1]
        correct = [p["correct"] for p in predictions]
        headline = last[-1].get("eval_accuracy_metric", task.headline)
        if headline in ("accuracy", "exact_match", "execution_accuracy", "semantic_accuracy"):
            assert last[-1]["eval_accuracy"] == pytest.approx(sum(correct) / len(correct))
    assert set(finals) == {"ntp", "jepa"}
    return finals


@pytest.mark.slow
def test_a_registered_task_trains_both_arms_and_is_scored_by_its_scorer(reversal_task, tmp_path):
    from jepa_lab.experiments.experiment import compare

    config = preset("tiny", dataset="reverse", data_source="local", epochs=1, **TINY)
    assert (config.train_size, config.eval_size) == (2000, 400)  # cut to what the files hold
    compare(config, [0], tmp_path / "out", progress=False)
    finals = _check_scored_as_recorded(tmp_path / "out", "reverse")
    for arm in ("ntp", "jepa"):  # the scorer's second metric is recorded beside the headline
        predictions = _predictions(tmp_path / "out" / f"{arm}-seed0")
        answers = [p["answer"] for p in predictions]
        expected = reversal_scorer(answers, [p["gold"] for p in predictions])
        assert finals[arm]["eval_first_letter"] == pytest.approx(expected["first_letter"])
        assert [p["gold"] for p in predictions] == [w[::-1] for w in WORDS[:6]]


def test_a_registered_task_is_a_dataset_choice_and_loads_its_files(reversal_task):
    assert "reverse" in TASKS
    train = reversal_task.load("train", "local")
    assert [e.text for e in train[:2]] == ["reverse lamp", "reverse river"]
    assert (train[0].code, train[0].id) == ("pmal", "reverse/train/00000")
    assert preset("tiny", dataset="reverse").dataset == "reverse"
    scores, correct = reversal_task.score(["pmal", "xx"], train[:2])
    assert scores == {"accuracy": 0.5, "first_letter": 0.5} and correct == [True, False]


def test_register_task_refuses_a_builtin_name_a_missing_file_and_a_bad_scorer(tmp_path):
    train, test = _write_reversal_task(tmp_path)
    with pytest.raises(ValueError, match="'spider' is already registered"):
        register_task("spider", train=train, test=test, scorer=reversal_scorer)
    with pytest.raises(FileNotFoundError, match="test file .*nope.jsonl does not exist"):
        register_task("mine", train=train, test=tmp_path / "nope.jsonl", scorer=reversal_scorer)
    with pytest.raises(TypeError, match="scorer must be callable"):
        register_task("mine", train=train, test=test, scorer="accuracy")
    assert "mine" not in TASKS


def test_an_unknown_task_is_one_line_listing_the_registered_ones():
    with pytest.raises(ValueError) as err:
        get_task("squad")
    message = str(err.value)
    assert "\n" not in message and message.startswith("unknown task 'squad'; registered tasks:")
    for name in ("nlrx", "turk", "gsm8k", "spider", "nq_open", "hellaswag", "rotten_tomatoes"):
        assert name in message
    with pytest.raises(ConfigError, match="dataset='squad': expected one of .*'spider'"):
        preset("tiny", dataset="squad")


def test_the_cli_offers_every_task_and_refuses_another(capsys):
    from jepa_lab.cli import _config_from_args, build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args(["compare", "--dataset", "squad"])
    err = capsys.readouterr().err
    assert "--dataset" in err and "'squad'" in err
    args = build_parser().parse_args(["compare", "--dataset", "rotten_tomatoes"])
    assert _config_from_args(args).dataset == "rotten_tomatoes"
    download = build_parser().parse_args(["download", "spider"])
    assert download.dataset == "spider"


def test_each_paper_preset_says_its_task_and_setting():
    """The figures of the official scripts (docs/training.md's table cites them)."""
    expected = {  # task: (lr, lam, k)
        "gsm8k": (1e-5, 0.5, 1),
        "spider": (1e-5, 0.5, 1),
        "nq_open": (2e-5, 1024.0, 1),
        "nlrx": (2e-5, 1.0, 1),
    }
    for task, (lr, lam, k) in expected.items():
        config = preset(f"llama-1b-{task}")
        assert (config.dataset, config.lr, config.jepa.lam, config.jepa.k) == (task, lr, lam, k)
        assert (config.epochs, config.max_new_tokens, config.jepa.embed_at) == (
            4,
            128,
            "end_of_turn",
        )
        assert config.model == "meta-llama/Llama-3.2-1B-Instruct" and config.seed == 82
    for task in TASKS:
        if task in ("nlrx", "turk", "gsm8k", "spider", "nq_open", "hellaswag", "rotten_tomatoes"):
            assert preset(f"llama-1b-{task}").dataset == task


# Tasks without a generator train on the shared real files; the rest on their generator.
needs_files = pytest.mark.skipif(
    not (SHARED_DATA / "llm-jepa-datasets" / "turk_train.jsonl").exists(),
    reason="shared LLM-JEPA task files absent",
)
COMPARE_TASKS = [
    pytest.param("nlrx", "generated", id="nlrx"),
    pytest.param("gsm8k", "generated", id="gsm8k"),
    pytest.param("spider", "generated", id="spider"),
    pytest.param("turk", "local", id="turk", marks=needs_files),
    pytest.param("nq_open", "local", id="nq_open", marks=needs_files),
    pytest.param("hellaswag", "local", id="hellaswag", marks=needs_files),
    pytest.param("rotten_tomatoes", "local", id="rotten_tomatoes", marks=needs_files),
]


@pytest.mark.slow
@pytest.mark.parametrize("task,source", COMPARE_TASKS)
def test_a_tiny_compare_runs_for_every_task(task, source, tmp_path, monkeypatch):
    from jepa_lab.cli import main

    monkeypatch.setenv("JEPA_LAB_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "cache"))
    out = tmp_path / "out"
    sizes = ["--train-size", "32", "--eval-size", "8", "--epochs", "1", "--seeds", "0"]
    shape = ["--set", "hidden_size=32", "--set", "num_layers=1", "--set", "vocab_size=300"]
    argv = ["compare", "--dataset", task, "--set", f"data_source={source}", *sizes, *shape]
    status = main([*argv, "--set", "max_new_tokens=16", "--out", str(out), "--no-progress"])
    assert status in (0, 3)  # 3: a tiny run flagged as having learned nothing, still scored
    _check_scored_as_recorded(out, task)


def test_a_task_without_its_files_or_a_generator_says_where_it_looked(tmp_path, monkeypatch):
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("JEPA_LAB_DATA_DIR", raising=False)
    nq = get_task("nq_open")
    with pytest.raises(FileNotFoundError) as err:
        nq.load("train", "auto")
    message = str(err.value)
    assert message.startswith("no local copy of NQ-Open train (llm-jepa/nq_open_train)")
    assert "empty-cache" in message and "jepa-lab download nq_open" in message
    with pytest.raises(ValueError, match="task 'nq_open' has no offline generator"):
        nq.load("train", "generated")
    with pytest.raises(ValueError, match="source='hub' is only available for gsm8k"):
        nq.load("train", "hub")
