"""The mask explorer's logic: one packed row, column by column, drawn and described.

:func:`mask_view` lays out one example's row with a :class:`~jepa_lab.objective.packing.Packer` (no
model
is built), and returns its tokens, segments, position ids, attention mask, embedding anchors and
figure; :meth:`MaskView.describe` says the same in words.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch

from jepa_lab.data.records import text_and_code
from jepa_lab.geometry import plots
from jepa_lab.geometry.diagnostics import VIEWS
from jepa_lab.objective.config import JepaConfig
from jepa_lab.objective.masks import IGNORE_INDEX, NO_SEGMENT, block_mask
from jepa_lab.objective.model import JepaModel
from jepa_lab.objective.packing import Packer


@dataclass
class MaskView:
    """One packed row, column by column (T columns, padding included)."""

    index: int  # which example
    config: JepaConfig  # the k / text_view the row was built with
    padding_side: str
    token_ids: list[int]  # [T]
    token_labels: list[str]  # [T] each token decoded alone
    segment_ids: list[int]  # [T] segment index in the row, -1 for padding
    segment_names: dict[int, str]  # segment index -> what it holds (-1: "padding")
    position_ids: list[int]  # [T]
    labels: list[int]  # [T] next-token target of each column, -100 where none
    read_len: list[int]  # [T] length of the other segment's prefix each column may read
    mask: torch.Tensor  # bool [T, T], True where query (row) may attend to key (column)
    anchors: dict[str, int]  # "text" / "pred" / "code" -> column where the embedding is read
    figure: go.Figure = field(repr=False)

    def describe(self) -> str:
        """The row in words: each segment's columns, positions and decoded text; the anchors."""
        lines = [
            f"example {self.index}: k={self.config.k}, text_view={self.config.text_view!r}, "
            f"padding {self.padding_side}, {len(self.token_ids)} columns"
        ]
        seg = np.asarray(self.segment_ids)
        for s in dict.fromkeys(self.segment_ids):  # in column order
            cols = np.flatnonzero(seg == s)
            first, last = int(cols[0]), int(cols[-1])
            name = self.segment_names.get(s, f"segment {s}")
            if s == NO_SEGMENT:
                lines.append(f"[{name}] {len(cols)} columns {first}..{last}")
                continue
            text = "".join(self.token_labels[c] for c in cols)
            line = (
                f"[{name}] columns {first}..{last}, positions "
                f"{self.position_ids[first]}..{self.position_ids[last]}: {text!r}"
            )
            if self.read_len[first]:
                line += f" (also reads the first {self.read_len[first]} tokens of the NTP row)"
            targets = [self.token_labels[c] for c in cols if self.labels[c] != IGNORE_INDEX]
            if targets:
                line += f"; next-token targets: {''.join(targets)!r}"
            lines.append(line)
        what = {"text": "Enc(Text)", "pred": "Pred(Enc(Text))", "code": "Enc(Code)"}
        for view, col in self.anchors.items():
            lines.append(f"{what[view]} is read at column {col} ({self.token_labels[col]!r})")
        return "\n".join(lines)

    def table(self) -> str:
        """The row column by column: segment, position id, token, next-token label (``-``:
        none) and, where an embedding is read, which one."""
        read_at: dict[int, list[str]] = {}
        for view, col in self.anchors.items():
            read_at.setdefault(col, []).append(view)
        width = max(len(name) for name in self.segment_names.values())
        lines = [
            f"{'col':>3} {'segment':>{width}} {'pos':>3}  {'token':<18} {'label':<18} embedding"
        ]
        for col, token in enumerate(self.token_labels):
            label = self.labels[col]
            if label == IGNORE_INDEX:
                label_text = "-"
            else:  # labels are aligned with the inputs: the target at a column is its own token
                label_text = repr(token) if label == self.token_ids[col] else f"id {label}"
            name = self.segment_names.get(self.segment_ids[col], f"segment {self.segment_ids[col]}")
            mark = ", ".join(f"<- {view}" for view in read_at.get(col, []))
            lines.append(
                f"{col:>3} {name:>{width}} {self.position_ids[col]:>3}  {token!r:<18} "
                f"{label_text:<18} {mark}".rstrip()
            )
        return "\n".join(lines)


def default_tokenizer(pairs: Sequence[Any], vocab_size: int = 300):
    """A small byte-level BPE tokenizer trained on the pairs' own strings (for the explorers)."""
    from jepa_lab.data.tokenizer import train_tokenizer

    strings = [s for i, p in enumerate(pairs) for s in _pair_strings(p, i)]
    return train_tokenizer(strings, vocab_size=vocab_size, min_frequency=1)


def _pair_strings(pair: Any, i: int) -> tuple[str, str]:
    text, code, _ = text_and_code(pair, i)
    return text, code


