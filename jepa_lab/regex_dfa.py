"""dk.brics.automaton regular expressions -> minimal DFAs (via greenery), with hard bounds.

NL-RX was scored with dk.brics.automaton, whose regex dialect differs from Python's:
`&` is intersection, `~` is complement, `#` the empty language, `@` any string, `"..."` a literal
string, `<n-m>` a numeric interval, and a backslash makes the next character literal (`\\b` is the
letter b). Any other character that cannot start an operator is a literal, even `}` or `|` in some
positions: the parser below mirrors dk.brics' recursive descent (RegExp.java, version 1.11) step
for step, so that what dk.brics accepts or rejects, we accept or reject.

Precedence, loosest first:  `|`  <  `&`  <  concatenation  <  postfix `? * + {n} {n,} {n,m}`
<  prefix `~`  <  atoms. A `~` binds to the next atom only and the postfix operators then apply to
the complement: `~a*` is `(~a)*`.

Automata come from greenery 4.2.3, whose alphabet is a partition of all of Unicode into
`Charclass`es (one of them negated: "anything else"), so `.` and complements range over every
character, exactly as in dk.brics. Untrusted text never reaches Python's `re`.

Bounds (a generated regex is untrusted): repeat counts, nesting depth, AST size, distinct
character sets, states per automaton, and a wall-clock deadline. greenery's operations are
uninterruptible loops, so this module installs a guarded drop-in for `greenery.fsm.crawl` (the
one routine every greenery operation builds its result with) that checks the active budget at
every state; two more drop-ins (an indexed `Fsm.reversed`, a cached `unify_alphabets`) make
greenery fast enough to score thousands of pairs in seconds.
"""

from __future__ import annotations

import contextvars
import functools
import time
from collections.abc import Callable, Hashable, Iterable
from contextlib import contextmanager
from dataclasses import dataclass

import greenery.fsm as gfsm
from greenery import Charclass, Fsm
from greenery.charclass import DOT, repartition

MAX_REPEAT = 1000  # largest n or m accepted in {n}, {n,}, {n,m} and interval width
MAX_PAREN_DEPTH = 100  # nested parentheses
MAX_AST_DEPTH = 200  # nesting of operators after parsing (bounds compile recursion)
MAX_AST_NODES = 5000
MAX_CHARCLASSES = 100  # distinct character sets: greenery repartitions them in quadratic time
MAX_STATES = 5000  # states in any intermediate automaton (subset constructions overshoot)
DEFAULT_TIMEOUT_S = 1.0
_JAVA_INT_MAX = 2**31 - 1  # dk.brics parses counts with Integer.parseInt


class RegexSyntaxError(ValueError):
    """dk.brics would throw IllegalArgumentException: the regex does not parse."""

    def __init__(self, message: str, pos: int):
        super().__init__(f"{message} at col {pos + 1}")
        self.pos = pos  # 0-based offset in the regex text


class RegexBoundError(ValueError):
    """The regex parses (or might) but is too large to compile within our bounds."""


class RegexTimeout(RegexBoundError):
    """Compilation or comparison ran past its wall-clock deadline."""


# ---------------------------------------------------------------------------------------------
# AST: plain nested tuples, so equal regexes give equal (hashable) trees and subtrees cache well.
#   ("cls", ranges, negated)   one character from `ranges` ((lo, hi) pairs); negated = [^...]
#   ("any",)  ("eps",)  ("null",)  ("anystr",)
#   ("cat", items)  ("or", items)  ("and", items)      items: tuple of nodes
#   ("not", e)  ("opt", e)  ("star", e)  ("min", e, n)  ("minmax", e, n, m)
#   ("interval", lo, hi, digits)
Node = tuple


def _char(c: str) -> Node:
    return ("cls", ((c, c),), False)


def _string(s: str) -> Node:
    if not s:
        return ("eps",)
    return ("cat", tuple(_char(c) for c in s)) if len(s) > 1 else _char(s)


