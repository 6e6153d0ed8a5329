"""Packed rows and their block-causal attention masks.

A packed row holds several *segments* (an NTP sequence, a Text view, a Code view, predictor
tokens...). The rule every mask here follows:

* a token attends to earlier tokens (and itself) of its own segment;
* a segment may also read the first ``read_len`` tokens of one other segment in the same row
  (this is how predictor tokens read the prompt without re-encoding it);
* padding attends only to itself, so no softmax row is empty (an all-masked row gives NaN).

Position ids restart at 0 in each segment, unless the segment *continues* the prefix it reads:
then they start at ``read_len``, exactly as if the segment had been appended to that prefix.

Two constructions are given: :func:`block_mask_reference`, a plain triple loop for reading, and
:func:`block_mask`, the vectorised one used in training. Tests check they agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from jepa_lab.objective.checks import ATTENTION as MASK_IMPLEMENTATIONS

IGNORE_INDEX = -100
NO_SEGMENT = -1


class UnsupportedAttentionError(ValueError):
    """The model's attention implementation cannot take a block-causal 4D mask."""


@dataclass
class Segment:
    """One segment of a packed row.

    ``reads`` is the index (within the same row) of another segment whose first ``read_len``
    tokens this one may attend to; ``continues`` makes position ids carry on from ``read_len``.
    ``labels`` are per-token next-token targets (``IGNORE_INDEX`` where none), or None for none.
    """

    tokens: list[int]
    name: str = ""
    reads: int | None = None
    read_len: int = 0
    continues: bool = False
    labels: list[int] | None = None

    def __post_init__(self) -> None:
        if self.labels is not None and len(self.labels) != len(self.tokens):
            raise ValueError(
                f"segment {self.name!r}: {len(self.labels)} labels for {len(self.tokens)} tokens"
            )
        if self.continues and self.reads is None:
            raise ValueError(f"segment {self.name!r}: continues=True needs reads=<segment index>")


@dataclass
class PackedRows:
    """Rows of segments laid out as tensors, all [B, T] (B rows, T columns incl. padding)."""

    input_ids: torch.Tensor  # [B, T] token ids, pad_id in padding
    labels: torch.Tensor  # [B, T] targets for the token itself, IGNORE_INDEX where none
    position_ids: torch.Tensor  # [B, T]
    segment_ids: torch.Tensor  # [B, T] segment index within the row, NO_SEGMENT for padding
    local_index: torch.Tensor  # [B, T] index of the token inside its segment
    read_segment: torch.Tensor  # [B, T] segment whose prefix this token may read, or NO_SEGMENT
    read_len: torch.Tensor  # [B, T] length of that readable prefix (0 if none)
    segment_starts: list[list[int]]  # column of each segment's first token, per row

    def column(self, row: int, segment: int, offset: int) -> int:
        """Column of token ``offset`` of ``segment`` in ``row`` (negative offsets count back)."""
        seg_len = int((self.segment_ids[row] == segment).sum())
        if offset < 0:
            offset += seg_len
        if not 0 <= offset < seg_len:
            raise IndexError(
                f"row {row} segment {segment}: offset {offset} outside 0..{seg_len - 1}"
            )
        return self.segment_starts[row][segment] + offset

    def mask(self) -> torch.Tensor:
        """The boolean block-causal mask [B, 1, T, T] (True = may attend)."""
        return block_mask(self.segment_ids, self.local_index, self.read_segment, self.read_len)


def pack_rows(
    rows: Sequence[Sequence[Segment]], pad_id: int, padding_side: str = "right"
) -> PackedRows:
    """Lay out rows of segments side by side, padded to the longest row."""
    if padding_side not in ("right", "left"):
        raise ValueError(f"padding_side must be 'right' or 'left', got {padding_side!r}")
    if not rows:
        raise ValueError("pack_rows: no rows to pack")
    lengths = [sum(len(s.tokens) for s in row) for row in rows]
    width = max(lengths)
    shape = (len(rows), width)
    input_ids = torch.full(shape, pad_id, dtype=torch.long)
    labels = torch.full(shape, IGNORE_INDEX, dtype=torch.long)
    position_ids = torch.zeros(shape, dtype=torch.long)
    segment_ids = torch.full(shape, NO_SEGMENT, dtype=torch.long)
    local_index = torch.zeros(shape, dtype=torch.long)
    read_segment = torch.full(shape, NO_SEGMENT, dtype=torch.long)
    read_len = torch.zeros(shape, dtype=torch.long)
    starts: list[list[int]] = []
    for b, (row, length) in enumerate(zip(rows, lengths, strict=True)):
        col = width - length if padding_side == "left" else 0
        row_starts = []
        for s, seg in enumerate(row):
            n = len(seg.tokens)
            if n == 0:
                raise ValueError(f"row {b} segment {s} ({seg.name!r}) is empty")
            if seg.reads is not None:
                if not 0 <= seg.reads < len(row) or seg.reads == s:
                    raise ValueError(
                        f"row {b} segment {s}: reads={seg.reads} is not another segment"
                    )
                if not 0 < seg.read_len <= len(row[seg.reads].tokens):
                    raise ValueError(
                        f"row {b} segment {s}: read_len={seg.read_len} outside 1.."
                        f"{len(row[seg.reads].tokens)}"
                    )
            span = slice(col, col + n)
            input_ids[b, span] = torch.tensor(seg.tokens)
            if seg.labels is not None:
                labels[b, span] = torch.tensor(seg.labels)
            local = torch.arange(n)
            local_index[b, span] = local
            position_ids[b, span] = local + (seg.read_len if seg.continues else 0)
            segment_ids[b, span] = s
            if seg.reads is not None:
                read_segment[b, span] = seg.reads
                read_len[b, span] = seg.read_len
            row_starts.append(col)
            col += n
        starts.append(row_starts)
    return PackedRows(
        input_ids, labels, position_ids, segment_ids, local_index, read_segment, read_len, starts
    )


