"""Course assignments with otter-grader: generate them, grade a folder of submissions locally.

Each exercise has one source notebook (``notebooks/assignments/``, otter-assign format: questions,
solutions and public/hidden tests marked). From it ``otter assign`` generates the student
notebook, the solution notebook and the autograder zip; :func:`assign` runs it and gives the
outputs stable names. :func:`grade` runs otter's grading (its non-containerised ``otter run``,
no Docker) on every submission of a folder, each in a sandbox of its own with a wall-clock
limit, and writes one CSV row per student with one column per question.

    jepa-lab assign notebooks/assignments/ex2_distances.ipynb dist
    jepa-lab grade dist/ex2_distances/autograder/autograder.zip \\
        submissions/ --csv grades.csv

Each submission sees only a private copy of its notebook and of the autograder, in fresh PID,
network and mount namespaces, as uid 65534 when the grader is root, with an environment of
PATH/HOME/LANG only, a memory limit, and nothing left running after it (see
:mod:`jepa_lab.teaching.sandbox`; a missing layer is said in one line). Its scores are checked
against the instructor's zip outside the sandbox (:mod:`jepa_lab.teaching.grade_checks`).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import secrets
import shutil
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from jepa_lab.teaching import sandbox
from jepa_lab.teaching.assignments import Assignment, assign
from jepa_lab.teaching.grade_checks import (
    MAX_RESULTS_BYTES,
    Autograder,
    changed_tests,
    checked_scores,
    load_autograder,
    read_beneath,
)
from jepa_lab.teaching.grade_table import (
    GRADED,
    Grade,
    Table,
    check_writable,
    escape_cell,
    finished_rows,
    write_csv,
)

__all__ = ["GRADED", "Assignment", "Grade", "assign", "grade", "question_points", "write_csv"]
MAX_NOTEBOOK_BYTES = 64 << 20


# ----------------------------------------------------------------------------- grade


def question_points(autograder: Path | str) -> dict[str, float]:
    """Points possible per question, in the order of the autograder's test files."""
    return load_autograder(autograder).points


def grade(
    autograder: Path | str,
    submissions: Path | str | Sequence[Path | str],
    csv_path: Path | str | None = None,
    timeout_s: float = 300.0,
    jobs: int = 1,
    env: dict[str, str] | None = None,
    log_dir: Path | str | None = None,
    *,
    sandbox_on: bool = True,
    memory_mb: int = 8192,
    resume: bool = False,
) -> list[Grade]:
    """Grade every ``*.ipynb`` in ``submissions`` (a folder, or a list of files).

    Each submission runs in its own sandbox (``sandbox_on=False`` opts out), killed with all its
    processes after ``timeout_s`` seconds; a killed or crashed submission scores zero on every
    question and says why in ``status``, one whose scores or tests fail the checks against the
    zip is ``invalid: <why>``, and a symlinked notebook, a ``.zip`` or an ``.IPYNB`` is
    ``skipped: <why>``. Students are named by their file's stem. ``env`` is given to the
    kernels (e.g. ``{"JEPA_LAB_SMOKE": "1"}``). The table at ``csv_path`` is rewritten after each
    row; ``resume`` keeps its finished rows and grades only the others. Each submission's
    grading output goes to ``log_dir`` (default: next to the CSV, ``<csv stem>_logs/``).
    """
    if not (isinstance(timeout_s, (int, float)) and math.isfinite(timeout_s) and timeout_s > 0):
        raise ValueError(f"--timeout must be a finite number of seconds > 0, not {timeout_s}")
    if jobs < 1 or memory_mb < 64:
        raise ValueError(f"--jobs must be >= 1 and --memory-mb >= 64, not {jobs}, {memory_mb}")
    ag = load_autograder(autograder)
    files, skipped = _submission_files(submissions)
    csv_path = Path(csv_path) if csv_path is not None else None
    if csv_path is not None:
        check_writable(csv_path)
    done = finished_rows(csv_path, list(ag.points)) if resume and csv_path else {}
    iso = sandbox.isolation(sandbox_on)
    for line in iso.warnings:
        print(line, file=sys.stderr)
    if log_dir is None and csv_path is not None:
        log_dir = csv_path.with_name(csv_path.stem + "_logs")
    if log_dir is not None:
        Path(log_dir).mkdir(parents=True, exist_ok=True)
    table = Table(csv_path, list(ag.points), done)
    zeros = dict.fromkeys(ag.points, 0.0)
    grades = [Grade(name, zeros, ag.points, why) for name, why in skipped]
    for g in grades:
        table.add(g)
    todo = [p for p in files if escape_cell(p.stem) not in done]

    def one(path: Path) -> Grade:
        log = Path(log_dir, path.stem + ".log") if log_dir is not None else None
        try:
            result = _grade_one(ag, path, iso, timeout_s, memory_mb << 20, env or {}, log)
        except OSError as err:  # this row's own trouble (unreadable file, full disk): not the run's
            result = Grade(path.stem, zeros, ag.points, f"error (grader): {err}"[:300])
        table.add(result)
        return result

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        grades += list(pool.map(one, todo))
    changed = ag.changed_on_disk()
    if changed is not None:
        print(
            f"warning: {changed}; every row was graded against the zip as first read",
            file=sys.stderr,
        )
    return grades


