"""The four small databases of the offline text-to-SQL generator (`jepa_lab.data.sql_synth`).

A school, a shop, a library and a music agency, each a parent and a child table (the child's
``parent_id`` points at the parent) with seeded rows, written as sqlite files in Spider's layout
(``<folder>/<db_id>/<db_id>.sqlite``) by :func:`build_databases`. The rows do not depend on any
seed, so every generated split is asked about the same databases, and numeric columns hold
distinct values, so ``ORDER BY`` and ``LIMIT 1`` have one right answer.
"""

from __future__ import annotations

import os
import random
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Number:
    """A numeric column: its English word and the thresholds questions compare it with."""

    column: str
    word: str
    values: tuple[int, ...]  # distinct row values are drawn from these (no ties to order)
    thresholds: tuple[int, ...]


@dataclass(frozen=True)
class Text:
    """A text column: its English word, the phrase that filters on a value, and the values."""

    column: str
    word: str
    phrase: str  # e.g. "from {v}"
    values: tuple[str, ...]


@dataclass(frozen=True)
class Table:
    name: str
    noun: str
    plural: str
    label: str  # the column that names a row
    labels: tuple[str, ...]  # its values, one per row
    numbers: tuple[Number, ...]
    texts: tuple[Text, ...]


@dataclass(frozen=True)
class Schema:
    """A parent table and a child table whose ``parent_id`` column points at the parent."""

    db_id: str
    parent: Table
    child: Table
    link: str  # child <link> parent: "students taught by teachers"


def _number(column: str, word: str, low: int, high: int, step: int = 1) -> Number:
    """Row values low..high (every step-th), compared with 8 thresholds spread across them."""
    values = tuple(range(low, high + 1, step))
    width = (high - low) / 9
    return Number(column, word, values, tuple(round(low + width * i) for i in range(1, 9)))


def _table(name: str, noun: str, label: str, labels: str, numbers, texts) -> Table:
    return Table(name, noun, name, label, tuple(labels.split()), tuple(numbers), tuple(texts))


CITIES = ("Paris", "Lima", "Oslo", "Rome", "Kyiv")
COUNTRIES = ("France", "Peru", "Norway", "Italy", "Japan")

SCHEMAS = (
    Schema(
        "school",
        _table(
            "teachers",
            "teacher",
            "name",
            "Ada Ames Bea Cole Dev Eli Fay",
            [_number("years", "years of experience", 2, 30), _number("salary", "salary", 30, 90)],
            [
                Text("subject", "subject", "who teach {v}", ("math", "art", "music", "history")),
                Text("city", "city", "living in {v}", CITIES),
            ],
        ),
        _table(
            "students",
            "student",
            "name",
            "Gus Hal Ida Jay Kim Lou Max Ned Ola Pam Rex Sue Tim Uma",
            [_number("age", "age", 10, 29), _number("score", "score", 40, 99)],
            [
                Text("city", "city", "from {v}", CITIES),
                Text("club", "club", "in the {v} club", ("chess", "drama", "robotics")),
            ],
        ),
        "taught by",
    ),
    Schema(
        "shop",
        _table(
            "makers",
            "maker",
            "name",
            "Acme Bolt Crisp Delta Ember Fable",
            [_number("founded", "founding year", 1950, 2020), _number("staff", "staff", 5, 500)],
            [
                Text("country", "country", "from {v}", COUNTRIES),
                Text("size", "size", "of {v} size", ("small", "large")),
            ],
        ),
        _table(
            "products",
            "product",
            "name",
            "lamp desk chair mug pen bag clock fan rug vase kettle mirror",
            [_number("price", "price", 3, 200), _number("stock", "stock", 0, 60)],
            [
                Text("category", "category", "in the {v} category", ("home", "office", "kitchen")),
                Text("color", "color", "colored {v}", ("red", "blue", "green", "black")),
            ],
        ),
        "made by",
    ),
    Schema(
        "library",
        _table(
            "authors",
            "author",
            "name",
            "Val Wes Xia Yul Zed Abe Bo",
            [
                _number("born", "birth year", 1900, 1990),
                _number("awards", "number of awards", 0, 20),
            ],
            [
                Text("country", "country", "from {v}", COUNTRIES),
                Text("language", "language", "writing in {v}", ("English", "French", "Spanish")),
            ],
        ),
        _table(
            "books",
            "book",
            "title",
            "Dawn Echo Frost Grove Harbor Iris Jade Kite Lumen Maple Nectar Orbit Pearl",
            [
                _number("year", "publication year", 1950, 2023),
                _number("pages", "number of pages", 90, 700),
            ],
            [
                Text("genre", "genre", "in the {v} genre", ("poetry", "mystery", "history")),
                Text("format", "format", "published as {v}", ("paperback", "hardcover")),
            ],
        ),
        "written by",
    ),
    Schema(
        "music",
        _table(
            "singers",
            "singer",
            "name",
            "Aria Bly Cruz Dune Enzo Flo Gia",
            [_number("age", "age", 19, 70), _number("albums", "number of albums", 1, 30)],
            [
                Text("country", "country", "from {v}", COUNTRIES),
                Text("style", "style", "who sing {v}", ("jazz", "pop", "folk")),
            ],
        ),
        _table(
            "concerts",
            "concert",
            "title",
            "Gala Nocturne Bluehour Redsky Tides Emberlight Lastlight Openroad Echopark Midnight",
            [
                _number("year", "year", 2005, 2024),
                _number("tickets", "number of tickets sold", 100, 5000, 37),
            ],
            [
                Text("venue", "venue", "held at the {v}", ("Arena", "Hall", "Park")),
                Text("season", "season", "held in {v}", ("spring", "summer", "autumn", "winter")),
            ],
        ),
        "by",
    ),
)
SCHEMA_BY_ID = {schema.db_id: schema for schema in SCHEMAS}


