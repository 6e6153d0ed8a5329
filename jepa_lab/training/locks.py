"""One process per run directory: an exclusive ``fcntl.flock`` on a lock file inside it, held
for the whole of ``train()``.

Without it, a second ``train --overwrite`` on a running run's directory interleaved two runs
into one folder (a ``run.json`` of one seed, a history of both, a ``final/`` of the other) and
both exited 0. The lock is taken before anything in the directory is read or removed, so the
second process changes nothing and says which process holds the directory.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from jepa_lab.training.rundir import LOCK_FILE, RunDirectoryError


class RunDirectoryBusy(RunDirectoryError):
    """Another process holds the run directory's lock."""


def _holder(lock_path: Path) -> str:
    try:
        pid = lock_path.read_text(encoding="utf-8").strip()
    except OSError:
        pid = ""
    return f"PID {pid}" if pid.isdigit() else "an unknown PID"


def _not_writable(run_dir: Path, err: OSError) -> RunDirectoryError:
    return RunDirectoryError(
        f"{run_dir}: the run directory is not writable ({err.strerror}); choose a directory "
        "you can write to"
    )


@contextmanager
def run_dir_lock(run_dir: str | os.PathLike) -> Iterator[Path]:
    """Hold ``run_dir``'s lock for the block (creating the directory if it does not exist).

    A second process gets :class:`RunDirectoryBusy` naming the holder's PID; a directory it
    cannot write gets a :class:`RunDirectoryError`. The lock file is removed on the way out,
    while still held; a stale one (from a killed run) is simply locked again.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir} is a file, not a directory; choose another run dir")
    created = [d for d in (run_dir, *run_dir.parents) if not d.exists()]  # innermost first
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except PermissionError as err:
        raise _not_writable(run_dir, err) from None
    lock_path = run_dir / LOCK_FILE
    while True:
        try:
            fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
        except PermissionError as err:
            raise _not_writable(run_dir, err) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            os.close(fd)
            if err.errno not in (errno.EAGAIN, errno.EACCES):
                raise
            raise RunDirectoryBusy(
                f"{run_dir} is in use by another jepa-lab process ({_holder(lock_path)}); wait "
                "for it to finish, or choose another run directory"
            ) from None
        # the holder before us may have removed the file between our open and our lock: the
        # lock is only ours if it is on the file that is there now
        try:
            same = os.fstat(fd).st_ino == os.stat(lock_path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)
    try:
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
    except OSError as err:  # a full disk or a quota: not a reason to run unlocked
        os.close(fd)
        raise RunDirectoryError(f"{lock_path}: cannot record the lock holder ({err})") from err
    try:
        yield run_dir
    finally:
        try:
            lock_path.unlink(missing_ok=True)
            for folder in created:  # refused before writing anything: leave no empty dirs
                if any(folder.iterdir()):
                    break
                folder.rmdir()
        except OSError:
            pass
        os.close(fd)