class _Parser:
    """Mirror of dk.brics RegExp's parser with all syntax flags on (the `new RegExp(s)` default)."""

    def __init__(self, text: str):
        self.text = text
        self.pos = 0
        self.paren_depth = 0
        self.bound_violation: str | None = None  # reported only if the whole regex parses

    # -- dk.brics' lexical helpers ----------------------------------------------------------
    def more(self) -> bool:
        return self.pos < len(self.text)

    def peek(self, chars: str) -> bool:
        return self.more() and self.text[self.pos] in chars

    def match(self, c: str) -> bool:
        if self.more() and self.text[self.pos] == c:
            self.pos += 1
            return True
        return False

    def next(self) -> str:
        if not self.more():
            raise RegexSyntaxError("unexpected end-of-string", self.pos)
        self.pos += 1
        return self.text[self.pos - 1]

    # -- grammar ------------------------------------------------------------------------------
    def parse(self) -> Node:
        if not self.text:
            return ("eps",)  # dk.brics 1.11: the empty regex is the empty string
        node = self.union()
        if self.more():
            raise RegexSyntaxError("end-of-string expected", self.pos)
        return node

    def union(self) -> Node:
        # dk.brics recurses to the right; a loop gives the same language without deep recursion.
        items = [self.inter()]
        while self.match("|"):
            items.append(self.inter())
        return items[0] if len(items) == 1 else ("or", tuple(items))

    def inter(self) -> Node:
        items = [self.concat()]
        while self.match("&"):
            items.append(self.concat())
        return items[0] if len(items) == 1 else ("and", tuple(items))

    def concat(self) -> Node:
        items = [self.repeat()]
        while self.more() and not self.peek(")&|"):
            items.append(self.repeat())
        return items[0] if len(items) == 1 else ("cat", tuple(items))

    def _integer(self) -> int:
        start = self.pos
        while self.peek("0123456789"):
            self.pos += 1
        significant = self.text[start : self.pos].lstrip("0") or "0"
        # Integer.parseInt throws past 2**31-1: a syntax error in dk.brics. Check the length
        # first, since int() of a 5000-digit string is itself an error in Python.
        if len(significant) > 10 or int(significant) > _JAVA_INT_MAX:
            raise RegexSyntaxError(f"integer {significant[:12]} out of range", start)
        value = int(significant)
        if value > MAX_REPEAT and self.bound_violation is None:
            self.bound_violation = f"repeat count {value} > {MAX_REPEAT} at col {start + 1}"
        return value

    def repeat(self) -> Node:
        node = self.complement()
        while self.peek("?*+{"):
            if self.match("?"):
                node = ("opt", node)
            elif self.match("*"):
                node = ("star", node)
            elif self.match("+"):
                node = ("min", node, 1)
            else:
                self.match("{")
                if not self.peek("0123456789"):
                    raise RegexSyntaxError("integer expected", self.pos)
                n = self._integer()
                m: int | None = n
                if self.match(","):
                    m = self._integer() if self.peek("0123456789") else None
                if not self.match("}"):
                    raise RegexSyntaxError("expected '}'", self.pos)
                node = ("min", node, n) if m is None else ("minmax", node, n, m)
        return node

    def complement(self) -> Node:
        negations = 0
        while self.match("~"):
            negations += 1
        node = self.char_class()
        # ~~x is x: collapsing pairs keeps the language and the tree shallow.
        return ("not", node) if negations % 2 else node

    def char_class(self) -> Node:
        if not self.match("["):
            return self.simple()
        negated = self.match("^")
        ranges = [self.class_item()]
        while self.more() and not self.peek("]"):
            ranges.append(self.class_item())
        if not self.match("]"):
            raise RegexSyntaxError("expected ']'", self.pos)
        kept = tuple(sorted({r for item in ranges for r in item if r[0] <= r[1]}))
        return ("cls", kept, negated)

    def class_item(self) -> tuple[tuple[str, str], ...]:
        c = self.char_exp()
        if self.match("-"):
            if self.peek("]"):
                return ((c, c), ("-", "-"))
            # A reversed range such as z-a is the empty set in dk.brics, not an error.
            return ((c, self.char_exp()),)
        return ((c, c),)

    def simple(self) -> Node:
        if self.match("."):
            return ("any",)
        if self.match("#"):
            return ("null",)
        if self.match("@"):
            return ("anystr",)
        if self.match('"'):
            start = self.pos
            while self.more() and not self.peek('"'):
                self.pos += 1
            if not self.match('"'):
                raise RegexSyntaxError("expected '\"'", self.pos)
            return _string(self.text[start : self.pos - 1])
        if self.match("("):
            if self.match(")"):
                return ("eps",)
            self.paren_depth += 1
            if self.paren_depth > MAX_PAREN_DEPTH:
                raise RegexBoundError(f"parentheses nested deeper than {MAX_PAREN_DEPTH}")
            node = self.union()
            self.paren_depth -= 1
            if not self.match(")"):
                raise RegexSyntaxError("expected ')'", self.pos)
            return node
        if self.match("<"):
            return self.angle()
        return _char(self.char_exp())

    def angle(self) -> Node:
        start = self.pos
        while self.more() and not self.peek(">"):
            self.pos += 1
        if not self.match(">"):
            raise RegexSyntaxError("expected '>'", self.pos)
        body = self.text[start : self.pos - 1]
        dash = body.find("-")
        if dash == -1:
            # dk.brics fails later, in toAutomaton, as no named automata are supplied.
            raise RegexSyntaxError(f"automaton <{body}> not found", start - 1)
        lo_text, hi_text = body[:dash], body[dash + 1 :]
        if not all(_java_int(t) for t in (lo_text, hi_text)):
            raise RegexSyntaxError("interval syntax error", self.pos - 1)
        lo, hi = int(lo_text), int(hi_text)
        digits = len(lo_text) if len(lo_text) == len(hi_text) else 0
        lo, hi = min(lo, hi), max(lo, hi)
        if hi - lo > MAX_REPEAT and self.bound_violation is None:
            self.bound_violation = f"interval <{body}> wider than {MAX_REPEAT}"
        return ("interval", lo, hi, digits)

    def char_exp(self) -> str:
        self.match("\\")
        return self.next()


