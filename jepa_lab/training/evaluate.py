"""Held-out evaluation of a JepaModel: generate answers, score them, measure the embeddings.

The one loop that runs a model over (text, code) pairs for its embeddings lives here
(:func:`extract_embeddings`); the held-out losses (:func:`teacher_forced`) come from the same
pass, and :mod:`jepa_lab.geometry` analyses the arrays it returns.
"""

from __future__ import annotations

import inspect
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
from jepa_lab.objective.model import JepaModel
from jepa_lab.training.generation import decode_all, generate_greedy
from jepa_lab.training.tasks import get_task

_SUMS = ("ntp_sum", "ntp_count", "jepa_sum", "jepa_count")  # what a JepaOutput sums


def _device(jm: JepaModel) -> torch.device:
    return jm.model.get_input_embeddings().weight.device


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


def _pair_strings(pair: Any, i: int) -> tuple[str, str]:
    text, code, _ = text_and_code(pair, i)
    return text, code


def _model_device(model: Any):
    device = getattr(model, "device", None)
    if device is not None:
        return device
    params = getattr(model, "parameters", None)
    if callable(params):
        for p in params():
            return p.device
    return None


def _embed_chunk(jepa_model: Any, chunk: list[Any], device: Any, jepa_kw: dict) -> dict:
    """Views of one chunk as float32 arrays [b, H] (b < len(chunk) if build_batch dropped
    pairs), with the chunk's summed losses and their counts when the model reports them."""
    batch = jepa_model.build_batch(chunk, **jepa_kw)
    if device is not None:
        batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
    out = jepa_model(**batch)
    if getattr(out, "text_emb", None) is None or getattr(out, "code_emb", None) is None:
        raise RuntimeError(
            "the model returned no text_emb/code_emb: build the batch with the "
            "JEPA views (build_batch(pairs, jepa=True))"
        )
    # With k=0 there are no predictor tokens: Pred(Enc(Text)) is Enc(Text) itself.
    pred = getattr(out, "pred_emb", None)
    views = {
        "text": out.text_emb,
        "pred": out.text_emb if pred is None else pred,
        "code": out.code_emb,
    }
    arrays = {v: t.detach().float().cpu().numpy() for v, t in views.items()}
    sums = {name: getattr(out, name, None) for name in _SUMS}
    arrays["sums"] = {k: float(v) for k, v in sums.items() if v is not None}
    return arrays


def extract_embeddings(
    jepa_model: Any, pairs: Sequence[Any], batch_size: int = 32, progress: bool = True
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
    jepa_model: Any, pairs: Sequence[Any], batch_size: int = 32, progress: bool = True
) -> tuple[Embeddings, dict[str, float]]:
    """The one extraction loop: the views of every pair it can embed, and the summed
    losses and counts over those pairs (``_SUMS``)."""
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    pairs = list(pairs)
    strings = [_pair_strings(p, i) for i, p in enumerate(pairs)]
    if not strings:
        raise ValueError("extract_embeddings: pairs is empty")
    params = inspect.signature(jepa_model.build_batch).parameters
    jepa_kw = {"jepa": True} if "jepa" in params else {}  # the NTP arm would skip the views
    device = _model_device(jepa_model)
    was_training = bool(getattr(jepa_model, "training", False))
    chunks: dict[str, list[np.ndarray]] = {v: [] for v in VIEWS}
    kept: list[int] = []
    sums: dict[str, float] = {}
    skipped: list[tuple[int, str]] = []
    bar = tqdm(total=len(pairs), desc="embeddings", unit="pair", disable=not progress)
    try:
        if hasattr(jepa_model, "eval"):
            jepa_model.eval()
        with torch.inference_mode():
            for start in range(0, len(pairs), batch_size):
                idx = list(range(start, min(start + batch_size, len(pairs))))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # drops are re-reported below, by index
                    try:
                        views = _embed_chunk(jepa_model, [pairs[i] for i in idx], device, jepa_kw)
                    except ValueError:  # e.g. every pair of the chunk is too long
                        views = {"text": [], "sums": {}}
                if len(views["text"]) != len(idx):  # some pairs dropped: find them one by one
                    views = {v: [] for v in VIEWS}
                    one_sums: dict[str, float] = {}
                    for i in list(idx):
                        try:
                            one = _embed_chunk(jepa_model, [pairs[i]], device, jepa_kw)
                        except ValueError as err:
                            skipped.append((i, str(err)))
                            idx.remove(i)
                            continue
                        for v in VIEWS:
                            views[v].append(one[v])
                        for name, value in one["sums"].items():
                            one_sums[name] = one_sums.get(name, 0.0) + value
                    views = {
                        v: np.concatenate(a) if a else np.zeros((0, 0)) for v, a in views.items()
                    }
                    views["sums"] = one_sums
                if len(idx):
                    for v in VIEWS:
                        chunks[v].append(views[v])
                    for name, value in views["sums"].items():
                        sums[name] = sums.get(name, 0.0) + value
                    kept += idx
                bar.update(batch_size if start + batch_size <= len(pairs) else len(pairs) - start)
    finally:
        bar.close()
        if hasattr(jepa_model, "train"):
            jepa_model.train(was_training)
    if skipped:
        shown = ", ".join(str(i) for i, _ in skipped[:10]) + (" ..." if len(skipped) > 10 else "")
        warnings.warn(
            f"extract_embeddings: skipped {len(skipped)} of {len(pairs)} pairs the "
            f"model could not embed (indices {shown}); first reason: {skipped[0][1]}",
            stacklevel=2,
        )
    if not kept:
        raise ValueError(f"extract_embeddings: no pair could be embedded ({skipped[0][1]})")
    arrays = {v: np.concatenate(chunks[v]).astype(np.float32) for v in VIEWS}
    embeddings = Embeddings(
        **arrays, texts=[strings[i][0] for i in kept], codes=[strings[i][1] for i in kept]
    )
    return embeddings, sums
