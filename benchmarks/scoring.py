"""Benchmark: score 2000 NL-RX (gold, candidate) regex pairs by DFA equivalence, cold cache.

    python benchmarks/scoring.py [--n 2000] [--json PATH]

Gold regexes come from the LLM-JEPA NL-RX test split in ../shared/data (or
$JEPA_LAB_SHARED_DATA); candidates are seeded perturbations of each gold of the kinds a model
gets wrong or rewrites (identical, extra parentheses, `.*` doubled, class swapped, character
deleted, truncated, double complement, ...). Without the split, the pairs of the dk.brics
equivalence-vector file are used; without either, perturbations of built-in NL-RX-style regexes.
Also prints the agreement with dk.brics on the vector file when present, quiet and again while
two CPU-burning processes run (the budget counts work, so it must not move); how many golds of the
real split compile within the work budget and the costliest one's units; the CPU time of the
worst accepted candidate and of the largest rejected ones; how often the wall-clock ceiling fired.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import multiprocessing
import os
import random
import time
from pathlib import Path

from jepa_lab.scoring import compare_regex, regex_dfa

SHARED = Path(
    os.environ.get("JEPA_LAB_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
NLRX_TEST = SHARED / "nl-rx" / "llm-jepa-split" / "synth_test.jsonl"
NLRX_TRAIN = SHARED / "nl-rx" / "llm-jepa-split" / "synth_train.jsonl"
VECTORS = SHARED / "nl-rx" / "equivalence_vectors.tsv"
BUILTIN_GOLDS = [
    r".*([AEIOUaeiou]).*(dog).*",
    r"\b([0-9])&([A-Z])\b",
    r"(.*[a-z])*",
    r"~(.*ring.*lake.*)",
    r"((truck)|(.)).*",
    r"([A-Z].*[0-9].*)&(~(dog))",
    r"~(([a-z])|([A-Z])|(dog))",
    r"(\b([AEIOUaeiou])&([a-z])\b)*",
    r"((.*)(.)).*(dog).*",
    r"(.*[0-9].*dog.*){3,}",
]
CLASSES = ["[A-Z]", "[a-z]", "[0-9]", "[AEIOUaeiou]", "[A-Za-z]", "."]


def perturb(gold: str, rng: random.Random) -> str:
    """One candidate for `gold`: a rewrite that keeps the language or an edit that may not."""
    kind = rng.randrange(9)
    if kind == 0:
        return gold
    if kind == 1:
        return f"({gold})"
    if kind == 2 and ".*" in gold:
        return gold.replace(".*", ".*.*", 1)
    if kind == 3:
        present = [c for c in CLASSES if c in gold and c != "."]
        if present:
            return gold.replace(rng.choice(present), rng.choice(CLASSES), 1)
    if kind == 4 and len(gold) > 1:
        cut = rng.randrange(len(gold))
        return gold[:cut] + gold[cut + 1 :]
    if kind == 5:
        return gold[: rng.randrange(1, len(gold) + 1)]
    if kind == 6:
        return f"~(~({gold}))"
    if kind == 7:
        return f"({gold})&({gold})"
    return f"({gold})+"


# Hostile candidates: each must be rejected (or answered) well within a second of CPU.
PATHOLOGICAL = [
    "a{999}",
    "(.{999}){999}",
    ".*a.{30}",
    "(" * 100 + "a" + ")" * 100,
    "a" * 1000,
    "([a-z]{1,1000}){1,1000}",
    "<1-999>{100}",
    "((dog)|(truck.*ring.*)){60,}",
    "(((a|b)*c){1000}){3}",
    "(a|b|c|d|e|f|g|h|i|j|k|l|m|n|o|p){1000}",
    "([AEIOUaeiou][0-9][A-Z][a-z]){200}",
    "~(.*a.{11})",
    "a" * 100_000,
    "a" * 1_000_000,
]


def read_golds(path: Path) -> list[str]:
    golds = []
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            messages = json.loads(line)["messages"]
            golds.append(next(m["content"] for m in messages if m["role"] == "assistant"))
    return golds


def load_pairs(n: int) -> tuple[list[tuple[str, str]], str]:
    rng = random.Random(0)
    if NLRX_TEST.is_file():
        golds = read_golds(NLRX_TEST)
        golds = (golds * (n // len(golds) + 1))[:n]
        return [(g, perturb(g, rng)) for g in golds], f"{NLRX_TEST} golds, perturbed candidates"
    if VECTORS.is_file():
        rows = read_vectors()
        return [(r["gold"], r["candidate"]) for r in (rows * (n // len(rows) + 1))[:n]], str(
            VECTORS
        )
    golds = [BUILTIN_GOLDS[i % len(BUILTIN_GOLDS)] for i in range(n)]
    return [(g, perturb(g, rng)) for g in golds], "built-in golds, perturbed candidates"


def read_vectors() -> list[dict[str, str]]:
    with VECTORS.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle, delimiter="\t", quoting=csv.QUOTE_NONE))


def _burn(stop_at: float) -> None:
    x = 0
    while time.time() < stop_at:
        x = (x * 31 + 7) % 1_000_003


def vector_agreement(rows: list[dict[str, str]]) -> tuple[float, float]:
    """(agreement with dk.brics, seconds), cold cache."""
    regex_dfa.clear_caches()
    start = time.perf_counter()
    agree = sum(compare_regex(r["gold"], r["candidate"]).code == r["verdict"] for r in rows)
    return agree / len(rows), time.perf_counter() - start


def agreement_under_load(rows: list[dict[str, str]]) -> tuple[float, float]:
    context = multiprocessing.get_context("spawn")
    burners = [context.Process(target=_burn, args=(time.time() + 600,)) for _ in range(2)]
    for burner in burners:
        burner.start()
    try:
        return vector_agreement(rows)
    finally:
        for burner in burners:
            burner.terminate()
            burner.join()


def golds_within_budget() -> tuple[int, int, int, str]:
    """(golds of the real split, how many compile within the budget, costliest units, which)."""
    golds = sorted({g for path in (NLRX_TRAIN, NLRX_TEST) for g in read_golds(path)})
    regex_dfa.clear_caches()
    fit, costliest, which = 0, 0, ""
    for gold in golds:
        try:
            work = regex_dfa.compile_regex(gold).work
        except regex_dfa.RegexBoundError:
            continue
        fit += 1
        if work > costliest:
            costliest, which = work, gold
    return len(golds), fit, costliest, which


def cpu_extremes(pairs: list[tuple[str, str]]) -> dict:
    """CPU seconds of the slowest accepted candidate (scored 1 or 0 on its language) among the
    pairs and PATHOLOGICAL, and of the slowest and the largest rejected ones, cold cache."""
    worst_accepted = (0.0, "")
    for gold, candidate in pairs:
        regex_dfa.clear_caches()
        compare_regex(gold, gold + " ")  # parses the gold: time the candidate's side only
        with contextlib.suppress(ValueError):
            regex_dfa.compile_regex(gold)
        start = time.process_time()
        verdict = compare_regex(gold, candidate)
        cpu = time.process_time() - start
        if verdict.kind in ("equivalent", "not_equivalent") and cpu > worst_accepted[0]:
            worst_accepted = (cpu, candidate)
    rejected = []
    for candidate in PATHOLOGICAL:
        regex_dfa.clear_caches()
        start = time.process_time()
        verdict = compare_regex(".*", candidate)
        cpu = time.process_time() - start
        if verdict.kind in ("equivalent", "not_equivalent"):
            worst_accepted = max(worst_accepted, (cpu, candidate))
        else:
            rejected.append((cpu, len(candidate), candidate[:40], verdict.kind, verdict.reason))
    slowest = max(rejected)
    largest = max(rejected, key=lambda r: r[1])
    return {
        "worst_accepted_cpu_s": worst_accepted[0],
        "worst_accepted": worst_accepted[1],
        "slowest_rejected_cpu_s": slowest[0],
        "slowest_rejected": slowest[2],
        "slowest_rejected_reason": slowest[4],
        "largest_rejected_cpu_s": largest[0],
        "largest_rejected_chars": largest[1],
        "largest_rejected_reason": largest[4],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="pairs to score")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()
    figures: dict = {
        "work_budget": regex_dfa.WORK_BUDGET,
        "max_regex_chars": regex_dfa.MAX_REGEX_CHARS,
    }

    pairs, source = load_pairs(args.n)
    regex_dfa.clear_caches()
    start = time.perf_counter()
    verdicts = [compare_regex(g, c) for g, c in pairs]
    figures["seconds_2000"] = seconds = time.perf_counter() - start
    kinds = {k: sum(v.kind == k for v in verdicts) for k in sorted({v.kind for v in verdicts})}
    print(f"pairs: {len(pairs)} from {source}")
    print(f"seconds for {len(pairs)} pairs (cold cache): {seconds:.2f}  verdicts: {kinds}")

    figures["agreement"] = figures["agreement_under_load"] = None
    if VECTORS.is_file():
        rows = read_vectors()
        agreement, quiet_s = vector_agreement(rows)
        loaded, loaded_s = agreement_under_load(rows)
        figures.update(agreement=agreement, agreement_under_load=loaded)
        print(
            f"agreement with dk.brics on {len(rows)} vectors: {agreement:.4%} "
            f"({quiet_s:.2f}s cold); with two CPU-burning processes: {loaded:.4%} "
            f"({loaded_s:.2f}s)"
        )
    else:
        print(f"agreement: skipped, {VECTORS} absent")

    figures["golds"] = figures["golds_within_budget"] = None
    if NLRX_TEST.is_file() and NLRX_TRAIN.is_file():
        total, fit, costliest, which = golds_within_budget()
        figures.update(
            golds=total,
            golds_within_budget=fit,
            costliest_gold_units=costliest,
            costliest_gold=which,
        )
        print(
            f"golds of the real split compiling within the budget of "
            f"{regex_dfa.WORK_BUDGET:,} units: {fit} of {total}; costliest {which!r} "
            f"{costliest:,} units"
        )
    else:
        print(f"golds within budget: skipped, {NLRX_TRAIN} or {NLRX_TEST} absent")

    extremes = cpu_extremes(pairs)
    figures.update(extremes)
    print(
        f"CPU of the worst accepted candidate: {extremes['worst_accepted_cpu_s']:.3f}s "
        f"({extremes['worst_accepted'][:50]!r})"
    )
    print(
        f"CPU of the slowest rejected candidate: {extremes['slowest_rejected_cpu_s']:.3f}s "
        f"({extremes['slowest_rejected']!r}: {extremes['slowest_rejected_reason']})"
    )
    print(
        f"CPU of the largest rejected candidate ({extremes['largest_rejected_chars']:,} chars):"
        f" {extremes['largest_rejected_cpu_s']:.4f}s ({extremes['largest_rejected_reason']})"
    )
    figures["ceiling_fired"] = regex_dfa.COUNTERS["ceiling_fired"]
    print(
        f"wall-clock ceiling ({regex_dfa.WALL_CLOCK_CEILING_S:g}s) fired: "
        f"{figures['ceiling_fired']} times"
    )

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps(figures, indent=2))
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
