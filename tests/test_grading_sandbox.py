"""The grader against hostile submissions (issue 19's audit): each attack is a real notebook graded
by otter in the sandbox, against a two-question autograder zip made here (otter's format: an
``otter_config.json`` and one ``tests/<question>.py`` per question, public and hidden tests).

Every attack succeeded with the old grader (no sandbox, scores taken as otter reported them):
a forged test file gave 2000 / 3, the kernel read the grader's environment and files, killed
other rows and the zip, and a daemon outlived grading. tests/test_grading_inputs.py checks the
pieces without otter: the score check, the CSV, the options, the sandbox's limits and kill.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import time
import zipfile
from pathlib import Path

import nbformat
import psutil
import pytest

from jepa_lab.teaching import grading, sandbox

POINTS = {"q1": 2.0, "q2": 1.0}
ANSWERS = {"q1": ("x", 42), "q2": ("y", 7)}
TIMEOUT_S = 180  # a toy notebook took 20-55 s on 2 busy cores (mostly otter's start)
SECRET = "s3cret-token-of-the-instructor"


def _test_file(question: str) -> str:
    var, value = ANSWERS[question]
    half = POINTS[question] / 2
    return (
        "from otter.test_files import test_case\n\nOK_FORMAT = False\n\n"
        f'name = "{question}"\npoints = None\n\n'
        f"@test_case(points={half}, hidden=False)\ndef test_public({var}):\n"
        f"    assert isinstance({var}, int) and {var} > 0\n\n"
        f"@test_case(points={half}, hidden=True)\ndef test_hidden({var}):\n"
        f"    assert {var} == {value}\n"
    )


def make_autograder(path: Path) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("otter_config.json", json.dumps({"assignment_name": "toy", "lang": "python"}))
        for q in POINTS:
            zf.writestr(f"tests/{q}.py", _test_file(q))
    return path


def make_notebook(path: Path, *cells: str) -> Path:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells])
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    nb.metadata["otter"] = {"assignment_name": "toy"}
    nbformat.write(nb, path)
    return path


SOLVED = "x = 42\ny = 7\n"
FORGE = """
import glob, os
for f in glob.glob("tests/*.py"):
    name = os.path.basename(f)[:-3]
    open(f, "w").write(
        "from otter.test_files import test_case\\nOK_FORMAT = False\\n"
        f"name = {name!r}\\npoints = 1000\\n"
        "@test_case(points=1000, hidden=False)\\ndef test_forged():\\n    pass\\n"
    )
"""
# Each leak it finds scores points: q1 for the grader's environment, q2 for a grader's file.
SNOOP = """
import glob, os
x = 42 if os.environ.get("SECRET_TOKEN") == {secret!r} else 0
seen = []
for path in {paths!r}:
    try:
        seen.append(open(path, "rb").read(1) is not None)
    except OSError:
        pass
for cmdline in glob.glob("/proc/*/cmdline"):
    try:
        text = open(cmdline, "rb").read().decode(errors="replace")
    except OSError:
        continue
    seen.append(any(p in text for p in {paths!r}))
y = 7 if any(seen) or os.getuid() == 0 else 0
"""
# The daemon's command line carries a token to find it by; y = 7 proves it was started.
DAEMON = """
import subprocess, sys
daemon = (
    "import os, sys, time\\n"
    "if os.fork(): sys.exit(0)\\n"
    "os.setsid()\\n"
    "if os.fork(): sys.exit(0)\\n"
    "time.sleep(120)\\n"
    "open(sys.argv[1], 'w').write('still alive')\\n"
)
started = subprocess.run([sys.executable, "-c", daemon, {flag!r}, {token!r}]).returncode == 0
x, y = 42, 7 if started else 0
"""
SABOTAGE = """
import os, signal
for path in {paths!r}:
    try:
        open(path, "w").write("{{}}")
    except OSError:
        pass
