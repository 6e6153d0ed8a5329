"""Offline NL-RX-SYNTH generator: paired English descriptions and regexes.

Our own implementation of the synthetic grammar of Locascio et al. (2016), "Neural Generation of
Regular Expressions from Natural Language with Minimal Domain Knowledge". A random expression tree
is drawn and rendered twice: as English (the Text view) and as a regex in NL-RX's dialect
(dk.brics.automaton: `&` intersection, `~` complement, `\\b` a literal letter b used by NL-RX as
its "word" marker) with NL-RX's bracketing, e.g. `\\b([A-Z])&([AEIOUaeiou])\\b`.

Rendering rules (how NL-RX brackets): operators that take operands wrap each one in parentheses
(`(X)|(Y)`, `(X)&(Y)`, `~(X)`, `(X){N,}`, `(X)+`, `(X)*`, `(X).*(Y).*`, `(X)(.*)`, `(.*)(X)`);
"containing", "words" and "followed by" splice their operands in raw (`.*X.*`, `\\bX\\b`,
`X.*Y.*`). Quoted strings are 'dog', 'truck', 'ring', 'lake' in order of appearance.

The mix of constructs is weighted so that construct shares, regex lengths and description lengths
sit close to the published NL-RX-SYNTH (see tests/test_data_nlrx_synth.py for the bounds).
Train and test splits are disjoint by regex: a regex's split is a fixed hash of its text.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field

from jepa_lab.data.records import NLRX_SYSTEM_PROMPT, Example

# name -> (NL-RX wording, regex, extra wordings used by style="varied")
CHAR_CLASSES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "number": ("a number", "[0-9]", ("a digit", "a numeral")),
    "letter": ("a letter", "[A-Za-z]", ("an alphabetic character", "a letter of the alphabet")),
    "lower": ("a lower-case letter", "[a-z]", ("a lowercase letter", "a small letter")),
    "capital": ("a capital letter", "[A-Z]", ("an upper-case letter", "an uppercase letter")),
    "vowel": ("a vowel", "[AEIOUaeiou]", ("a vowel letter", "one of the vowels")),
    "char": ("a character", ".", ("any character", "a symbol")),
}
STRINGS = ("dog", "truck", "ring", "lake")
# Stand-ins for the words the grammar quoted before normalisation (only their identity matters).
WORDS = tuple(f"w{i}" for i in range(40))
STRING_SHARE = 0.40  # drawn share of quoted strings; 0.31 of leaves after de-duplication
MIN_REPEAT, MAX_REPEAT = 2, 7
OR_SHARE = 0.55  # 'or' vs 'and' lists
SPLITS = ("train", "test")
TEST_FRACTION = 0.2


@dataclass
class Node:
    """One construct of the expression tree. kind: atom|str|or|and|follow|before|rep|plus|star|
    not|contain|start|end|words|only."""

    kind: str
    children: list[Node] = field(default_factory=list)
    value: str | int | None = None  # class name for atoms, repeat count for rep, word for str


# ---------------------------------------------------------------- tree sampling


def _leaf(rng: random.Random) -> Node:
    if rng.random() < STRING_SHARE:
        # A concrete word, as in the grammar before NL-RX normalised quoted words; drawing words
        # (not the final 'dog') keeps duplicates as rare as in the published set.
        return Node("str", value=rng.choice(WORDS))
    return Node("atom", value=rng.choice(list(CHAR_CLASSES)))


def _distinct_leaves(rng: random.Random, k: int) -> list[Node]:
    """k leaves, no character class twice (NL-RX never writes 'a vowel or a vowel')."""
    leaves: list[Node] = []
    while len(leaves) < k:
        leaf = _leaf(rng)
        if all(leaf.kind != o.kind or leaf.value != o.value for o in leaves):
            leaves.append(leaf)
    return leaves


def _list(rng: random.Random, k: int | None = None, op: str | None = None) -> Node:
    k = k or rng.choice((2, 3, 3))
    op = op or ("or" if rng.random() < OR_SHARE else "and")
    return Node(op, _distinct_leaves(rng, k))


def _follow(rng: random.Random) -> Node:
    return Node("follow", _distinct_leaves(rng, 2))


def _postfix(rng: random.Random, child: Node) -> Node:
    kind = rng.choices(("rep", "plus", "star"), weights=(0.5, 0.25, 0.25))[0]
    n = rng.randint(MIN_REPEAT, MAX_REPEAT) if kind == "rep" else None
    return Node(kind, [child], n)


def _prefix(rng: random.Random, child: Node) -> Node:
    kinds = ("not", "contain", "start", "end", "words")
    while True:
        kind = rng.choices(kinds, (4, 2, 2, 2, 4))[0]
        if kind != child.kind:  # no "not not X", "words with words with X"
            return Node(kind, [child])


def _rich(rng: random.Random) -> Node:
    """The structured side of 'X before Y' (the other side is a bare class)."""
    r = rng.random()
    if r < 0.32:
        return _list(rng, 3)
    if r < 0.54:
        return _list(rng, 2)
    if r < 0.68:
        return Node("rep", [_leaf(rng)], rng.randint(MIN_REPEAT, MAX_REPEAT))
    if r < 0.79:
        return _follow(rng)
    kind = rng.choice(("plus", "star", "not", "contain", "start", "end", "words"))
    return Node(kind, [_leaf(rng)])


def _unary(rng: random.Random, child: Node) -> Node:
    """One unary construct over `child`: a prefix ('not', 'containing', ...) or a repeat."""
    if rng.random() < 0.3:
        return _postfix(rng, child)
    if rng.random() < 0.06:
        return Node("only", [child])
    return _prefix(rng, child)


def _base(rng: random.Random) -> Node:
    r = rng.random()
    return _leaf(rng) if r < 0.4 else (_follow(rng) if r < 0.7 else _list(rng, 2))


def _generic(rng: random.Random) -> Node:
    """Long tail: two or three operators over small operands, as in most NL-RX regexes."""
    r = rng.random()
    if r < 0.75:  # a chain of unary constructs
        node = _unary(rng, _base(rng))
        return _unary(rng, node) if rng.random() < 0.8 else node
    # a binary construct over two operands, one of them with a unary construct
    pair = [_unary(rng, _leaf(rng)), _leaf(rng) if rng.random() < 0.5 else _unary(rng, _leaf(rng))]
    if rng.random() < 0.5:
        pair.reverse()
    if r < 0.88:
        return Node("before", pair)
    return Node("or" if rng.random() < OR_SHARE else "and", pair)


def sample_tree(rng: random.Random) -> Node:
    """Draw one expression tree with NL-RX-SYNTH's mix of top-level constructs."""
    r = rng.random()
    if r < 0.30:  # 'X before Y': one side a bare class, the other structured
        rich, bare = _rich(rng), _leaf(rng)
        pair = [rich, bare] if rng.random() < 0.5 else [bare, rich]
        return Node("before", pair)
    if r < 0.44:  # a list under 'not', 'containing' or 'words with'
        kind = rng.choice(("not", "contain", "words"))
        return Node(kind, [_list(rng, rng.choice((2, 3, 3, 3)))])
    if r < 0.51:  # a repeated 'or' list or 'followed by'
        inner = _list(rng, 2, "or") if rng.random() < 0.5 else _follow(rng)
        return _postfix(rng, inner)
    return _generic(rng)


