"""jepa-lab: learn, reproduce and analyse LLM-JEPA on any Hugging Face decoder.

The main entry points are imported lazily so that ``import jepa_lab.scoring`` stays light.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

__version__ = "0.1.0"

_EXPORTS = {
    "JepaConfig": "jepa_lab.config",
    "JepaModel": "jepa_lab.model",
    "JepaOutput": "jepa_lab.model",
}

__all__ = ["JepaConfig", "JepaModel", "JepaOutput", "__version__"]

if TYPE_CHECKING:  # pragma: no cover
    from .config import JepaConfig
    from .model import JepaModel, JepaOutput


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'jepa_lab' has no attribute {name!r}")
