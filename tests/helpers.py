"""Test helpers, imported as a module (``from helpers import make_model``): tokenizers trained
here in the chat-template styles of real model families, tiny random-init models of several
decoder families, a few (text, code) pairs, and where the shared data lives."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import torch

SHARED_DATA = Path(
    os.environ.get("JEPA_LAB_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)

CORPUS = [
    "lines containing a vowel followed by the string 'dog'",
    "lines with words with a number and a capital letter",
    "lines ending with a lower-case letter, zero or more times",
    "lines starting with the string 'truck' or a character",
    "lines that do not contain the string 'ring' before 'lake'",
    r".*([AEIOUaeiou]).*(dog).*",
    r"\b([0-9])&([A-Z])\b",
    r"(.*[a-z])*",
    r"((truck)|(.)).*",
    r"~(.*ring.*lake.*)",
    "Natalia sold 48/2 = <<48/2=24>>24 clips in May. #### 72",
    "How many clips did Natalia sell altogether in April and May?",
] * 4

# Templates that mimic real families' layouts (special tokens, headers, trailing newlines).
TEMPLATES = {
    "llama3": (
        "{{ bos_token }}{% for m in messages %}<|start_header_id|>{{ m['role'] }}<|end_header_id|>"
        "\n\n{{ m['content'] | trim }}<|eot_id|>{% endfor %}"
        "{% if add_generation_prompt %}<|start_header_id|>assistant<|end_header_id|>\n\n{% endif %}"
    ),
    "gemma": (
        "{{ bos_token }}{% for m in messages %}"
        "{% if (m['role'] == 'user') != (loop.index0 % 2 == 0) %}"
        "{{ raise_exception('Conversation roles must alternate user/assistant/user/assistant') }}"
        "{% endif %}{% set role = 'model' if m['role'] == 'assistant' else m['role'] %}"
        "<start_of_turn>{{ role }}\n{{ m['content'] | trim }}<end_of_turn>\n{% endfor %}"
        "{% if add_generation_prompt %}<start_of_turn>model\n{% endif %}"
    ),
    "chatml": (
        "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
        "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
    ),
    "plain": None,
}
SPECIALS = {
    "llama3": dict(
        bos="<|begin_of_text|>",
        eos="<|eot_id|>",
        extra=["<|start_header_id|>", "<|end_header_id|>"],
    ),
    "gemma": dict(bos="<bos>", eos="<eos>", extra=["<start_of_turn>", "<end_of_turn>"]),
    "chatml": dict(bos=None, eos="<|im_end|>", extra=["<|im_start|>"]),
    "plain": dict(bos="<|bos|>", eos="<|eos|>", extra=[]),
}


@functools.cache
def _trained_tokenizer_json(style: str) -> str:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    spec = SPECIALS[style]
    special = [t for t in (spec["bos"], spec["eos"], "<pad>") if t] + spec["extra"]
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=400,
        special_tokens=special,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(CORPUS, trainer)
    return tok.to_str()


def make_tokenizer(style: str = "llama3", padding_side: str = "right"):
    from tokenizers import Tokenizer
    from transformers import PreTrainedTokenizerFast

    spec = SPECIALS[style]
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=Tokenizer.from_str(_trained_tokenizer_json(style)),
        bos_token=spec["bos"],
        eos_token=spec["eos"],
        pad_token="<pad>",
        additional_special_tokens=spec["extra"] or None,
    )
    tokenizer.padding_side = padding_side
    if TEMPLATES[style] is not None:
        tokenizer.chat_template = TEMPLATES[style]
    return tokenizer


# The smallest run that trains, evaluates and checkpoints like a real one: seconds per arm.
SMALL_RUN = dict(
    train_size=48,
    eval_size=8,
    epochs=2,
    batch_size=8,
    max_new_tokens=12,
    hidden_size=32,
    num_layers=1,
    num_heads=2,
    vocab_size=300,
)

FAMILIES = ("llama", "gemma2", "qwen3", "olmo2", "gpt2")
FAMILY_STYLE = {
    "llama": "llama3",
    "gemma2": "gemma",
    "qwen3": "chatml",
    "olmo2": "llama3",
    "gpt2": "plain",
}


def make_model(family: str, vocab_size: int, attn: str = "eager", seed: int = 0):
    """A tiny random-init causal LM of ``family`` in fp32."""
    import transformers as tf

    common = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        max_position_embeddings=512,
    )
    if family == "llama":
        config = tf.LlamaConfig(num_key_value_heads=2, **common)
    elif family == "gemma2":
        config = tf.Gemma2Config(
            num_key_value_heads=2, head_dim=8, sliding_window=256, query_pre_attn_scalar=8, **common
        )
    elif family == "qwen3":
        config = tf.Qwen3Config(num_key_value_heads=2, head_dim=8, **common)
    elif family == "olmo2":
        config = tf.Olmo2Config(num_key_value_heads=2, **common)
    elif family == "gpt2":
        config = tf.GPT2Config(
            vocab_size=vocab_size,
            n_embd=32,
            n_layer=2,
            n_head=4,
            n_positions=512,
            bos_token_id=0,
            eos_token_id=1,
            resid_pdrop=0.0,
            embd_pdrop=0.0,
            attn_pdrop=0.0,
        )
    else:
        raise ValueError(family)
    torch.manual_seed(seed)
    model = tf.AutoModelForCausalLM.from_config(config, attn_implementation=attn)
    return model.float().eval()


PAIRS = [
    ("lines containing a vowel followed by the string 'dog'", r".*([AEIOUaeiou]).*(dog).*"),
    ("lines with words with a number and a capital letter", r"\b([0-9])&([A-Z])\b"),
    ("lines ending with a lower-case letter, zero or more times", r"(.*[a-z])*"),
    ("lines that do not contain the string 'ring'", r"~(.*ring.*)"),
]