def _java_int(text: str) -> bool:
    """Whether Integer.parseInt accepts `text` without a '-' (dk.brics splits on it first)."""
    digits = text[1:] if text.startswith("+") else text
    significant = digits.lstrip("0") or "0"
    return (
        digits.isascii() and digits.isdigit() and len(significant) <= 10
        and int(significant) <= _JAVA_INT_MAX
    )


def _ast_shape(root: Node) -> tuple[int, int, int]:
    """(node count, depth, distinct character sets) without recursion, so hostile trees cannot
    overflow the stack."""
    count, deepest = 0, 0
    charsets = set()
    stack = [(root, 1)]
    while stack:
        node, depth = stack.pop()
        count += 1
        deepest = max(deepest, depth)
        kind = node[0]
        if kind == "cls":
            charsets.add(node[1])
        elif kind in ("cat", "or", "and"):
            stack.extend((child, depth + 1) for child in node[1])
        elif kind in ("not", "opt", "star", "min", "minmax"):
            stack.append((node[1], depth + 1))
    return count, deepest, len(charsets)


@functools.lru_cache(maxsize=20_000)
def parse_regex(text: str) -> Node:
    """Parse a dk.brics regex into an AST.

    Raises RegexSyntaxError where dk.brics would reject the text, RegexBoundError where it parses
    but is too large for our bounds (repeat counts, nesting, size).
    """
    parser = _Parser(text)
    node = parser.parse()
    if parser.bound_violation:
        raise RegexBoundError(parser.bound_violation)
    count, depth, charsets = _ast_shape(node)
    if count > MAX_AST_NODES:
        raise RegexBoundError(f"regex has {count} AST nodes > {MAX_AST_NODES}")
    if depth > MAX_AST_DEPTH:
        raise RegexBoundError(f"regex nests {depth} operators deep > {MAX_AST_DEPTH}")
    if charsets > MAX_CHARCLASSES:
        raise RegexBoundError(f"regex uses {charsets} distinct character sets > {MAX_CHARCLASSES}")
    return node


# ---------------------------------------------------------------------------------------------
# Budget: a deadline and a state cap, checked inside greenery's crawl via the guarded drop-in.


@dataclass
class _Budget:
    deadline: float  # time.perf_counter() value
    max_states: int


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("budget", default=None)


@contextmanager
def budget(timeout_s: float = DEFAULT_TIMEOUT_S, max_states: int | None = None):
    """Within this block, every greenery operation raises RegexBoundError past the bounds
    (max_states defaults to MAX_STATES, read at call time)."""
    cap = MAX_STATES if max_states is None else max_states
    token = _budget.set(_Budget(time.perf_counter() + timeout_s, cap))
    try:
        yield
    finally:
        _budget.reset(token)


def _check_budget(num_states: int) -> None:
    active = _budget.get()
    if active is None:
        return
    if num_states > active.max_states:
        raise RegexBoundError(f"automaton exceeds {active.max_states} states")
    if time.perf_counter() > active.deadline:
        raise RegexTimeout("timeout")


def _state_key(state: object) -> Hashable:
    # greenery compares meta-states with ==: parallel() uses dicts {fsm index: state}, built in
    # index order, and star()/times() start from a mutable set that later equals a frozenset.
    if isinstance(state, dict):
        return tuple(state.items())
    if isinstance(state, set):
        return frozenset(state)
    return state  # type: ignore[return-value]