def _columns(table: Table, child: bool) -> list[str]:
    names = (
        ["id", table.label] + [n.column for n in table.numbers] + [t.column for t in table.texts]
    )
    return names + (["parent_id"] if child else [])


def table_rows(schema: Schema) -> dict[str, list[tuple]]:
    """The rows of a schema's two tables (fixed: drawn from one stream per db_id)."""
    rng = random.Random(f"sql-synth/rows/{schema.db_id}")
    rows: dict[str, list[tuple]] = {}
    for table, child in ((schema.parent, False), (schema.child, True)):
        count = len(table.labels)
        numbers = [rng.sample(n.values, count) for n in table.numbers]  # distinct: no ties
        texts = [[rng.choice(t.values) for _ in range(count)] for t in table.texts]
        parents = len(schema.parent.labels)
        rows[table.name] = [
            (i + 1, label, *(col[i] for col in numbers), *(col[i] for col in texts))
            + ((rng.randint(1, parents),) if child else ())
            for i, label in enumerate(table.labels)
        ]
    return rows


def _write(path: Path, schema: Schema) -> None:
    conn = sqlite3.connect(path)
    try:
        rows = table_rows(schema)
        for table, child in ((schema.parent, False), (schema.child, True)):
            columns = _columns(table, child)
            types = ["INTEGER PRIMARY KEY", "TEXT"] + ["INTEGER"] * len(table.numbers)
            types += ["TEXT"] * len(table.texts) + (["INTEGER"] if child else [])
            ddl = ", ".join(f"{c} {t}" for c, t in zip(columns, types, strict=True))
            conn.execute(f"CREATE TABLE {table.name} ({ddl})")
            marks = ", ".join("?" * len(columns))
            conn.executemany(f"INSERT INTO {table.name} VALUES ({marks})", rows[table.name])
        conn.commit()
    finally:
        conn.close()


def build_databases(folder: str | os.PathLike) -> Path:
    """Write every schema to ``<folder>/<db_id>/<db_id>.sqlite`` and return ``folder``.

    Deterministic: the same bytes every time. A file already there with those bytes is left
    alone; a different one is replaced atomically (a reader never sees half a file)."""
    root = Path(folder)
    for schema in SCHEMAS:
        target = root / schema.db_id / f"{schema.db_id}.sqlite"
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=target.parent, suffix=".building")
        os.close(handle)
        scratch = Path(name)
        try:
            scratch.unlink()  # sqlite creates it afresh
            _write(scratch, schema)
            if target.is_file() and target.read_bytes() == scratch.read_bytes():
                continue
            os.replace(scratch, target)
        finally:
            scratch.unlink(missing_ok=True)
    return root
