"""Command-line options generated from the config dataclasses, so that no field lacks one.

Every field of :class:`TrainConfig`, and of the :class:`JepaConfig` nested in it, becomes an
option named after it: ``train_size`` is ``--train-size``; a nested field whose name the outer
class already uses takes its parent's prefix (``jepa.seed`` is ``--jepa-seed``, ``seed`` stays
the run's). The field's type picks the parser (int, float, str, ``none`` where the field may be
None, bool as ``--x/--no-x``), :func:`choices` names the allowed values, and the help is the
field's ``metadata["help"]`` or its comment in the source. ``--set field=value`` reaches the same
fields by name, with the same parsers. An option not given keeps the preset's value.

Nothing here imports torch or transformers: ``jepa-lab --help`` stays fast.
"""

from __future__ import annotations

import argparse
import inspect
import re
import types
import typing
from collections.abc import Sequence
from dataclasses import dataclass, fields, is_dataclass
from functools import cache
from typing import Any

from jepa_lab.data import SOURCES
from jepa_lab.objective.checks import ATTENTION, DISTANCES, TEXT_VIEWS, ConfigError, InputError
from jepa_lab.training.presets import PRESET_NAMES, TrainConfig, preset


def choices() -> dict[tuple[str, ...], tuple[str, ...]]:
    """The values each str field accepts, as its validator checks them (tests/test_config_args.py
    asserts that they agree). ``scheduler`` is left to the validator: its names come from
    transformers, which the command line does not import before a command runs."""
    from jepa_lab.training.tasks import task_names  # the registry: every task jepa-lab knows

    return {
        ("preset",): PRESET_NAMES,
        ("init",): ("random", "base"),
        ("dataset",): task_names(),
        ("data_source",): SOURCES,
        ("attn_implementation",): ATTENTION,
        ("jepa", "distance"): DISTANCES,
        ("jepa", "text_view"): TEXT_VIEWS,
        ("jepa", "embed_at"): ("content", "end_of_turn"),
        ("jepa", "on_overflow"): ("drop", "error"),
        ("jepa", "label_mode"): ("answer", "official"),
    }


LISTED_CHOICES = 6  # choices shown in the usage line; longer lists go in the help
SIMPLE_TYPES = (bool, int, float, str)
_WORDS = {int: "an integer", float: "a number", str: "text", bool: "true or false"}
_METAVARS = {int: "N", float: "X", str: "TEXT"}


@dataclass(frozen=True)
class ConfigFlag:
    """One config field's command-line option."""

    path: tuple[str, ...]  # ("train_size",), ("jepa", "seed")
    option: str  # "--train-size", "--jepa-seed"
    kind: type  # bool, int, float or str
    optional: bool  # the field may be None: the option accepts "none"
    owner: str  # the dataclass's name, as a ConfigError names it
    help: str

    @property
    def dest(self) -> str:
        return "config." + ".".join(self.path)

    def parse(self, text: str) -> Any:
        """``text`` as this field's value; ValueError says what was expected."""
        if self.optional and text.lower() == "none":
            return None
        if self.kind is bool:
            if text.lower() not in ("true", "false", "1", "0"):
                raise ValueError("expected true or false")
            return text.lower() in ("true", "1")
        if self.kind is str:
            return text
        try:
            return self.kind(text)
        except ValueError:
            none = " or none" if self.optional else ""
            raise ValueError(f"expected {_WORDS[self.kind]}{none}, got {text!r}") from None


def config_flags(cls: type, prefix: tuple[str, ...] = ()) -> list[ConfigFlag]:
    """An option for every field of the dataclass ``cls``, nested dataclasses included."""
    hints = typing.get_type_hints(cls)
    comments = _field_comments(cls)
    flags, nested = [], []
    for f in fields(cls):
        hint = hints[f.name]
        if is_dataclass(hint):
            nested.append((f.name, hint))
            continue
        kind, optional = _simple_type(hint, f"{cls.__name__}.{f.name}")
        text = f.metadata.get("help") or comments.get(f.name) or f"{cls.__name__}.{f.name}"
        option = "--" + f.name.replace("_", "-")
        flags.append(ConfigFlag((*prefix, f.name), option, kind, optional, cls.__name__, text))
    taken = {flag.option for flag in flags}
    for name, sub in nested:
        for flag in config_flags(sub, (*prefix, name)):
            if flag.option in taken:
                flag = _renamed(flag, f"--{name.replace('_', '-')}-{flag.option[2:]}")
            flags.append(flag)
    return flags


@cache
def train_flags() -> tuple[ConfigFlag, ...]:
    return tuple(config_flags(TrainConfig))


def add_config_arguments(
    parser: argparse.ArgumentParser, flags: Sequence[ConfigFlag] | None = None
) -> None:
    """Add an option per config field (default: TrainConfig's), in one help group."""
    allowed = choices()
    group = parser.add_argument_group(
        "config fields", "a field's option overrides the preset's value; --set reaches them too"
    )
    for flag in train_flags() if flags is None else flags:
        kwargs: dict[str, Any] = dict(
            dest=flag.dest, default=argparse.SUPPRESS, help=flag.help.replace("%", "%%")
        )
        if flag.kind is bool and not flag.optional:
            kwargs["action"] = argparse.BooleanOptionalAction
        else:
            kwargs["type"] = _argparse_type(flag)
            kwargs["metavar"] = _METAVARS[flag.kind] + ("|none" if flag.optional else "")
            if flag.path in allowed:
                values = allowed[flag.path]
                kwargs["choices"] = values + ((None,) if flag.optional else ())
                if len(values) > LISTED_CHOICES:  # too long for the usage line: in the help
                    kwargs["metavar"] = flag.path[-1].upper()
                    kwargs["help"] += f" (one of: {', '.join(values)})"
                else:
                    del kwargs["metavar"]
        group.add_argument(flag.option, **kwargs)


