"""The grader's checks that need no otter run: the score check against the zip, changed test
files, the CSV (escaping, row by row, resume), option and input validation, assign's refusal to
delete what it did not write, and the sandbox's own limits on small commands."""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import sys
import time
from pathlib import Path

import psutil
import pytest
from test_grading_sandbox import POINTS, make_autograder, make_notebook

from jepa_lab.teaching import grading, sandbox
from jepa_lab.teaching.assignments import MARKER
from jepa_lab.teaching.grade_checks import changed_tests, checked_scores, load_autograder
from jepa_lab.teaching.grade_table import Grade, Table, finished_rows


def _results(*entries: dict) -> bytes:
    return json.dumps({"tests": [{"name": "Public Tests", "score": None}, *entries]}).encode()


@pytest.mark.parametrize(
    "entry, reason",
    [
        ({"name": "q1", "score": 1000, "max_score": 1000}, "question 'q1' scored 1000 of 2"),
        ({"name": "q1", "score": 2, "max_score": 1000}, "question 'q1' claims 1000 points, not 2"),
        ({"name": "q9", "score": 0}, "unknown question 'q9'"),
        ({"name": "q1", "score": float("nan")}, "question 'q1' scored nan of 2"),
        ({"name": "q1", "score": -1}, "question 'q1' scored -1 of 2"),
        ({"name": "q1", "score": True}, "question 'q1' scored True of 2"),
    ],
)
def test_a_score_the_zip_does_not_allow_is_refused(entry, reason):
    scores, problem = checked_scores(_results(entry), POINTS)
    assert problem == reason and scores == {"q1": 0, "q2": 0}


def test_scores_within_the_zip_are_taken():
    ok = _results({"name": "q1", "score": 1.5, "max_score": 2}, {"name": "q2", "score": 1})
    assert checked_scores(ok, POINTS) == ({"q1": 1.5, "q2": 1.0}, None)
    assert checked_scores(_results(), POINTS) == ({"q1": 0.0, "q2": 0.0}, None)
    twice = _results({"name": "q2", "score": 1}, {"name": "q2", "score": 1})
    assert checked_scores(twice, POINTS)[1] == "question 'q2' reported twice"
    assert checked_scores(b"[1, 2", POINTS)[1].startswith("results.json is not otter's")


def test_points_and_test_hashes_come_from_the_zip(tmp_path: Path):
    ag = load_autograder(make_autograder(tmp_path / "ag.zip"))
    assert ag.points == POINTS
    assert ag.sha256 == hashlib.sha256((tmp_path / "ag.zip").read_bytes()).hexdigest()
    assert ag.changed_on_disk() is None
    (tmp_path / "ag.zip").write_bytes(b"overwritten")
    assert "changed during grading" in ag.changed_on_disk()


def test_a_changed_or_linked_test_file_is_found(tmp_path: Path):
    import zipfile

    ag = load_autograder(make_autograder(tmp_path / "ag.zip"))
    ag_dir = tmp_path / "autograder"
    for folder in ("source", "submission"):
        with zipfile.ZipFile(tmp_path / "ag.zip") as zf:
            zf.extractall(ag_dir / folder)
    assert changed_tests(ag_dir, ag) is None
    (ag_dir / "submission/tests/q2.py").write_text("points = 1000\n")
    assert changed_tests(ag_dir, ag) == "submission/tests/q2.py was changed during grading"
    (ag_dir / "submission/tests/q2.py").unlink()
    (ag_dir / "submission/tests/q2.py").symlink_to(ag_dir / "source/tests/q2.py")
    assert "cannot be checked" in changed_tests(ag_dir, ag)
    (ag_dir / "submission/tests/q2.py").unlink()
    assert "other test files" in changed_tests(ag_dir, ag)


def test_csv_cells_that_a_spreadsheet_would_run_are_quoted(tmp_path: Path):
    path = tmp_path / "g.csv"
    table = Table(path, list(POINTS), {})
    for name in ("=HYPERLINK(1)", "+1", "-1", "@SUM(A1)", "plain"):
        table.add(Grade(name, {"q1": 0, "q2": 0}, POINTS, status="-x"))
    rows = list(csv.reader(path.open()))[1:]
    assert [r[0] for r in rows] == ["'+1", "'-1", "'=HYPERLINK(1)", "'@SUM(A1)", "plain"]
    assert {r[5] for r in rows} == {"'-x"}