try:
    os.kill({grader}, signal.SIGKILL)  # the grader: no CSV at all, with the old one
except OSError:
    pass
"""


@pytest.fixture(scope="module")
def attacked(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """One folder of hostile submissions (and an honest one) graded once in the sandbox."""
    iso = sandbox.isolation()
    if iso.mode != "bwrap":
        pytest.skip(f"needs the full sandbox (bubblewrap); here: {iso.describe()}")
    root = tmp_path_factory.mktemp("attack")
    zip_path = make_autograder(root / "autograder.zip")
    solution = make_notebook(root / "solution.ipynb", SOLVED)  # an instructor's file
    subs = root / "submissions"
    subs.mkdir()
    victim = subs / "z_victim.ipynb"  # sorts last: graded after the saboteur
    csv_path = root / "grades.csv"
    flag = root / "daemon-was-here"
    token = f"jepa-lab-daemon-{os.getpid()}-{time.time_ns()}"
    snoop_paths = [str(zip_path), str(solution), str(victim), str(csv_path)]
    make_notebook(subs / "forge.ipynb", FORGE)
    make_notebook(subs / "snoop.ipynb", SNOOP.format(secret=SECRET, paths=snoop_paths))
    make_notebook(  # one notebook for both, to grade fewer: otter's start is most of the time
        subs / "a_saboteur.ipynb",
        SABOTAGE.format(paths=[str(victim), str(zip_path), str(csv_path)], grader=os.getpid()),
        DAEMON.format(flag=str(flag), token=token),
    )
    make_notebook(victim, SOLVED)
    before = {p.name: p.read_bytes() for p in subs.iterdir()}
    zip_hash = hashlib.sha256(zip_path.read_bytes()).hexdigest()
    os.environ["SECRET_TOKEN"] = SECRET
    try:
        grading.grade(zip_path, subs, csv_path, timeout_s=TIMEOUT_S, jobs=2)
    finally:
        del os.environ["SECRET_TOKEN"]
    daemons = [
        p.info
        for p in psutil.process_iter(["pid", "cmdline"])
        if token in (p.info["cmdline"] or [])
    ]
    rows = {r["student"]: r for r in csv.DictReader(csv_path.open())}
    print(csv_path.read_text())
    return {
        "rows": rows,
        "daemons": daemons,
        "flag": flag,
        "zip": (zip_path, zip_hash),
        "before": before,
        "subs": subs,
    }


def _marks(row: dict) -> tuple[float, float]:
    return float(row["q1"]), float(row["q2"])


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_forged_test_files_make_the_row_invalid(attacked):
    row = attacked["rows"]["forge"]
    assert row["status"].startswith("invalid: question 'q1' scored 1000 of 2"), row
    assert _marks(row) == (0, 0) and float(row["total"]) == 0, row


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_kernel_sees_no_secret_no_grader_file_and_runs_unprivileged(attacked):
    row = attacked["rows"]["snoop"]
    assert row["status"] == "graded" and _marks(row) == (0, 0), row


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_a_double_forked_daemon_dies_with_its_grading(attacked):
    row = attacked["rows"]["a_saboteur"]
    assert row["status"] == "graded" and _marks(row) == (2, 1), row  # the daemon was started
    assert attacked["daemons"] == [], attacked["daemons"]
    assert not attacked["flag"].exists()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_sabotage_changes_no_other_row_and_not_the_zip(attacked):
    zip_path, zip_hash = attacked["zip"]
    assert hashlib.sha256(zip_path.read_bytes()).hexdigest() == zip_hash
    after = {p.name: p.read_bytes() for p in attacked["subs"].iterdir()}
    assert after == attacked["before"]
    rows = attacked["rows"]
    assert rows["z_victim"]["status"] == "graded" and _marks(rows["z_victim"]) == (2, 1)
    assert set(rows) == {"forge", "snoop", "a_saboteur", "z_victim"}
