"""Parsed dk.brics regexes -> minimal DFAs, under a deterministic work budget.

Each regex gets its own alphabet: the character sets it mentions cut Unicode into intervals, and
intervals that every set treats alike share one symbol (one symbol is "anything else"), so `.`
and complements range over every character, exactly as in dk.brics. Automata are complete DFAs
over those symbols (tuples of ints), built by the textbook constructions (product, subset
construction for concatenation and star, complement by flipping finals) and minimised after
every step (Hopcroft's partition refinement, renumbered canonically). `e{n,}` is built as
((e e) e ...) e* with a minimisation after each factor, which keeps counted repetition such as
`((dog)|(truck.*ring.*)){5,}` in the low hundreds of states at every step.

The budget counts work, not time: every inner loop charges units (a transition of a subset
construction costs 1 + the size of the subset it advances, minimisation costs the transitions it
scans), and past the budget the operation stops with RegexBoundError. The same regex therefore
costs the same on any machine, at any load, after anything else was scored. A generous wall-clock
ceiling remains only as a last resort; `COUNTERS["ceiling_fired"]` says how often it fired.

This module owns its automata: it does not use or modify greenery (an earlier version replaced
greenery internals process-wide); greenery serves only as the test oracle.
"""

from __future__ import annotations

import bisect
import functools
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from jepa_lab.regex_parse import (
    Node,
    RegexBoundError,
    RegexSyntaxError,
    RegexTimeout,
    parse_regex,
)

UNICODE_END = 0x110000
# Units of work one regex may cost to compile, and one comparison to decide. The costliest gold
# of NL-RX-SYNTH, `(((dog).*(truck).*)|(ring)){6,}`, costs ~310K units (~0.04 s); raising every
# count in the SYNTH golds to 7 (the largest NL-RX uses; NL-RX-TURK comes from the same generator)
# costs at most ~480K. 2M leaves 4x headroom above that, and any input reaches it within ~0.3 s
# of CPU (about 7M units/s). benchmarks/scoring.py prints the costliest gold's units.
WORK_BUDGET = 2_000_000
MAX_STATES = 5000  # states in any intermediate automaton: a clearer message than the budget
WALL_CLOCK_CEILING_S = 30.0  # last resort only; the work budget stops real cases long before
_CLOCK_EVERY = 50_000  # units between wall-clock reads (a read costs more than a unit)
_STATE_OVERHEAD = 8  # units per new state of a construction, beside its transitions
_OPERATION_OVERHEAD = 50  # units per construction or minimisation called

# How often each thing happened in this process (plain ints; approximate under threads).
COUNTERS = {"compiled": 0, "over_budget": 0, "ceiling_fired": 0}


class Budget:
    """Work units left for one compilation or one comparison. Not shared between threads."""

    def __init__(self, limit: int | None = None, ceiling_s: float | None = None):
        self.limit = WORK_BUDGET if limit is None else limit  # read at call time
        ceiling_s = WALL_CLOCK_CEILING_S if ceiling_s is None else ceiling_s
        self.used = 0
        self._deadline = time.perf_counter() + ceiling_s
        self._next_clock = _CLOCK_EVERY

    def charge(self, units: int) -> None:
        self.used += units
        if self.used > self.limit:
            COUNTERS["over_budget"] += 1
            raise RegexBoundError(f"work budget of {self.limit:,} units exceeded")
        if self.used >= self._next_clock:
            self._next_clock = self.used + _CLOCK_EVERY
            if time.perf_counter() > self._deadline:
                COUNTERS["ceiling_fired"] += 1
                raise RegexTimeout("wall-clock ceiling reached before the work budget")


# ---------------------------------------------------------------------------------------------
# Alphabet

CharSet = tuple[tuple[tuple[str, str], ...], bool]  # (ranges, negated), as in a "cls" node


def _contains(ranges: Sequence[tuple[str, str]], code: int) -> bool:
    return any(ord(lo) <= code <= ord(hi) for lo, hi in ranges)


