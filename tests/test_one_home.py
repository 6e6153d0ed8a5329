"""The concepts that now have one home: packing without a model, the objective from sums and
counts, the lam > 0 rule, the toy model."""

from __future__ import annotations

import copy

import pytest
import torch
from helpers import PAIRS, make_model, make_tokenizer

from jepa_lab import JepaConfig, JepaModel
from jepa_lab.objective.losses import objective, require_jepa_lam
from jepa_lab.objective.packing import Packer
from jepa_lab.training.presets import preset
from jepa_lab.training.tiny import TOY_SIZES, tiny_jepa_model


@pytest.mark.parametrize("text_view", ["user", "prompt"])
def test_a_packer_packs_exactly_what_the_model_packs_without_a_model(text_view):
    config = JepaConfig(k=2, text_view=text_view)
    tokenizer = make_tokenizer("llama3")
    packer = Packer(copy.deepcopy(tokenizer), config)
    jm = JepaModel(make_model("llama", len(tokenizer)), tokenizer, config)
    ours, theirs = packer.build_batch(PAIRS), jm.build_batch(PAIRS)
    assert ours.keys() == theirs.keys()
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key
    assert packer.predictor_ids == jm.predictor_ids
    # the Packer added the predictor tokens; the model resized its embeddings to hold them
    assert packer.tokenizer.convert_ids_to_tokens(packer.predictor_ids) == config.predictor_tokens
    assert jm.model.get_input_embeddings().weight.shape[0] >= len(jm.tokenizer)


def test_the_objective_over_two_ranks_equals_one_rank_with_the_whole_batch():
    torch.manual_seed(0)
    token_losses, pair_distances = torch.rand(10), torch.rand(6)
    whole = objective(token_losses.sum(), 10, pair_distances.sum(), 6, gamma=0.5, lam=2.0)
    # by hand: gamma * mean NTP + lam * mean distance
    expected = 0.5 * token_losses.mean() + 2.0 * pair_distances.mean()
    torch.testing.assert_close(whole.loss, expected)
    # rank 0 holds 3 tokens and 4 pairs, rank 1 the rest; DDP averages the two rank losses
    ranks = [
        objective(token_losses[:3].sum(), 10, pair_distances[:4].sum(), 6, 0.5, 2.0, ranks=2),
        objective(token_losses[3:].sum(), 10, pair_distances[4:].sum(), 6, 0.5, 2.0, ranks=2),
    ]
    torch.testing.assert_close((ranks[0].loss + ranks[1].loss) / 2, expected)


def test_the_objective_without_the_jepa_term_is_gamma_times_ntp():
    step = objective(torch.tensor(6.0), 3, None, 0, gamma=2.0, lam=5.0)
    assert step.jepa is None and float(step.loss) == pytest.approx(4.0)
    assert objective(0.0, 0, None, 0, 1.0, 1.0).ntp == 0.0  # no labelled token: no NaN


def test_the_model_output_is_the_objective_of_its_own_sums():
    tokenizer = make_tokenizer("llama3")
    config = JepaConfig(k=1, lam=0.7, gamma=1.3)
    jm = JepaModel(make_model("llama", len(tokenizer)), tokenizer, config)
    with torch.no_grad():
        out = jm(**jm.build_batch(PAIRS))
    mean_ntp, mean_jepa = out.ntp_sum / out.ntp_count, out.jepa_sum / out.jepa_count
    torch.testing.assert_close(out.loss, 1.3 * mean_ntp + 0.7 * mean_jepa)


@pytest.mark.parametrize("lam", [0.0, -1.0, float("nan")])
def test_the_jepa_arm_needs_a_positive_lam_in_one_place(lam):
    with pytest.raises(ValueError, match=r"lam=.*needs lambda > 0"):
        require_jepa_lam(lam)
    if lam == 0.0:  # the other values never make a valid config
        with pytest.raises(ValueError, match="jepa.lam=0.0: the LLM-JEPA arm needs lambda > 0"):
            preset("tiny", jepa={"lam": 0.0}).with_arm("jepa")


def test_the_toy_model_is_one_call_and_trains_a_step():
    jm = tiny_jepa_model(PAIRS * 4, JepaConfig(k=1))
    assert jm.model.config.hidden_size == TOY_SIZES["hidden_size"]
    out = jm(**jm.build_batch(PAIRS))
    out.loss.backward()
    assert torch.isfinite(out.loss) and out.pred_emb.shape == (len(PAIRS), 32)
    with pytest.raises(TypeError, match="unknown size"):
        tiny_jepa_model(PAIRS, hidden=8)


def test_step_cost_times_the_step_and_counts_the_batch():
    from jepa_lab.training.cost import step_cost

    jm = tiny_jepa_model(PAIRS * 4, JepaConfig(k=1))
    batch = jm.build_batch(PAIRS)
    with torch.no_grad():
        expected_loss = float(jm(**batch).loss)
    cost = step_cost(jm, batch, repeats=2)  # no optimizer: the weights never move
    assert (cost.rows, cost.width) == tuple(batch["input_ids"].shape)
    assert cost.cells == batch["input_ids"].numel()
    assert cost.tokens == int((batch["segment_ids"] != -1).sum())
    assert cost.loss == pytest.approx(expected_loss, rel=1e-5)
    assert cost.seconds > 0 and cost.peak_gb is None  # a CPU has no GPU memory to report
    assert all(p.grad is None for p in jm.parameters())  # gradients cleared after each step
    with pytest.raises(ValueError, match="repeats=0"):
        step_cost(jm, batch, repeats=0)


def test_one_atomic_write_for_every_file_the_package_replaces(tmp_path, monkeypatch):
    """jepa_lab.write_atomic is the one copy: a failed write keeps the old file whole and leaves
    no temporary behind, the mode is a plain open's, and --overwrite knows its leftovers."""
    import fnmatch
    import os

    from jepa_lab import ATOMIC_TEMP, write_atomic
    from jepa_lab.training.rundir import RUN_OUTPUTS

    target = tmp_path / "run.json"
    write_atomic(target, "old\n")
    assert target.read_text() == "old\n"
    assert write_atomic(target, b"\x00new") == target and target.read_bytes() == b"\x00new"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask

    def interrupted(fd):
        raise KeyboardInterrupt  # a kill between writing and the rename

    monkeypatch.setattr(os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        write_atomic(target, "half")
    assert target.read_bytes() == b"\x00new" and sorted(tmp_path.iterdir()) == [target]
    leftover = ATOMIC_TEMP.format(name="run.json", tag="123.abcd1234")
    assert any(fnmatch.fnmatch(leftover, pattern) for pattern in RUN_OUTPUTS)