def test_rows_are_on_disk_as_they_finish_and_resume_keeps_them(tmp_path, monkeypatch):
    """A grader killed after the first submission keeps its row; --resume grades only the rest."""
    zip_path = make_autograder(tmp_path / "ag.zip")
    subs = tmp_path / "subs"
    subs.mkdir()
    for name in ("alice", "bob"):
        make_notebook(subs / f"{name}.ipynb", "x = 42\n")
    graded = []

    def fake_grade_one(ag, path, *args):
        graded.append(path.stem)
        if path.stem == "bob":
            raise KeyboardInterrupt  # the grader is killed while grading bob
        return Grade(path.stem, {"q1": 2.0, "q2": 0.0}, ag.points, seconds=1.0)

    monkeypatch.setattr(grading, "_grade_one", fake_grade_one)
    csv_path = tmp_path / "g.csv"
    with pytest.raises(KeyboardInterrupt):
        grading.grade(zip_path, subs, csv_path)
    assert csv_path.read_text().splitlines()[1:] == ["alice,2,0,2,3,graded,1.0"]
    graded.clear()

    def second_run(ag, path, *args):
        graded.append(path.stem)
        return Grade(path.stem, {"q1": 0.0, "q2": 1.0}, ag.points)

    monkeypatch.setattr(grading, "_grade_one", second_run)
    grading.grade(zip_path, subs, csv_path, resume=True)
    assert graded == ["bob"]
    assert csv_path.read_text().splitlines()[1:] == [
        "alice,2,0,2,3,graded,1.0",
        "bob,0,1,1,3,graded,0.0",
    ]
    assert finished_rows(csv_path, list(POINTS))["bob"][1:3] == ["0", "1"]
    with pytest.raises(ValueError, match="--resume: .* has columns student,q1,q2"):
        finished_rows(csv_path, ["q1"])


# ----------------------------------------------------------------------------- options, inputs


def _no_grading(*args, **kwargs):
    raise AssertionError("grading started before the inputs were checked")