def _name_strings(node: Node, names: dict[str, str]) -> None:
    """Rename words to 'dog', 'truck', ... in order of first appearance (NL-RX's normalisation)."""
    if node.kind == "str":
        node.value = names.setdefault(str(node.value), STRINGS[len(names)])
    for child in node.children:
        _name_strings(child, names)


def _distinct_words(node: Node) -> set[str]:
    own = {str(node.value)} if node.kind == "str" else set()
    return own.union(*(_distinct_words(c) for c in node.children))


# ---------------------------------------------------------------- rendering


def to_regex(node: Node) -> str:
    """Render a tree in NL-RX's regex dialect and bracketing."""
    k, ch = node.kind, node.children
    if k == "atom":
        return CHAR_CLASSES[str(node.value)][1]
    if k == "str":
        return str(node.value)
    parts = [to_regex(c) for c in ch]
    wrapped = [f"({p})" for p in parts]
    if k == "or":
        return "|".join(wrapped)
    if k == "and":
        return "&".join(wrapped)
    if k == "follow":
        return f"{parts[0]}.*{parts[1]}.*"
    if k == "before":
        return f"{wrapped[0]}.*{wrapped[1]}.*"
    if k == "rep":
        return f"{wrapped[0]}{{{node.value},}}"
    if k == "plus":
        return f"{wrapped[0]}+"
    if k == "star":
        return f"{wrapped[0]}*"
    if k == "not":
        return f"~{wrapped[0]}"
    if k == "contain":
        return f".*{parts[0]}.*"
    if k == "start":
        return f"{wrapped[0]}(.*)"
    if k == "end":
        return f"(.*){wrapped[0]}"
    if k == "words":
        return f"\\b{parts[0]}\\b"
    if k == "only":
        return parts[0]
    raise ValueError(f"unknown node kind {k!r}")


