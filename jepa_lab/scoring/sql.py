"""Scoring Spider text-to-SQL: execution match on sqlite, and exact match after normalisation.

A generated query is right when it runs and returns the gold query's result on the example's
database (`<db_dir>/<db_id>/<db_id>.sqlite`, Spider's layout). The rules are those of Spider's
execution evaluation:

* rows compare as a multiset, or as a list when the gold query has ORDER BY;
* columns compare in order, and a row is a tuple of values;
* numbers compare by value rounded to :data:`SIGNIFICANT_DIGITS` significant digits, so ``1``
  equals ``1.0`` and ``avg`` equals ``sum / count`` computed in another order; text compares
  exactly (``'1'`` is not ``1``), NULL equals NULL;
* a query that errors, is refused or runs out of budget is wrong, never a match, also when the
  gold result is empty (the official LLM-JEPA code compares what the sqlite3 shell prints, so
  there a failing query matches every empty gold result).

Generated SQL runs through :func:`jepa_lab.scoring.sql_exec.run_query`: read-only, an
authorizer that allows reading only, a deterministic step budget.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from jepa_lab.scoring.sql_exec import (
    GOLD_FACTOR,
    GOLD_STEP_BUDGET,
    MAX_QUERY_CHARS,
    STEP_BUDGET,
    QueryFailure,
    QueryResult,
    run_query,
)

SPIDER_URL = "https://yale-lily.github.io/spider"
DB_DIR_ENV = "JEPA_LAB_SPIDER_DB_DIR"
SIGNIFICANT_DIGITS = 12
_PREFIX = "For db_id:["


@dataclass(frozen=True)
class Verdict:
    """Outcome of running a generated query against the gold one.

    correct: True only for kind "match".
    kind: "match" | "mismatch" | "error" (sqlite failed) | "refused" (not allowed to run) |
        "budget" (step budget ran out) | "bound" (too long, or a result over the caps) |
        "gold_error" (the gold query itself failed) | "missing_database".
    reason: one line, e.g. "3 rows, gold has 2" or "sqlite error: no such column: nme".
    """

    correct: bool
    kind: str
    reason: str


SqlVerdict = Verdict  # the package-level name (jepa_lab.scoring.Verdict is NL-RX's)


def spider_db_dir(explicit: str | os.PathLike | None = None) -> Path | None:
    """The folder of Spider databases: ``explicit``, else $JEPA_LAB_SPIDER_DB_DIR, else None."""
    chosen = explicit if explicit not in (None, "") else os.environ.get(DB_DIR_ENV) or None
    return Path(chosen).expanduser() if chosen is not None else None


def database_path(db_dir: str | os.PathLike, db_id: str) -> Path:
    """Spider's layout: ``<db_dir>/<db_id>/<db_id>.sqlite``."""
    return Path(db_dir) / db_id / f"{db_id}.sqlite"


def spider_db_id(text: str) -> str | None:
    """The db_id of a Spider user turn ``For db_id:[name]\\n\\nquestion``, or None."""
    if not isinstance(text, str) or not text.startswith(_PREFIX):
        return None
    end = text.find("]", len(_PREFIX))
    return text[len(_PREFIX) : end] if end > len(_PREFIX) else None


# ----------------------------------------------------------------------------- normalisation


def sql_tokens(sql: str) -> list[str]:
    """Tokens of a query in one linear pass: quoted literals ('..', "..", `..`, [..]) are one
    token each, words and numbers are another, each other non-space character is one."""
    tokens: list[str] = []
    i, n = 0, len(sql)
    closing = {"'": "'", '"': '"', "`": "`", "[": "]"}
    while i < n:
        ch = sql[i]
        if ch.isspace():
            i += 1
        elif ch in closing:
            end = sql.find(closing[ch], i + 1)
            while end >= 0 and ch in "'\"" and sql.startswith(ch * 2, end):  # '' escapes '
                end = sql.find(ch, end + 2)
            end = n - 1 if end < 0 else end
            tokens.append(sql[i : end + 1])
            i = end + 1
        elif ch.isalnum() or ch == "_" or (ch == "." and sql[i + 1 : i + 2].isdigit()):
            j = i + 1
            while j < n and (sql[j].isalnum() or sql[j] in "_."):
                j += 1
            tokens.append(sql[i:j])
            i = j
        else:
            two = sql[i : i + 2]
            width = 2 if two in ("<>", "!=", "<=", ">=", "==", "||") else 1
            tokens.append(sql[i : i + width])
            i += width
    return tokens


