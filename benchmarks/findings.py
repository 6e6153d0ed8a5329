"""The "where does LLM-JEPA help?" study's conclusions in words, every number read from its JSON.

``study_findings(study)`` writes the bullets that ``benchmarks/README.md`` prints under "What the
curve shows" and notebook 06 displays. A test checks that the README holds exactly this text for
the committed JSON, so no number in that prose is typed by hand, and a re-run that changes a
number changes the sentence around it (which point is significant, whether a gain shrinks with
the base, whether the random-init grid loses everywhere). A bullet whose points are missing from
the JSON (a study run only in part) is left out.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping
from typing import Any

import numpy as np

from jepa_lab.experiments.confirmation import confirm_point, confirmations
from jepa_lab.experiments.experiment import paired_comparison
from jepa_lab.experiments.study import entries, holm_by_point

WIDTH = 99  # the README's line length
# a pooled gain below this (in held-out accuracy) is called "small": three points of accuracy
# is well inside the seed spread of every point here
SMALL_GAIN = 0.03


def _signed(value: float) -> str:
    rounded = round(value, 3)
    return f"{rounded + 0.0 if rounded else 0.0:+.3f}"  # never "-0.000"


def _d(e: Mapping[str, Any]) -> str:
    return _signed(e["diff_mean"])


def _p(p: float | None) -> str:
    return "n/a" if p is None or math.isnan(p) else f"{p:.2g}"


def _point(e: Mapping[str, Any], name: str) -> str:
    n = e["n_seeds"]
    return f"{name} {_d(e)} (p = {_p(e['p_value'])}, {n} seed{'s' if n > 1 else ''})"


def _wins(e: Mapping[str, Any]) -> int:
    pairs = zip(e["ntp_per_seed"], e["jepa_per_seed"], strict=True)
    return sum(j["final"] > n["final"] for n, j in pairs)


def _rise(e: Mapping[str, Any]) -> str:
    return f"{e['ntp_loss_rise_mean']:.3f} vs {e['jepa_loss_rise_mean']:.3f}"


def _seeds(seeds: list[int]) -> str:
    s = sorted(seeds)
    return (
        f"{s[0]}-{s[-1]}"
        if s == list(range(s[0], s[-1] + 1)) and len(s) > 2
        else (", ".join(map(str, s)))
    )


def _fresh(c: Mapping[str, Any], measure: str = "accuracy") -> str:
    """The confirmation's figures and the pooled estimate, in one clause."""
    f = c[measure]
    fresh, pooled = f["confirm"], f["pooled"]
    interval = (
        ""
        if math.isnan(pooled["ci_low"])
        else f", 95% CI {_signed(pooled['ci_low'])} to {_signed(pooled['ci_high'])}"
    )
    return (
        f"{_signed(fresh['mean'])} (p = {_p(fresh['p_value'])}) on {fresh['n']} fresh "
        f"seed{'s' if fresh['n'] != 1 else ''} "
        f"({_seeds(c['confirm_seeds'])}); pooled over all {pooled['n']} seeds "
        f"{_signed(pooled['mean'])}{interval}"
    )


# the parts whose points are claims of their own (the base part's points make one trend, which
# its own bullet judges); a fresh point with fewer seeds than this cannot confirm a trend
CLAIM_PARTS = ("overfit", "grid")
MIN_FRESH_SEEDS = 3


def _claims(study: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any], str]]:
    """(label, confirmation, measure) for every claim the study tested on fresh seeds: a point
    significant on its screen (its accuracy gain, and claim II where its loss rise was
    significant too), and the grid's pick."""
    claims = []
    for key, c in confirmations(study).items():
        part, name = key.split("/", 1)
        if part not in CLAIM_PARTS or "accuracy" not in c:
            continue
        if part == "grid" or c["accuracy"]["screen"]["p_value"] < 0.05:
            claims.append((f"`{name}`'s held-out accuracy gain", c, "accuracy"))
        rise = c.get("loss_rise")
        if rise and rise["screen"]["p_value"] < 0.05:
            claims.append((f"`{name}`'s smaller held-out loss rise (claim II)", c, "loss_rise"))
    return claims


