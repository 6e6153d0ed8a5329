"""Every notebook under notebooks/ is committed clean and runs top to bottom in smoke mode.

Picked up automatically: any ``*.ipynb`` added under notebooks/ is checked and executed.
Exercises (``notebooks/exercises/*.ipynb``) are the student notebooks otter-grader generates from
the sources in ``notebooks/assignments/`` (tests/test_grading.py checks they are up to date and
grades them); here they must run end to end unsolved, every ``grader.check`` reporting the
missing answer (never a pass).
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError, CellTimeoutError

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = ROOT / "notebooks"
EXERCISE_DIR = NOTEBOOK_DIR / "exercises"
ASSIGNMENT_DIR = NOTEBOOK_DIR / "assignments"  # otter-assign sources: solutions and tests
# owner/name, from the one place the repository is named (pyproject.toml [project.urls])
REPOSITORY = re.search(
    r'^Repository = "([^"]+)"$', (ROOT / "pyproject.toml").read_text(encoding="utf-8"), re.M
).group(1)
GITHUB = REPOSITORY.removeprefix("https://github.com/")
CELL_TIMEOUT_S = 120  # one cell; a smoke run of a whole notebook takes seconds
NOTEBOOK_TIMEOUT_S = 300

NOTEBOOKS = sorted(
    p
    for p in NOTEBOOK_DIR.rglob("*.ipynb")
    if ".ipynb_checkpoints" not in p.parts and ASSIGNMENT_DIR not in p.parents
)
SOURCES = sorted(ASSIGNMENT_DIR.glob("*.ipynb"))
EXERCISES = [p for p in NOTEBOOKS if p.parent == EXERCISE_DIR]
RUNNABLE = [p for p in NOTEBOOKS if p not in EXERCISES]
ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
SMOKE_LINE = re.compile(
    r"""^SMOKE\s*=\s*os\.environ\.get\(\s*["']JEPA_LAB_SMOKE["']\s*\)\s*==\s*["']1["']""",
    re.MULTILINE,
)


def _id(path: Path) -> str:
    return path.relative_to(NOTEBOOK_DIR).as_posix() if NOTEBOOK_DIR in path.parents else path.name


def _read(path: Path) -> nbformat.NotebookNode:
    return nbformat.read(path, as_version=4)


def _tags(cell) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def _text_output(cell) -> str:
    """Everything a code cell printed or displayed as text."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        elif "data" in out:
            parts.append(str(out["data"].get("text/plain", "")))
    return "".join(parts)


def _execute(path: Path, monkeypatch: pytest.MonkeyPatch) -> nbformat.NotebookNode:
    """Run the notebook in a fresh python3 kernel (this interpreter's) with JEPA_LAB_SMOKE=1.

    A failing cell fails the test with that cell's source and error (nbclient's message).
    """
    monkeypatch.setenv("JEPA_LAB_SMOKE", "1")  # the kernel inherits this process's environment
    monkeypatch.setenv("PYDEVD_DISABLE_FILE_VALIDATION", "1")  # quiet debugger warning
    nb = _read(path)
    client = NotebookClient(
        nb,
        timeout=CELL_TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},  # cwd = the notebook's folder
    )
    before = _files_under(NOTEBOOK_DIR)
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError) as err:
        message = ANSI_ESCAPE.sub("", str(err))  # the kernel colours its tracebacks
        pytest.fail(f"{_id(path)}: a cell failed in smoke mode:\n{message}", pytrace=False)
    after = _files_under(NOTEBOOK_DIR)
    # otter's grader.check always logs to .OTTER_LOG beside the notebook (gitignored, and the
    # exercise test removes it); anything else written there is a notebook's own file.
    written = sorted(
        str(f) for f in after if before.get(f) != after[f] and Path(f).name != ".OTTER_LOG"
    )
    assert not written, f"{_id(path)} wrote into the repository (use a temp dir): {written[:5]}"
    return nb


def _files_under(folder: Path) -> dict[Path, int]:
    """Every file below ``folder`` with its modification time: what a smoke run must not add
    or change (runs/ folders next to the notebooks were left behind by the tests)."""
    return {
        f.relative_to(folder): f.stat().st_mtime_ns
        for f in folder.rglob("*")
        if f.is_file() and ".ipynb_checkpoints" not in f.parts
    }


# ----------------------------------------------------------------------------- committed form


def test_notebooks_exist():
    assert (NOTEBOOK_DIR / "01_packed_rows_and_the_mask.ipynb") in NOTEBOOKS
    assert EXERCISES, "no exercises under notebooks/exercises/"


@pytest.mark.parametrize("path", NOTEBOOKS + SOURCES, ids=_id)
def test_committed_without_outputs(path: Path):
    nb = _read(path)
    nbformat.validate(nb)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type == "code":
            assert cell.get("outputs") == [], f"{_id(path)} cell {i}: outputs not cleared"
            assert cell.get("execution_count") is None, (
                f"{_id(path)} cell {i}: execution_count should be null"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_opens_with_badges_and_what_you_will_learn(path: Path):
    nb = _read(path)
    first = nb.cells[0]
    assert first.cell_type == "markdown", f"{_id(path)}: the first cell must be markdown"
    assert "What you will learn" in first.source, f"{_id(path)}: no 'What you will learn'"
    rel = _id(path)
    colab = f"https://colab.research.google.com/github/{GITHUB}/blob/main/notebooks/{rel}"
    binder = f"https://mybinder.org/v2/gh/{GITHUB}/main?labpath=notebooks/{rel}"
    assert colab in first.source, f"{rel}: missing or wrong Colab badge link, expected {colab}"
    assert binder in first.source, f"{rel}: missing or wrong Binder badge link, expected {binder}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=_id)
def test_colab_install_then_parameters_cell(path: Path):
    code = [c for c in _read(path).cells if c.cell_type == "code"]
    assert code, f"{_id(path)}: no code cells"
    install = code[0].source
    assert '"google.colab" in sys.modules' in install, (
        f"{_id(path)}: the first code cell should install jepa-lab on Colab only"
    )
    assert "run_line_magic" in install and "!pip" not in install, (
        f"{_id(path)}: install through get_ipython().run_line_magic so the cell is plain Python"
    )
    compile(install, _id(path), "exec")  # valid Python, not IPython syntax
    params = [c for c in code if "parameters" in _tags(c)]
    assert len(params) == 1, f"{_id(path)}: expected one code cell tagged 'parameters'"
    assert SMOKE_LINE.search(params[0].source), (
        f'{_id(path)}: the parameters cell must define SMOKE = os.environ.get("JEPA_LAB_SMOKE")'
        ' == "1"'
    )
    assert code.index(params[0]) == 1, f"{_id(path)}: parameters should be the second code cell"


def test_each_exercise_has_one_source():
    """One source of truth: every student notebook is generated from a source of the same name."""
    assert SOURCES, "no otter-assign sources under notebooks/assignments/"
    assert [p.name for p in EXERCISES] == [p.name for p in SOURCES], (
        "notebooks/exercises/ must hold exactly the student notebooks of notebooks/assignments/;"
        " regenerate them with: jepa-lab assign notebooks/assignments/*.ipynb"
        " dist --student-dir notebooks/exercises"
    )


# ----------------------------------------------------------------------------- execution


@pytest.mark.timeout(NOTEBOOK_TIMEOUT_S)
@pytest.mark.parametrize("path", RUNNABLE, ids=_id)
def test_notebook_runs(path: Path, monkeypatch: pytest.MonkeyPatch):
    nb = _execute(path, monkeypatch)
    for i, cell in enumerate(nb.cells):
        if "check" in _tags(cell):
            out = _text_output(cell)
            assert "PASS" in out and "FAIL" not in out and "NOT IMPLEMENTED" not in out, (
                f"{_id(path)} check cell {i} did not pass:\n{out}"
            )


@pytest.mark.timeout(NOTEBOOK_TIMEOUT_S)
@pytest.mark.parametrize("path", EXERCISES, ids=_id)
def test_unsolved_exercise_runs_and_reports_not_implemented(
    path: Path, monkeypatch: pytest.MonkeyPatch
):
    """A student gets a notebook that runs end to end, and every check says what is missing."""
    otter_log = path.parent / ".OTTER_LOG"  # grader.check logs every check next to the notebook
    had_log = otter_log.exists()
    try:
        nb = _execute(path, monkeypatch)
    finally:
        if not had_log:
            otter_log.unlink(missing_ok=True)
    checks = [c for c in nb.cells if c.cell_type == "code" and c.source.startswith("grader.check(")]
    assert checks, f"{_id(path)}: no grader.check cells"
    for cell in checks:
        out = _text_output(cell)
        assert "Test case failed" in out and "NotImplementedError" in out, (
            f"{_id(path)}: an unsolved check should fail on the missing answer:\n{out}"
        )
        assert "All test cases passed" not in out, f"{_id(path)}: unsolved check passed:\n{out}"


def test_smoke_flag_reaches_the_kernel(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    """The notebooks' SMOKE switch depends on the kernel seeing this process's environment."""
    nb = nbformat.v4.new_notebook(
        cells=[
            nbformat.v4.new_code_cell(
                'import os, sys; print(os.environ.get("JEPA_LAB_SMOKE"), sys.prefix)'
            )
        ]
    )
    path = tmp_path / "probe.ipynb"
    nbformat.write(nb, path)
    out = _text_output(_execute(path, monkeypatch).cells[0]).split()
    assert out[0] == "1"
    assert Path(out[1]).resolve() == Path(sys.prefix).resolve(), (
        f"the python3 kernel runs in {out[1]}, the tests in {sys.prefix}: install ipykernel in"
        " the test environment"
    )
