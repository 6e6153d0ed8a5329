"""JepaModel: any Hugging Face causal LM + tokenizer, trained with LLM-JEPA in ONE forward pass.

For each (Text, Code) pair one packed row holds (``text_view="user"``, the paper's views)::

    [ NTP: prompt(Text) + Code + <eot> ][ Text view + <|predictor_1..k|> ][ Code view ]

and with ``text_view="prompt"`` only k predictor tokens that read the NTP row's prompt::

    [ NTP: prompt(Text) + Code + <eot> ][ <|predictor_1..k|> -> reads the prompt ]

A block-causal mask (masks.py) keeps the segments from seeing each other, so the row is exactly
equivalent to separate forward passes (``forward_separate``, the readable reference), at the cost
of the extra tokens only. The official implementation instead stacks 2-3 padded copies of the
batch and, through its collator, trains the whole prompt and never the end-of-turn token.
"""

from __future__ import annotations

import inspect
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from transformers.utils import ModelOutput

from .chat import ChatPieces, chat_pieces, special_token_ids
from .config import JepaConfig
from .losses import jepa_distance, jepa_dropped, total_loss, variance_covariance_penalty
from .masks import (
    IGNORE_INDEX,
    Segment,
    block_mask,
    check_attention_implementation,
    pack_rows,
    to_attention_mask,
)

LAYOUTS = ("packed", "official_3row", "official_2row")


@dataclass
class JepaOutput(ModelOutput):
    """Losses and the three embeddings [B, H]: Enc(Text), Pred(Enc(Text)), Enc(Code)."""

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


@dataclass
class _Pair:
    """One tokenised (Text, Code) pair and the template pieces it sits in."""

    text: list[int]
    code: list[int]
    pieces: ChatPieces


@dataclass
class _PairLayout:
    """A pair's segments, and each embedding's anchor: (segment name, offset in segment)."""

    ntp: Segment
    prompt_len: int
    text: Segment | None = None  # user mode: the user turn alone + predictor tokens
    code: Segment | None = None
    pred: Segment | None = None  # prompt mode with k > 0: predictor tokens reading the prompt
    anchors: dict[str, tuple[str, int]] = field(default_factory=dict)

    def segment(self, name: str) -> Segment | None:
        return getattr(self, name)

    def segments(self) -> list[Segment]:
        return [s for s in (self.ntp, self.text, self.code, self.pred) if s is not None]


def _text_and_code(item: Any, index: int) -> tuple[str, str, str | None]:
    if isinstance(item, (tuple, list)) and len(item) == 2:
        text, code, system = item[0], item[1], None
    elif hasattr(item, "text") and hasattr(item, "code"):
        text, code, system = item.text, item.code, getattr(item, "system", None)
    else:
        raise TypeError(
            f"pair {index}: expected a (text, code) tuple or an object with .text and .code, "
            f"got {type(item).__name__}"
        )
    for view, value in (("text", text), ("code", code)):
        if not isinstance(value, str):
            raise TypeError(
                f"pair {index}: {view} view must be a string, got {type(value).__name__}"
            )
        if not value.strip():
            raise ValueError(f"pair {index}: the {view} view is empty")
    return text.strip(), code.strip(), system


def _causal_lm_forward_params(model: torch.nn.Module) -> set[str]:
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    return set(inspect.signature(base.forward).parameters)