class Alphabet:
    """A partition of Unicode into symbols 0..size-1, as fine as the given character sets need."""

    def __init__(self, charsets: Iterable[CharSet], budget: Budget | None = None):
        charsets = sorted(set(charsets))
        cuts = {0}
        for ranges, _negated in charsets:
            for lo, hi in ranges:
                cuts.update((ord(lo), ord(hi) + 1))
        cuts.discard(UNICODE_END)
        self.starts = sorted(cuts)  # interval i is [starts[i], starts[i+1])
        if budget is not None:
            budget.charge(len(self.starts) * (1 + len(charsets)))
        by_signature: dict[tuple[bool, ...], int] = {}
        self.interval_symbol: list[int] = []
        self.representative: list[int] = []  # one code point of each symbol
        for start in self.starts:
            signature = tuple(_contains(r, start) != neg for r, neg in charsets)
            symbol = by_signature.setdefault(signature, len(by_signature))
            if symbol == len(self.representative):
                self.representative.append(start)
            self.interval_symbol.append(symbol)
        self.size = len(by_signature)
        self._members = {
            charset: frozenset(s for sig, s in by_signature.items() if sig[i])
            for i, charset in enumerate(charsets)
        }

    def symbols(self, charset: CharSet) -> frozenset[int]:
        return self._members[charset]

    def symbol_of(self, code: int) -> int:
        return self.interval_symbol[bisect.bisect_right(self.starts, code) - 1]


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
# DFAs


@dataclass(frozen=True)
class Dfa:
    """A complete DFA: state 0 is initial, delta[state][symbol] the next state."""

    delta: tuple[tuple[int, ...], ...]
    finals: frozenset[int]

    @property
    def size(self) -> int:
        return len(self.delta)


def _crawl(n_symbols: int, initial: Hashable, is_final: Callable[[Hashable], bool],
           step: Callable[[Hashable, int], Hashable], weight: Callable[[Hashable], int],
           budget: Budget) -> Dfa:
    """The DFA of the states reachable from `initial`; charges weight(state) per transition."""
    budget.charge(_OPERATION_OVERHEAD)
    keys = [initial]
    index = {initial: 0}
    delta, finals = [], set()
    i = 0
    while i < len(keys):
        key = keys[i]
        if is_final(key):
            finals.add(i)
        cost = weight(key)
        budget.charge(_STATE_OVERHEAD)
        row = []
        for symbol in range(n_symbols):
            budget.charge(cost)
            nxt = step(key, symbol)
            j = index.get(nxt)
            if j is None:
                j = index[nxt] = len(keys)
                keys.append(nxt)
                if j >= MAX_STATES:
                    raise RegexBoundError(f"automaton exceeds {MAX_STATES} states")
            row.append(j)
        delta.append(tuple(row))
        i += 1
    return Dfa(tuple(delta), frozenset(finals))


def minimize(dfa: Dfa, budget: Budget) -> Dfa:
    """The minimal DFA (Hopcroft's partition refinement, O(symbols * n log n)), states numbered
    in breadth-first symbol order, so equal languages over one alphabet give equal Dfa objects."""
    n, n_symbols = dfa.size, len(dfa.delta[0])
    budget.charge(_OPERATION_OVERHEAD + 3 * n * (n_symbols + 1))  # preimage, renumbering
    preimage: list[dict[int, list[int]]] = [{} for _ in range(n_symbols)]
    for q, row in enumerate(dfa.delta):
        for symbol, t in enumerate(row):
            preimage[symbol].setdefault(t, []).append(q)
    blocks = [b for b in (set(dfa.finals), set(range(n)) - dfa.finals) if b]
    block_of = [0] * n
    for b, members in enumerate(blocks):
        for q in members:
            block_of[q] = b
    pending = set(range(len(blocks)))
    while pending:
        splitter = list(blocks[pending.pop()])
        for symbol in range(n_symbols):
            into = preimage[symbol]
            touched: dict[int, list[int]] = {}
            for t in splitter:
                for q in into.get(t, ()):
                    touched.setdefault(block_of[q], []).append(q)
            budget.charge(1 + len(splitter) + sum(map(len, touched.values())))
            for b, inside in touched.items():
                if len(inside) == len(blocks[b]):
                    continue
                part = set(inside)
                blocks[b] -= part
                new = len(blocks)
                blocks.append(part)
                for q in part:
                    block_of[q] = new
                smaller = new if len(part) <= len(blocks[b]) else b
                pending.add(new if b in pending else smaller)
    return _renumber(dfa, block_of)


def _renumber(dfa: Dfa, block_of: list[int]) -> Dfa:
    """The quotient DFA, blocks numbered breadth-first from the initial state's block."""
    number = {block_of[0]: 0}
    members = [0]  # one state of each block, by number
    for q in members:
        for t in dfa.delta[q]:
            if block_of[t] not in number:
                number[block_of[t]] = len(members)
                members.append(t)
    delta = tuple(tuple(number[block_of[t]] for t in dfa.delta[q]) for q in members)
    return Dfa(delta, frozenset(number[block_of[q]] for q in dfa.finals))


def _constant(n_symbols: int, accepts_empty: bool, accepts_more: bool) -> Dfa:
    """Languages that ignore which characters they read: #, (), @ (any string)."""
    if accepts_more:
        return Dfa((tuple([0] * n_symbols),), frozenset({0}) if accepts_empty else frozenset())
    dead = tuple([1] * n_symbols)
    return Dfa((dead, dead), frozenset({0}) if accepts_empty else frozenset())


