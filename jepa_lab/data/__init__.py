"""Datasets: NL-RX and GSM8K, real (local, cached, downloaded) or generated offline, and the
readers of the LLM-JEPA task files (Spider, NQ-Open, HellaSwag, Rotten Tomatoes: task_files).
The task registry that ties each to its scorer is jepa_lab.training.tasks.

from jepa_lab.data import load_dataset
train = load_dataset("nlrx", "train")                      # cached copy, else generated
real = load_dataset("gsm8k", "test", source="download")    # network, hash-checked
"""

from __future__ import annotations

import os
from dataclasses import replace
from pathlib import Path

from jepa_lab.data import gsm8k_synth, nlrx_synth
from jepa_lab.data.download import (
    FILES,
    ChecksumError,
    DownloadError,
    cache_dir,
    fetch,
    verify_cached,
)
from jepa_lab.data.download import download as download_dataset
from jepa_lab.data.errors import DataFormatError, Dataset
from jepa_lab.data.gsm8k import (
    final_answer,
    load_gsm8k_chat,
    load_gsm8k_hub,
    load_gsm8k_original,
    strip_calculator_notes,
)
from jepa_lab.data.gsm8k import strip_calculator_notes as _strip_notes
from jepa_lab.data.nlrx import load_nlrx_chat, load_nlrx_original
from jepa_lab.data.records import GSM8K_SYSTEM_PROMPT, NLRX_SYSTEM_PROMPT, Example, text_and_code
from jepa_lab.data.task_files import (
    load_chat_task,
    load_hellaswag_chat,
    load_nq_open_chat,
    load_rotten_tomatoes_chat,
    load_spider_chat,
    spider_db_id,
    split_off,
)

__all__ = [
    "Example",
    "text_and_code",
    "Dataset",
    "DataFormatError",
    "ChecksumError",
    "DownloadError",
    "NLRX_SYSTEM_PROMPT",
    "GSM8K_SYSTEM_PROMPT",
    "load_dataset",
    "load_nlrx_chat",
    "load_nlrx_original",
    "load_gsm8k_original",
    "load_gsm8k_chat",
    "load_gsm8k_hub",
    "strip_calculator_notes",
    "final_answer",
    "nlrx_synth",
    "gsm8k_synth",
    "generate_nlrx",
    "generate_gsm8k",
    "download_dataset",
    "fetch",
    "cache_dir",
    "FILES",
    "local_path",
    "find_file",
    "load_chat_task",
    "load_spider_chat",
    "load_nq_open_chat",
    "load_hellaswag_chat",
    "load_rotten_tomatoes_chat",
    "spider_db_id",
    "split_off",
]

generate_nlrx = nlrx_synth.generate
generate_gsm8k = gsm8k_synth.generate

SOURCES = ("auto", "generated", "local", "download", "hub")
# Published sizes, used as the default size of a generated split.
DEFAULT_SIZES = {
    ("nlrx", "train"): 8000,
    ("nlrx", "test"): 2000,
    ("gsm8k", "train"): 7473,
    ("gsm8k", "test"): 1319,
}


def _file_key(name: str, split: str, variant: str) -> str | None:
    if name == "gsm8k":
        return f"gsm8k/{split}"
    if name == "nlrx-turk":  # published only as the original src/targ files
        return "nlrx-turk/src"
    return f"nlrx-jepa/{split}" if variant == "llm-jepa" else "nlrx-original/src"


def local_path(
    name: str, split: str = "train", variant: str = "llm-jepa", data_dir: str | Path | None = None
) -> Path | None:
    """The file a real split is read from, if it exists locally: data_dir, $JEPA_LAB_DATA_DIR,
    then the download cache (all with the same layout, e.g. gsm8k/train.jsonl)."""
    return find_file(_file_key(name, split, variant), data_dir)


def find_file(key: str, data_dir: str | Path | None = None) -> Path | None:
    """Where FILES[key] is found locally (data_dir, $JEPA_LAB_DATA_DIR, then the hash-checked
    download cache), or None."""
    rel = Path(FILES[key].cache_path)
    roots = [data_dir, os.environ.get("JEPA_LAB_DATA_DIR"), cache_dir()]
    for root in roots:
        if root and (Path(root) / rel).exists():
            if Path(root) == cache_dir():
                _verify_cache(Path(root), rel.parent)
            return Path(root) / rel
    return None


def _verify_cache(root: Path, folder: Path) -> None:
    """The download cache holds only hash-checked files; one changed since is a ChecksumError
    (your own copies, in data_dir or $JEPA_LAB_DATA_DIR, are read as they are)."""
    for remote in FILES.values():
        path = root / remote.cache_path
        if Path(remote.cache_path).parent == folder and path.exists():
            verify_cached(path, remote)


