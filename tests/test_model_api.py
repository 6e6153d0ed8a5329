"""JepaModel: labels, embedding anchors, bad input, LoRA and save/load round trips."""

import pytest
import torch
from helpers import FAMILY_STYLE, PAIRS, TEMPLATES, make_model, make_tokenizer

from jepa_lab import JepaConfig, JepaModel
from jepa_lab.objective.masks import IGNORE_INDEX, UnsupportedAttentionError
from jepa_lab.objective.model import input_device

END_OF_TURN = {
    "llama3": "<|eot_id|>",
    "gemma": "<end_of_turn>",
    "chatml": "<|im_end|>",
    "plain": "<|eos|>",
}


@pytest.mark.parametrize("style", list(TEMPLATES))
@pytest.mark.parametrize("side", ["right", "left"])
def test_ntp_labels_are_exactly_the_answer_and_end_of_turn(style, side):
    tokenizer = make_tokenizer(style, side)
    jm = JepaModel(make_model("llama", 420), tokenizer, JepaConfig(k=2))
    batch = jm.build_batch(PAIRS)
    for row, (_, code) in enumerate(PAIRS):
        labelled = batch["labels"][row][batch["labels"][row] != IGNORE_INDEX].tolist()
        assert tokenizer.decode(labelled) == code + END_OF_TURN[style]
        # and the labels are the row's own tokens at those columns
        cols = (batch["labels"][row] != IGNORE_INDEX).nonzero().flatten()
        assert batch["input_ids"][row, cols].tolist() == labelled
    # views carry no targets: only the NTP segment is labelled
    assert (batch["labels"][batch["segment_ids"] != (0 if side == "right" else 2)] == -100).all()


def test_official_label_mode_trains_the_prompt_and_never_end_of_turn():
    tokenizer = make_tokenizer("llama3")
    jm = JepaModel(make_model("llama", 420), tokenizer, JepaConfig(label_mode="official", lam=0))
    batch = jm.build_batch(PAIRS)
    eot = tokenizer.convert_tokens_to_ids("<|eot_id|>")
    for row, (text, _) in enumerate(PAIRS):
        ids = batch["input_ids"][row][batch["segment_ids"][row] == 0]
        labels = batch["labels"][row][batch["segment_ids"][row] == 0]
        assert (labels[ids == eot] == IGNORE_INDEX).all() and (ids == eot).any()
        assert text in tokenizer.decode(labels[labels != IGNORE_INDEX])


def test_embeddings_are_read_at_the_documented_tokens():
    tokenizer = make_tokenizer("llama3")
    jm = JepaModel(make_model("llama", 420), tokenizer, JepaConfig(k=3))
    batch = jm.build_batch(PAIRS)
    ids = batch["input_ids"]
    for name, expected in (("pred", "<|predictor_3|>"),):
        rows, cols = batch[f"{name}_index"].T
        assert set(tokenizer.convert_ids_to_tokens(ids[rows, cols].tolist())) == {expected}
    for i, (text, code) in enumerate(PAIRS):
        r, c = batch["code_index"][i].tolist()
        assert tokenizer.decode(ids[r, : c + 1][batch["segment_ids"][r, : c + 1] == 2]).endswith(
            code
        )
        r, c = batch["text_index"][i].tolist()
        assert tokenizer.decode(ids[r, : c + 1][batch["segment_ids"][r, : c + 1] == 1]).endswith(
            text
        )
    eot = JepaModel(
        make_model("llama", 420), make_tokenizer("llama3"), JepaConfig(k=0, embed_at="end_of_turn")
    )
    b = eot.build_batch(PAIRS)
    for name in ("text", "pred", "code"):
        rows, cols = b[f"{name}_index"].T
        assert set(b["input_ids"][rows, cols].tolist()) == {
            tokenizer.convert_tokens_to_ids("<|eot_id|>")
        }


def test_prompt_ids_are_the_training_prompt():
    tokenizer = make_tokenizer("chatml")
    jm = JepaModel(make_model("qwen3", 420), tokenizer, JepaConfig(lam=0))
    batch = jm.build_batch(PAIRS)
    for row, prompt in enumerate(jm.prompt_ids([t for t, _ in PAIRS])):
        first_label = int((batch["labels"][row] != IGNORE_INDEX).nonzero()[0])
        assert batch["input_ids"][row, :first_label].tolist() == prompt
        assert tokenizer.decode(prompt).endswith("<|im_start|>assistant\n")


def test_gemma_code_view_falls_back_to_a_user_turn():
    jm = JepaModel(make_model("gemma2", 420), make_tokenizer("gemma"), JepaConfig())
    assert jm.pieces().code_view_role == "user"  # the template rejects a leading assistant turn
    assert jm(**jm.build_batch(PAIRS)).jepa_loss is not None


