"""The LLM-JEPA task files of the paper's table: each real file loads with the shared data
README's record counts and nothing skipped, and the two views of 20 random records per file are
what the raw JSON says (parsed here with json alone). Bad records fail with file:line."""

from __future__ import annotations

import json
import random
import re

import pytest
from helpers import SHARED_DATA

from jepa_lab.data import DataFormatError, load_chat_task, spider_db_id
from jepa_lab.training.tasks import TASKS, get_task

FOLDER = SHARED_DATA / "llm-jepa-datasets"
needs_files = pytest.mark.skipif(
    not (FOLDER / "spider_train.jsonl").exists(), reason="shared LLM-JEPA task files absent"
)
# file -> (task, split, records): the counts of the shared data README
REAL_FILES = {
    "turk_train": ("turk", "train", 8000),
    "turk_test": ("turk", "test", 2000),
    "spider_train": ("spider", "train", 6587),
    "spider_test": ("spider", "test", 1447),
    "nq_open_train": ("nq_open", "train", 8000),
    "nq_open_test": ("nq_open", "test", 1769),
    "hellaswag_test": ("hellaswag", "test", 2000),
    "rotten_tomatoes_train": ("rotten_tomatoes", "train", 8530),
    "rotten_tomatoes_test": ("rotten_tomatoes", "test", 1066),
}


def _raw(stem: str) -> list[dict]:
    lines = (FOLDER / f"{stem}.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


@needs_files
@pytest.mark.parametrize("stem", sorted(REAL_FILES))
def test_each_real_file_loads_whole_and_its_views_are_the_raw_turns(stem, monkeypatch):
    monkeypatch.setenv("JEPA_LAB_DATA_DIR", str(SHARED_DATA))
    name, split, count = REAL_FILES[stem]
    task = get_task(name)
    data = task.read(task.local_file(split), split, "raise")
    assert (len(data), data.skipped) == (count, 0)
    raw = _raw(stem)
    assert len(raw) == count
    for i in random.Random(stem).sample(range(count), 20):
        system, user, assistant = (t["content"] for t in raw[i]["messages"])
        example = data[i]
        assert (example.text, example.code, example.system) == (user, assistant, system)
        if name == "spider":  # the database named in the question's first line
            assert example.db_id == re.match(r"For db_id:\[(\w+)\]", user).group(1)
        else:
            assert example.db_id is None


@needs_files
def test_gsm8k_in_the_llm_jepa_format_loads_whole():
    from jepa_lab.data import load_gsm8k_chat

    data = load_gsm8k_chat(FOLDER / "gsm8k_test.jsonl")
    assert (len(data), data.skipped) == (1319, 0)
    raw = _raw("gsm8k_test")
    for i in random.Random(0).sample(range(1319), 20):
        assert [data[i].system, data[i].text, data[i].code] == [
            t["content"] for t in raw[i]["messages"]
        ]


@needs_files
def test_hellaswag_without_a_train_file_trains_on_four_fifths_of_the_test_file(monkeypatch):
    monkeypatch.setenv("JEPA_LAB_DATA_DIR", str(SHARED_DATA))
    monkeypatch.setenv("JEPA_LAB_CACHE", "/nonexistent-cache")
    task = get_task("hellaswag")
    with pytest.warns(UserWarning, match="no train file is published"):
        train = task.load("train", "auto")
    with pytest.warns(UserWarning, match="NOT comparable to the paper"):
        test = task.load("test", "auto")
    assert (len(train), len(test)) == (1600, 400)
    assert not {e.id for e in train} & {e.id for e in test}  # disjoint, and together all
    assert len({e.id for e in train} | {e.id for e in test}) == 2000


@needs_files
def test_nq_open_gold_answers_split_on_semicolons():
    data = get_task("nq_open").read(FOLDER / "nq_open_test.jsonl", "test", "raise")
    joined = [e for e in data if "; " in e.code]
    assert joined  # the README: several gold answers joined with '; '
    assert joined[0].code.split("; ") == [a for a in joined[0].code.split("; ") if a]


def _chat(user: str, answer: str, system: str = "s") -> str:
    turns = [("system", system), ("user", user), ("assistant", answer)]
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in turns]})


@pytest.mark.parametrize(
    "task,user,answer,message",
    [
        ("spider", "How many cities?", "SELECT 1", r"spider_train.jsonl:2: .*For db_id:\[name\]"),
        ("hellaswag", "ctx\nA) x\nB) y", "E", r"hellaswag_train.jsonl:2: .*one of \('A'"),
        ("rotten_tomatoes", "great film", "Positive", r"rotten_tomatoes_train.jsonl:2: .*Good"),
    ],
)
def test_a_malformed_record_fails_with_file_and_line(tmp_path, task, user, answer, message):
    good = {
        "spider": ("For db_id:[shop]\n\nHow many?", "SELECT count(*) FROM a"),
        "hellaswag": ("ctx\nA) x\nB) y", "A"),
        "rotten_tomatoes": ("fine", "Good"),
    }[task]
    path = tmp_path / f"{task}_train.jsonl"
    path.write_text(_chat(*good) + "\n" + _chat(user, answer) + "\n", encoding="utf-8")
    with pytest.raises(DataFormatError, match=message):
        load_chat_task(path, task)
    skipped = pytest.warns(UserWarning, match="skipped 1 bad record")
    with skipped:
        data = load_chat_task(path, task, on_error="skip")
    assert (len(data), data.skipped) == (1, 1)


def test_spider_db_id_is_read_from_the_first_line_only():
    assert spider_db_id("For db_id:[concert_singer]\n\nHow many singers?") == "concert_singer"
    assert spider_db_id("How many? For db_id:[x]") is None
    assert spider_db_id("For db_id:[]\n\nq") is None


def test_every_task_names_its_files_and_views():
    for task in TASKS.values():
        assert task.views[0] and task.views[1] and task.headline and task.max_new_tokens > 0
        assert task.files or task.paths or task.generate is not None


@needs_files
def test_a_subset_of_the_label_sorted_review_files_holds_both_labels(monkeypatch):
    """Rotten Tomatoes' files list every 'Good' review first: the first 200 rows are one class,
    and a model that always says 'Good' would score 1.0 on them. A subset spreads over the file."""
    monkeypatch.setenv("JEPA_LAB_DATA_DIR", str(SHARED_DATA))
    raw = _raw("rotten_tomatoes_train")
    assert {r["messages"][-1]["content"] for r in raw[:200]} == {"Good"}  # the trap, in the data
    task = get_task("rotten_tomatoes")
    for split, n in (("train", 200), ("test", 40)):
        subset = task.load(split, "local", n=n)
        labels = [e.code for e in subset]
        assert len(subset) == n and len(set(e.id for e in subset)) == n
        assert 0.4 <= labels.count("Good") / n <= 0.6, (split, labels.count("Good"))
    assert len(task.load("test", "local")) == 1066  # no n: the whole file, in order