def _lead(study: Mapping[str, Any]) -> list[str]:
    """The study's verdict, from the confirmations alone: which claims survive fresh seeds."""
    claims = _claims(study)
    if not claims:
        return []
    held = [label for label, c, m in claims if c[m]["holds"]]
    failed = [label for label, c, m in claims if not c[m]["holds"]]
    each = "; ".join(
        f"{label}: {_signed(c[m]['screen']['mean'])} (p = {_p(c[m]['screen']['p_value'])}) on "
        f"the seeds that chose it ({_seeds(c['screen_seeds'])}), then {_fresh(c, m)}"
        for label, c, m in claims
    )
    gains = [c["accuracy"] for label, c, m in claims if m == "accuracy"]
    if held:
        head = (
            f"On fresh seeds, {len(held)} of the {len(claims)} claims hold: {', '.join(held)}"
            + (
                f"; {', '.join(failed)} do{'es' if len(failed) == 1 else ''} not."
                if failed
                else "."
            )
        )
        kept = [c[m] for label, c, m in claims if c[m]["holds"] and m == "accuracy"]
        tail = (
            " What survives is small, under 3 points of held-out accuracy pooled, from a base "
            "whose embeddings collapse, so it is not Text predicting Code; the GPU points are "
            "where a larger effect would show."
            if kept and all(abs(f["pooled"]["mean"]) < SMALL_GAIN for f in kept)
            else ""
        )
    else:
        consistent = all(f["same_direction"] and f["confirm"]["mean"] > 0 for f in gains)
        small = all(abs(f["pooled"]["mean"]) < SMALL_GAIN for f in gains)
        head = (
            "No CPU-scale setting shows a gain that survives fresh seeds"
            + ("; the direction is consistent" if gains and consistent else "")
            + (" and small" if gains and consistent and small else "")
            + "."
        )
        tail = (
            " This is why the GPU points matter: at 2 CPU cores' sizes the effect, if any, is "
            "smaller than the seed spread."
        )
    return [
        f"**{head}** Each claim was trained again on seeds its choice never saw, and the verdict "
        f"is the fresh seeds' alone (one-sided paired t-test, p < 0.05): {each}.{tail}"
    ]


def _favourable(overfit: Mapping[str, Any], confirm: Mapping[str, Any] | None = None) -> list[str]:
    best = overfit["overfit-250-base"]
    holm = holm_by_point(overfit)["overfit-250-base"]
    significant = best["p_value"] < 0.05 and best["n_seeds"] >= 5
    n = len(entries(overfit))
    n_points = f"{n} point{'s' if n != 1 else ''}"
    raw = confirm.get("overfit-250-base") if confirm else None
    fresh = confirm_point(best, raw) if raw else None
    if fresh is not None:
        head = (
            "The screen's one significant point, 250 pairs fine-tuned from the pretrained tiny "
            "base, "
            + ("holds on fresh seeds." if fresh["accuracy"]["holds"] else "does not replicate.")
            if significant
            else "No regime clears p < 0.05 on its screen; the closest is 250 pairs fine-tuned "
            "from the pretrained tiny base."
        )
    else:  # a screen alone is not a finding yet
        head = (
            "On its screen seeds one regime is significantly above NTP (not yet confirmed on "
            "fresh seeds): 250 pairs fine-tuned from the pretrained tiny base."
            if significant
            else "No regime clears p < 0.05 over 5 seeds; the closest is 250 pairs fine-tuned "
            "from the pretrained tiny base."
        )
    text = (
        f"**{head}** `overfit-250-base` gains {_d(best)} held-out accuracy with "
        f"p = {_p(best['p_value'])} over seeds {_seeds(best['seeds'])} (JEPA ahead in "
        f"{_wins(best)} of {best['n_seeds']})."
    )
    if significant:
        text += (
            " That clears the bar this study set in advance (p < 0.05 over at least 5 seeds)"
            + (
                f", but not a correction for testing the overfit table's {n_points} at once: "
                f"Holm's adjusted p is {_p(holm)}."
                if holm >= 0.05
                else f", and Holm's correction over the overfit table's {n_points} as well "
                f"(adjusted p = {_p(holm)})."
            )
        )
    if fresh is not None:
        text += (
            " The point and its measure were chosen on those seeds, so their p is optimistic "
            f"(the winner's curse). Trained again unchanged, it gives {_fresh(fresh)}."
        )
    bullets = [text]
    more = [
        _point(overfit[f"overfit-{n}-base"], f"{n:,} pairs")
        for n in (500, 1000)
        if f"overfit-{n}-base" in overfit
    ]
    rand = [
        _point(overfit[f"overfit-{n}-random"], f"{n:,} pairs")
        for n in (250, 500, 1000)
        if f"overfit-{n}-random" in overfit
    ]
    if more or rand:
        bullets.append(
            "**The gain is confined to that corner.**"
            + (f" With more data from the same base: {'; '.join(more)}." if more else "")
            + (f" From random init: {'; '.join(rand)}." if rand else "")
        )
    return bullets


