"""NL-RX-SYNTH generator: properties that always hold, and closeness to the published set."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from jepa_lab.data import load_nlrx_original, nlrx_synth
from jepa_lab.data.records import NLRX_SYSTEM_PROMPT

SHARED = Path(
    os.environ.get("JEPA_LAB_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
ORIGINAL = SHARED / "nl-rx" / "original" / "NL-RX-Synth"

SHARE_TOLERANCE = 0.08  # absolute difference allowed in each construct share
MEAN_TOLERANCE = 0.25  # relative difference allowed in mean lengths
STD_TOLERANCE = 0.35  # relative difference allowed in length spreads

CLASSES = ("[0-9]", "[A-Za-z]", "[a-z]", "[A-Z]", "[AEIOUaeiou]")
WORDS = ("dog", "truck", "ring", "lake")


class Parser:
    """Tiny recursive-descent parser of the NL-RX dialect as the generator emits it:
    alt := and ('|' and)* ; and := cat ('&' cat)* ; cat := unary+ ;
    unary := '~'? atom ('*' | '+' | '{N,}')* ; atom := '(' alt ')' | class | '.' | word | '\\b'.
    Independent of the generator: it only knows the dialect."""

    def __init__(self, text: str):
        self.text, self.pos = text, 0

    def parse(self) -> None:
        self.alt()
        if self.pos != len(self.text):
            raise SyntaxError(f"trailing text at {self.pos}: {self.text[self.pos :]!r}")

    def peek(self, s: str) -> bool:
        return self.text.startswith(s, self.pos)

    def alt(self) -> None:
        self.conj()
        while self.peek("|"):
            self.pos += 1
            self.conj()

    def conj(self) -> None:
        self.cat()
        while self.peek("&"):
            self.pos += 1
            self.cat()

    def cat(self) -> None:
        start = self.pos
        while (
            self.pos < len(self.text)
            and not self.peek("|")
            and not self.peek("&")
            and not self.peek(")")
        ):
            self.unary()
        if self.pos == start:
            raise SyntaxError(f"empty operand at {self.pos} in {self.text!r}")

    def unary(self) -> None:
        if self.peek("~"):
            self.pos += 1
        self.atom()
        while True:
            if self.peek("*") or self.peek("+"):
                self.pos += 1
            elif m := re.compile(r"\{[2-7],\}").match(self.text, self.pos):
                self.pos = m.end()
            else:
                return

    def atom(self) -> None:
        if self.peek("("):
            self.pos += 1
            self.alt()
            if not self.peek(")"):
                raise SyntaxError(f"unbalanced '(' in {self.text!r}")
            self.pos += 1
            return
        for token in (*CLASSES, ".", "\\b", *WORDS):
            if self.peek(token):
                self.pos += len(token)
                return
        raise SyntaxError(f"unexpected {self.text[self.pos : self.pos + 5]!r} in {self.text!r}")


@pytest.fixture(scope="module")
def train():
    return nlrx_synth.generate(3000, "train", seed=0)


@pytest.fixture(scope="module")
def test():
    return nlrx_synth.generate(1000, "test", seed=0)


def test_deterministic_and_prefix_stable(train):
    again = nlrx_synth.generate(3000, "train", seed=0)
    assert [(e.text, e.code) for e in again] == [(e.text, e.code) for e in train]
    short = nlrx_synth.generate(100, "train", seed=0)
    assert short == train[:100]
    other = nlrx_synth.generate(100, "train", seed=1)
    assert [e.code for e in other] != [e.code for e in short]


def test_splits_share_no_regex(train, test):
    assert not {e.code for e in train} & {e.code for e in test}
    # also across seeds: a regex's split does not depend on the seed
    assert not {e.code for e in nlrx_synth.generate(500, "test", seed=5)} & {e.code for e in train}


def test_records_are_well_formed(train):
    assert len({e.id for e in train}) == len(train)
    assert len({(e.text, e.code) for e in train}) == len(train)
    e = train[0]
    assert e.id == "nlrx-synth/train/00000" and e.source == "generated/nlrx-synth"
    assert e.messages == [
        {"role": "system", "content": NLRX_SYSTEM_PROMPT},
        {"role": "user", "content": e.text},
        {"role": "assistant", "content": e.code},
    ]


def test_every_regex_parses_with_balanced_parens(train, test):
    for e in train + test:
        assert e.code.count("(") == e.code.count(")"), e.code
        Parser(e.code).parse()


def test_parser_rejects_broken_regexes():
    for bad in ("((dog)", "(dog))", "dog|", "&(dog)", "()", "(x)"):
        with pytest.raises(SyntaxError):
            Parser(bad).parse()


def test_regexes_parse_in_the_dk_brics_dialect(train):
    from jepa_lab.scoring import regex_dfa

    for e in train[:300]:
        regex_dfa.parse_regex(e.code)


def test_quoted_string_convention(train, test):
    """Quoted words are 'dog', 'truck', 'ring', 'lake' in order of first appearance, and the
    regex mentions the same words in the same order."""
    for e in train + test:
        quoted = re.findall(r"'(\w+)'", e.text)
        first_seen = list(dict.fromkeys(quoted))
        assert first_seen == list(WORDS[: len(first_seen)]), e.text
        in_regex = re.findall("|".join(WORDS), e.code)
        assert in_regex == quoted, (e.text, e.code)
        assert e.text.startswith(("lines ", "strings ")), e.text


def test_descriptions_name_what_the_regex_uses(train):
    """Each character class in the regex is named in the description (and vice versa)."""
    names = {
        "[0-9]": "a number",
        "[A-Za-z]": "a letter",
        "[a-z]": "a lower-case letter",
        "[A-Z]": "a capital letter",
        "[AEIOUaeiou]": "a vowel",
    }
    for e in train:
        for cls, name in names.items():
            assert (cls in e.code) == (re.search(rf"\b{name}\b", e.text) is not None), (
                cls,
                e.text,
                e.code,
            )


def test_repeat_counts_match_description(train):
    for e in train:
        assert re.findall(r"\{(\d),\}", e.code) == re.findall(r"(\d) or more times", e.text)


def test_template_corpus_is_varied_and_deterministic():
    corpus = nlrx_synth.template_corpus(2000, seed=3)
    assert corpus == nlrx_synth.template_corpus(2000, seed=3)
    assert len(corpus) == 2000 and all(isinstance(s, str) and s for s in corpus)
    assert len(set(corpus)) > 1800
    openings = {" ".join(s.split()[:2]) for s in corpus}
    assert len(openings) >= 15  # many paraphrased openings, not just 'lines with'
    for phrase in ("that contain", "a digit", "at least", "preceding"):
        assert any(phrase in s for s in corpus), phrase


def test_rejects_bad_arguments():
    with pytest.raises(ValueError, match="split"):
        nlrx_synth.generate(3, "valid")
    with pytest.raises(ValueError, match="style"):
        nlrx_synth.generate(3, style="fancy")


@pytest.mark.skipif(not (ORIGINAL / "targ.txt").exists(), reason="shared NL-RX data absent")
def test_distribution_close_to_published_nlrx_synth():
    real = load_nlrx_original(ORIGINAL, "train", test_fraction=0.0)
    generated = nlrx_synth.generate(len(real), "train", seed=0)
    ours, theirs = (nlrx_synth.distribution_stats(x) for x in (generated, real))
    report = "\n".join(f"{k:24s} real {theirs[k]:7.3f}  generated {ours[k]:7.3f}" for k in ours)
    for key in ours:
        if key.startswith("share_"):
            assert abs(ours[key] - theirs[key]) <= SHARE_TOLERANCE, report
        elif key.endswith("_mean"):
            assert abs(ours[key] / theirs[key] - 1) <= MEAN_TOLERANCE, report
        else:
            assert abs(ours[key] / theirs[key] - 1) <= STD_TOLERANCE, report
    print(report)
