"""Build what a TrainConfig names: its data, its tokenizer and model, wrapped as a JepaModel."""

from __future__ import annotations

from typing import Any

import torch

from jepa_lab.data.tokenizer import tokenizer_for
from jepa_lab.objective.model import JepaModel
from jepa_lab.training.base import pretrained_base
from jepa_lab.training.presets import TrainConfig
from jepa_lab.training.tasks import generator_knobs, get_task
from jepa_lab.training.tiny import tiny_llama


def load_examples(config: TrainConfig) -> tuple[list[Any], list[Any]]:
    """Train and held-out examples. The data never depends on the run's seed, so every seed
    and both arms see the same examples (the seed changes init and order only)."""
    task = get_task(config.dataset)
    knobs = generator_knobs(task, config)  # GSM8K's difficulty
    source = config.data_source
    train = task.load("train", source, n=config.train_size, **knobs)
    held_out = task.load("test", source, n=config.eval_size, **knobs)
    return list(train), list(held_out)


def build_jepa_model(config: TrainConfig, train_examples: list[Any]) -> JepaModel:
    """The model of ``config`` with its tokenizer, wrapped for the JEPA objective.

    From-config models get room for the predictor tokens up front, so the NTP arm (which never
    uses them) and the JEPA arm start from bit-identical weights for the same seed.
    """
    jepa = config.jepa
    if config.from_config:
        if config.init == "base":
            model, tokenizer = pretrained_base(config)
        else:
            tokenizer = tokenizer_for(train_examples, vocab_size=config.vocab_size)
            model = tiny_llama(
                config.hidden_size,
                config.num_layers,
                config.num_heads,
                len(tokenizer) + jepa.k,
                seed=config.seed,
                attn_implementation=config.attn_implementation,
                num_key_value_heads=config.num_key_value_heads,
                **shape_overrides(config),
            )
        model = model.float()
    else:
        model, tokenizer = _from_hub(config)
    torch.manual_seed(config.seed)  # resizing for predictor tokens draws random rows
    jm = JepaModel(model, tokenizer, jepa)
    if config.lora:
        jm.enable_lora(r=config.lora_r, alpha=2 * config.lora_r)
    return jm


def shape_overrides(config: TrainConfig) -> dict[str, int]:
    """LlamaConfig fields a from-config model sets beyond the tiny family's defaults."""
    return {"intermediate_size": config.intermediate_size} if config.intermediate_size else {}


def _from_hub(config: TrainConfig):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    dtype = torch.bfloat16 if config.bf16 and torch.cuda.is_available() else torch.float32
    tokenizer = AutoTokenizer.from_pretrained(
        config.model, trust_remote_code=config.trust_remote_code
    )
    model = AutoModelForCausalLM.from_pretrained(
        config.model,
        dtype=dtype,
        attn_implementation=config.attn_implementation,
        use_safetensors=True,
        trust_remote_code=config.trust_remote_code,
    )
    return model, tokenizer