def _one_symbol_of(n_symbols: int, allowed: frozenset[int]) -> Dfa:
    if not allowed:
        return _constant(n_symbols, False, False)
    dead = tuple([2] * n_symbols)
    first = tuple(1 if s in allowed else 2 for s in range(n_symbols))
    return Dfa((first, dead, dead), frozenset({1}))


def product(a: Dfa, b: Dfa, accept: Callable[[bool, bool], bool], budget: Budget) -> Dfa:
    n_symbols = len(a.delta[0])
    return _crawl(
        n_symbols, (0, 0),
        lambda k: accept(k[0] in a.finals, k[1] in b.finals),
        lambda k, s: (a.delta[k[0]][s], b.delta[k[1]][s]),
        lambda k: 1, budget,
    )


def _dead_state(dfa: Dfa) -> int | None:
    """The non-accepting state that loops on every symbol, if any (a minimal DFA has at most one):
    subsets drop it, since a path there can never accept."""
    for q, row in enumerate(dfa.delta):
        if q not in dfa.finals and all(t == q for t in row):
            return q
    return None


def concatenate(parts: Sequence[Dfa], budget: Budget) -> Dfa:
    """Subset construction over sets of (part index, state of that part) in one pass."""
    n_symbols, last = len(parts[0].delta[0]), len(parts) - 1
    budget.charge(sum(p.size for p in parts) * n_symbols)
    dead = [_dead_state(p) for p in parts]

    def closure(pairs: Iterable[tuple[int, int]]) -> frozenset[tuple[int, int]]:
        out = set()
        for i, q in pairs:
            while q != dead[i]:
                out.add((i, q))
                if i == last or q not in parts[i].finals:
                    break
                i, q = i + 1, 0  # part i accepted: part i+1 may start
        return frozenset(out)

    return _crawl(
        n_symbols, closure([(0, 0)]),
        lambda key: any(i == last and q in parts[last].finals for i, q in key),
        lambda key, s: closure((i, parts[i].delta[q][s]) for i, q in key),
        lambda key: 1 + len(key), budget,
    )


def star(a: Dfa, budget: Budget) -> Dfa:
    """Subset construction; the initial state is marked so that it alone accepts the empty
    string when a does not."""
    n_symbols = len(a.delta[0])
    budget.charge(a.size * n_symbols)
    dead = _dead_state(a)

    def step(key, s):
        nxt = {a.delta[q][s] for q in key[1]}
        if not a.finals.isdisjoint(nxt):
            nxt.add(0)
        nxt.discard(dead)
        return False, frozenset(nxt)

    return _crawl(
        n_symbols, (True, frozenset({0})),
        lambda k: k[0] or not k[1].isdisjoint(a.finals), step, lambda k: 1 + len(k[1]), budget,
    )


def complement(a: Dfa) -> Dfa:
    return Dfa(a.delta, frozenset(range(a.size)) - a.finals)


# ---------------------------------------------------------------------------------------------
# AST -> minimal DFA


class _Compiler:
    """Compiles the nodes of one regex over its alphabet; equal subtrees are compiled once."""

    def __init__(self, alphabet: Alphabet, budget: Budget):
        self.alphabet = alphabet
        self.n = alphabet.size
        self.budget = budget
        self.memo: dict[Node, Dfa] = {}
        self.epsilon = _constant(self.n, True, False)

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
            return _one_symbol_of(n, self.alphabet.symbols((node[1], node[2])))
        if kind == "any":
            return _one_symbol_of(n, frozenset(range(n)))
        if kind in ("eps", "null", "anystr"):
            return _constant(n, kind != "null", kind == "anystr")
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
                return _constant(n, False, False)
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
        zero = _one_symbol_of(self.n, frozenset({digit_symbol["0"]}))
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


@functools.lru_cache(maxsize=20_000)
def _compile_outcome(text: str) -> Automaton | ValueError:
    try:
        return compile_node(parse_regex(text))
    except RegexTimeout:
        raise  # the wall-clock ceiling is not a property of the regex: do not cache it
    except (RegexSyntaxError, RegexBoundError) as err:
        return err  # cached: a gold over the budget is not compiled again for every candidate


def compile_regex(text: str) -> Automaton:
    """Parse and compile one regex, caching the outcome, "over budget" included.

    Raises RegexSyntaxError (does not parse), RegexBoundError (past a bound; the same error
    object again on later calls), RegexTimeout (the wall-clock ceiling; not cached). Thread-safe:
    the cache is an lru_cache and every compilation has its own Budget.
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