def _shrinks(part: Mapping[str, Any], sizes: list[str]) -> bool:
    gains = [part[s]["diff_mean"] for s in sizes]
    return all(a > b for a, b in zip(gains, gains[1:], strict=False))


def _bases(base: Mapping[str, Any], confirm: Mapping[str, Any] | None = None) -> list[str]:
    sizes = [s for s in ("tiny", "mini", "small") if s in base]
    if len(sizes) < 2:
        return []
    fresh_sizes = [s for s in sizes if confirm and s in confirm]
    shrinks = _shrinks(base, sizes)
    points = [_point(base[s], f"the {s} base ({base[s]['params'] / 1e6:.2g}M)") for s in sizes]
    text = f"At 250 pairs: {'; '.join(points)}."
    if len(fresh_sizes) >= 2:  # the trend must show on fresh seeds too
        few = [s for s in fresh_sizes if confirm[s]["n_seeds"] < MIN_FRESH_SEEDS]
        fresh_shrinks = _shrinks(confirm, fresh_sizes) and not few
        text += (
            " On fresh seeds: "
            + "; ".join(_point(confirm[s], f"the {s} base") for s in fresh_sizes)
            + (
                f"; too few fresh seeds for the {' and '.join(few)} base to confirm the trend."
                if few
                else ", so the trend replicates."
                if shrinks and fresh_shrinks
                else ", so the trend does not replicate."
                if shrinks
                else "."
            )
        )
        shrinks = shrinks and fresh_shrinks
    return [
        f"**A larger base does not make the gain larger{'; it shrinks' if shrinks else ''}.** "
        f"{text} The bases share one pretraining corpus, so the "
        "larger ones see fewer tokens per parameter; a stronger corpus might change this."
    ]


def _claim_two(
    overfit: Mapping[str, Any], base: Mapping[str, Any], study: Mapping[str, Any] | None = None
) -> list[str]:
    with_loss = {s: e for s, e in base.items() if isinstance(e, dict) and "loss_rise_p_value" in e}
    if not with_loss:
        return []
    rises = [
        f"{_rise(e)} from the {s} base (p = {_p(e['loss_rise_p_value'])}, {e['n_seeds']} seeds)"
        for s, e in with_loss.items()
    ]
    drops = [
        e[f"{arm}_drop_mean"]
        for part in (overfit, base)
        for e in entries(part).values()
        for arm in ("ntp", "jepa")
    ]
    fresh = {
        k.split("/")[1]: c
        for k, c in confirmations(study or {}).items()
        if k.startswith(("overfit/", "base/")) and "loss_rise" in c
    }
    held = [k for k, c in fresh.items() if c["loss_rise"]["holds"]]
    failed = [k for k in fresh if k not in held]
    if not fresh:
        head = "On the screen seeds, claim II shows on the held-out loss, not on accuracy."
    elif held:
        head = (
            "Claim II shows on the held-out loss, not on accuracy; on fresh seeds it holds for "
            + ", ".join(f"`{k}`" for k in held)
            + (f" and not for {', '.join(f'`{k}`' for k in failed)}." if failed else ".")
        )
    else:
        head = "Claim II on the held-out loss: the screen's effect does not hold on fresh seeds."
    text = (
        f"**{head}** Neither arm's accuracy falls "
        f"much after its peak (the mean drop from peak to last epoch is at most {max(drops):.3f}"
        " in these tables), but from a base the held-out NTP loss overfits, and less with the "
        "JEPA term. Its rise from the best epoch to the last, NTP vs JEPA, at 250 pairs: "
        f"{'; '.join(rises)}."
    )
    calm = [
        f"{label} ({_rise(overfit[name])})"
        for name, label in (
            ("overfit-250-random", "random init"),
            ("overfit-500-base", "500 pairs"),
        )
        if name in overfit and "ntp_loss_rise_mean" in overfit[name]
    ]
    if calm:
        text += f" From {' and with '.join(calm)} there is little overfitting to resist."
    for name, c in fresh.items():
        text += (
            f" `{name}` on fresh seeds, NTP's rise minus JEPA's: {_fresh(c, 'loss_rise')} ("
            + ("holds" if c["loss_rise"]["holds"] else "not confirmed")
            + ")."
        )
    return [text]


