"""dk.brics regexes -> minimal DFAs: the parser (`regex_parse`) and automata (`regex_automata`)
under one name, for callers written against the single-module version.

    to_fsm("(a|b)*c").accepts("abc")   # True
"""

from __future__ import annotations

from jepa_lab.regex_automata import (
    COUNTERS,
    MAX_STATES,
    WALL_CLOCK_CEILING_S,
    WORK_BUDGET,
    Automaton,
    Budget,
    clear_caches,
    compile_node,
    compile_regex,
    equivalent,
)
from jepa_lab.regex_parse import (
    MAX_AST_DEPTH,
    MAX_AST_NODES,
    MAX_CHARCLASSES,
    MAX_PAREN_DEPTH,
    MAX_REGEX_CHARS,
    MAX_REPEAT,
    Node,
    RegexBoundError,
    RegexSyntaxError,
    RegexTimeout,
    parse_regex,
)

__all__ = [
    "COUNTERS", "MAX_AST_DEPTH", "MAX_AST_NODES", "MAX_CHARCLASSES", "MAX_PAREN_DEPTH",
    "MAX_REGEX_CHARS", "MAX_REPEAT", "MAX_STATES", "WALL_CLOCK_CEILING_S", "WORK_BUDGET",
    "Automaton", "Budget", "Node", "RegexBoundError", "RegexSyntaxError", "RegexTimeout",
    "clear_caches", "compile_node", "compile_regex", "equivalent", "parse_regex", "to_fsm",
]

to_fsm = compile_regex
