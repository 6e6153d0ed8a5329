"""Checks that run before anything is written: the configuration, the model source, the data.

Every rule raises :class:`ConfigError` (a ``ValueError``) whose message names the field (or the
file and line) and what is expected, so a bad flag fails at once instead of deep in a sampler,
after whole arms have trained, or silently (``lam=nan`` used to train plain NTP).

``TrainConfig.__post_init__`` and ``JepaConfig.__post_init__`` call the field rules, so no bad
config object can exist; :func:`validate_run` adds what needs the filesystem and the data, and
runs right before a run directory is created.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Sequence
from numbers import Integral
from pathlib import Path
from typing import Any

from jepa_lab.objective.checks import (  # noqa: F401  (re-exported: training's checks build on them)
    ATTENTION,
    CUSTOM_CODE_FILES,
    DISTANCES,
    EXTENSION_DISTANCES,
    MAX_PREDICTOR_TOKENS,
    PAPER_DISTANCES,
    SEED_MAX,
    TEXT_VIEWS,
    ConfigError,
    InputError,
    _Fields,
    check_jepa_config,
    custom_code_declared,
)


def check_train_config(cfg: Any) -> None:
    """Every TrainConfig field except ``jepa`` (checked by JepaConfig itself)."""
    from jepa_lab.data import SOURCES

    f = _Fields(cfg, "TrainConfig")
    f.text("preset")
    f.text("model")
    f.choice("init", ("random", "base"))
    f.text("base_corpus", optional=True)
    for name in ("hidden_size", "num_layers", "num_heads", "vocab_size"):
        f.integer(name, 1)
    head = cfg.hidden_size / cfg.num_heads
    if head != int(head) or int(head) % 2:  # rotary embeddings rotate pairs of dimensions
        raise f.fail("hidden_size", f"num_heads={cfg.num_heads} times an even head size")
    f.integer("intermediate_size", 1, optional=True)
    f.integer("num_key_value_heads", 1, optional=True)
    kv_heads = cfg.num_key_value_heads
    if kv_heads is not None and cfg.num_heads % kv_heads:  # grouped-query attention
        raise f.fail("num_key_value_heads", f"a divisor of num_heads={cfg.num_heads}")
    if cfg.init == "base" and (cfg.intermediate_size or kv_heads):
        raise f.fail(  # the cached bases have the tiny family's shape; it would be ignored
            "init", "'random' with intermediate_size or num_key_value_heads set"
        )
    f.choice("dataset", _task_names())
    f.choice("data_source", SOURCES)
    if cfg.data_source == "hub" and cfg.dataset != "gsm8k":
        raise f.fail("data_source", "'hub' only with dataset='gsm8k'")
    _check_gsm8k_knobs(f, cfg)
    f.integer("train_size", 1, optional=True)
    f.integer("eval_size", 0, optional=True)  # 0: no held-out evaluation (train only)
    for name in ("epochs", "batch_size", "grad_accum", "lora_r", "max_new_tokens"):
        f.integer(name, 1)
    f.integer("eval_batch_size", 1)
    f.number("lr", 0.0, lo_open=True)
    f.number("weight_decay", 0.0)
    f.number("warmup_ratio", 0.0, 1.0)
    f.choice("scheduler", _scheduler_names())
    f.number("max_grad_norm", 0.0)  # 0 turns clipping off, as in the Trainer
    for name in ("bf16", "lora", "trust_remote_code"):
        f.flag(name)
    f.integer("seed", 0, SEED_MAX)
    f.integer("save_every", 0, optional=True)  # 0: no checkpoints, final/ only
    if cfg.attn_implementation not in ATTENTION:  # JepaModel would refuse it after run.json
        raise f.fail(
            "attn_implementation",
            f"one of {list(ATTENTION)}: the packed rows need a block-causal 4D mask",
        )


def _task_names() -> tuple[str, ...]:
    from jepa_lab.training.tasks import task_names  # the registry, user tasks included

    return task_names()


def _check_gsm8k_knobs(f: _Fields, cfg: Any) -> None:
    """The GSM8K generator's difficulty: in range, and only where the generator is used."""
    from jepa_lab.data.gsm8k_synth import MIN_NUMBER, STEPS_RANGE

    f.integer("gsm8k_steps", STEPS_RANGE[0], STEPS_RANGE[1], optional=True)
    f.integer("gsm8k_max_number", MIN_NUMBER, optional=True)
    for name in ("gsm8k_steps", "gsm8k_max_number"):
        if getattr(cfg, name) is None:
            continue
        if cfg.dataset != "gsm8k":  # would be silently ignored
            raise f.fail(name, f"None with dataset={cfg.dataset!r} (a GSM8K generator knob)")
        if cfg.data_source != "generated":  # a real split has no difficulty to set
            raise f.fail(
                name,
                f"None with data_source={cfg.data_source!r}; the generator's "
                "knobs need data_source='generated'",
            )


