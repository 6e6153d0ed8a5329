"""Time budgets of the course material: `jepa-lab demo` and every CPU notebook, default mode.

Each item runs alone in a fresh process, one after the other, from a scratch working folder (so
nothing lands in notebooks/), and is measured from outside:

* wall time, from start to exit;
* CPU time of the process and everything it started (the notebook's kernel included), from
  ``getrusage(RUSAGE_CHILDREN)`` before and after;
* peak RSS of the largest single process (the kernel, for a notebook), sampled every 0.2 s over
  the whole process tree, and the kernel's own ``ru_maxrss``;
* for notebooks, the time from the start to the end of the first cell that draws a figure
  (the "first figure within 2 minutes of opening" target), and the slowest cell.

Targets on 2 CPU cores: the demo at most 5 minutes, each notebook at most 10 minutes and 2 GB.
The machine's load average before and after each item is recorded: the targets are for an idle
machine, and a loaded one is slower in proportion.

    python benchmarks/notebooks.py --json notebooks.json            # everything
    python benchmarks/notebooks.py --only 01 demo --smoke             # a quick check
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
GPU_ONLY = ("05_",)  # its CPU stand-in runs in the tests; its real sizes need a GPU
TARGETS = {"demo_wall_s": 300, "notebook_wall_s": 600, "notebook_rss_mb": 2048, "first_fig_s": 120}
FIGURE_MIME = ("application/vnd.plotly.v1+json", "image/png", "image/svg+xml")

# Runs one notebook with nbclient and prints, per cell, when it finished and whether it drew.
NOTEBOOK_RUNNER = r"""
import json, sys, time
import nbformat
from nbclient import NotebookClient
start = time.perf_counter()
nb = nbformat.read(sys.argv[1], as_version=4)
cells = []
def done(cell, cell_index, execute_reply, **_):
    drew = any(m in out.get("data", {}) for out in cell.get("outputs", []) for m in FIGURE_MIME)
    cells.append({"index": cell_index, "end_s": time.perf_counter() - start, "figure": drew})
client = NotebookClient(nb, timeout=1800, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[2]}}, on_cell_executed=done)
client.execute()
print("CELLS " + json.dumps(cells))
"""


# Runs a command and reports the largest ru_maxrss among its descendants (this item's alone).
WRAPPER = r"""
import resource, subprocess, sys
code = subprocess.run(sys.argv[1:]).returncode
print("MAXRSS_KB", resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, flush=True)
sys.exit(code)
"""


class TreePeak:
    """Peak RSS of the largest process in a process tree, sampled in a thread."""

    def __init__(self, pid: int, every_s: float = 0.2):
        self.root, self.every_s, self.peak_mb = psutil.Process(pid), every_s, 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()

    def _watch(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.root, *self.root.children(recursive=True)]
                for proc in procs:
                    try:
                        self.peak_mb = max(self.peak_mb, proc.memory_info().rss / 2**20)
                    except psutil.Error:
                        pass
            except psutil.Error:
                return
            self._stop.wait(self.every_s)

    def stop(self) -> float:
        self._stop.set()
        self._thread.join()
        return self.peak_mb


def measure(cmd: list[str], cwd: Path, env: dict[str, str]) -> dict:
    """Run ``cmd`` to completion; wall, CPU (with descendants) and peak RSS."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    load_before = os.getloadavg()[0]
    start = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, "-c", WRAPPER, *cmd],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    peak = TreePeak(proc.pid)
    output, _ = proc.communicate()
    wall = time.perf_counter() - start
    peak_mb = peak.stop()
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    maxrss_kb = [
        int(line.split()[1]) for line in output.splitlines() if line.startswith("MAXRSS_KB")
    ]
    return {
        "returncode": proc.returncode,
        "wall_s": round(wall, 1),
        "cpu_s": round(cpu, 1),
        "peak_rss_mb": round(max([peak_mb, *(kb / 1024 for kb in maxrss_kb)]), 1),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
        "output_tail": output[-2000:],
    }


