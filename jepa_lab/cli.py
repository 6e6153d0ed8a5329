"""The ``jepa-lab`` command line: train, compare, demo, eval, download, assign, grade, eval-gsm8k.

jepa-lab demo [--quick | --full]               # both arms of the tiny preset, table + report
jepa-lab train --preset tiny --arm jepa --run-dir runs/jepa [--resume | --overwrite]
jepa-lab compare --preset tiny --seeds 0 1 2 --out runs/compare
jepa-lab eval --run-dir runs/jepa
jepa-lab eval-gsm8k runs/gsm8k-tiny/ntp-seed0 --n 50    # the real GSM8K test set's first 50
jepa-lab assign notebooks/assignments/ex2_distances.ipynb dist    # exercises with otter-grader
jepa-lab grade dist/ex2_distances/autograder/autograder.zip submissions/ --csv grades.csv
accelerate launch -m jepa_lab train ...        # or: torchrun --nproc_per_node 2 -m jepa_lab ...

Every TrainConfig and JepaConfig field has its own option (jepa_lab.training.config_args).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from dataclasses import replace
from pathlib import Path

from jepa_lab.data import ChecksumError, DataFormatError, DownloadError
from jepa_lab.experiments import gsm8k_real
from jepa_lab.experiments.experiment import ARMS
from jepa_lab.teaching import grading
from jepa_lab.training.config_args import add_config_arguments, config_from_args, option_of
from jepa_lab.training.presets import DEMO_SIZES, FULL_DEMO_SIZES, QUICK_DEMO_SIZES, TrainConfig
from jepa_lab.training.tasks import download_names
from jepa_lab.training.validation import (
    ConfigError,
    InputError,
    custom_code_declared,
    read_run_file,
    validate_compare,
)

DEBUG_ENV = "JEPA_LAB_DEBUG"  # set to 1: expected errors show their traceback too
_config_from_args = config_from_args


def _add_run_flags(parser: argparse.ArgumentParser) -> None:
    add_config_arguments(parser)
    parser.add_argument(
        "--set",
        action="append",
        metavar="FIELD=VALUE",
        help="any TrainConfig or JepaConfig field, e.g. --set jepa.stop_grad_code=true",
    )
    parser.add_argument("--no-progress", action="store_true")
    _add_spider_db_dir(parser)


def _add_spider_db_dir(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--spider-db-dir",
        help="folder of the Spider sqlite databases, for execution accuracy (sets "
        "$JEPA_LAB_SPIDER_DB_DIR; without it Spider trains and the scorer says what is missing)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="jepa-lab", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one arm into a run directory")
    _add_run_flags(p)
    p.add_argument("--arm", choices=ARMS, default="jepa")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--resume", action="store_true", help="continue from the last checkpoint")
    p.add_argument("--overwrite", action="store_true", help="replace what the directory holds")

    p = sub.add_parser("compare", help="both arms over several seeds: table, t-test, report")
    _add_run_flags(p)
    p.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    p.add_argument("--out", default="runs/compare")
    p.add_argument("--resume", action="store_true")
    p.add_argument("--overwrite", action="store_true")

    p = sub.add_parser(
        "demo", help="the tiny preset, both arms, 2 seeds: table + HTML report (a few minutes)"
    )
    _add_run_flags(p)
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
    p.add_argument("dataset", choices=download_names())

    p = sub.add_parser("eval", help="evaluate a trained run's final model on held-out data")
    p.add_argument("--run-dir", required=True)
    p.add_argument("--eval-size", type=int)
    p.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="run the model directory's own Python code (auto_map); run.json never enables it",
    )
    p.add_argument("--no-progress", action="store_true")
    _add_spider_db_dir(p)

    p = sub.add_parser("eval-gsm8k", help="score trained runs on the real GSM8K test set")
    gsm8k_real.add_arguments(p)
    p = sub.add_parser("assign", help="generate student/solution notebooks and autograder")
    grading.add_assign_arguments(p)
    p = sub.add_parser("grade", help="grade a folder of submissions into a CSV")
    grading.add_grade_arguments(p)
    return parser


def _grading(command):
    """A grading command whose bad notebook, zip or otter failure ends in one line too."""

    def run(args: argparse.Namespace) -> int:
        try:
            return command(args)
        except (ValueError, RuntimeError) as err:
            raise InputError(str(err)) from None

    return run


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
    guards = sys.modules.get("jepa_lab.training.guards")  # loaded by training, which raises it
    return (guards.TrainingStopped,) if guards else ()


def main(argv: list[str] | None = None) -> int:
    """Run one command. Expected errors end in one line on stderr (``jepa-lab <command>:
    error: <message>``) and exit status 2; set JEPA_LAB_DEBUG=1 for their traceback. An
    arm that stops (non-finite, diverged) exits 3; anything else is a bug and shows its
    traceback."""
    args = build_parser().parse_args(argv)
    if getattr(args, "spider_db_dir", None):  # the Spider scorer reads it, in every arm
        os.environ["JEPA_LAB_SPIDER_DB_DIR"] = args.spider_db_dir
    try:
        if getattr(args, "no_progress", False):  # loading and saving bars too, in every command
            os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        return COMMANDS[args.command](args)
    except CommandFailed:
        raise
    except Exception as err:
        if os.environ.get(DEBUG_ENV) == "1":
            raise
        if isinstance(err, _training_stopped()):  # non-finite or diverged; summary.json says more
            print(
                f"jepa-lab {args.command}: the run stopped ({err.status}): {err}", file=sys.stderr
            )
            return 3
        if not isinstance(err, _expected_errors()):
            raise
        message = f"jepa-lab {args.command}: error: {err}"
        print(message, file=sys.stderr)
        raise CommandFailed(message) from None


def _download(args: argparse.Namespace) -> int:
    from jepa_lab.data import download_dataset

    root = download_dataset(args.dataset)
    print(f"{args.dataset}: cached under {root}")
    return 0


def _train(args: argparse.Namespace) -> int:
    from jepa_lab.training.train import train

    config = config_from_args(args)
    result = train(
        config,
        args.run_dir,
        args.arm,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    )
    last = result.history[-1] if result.history else {}
    print(json.dumps({k: v for k, v in last.items() if not isinstance(v, list)}, indent=2))
    if result.diverged:  # it finished but learned nothing: not a success either
        print(f"jepa-lab train: the run is flagged: {result.diverged}", file=sys.stderr)
        return 3
    return 0


def _compare_config(args: argparse.Namespace, sizes: dict | None = None) -> TrainConfig:
    """The config, checked for a comparison before any arm trains, not after."""
    config = config_from_args(args, sizes)
    try:
        validate_compare(config, args.seeds)
    except ConfigError as err:
        raise InputError(f"{option_of(err, args)}: {err}") from None
    except InputError as err:
        raise InputError(f"--seeds {' '.join(map(str, args.seeds))}: {err}") from None
    return config


def _compare(args: argparse.Namespace) -> int:
    from jepa_lab.experiments.experiment import compare

    flagged = compare(
        _compare_config(args),
        args.seeds,
        args.out,
        resume=args.resume,
        overwrite=args.overwrite,
        progress=not args.no_progress,
    ).flagged
    if flagged:  # every run finished, but one learned nothing: not a success either
        print("jepa-lab compare: flagged: " + "; ".join(flagged), file=sys.stderr)
    return 3 if flagged else 0


def _demo(args: argparse.Namespace) -> int:
    """The tiny preset's two arms over the seeds: say up front what and how long, then train."""
    from jepa_lab.experiments.experiment import (
        compare,
        estimate_seconds,
        minutes_text,
        one_thread_if_busy,
    )
    from jepa_lab.experiments.report import data_description

    sizes = QUICK_DEMO_SIZES if args.quick else FULL_DEMO_SIZES if args.full else DEMO_SIZES
    config = _compare_config(args, sizes)
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
    comparison = compare(
        config, args.seeds, args.out, overwrite=True, progress=not args.no_progress
    )
    return 3 if comparison.flagged else 0


COMMANDS = {
    "train": _train,
    "compare": _compare,
    "demo": _demo,
    "download": _download,
    "eval": _eval,
    "eval-gsm8k": gsm8k_real.run,
    "assign": _grading(grading.run_assign),
    "grade": _grading(grading.run_grade),
}

if __name__ == "__main__":
    sys.exit(main())