class _Phraser:
    """Renders a tree as English. style='nlrx' keeps NL-RX's own wording; 'varied' also draws
    paraphrases ('that contain', 'at least N times', 'a digit', ...)."""

    def __init__(self, rng: random.Random, style: str):
        if style not in ("nlrx", "varied"):
            raise ValueError(f"style must be 'nlrx' or 'varied', got {style!r}")
        self.rng, self.varied = rng, style == "varied"

    def pick(self, base: str, *alternatives: str) -> str:
        if self.varied and alternatives and self.rng.random() < 0.6:
            return self.rng.choice(alternatives)
        return base

    def join_list(self, items: list[str], conj: str, negate_rest: bool = False) -> str:
        if negate_rest:  # NL-RX writes ~(A&B) as "not A and not B"
            items = items[:1] + [f"not {s}" for s in items[1:]]
        if len(items) == 2:
            return f"{items[0]} {conj} {items[1]}"
        body = ", ".join(items[:-1]) + f", {conj} {items[-1]}"
        if conj == "or":
            return self.pick("either ", "", "any of ") + body
        return self.pick("", "all of ") + body

    def phrase(self, node: Node, negated_list: bool = False) -> str:
        k, ch = node.kind, node.children
        p = self.pick
        if k == "atom":
            base, _, alts = CHAR_CLASSES[str(node.value)]
            return p(base, *alts)
        if k == "str":
            return p(
                f"the string '{node.value}'", f"the word '{node.value}'", f"the text '{node.value}'"
            )
        if k in ("or", "and"):
            parts = [self.phrase(c) for c in ch]
            negate_rest = negated_list and k == "and" and not self.varied
            return self.join_list(parts, k, negate_rest=negate_rest)
        if k == "follow":
            return (
                f"{self.phrase(ch[0])} {p('followed by', 'and then', 'immediately then')} "
                f"{self.phrase(ch[1])}"
            )
        if k == "before":
            return (
                f"{self.phrase(ch[0])} {p('before', 'preceding', 'somewhere before')} "
                f"{self.phrase(ch[1])}"
            )
        if k == "rep":
            n = node.value
            return self.phrase(ch[0]) + p(
                f", {n} or more times", f" at least {n} times", f", repeated {n} or more times"
            )
        if k == "plus":
            return self.phrase(ch[0]) + p(
                " at least once", ", one or more times", ", repeated at least once"
            )
        if k == "star":
            return self.phrase(ch[0]) + p(
                ", zero or more times", ", any number of times", ", possibly repeated"
            )
        if k == "not":
            return f"not {self.phrase(ch[0], negated_list=True)}"
        if k == "contain":
            return f"{p('containing', 'that contain', 'including')} {self.phrase(ch[0])}"
        if k == "start":
            return f"{p('starting with', 'that start with', 'beginning with')} {self.phrase(ch[0])}"
        if k == "end":
            return f"{p('ending with', 'that end with', 'finishing with')} {self.phrase(ch[0])}"
        if k == "words":
            return self.words(ch[0])
        if k == "only":
            return f"{p('containing only', 'made only of')} {self.phrase(ch[0])}"
        raise ValueError(f"unknown node kind {k!r}")

    def words(self, inner: Node) -> str:
        if inner.kind == "contain":
            return f"words that contain {self.phrase(inner.children[0])}"
        if inner.kind == "not":
            return f"words that don't {self.phrase(inner.children[0], negated_list=True)}"
        if inner.kind == "only":
            return f"words that contain only {self.phrase(inner.children[0])}"
        return f"{self.pick('words with', 'words having', 'words that have')} {self.phrase(inner)}"

    def sentence(self, tree: Node) -> str:
        """Top level: 'lines with X', 'lines having X', 'lines containing X', 'lines not having
        X', ... (a phrase that opens with its own verb takes no 'with')."""
        subject = self.pick("lines", "strings", "lines of text")
        body = self.phrase(tree)
        if body.startswith(_VERBS):
            return f"{subject} {body}"
        if body.startswith("not ") and not body[4:].startswith(_VERBS + ("words",)):
            verb = self.pick("not having", "without", "that do not have")
            return f"{subject} {verb} {body[4:]}"
        if body.startswith("not "):
            return f"{subject} {body}"
        lead = tree.children[0] if tree.kind == "before" else tree
        if lead.kind in ("or", "and") and len(lead.children) == 3:
            verb = "having"  # NL-RX says "lines having A, B, and C before D"
        else:
            verb = "with"
        return f"{subject} {self.pick(verb, 'that have', 'which have')} {body}"


