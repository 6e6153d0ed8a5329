"""NL-RX loaders: the original parallel files (src.txt/targ.txt) and the LLM-JEPA chat JSONL.

NL-RX has two corpora with the same kind of regexes: SYNTH (generated descriptions) and TURK
(the same regexes described by Mechanical Turk workers). Records say which one they came from,
in their id and source.
"""

from __future__ import annotations

import random
from pathlib import Path

from jepa_lab.data.chat_jsonl import iter_chat_jsonl
from jepa_lab.data.errors import DataFormatError, Dataset, ErrorPolicy, read_lines
from jepa_lab.data.records import NLRX_SYSTEM_PROMPT, Example, split_from_name

SPLITS = ("train", "test")
CORPORA = ("synth", "turk")
# Id prefix and source of each corpus's records; SYNTH keeps the labels it always had.
_CHAT_LABELS = {
    "synth": ("nlrx-jepa", "nl-rx/llm-jepa-split"),
    "turk": ("nlrx-jepa-turk", "nl-rx/llm-jepa-split/turk"),
}
_ORIGINAL_LABELS = {
    "synth": ("nlrx-original", "nl-rx/original"),
    "turk": ("nlrx-turk", "nl-rx/original/NL-RX-Turk"),
}


def _corpus(corpus: str | None, path: Path) -> str:
    """The corpus asked for, else the one the file or folder name says (turk_train.jsonl,
    NL-RX-Turk/), else SYNTH."""
    if corpus is None:
        return "turk" if "turk" in path.name.lower() else "synth"
    if corpus not in CORPORA:
        raise ValueError(f"corpus must be one of {CORPORA}, got {corpus!r}")
    return corpus


def load_nlrx_chat(
    path: str | Path, split: str | None = None, on_error: str = "raise", corpus: str | None = None
) -> Dataset:
    """Examples from an LLM-JEPA chat JSONL file, e.g. synth_train.jsonl (8,000 records).

    corpus: 'synth' or 'turk'; by default 'turk' when the file name says so (turk_test.jsonl).
    """
    path = Path(path)
    split = split or split_from_name(path)
    prefix, source = _CHAT_LABELS[_corpus(corpus, path)]
    policy, out = ErrorPolicy(on_error), []
    for lineno, item in iter_chat_jsonl(path):
        if isinstance(item, DataFormatError):
            policy.handle(item)
            continue
        system, text, code = item
        out.append(
            Example(
                text=text,
                code=code,
                id=f"{prefix}/{split}/{lineno - 1:05d}",
                source=source,
                system=system,
            )
        )
    return policy.finish(out, str(path))


def read_parallel(
    src: str | Path, targ: str | Path, on_error: str = "raise"
) -> tuple[list[tuple[int, str, str]], ErrorPolicy]:
    """(line number, description, regex) for each line pair of src.txt/targ.txt."""
    src, targ = Path(src), Path(targ)
    policy = ErrorPolicy(on_error)
    src_lines, targ_lines = list(read_lines(src)), list(read_lines(targ))
    if len(src_lines) != len(targ_lines):
        # Which line belongs to which is unknowable, so this is fatal even with on_error='skip'.
        raise DataFormatError(
            src,
            None,
            f"{len(src_lines)} lines but {targ.name} has "
            f"{len(targ_lines)}; the files must be line-parallel",
        )
    pairs = []
    for (lineno, text), (_, code) in zip(src_lines, targ_lines, strict=True):
        bad = next((x for x in (text, code) if isinstance(x, DataFormatError)), None)
        if bad is None and not text.strip():
            bad = DataFormatError(src, lineno, "empty description")
        if bad is None and not code.strip():
            bad = DataFormatError(targ, lineno, "empty regex")
        if bad is not None:
            policy.handle(bad)
            continue
        pairs.append((lineno, text.strip(), code.strip()))
    return pairs, policy


def load_nlrx_original(
    directory: str | Path,
    split: str = "train",
    seed: int = 0,
    test_fraction: float = 0.2,
    on_error: str = "raise",
    system: str | None = NLRX_SYSTEM_PROMPT,
    corpus: str | None = None,
) -> Dataset:
    """NL-RX-SYNTH or NL-RX-TURK as first published (src.txt/targ.txt, no split) with a seeded
    80/20 split.

    The split shuffles line numbers with random.Random(seed), so it is the same on every machine.
    corpus: 'synth' or 'turk'; by default 'turk' when the folder is named so (NL-RX-Turk).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    directory = Path(directory)
    pairs, policy = read_parallel(directory / "src.txt", directory / "targ.txt", on_error)
    order = list(range(len(pairs)))
    random.Random(seed).shuffle(order)
    n_test = round(len(pairs) * test_fraction)
    chosen = sorted(order[:n_test] if split == "test" else order[n_test:])
    prefix, source = _ORIGINAL_LABELS[_corpus(corpus, directory)]
    out = [
        Example(
            text=pairs[i][1],
            code=pairs[i][2],
            id=f"{prefix}/{pairs[i][0]:05d}",
            source=source,
            system=system,
        )
        for i in chosen
    ]
    return policy.finish(out, str(directory))
