"""Scoring NL-RX: regex equivalence under dk.brics semantics.

A generated regex is right when it denotes the same language as the gold regex under
dk.brics.automaton semantics (the library NL-RX was scored with), decided by comparing minimal
DFAs under a deterministic work budget (see `jepa_lab.scoring.regex_automata`). The LLM-JEPA
reference
code scores exact string match instead; both figures are reported by `score_nlrx`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from jepa_lab.scoring import regex_dfa

VerdictKind = Literal["equivalent", "not_equivalent", "parse_error", "bound", "timeout"]


@dataclass(frozen=True)
class Verdict:
    """Outcome of comparing a candidate regex with a gold regex.

    equivalent: the verdict used for scoring (True only for kind == "equivalent").
    kind: "equivalent" | "not_equivalent" | "parse_error" | "bound" | "timeout".
    reason: human-readable, e.g. "candidate does not parse: expected ')' at col 12".
    """

    equivalent: bool
    kind: VerdictKind
    reason: str

    @property
    def code(self) -> str:
        """dk.brics-style verdict: "1" equivalent, "0" not, "E" does not parse.

        A regex past our bounds parses in dk.brics, which would answer 1 or 0 after (possibly
        very long) work; we score it wrong, so it maps to "0".
        """
        return {"equivalent": "1", "parse_error": "E"}.get(self.kind, "0")


# What is stripped from both ends of a regex before it is compared. dk.brics' RegExp strips
# nothing, and the original NL-RX evaluation (deep-regex's regexDFAEquals.py) removed only ASCII
# spaces, the separators of its tokenised output, before calling dk.brics. Decoded model output
# often ends with a newline or space, so we strip ASCII space, tab, CR and LF at the ends and
# nothing else: str.strip() would also remove Unicode spaces (U+00A0, U+3000, ...) and control
# characters such as \x1c-\x1f, which dk.brics reads as literal characters of the regex.
_STRIPPED = " \t\r\n"


def _prepare(role: str, text: object) -> str | Verdict:
    """The text to compare, or the Verdict that explains why there is none. Runs before any
    parsing or caching, so an oversized text costs a length check."""
    if not isinstance(text, str):
        return Verdict(
            False, "parse_error", f"{role} does not parse: expected str, got {type(text).__name__}"
        )
    text = text.strip(_STRIPPED)
    if len(text) > regex_dfa.MAX_REGEX_CHARS:
        return Verdict(
            False,
            "bound",
            f"exceeds bound: {role}: {len(text)} characters > "
            f"{regex_dfa.MAX_REGEX_CHARS} (not parsed)",
        )
    return text


def _compile(role: str, text: str, parse_only: bool = False) -> object:  # Automaton/Node/Verdict
    """The automaton of one side (cached), or the Verdict that explains why there is none."""
    try:
        return regex_dfa.parse_regex(text) if parse_only else regex_dfa.compile_regex(text)
    except regex_dfa.RegexSyntaxError as err:
        return Verdict(False, "parse_error", f"{role} does not parse: {err}")
    except regex_dfa.RegexTimeout:
        return Verdict(
            False,
            "timeout",
            f"timeout: {role}: wall-clock ceiling {regex_dfa.WALL_CLOCK_CEILING_S:g}s reached",
        )
    except regex_dfa.RegexBoundError as err:
        return Verdict(False, "bound", f"exceeds bound: {role}: {err}")
    except RecursionError:  # cannot happen within the AST depth cap; kept as a last guard
        return Verdict(False, "bound", f"exceeds bound: {role}: recursion depth")


def compare_regex(gold: str, candidate: str) -> Verdict:
    """Compare two dk.brics regexes by language. Never raises.

    ASCII whitespace (space, tab, CR, LF) at the ends is stripped from both; nothing else.
    Deterministic: compiling each side and deciding equivalence each have a budget of work units
    (regex_dfa.WORK_BUDGET), not of time, so the same pair gets the same verdict on any machine,
    at any load, in any order. Texts over regex_dfa.MAX_REGEX_CHARS are rejected unparsed. Both
    sides' outcomes are cached, "over budget" included. A candidate identical to a gold that
    parses is equivalent without compiling (as in the original evaluation, which compared the
    strings first).
    """
    gold_text, candidate_text = _prepare("gold", gold), _prepare("candidate", candidate)
    for prepared in (gold_text, candidate_text):
        if isinstance(prepared, Verdict):
            return prepared
    if gold_text == candidate_text:
        parsed = _compile("gold", gold_text, parse_only=True)
        return parsed if isinstance(parsed, Verdict) else Verdict(True, "equivalent", "equivalent")
    gold_dfa = _compile("gold", gold_text)
    if isinstance(gold_dfa, Verdict):
        return gold_dfa
    candidate_dfa = _compile("candidate", candidate_text)
    if isinstance(candidate_dfa, Verdict):
        return candidate_dfa
    try:
        same = regex_dfa.equivalent(gold_dfa, candidate_dfa)
    except regex_dfa.RegexTimeout:
        return Verdict(
            False,
            "timeout",
            f"timeout: comparison: wall-clock ceiling {regex_dfa.WALL_CLOCK_CEILING_S:g}s reached",
        )
    except regex_dfa.RegexBoundError as err:
        return Verdict(False, "bound", f"exceeds bound: comparison: {err}")
    if same:
        return Verdict(True, "equivalent", "equivalent")
    return Verdict(False, "not_equivalent", "not equivalent")


def regex_equivalent(gold: str, candidate: str) -> bool:
    """True when `candidate` denotes the same language as `gold` (dk.brics semantics).

    False for anything that does not parse or exceeds the bounds; never raises.
    """
    return compare_regex(gold, candidate).equivalent


def regex_exact(gold: str, candidate: str) -> bool:
    """Exact string match after stripping ASCII whitespace at the ends (the LLM-JEPA metric)."""
    return isinstance(candidate, str) and gold.strip(_STRIPPED) == candidate.strip(_STRIPPED)


def score_nlrx(golds: Sequence[str], candidates: Sequence[str]) -> dict:
    """Score candidate regexes against gold regexes.

    Returns {"n", "semantic_accuracy", "exact_accuracy", "unparseable", "bounded" (past a bound
    or timed out), "verdicts": list[Verdict]}. Accuracies are 0.0 for empty input.
    """
    if len(golds) != len(candidates):
        raise ValueError(f"score_nlrx: {len(golds)} gold regexes but {len(candidates)} candidates")
    verdicts = [compare_regex(g, c) for g, c in zip(golds, candidates, strict=True)]
    exact = sum(regex_exact(g, c) for g, c in zip(golds, candidates, strict=True))
    n = len(verdicts)
    return {
        "n": n,
        "semantic_accuracy": sum(v.equivalent for v in verdicts) / n if n else 0.0,
        "exact_accuracy": exact / n if n else 0.0,
        "unparseable": sum(v.kind == "parse_error" for v in verdicts),
        "bounded": sum(v.kind in ("bound", "timeout") for v in verdicts),
        "verdicts": verdicts,
    }
