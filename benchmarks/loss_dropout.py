"""Loss dropout: how much compute does skipping the JEPA term save, and what does it cost?

Trains the NTP baseline and LLM-JEPA at several loss-dropout rates (the JEPA term and its extra
tokens are skipped on that fraction of steps) on the tiny preset, over seeds, and reports for each
rate the held-out accuracy and the compute relative to the NTP baseline, measured as tokens the
model processed (the view tokens are the whole extra cost of a packed step). Writes the
trade-off figure as HTML.

    python benchmarks/loss_dropout.py --rates 0 0.5 0.75 --seeds 0 1 --json ld.json --html ld.html
"""

from __future__ import annotations

import argparse
import json
from dataclasses import replace

import numpy as np
import torch

from jepa_lab.geometry import plots
from jepa_lab.training.build import load_examples
from jepa_lab.training.presets import preset
from jepa_lab.training.train import train


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.0, 0.5, 0.75])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--train-size", type=int, default=1500)
    parser.add_argument("--eval-size", type=int, default=200)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--init", default="random", choices=["random", "base"])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", default="runs/loss_dropout")
    parser.add_argument("--json")
    parser.add_argument("--html")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    base = preset(
        "tiny",
        train_size=args.train_size,
        eval_size=args.eval_size,
        epochs=args.epochs,
        init=args.init,
    )
    data = load_examples(base)

    def final(arm: str, rate: float, seed: int) -> dict:
        config = replace(base, seed=seed, jepa=replace(base.jepa, loss_dropout=rate))
        name = "ntp" if arm == "ntp" else f"jepa-ld{rate:g}"
        run = train(
            config, f"{args.out}/{name}-seed{seed}", arm, overwrite=True, progress=False, data=data
        )
        return run.history[-1]

    ntp = [final("ntp", 0.0, s) for s in args.seeds]
    ntp_tokens = np.mean([r["tokens_seen"] for r in ntp])
    points = [
        {  # LD = 1 skips the JEPA term on every step: that is the NTP baseline
            "loss_dropout": 1.0,
            "compute": 1.0,
            "accuracy_mean": float(np.mean([r["eval_accuracy"] for r in ntp])),
            "accuracy_std": float(np.std([r["eval_accuracy"] for r in ntp], ddof=1))
            if len(ntp) > 1
            else 0.0,
        }
    ]
    for rate in args.rates:
        runs = [final("jepa", rate, s) for s in args.seeds]
        accuracy = [r["eval_accuracy"] for r in runs]
        points.append(
            {
                "loss_dropout": rate,
                "compute": float(np.mean([r["tokens_seen"] for r in runs]) / ntp_tokens),
                "accuracy_mean": float(np.mean(accuracy)),
                "accuracy_std": float(np.std(accuracy, ddof=1)) if len(accuracy) > 1 else 0.0,
                "jepa_steps": float(np.mean([r["jepa_steps"] for r in runs])),
            }
        )
    print(f"{'LD':>6}{'compute x NTP':>15}{'accuracy':>20}")
    for p in points:
        print(
            f"{p['loss_dropout']:>6g}{p['compute']:>15.2f}"
            f"{p['accuracy_mean']:>12.3f} ± {p['accuracy_std']:.3f}"
        )
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"seeds": args.seeds, "points": points}, f, indent=2)
    if args.html:
        plots.save_html(plots.loss_dropout_figure(points), args.html)


if __name__ == "__main__":
    main()
