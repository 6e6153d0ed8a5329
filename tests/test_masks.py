"""masks.py: the vectorised mask equals the loop reference; packing lays out what it says."""

import random

import pytest
import torch

from jepa_lab.objective.masks import (
    IGNORE_INDEX,
    NO_SEGMENT,
    Segment,
    UnsupportedAttentionError,
    block_mask,
    block_mask_reference,
    check_attention_implementation,
    pack_rows,
    to_attention_mask,
)


def random_rows(rng: random.Random, n_rows: int) -> list[list[Segment]]:
    rows = []
    for _ in range(n_rows):
        row = []
        for s in range(rng.randint(1, 4)):
            tokens = [rng.randint(3, 50) for _ in range(rng.randint(1, 7))]
            seg = Segment(tokens, f"s{s}")
            if s and rng.random() < 0.5:
                target = rng.randrange(s)
                seg.reads = target
                seg.read_len = rng.randint(1, len(row[target].tokens))
                seg.continues = rng.random() < 0.5
            row.append(seg)
        rows.append(row)
    return rows


@pytest.mark.parametrize("side", ["right", "left"])
def test_vectorised_mask_equals_loop_reference(side):
    rng = random.Random(0)
    for _ in range(20):
        packed = pack_rows(random_rows(rng, rng.randint(1, 4)), pad_id=0, padding_side=side)
        args = (packed.segment_ids, packed.local_index, packed.read_segment, packed.read_len)
        assert torch.equal(block_mask(*args), block_mask_reference(*args))


def test_mask_semantics_by_hand():
    # row: A = [a0 a1 a2], B = [b0 b1] reads the first 2 tokens of A, then one pad (right)
    rows = [
        [Segment([5, 6, 7], "A"), Segment([8, 9], "B", reads=0, read_len=2, continues=True)],
        [Segment([5, 6, 7, 8, 9, 10], "C")],
    ]
    packed = pack_rows(rows, pad_id=0)
    m = packed.mask()[0, 0].int().tolist()
    assert m == [
        [1, 0, 0, 0, 0, 0],  # a0
        [1, 1, 0, 0, 0, 0],  # a1
        [1, 1, 1, 0, 0, 0],  # a2
        [1, 1, 0, 1, 0, 0],  # b0 reads a0 a1, itself
        [1, 1, 0, 1, 1, 0],  # b1
        [0, 0, 0, 0, 0, 1],  # pad sees only itself (a finite softmax row)
    ]
    assert packed.position_ids[0].tolist() == [0, 1, 2, 2, 3, 0]  # B continues after 2 tokens
    assert packed.segment_ids[0].tolist() == [0, 0, 0, 1, 1, NO_SEGMENT]
    assert packed.segment_starts == [[0, 3], [0]]
    assert packed.column(0, 1, -1) == 4


def test_left_padding_shifts_columns_not_positions():
    rows = [[Segment([1, 2], "a", labels=[IGNORE_INDEX, 2])], [Segment([1, 2, 3, 4], "b")]]
    right = pack_rows(rows, pad_id=0, padding_side="right")
    left = pack_rows(rows, pad_id=0, padding_side="left")
    assert left.input_ids[0].tolist() == [0, 0, 1, 2]
    assert left.labels[0].tolist() == [IGNORE_INDEX, IGNORE_INDEX, IGNORE_INDEX, 2]
    assert left.position_ids[0, 2:].tolist() == right.position_ids[0, :2].tolist() == [0, 1]
    assert left.column(0, 0, 0) == 2


def test_eager_gets_additive_mask_and_sdpa_gets_bool():
    packed = pack_rows([[Segment([1, 2, 3], "a"), Segment([4], "b")]], pad_id=0)
    mask = packed.mask()
    sdpa = to_attention_mask(mask, "sdpa", torch.float32)
    eager = to_attention_mask(mask, "eager", torch.bfloat16)
    assert sdpa.dtype == torch.bool and torch.equal(sdpa, mask)
    assert eager.dtype == torch.bfloat16
    assert torch.equal(eager == 0, mask)
    assert (eager[~mask] == torch.finfo(torch.bfloat16).min).all()


@pytest.mark.parametrize("name", ["flash_attention_2", "flash_attention_3", "flex_attention"])
def test_unsupported_attention_says_what_to_use(name):
    with pytest.raises(UnsupportedAttentionError, match="sdpa"):
        check_attention_implementation(name)


def test_bad_segments_are_named():
    with pytest.raises(ValueError, match="segment 1.*reads=1"):
        pack_rows([[Segment([1], "a"), Segment([2], "b", reads=1, read_len=1)]], pad_id=0)
    with pytest.raises(ValueError, match="read_len=5"):
        pack_rows([[Segment([1], "a"), Segment([2], "b", reads=0, read_len=5)]], pad_id=0)
    with pytest.raises(ValueError, match="labels"):
        Segment([1, 2], "x", labels=[1])