def _load_real(
    name: str, split: str, variant: str, path: Path, seed: int, on_error: str, strip_notes: bool
) -> Dataset:
    if name == "gsm8k":
        return load_gsm8k_original(path, split, strip_notes=strip_notes, on_error=on_error)
    if name == "nlrx-turk":
        return load_nlrx_original(path.parent, split, seed=seed, on_error=on_error, corpus="turk")
    if variant == "llm-jepa":
        return load_nlrx_chat(path, split, on_error=on_error)
    return load_nlrx_original(path.parent, split, seed=seed, on_error=on_error)


def load_dataset(
    name: str,
    split: str = "train",
    source: str = "auto",
    *,
    variant: str = "llm-jepa",
    n: int | None = None,
    seed: int = 0,
    data_dir: str | Path | None = None,
    on_error: str = "raise",
    strip_calculator_notes: bool = False,
    difficulty: int = 1,
    steps: int | None = None,
    max_number: int | None = None,
    style: str = "nlrx",
) -> list[Example]:
    """Load one split of 'nlrx' (NL-RX-SYNTH), 'nlrx-turk' (NL-RX-TURK) or 'gsm8k'.

    source: 'auto' (a local/cached copy if present, else the offline generator; never the
    network), 'generated', 'local' (error if absent), 'download' (fetch into the cache, then
    load), 'hub' (GSM8K via the optional `datasets` package).
    variant (NL-RX only): 'llm-jepa' (the 8,000/2,000 chat split) or 'original' (src/targ with a
    seeded 80/20 split). 'nlrx-turk' is published only as src/targ: it always gets the seeded
    80/20 split, and has no generator (source 'local' or 'download', or 'auto' with a copy).
    n: size of a generated split (default: the published size); a real split is cut to its
    first n when n is given. seed: generator seed, or the original split's.
    difficulty (GSM8K generator) 1-3, with steps (exactly 1-3 worked steps) and max_number
    (largest number stated in a question) overriding it; style (NL-RX generator) 'nlrx' or
    'varied'. The generator's knobs do nothing to a real split.
    """
    if name not in ("nlrx", "nlrx-turk", "gsm8k"):
        raise ValueError(f"name must be 'nlrx', 'nlrx-turk' or 'gsm8k', got {name!r}")
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if source not in SOURCES:
        raise ValueError(f"source must be one of {SOURCES}, got {source!r}")
    if variant not in ("llm-jepa", "original"):
        raise ValueError(f"variant must be 'llm-jepa' or 'original', got {variant!r}")
    if name == "nlrx-turk" and source == "generated":
        raise ValueError(
            "source='generated': there is no generator for NL-RX-TURK's human "
            "descriptions; use source='download' (or 'nlrx' with style='varied')"
        )
    if source == "hub":
        if name != "gsm8k":
            raise ValueError("source='hub' is only available for gsm8k")
        data = load_gsm8k_hub(split, strip_notes=strip_calculator_notes)
        return _first(data, n)

    path = None if source == "generated" else local_path(name, split, variant, data_dir)
    if path is None and source == "download":
        bundle = (
            name
            if name in ("gsm8k", "nlrx-turk")
            else ("nlrx" if variant == "llm-jepa" else "nlrx-original")
        )
        download_dataset(bundle)
        path = local_path(name, split, variant, data_dir)
    if path is None and source == "local":
        raise FileNotFoundError(
            f"no local copy of {name} ({variant}) {split}: looked in data_dir, "
            f"$JEPA_LAB_DATA_DIR and {cache_dir()}; use source='download' or 'generated'"
        )
    if path is None and name == "nlrx-turk":
        raise FileNotFoundError(
            f"no local copy of NL-RX-TURK (nl-rx/original/NL-RX-Turk/src.txt, targ.txt): looked "
            f"in data_dir, $JEPA_LAB_DATA_DIR and {cache_dir()}, and it has no offline "
            "generator; use source='download' (needs the network), or "
            "jepa_lab.data.download_dataset('nlrx-turk') once"
        )
    if path is not None:
        data = _load_real(name, split, variant, path, seed, on_error, strip_calculator_notes)
        return _first(data, n)

    size = DEFAULT_SIZES[(name, split)] if n is None else n
    if name == "nlrx":
        return nlrx_synth.generate(size, split, seed=seed, style=style)
    examples = gsm8k_synth.generate(
        size, split, seed=seed, difficulty=difficulty, steps=steps, max_number=max_number
    )
    if strip_calculator_notes:
        examples = [replace(e, code=_strip_notes(e.code)) for e in examples]
    return examples


def _first(data: Dataset, n: int | None) -> Dataset:
    return data if n is None else Dataset(data[:n], data.skipped, data.errors)
