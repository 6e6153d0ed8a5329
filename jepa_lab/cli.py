"""The ``jepa-lab`` command line: train, eval, compare, demo.

jepa-lab demo                                  # both arms of the tiny preset, table + report
jepa-lab train --preset tiny --arm jepa --run-dir runs/jepa [--resume | --overwrite]
jepa-lab compare --preset tiny --seeds 0 1 2 --out runs/compare
jepa-lab eval --run-dir runs/jepa
accelerate launch -m jepa_lab train ...        # or: torchrun --nproc_per_node 2 -m jepa_lab ...
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from .config import JepaConfig
from .presets import PRESET_NAMES, TrainConfig, preset

DEMO = dict(train_size=3000, eval_size=300, epochs=6)  # the sizes of benchmarks/tiny_nlrx.py
QUICK_DEMO = dict(train_size=96, eval_size=16, epochs=1, batch_size=16, max_new_tokens=24)


def _coerce(value: str, current: Any) -> Any:
    if isinstance(current, bool):
        if value.lower() not in ("true", "false", "1", "0"):
            raise argparse.ArgumentTypeError(f"expected true/false, got {value!r}")
        return value.lower() in ("true", "1")
    if value.lower() == "none":
        return None
    if isinstance(current, int):
        return int(value)
    if isinstance(current, float):
        return float(value)
    if current is None:
        for kind in (int, float):
            try:
                return kind(value)
            except ValueError:
                pass
    return value


def _config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The preset, then explicit flags, then ``--set field=value`` (JepaConfig fields too)."""
    overrides: dict[str, Any] = {}
    jepa: dict[str, Any] = {}
    for name in (
        "dataset",
        "train_size",
        "eval_size",
        "epochs",
        "batch_size",
        "lr",
        "init",
        "seed",
        "save_every",
        "model",
    ):
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    for flag in ("lora", "bf16"):
        if getattr(args, flag, False):
            overrides[flag] = True
    for name in ("k", "lam", "gamma", "distance", "loss_dropout", "text_view"):
        value = getattr(args, name, None)
        if value is not None:
            jepa[name] = value
    config = preset(args.preset, jepa=jepa, **overrides)
    train_fields = {f.name: getattr(config, f.name) for f in fields(TrainConfig)}
    jepa_fields = config.jepa.to_dict()
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise SystemExit(f"--set {item!r}: expected field=value")
        key = key.removeprefix("jepa.")
        if key in jepa_fields:
            jepa_fields[key] = _coerce(value, jepa_fields[key])
        elif key in train_fields and key != "jepa":
            train_fields[key] = _coerce(value, train_fields[key])
        else:
            known = sorted(set(train_fields) | set(jepa_fields))
            raise SystemExit(f"--set {key}: unknown field; known fields: {', '.join(known)}")
    train_fields["jepa"] = JepaConfig(**jepa_fields)
    return TrainConfig(**train_fields)


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--preset", default="tiny", choices=PRESET_NAMES)
    parser.add_argument("--dataset", choices=["nlrx", "gsm8k"])
    parser.add_argument("--model", help="a hub name or local directory (overrides the preset's)")
    parser.add_argument("--init", choices=["random", "base"])
    parser.add_argument("--train-size", type=int)
    parser.add_argument("--eval-size", type=int)
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--seed", type=int)
    parser.add_argument("--save-every", type=int, help="optimizer steps between checkpoints")
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--k", type=int, help="predictor tokens (0..16)")
    parser.add_argument("--lam", type=float, help="weight of the JEPA term")
    parser.add_argument("--gamma", type=float, help="weight of the NTP term")
    parser.add_argument("--distance", choices=["cosine", "l2", "mse", "infonce", "centered_cosine"])
    parser.add_argument("--loss-dropout", type=float)
    parser.add_argument("--text-view", choices=["user", "prompt"])
    parser.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="any TrainConfig or JepaConfig field, e.g. --set jepa.stop_grad_code=true",
    )
    parser.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jepa-lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one arm into a run directory")
    _add_config_flags(p)
    p.add_argument("--arm", choices=["ntp", "jepa"], default="jepa")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace what the directory holds")

    p = sub.add_parser("compare", help="both arms over several seeds: table, t-test, report")
    _add_config_flags(p)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/compare")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--overwrite", action="store_true")

    p = sub.add_parser("demo", help="the tiny preset, both arms, 2 seeds: table + HTML report")
    _add_config_flags(p)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--out", default="runs/demo")
    p.add_argument("--quick", action="store_true", help="a few seconds: smoke-test sizes")

    p = sub.add_parser(
        "download", help="fetch a published dataset into the cache (SHA-256 checked)"
    )
    p.add_argument("dataset", choices=["nlrx", "nlrx-original", "gsm8k"])

    p = sub.add_parser("eval", help="evaluate a trained run's final model on held-out data")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--eval-size", type=int)
    p.add_argument("--no-progress", action="store_true")
    return parser


def _eval(args: argparse.Namespace) -> int:
    from .build import load_examples
    from .evaluate import evaluate
    from .model import JepaModel

    run_dir = Path(args.run_dir)
    identity = json.loads((run_dir / "run.json").read_text(encoding="utf-8"))
    config = TrainConfig.from_dict(identity["config"])
    if args.eval_size is not None:
        config = replace(config, eval_size=args.eval_size)
    final = run_dir / "final"
    if not final.is_dir():
        raise SystemExit(f"{final} does not exist: train the run to the end first")
    jm = JepaModel.from_pretrained(final, trust_remote_code=config.trust_remote_code)
    _, held_out = load_examples(config)
    metrics = evaluate(
        jm,
        held_out,
        config.dataset,
        config.max_new_tokens,
        config.eval_batch_size,
        progress=not args.no_progress,
    )
    metrics.pop("predictions")
    print(json.dumps(metrics, indent=2))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "download":
        from .data import download_dataset

        root = download_dataset(args.dataset)
        print(f"{args.dataset}: cached under {root}")
        return 0
    if args.command == "eval":
        return _eval(args)
    progress = not args.no_progress
    if args.command == "train":
        from .train import RunDirectoryError, TrainingStopped, train

        try:
            result = train(
                _config_from_args(args),
                args.run_dir,
                args.arm,
                resume=args.resume,
                overwrite=args.overwrite,
                progress=progress,
            )
        except RunDirectoryError as err:
            raise SystemExit(f"jepa-lab train: error: {err}") from None
        except TrainingStopped as err:  # non-finite or diverged; summary.json holds the details
            print(f"jepa-lab train: the run stopped ({err.status}): {err}", file=sys.stderr)
            return 3
        last = result.history[-1] if result.history else {}
        print(json.dumps({k: v for k, v in last.items() if not isinstance(v, list)}, indent=2))
        if result.diverged:  # it finished but learned nothing: not a success either
            print(f"jepa-lab train: the run is flagged: {result.diverged}", file=sys.stderr)
            return 3
        return 0
    from .experiment import compare

    config = _config_from_args(args)
    if args.command == "demo":
        sizes = QUICK_DEMO if args.quick else DEMO
        explicit = {k: getattr(args, k) for k in sizes if getattr(args, k, None) is not None}
        config = replace(config, **{**sizes, **explicit})
        print(
            f"jepa-lab demo: tiny preset, {config.train_size} training pairs, {config.epochs} "
            f"epochs, seeds {args.seeds}; writing {args.out}/"
        )
        compare(config, args.seeds, args.out, overwrite=True, progress=progress)
        return 0
    compare(
        config,
        args.seeds,
        args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=progress,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
