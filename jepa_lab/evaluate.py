"""Held-out evaluation of a JepaModel: generate answers, score them, measure the embeddings."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from .generation import decode_all, generate_greedy
from .geometry import effective_rank, paired_cosine, random_pair_cosine
from .model import JepaModel
from .scoring import score_gsm8k, score_nlrx


def _device(jm: JepaModel) -> torch.device:
    return jm.model.get_input_embeddings().weight.device


def _prompts(jm: JepaModel, examples: Sequence[Any]) -> list[list[int]]:
    prompts: list[list[int]] = []
    for example in examples:
        system = getattr(example, "system", None)
        prompts += jm.prompt_ids([example.text], system=system)
    return prompts


@torch.inference_mode()
def teacher_forced(jm: JepaModel, examples: Sequence[Any], batch_size: int = 64) -> dict:
    """Held-out NTP and JEPA losses and the three embeddings [N, H] (numpy, float32)."""
    was_training = jm.training
    jm.eval()
    device = _device(jm)
    ntp_sum, ntp_count, jepa_sum = 0.0, 0, 0.0
    parts: dict[str, list[np.ndarray]] = {"text": [], "pred": [], "code": []}
    try:
        for start in range(0, len(examples), batch_size):
            chunk = list(examples[start : start + batch_size])
            batch = {k: v.to(device) for k, v in jm.build_batch(chunk, jepa=True).items()}
            out = jm(**batch)
            ntp_sum += float(out.ntp_sum)
            ntp_count += out.ntp_count
            jepa_sum += float(out.jepa_sum)
            for name in parts:
                parts[name].append(getattr(out, f"{name}_emb").float().cpu().numpy())
    finally:
        jm.train(was_training)
    embeddings = {name: np.concatenate(chunks) for name, chunks in parts.items()}
    n = len(embeddings["text"])
    return {
        "eval_ntp_loss": ntp_sum / max(ntp_count, 1),
        "eval_jepa_loss": jepa_sum / max(n, 1),
        **embeddings,
    }


def evaluate(
    jm: JepaModel,
    examples: Sequence[Any],
    dataset: str = "nlrx",
    max_new_tokens: int = 48,
    batch_size: int = 64,
    progress: bool = True,
) -> dict[str, Any]:
    """Greedy answers scored (NL-RX: semantic and exact; GSM8K: numeric), whether generation
    stopped by itself, held-out losses, and the embedding diagnostics.

    Returns flat metrics plus ``predictions`` (one dict per example).
    """
    stop_ids = sorted({jm.pieces().end_of_turn_id, jm.tokenizer.eos_token_id} - {None})
    generated = generate_greedy(
        jm.model,
        jm.tokenizer,
        _prompts(jm, examples),
        max_new_tokens=max_new_tokens,
        stop_token_ids=stop_ids,
        batch_size=batch_size,
        progress=progress,
        desc="evaluate",
    )
    answers = [a.strip() for a in decode_all(jm.tokenizer, generated)]
    golds = [e.code for e in examples]
    metrics: dict[str, Any] = {}
    if dataset == "nlrx":
        scores = score_nlrx(golds, answers)
        metrics["eval_accuracy"] = scores["semantic_accuracy"]
        metrics["eval_exact"] = scores["exact_accuracy"]
        correct = [v.equivalent for v in scores["verdicts"]]
    else:
        scores = score_gsm8k(answers, golds)
        metrics["eval_accuracy"] = scores["accuracy"]
        exact = [a == g for a, g in zip(answers, golds, strict=True)]
        metrics["eval_exact"] = float(np.mean(exact))
        correct = list(scores["correct"])
    # A generation shorter than the budget ended with the stop token: the model learnt to stop.
    metrics["eval_stop_rate"] = float(np.mean([len(g) < max_new_tokens for g in generated]))
    forced = teacher_forced(jm, examples, batch_size)
    text, pred, code = forced.pop("text"), forced.pop("pred"), forced.pop("code")
    metrics.update(forced)
    metrics["paired_cos"] = paired_cosine(pred, code)
    # a random pairing needs at least two pairs to shuffle
    metrics["random_cos"] = random_pair_cosine(pred, code, seed=0) if len(code) > 1 else None
    metrics["text_code_paired_cos"] = paired_cosine(text, code)
    metrics["eff_rank_code"] = effective_rank(code)
    metrics["eff_rank_pred"] = effective_rank(pred)
    metrics["predictions"] = [
        {"id": getattr(e, "id", i), "gold": g, "answer": a, "correct": bool(c)}
        for i, (e, g, a, c) in enumerate(zip(examples, golds, answers, correct, strict=True))
    ]
    return metrics