def _submission_files(
    submissions: Path | str | Sequence[Path | str],
) -> tuple[list[Path], list[tuple[str, str]]]:
    """The notebooks to grade, and (name, why) for each file that looks handed in but is not
    gradable."""
    if isinstance(submissions, (str, Path)):
        folder = Path(submissions)
        if not folder.is_dir():
            raise NotADirectoryError(f"submissions folder not found: {folder}")
        candidates = sorted(folder.iterdir())
    else:
        candidates = [Path(p) for p in submissions]
        missing = [str(p) for p in candidates if not (p.is_file() or p.is_symlink())]
        if missing:
            raise FileNotFoundError(f"submission(s) not found: {', '.join(missing)}")
    files, skipped = [], []
    for path in candidates:
        if path.suffix == ".ipynb" and path.is_symlink():
            skipped.append((path.stem, "skipped: a symbolic link; hand in the notebook itself"))
        elif path.suffix == ".ipynb" and not path.is_file():
            skipped.append((path.name, "skipped: not a regular file"))
        elif path.suffix == ".ipynb" and path.stat().st_size > MAX_NOTEBOOK_BYTES:
            skipped.append((path.stem, f"skipped: larger than {MAX_NOTEBOOK_BYTES >> 20} MB"))
        elif path.suffix == ".ipynb":
            files.append(path)
        elif path.suffix.lower() == ".ipynb":
            skipped.append((path.name, f"skipped: extension {path.suffix!r} is not '.ipynb'"))
        elif path.suffix.lower() == ".zip":
            skipped.append((path.name, "skipped: a .zip; hand in the .ipynb itself"))
    if not files and not skipped:
        raise FileNotFoundError(f"no .ipynb submissions in {submissions}")
    names = [p.stem for p in files] + [name for name, _ in skipped]
    twice = sorted({s for s in names if names.count(s) > 1})
    if twice:
        raise ValueError(f"two submissions share a student name (file stem): {twice}")
    return files, skipped


def _grade_one(
    ag: Autograder,
    submission: Path,
    iso: sandbox.Isolation,
    timeout_s: float,
    memory_bytes: int,
    extra_env: dict[str, str],
    log: Path | None,
) -> Grade:
    zeros = dict.fromkeys(ag.points, 0.0)
    # The outer folder is the grader's (traverse only), the inner one the student's, under a
    # name no other submission can list.
    outer = Path(tempfile.mkdtemp(prefix="jepa-lab-grade-"))
    try:
        os.chmod(outer, 0o711)
        home = outer / secrets.token_hex(8)
        for sub in ("", "in", "tmp", "work"):
            (home / sub).mkdir(mode=0o755)
        (home / "in" / "autograder.zip").write_bytes(ag.data)
        (home / "in" / submission.name).write_bytes(submission.read_bytes())
        if iso.drop_to is not None:
            for sub in ("", "tmp", "work"):
                os.chown(home / sub, iso.drop_to, iso.drop_to)
        inside = iso.home_inside or str(home)
        cmd = [sys.executable, "-m", "jepa_lab.teaching.grade_runner"]
        cmd += [f"{inside}/in/autograder.zip", f"{inside}/in/{submission.name}", f"{inside}/work"]
        cmd += ["--loopback"] if iso.mode == "unshare" else []
        cmd += ["--uid", str(iso.drop_to)] if iso.drop_to is not None else []
        if iso.mode == "off":
            env = {**os.environ, **extra_env, "TMPDIR": str(home / "tmp")}
        else:
            env = sandbox.clean_env(inside, extra_env)
        run = sandbox.run(sandbox.wrap(cmd, home, iso, env), env, home, timeout_s, memory_bytes)
        if log is not None:
            log.write_text(run.output)
        if run.timed_out:
            status = f"timed out after {timeout_s:g} s"
            return Grade(submission.stem, zeros, ag.points, status, run.seconds, log)
        try:
            results = read_beneath(home, "work/autograder/results/results.json", MAX_RESULTS_BYTES)
        except OSError:
            results = None
        if run.returncode != 0 or results is None:
            last = [line for line in run.output.strip().splitlines() if line.strip()][-1:] or ["?"]
            status = f"error (exit {run.returncode}): {last[0][:200]}"
            return Grade(submission.stem, zeros, ag.points, status, run.seconds, log)
        scores, problem = checked_scores(results, ag.points)
        if problem is None:
            problem = changed_tests(home / "work" / "autograder", ag)
        if problem is not None:
            status = f"invalid: {problem}"
            return Grade(submission.stem, zeros, ag.points, status, run.seconds, log)
        return Grade(submission.stem, scores, ag.points, GRADED, run.seconds, log)
    finally:
        shutil.rmtree(outer, ignore_errors=True)