def config_from_args(args: argparse.Namespace, sizes: dict[str, Any] | None = None) -> TrainConfig:
    """The preset, then ``sizes`` (the demo's), then the field options, then ``--set
    field=value`` (a bare name is TrainConfig's field first; ``jepa.seed`` is JepaConfig's).

    An invalid value stops here with an InputError naming the option, before anything is
    written.
    """
    flags = train_flags()
    given = {flag.path: getattr(args, flag.dest) for flag in flags if hasattr(args, flag.dest)}
    settings = {}
    for item in getattr(args, "set", None) or []:
        flag, text = _set_item(item, flags)
        try:
            settings[flag.path] = flag.parse(text)
        except ValueError as err:
            raise InputError(f"--set {item}: {err}") from None
    try:
        name = given.pop(("preset",), "tiny")
        overrides: dict[str, Any] = {**(sizes or {}), "jepa": {}}
        for path, value in given.items():
            _put(overrides, path, value)
        config = preset(name, **overrides)
        if not settings:
            return config
        data = config.to_dict()
        for path, value in settings.items():
            _put(data, path, value)
        return TrainConfig.from_dict(data)
    except ConfigError as err:
        raise InputError(f"{option_of(err, args)}: {err}") from None


def option_of(err: ConfigError, args: argparse.Namespace) -> str:
    """The option that set the field ``err`` names, for its message."""
    flags = train_flags()
    flag = next((f for f in flags if (f.owner, f.path[-1]) == (err.owner, err.field)), None)
    if flag is not None:
        for item in reversed(getattr(args, "set", None) or []):
            key = item.partition("=")[0]
            if _lookup(key, flags) == flag:
                return f"--set {err.field}"
        if hasattr(args, flag.dest):
            return flag.option
    name = getattr(args, "config.preset", "tiny")
    return f"preset {name!r}, field {err.field}"


def _set_item(item: str, flags: Sequence[ConfigFlag]) -> tuple[ConfigFlag, str]:
    key, sep, text = item.partition("=")
    if not sep:
        raise InputError(f"--set {item!r}: expected field=value")
    flag = _lookup(key, flags)
    if flag is None:
        known = sorted(".".join(f.path) for f in flags)
        raise InputError(f"--set {key}: unknown field; known fields: {', '.join(known)}")
    return flag, text


def _lookup(key: str, flags: Sequence[ConfigFlag]) -> ConfigFlag | None:
    """The field ``key`` names: a dotted path, or a bare name (the outermost field first)."""
    exact = [f for f in flags if ".".join(f.path) == key]
    bare = sorted((f for f in flags if f.path[-1] == key), key=lambda f: len(f.path))
    return (exact or bare or [None])[0]


def _put(data: dict[str, Any], path: tuple[str, ...], value: Any) -> None:
    for name in path[:-1]:
        data = data.setdefault(name, {})
    data[path[-1]] = value


def _renamed(flag: ConfigFlag, option: str) -> ConfigFlag:
    return ConfigFlag(flag.path, option, flag.kind, flag.optional, flag.owner, flag.help)


def _simple_type(hint: Any, where: str) -> tuple[type, bool]:
    """(bool/int/float/str, whether None is allowed) of a field's type hint."""
    optional = False
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        arms = [a for a in typing.get_args(hint) if a is not type(None)]
        optional = len(arms) < len(typing.get_args(hint))
        hint = arms[0] if len(arms) == 1 else None
    if hint not in SIMPLE_TYPES:
        raise TypeError(
            f"{where}: type {hint!r} has no command-line form; use bool, int, float or str "
            "(or one of them | None), or teach jepa_lab.training.config_args its parser"
        )
    return hint, optional


def _argparse_type(flag: ConfigFlag):
    def parse(text: str) -> Any:
        try:
            return flag.parse(text)
        except ValueError as err:
            raise argparse.ArgumentTypeError(str(err)) from None

    parse.__name__ = _WORDS[flag.kind]
    return parse


_FIELD_LINE = re.compile(r"^\s*(\w+)\s*:[^=#]*(?:=[^#]*)?(?:#\s*(.*))?$")


def _field_comments(cls: type) -> dict[str, str]:
    """Each field's comment in the class source: the one on its line, else the block above."""
    try:
        lines = inspect.getsource(cls).splitlines()
    except (OSError, TypeError):  # a class made at run time has no source
        return {}
    comments, block = {}, []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("#"):
            block.append(stripped.lstrip("#").strip())
            continue
        match = _FIELD_LINE.match(line)
        if match and (match.group(2) or block):
            comments.setdefault(match.group(1), match.group(2) or " ".join(block))
        block = []
    return comments
