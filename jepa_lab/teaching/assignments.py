"""Generate an exercise with ``otter assign``: student notebook, solution, autograder zip.

The output folder ``OUT_DIR/<name>/`` holds a marker (``.jepa-lab-assign``) listing every file
and folder ``assign`` wrote there; regenerating deletes exactly those, and refuses, in one line
and before deleting anything, when the folder holds anything else (a student's work copied in,
a folder made by hand) or was not made by ``assign`` at all.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

MARKER = ".jepa-lab-assign"  # lists what assign wrote, so that a rerun deletes only that
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@dataclass
class Assignment:
    """What ``otter assign`` made from one source notebook."""

    name: str
    student: Path  # the notebook to hand out
    solution: Path  # the solution notebook (also graded against the tests by otter assign)
    autograder: Path  # the zip that grading needs


# ----------------------------------------------------------------------------- generate


def assign(source: Path | str, out_dir: Path | str, run_tests: bool = True) -> Assignment:
    """Run ``otter assign`` on ``source`` into ``out_dir/<stem>/``, replacing what an earlier
    ``assign`` wrote there (listed in its ``.jepa-lab-assign``); refuses to touch anything else.

    With ``run_tests`` otter also grades the solution against every test, public and hidden, and
    fails if one does not pass. The autograder zip is renamed ``autograder.zip`` (otter stamps the
    time into its name) and the student notebook's cell ids are made stable, so regenerating an
    unchanged source gives the same student notebook.
    """
    source = Path(source)
    if not source.is_file():
        raise FileNotFoundError(f"assign: no source notebook at {source}")
    if source.suffix != ".ipynb" or not _NAME.fullmatch(source.stem) or source.stem in {".", ".."}:
        raise ValueError(
            f"assign: {source}: name it like ex1_name.ipynb (letters, digits, '_', '-', '.'),"
            " since its name becomes the output folder's"
        )
    target = Path(out_dir) / source.stem
    _remove_earlier_output(target)
    cmd = [sys.executable, "-m", "otter", "assign", str(source), str(target)]
    if not run_tests:
        cmd.insert(4, "--no-run-tests")
    done = subprocess.run(cmd, capture_output=True, text=True)
    zips = sorted((target / "autograder").glob("*.zip")) if target.exists() else []
    if target.is_dir():
        _write_marker(target)  # before any error: a failed run's files are also ours
    if done.returncode != 0 or len(zips) != 1:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-25:])
        raise RuntimeError(f"otter assign failed for {source} (exit {done.returncode}):\n{tail}")
    autograder = zips[0].rename(zips[0].with_name("autograder.zip"))
    student = target / "student" / source.name
    _stable_cell_ids(student, prefix=source.stem.split("_")[0])
    _write_marker(target)
    return Assignment(source.stem, student, target / "autograder" / source.name, autograder)


def _files_below(folder: Path) -> list[str]:
    """Every entry below ``folder`` (folders end in "/"), except the marker."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder):
        for name in filenames + dirnames:
            path = Path(dirpath, name)
            rel = path.relative_to(folder).as_posix()
            found.append(rel + "/" if path.is_dir() and not path.is_symlink() else rel)
    return sorted(f for f in found if f != MARKER)


def _write_marker(target: Path) -> None:
    (target / MARKER).write_text(json.dumps(_files_below(target), indent=0) + "\n")


def _remove_earlier_output(target: Path) -> None:
    """Delete what an earlier ``assign`` listed in ``target``'s marker, or refuse in one line."""
    if not target.exists() and not target.is_symlink():
        return
    if target.is_symlink() or not target.is_dir():
        raise FileExistsError(f"assign: {target} exists and is not a folder assign made")
    present = _files_below(target)
    if not (target / MARKER).is_file():
        if not present and not any(target.iterdir()):
            return
        raise FileExistsError(
            f"assign: {target} exists and was not made by assign (no {MARKER} in it); move it"
            " away or choose another output folder"
        )
    try:
        ours = set(json.loads((target / MARKER).read_text()))
    except (ValueError, TypeError):
        raise FileExistsError(
            f"assign: {target / MARKER} is damaged; remove {target} yourself"
        ) from None
    theirs = [f for f in present if f not in ours]
    if theirs:
        raise FileExistsError(
            f"assign: {target / theirs[0]} was not written by assign; move it away first"
            " (nothing was deleted)"
        )
    for rel in present:
        if not rel.endswith("/"):
            (target / rel).unlink()
    (target / MARKER).unlink()
    for rel in sorted((r for r in present if r.endswith("/")), key=lambda r: -r.count("/")):
        (target / rel).rmdir()  # empty now: every file in it was listed
    target.rmdir()


def _stable_cell_ids(path: Path, prefix: str) -> None:
    import nbformat

    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{prefix}-{i:02d}"
    nbformat.write(nb, path)