def _guarded_crawl(
    alphabet: Iterable[Charclass],
    initial: object,
    final: Callable[[object], bool],
    follow: Callable[[object, Charclass], object],
) -> Fsm:
    """Same contract and state numbering as greenery.fsm.crawl, plus budget checks.

    greenery looks states up with list.index (quadratic); a dict keeps big crawls linear.
    """
    symbols = sorted(alphabet)
    states = [initial]
    index = {_state_key(initial): 0}
    finals: set[int] = set()
    transitions: dict[int, dict[Charclass, int]] = {}
    i = 0
    while i < len(states):
        state = states[i]
        _check_budget(len(states))
        if final(state):
            finals.add(i)
        row: dict[Charclass, int] = {}
        for symbol in symbols:
            nxt = follow(state, symbol)
            key = _state_key(nxt)
            j = index.get(key)
            if j is None:
                j = len(states)
                index[key] = j
                states.append(nxt)
                _check_budget(len(states))
            row[symbol] = j
        transitions[i] = row
        i += 1
    return _unchecked_fsm(frozenset(symbols), frozenset(range(len(states))), 0, finals, transitions)


def _unchecked_fsm(
    alphabet: frozenset[Charclass], states: frozenset[int], initial: int, finals: Iterable[int],
    transitions: dict[int, dict[Charclass, int]],
) -> Fsm:
    """Build an Fsm without re-validating it. Fsm.__init__ re-proves that the alphabet partitions
    Unicode with hundreds of Charclass unions; crawled and relabelled machines inherit an
    already-valid alphabet and a complete map by construction."""
    fsm = object.__new__(Fsm)  # Fsm is a frozen dataclass: fields are set the way it sets them
    for name, value in (
        ("alphabet", alphabet), ("states", states), ("initial", initial),
        ("finals", frozenset(finals)), ("map", transitions),
    ):
        object.__setattr__(fsm, name, value)
    return fsm


@functools.lru_cache(maxsize=4096)
def _partition(charclasses: frozenset[Charclass]) -> dict[Charclass, list[Charclass]]:
    return repartition(charclasses)


def _unify_alphabets(fsms: Iterable[Fsm], /) -> list[Fsm]:
    """greenery's unify_alphabets with a fast path for machines that already share an alphabet
    (the common case: repartitioning is the next biggest cost after minimisation)."""
    fsms = list(fsms)
    alphabets = {fsm.alphabet for fsm in fsms}
    if len(alphabets) <= 1:
        return fsms
    partition = _partition(frozenset().union(*alphabets))
    unified = []
    for fsm in fsms:
        new_alphabet = frozenset(piece for symbol in fsm.alphabet for piece in partition[symbol])
        new_map = {
            state: {piece: dest for symbol, dest in row.items() for piece in partition[symbol]}
            for state, row in fsm.map.items()
        }
        unified.append(_unchecked_fsm(new_alphabet, fsm.states, fsm.initial, fsm.finals, new_map))
    return unified


def _indexed_reversed(self: Fsm) -> Fsm:
    """greenery's Fsm.reversed (the half of Brzozowski minimisation used by every `reduce`) with
    a predecessor index: the stock version scans every transition for every step, which
    dominated scoring time. Same construction, same result."""
    predecessors: dict[Charclass, dict[int, list[int]]] = {symbol: {} for symbol in self.alphabet}
    for prev, row in self.map.items():
        for symbol, dest in row.items():
            predecessors[symbol].setdefault(dest, []).append(prev)

    def follow(current: frozenset[int], symbol: Charclass) -> frozenset[int]:
        into = predecessors[symbol]
        return frozenset(prev for state in current for prev in into.get(state, ()))

    return gfsm.crawl(self.alphabet, frozenset(self.finals), lambda s: self.initial in s, follow)


# Every greenery operation resolves `crawl` and `unify_alphabets` from its module globals and
# minimises through `Fsm.reversed`, so these drop-ins bound and speed up all of them (~10x on
# NL-RX). They apply process-wide once this module is imported; results are unchanged.
gfsm.crawl = _guarded_crawl
gfsm.unify_alphabets = _unify_alphabets
Fsm.reversed = _indexed_reversed  # type: ignore[method-assign]


# ---------------------------------------------------------------------------------------------
# AST -> minimal DFA


