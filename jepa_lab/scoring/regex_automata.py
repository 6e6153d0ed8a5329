"""Minimal DFAs over per-regex alphabets, built under a deterministic work budget.

Each regex gets its own alphabet: the character sets it mentions cut Unicode into intervals, and
intervals that every set treats alike share one symbol (one symbol is "anything else"), so `.`
and complements range over every character, exactly as in dk.brics. Automata are complete DFAs
over those symbols (tuples of ints), built by the textbook constructions (product, subset
construction for concatenation and star, complement by flipping finals) and minimised after
every step (Hopcroft's partition refinement, renumbered canonically). `regex_dfa` compiles a
parsed regex with these; this module knows nothing of regex syntax.

The budget counts work, not time: every inner loop charges units (a transition of a subset
construction costs 1 + the size of the subset it advances, minimisation costs the transitions it
scans), and past the budget the operation stops with RegexBoundError. The same regex therefore
costs the same on any machine, at any load, after anything else was scored. A generous wall-clock
ceiling remains only as a last resort; `COUNTERS["ceiling_fired"]` says how often it fired.

These are our own automata: nothing here uses or patches greenery (patching a library's internals
would change it for the whole process); greenery serves only as the test oracle.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass

from jepa_lab.scoring.regex_parse import RegexBoundError, RegexTimeout

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


def _crawl(
    n_symbols: int,
    initial: Hashable,
    is_final: Callable[[Hashable], bool],
    step: Callable[[Hashable, int], Hashable],
    weight: Callable[[Hashable], int],
    budget: Budget,
) -> Dfa:
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


def constant(n_symbols: int, accepts_empty: bool, accepts_more: bool) -> Dfa:
    """Languages that ignore which characters they read: #, (), @ (any string)."""
    if accepts_more:
        return Dfa((tuple([0] * n_symbols),), frozenset({0}) if accepts_empty else frozenset())
    dead = tuple([1] * n_symbols)
    return Dfa((dead, dead), frozenset({0}) if accepts_empty else frozenset())


def one_symbol_of(n_symbols: int, allowed: frozenset[int]) -> Dfa:
    if not allowed:
        return constant(n_symbols, False, False)
    dead = tuple([2] * n_symbols)
    first = tuple(1 if s in allowed else 2 for s in range(n_symbols))
    return Dfa((first, dead, dead), frozenset({1}))


def product(a: Dfa, b: Dfa, accept: Callable[[bool, bool], bool], budget: Budget) -> Dfa:
    n_symbols = len(a.delta[0])
    return _crawl(
        n_symbols,
        (0, 0),
        lambda k: accept(k[0] in a.finals, k[1] in b.finals),
        lambda k, s: (a.delta[k[0]][s], b.delta[k[1]][s]),
        lambda k: 1,
        budget,
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
        n_symbols,
        closure([(0, 0)]),
        lambda key: any(i == last and q in parts[last].finals for i, q in key),
        lambda key, s: closure((i, parts[i].delta[q][s]) for i, q in key),
        lambda key: 1 + len(key),
        budget,
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
        n_symbols,
        (True, frozenset({0})),
        lambda k: k[0] or not k[1].isdisjoint(a.finals),
        step,
        lambda k: 1 + len(k[1]),
        budget,
    )


def complement(a: Dfa) -> Dfa:
    return Dfa(a.delta, frozenset(range(a.size)) - a.finals)
