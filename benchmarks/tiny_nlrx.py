"""What does LLM-JEPA do at a scale a laptop can train, and why?

Trains the tiny preset's two arms on NL-RX (the offline generator, and the real NL-RX-SYNTH split
when it is available) over several seeds, for these configurations:

  paper-random    the paper's objective as written (cosine, k=1, lambda=1), from random init
  paper-base      the same, both arms fine-tuned from the package's pretrained tiny base
  ext-stopgrad    extension: Enc(Code) is a stop-gradient target
  ext-varcov      extension: + a VICReg-style variance/covariance term on the embeddings
  ext-centered    extension: batch-centred cosine instead of cosine
  official-labels the NTP baseline with the official collator's labels (whole templated
                  sequence trained, end-of-turn never a target), against our NTP baseline

Every JEPA configuration is compared with the NTP baseline of the same init, seed and data
order (one NTP run serves all random-init configurations: with lambda = 0 they are identical).
Prints per configuration: held-out semantic accuracy (mean ± std over seeds, paired difference,
one-sided paired t-test), the stop rate, and the collapse diagnostics (matched vs random-pair
cosine of Pred(Enc(Text)) and Enc(Code), effective rank of Pred). ``--json PATH`` writes, per
dataset, ntp_mean, jepa_mean, ntp_std, jepa_std, p_value and the per-epoch accuracies of the
paper-random configuration, plus every configuration's figures under "configs".

    python benchmarks/tiny_nlrx.py --json tiny_nlrx.json              # preset sizes
    python benchmarks/tiny_nlrx.py --train-size 2000 --epochs 6 ...   # a shorter study
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from jepa_lab.data import load_dataset
from jepa_lab.experiments.experiment import paired_comparison
from jepa_lab.training.history import History
from jepa_lab.training.presets import preset
from jepa_lab.training.train import train

SHARED = Path(
    os.environ.get("JEPA_LAB_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)

# name -> (init, JEPA overrides or None for an NTP-only variant, NTP overrides)
CONFIGS = {
    "paper-random": ("random", {}, {}),
    "paper-base": ("base", {}, {}),
    "ext-stopgrad": ("random", {"stop_grad_code": True}, {}),
    "ext-varcov": ("random", {"var_cov_weight": 0.05}, {}),
    "ext-centered": ("random", {"distance": "centered_cosine"}, {}),
    "official-labels": ("random", None, {"label_mode": "official"}),
}


def datasets(requested: list[str], train_size, eval_size):
    found = {}
    for name in requested:
        if name == "generated":
            source, data_dir = "generated", None
        else:
            data_dir = SHARED
            if not (data_dir / "nl-rx" / "llm-jepa-split" / "synth_train.jsonl").is_file():
                print(f"skipping the real split: {data_dir} not found")
                continue
            source = "local"
        kwargs = {"data_dir": data_dir} if data_dir else {}
        train_set = load_dataset("nlrx", "train", source, n=train_size, **kwargs)
        test_set = load_dataset("nlrx", "test", source, n=eval_size, **kwargs)
        found[name] = (list(train_set), list(test_set))
    return found


class Study:
    """Runs of one dataset, each trained once and reused by every configuration that needs it."""

    def __init__(self, base, out: Path, data):
        self.base, self.out, self.data = base, out, data
        self.runs: dict[tuple[str, str, int], list[dict]] = {}
        self.timings: dict[str, list[float]] = {}

    def run(self, tag: str, arm: str, seed: int, init: str, jepa: dict, ntp_extra: dict):
        key = (tag, arm, seed)
        if key not in self.runs:
            config = replace(
                self.base,
                seed=seed,
                init=init,
                jepa=replace(self.base.jepa, **{**jepa, **ntp_extra}),
            )
            run_dir = self.out / f"{tag}-{arm}-seed{seed}"
            identity = {"arm": arm, "config": config.with_arm(arm).to_dict()}
            finished = _finished_history(run_dir, identity)
            if finished is not None:  # an earlier invocation trained exactly this run
                self.runs[key] = finished
                return finished
            start = time.perf_counter()
            result = train(config, run_dir, arm, overwrite=True, progress=False, data=self.data)
            self.timings.setdefault(f"{tag}-{arm}", []).append(time.perf_counter() - start)
            self.runs[key] = result.history
        return self.runs[key]


def _finished_history(run_dir: Path, identity: dict):
    """The history of a completed run with exactly this identity, else None."""
    run_file = run_dir / "run.json"
    if not (run_file.is_file() and (run_dir / "final").is_dir()):
        return None
    if json.loads(run_file.read_text(encoding="utf-8")) != identity:
        return None
    return History(run_dir / "history.jsonl").read()


def final(history: list[dict], key: str) -> float:
    value = history[-1].get(key)
    return float("nan") if value is None else float(value)


def mean_final(histories: list[list[dict]], key: str) -> float:
    values = [final(h, key) for h in histories]
    return float("nan") if all(np.isnan(values)) else float(np.nanmean(values))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--datasets", nargs="+", default=["generated", "real"])
    parser.add_argument("--configs", nargs="+", default=list(CONFIGS))
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--eval-size", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="runs/tiny_nlrx")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    base = preset("tiny")
    sizes = {
        k: v
        for k, v in dict(
            train_size=args.train_size, eval_size=args.eval_size, epochs=args.epochs
        ).items()
        if v is not None
    }
    base = replace(base, **sizes)
    out = Path(args.out)
    results: dict[str, dict] = {}
    for ds_name, data in datasets(args.datasets, base.train_size, base.eval_size).items():
        print(
            f"\n=== {ds_name}: {len(data[0])} train / {len(data[1])} held-out pairs, "
            f"{base.epochs} epochs, seeds {args.seeds}"
        )
        study = Study(base, out / ds_name, data)
        run = study.run
        timings = study.timings
        ds_results = {}
        for name in args.configs:
            init, jepa_overrides, ntp_overrides = CONFIGS[name]
            baseline_tag = f"ntp-{init}"
            ntp_h, other_h = [], []
            for seed in args.seeds:
                ntp_h.append(run(baseline_tag, "ntp", seed, init, {}, {}))
                if jepa_overrides is None:  # an NTP variant against our NTP baseline
                    other_h.append(run(name, "ntp", seed, init, {}, ntp_overrides))
                else:
                    other_h.append(run(name, "jepa", seed, init, jepa_overrides, {}))
            ntp_acc = [final(h, "eval_accuracy") for h in ntp_h]
            other_acc = [final(h, "eval_accuracy") for h in other_h]
            cmp = paired_comparison(ntp_acc, other_acc, args.seeds, "eval_accuracy")
            entry = {
                "ntp_mean": cmp.ntp.mean,
                "jepa_mean": cmp.jepa.mean,
                "ntp_std": cmp.ntp.std,
                "jepa_std": cmp.jepa.std,
                "diff_mean": cmp.diff_mean,
                "p_value": cmp.p_value,
                "ntp_per_epoch": [[r.get("eval_accuracy") for r in h] for h in ntp_h],
                "jepa_per_epoch": [[r.get("eval_accuracy") for r in h] for h in other_h],
                "ntp_exact": float(np.mean([final(h, "eval_exact") for h in ntp_h])),
                "jepa_exact": float(np.mean([final(h, "eval_exact") for h in other_h])),
                "ntp_stop_rate": float(np.mean([final(h, "eval_stop_rate") for h in ntp_h])),
                "jepa_stop_rate": float(np.mean([final(h, "eval_stop_rate") for h in other_h])),
            }
            for arm, hs in (("ntp", ntp_h), ("jepa", other_h)):
                for key in ("paired_cos", "random_cos", "eff_rank_pred", "jepa_loss"):
                    entry[f"{arm}_{key}"] = mean_final(hs, key)
            ds_results[name] = entry
            p = "n/a" if np.isnan(cmp.p_value) else f"{cmp.p_value:.3g}"
            print(
                f"{name:<16} NTP {cmp.ntp.mean:.3f}±{cmp.ntp.std:.3f}  other "
                f"{cmp.jepa.mean:.3f}±{cmp.jepa.std:.3f}  diff {cmp.diff_mean:+.3f} p={p}  "
                f"stop {entry['ntp_stop_rate']:.2f}/{entry['jepa_stop_rate']:.2f}  cos "
                f"matched {entry['jepa_paired_cos']:.3f} random {entry['jepa_random_cos']:.3f}"
                f"  eff.rank {entry['jepa_eff_rank_pred']:.1f}"
            )
        main_entry = ds_results.get("paper-random", next(iter(ds_results.values()), {}))
        results[ds_name] = {
            **{
                k: main_entry.get(k)
                for k in (
                    "ntp_mean",
                    "jepa_mean",
                    "ntp_std",
                    "jepa_std",
                    "p_value",
                    "ntp_per_epoch",
                    "jepa_per_epoch",
                )
            },
            "configs": ds_results,
            "seconds_per_run": {k: float(np.mean(v)) for k, v in timings.items()},
        }
        print(
            "\nseconds per run (mean over seeds):",
            {k: round(float(np.mean(v)), 1) for k, v in timings.items()},
        )
        if args.json:  # after every dataset, so a long study leaves its figures as it goes
            write_json(args.json, base, args.seeds, results)


def write_json(path: str, base, seeds: list[int], results: dict) -> None:
    sizes = {
        "train_size": base.train_size,
        "eval_size": base.eval_size,
        "epochs": base.epochs,
        "seeds": seeds,
    }
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"sizes": sizes, **results}, f, indent=2)


if __name__ == "__main__":
    main()
