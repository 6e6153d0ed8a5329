"""The instructor workflow: generate assignments with otter-grader, grade submissions locally.

The slow tests run the whole workflow (``.ci/run`` runs them): generate every exercise from its
source, check the committed student notebooks are what the sources generate, and grade the kinds
of submission a course meets into a CSV whose every cell is asserted. The fast ones check the
tests themselves (a forgotten temperature fails every InfoNCE check that has a temperature) and
the grader's handling of bad input.
"""

from __future__ import annotations

import csv
import json
import math
import re
import zipfile
from pathlib import Path

import nbformat
import pytest
import torch

from jepa_lab.objective.losses import jepa_distance
from jepa_lab.teaching import grading, sandbox
from jepa_lab.teaching.grade_checks import checked_scores

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted((ROOT / "notebooks" / "assignments").glob("*.ipynb"))
EXERCISES = ROOT / "notebooks" / "exercises"
TIMEOUT_S = 120  # per submission; a solved one took 50-60 s two at a time on 2 busy cores


# ----------------------------------------------------------------------------- the tests' tests


def _source_tests(source: Path, question: str) -> list:
    """The test functions of ``question`` in a source notebook, as otter would run them."""
    nb = nbformat.read(source, as_version=4)
    tests, current, in_tests = [], None, False
    for cell in nb.cells:
        text = cell.source.strip()
        if cell.cell_type == "raw" and text.startswith("# BEGIN QUESTION"):
            current = re.search(r"name:\s*(\S+)", text).group(1)
        elif cell.cell_type == "raw" and text.startswith("# BEGIN TESTS"):
            in_tests = True
        elif cell.cell_type == "raw" and text.startswith("# END TESTS"):
            in_tests = False
        elif in_tests and current == question:
            namespace: dict = {}
            exec(cell.source, namespace)  # noqa: S102 - the repository's own test cells
            tests += [v for k, v in namespace.items() if k.startswith("test_")]
    assert tests, f"{source.name}: no tests for question {question!r}"
    return tests


def _run(test, env: dict) -> bool:
    """Call a test like otter does (arguments by name from the notebook's globals)."""
    names = test.__code__.co_varnames[: test.__code__.co_argcount]
    try:
        test(**{n: env.get(n) for n in names})
    except Exception:
        return False
    return True


def _info_nce(temperature_used: bool):
    def info_nce(pred, target, temperature=0.07):
        p = pred / pred.norm(dim=-1, keepdim=True)
        t = target / target.norm(dim=-1, keepdim=True)
        scores = p @ t.T / (temperature if temperature_used else 1.0)
        return -(scores - torch.logsumexp(scores, dim=-1, keepdim=True)).diagonal().mean()

    return info_nce


def _ex2_cases() -> dict:
    torch.manual_seed(0)
    base = torch.randn(8, 16)
    return {
        "random": (torch.randn(8, 16), torch.randn(8, 16)),
        "near pairs": (base, base + 0.1 * torch.randn(8, 16)),
        "opposite (cos = -1)": (base, -base),
    }


def test_every_temperature_check_catches_a_forgotten_temperature():
    """ex2's InfoNCE checks: the right answer passes all; one that ignores the temperature passes
    only the shape check, since every check with a temperature uses one that is not 1."""
    source = ROOT / "notebooks" / "assignments" / "ex2_distances.ipynb"
    tests = _source_tests(source, "info_nce")
    cases = _ex2_cases()
    right = {t.__name__: _run(t, {"info_nce": _info_nce(True), "cases": cases}) for t in tests}
    forgot = {t.__name__: _run(t, {"info_nce": _info_nce(False), "cases": cases}) for t in tests}
    assert all(right.values()), right
    assert forgot == {name: name == "test_returns_a_scalar" for name in right}, forgot
    # the reference really depends on the temperature at the values the checks use
    pred, target = cases["random"]
    at = {tau: float(jepa_distance(pred, target, "infonce", temperature=tau)) for tau in (0.5, 1)}
    assert not math.isclose(at[0.5], at[1], rel_tol=1e-3)


# ----------------------------------------------------------------------------- bad input


def test_grade_reports_missing_inputs(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="autograder zip not found: .*nope.zip"):
        grading.grade(tmp_path / "nope.zip", tmp_path)
    fake = tmp_path / "autograder.zip"
    with zipfile.ZipFile(fake, "w") as zf:
        zf.writestr("run_autograder", "")
    with pytest.raises(ValueError, match="no tests/\\*.py inside"):
        grading.grade(fake, tmp_path)


