"""Run one untrusted command (a student's grading) in a throwaway sandbox, and kill all of it.

Layers, best first, each probed once (:func:`isolation`); a missing one is named in a warning:

- ``bwrap`` (Debian's ``bubblewrap``): fresh PID, network (loopback only, brought up), mount,
  IPC and UTS namespaces; a root of its own holding read-only binds of the system, the Python
  installation, the virtual environment and the ``jepa_lab`` package, with the submission's
  folder as ``/sandbox`` (its only writable place besides a small private ``/tmp``);
- ``unshare`` (util-linux): the same namespaces, but the whole filesystem stays visible;
- ``none``: a plain process; only the environment, the limits and the process-tree kill remain.

In every mode: an environment of PATH, HOME, LANG and TMPDIR (plus what the caller adds), a
memory limit (RLIMIT_AS), a cap on the size of each file written (RLIMIT_FSIZE) and on the
output kept, no core files, and, where the grader runs as root, uid/gid 65534 (nobody) once the
namespaces are made. When the namespace's first process ends, the kernel kills every process
left in it, so a double-forked daemon cannot outlive its grading; at the time limit the whole
tree is killed.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

NOBODY = 65534
INSIDE_HOME = "/sandbox"  # where bwrap shows the submission's folder
_ETC = (
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "alternatives",
    "localtime",
    "nsswitch.conf",
    "hosts",
    "passwd",
    "group",
    "ssl",
    "mime.types",
)
_UNSHARE = ["--pid", "--net", "--mount", "--ipc", "--uts", "--fork", "--kill-child", "--mount-proc"]


@dataclass(frozen=True)
class Isolation:
    """What this machine lets the grader do; ``warnings`` name each missing layer, one line each."""

    mode: str  # "bwrap", "unshare", "none" or "off" (--no-sandbox)
    drop_to: int | None  # the uid the submission runs as, when the grader is root
    warnings: tuple[str, ...] = ()

    @property
    def home_inside(self) -> str | None:
        """The submission folder's path as the submission sees it (None: the same as outside)."""
        return INSIDE_HOME if self.mode == "bwrap" else None

    def describe(self) -> str:
        who = f"uid {self.drop_to}" if self.drop_to is not None else "your uid"
        return {
            "bwrap": f"bubblewrap: own PID/network/mount namespaces, read-only system, as {who}",
            "unshare": f"unshare: own PID/network/mount namespaces, whole filesystem, as {who}",
            "none": f"no namespaces, as {who}",
            "off": "off (--no-sandbox): as you, with your environment, files and network",
        }[self.mode]


@dataclass
class Outcome:
    returncode: int | None
    timed_out: bool
    output: str
    seconds: float


def _python_roots() -> list[Path]:
    import jepa_lab

    roots = {Path(sys.base_prefix), Path(sys.prefix), Path(jepa_lab.__file__).resolve().parent}
    roots.add(Path(os.path.realpath(sys.executable)).parent.parent)
    return sorted(r for r in roots if r.is_dir())