@pytest.mark.parametrize("timeout", ["nan", "0", "-5", "inf"])
def test_a_timeout_that_is_no_limit_is_refused_in_one_line(timeout, tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(grading, "_grade_one", _no_grading)
    zip_path = make_autograder(tmp_path / "ag.zip")
    make_notebook(tmp_path / "alice.ipynb", "x = 42\n")
    code = grading.main(["grade", str(zip_path), str(tmp_path), "--timeout", timeout])
    err = capsys.readouterr().err
    assert code == 1 and err.count("\n") == 1, err
    assert err == f"error: --timeout must be a finite number of seconds > 0, not {float(timeout)}\n"


def test_a_csv_path_that_is_a_folder_fails_before_grading(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(grading, "_grade_one", _no_grading)
    zip_path = make_autograder(tmp_path / "ag.zip")
    make_notebook(tmp_path / "alice.ipynb", "x = 42\n")
    (tmp_path / "out").mkdir()
    code = grading.main(["grade", str(zip_path), str(tmp_path), "--csv", str(tmp_path / "out")])
    err = capsys.readouterr().err
    assert code == 1 and err.startswith(f"error: --csv {tmp_path}/out is a directory"), err


def test_unusable_files_get_a_row_that_says_why(tmp_path, monkeypatch):
    monkeypatch.setattr(grading, "_grade_one", _no_grading)
    zip_path = make_autograder(tmp_path / "ag.zip")
    subs = tmp_path / "subs"
    subs.mkdir()
    real = make_notebook(tmp_path / "elsewhere.ipynb", "x = 42\n")
    (subs / "linked.ipynb").symlink_to(real)
    (subs / "zipped.zip").write_bytes(b"PK")
    (subs / "shouty.IPYNB").write_bytes(real.read_bytes())
    (subs / "notes.txt").write_text("not a submission: no row")
    csv_path = tmp_path / "g.csv"
    grading.grade(zip_path, subs, csv_path)
    status = {r["student"]: r["status"] for r in csv.DictReader(csv_path.open())}
    assert status == {
        "linked": "skipped: a symbolic link; hand in the notebook itself",
        "zipped.zip": "skipped: a .zip; hand in the .ipynb itself",
        "shouty.IPYNB": "skipped: extension '.IPYNB' is not '.ipynb'",
    }


def test_help_says_what_is_isolated(capsys):
    with pytest.raises(SystemExit):
        grading.main(["grade", "--help"])
    out = " ".join(capsys.readouterr().out.split())
    for words in ("PID, network (loopback only) and mount namespaces", "uid 65534", "--no-sandbox"):
        assert words in out, words


def test_a_missing_layer_is_said_in_one_line(monkeypatch):
    real_which = sandbox.shutil.which
    monkeypatch.setattr(sandbox.shutil, "which", lambda n: None if n == "bwrap" else real_which(n))
    sandbox.isolation.cache_clear()
    try:
        iso = sandbox.isolation()
    finally:
        sandbox.isolation.cache_clear()
    assert iso.mode in ("unshare", "none")
    assert iso.warnings[0].startswith("grading sandbox: bubblewrap (bwrap) not found")
    assert all("\n" not in w for w in iso.warnings)
    off = sandbox.isolation(False)
    assert off.mode == "off" and "--no-sandbox" in off.warnings[0]


# ----------------------------------------------------------------------------- assign


def test_assign_refuses_to_delete_what_it_did_not_write(tmp_path: Path):
    source = tmp_path / "ex.ipynb"
    make_notebook(source, "x = 1\n")
    thesis = tmp_path / "out" / "ex" / "mywork" / "thesis.txt"
    thesis.parent.mkdir(parents=True)
    thesis.write_text("three years of work")
    with pytest.raises(FileExistsError, match="was not made by assign"):
        grading.assign(source, tmp_path / "out")
    # a folder assign made, to which a user added a file: still refused, nothing deleted
    made = tmp_path / "out" / "ex"
    (made / "student").mkdir()
    (made / "student" / "ex.ipynb").write_text("{}")
    (made / MARKER).write_text(json.dumps(["student/", "student/ex.ipynb"]))
    with pytest.raises(FileExistsError, match="out/ex/mywork was not written by assign"):
        grading.assign(source, tmp_path / "out")
    assert thesis.read_text() == "three years of work"
    assert (made / "student" / "ex.ipynb").exists()


def test_assign_refuses_a_name_that_is_no_folder(tmp_path: Path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    dots = tmp_path / "..ipynb"
    make_notebook(dots, "x = 1\n")
    with pytest.raises(ValueError, match="name it like ex1_name.ipynb"):
        grading.assign(dots, out)
    assert (out / "keep.txt").read_text() == "mine"


def test_assign_removes_exactly_what_its_marker_lists(tmp_path: Path):
    from jepa_lab.teaching.assignments import _remove_earlier_output, _write_marker

    made = tmp_path / "ex"
    (made / "autograder").mkdir(parents=True)
    (made / "autograder" / "autograder.zip").write_bytes(b"z")
    _write_marker(made)
    _remove_earlier_output(made)
    assert not made.exists()


# ----------------------------------------------------------------------------- the sandbox


def _jail(tmp_path: Path, iso: sandbox.Isolation):
    """Run a Python snippet in ``iso``'s sandbox, as the grader's runner would start it."""
    home = tmp_path / "home"
    home.mkdir()
    os.chmod(tmp_path, 0o755)
    if iso.drop_to is not None:
        os.chown(home, iso.drop_to, iso.drop_to)
    setup = "from jepa_lab.teaching import grade_runner as r\n"
    setup += "r.loopback_up()\n" if iso.mode == "unshare" else ""
    setup += f"r.drop_privileges({iso.drop_to})\n" if iso.drop_to is not None else ""

    def run(code: str, timeout_s: float = 60, memory: int = 2 << 30, **kw):
        cmd = [sys.executable, "-c", f"{setup}exec({code!r})"]
        env = sandbox.clean_env(iso.home_inside or str(home), {})
        return sandbox.run(sandbox.wrap(cmd, home, iso, env), env, home, timeout_s, memory, **kw)

    return run


@pytest.fixture
def jail(tmp_path: Path):
    iso = sandbox.isolation()
    if iso.mode != "bwrap":
        pytest.skip(f"needs bubblewrap; here: {iso.describe()}")
    return _jail(tmp_path, iso)


def _daemon_survives(jail) -> list:
    token = f"jepa-lab-test-daemon-{time.time_ns()}"
    daemon = (
        "import os, subprocess, sys\n"
        "code = 'import os, sys, time\\nif os.fork(): sys.exit(0)\\nos.setsid()\\n"
        "if os.fork(): sys.exit(0)\\ntime.sleep(60)'\n"
        f"subprocess.run([sys.executable, '-c', code, {token!r}])\n"
        "print('forked')\n"
    )
    done = jail(daemon)
    assert done.returncode == 0 and "forked" in done.output, done.output
    return [p for p in psutil.process_iter(["cmdline"]) if token in (p.info["cmdline"] or [])]


def test_without_bwrap_unshare_still_kills_the_daemon_and_gives_loopback(tmp_path):
    said: list[str] = []
    iso = sandbox._as_root_if_needed("unshare", sandbox.NOBODY if os.geteuid() == 0 else None, said)
    if iso is None:
        pytest.skip(f"unshare cannot run here: {said}")
    assert all("\n" not in line for line in said)  # e.g. uid 65534 cannot read /root's Python
    jail = _jail(tmp_path, iso)
    assert _daemon_survives(jail) == []
    done = jail("import os, socket; socket.socket().bind(('127.0.0.1', 0)); print(os.getuid())")
    assert done.returncode == 0, done.output
    assert int(done.output) == (iso.drop_to if iso.drop_to is not None else 0)


def test_the_sandbox_kills_a_daemon_and_a_loop(jail, tmp_path):
    assert _daemon_survives(jail) == []
    start = time.monotonic()
    looped = jail("while True: pass", timeout_s=2)
    assert looped.timed_out and time.monotonic() - start < 20


def test_the_sandbox_hides_env_files_and_caps_memory_and_output(jail, tmp_path, monkeypatch):
    monkeypatch.setenv("SECRET_TOKEN", "s3cret")
    probe = (
        "import os\n"
        "print(sorted(os.environ), os.getuid())\n"
        f"print(os.path.exists({str(tmp_path)!r}), os.path.exists('/work/main/notebooks'))\n"
        "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print('loopback')\n"
    )
    done = jail(probe)
    assert done.returncode == 0, done.output
    names, uid = done.output.splitlines()[0].rsplit(" ", 1)
    allowed = {"PATH", "HOME", "LANG", "TMPDIR", "PYTHONDONTWRITEBYTECODE", "MALLOC_ARENA_MAX"}
    allowed |= {"PWD", "LC_CTYPE"}  # set by bwrap and by Python itself
    assert set(eval(names)) <= allowed, names  # noqa: S307 - our own print
    assert int(uid) == (sandbox.NOBODY if os.geteuid() == 0 else os.getuid())
    assert done.output.splitlines()[1:] == ["False False", "loopback"]
    hog = jail("b = bytearray(3 << 30)", memory=1 << 30)
    assert hog.returncode != 0 and "MemoryError" in hog.output
    loud = jail("print('x' * (5 << 20))", output_bytes=1 << 16)
    assert len(loud.output) < (1 << 16) + 100 and "[output cut:" in loud.output
    assert math.isfinite(loud.seconds)


def test_the_cli_reports_skips_and_its_isolation_and_checks_env_pairs(tmp_path, capsys):
    zip_path = make_autograder(tmp_path / "ag.zip")
    subs = tmp_path / "subs"
    subs.mkdir()
    (subs / "alice.zip").write_bytes(b"PK")
    csv_path = tmp_path / "g.csv"
    args = ["grade", str(zip_path), str(subs), "--csv", str(csv_path)]
    assert grading.main([*args, "--env", "JEPA_LAB_SMOKE=1"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["alice.zip:", "0", "/", "3", "skipped:", "a", ".zip;"] + [
        "hand",
        "in",
        "the",
        ".ipynb",
        "itself",
    ]
    assert out[-1] == f"grading sandbox: {sandbox.isolation().describe()}"
    assert grading.main([*args, "--env", "NO_EQUALS_SIGN"]) == 1
    assert capsys.readouterr().err == "error: --env 'NO_EQUALS_SIGN': expected NAME=VALUE\n"
