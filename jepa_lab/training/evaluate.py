"""Held-out evaluation of a JepaModel: generate answers, score them, measure the embeddings.

The one loop that runs a model over (text, code) pairs for its embeddings lives here
(:func:`extract_embeddings`); the held-out losses (:func:`teacher_forced`) come from the same
pass, and :mod:`jepa_lab.geometry` analyses the arrays it returns.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from tqdm.auto import tqdm

from jepa_lab.data.records import text_and_code
from jepa_lab.geometry.diagnostics import (
    VIEWS,
    Embeddings,
    effective_rank,
    paired_cosine,
    random_pair_cosine,
)
from jepa_lab.objective.losses import objective
from jepa_lab.objective.model import JepaModel, input_device
from jepa_lab.training.generation import decode_all, generate_greedy
from jepa_lab.training.tasks import get_task

_SUMS = ("ntp_sum", "ntp_count", "jepa_sum", "jepa_count")  # what a JepaOutput sums


def _prompts(jm: JepaModel, examples: Sequence[Any]) -> list[list[int]]:
    prompts: list[list[int]] = []
    for example in examples:
        system = getattr(example, "system", None)
        prompts += jm.prompt_ids([example.text], system=system)
    return prompts


def greedy_answers(
    jm: JepaModel,
    examples: Sequence[Any],
    max_new_tokens: int,
    batch_size: int = 64,
    progress: bool = False,
    desc: str = "evaluate",
) -> tuple[list[str], list[bool]]:
    """Greedy answers to ``examples`` from the NTP rows' prompts and, for each, whether
    generation stopped by itself (shorter than the budget: it ended on a stop token)."""
    stop_ids = sorted({jm.pieces().end_of_turn_id, jm.tokenizer.eos_token_id} - {None})
    generated = generate_greedy(
        jm.model,
        jm.tokenizer,
        _prompts(jm, examples),
        max_new_tokens=max_new_tokens,
        stop_token_ids=stop_ids,
        batch_size=batch_size,
        progress=progress,
        desc=desc,
    )
    answers = [a.strip() for a in decode_all(jm.tokenizer, generated)]
    return answers, [len(g) < max_new_tokens for g in generated]


def teacher_forced(jm: JepaModel, examples: Sequence[Any], batch_size: int = 64) -> dict:
    """Held-out NTP and JEPA losses and the three embeddings [N, H] (numpy, float32)."""
    embeddings, sums = _embed_all(jm, examples, batch_size, progress=False)
    cfg = jm.config
    held_out = objective(
        sums.get("ntp_sum", 0.0),
        sums.get("ntp_count", 0.0),
        sums.get("jepa_sum", 0.0),
        sums.get("jepa_count", 0.0),
        cfg.gamma,
        cfg.lam,
    )
    return {
        "eval_ntp_loss": held_out.ntp,
        "eval_jepa_loss": held_out.jepa,
        **embeddings.views(),
    }


def evaluate(
    jm: JepaModel,
    examples: Sequence[Any],
    dataset: str = "nlrx",
    max_new_tokens: int = 48,
    batch_size: int = 64,
    progress: bool = True,
) -> dict[str, Any]:
    """Greedy answers scored by the task's scorer (jepa_lab.training.tasks: ``dataset`` is a
    registered task's name), whether generation stopped by itself, held-out losses, and the
    embedding diagnostics.

    The task's headline metric is ``eval_accuracy``; its other metrics are ``eval_<metric>``
    (NL-RX and GSM8K: ``eval_exact``), and a task scored with the model too (HellaSwag: the
    next-token probability of A-D) adds ``eval_logits_<metric>``.
    Returns flat metrics plus ``predictions`` (one dict per example).
    """
    task = get_task(dataset)
    answers, stopped = greedy_answers(jm, examples, max_new_tokens, batch_size, progress)
    golds = [e.code for e in examples]
    scores, correct = task.score(answers, list(examples))
    # A scorer that cannot compute its headline (Spider without its databases) leaves it out;
    # its first metric stands in, and the record names it.
    headline = task.headline if task.headline in scores else next(iter(scores))
    metrics: dict[str, Any] = {"eval_accuracy": scores[headline]}
    if headline != task.headline:
        metrics["eval_accuracy_metric"] = headline
    metrics.update({f"eval_{k}": v for k, v in scores.items() if k != headline})
    if task.score_with_model is not None:
        by_model = task.score_with_model(jm, list(examples))
        metrics.update({f"eval_logits_{k}": v for k, v in by_model.items()})
    # A generation shorter than the budget ended with the stop token: the model learnt to stop.
    metrics["eval_stop_rate"] = float(np.mean(stopped))
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


# ----------------------------------------------------------------------------- embeddings


def extract_embeddings(
    jepa_model: JepaModel, pairs: Sequence[Any], batch_size: int = 32, progress: bool = True
) -> Embeddings:
    """Run a JepaModel over (text, code) pairs and collect the three views as float32 arrays.

    Works for both arms: the JEPA views are built even when the model trains with lam = 0 (the
    NTP baseline), so its geometry can be compared with LLM-JEPA's. Batched under
    torch.inference_mode; the model is put in eval mode for the pass (dropout off) and its
    previous train/eval mode is restored afterwards, even on error. Pairs the model cannot embed
    (longer than JepaConfig.max_length) are skipped with a warning naming their indices.
    """
    return _embed_all(jepa_model, pairs, batch_size, progress)[0]


def _embed_all(
    jm: JepaModel, pairs: Sequence[Any], batch_size: int = 32, progress: bool = True
) -> tuple[Embeddings, dict[str, float]]:
    """The one extraction loop: the views of every pair that fits ``max_length`` (the others
    are skipped, with one warning naming them), and the summed losses and counts over the
    pairs it embeds (``_SUMS``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    pairs = list(pairs)
    if not pairs:
        raise ValueError("extract_embeddings: pairs is empty")
    strings = [text_and_code(p, i)[:2] for i, p in enumerate(pairs)]
    fits = jm.packer.fits(pairs)
    kept = [i for i, ok in enumerate(fits) if ok]
    skipped = [i for i, ok in enumerate(fits) if not ok]
    reason = f"longer than max_length={jm.config.max_length} tokens in its NTP row or a view"
    if not kept:
        raise ValueError(f"extract_embeddings: no pair could be embedded (each is {reason})")
    if skipped:
        shown = ", ".join(map(str, skipped[:10])) + (" ..." if len(skipped) > 10 else "")
        warnings.warn(
            f"extract_embeddings: skipped {len(skipped)} of {len(pairs)} pairs the model could "
            f"not embed (indices {shown}); each is {reason}",
            stacklevel=3,
        )
    chunks: dict[str, list[np.ndarray]] = {v: [] for v in VIEWS}
    sums: dict[str, float] = {}
    was_training = jm.training
    jm.eval()  # dropout off for the pass; the caller's mode comes back even on error
    device = input_device(jm.model)
    try:
        with (
            torch.inference_mode(),
            tqdm(total=len(kept), desc="embeddings", unit="pair", disable=not progress) as bar,
        ):
            for start in range(0, len(kept), batch_size):
                chunk = [pairs[i] for i in kept[start : start + batch_size]]
                # jepa=True: the NTP arm (lam = 0) never builds the views in training
                batch = jm.build_batch(chunk, jepa=True)
                out = jm(**{k: v.to(device) for k, v in batch.items()})
                # with k = 0 there are no predictor tokens: Pred(Enc(Text)) is Enc(Text)
                pred = out.text_emb if out.pred_emb is None else out.pred_emb
                for view, values in (
                    ("text", out.text_emb),
                    ("pred", pred),
                    ("code", out.code_emb),
                ):
                    chunks[view].append(values.float().cpu().numpy())
                for name in _SUMS:
                    if getattr(out, name) is not None:
                        sums[name] = sums.get(name, 0.0) + float(getattr(out, name))
                bar.update(len(chunk))
    finally:
        jm.train(was_training)
    arrays = {v: np.concatenate(chunks[v]).astype(np.float32) for v in VIEWS}
    embeddings = Embeddings(
        **arrays, texts=[strings[i][0] for i in kept], codes=[strings[i][1] for i in kept]
    )
    return embeddings, sums