def test_submission_folder_errors(tmp_path: Path):
    with pytest.raises(NotADirectoryError, match="submissions folder not found"):
        grading._submission_files(tmp_path / "missing")
    with pytest.raises(FileNotFoundError, match="no .ipynb submissions in"):
        grading._submission_files(tmp_path)
    (tmp_path / "a").mkdir()
    for name in ("a/alice.ipynb", "alice.ipynb"):
        (tmp_path / name).write_text("{}")
    with pytest.raises(ValueError, match=r"share a student name .*\['alice'\]"):
        grading._submission_files([tmp_path / "a/alice.ipynb", tmp_path / "alice.ipynb"])


def test_cli_prints_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture):
    code = grading.main(["grade", str(tmp_path / "x.zip"), str(tmp_path)])
    assert code == 1
    assert capsys.readouterr().err.strip() == f"error: autograder zip not found: {tmp_path}/x.zip"


def test_assign_reports_a_missing_source(tmp_path: Path):
    with pytest.raises(FileNotFoundError, match="no source notebook at"):
        grading.assign(tmp_path / "missing.ipynb", tmp_path / "dist")


# ----------------------------------------------------------------------------- the workflow


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> dict[str, grading.Assignment]:
    """Every exercise generated from its source. otter's own run of the tests against the
    solution is skipped: grading the solutions below checks the same thing."""
    out = tmp_path_factory.mktemp("dist")
    return {s.stem: grading.assign(s, out, run_tests=False) for s in SOURCES}


@pytest.mark.slow
def test_committed_student_notebooks_are_generated(generated):
    """notebooks/exercises/ holds exactly what the sources generate (no hand-edited copy)."""
    for name, made in generated.items():
        committed = EXERCISES / f"{name}.ipynb"
        assert committed.read_text() == made.student.read_text(), (
            f"{committed.relative_to(ROOT)} differs from what its source generates; run: jepa-lab"
            " assign notebooks/assignments/*.ipynb dist --student-dir notebooks/exercises"
        )
        student = json.loads(made.student.read_text())
        solution = json.loads(made.solution.read_text())
        hidden = "hidden=True"
        assert hidden not in json.dumps(student["metadata"]["otter"]["tests"]), name
        assert hidden in json.dumps(solution["metadata"]["otter"]["tests"]), name
        assert "BEGIN SOLUTION" not in made.student.read_text(), name


def _with_answer(student: Path, dest: Path, answers: dict[str, str]) -> Path:
    """A copy of ``student`` whose code cells containing a key of ``answers`` hold its value."""
    nb = nbformat.read(student, as_version=4)
    for cell in nb.cells:
        for marker, source in answers.items():
            if cell.cell_type == "code" and marker in cell.source:
                cell.source = source
    nbformat.write(nb, dest)
    return dest