def _scale(scale: Mapping[str, Any]) -> list[str]:
    points = entries(scale)
    if not points:
        return []
    any_gain = any(e["p_value"] < 0.05 and e["n_seeds"] >= 5 for e in points.values())
    ranks = [e["eff_rank_pred"] for e in points.values() if e.get("eff_rank_pred") is not None]
    largest = max(points.values(), key=lambda e: e["params"])
    head = (
        "a gain appears"
        if any_gain
        else "no gain beyond the seed spread at the sizes 2 cores reach"
    )
    text = (
        f"**Scale, from scratch on the full split: {head}.** "
        + "; ".join(_point(e, name) for name, e in points.items())
        + "."
    )
    if ranks and largest.get("paired_cos") is not None:
        text += (
            f" Collapse does not shrink with size: at {largest['params'] / 1e6:.1f}M parameters "
            f"matched and random cosine are {largest['paired_cos']:.3f} and "
            f"{largest['random_cos']:.3f}, and Pred's effective rank stays at "
            f"{min(ranks):.1f}-{max(ranks):.1f} across sizes."
        )
    return [text]


def _not_alignment(overfit: Mapping[str, Any], grid: Mapping[str, Any]) -> list[str]:
    e = overfit["overfit-250-base"]
    if e.get("paired_cos") is None:
        return []
    text = (
        "**The gain is not Text predicting Code.** Even where JEPA helps, its embeddings "
        f"collapse: matched and random pairs have the same cosine ({e['paired_cos']:.3f} vs "
        f"{e['random_cos']:.3f}) and Pred's effective rank is {e['eff_rank_pred']:.1f}. The "
        "`1 - cos` term acts on the last hidden states as a regulariser, not as the alignment the "
        "paper's geometry figures show."
    )
    infonce = {k: v for k, v in entries(grid).items() if k.startswith("infonce-")}
    if infonce:
        first = next(iter(infonce.values()))
        text += (
            f" InfoNCE keeps matched pairs apart from random ones (cosine "
            f"{first['paired_cos']:.2f} vs {first['random_cos']:.2f}, rank "
            f"{first['eff_rank_pred']:.0f}) and scores: "
            + "; ".join(_point(v, f"lam {k.split('lam')[1]}") for k, v in infonce.items())
            + "."
        )
    return [text]