def padded_example(pairs: Sequence[Any], tokenizer: Any, look_at: int = 50) -> int:
    """The first example (of the first ``look_at``) whose row is shorter than the next one's,
    so that batched with it, as the mask explorer does by default, its row shows padding.

    A row holds the pair's text and code twice (NTP segment, then each view) plus a template
    that is the same for every pair, so comparing token counts of text + code is enough.
    0 when no such example is found (every row is at least as long as the next).
    """
    items = list(pairs)

    def size(i: int) -> int:
        text, code = _pair_strings(items[i], i)
        return len(tokenizer(text)["input_ids"]) + len(tokenizer(code)["input_ids"])

    sizes = [size(i) for i in range(min(len(items), look_at + 1))]
    return next((i for i in range(len(sizes) - 1) if sizes[i] < sizes[i + 1]), 0)


def mask_view(
    pairs: Sequence[Any],
    index: int,
    k: int = 1,
    text_view: str = "user",
    padding_side: str = "right",
    tokenizer: Any = None,
    model: JepaModel | None = None,
    companion: int | str | None = "next",
) -> MaskView:
    """The packed row of ``pairs[index]`` as ``JepaModel.build_batch`` lays it out.

    tokenizer: the tokenizer whose chat template shapes the row (default: ``model``'s, else one
    trained on ``pairs``). It is copied, never modified (the Packer adds predictor tokens).
    model: a JepaModel whose tokenizer and JepaConfig (system prompt, chat template, anchors) to
    use; no model is built or run: a :class:`~jepa_lab.objective.packing.Packer` lays out the row.
    companion: another example batched with this one, so padding shows when its row is longer:
    "next" (the following example), an index, or None (the row alone).
    """
    items = list(pairs)
    if not items:
        raise ValueError("mask_view: no pairs given")
    if not 0 <= index < len(items):
        raise IndexError(f"mask_view: index={index} outside 0..{len(items) - 1}")
    if padding_side not in ("right", "left"):
        raise ValueError(f"mask_view: padding_side={padding_side!r}: expected 'right' or 'left'")
    base = model.config if model is not None else JepaConfig()
    config = replace(base, k=k, text_view=text_view, lam=base.lam or 1.0)  # validates k, view
    if tokenizer is None:
        tokenizer = model.tokenizer if model is not None else default_tokenizer(items)
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.padding_side = padding_side
    # on_overflow="error": a companion too long for max_length is left out, not half-dropped
    packer = Packer(tokenizer, replace(config, on_overflow="error"))

    if companion == "next":
        companion = (index + 1) % len(items) if len(items) > 1 else None
    if companion is not None and not 0 <= int(companion) < len(items):
        raise IndexError(f"mask_view: companion={companion} outside 0..{len(items) - 1}")
    chosen = [items[index]] + ([items[int(companion)]] if companion not in (None, index) else [])
    try:
        batch = packer.build_batch(chosen, jepa=True)
    except ValueError:
        if len(chosen) == 1:
            raise
        batch = packer.build_batch(chosen[:1], jepa=True)  # the companion is too long: row alone

    row = 0  # the chosen example is first, and packed layouts give one row per pair
    seg = batch["segment_ids"][row]  # [T]
    mask = block_mask(
        batch["segment_ids"], batch["local_index"], batch["read_segment"], batch["read_len"]
    )[row, 0]  # [T, T]
    anchors = {v: int(batch[f"{v}_index"][row, 1]) for v in VIEWS}
    names = _segment_names(seg, batch["labels"][row], anchors, config.k)
    ids = batch["input_ids"][row].tolist()
    labels = [tokenizer.decode([i]) for i in ids]
    title = (
        f"Example {index}: k={config.k}, text_view={config.text_view!r}, padding {padding_side} "
        "(row = query, column = key)"
    )
    return MaskView(
        index=index,
        config=config,
        padding_side=padding_side,
        token_ids=ids,
        token_labels=labels,
        segment_ids=seg.tolist(),
        segment_names=names,
        position_ids=batch["position_ids"][row].tolist(),
        labels=batch["labels"][row].tolist(),
        read_len=batch["read_len"][row].tolist(),
        mask=mask,
        anchors=anchors,
        figure=plots.mask_figure(mask, labels, seg, names, title=title),
    )


def _segment_names(
    seg: torch.Tensor, labels: torch.Tensor, anchors: dict[str, int], k: int
) -> dict[int, str]:
    """Name segments from what they carry: NTP targets, or the column an embedding is read at."""
    names = {NO_SEGMENT: "padding"}
    ntp = int(seg[(labels != IGNORE_INDEX).nonzero()[0, 0]])
    names[ntp] = "NTP: prompt + answer"
    text, pred, code = (int(seg[anchors[v]]) for v in VIEWS)
    names.setdefault(code, "Code view")
    if text not in names:
        names[text] = "Text view" + (f" + {k} predictor tokens" if k and pred == text else "")
    names.setdefault(pred, f"{k} predictor tokens (read the prompt)")
    return names
