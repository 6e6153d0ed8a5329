"""Benchmark: score 2000 NL-RX (gold, candidate) regex pairs by DFA equivalence, cold cache.

    python benchmarks/scoring.py [--n 2000] [--json PATH]

Gold regexes come from the LLM-JEPA NL-RX test split in ../shared/data (or
$JEPA_LAB_SHARED_DATA); candidates are seeded perturbations of each gold of the kinds a model
gets wrong or rewrites (identical, extra parentheses, `.*` doubled, class swapped, character
deleted, truncated, double complement, ...). Without the split, the pairs of the dk.brics
equivalence-vector file are used; without either, perturbations of built-in NL-RX-style regexes.
Also prints the agreement with dk.brics on the vector file when present.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import time
from pathlib import Path

from jepa_lab import regex_dfa
from jepa_lab.scoring import compare_regex

SHARED = Path(
    os.environ.get("JEPA_LAB_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
NLRX_TEST = SHARED / "nl-rx" / "llm-jepa-split" / "synth_test.jsonl"
VECTORS = SHARED / "nl-rx" / "equivalence_vectors.tsv"
BUILTIN_GOLDS = [
    r".*([AEIOUaeiou]).*(dog).*", r"\b([0-9])&([A-Z])\b", r"(.*[a-z])*", r"~(.*ring.*lake.*)",
    r"((truck)|(.)).*", r"([A-Z].*[0-9].*)&(~(dog))", r"~(([a-z])|([A-Z])|(dog))",
    r"(\b([AEIOUaeiou])&([a-z])\b)*", r"((.*)(.)).*(dog).*", r"(.*[0-9].*dog.*){3,}",
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


def load_pairs(n: int) -> tuple[list[tuple[str, str]], str]:
    rng = random.Random(0)
    if NLRX_TEST.is_file():
        golds = []
        with NLRX_TEST.open(encoding="utf-8") as handle:
            for line in handle:
                messages = json.loads(line)["messages"]
                golds.append(next(m["content"] for m in messages if m["role"] == "assistant"))
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="pairs to score")
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()

    pairs, source = load_pairs(args.n)
    regex_dfa.clear_caches()
    start = time.perf_counter()
    verdicts = [compare_regex(g, c) for g, c in pairs]
    seconds = time.perf_counter() - start
    kinds = {k: sum(v.kind == k for v in verdicts) for k in sorted({v.kind for v in verdicts})}
    print(f"pairs: {len(pairs)} from {source}")
    print(f"seconds for {len(pairs)} pairs (cold cache): {seconds:.2f}  verdicts: {kinds}")

    agreement = None
    if VECTORS.is_file():
        rows = read_vectors()
        regex_dfa.clear_caches()
        start = time.perf_counter()
        agree = sum(compare_regex(r["gold"], r["candidate"]).code == r["verdict"] for r in rows)
        agreement = agree / len(rows)
        print(f"agreement with dk.brics on {len(rows)} vectors: {agreement:.4%} "
              f"({len(rows) - agree} disagree; {time.perf_counter() - start:.2f}s cold)")
    else:
        print(f"agreement: skipped, {VECTORS} absent")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps({"seconds_2000": seconds, "agreement": agreement}, indent=2))
        os.replace(tmp, args.json)


if __name__ == "__main__":
    main()