def _grid(grid: Mapping[str, Any], grid_random: Mapping[str, Any]) -> list[str]:
    points = entries(grid)
    pairs = {k: v for k, v in points.items() if k.startswith("lam")}
    if not pairs:
        return []
    holm = holm_by_point(grid)
    seeds = sorted({v["n_seeds"] for v in pairs.values()})
    diffs = sorted(v["diff_mean"] for v in pairs.values())
    raw = sorted((k for k, v in pairs.items() if v["p_value"] < 0.05), key=lambda k: holm[k])
    kept = [k for k in raw if holm[k] < 0.05]
    listed = ", ".join(f"`{k}` {_d(pairs[k])} (p = {_p(pairs[k]['p_value'])})" for k in raw)
    text = (
        f"**The paper's grid at `{grid.get('point', '?')}`, {'/'.join(map(str, seeds))} "
        f"seed{'s' if max(seeds) > 1 else ''} per pair**, each pair against the NTP runs of the "
        f"same seeds: {sum(d > 0 for d in diffs)} of {len(pairs)} (lam, k) pairs have a positive "
        f"mean difference ({_signed(diffs[0])} to {_signed(diffs[-1])})."
    )
    if max(seeds) < 2:
        text += " With one seed per pair this is a screen, not a test."
    else:
        text += (
            f" At p < 0.05 unadjusted: {listed or 'none'}; after Holm's adjustment over the "
            f"table's {len(points)} points, "
            + (
                ", ".join(f"`{k}`" for k in kept) + (" remain" if len(kept) > 1 else " remains")
                if kept
                else "none remains"
            )
            + "."
        )
    ks = sorted({int(k.split("-k")[1]) for k in pairs})
    lams = sorted({float(k[3:].split("-")[0]) for k in pairs})
    if len(ks) > 1 and len(lams) > 1:

        def mean(sel):
            return float(np.mean([v["diff_mean"] for k, v in pairs.items() if sel(k)]))

        by_k = [mean(lambda k, kk=kk: k.endswith(f"-k{kk}")) for kk in ks]
        by_lam = [mean(lambda k, lam=lam: k.startswith(f"lam{lam:g}-")) for lam in lams]
        text += (
            f" Averaged over lam, k = {' / '.join(map(str, ks))} give "
            f"{' / '.join(map(_signed, by_k))}; averaged over k, lam "
            f"{' / '.join(f'{lam:g}' for lam in lams)} give "
            f"{' / '.join(map(_signed, by_lam))}."
        )
    first_seed = {
        k: v["jepa_per_seed"][0]["final"] - v["ntp_per_seed"][0]["final"]
        for k, v in pairs.items()
        if v["seeds"][0] == 0
    }
    top = max(first_seed, key=first_seed.get) if first_seed else None
    if top is not None and pairs[top]["n_seeds"] > 1:
        leader = max(pairs, key=lambda k: pairs[k]["diff_mean"])
        shrank = pairs[top]["diff_mean"] < first_seed[top] - 0.01
        text += (
            f" Seed 0 alone ranked `{top}` first ({_signed(first_seed[top])}); over "
            f"{pairs[top]['n_seeds']} seeds it gives {_d(pairs[top])} (p = "
            f"{_p(pairs[top]['p_value'])})"
            + (" and stays first" if leader == top else f" and `{leader}` is first")
            + ("; one seed overstated it." if shrank else ".")
        )
    rand = [v["diff_mean"] for k, v in entries(grid_random).items() if k.startswith("lam")]
    if rand:
        lose = sum(d < 0 for d in rand)
        verdict = (
            f"every one of the {len(rand)} pairs tried loses"
            if lose == len(rand)
            else f"{lose} of the {len(rand)} pairs tried lose"
        )
        text += (
            f" From random init (`{grid_random.get('point', '?')}`) {verdict} "
            f"({_signed(min(rand))} to {_signed(max(rand))})."
        )
    dropouts = [(k, v) for k, v in points.items() if k.startswith("ld")]
    if dropouts:
        text += (
            " Loss dropout: "
            + "; ".join(
                f"LD {k[2:]} {_d(v)} (p = {_p(v['p_value'])}) at {v['tokens_ratio']:.2f}x "
                "the NTP tokens"
                for k, v in dropouts
            )
            + "."
        )
    return [text]


def _means(rates: Mapping[float, Any], order: list[float], key: str) -> str:
    return " / ".join(f"{rates[f][key]:.3f}" for f in order)


def _rates(grid: Mapping[str, Any]) -> list[str]:
    """Both arms at other learning rates: is the gain NTP's rate being off?"""
    points = entries(grid)
    rates = {float(k[2:-1]): v for k, v in points.items() if k.startswith("lr") and k[-1] == "x"}
    if not rates or "lam1-k1" not in points:
        return []
    rates[1.0] = points["lam1-k1"]
    order = sorted(rates)
    ntp_best = max(order, key=lambda f: rates[f]["ntp_mean"])
    jepa_best = max(order, key=lambda f: rates[f]["jepa_mean"])
    ntp_at, jepa_at = rates[ntp_best], rates[jepa_best]
    seeds = sorted(set(ntp_at["seeds"]) & set(jepa_at["seeds"]))
    ntp_final = {s["seed"]: s["final"] for s in ntp_at["ntp_per_seed"]}
    jepa_final = {s["seed"]: s["final"] for s in jepa_at["jepa_per_seed"]}
    tuned = paired_comparison(
        [ntp_final[s] for s in seeds], [jepa_final[s] for s in seeds], seeds, "final accuracy"
    )
    holds = tuned.p_value < 0.05
    return [
        f"**Against NTP at its own best learning rate, the default pair's gain "
        f"{'holds' if holds else 'does not hold'}.** Both arms ran at "
        f"{' / '.join(f'{f:g}' for f in order)}x the preset's rate (lam = 1, k = 1; "
        f"{min(r['n_seeds'] for r in rates.values())}+ seeds each). Final accuracy, NTP: "
        f"{_means(rates, order, 'ntp_mean')}; JEPA: {_means(rates, order, 'jepa_mean')}. "
        f"NTP is best at "
        f"{ntp_best:g}x ({ntp_at['ntp_mean']:.3f}), JEPA at {jepa_best:g}x "
        f"({jepa_at['jepa_mean']:.3f}); JEPA at its best rate minus NTP at its best, paired by "
        f"seed: {_signed(tuned.diff_mean)} (p = {_p(tuned.p_value)}, {len(seeds)} seeds). "
        + (
            "The gain at the preset's rate is not NTP's rate being off."
            if holds
            else "Most of the gain at the preset's rate is NTP's rate being off: a tuned NTP "
            "baseline closes it."
        )
    ]


