"""Scoring model output, strings in and verdicts out, with no model: NL-RX by regex
equivalence under dk.brics semantics (a parser, Thompson automata and minimal DFAs, all under a
deterministic work budget, so untrusted output never reaches a backtracking engine), GSM8K
by its final numeric answer, Spider by execution on sqlite (read-only, an authorizer, a step
budget), NQ-Open by SQuAD-normalised exact match, HellaSwag by its answer letter and Rotten
Tomatoes by its label. The package's public names are the scorers; the automata modules
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
    "SqlVerdict": "sql",
    "execution_match": "sql",
    "exact_match_normalized": "sql",
    "normalize_sql": "sql",
    "score_spider": "sql",
    "spider_db_dir": "sql",
    "spider_db_id": "sql",
    "normalize_answer": "qa",
    "split_gold_answers": "qa",
    "score_nq_open": "qa",
    "choice_letter": "choice",
    "score_choice": "choice",
    "label_of": "choice",
    "score_label": "choice",
}
__all__ = sorted(_EXPORTS)
__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