def _scheduler_names() -> tuple[str, ...]:
    from transformers.trainer_utils import SchedulerType

    return tuple(s.value for s in SchedulerType)


# ---------------------------------------------------------------------- before a run is written
def check_model_source(config: Any) -> None:
    """A ``model`` that looks like a path must be a directory holding a model's config.json;
    anything else is left to the hub (whose error then names the repo id)."""
    if config.from_config:
        return
    value = config.model
    path = Path(value).expanduser()
    looks_like_path = (
        value.startswith(("/", "./", "../", "~", ".\\"))
        or "\\" in value
        or value.count("/") > 1
        or path.exists()
    )
    if not looks_like_path:
        return
    if not path.exists():
        raise ConfigError(
            "TrainConfig",
            "model",
            value,
            f"an existing directory ({path} does not exist) or a hub repo id such as 'org/name'",
        )
    if not (path / "config.json").is_file():
        raise ConfigError(
            "TrainConfig", "model", value, f"a model directory with a config.json ({path} has none)"
        )


def check_examples(examples: Sequence[Any], what: str, config: Any) -> None:
    """Each example has non-empty string views; the set is not empty."""
    if not examples:
        size = getattr(config, f"{what}_size")
        raise ConfigError(
            "TrainConfig",
            f"{what}_size",
            size,
            f"at least one {what} example: "
            f"dataset {config.dataset!r} from source {config.data_source!r} "
            "gave none",
        )
    for i, example in enumerate(examples):
        ident = getattr(example, "id", f"#{i}")
        for view in ("text", "code"):
            value = getattr(example, view, None)
            if not isinstance(value, str) or not value.strip():
                raise InputError(
                    f"{what} example {ident}: field '{view}' is "
                    f"{_describe(value)}; expected a non-empty string"
                )


def _describe(value: Any) -> str:
    return "empty" if isinstance(value, str) else f"{type(value).__name__} {value!r}"


def validate_run(config: Any, train_examples: Sequence[Any], eval_examples: Sequence[Any]) -> None:
    """All checks a run needs before its directory is created."""
    check_train_config(config)
    check_jepa_config(config.jepa)
    check_model_source(config)
    check_examples(train_examples, "train", config)
    if config.eval_size != 0:
        check_examples(eval_examples, "eval", config)


def validate_compare(config: Any, seeds: Sequence[Any]) -> None:
    """compare() trains every (seed, arm): duplicate seeds would train the same runs twice and
    count them as independent, and with no held-out data there is nothing to compare."""
    seeds = list(seeds)
    if not seeds:
        raise InputError("seeds: expected at least one seed")
    for seed in seeds:
        if isinstance(seed, bool) or not isinstance(seed, Integral) or not 0 <= seed <= SEED_MAX:
            raise InputError(f"seeds: {seed!r} is not an integer in 0..{SEED_MAX}")
    repeated = sorted(s for s, n in Counter(seeds).items() if n > 1)
    if repeated:
        raise InputError(
            f"seeds {seeds}: {repeated} repeated; expected distinct seeds (each "
            "seed is one independent pair of runs)"
        )
    if config.eval_size == 0:
        raise ConfigError(
            "TrainConfig",
            "eval_size",
            0,
            "at least 1 (or None for the whole split): compare reports held-out accuracy",
        )


# ---------------------------------------------------------------------- files
def read_run_file(path: str | os.PathLike) -> dict[str, Any]:
    """The ``run.json`` of a run directory, or an InputError naming file:line and the problem."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: no such file; is {path.parent} a jepa-lab run directory?")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise InputError(
            f"{path}:{err.lineno}: not valid JSON ({err.msg}); the file is damaged or truncated"
        ) from err
    except UnicodeDecodeError as err:
        raise InputError(f"{path}: not UTF-8 text ({err.reason})") from err
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        raise InputError(
            f"{path}: field 'config' is missing; expected {{'arm': ..., 'config': {{...}}}}"
        )
    return data
