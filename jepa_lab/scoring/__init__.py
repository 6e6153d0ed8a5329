"""Scoring model output, strings in and verdicts out, with no model: NL-RX by regex
equivalence under dk.brics semantics (a parser, Thompson automata and minimal DFAs, all under a
deterministic work budget, so untrusted output never reaches a backtracking engine) and GSM8K
by its final numeric answer. The package's public names are the scorers; the automata modules
are importable as submodules.
"""

from jepa_lab import lazy_exports

# public name -> the module of this package that defines it; imported on first use, so that
# importing one light module of the package does not pull in torch or plotly
_EXPORTS = {
    "Verdict": "regex",
    "compare_regex": "regex",
    "regex_equivalent": "regex",
    "regex_exact": "regex",
    "score_nlrx": "regex",
    "gsm8k_answer": "gsm8k",
    "gsm8k_correct": "gsm8k",
    "score_gsm8k": "gsm8k",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
