"""Loaders of the published formats, load_dataset's sources, and bad-input errors."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from jepa_lab.data import (
    GSM8K_SYSTEM_PROMPT,
    NLRX_SYSTEM_PROMPT,
    DataFormatError,
    Example,
    final_answer,
    load_dataset,
    load_gsm8k_chat,
    load_gsm8k_hub,
    load_gsm8k_original,
    load_nlrx_chat,
    load_nlrx_original,
    load_spider_chat,
)
from jepa_lab.data.records import split_from_name

SHARED = Path(
    os.environ.get("JEPA_LAB_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
needs_shared = pytest.mark.skipif(
    not (SHARED / "gsm8k" / "test.jsonl").exists(), reason="shared data absent"
)


def chat_line(
    user: str = "lines with a number",
    assistant: str = "[0-9]",
    system: str | None = NLRX_SYSTEM_PROMPT,
) -> str:
    turns = [{"role": "system", "content": system}] if system is not None else []
    turns += [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]
    return json.dumps({"messages": turns})


def gsm_line(question: str = "What is 2+3?", answer: str = "2+3 = <<2+3=5>>5\n#### 5") -> str:
    return json.dumps({"question": question, "answer": answer})


def write(tmp_path: Path, name: str, lines: list[str]) -> Path:
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_example_messages():
    e = Example(text="q", code="a", id="x/0", source="s")
    assert e.messages == [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]
    with pytest.raises(AttributeError):
        e.text = "other"  # frozen


@pytest.mark.parametrize(
    ("name", "split"),
    [
        ("synth_train.jsonl", "train"),
        ("turk_test.jsonl", "test"),
        ("gsm8k/test.jsonl", "test"),
        ("nq-open.training.jsonl", "train"),
        ("dev.json", "validation"),
        ("spider_val2.jsonl", "validation"),
        ("validation.jsonl", "validation"),
        ("TestSet.jsonl", "test"),
        ("latest.jsonl", "train"),  # "test" inside a word is not a split word
        ("contest_train.jsonl", "train"),
        ("my_pairs.jsonl", "train"),  # no split word: training data
    ],
)
def test_the_split_a_file_name_says(name, split):
    assert split_from_name(name) == split


def test_a_name_of_two_splits_is_refused_unless_the_split_is_given(tmp_path):
    with pytest.raises(ValueError, match=r"train_test\.jsonl: .*splits test, train; pass split="):
        split_from_name("data/train_test.jsonl")
    path = write(tmp_path, "train_test.jsonl", [chat_line()])
    with pytest.raises(ValueError, match="pass split="):
        load_nlrx_chat(path)
    assert load_nlrx_chat(path, split="test")[0].id == "nlrx-jepa/test/00000"
    spider = write(
        tmp_path, "spider_dev.jsonl", [chat_line("For db_id:[shop] count rows", "SELECT 1")]
    )
    assert load_spider_chat(spider)[0].id.split("/")[1] == "validation"  # every loader, one rule
    gsm = write(tmp_path, "gsm8k_testing.jsonl", [gsm_line()])
    assert load_gsm8k_original(gsm)[0].id == "gsm8k/test/00000"


# ---------------------------------------------------------------- real files


@needs_shared
def test_nlrx_llm_jepa_split():
    train = load_nlrx_chat(SHARED / "nl-rx" / "llm-jepa-split" / "synth_train.jsonl")
    test = load_nlrx_chat(SHARED / "nl-rx" / "llm-jepa-split" / "synth_test.jsonl")
    assert (len(train), len(test)) == (8000, 2000)
    assert train.skipped == 0
    first = json.loads((SHARED / "nl-rx/llm-jepa-split/synth_train.jsonl").open().readline())
    assert train[0].messages == first["messages"]
    assert train[0].system == NLRX_SYSTEM_PROMPT and train[0].id == "nlrx-jepa/train/00000"
    # the README's figure: 111 of the 2,000 test regexes also occur in train
    train_regexes = {e.code for e in train}
    assert sum(e.code in train_regexes for e in test) == 111


@needs_shared
def test_nlrx_original_seeded_split():
    root = SHARED / "nl-rx" / "original" / "NL-RX-Synth"
    train, test = load_nlrx_original(root, "train"), load_nlrx_original(root, "test")
    assert (len(train), len(test)) == (8000, 2000)  # 10,000 lines (the last has no newline)
    assert not {e.id for e in train} & {e.id for e in test}
    src = (root / "src.txt").read_text().split("\n")
    targ = (root / "targ.txt").read_text().split("\n")
    for e in train[:50] + test[:50]:
        line = int(e.id.rsplit("/", 1)[1])
        assert (e.text, e.code) == (src[line - 1], targ[line - 1])
    assert [e.id for e in load_nlrx_original(root, "test")] == [e.id for e in test]
    assert [e.id for e in load_nlrx_original(root, "test", seed=1)] != [e.id for e in test]


@needs_shared
def test_gsm8k_original_and_options():
    test = load_gsm8k_original(SHARED / "gsm8k" / "test.jsonl")
    assert len(test) == 1319 and test[0].system == GSM8K_SYSTEM_PROMPT
    assert all(final_answer(e.code) is not None for e in test)
    assert sum("<<" in e.code for e in test) > 1000
    stripped = load_gsm8k_original(SHARED / "gsm8k" / "test.jsonl", strip_notes=True)
    assert not any("<<" in e.code for e in stripped)
    assert [final_answer(e.code) for e in stripped] == [final_answer(e.code) for e in test]


@needs_shared
def test_load_dataset_local_and_auto(monkeypatch, tmp_path):
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("JEPA_LAB_DATA_DIR", raising=False)
    real = load_dataset("nlrx", "test", source="local", data_dir=SHARED)
    assert len(real) == 2000 and real[0].source == "nl-rx/llm-jepa-split"
    original = load_dataset("nlrx", "test", source="auto", variant="original", data_dir=SHARED)
    assert original[0].source == "nl-rx/original"
    assert load_dataset("gsm8k", "train", data_dir=SHARED, n=5)[0].source == "gsm8k/original"


def test_load_dataset_auto_falls_back_to_generator(monkeypatch, tmp_path):
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "empty-cache"))
    monkeypatch.delenv("JEPA_LAB_DATA_DIR", raising=False)
    nlrx = load_dataset("nlrx", "train", n=20)
    assert len(nlrx) == 20 and nlrx[0].source == "generated/nlrx-synth"
    assert len(load_dataset("nlrx", "test")) == 2000  # published size by default
    gsm = load_dataset("gsm8k", "test", n=10, difficulty=2, strip_calculator_notes=True)
    assert gsm[0].source == "generated/gsm8k-synth" and not any("<<" in e.code for e in gsm)
    with pytest.raises(FileNotFoundError, match="source='download'"):
        load_dataset("gsm8k", "test", source="local")
    with pytest.raises(ValueError, match="name"):
        load_dataset("mnist")
    with pytest.raises(ValueError, match="source"):
        load_dataset("nlrx", source="web")


def test_local_copy_is_used_by_auto(monkeypatch, tmp_path):
    """A file in the data layout ($JEPA_LAB_DATA_DIR) wins over the generator."""
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("JEPA_LAB_DATA_DIR", str(tmp_path))
    (tmp_path / "gsm8k").mkdir()
    write(tmp_path / "gsm8k", "test.jsonl", [gsm_line(), gsm_line("What is 1+1?")])
    data = load_dataset("gsm8k", "test")
    assert [e.text for e in data] == ["What is 2+3?", "What is 1+1?"]


@needs_shared
def test_cache_copy_is_used_by_auto(monkeypatch, tmp_path):
    """A verified file in the download cache wins over the generator."""
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path))
    monkeypatch.delenv("JEPA_LAB_DATA_DIR", raising=False)
    (tmp_path / "gsm8k").mkdir()
    (tmp_path / "gsm8k" / "test.jsonl").write_bytes((SHARED / "gsm8k" / "test.jsonl").read_bytes())
    data = load_dataset("gsm8k", "test")
    assert len(data) == 1319 and data[0].source == "gsm8k/original"


def test_hub_without_datasets_says_how(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_datasets(name, *args, **kwargs):
        if name == "datasets":
            raise ImportError("no datasets")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_datasets)
    with pytest.raises(ImportError, match="pip install datasets"):
        load_gsm8k_hub("test")


# ---------------------------------------------------------------- bad input


BAD_CHAT = [
    ('{"messages": [', "synth_train.jsonl:2: malformed JSON"),
    ('{"msgs": []}', "synth_train.jsonl:2: missing field 'messages'"),
    (chat_line(assistant=""), "synth_train.jsonl:2: field 'messages[2].content' is empty"),
    (chat_line(user="  "), "synth_train.jsonl:2: field 'messages[1].content' is empty"),
    (json.dumps({"messages": [{"role": "user", "content": "x"}]}), "has roles ['user']"),
    (
        json.dumps({"messages": [{"role": "user", "content": "x"}, {"role": "assistant"}]}),
        "'messages[1].content' is missing",
    ),
]


@pytest.mark.parametrize("bad,message", BAD_CHAT)
def test_bad_chat_line_raises_with_file_and_line(tmp_path, bad, message):
    path = write(tmp_path, "synth_train.jsonl", [chat_line(), bad, chat_line()])
    with pytest.raises(DataFormatError) as info:
        load_nlrx_chat(path)
    assert message in str(info.value)
    assert info.value.line == 2 and info.value.path == path


def test_skip_reports_count(tmp_path):
    path = write(
        tmp_path,
        "synth_train.jsonl",
        [chat_line(), BAD_CHAT[0][0], chat_line("lines with a vowel"), BAD_CHAT[2][0]],
    )
    with pytest.warns(UserWarning, match="skipped 2 bad record"):
        data = load_nlrx_chat(path, on_error="skip")
    assert [e.text for e in data] == ["lines with a number", "lines with a vowel"]
    assert data.skipped == 2 and "synth_train.jsonl:2" in data.errors[0]
    assert [e.id for e in data] == ["nlrx-jepa/train/00000", "nlrx-jepa/train/00002"]
    with pytest.raises(ValueError, match="on_error"):
        load_nlrx_chat(path, on_error="ignore")


def test_truncated_last_line(tmp_path):
    path = tmp_path / "synth_test.jsonl"
    path.write_text(chat_line() + "\n" + chat_line()[:25], encoding="utf-8")
    with pytest.raises(DataFormatError, match="synth_test.jsonl:2: malformed JSON"):
        load_nlrx_chat(path)


def test_non_utf8_file(tmp_path):
    path = tmp_path / "train.jsonl"
    latin1 = b'{"question": "caf\xe9?", "answer": "#### 1"}'  # \xe9 is not UTF-8 on its own
    path.write_bytes(gsm_line().encode() + b"\n" + latin1 + b"\n")
    with pytest.raises(DataFormatError, match=r"train.jsonl:2: not valid UTF-8"):
        load_gsm8k_original(path)
    with pytest.warns(UserWarning):
        assert len(load_gsm8k_original(path, on_error="skip")) == 1


@pytest.mark.parametrize(
    "bad,message",
    [
        (json.dumps({"question": "Q?"}), "test.jsonl:1: missing field 'answer'"),
        (gsm_line(question=""), "test.jsonl:1: field 'question' is empty"),
        (
            gsm_line(answer="It is 5."),
            "test.jsonl:1: field 'answer' does not end with '#### <answer>'",
        ),
        ("[1, 2]", "test.jsonl:1: missing field 'question'"),
    ],
)
def test_bad_gsm8k_records(tmp_path, bad, message):
    path = write(tmp_path, "test.jsonl", [bad, gsm_line()])
    with pytest.raises(DataFormatError) as info:
        load_gsm8k_original(path)
    assert message in str(info.value)
    with pytest.warns(UserWarning, match="skipped 1"):
        assert len(load_gsm8k_original(path, on_error="skip")) == 1


def test_gsm8k_chat_format(tmp_path):
    path = write(
        tmp_path,
        "gsm8k_train.jsonl",
        [
            chat_line("What is 2+3?", "2+3 = <<2+3=5>>5\n#### 5", system="Solve it."),
            chat_line("What is 1+1?", "It is two.", system=None),
        ],
    )
    with pytest.raises(DataFormatError, match=r"gsm8k_train.jsonl:2: .*'#### <answer>'"):
        load_gsm8k_chat(path)
    with pytest.warns(UserWarning):
        data = load_gsm8k_chat(path, on_error="skip", strip_notes=True)
    assert data[0].system == "Solve it." and data[0].code == "2+3 = 5\n#### 5"


def test_mismatched_parallel_files(tmp_path):
    write(tmp_path, "src.txt", ["lines with a number", "lines with a vowel"])
    write(tmp_path, "targ.txt", ["[0-9]"])
    for on_error in ("raise", "skip"):  # unrecoverable: lines cannot be paired
        with pytest.raises(DataFormatError, match="src.txt: 2 lines but targ.txt has 1"):
            load_nlrx_original(tmp_path, on_error=on_error)


def test_empty_view_in_parallel_files(tmp_path):
    write(tmp_path, "src.txt", ["lines with a number", "lines with a vowel", ""])
    write(tmp_path, "targ.txt", ["[0-9]", "", "[a-z]"])
    with pytest.raises(DataFormatError, match="targ.txt:2: empty regex"):
        load_nlrx_original(tmp_path, test_fraction=0.0)
    with pytest.warns(UserWarning, match="skipped 2"):
        data = load_nlrx_original(tmp_path, test_fraction=0.0, on_error="skip")
    assert [(e.text, e.code) for e in data] == [("lines with a number", "[0-9]")]
