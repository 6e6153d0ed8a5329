"""The cached pretrained base: built once, reused, the same start for both arms."""

import pytest
import torch

import jepa_lab.training.base as base
from jepa_lab.training.build import build_jepa_model
from jepa_lab.training.presets import preset

SPEC = base.BaseSpec(
    hidden_size=32,
    num_layers=1,
    num_heads=2,
    vocab_size=300,
    n_descriptions=300,
    n_regexes=200,
    n_problems=40,
    epochs=1,
    seq_len=64,
)


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_corpus_never_pairs_a_description_with_its_regex():
    documents = base.base_corpus(SPEC)
    assert len(documents) == 300 + 200 + 2 * 40
    descriptions, regexes = documents[:300], documents[300:500]
    assert all(" " in d for d in descriptions)  # English
    assert all(" " not in r for r in regexes)  # NL-RX regexes have no spaces
    assert not any(("." in d and "*" in d) or "[" in d for d in descriptions)


def test_base_is_built_once_then_reused(cache, monkeypatch):
    first = base.base_path(SPEC, progress=False)
    assert (first / "base.json").is_file() and (first / "model.safetensors").is_file()
    assert not list(first.parent.glob(".building-*"))  # the scratch directory was renamed

    def fail(*args, **kwargs):
        raise AssertionError("the cached base was rebuilt")

    monkeypatch.setattr(base, "pretrain_base", fail)
    assert base.base_path(SPEC, progress=False) == first
    other = base.BaseSpec(**{**SPEC.__dict__, "seed": 1})
    assert other.key() != SPEC.key()


def test_both_arms_start_from_the_same_pretrained_weights(cache, monkeypatch):
    monkeypatch.setattr(base, "spec_for", lambda config: SPEC)
    config = preset(
        "tiny",
        init="base",
        hidden_size=32,
        num_layers=1,
        num_heads=2,
        vocab_size=300,
        jepa={"k": 2},
    )
    ntp = build_jepa_model(config.with_arm("ntp"), [])
    jepa = build_jepa_model(config.with_arm("jepa"), [])
    a, b = ntp.state_dict(), jepa.state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)
    path = base.base_path(SPEC, progress=False)
    from safetensors.torch import load_file

    saved = load_file(str(path / "model.safetensors"))
    embed = saved["model.embed_tokens.weight"]
    torch.testing.assert_close(jepa.model.get_input_embeddings().weight, embed)
    assert jepa.predictor_ids == jepa.tokenizer.convert_tokens_to_ids(
        ["<|predictor_1|>", "<|predictor_2|>"]
    )
    assert max(jepa.predictor_ids) < embed.shape[0]  # reserved rows: no resize was needed


def test_the_one_off_pretraining_says_how_long_before_it_starts(cache, monkeypatch, capsys):
    """Colab and a plain pip install pay for the base once: the line comes before the work."""
    said_before = []

    def pretrain(spec, out_dir, progress=True):
        said_before.append(capsys.readouterr().out)
        assert progress is False  # captured stdout is no terminal: no Trainer table
        raise RuntimeError("stop here")

    monkeypatch.setattr(base, "pretrain_base", pretrain)
    with pytest.raises(RuntimeError, match="stop here"):
        base.base_path(base.BaseSpec())
    assert "pretraining the small base model once, about 5:15 (min:s)" in said_before[0]
    assert not list((cache / "bases").glob(".building-*"))  # the failed build left nothing
    # twice the layers and twice the epochs: more than twice, less than five times the time
    bigger = base.BaseSpec(num_layers=4, epochs=6)
    ratio = base.estimate_pretrain_seconds(bigger) / base.estimate_pretrain_seconds(base.BaseSpec())
    assert 2.0 < ratio < 5.0


def test_the_command_builds_the_presets_base_once(cache, monkeypatch, capsys):
    built = []
    monkeypatch.setattr(base, "spec_for", lambda config: SPEC)
    monkeypatch.setattr(
        base,
        "pretrain_base",
        lambda spec, out, progress=True: (
            built.append(spec) or out.mkdir(exist_ok=True) or (out / "base.json").write_text("{}")
        ),
    )
    assert base.main(["--preset", "tiny"]) == 0
    assert base.main(["--preset", "tiny"]) == 0  # cached: not built again
    assert built == [SPEC]
    assert f"is in {cache / 'bases' / SPEC.key()}" in capsys.readouterr().out
