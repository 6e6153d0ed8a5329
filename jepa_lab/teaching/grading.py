"""Course assignments with otter-grader: generate them, grade a folder of submissions locally.

Each exercise has one source notebook (``notebooks/assignments/``, otter-assign format: questions,
solutions and public/hidden tests marked). From it ``otter assign`` generates the student
notebook, the solution notebook and the autograder zip; :func:`assign` runs it and gives the
outputs stable names. :func:`grade` runs ``otter run`` (otter's non-containerised grader, no
Docker) on every submission of a folder, each in its own process with a wall-clock limit, and
writes one CSV row per student with one column per question. A submission that loops forever is
killed at the limit (with its kernel) and scored zero; the other submissions are still graded.

    python -m jepa_lab.teaching.grading assign notebooks/assignments/ex2_distances.ipynb dist
    python -m jepa_lab.teaching.grading grade dist/ex2_distances/autograder/autograder.zip
    submissions/ \\
        --csv grades.csv

Local grading runs the students' code as you, with your files and network: use it for notebooks
you would open yourself, and otter's Docker grader (``otter grade``) otherwise.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import zipfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

GRADED = "graded"


@dataclass
class Assignment:
    """What ``otter assign`` made from one source notebook."""

    name: str
    student: Path  # the notebook to hand out
    solution: Path  # the solution notebook (also graded against the tests by otter assign)
    autograder: Path  # the zip that grading needs


@dataclass
class Grade:
    """One submission's scores, question by question."""

    student: str
    scores: dict[str, float]
    possible: dict[str, float]
    status: str = GRADED
    seconds: float = 0.0
    log: Path | None = field(default=None, repr=False)

    @property
    def total(self) -> float:
        return sum(self.scores.values())


# ----------------------------------------------------------------------------- generate


def assign(source: Path | str, out_dir: Path | str, run_tests: bool = True) -> Assignment:
    """Run ``otter assign`` on ``source`` into ``out_dir/<stem>/`` (replacing what it holds).

    With ``run_tests`` otter also grades the solution against every test, public and hidden, and
    fails if one does not pass. The autograder zip is renamed ``autograder.zip`` (otter stamps the
    time into its name) and the student notebook's cell ids are made stable, so regenerating an
    unchanged source gives the same student notebook.
    """
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"assign: no source notebook at {source}")
    target = Path(out_dir) / source.stem
    if target.exists():
        shutil.rmtree(target)
    cmd = [sys.executable, "-m", "otter", "assign", str(source), str(target)]
    if not run_tests:
        cmd.insert(4, "--no-run-tests")
    done = subprocess.run(cmd, capture_output=True, text=True)
    zips = sorted((target / "autograder").glob("*.zip")) if target.exists() else []
    if done.returncode != 0 or len(zips) != 1:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"otter assign failed for {source} (exit {done.returncode}):\n{tail}")
    autograder = zips[0].rename(zips[0].with_name("autograder.zip"))
    student = target / "student" / source.name
    _stable_cell_ids(student, prefix=source.stem.split("_")[0])
    return Assignment(source.stem, student, target / "autograder" / source.name, autograder)


def _stable_cell_ids(path: Path, prefix: str) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{prefix}-{i:02d}"
    nbformat.write(nb, path)


# ----------------------------------------------------------------------------- grade


def question_points(autograder: Path | str) -> dict[str, float]:
    """Points possible per question, in the order of the autograder's test files."""
    from otter.nbmeta_config import NBMetadataConfig
    from otter.test_files import create_test_file

    autograder = _existing(autograder, "autograder zip")
    with tempfile.TemporaryDirectory() as tmp, zipfile.ZipFile(autograder) as zf:
        tests = sorted(n for n in zf.namelist() if n.startswith("tests/") and n.endswith(".py"))
        if not tests:
            raise ValueError(f"{autograder}: no tests/*.py inside; is it an otter autograder zip?")
        zf.extractall(tmp, members=tests)
        files = [create_test_file(str(Path(tmp, n)), NBMetadataConfig()) for n in tests]
    return {f.name: float(f.possible) for f in files}


