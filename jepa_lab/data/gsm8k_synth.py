"""Offline GSM8K-style generator: small multi-step arithmetic word problems.

Each problem is a short story (shopping, sharing, speed/time, ages, savings, baking) whose
worked solution has 1-3 steps in GSM8K's format: "Mia pays 3*4 = <<3*4=12>>12 dollars." and a
closing "#### N". Numbers are small whole numbers and every division is exact, so a tiny model
trained for minutes on a CPU can learn part of it. `difficulty` sets steps and number size:
numbers stated in a question are at most `max_number`, except a bill (total + change) and
products of two such numbers.

The two knobs can also be set directly: `steps` (1-3) gives every problem exactly that many
worked steps, and `max_number` (>= 2) bounds every number stated in the question, strictly (a
draw that states a larger one is redrawn); results of steps may be larger (e.g. a product).
One-step problems with numbers up to 10 are what a 2-layer model learns in minutes on a CPU.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from jepa_lab.data.records import GSM8K_SYSTEM_PROMPT, Example

NAMES = ("Mia", "Ben", "Ava", "Leo", "Zoe", "Sam", "Ivy", "Max", "Ana", "Tom", "Eva", "Raj")
ITEMS = ("apples", "pencils", "stickers", "books", "cards", "marbles", "shells", "cookies")
SPLITS = ("train", "test")
TEST_FRACTION = 0.2


@dataclass(frozen=True)
class Level:
    """How hard problems are: number of worked steps and the largest operand."""

    min_steps: int
    max_steps: int
    max_number: int


LEVELS = {1: Level(1, 2, 20), 2: Level(2, 3, 50), 3: Level(2, 3, 100)}
STEPS_RANGE = (1, 3)  # what the templates can build
MIN_NUMBER = 2  # the smallest max_number every template can honour
MAX_DRAWS = 10_000  # per problem, before giving up on a max_number no template can meet
_INTEGER = re.compile(r"\d+")  # fixed, linear-time; the questions are our own text
# A count of one takes the singular: "in 1 year", "1 sticker" (every noun here adds -s or -es).
_SINGULAR = {"boxes": "box"}
_LEADING_NOUN = re.compile(r"^ ([a-z]+s)\b")


def _singular(noun: str) -> str:
    return _SINGULAR.get(noun, noun[:-1] if noun.endswith("s") else noun)


def _count(n: int, noun: str) -> str:
    """``n noun``, singular when n is 1."""
    return f"{n} {_singular(noun) if n == 1 else noun}"


class _Steps:
    """Builds worked-solution lines; each computes a op b with a <<a op b=c>> note."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.last = 0

    def add(self, before: str, a: int, op: str, b: int, after: str) -> int:
        if op == "/" and (b == 0 or a % b):
            raise ValueError("inexact division")  # the caller redraws
        c = a + b if op == "+" else a - b if op == "-" else a * b if op == "*" else a // b
        if c < 0:
            raise ValueError("negative intermediate")  # the caller redraws
        if c == 1:  # "= <<4/4=1>>1 sticker."
            after = _LEADING_NOUN.sub(lambda m: " " + _singular(m.group(1)), after)
        self.lines.append(f"{before}{a}{op}{b} = <<{a}{op}{b}={c}>>{c}{after}")
        self.last = c
        return c

    def solution(self) -> str:
        return "\n".join(self.lines + [f"#### {self.last}"])


def _shopping(rng: random.Random, steps: int, top: int) -> tuple[str, _Steps]:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    count, price = rng.randint(2, min(9, top)), rng.randint(2, min(12, top))
    s = _Steps()
    cost = s.add(f"{name} pays ", count, "*", price, " dollars for the " + item + ".")
    q = f"{name} buys {count} {item} that cost ${price} each."
    if steps == 1:
        return q + f" How many dollars does {name} pay?", s
    extra = rng.randint(1, top)
    total = s.add("With the bag, the total is ", cost, "+", extra, " dollars.")
    q += f" {name} also buys a bag for ${extra}."
    if steps == 2:
        return q + f" How many dollars does {name} spend in all?", s
    bill = total + rng.randint(1, top)
    s.add("The change is ", bill, "-", total, " dollars.")
    return q + f" {name} pays with ${bill}. How many dollars of change does {name} get?", s


