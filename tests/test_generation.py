"""Batched greedy generation equals a one-prompt-at-a-time greedy loop without cache."""

from __future__ import annotations

import pytest
import torch
from tokenizers import Tokenizer
from tokenizers.models import WordLevel
from tokenizers.pre_tokenizers import WhitespaceSplit
from transformers import (
    GPT2Config,
    GPT2LMHeadModel,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedTokenizerFast,
)

from jepa_lab.training.generation import decode_all, default_stop_token_ids, generate_greedy

SPECIALS = ["<pad>", "<unk>", "<eos>", "<|im_end|>"]
WORDS = [f"w{i}" for i in range(60)]


def make_tokenizer(with_end_of_turn: bool = True) -> PreTrainedTokenizerFast:
    specials = SPECIALS if with_end_of_turn else SPECIALS[:3]
    vocab = {token: i for i, token in enumerate(specials + WORDS)}
    model = Tokenizer(WordLevel(vocab=vocab, unk_token="<unk>"))
    model.pre_tokenizer = WhitespaceSplit()
    return PreTrainedTokenizerFast(
        tokenizer_object=model, pad_token="<pad>", unk_token="<unk>", eos_token="<eos>"
    )


def make_llama(vocab_size: int) -> torch.nn.Module:
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=128,
        pad_token_id=0,
        eos_token_id=2,
        bos_token_id=None,
    )
    return LlamaForCausalLM(config)


def make_gpt2(vocab_size: int) -> torch.nn.Module:
    torch.manual_seed(0)
    config = GPT2Config(
        vocab_size=vocab_size,
        n_embd=32,
        n_layer=2,
        n_head=4,
        n_positions=128,
        pad_token_id=0,
        eos_token_id=2,
        bos_token_id=2,
    )
    return GPT2LMHeadModel(config)


def reference_greedy(model, prompt: list[int], max_new_tokens: int, stop: set[int]) -> list[int]:
    """One prompt, no padding, no cache: argmax of the full forward pass at each step."""
    ids = list(prompt)
    new: list[int] = []
    with torch.no_grad():
        for _ in range(max_new_tokens):
            logits = model(torch.tensor([ids]), use_cache=False).logits[:, -1]  # (1, V)
            token = int(logits.argmax(-1))
            if token in stop:
                break
            new.append(token)
            ids.append(token)
    return new


def uneven_prompts(vocab_size: int) -> list[list[int]]:
    generator = torch.Generator().manual_seed(1)
    lengths = [3, 9, 1, 6, 12, 4, 7]
    return [
        torch.randint(len(SPECIALS), vocab_size, (n,), generator=generator).tolist()
        for n in lengths
    ]


@pytest.mark.parametrize("make_model", [make_llama, make_gpt2], ids=["llama", "gpt2"])
def test_batched_matches_reference(make_model):
    tokenizer = make_tokenizer()
    model = make_model(len(tokenizer))
    model.train()  # generation must switch to eval and then restore this
    prompts = uneven_prompts(len(tokenizer))
    got = generate_greedy(
        model,
        tokenizer,
        prompts,
        max_new_tokens=8,
        stop_token_ids=[],
        batch_size=3,
        progress=False,
    )
    assert model.training
    model.eval()
    expected = [reference_greedy(model, p, 8, set()) for p in prompts]
    assert got == expected
    assert all(len(ids) == 8 for ids in got)  # no stop token: every row runs to the limit


@pytest.mark.parametrize("make_model", [make_llama, make_gpt2], ids=["llama", "gpt2"])
def test_stop_token_cuts_output(make_model):
    tokenizer = make_tokenizer()
    model = make_model(len(tokenizer)).eval()
    prompts = uneven_prompts(len(tokenizer))
    free = [reference_greedy(model, p, 10, set()) for p in prompts]
    stop_id = free[1][4]  # a token the model really emits at step 5 for prompt 1
    got = generate_greedy(
        model,
        tokenizer,
        prompts,
        max_new_tokens=10,
        stop_token_ids=[stop_id],
        batch_size=4,
        progress=False,
    )
    expected = [ids[: ids.index(stop_id)] if stop_id in ids else ids for ids in free]
    assert got == expected
    assert len(got[1]) <= 4
    assert all(stop_id not in ids for ids in got)


def test_default_stop_tokens_include_end_of_turn():
    tokenizer = make_tokenizer()
    assert default_stop_token_ids(tokenizer) == [
        tokenizer.eos_token_id,
        tokenizer.convert_tokens_to_ids("<|im_end|>"),
    ]
    assert default_stop_token_ids(make_tokenizer(with_end_of_turn=False)) == [
        tokenizer.eos_token_id
    ]


def test_default_stop_applies_and_order_is_restored():
    tokenizer = make_tokenizer()
    model = make_llama(len(tokenizer)).eval()
    prompts = uneven_prompts(len(tokenizer))
    # Give <|im_end|> a slightly scaled copy of the output row of a token the model emits at
    # step 3, so it wins where that token did and the default stop list has work to do.
    target = reference_greedy(model, prompts[0], 6, set())[2]
    end_id = tokenizer.convert_tokens_to_ids("<|im_end|>")
    with torch.no_grad():
        model.lm_head.weight[end_id] = model.lm_head.weight[target] * 1.05
    stop = set(default_stop_token_ids(tokenizer))
    expected = [reference_greedy(model, p, 6, stop) for p in prompts]
    assert len(expected[0]) <= 2  # the stop really happened
    got = generate_greedy(model, tokenizer, prompts, max_new_tokens=6, progress=False)
    assert got == expected
    # Batch size 1 and 100 give the same answers, in the caller's order.
    assert (
        generate_greedy(model, tokenizer, prompts, max_new_tokens=6, batch_size=1, progress=False)
        == expected
    )
    assert (
        generate_greedy(model, tokenizer, prompts, max_new_tokens=6, batch_size=100, progress=False)
        == expected
    )


def test_checkpoint_generation_config_does_not_leak_in():
    """A checkpoint's sampling/penalty defaults must not change greedy answers."""
    tokenizer = make_tokenizer()
    model = make_llama(len(tokenizer)).eval()
    prompts = uneven_prompts(len(tokenizer))
    expected = [reference_greedy(model, p, 8, set()) for p in prompts]
    model.generation_config.repetition_penalty = 5.0
    model.generation_config.no_repeat_ngram_size = 1
    model.generation_config.min_new_tokens = 3
    got = generate_greedy(
        model, tokenizer, prompts, max_new_tokens=8, stop_token_ids=[], progress=False
    )
    assert got == expected
    assert any(len(set(ids)) < len(ids) for ids in expected)  # repeats the penalties would ban


def test_edge_cases_and_decode():
    tokenizer = make_tokenizer()
    model = make_llama(len(tokenizer))
    assert generate_greedy(model, tokenizer, [], progress=False) == []
    assert generate_greedy(model, tokenizer, [[5, 6]], max_new_tokens=0, progress=False) == [[]]
    with pytest.raises(ValueError, match="prompt 1 is empty"):
        generate_greedy(model, tokenizer, [[5], []], progress=False)
    ids = tokenizer("w1 w2 w3")["input_ids"]
    assert decode_all(tokenizer, [ids, ids + [tokenizer.eos_token_id]]) == ["w1 w2 w3"] * 2