def _confirmation(grid: Mapping[str, Any], confirm: Mapping[str, Any]) -> list[str]:
    """The grid's pick tested again on seeds the pick never saw (a selected maximum's own p is
    optimistic: with twenty pairs one looks good by luck)."""
    pairs = {k: v for k, v in entries(grid).items() if k.startswith("lam")}
    factor = confirm.get("ntp_lr_factor", 1.0)
    against = "NTP at the preset's rate" if factor == 1.0 else f"NTP at {factor:g}x the rate"
    bullets = []
    for name, fresh in entries(confirm).items():
        if name not in pairs:
            continue
        picked = pairs[name]
        best = max(pairs, key=lambda k: pairs[k]["diff_mean"]) == name
        holds = fresh["p_value"] < 0.05
        verdict = (
            "the gain holds"
            if holds
            else "the gain is smaller and not significant"
            if fresh["diff_mean"] < picked["diff_mean"]
            else "the gain is not significant"
        )
        bullets.append(
            f"**The grid's {'best' if best else 'chosen'} pair on fresh seeds, against {against}: "
            f"{verdict}.** `{name}` "
            f"{'had the highest mean gain' if best else 'gave'} over seeds "
            f"{', '.join(map(str, picked['seeds']))} ({_d(picked)}, p = "
            f"{_p(picked['p_value'])}). Picked that way, its own p is optimistic, so it ran again "
            f"on seeds {', '.join(map(str, fresh['seeds']))}, which the pick never saw: "
            f"{_d(fresh)} (p = {_p(fresh['p_value'])}; NTP {fresh['ntp_mean']:.3f}, JEPA "
            f"{fresh['jepa_mean']:.3f}, JEPA ahead in {_wins(fresh)} of {fresh['n_seeds']})."
        )
    return bullets


def _wrap(text: str, bullet: bool) -> str:
    return textwrap.fill(
        " ".join(text.split()),
        WIDTH,
        initial_indent="* " if bullet else "",
        subsequent_indent="  " if bullet else "",
        break_on_hyphens=False,
        break_long_words=False,
    )


def study_verdict(study: Mapping[str, Any]) -> str:
    """The study's verdict from its confirmations alone, as a short paragraph (the README's):
    the lead's head, each claim's fresh p and pooled interval, the lead's closing words."""
    lead = _lead(study)
    if not lead:
        return ""
    head = lead[0].split("** ", 1)[0] + "**"
    figures = "; ".join(
        f"{label} {_signed(c[m]['pooled']['mean'])} [{_signed(c[m]['pooled']['ci_low'])}, "
        f"{_signed(c[m]['pooled']['ci_high'])}] (fresh p = {_p(c[m]['confirm']['p_value'])})"
        for label, c, m in _claims(study)
    )
    tail = lead[0].split("What survives", 1)[1] if "What survives" in lead[0] else ""
    text = f"{head} Pooled over all seeds, with 95% intervals: {figures}."
    if tail:
        text += " What survives" + tail
    return _wrap(text, bullet=False)


def study_findings(study: Mapping[str, Any]) -> str:
    """The study's conclusions as markdown bullets (README width), from its JSON alone."""
    overfit, base = study.get("overfit", {}), study.get("base", {})
    grid = study.get("grid", {})
    bullets: list[str] = _lead(study)
    if "overfit-250-base" in overfit:
        bullets += _favourable(overfit, study.get("overfit_confirm"))
    bullets += _bases(base, study.get("base_confirm"))
    bullets += _claim_two(overfit, base, study)
    bullets += _scale(study.get("scale", {}))
    if "overfit-250-base" in overfit:
        bullets += _not_alignment(overfit, grid)
    bullets += _grid(grid, study.get("grid_random", {}))
    bullets += _rates(grid)
    for part in ("grid_confirm", "grid_confirm_tuned"):
        bullets += _confirmation(grid, study.get(part, {}))
    return "\n".join(_wrap(b, bullet=True) for b in bullets)
