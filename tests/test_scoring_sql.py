"""Spider scoring: execution match on sqlite databases built here, whose verdicts are known by
construction, and hostile SQL that must end wrong or refused, within the budget, with the
database file unchanged."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import warnings

import pytest
from helpers import SHARED_DATA

from jepa_lab.scoring import sql_exec
from jepa_lab.scoring.sql import (
    DB_DIR_ENV,
    SPIDER_URL,
    database_path,
    exact_match_normalized,
    execution_match,
    has_order_by,
    normalize_sql,
    score_spider,
    shell_output_match,
    spider_db_dir,
    spider_db_id,
)

ITEMS = [(1, "pen", 1.5, 1), (2, "ink", 2.0, 1), (3, "pad", 3.25, 2), (4, "cap", None, 5)]


def _build(path, numbers: int = 1000):
    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE items (id INTEGER, name TEXT, price REAL, qty INTEGER)")
    conn.executemany("INSERT INTO items VALUES (?, ?, ?, ?)", ITEMS)
    conn.execute("CREATE TABLE n (i INTEGER)")
    conn.executemany("INSERT INTO n VALUES (?)", [(i,) for i in range(numbers)])
    conn.commit()
    conn.close()
    return path


def _sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def db(tmp_path):
    return _build(tmp_path / "spider" / "shop" / "shop.sqlite")


# ----------------------------------------------------------------------------- verdicts


def test_equal_rows_in_another_order_match_unless_the_gold_orders_them(db):
    gold = "SELECT name FROM items WHERE qty = 1"
    assert execution_match("SELECT name FROM items WHERE qty = 1 ORDER BY name", gold, db).correct
    ordered_gold = "SELECT name FROM items ORDER BY id DESC"
    same_order = execution_match("SELECT name FROM items ORDER BY id DESC", ordered_gold, db)
    other_order = execution_match("SELECT name FROM items ORDER BY id", ordered_gold, db)
    assert same_order.correct and same_order.kind == "match"
    assert not other_order.correct and other_order.kind == "mismatch"
    assert "row 0" in other_order.reason


def test_a_failing_query_never_matches_an_empty_gold_result(db):
    gold = "SELECT name FROM items WHERE price > 100"  # no row
    broken = "SELECT nme FROM items WHERE price > 100"  # no such column
    verdict = execution_match(broken, gold, db)
    assert not verdict.correct and verdict.kind == "error"
    assert "no such column: nme" in verdict.reason
    # the official rule compares printed output: nothing equals nothing
    assert shell_output_match(broken, gold, db)
    # an empty result of a query that runs does match an empty gold result
    assert execution_match("SELECT name FROM items WHERE qty > 99", gold, db).correct


def test_duplicate_rows_count_as_a_multiset(db):
    gold = "SELECT qty FROM items WHERE qty < 3"  # 1, 1, 2
    distinct = execution_match("SELECT DISTINCT qty FROM items WHERE qty < 3", gold, db)
    assert not distinct.correct and "2 rows, gold has 3" in distinct.reason
    # the same number of rows, one value doubled instead of another: [1, 2, 2] != [1, 1, 2]
    skewed = "SELECT CASE WHEN id = 2 THEN 2 ELSE qty END FROM items WHERE qty < 3"
    assert not execution_match(skewed, gold, db).correct
    assert execution_match("SELECT qty FROM items WHERE qty <= 2 ORDER BY qty DESC", gold, db)


def test_floats_equal_integers_and_text_does_not(db):
    assert execution_match("SELECT 1.0", "SELECT 1", db).correct
    assert execution_match("SELECT 2", "SELECT price FROM items WHERE id = 2", db).correct
    assert execution_match(
        "SELECT avg(qty) FROM items", "SELECT sum(qty) * 1.0 / 4 FROM items", db
    ).correct
    assert execution_match("SELECT 0.1 + 0.2", "SELECT 0.3", db).correct  # rounded to 12 digits
    assert not execution_match("SELECT 1.5", "SELECT 1", db).correct
    assert not execution_match("SELECT '1'", "SELECT 1", db).correct
    assert execution_match("SELECT NULL", "SELECT price FROM items WHERE id = 4", db).correct


def test_column_count_and_a_failing_gold_are_reported(db):
    verdict = execution_match("SELECT id, name FROM items", "SELECT name FROM items", db)
    assert not verdict.correct and "2 columns, gold has 1" in verdict.reason
    gold_broken = execution_match("SELECT 1", "SELECT nope FROM items", db)
    assert not gold_broken.correct and gold_broken.kind == "gold_error"


# ----------------------------------------------------------------------------- hostile SQL

HOSTILE = {
    "drop": ("DROP TABLE items", {"refused"}),
    "insert": ("INSERT INTO items VALUES (9, 'x', 1, 1)", {"refused"}),
    "update": ("UPDATE items SET qty = 0", {"refused"}),
    "delete": ("DELETE FROM items", {"refused"}),
    "create": ("CREATE TABLE t (a)", {"refused"}),
    "attach": ("ATTACH DATABASE '{other}' AS other", {"refused"}),
    "load_extension": ("SELECT load_extension('/tmp/evil.so')", {"refused"}),
    "recursive_cte": (
        "WITH RECURSIVE r(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM r) SELECT count(*) FROM r",
        {"budget"},
    ),
    "cross_join_1e9": ("SELECT count(*) FROM n AS a, n AS b, n AS c", {"budget"}),
    "cross_join_rows": ("SELECT * FROM n AS a, n AS b, n AS c", {"bound", "budget"}),
    "one_megabyte": ("SELECT 1 " + "-" * (1 << 20), {"bound"}),
    "pragma_journal_mode": ("PRAGMA journal_mode = DELETE", {"refused"}),
    "pragma_user_version": ("PRAGMA user_version = 5", {"refused"}),
    "two_statements": ("SELECT 1; DROP TABLE items", {"refused"}),
    "with_delete": ("WITH x AS (SELECT 1) DELETE FROM items", {"refused"}),
    "with_insert": ("WITH x AS (SELECT 1) INSERT INTO items SELECT * FROM items", {"refused"}),
    "vacuum": ("VACUUM", {"refused"}),
    "printf_width": ("SELECT printf('%.*c', 1000000000, 'x')", {"refused"}),
    "string_doubling": (
        "WITH RECURSIVE r(s) AS (SELECT 'x' UNION ALL SELECT s || s FROM r) "
        "SELECT length(s) FROM r",
        {"error"},  # sqlite's length limit stops it before memory does
    ),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_hostile_sql_ends_wrong_or_refused_with_the_file_unchanged(name, db, tmp_path):
    other = _build(tmp_path / "other.sqlite", numbers=3)
    sql, kinds = HOSTILE[name]
    sql = sql.replace("{other}", str(other))
    before, other_before = _sha(db), _sha(other)
    first = execution_match(sql, "SELECT count(*) FROM items", db)
    assert not first.correct
    assert first.kind in kinds, first
    assert execution_match(sql, "SELECT count(*) FROM items", db) == first  # deterministic
    assert _sha(db) == before and _sha(other) == other_before
    assert sorted(p.name for p in db.parent.iterdir()) == ["shop.sqlite"]  # no journal, no WAL
    conn = sqlite3.connect(db)
    assert conn.execute("SELECT count(*) FROM items").fetchone() == (len(ITEMS),)
    assert conn.execute("PRAGMA user_version").fetchone() == (0,)
    conn.close()


@pytest.mark.parametrize(
    "sql",
    [
        "DROP TABLE items",
        "DELETE FROM items",
        "ATTACH ':memory:' AS m",
        "CREATE TABLE t (a)",
        "PRAGMA user_version = 5",
        "BEGIN",
    ],
)
def test_the_authorizer_alone_refuses_what_the_keyword_check_would(sql, db, monkeypatch):
    """Defence in depth: with the first-word check switched off, the authorizer still says no."""
    monkeypatch.setattr(sql_exec, "QUERY_KEYWORDS", frozenset({sql.split()[0].lower()}))
    before = _sha(db)
    with pytest.raises(sql_exec.QueryFailure) as caught:
        sql_exec.run_query(db, sql)
    assert caught.value.kind == "refused" and "not authorized" in caught.value.reason
    assert _sha(db) == before


def test_an_empty_answer_is_an_error_not_a_match(db):
    verdict = execution_match("  ", "SELECT name FROM items WHERE 0", db)
    assert not verdict.correct and verdict.reason == "empty query"


def test_the_budget_counts_steps_not_time(db):
    query = "SELECT count(*) FROM n AS a, n AS b"  # 10^6 rows
    counted = [sql_exec.run_query(db, query, step_budget=10**9).steps for _ in range(3)]
    assert len(set(counted)) == 1 and counted[0] > 10**6  # the same count every time
    with pytest.raises(sql_exec.QueryFailure) as caught:
        sql_exec.run_query(db, query, step_budget=counted[0] // 2)
    assert caught.value.kind == "budget"
    assert sql_exec.run_query(db, query, step_budget=counted[0] + 2000).rows == [(10**6,)]


def test_schema_reading_pragmas_are_allowed_and_the_heap_limit_is_restored(db):
    conn = sqlite3.connect(":memory:")
    before = conn.execute("PRAGMA hard_heap_limit").fetchone()
    rows = sql_exec.run_query(db, "PRAGMA table_info(items)").rows
    assert [r[1] for r in rows] == ["id", "name", "price", "qty"]
    assert conn.execute("PRAGMA hard_heap_limit").fetchone() == before
    conn.close()


# ----------------------------------------------------------------------------- exact match


def test_exact_match_folds_case_whitespace_quotes_and_semicolons():
    gold = 'SELECT T1.name FROM Friend AS T1 WHERE T1.grade  >  5 AND T1.city = "Paris"'
    assert exact_match_normalized(
        "select t1.NAME from friend as t1 where t1.grade>5 and t1.city = 'Paris';", gold
    )
    assert not exact_match_normalized(
        "SELECT T1.name FROM Friend AS T1 WHERE T1.grade > 5 AND T1.city = 'paris'", gold
    )  # a literal keeps its case
    assert not exact_match_normalized("SELECT T1.name FROM Friend AS T1", gold)
    assert not exact_match_normalized(None, gold)
    assert normalize_sql("SELECT 'it''s' ;;") == "select 'it''s'"
    assert normalize_sql('SELECT "it\'s"') == "select 'it''s'"
    assert normalize_sql("a <> b == c") == "a != b = c"


def test_order_by_is_found_outside_string_literals_only():
    assert has_order_by("SELECT a FROM t ORDER  BY a")
    assert not has_order_by("SELECT a FROM t WHERE b = 'order by'")


def test_the_real_spider_files_parse(tmp_path):
    rows = []
    for split in ("train", "test"):
        path = SHARED_DATA / "llm-jepa-datasets" / f"spider_{split}.jsonl"
        if not path.exists():
            pytest.skip(f"no shared data at {path}")
        rows += [json.loads(line)["messages"] for line in path.read_text().splitlines()]
    assert len(rows) == 6587 + 1447
    for messages in rows:
        assert spider_db_id(messages[1]["content"])
        gold = messages[2]["content"]
        assert normalize_sql(normalize_sql(gold)) == normalize_sql(gold)
        assert exact_match_normalized(gold + " ;", gold)


# ----------------------------------------------------------------------------- score_spider


def test_without_databases_execution_is_none_and_one_line_says_where_to_get_them(monkeypatch):
    monkeypatch.delenv(DB_DIR_ENV, raising=False)
    with pytest.warns(UserWarning, match="Spider execution accuracy not computed"):
        result = score_spider(
            ["SELECT name FROM t;", "SELECT 2"], ["select name from t", "SELECT 1"], ["a", "b"]
        )
    assert result["execution_accuracy"] is None and result["exact_match"] == 0.5
    assert result["correct"] == [True, False] and result["scored_by"] == "exact_match"
    assert "\n" not in result["note"] and SPIDER_URL in result["note"]
    assert DB_DIR_ENV in result["note"]


def test_a_missing_database_folder_is_named(tmp_path):
    with pytest.warns(UserWarning, match="does not exist"):
        result = score_spider(["SELECT 1"], ["SELECT 1"], ["a"], tmp_path / "nowhere")
    assert result["execution_accuracy"] is None and "nowhere" in result["note"]


def test_score_spider_by_execution_with_an_unknown_db_id(db, monkeypatch):
    folder = db.parent.parent
    monkeypatch.setenv(DB_DIR_ENV, str(folder))
    assert spider_db_dir() == folder and database_path(folder, "shop") == db
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # databases given: no warning
        result = score_spider(
            ["SELECT name FROM items ORDER BY id", "SELECT nme FROM items", "SELECT 1"],
            ["SELECT name FROM items", "SELECT name FROM items WHERE 0", "SELECT 1"],
            ["shop", "shop", "concert_singer"],
        )
    kinds = [v.kind for v in result["verdicts"]]
    assert kinds == ["match", "error", "missing_database"]
    assert result["execution_accuracy"] == pytest.approx(1 / 3)
    assert result["errors"] == 1 and result["missing_databases"] == ["concert_singer"]
    reason = result["verdicts"][2].reason
    assert "concert_singer" in reason and str(folder) in reason
    assert result["exact_match"] == pytest.approx(1 / 3)  # only "SELECT 1"
    with pytest.raises(ValueError, match="2 predictions, 1 golds and 1 db_ids"):
        score_spider(["a", "b"], ["a"], ["x"], folder)
