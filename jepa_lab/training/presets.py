"""TrainConfig: one dataclass for a training run, and the named presets.

* ``tiny``: a 2-layer, 128-wide Llama with a locally trained tokenizer; minutes on 2 CPU cores,
  well under 2 GB of RAM. From random init, or (``init="base"``) from the package's own small
  base model, pretrained once with NTP on an offline corpus and cached.
* ``small``: a 4-layer, 256-wide Llama for a CPU that can wait.
* ``llama-1b``, ``gemma-2b``, ``olmo-1b``, ``qwen3-1.7b``: the paper's models, from the hub
  (needs your own network access and, for Llama and Gemma, an accepted licence), bf16, on a GPU.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from jepa_lab.objective.config import JepaConfig

# Learning rates in the range the LLM-JEPA paper fine-tunes with (1e-5 to 2e-5, full fine-tune).
PAPER_MODELS = {
    "llama-1b": ("meta-llama/Llama-3.2-1B-Instruct", 2e-5),
    "gemma-2b": ("google/gemma-2-2b-it", 1e-5),
    "olmo-1b": ("allenai/OLMo-2-0425-1B-Instruct", 2e-5),
    "qwen3-1.7b": ("Qwen/Qwen3-1.7B", 2e-5),
}
FROM_CONFIG = ("tiny", "small")

# Model sizes of the scale curve (benchmarks/where_it_helps.py): (hidden, layers, heads, lr).
# Width and depth grow together; the learning rate shrinks with width, as is usual for AdamW.
# All share the tiny preset's 1,024-token BPE vocabulary so only the transformer grows.
MODEL_SIZES = {
    "tiny": (128, 2, 4, 2e-3),
    "mini": (192, 3, 4, 1.5e-3),
    "small": (256, 4, 4, 1e-3),
    "medium": (384, 6, 6, 7e-4),
}
# The scale curve's GPU points (benchmarks/device_scale.sh), trained from scratch in bf16 with the
# same 1,024-token vocabulary: a ~100M-parameter model of the same family, and the body of
# Llama-3.2-1B (its width, depth, 32 query / 8 key-value heads and 8,192-wide MLP, from its public
# config.json; only the vocabulary is ours, so 0.97B parameters instead of 1.24B). Learning rates
# shrink with width as above; they are not tuned.
GPU_MODEL_SIZES = {
    "100m": dict(hidden_size=768, num_layers=12, num_heads=12, lr=3e-4),
    "llama-1b-arch": dict(
        hidden_size=2048,
        num_layers=16,
        num_heads=32,
        num_key_value_heads=8,
        intermediate_size=8192,
        lr=1e-4,
    ),
}
# Regimes of the study, each a preset: the small-data, many-epoch regime where the paper says
# NTP overfits and LLM-JEPA does not (claim II), and the full NL-RX-SYNTH split per model size.
# eval_size matches what the study measured; pass --eval-size 2000 for the whole test split.
OVERFIT_SIZES = (250, 500, 1000)
REGIME_PRESETS = {
    **{
        f"overfit-{n}": dict(train_size=n, eval_size=200, epochs=30, size="tiny")
        for n in OVERFIT_SIZES
    },
    # The same regime fine-tuned from the package's pretrained tiny base: where the study
    # measured LLM-JEPA above NTP (benchmarks/README.md, "where does LLM-JEPA help?").
    **{
        f"overfit-{n}-base": dict(train_size=n, eval_size=200, epochs=30, size="tiny", init="base")
        for n in OVERFIT_SIZES
    },
    # ... and from larger bases (each pretrained once on the same offline corpus at its size):
    # does the fine-tuning gain grow with the base?
    **{
        f"overfit-250-base-{size}": dict(
            train_size=250, eval_size=200, epochs=30, size=size, init="base"
        )
        for size in ("mini", "small")
    },
    **{
        f"scale-{size}": dict(train_size=8000, eval_size=300, epochs=4, size=size)
        for size in MODEL_SIZES
    },
    **{
        f"scale-{size}": dict(train_size=8000, eval_size=300, epochs=4, size=size, bf16=True)
        for size in GPU_MODEL_SIZES
    },
}

# GSM8K at a size a laptop runs: generated one-step word problems with small numbers, which the
# tiny model learns in minutes on 2 CPU cores (README: "GSM8K at tiny scale" has the figures).
GSM8K_PRESETS = {
    "gsm8k-tiny": dict(
        size="tiny",
        dataset="gsm8k",
        data_source="generated",
        gsm8k_steps=1,
        gsm8k_max_number=10,
        train_size=1000,
        eval_size=100,
        epochs=4,
        batch_size=16,  # twice the updates of 32 for the same compute: it learns in 4 epochs
        max_new_tokens=32,  # a one-step worked solution is at most 24 tokens with its stop
    ),
}

# Spider at tiny scale: generated text-to-SQL pairs over the generator's own small schemas
# (jepa_lab.data.sql_synth), scored by execution on the sqlite files it builds.
TINY_TASK_PRESETS = {
    "spider-tiny": dict(
        size="tiny",
        dataset="spider",
        data_source="generated",
        train_size=1000,
        eval_size=100,
        epochs=4,
        batch_size=16,
        max_new_tokens=64,
    ),
}

# The paper's Llama-3.2-1B setting of each task of its table (docs/training.md has the table
# with the source of every figure). From the official code (galilai-group/llm-jepa):
# scripts/llama1b_jepa_synth.sh trains NL-RX-SYNTH at lr 2e-5 with lam 1 and one predictor
# token; scripts/llama1b_jepa_gsm8k.sh and run.sh train GSM8K and Spider at lr 1e-5 with
# lam 0.5 (run.sh sweeps lam {0.5, 2.0} x k {0, 1, 2}); all for 4 epochs at batch 8 x
# gradient accumulation 8 per device, reading the embedding one token before the end of turn
# (last_token=-2: embed_at="end_of_turn" here), over the seeds below; the paper's NQ-Open row
# uses lam = 1024. Decoding is greedy with 128 new tokens. Where neither gives a figure (TURK,
# HellaSwag, Rotten Tomatoes), the NL-RX-SYNTH script's is used and the table says so.
PAPER_SEEDS = (82, 23, 37, 84, 4)
PAPER_GRID = dict(lam=(0.5, 2.0), k=(0, 1, 2))
_PAPER_TASK_SETTING = {  # task: (lr, lam, k)
    "nlrx": (2e-5, 1.0, 1),
    "turk": (2e-5, 1.0, 1),
    "gsm8k": (1e-5, 0.5, 1),
    "spider": (1e-5, 0.5, 1),
    "nq_open": (2e-5, 1024.0, 1),
    "hellaswag": (2e-5, 1.0, 1),
    "rotten_tomatoes": (2e-5, 1.0, 1),
}
PAPER_TASK_PRESETS = {
    f"llama-1b-{task}": dict(
        dataset=task, data_source="local", lr=lr, jepa=dict(lam=lam, k=k, embed_at="end_of_turn")
    )
    for task, (lr, lam, k) in _PAPER_TASK_SETTING.items()
}


@dataclass
class TrainConfig:
    """Everything a run depends on; saved as ``run.json`` in the run directory."""

    preset: str = "tiny"
    model: str = "tiny"  # "tiny" / "small" (Llama built from a config) or a hub name / local dir
    init: str = "random"  # from-config models: "random" or "base" (the cached pretrained base)
    base_corpus: str | None = None  # extra text (one document per line) for the base's corpus
    hidden_size: int = 128
    num_layers: int = 2
    num_heads: int = 4
    vocab_size: int = 1024  # of the locally trained tokenizer
    # From-config models only; None keeps the tiny family's shape (MLP 3 x hidden, one key/value
    # head per query head). Set for the GPU sizes that copy a published architecture.
    intermediate_size: int | None = None
    num_key_value_heads: int | None = None
    dataset: str = "nlrx"  # a task of jepa_lab.training.tasks (nlrx, gsm8k, spider, ...)
    data_source: str = "auto"  # see jepa_lab.data.load_dataset
    # GSM8K generator's difficulty (data_source="generated" only); None: difficulty level 1
    gsm8k_steps: int | None = None  # exactly this many worked steps per problem, 1-3
    gsm8k_max_number: int | None = None  # largest number stated in a question, >= 2
    train_size: int | None = 2000
    eval_size: int | None = 400
    epochs: int = 8
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 2e-3
    weight_decay: float = 0.0
    warmup_ratio: float = 0.05
    scheduler: str = "cosine"
    max_grad_norm: float = 1.0
    bf16: bool = False
    lora: bool = False
    lora_r: int = 16
    max_new_tokens: int = 48
    eval_batch_size: int = 64
    seed: int = 0
    # optimizer steps between checkpoints; None: each epoch; 0: none (only final/, no resume;
    # for runs that are cheaper to redo than to checkpoint, like the study's)
    save_every: int | None = None
    # the Trainer's trackers: "none", "all", or names such as "tensorboard" or
    # "tensorboard,trackio"; history.jsonl is written either way (resume keeps it exact)
    report_to: str = "none"
    attn_implementation: str = "sdpa"
    trust_remote_code: bool = False
    jepa: JepaConfig = field(default_factory=JepaConfig)

    def __post_init__(self) -> None:
        from jepa_lab.training.validation import ConfigError, check_train_config

        if isinstance(self.jepa, dict):
            self.jepa = JepaConfig.from_dict(self.jepa)
        if not isinstance(self.jepa, JepaConfig):
            raise ConfigError("TrainConfig", "jepa", self.jepa, "a JepaConfig or a dict")
        check_train_config(self)
        if self.init == "base" and self.model not in FROM_CONFIG:
            raise ConfigError(
                "TrainConfig",
                "init",
                self.init,
                "'random' for a hub or local model ('base' applies to the tiny/small models only)",
            )

    @property
    def from_config(self) -> bool:
        return self.model in FROM_CONFIG

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"TrainConfig: unknown field(s) {unknown}")
        return cls(**data)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=True)

    def with_arm(self, arm: str) -> TrainConfig:
        """The same run as the NTP baseline (``lam=0``) or the LLM-JEPA arm."""
        if arm == "ntp":
            return replace(self, jepa=replace(self.jepa, lam=0.0))
        if arm == "jepa":
            from jepa_lab.objective.losses import (
                require_jepa_lam,
            )  # here: importing presets must not load torch

            require_jepa_lam(self.jepa.lam, "jepa.lam")
            return self
        raise ValueError(f"arm={arm!r}: expected 'ntp' or 'jepa'")


def preset(name: str = "tiny", **overrides: Any) -> TrainConfig:
    """A named preset with ``overrides`` applied; ``jepa`` may be a dict of JepaConfig fields."""
    jepa_overrides = overrides.pop("jepa", {}) or {}
    if isinstance(jepa_overrides, JepaConfig):
        jepa_overrides = jepa_overrides.to_dict()
    if name == "tiny":
        config = TrainConfig(preset="tiny", jepa=JepaConfig(k=1, lam=1.0))
    elif name == "small":
        config = TrainConfig(
            preset="small",
            model="small",
            hidden_size=256,
            num_layers=4,
            num_heads=4,
            vocab_size=2048,
            train_size=8000,
            eval_size=2000,
            epochs=10,
            lr=1e-3,
        )
    elif name in PAPER_MODELS:
        hub_name, lr = PAPER_MODELS[name]
        config = TrainConfig(
            preset=name,
            model=hub_name,
            train_size=None,
            eval_size=None,
            epochs=4,
            batch_size=4,
            grad_accum=4,
            lr=lr,
            warmup_ratio=0.0,
            scheduler="linear",
            bf16=True,
            max_new_tokens=128,
            eval_batch_size=32,
            jepa=JepaConfig(k=1, lam=1.0),
        )
    elif name in PAPER_TASK_PRESETS:
        setting = dict(PAPER_TASK_PRESETS[name])
        base = preset("llama-1b", jepa=setting.pop("jepa"))
        config = replace(
            base, preset=name, batch_size=8, grad_accum=8, seed=PAPER_SEEDS[0], **setting
        )
    elif name in REGIME_PRESETS or name in GSM8K_PRESETS or name in TINY_TASK_PRESETS:
        regime = dict(
            REGIME_PRESETS.get(name) or GSM8K_PRESETS.get(name) or TINY_TASK_PRESETS[name]
        )
        size = regime.pop("size")
        if size in MODEL_SIZES:
            hidden, layers, heads, lr = MODEL_SIZES[size]
            model = dict(hidden_size=hidden, num_layers=layers, num_heads=heads, lr=lr)
        else:
            model = GPU_MODEL_SIZES[size]
        config = TrainConfig(preset=name, jepa=JepaConfig(k=1, lam=1.0), **model, **regime)
    else:
        choices = list(PRESET_NAMES)
        raise ValueError(f"unknown preset {name!r}; expected one of {choices}")
    switched = overrides.get("dataset") not in (None, config.dataset)
    if switched and "max_new_tokens" not in overrides:  # e.g. GSM8K's worked solutions are long
        from jepa_lab.training.tasks import TASKS  # an unknown name: TrainConfig says so

        task = TASKS.get(overrides["dataset"])
        needed = task.max_new_tokens if task else config.max_new_tokens
        overrides["max_new_tokens"] = max(config.max_new_tokens, needed)
    return replace(config, jepa=replace(config.jepa, **jepa_overrides), **overrides)


# Run sizes applied on top of a preset (named here so the CLI, the explorer and the docs agree).
# The tiny preset cut down to run both arms in under a minute on a laptop CPU (42 s on one busy
# core here), long enough for the losses to fall and accuracy to start moving:
EXPLORER_SIZES = dict(
    train_size=1024,
    eval_size=64,
    epochs=6,
    batch_size=16,
    hidden_size=64,
    num_layers=2,
    num_heads=4,
    vocab_size=512,
    max_new_tokens=24,
)
# jepa-lab demo: both arms of the tiny preset over 2 seeds, on generated NL-RX-SYNTH pairs (the
# same on every machine, no download), sized to finish within 5 minutes on 2 idle CPU cores
# (benchmarks/README.md has the measured time). --full is benchmarks/tiny_nlrx.py's sizes,
# --quick a smoke test.
# batch 16: twice the updates of 32 for the same compute (NTP reaches ~0.11 accuracy, not 0.04)
DEMO_SIZES = dict(data_source="generated", train_size=1000, eval_size=100, epochs=4, batch_size=16)
FULL_DEMO_SIZES = dict(data_source="generated", train_size=3000, eval_size=300, epochs=6)
QUICK_DEMO_SIZES = dict(
    data_source="generated",
    train_size=96,
    eval_size=16,
    epochs=1,
    batch_size=16,
    max_new_tokens=24,
)

PRESET_NAMES = (
    "tiny",
    "small",
    *REGIME_PRESETS,
    *GSM8K_PRESETS,
    *TINY_TASK_PRESETS,
    *PAPER_MODELS,
    *PAPER_TASK_PRESETS,
)
