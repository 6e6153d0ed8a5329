"""jepa-lab: learn, reproduce and analyse LLM-JEPA on any Hugging Face decoder.

The library is built in floors of packages. A package imports only from its own floor or the
floors below, never upwards, also not inside a function (tests/test_structure.py checks this
against the same table and finds no import circle)::

    4  teaching      explorers, widgets, exercises and grading       the CLI (cli.py) sits on top
    3  experiments   compare(), the runner, reports, the study's tables
    2  training      TrainConfig and presets, train(), the Trainer, checkpoints, evaluation
    1  objective     JepaConfig, chat template split, Packer, masks, losses, JepaModel
    0  data          records, loaders, downloads, generators, tokenizers
       scoring       regex equivalence (DFAs under a work budget), GSM8K answers
       geometry      embedding diagnostics on arrays, projections, plotly figures

Scoring and geometry are on the ground floor, beside data: training evaluates held-out data at
each epoch end, and both are pure analysis of strings and arrays that needs no model.

The ten-line example's names (``JepaConfig``, ``JepaModel``, ``JepaOutput``) are imported here
lazily, so that ``import jepa_lab.scoring`` stays light. Below every floor, because every floor
needs them: :func:`lazy_exports` and :func:`write_atomic`.
"""

from __future__ import annotations

import os
import secrets
from importlib import import_module
from pathlib import Path
from typing import Any

__version__ = "0.1.0"


def lazy_exports(package: str, exports: dict[str, str]):
    """``__getattr__`` and ``__dir__`` for a package whose public names live in its modules
    (``exports``: name -> module of ``package``), imported on first use (PEP 562)."""

    def __getattr__(name: str) -> Any:
        if name in exports:
            return getattr(import_module(f"{package}.{exports[name]}"), name)
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted(exports)

    return __getattr__, __dir__


def write_atomic(path: str | os.PathLike, data: str | bytes) -> Path:
    """Replace ``path`` whole with ``data`` (str as UTF-8): a reader, or a run killed midway,
    sees the old file or the new one, never half of one.

    The temporary file is fsynced and uniquely named (``.NAME.<pid>.<hex>.tmp``, see
    :data:`ATOMIC_TEMP`), so two writers never share one; it gets the mode a plain ``open``
    gives (0666 less the umask): ``mkstemp``'s 0600 would hide a report from a web server or a
    course's shared folder."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(
        ATOMIC_TEMP.format(name=path.name, tag=f"{os.getpid()}.{secrets.token_hex(4)}")
    )
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(data.encode("utf-8") if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


ATOMIC_TEMP = ".{name}.{tag}.tmp"  # a kill -9 can leave one: ATOMIC_TEMP.format(name=N, tag="*")


_EXPORTS = {"JepaConfig": "objective.config", "JepaModel": "objective.model"}
_EXPORTS["JepaOutput"] = "objective.model"
__all__ = ["JepaConfig", "JepaModel", "JepaOutput", "__version__"]
__getattr__, _dir = lazy_exports(__name__, _EXPORTS)
