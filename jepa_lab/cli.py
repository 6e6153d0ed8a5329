"""The ``jepa-lab`` command line: train, eval, compare, demo.

jepa-lab demo [--quick | --full]               # both arms of the tiny preset, table + report
jepa-lab train --preset tiny --arm jepa --run-dir runs/jepa [--resume | --overwrite]
jepa-lab compare --preset tiny --seeds 0 1 2 --out runs/compare
jepa-lab eval --run-dir runs/jepa
accelerate launch -m jepa_lab train ...        # or: torchrun --nproc_per_node 2 -m jepa_lab ...
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from dataclasses import fields, replace
from pathlib import Path
from typing import Any

from jepa_lab.data import ChecksumError, DataFormatError, DownloadError
from jepa_lab.data.download import BUNDLES
from jepa_lab.experiments.experiment import ARMS
from jepa_lab.objective.config import JepaConfig
from jepa_lab.training.presets import (
    DEMO_SIZES,
    FULL_DEMO_SIZES,
    PRESET_NAMES,
    QUICK_DEMO_SIZES,
    TrainConfig,
    preset,
)
from jepa_lab.training.validation import (
    DISTANCES,
    TEXT_VIEWS,
    ConfigError,
    InputError,
    custom_code_declared,
    read_run_file,
    validate_compare,
)

DEMO = DEMO_SIZES  # the names the CLI has always used
QUICK_DEMO = QUICK_DEMO_SIZES
FULL_DEMO = FULL_DEMO_SIZES
DEBUG_ENV = "JEPA_LAB_DEBUG"  # set to 1: expected errors show their traceback too


FLAG_FIELDS = (  # TrainConfig fields with their own flag (--train-size for train_size, ...)
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
)
JEPA_FLAG_FIELDS = ("k", "lam", "gamma", "distance", "loss_dropout", "text_view")


def _coerce(item: str, value: str, annotation: str) -> Any:
    """``value`` as the type a dataclass field declares (``"int | None"``, ``"float"``, ...)."""
    kinds = {part.strip() for part in annotation.split("|")}
    if "None" in kinds and value.lower() == "none":
        return None
    if "bool" in kinds:
        if value.lower() not in ("true", "false", "1", "0"):
            raise InputError(f"--set {item}: expected true or false")
        return value.lower() in ("true", "1")
    for kind, words in ((int, "an integer"), (float, "a number")):
        if kind.__name__ in kinds:
            try:
                return kind(value)
            except ValueError:
                none = " or none" if "None" in kinds else ""
                raise InputError(f"--set {item}: expected {words}{none}, got {value!r}") from None
    return value


def _option_of(field: str, args: argparse.Namespace, set_keys: set[str]) -> str:
    """The option that set ``field``, for error messages."""
    if field in set_keys:
        return f"--set {field}"
    if field in FLAG_FIELDS + JEPA_FLAG_FIELDS and getattr(args, field, None) is not None:
        return "--" + field.replace("_", "-")
    return f"preset {args.preset!r}, field {field}"


def _config_from_args(args: argparse.Namespace, sizes: dict[str, Any] | None = None) -> TrainConfig:
    """The preset, then ``sizes`` (the demo's), then explicit flags, then ``--set field=value``
    (JepaConfig fields too).

    Any invalid value stops here with an InputError naming the option, before anything is
    written.
    """
    set_keys: set[str] = set()
    try:
        return _build_config(args, set_keys, dict(sizes or {}))
    except ConfigError as err:
        option = _option_of(err.field, args, set_keys)
        raise InputError(f"{option}: {err}") from None


def _build_config(
    args: argparse.Namespace, set_keys: set[str], overrides: dict[str, Any]
) -> TrainConfig:
    jepa: dict[str, Any] = {}
    for name in FLAG_FIELDS:
        value = getattr(args, name, None)
        if value is not None:
            overrides[name] = value
    for flag in ("lora", "bf16", "trust_remote_code"):
        if getattr(args, flag, False):
            overrides[flag] = True
    for name in JEPA_FLAG_FIELDS:
        value = getattr(args, name, None)
        if value is not None:
            jepa[name] = value
    config = preset(args.preset, jepa=jepa, **overrides)
    train_fields = {f.name: getattr(config, f.name) for f in fields(TrainConfig)}
    jepa_fields = config.jepa.to_dict()
    train_types = {f.name: str(f.type) for f in fields(TrainConfig) if f.name != "jepa"}
    jepa_types = {f.name: str(f.type) for f in fields(JepaConfig)}
    for item in args.set or []:
        key, sep, value = item.partition("=")
        if not sep:
            raise InputError(f"--set {item!r}: expected field=value")
        # "jepa.seed" is JepaConfig's; a bare name is TrainConfig's first (both have a seed)
        in_jepa = key.startswith("jepa.") or (key not in train_types and key in jepa_types)
        key = key.removeprefix("jepa.")
        target, types = (jepa_fields, jepa_types) if in_jepa else (train_fields, train_types)
        if key not in types:
            known = sorted(set(train_types) | {f"jepa.{k}" for k in jepa_types})
            raise InputError(f"--set {key}: unknown field; known fields: {', '.join(known)}")
        target[key] = _coerce(item, value, types[key])
        set_keys.add(key)
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
    parser.add_argument("--save-every", type=int, help="steps between checkpoints; 0: none")
    parser.add_argument("--lora", action="store_true")
    parser.add_argument("--bf16", action="store_true")
    parser.add_argument("--k", type=int, help="predictor tokens (0..16)")
    parser.add_argument("--lam", type=float, help="weight of the JEPA term")
    parser.add_argument("--gamma", type=float, help="weight of the NTP term")
    parser.add_argument("--distance", choices=DISTANCES)
    parser.add_argument("--loss-dropout", type=float)
    parser.add_argument("--text-view", choices=TEXT_VIEWS)
    parser.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="any TrainConfig or JepaConfig field, e.g. --set jepa.stop_grad_code=true",
    )
    parser.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="allow a hub or local model's own Python code to run (never read from a file)",
    )
    parser.add_argument("--no-progress", action="store_true")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jepa-lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one arm into a run directory")
    _add_config_flags(p)
    p.add_argument("--arm", choices=ARMS, default="jepa")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace what the directory holds")

    p = sub.add_parser("compare", help="both arms over several seeds: table, t-test, report")
    _add_config_flags(p)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/compare")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--overwrite", action="store_true")

    p = sub.add_parser(
        "demo", help="the tiny preset, both arms, 2 seeds: table + HTML report (a few minutes)"
    )
    _add_config_flags(p)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    p.add_argument("--out", default="runs/demo")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="a few seconds: smoke-test sizes")
    size.add_argument(
        "--full",
        action="store_true",
        help="the study's sizes (3,000 pairs, 6 epochs): several times longer",
    )

    p = sub.add_parser(
        "download", help="fetch a published dataset into the cache (SHA-256 checked)"
    )
    p.add_argument("dataset", choices=sorted(BUNDLES))

    p = sub.add_parser("eval", help="evaluate a trained run's final model on held-out data")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--eval-size", type=int)
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="run the model directory's own Python code (auto_map); run.json never enables it",
    )
    p.add_argument("--no-progress", action="store_true")
    return parser


def _eval(args: argparse.Namespace) -> int:
    from jepa_lab.objective.model import JepaModel
    from jepa_lab.training.build import load_examples
    from jepa_lab.training.evaluate import evaluate

    run_dir = Path(args.run_dir)
    run_file = run_dir / "run.json"
    identity = read_run_file(run_file)
    try:
        config = TrainConfig.from_dict(identity["config"])
        if args.eval_size is not None:
            config = replace(config, eval_size=args.eval_size)
    except ConfigError as err:
        option = "--eval-size" if err.field == "eval_size" else f"{run_file}: field {err.field}"
        raise InputError(f"{option}: {err}") from None
    final = run_dir / "final"
    if not final.is_dir():
        raise FileNotFoundError(f"{final} does not exist: train the run to the end first")
    # Remote code is this command's decision alone: a run directory is data, and its run.json
    # (or an auto_map inside final/) must never be able to run code on the reader's machine.
    declared = custom_code_declared(final)
    if declared and not args.trust_remote_code:
        print(
            "jepa-lab eval: NOT running the custom code declared in "
            + "; ".join(declared)
            + ". Loading with the built-in transformers classes; pass --trust-remote-code "
            "only if you trust whoever wrote this run directory.",
            file=sys.stderr,
        )
    try:
        with warnings.catch_warnings():  # the notice above already said it, once
            warnings.filterwarnings("ignore", message="not running the custom code")
            jm = JepaModel.from_pretrained(final, trust_remote_code=args.trust_remote_code)
    except ValueError as err:
        if "trust_remote_code" not in str(err):
            raise
        raise InputError(
            f"{final}: the model needs its own Python code ({err}); pass --trust-remote-code "
            "to run it, only if you trust whoever wrote this run directory"
        ) from None
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


class CommandFailed(SystemExit):
    """Exit status 2 after the one-line message main() printed; ``str()`` is the message."""

    def __init__(self, message: str):
        super().__init__(2)
        self.message = message

    def __str__(self) -> str:
        return self.message


def _expected_errors() -> tuple[type[BaseException], ...]:
    """What bad input, a run directory in the way, a missing file or a failed download raise:
    the message says what and where, so a traceback would only hide it."""
    # errors of modules that import torch, looked up only if loaded (else none was raised)
    loaded = [
        getattr(sys.modules[module], name)
        for module, name in (
            ("jepa_lab.training.checkpoints", "CheckpointError"),
            ("jepa_lab.objective.chat", "ChatTemplateError"),
        )
        if module in sys.modules
    ]
    return (
        InputError,  # ConfigError too
        DataFormatError,
        ChecksumError,
        DownloadError,
        FileExistsError,  # rundir.RunDirectoryError
        FileNotFoundError,
        NotADirectoryError,
        IsADirectoryError,
        PermissionError,
        *loaded,
    )


def _training_stopped() -> tuple[type[BaseException], ...]:
    guards = sys.modules.get(
        "jepa_lab.training.guards"
    )  # loaded by training, which alone raises it
    return (guards.TrainingStopped,) if guards else ()


def main(argv: list[str] | None = None) -> int:
    """Run one command. Expected errors end in one line on stderr (``jepa-lab <command>:
    error: <message>``) and exit status 2; set JEPA_LAB_DEBUG=1 for their traceback. An
    arm that stops (non-finite, diverged) exits 3; anything else is a bug and shows its
    traceback."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if getattr(args, "no_progress", False):  # loading and saving bars too, in every command
        os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    try:
        return _run(args)
    except CommandFailed:
        raise
    except Exception as err:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        if isinstance(err, _training_stopped()):  # compare/demo: an arm went non-finite
            print(
                f"jepa-lab {args.command}: the run stopped ({err.status}): {err}", file=sys.stderr
            )
            return 3
        if not isinstance(err, _expected_errors()):
            raise
        message = f"jepa-lab {args.command}: error: {err}"
        print(message, file=sys.stderr)
        raise CommandFailed(message) from None


def _check_compare(args: argparse.Namespace, config: TrainConfig) -> None:
    try:
        validate_compare(config, args.seeds)
    except ConfigError as err:
        raise InputError(f"{_option_of(err.field, args, set())}: {err}") from None
    except InputError as err:
        raise InputError(f"--seeds {' '.join(map(str, args.seeds))}: {err}") from None


def _run(args: argparse.Namespace) -> int:
    if args.command == "download":
        from jepa_lab.data import download_dataset

        root = download_dataset(args.dataset)
        print(f"{args.dataset}: cached under {root}")
        return 0
    progress = not args.no_progress
    if not progress:  # model loading and saving bars too
        _hide_transformers_bars()
    if args.command == "eval":
        return _eval(args)
    if args.command == "train":
        from jepa_lab.training.train import TrainingStopped, train

        try:
            result = train(
                _config_from_args(args),
                args.run_dir,
                args.arm,
                resume=args.resume,
                overwrite=args.overwrite,
                progress=progress,
            )
        except TrainingStopped as err:  # non-finite or diverged; summary.json holds the details
            print(f"jepa-lab train: the run stopped ({err.status}): {err}", file=sys.stderr)
            return 3
        last = result.history[-1] if result.history else {}
        print(json.dumps({k: v for k, v in last.items() if not isinstance(v, list)}, indent=2))
        if result.diverged:  # it finished but learned nothing: not a success either
            print(f"jepa-lab train: the run is flagged: {result.diverged}", file=sys.stderr)
            return 3
        return 0
    if args.command == "demo":
        return _demo(args, progress)
    from jepa_lab.experiments.experiment import compare

    config = _config_from_args(args)
    _check_compare(args, config)  # before any arm trains, not after
    flagged = compare(
        config,
        args.seeds,
        args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=progress,
    ).flagged
    if flagged:  # every run finished, but one learned nothing: not a success either
        print("jepa-lab compare: flagged: " + "; ".join(flagged), file=sys.stderr)
    return 3 if flagged else 0


def _hide_transformers_bars() -> None:
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()


def _demo(args: argparse.Namespace, progress: bool) -> int:
    """The tiny preset's two arms over the seeds: say up front what and how long, then train."""
    from jepa_lab.experiments.experiment import (
        ARMS,
        compare,
        estimate_seconds,
        minutes_text,
        one_thread_if_busy,
    )
    from jepa_lab.experiments.report import data_description

    sizes = QUICK_DEMO if args.quick else FULL_DEMO if args.full else DEMO
    config = _config_from_args(args, sizes)
    _check_compare(args, config)
    runs = len(args.seeds) * len(ARMS)
    estimate = estimate_seconds(config, runs)
    busy = one_thread_if_busy()
    print(
        f"jepa-lab demo: NTP baseline vs LLM-JEPA, {config.preset} preset "
        f"({config.num_layers} layers, {config.hidden_size} wide), {len(args.seeds)} seeds x "
        f"{len(ARMS)} arms = {runs} runs of {config.epochs} epochs.\n"
        f"data: {data_description(config)}.\n"
        + (
            ""
            if estimate is None
            else f"time: about {minutes_text(estimate)} (min:s) on 2 idle CPU cores; "
            "longer on a busy machine. "
        )
        + (busy or "")
        + ("" if args.full or args.quick else "--full: the study's sizes; --quick: a smoke test. ")
        + f"Writing {args.out}/",
        flush=True,
    )
    comparison = compare(config, args.seeds, args.out, overwrite=True, progress=progress)
    return 3 if comparison.flagged else 0


if __name__ == "__main__":
    sys.exit(main())
