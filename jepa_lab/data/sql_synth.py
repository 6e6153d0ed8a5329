"""Offline text-to-SQL generator: English questions and their SQL over four small databases.

Four schemas (a school, a shop, a library, a music agency), each a parent and a child table
with seeded rows, are written as sqlite files in Spider's layout by :func:`build_databases`
(``<folder>/<db_id>/<db_id>.sqlite``), so execution accuracy runs for real on a CPU with no
download. :func:`generate` writes question/SQL pairs in the format of the LLM-JEPA Spider files:
the user turn is ``For db_id:[school]\\n\\nHow many students are there?`` and the answer is the
query. Queries cover SELECT, WHERE (numbers and text), COUNT / AVG / MAX / MIN / SUM, GROUP BY,
HAVING, DISTINCT, ORDER BY (with LIMIT) and a JOIN of the two tables.

The rows do not depend on the seed: every split of every seed is asked about the same
databases. Train and test never share a query: a query's split is a fixed hash of its text, so
a test query is new SQL, not a rephrasing of a training one.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable

from jepa_lab.data.records import Example
from jepa_lab.data.sql_schemas import SCHEMAS, Number, Schema, Table, Text, build_databases
from jepa_lab.data.task_files import SPIDER_SYSTEM_PROMPT

__all__ = ["SCHEMAS", "build_databases", "generate", "sample_pair", "split_of", "user_turn"]

SPLITS = ("train", "test")
TEST_FRACTION = 0.2
SOURCE = "generated/sql-synth"
# draws in a row that give nothing new before the split counts as exhausted (~0.5 s)
MAX_MISSES = 20_000

Pair = tuple[str, str]  # (question, sql)
# (operator, "a score of more than 50", "a score above 50")
_COMPARE = ((">", "more than", "above"), ("<", "less than", "below"))
_AGGREGATE = (("avg", "average"), ("max", "maximum"), ("min", "minimum"), ("sum", "total"))


def _pick(rng: random.Random, *options: str) -> str:
    return rng.choice(options)


def _aggregate_of(rng: random.Random, n: Number) -> tuple[str, str]:
    """An aggregate that means something for the column (no total of years)."""
    return rng.choice(_AGGREGATE if "year" not in n.word else _AGGREGATE[:3])


def _number_filter(rng: random.Random, t: Table, alias: str = "") -> tuple[str, str]:
    """("with a score above 50", "score > 50")."""
    n: Number = rng.choice(t.numbers)
    op, words, short = rng.choice(_COMPARE)
    k = rng.choice(n.thresholds)
    english = _pick(rng, f"with a {n.word} {short} {k}", f"with a {n.word} of {words} {k}")
    return english, f"{alias}{n.column} {op} {k}"


def _text_filter(rng: random.Random, t: Table, alias: str = "") -> tuple[str, str]:
    """("from Paris", "city = 'Paris'")."""
    c: Text = rng.choice(t.texts)
    v = rng.choice(c.values)
    return c.phrase.format(v=v), f"{alias}{c.column} = '{v}'"


def _select(rng: random.Random, t: Table) -> tuple[str, str]:
    """What a listing question asks for: the label, or the label and a number."""
    if rng.random() < 0.7:
        return f"{t.label}s", t.label
    n = rng.choice(t.numbers)
    return f"{t.label}s and {n.word}s", f"{t.label}, {n.column}"


def _listing(rng, s: Schema, t: Table) -> Pair:
    words, columns = _select(rng, t)
    q = _pick(
        rng, f"What are the {words} of all {t.plural}?", f"List the {words} of every {t.noun}."
    )
    return q, f"SELECT {columns} FROM {t.name}"


def _counting(rng, s: Schema, t: Table) -> Pair:
    if rng.random() < 0.2:
        q = _pick(rng, f"How many {t.plural} are there?", f"Count the number of {t.plural}.")
        return q, f"SELECT count(*) FROM {t.name}"
    english, where = (_number_filter if rng.random() < 0.5 else _text_filter)(rng, t)
    q = _pick(rng, f"How many {t.plural} are there {english}?", f"Count the {t.plural} {english}.")
    return q, f"SELECT count(*) FROM {t.name} WHERE {where}"


def _filtering(rng, s: Schema, t: Table) -> Pair:
    words, columns = _select(rng, t)
    english, where = (_number_filter if rng.random() < 0.5 else _text_filter)(rng, t)
    if rng.random() < 0.4:  # both kinds of condition
        more, extra = _text_filter(rng, t) if "=" not in where else _number_filter(rng, t)
        english, where = f"{english} and {more}", f"{where} AND {extra}"
    q = _pick(
        rng,
        f"What are the {words} of the {t.plural} {english}?",
        f"Show the {words} of {t.plural} {english}.",
    )
    return q, f"SELECT {columns} FROM {t.name} WHERE {where}"


def _aggregate(rng, s: Schema, t: Table) -> Pair:
    n = rng.choice(t.numbers)
    fn, word = _aggregate_of(rng, n)
    if rng.random() < 0.3:
        return (
            f"What is the {word} {n.word} of all {t.plural}?",
            f"SELECT {fn}({n.column}) FROM {t.name}",
        )
    english, where = _text_filter(rng, t)
    q = _pick(
        rng,
        f"What is the {word} {n.word} of the {t.plural} {english}?",
        f"Find the {word} {n.word} among {t.plural} {english}.",
    )
    return q, f"SELECT {fn}({n.column}) FROM {t.name} WHERE {where}"


def _grouping(rng, s: Schema, t: Table) -> Pair:
    c = rng.choice(t.texts)
    roll = rng.random()
    if roll < 0.35:
        q = _pick(
            rng,
            f"How many {t.plural} are there for each {c.word}?",
            f"Show each {c.word} and the number of {t.plural} with it.",
        )
        return q, f"SELECT {c.column}, count(*) FROM {t.name} GROUP BY {c.column}"
    if roll < 0.7:
        n = rng.choice(t.numbers)
        fn, word = _aggregate_of(rng, n)
        q = f"What is the {word} {n.word} of the {t.plural} for each {c.word}?"
        return q, f"SELECT {c.column}, {fn}({n.column}) FROM {t.name} GROUP BY {c.column}"
    if roll < 0.85:
        return f"What are the different {c.word} values of the {t.plural}?", (
            f"SELECT DISTINCT {c.column} FROM {t.name}"
        )
    k = rng.randint(1, 4)
    q = f"Which {c.word} values have more than {k} {t.plural}?"
    return q, f"SELECT {c.column} FROM {t.name} GROUP BY {c.column} HAVING count(*) > {k}"


def _ordering(rng, s: Schema, t: Table) -> Pair:
    n = rng.choice(t.numbers)
    desc = rng.random() < 0.5
    order = "DESC" if desc else "ASC"
    most = "highest" if desc else "lowest"
    roll = rng.random()
    if roll < 0.4:
        q = f"What is the {t.label} of the {t.noun} with the {most} {n.word}?"
        return q, f"SELECT {t.label} FROM {t.name} ORDER BY {n.column} {order} LIMIT 1"
    if roll < 0.6:
        k = rng.randint(2, 5)
        q = f"What are the {t.label}s of the {k} {t.plural} with the {most} {n.word}?"
        return q, f"SELECT {t.label} FROM {t.name} ORDER BY {n.column} {order} LIMIT {k}"
    way = "from highest to lowest" if desc else "from lowest to highest"
    english, where = _text_filter(rng, t)
    if roll < 0.8:
        q = f"List the {t.label}s of the {t.plural} {english}, ordered by {n.word} {way}."
        return q, f"SELECT {t.label} FROM {t.name} WHERE {where} ORDER BY {n.column} {order}"
    q = f"List the {t.label}s of all {t.plural} ordered by {n.word} {way}."
    return q, f"SELECT {t.label} FROM {t.name} ORDER BY {n.column} {order}"


def _joining(rng, s: Schema, t: Table) -> Pair:
    p, c = s.parent, s.child
    on = f"FROM {c.name} AS T1 JOIN {p.name} AS T2 ON T1.parent_id = T2.id"
    roll = rng.random()
    if roll < 0.25:
        q = f"How many {c.plural} are there for each {p.noun}? Give the {p.label} and the count."
        return q, f"SELECT T2.{p.label}, count(*) {on} GROUP BY T2.{p.label}"
    english, where = (_text_filter if roll < 0.6 else _number_filter)(rng, p, "T2.")
    if rng.random() < 0.3:
        q = f"How many {c.plural} are {s.link} {p.plural} {english}?"
        return q, f"SELECT count(*) {on} WHERE {where}"
    q = f"What are the {c.label}s of the {c.plural} {s.link} {p.plural} {english}?"
    return q, f"SELECT T1.{c.label} {on} WHERE {where}"


TEMPLATES: dict[str, Callable[[random.Random, Schema, Table], Pair]] = {
    "listing": _listing,
    "counting": _counting,
    "filtering": _filtering,
    "aggregate": _aggregate,
    "grouping": _grouping,
    "ordering": _ordering,
    "joining": _joining,
}


def split_of(sql: str) -> str:
    """Fixed train/test assignment of a query (independent of seed)."""
    bucket = int.from_bytes(hashlib.blake2b(sql.encode(), digest_size=8).digest(), "big")
    return "test" if bucket % 1000 < TEST_FRACTION * 1000 else "train"


def sample_pair(rng: random.Random) -> tuple[str, str, str]:
    """One (db_id, question, sql)."""
    schema = rng.choice(SCHEMAS)
    table = rng.choice((schema.parent, schema.child))
    question, sql = TEMPLATES[rng.choice(sorted(TEMPLATES))](rng, schema, table)
    return schema.db_id, question, sql


def user_turn(db_id: str, question: str) -> str:
    """The user turn in the LLM-JEPA Spider files' format."""
    return f"For db_id:[{db_id}]\n\n{question}"


def generate(n: int, split: str = "train", seed: int = 0) -> list[Example]:
    """``n`` text-to-SQL examples of one split, deterministic in (n, split, seed); questions are
    unique, and train and test never share a query. generate(n) is a prefix of generate(m) for
    m >= n. Ask for more than the split holds and it says how many there are."""
    if split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, got {split!r}")
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"n must be an integer >= 0, got {n!r}")
    rng = random.Random(f"sql-synth/{seed}")
    out: list[Example] = []
    seen: set[str] = set()
    misses = 0
    while len(out) < n:
        db_id, question, sql = sample_pair(rng)
        text = user_turn(db_id, question)
        if split_of(sql) != split or text in seen:
            misses += 1
            if misses > MAX_MISSES:
                raise ValueError(
                    f"sql_synth: the {split} split holds about {len(out)} distinct questions; "
                    f"asked for {n}"
                )
            continue
        misses = 0
        seen.add(text)
        out.append(
            Example(
                text=text,
                code=sql,
                id=f"sql-synth/{split}/{len(out):05d}",
                source=SOURCE,
                system=SPIDER_SYSTEM_PROMPT,
                db_id=db_id,
            )
        )
    return out
