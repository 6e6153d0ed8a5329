"""What runs inside a grading sandbox: otter's grading of one notebook, as ``otter run`` does it,
but in a folder that is kept for the grader's checks afterwards (``otter run`` deletes its own).

    python -m jepa_lab.teaching.grade_runner AUTOGRADER.zip NOTEBOOK.ipynb WORK_DIR \\
        [--loopback] [--uid UID]

``--loopback`` brings up ``lo`` (a fresh network namespace has it down, and the kernel talks to
otter over it); ``--uid`` gives up root for that uid once this process is in its namespaces.
Everything this process writes is the student's to change, so the grader trusts none of it: it
only reads ``results/results.json`` and compares the test files with its own copy of the zip.
"""

from __future__ import annotations

import argparse
import ctypes
import fcntl
import json
import os
import shutil
import socket
import struct
import sys
import zipfile
from pathlib import Path

_SIOCGIFFLAGS, _SIOCSIFFLAGS, _IFF_UP = 0x8913, 0x8914, 0x1
_PR_SET_NO_NEW_PRIVS = 38


def loopback_up() -> None:
    """``ip link set lo up`` without needing iproute2: the ioctl it makes."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        request = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(s, _SIOCGIFFLAGS, request))[1]
        fcntl.ioctl(s, _SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | _IFF_UP))


def drop_privileges(uid: int) -> None:
    """Become ``uid`` for good (real, effective and saved ids; no groups; no setuid gains)."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_NO_NEW_PRIVS) failed")


def lay_out(autograder: Path, notebook: Path, work: Path) -> Path:
    """The folder ``otter run`` builds: source/ (the zip), submission/ (the notebook), results/."""
    ag_dir = work / "autograder"
    for sub in ("source", "submission", "results"):
        (ag_dir / sub).mkdir(parents=True, exist_ok=True)
    (ag_dir / "submission_metadata.json").write_text(json.dumps({}))
    with zipfile.ZipFile(autograder) as zf:
        zf.extractall(ag_dir / "source")
    shutil.copy(notebook, ag_dir / "submission")
    return ag_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jepa_lab.teaching.grade_runner")
    parser.add_argument("autograder", type=Path)
    parser.add_argument("notebook", type=Path)
    parser.add_argument("work", type=Path)
    parser.add_argument("--loopback", action="store_true")
    parser.add_argument("--uid", type=int)
    args = parser.parse_args(argv)
    if args.loopback:
        loopback_up()
    if args.uid is not None:
        drop_privileges(args.uid)
    ag_dir = lay_out(args.autograder, args.notebook, args.work)
    from otter.run.run_autograder import main as run_autograder

    run_autograder(str(ag_dir), logo=False, debug=False, otter_run=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
