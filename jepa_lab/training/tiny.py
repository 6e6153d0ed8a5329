"""Tiny models, one home: the from-config Llama of the tiny and small presets (and of the
pretrained base), and a one-call toy :class:`JepaModel` for notebooks, exercises and tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from jepa_lab.data.tokenizer import train_tokenizer
from jepa_lab.objective.config import JepaConfig
from jepa_lab.objective.model import JepaModel

# The toy model's sizes: enough to run every code path in well under a second on a CPU.
TOY_SIZES = dict(hidden_size=32, num_layers=2, num_heads=4, vocab_size=300)


def tiny_llama_config(
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    vocab_size: int,
    num_key_value_heads: int | None = None,
    **extra: Any,
) -> LlamaConfig:
    """The from-config Llama of the tiny and small presets (and of the pretrained base).

    num_key_value_heads: fewer key/value heads than query heads gives grouped-query attention,
    as in Llama 3 (default: one per query head, plain multi-head attention).
    """
    kv_heads = num_heads if num_key_value_heads is None else num_key_value_heads
    if not (isinstance(kv_heads, int) and 0 < kv_heads <= num_heads and num_heads % kv_heads == 0):
        raise ValueError(
            f"tiny_llama_config: num_key_value_heads={num_key_value_heads!r} must divide "
            f"num_heads={num_heads} (grouped-query attention shares each key/value head "
            "among the same number of query heads)"
        )
    fields = dict(
        vocab_size=vocab_size,
        hidden_size=hidden_size,
        intermediate_size=hidden_size * 3,
        num_hidden_layers=num_layers,
        num_attention_heads=num_heads,
        num_key_value_heads=kv_heads,
        max_position_embeddings=1024,
        tie_word_embeddings=True,
    )
    return LlamaConfig(**{**fields, **extra})


def tiny_llama(
    hidden_size: int,
    num_layers: int,
    num_heads: int,
    vocab_size: int,
    seed: int = 0,
    attn_implementation: str = "sdpa",
    **extra: Any,
) -> LlamaForCausalLM:
    """A random-init tiny Llama in fp32; the same ``seed`` gives bit-identical weights."""
    torch.manual_seed(seed)
    config = tiny_llama_config(hidden_size, num_layers, num_heads, vocab_size, **extra)
    model = LlamaForCausalLM._from_config(config, attn_implementation=attn_implementation)
    return model.float()


def _strings(examples: Sequence[Any]) -> list[str]:
    out = []
    for i, item in enumerate(examples):
        if isinstance(item, (tuple, list)) and len(item) == 2:
            out += [str(item[0]), str(item[1])]
        elif hasattr(item, "text") and hasattr(item, "code"):
            out += [str(item.text), str(item.code)]
        else:
            raise TypeError(
                f"examples[{i}]: expected a (text, code) tuple or an object with .text and "
                f".code, got {type(item).__name__}"
            )
    return out


def tiny_jepa_model(
    examples: Sequence[Any] | None = None,
    config: JepaConfig | None = None,
    seed: int = 0,
    **sizes: Any,
) -> JepaModel:
    """A toy JepaModel in one call: a byte-level BPE tokenizer trained on ``examples``' strings
    (default: 64 generated NL-RX pairs) and an untrained tiny Llama (:data:`TOY_SIZES`,
    overridable by ``sizes``), wrapped with ``config`` (default ``JepaConfig()``)."""
    if examples is None:
        from jepa_lab.data import nlrx_synth

        examples = nlrx_synth.generate(64, seed=seed)
    unknown = set(sizes) - set(TOY_SIZES) - {"attn_implementation"}
    if unknown:
        raise TypeError(f"tiny_jepa_model: unknown size(s) {sorted(unknown)}; known {TOY_SIZES}")
    dims = {**TOY_SIZES, **sizes}
    tokenizer = train_tokenizer(_strings(examples), vocab_size=dims.pop("vocab_size"))
    config = config or JepaConfig()
    model = tiny_llama(vocab_size=len(tokenizer) + config.k, seed=seed, **dims)
    return JepaModel(model, tokenizer, config)
