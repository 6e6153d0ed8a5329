"""Embedding geometry: measure the structure of Enc(Text), Pred(Enc(Text)), Enc(Code) arrays.

Everything here is a plain function on numpy arrays (torch tensors are accepted and converted), so
the same diagnostics work on embeddings from any model. The diagnostics follow Section 4.2 and
Appendix A.6 of the LLM-JEPA paper (Huang, LeCun, Balestriero, arXiv 2509.14252):

- the singular values of Enc(Text) - Enc(Code): a JEPA-trained model maps Text to Code inside a
  narrow subspace, so the spectrum is small and falls off quickly;
- the error of a least-squares linear map Text -> Code: the paper finds the mapping near-linear;

plus the checks a student needs to trust those numbers: matched-vs-random cosine, retrieval
accuracy, and collapse diagnostics (a from-scratch model can drive the cosine loss to ~0 by
mapping every input onto one direction; these functions detect and say so).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jepa_lab.geometry.views import VIEWS, Embeddings, _as_matrix, _as_pair, _unit_rows

_EPS = 1e-12


# ----------------------------------------------------------------------------- projections


def _pca_2d(x: np.ndarray) -> np.ndarray:
    """Top-2 principal components [N, 2], signs fixed so reruns give the same picture."""
    centred = x - x.mean(axis=0, keepdims=True)
    u, s, vt = np.linalg.svd(centred, full_matrices=False)
    k = min(2, vt.shape[0])
    comps = vt[:k]  # [k, H]
    signs = np.sign(comps[np.arange(k), np.argmax(np.abs(comps), axis=1)])
    comps = comps * np.where(signs == 0, 1.0, signs)[:, None]
    out = np.zeros((x.shape[0], 2))
    out[:, :k] = centred @ comps.T
    return out


def _pca_reduce(x: np.ndarray, dims: int) -> np.ndarray:
    """Pre-reduce to `dims` PCA dimensions before t-SNE / UMAP: faster, and removes noise dims."""
    if dims <= 0 or x.shape[1] <= dims:
        return x
    centred = x - x.mean(axis=0, keepdims=True)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    return u[:, :dims] * s[:dims]


def project(
    sets: Mapping[str, Any],
    method: str = "pca",
    seed: int = 0,
    pca_dims: int = 50,
    **kwargs: Any,
) -> dict[str, np.ndarray]:
    """Jointly project several embedding sets to 2-D, so their coordinates are comparable.

    sets: name -> [N_i, H] (e.g. {"before/text": ..., "before/code": ..., "after/text": ...}).
    One projection is fitted on the union of all rows, then split back per set, so a before/after
    pair of models shares one set of axes and identical rows land on the same spot.
    method: "pca" (numpy SVD), "tsne" (scikit-learn) or "umap" (umap-learn, imported lazily).
    pca_dims: for t-SNE / UMAP, first reduce to this many PCA dims (0 disables).
    kwargs: passed to sklearn.manifold.TSNE or umap.UMAP.
    Returns name -> float32 [N_i, 2].
    """
    if not sets:
        raise ValueError("project: sets is empty")
    mats = {name: _as_matrix(x, f"sets[{name!r}]") for name, x in sets.items()}
    widths = {name: m.shape[1] for name, m in mats.items()}
    if len(set(widths.values())) != 1:
        raise ValueError(f"project: all sets need the same width H, got {widths}")
    union = np.concatenate(list(mats.values()))  # [sum N_i, H]
    n = union.shape[0]
    method = method.lower()
    if method == "pca":
        coords = _pca_2d(union)
    elif method == "tsne":
        if n < 4:
            raise ValueError(f"project(method='tsne') needs at least 4 points, got {n}")
        from sklearn.manifold import TSNE

        # Perplexity must stay below N; 30 is the usual default for a few hundred points or more.
        opts = {"perplexity": min(30.0, (n - 1) / 3.0), "init": "pca", "random_state": seed}
        opts.update(kwargs)
        coords = TSNE(n_components=2, **opts).fit_transform(_pca_reduce(union, pca_dims))
    elif method == "umap":
        if n < 4:
            raise ValueError(f"project(method='umap') needs at least 4 points, got {n}")
        import umap  # slow to import (numba), so only when asked for

        # random_state makes UMAP deterministic (it then runs single-threaded).
        opts = {"n_neighbors": min(15, n - 1), "random_state": seed, "n_jobs": 1}
        opts.update(kwargs)
        coords = umap.UMAP(n_components=2, **opts).fit_transform(_pca_reduce(union, pca_dims))
    else:
        raise ValueError(f"project: method must be 'pca', 'tsne' or 'umap', got {method!r}")
    coords = np.asarray(coords, dtype=np.float32)
    out, start = {}, 0
    for name, m in mats.items():
        out[name] = coords[start : start + m.shape[0]]
        start += m.shape[0]
    return out


def project_models(
    models: Mapping[str, Embeddings],
    method: str = "pca",
    seed: int = 0,
    views: Sequence[str] = VIEWS,
    **kwargs: Any,
) -> dict[str, dict[str, np.ndarray]]:
    """Project several models' embeddings onto ONE shared 2-D map (see project()).

    models: e.g. {"before": emb_base, "after": emb_jepa} or {"ntp": ..., "jepa": ...}.
    Returns model -> view -> [N, 2], ready for plots.geometry_figure(out["before"], out["after"]).
    """
    if not models:
        raise ValueError("project_models: no models given")
    sets = {f"{m}/{v}": getattr(emb, v) for m, emb in models.items() for v in views}
    flat = project(sets, method=method, seed=seed, **kwargs)
    return {m: {v: flat[f"{m}/{v}"] for v in views} for m in models}


# ----------------------------------------------------------------------------- paper diagnostics


def svd_spectrum(text: Any, code: Any, center: bool = False, normalize: bool = False) -> np.ndarray:
    """Singular values (descending) of D = Enc(Text) - Enc(Code), D [N, H].

    Paper definition (Sec. 4.2, Table 14): the plain SVD of the raw difference, not centred, so
    center=False by default. If Pred maps Text to Code inside a narrow subspace, D has a few
    dominant directions and small singular values elsewhere.
    center=True removes the mean difference (a constant offset between the views) first;
    normalize=True L2-normalises every embedding first, which makes models with different
    embedding norms comparable (the JEPA cosine loss leaves the norm free).
    Returns float64 [min(N, H)].
    """
    x, y = _as_pair(text, code)
    if normalize:
        x, y = _unit_rows(x), _unit_rows(y)
    diff = x - y  # [N, H]
    if center:
        diff = diff - diff.mean(axis=0, keepdims=True)
    return np.linalg.svd(diff, compute_uv=False)


@dataclass
class LinearMap:
    """Affine map y = x @ weight + bias; weight [H_in, H_out], bias [H_out]."""

    weight: np.ndarray
    bias: np.ndarray

    def __call__(self, x: Any) -> np.ndarray:
        return _as_matrix(x, "x") @ self.weight + self.bias


def linear_map_fit(text_train: Any, code_train: Any, ridge: float = 0.0) -> LinearMap:
    """Least-squares affine map Enc(Text) -> Enc(Code) (the paper's Table 14, plus a bias).

    Fitted on centred data, so the bias is not penalised: bias = mean(Y) - mean(X) @ W.
    ridge > 0 adds ridge * ||W||^2; useful when N_train < H (otherwise lstsq returns the
    minimum-norm solution, which fits the training pairs exactly).
    """
    x, y = _as_matrix(text_train, "text_train"), _as_matrix(code_train, "code_train")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"text_train has {x.shape[0]} rows, code_train {y.shape[0]}; need pairs")
    if ridge < 0:
        raise ValueError(f"ridge must be >= 0, got {ridge}")
    x_mean, y_mean = x.mean(axis=0), y.mean(axis=0)
    xc, yc = x - x_mean, y - y_mean
    if ridge == 0.0:
        weight = np.linalg.lstsq(xc, yc, rcond=None)[0]  # [H_in, H_out]
    else:
        gram = xc.T @ xc + ridge * np.eye(x.shape[1])
        weight = np.linalg.solve(gram, xc.T @ yc)
    return LinearMap(weight=weight, bias=y_mean - x_mean @ weight)


def linear_map_error(
    linear_map: LinearMap, text_test: Any, code_test: Any, centered: bool = False
) -> float:
    """Relative residual ||f(X) - Y||_F / ||Y||_F on held-out pairs (0 = exactly linear).

    centered=True divides by ||Y - mean(Y)||_F instead: the fraction of the spread of the Code
    embeddings the map fails to explain (sqrt(1 - R^2)). Use it when all embeddings share a large
    common offset, which makes ||Y|| big and the plain ratio look small for any map.
    """
    x, y = _as_matrix(text_test, "text_test"), _as_matrix(code_test, "code_test")
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"text_test has {x.shape[0]} rows, code_test {y.shape[0]}; need pairs")
    if x.shape[1] != linear_map.weight.shape[0] or y.shape[1] != linear_map.weight.shape[1]:
        raise ValueError(f"linear map is {linear_map.weight.shape}, test pairs are {x.shape}")
    residual = linear_map(x) - y
    ref = y - y.mean(axis=0, keepdims=True) if centered else y
    return float(np.linalg.norm(residual) / max(np.linalg.norm(ref), _EPS))


def paired_cosine(text: Any, code: Any) -> float:
    """Mean cosine between matched rows: cos(text[i], code[i]) averaged over i."""
    x, y = _as_pair(text, code)
    return float(np.mean(np.sum(_unit_rows(x) * _unit_rows(y), axis=1)))


def derangement(n: int, seed: int = 0) -> np.ndarray:
    """A random permutation with no fixed point (sigma[i] != i for all i), n >= 2."""
    if n < 2:
        raise ValueError(f"a derangement needs n >= 2, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    sigma = np.empty(n, dtype=np.int64)
    sigma[order] = np.roll(order, -1)  # each element goes to the next one in a random cycle
    return sigma


def random_pair_cosine(text: Any, code: Any, seed: int = 0) -> float:
    """Mean cosine between mismatched rows: cos(text[i], code[sigma(i)]), sigma a derangement.

    The baseline for paired_cosine: if matched pairs are no closer than random ones, the high
    cosine says nothing about the pairing (typical of collapse).
    """
    x, y = _as_pair(text, code)
    sigma = derangement(x.shape[0], seed)
    return float(np.mean(np.sum(_unit_rows(x) * _unit_rows(y[sigma]), axis=1)))


def retrieval_accuracy(
    text: Any, code: Any, ks: Sequence[int] = (1, 5), chunk: int = 1024
) -> dict[str, float]:
    """Text-to-Code retrieval: for each text, rank all N codes by cosine; hit@k if its own code
    is among the top k. Returns {"top1": ..., "top5": ...}.

    Ties (e.g. identical or fully collapsed embeddings) are broken at random in expectation: a
    correct code tied with t others at rank g scores P(hit) = clip((k - g) / (t + 1), 0, 1), so a
    collapsed model scores k/N rather than a flattering 1.0.
    """
    x, y = _as_pair(text, code)
    if not ks or any(int(k) < 1 for k in ks):
        raise ValueError(f"ks must be positive integers, got {ks}")
    xu, yu = _unit_rows(x), _unit_rows(y)
    n = x.shape[0]
    hits = {int(k): 0.0 for k in ks}
    for start in range(0, n, chunk):
        sims = xu[start : start + chunk] @ yu.T  # [b, N]
        rows = np.arange(sims.shape[0])
        own = sims[rows, start + rows][:, None]  # [b, 1]
        tol = 1e-12 * np.maximum(1.0, np.abs(own))
        greater = np.sum(sims > own + tol, axis=1)  # [b]
        ties = np.sum(np.abs(sims - own) <= tol, axis=1) - 1  # exclude the correct code itself
        for k in hits:
            hits[k] += float(np.clip((k - greater) / (ties + 1), 0.0, 1.0).sum())
    return {f"top{k}": hits[k] / n for k in hits}


# ----------------------------------------------------------------------------- collapse


def effective_rank(x: Any, center: bool = False) -> float:
    """Roy & Vetterli (2007) effective rank: exp(entropy of the normalised singular values).

    Between 1 (every row on one line) and min(N, H) (all directions used equally). Not centred by
    default: a collapsed set (all rows ~ one vector v) has one dominant singular value -> ~1.
    """
    m = _as_matrix(x, "x")
    if center:
        m = m - m.mean(axis=0, keepdims=True)
    s = np.linalg.svd(m, compute_uv=False)
    total = s.sum()
    if total <= _EPS:
        return 0.0  # all-zero matrix: no direction at all
    p = s / total
    p = p[p > 0]
    return float(math.exp(-np.sum(p * np.log(p))))


def mean_pairwise_cosine(x: Any) -> float:
    """Mean cos(x_i, x_j) over all i != j, in O(N H) via ||sum of unit rows||^2."""
    u = _unit_rows(_as_matrix(x, "x"))
    n = u.shape[0]
    if n < 2:
        raise ValueError(f"mean_pairwise_cosine needs at least 2 rows, got {n}")
    total = np.sum(u.sum(axis=0) ** 2)  # = sum_ij cos_ij, diagonal included
    diag = np.sum(u * u)  # = n for non-zero rows
    return float((total - diag) / (n * (n - 1)))


@dataclass
class CollapseReport:
    """Whether the embeddings look collapsed, why, and the numbers behind the verdict."""

    collapsed: bool
    message: str
    reasons: list[str]
    metrics: dict[str, float]

    def __str__(self) -> str:
        return self.message


def collapse_report(
    text: Any,
    code: Any,
    max_mean_cosine: float = 0.95,
    min_effective_rank: float = 2.0,
    pairing_margin: float = 0.02,
    high_cosine: float = 0.9,
    seed: int = 0,
) -> CollapseReport:
    """Flag representation collapse of Enc(Text) / Enc(Code) with a plain-words message.

    Collapsed if any of:
    - the mean pairwise cosine within Text or within Code exceeds max_mean_cosine (everything
      points the same way);
    - the effective rank of Text or Code is below min_effective_rank (one direction used);
    - matched and random pairs are both above high_cosine and within pairing_margin of each
      other (the JEPA cosine is low for every pair, not because of the pairing).
    """
    x, y = _as_pair(text, code)
    metrics = {
        "mean_cosine_text": mean_pairwise_cosine(x),
        "mean_cosine_code": mean_pairwise_cosine(y),
        "effective_rank_text": effective_rank(x),
        "effective_rank_code": effective_rank(y),
        "paired_cosine": paired_cosine(x, y),
        "random_pair_cosine": random_pair_cosine(x, y, seed),
    }
    reasons = []
    for view in ("text", "code"):
        mc, er = metrics[f"mean_cosine_{view}"], metrics[f"effective_rank_{view}"]
        if mc > max_mean_cosine:
            reasons.append(
                f"{view.capitalize()} embeddings all point the same way "
                f"(mean pairwise cosine {mc:.3f} > {max_mean_cosine})"
            )
        if er < min_effective_rank:
            reasons.append(
                f"{view.capitalize()} embeddings use about one direction "
                f"(effective rank {er:.2f} < {min_effective_rank})"
            )
    pc, rc = metrics["paired_cosine"], metrics["random_pair_cosine"]
    if pc > high_cosine and rc > high_cosine and abs(pc - rc) < pairing_margin:
        reasons.append(
            f"matched pairs are no closer than random pairs (cosine {pc:.3f} vs "
            f"{rc:.3f}): the JEPA loss is low for every pair, not just matching ones"
        )
    if reasons:
        message = (
            "COLLAPSED: " + "; ".join(reasons) + ". A near-zero JEPA loss here does not mean "
            "Text predicts Code; the embeddings carry little information."
        )
    else:
        message = (
            f"Not collapsed: effective rank Text {metrics['effective_rank_text']:.1f} / "
            f"Code {metrics['effective_rank_code']:.1f}, matched cosine {pc:.3f} vs "
            f"random {rc:.3f}."
        )
    return CollapseReport(
        collapsed=bool(reasons), message=message, reasons=reasons, metrics=metrics
    )


# ----------------------------------------------------------------------------- summary


def train_test_split_indices(n: int, test_fraction: float = 0.2, seed: int = 0):
    """Shuffled (train_idx, test_idx), with at least one pair on each side."""
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    if n < 2:
        raise ValueError(f"need at least 2 pairs to split, got {n}")
    order = np.random.default_rng(seed).permutation(n)
    n_test = min(n - 1, max(1, round(n * test_fraction)))
    return np.sort(order[n_test:]), np.sort(order[:n_test])


def geometry_summary(
    emb: Embeddings,
    test_fraction: float = 0.2,
    seed: int = 0,
    ridge: float = 0.0,
    ks: Sequence[int] = (1, 5),
) -> dict[str, Any]:
    """Every diagnostic for one model's embeddings, as a flat dict of floats (plus the spectrum).

    Keys: n, hidden, paired_cosine (Text, Code), pred_paired_cosine (Pred, Code),
    random_pair_cosine, pred_random_pair_cosine, retrieval_top{k} (Text->Code),
    pred_retrieval_top{k} (Pred->Code), linear_map_error / linear_map_error_centered
    (held-out), svd_spectrum (array), svd_top (largest singular value), svd_mean,
    svd_mean_top100 (the paper's "Avg. Top 100 Singular"), effective_rank_{text,pred,code},
    mean_cosine_{text,pred,code}, collapsed, collapse_message.
    """
    x, p, y = (_as_matrix(getattr(emb, v), f"emb.{v}") for v in VIEWS)
    train, test = train_test_split_indices(x.shape[0], test_fraction, seed)
    lin = linear_map_fit(x[train], y[train], ridge=ridge)
    spectrum = svd_spectrum(x, y)
    report = collapse_report(x, y, seed=seed)
    out: dict[str, Any] = {
        "n": int(x.shape[0]),
        "hidden": int(x.shape[1]),
        "paired_cosine": paired_cosine(x, y),
        "pred_paired_cosine": paired_cosine(p, y),
        "random_pair_cosine": random_pair_cosine(x, y, seed),
        "pred_random_pair_cosine": random_pair_cosine(p, y, seed),
        "linear_map_error": linear_map_error(lin, x[test], y[test]),
        "linear_map_error_centered": linear_map_error(lin, x[test], y[test], centered=True),
        "svd_spectrum": spectrum,
        "svd_top": float(spectrum[0]),
        "svd_mean": float(spectrum.mean()),
        "svd_mean_top100": float(spectrum[:100].mean()),  # the paper's Table 14 column
    }
    for k, v in retrieval_accuracy(x, y, ks).items():
        out[f"retrieval_{k}"] = v
    for k, v in retrieval_accuracy(p, y, ks).items():
        out[f"pred_retrieval_{k}"] = v
    for name, m in zip(VIEWS, (x, p, y), strict=True):
        out[f"effective_rank_{name}"] = effective_rank(m)
        out[f"mean_cosine_{name}"] = mean_pairwise_cosine(m)
    out["collapsed"] = report.collapsed
    out["collapse_message"] = report.message
    return out
