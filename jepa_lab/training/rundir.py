"""Run directories: what a run writes, its identity (``run.json``), atomic writes, and the rule
that a directory holding a different run is never overwritten (``overwrite`` removes only
jepa-lab's own files, :data:`RUN_OUTPUTS`)."""

from __future__ import annotations

import json
import os
import re
import shutil
import time
from pathlib import Path
from typing import Any

from jepa_lab import ATOMIC_TEMP, write_atomic  # noqa: F401  (write_atomic: training's import)

RUN_FILE = "run.json"
SUMMARY_FILE = "summary.json"
LOCK_FILE = ".jepa-lab.lock"  # held by the process training in the directory (locks.py)
COMPLETE_MARKER = "COMPLETE"  # a checkpoint is jepa-lab's, and whole, once this is written
REJECTED_MARKER = "REJECTED"  # a checkpoint a resume found damaged (it lost COMPLETE)
# exactly the Trainer's own pattern: checkpoint-notes.txt or checkpoint-mine-3/ are not ours
CHECKPOINT_NAME = re.compile(r"checkpoint-(\d+)")
# what the Trainer and jepa-lab write into a checkpoint folder: an unmarked checkpoint-N (one a
# kill cut short) holding only such files is a leftover of ours; anything else in it is a user's
_CHECKPOINT_FILES = re.compile(
    r".*\.(safetensors|pt|pth|bin|json|jinja|model|tmp)|merges\.txt|vocab\.txt|COMPLETE"
)


class RunDirectoryError(FileExistsError):
    """The run directory holds a different run (or any run, without --resume/--overwrite)."""

    def __init__(self, message: str, damaged_record: bool = False):
        super().__init__(message)
        self.damaged_record = damaged_record  # run.json cut short: still jepa-lab's to replace


# What jepa-lab writes, in one place: ``--overwrite`` removes exactly these names (glob patterns)
# and keeps everything else, so a user's notes or notebooks next to a run survive it.
RUN_OUTPUTS = (
    RUN_FILE,
    "history.jsonl",
    "predictions.jsonl",
    "summary.json",
    "final",
    "final.tmp",
    "checkpoint-*",
    # atomic writes a kill interrupted
    *(ATOMIC_TEMP.format(name=name, tag="*") for name in (RUN_FILE, "history.jsonl")),
    *(ATOMIC_TEMP.format(name=name, tag="*") for name in ("predictions.jsonl", "summary.json")),
)


COMPARISON_OUTPUTS = (
    "comparison.json",
    "comparison.md",
    "history.jsonl",
    "report.html",
    *(ATOMIC_TEMP.format(name=name, tag="*") for name in ("history.jsonl", "report.html")),
)


def checkpoint_step(path: Path) -> int | None:
    """N of a folder named exactly ``checkpoint-N``, else None."""
    match = CHECKPOINT_NAME.fullmatch(Path(path).name)
    return int(match[1]) if match else None


def is_own_checkpoint(path: Path) -> bool:
    """A ``checkpoint-N`` folder jepa-lab wrote: it holds the COMPLETE (or REJECTED) marker, or
    it is a cut-short one holding nothing but the files a checkpoint is made of."""
    path = Path(path)
    if checkpoint_step(path) is None or path.is_symlink() or not path.is_dir():
        return False
    if (path / COMPLETE_MARKER).is_file() or (path / REJECTED_MARKER).is_file():
        return True
    return all(p.is_file() and _CHECKPOINT_FILES.fullmatch(p.name) for p in path.iterdir())


def _is_ours(path: Path) -> bool:
    return is_own_checkpoint(path) if path.name.startswith("checkpoint-") else True


def _outputs(folder: Path, patterns: tuple[str, ...]) -> list[Path]:
    found = {p for pattern in patterns for p in folder.glob(pattern)}
    return sorted(p for p in found if _is_ours(p))


def remove_outputs(folder: Path, patterns: tuple[str, ...]) -> list[Path]:
    """Delete what jepa-lab wrote in ``folder`` (``patterns``); return what was kept."""
    for path in _outputs(folder, patterns):
        if path.is_symlink() or not path.is_dir():
            path.unlink(missing_ok=True)  # a link is removed, never followed
        else:
            shutil.rmtree(path)
    return sorted(p for p in folder.iterdir() if p.name != LOCK_FILE)