def grade(
    autograder: Path | str,
    submissions: Path | str | Sequence[Path | str],
    csv_path: Path | str | None = None,
    timeout_s: float = 300.0,
    jobs: int = 1,
    env: dict[str, str] | None = None,
    log_dir: Path | str | None = None,
) -> list[Grade]:
    """Grade every ``*.ipynb`` in ``submissions`` (a folder, or a list of files) with ``otter run``.

    Each submission runs in its own process tree, killed after ``timeout_s`` seconds; a killed or
    crashed submission scores zero on every question and says why in ``status``. Students are
    named by their file's stem. ``env`` is added to this process's environment for the kernels
    (e.g. ``{"JEPA_LAB_SMOKE": "1"}``). Writes the table to ``csv_path`` when given, and each
    submission's grading output to ``log_dir`` (default: next to the CSV, ``<csv stem>_logs/``).
    """
    autograder = _existing(autograder, "autograder zip").resolve()
    possible = question_points(autograder)
    files = _submission_files(submissions)
    if log_dir is None and csv_path is not None:
        log_dir = Path(csv_path).with_name(Path(csv_path).stem + "_logs")
    if log_dir is not None:
        Path(log_dir).mkdir(parents=True, exist_ok=True)

    def one(path: Path) -> Grade:
        log = Path(log_dir, path.stem + ".log") if log_dir is not None else None
        return _grade_one(autograder, path, possible, timeout_s, env or {}, log)

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        grades = list(pool.map(one, files))
    if csv_path is not None:
        write_csv(grades, csv_path)
    return grades


def _existing(path: Path | str, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path}")
    return path


def _submission_files(submissions: Path | str | Sequence[Path | str]) -> list[Path]:
    if isinstance(submissions, (str, Path)):
        folder = Path(submissions)
        if not folder.is_dir():
            raise NotADirectoryError(f"submissions folder not found: {folder}")
        files = sorted(folder.glob("*.ipynb"))
        if not files:
            raise FileNotFoundError(f"no .ipynb submissions in {folder}")
    else:
        files = [Path(p) for p in submissions]
        missing = [str(p) for p in files if not p.is_file()]
        if missing:
            raise FileNotFoundError(f"submission(s) not found: {', '.join(missing)}")
    stems = [p.stem for p in files]
    twice = sorted({s for s in stems if stems.count(s) > 1})
    if twice:
        raise ValueError(f"two submissions share a student name (file stem): {twice}")
    return files


def _grade_one(
    autograder: Path,
    submission: Path,
    possible: dict[str, float],
    timeout_s: float,
    extra_env: dict[str, str],
    log: Path | None,
) -> Grade:
    zeros = dict.fromkeys(possible, 0.0)
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="jepa-lab-grade-") as tmp:
        out_dir = Path(tmp, "out")
        out_dir.mkdir()
        # otter run works in a temporary folder of its own: keep it inside ours, so a killed
        # run leaves nothing behind.
        env = {**os.environ, **extra_env, "TMPDIR": tmp}
        cmd = [
            sys.executable,
            "-m",
            "otter",
            "run",
            "--no-logo",
            "-a",
            str(autograder),
            "-o",
            str(out_dir),
            str(submission.resolve()),
        ]
        with open(Path(tmp, "log"), "w+") as out:
            proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=tmp)
            try:
                proc.wait(timeout=timeout_s)
                status = GRADED
            except subprocess.TimeoutExpired:
                _kill_tree(proc.pid)
                proc.wait()
                status = f"timed out after {timeout_s:g} s"
            out.seek(0)
            output = out.read()
        if log is not None:
            log.write_text(output)
        seconds = time.monotonic() - start
        results = out_dir / "results.json"
        if status == GRADED and (proc.returncode != 0 or not results.is_file()):
            last = [line for line in output.strip().splitlines() if line.strip()][-1:] or ["?"]
            status = f"error (exit {proc.returncode}): {last[0][:200]}"
        if status != GRADED:
            return Grade(submission.stem, zeros, possible, status, seconds, log)
        scores = _scores(json.loads(results.read_text()), possible)
    return Grade(submission.stem, scores, possible, GRADED, seconds, log)


