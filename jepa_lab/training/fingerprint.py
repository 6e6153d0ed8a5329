"""The data are part of a run's identity: SHA-256 fingerprints of the training and held-out
examples, of the files they were read from, and of the tokenizer, kept in ``run.json``.

A resume compares these fingerprints first (:func:`jepa_lab.training.rundir.check_same_run`)
and refuses other data: with one training record edited, the tokenizer would be trained again
and the saved weights read under token ids that mean other strings, with no error at all.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

GENERATED = "generated"  # Example.source of the offline generators starts with this


def pair_key(example: Any) -> tuple[str, str, str | None]:
    """What makes two examples the same pair: their text, code and system prompt."""
    if isinstance(example, (tuple, list)) and len(example) == 2:
        return str(example[0]), str(example[1]), None
    return str(example.text), str(example.code), getattr(example, "system", None)


def examples_fingerprint(examples: Sequence[Any]) -> dict[str, Any]:
    """``{"n", "sha256"}`` of the examples' content, in order (ids and sources left out: the
    same pairs read from a moved copy are the same data)."""
    digest = hashlib.sha256()
    for example in examples:
        line = json.dumps(pair_key(example), ensure_ascii=False)
        digest.update(line.encode("utf-8") + b"\n")
    return {"n": len(examples), "sha256": digest.hexdigest()}


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def source_kinds(examples: Sequence[Any]) -> list[str]:
    """Where the examples came from, e.g. ``["gsm8k/original"]`` or ``["generated/..."]``."""
    return sorted({str(getattr(e, "source", None) or "given") for e in examples})


def is_generated(examples: Sequence[Any]) -> bool:
    return bool(examples) and all(k.startswith(GENERATED) for k in source_kinds(examples))


def files_read(config: Any, splits: dict[str, Sequence[Any]]) -> list[dict[str, Any]]:
    """The real data file behind each split that was read from one, with its size and hash."""
    from jepa_lab.data import local_path

    if config.data_source in (GENERATED, "hub"):
        return []
    read = []
    for split, examples in splits.items():
        if not examples or is_generated(examples) or "given" in source_kinds(examples):
            continue
        path = local_path(config.dataset, "test" if split == "eval" else split)
        if path is not None and path.is_file():
            read.append(
                {
                    "split": split,
                    "path": str(path.resolve()),
                    "bytes": path.stat().st_size,
                    "sha256": file_sha256(path),
                }
            )
    return read


def data_identity(config: Any, train: Sequence[Any], held_out: Sequence[Any]) -> dict[str, Any]:
    """The ``data`` entry of ``run.json``."""
    return {
        "train": examples_fingerprint(train),
        "eval": examples_fingerprint(held_out),
        "sources": {"train": source_kinds(train), "eval": source_kinds(held_out)},
        "files": files_read(config, {"train": train, "eval": held_out}),
    }


def tokenizer_fingerprint(tokenizer: Any) -> str:
    """SHA-256 of what maps text to token ids: the tokenizer's full serialisation (a fast
    tokenizer), else its vocabulary and special tokens, and the chat template."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if backend is not None:
        body = backend.to_str()
    else:
        body = json.dumps(sorted(tokenizer.get_vocab().items()), ensure_ascii=False)
    extra = {
        "special": getattr(tokenizer, "all_special_tokens", None),
        "chat_template": getattr(tokenizer, "chat_template", None),
    }
    text = body + json.dumps(extra, sort_keys=True, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
