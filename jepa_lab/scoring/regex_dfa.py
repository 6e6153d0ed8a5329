"""dk.brics regexes -> minimal DFAs, and language equivalence: the public face of the parser
(`regex_parse`) and the automata (`regex_automata`).

    compile_regex("(a|b)*c").accepts("abc")   # True

`e{n,}` is built as ((e e) e ...) e* with a minimisation after each factor, which keeps counted
repetition such as `((dog)|(truck.*ring.*)){5,}` in the low hundreds of states at every step.
A regex's outcome is cached by its text, "over budget" included; every compilation and every
comparison has its own work budget (`WORK_BUDGET` units), so results do not depend on what was
compiled before, on the machine, or on its load.
"""

from __future__ import annotations

from dataclasses import dataclass

from jepa_lab.scoring.regex_automata import (
    COUNTERS,
    MAX_STATES,
    UNICODE_END,
    WALL_CLOCK_CEILING_S,
    WORK_BUDGET,
    Alphabet,
    Budget,
    CharSet,
    Dfa,
    complement,
    concatenate,
    constant,
    minimize,
    one_symbol_of,
    product,
    star,
)
from jepa_lab.scoring.regex_cache import ByteBoundedCache
from jepa_lab.scoring.regex_parse import (
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
    "COUNTERS",
    "MAX_AST_DEPTH",
    "MAX_AST_NODES",
    "MAX_CHARCLASSES",
    "MAX_PAREN_DEPTH",
    "MAX_REGEX_CHARS",
    "MAX_REPEAT",
    "MAX_STATES",
    "UNICODE_END",
    "WALL_CLOCK_CEILING_S",
    "WORK_BUDGET",
    "Automaton",
    "Budget",
    "Node",
    "RegexBoundError",
    "RegexSyntaxError",
    "RegexTimeout",
    "clear_caches",
    "compile_node",
    "compile_regex",
    "equivalent",
    "parse_regex",
    "to_fsm",
]


def _charsets(root: Node) -> set[CharSet]:
    """Every character set a regex mentions (digits too, when it has a numeric interval)."""
    found: set[CharSet] = set()
    stack = [root]
    while stack:
        node = stack.pop()
        kind = node[0]
        if kind == "cls":
            found.add((node[1], node[2]))
        elif kind == "interval":
            found.update((((d, d),), False) for d in "0123456789")
        elif kind in ("cat", "or", "and"):
            stack.extend(node[1])
        elif kind in ("not", "opt", "star", "min", "minmax"):
            stack.append(node[1])
    return found


# ---------------------------------------------------------------------------------------------
# AST -> minimal DFA


class _Compiler:
    """Compiles the nodes of one regex over its alphabet; equal subtrees are compiled once."""

    def __init__(self, alphabet: Alphabet, budget: Budget):
        self.alphabet = alphabet
        self.n = alphabet.size
        self.budget = budget
        self.memo: dict[Node, Dfa] = {}
        self.epsilon = constant(self.n, True, False)

    def __call__(self, node: Node) -> Dfa:
        dfa = self.memo.get(node)
        if dfa is None:
            dfa = self.memo[node] = self._build(node)
        return dfa

    def _min(self, dfa: Dfa) -> Dfa:
        return minimize(dfa, self.budget)

    def _cat(self, *parts: Dfa) -> Dfa:
        return self._min(concatenate(parts, self.budget))

    def _build(self, node: Node) -> Dfa:  # noqa: PLR0911 - one branch per AST kind
        kind, n, budget = node[0], self.n, self.budget
        if kind == "cls":
            return one_symbol_of(n, self.alphabet.symbols((node[1], node[2])))
        if kind == "any":
            return one_symbol_of(n, frozenset(range(n)))
        if kind in ("eps", "null", "anystr"):
            return constant(n, kind != "null", kind == "anystr")
        if kind == "interval":
            return self._interval(*node[1:])
        if kind == "cat":
            return self._cat(*(self(child) for child in node[1]))
        if kind in ("or", "and"):
            parts = [self(child) for child in node[1]]
            accept = (lambda x, y: x or y) if kind == "or" else (lambda x, y: x and y)
            result = parts[0]
            for part in parts[1:]:
                result = self._min(product(result, part, accept, budget))
            return result
        inner = self(node[1])
        if kind == "not":
            return complement(inner)
        if kind == "opt":
            return self._min(product(inner, self.epsilon, lambda x, y: x or y, budget))
        if kind == "star":
            return self._min(star(inner, budget))
        if kind == "min":  # e{n,} = ((e e) e ...) e*
            return self._cat(self._repeat(self.epsilon, inner, node[2]), self(("star", node[1])))
        if kind == "minmax":  # e{n,m} = e^n (e|"")^(m-n); empty when n > m, as in dk.brics
            lo, hi = node[2], node[3]
            if lo > hi:
                return constant(n, False, False)
            optional = self(("opt", node[1]))
            return self._repeat(self._repeat(self.epsilon, inner, lo), optional, hi - lo)
        raise AssertionError(f"unknown AST node {kind!r}")

    def _repeat(self, head: Dfa, factor: Dfa, times: int) -> Dfa:
        """head factor^times, minimised after each factor: the subsets range over the small
        factor's states, and the growing head stays minimal."""
        for _ in range(times):
            head = self._cat(head, factor)
        return head

    def _interval(self, lo: int, hi: int, digits: int) -> Dfa:
        """dk.brics <lo-hi>: decimal numbers in [lo, hi]; zero-padded to `digits` when digits > 0,
        otherwise with any number of leading zeros. Built as a trie of the numbers' digits."""
        digit_symbol = {d: self.alphabet.symbol_of(ord(d)) for d in "0123456789"}
        trie: list[dict[int, int]] = [{}]
        finals = set()
        for value in range(lo, hi + 1):
            text = str(value).zfill(digits) if digits else str(value)
            self.budget.charge(len(text))
            state = 0
            for char in text:
                symbol = digit_symbol[char]
                if symbol not in trie[state]:
                    trie[state][symbol] = len(trie)
                    trie.append({})
                state = trie[state][symbol]
            finals.add(state)
        dead = len(trie)
        delta = tuple(tuple(row.get(s, dead) for s in range(self.n)) for row in trie)
        numbers = self._min(Dfa((*delta, tuple([dead] * self.n)), frozenset(finals)))
        if digits:
            return numbers
        zero = one_symbol_of(self.n, frozenset({digit_symbol["0"]}))
        return self._cat(self._min(star(zero, self.budget)), numbers)


