"""The offline text-to-SQL generator: every gold query runs on its database and returns what a
Python computation over the same rows says, the splits never share a query, and the records
look like the LLM-JEPA Spider files."""

from __future__ import annotations

import json
import re
import sqlite3

import pytest
from helpers import SHARED_DATA

from jepa_lab.data import sql_synth
from jepa_lab.data.sql_schemas import SCHEMAS, table_rows
from jepa_lab.scoring.sql import database_path, execution_match, spider_db_id
from jepa_lab.scoring.sql_exec import run_query

SPIDER_TRAIN = SHARED_DATA / "llm-jepa-datasets" / "spider_train.jsonl"


@pytest.fixture(scope="module")
def db_dir(tmp_path_factory):
    return sql_synth.build_databases(tmp_path_factory.mktemp("sql-synth"))


@pytest.fixture(scope="module")
def examples():
    return sql_synth.generate(1500, "train") + sql_synth.generate(400, "test")


def test_every_gold_query_runs_on_its_database_and_matches_itself(db_dir, examples):
    empty = 0
    for e in examples:
        path = database_path(db_dir, e.db_id)
        result = run_query(path, e.code)  # raises QueryFailure if it does not run
        empty += not result.rows
        assert execution_match(e.code, e.code, path).correct, e
    assert empty < len(examples) // 5  # most questions have an answer to get right


def _python_rows(db_id: str, table: str) -> list[dict]:
    schema = next(s for s in SCHEMAS if s.db_id == db_id)
    spec, child = (schema.child, True) if schema.child.name == table else (schema.parent, False)
    columns = ["id", spec.label] + [n.column for n in spec.numbers] + [t.column for t in spec.texts]
    columns += ["parent_id"] if child else []
    return [dict(zip(columns, row, strict=True)) for row in table_rows(schema)[table]]


COUNT_WHERE = re.compile(r"SELECT count\(\*\) FROM (\w+) WHERE (\w+) (>|<|=) ('?)(\w+)'?$")
TOP_ONE = re.compile(r"SELECT (\w+) FROM (\w+) ORDER BY (\w+) (ASC|DESC) LIMIT 1$")


def test_answers_agree_with_a_python_computation_over_the_same_rows(db_dir, examples):
    checked = 0
    for e in examples:
        path = database_path(db_dir, e.db_id)
        if match := COUNT_WHERE.match(e.code):
            table, column, op, quote, value = match.groups()
            target = value if quote else int(value)
            rows = _python_rows(e.db_id, table)
            expected = sum(
                (r[column] == target)
                if op == "="
                else (r[column] > target)
                if op == ">"
                else (r[column] < target)
                for r in rows
            )
            assert run_query(path, e.code).rows == [(expected,)], e.code
            assert str(value) in e.text  # the question states the constant
            checked += 1
        elif match := TOP_ONE.match(e.code):
            label, table, column, order = match.groups()
            rows = sorted(
                _python_rows(e.db_id, table), key=lambda r: r[column], reverse=order == "DESC"
            )
            assert run_query(path, e.code).rows == [(rows[0][label],)], e.code
            assert ("highest" if order == "DESC" else "lowest") in e.text
            checked += 1
    assert checked > 100


def test_splits_never_share_a_query_and_questions_are_unique(examples):
    train = [e for e in examples if e.id.startswith("sql-synth/train")]
    test = [e for e in examples if e.id.startswith("sql-synth/test")]
    assert not {e.code for e in train} & {e.code for e in test}
    assert len({e.text for e in train}) == len(train) and len({e.text for e in test}) == len(test)
    assert all(sql_synth.split_of(e.code) == "test" for e in test)


def test_deterministic_prefix_and_seeded(monkeypatch):
    assert sql_synth.generate(50, "train") == sql_synth.generate(120, "train")[:50]
    assert sql_synth.generate(50, "train", seed=1) != sql_synth.generate(50, "train")
    with pytest.raises(ValueError, match="split must be one of"):
        sql_synth.generate(5, "dev")
    monkeypatch.setattr(sql_synth, "MAX_MISSES", 100)  # exhausts the split in seconds
    with pytest.raises(ValueError, match="the test split holds about"):
        sql_synth.generate(100_000, "test")


def test_queries_cover_the_clauses_spider_uses(examples):
    codes = " ".join(e.code for e in examples)
    for clause in (
        "WHERE",
        "count(*)",
        "avg(",
        "max(",
        "GROUP BY",
        "HAVING",
        "DISTINCT",
        "ORDER BY",
        "LIMIT",
        "JOIN",
        " AND ",
    ):
        assert clause in codes, clause
    assert {e.db_id for e in examples} == {s.db_id for s in SCHEMAS}


def test_records_follow_the_llm_jepa_spider_format(examples):
    for e in examples[:200]:
        assert e.text.startswith(f"For db_id:[{e.db_id}]\n\n")
        assert spider_db_id(e.text) == e.db_id and e.source.startswith("generated/")
        assert e.messages[1]["content"] == e.text and e.messages[2]["content"] == e.code
    if not SPIDER_TRAIN.exists():
        pytest.skip(f"no shared data at {SPIDER_TRAIN}")
    real = json.loads(SPIDER_TRAIN.read_text().splitlines()[0])["messages"]
    assert examples[0].system == real[0]["content"]
    assert re.match(r"For db_id:\[\w+\]\n\n\S", real[1]["content"])


def test_build_databases_is_deterministic_and_leaves_a_good_file_alone(tmp_path):
    first = sql_synth.build_databases(tmp_path / "a")
    second = sql_synth.build_databases(tmp_path / "b")
    for schema in SCHEMAS:
        a, b = database_path(first, schema.db_id), database_path(second, schema.db_id)
        assert a.read_bytes() == b.read_bytes()
    target = database_path(first, "shop")
    stamp = target.stat().st_mtime_ns
    sql_synth.build_databases(first)
    assert target.stat().st_mtime_ns == stamp  # same bytes: not rewritten
    target.write_bytes(b"not a database")
    sql_synth.build_databases(first)
    assert target.read_bytes() == database_path(second, "shop").read_bytes()
    assert sorted(p.name for p in target.parent.iterdir()) == ["shop.sqlite"]
    conn = sqlite3.connect(target)
    assert conn.execute("SELECT count(*) FROM products").fetchone()[0] == 12
    conn.close()
