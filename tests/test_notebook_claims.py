"""Sentences a notebook states about its own outputs, checked against what produces them.

A notebook's words and its figures drifted apart before (issue 17): a colour key naming colours
the figure does not draw, a curve described with the arms swapped, a label layout said to start
at the user turn when the output showed the system prompt trained. Each test here reads the
claim from the committed notebook and checks it against the library that draws the output, so
changing either side to disagree fails.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

from jepa_lab.geometry.plot_style import COLOR_NAMES, VIEW_COLORS, VIEW_LABELS
from jepa_lab.training.curve_words import first_rise, rise_sentence

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
LABEL_TO_VIEW = {f"`{label}`": view for view, label in VIEW_LABELS.items()}
COLOUR_CLAIM = re.compile(
    r"\b(" + "|".join(sorted(set(COLOR_NAMES.values()) | {"orange", "yellow", "brown"})) + r")"
    r" = (`[^`]+`)"
)


def _markdown(path: Path) -> list[str]:
    return [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "markdown"]


def _notebooks() -> list[Path]:
    return sorted(p for p in NOTEBOOKS.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def colour_claims(text: str) -> list[tuple[str, str]]:
    """(colour word, view) for each "blue = `Enc(Text)`" in ``text`` naming a view."""
    return [
        (colour, LABEL_TO_VIEW[label])
        for colour, label in COLOUR_CLAIM.findall(" ".join(text.split()))
        if label in LABEL_TO_VIEW
    ]


def test_every_colour_key_matches_the_colours_the_figures_draw():
    claims = {p.name: colour_claims("\n".join(_markdown(p))) for p in _notebooks()}
    assert claims["03_geometry_before_after.ipynb"], "notebook 03 lost its colour key"
    for name, found in claims.items():
        for colour, view in found:
            drawn = COLOR_NAMES.get(VIEW_COLORS[view], VIEW_COLORS[view])
            assert colour == drawn, (
                f"{name}: the text says {colour} = {VIEW_LABELS[view]}, the figures draw it"
                f" {drawn} ({VIEW_COLORS[view]}, jepa_lab.geometry.plot_style.VIEW_COLORS)"
            )


def test_the_colour_check_catches_the_old_key():
    old = "blue = `Enc(Text)`, orange = `Pred(Enc(Text))`, green = `Enc(Code)`"
    wrong = [(c, v) for c, v in colour_claims(old) if c != COLOR_NAMES[VIEW_COLORS[v]]]
    assert [v for _, v in wrong] == ["pred", "code"]


def _records(curves: dict[str, list[list[float]]]) -> list[dict]:
    return [
        {"arm": arm, "seed": seed, "epoch": i + 1, "eval_accuracy": v}
        for arm, by_seed in curves.items()
        for seed, curve in enumerate(by_seed)
        for i, v in enumerate(curve)
    ]


def test_which_arm_rises_first_is_computed_from_the_curves():
    # the measured gsm8k-tiny run of benchmarks/README.md: NTP climbs from epoch 2, JEPA from 3
    recorded = _records({"ntp": [[0.11, 0.23, 0.62, 0.66]], "jepa": [[0.12, 0.12, 0.38, 0.41]]})
    assert first_rise(recorded) == {"ntp": 2.0, "jepa": 3.0}
    assert rise_sentence(recorded).startswith("NTP baseline rises first")
    assert "LLM-JEPA's at epoch 3" in rise_sentence(recorded)
    swapped = _records({"jepa": [[0.11, 0.23, 0.62, 0.66]], "ntp": [[0.12, 0.12, 0.38, 0.41]]})
    assert rise_sentence(swapped).startswith("LLM-JEPA rises first")
    # the mean over seeds decides: one seed's early jump is not the arm's curve
    seeds = _records({"ntp": [[0.1, 0.3, 0.4], [0.1, 0.1, 0.4]], "jepa": [[0.1, 0.12, 0.5]] * 2})
    assert first_rise(seeds) == {"ntp": 2.0, "jepa": 3.0}
    flat = _records({"ntp": [[0.1]], "jepa": [[0.1]]})  # one epoch (a smoke run): no claim
    assert rise_sentence(flat).startswith("Neither arm")


def test_notebook_07_describes_its_curves_with_the_computed_sentence():
    """No arm is named as rising first in the words: the sentence printed under the figure is."""
    nb = nbformat.read(NOTEBOOKS / "07_gsm8k_at_tiny_scale.ipynb", as_version=4)
    figure = [c for c in nb.cells if c.cell_type == "code" and "curves_figure(history" in c.source]
    assert figure and "rise_sentence(history)" in figure[0].source
    words = " ".join(_markdown(NOTEBOOKS / "07_gsm8k_at_tiny_scale.ipynb"))
    for arm in ("NTP baseline", "LLM-JEPA", "NTP", "JEPA"):
        for claim in ("flat, then climbs", "rises first", "climbs first"):
            assert f"{arm} curve is {claim}" not in words and f"{arm} {claim}" not in words


@pytest.fixture(scope="module")
def official_row():
    from jepa_lab import JepaConfig, JepaModel
    from jepa_lab.data import load_dataset
    from jepa_lab.objective.masks import IGNORE_INDEX
    from jepa_lab.training.tiny import tiny_jepa_model

    examples = load_dataset("nlrx", "train", "generated", n=32, seed=0)
    jm = tiny_jepa_model(examples, seed=0, vocab_size=300, hidden_size=16)
    rows = {}
    for mode in ("answer", "official"):
        wrapper = JepaModel(jm.model, jm.tokenizer, JepaConfig(k=1, label_mode=mode))
        batch = wrapper.build_batch([examples[0]], jepa=False)
        tokens = [jm.tokenizer.decode([t]) for t in batch["input_ids"][0].tolist()]
        labelled = [lab != IGNORE_INDEX for lab in batch["labels"][0].tolist()]
        rows[mode] = (tokens, labelled)
    return rows, examples[0]


def test_official_labels_train_every_token_but_the_end_of_turn(official_row):
    """Notebook 02's sentence: every token is trained except <|eot|>, the system prompt too."""
    rows, example = official_row
    tokens, labelled = rows["official"]
    real = [t != "<|pad|>" for t in tokens]
    assert sum(labelled) == sum(real) - tokens.count("<|eot|>")
    unlabelled = {t for t, lab, r in zip(tokens, labelled, real, strict=True) if r and not lab}
    assert unlabelled == {"<|eot|>"}
    system_end = tokens.index("<|eot|>")  # the system turn comes first and ends there
    assert all(labelled[1:system_end]), "the official layout trains the system prompt"
    a_tokens, a_labelled = rows["answer"]
    assert a_tokens == tokens and sum(a_labelled) < sum(labelled)
    words = " ".join(" ".join(_markdown(NOTEBOOKS / "02_train_tiny_on_cpu.ipynb")).split())
    assert "every token of the row is trained except `<|eot|>`: the system prompt" in words
    assert "from the first user token on" not in words
