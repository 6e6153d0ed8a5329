"""The objective's own rules: config field checks and the error types every check raises.

They live below both the objective and training, because ``JepaConfig``, the losses and the
model check their inputs themselves (so no bad config object can exist) and training reuses the
same rules and errors for ``TrainConfig``. ``custom_code_declared`` is the remote-code check that
``JepaModel.from_pretrained`` and the build both make.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterable
from numbers import Integral, Real
from pathlib import Path
from typing import Any

MAX_PREDICTOR_TOKENS = 16  # the most predictor tokens k a JepaConfig may ask for
PAPER_DISTANCES = ("cosine", "l2", "mse", "infonce")  # jepa_lab.objective.losses computes them
EXTENSION_DISTANCES = ("centered_cosine",)
DISTANCES = PAPER_DISTANCES + EXTENSION_DISTANCES
TEXT_VIEWS = ("user", "prompt")  # the paper's Text view, or predictors reading the prompt
SEED_MAX = 2**32 - 1  # numpy's seed range, which the Trainer's set_seed uses
# Attention implementations that take an explicit 4D mask (masks.check_attention_implementation
# and TrainConfig both read this). flash_attention_* take only padding masks or packing position
# ids, and flex_attention a BlockMask, none of which says "this segment may read that prefix".
ATTENTION = ("eager", "sdpa")
CUSTOM_CODE_FILES = ("config.json", "tokenizer_config.json")


class InputError(ValueError):
    """Bad input found before a run starts; the message says what, where and what is expected."""


class ConfigError(InputError):
    """A configuration value is invalid. ``owner.field`` names it; the message says why."""

    def __init__(self, owner: str, field: str, value: Any, expected: str):
        self.owner, self.field, self.value, self.expected = owner, field, value, expected
        super().__init__(f"{owner}.{field}={value!r}: expected {expected}")


# ---------------------------------------------------------------------- field rules
class _Fields:
    """Checks the fields of one config object, naming ``owner.field`` in every error."""

    def __init__(self, obj: Any, owner: str):
        self.obj, self.owner = obj, owner

    def fail(self, name: str, expected: str) -> ConfigError:
        return ConfigError(self.owner, name, getattr(self.obj, name), expected)

    def integer(self, name: str, lo: int, hi: int | None = None, optional: bool = False) -> None:
        value = getattr(self.obj, name)
        if value is None and optional:
            return
        upper = "" if hi is None else f" and <= {hi}"
        expected = f"{'None or ' if optional else ''}an integer >= {lo}{upper}"
        if isinstance(value, bool) or not isinstance(value, Integral):
            raise self.fail(name, expected)
        if value < lo or (hi is not None and value > hi):
            raise self.fail(name, expected)

    def number(self, name: str, lo: float, hi: float | None = None, lo_open: bool = False) -> None:
        """A finite real number in [lo, hi] (or (lo, hi] with ``lo_open``)."""
        value = getattr(self.obj, name)
        low = f"> {lo:g}" if lo_open else f">= {lo:g}"
        expected = f"a finite number {low}" + ("" if hi is None else f" and <= {hi:g}")
        if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
            raise self.fail(name, expected)
        if value < lo or (lo_open and value == lo) or (hi is not None and value > hi):
            raise self.fail(name, expected)

    def choice(self, name: str, choices: Iterable[str]) -> None:
        choices = tuple(choices)
        if getattr(self.obj, name) not in choices:
            raise self.fail(name, f"one of {list(choices)}")

    def flag(self, name: str) -> None:
        if not isinstance(getattr(self.obj, name), bool):
            raise self.fail(name, "true or false")

    def text(self, name: str, optional: bool = False, empty_ok: bool = False) -> None:
        value = getattr(self.obj, name)
        if value is None and optional:
            return
        if not isinstance(value, str) or not (empty_ok or value.strip()):
            kind = "a string" if empty_ok else "a non-empty string"
            raise self.fail(name, f"{'None or ' if optional else ''}{kind}")


def check_jepa_config(cfg: Any) -> None:
    """Every JepaConfig field: type, range, finiteness, choice."""
    f = _Fields(cfg, "JepaConfig")
    f.integer("k", 0, MAX_PREDICTOR_TOKENS)
    f.number("lam", 0.0)
    f.number("gamma", 0.0)
    f.choice("distance", DISTANCES)
    f.number("loss_dropout", 0.0, 1.0)
    f.choice("text_view", TEXT_VIEWS)
    f.choice("embed_at", ("content", "end_of_turn"))
    f.number("temperature", 0.0, lo_open=True)
    f.integer("seed", 0, SEED_MAX)
    f.integer("max_length", 4)
    f.choice("on_overflow", ("drop", "error"))
    f.text("system_prompt", optional=True, empty_ok=True)
    f.choice("label_mode", ("answer", "official"))
    f.flag("stop_grad_code")
    f.number("var_cov_weight", 0.0)
    f.text("chat_template", optional=True)
    if cfg.lam == 0 and cfg.gamma == 0:
        raise f.fail("gamma", "a positive weight when lam is 0 (otherwise nothing is trained)")


def custom_code_declared(directory: str | os.PathLike) -> list[str]:
    """Files of a local model directory that ask for custom code (an ``auto_map``)."""
    directory = Path(directory)
    found = []
    for name in CUSTOM_CODE_FILES:
        file = directory / name
        if not file.is_file():
            continue
        try:
            data = json.loads(file.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError):
            continue  # transformers reports a damaged file itself
        if isinstance(data, dict) and data.get("auto_map"):
            found.append(f"{file} (auto_map {sorted(data['auto_map'])})")
    return found