def _charclass_fsm(charclass: Charclass) -> Fsm:
    if charclass == DOT:
        return Fsm(alphabet={DOT}, states={0, 1, 2}, initial=0, finals={1},
                   map={0: {DOT: 1}, 1: {DOT: 2}, 2: {DOT: 2}})
    rest = ~charclass
    return Fsm(
        alphabet={charclass, rest}, states={0, 1, 2}, initial=0, finals={1},
        map={0: {charclass: 1, rest: 2}, 1: {charclass: 2, rest: 2}, 2: {charclass: 2, rest: 2}},
    )


_ANY_STRING = Fsm(alphabet={DOT}, states={0}, initial=0, finals={0}, map={0: {DOT: 0}})


def _checked(fsm: Fsm) -> Fsm:
    _check_budget(len(fsm.states))
    return fsm


@functools.lru_cache(maxsize=50_000)
def compile_node(node: Node) -> Fsm:
    """Minimal DFA for an AST node. Cached per subtree: gold and candidate share most parts."""
    kind = node[0]
    if kind == "cls":
        ranges, negated = node[1], node[2]
        charclass = Charclass(ranges, negated=negated)
        return gfsm.NULL if charclass.empty() else _charclass_fsm(charclass)
    if kind == "any":
        return _charclass_fsm(DOT)
    if kind == "eps":
        return gfsm.EPSILON
    if kind == "null":
        return gfsm.NULL
    if kind == "anystr":
        return _ANY_STRING
    if kind == "interval":
        return _checked(_interval_fsm(node[1], node[2], node[3]))
    if kind in ("cat", "or", "and"):
        parts = [compile_node(child) for child in node[1]]
        if kind == "cat":
            return _checked(Fsm.concatenate(*parts))
        return _checked(Fsm.union(*parts) if kind == "or" else Fsm.intersection(*parts))
    inner = compile_node(node[1])
    if kind == "not":
        return _checked(inner.everythingbut())
    if kind == "opt":
        return _checked(Fsm.union(inner, gfsm.EPSILON))
    if kind == "star":
        return _checked(inner.star())
    if kind == "min":  # e{n,} = e^n e*
        return _checked(Fsm.concatenate(inner.times(node[2]), inner.star()))
    if kind == "minmax":  # e{n,m} = e^n (e|"")^(m-n); empty language when n > m (as dk.brics)
        n, m = node[2], node[3]
        if n > m:
            return gfsm.NULL
        optional = Fsm.union(inner, gfsm.EPSILON)
        return _checked(Fsm.concatenate(inner.times(n), optional.times(m - n)))
    raise AssertionError(f"unknown AST node {kind!r}")


def _interval_fsm(lo: int, hi: int, digits: int) -> Fsm:
    """dk.brics <lo-hi>: decimal numbers in [lo, hi]; zero-padded to `digits` when digits > 0,
    otherwise any number of leading zeros."""
    numbers = [str(v).zfill(digits) if digits else str(v) for v in range(lo, hi + 1)]
    fsm = Fsm.union(*(compile_node(_string(s)) for s in numbers))
    if digits == 0:
        zeros = compile_node(("star", _char("0")))
        fsm = Fsm.concatenate(zeros, fsm)
    return fsm


def clear_caches() -> None:
    """Forget parsed regexes and compiled automata (for cold-cache timing)."""
    parse_regex.cache_clear()
    compile_node.cache_clear()
    _partition.cache_clear()


def to_fsm(text: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Fsm:
    """Parse and compile one regex into a minimal DFA within the bounds."""
    node = parse_regex(text)
    with budget(timeout_s):
        return compile_node(node)


def equivalent_nodes(a: Node, b: Node, timeout_s: float = DEFAULT_TIMEOUT_S) -> bool:
    """Language equality of two parsed regexes; raises RegexBoundError / RegexSyntaxError."""
    if a == b:
        return True
    with budget(timeout_s):
        return fsm_equivalent(compile_node(a), compile_node(b))


def fsm_equivalent(fsm_a: Fsm, fsm_b: Fsm) -> bool:
    """Whether two DFAs accept the same strings: their symmetric difference is empty.

    greenery's `equivalent` minimises the product before testing emptiness; crawling the
    product without minimising answers the same question for a fraction of the cost.
    """
    fsm_a, fsm_b = gfsm.unify_alphabets((fsm_a, fsm_b))
    product = gfsm.crawl(
        fsm_a.alphabet,
        (fsm_a.initial, fsm_b.initial),
        lambda pair: (pair[0] in fsm_a.finals) != (pair[1] in fsm_b.finals),
        lambda pair, symbol: (fsm_a.map[pair[0]][symbol], fsm_b.map[pair[1]][symbol]),
    )
    return product.empty()