ONE_MINUS_COS = """
def one_minus_cos(pred, target):
    return (1 - (pred * target).sum(-1) / (pred.norm(dim=-1) * target.norm(dim=-1))).mean()
"""
INFO_NCE_WITHOUT_TEMPERATURE = """
def info_nce(pred, target, temperature=0.07):
    p, t = pred / pred.norm(dim=-1, keepdim=True), target / target.norm(dim=-1, keepdim=True)
    scores = p @ t.T  # forgot: / temperature
    return -(scores - torch.logsumexp(scores, dim=-1, keepdim=True)).diagonal().mean()
"""


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_grade_a_folder_of_submissions(generated, tmp_path: Path):
    """Five kinds of submission of exercise 2, and a file that is not a notebook, graded into one
    CSV; the solutions of the other exercises get full marks too."""
    ex2 = generated["ex2_distances"]
    subs = tmp_path / "submissions"
    subs.mkdir()
    (subs / "solution.ipynb").write_bytes(ex2.solution.read_bytes())
    (subs / "untouched.ipynb").write_bytes(ex2.student.read_bytes())
    _with_answer(
        ex2.student,
        subs / "partial.ipynb",
        {"def one_minus_cos": ONE_MINUS_COS, "def info_nce": INFO_NCE_WITHOUT_TEMPERATURE},
    )
    _with_answer(
        ex2.student,
        subs / "loops.ipynb",
        {"def one_minus_cos": ONE_MINUS_COS, "def info_nce": "while True:\n    pass\n"},
    )
    _with_answer(
        ex2.solution,
        subs / "import_error.ipynb",
        {  # the solution, but one cell
            "def info_nce": "from jepa_lab.objective.losses import info_nce_reference\n"
        },
    )  # raises ImportError
    (subs / "not_a_notebook.ipynb").write_text("this is not JSON")
    csv_path = tmp_path / "grades.csv"
    grades = grading.grade(
        ex2.autograder, subs, csv_path, timeout_s=TIMEOUT_S, jobs=2, env={"JEPA_LAB_SMOKE": "1"}
    )
    print(csv_path.read_text())
    rows = {r["student"]: r for r in csv.DictReader(csv_path.open())}
    expected = {  # one_minus_cos, info_nce, on_the_model (of 3, 4, 1)
        "solution": (3, 4, 1),
        "untouched": (0, 0, 0),
        "partial": (3, 1, 1),  # info_nce: only the shape check passes without the temperature
        "loops": (0, 0, 0),
        "import_error": (3, 0, 1),
        "not_a_notebook": (0, 0, 0),
    }
    assert set(rows) == set(expected)
    questions = ("one_minus_cos", "info_nce", "on_the_model")
    for student, scores in expected.items():
        row = rows[student]
        assert tuple(float(row[q]) for q in questions) == scores, (student, row)
        assert float(row["total"]) == sum(scores) and float(row["possible"]) == 8, row
    for student in ("solution", "untouched", "partial", "import_error"):
        assert rows[student]["status"] == "graded", rows[student]
    assert rows["loops"]["status"] == f"timed out after {TIMEOUT_S} s"
    assert rows["not_a_notebook"]["status"].startswith("error (exit 1)"), rows["not_a_notebook"]
    assert float(rows["loops"]["seconds"]) < TIMEOUT_S + 30
    assert {g.student for g in grades} == set(expected)
    logs = csv_path.with_name("grades_logs")
    assert "Total Score: 8.000 / 8.000" in (logs / "solution.log").read_text()


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_every_solution_gets_full_marks(generated, tmp_path: Path):
    for name, made in generated.items():
        if name == "ex2_distances":
            continue  # graded above
        sub = tmp_path / name
        sub.mkdir()
        (sub / "solution.ipynb").write_bytes(made.solution.read_bytes())
        (grade,) = grading.grade(
            made.autograder, sub, timeout_s=TIMEOUT_S, env={"JEPA_LAB_SMOKE": "1"}
        )
        possible = grading.question_points(made.autograder)
        assert grade.status == "graded" and grade.scores == possible, (name, grade)
        assert sum(possible.values()) >= 5, (name, possible)


def test_csv_layout(tmp_path: Path):
    grades = [
        grading.Grade("bob", {"q1": 2.0, "q2": 0.5}, {"q1": 2.0, "q2": 1.0}, seconds=3.14),
        grading.Grade("eve", {"q1": 0.0, "q2": 0.0}, {"q1": 2.0, "q2": 1.0}, "timed out after 9 s"),
    ]
    path = grading.write_csv(grades, tmp_path / "out" / "g.csv")
    assert path.read_text().splitlines() == [
        "student,q1,q2,total,possible,status,seconds",
        "bob,2,0.5,2.5,3,graded,3.1",
        "eve,0,0,0,3,timed out after 9 s,0.0",
    ]


def test_scores_from_otter_results():
    results = {
        "tests": [
            {"name": "Public Tests", "visibility": "visible", "status": "passed"},
            {"name": "q1", "score": 1.5, "max_score": 2},
        ]
    }
    scores, problem = checked_scores(json.dumps(results).encode(), {"q1": 2.0, "q2": 1.0})
    assert (scores, problem) == ({"q1": 1.5, "q2": 0.0}, None)


def test_kill_tree_kills_grandchildren():
    """A looping kernel is a grandchild in its own session: the kill must reach it."""
    import subprocess
    import sys
    import time

    import psutil

    script = (
        "import subprocess, sys, time\n"
        "subprocess.Popen([sys.executable, '-c', 'while True: pass'], start_new_session=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", script])
    try:
        for _ in range(100):  # wait for the grandchild to start
            children = psutil.Process(proc.pid).children(recursive=True)
            if children:
                break
            time.sleep(0.05)
        assert children, "grandchild did not start"
        sandbox.kill_tree(proc.pid)
        proc.wait(timeout=10)
        assert not any(c.is_running() and c.status() != psutil.STATUS_ZOMBIE for c in children)
    finally:
        if proc.poll() is None:
            proc.kill()
