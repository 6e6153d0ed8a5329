"""Checks that run before anything is written: the configuration, the model source, the data.

Every rule raises :class:`ConfigError` (a ``ValueError``) whose message names the field (or the
file and line) and what is expected, so a bad flag fails at once instead of deep in a sampler,
after whole arms have trained, or silently (``lam=nan`` would train plain NTP).

``TrainConfig.__post_init__`` and ``JepaConfig.__post_init__`` call the field rules, so no bad
config object can exist; :func:`validate_run` adds what needs the filesystem and the data, and
runs right before a run directory is created.
"""

from __future__ import annotations

import json
import os
import warnings
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
from jepa_lab.training.data_checks import check_record_sizes, check_sources, warn_data_quality

MAX_SPLIT_SIZE = 1_000_000
MIN_VOCAB = 256 + 6  # data.tokenizer: 256 byte tokens and SPECIAL_TOKENS (a test checks both)
BYTES_PER_PARAMETER = 16  # float32 weights, gradients and Adam's two moments


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
    # a generated split of 10**9 would not fit in memory; the real splits hold under 10**4
    f.integer("train_size", 1, MAX_SPLIT_SIZE, optional=True)
    f.integer("eval_size", 0, MAX_SPLIT_SIZE, optional=True)  # 0: no held-out evaluation
    if cfg.from_config and cfg.init == "random" and cfg.vocab_size < MIN_VOCAB:
        raise f.fail("vocab_size", f"at least {MIN_VOCAB} (256 bytes + the special tokens)")
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
    f.text("report_to")  # the names are checked against the installed trackers by validate_run
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
    _check_custom_code(config, path)


def _check_custom_code(config: Any, path: Path) -> None:
    """A model directory with an ``auto_map``: without --trust-remote-code its code is not run,
    so an unknown model type cannot load (say so now), and a known one trains transformers'
    built-in class (say that in one line)."""
    declared = custom_code_declared(path)
    if not declared or config.trust_remote_code:
        return
    from transformers import CONFIG_MAPPING

    try:
        model_type = json.loads((path / "config.json").read_text(encoding="utf-8")).get(
            "model_type"
        )
    except (json.JSONDecodeError, UnicodeDecodeError, AttributeError):
        model_type = None
    if model_type not in CONFIG_MAPPING:
        raise ConfigError(
            "TrainConfig",
            "model",
            config.model,
            f"a model transformers can load: {path} is of type {model_type!r}, which needs its "
            f"own Python code ({declared[0]}); pass --trust-remote-code to run that code, or "
            "choose another model",
        )
    warnings.warn(
        f"{path}: declares custom code ({declared[0]}) but trains with transformers' built-in "
        f"{model_type!r} class; the custom code is NOT run (--trust-remote-code runs it)",
        stacklevel=3,
    )


def check_model_size(config: Any) -> None:
    """A from-config model that cannot fit this machine's memory is refused before the run
    directory exists (``hidden_size=65536`` would die allocating, after run.json)."""
    if not config.from_config or config.init != "random":
        return
    h, layers, vocab = config.hidden_size, config.num_layers, config.vocab_size
    inter = config.intermediate_size or 3 * h  # tiny_llama_config's default
    kv = h // config.num_heads * (config.num_key_value_heads or config.num_heads)
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * inter
    parameters = vocab * h + layers * per_layer
    need, have = parameters * BYTES_PER_PARAMETER, _memory_bytes()
    if have and need > have:
        raise ConfigError(
            "TrainConfig",
            "hidden_size",
            h,
            f"a model that fits: about {parameters / 1e9:.3g} billion parameters need about "
            f"{need / 2**30:.3g} GiB for weights, gradients and Adam state, and this machine "
            f"has {have / 2**30:.3g} GiB",
        )


def _memory_bytes() -> int | None:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.get_device_properties(0).total_memory
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_max_new_tokens(config: Any) -> None:
    """Generation cannot go past the model's positions; a larger bound only runs longer."""
    if config.from_config:
        limit = 1024  # tiny_llama_config's max_position_embeddings
    else:
        try:
            model_config = json.loads(
                (Path(config.model).expanduser() / "config.json").read_text(encoding="utf-8")
            )
        except (OSError, json.JSONDecodeError, UnicodeDecodeError):
            return  # a hub id: its config is read when the model loads
        limit = model_config.get("max_position_embeddings") or model_config.get("n_positions")
    if isinstance(limit, int) and config.max_new_tokens > limit:
        raise ConfigError(
            "TrainConfig",
            "max_new_tokens",
            config.max_new_tokens,
            f"at most {limit}, the model's positions (max_position_embeddings)",
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


def trackers(report_to: str) -> str | list[str]:
    """``TrainConfig.report_to`` as ``TrainingArguments.report_to`` takes it."""
    if report_to in ("none", "all"):
        return report_to
    return [name.strip() for name in report_to.split(",")]


def check_trackers(config: Any) -> None:
    """Each tracker in ``report_to`` is one the Trainer knows and is installed, so the run fails
    here and not in ``Trainer.__init__`` after its directory is written."""
    from transformers.integrations.integration_utils import (
        INTEGRATION_TO_CALLBACK,
        get_available_reporting_integrations,
    )

    names = trackers(config.report_to)
    if isinstance(names, str):
        return
    known, installed = sorted(INTEGRATION_TO_CALLBACK), get_available_reporting_integrations()
    for name in names:
        if name not in known:
            expected = f"'none', 'all' or comma-separated names from {known} ({name!r} is not one)"
            raise ConfigError("TrainConfig", "report_to", config.report_to, expected)
        if name not in installed:
            raise ConfigError(
                "TrainConfig",
                "report_to",
                config.report_to,
                f"trackers that are installed ({name!r} is not: pip install {name})",
            )


def validate_run(config: Any, train_examples: Sequence[Any], eval_examples: Sequence[Any]) -> None:
    """All checks a run needs before its directory is created."""
    check_train_config(config)
    check_jepa_config(config.jepa)
    check_trackers(config)
    check_model_source(config)
    check_model_size(config)
    check_max_new_tokens(config)
    check_examples(train_examples, "train", config)
    check_record_sizes(train_examples, "train")
    if config.eval_size != 0:
        check_examples(eval_examples, "eval", config)
        check_record_sizes(eval_examples, "eval")
    check_sources(config, train_examples, eval_examples)
    warn_data_quality(config, train_examples, eval_examples if config.eval_size != 0 else [])


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