def run_notebook(path: Path, scratch: Path, env: dict[str, str]) -> dict:
    work = scratch / path.stem
    work.mkdir(parents=True, exist_ok=True)
    runner = NOTEBOOK_RUNNER.replace("FIGURE_MIME", repr(FIGURE_MIME))
    result = measure([sys.executable, "-c", runner, str(path), str(work)], work, env)
    cells = []
    for line in result["output_tail"].splitlines():
        if line.startswith("CELLS "):
            cells = json.loads(line[len("CELLS ") :])
    figures = [c["end_s"] for c in cells if c["figure"]]
    ends = [0.0] + [c["end_s"] for c in cells]
    result["first_figure_s"] = round(figures[0], 1) if figures else None
    result["slowest_cell_s"] = round(max(b - a for a, b in zip(ends, ends[1:], strict=False)), 1)
    result["cells"] = len(cells)
    return result


def run_demo(scratch: Path, env: dict[str, str], quick: bool) -> dict:
    cmd = [sys.executable, "-m", "jepa_lab", "demo", "--out", str(scratch / "demo")]
    return measure(cmd + (["--quick"] if quick else []), scratch, env)


def verdict(name: str, result: dict) -> list[str]:
    """The targets this item misses (empty: all met)."""
    misses = []
    if result["returncode"] != 0:
        misses.append(f"exit code {result['returncode']}")
    if name == "demo":
        if result["wall_s"] > TARGETS["demo_wall_s"]:
            misses.append(f"wall {result['wall_s']} s > {TARGETS['demo_wall_s']} s")
        return misses
    if result["wall_s"] > TARGETS["notebook_wall_s"]:
        misses.append(f"wall {result['wall_s']} s > {TARGETS['notebook_wall_s']} s")
    if result["peak_rss_mb"] > TARGETS["notebook_rss_mb"]:
        misses.append(f"peak RSS {result['peak_rss_mb']} MB > {TARGETS['notebook_rss_mb']} MB")
    if name.startswith("01_") and (result["first_figure_s"] or 1e9) > TARGETS["first_fig_s"]:
        misses.append(f"first figure at {result['first_figure_s']} s > {TARGETS['first_fig_s']} s")
    return misses


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", help="'demo' and/or notebook number prefixes")
    parser.add_argument("--smoke", action="store_true", help="JEPA_LAB_SMOKE=1 and demo --quick")
    parser.add_argument("--json")
    args = parser.parse_args()
    env = {**os.environ, "PYDEVD_DISABLE_FILE_VALIDATION": "1"}
    env.pop("JEPA_LAB_SMOKE", None)
    if args.smoke:
        env["JEPA_LAB_SMOKE"] = "1"
    items = ["demo", *(p.name for p in NOTEBOOKS if not p.name.startswith(GPU_ONLY))]
    if args.only:
        items = [i for i in items if any(i.startswith(prefix) for prefix in args.only)]
    results = {"machine": {"cpus": os.cpu_count(), "load_at_start": os.getloadavg()}}
    scratch = Path(tempfile.mkdtemp(prefix="jepa-lab-bench-"))
    try:
        for name in items:
            print(f"{name} ...", flush=True)
            if name == "demo":
                result = run_demo(scratch, env, quick=args.smoke)
            else:
                result = run_notebook(ROOT / "notebooks" / name, scratch, env)
            result["misses"] = verdict(name, result)
            results[name] = result
            first = result.get("first_figure_s")
            print(
                f"  wall {result['wall_s']} s, CPU {result['cpu_s']} s, peak RSS "
                f"{result['peak_rss_mb']} MB"
                + (f", first figure {first} s" if first is not None else "")
                + f", load {result['load_before']} -> {result['load_after']}"
                + (f"  MISSES: {'; '.join(result['misses'])}" if result["misses"] else "  ok"),
                flush=True,
            )
            if result["returncode"] != 0:
                print(result["output_tail"][-1500:])
            if args.json:
                Path(args.json).write_text(json.dumps(results, indent=2), encoding="utf-8")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