def read_run_identity(run_dir: str | os.PathLike) -> dict[str, Any] | None:
    """The run recorded in ``run_dir/run.json``; None when there is no such file.

    A damaged file (cut short by a kill or a full disk, not JSON, not a jepa-lab run record)
    raises :class:`RunDirectoryError` naming the file and what is wrong with it.
    """
    run_file = Path(run_dir) / RUN_FILE
    if not run_file.is_file():
        return None
    try:
        identity = json.loads(run_file.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        reason = getattr(err, "msg", None) or str(err)
        where = f" (line {err.lineno}, column {err.colno})" if hasattr(err, "lineno") else ""
        raise RunDirectoryError(
            f"{run_file}: damaged run record, not valid JSON{where}: {reason}",
            damaged_record=True,
        ) from err
    if not isinstance(identity, dict) or not {"arm", "config"} <= set(identity):
        raise RunDirectoryError(
            f"{run_file}: not a jepa-lab run record (expected a JSON object with 'arm' and "
            "'config')"
        )
    return identity


def prepare_run_dir(
    run_dir: str | os.PathLike, identity: dict[str, Any], resume: bool, overwrite: bool
) -> Path:
    """Create or check ``run_dir``; never silently replace a different run.

    ``overwrite`` replaces a jepa-lab run (also one whose ``run.json`` is damaged) by removing
    only the files jepa-lab writes (:data:`RUN_OUTPUTS`); other files stay. A non-empty
    directory without a jepa-lab run is refused, with or without ``overwrite``.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and not run_dir.is_dir():
        raise RunDirectoryError(f"{run_dir} is a file, not a directory; choose another run dir")
    run_file = run_dir / RUN_FILE
    if run_file.exists():
        try:
            existing = read_run_identity(run_dir)
        except RunDirectoryError as err:
            if not (overwrite and err.damaged_record):
                raise RunDirectoryError(
                    f"{err}; pass overwrite=True (--overwrite) to replace this run (only "
                    "jepa-lab's own files are removed), or choose another run directory"
                ) from err
            existing = None  # a damaged record of a run: replaceable, it is jepa-lab's file
        if overwrite:
            kept = remove_outputs(run_dir, RUN_OUTPUTS)
            if kept:
                print(
                    f"{run_dir}: replacing the run; kept {len(kept)} file(s) jepa-lab did not "
                    f"write: {', '.join(p.name for p in kept[:10])}"
                )
        elif not resume:
            raise RunDirectoryError(
                f"{run_dir} already holds a run; pass resume=True (--resume) to continue it "
                "or overwrite=True (--overwrite) to replace it"
            )
        else:
            check_same_run(run_dir, existing, identity)
    elif run_dir.is_dir() and any(p.name != LOCK_FILE for p in run_dir.iterdir()):
        why = " (--overwrite only replaces a jepa-lab run)" if overwrite else ""
        raise RunDirectoryError(
            f"{run_dir} is not empty and holds no jepa-lab run (no {RUN_FILE}){why}; choose "
            "another run directory"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    if not run_file.is_file():
        write_atomic(run_file, json.dumps(identity, indent=2, sort_keys=True) + "\n")
    return run_dir


# what a resume must find unchanged in the data: the examples themselves (the files they came
# from are recorded too, but a copy moved elsewhere is the same data)
DATA_KEYS = ("train", "eval")


def check_same_run(run_dir: Path, existing: dict[str, Any], identity: dict[str, Any]) -> None:
    """Refuse to resume ``existing`` as the run ``identity``: another arm or config, or data
    (training or held-out examples) that differ from the ones it was trained on."""
    core = ("arm", "config")
    differing = sorted(
        _diff_keys({k: existing.get(k) for k in core}, {k: identity[k] for k in core})
    )
    if differing:
        raise RunDirectoryError(
            f"{run_dir} holds a different run (differs in {differing}); use another run "
            "directory, or --overwrite to replace it"
        )
    if "data" not in identity:
        return
    recorded = existing.get("data")
    if not isinstance(recorded, dict):
        raise RunDirectoryError(
            f"{run_dir / RUN_FILE}: has no data fingerprint (written by an older jepa-lab), so "
            "a resume cannot check that the data are the ones it trained on; use --overwrite "
            "or another run directory"
        )
    for split in DATA_KEYS:
        was, now = recorded.get(split), identity["data"].get(split)
        if was != now:
            raise RunDirectoryError(
                f"{run_dir}: refusing to resume, the {split} examples differ from the run's "
                f"({_describe_data(was)} in {RUN_FILE}, now {_describe_data(now)}); the weights "
                "were trained on other data (and token ids); use --overwrite or another run "
                "directory"
            )


def _describe_data(fingerprint: Any) -> str:
    if not isinstance(fingerprint, dict):
        return "none"
    return f"{fingerprint.get('n')} examples, sha256 {str(fingerprint.get('sha256'))[:12]}"


def same_identity(recorded: Any, identity: dict[str, Any]) -> bool:
    """``recorded`` (a run.json) is the run ``identity`` (keys written later, the tokenizer's
    fingerprint, are not part of the comparison)."""
    return isinstance(recorded, dict) and all(recorded.get(k) == v for k, v in identity.items())


def record_tokenizer(run_dir: Path, fingerprint: str) -> None:
    """Write the tokenizer's fingerprint into ``run.json``, or refuse a run whose recorded
    tokenizer is another (its weights' token ids would mean other strings)."""
    identity = read_run_identity(run_dir) or {}
    recorded = identity.get("tokenizer")
    if recorded == fingerprint:
        return
    if recorded is not None:
        raise RunDirectoryError(
            f"{run_dir}: refusing to resume, the tokenizer differs from the run's (sha256 "
            f"{str(recorded)[:12]} in {RUN_FILE}, now {fingerprint[:12]}); use --overwrite or "
            "another run directory"
        )
    identity["tokenizer"] = fingerprint
    write_atomic(run_dir / RUN_FILE, json.dumps(identity, indent=2, sort_keys=True) + "\n")


def wait_for_run_dir(run_dir: Path, identity: dict[str, Any], timeout: float = 600.0) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run_file = run_dir / RUN_FILE
        if run_file.is_file():
            try:
                if same_identity(json.loads(run_file.read_text(encoding="utf-8")), identity):
                    return run_dir
            except json.JSONDecodeError:
                pass
        time.sleep(0.2)
    raise RunDirectoryError(f"{run_dir}: rank 0 did not prepare this run within {timeout:.0f} s")


def _diff_keys(a: Any, b: Any, prefix: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for key in sorted(set(a) | set(b)):
            out += _diff_keys(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return [] if a == b else [prefix.rstrip(".")]