def block_mask_reference(
    segment_ids: torch.Tensor,
    local_index: torch.Tensor,
    read_segment: torch.Tensor,
    read_len: torch.Tensor,
) -> torch.Tensor:
    """The mask rule written out as loops, for reading and for testing. Returns [B, 1, T, T]."""
    batch, width = segment_ids.shape
    mask = torch.zeros(batch, 1, width, width, dtype=torch.bool)
    for b in range(batch):
        for q in range(width):
            q_seg = int(segment_ids[b, q])
            if q_seg == NO_SEGMENT:
                mask[b, 0, q, q] = True  # padding sees itself only, so softmax stays finite
                continue
            for k in range(width):
                k_seg = int(segment_ids[b, k])
                if k_seg == NO_SEGMENT:
                    continue
                own_past = k_seg == q_seg and local_index[b, k] <= local_index[b, q]
                readable_prefix = (
                    k_seg == int(read_segment[b, q]) and local_index[b, k] < read_len[b, q]
                )
                mask[b, 0, q, k] = bool(own_past or readable_prefix)
    return mask


def block_mask(
    segment_ids: torch.Tensor,
    local_index: torch.Tensor,
    read_segment: torch.Tensor,
    read_len: torch.Tensor,
) -> torch.Tensor:
    """Vectorised :func:`block_mask_reference`: bool [B, 1, T, T], True where q may attend to k."""
    q_seg = segment_ids[:, :, None]  # [B, T, 1]
    k_seg = segment_ids[:, None, :]  # [B, 1, T]
    q_local = local_index[:, :, None]
    k_local = local_index[:, None, :]
    real_key = k_seg != NO_SEGMENT
    own_past = (q_seg == k_seg) & (k_local <= q_local) & real_key
    readable_prefix = (
        (read_segment[:, :, None] == k_seg) & (k_local < read_len[:, :, None]) & real_key
    )
    width = segment_ids.shape[1]
    eye = torch.eye(width, dtype=torch.bool, device=segment_ids.device)
    pad_self = (q_seg == NO_SEGMENT) & eye  # [B, T, T]
    return (own_past | readable_prefix | pad_self)[:, None]  # [B, 1, T, T]


def check_attention_implementation(name: str | None) -> str:
    """Return ``name`` if it can take our 4D mask, else raise saying what to use instead."""
    name = name or "eager"
    if name in MASK_IMPLEMENTATIONS:
        return name
    raise UnsupportedAttentionError(
        f"attention implementation {name!r} cannot take the block-causal 4D mask that LLM-JEPA's "
        "packed rows need (segments that read another segment's prefix). Load the model with "
        "attn_implementation='sdpa' (fast, any device) or 'eager' (the readable reference)."
    )


def to_attention_mask(
    mask: torch.Tensor, attn_implementation: str | None, dtype: torch.dtype
) -> torch.Tensor:
    """Convert a bool mask [B, 1, T, T] to the form the attention implementation reads.

    SDPA takes booleans directly. Eager attention *adds* the mask to the scores, so a boolean
    mask there would add 0/1 instead of blocking (transformers 5 passes 4D masks through as-is):
    it needs an additive float mask, 0 where allowed and the dtype's minimum elsewhere.
    """
    name = check_attention_implementation(attn_implementation)
    if name == "sdpa":
        return mask
    additive = torch.zeros(mask.shape, dtype=dtype, device=mask.device)
    return additive.masked_fill(~mask, torch.finfo(dtype).min)