_VERBS = (
    "containing",
    "that contain",
    "including",
    "starting with",
    "that start with",
    "beginning with",
    "ending with",
    "that end with",
    "finishing with",
    "made only of",
)


# ---------------------------------------------------------------- public API


def split_of(regex: str) -> str:
    """Fixed train/test assignment of a regex (independent of seed), so splits never share one."""
    bucket = int.from_bytes(hashlib.blake2b(regex.encode(), digest_size=8).digest(), "big")
    return "test" if bucket % 1000 < TEST_FRACTION * 1000 else "train"


def _sample(rng: random.Random, style: str) -> tuple[str, str, str]:
    """(description, regex, regex before quoted words were normalised)."""
    while True:
        tree = sample_tree(rng)
        if len(_distinct_words(tree)) <= len(STRINGS):
            break
    raw_regex = to_regex(tree)
    _name_strings(tree, {})
    return _Phraser(rng, style).sentence(tree), to_regex(tree), raw_regex


def sample_pair(rng: random.Random, style: str = "nlrx") -> tuple[str, str]:
    """One (description, regex) pair."""
    text, regex, _ = _sample(rng, style)
    return text, regex


def generate(
    n: int,
    split: str = "train",
    seed: int = 0,
    style: str = "nlrx",
    system: str | None = NLRX_SYSTEM_PROMPT,
) -> list[Example]:
    """`n` synthetic NL-RX examples of one split, deterministic in (n, split, seed, style).

    generate(n) is the first n of generate(m) for m >= n. (description, regex) pairs are unique.
    """
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    rng = random.Random(f"nlrx-synth/{seed}/{style}")
    out: list[Example] = []
    seen: set[tuple[str, str]] = set()
    while len(out) < n:
        text, regex, raw_regex = _sample(rng, style)
        if split_of(regex) != split or (text, regex) in seen:
            continue
        seen.add((text, regex))
        out.append(
            Example(
                text=text,
                code=regex,
                id=f"nlrx-synth/{split}/{len(out):05d}",
                source="generated/nlrx-synth",
                system=system,
            )
        )
    return out


def template_corpus(n: int, seed: int = 0) -> list[str]:
    """`n` varied English descriptions (paraphrased templates), e.g. to pretrain a tiny model."""
    rng = random.Random(f"nlrx-corpus/{seed}")
    return [sample_pair(rng, "varied")[0] for _ in range(n)]


# Constructs compared between the published set and the generator (substring -> name).
CONSTRUCTS = {
    "&": "and",
    "~": "not",
    "|": "or",
    ",}": "n_or_more",
    "\\b": "words",
    ".*": "any",
    "dog": "dog",
    "truck": "truck",
    "ring": "ring",
    "lake": "lake",
}


def distribution_stats(examples: list[Example]) -> dict[str, float]:
    """Share of regexes using each construct, and mean/std of regex length (chars) and
    description length (words): the figures the generator is checked against NL-RX with."""
    if not examples:
        raise ValueError("need at least one example")
    n = len(examples)
    stats = {
        f"share_{name}": sum(sub in e.code for e in examples) / n
        for sub, name in CONSTRUCTS.items()
    }
    for key, values in (
        ("regex_chars", [len(e.code) for e in examples]),
        ("text_words", [len(e.text.split()) for e in examples]),
    ):
        mean = sum(values) / n
        stats[f"{key}_mean"] = mean
        stats[f"{key}_std"] = (sum((v - mean) ** 2 for v in values) / n) ** 0.5
    return stats
