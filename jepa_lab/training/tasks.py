"""The task registry: every task of the LLM-JEPA paper's table, and any the user registers.

One :class:`Task` says in one place, so that no module tests the dataset's name to decide it:
the system prompt, what the Text and Code views are, where the real files are
(locally and as a hash-checked download), the offline generator where there is one, how an
answer is scored (metric -> value, and which metric is the headline), and how long an answer
may be generated. ``--dataset``, ``jepa-lab download``, the presets, ``evaluate`` and the
report all take their choices from :data:`TASKS`.

from jepa_lab.training.tasks import get_task, register_task
spider = get_task("spider")
train = spider.load("train", "local", n=100)
register_task("my-task", train="train.jsonl", test="test.jsonl", scorer=my_scorer)
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jepa_lab.data import Dataset, cache_dir, find_file, load_chat_task, load_dataset, split_off
from jepa_lab.data import task_files as tf
from jepa_lab.data.download import download as download_bundle
from jepa_lab.data.records import GSM8K_SYSTEM_PROMPT, NLRX_SYSTEM_PROMPT
from jepa_lab.training import task_scoring as scoring

SOURCES = ("auto", "generated", "local", "download", "hub")
# HellaSwag is published with a test file only: without a train file of your own, training
# uses every record of it but each fifth, and scores on those fifths (a loud warning says so).
HELLASWAG_HELD_OUT = 0.2


@dataclass(frozen=True)
class Task:
    """One task: its data, its views, its scorer and its generation length.

    files: split -> key of jepa_lab.data.download.FILES (the real file, found in data_dir,
        $JEPA_LAB_DATA_DIR or the download cache; or ``paths``, a user's own files).
    read: (path, split, on_error) -> Dataset of Examples, the record -> (Text, Code) split.
    score: (answers, examples) -> (metrics, per-example correct); ``headline`` names the
        metric that becomes ``eval_accuracy``, the others are recorded as ``eval_<metric>``.
    generate: (n, split, seed, **knobs) -> Examples, the offline generator, if any.
    score_with_model: (jepa_model, examples) -> metrics that need the model itself (HellaSwag's
        next-token probability of A-D), recorded as ``eval_logits_<metric>``.
    """

    name: str
    title: str
    system_prompt: str | None
    views: tuple[str, str]  # what Text and Code are, in words
    read: Callable[[Path, str, str], Dataset]
    score: Callable[[list[str], list[Any]], tuple[dict[str, float], list[bool]]]
    headline: str
    max_new_tokens: int
    files: Mapping[str, str] = field(default_factory=dict)
    paths: Mapping[str, str] = field(default_factory=dict)
    bundle: str | None = None
    generate: Callable[..., list[Any]] | None = None
    score_with_model: Callable[[Any, list[Any]], dict] | None = None
    source: str = ""  # where the data comes from, in words
    knobs: tuple[str, ...] = ()  # TrainConfig fields of the generator ("gsm8k_steps": steps=)
    builtin_loader: bool = False  # NL-RX and GSM8K: jepa_lab.data.load_dataset's variants
    # the published file is sorted by label (Rotten Tomatoes: every 'Good' first), so a subset of
    # n records is spread evenly over the file instead of taking its first n, one class only
    sorted_by_label: bool = False

    def local_file(self, split: str, data_dir: str | Path | None = None) -> Path | None:
        """The real file of ``split`` on this machine, or None."""
        if split in self.paths:
            path = Path(self.paths[split])
            return path if path.exists() else None
        key = self.files.get(split)
        return find_file(key, data_dir) if key else None

    def load(
        self,
        split: str,
        source: str = "auto",
        n: int | None = None,
        seed: int = 0,
        data_dir: str | Path | None = None,
        on_error: str = "raise",
        **knobs: Any,
    ) -> list[Any]:
        """One split: ``source`` as in jepa_lab.data.load_dataset ('auto': a real copy if one is
        here, else the generator; never the network)."""
        if split not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test', got {split!r}")
        if source not in SOURCES:
            raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
        if self.builtin_loader:
            return load_dataset(
                self.name,
                split,
                source,
                n=n,
                seed=seed,
                data_dir=data_dir,
                on_error=on_error,
                **knobs,
            )
        if source == "hub":
            raise ValueError(f"source='hub' is only available for gsm8k, not {self.name!r}")
        if source == "generated":
            return self._generated(split, n, seed, knobs)
        path = self._real_path(split, data_dir)
        if path is None and source == "download" and self.bundle:
            download_bundle(self.bundle)
            path = self._real_path(split, data_dir)
        if path is not None:
            data = self._read_split(path, split, on_error, data_dir)
            return _spread(data, n) if self.sorted_by_label else _first(data, n)
        if source == "auto" and self.generate is not None:
            return self._generated(split, n, seed, knobs)
        raise FileNotFoundError(self._missing(split))

    def _real_path(self, split: str, data_dir: str | Path | None) -> Path | None:
        path = self.local_file(split, data_dir)
        if path is None and self.name == "hellaswag" and split == "train":
            path = self.local_file("test", data_dir)  # cut from the test file, see _read_split
        return path

    def _read_split(
        self, path: Path, split: str, on_error: str, data_dir: str | Path | None
    ) -> Dataset:
        if self.name == "hellaswag" and self.local_file("train", data_dir) is None:
            warnings.warn(
                "HellaSwag: no train file is published (only hellaswag_test.jsonl), so this run "
                f"trains on 4/5 of the test file and scores on the other {HELLASWAG_HELD_OUT:.0%} "
                "(every fifth record); the numbers are NOT comparable to the paper's. Put your "
                "own file at llm-jepa-datasets/hellaswag_train.jsonl to train on it.",
                stacklevel=4,
            )
            return split_off(self.read(path, "test", on_error), HELLASWAG_HELD_OUT, split)
        return self.read(path, split, on_error)

    def _generated(self, split: str, n: int | None, seed: int, knobs: dict) -> list[Any]:
        if self.generate is None:
            raise ValueError(
                f"source='generated': task {self.name!r} has no offline generator; use "
                f"source='local' or 'download' ({self._where()})"
            )
        return self.generate(n or (2000 if split == "train" else 200), split, seed=seed, **knobs)

    def _where(self) -> str:
        if self.paths:
            return "its files: " + ", ".join(f"{s} {p}" for s, p in self.paths.items())
        download = f"jepa-lab download {self.bundle}" if self.bundle else "no download"
        return f"looked in data_dir, $JEPA_LAB_DATA_DIR and {cache_dir()}; {download}"

    def _missing(self, split: str) -> str:
        if split in self.files or split in self.paths:
            rel = self.paths.get(split) or self.files[split]
            return f"no local copy of {self.title} {split} ({rel}): {self._where()}"
        return f"task {self.name!r} has no {split} file"


def _first(data: list[Any], n: int | None) -> list[Any]:
    if n is None:
        return data
    if isinstance(data, Dataset):
        return Dataset(data[:n], data.skipped, data.errors)
    return data[:n]


def _spread(data: list[Any], n: int | None) -> list[Any]:
    """n records evenly spaced over the file (all of it when n is None or not smaller)."""
    if n is None or n >= len(data):
        return data
    picked = [data[i * len(data) // n] for i in range(n)]
    return Dataset(picked, data.skipped, data.errors) if isinstance(data, Dataset) else picked


def _chat(task: str) -> Callable[[Path, str, str], Dataset]:
    return lambda path, split, on_error: load_chat_task(path, task, split, on_error)


def _turk(path: Path, split: str, on_error: str) -> Dataset:
    from jepa_lab.data import load_nlrx_chat

    return load_nlrx_chat(path, split, on_error=on_error, corpus="turk")


def _spider_generate(n: int, split: str, seed: int = 0, **_: Any) -> list[Any]:
    from jepa_lab.data import sql_synth

    return sql_synth.generate(n, split, seed=seed)


def _unused(path: Path, split: str, on_error: str) -> Dataset:
    raise AssertionError("a built-in task reads through jepa_lab.data.load_dataset")


TASKS: dict[str, Task] = {}


def _add(task: Task) -> Task:
    TASKS[task.name] = task
    return task


_add(
    Task(
        "nlrx",
        "NL-RX-SYNTH",
        NLRX_SYSTEM_PROMPT,
        ("the English description", "the regex (dk.brics dialect)"),
        _unused,
        scoring.score_regex,
        "semantic_accuracy",
        48,
        files={"train": "nlrx-jepa/train", "test": "nlrx-jepa/test"},
        bundle="nlrx",
        generate=lambda n, split, seed=0, **kw: load_dataset(
            "nlrx", split, "generated", n=n, seed=seed
        ),
        source="LLM-JEPA's 8,000/2,000 split of NL-RX-SYNTH (Locascio et al. 2016)",
        builtin_loader=True,
    )
)
_add(
    Task(
        "turk",
        "NL-RX-TURK",
        NLRX_SYSTEM_PROMPT,
        ("the crowd-written English description", "the regex (dk.brics dialect)"),
        _turk,
        scoring.score_regex,
        "semantic_accuracy",
        48,
        files={"train": "llm-jepa/turk_train", "test": "llm-jepa/turk_test"},
        bundle="turk",
        source="LLM-JEPA's 8,000/2,000 split of NL-RX-TURK (Locascio et al. 2016)",
    )
)
_add(
    Task(
        "gsm8k",
        "GSM8K",
        GSM8K_SYSTEM_PROMPT,
        ("the word problem", "the worked solution ending '#### N'"),
        _unused,
        scoring.score_math,
        "accuracy",
        160,  # worked solutions are long
        files={"train": "gsm8k/train", "test": "gsm8k/test"},
        bundle="gsm8k",
        generate=lambda n, split, seed=0, **kw: load_dataset(
            "gsm8k", split, "generated", n=n, seed=seed, **kw
        ),
        source="GSM8K as first published (Cobbe et al. 2021)",
        knobs=("gsm8k_steps", "gsm8k_max_number"),
        builtin_loader=True,
    )
)
_add(
    Task(
        "spider",
        "Spider",
        tf.SPIDER_SYSTEM_PROMPT,
        ("'For db_id:[name]' and the question", "the SQL query"),
        _chat("spider"),
        scoring.score_sql,
        "execution_accuracy",
        128,
        files={"train": "llm-jepa/spider_train", "test": "llm-jepa/spider_test"},
        bundle="spider",
        generate=_spider_generate,
        source="LLM-JEPA's Spider files (Yu et al. 2018); the databases are the Spider download",
    )
)
_add(
    Task(
        "nq_open",
        "NQ-Open",
        tf.NQ_OPEN_SYSTEM_PROMPT,
        ("the question", "the gold answers joined with '; '"),
        _chat("nq_open"),
        scoring.score_open_qa,
        "exact_match",
        32,
        files={"train": "llm-jepa/nq_open_train", "test": "llm-jepa/nq_open_test"},
        bundle="nq_open",
        source="LLM-JEPA's NQ-Open files (Lee et al. 2019)",
    )
)
_add(
    Task(
        "hellaswag",
        "HellaSwag",
        tf.HELLASWAG_SYSTEM_PROMPT,
        ("the context and its four endings A) to D)", "the letter of the right ending"),
        _chat("hellaswag"),
        scoring.score_letter,
        "accuracy",
        4,
        files={"test": "llm-jepa/hellaswag_test"},
        bundle="hellaswag",
        score_with_model=scoring.score_letter_by_logits,
        source="LLM-JEPA's HellaSwag test file (Zellers et al. 2019); no train file is published",
    )
)
_add(
    Task(
        "rotten_tomatoes",
        "Rotten Tomatoes",
        tf.ROTTEN_TOMATOES_SYSTEM_PROMPT,
        ("the review sentence", "'Good' or 'Bad'"),
        _chat("rotten_tomatoes"),
        scoring.score_review_label,
        "accuracy",
        4,
        files={"train": "llm-jepa/rotten_tomatoes_train", "test": "llm-jepa/rotten_tomatoes_test"},
        bundle="rotten_tomatoes",
        source="LLM-JEPA's Rotten Tomatoes files (Pang and Lee 2005)",
        sorted_by_label=True,
    )
)
BUILTIN_TASKS = tuple(TASKS)


def generator_knobs(task: Task, config: Any) -> dict[str, Any]:
    """The generator's arguments that ``config`` sets (gsm8k_steps -> steps=), if any."""
    values = {name.split("_", 1)[1]: getattr(config, name, None) for name in task.knobs}
    return {k: v for k, v in values.items() if v is not None}


def task_names() -> tuple[str, ...]:
    """Every registered task, the paper's first."""
    return tuple(TASKS)


def get_task(name: str) -> Task:
    """The registered task ``name``; an unknown name is a one-line error listing them."""
    task = TASKS.get(name)
    if task is None:
        raise ValueError(f"unknown task {name!r}; registered tasks: {', '.join(TASKS)}")
    return task


def download_names() -> tuple[str, ...]:
    """What ``jepa-lab download`` accepts: each task with files, and the other published
    bundles (NL-RX as first published, GSM8K in the LLM-JEPA format)."""
    from jepa_lab.data.download import BUNDLES

    return tuple(sorted({t.bundle for t in TASKS.values() if t.bundle} | set(BUNDLES)))


def register_task(
    name: str,
    *,
    train: str | Path,
    test: str | Path,
    scorer: Callable[[Sequence[str], Sequence[str]], dict],
    headline: str = "accuracy",
    system_prompt: str | None = None,
    max_new_tokens: int = 48,
    title: str | None = None,
    replace: bool = False,
) -> Task:
    """Register a task of your own: two chat JSONL files ({"messages": [system?, user,
    assistant]}, Text = user turn, Code = assistant turn) and a scorer.

    scorer(predictions, golds) -> dict of metric -> value, holding ``headline``; and, if it can,
    "correct": one bool per prediction (else each prediction is scored alone for it).
    """
    if not isinstance(name, str) or not name.strip() or any(c.isspace() for c in name):
        raise ValueError(f"register_task: name {name!r}: expected a word without spaces")
    if name in BUILTIN_TASKS or (name in TASKS and not replace):
        raise ValueError(
            f"register_task: task {name!r} is already registered"
            + ("" if name in BUILTIN_TASKS else "; pass replace=True to replace it")
        )
    for split, path in (("train", train), ("test", test)):
        if not Path(path).is_file():
            raise FileNotFoundError(f"register_task {name!r}: {split} file {path} does not exist")
    if not callable(scorer):
        raise TypeError(f"register_task {name!r}: scorer must be callable, got {scorer!r}")
    return _add(
        Task(
            name,
            title or name,
            system_prompt,
            ("the user turn", "the assistant turn"),
            _chat(name),
            scoring.user_scorer(scorer, headline),
            headline,
            max_new_tokens,
            paths={"train": str(train), "test": str(test)},
            source=f"your files {train} and {test}",
        )
    )


def unregister_task(name: str) -> None:
    """Remove a task registered with register_task (the built-in ones stay)."""
    if name in BUILTIN_TASKS:
        raise ValueError(f"unregister_task: {name!r} is built in")
    TASKS.pop(name, None)
