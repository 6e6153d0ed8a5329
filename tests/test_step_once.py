"""The training step does its work once: one objective call per micro-batch, each example
tokenised once over all epochs (the packed batches unchanged), the window's counts exactly the
model's, and an attention implementation the model refuses refused before anything is written."""

from collections import Counter
from contextlib import nullcontext

import pytest
import torch
from helpers import PAIRS, SMALL_RUN, make_model, make_tokenizer
from transformers import PreTrainedTokenizerBase

import jepa_lab.objective.model as model_module
import jepa_lab.training.trainer as trainer_module
from jepa_lab import JepaConfig, JepaModel
from jepa_lab.data.records import Example
from jepa_lab.objective.checks import ATTENTION, ConfigError
from jepa_lab.objective.losses import objective
from jepa_lab.objective.masks import UnsupportedAttentionError, check_attention_implementation
from jepa_lab.objective.packing import Packer, TokenizedPair
from jepa_lab.training.build import load_examples
from jepa_lab.training.presets import preset
from jepa_lab.training.step import batch_counts
from jepa_lab.training.train import train


def small_config(**overrides):
    return preset("tiny", **{**SMALL_RUN, "eval_size": 0, "save_every": 0, **overrides})


def test_the_step_calls_the_objective_once_per_micro_batch(tmp_path, monkeypatch):
    calls = Counter()

    def counted(where):
        def wrapper(*args, **kwargs):
            calls[where] += 1
            return objective(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(trainer_module, "objective", counted("trainer"))
    monkeypatch.setattr(model_module, "objective", counted("model"))
    config = small_config(train_size=16, batch_size=4, grad_accum=2, epochs=1)
    result = train(config, tmp_path / "run", "jepa", progress=False)
    micro_batches = 16 // 4
    assert result.history[0]["step"] == micro_batches // 2
    assert calls == {"trainer": micro_batches}  # the model computed no means of its own


def test_the_output_loss_is_the_objective_of_the_sums_forward_returns():
    tokenizer = make_tokenizer("llama3")
    config = JepaConfig(k=1, lam=0.7, gamma=1.3)
    jm = JepaModel(make_model("llama", len(tokenizer)), tokenizer, config)
    batch = jm.build_batch(PAIRS)
    with torch.no_grad():
        sums = jm(**batch, return_loss=False)
        full = jm(**batch)
    assert sums.loss is None and sums.ntp_loss is None and sums.jepa_loss is None
    for name in ("ntp_sum", "jepa_sum", "text_emb", "pred_emb", "code_emb"):
        torch.testing.assert_close(getattr(sums, name), getattr(full, name))
    expected = objective(sums.ntp_sum, sums.ntp_count, sums.jepa_sum, sums.jepa_count, 1.3, 0.7)
    torch.testing.assert_close(full.loss, expected.loss)
    torch.testing.assert_close(full.ntp_loss, sums.ntp_sum / sums.ntp_count)
    # what the trainer counts without running the model is what the model counted
    counts = batch_counts(batch).tolist()
    assert counts == [sums.ntp_count, sums.jepa_count, sums.num_tokens]


def test_each_example_is_tokenised_once_over_all_epochs(tmp_path, monkeypatch):
    encoded = Counter()
    original = PreTrainedTokenizerBase.__call__

    def counting(self, text=None, *args, **kwargs):
        for item in [text] if isinstance(text, str) else text or []:
            encoded[item] += 1
        return original(self, text, *args, **kwargs)

    monkeypatch.setattr(PreTrainedTokenizerBase, "__call__", counting)
    config = small_config(train_size=16, batch_size=4, epochs=3)
    train_examples, _ = load_examples(config)
    result = train(config, tmp_path / "run", "jepa", progress=False)
    assert result.history[-1]["step"] == 3 * 16 // 4
    views = Counter(e.text.strip() for e in train_examples)
    views.update(e.code.strip() for e in train_examples)
    assert {view: encoded[view] for view in views} == dict(views)  # once, not once per epoch


@pytest.mark.parametrize(
    "config",
    [
        JepaConfig(k=2),
        JepaConfig(k=0, text_view="prompt", embed_at="end_of_turn"),
        JepaConfig(k=1, label_mode="official", max_length=60),
    ],
    ids=["user-k2", "prompt-k0", "official-labels-with-overflow"],
)
def test_tokenised_pairs_pack_exactly_as_the_raw_pairs(config):
    packer = Packer(make_tokenizer("llama3"), config)
    long_pair = ("lines with a vowel " * 10, "x")
    raw = [
        *PAIRS,
        long_pair,
        Example("  three letters ", "[a-z]{3}", "ex-7", "test", system="Be brief."),
    ]
    tokenized = packer.tokenize(raw)
    assert all(isinstance(p, TokenizedPair) for p in tokenized)
    for jepa in (True, False):  # a loss-dropped step packs the same tokens without its views
        overflow = config.max_length == 60  # the long pair is dropped, by either path
        with pytest.warns(UserWarning, match="1 of 6 pairs") if overflow else nullcontext():
            want = packer.build_batch(raw, jepa=jepa)
        with pytest.warns(UserWarning, match="1 of 6 pairs") if overflow else nullcontext():
            got = packer.build_batch(tokenized, jepa=jepa)
        assert got.keys() == want.keys()
        for key in want:
            assert torch.equal(got[key], want[key]), key
    mixed = packer.build_batch([tokenized[0], raw[1], tokenized[2]])
    direct = packer.build_batch(raw[:3])
    assert all(torch.equal(mixed[k], direct[k]) for k in direct)


@pytest.mark.parametrize("name", ["flex_attention", "flash_attention_2", "flash_attention_3"])
def test_train_config_refuses_what_the_model_refuses_before_anything_is_written(tmp_path, name):
    with pytest.raises(UnsupportedAttentionError):
        check_attention_implementation(name)
    expected = rf"TrainConfig.attn_implementation='{name}': expected one of .*4D mask"
    with pytest.raises(ConfigError, match=expected):
        small_config(attn_implementation=name)
    config = small_config()
    config.attn_implementation = name  # set after construction: train() checks again
    with pytest.raises(ConfigError, match=expected):
        train(config, tmp_path / "run", "jepa", progress=False)
    assert not (tmp_path / "run").exists()
    for accepted in ATTENTION:  # and accepts exactly what the model takes
        assert check_attention_implementation(accepted) == accepted
        assert small_config(attn_implementation=accepted).attn_implementation == accepted
