"""A small byte-level BPE tokenizer trained locally, wrapped as a Hugging Face fast tokenizer.

Byte-level, so every string (any regex character, any Unicode) round-trips exactly. No prefix
space is added, so a piece tokenizes the same alone as after a special token: the chat template
can be tokenized piecewise (prompt, then answer) without shifting ids.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
from transformers import PreTrainedTokenizerFast

from jepa_lab.data.records import Example

BOS, EOT, PAD = "<|bos|>", "<|eot|>", "<|pad|>"
ROLE_TOKENS = ("<|system|>", "<|user|>", "<|assistant|>")
SPECIAL_TOKENS = (BOS, EOT, PAD, *ROLE_TOKENS)  # ids 0..5, in this order
CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}<|eot|>"
    "{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def train_tokenizer(
    texts: Iterable[str],
    vocab_size: int = 1024,
    min_frequency: int = 2,
    padding_side: str = "right",
) -> PreTrainedTokenizerFast:
    """Train byte-level BPE on `texts`; same input gives the same tokenizer.

    Special tokens: bos <|bos|>, eos <|eot|> (end of turn, so generation stops there),
    pad <|pad|>, and the role markers <|system|>, <|user|>, <|assistant|>. No unk: all 256
    bytes are in the base alphabet.
    """
    n_base = len(pre_tokenizers.ByteLevel.alphabet()) + len(SPECIAL_TOKENS)
    if vocab_size < n_base:
        raise ValueError(
            f"vocab_size must be >= {n_base} (256 bytes + {len(SPECIAL_TOKENS)} "
            f"special tokens), got {vocab_size}"
        )
    core = Tokenizer(models.BPE())
    core.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    core.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        show_progress=False,
        special_tokens=list(SPECIAL_TOKENS),
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    # Sorted, de-duplicated input: BPE merge ties then break the same way on every run.
    core.train_from_iterator(sorted(set(texts)), trainer=trainer)
    return wrap(core, padding_side)


def wrap(core: Tokenizer, padding_side: str = "right") -> PreTrainedTokenizerFast:
    """PreTrainedTokenizerFast around a trained core, with our special tokens and chat template."""
    if padding_side not in ("left", "right"):
        raise ValueError(f"padding_side must be 'left' or 'right', got {padding_side!r}")
    tok = PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token=BOS,
        eos_token=EOT,
        pad_token=PAD,
        additional_special_tokens=list(ROLE_TOKENS),
        padding_side=padding_side,
        clean_up_tokenization_spaces=False,  # keep " ." etc. exactly: regexes need it
    )
    tok.chat_template = CHAT_TEMPLATE
    return tok


def tokenizer_for(
    examples: Sequence[Example],
    vocab_size: int = 1024,
    min_frequency: int = 2,
    padding_side: str = "right",
) -> PreTrainedTokenizerFast:
    """Tokenizer trained on the Text and Code views (and system prompts) of `examples`."""
    texts = [e.text for e in examples] + [e.code for e in examples]
    texts += sorted({e.system for e in examples if e.system})
    return train_tokenizer(texts, vocab_size, min_frequency, padding_side)