class JepaModel(torch.nn.Module):
    """Wraps ``model`` (an ``AutoModelForCausalLM``, optionally PEFT) and its tokenizer."""

    def __init__(self, model: torch.nn.Module, tokenizer, config: JepaConfig | None = None):
        super().__init__()
        self.config = config or JepaConfig()
        self.model = model
        self.tokenizer = tokenizer
        check_attention_implementation(self.attn_implementation)
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token  # padding is masked out; any id will do
        self._add_predictor_tokens()
        self._pieces: dict[str | None, ChatPieces] = {}
        self._accepts_logits_to_keep = "logits_to_keep" in _causal_lm_forward_params(model)
        self.dropped_pairs = 0

    # ----------------------------------------------------------------------------- setup
    @property
    def attn_implementation(self) -> str | None:
        return getattr(self.model.config, "_attn_implementation", None)

    def _add_predictor_tokens(self) -> None:
        from tokenizers import AddedToken

        missing = [t for t in self.config.predictor_tokens if t not in self.tokenizer.get_vocab()]
        if missing:
            self.tokenizer.add_tokens(
                [AddedToken(t, special=True, normalized=False) for t in missing],
                special_tokens=True,
            )
        vocab = len(self.tokenizer)
        if self.model.get_input_embeddings().weight.shape[0] < vocab:
            self.model.resize_token_embeddings(vocab)
        self.predictor_ids = self.tokenizer.convert_tokens_to_ids(self.config.predictor_tokens)

    def pieces(self, system: str | None = None) -> ChatPieces:
        system = system if system is not None else self.config.system_prompt
        if system not in self._pieces:
            self._pieces[system] = chat_pieces(self.tokenizer, system, self.config.chat_template)
        return self._pieces[system]

    def jepa_active(self, step: int) -> bool:
        """Does training step ``step`` include the JEPA term (lam > 0 and not loss-dropped)?"""
        return self.config.lam > 0 and not jepa_dropped(
            step, self.config.loss_dropout, self.config.seed
        )

    # ----------------------------------------------------------------------------- batches
    def _tokenize(self, pairs: Sequence[Any]) -> list[_Pair]:
        if not pairs:
            raise ValueError("build_batch: no pairs given")
        parsed = [_text_and_code(p, i) for i, p in enumerate(pairs)]
        texts = self.tokenizer([t for t, _, _ in parsed], add_special_tokens=False)["input_ids"]
        codes = self.tokenizer([c for _, c, _ in parsed], add_special_tokens=False)["input_ids"]
        return [
            _Pair(list(t), list(c), self.pieces(system))
            for t, c, (_, _, system) in zip(texts, codes, parsed, strict=True)
        ]

    def prompt_ids(self, texts: Sequence[str], system: str | None = None) -> list[list[int]]:
        """Prompts for generation: exactly the NTP rows' prompts."""
        pieces = self.pieces(system)
        encoded = self.tokenizer([t.strip() for t in texts], add_special_tokens=False)["input_ids"]
        return [pieces.prompt(list(ids)) for ids in encoded]

    def _layout(self, pair: _Pair) -> _PairLayout:
        """The segments of one pair and where its three embeddings are read."""
        p, cfg = pair.pieces, self.config
        prompt = p.before_text + pair.text + p.between
        tokens = prompt + pair.code + p.after_code
        if cfg.label_mode == "answer":
            labels = [IGNORE_INDEX] * len(prompt) + pair.code + p.after_code
        else:  # the official collator: everything but EOS / end-of-turn / padding is a target
            skip = {self.tokenizer.pad_token_id, self.tokenizer.eos_token_id, p.end_of_turn_id}
            labels = [IGNORE_INDEX if t in skip else t for t in tokens]
        layout = _PairLayout(ntp=Segment(tokens, "ntp", labels=labels), prompt_len=len(prompt))

        at_eot = cfg.embed_at == "end_of_turn"
        layout.code = Segment(p.code_view_before + pair.code + p.code_view_after, "code")
        layout.anchors["code"] = (
            "code",
            -1 if at_eot else len(p.code_view_before) + len(pair.code) - 1,
        )
        if cfg.text_view == "user":
            layout.text = Segment(
                p.text_view_before + pair.text + p.text_view_after + self.predictor_ids, "text"
            )
            text_at = len(p.text_view_before) + len(pair.text) - 1
            if at_eot:
                text_at += len(p.text_view_after)
            layout.anchors["text"] = ("text", text_at)
            layout.anchors["pred"] = ("text", -1) if cfg.k else ("text", text_at)
        else:
            text_at = len(p.before_text) + len(pair.text) - 1
            if at_eot:  # the user turn ends at the first special token after its content
                special = special_token_ids(self.tokenizer)
                text_at += 1 + next((i for i, t in enumerate(p.between) if t in special), 0)
            layout.anchors["text"] = ("ntp", text_at)
            layout.anchors["pred"] = ("ntp", text_at)
            if cfg.k:
                layout.pred = Segment(
                    list(self.predictor_ids),
                    "pred",
                    read_len=len(prompt),
                    continues=True,
                    reads=0,  # re-pointed at the NTP segment's index when the row is laid out
                )
                layout.anchors["pred"] = ("pred", -1)
        return layout

    def _fits(self, layout: _PairLayout) -> bool:
        return max(len(s.tokens) for s in layout.segments()) <= self.config.max_length

    def _keep_fitting(
        self, layouts: list[_PairLayout], pairs: Sequence[Any]
    ) -> list[_PairLayout]:
        kept = [lay for lay in layouts if self._fits(lay)]
        # name dropped pairs by example id (a batch position means nothing after shuffling)
        dropped = [
            str(getattr(pair, "id", None) or f"batch position {i}")
            for i, (pair, lay) in enumerate(zip(pairs, layouts, strict=True))
            if not self._fits(lay)
        ]
        if dropped:
            message = (
                f"{len(dropped)} of {len(layouts)} pairs exceed max_length="
                f"{self.config.max_length} tokens in their NTP row or a view (examples "
                f"{dropped[:10]}{'...' if len(dropped) > 10 else ''}); they are dropped, never "
                "truncated. Raise max_length or filter the data."
            )
            if self.config.on_overflow == "error" or not kept:
                raise ValueError("build_batch: " + message)
            warnings.warn(message, stacklevel=3)
            self.dropped_pairs += len(dropped)
        return kept

    def build_batch(
        self, pairs: Sequence[Any], jepa: bool | None = None, layout: str = "packed"
    ) -> dict[str, torch.Tensor]:
        """Turn (text, code) pairs into model inputs; ``jepa=None`` means ``lam > 0``.

        ``layout="packed"`` is jepa-lab's one-row-per-pair layout. ``official_3row`` (NTP rows,
        then Text rows, then Code rows) and ``official_2row`` (NTP rows, then Text|Code sharing a
        row under a block mask) reproduce the official code's layouts for comparison.
        """
        if layout not in LAYOUTS:
            raise ValueError(f"layout={layout!r}: expected one of {LAYOUTS}")
        jepa = self.config.lam > 0 if jepa is None else jepa
        if layout != "packed" and self.config.text_view != "user":
            raise ValueError(f"layout={layout!r} is the paper's; it needs text_view='user'")
        layouts = self._keep_fitting([self._layout(p) for p in self._tokenize(pairs)], pairs)
        n = len(layouts)
        left = getattr(self.tokenizer, "padding_side", "right") == "left"

        rows: list[list[Segment]] = []
        places: list[dict[str, tuple[int, int]]] = []  # segment name -> (row, index in row)
        for i, lay in enumerate(layouts):
            if not jepa:
                rows.append([lay.ntp])
            elif layout == "packed":
                names = [s.name for s in lay.segments()]  # ntp first
                if left:  # NTP segment last (before any predictors): its labels end the row
                    names = (
                        [x for x in names if x not in ("ntp", "pred")]
                        + ["ntp"]
                        + (["pred"] if lay.pred is not None else [])
                    )
                row = [lay.segment(x) for x in names]
                if lay.pred is not None:
                    lay.pred.reads = names.index("ntp")
                rows.append(row)
                places.append({x: (i, j) for j, x in enumerate(names)})
            else:
                rows.append([lay.ntp])
                if layout == "official_3row":
                    places.append({"ntp": (i, 0), "text": (n + i, 0), "code": (2 * n + i, 0)})
                else:
                    places.append({"ntp": (i, 0), "text": (n + i, 0), "code": (n + i, 1)})
        if jepa and layout == "official_3row":
            rows += [[lay.text] for lay in layouts] + [[lay.code] for lay in layouts]
        elif jepa and layout == "official_2row":
            rows += [[lay.text, lay.code] for lay in layouts]

        packed = pack_rows(rows, self.tokenizer.pad_token_id, "left" if left else "right")
        batch = {
            "input_ids": packed.input_ids,
            "labels": packed.labels,
            "position_ids": packed.position_ids,
            "segment_ids": packed.segment_ids,
            "local_index": packed.local_index,
            "read_segment": packed.read_segment,
            "read_len": packed.read_len,
        }
        if jepa:
            for name in ("text", "pred", "code"):
                index = []
                for lay, place in zip(layouts, places, strict=True):
                    segment, offset = lay.anchors[name]
                    row, seg_index = place[segment]
                    index.append((row, packed.column(row, seg_index, offset)))
                batch[f"{name}_index"] = torch.tensor(index, dtype=torch.long)  # [N, 2]
        return batch

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

    def _combine(self, ntp, text, pred, code, num_tokens) -> JepaOutput:
        """Means from sums; the sums and counts stay on the output so a data-parallel trainer
        can normalise by the counts over all ranks instead."""
        cfg = self.config
        ntp_sum, ntp_count = ntp
        ntp_loss = ntp_sum / max(ntp_count, 1)
        fields: dict[str, Any] = dict(
            ntp_loss=ntp_loss, num_tokens=num_tokens, ntp_sum=ntp_sum, ntp_count=ntp_count
        )
        if pred is None:
            return JepaOutput(loss=cfg.gamma * ntp_loss, **fields)
        jepa_sum = self._jepa_sum(pred, code)
        jepa_loss = jepa_sum / len(pred)
        return JepaOutput(
            loss=total_loss(ntp_loss, jepa_loss, cfg.gamma, cfg.lam),
            jepa_loss=jepa_loss,
            jepa_sum=jepa_sum,
            jepa_count=len(pred),
            text_emb=text,
            pred_emb=pred,
            code_emb=code,
            **fields,
        )

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
    ) -> JepaOutput:
        """One model call over the packed batch from :meth:`build_batch`."""
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
            return self._combine(ntp, None, None, None, num_tokens)
        hidden = out.hidden_states[-1]  # [B, T, H], after the final norm

        def gather(index: torch.Tensor) -> torch.Tensor:
            return hidden[index[:, 0], index[:, 1]]  # [N, H]

        return self._combine(
            ntp, gather(text_index), gather(pred_index), gather(code_index), num_tokens
        )

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
        device = self.model.get_input_embeddings().weight.device
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
        layouts = self._keep_fitting([self._layout(p) for p in self._tokenize(pairs)], pairs)
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

        from .config import CONFIG_NAME

        if config is None and (Path(path) / CONFIG_NAME).is_file():
            config = JepaConfig.load(path)
        if not trust_remote_code and Path(path).is_dir():
            from .validation import custom_code_declared

            declared = custom_code_declared(path)
            if declared:  # transformers would quietly use its built-in class; say so
                warnings.warn(
                    "not running the custom code declared in " + "; ".join(declared)
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