def _scores(results: dict, possible: dict[str, float]) -> dict[str, float]:
    """Per-question scores from otter's results.json (Gradescope format: one entry per question,
    plus a "Public Tests" summary without a score)."""
    scores = dict.fromkeys(possible, 0.0)
    for test in results.get("tests", []):
        if test.get("name") in scores and test.get("score") is not None:
            scores[test["name"]] = float(test["score"])
    return scores


def _kill_tree(pid: int) -> None:
    """Kill a process and all its descendants: the kernel runs in a session of its own, so
    killing the process group of ``otter run`` would leave a looping kernel behind."""
    import psutil

    try:
        parent = psutil.Process(pid)
        family = parent.children(recursive=True) + [parent]
    except psutil.NoSuchProcess:
        return
    for p in family:
        try:
            p.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(family, timeout=10)


def write_csv(grades: Sequence[Grade], path: Path | str) -> Path:
    """One row per student: a column per question, total, possible, status, seconds."""
    if not grades:
        raise ValueError("write_csv: no grades to write")
    questions = list(grades[0].possible)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["student", *questions, "total", "possible", "status", "seconds"])
        for g in grades:
            writer.writerow(
                [
                    g.student,
                    *(_number(g.scores[q]) for q in questions),
                    _number(g.total),
                    _number(sum(g.possible.values())),
                    g.status,
                    f"{g.seconds:.1f}",
                ]
            )
    return path


def _number(x: float) -> str:
    return f"{x:g}"


# ----------------------------------------------------------------------------- command line


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jepa_lab.teaching.grading", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p_assign = sub.add_parser("assign", help="generate student/solution notebooks and autograder")
    p_assign.add_argument("sources", nargs="+", type=Path, help="source notebook(s)")
    p_assign.add_argument("out_dir", type=Path, help="writes OUT_DIR/<name>/{student,autograder}")
    p_assign.add_argument(
        "--no-run-tests", action="store_true", help="skip grading the solution against the tests"
    )
    p_assign.add_argument(
        "--student-dir",
        type=Path,
        help="also copy each student notebook here (e.g. notebooks/exercises)",
    )
    p_grade = sub.add_parser("grade", help="grade a folder of submissions into a CSV")
    p_grade.add_argument("autograder", type=Path, help="the autograder.zip from 'assign'")
    p_grade.add_argument("submissions", type=Path, help="folder of .ipynb files, one per student")
    p_grade.add_argument("--csv", type=Path, default=Path("grades.csv"), help="output table")
    p_grade.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds per submission before it is killed and scored 0",
    )
    p_grade.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    args = parser.parse_args(argv)
    try:
        if args.command == "assign":
            return _assign_cli(args)
        return _grade_cli(args)
    except (FileNotFoundError, NotADirectoryError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


def _assign_cli(args: argparse.Namespace) -> int:
    for source in args.sources:
        made = assign(source, args.out_dir, run_tests=not args.no_run_tests)
        print(
            f"{made.name}: student {made.student}\n  solution {made.solution}\n"
            f"  autograder {made.autograder}"
        )
        if args.student_dir is not None:
            args.student_dir.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(made.student, args.student_dir / made.student.name)
            print(f"  copied to {args.student_dir / made.student.name}")
    return 0


def _grade_cli(args: argparse.Namespace) -> int:
    grades = grade(args.autograder, args.submissions, args.csv, args.timeout, args.jobs)
    for g in grades:
        print(f"{g.student:>20}: {g.total:g} / {sum(g.possible.values()):g}  {g.status}")
    print(f"wrote {args.csv} ({len(grades)} submissions)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