@dataclass(frozen=True)
class Automaton:
    """A regex's minimal DFA together with the alphabet its symbols refer to."""

    alphabet: Alphabet
    dfa: Dfa
    work: int  # units it cost to build

    def accepts(self, text: str) -> bool:
        state = 0
        for char in text:
            state = self.dfa.delta[state][self.alphabet.symbol_of(ord(char))]
        return state in self.dfa.finals


def compile_node(node: Node, budget: Budget | None = None) -> Automaton:
    """Minimal DFA of a parsed regex; raises RegexBoundError past the work budget."""
    budget = budget or Budget()
    COUNTERS["compiled"] += 1
    alphabet = Alphabet(_charsets(node), budget)
    dfa = _Compiler(alphabet, budget)(node)
    return Automaton(alphabet, dfa, budget.used)


def _outcome(text: str) -> Automaton | ValueError:
    try:
        return compile_node(parse_regex(text))
    except RegexTimeout:
        raise  # the wall-clock ceiling is not a property of the regex: do not cache it
    except (RegexSyntaxError, RegexBoundError) as err:
        return err  # cached: a gold over the budget is not compiled again for every candidate


def outcome_bytes(text: str, outcome: Automaton | ValueError) -> int:
    """Estimated memory of one cached outcome: a pointer per transition, row and member."""
    if not isinstance(outcome, Automaton):
        return 200 + 2 * len(text) + len(str(outcome))
    rows = outcome.dfa.delta
    members = len(outcome.alphabet._members) + len(outcome.alphabet.representative)
    return 200 + 2 * len(text) + 8 * sum(len(row) for row in rows) + 64 * len(rows) + 72 * members


CACHE_BYTES = 256 << 20  # compiled automata kept, in estimated bytes (and at most 20,000)
_compile_outcome = ByteBoundedCache(_outcome, outcome_bytes, CACHE_BYTES, 20_000)


def compile_regex(text: str) -> Automaton:
    """Parse and compile one regex, caching the outcome, "over budget" included.

    Raises RegexSyntaxError (does not parse), RegexBoundError (past a bound; the same error
    object again on later calls), RegexTimeout (the wall-clock ceiling; not cached). Thread-safe:
    the cache (bounded in bytes, :data:`CACHE_BYTES`) locks, and every compilation has its own
    Budget.
    """
    outcome = _compile_outcome(text)
    if isinstance(outcome, ValueError):
        raise outcome
    return outcome


def equivalent(a: Automaton, b: Automaton, budget: Budget | None = None) -> bool:
    """Whether two automata accept the same strings: search their product, over the common
    refinement of both alphabets, for a state where exactly one accepts."""
    budget = budget or Budget()
    joint = Alphabet(set(a.alphabet._members) | set(b.alphabet._members), budget)
    to_a = [a.alphabet.symbol_of(code) for code in joint.representative]
    to_b = [b.alphabet.symbol_of(code) for code in joint.representative]
    seen = {(0, 0)}
    queue = [(0, 0)]
    for qa, qb in queue:
        if (qa in a.dfa.finals) != (qb in b.dfa.finals):
            return False
        row_a, row_b = a.dfa.delta[qa], b.dfa.delta[qb]
        for sa, sb in zip(to_a, to_b, strict=True):
            budget.charge(1)
            pair = (row_a[sa], row_b[sb])
            if pair not in seen:
                seen.add(pair)
                queue.append(pair)
    return True


def clear_caches() -> None:
    """Forget parsed regexes and compiled automata (for cold-cache timing)."""
    parse_regex.cache_clear()
    _compile_outcome.cache_clear()


to_fsm = compile_regex  # the name of the single-module version