# ----------------------------------------------------------------------------- command line

ISOLATION_HELP = (
    "Each submission is graded in its own sandbox: fresh PID, network (loopback only) and mount"
    " namespaces (bubblewrap; unshare without file isolation if bwrap is missing), a read-only"
    " system, only a private copy of its notebook and of the autograder, uid 65534 when run as"
    " root, an environment of PATH/HOME/LANG only, --memory-mb, and every process killed at the"
    " end. Its scores are then checked against the zip. Each missing layer is said in one line."
)


def add_assign_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("sources", nargs="+", type=Path, help="source notebook(s)")
    parser.add_argument("out_dir", type=Path, help="writes OUT_DIR/<name>/{student,autograder}")
    parser.add_argument(
        "--no-run-tests", action="store_true", help="skip grading the solution against the tests"
    )
    parser.add_argument(
        "--student-dir",
        type=Path,
        help="also copy each student notebook here (e.g. notebooks/exercises)",
    )


def add_grade_arguments(parser: argparse.ArgumentParser) -> None:
    if parser.epilog is None:
        parser.epilog = ISOLATION_HELP
    parser.add_argument("autograder", type=Path, help="the autograder.zip from 'assign'")
    parser.add_argument("submissions", type=Path, help="folder of .ipynb files, one per student")
    parser.add_argument(
        "--csv", type=Path, default=Path("grades.csv"), help="output table (rewritten per row)"
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=300.0,
        help="seconds per submission before it is killed and scored 0",
    )
    parser.add_argument("--jobs", type=int, default=1, help="submissions graded in parallel")
    parser.add_argument(
        "--memory-mb", type=int, default=8192, help="address-space limit per submission process"
    )
    parser.add_argument(
        "--resume", action="store_true", help="keep the rows already in --csv; grade the rest"
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="a variable for the kernels (repeatable; e.g. JEPA_LAB_SMOKE=1); none of yours is",
    )
    parser.add_argument(
        "--no-sandbox",
        action="store_true",
        help="grade as you, with your environment, files and network (trusted notebooks only)",
    )


def run_assign(args: argparse.Namespace) -> int:
    """Errors propagate: the caller (main, or ``jepa-lab assign``) says them in one line."""
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


def _env_pairs(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
            raise ValueError(f"--env {pair!r}: expected NAME=VALUE")
        env[name] = value
    return env


def run_grade(args: argparse.Namespace) -> int:
    """Errors propagate: the caller (main, or ``jepa-lab grade``) says them in one line."""
    env = _env_pairs(getattr(args, "env", []))
    on = not getattr(args, "no_sandbox", False)
    grades = grade(
        args.autograder,
        args.submissions,
        args.csv,
        args.timeout,
        args.jobs,
        env,
        sandbox_on=on,
        memory_mb=getattr(args, "memory_mb", 8192),
        resume=getattr(args, "resume", False),
    )
    for g in grades:
        print(f"{g.student:>20}: {g.total:g} / {sum(g.possible.values()):g}  {g.status}")
    print(f"wrote {args.csv} ({len(grades)} submissions graded or skipped in this run)")
    print(f"grading sandbox: {sandbox.isolation(on).describe()}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m jepa_lab.teaching.grading", description=__doc__.split("\n\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    add_assign_arguments(
        sub.add_parser("assign", help="generate student/solution notebooks and autograder")
    )
    add_grade_arguments(sub.add_parser("grade", help="grade a folder of submissions into a CSV"))
    args = parser.parse_args(argv)
    try:
        return run_assign(args) if args.command == "assign" else run_grade(args)
    except (OSError, ValueError, RuntimeError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
