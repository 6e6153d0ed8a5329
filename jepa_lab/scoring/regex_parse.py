"""dk.brics.automaton regular expressions -> AST, bounded before and during parsing.

NL-RX was scored with dk.brics.automaton, whose regex dialect differs from Python's:
`&` is intersection, `~` is complement, `#` the empty language, `@` any string, `"..."` a literal
string, `<n-m>` a numeric interval, and a backslash makes the next character literal (`\\b` is the
letter b). Any other character that cannot start an operator is a literal, even `}` or `|` in some
positions: the parser below mirrors dk.brics' recursive descent (RegExp.java, version 1.11) step
for step, so that what dk.brics accepts or rejects, we accept or reject.

Precedence, loosest first:  `|`  <  `&`  <  concatenation  <  postfix `? * + {n} {n,} {n,m}`
<  prefix `~`  <  atoms. A `~` binds to the next atom only and the postfix operators then apply to
the complement: `~a*` is `(~a)*`.

Parsing is linear in the text, and the text is capped at MAX_REGEX_CHARS before the parser sees
it, so a 1 MB model output costs a length check, not seconds of CPU.
"""

from __future__ import annotations

from jepa_lab.scoring.regex_cache import ByteBoundedCache

# The longest gold regex in NL-RX-SYNTH (original 9,999 lines and the LLM-JEPA 8,000/2,000
# split) is 54 characters; NL-RX-TURK uses the same generator. 1000 characters is ~18x that,
# room for any verbose but correct rewrite, and parses in about a millisecond.
MAX_REGEX_CHARS = 1000

MAX_REPEAT = 1000  # largest n or m accepted in {n}, {n,}, {n,m} and interval width
MAX_PAREN_DEPTH = 100  # nested parentheses
MAX_AST_DEPTH = 200  # nesting of operators after parsing (bounds compile recursion)
MAX_AST_NODES = 5000
MAX_CHARCLASSES = 100  # distinct character sets: the alphabet costs intervals x sets
_JAVA_INT_MAX = 2**31 - 1  # dk.brics parses counts with Integer.parseInt


class RegexSyntaxError(ValueError):
    """dk.brics would throw IllegalArgumentException: the regex does not parse."""

    def __init__(self, message: str, pos: int):
        super().__init__(f"{message} at col {pos + 1}")
        self.pos = pos  # 0-based offset in the regex text


class RegexBoundError(ValueError):
    """The regex parses (or might) but is too large to compile within our bounds."""


class RegexTimeout(RegexBoundError):
    """The last-resort wall-clock ceiling fired (the work budget should have stopped it first)."""


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
        digits.isascii()
        and digits.isdigit()
        and len(significant) <= 10
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


def _parse_regex(text: str) -> Node:
    """Parse a dk.brics regex into an AST.

    Raises RegexSyntaxError where dk.brics would reject the text, RegexBoundError where it is
    longer than MAX_REGEX_CHARS (checked before parsing) or parses but is too large for our
    bounds (repeat counts, nesting, size).
    """
    if len(text) > MAX_REGEX_CHARS:
        raise RegexBoundError(
            f"regex is {len(text)} characters long > {MAX_REGEX_CHARS} (not parsed)"
        )
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


def _parsed_bytes(text: str, node: Node) -> int:
    """Estimated memory of one cached tree: about 120 bytes a node (a tuple and its fields)."""
    return 200 + 2 * len(text) + 120 * _ast_shape(node)[0]


PARSE_CACHE_BYTES = 128 << 20  # parsed trees kept, in estimated bytes (and at most 20,000)
parse_regex = ByteBoundedCache(_parse_regex, _parsed_bytes, PARSE_CACHE_BYTES, 20_000)