def _sharing(rng: random.Random, steps: int, top: int) -> tuple[str, _Steps]:
    name, item = rng.choice(NAMES), rng.choice(ITEMS)
    friends = rng.randint(2, 6)
    each = rng.randint(1, max(1, top // friends))
    more = rng.randint(1, top)
    have = friends * each + (more if steps >= 2 else 0)
    s = _Steps()
    q = f"{name} has {have} {item}."
    if steps >= 2:
        q += f" {name} gives {_count(more, item)} to a brother."
        have = s.add(f"{name} keeps ", have, "-", more, f" {item}.")
    per = s.add("Each friend gets ", have, "/", friends, f" {item}.")
    rest = "the rest" if steps >= 2 else "them"
    q += f" {name} shares {rest} equally among {friends} friends."
    if steps < 3:
        return q + " How many does each friend get?", s
    if per < 2:
        raise ValueError("nothing left to eat")  # the caller redraws
    eaten = rng.randint(1, per - 1)
    s.add("After eating some, each friend has ", per, "-", eaten, f" {item} left.")
    return q + f" Each friend eats {eaten} of them. How many does each friend have left?", s


def _speed(rng: random.Random, steps: int, top: int) -> tuple[str, _Steps]:
    vehicle = rng.choice(("car", "bus", "train", "bike", "boat"))
    speed, hours = rng.randint(2, top), rng.randint(1, 5)
    s = _Steps()
    d1 = s.add("In the first part it goes ", speed, "*", hours, " miles.")
    q = f"A {vehicle} travels at {speed} miles per hour for {_count(hours, 'hours')}."
    if steps == 1:
        return q + " How many miles does it travel?", s
    more = rng.randint(1, 4)
    if more == hours:  # the same leg twice would repeat the first step word for word
        more = more % 4 + 1
    d2 = s.add("Then it goes ", speed, "*", more, " miles.")
    q += f" After a stop it travels {more} more {'hour' if more == 1 else 'hours'} at the same"
    q += " speed."
    if steps == 2:
        return q + " How many miles does it travel in the second part?", s
    s.add("In total it goes ", d1, "+", d2, " miles.")
    return q + " How many miles does it travel in total?", s


def _ages(rng: random.Random, steps: int, top: int) -> tuple[str, _Steps]:
    a, b = rng.sample(NAMES, 2)
    age, gap = rng.randint(2, min(top, 60)), rng.randint(2, min(top, 30))
    s = _Steps()
    older = s.add(f"{b} is ", age, "+", gap, " years old.")
    q = f"{a} is {age} years old. {b} is {gap} years older than {a}."
    if steps == 1:
        return q + f" How old is {b}?", s
    later = rng.randint(1, min(top, 20))
    when = "in " + _count(later, "years")
    future = s.add(f"{when.capitalize()} {b} will be ", older, "+", later, " years old.")
    if steps == 2:
        return q + f" How old will {b} be {when}?", s
    s.add(f"Adding {a}'s age now gives ", future, "+", age, " years.")
    return q + f" What is {b}'s age {when} plus {a}'s age now?", s


def _savings(rng: random.Random, steps: int, top: int) -> tuple[str, _Steps]:
    name = rng.choice(NAMES)
    weekly, weeks = rng.randint(2, min(top, 25)), rng.randint(2, 8)
    s = _Steps()
    saved = s.add(f"{name} saves ", weekly, "*", weeks, " dollars.")
    q = f"{name} saves ${weekly} every week for {weeks} weeks."
    if steps == 1:
        return q + f" How many dollars does {name} save?", s
    spent = rng.randint(1, min(saved, top))
    left = s.add(f"After the toy, {name} has ", saved, "-", spent, " dollars left.")
    q += f" Then {name} spends ${spent} on a toy."
    if steps == 2:
        return q + " How many dollars are left?", s
    gift = rng.randint(1, top)
    s.add("With the gift, there are ", left, "+", gift, " dollars.")
    return q + f" A grandparent then gives {name} ${gift}. How many dollars does {name} have?", s


def _baking(rng: random.Random, steps: int, top: int) -> tuple[str, _Steps]:
    name = rng.choice(NAMES)
    trays, per = rng.randint(2, 6), rng.randint(2, min(12, top))
    s = _Steps()
    baked = s.add(f"{name} bakes ", trays, "*", per, " cookies.")
    q = f"{name} bakes {trays} trays of cookies with {per} cookies on each tray."
    if steps == 1:
        return q + " How many cookies does " + name + " bake?", s
    eaten = rng.randint(1, baked - 1)
    left = s.add(f"After eating, {name} has ", baked, "-", eaten, " cookies left.")
    q += f" The family eats {_count(eaten, 'cookies')}."
    if steps == 2:
        return q + " How many cookies are left?", s
    divisors = [d for d in range(2, 7) if left % d == 0]
    if not divisors:
        raise ValueError("no even split into boxes")  # the caller redraws ("into 1 box")
    boxes = rng.choice(divisors)
    s.add("Each box gets ", left, "/", boxes, " cookies.")
    return q + f" The rest go equally into {boxes} boxes. How many cookies are in each box?", s


TEMPLATES: dict[str, Callable[[random.Random, int, int], tuple[str, _Steps]]] = {
    "shopping": _shopping,
    "sharing": _sharing,
    "speed": _speed,
    "ages": _ages,
    "savings": _savings,
    "baking": _baking,
}


def split_of(question: str) -> str:
    """Fixed train/test assignment of a question (independent of seed)."""
    bucket = int.from_bytes(hashlib.blake2b(question.encode(), digest_size=8).digest(), "big")
    return "test" if bucket % 1000 < TEST_FRACTION * 1000 else "train"


def level_of(difficulty: int = 1, steps: int | None = None, max_number: int | None = None) -> Level:
    """The level of `difficulty`, with `steps` (exact) and `max_number` overriding it."""
    if difficulty not in LEVELS:
        raise ValueError(f"difficulty must be one of {sorted(LEVELS)}, got {difficulty!r}")
    lo, hi = STEPS_RANGE
    if steps is not None and (
        isinstance(steps, bool) or not isinstance(steps, int) or not lo <= steps <= hi
    ):
        raise ValueError(f"steps must be an integer in {lo}..{hi} (or None), got {steps!r}")
    if max_number is not None and (
        isinstance(max_number, bool) or not isinstance(max_number, int) or max_number < MIN_NUMBER
    ):
        raise ValueError(
            f"max_number must be an integer >= {MIN_NUMBER} (or None), got {max_number!r}"
        )
    level = LEVELS[difficulty]
    return Level(steps or level.min_steps, steps or level.max_steps, max_number or level.max_number)


def sample_problem(
    rng: random.Random,
    difficulty: int = 1,
    *,
    steps: int | None = None,
    max_number: int | None = None,
) -> tuple[str, str]:
    """One (question, worked solution ending '#### N').

    With `max_number` given, no number stated in the question exceeds it (redrawn otherwise).
    """
    level = level_of(difficulty, steps, max_number)
    for _ in range(MAX_DRAWS):
        template = TEMPLATES[rng.choice(sorted(TEMPLATES))]
        n_steps = rng.randint(level.min_steps, level.max_steps)
        try:
            question, worked = template(rng, n_steps, level.max_number)
        except ValueError:  # a negative or inexact intermediate; draw again
            continue
        if max_number is not None and max(map(int, _INTEGER.findall(question))) > max_number:
            continue  # e.g. a bill or a sum stated in the question
        return question, worked.solution()
    raise ValueError(
        f"no problem with every stated number <= {max_number} in {MAX_DRAWS} "
        "draws; raise max_number"
    )


def generate(
    n: int,
    split: str = "train",
    seed: int = 0,
    difficulty: int = 1,
    system: str | None = GSM8K_SYSTEM_PROMPT,
    *,
    steps: int | None = None,
    max_number: int | None = None,
) -> list[Example]:
    """`n` synthetic GSM8K-style examples of one split; unique questions; train and test never
    share a question. generate(n) is a prefix of generate(m) for m >= n. `steps` and
    `max_number` override the difficulty level (see the module docstring)."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    level_of(difficulty, steps, max_number)  # bad knobs fail before any drawing
    stream = f"gsm8k-synth/{seed}/{difficulty}"
    if steps is not None or max_number is not None:  # the levels keep their old streams
        stream += f"/steps={steps}/max={max_number}"
    rng = random.Random(stream)
    out: list[Example] = []
    seen: set[str] = set()
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ValueError(
                f"could not draw {n} distinct problems at difficulty {difficulty}"
                f" (steps={steps}, max_number={max_number}); ask for fewer or "
                "raise max_number"
            )
        question, solution = sample_problem(rng, difficulty, steps=steps, max_number=max_number)
        if split_of(question) != split or question in seen:
            continue
        seen.add(question)
        out.append(
            Example(
                text=question,
                code=solution,
                id=f"gsm8k-synth/{split}/{len(out):05d}",
                source="generated/gsm8k-synth",
                system=system,
            )
        )
    return out
