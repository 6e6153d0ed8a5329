"""The command line's config options come from the dataclasses: every field has one, a new field
gets one without anyone listing it, the choices agree with the validators, and the values reach
the config the same way through an option and through --set."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field, fields, is_dataclass, make_dataclass

import pytest

from jepa_lab.cli import build_parser
from jepa_lab.objective import checks
from jepa_lab.objective.config import JepaConfig
from jepa_lab.training.config_args import (
    add_config_arguments,
    choices,
    config_flags,
    config_from_args,
)
from jepa_lab.training.presets import TrainConfig, preset
from jepa_lab.training.validation import ConfigError, InputError


def field_paths(cls: type, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    """Every leaf field of TrainConfig, walked independently of config_args."""
    paths = set()
    for f in fields(cls):
        if f.name == "jepa":
            assert is_dataclass(JepaConfig) and f.type in ("JepaConfig", JepaConfig)
            paths |= field_paths(JepaConfig, (*prefix, f.name))
        else:
            paths.add((*prefix, f.name))
    return paths


def subparser(command: str) -> argparse.ArgumentParser:
    return build_parser()._subparsers._group_actions[0].choices[command]


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["train", "--run-dir", "x", *argv])


@pytest.mark.parametrize("command", ["train", "compare", "demo"])
def test_every_train_and_jepa_config_field_has_an_option(command):
    expected = field_paths(TrainConfig)
    assert ("jepa", "lam") in expected and ("train_size",) in expected  # the walk found both
    dests = {a.dest for a in subparser(command)._actions}
    missing = {p for p in expected if "config." + ".".join(p) not in dests}
    assert not missing, f"config fields without an option: {sorted(missing)}"


def test_a_field_added_to_a_dataclass_gets_an_option():
    inner = make_dataclass("Inner", [("seed", int, field(default=0)), ("ratio", float, 0.5)])
    outer = make_dataclass(
        "Outer",
        [
            ("seed", int, 0),
            ("new_count", int, 3),
            ("new_rate", float | None, None),
            ("new_switch", bool, False),
            ("note", str, field(default="", metadata={"help": "a note for the run"})),
            ("inner", inner, field(default_factory=inner)),
        ],
    )
    parser = argparse.ArgumentParser()
    flags = config_flags(outer)
    add_config_arguments(parser, flags)
    options = {f.option: f.path for f in flags}
    assert options == {
        "--seed": ("seed",),
        "--new-count": ("new_count",),
        "--new-rate": ("new_rate",),
        "--new-switch": ("new_switch",),
        "--note": ("note",),
        "--inner-seed": ("inner", "seed"),  # the outer field keeps the plain name
        "--ratio": ("inner", "ratio"),
    }
    args = vars(
        parser.parse_args(
            ["--new-count", "5", "--new-rate", "none", "--no-new-switch", "--inner-seed", "7"]
        )
    )
    assert args == {
        "config.new_count": 5,
        "config.new_rate": None,
        "config.new_switch": False,
        "config.inner.seed": 7,
    }  # options not given are absent, so the preset's values stand
    assert next(f.help for f in flags if f.option == "--note") == "a note for the run"
    with pytest.raises(SystemExit):
        parser.parse_args(["--new-count", "1.5"])


def test_a_field_of_a_type_without_a_parser_fails_loudly():
    odd = make_dataclass("Odd", [("layers", list[int], field(default_factory=list))])
    with pytest.raises(TypeError, match=r"Odd\.layers: type .* has no command-line form"):
        config_flags(odd)


@dataclass
class Commented:
    width: int = 8  # columns of the grid
    # rows of the grid,
    # counted from the top
    height: int = 4
    depth: int = 2


def test_help_is_the_fields_comment_in_the_source():
    helps = {f.path[-1]: f.help for f in config_flags(Commented)}
    assert helps == {
        "width": "columns of the grid",
        "height": "rows of the grid, counted from the top",
        "depth": "Commented.depth",
    }


def test_choices_agree_with_the_validators(monkeypatch):
    seen: dict[tuple[str, ...], tuple[str, ...]] = {}
    choice = checks._Fields.choice

    def recording(self, name, values):
        values = tuple(values)
        seen[("jepa", name) if self.owner == "JepaConfig" else (name,)] = values
        return choice(self, name, values)

    monkeypatch.setattr(checks._Fields, "choice", recording)
    TrainConfig()  # runs every field check once
    assert ("jepa", "distance") in seen and ("dataset",) in seen
    # scheduler's names are transformers', which the command line does not import up front
    for path, values in seen.items():
        assert path == ("scheduler",) or choices()[path] == values, path
    assert all(preset(name).preset == name for name in choices()[("preset",)])


@pytest.mark.parametrize("path", sorted(p for p in choices() if p != ("preset",)))
def test_each_listed_choice_is_what_the_validator_accepts(path):
    def build(value):
        if path[0] == "jepa":
            return TrainConfig(jepa=JepaConfig(**{path[1]: value}))
        return TrainConfig(**{path[0]: value})

    with pytest.raises(ConfigError) as refused:
        build("not-a-choice")
    assert refused.value.field == path[-1]
    for value in choices()[path]:
        try:
            build(value)
        except ConfigError as err:  # only a rule across fields may object (hub needs gsm8k)
            assert err.field != path[-1] or "one of" not in err.expected, err


def test_options_and_set_reach_the_config_in_order():
    config = config_from_args(
        parse("--lora", "--no-lora", "--seed", "3", "--jepa-seed", "5", "--train-size", "none")
    )
    assert (config.lora, config.seed, config.jepa.seed, config.train_size) == (False, 3, 5, None)
    config = config_from_args(parse("--epochs", "4", "--set", "epochs=5", "--stop-grad-code"))
    assert (config.epochs, config.jepa.stop_grad_code) == (5, True)
    config = config_from_args(parse("--preset", "gsm8k-tiny", "--max-length", "64"))
    assert (config.preset, config.dataset, config.jepa.max_length) == ("gsm8k-tiny", "gsm8k", 64)
    assert config_from_args(parse()) == preset("tiny")


@pytest.mark.parametrize(
    "argv,needle",
    [
        (["--jepa-seed", "-1"], "--jepa-seed: JepaConfig.seed=-1"),
        (["--temperature", "0"], "--temperature: JepaConfig.temperature=0.0"),
        (["--set", "jepa.seed=-1"], "--set seed: JepaConfig.seed=-1"),
        (["--grad-accum", "0"], "--grad-accum: TrainConfig.grad_accum=0"),
        (["--num-heads", "3"], "preset 'tiny', field hidden_size: TrainConfig.hidden_size=128"),
    ],
)
def test_a_bad_value_names_its_option(argv, needle):
    with pytest.raises(InputError) as err:
        config_from_args(parse(*argv))
    assert needle in str(err.value), str(err.value)
