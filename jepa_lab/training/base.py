"""The package's own small pretrained base: the paper's setting (fine-tune a pretrained model)
in miniature.

The paper fine-tunes pretrained 1-8B models. A from-scratch tiny model is a different regime:
its final hidden states can collapse onto one direction and satisfy the JEPA term for free. So
jepa-lab pretrains a tiny Llama once, with plain next-token prediction on an offline corpus it
builds (the NL-RX generator's paraphrase templates, regexes as separate documents, GSM8K-style
problems, and any text you add), and caches it. Both arms are then fine-tuned from the same base.
The corpus never pairs a description with its regex: the base learns the two languages, not the
task.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from jepa_lab.data import gsm8k_synth, nlrx_synth
from jepa_lab.data.download import cache_dir
from jepa_lab.data.tokenizer import train_tokenizer
from jepa_lab.objective.config import MAX_PREDICTOR_TOKENS
from jepa_lab.training.presets import TrainConfig
from jepa_lab.training.tiny import tiny_llama

# Part of the cache key: bumped whenever the pretraining corpus changes, so an old cached base is
# never taken for a new one. 2: the GSM8K generator no longer repeats a step or writes "1 years".
# (benchmarks/README.md's study ran on version 1.)
BASE_VERSION = 2
# The default base's pretraining measured on one CPU thread of a Binder-like install (about
# 5 min 15 s before the first fine-tuning epoch); other specs scale from it.
DEFAULT_BASE_SECONDS = 315.0


@dataclass(frozen=True)
class BaseSpec:
    """What the cached base depends on; its hash names the cache entry."""

    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    vocab_size: int = 1024
    n_descriptions: int = 30000
    n_regexes: int = 20000
    n_problems: int = 4000
    extra_corpus: str | None = None  # a text file, one document per line
    epochs: int = 3
    seq_len: int = 128
    batch_size: int = 32
    lr: float = 2e-3
    seed: int = 0

    def key(self) -> str:
        extra = ""
        if self.extra_corpus:
            extra = hashlib.sha256(Path(self.extra_corpus).read_bytes()).hexdigest()
        blob = json.dumps({**self.__dict__, "extra": extra, "v": BASE_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def base_corpus(spec: BaseSpec) -> list[str]:
    """The offline pretraining documents: descriptions, regexes and problems, never paired."""
    documents = nlrx_synth.template_corpus(spec.n_descriptions, seed=spec.seed)
    regex_source = nlrx_synth.generate(spec.n_regexes, "train", seed=spec.seed + 1, style="varied")
    documents += [e.code for e in regex_source]
    for problem in gsm8k_synth.generate(spec.n_problems, "train", seed=spec.seed):
        documents += [problem.text, problem.code]
    if spec.extra_corpus:
        lines = Path(spec.extra_corpus).read_text(encoding="utf-8").splitlines()
        documents += [line for line in lines if line.strip()]
    return documents


def _chunks(tokenizer, documents: list[str], seq_len: int) -> torch.Tensor:
    """All documents as one stream (BOS doc EOS ...), cut into rows of ``seq_len`` tokens."""
    stream: list[int] = []
    for ids in tokenizer(documents, add_special_tokens=False)["input_ids"]:
        stream += [tokenizer.bos_token_id, *ids, tokenizer.eos_token_id]
    n = len(stream) // seq_len
    return torch.tensor(stream[: n * seq_len]).view(n, seq_len)  # [N, seq_len]


def _work(spec: BaseSpec) -> float:
    """Relative pretraining work: documents x epochs x (per-token cost of the layers and the
    output head)."""
    documents = spec.n_descriptions + spec.n_regexes + 2 * spec.n_problems
    per_token = 12 * spec.hidden_size**2 * spec.num_layers + 2 * spec.vocab_size * spec.hidden_size
    return documents * spec.epochs * per_token


def estimate_pretrain_seconds(spec: BaseSpec) -> float:
    """About how long pretraining ``spec`` takes on one CPU thread (the default: ~5 minutes)."""
    return DEFAULT_BASE_SECONDS * _work(spec) / _work(BaseSpec())


def _minutes(seconds: float) -> str:
    whole = int(round(seconds))
    return f"{whole // 60}:{whole % 60:02d}"


def pretrain_base(spec: BaseSpec, out_dir: Path, progress: bool = True) -> None:
    """Train the base with NTP on the corpus and save model + tokenizer to ``out_dir``."""
    from transformers import Trainer, TrainingArguments

    documents = base_corpus(spec)
    tokenizer = train_tokenizer(documents, vocab_size=spec.vocab_size)
    rows = _chunks(tokenizer, documents, spec.seq_len)
    dataset = [{"input_ids": row, "labels": row} for row in rows]
    model = tiny_llama(
        spec.hidden_size,
        spec.num_layers,
        spec.num_heads,
        len(tokenizer) + MAX_PREDICTOR_TOKENS,  # room for any k without resizing
        seed=spec.seed,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        pad_token_id=tokenizer.pad_token_id,
    )
    with tempfile.TemporaryDirectory() as scratch:
        args = TrainingArguments(
            output_dir=scratch,
            num_train_epochs=spec.epochs,
            per_device_train_batch_size=spec.batch_size,
            learning_rate=spec.lr,
            warmup_steps=0.05,
            lr_scheduler_type="cosine",
            seed=spec.seed,
            save_strategy="no",
            # a cache shared by every run that needs it: its losses belong to no run's tracker
            report_to="none",
            logging_steps=50,
            logging_strategy="steps" if progress else "no",  # else a log dict every 50 steps
            use_cpu=not torch.cuda.is_available(),
            disable_tqdm=not progress,
        )
        Trainer(model=model, args=args, train_dataset=dataset).train()
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "base.json").write_text(json.dumps(spec.__dict__, indent=2) + "\n")


def spec_for(config: TrainConfig) -> BaseSpec:
    return BaseSpec(
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        num_heads=config.num_heads,
        vocab_size=config.vocab_size,
        extra_corpus=config.base_corpus,
    )


def base_path(spec: BaseSpec, progress: bool | None = None) -> Path:
    """The cached base for ``spec``, pretrained first if it is not there (atomically).

    Says up front that the one-off pretraining starts and about how long it takes.
    ``progress`` (default: on a terminal only) shows the Trainer's bar and losses."""
    root = cache_dir() / "bases"
    final = root / spec.key()
    if (final / "base.json").is_file():
        return final
    root.mkdir(parents=True, exist_ok=True)
    if progress is None:
        progress = sys.stdout.isatty()
    print(
        "jepa-lab: pretraining the small base model once, about "
        f"{_minutes(estimate_pretrain_seconds(spec))} (min:s) on one CPU thread, less on more "
        f"cores; later runs reuse it from {final}",
        flush=True,
    )
    scratch = Path(tempfile.mkdtemp(dir=root, prefix=".building-"))
    try:
        pretrain_base(spec, scratch, progress=progress)
        try:
            os.replace(scratch, final)
        except OSError:  # another process finished first: use theirs
            if not (final / "base.json").is_file():
                raise
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return final


def pretrained_base(config: TrainConfig):
    """(model, tokenizer) of the cached base matching ``config``'s model size."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path = base_path(spec_for(config))
    tokenizer = AutoTokenizer.from_pretrained(path)
    model = AutoModelForCausalLM.from_pretrained(
        path, use_safetensors=True, attn_implementation=config.attn_implementation
    )
    return model, tokenizer


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m jepa_lab.training.base [--preset NAME]``: pretrain and cache a preset's base
    now (binder/postBuild does it at image build time, so no notebook pays for it)."""
    import argparse

    from jepa_lab.training.presets import PRESET_NAMES, preset

    parser = argparse.ArgumentParser(
        prog="python -m jepa_lab.training.base", description=main.__doc__
    )
    parser.add_argument("--preset", default="overfit-250-base", choices=PRESET_NAMES)
    args = parser.parse_args(argv)
    config = preset(args.preset)
    path = base_path(spec_for(config))
    print(f"jepa-lab: the base of preset {args.preset} is in {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