def test_bad_input_is_named():
    jm = JepaModel(make_model("llama", 420), make_tokenizer("llama3"), JepaConfig(max_length=100))
    with pytest.raises(ValueError, match="pair 1: the code view is empty"):
        jm.build_batch([PAIRS[0], ("a text", "   ")])
    with pytest.raises(TypeError, match="pair 0"):
        jm.build_batch([42])
    # every entry point reads a pair the same way (jepa_lab.data.records.text_and_code), so a
    # non-string view fails with the same message, naming the pair, in each of them
    from jepa_lab.teaching.mask_view import default_tokenizer
    from jepa_lab.training.evaluate import extract_embeddings

    bad = [PAIRS[0], ("a text", 7)]
    for entry in (
        jm.build_batch,
        lambda pairs: extract_embeddings(jm, pairs, progress=False),
        default_tokenizer,
    ):
        with pytest.raises(TypeError, match="pair 1: code view must be a string, got int"):
            entry(bad)
    long_pair = ("lines with a vowel " * 60, "x")
    with pytest.warns(UserWarning, match=r"1 of 3 pairs exceed max_length=100.*'batch position 1'"):
        batch = jm.build_batch([PAIRS[0], long_pair, PAIRS[2]])
    assert batch["text_index"].shape[0] == 2 and jm.dropped_pairs == 1
    strict = JepaModel(
        make_model("llama", 420),
        make_tokenizer("llama3"),
        JepaConfig(max_length=100, on_overflow="error"),
    )
    with pytest.raises(ValueError, match="never truncated"):
        strict.build_batch([PAIRS[0], long_pair])
    for field, value in (
        ("k", 17),
        ("k", -1),
        ("distance", "cos"),
        ("text_view", "both"),
        ("loss_dropout", 1.2),
    ):
        with pytest.raises(ValueError, match=f"JepaConfig.{field}"):
            JepaConfig(**{field: value})
    model = make_model("llama", 420)
    model.config._attn_implementation = "flash_attention_2"
    with pytest.raises(UnsupportedAttentionError, match="attn_implementation='sdpa'"):
        JepaModel(model, make_tokenizer("llama3"))


def test_lora_trains_only_adapters_and_predictor_embeddings():
    pytest.importorskip("peft")
    torch.manual_seed(0)
    jm = JepaModel(make_model("llama", 420), make_tokenizer("llama3"), JepaConfig(k=2))
    jm.enable_lora(r=4, alpha=8, target_modules=["q_proj", "v_proj"])
    embed = jm.model.get_input_embeddings()
    all_ids = torch.arange(embed.weight.shape[0] if hasattr(embed, "weight") else 422)
    before = {n: p.detach().clone() for n, p in jm.named_parameters()}
    table_before = embed(all_ids).detach().clone()
    optim = torch.optim.AdamW([p for p in jm.parameters() if p.requires_grad], lr=1e-2)
    batch = jm.build_batch(PAIRS)
    first = None
    for _ in range(5):
        loss = jm(**batch).loss
        first = first if first is not None else loss.item()
        optim.zero_grad()
        loss.backward()
        optim.step()
    assert loss.item() < first
    changed = {n for n, p in jm.named_parameters() if not torch.equal(p, before[n])}
    assert changed and all("lora_" in n or "token_adapter" in n for n in changed), changed
    changed_rows = (embed(all_ids) != table_before).any(dim=1).nonzero().flatten().tolist()
    assert changed_rows == sorted(jm.predictor_ids)


@pytest.mark.parametrize("family", ["llama", "gpt2"])
def test_save_and_load_round_trip(tmp_path, family):
    tokenizer = make_tokenizer(FAMILY_STYLE[family])
    base_vocab = len(tokenizer)  # no room left: adding predictor tokens must resize embeddings
    jm = JepaModel(
        make_model(family, base_vocab), tokenizer, JepaConfig(k=3, lam=0.5, text_view="prompt")
    )
    assert jm.model.get_input_embeddings().weight.shape[0] == base_vocab + 3
    with torch.no_grad():  # make the predictor rows distinctive, so a lost row would show
        jm.model.get_input_embeddings().weight[jm.predictor_ids] = torch.randn(3, 32)
    jm.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").is_file() and (tmp_path / "jepa_config.json").is_file()
    loaded = JepaModel.from_pretrained(tmp_path, attn_implementation="eager")
    assert loaded.config == jm.config
    assert loaded.predictor_ids == jm.predictor_ids
    assert loaded.model.get_input_embeddings().weight.shape[0] >= len(loaded.tokenizer)
    assert loaded.tokenizer.convert_ids_to_tokens(loaded.predictor_ids)[-1] == "<|predictor_3|>"
    a = jm(**jm.build_batch(PAIRS))
    b = loaded(**loaded.build_batch(PAIRS))
    torch.testing.assert_close(a.loss, b.loss)
    torch.testing.assert_close(a.pred_emb, b.pred_emb)


def test_inputs_go_where_the_input_embeddings_are_not_the_first_parameter():
    class Split(torch.nn.Module):  # a model spread over devices: its head placed first
        def __init__(self):
            super().__init__()
            self.head = torch.nn.Linear(4, 4, device="meta")
            self.embed = torch.nn.Embedding(10, 4)

        def get_input_embeddings(self):
            return self.embed

    model = Split()
    assert next(model.parameters()).device.type == "meta"
    assert input_device(model) == torch.device("cpu")
