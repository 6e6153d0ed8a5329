"""Batched greedy generation for evaluation.

Prompts arrive as token ids (already chat-templated). They are sorted by length so each batch
pads little, left-padded so every row's next token sits in the last column, decoded greedily
with the KV cache, and returned in the caller's order, without the prompt, cut before the first
stop token.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence

import torch
from tqdm.auto import tqdm
from transformers import GenerationConfig

from jepa_lab.objective.model import input_device

# End-of-turn markers of common chat templates (ChatML/Qwen, Llama 3, Gemma, Phi-3).
END_OF_TURN_TOKENS = ("<|im_end|>", "<|eot_id|>", "<end_of_turn>", "<|end|>")


def default_stop_token_ids(tokenizer) -> list[int]:
    """The tokenizer's eos token plus its end-of-turn token when it has one."""
    stop = [] if tokenizer.eos_token_id is None else [int(tokenizer.eos_token_id)]
    vocab = tokenizer.get_vocab()
    for token in END_OF_TURN_TOKENS:
        token_id = vocab.get(token)
        if token_id is not None and token_id not in stop:
            stop.append(int(token_id))
    return stop


def _pad_token_id(tokenizer, stop_token_ids: Sequence[int]) -> int:
    if tokenizer.pad_token_id is not None:
        return int(tokenizer.pad_token_id)
    if stop_token_ids:
        return int(stop_token_ids[0])  # never attended to (mask 0) and cut from the output
    return 0


def _cut_at_stop(ids: list[int], stop: set[int]) -> list[int]:
    for position, token in enumerate(ids):
        if token in stop:
            return ids[:position]
    return ids


@torch.inference_mode()
def _generate_batch(
    model, batch: list[Sequence[int]], config: GenerationConfig, pad_id: int
) -> list[list[int]]:
    device = input_device(model)
    width = max(len(p) for p in batch)
    input_ids = torch.full((len(batch), width), pad_id, dtype=torch.long)  # (B, T)
    attention_mask = torch.zeros((len(batch), width), dtype=torch.long)  # (B, T)
    for row, prompt in enumerate(batch):
        input_ids[row, width - len(prompt) :] = torch.as_tensor(list(prompt), dtype=torch.long)
        attention_mask[row, width - len(prompt) :] = 1
    extra = {}
    if "use_model_defaults" in inspect.signature(model.generate).parameters:
        # transformers 4.5x would otherwise refill fields we set to their global default (e.g.
        # repetition_penalty=1.0) from the checkpoint's generation_config.
        extra["use_model_defaults"] = False
    output = model.generate(
        input_ids=input_ids.to(device),
        attention_mask=attention_mask.to(device),
        generation_config=config,
        **extra,
    )  # (B, T + new), new <= max_new_tokens
    return output[:, width:].tolist()


def generate_greedy(
    model,
    tokenizer,
    prompts: Sequence[Sequence[int]],
    *,
    max_new_tokens: int = 64,
    stop_token_ids: Sequence[int] | None = None,
    batch_size: int = 32,
    progress: bool = True,
    desc: str = "generate",
) -> list[list[int]]:
    """Greedy continuation of each prompt (token ids), batched; returns new ids per prompt.

    Each result excludes the prompt and stops before the first stop token (default: the
    tokenizer's eos plus its end-of-turn token). The model runs in eval mode under
    torch.inference_mode; its previous training mode is restored afterwards.
    """
    if max_new_tokens < 0:
        raise ValueError(f"max_new_tokens must be >= 0, got {max_new_tokens}")
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    for index, prompt in enumerate(prompts):
        if len(prompt) == 0:
            raise ValueError(f"prompt {index} is empty: generation needs at least one token")
    if not prompts or max_new_tokens == 0:
        return [[] for _ in prompts]

    stop = list(default_stop_token_ids(tokenizer) if stop_token_ids is None else stop_token_ids)
    pad_id = _pad_token_id(tokenizer, stop)
    # Every field that changes greedy decoding is set explicitly: fields left unset are filled
    # from the checkpoint's generation_config (which may carry e.g. a repetition penalty).
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        min_length=0,
        do_sample=False,
        num_beams=1,
        repetition_penalty=1.0,
        no_repeat_ngram_size=0,
        use_cache=True,
        pad_token_id=pad_id,
        eos_token_id=stop or None,
    )
    # Longest first: similar lengths share a batch, and memory trouble shows up at once.
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]), reverse=True)
    results: list[list[int]] = [[] for _ in prompts]
    stop_set = set(stop)

    was_training = model.training
    model.eval()
    try:
        starts = range(0, len(order), batch_size)
        for start in tqdm(starts, desc=desc, disable=not progress, unit="batch"):
            indices = order[start : start + batch_size]
            generated = _generate_batch(model, [prompts[i] for i in indices], config, pad_id)
            for index, ids in zip(indices, generated, strict=True):
                results[index] = _cut_at_stop(ids, stop_set)
    finally:
        model.train(was_training)
    return results


def decode_all(tokenizer, id_lists: Sequence[Sequence[int]]) -> list[str]:
    """Decode each id list to text, dropping special tokens."""
    return tokenizer.batch_decode([list(ids) for ids in id_lists], skip_special_tokens=True)