def _normal_token(token: str) -> str:
    if token[0] in "'\"":  # a string literal: one quoting style, content kept as is
        body = token[1:-1] if len(token) > 1 and token[-1] == token[0] else token[1:]
        body = body.replace(token[0] * 2, token[0])
        return "'" + body.replace("'", "''") + "'"
    if token[0] in "`[":  # a quoted identifier: identifiers are case-insensitive in sqlite
        return token[1:-1].lower()
    return {"==": "=", "<>": "!="}.get(token, token.lower())


def normalize_sql(sql: str) -> str:
    """Keyword and identifier case folded, one space between tokens, string literals in single
    quotes, ``==`` as ``=``, ``<>`` as ``!=``, trailing semicolons dropped."""
    tokens = [_normal_token(t) for t in sql_tokens(sql)]
    while tokens and tokens[-1] == ";":
        tokens.pop()
    return " ".join(tokens)


def exact_match_normalized(pred: object, gold: object) -> bool:
    """Exact match of two queries after :func:`normalize_sql` (False for a non-string or a
    query over the length cap)."""
    if not isinstance(pred, str) or not isinstance(gold, str) or len(pred) > MAX_QUERY_CHARS:
        return False
    return normalize_sql(pred) == normalize_sql(gold)


def has_order_by(sql: str) -> bool:
    """Whether ORDER BY appears in the query outside string literals (Spider's rule for when
    row order counts)."""
    words = [t.lower() for t in sql_tokens(sql)]
    return any(a == "order" and b == "by" for a, b in zip(words, words[1:], strict=False))


# ----------------------------------------------------------------------------- comparison


def _value_key(value: object) -> object:
    if isinstance(value, int) and abs(value) < 10**SIGNIFICANT_DIGITS:
        return value
    if isinstance(value, (int, float)):
        if not math.isfinite(value):
            return repr(float(value))
        rounded = float(f"{value:.{SIGNIFICANT_DIGITS}g}")
        return int(rounded) if rounded.is_integer() else rounded
    if isinstance(value, str):
        return ("text", value)  # never equal to a number
    return value  # None, bytes


def _row_key(row: tuple) -> tuple:
    return tuple(_value_key(v) for v in row)


def compare_results(pred: QueryResult, gold: QueryResult, ordered: bool) -> Verdict:
    """Match or mismatch of two results, rows as a multiset or (``ordered``) as a list."""
    if pred.columns != gold.columns:
        return Verdict(False, "mismatch", f"{pred.columns} columns, gold has {gold.columns}")
    if len(pred.rows) != len(gold.rows):
        return Verdict(False, "mismatch", f"{len(pred.rows)} rows, gold has {len(gold.rows)}")
    pred_keys, gold_keys = [_row_key(r) for r in pred.rows], [_row_key(r) for r in gold.rows]
    if ordered:
        for i, (p, g) in enumerate(zip(pred_keys, gold_keys, strict=True)):
            if p != g:
                return Verdict(False, "mismatch", f"row {i} is {_show(p)}, gold has {_show(g)}")
        return Verdict(True, "match", f"same {len(gold_keys)} row(s) in the same order")
    missing = Counter(gold_keys) - Counter(pred_keys)
    if missing:
        row = next(iter(missing))
        return Verdict(False, "mismatch", f"gold row {_show(row)} missing or not as often")
    return Verdict(True, "match", f"same {len(gold_keys)} row(s) (any order)")


def _show(row: tuple) -> str:
    text = repr(tuple(v[1] if isinstance(v, tuple) else v for v in row))
    return text if len(text) <= 80 else text[:77] + "..."


def _run_gold(db_path: Path, gold: str) -> QueryResult | Verdict:
    try:
        return run_query(db_path, gold, GOLD_STEP_BUDGET)
    except QueryFailure as failure:
        return Verdict(False, "gold_error", f"gold query failed ({failure.kind}): {failure}")


def execution_match(pred_sql: object, gold_sql: str, db_path: str | os.PathLike) -> Verdict:
    """Run both queries on ``db_path`` (the generated one untrusted, under the step budget) and
    compare their results; a query that fails is wrong, with the reason."""
    return _execution_match(pred_sql, gold_sql, Path(db_path), {})


