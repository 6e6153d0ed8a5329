"""JepaModel: any Hugging Face causal LM + tokenizer, trained with LLM-JEPA in ONE forward pass.

Packing (the rows, labels and anchors of a batch) is :mod:`jepa_lab.objective.packing`'s job; the
model
runs the packed batch through the causal LM and reads the losses and embeddings. A block-causal
mask (masks.py) keeps the segments from seeing each other, so the row is exactly equivalent to
separate forward passes (``forward_separate``, the readable reference), at the cost of the extra
tokens only. The official implementation instead stacks 2-3 padded copies of the
batch and, through its collator, trains the whole prompt and never the end-of-turn token.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers.utils import ModelOutput

from jepa_lab.objective.chat import ChatPieces
from jepa_lab.objective.config import JepaConfig
from jepa_lab.objective.losses import (
    jepa_distance,
    jepa_dropped,
    objective,
    variance_covariance_penalty,
)
from jepa_lab.objective.masks import (
    IGNORE_INDEX,
    block_mask,
    check_attention_implementation,
    to_attention_mask,
)
from jepa_lab.objective.packing import Packer


@dataclass
class JepaOutput(ModelOutput):
    """Sums, counts and the three embeddings [B, H]: Enc(Text), Pred(Enc(Text)), Enc(Code).

    ``loss``, ``ntp_loss`` and ``jepa_loss`` are this batch's means, a convenience for notebooks
    and single-batch use; a trainer (``return_loss=False``) normalises the sums by the counts of
    its whole accumulation window instead.
    """

    loss: torch.Tensor | None = None
    ntp_loss: torch.Tensor | None = None
    jepa_loss: torch.Tensor | None = None
    text_emb: torch.Tensor | None = None
    pred_emb: torch.Tensor | None = None
    code_emb: torch.Tensor | None = None
    num_tokens: int | None = None  # real (non-padding) tokens the model processed
    ntp_sum: torch.Tensor | None = None  # summed token cross-entropy ...
    ntp_count: int | None = None  # ... over this many labelled tokens
    jepa_sum: torch.Tensor | None = None  # summed distance ...
    jepa_count: int | None = None  # ... over this many pairs


def input_device(model: torch.nn.Module) -> torch.device:
    """Where ``model``'s input ids must go: its input embeddings' device, which stays right
    when a model is split over devices (its first parameter can live on another one)."""
    return model.get_input_embeddings().weight.device


def _causal_lm_forward_params(model: torch.nn.Module) -> set[str]:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(inspect.signature(base.forward).parameters)


class JepaModel(torch.nn.Module):
    """Wraps ``model`` (an ``AutoModelForCausalLM``, optionally PEFT) and its tokenizer."""

    def __init__(self, model: torch.nn.Module, tokenizer, config: JepaConfig | None = None):
        super().__init__()
        self.model = model
        check_attention_implementation(self.attn_implementation)
        self.packer = Packer(tokenizer, config)  # adds the predictor tokens to the tokenizer
        vocab = len(tokenizer)
        if self.model.get_input_embeddings().weight.shape[0] < vocab:
            self.model.resize_token_embeddings(vocab)
        self._accepts_logits_to_keep = "logits_to_keep" in _causal_lm_forward_params(model)

    # ----------------------------------------------------------------------------- setup
    @property
    def config(self) -> JepaConfig:
        return self.packer.config

    @config.setter
    def config(self, config: JepaConfig) -> None:
        self.packer.config = config

    @property
    def tokenizer(self):
        return self.packer.tokenizer

    @property
    def predictor_ids(self) -> list[int]:
        return self.packer.predictor_ids

    @property
    def dropped_pairs(self) -> int:
        """Pairs dropped so far for exceeding ``max_length``."""
        return self.packer.dropped_pairs

    @property
    def attn_implementation(self) -> str | None:
        return getattr(self.model.config, "_attn_implementation", None)

    def pieces(self, system: str | None = None) -> ChatPieces:
        return self.packer.pieces(system)

    def jepa_active(self, step: int) -> bool:
        """Does training step ``step`` include the JEPA term (lam > 0 and not loss-dropped)?"""
        return self.config.lam > 0 and not jepa_dropped(
            step, self.config.loss_dropout, self.config.seed
        )

    # ----------------------------------------------------------------------------- batches
    def build_batch(
        self, pairs: Sequence[Any], jepa: bool | None = None, layout: str = "packed"
    ) -> dict[str, torch.Tensor]:
        """Model inputs for (text, code) pairs: :meth:`Packer.build_batch
        <jepa_lab.objective.packing.
        Packer.build_batch>` with this model's tokenizer and config."""
        return self.packer.build_batch(pairs, jepa=jepa, layout=layout)

    def prompt_ids(self, texts: Sequence[str], system: str | None = None) -> list[list[int]]:
        """Prompts for generation: exactly the NTP rows' prompts."""
        return self.packer.prompt_ids(texts, system=system)

    # ----------------------------------------------------------------------------- forward
    def _embedding_dtype(self) -> torch.dtype:
        return self.model.get_input_embeddings().weight.dtype

    def _ntp_loss(self, logits: torch.Tensor, labels: torch.Tensor) -> tuple[torch.Tensor, int]:
        """Summed cross-entropy over labelled tokens and their count; logits[:, j] predicts
        labels[:, j + 1]."""
        width = min(logits.shape[1], labels.shape[1] - 1)
        logits, targets = logits[:, :width], labels[:, 1 : width + 1]
        total = F.cross_entropy(
            logits.float().reshape(-1, logits.shape[-1]),
            targets.reshape(-1),
            ignore_index=IGNORE_INDEX,
            reduction="sum",
        )
        return total, int((targets != IGNORE_INDEX).sum())

    def _jepa_sum(self, pred, code) -> torch.Tensor:
        cfg = self.config
        if cfg.stop_grad_code:  # extension: Enc(Code) is a target, not something to move
            code = code.detach()
        total = jepa_distance(pred, code, cfg.distance, cfg.temperature, reduction="sum")
        if cfg.var_cov_weight:
            penalty = variance_covariance_penalty(pred) + variance_covariance_penalty(code)
            total = total + cfg.var_cov_weight * penalty * len(pred)
        return total

    def _combine(self, ntp, text, pred, code, num_tokens, return_loss=True) -> JepaOutput:
        """Sums and counts (what a trainer normalises over its window and ranks), plus this
        batch's means when ``return_loss``."""
        cfg = self.config
        ntp_sum, ntp_count = ntp
        fields: dict[str, Any] = dict(num_tokens=num_tokens, ntp_sum=ntp_sum, ntp_count=ntp_count)
        if pred is not None:
            fields.update(jepa_sum=self._jepa_sum(pred, code), jepa_count=len(pred))
            fields.update(text_emb=text, pred_emb=pred, code_emb=code)
        if return_loss:  # built once so every field is also a ModelOutput key
            step = objective(
                ntp_sum,
                ntp_count,
                fields.get("jepa_sum"),
                fields.get("jepa_count", 0),
                cfg.gamma,
                cfg.lam,
            )
            fields.update(loss=step.loss, ntp_loss=step.ntp, jepa_loss=step.jepa)
        return JepaOutput(**fields)

    def forward(
        self,
        input_ids: torch.Tensor,
        labels: torch.Tensor,
        position_ids: torch.Tensor,
        segment_ids: torch.Tensor,
        local_index: torch.Tensor,
        read_segment: torch.Tensor,
        read_len: torch.Tensor,
        text_index: torch.Tensor | None = None,
        pred_index: torch.Tensor | None = None,
        code_index: torch.Tensor | None = None,
        return_loss: bool = True,
    ) -> JepaOutput:
        """One model call over the packed batch from :meth:`build_batch`; ``return_loss=False``
        leaves the means out (the trainer computes the objective once, from the sums)."""
        mask = block_mask(segment_ids, local_index, read_segment, read_len)  # [B, 1, T, T]
        attention_mask = to_attention_mask(mask, self.attn_implementation, self._embedding_dtype())
        jepa = text_index is not None
        kwargs: dict[str, Any] = {}
        first = 0
        labelled = (labels != IGNORE_INDEX).any(dim=0).nonzero().flatten()
        if self._accepts_logits_to_keep and len(labelled):
            # The lm_head only runs where a next-token target exists: the views need none.
            first = max(int(labelled[0]) - 1, 0)
            last = int(labelled[-1])
            kwargs["logits_to_keep"] = torch.arange(first, last, device=input_ids.device)
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=position_ids,
            use_cache=False,  # a cache would reuse the packed row's keys across segments
            output_hidden_states=jepa,
            **kwargs,
        )
        ntp = self._ntp_loss(out.logits, labels[:, first:])
        num_tokens = int((segment_ids != -1).sum())
        if not jepa:
            return self._combine(ntp, None, None, None, num_tokens, return_loss)
        hidden = out.hidden_states[-1]  # [B, T, H], after the final norm

        def gather(index: torch.Tensor) -> torch.Tensor:
            return hidden[index[:, 0], index[:, 1]]  # [N, H]

        views = gather(text_index), gather(pred_index), gather(code_index)
        return self._combine(ntp, *views, num_tokens, return_loss)

    # ----------------------------------------------------------------------------- reference
    def _run_separately(self, sequences: list[list[int]], hidden: bool):
        """One ordinary padded call (2D mask, HF's own causal mask); returns outputs, offsets."""
        pad = self.tokenizer.pad_token_id
        width = max(map(len, sequences))
        left = getattr(self.tokenizer, "padding_side", "right") == "left"
        ids = torch.full((len(sequences), width), pad, dtype=torch.long)
        attention = torch.zeros((len(sequences), width), dtype=torch.long)
        offsets = []
        for b, seq in enumerate(sequences):
            start = width - len(seq) if left else 0
            ids[b, start : start + len(seq)] = torch.tensor(seq)
            attention[b, start : start + len(seq)] = 1
            offsets.append(start)
        positions = (attention.cumsum(-1) - 1).clamp(min=0)
        device = input_device(self.model)
        out = self.model(
            input_ids=ids.to(device),
            attention_mask=attention.to(device),
            position_ids=positions.to(device),
            use_cache=False,
            output_hidden_states=hidden,
        )
        return out, offsets

    def forward_separate(self, pairs: Sequence[Any], jepa: bool | None = None) -> JepaOutput:
        """The paper's computation as separate, ordinary forward passes: the reference path.

        NTP rows, Text-view rows, predictor rows and Code-view rows each get their own padded
        call with the model's built-in causal mask; :meth:`forward` on the packed batch must
        give the same losses, embeddings and gradients.
        """
        jepa = self.config.lam > 0 if jepa is None else jepa
        layouts = self.packer.layouts(pairs)
        ntp_out, ntp_offsets = self._run_separately([lay.ntp.tokens for lay in layouts], jepa)
        width = ntp_out.logits.shape[1]
        labels = torch.full((len(layouts), width), IGNORE_INDEX, dtype=torch.long)
        for b, (lay, off) in enumerate(zip(layouts, ntp_offsets, strict=True)):
            labels[b, off : off + len(lay.ntp.tokens)] = torch.tensor(lay.ntp.labels)
        ntp = self._ntp_loss(ntp_out.logits, labels.to(ntp_out.logits.device))
        num_tokens = sum(len(lay.ntp.tokens) for lay in layouts)
        if not jepa:
            return self._combine(ntp, None, None, None, num_tokens)

        # Each separate call: its sequences, and how a (segment, offset) anchor maps into them.
        runs: dict[str, tuple[Any, list[int], list[int], list[int]]] = {
            "ntp": (ntp_out, ntp_offsets, [0] * len(layouts), [len(x.ntp.tokens) for x in layouts])
        }
        for name in ("text", "code", "pred"):
            segments = [lay.segment(name) for lay in layouts]
            if segments[0] is None:
                continue
            # A predictor segment continues the prompt it reads: run it appended to that prompt.
            heads = [lay.ntp.tokens[: lay.prompt_len] if name == "pred" else [] for lay in layouts]
            sequences = [h + s.tokens for h, s in zip(heads, segments, strict=True)]
            out, offsets = self._run_separately(sequences, hidden=True)
            num_tokens += sum(len(s.tokens) for s in segments)
            runs[name] = (out, offsets, [len(h) for h in heads], [len(s.tokens) for s in segments])

        def embedding(name: str) -> torch.Tensor:
            rows = []
            for b, lay in enumerate(layouts):
                segment, offset = lay.anchors[name]
                out, offsets, heads, lengths = runs[segment]
                column = offsets[b] + heads[b] + (offset if offset >= 0 else lengths[b] + offset)
                rows.append(out.hidden_states[-1][b, column])
            return torch.stack(rows)  # [N, H]

        text, pred, code = embedding("text"), embedding("pred"), embedding("code")
        return self._combine(ntp, text, pred, code, num_tokens)

    # ----------------------------------------------------------------------------- persistence
    def save_pretrained(self, directory: str | os.PathLike, **kwargs: Any) -> Path:
        """Save model weights (safetensors), tokenizer with its predictor tokens, and config."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory, safe_serialization=True, **kwargs)
        self.tokenizer.save_pretrained(directory)
        self.config.save(directory)
        return directory

    @classmethod
    def from_pretrained(
        cls,
        path: str | os.PathLike,
        config: JepaConfig | None = None,
        *,
        trust_remote_code: bool = False,
        **model_kwargs: Any,
    ) -> JepaModel:
        """Load a causal LM and tokenizer (a local directory or a hub name) as a JepaModel.

        Weights load from safetensors only; remote code runs only if you pass
        ``trust_remote_code=True``. A ``jepa_config.json`` beside the weights is used unless
        ``config`` is given.
        """
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from jepa_lab.objective.config import CONFIG_NAME

        if config is None and (Path(path) / CONFIG_NAME).is_file():
            config = JepaConfig.load(path)
        if not trust_remote_code and Path(path).is_dir():
            from jepa_lab.objective.checks import custom_code_declared

            declared = custom_code_declared(path)
            if declared:  # transformers would quietly use its built-in class; say so
                warnings.warn(
                    "not running the custom code declared in "
                    + "; ".join(declared)
                    + " (trust_remote_code=False); the built-in transformers class is used",
                    stacklevel=2,
                )
        tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)

        def load(**extra: Any):
            return AutoModelForCausalLM.from_pretrained(
                path,
                use_safetensors=True,
                trust_remote_code=trust_remote_code,
                **model_kwargs,
                **extra,
            )

        if "attn_implementation" in model_kwargs:
            model = load()
        else:
            try:
                model = load(attn_implementation="sdpa")
            except ValueError as err:  # e.g. Gemma2: soft-capped attention has no SDPA path
                if "scaled_dot_product_attention" not in str(err):
                    raise
                model = load(attn_implementation="eager")
        return cls(model, tokenizer, config)

    def enable_lora(
        self,
        r: int = 16,
        alpha: int = 32,
        dropout: float = 0.0,
        target_modules: str | list[str] = "all-linear",
    ) -> JepaModel:
        """Wrap the model in PEFT LoRA; the predictor-token embeddings stay trainable too."""
        from peft import LoraConfig, get_peft_model

        lora = LoraConfig(
            r=r,
            lora_alpha=alpha,
            lora_dropout=dropout,
            target_modules=target_modules,
            task_type="CAUSAL_LM",
            trainable_token_indices=list(self.predictor_ids) or None,
        )
        self.model = get_peft_model(self.model, lora)
        return self
