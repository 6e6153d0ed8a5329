"""Multiple choice scored the official way: the answer letter the model finds most probable.

For each example the model reads the templated prompt (exactly the NTP row's prompt, the one
generation starts from) and its next-token distribution is compared across the letters' tokens;
the argmax is the answer. This is how the LLM-JEPA code scores HellaSwag, with one difference:
that code cuts the prompt to 128 tokens, which drops the end of a long context and the
endings listed after it; here the whole prompt is read.

Batches are right-padded: in a causal model a position never attends to the padding after it,
so the logits at each prompt's last token are those of the prompt alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from jepa_lab.objective.model import JepaModel, input_device


def letter_token_ids(tokenizer, letters: Sequence[str]) -> list[int]:
    """The token each letter starts with when it opens the answer (the code view is tokenised
    on its own, so this is the token NTP trained to come first)."""
    ids = [tokenizer(letter, add_special_tokens=False)["input_ids"] for letter in letters]
    if any(not i for i in ids):
        raise ValueError(f"a letter of {list(letters)} tokenises to nothing")
    first = [i[0] for i in ids]
    if len(set(first)) != len(first):
        raise ValueError(
            f"the letters {list(letters)} share a first token ({first}); they cannot be told "
            "apart by the next-token probability"
        )
    return first


def _prompts(jm: JepaModel, examples: Sequence[Any]) -> list[list[int]]:
    return [jm.prompt_ids([e.text], system=getattr(e, "system", None))[0] for e in examples]


@torch.inference_mode()
def _letter_probabilities(
    model, prompts: list[list[int]], letter_ids: list[int], pad_id: int, batch_size: int
) -> list[list[float]]:
    device = input_device(model)
    order = sorted(range(len(prompts)), key=lambda i: len(prompts[i]))
    out: list[list[float]] = [[] for _ in prompts]
    for start in range(0, len(order), batch_size):
        rows = order[start : start + batch_size]
        width = max(len(prompts[i]) for i in rows)
        ids = torch.full((len(rows), width), pad_id, dtype=torch.long)  # (B, T)
        mask = torch.zeros((len(rows), width), dtype=torch.long)  # (B, T)
        for row, i in enumerate(rows):
            ids[row, : len(prompts[i])] = torch.as_tensor(prompts[i])
            mask[row, : len(prompts[i])] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits
        last = torch.as_tensor([len(prompts[i]) - 1 for i in rows], device=logits.device)
        rows_logits = logits[torch.arange(len(rows), device=logits.device), last]  # (B, V)
        probs = torch.softmax(rows_logits.float(), dim=-1)[:, letter_ids]  # (B, letters)
        for row, i in enumerate(rows):
            out[i] = probs[row].tolist()
    return out


def score_choice_by_logits(
    jepa_model: JepaModel,
    examples: Sequence[Any],
    letters: Sequence[str] = ("A", "B", "C", "D"),
    batch_size: int = 16,
) -> dict:
    """Accuracy of the most probable letter after each example's whole prompt.

    Returns {"n", "accuracy", "correct", "predicted" (letters), "probabilities" (per example,
    the next-token probability of each letter), "letter_mass" (mean total probability on the
    letters: near 1 when the model has learnt to answer with a letter)}.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    tokenizer = jepa_model.tokenizer
    letter_ids = letter_token_ids(tokenizer, letters)
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else letter_ids[0]
    model = jepa_model.model
    was_training = model.training
    model.eval()
    try:
        probabilities = _letter_probabilities(
            model, _prompts(jepa_model, examples), letter_ids, pad_id, batch_size
        )
    finally:
        model.train(was_training)
    predicted = [letters[max(range(len(letters)), key=p.__getitem__)] for p in probabilities]
    correct = [guess == str(e.code).strip() for guess, e in zip(predicted, examples, strict=True)]
    n = len(correct)
    return {
        "n": n,
        "accuracy": sum(correct) / n if n else 0.0,
        "letter_mass": sum(map(sum, probabilities)) / n if n else 0.0,
        "correct": correct,
        "predicted": predicted,
        "probabilities": probabilities,
    }