def _execution_match(pred_sql: object, gold_sql: str, db_path: Path, cache: dict) -> Verdict:
    if not db_path.is_file():
        return Verdict(False, "missing_database", f"no database file {db_path}")
    key = (str(db_path), gold_sql)
    if key not in cache:
        cache[key] = _run_gold(db_path, gold_sql)
    gold = cache[key]
    if isinstance(gold, Verdict):
        return gold
    budget = max(STEP_BUDGET, GOLD_FACTOR * gold.steps)
    try:
        pred = run_query(
            db_path, pred_sql.strip() if isinstance(pred_sql, str) else pred_sql, budget
        )
    except QueryFailure as failure:
        return Verdict(False, failure.kind, failure.reason)
    return compare_results(pred, gold, ordered=has_order_by(gold_sql))


FAILED_KINDS = ("error", "refused", "budget", "bound")


def _printed(db_path: Path, sql: object) -> str:
    try:
        rows = run_query(db_path, sql).rows
    except QueryFailure:
        return ""  # the shell prints an error to stderr and nothing to stdout
    return "\n".join("|".join("" if v is None else str(v) for v in row) for row in rows)


def shell_output_match(pred_sql: object, gold_sql: str, db_path: str | os.PathLike) -> bool:
    """The official LLM-JEPA Spider verdict, emulated for teaching (never score with it): both
    queries' output as the sqlite3 shell prints it (values joined by "|", a line per row,
    nothing for a query that fails) must be the same text. So a failing query "matches" any
    gold query with an empty result, and row order and number formatting decide."""
    path = Path(db_path)
    return _printed(path, pred_sql) == _printed(path, gold_sql)


def score_spider(
    predictions: Sequence[str],
    golds: Sequence[str],
    db_ids: Sequence[str],
    db_dir: str | os.PathLike | None = None,
) -> dict:
    """Execution accuracy and normalised exact match of generated queries.

    Returns {"n", "execution_accuracy" (None without databases), "exact_match", "errors"
    (generated queries that failed to run), "missing_databases" (db_ids without a file),
    "verdicts" (one :class:`Verdict` per row, [] without databases), "correct" (per row: the
    execution verdict, or exact match without databases), "scored_by", "note" (one line, or
    None)}. ``db_dir``: see :func:`spider_db_dir`.
    """
    if not len(predictions) == len(golds) == len(db_ids):
        raise ValueError(
            f"score_spider: {len(predictions)} predictions, {len(golds)} golds and "
            f"{len(db_ids)} db_ids; expected one of each per example"
        )
    exact = [exact_match_normalized(p, g) for p, g in zip(predictions, golds, strict=True)]
    n = len(exact)
    out = {"n": n, "exact_match": sum(exact) / n if n else 0.0}
    folder = spider_db_dir(db_dir)
    if folder is None or not folder.is_dir():
        where = (
            f"the folder {folder} does not exist"
            if folder is not None
            else f"no database folder given (--spider-db-dir or ${DB_DIR_ENV})"
        )
        note = (
            f"Spider execution accuracy not computed: {where}; it needs the Spider databases "
            f"as <folder>/<db_id>/<db_id>.sqlite, from the Spider authors ({SPIDER_URL})"
        )
        warnings.warn(note, stacklevel=2)
        out.update(execution_accuracy=None, errors=None, missing_databases=[], verdicts=[])
        return {**out, "correct": exact, "scored_by": "exact_match", "note": note}
    cache: dict = {}
    verdicts = []
    for pred, gold, db_id in zip(predictions, golds, db_ids, strict=True):
        path = database_path(folder, str(db_id))
        if not db_id or not path.is_file():
            verdicts.append(
                Verdict(
                    False, "missing_database", f"unknown db_id {db_id!r}: no {path} in {folder}"
                )
            )
        else:
            verdicts.append(_execution_match(pred, gold, path, cache))
    missing = sorted(
        {str(d) for d, v in zip(db_ids, verdicts, strict=True) if v.kind == "missing_database"}
    )
    note = (
        f"{len(missing)} db_id(s) have no database in {folder}: {', '.join(missing[:5])}"
        + (" ..." if len(missing) > 5 else "")
        if missing
        else None
    )
    out.update(
        execution_accuracy=sum(v.correct for v in verdicts) / n if n else 0.0,
        errors=sum(v.kind in FAILED_KINDS for v in verdicts),
        missing_databases=missing,
        verdicts=verdicts,
    )
    return {**out, "correct": [v.correct for v in verdicts], "scored_by": "execution", "note": note}
