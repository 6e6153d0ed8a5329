"""Geometry diagnostics against known answers and independent reference computations."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import torch
from helpers import make_model, make_tokenizer

from jepa_lab import JepaConfig, JepaModel
from jepa_lab import geometry as g
from jepa_lab.training.evaluate import extract_embeddings


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


# ----------------------------------------------------------------------------- SVD spectrum


@pytest.mark.parametrize("rank", [1, 3, 7])
def test_svd_spectrum_counts_the_rank_of_the_difference(rank):
    r = rng(rank)
    text = r.normal(size=(200, 32))
    diff = r.normal(size=(200, rank)) @ r.normal(size=(rank, 32))  # rank-r difference
    s = g.svd_spectrum(text, text - diff)
    assert s.shape == (32,)
    assert np.all(np.diff(s) <= 1e-9)  # descending
    assert np.sum(s > 1e-8 * s[0]) == rank
    np.testing.assert_allclose(s, np.linalg.svd(diff, compute_uv=False), rtol=1e-10, atol=1e-10)


def test_svd_spectrum_center_removes_a_constant_offset():
    r = rng(1)
    text = r.normal(size=(100, 16))
    diff = r.normal(size=(100, 2)) @ r.normal(size=(2, 16)) + 5.0 * r.normal(size=16)
    code = text - diff
    # The paper's plain SVD sees the offset as one more direction; centring removes it.
    assert np.sum(g.svd_spectrum(text, code) > 1e-8) == 3
    centred = g.svd_spectrum(text, code, center=True)
    assert np.sum(centred > 1e-8 * centred[0]) == 2


def test_svd_spectrum_normalize_ignores_embedding_scale():
    r = rng(2)
    text, code = r.normal(size=(50, 8)), r.normal(size=(50, 8))
    scale = r.uniform(0.1, 10, size=(50, 1))
    np.testing.assert_allclose(
        g.svd_spectrum(text * scale, code * scale[::-1], normalize=True),
        g.svd_spectrum(text, code, normalize=True),
        rtol=1e-10,
    )


def test_svd_spectrum_rejects_mismatched_pairs():
    with pytest.raises(ValueError, match="same shape"):
        g.svd_spectrum(np.zeros((4, 3)), np.zeros((5, 3)))
    with pytest.raises(ValueError, match="2-D"):
        g.svd_spectrum(np.zeros(4), np.zeros(4))
    bad = np.ones((3, 2))
    bad[2, 1] = np.nan
    with pytest.raises(ValueError, match="row 2"):
        g.svd_spectrum(bad, np.ones((3, 2)))


# ----------------------------------------------------------------------------- linear map


def test_exact_affine_relation_has_zero_heldout_error():
    r = rng(3)
    x = r.normal(size=(300, 12))
    y = x @ r.normal(size=(12, 9)) + r.normal(size=9)
    lin = g.linear_map_fit(x[:200], y[:200])
    assert g.linear_map_error(lin, x[200:], y[200:]) < 1e-10
    assert g.linear_map_error(lin, x[200:], y[200:], centered=True) < 1e-10


def test_noisy_relation_error_matches_the_noise_level():
    r = rng(4)
    n, sigma = 4000, 0.3
    x = r.normal(size=(n, 8))
    clean = x @ r.normal(size=(8, 6)) + 2.0
    noise = sigma * r.normal(size=(n, 6))
    y = clean + noise
    lin = g.linear_map_fit(x[:3000], y[:3000])
    expected = np.linalg.norm(noise[3000:]) / np.linalg.norm(y[3000:])
    assert g.linear_map_error(lin, x[3000:], y[3000:]) == pytest.approx(expected, rel=0.03)
    expected_c = np.linalg.norm(noise[3000:]) / np.linalg.norm(y[3000:] - y[3000:].mean(0))
    err_c = g.linear_map_error(lin, x[3000:], y[3000:], centered=True)
    assert err_c == pytest.approx(expected_c, rel=0.03)


def test_linear_map_matches_sklearn():
    from sklearn.linear_model import LinearRegression, Ridge

    r = rng(5)
    x, y = r.normal(size=(80, 10)), r.normal(size=(80, 4))
    lin = g.linear_map_fit(x, y)
    ref = LinearRegression().fit(x, y)
    np.testing.assert_allclose(lin.weight, ref.coef_.T, atol=1e-10)
    np.testing.assert_allclose(lin.bias, ref.intercept_, atol=1e-10)
    lin = g.linear_map_fit(x, y, ridge=3.0)
    ref = Ridge(alpha=3.0).fit(x, y)
    np.testing.assert_allclose(lin(x), ref.predict(x), atol=1e-10)


def test_linear_map_rejects_bad_input():
    with pytest.raises(ValueError, match="rows"):
        g.linear_map_fit(np.zeros((5, 3)), np.zeros((4, 3)))
    with pytest.raises(ValueError, match="ridge"):
        g.linear_map_fit(np.zeros((5, 3)), np.zeros((5, 3)), ridge=-1)
    lin = g.linear_map_fit(rng().normal(size=(6, 3)), rng().normal(size=(6, 2)))
    with pytest.raises(ValueError, match="linear map"):
        g.linear_map_error(lin, np.zeros((4, 5)), np.zeros((4, 5)))


# ----------------------------------------------------------------------------- cosines


def test_derangement_has_no_fixed_point_and_is_a_permutation():
    for n in (2, 3, 10, 101):
        for seed in range(5):
            sigma = g.derangement(n, seed)
            assert sorted(sigma) == list(range(n))
            assert np.all(sigma != np.arange(n))
    with pytest.raises(ValueError, match="n >= 2"):
        g.derangement(1)


def test_paired_and_random_pair_cosine_match_a_loop():
    r = rng(6)
    x, y = r.normal(size=(40, 5)), r.normal(size=(40, 5))

    def cos(a, b):
        return a @ b / np.linalg.norm(a) / np.linalg.norm(b)

    assert g.paired_cosine(x, y) == pytest.approx(np.mean([cos(x[i], y[i]) for i in range(40)]))
    sigma = g.derangement(40, seed=7)
    expected = np.mean([cos(x[i], y[sigma[i]]) for i in range(40)])
    assert g.random_pair_cosine(x, y, seed=7) == pytest.approx(expected)
    assert g.paired_cosine(x, 3 * x) == pytest.approx(1.0)


def test_mean_pairwise_cosine_matches_brute_force():
    x = rng(8).normal(size=(30, 6)) + 0.5
    u = x / np.linalg.norm(x, axis=1, keepdims=True)
    c = u @ u.T
    expected = (c.sum() - np.trace(c)) / (30 * 29)
    assert g.mean_pairwise_cosine(x) == pytest.approx(expected)


# ----------------------------------------------------------------------------- retrieval


def test_retrieval_of_identical_embeddings_is_perfect():
    x = rng(9).normal(size=(300, 16))
    assert g.retrieval_accuracy(x, x.copy(), ks=(1, 5)) == {"top1": 1.0, "top5": 1.0}


def test_retrieval_of_random_embeddings_is_chance():
    r = rng(10)
    n = 600
    acc = g.retrieval_accuracy(r.normal(size=(n, 32)), r.normal(size=(n, 32)), ks=(1, 10))
    assert acc["top1"] < 6 / n  # expected 1/n
    assert acc["top10"] == pytest.approx(10 / n, abs=0.015)


def test_retrieval_matches_argsort_reference_and_chunking():
    r = rng(11)
    x = r.normal(size=(150, 8))
    y = x + 1.2 * r.normal(size=x.shape)
    xu = x / np.linalg.norm(x, axis=1, keepdims=True)
    yu = y / np.linalg.norm(y, axis=1, keepdims=True)
    ranks = np.array([np.where(np.argsort(-(xu[i] @ yu.T)) == i)[0][0] for i in range(150)])
    expected = {f"top{k}": float(np.mean(ranks < k)) for k in (1, 3, 10)}
    assert g.retrieval_accuracy(x, y, ks=(1, 3, 10)) == pytest.approx(expected)
    assert g.retrieval_accuracy(x, y, ks=(1, 3, 10), chunk=7) == pytest.approx(expected)


def test_retrieval_breaks_ties_at_random_so_collapse_scores_chance():
    same = np.ones((50, 4))
    assert g.retrieval_accuracy(same, same, ks=(1, 5)) == pytest.approx({"top1": 0.02, "top5": 0.1})


# ----------------------------------------------------------------------------- collapse


def test_effective_rank_known_values():
    r = rng(12)
    iso = r.normal(size=(5000, 16))
    assert 15.0 < g.effective_rank(iso) <= 16.0
    rank1 = np.outer(r.normal(size=300), r.normal(size=16))
    assert g.effective_rank(rank1) == pytest.approx(1.0, abs=1e-6)
    # Two equal singular values and the rest zero: entropy log 2, effective rank exactly 2.
    assert g.effective_rank(np.diag([3.0, 3.0, 0.0, 0.0])) == pytest.approx(2.0)
    assert g.effective_rank(np.zeros((3, 3))) == 0.0


def test_collapsed_set_is_flagged():
    r = rng(13)
    v = r.normal(size=64)
    text = v + 1e-3 * r.normal(size=(400, 64))
    code = v + 1e-3 * r.normal(size=(400, 64))
    rep = g.collapse_report(text, code)
    assert rep.collapsed
    assert "COLLAPSED" in rep.message and "no closer than random" in rep.message
    assert rep.metrics["effective_rank_text"] < 2
    assert rep.metrics["paired_cosine"] > 0.99


def test_isotropic_set_is_not_flagged():
    r = rng(14)
    text = r.normal(size=(400, 64))
    code = text @ r.normal(size=(64, 64)) / 8 + 0.1 * r.normal(size=(400, 64))
    rep = g.collapse_report(text, code)
    assert not rep.collapsed, rep.message
    assert rep.reasons == [] and rep.message.startswith("Not collapsed")
    assert str(rep) == rep.message


def test_collapse_rule_on_pairing_alone():
    # Healthy rank and spread, but matched pairs no closer than random ones and both high.
    r = rng(15)
    base = 10.0 * r.normal(size=32)
    text = base + r.normal(size=(300, 32))
    code = base + r.normal(size=(300, 32))
    rep = g.collapse_report(text, code, max_mean_cosine=0.999, min_effective_rank=1.0)
    assert rep.collapsed and len(rep.reasons) == 1 and "random" in rep.reasons[0]


# ----------------------------------------------------------------------------- projections


def test_pca_projection_shapes_and_joint_axes():
    r = rng(16)
    a, b = r.normal(size=(30, 10)), r.normal(size=(20, 10))
    b[3] = a[7]  # the same point in two sets
    out = g.project({"a": a, "b": b}, method="pca")
    assert out["a"].shape == (30, 2) and out["b"].shape == (20, 2)
    assert out["a"].dtype == np.float32
    np.testing.assert_allclose(out["a"][7], out["b"][3], atol=1e-6)


def test_pca_matches_sklearn_up_to_sign():
    from sklearn.decomposition import PCA

    x = rng(17).normal(size=(60, 8)) * np.arange(1, 9)
    ours = g.project({"x": x}, method="pca")["x"]
    ref = PCA(n_components=2).fit_transform(x)
    np.testing.assert_allclose(np.abs(ours), np.abs(ref), atol=1e-4)


def test_tsne_is_seeded_and_joint():
    r = rng(18)
    a, b = r.normal(size=(40, 6)), r.normal(size=(40, 6)) + 3
    b[5] = a[2]
    first = g.project({"a": a, "b": b}, method="tsne", seed=3, max_iter=250)
    again = g.project({"a": a, "b": b}, method="tsne", seed=3, max_iter=250)
    assert first["a"].shape == (40, 2) and first["b"].shape == (40, 2)
    np.testing.assert_array_equal(first["a"], again["a"])
    np.testing.assert_array_equal(first["b"], again["b"])
    spread = np.ptp(np.concatenate([first["a"], first["b"]]), axis=0).max()
    assert np.linalg.norm(first["a"][2] - first["b"][5]) < 0.05 * spread


def test_umap_is_seeded():
    # ~10 s: the first UMAP call in a process compiles numba kernels.
    r = rng(19)
    sets = {"a": r.normal(size=(60, 6)), "b": r.normal(size=(50, 6)) + 2}
    first = g.project(sets, method="umap", seed=1)
    again = g.project(sets, method="umap", seed=1)
    assert first["a"].shape == (60, 2) and first["b"].shape == (50, 2)
    np.testing.assert_array_equal(first["a"], again["a"])


def test_project_models_shares_one_map():
    emb = _embeddings(n=20)
    moved = g.Embeddings(emb.text, emb.pred, emb.code + 5.0)  # same text, shifted code
    out = g.project_models({"before": emb, "after": moved}, method="pca")
    assert set(out) == {"before", "after"} and set(out["after"]) == {"text", "pred", "code"}
    assert out["after"]["code"].shape == (20, 2)
    # Identical Text embeddings in both models land on identical 2-D points.
    np.testing.assert_allclose(out["before"]["text"], out["after"]["text"], atol=1e-5)
    assert not np.allclose(out["before"]["code"], out["after"]["code"])


def test_project_rejects_bad_input():
    with pytest.raises(ValueError, match="same width"):
        g.project({"a": np.zeros((3, 4)), "b": np.zeros((3, 5))})
    with pytest.raises(ValueError, match="method"):
        g.project({"a": np.ones((5, 4))}, method="lda")
    with pytest.raises(ValueError, match="at least 4"):
        g.project({"a": np.ones((3, 4))}, method="tsne")
    with pytest.raises(ValueError, match="empty"):
        g.project({})


def test_project_accepts_torch_tensors():
    t = torch.randn(10, 4, dtype=torch.bfloat16)
    assert g.project({"t": t})["t"].shape == (10, 2)


# ----------------------------------------------------------------------------- summary


def _embeddings(n=120, h=16, seed=20) -> g.Embeddings:
    r = rng(seed)
    text = r.normal(size=(n, h)).astype(np.float32)
    code = (text @ r.normal(size=(h, h)) / 4).astype(np.float32)
    pred = (code + 0.05 * r.normal(size=(n, h))).astype(np.float32)
    return g.Embeddings(text, pred, code, [f"t{i}" for i in range(n)], [f"c{i}" for i in range(n)])


def test_geometry_summary_agrees_with_the_parts():
    emb = _embeddings()
    s = g.geometry_summary(emb, test_fraction=0.25, seed=0)
    assert s["n"] == 120 and s["hidden"] == 16
    assert s["paired_cosine"] == pytest.approx(g.paired_cosine(emb.text, emb.code))
    assert s["pred_paired_cosine"] == pytest.approx(g.paired_cosine(emb.pred, emb.code))
    assert s["pred_paired_cosine"] > 0.95  # pred was built near code
    assert s["pred_retrieval_top1"] == pytest.approx(1.0)
    assert s["linear_map_error"] < 1e-5  # code is an exact linear function of text
    np.testing.assert_allclose(s["svd_spectrum"], g.svd_spectrum(emb.text, emb.code))
    assert s["svd_mean_top100"] == pytest.approx(np.mean(s["svd_spectrum"][:100]))
    assert s["collapsed"] is False
    train, test = g.train_test_split_indices(120, 0.25, 0)
    assert len(test) == 30 and not set(train) & set(test)


def test_embeddings_container():
    emb = _embeddings(n=10)
    assert len(emb) == 10
    assert set(emb.views()) == {"text", "pred", "code"}
    sub = emb.subset([1, 3])
    assert sub.texts == ["t1", "t3"] and sub.codes == ["c1", "c3"]
    np.testing.assert_array_equal(sub.code, emb.code[[1, 3]])
    assert emb.hover()["code"][2] == "c2" and emb.hover()["pred"][2] == "t2"
    with pytest.raises(ValueError, match="share one"):
        g.Embeddings(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((4, 2)))
    with pytest.raises(ValueError, match="strings"):
        g.Embeddings(np.zeros((3, 2)), np.zeros((3, 2)), np.zeros((3, 2)), ["a"], [])


# ----------------------------------------------------------------------------- extraction


@pytest.fixture
def tiny_jepa():
    def build(**kw):
        tok = make_tokenizer("llama3")
        model = make_model("llama", len(tok))
        return JepaModel(model, tok, JepaConfig(**kw))

    return build


def test_extract_embeddings_matches_separate_forward_passes(tiny_jepa, pairs):
    jm = tiny_jepa(k=1)
    jm.train()
    emb = extract_embeddings(jm, pairs, batch_size=3, progress=False)
    assert jm.training  # mode restored
    assert emb.text.shape == (len(pairs), jm.model.config.hidden_size)
    assert emb.text.dtype == np.float32
    assert emb.texts == [t for t, _ in pairs] and emb.codes == [c for _, c in pairs]
    jm.eval()
    with torch.no_grad():
        ref = jm.forward_separate(pairs, jepa=True)  # the model's own unpacked reference path
    np.testing.assert_allclose(emb.text, ref.text_emb.numpy(), atol=1e-4)
    np.testing.assert_allclose(emb.pred, ref.pred_emb.numpy(), atol=1e-4)
    np.testing.assert_allclose(emb.code, ref.code_emb.numpy(), atol=1e-4)
    assert not np.allclose(emb.pred, emb.text)  # k=1: a predictor token, not the identity
    extract_embeddings(jm, pairs[:1], progress=False)
    assert not jm.training  # eval stays eval


def test_extract_embeddings_for_the_ntp_arm_and_k0(tiny_jepa, pairs):
    jm = tiny_jepa(k=0, lam=0.0)  # NTP baseline: training never builds the views
    emb = extract_embeddings(jm, pairs, batch_size=2, progress=False)
    assert emb.text.shape[0] == len(pairs)
    np.testing.assert_array_equal(emb.pred, emb.text)  # k=0: Pred is the identity


@pytest.mark.parametrize("batch_size", [1, 3])  # 1: build_batch raises; 3: it drops the pair
def test_extract_embeddings_skips_overlong_pairs_with_a_warning(tiny_jepa, pairs, batch_size):
    jm = tiny_jepa(k=1, max_length=128)
    long_pair = ("lines containing " + "a vowel or a number " * 40, "(.*[0-9].*)" * 10)
    data = [pairs[0], long_pair, pairs[1]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        emb = extract_embeddings(jm, data, batch_size=batch_size, progress=False)
    assert len(emb) == 2 and emb.texts == [pairs[0][0], pairs[1][0]]
    assert any("skipped 1 of 3" in str(w.message) and "indices 1" in str(w.message) for w in caught)


def test_extract_embeddings_rejects_bad_pairs(tiny_jepa):
    jm = tiny_jepa(k=1)
    with pytest.raises(TypeError, match=r"pair 1: expected a \(text, code\) tuple"):
        extract_embeddings(jm, [("a", "b"), 42], progress=False)
    with pytest.raises(ValueError, match="empty"):
        extract_embeddings(jm, [], progress=False)
