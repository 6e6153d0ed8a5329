"""Where does LLM-JEPA start to help? The overfitting regime, the scale curve, bases, the grid.

Every point is one of jepa-lab's named presets (``jepa_lab.training.presets.REGIME_PRESETS``)
trained as
both arms over several seeds on the real NL-RX-SYNTH split (LLM-JEPA's 8,000 / 2,000), so any
point reproduces with one command, e.g.

    jepa-lab compare --preset overfit-250-base --seeds 0 1 2 3 4   # the significant point
    jepa-lab compare --preset overfit-250-base-mini --seeds 0 1 2   # the same from a larger base
    jepa-lab compare --preset scale-small --seeds 0 1 2

Parts (run in the order given, each reusing every run an earlier invocation finished):

  overfit   small training sets trained for many epochs (claim II: NTP peaks and falls, JEPA
            keeps improving), from random init and from the pretrained base
  scale     model sizes from the tiny preset upward on the full training split, from scratch,
            with the collapse diagnostics per size (the GPU sizes 100m and llama-1b-arch run
            the same way from benchmarks/device_scale.sh)
  base      the favourable regime (250 pairs, 30 epochs) fine-tuned from the package's
            pretrained bases of several sizes: does the gain grow with the base?
  grid      the paper's grid (lam x k; by default the cross through lam=1, k=1), InfoNCE,
            loss dropout, and both arms at other learning rates, at one chosen point

    python benchmarks/where_it_helps.py --parts overfit --json where.json
    python benchmarks/where_it_helps.py --parts grid --grid-point overfit-250 --seeds 0

Each finished run is stored as ``<out>/runs/<key>.json`` (its history, CPU seconds, parameter
count), keyed by the hash of its full configuration and data, so a study can be stopped at any
time and continued; ``--json PATH`` (re)writes the summary after every point.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from jepa_lab.data import load_dataset
from jepa_lab.experiments.study import summarize_point
from jepa_lab.training.presets import OVERFIT_SIZES, TrainConfig, preset

SHARED = Path(
    os.environ.get("JEPA_LAB_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
PARTS = ("overfit", "scale", "base", "grid")
GRID_LAMS = (0.5, 1.0, 2.0, 4.0)
GRID_KS = (0, 1, 2, 3, 4)
LOSS_DROPOUTS = (0.0, 0.5, 0.75)
# the learning rate, both arms moved together: a doubling ladder (as the paper's is) around the
# preset's own rate, so a JEPA gain cannot be NTP's learning rate being off
GRID_LR_FACTORS = (0.25, 0.5, 2.0)


def nlrx_split(train_size: int, eval_size: int, data_dir: Path | None):
    """The first ``train_size`` / ``eval_size`` pairs of the LLM-JEPA split (always the same),
    or of the offline generator when ``data_dir`` is None (smoke runs)."""
    kwargs = dict(source="local", data_dir=data_dir) if data_dir else dict(source="generated")
    train = load_dataset("nlrx", "train", n=train_size, **kwargs)
    test = load_dataset("nlrx", "test", n=eval_size, **kwargs)
    return list(train), list(test)


class RunStore:
    """Finished runs on disk, keyed by configuration + arm + data, reused across invocations."""

    def __init__(self, out: Path, data_dir: Path, threads: int, reuse_only: bool = False):
        self.out, self.data_dir, self.threads = out, data_dir, threads
        self.reuse_only = reuse_only  # summarise what is finished, train nothing
        self.data_name = "nlrx-llm-jepa" if data_dir else "nlrx-generated"
        (out / "runs").mkdir(parents=True, exist_ok=True)
        self._data: dict[tuple[int, int], tuple[list, list]] = {}
        self._records = [
            json.loads(path.read_text(encoding="utf-8"))
            for path in sorted((out / "runs").glob("*.json"))
        ]

    def find(self, config: TrainConfig, arm: str) -> dict[str, Any] | None:
        """A finished run of this arm whose configuration agrees on every field both know
        (fields added to TrainConfig since it ran, at their defaults, do not orphan it). The
        preset's name is only a label: ``overfit-250 --init base`` and ``overfit-250-base`` are
        the same run."""
        wanted = _flat(config.with_arm(arm).to_dict())
        for label_only in ("preset", "save_every"):  # neither changes what is trained
            wanted.pop(label_only)
        for record in self._records:
            if record["arm"] != arm or record.get("data", "nlrx-llm-jepa") != self.data_name:
                continue
            stored = _flat(record["config"])
            if all(stored[k] == wanted[k] for k in stored.keys() & wanted.keys()):
                return record
        return None

    def key(self, config: TrainConfig, arm: str) -> str:
        blob = json.dumps(
            {"arm": arm, "config": config.with_arm(arm).to_dict(), "data": self.data_name},
            sort_keys=True,
        )
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def run(self, config: TrainConfig, arm: str, label: str) -> dict[str, Any] | None:
        from jepa_lab.training.train import train

        path = self.out / "runs" / f"{self.key(config, arm)}.json"
        if path.is_file():
            return json.loads(path.read_text(encoding="utf-8"))
        found = self.find(config, arm)
        if found is not None or self.reuse_only:
            return found
        sizes = (config.train_size, config.eval_size)
        if sizes not in self._data:
            self._data[sizes] = nlrx_split(*sizes, self.data_dir)
        run_dir = self.out / "scratch" / f"{label}-{arm}-seed{config.seed}"
        # the store never resumes (a cut-off run is trained again) and deletes run_dir once the
        # record is written, so checkpoints would only cost time: 12 GB a save at 1B parameters
        config = replace(config, save_every=0)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        result = train(config, run_dir, arm, overwrite=True, progress=False, data=self._data[sizes])
        record = {
            "label": label,
            "arm": arm,
            "data": self.data_name,
            "seed": config.seed,
            "config": config.with_arm(arm).to_dict(),
            "params": sum(p.numel() for p in result.jepa_model.model.parameters()),
            "cpu_seconds": time.process_time() - cpu0,
            "wall_seconds": time.perf_counter() - wall0,
            "threads": self.threads,
            "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
            "history": result.history,
        }
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record, indent=1), encoding="utf-8")
        os.replace(tmp, path)
        self._records.append(record)
        shutil.rmtree(run_dir, ignore_errors=True)  # checkpoints are not needed once recorded
        print(
            f"  done {label} {arm} seed {config.seed}: acc "
            f"{record['history'][-1].get('eval_accuracy'):.3f}, "
            f"{record['cpu_seconds']:.0f} s CPU, {record['wall_seconds']:.0f} s wall",
            flush=True,
        )
        return record


def _flat(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in d.items():
        if isinstance(value, dict):
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[prefix + key] = value
    return out


def point(
    store: RunStore,
    config: TrainConfig,
    label: str,
    seeds: list[int],
    ntp_config: TrainConfig | None = None,
) -> dict[str, Any] | None:
    """Both arms of ``config`` per seed. ``ntp_config``: the baseline to pair with, when several
    JEPA variants share one (the NTP arm ignores k, distance and loss dropout)."""
    ntp, jepa, done = [], [], []
    for seed in seeds:
        ntp_run = store.run(replace(ntp_config or config, seed=seed), "ntp", label)
        jepa_run = store.run(replace(config, seed=seed), "jepa", label)
        if ntp_run is not None and jepa_run is not None:  # None: --reuse-only, not trained
            ntp.append(ntp_run)
            jepa.append(jepa_run)
            done.append(seed)
    if not done:
        print(f"{label:<28} no finished seed", flush=True)
        return None
    entry = summarize_point(ntp, jepa, done)
    p = "n/a" if np.isnan(entry["p_value"]) else f"{entry['p_value']:.3g}"
    print(
        f"{label:<28} params {entry['params'] / 1e6:5.2f}M  NTP {entry['ntp_mean']:.3f}"
        f"±{entry['ntp_std']:.3f} (peak {entry['ntp_peak_mean']:.3f})  JEPA "
        f"{entry['jepa_mean']:.3f}±{entry['jepa_std']:.3f} (peak {entry['jepa_peak_mean']:.3f})"
        f"  diff {entry['diff_mean']:+.3f} p={p}  cos {entry['paired_cos'] or 0:.3f}/"
        f"{entry['random_cos'] or 0:.3f} rank {entry['eff_rank_pred'] or 0:.1f}",
        flush=True,
    )
    return entry


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--overfit-sizes", type=int, nargs="+", default=list(OVERFIT_SIZES))
    parser.add_argument("--inits", nargs="+", default=["random", "base"])
    parser.add_argument("--sizes", nargs="+", default=["tiny", "mini", "small"])
    parser.add_argument(
        "--base-sizes",
        nargs="+",
        default=["tiny", "mini"],
        help="bases to fine-tune in the favourable regime (250 pairs, 30 epochs); tiny is "
        "overfit-250-base, the others overfit-250-base-<size>",
    )
    parser.add_argument("--grid-point", default="overfit-250")
    parser.add_argument("--grid-init", default="random")
    parser.add_argument("--grid-lams", type=float, nargs="+", default=list(GRID_LAMS))
    parser.add_argument("--grid-ks", type=int, nargs="+", default=list(GRID_KS))
    parser.add_argument(
        "--grid-design",
        choices=["cross", "product"],
        default="cross",
        help="cross: every lam at k=1 plus every k at lam=1 (what 2 CPU cores afford); "
        "product: every (lam, k) pair, the paper's full grid",
    )
    parser.add_argument(
        "--grid-section",
        default="grid",
        help="the JSON key the grid is stored under, so grids at two points share one file",
    )
    parser.add_argument(
        "--section",
        help="store every part under this JSON key instead of the part's name (for example "
        "overfit_confirm: the same points on fresh seeds, kept beside the screen they confirm)",
    )
    parser.add_argument("--grid-infonce-lams", type=float, nargs="*", default=[0.5, 1.0])
    parser.add_argument("--loss-dropouts", type=float, nargs="*", default=list(LOSS_DROPOUTS))
    parser.add_argument(
        "--grid-ntp-lr-factor",
        type=float,
        default=1.0,
        help="the NTP baseline of the grid's JEPA variants at this many times the preset's rate "
        "(e.g. NTP's own best rate, found with --grid-lr-factors)",
    )
    parser.add_argument(
        "--grid-lr-factors",
        type=float,
        nargs="*",
        default=list(GRID_LR_FACTORS),
        help="learning rates (x the preset's) at which both arms are run again at lam=1, k=1",
    )
    parser.add_argument("--epochs", type=int, help="override every preset's epochs (smoke)")
    parser.add_argument("--train-size", type=int, help="override every train size (smoke)")
    parser.add_argument("--eval-size", type=int, help="override every eval size (smoke)")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--data-dir", default=str(SHARED))
    parser.add_argument(
        "--generated", action="store_true", help="the offline generator instead (smoke runs)"
    )
    parser.add_argument("--figures", help="write the study's figures (HTML) into this folder")
    parser.add_argument(
        "--update-readme",
        metavar="README",
        help="rewrite the study's tables and findings in this markdown file from the --json file",
    )
    parser.add_argument(
        "--reuse-only",
        action="store_true",
        help="train nothing: summarise the seeds whose two arms are finished, skip the rest",
    )
    parser.add_argument("--out", default="runs/where_it_helps")
    parser.add_argument("--json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data_dir = None if args.generated else Path(args.data_dir)
    if data_dir and not (data_dir / "nl-rx" / "llm-jepa-split" / "synth_train.jsonl").is_file():
        raise SystemExit(f"{data_dir}: no NL-RX-SYNTH split there (jepa-lab download nlrx)")
    store = RunStore(Path(args.out), data_dir, args.threads, reuse_only=args.reuse_only)
    results: dict[str, Any] = {}
    if args.json and Path(args.json).is_file():  # keep parts run by other invocations
        results = json.loads(Path(args.json).read_text(encoding="utf-8"))

    def sized(config: TrainConfig) -> TrainConfig:
        smoke = dict(epochs=args.epochs, train_size=args.train_size, eval_size=args.eval_size)
        return replace(config, **{k: v for k, v in smoke.items() if v is not None})

    def save() -> None:
        for points in results.values():  # points with no finished seed (--reuse-only)
            for name in [n for n, entry in points.items() if entry is None]:
                del points[name]
        if args.json:
            tmp = Path(args.json + ".tmp")
            tmp.write_text(json.dumps(results, indent=1), encoding="utf-8")
            os.replace(tmp, args.json)

    for part in args.parts:
        print(f"\n=== {part}", flush=True)
        key = args.section or (args.grid_section if part == "grid" else part)
        section = results.setdefault(key, {})
        if part == "overfit":
            for init in args.inits:
                for n in args.overfit_sizes:
                    name = f"overfit-{n}"
                    config = sized(preset(name, init=init))
                    section[f"{name}-{init}"] = point(store, config, f"{name}-{init}", args.seeds)
                    save()
        elif part == "scale":
            for size in args.sizes:
                config = sized(preset(f"scale-{size}"))
                section[size] = point(store, config, f"scale-{size}", args.seeds)
                save()
        elif part == "base":
            for size in args.base_sizes:
                name = "overfit-250-base" + ("" if size == "tiny" else f"-{size}")
                section[size] = point(store, sized(preset(name)), name, args.seeds)
                save()
        elif part == "grid":
            base = sized(preset(args.grid_point, init=args.grid_init))
            label = f"{args.grid_point}-{args.grid_init}"
            section["point"] = label
            if args.grid_design == "product":
                grid = [(lam, k) for lam in args.grid_lams for k in args.grid_ks]
            else:
                grid = [(lam, 1) for lam in args.grid_lams]
                grid += [(1.0, k) for k in args.grid_ks if (1.0, k) not in grid]
            variants = {f"lam{lam:g}-k{k}": dict(lam=lam, k=k) for lam, k in grid}
            variants.update(
                {
                    f"infonce-lam{lam:g}": dict(distance="infonce", lam=lam)
                    for lam in args.grid_infonce_lams
                }
            )
            variants.update({f"ld{ld:g}": dict(loss_dropout=ld) for ld in args.loss_dropouts})
            baseline = replace(base, lr=base.lr * args.grid_ntp_lr_factor)
            section["ntp_lr_factor"] = args.grid_ntp_lr_factor
            for name, jepa in variants.items():
                config = replace(base, jepa=replace(base.jepa, **jepa))
                section[name] = point(
                    store, config, f"grid-{label}-{name}", args.seeds, ntp_config=baseline
                )
                save()
            for factor in args.grid_lr_factors:  # both arms at the other rate
                config = replace(base, lr=base.lr * factor)
                name = f"lr{factor:g}x"
                section[name] = point(store, config, f"grid-{label}-{name}", args.seeds)
                save()
    save()
    if args.figures:
        write_figures(results, Path(args.figures))
    if args.update_readme:
        update_readme(Path(args.update_readme), results)


def write_figures(results: dict[str, Any], folder: Path) -> None:
    """Accuracy per epoch with seed bands for every point; gain and collapse against size."""
    from jepa_lab.experiments.study import (
        collapse_vs_params_figure,
        entries,
        epoch_curves_figure,
        gain_vs_params_figure,
        grid_heatmap_figure,
    )
    from jepa_lab.geometry.plots import save_html

    for part, points in results.items():
        for name, entry in entries(points).items():
            fig = epoch_curves_figure(entry, f"{part}: {name}, held-out accuracy per epoch")
            save_html(fig, folder / f"{part}-{name}-curves.html")
            if entry.get("ntp_loss_per_epoch"):  # claim II on the held-out loss
                title = f"{part}: {name}, held-out NTP loss per epoch"
                fig = epoch_curves_figure(entry, title, metric="eval_ntp_loss")
                save_html(fig, folder / f"{part}-{name}-loss.html")
    for part, points in results.items():
        if any(name.startswith("lam") and "-k" in name for name in entries(points)):
            title = f"{part} at {points.get('point', '?')}: JEPA - NTP per (lam, k)"
            save_html(grid_heatmap_figure(points, title), folder / f"{part}-heatmap.html")
    for part in ("scale", "base"):
        if entries(results.get(part, {})):
            save_html(
                gain_vs_params_figure(results[part], f"{part}: gain vs size"),
                folder / f"{part}-gain.html",
            )
            save_html(
                collapse_vs_params_figure(results[part], f"{part}: collapse vs size"),
                folder / f"{part}-collapse.html",
            )
    print(f"figures: {folder}/")


def update_readme(readme: Path, results: dict[str, Any]) -> None:
    """Put the study's tables (``<!-- table:PART -->``, ``<!-- table:cost -->``) and findings
    (between ``<!-- findings -->`` and ``<!-- /findings -->``) into ``readme``, from the JSON:
    the README's numbers are never typed by hand, and tests check they match the JSON."""
    import re

    from findings import study_findings, study_verdict

    from jepa_lab.experiments.confirmation import confirmation_table
    from jepa_lab.experiments.study import cost_table, markdown_table

    text = readme.read_text(encoding="utf-8")

    def table(match: re.Match) -> str:
        name = match.group(1)
        if name not in ("cost", "confirmation") and name not in results:
            raise SystemExit(f"{readme}: table:{name} has no part {name!r} in the JSON")
        if name == "cost":
            body = cost_table(results)
        elif name == "confirmation":
            body = confirmation_table(results)
        else:
            body = markdown_table(results[name])
        return f"<!-- table:{name} -->\n\n{body}\n"

    text = re.sub(r"<!-- table:(\w+) -->\n\n(?:\|.*\n)*", table, text)
    blocks = {"findings": study_findings(results), "verdict": study_verdict(results)}
    found = [name for name in blocks if f"<!-- {name} -->\n" in text]
    if not found:
        raise SystemExit(f"{readme}: no '<!-- findings -->' or '<!-- verdict -->' block")
    for name in found:  # benchmarks/README.md holds the findings, README.md the verdict
        start, end = f"<!-- {name} -->\n", f"<!-- /{name} -->"
        head, rest = text.split(start, 1)
        text = head + start + blocks[name] + "\n" + end + rest.split(end, 1)[1]
    tmp = readme.with_suffix(".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, readme)
    print(f"updated {readme}")


if __name__ == "__main__":
    main()
