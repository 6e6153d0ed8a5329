"""jepa-lab: learn, reproduce and analyse LLM-JEPA on any Hugging Face decoder.

The main entry points are imported lazily so that ``import jepa_lab.scoring`` stays light.

The library is built in floors: a module imports only from its own floor or the floors below,
never upwards, also not inside a function (tests/test_structure.py checks this against the
same table, finds no import circle, and keeps every module under 450 lines)::

    11  entry points   cli, __main__
    10  widgets        widgets                        ipywidgets wiring only
     9  explorers      explore, mask_view             the explorers' logic, no widgets
     8  experiments    experiment, runner, report,    both arms, seeds, the background run,
                       study, findings, cost          the HTML report, the recorded study and
                                                      its findings in words, what a step costs
     7  plots          plots, plot_style              plotly figures from arrays and records
     6  train          train, trainer, guards,        the Trainer, divergence guards, verified
                       checkpoints, rundir, build,    checkpoints, run directories; a config's
                       base                           data and model, the pretrained base
     5  evaluation     evaluate, gsm8k_real           generate + score + embed a model
     4  analysis       scoring, regex_dfa,            strings and arrays in, numbers out:
                       regex_automata, regex_parse,   no model, so training can call them at
                       geometry, views, generation    every epoch end
     3  model          model, tiny                    one forward pass; the toy models
     2  packing        packing                        pairs -> packed rows, no model
     1  rules          config, presets, validation,   configs and their checks; the objective
                       losses, masks                  and the block mask as tensor functions
     0  data           data, chat, tokenizer,         records, templates, tokenizers
                       history, grading

Scoring and geometry sit below training (not above it, as a reading order would put them):
training evaluates held-out data at each epoch end, and both are pure analysis that imports
nothing from the model.
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