def _bwrap_args(home: Path, drop: bool) -> list[str]:
    args = ["bwrap", "--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    args += ["--unshare-cgroup-try", "--die-with-parent", "--new-session"]
    if os.geteuid() == 0:
        args += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID"] if drop else []
    else:
        args += ["--unshare-user"]
    # the private /tmp first: binds made after it land on top, so a checkout or venv that lives
    # under /tmp (a CI clone) stays visible instead of being hidden by the empty tmpfs
    args += ["--size", str(256 << 20), "--tmpfs", "/tmp"]
    args += ["--ro-bind", "/usr", "/usr"]
    for top in ("bin", "sbin", "lib", "lib32", "lib64"):
        path = Path("/", top)
        if path.is_symlink():
            args += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            args += ["--ro-bind", str(path), str(path)]
    binds = [Path("/etc", name) for name in _ETC if Path("/etc", name).exists()]
    binds += _python_roots()
    made: set[Path] = set()
    for target in binds:  # bwrap makes missing parents 0700 when root: make them 0755 first
        for parent in reversed(target.parents[:-1]):
            if parent not in made and not str(parent).startswith("/usr"):
                made.add(parent)
                args += ["--perms", "0755", "--dir", str(parent)]
        args += ["--ro-bind", str(target), str(target)]
    args += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/dev/shm"]
    args += ["--bind", str(home), INSIDE_HOME, "--chdir", INSIDE_HOME, "--clearenv"]
    return args


def wrap(inside: list[str], home: Path, iso: Isolation, env: dict[str, str]) -> list[str]:
    """The command line that runs ``inside`` in ``home`` under ``iso``'s layers (bwrap clears
    the environment, then sets ``env``; otherwise ``env`` is the process's, see :func:`run`)."""
    if iso.mode == "bwrap":
        setenv = [a for k, v in env.items() for a in ("--setenv", k, v)]
        return [*_bwrap_args(home, iso.drop_to is not None), *setenv, "--", *inside]
    if iso.mode == "unshare":
        user = [] if os.geteuid() == 0 else ["--user", "--map-root-user"]
        return ["unshare", *user, *_UNSHARE, "--", *inside]
    return list(inside)


def _probe(iso: Isolation) -> str | None:
    """None if ``iso`` works here, else why not: the process starts, brings up and listens on
    loopback, gives up root if it should, and can still import from the Python installation
    and the virtual environment (a uid 65534 cannot, where they live under /root)."""
    import tempfile

    check = "from jepa_lab.teaching import grade_runner as r\n"
    check += "r.loopback_up()\n" if iso.mode == "unshare" else ""
    check += f"r.drop_privileges({iso.drop_to})\n" if iso.drop_to is not None else ""
    check += "import email.parser, psutil, socket\n"
    check += "socket.socket().bind(('127.0.0.1', 0))\n" if iso.mode != "none" else ""
    with tempfile.TemporaryDirectory(prefix="jepa-lab-probe-") as tmp:
        os.chmod(tmp, 0o755)
        env = clean_env(iso.home_inside or tmp, {})
        try:
            done = subprocess.run(
                wrap([sys.executable, "-c", check], Path(tmp), iso, env),
                env=env,
                capture_output=True,
                text=True,
                timeout=60,
                cwd=tmp,
            )
        except (OSError, subprocess.TimeoutExpired) as err:
            return str(err)
    if done.returncode != 0:
        lines = [line for line in done.stderr.strip().splitlines() if line.strip()]
        return (lines[-1] if lines else f"exit {done.returncode}")[:200]
    return None


def _as_root_if_needed(mode: str, drop: int | None, warnings: list[str]) -> Isolation | None:
    """``mode`` with the uid drop if that works, else without it (said), else None."""
    why = _probe(Isolation(mode, drop))
    if why is None:
        return Isolation(mode, drop, tuple(warnings))
    if drop is not None and _probe(Isolation(mode, None)) is None:
        warnings.append(
            f"grading sandbox: uid {drop} cannot run Python here ({why}), so submissions run"
            " as root" + (" inside their namespaces" if mode != "none" else "")
        )
        return Isolation(mode, None, tuple(warnings))
    warnings.append(f"grading sandbox: {mode} cannot run here ({why})")
    return None


@functools.cache
def isolation(sandbox: bool = True) -> Isolation:
    """The best layers this machine allows (probed once per process)."""
    if not sandbox:
        return Isolation("off", None, (f"grading sandbox: {Isolation('off', None).describe()}",))
    drop = NOBODY if os.geteuid() == 0 else None
    warnings: list[str] = []
    if shutil.which("bwrap") is None:
        warnings.append(
            "grading sandbox: bubblewrap (bwrap) not found, so submissions can read every file"
            " their uid can (apt-get install bubblewrap)"
        )
    else:
        found = _as_root_if_needed("bwrap", drop, warnings)
        if found is not None:
            return found
    if shutil.which("unshare") is not None:
        found = _as_root_if_needed("unshare", drop, warnings)
        if found is not None:
            return found
    warnings.append(
        "grading sandbox: no PID/network/mount namespaces (unshare unavailable): submissions"
        " can use the network, see your processes and leave processes running after grading"
    )
    return _as_root_if_needed("none", drop, warnings) or Isolation("none", None, tuple(warnings))


def clean_env(home_inside: str, extra: dict[str, str]) -> dict[str, str]:
    """Only what a kernel needs: no variable of the grader's (tokens, paths) gets in."""
    path = os.pathsep.join([str(Path(sys.executable).parent), "/usr/local/bin", "/usr/bin", "/bin"])
    return {
        "PATH": path,
        "HOME": home_inside,
        "LANG": "C.UTF-8",
        "TMPDIR": f"{home_inside}/tmp",
        "PYTHONDONTWRITEBYTECODE": "1",
        "MALLOC_ARENA_MAX": "2",  # glibc reserves 64 MB per thread otherwise, against RLIMIT_AS
        **extra,
    }


def _limits(memory_bytes: int, file_bytes: int) -> None:
    import resource

    resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
    resource.setrlimit(resource.RLIMIT_FSIZE, (file_bytes, file_bytes))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(
    cmd: list[str],
    env: dict[str, str],
    cwd: Path,
    timeout_s: float,
    memory_bytes: int,
    file_bytes: int = 256 << 20,
    output_bytes: int = 1 << 20,
) -> Outcome:
    """Run ``cmd`` (from :func:`wrap`) with limits; kill its whole tree at ``timeout_s`` and, if
    anything is left, at the end. Keeps the first ``output_bytes`` of its output."""
    start = time.monotonic()
    limits = ["prlimit", f"--as={memory_bytes}", f"--fsize={file_bytes}", "--core=0", "--"]
    use_prlimit = shutil.which("prlimit") is not None  # preexec_fn is unsafe with threads
    proc = subprocess.Popen(
        [*limits, *cmd] if use_prlimit else cmd,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        cwd=cwd,
        start_new_session=True,
        preexec_fn=None if use_prlimit else lambda: _limits(memory_bytes, file_bytes),
    )
    kept = bytearray()

    def drain() -> None:
        dropped = 0
        for chunk in iter(lambda: proc.stdout.read(65536), b""):
            room = output_bytes - len(kept)
            kept.extend(chunk[: max(room, 0)])
            dropped += max(len(chunk) - max(room, 0), 0)
        if dropped:
            kept.extend(f"\n[output cut: {dropped} more bytes]\n".encode())

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        proc.wait(timeout=timeout_s)
        timed_out = False
    except subprocess.TimeoutExpired:
        timed_out = True
    kill_tree(proc.pid)
    proc.wait()
    reader.join(timeout=10)
    text = bytes(kept).decode("utf-8", "replace")
    return Outcome(proc.returncode, timed_out, text, time.monotonic() - start)


def kill_tree(pid: int) -> None:
    """Kill a process and all its descendants (a kernel runs in a session of its own, so its
    process group is not enough); a no-op once they are gone."""
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
