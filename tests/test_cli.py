"""The jepa-lab command line as a shell user meets it: imports without torch, one-line errors
with exit status 2, download choices from the data package, and the demo's printed story."""

import os
import subprocess
import sys
from pathlib import Path

from jepa_lab.cli import build_parser
from jepa_lab.data.download import BUNDLES

REPO = Path(__file__).resolve().parents[1]


def jepa_lab(*argv: str, env: dict | None = None, timeout: int = 300):
    """``python -m jepa_lab argv`` from the repository root, as a user's shell runs it."""
    return subprocess.run(
        [sys.executable, "-m", "jepa_lab", *argv],
        capture_output=True,
        text=True,
        timeout=timeout,
        cwd=REPO,
        env={**os.environ, **(env or {})},
    )


def test_importing_the_cli_loads_neither_torch_nor_transformers():
    """`jepa-lab --help` must not pay for torch (it took 20 s); commands import it lazily."""
    code = "import sys, jepa_lab.cli; print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def test_download_offers_every_bundle_of_the_data_package():
    choices = next(
        a.choices
        for a in build_parser()._subparsers._group_actions[0].choices["download"]._actions
        if a.dest == "dataset"
    )
    assert sorted(choices) == sorted(BUNDLES) and "nlrx-turk" in choices


def test_offline_download_is_one_line_with_status_2(tmp_path):
    env = {"JEPA_LAB_CACHE": str(tmp_path), "JEPA_LAB_BASE_URL": "http://127.0.0.1:1"}
    result = jepa_lab("download", "nlrx-turk", env=env)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jepa-lab download: error: "), result.stderr
    assert "127.0.0.1:1" in lines[0]  # says which address failed
    debug = jepa_lab("download", "nlrx-turk", env={**env, "JEPA_LAB_DEBUG": "1"})
    assert debug.returncode != 0 and "Traceback" in debug.stderr  # the developer's view


def test_compare_into_a_foreign_directory_is_one_line_with_status_2(tmp_path):
    folder = tmp_path / "notes"
    folder.mkdir()
    (folder / "mine.txt").write_text("keep")
    result = jepa_lab(
        "compare", "--out", str(folder), "--train-size", "8", "--eval-size", "4", "--epochs", "1"
    )
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"jepa-lab compare: error: {folder} is not empty")
    assert sorted(p.name for p in folder.iterdir()) == ["mine.txt"]


def test_demo_quick_prints_plan_counter_result_and_no_log_dicts(tmp_path):
    """The demo as a user sees it (default progress): what it will do and for how long, run k
    of 4, a line per epoch with the time left, then the result in words; never a raw Trainer
    log dict or a progress bar in a log file."""
    out = tmp_path / "demo"
    small = ["--set", "hidden_size=32", "--set", "num_layers=1", "--set", "vocab_size=300"]
    result = jepa_lab("demo", "--quick", "--out", str(out), *small)
    assert result.returncode == 0, result.stderr[-3000:]
    text = result.stdout
    assert "2 seeds x 2 arms = 4 runs" in text and "time: about" in text
    assert "data: NL-RX-SYNTH, generated offline" in text
    runs = [line for line in text.splitlines() if line.startswith("run ")]
    assert runs == [
        "run 1 of 4: NTP baseline seed 0",
        "run 2 of 4: LLM-JEPA seed 0",
        "run 3 of 4: NTP baseline seed 1",
        "run 4 of 4: LLM-JEPA seed 1",
    ]
    epochs = [line for line in text.splitlines() if line.startswith("  epoch 1/1")]
    assert len(epochs) == 4 and all("elapsed" in e and "left" in e for e in epochs)
    assert "| JEPA - NTP (paired) |" in text
    assert "result: held-out accuracy: NTP baseline" in text
    assert "collapse: The LLM-JEPA arm " in text  # collapsed or not, said in words
    assert f"report: {out / 'report.html'}" in text and (out / "report.html").is_file()
    assert "benchmarks/README.md" in text
    for noise in ("{'loss'", "{'train_runtime'", "it/s]", "Writing model shards"):
        assert noise not in text + result.stderr, noise


def test_demo_trains_on_one_thread_only_on_a_busy_machine(monkeypatch):
    import torch

    from jepa_lab.experiments import experiment

    threads = torch.get_num_threads()
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setattr(experiment.os, "cpu_count", lambda: 2)
    try:
        monkeypatch.setattr(experiment.os, "getloadavg", lambda: (1.2, 1.0, 1.0))
        assert experiment.one_thread_if_busy() is None and torch.get_num_threads() == threads
        monkeypatch.setattr(experiment.os, "getloadavg", lambda: (3.5, 3.0, 3.0))
        monkeypatch.setenv("OMP_NUM_THREADS", "2")  # the user's choice wins
        assert experiment.one_thread_if_busy() is None and torch.get_num_threads() == threads
        monkeypatch.delenv("OMP_NUM_THREADS")
        note = experiment.one_thread_if_busy()
        assert "load 3.5 on 2 cores" in note and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)


def test_help_of_every_command_loads_neither_torch_nor_transformers():
    """Building the whole parser (every subcommand's options) stays as light as importing it."""
    code = (
        "import sys, jepa_lab.cli as c; c.build_parser(); "
        "print(sorted({'torch', 'transformers'} & set(sys.modules)))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


def one_line_error(argv: list[str], capsys) -> str:
    from jepa_lab.cli import main

    try:
        main(argv)
    except SystemExit as stop:
        assert stop.code == 2
    else:
        raise AssertionError(f"{argv} did not fail")
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1, lines
    return lines[0]


def test_grading_and_real_gsm8k_are_subcommands_with_one_line_errors(tmp_path, capsys):
    line = one_line_error(["grade", str(tmp_path / "x.zip"), str(tmp_path)], capsys)
    assert line == f"jepa-lab grade: error: autograder zip not found: {tmp_path}/x.zip"
    line = one_line_error(["assign", str(tmp_path / "missing.ipynb"), str(tmp_path)], capsys)
    assert line.startswith("jepa-lab assign: error: ") and "no source notebook at" in line
    line = one_line_error(["eval-gsm8k", str(tmp_path), "--n", "0"], capsys)
    assert line == "jepa-lab eval-gsm8k: error: n=0: expected a positive number of test problems"


def test_eval_gsm8k_without_a_local_copy_says_where_it_looked(tmp_path, capsys, monkeypatch):
    from jepa_lab.cli import main

    monkeypatch.delenv("JEPA_LAB_DATA_DIR", raising=False)
    monkeypatch.setenv("JEPA_LAB_CACHE", str(tmp_path / "cache"))
    report = tmp_path / "real.json"
    argv = ["eval-gsm8k", "runs/x", "--data-dir", str(tmp_path), "--json", str(report)]
    assert main(argv) == 0
    assert "not evaluated, no local copy" in capsys.readouterr().out
    assert '"path": null' in report.read_text()
