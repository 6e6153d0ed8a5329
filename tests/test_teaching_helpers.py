"""Library helpers the notebooks use instead of teaching code of their own: the grouped-query
tiny Llama, the mask explorer's column table, each run's final table, unit-length embeddings."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from helpers import PAIRS, make_tokenizer

from jepa_lab import JepaConfig
from jepa_lab.geometry.views import Embeddings
from jepa_lab.objective.masks import IGNORE_INDEX
from jepa_lab.objective.packing import Packer
from jepa_lab.teaching.mask_view import mask_view
from jepa_lab.training.history import final_table
from jepa_lab.training.tiny import tiny_llama, tiny_llama_config


def test_tiny_llama_key_value_heads_default_to_the_query_heads():
    assert tiny_llama_config(32, 2, 4, 100).num_key_value_heads == 4
    assert tiny_llama_config(32, 2, 4, 100, num_key_value_heads=2).num_key_value_heads == 2


@pytest.mark.parametrize("kv_heads", [0, 3, 8])
def test_tiny_llama_rejects_key_value_heads_that_do_not_divide_the_heads(kv_heads):
    with pytest.raises(ValueError, match=f"num_key_value_heads={kv_heads} must divide"):
        tiny_llama_config(32, 2, 4, 100, num_key_value_heads=kv_heads)


def test_grouped_query_attention_equals_multi_head_with_repeated_key_value_heads():
    gqa = tiny_llama(32, 2, 4, 100, seed=0, num_key_value_heads=2).eval()
    head_dim = 32 // 4
    attention = gqa.model.layers[0].self_attn
    assert attention.k_proj.weight.shape == (2 * head_dim, 32)  # 2 key/value heads of 8
    # Reference: plain multi-head attention whose key/value heads are the GQA ones, each
    # repeated for the query heads that share it.
    mha = tiny_llama(32, 2, 4, 100, seed=1).eval()
    state = gqa.state_dict()
    for name, weight in state.items():
        if name.endswith(("k_proj.weight", "v_proj.weight")):
            heads = weight.reshape(2, head_dim, 32)
            state[name] = heads.repeat_interleave(2, dim=0).reshape(4 * head_dim, 32)
    mha.load_state_dict(state)
    ids = torch.randint(0, 100, (2, 7), generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        torch.testing.assert_close(gqa(ids).logits, mha(ids).logits)


@pytest.mark.parametrize("text_view", ["user", "prompt"])
def test_the_mask_views_table_lists_every_column_of_the_packed_row(text_view):
    tokenizer = make_tokenizer("llama3")
    view = mask_view(PAIRS, 0, k=2, text_view=text_view, tokenizer=tokenizer, companion=None)
    # the reference: the same row packed directly
    batch = Packer(tokenizer, JepaConfig(k=2, text_view=text_view)).build_batch(PAIRS[:1])
    lines = view.table().splitlines()
    assert lines[0].split()[:5] == ["col", "segment", "pos", "token", "label"]
    rows = lines[1:]
    assert len(rows) == batch["input_ids"].shape[1]
    labels = batch["labels"][0].tolist()
    for col, line in enumerate(rows):
        number, rest = line.split(maxsplit=1)
        name = view.segment_names[view.segment_ids[col]]
        assert number == str(col) and rest.startswith(name)
        assert int(rest[len(name) :].split()[0]) == int(batch["position_ids"][0, col])
        token = repr(tokenizer.decode([int(batch["input_ids"][0, col])]))
        if labels[col] == IGNORE_INDEX:
            assert f"{token:<18} -" in line
        else:  # a labelled column's target is its own token
            assert f"{token:<18} {token}" in line
    for name in ("text", "pred", "code"):
        col = int(batch[f"{name}_index"][0, 1])
        assert [c for c, line in enumerate(rows) if f"<- {name}" in line] == [col]


def test_final_table_shows_each_runs_last_epoch():
    records = [
        {"arm": "ntp", "seed": 0, "epoch": 1.0, "eval_accuracy": 0.1, "jepa_loss": None},
        {"arm": "jepa", "seed": 0, "epoch": 1.0, "eval_accuracy": 0.2, "jepa_loss": 0.5},
        {"arm": "ntp", "seed": 0, "epoch": 2.0, "eval_accuracy": 0.25, "jepa_loss": None},
        {"arm": "jepa", "seed": 0, "epoch": 2.0, "eval_accuracy": 0.125, "jepa_loss": 0.0625},
    ]
    expected = (
        "| run | eval_accuracy | jepa_loss |\n"
        "| --- | ---: | ---: |\n"
        "| ntp seed 0 | 0.250 | n/a |\n"
        "| jepa seed 0 | 0.125 | 0.062 |"
    )
    assert final_table(records, ["eval_accuracy", "jepa_loss"], digits=3) == expected
    named = final_table(records[2:3], ["eval_accuracy"], name=lambda r: "ours")
    assert named.splitlines()[-1] == "| ours | 0.2500 |"


def test_final_table_names_a_column_no_record_has():
    with pytest.raises(ValueError, match=r"no record has column\(s\) \['eval_acuracy'\]"):
        final_table([{"arm": "ntp", "seed": 0, "epoch": 1.0}], ["eval_acuracy"])
    with pytest.raises(ValueError, match="no records"):
        final_table([], ["eval_accuracy"])


def test_unit_length_embeddings_have_norm_one_and_the_same_directions():
    rng = np.random.default_rng(0)
    text, pred, code = (rng.normal(size=(5, 3)).astype(np.float32) * 7 for _ in range(3))
    unit = Embeddings(text, pred, code, list("abcde"), list("vwxyz")).unit_length()
    for raw, scaled in ((text, unit.text), (pred, unit.pred), (code, unit.code)):
        np.testing.assert_allclose(np.linalg.norm(scaled, axis=1), 1.0, rtol=1e-6)
        for row_raw, row_scaled in zip(raw, scaled, strict=True):  # parallel: a positive multiple
            np.testing.assert_allclose(row_scaled * np.linalg.norm(row_raw), row_raw, rtol=1e-5)
    assert unit.texts == list("abcde") and unit.codes == list("vwxyz")
