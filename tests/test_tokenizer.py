"""Byte-level BPE tokenizer: exact round trips, special tokens, chat template, save/load."""

from __future__ import annotations

import functools

import pytest
from transformers import AutoTokenizer

from jepa_lab.data import gsm8k_synth, load_dataset, nlrx_synth
from jepa_lab.data.tokenizer import BOS, EOT, PAD, ROLE_TOKENS, tokenizer_for, train_tokenizer

HARD_STRINGS = [
    "",
    " ",
    "  leading and trailing  ",
    "\\b([A-Z])&([AEIOUaeiou])\\b",
    "~(.*)|{7,}",
    "tab\there\nnewline",
    "café ünïcödé 🙂",
    "<|user",
    "|>",
    "#### 1,234",
    "48/2 = <<48/2=24>>24 clips .",
    "a ,b ( c ) ' d '",
]


@functools.lru_cache(maxsize=1)
def examples():
    return nlrx_synth.generate(1500, "train", seed=0) + gsm8k_synth.generate(
        500, "train", seed=0, difficulty=2
    )


@functools.lru_cache(maxsize=1)
def tokenizer():
    return tokenizer_for(examples(), vocab_size=600)


def test_round_trip_every_regex_and_text():
    tok = tokenizer()
    real = load_dataset("nlrx", "test", n=500) + load_dataset("gsm8k", "test", n=200)
    for e in examples() + real:
        for s in (e.text, e.code):
            assert tok.decode(tok.encode(s)) == s
    for s in HARD_STRINGS:
        assert tok.decode(tok.encode(s)) == s


def test_special_tokens_are_single_ids():
    tok = tokenizer()
    assert (tok.bos_token, tok.eos_token, tok.pad_token) == (BOS, EOT, PAD)
    ids = {}
    for t in (BOS, EOT, PAD, *ROLE_TOKENS):
        encoded = tok.encode(t)
        assert len(encoded) == 1, t
        ids[t] = encoded[0]
    assert len(set(ids.values())) == 6
    assert tok.unk_token is None
    assert tok.encode("lines with a number") == tok("lines with a number")["input_ids"]


def test_no_prefix_space_piecewise_tokenization():
    tok = tokenizer()
    user = tok.convert_tokens_to_ids("<|user|>")
    for e in examples()[:300] + examples()[-100:]:
        for s in (e.text, e.code, " " + e.text):
            assert tok.encode("<|user|>" + s) == [user] + tok.encode(s)
            assert tok.encode(s + "<|eot|>") == tok.encode(s) + [tok.eos_token_id]


def test_chat_template_renders_as_specified():
    tok = tokenizer()
    e = examples()[0]
    text = tok.apply_chat_template(e.messages, tokenize=False)
    assert text == (
        f"<|bos|><|system|>{e.system}<|eot|><|user|>{e.text}<|eot|><|assistant|>{e.code}<|eot|>"
    )
    prompt = tok.apply_chat_template(e.messages[:2], tokenize=False, add_generation_prompt=True)
    assert prompt == f"<|bos|><|system|>{e.system}<|eot|><|user|>{e.text}<|eot|><|assistant|>"
    # the ids of the prompt are a prefix of the ids of the whole conversation
    ids_full = tok.encode(text, add_special_tokens=False)
    ids_prompt = tok.encode(prompt, add_special_tokens=False)
    assert ids_full[: len(ids_prompt)] == ids_prompt
    assert ids_full[len(ids_prompt) :] == tok.encode(e.code) + [tok.eos_token_id]


def test_save_and_reload_keeps_ids(tmp_path):
    tok = tokenizer()
    tok.save_pretrained(tmp_path)
    again = AutoTokenizer.from_pretrained(tmp_path)
    sample = [e.code for e in examples()[:50]] + HARD_STRINGS
    assert [again.encode(s) for s in sample] == [tok.encode(s) for s in sample]
    e = examples()[3]
    assert again.apply_chat_template(e.messages, tokenize=False) == tok.apply_chat_template(
        e.messages, tokenize=False
    )
    assert (again.bos_token_id, again.eos_token_id, again.pad_token_id) == (
        tok.bos_token_id,
        tok.eos_token_id,
        tok.pad_token_id,
    )


@pytest.mark.parametrize("side", ["left", "right"])
def test_padding_side(side):
    tok = train_tokenizer([e.text for e in examples()[:300]], vocab_size=400, padding_side=side)
    batch = tok(["lines", "lines with a number before a vowel"], padding=True)
    short, mask = batch["input_ids"][0], batch["attention_mask"][0]
    pad_at = short.index(tok.pad_token_id)
    assert (pad_at == 0) == (side == "left")
    assert sum(mask) == len(tok.encode("lines"))


def test_training_is_deterministic_and_sized():
    texts = [e.text for e in examples()[:800]] + [e.code for e in examples()[:800]]
    a = train_tokenizer(texts, vocab_size=500)
    b = train_tokenizer(list(reversed(texts)), vocab_size=500)
    assert a.get_vocab() == b.get_vocab() and len(a) == 500
    with pytest.raises(ValueError, match="vocab_size"):
        train_tokenizer(texts, vocab_size=100)
