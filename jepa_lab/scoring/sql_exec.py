"""Running one untrusted SQL query on a sqlite database, read-only and under a step budget.

Generated SQL is model output: it may try to write, attach another file, load an extension,
or never end. Defence in depth, each layer enough on its own for what it covers:

* the file is opened read-only (URI ``mode=ro``, ``immutable=1``) and ``PRAGMA query_only`` is on,
  temporary tables live in memory, so nothing the query does can write to disk;
* an authorizer allows reading (SELECT, READ, recursive CTEs, a list of pure functions) and
  denies everything else: every write, CREATE/DROP/ALTER, ATTACH/DETACH, transactions, PRAGMA
  (but a few schema-reading ones), and any function not listed, ``load_extension`` included;
* one statement only (Python's sqlite3 refuses a second one), and the text is capped in length
  before sqlite sees it;
* work is bounded by counting sqlite virtual-machine steps with a progress handler, never by
  wall-clock time, so the same query gets the same verdict on any machine at any load;
* sqlite's own limits (string length, LIKE pattern length, attached databases: 0) and a cap on
  the rows, columns and characters a result may hold bound memory; while a query runs, sqlite's
  process-wide hard heap limit is lowered to :data:`HEAP_LIMIT_BYTES` and then restored.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

MAX_QUERY_CHARS = 10_000  # the longest Spider gold query has 577 characters
STEP_BUDGET = 10_000_000  # sqlite VM steps for a generated query (~0.1-0.5 s of CPU)
GOLD_STEP_BUDGET = 500_000_000  # a gold query is trusted; this only stops a broken one
GOLD_FACTOR = 10  # a generated query may use this many times the gold query's steps
PROGRESS_EVERY = 1_000  # VM steps between two calls of the progress handler
MAX_ROWS = 100_000
MAX_COLUMNS = 256
MAX_RESULT_CHARS = 20_000_000  # characters of text and bytes of blobs in one result
MAX_VALUE_CHARS = 1_000_000  # sqlite's SQLITE_LIMIT_LENGTH: the longest string a query builds
HEAP_LIMIT_BYTES = 512 * 1024 * 1024
ROW_BATCH = 1  # rows converted to Python at a time, so one batch cannot overshoot the caps

# Pure, deterministic functions a Spider query may call. Not listed, so denied: printf/format
# (a width can ask for gigabytes), randomblob/zeroblob/random (memory, nondeterminism),
# load_extension, sqlite_* introspection, and anything else.
SAFE_FUNCTIONS = frozenset(
    """abs avg count group_concat max min sum total length lower upper substr substring trim
    ltrim rtrim replace round coalesce ifnull nullif instr like glob date time datetime
    julianday strftime typeof iif char hex unicode quote sign concat concat_ws
    row_number rank dense_rank percent_rank cume_dist ntile lag lead first_value last_value
    nth_value""".split()
)
# PRAGMAs that only read the schema, whatever their argument (a table or index name).
READ_ONLY_PRAGMAS = frozenset(
    "table_info table_xinfo table_list index_list index_info index_xinfo foreign_key_list".split()
)
QUERY_KEYWORDS = frozenset({"select", "with", "values", "pragma"})
_ALLOWED_ACTIONS = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}


@dataclass(frozen=True)
class QueryResult:
    """Rows of a query that ran to the end, its column count and the VM steps it took."""

    rows: list[tuple]
    columns: int
    steps: int


class QueryFailure(Exception):
    """A query that did not produce a result. kind: "refused" (the authorizer or the one-
    statement rule said no, or not a string), "error" (sqlite reported an error), "budget"
    (the step budget ran out), "bound" (too long, or a result over the caps)."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def _authorize(action: int, arg1: str | None, arg2: str | None, *_: object) -> int:
    if action in _ALLOWED_ACTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and (arg2 or "").lower() in SAFE_FUNCTIONS:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_PRAGMA and (arg1 or "").lower() in READ_ONLY_PRAGMAS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY


def _connect(db_path: Path) -> sqlite3.Connection:
    # immutable=1: sqlite takes no locks and never creates a journal or WAL file beside it
    uri = db_path.resolve().as_uri() + "?mode=ro&immutable=1"
    conn = sqlite3.connect(uri, uri=True, isolation_level=None, check_same_thread=False)
    if hasattr(conn, "enable_load_extension"):  # absent when Python is built without it
        conn.enable_load_extension(False)
    conn.execute("PRAGMA query_only = ON")
    conn.execute("PRAGMA temp_store = MEMORY")  # a sort that spills stays off the disk
    conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, MAX_VALUE_CHARS)
    conn.setlimit(sqlite3.SQLITE_LIMIT_SQL_LENGTH, 4 * MAX_QUERY_CHARS)
    conn.setlimit(sqlite3.SQLITE_LIMIT_LIKE_PATTERN_LENGTH, 1_000)
    conn.setlimit(sqlite3.SQLITE_LIMIT_WORKER_THREADS, 0)
    # Some Spider databases hold text that is not UTF-8; both queries read it the same way.
    conn.text_factory = lambda raw: raw.decode("utf-8", errors="replace")
    return conn


def _first_keyword(sql: str) -> str:
    """The statement's first word, after leading spaces and comments (lowercase)."""
    i, n = 0, len(sql)
    while i < n:
        if sql[i].isspace():
            i += 1
        elif sql.startswith("--", i):
            end = sql.find("\n", i)
            i = n if end < 0 else end + 1
        elif sql.startswith("/*", i):
            end = sql.find("*/", i + 2)
            i = n if end < 0 else end + 2
        else:
            break
    j = i
    while j < n and (sql[j].isalnum() or sql[j] == "_"):
        j += 1
    return sql[i:j].lower() if j > i else sql[i : i + 1]


def _size(row: tuple) -> int:
    return sum(len(v) for v in row if isinstance(v, (str, bytes)))


def run_query(db_path: str | Path, sql: object, step_budget: int = STEP_BUDGET) -> QueryResult:
    """Run one query read-only on ``db_path`` within ``step_budget`` VM steps; raises
    :class:`QueryFailure` (with a kind and a one-line reason) when there is no result."""
    if not isinstance(sql, str):
        raise QueryFailure("refused", f"expected SQL text, got {type(sql).__name__}")
    if len(sql) > MAX_QUERY_CHARS:
        raise QueryFailure(
            "bound", f"query has {len(sql)} characters > {MAX_QUERY_CHARS} (not run)"
        )
    if not sql.strip():
        raise QueryFailure("error", "empty query")
    keyword = _first_keyword(sql)
    if keyword not in QUERY_KEYWORDS:
        raise QueryFailure("refused", f"refused: not a query (starts with {keyword!r})")
    path = Path(db_path)
    if not path.is_file():
        raise QueryFailure("error", f"no database file {path}")
    calls = 0
    max_calls = max(1, step_budget // PROGRESS_EVERY)

    def progress() -> int:
        nonlocal calls
        calls += 1
        return 1 if calls > max_calls else 0  # nonzero interrupts the statement

    try:
        conn = _connect(path)
    except sqlite3.Error as err:
        raise QueryFailure("error", f"cannot open {path}: {err}") from None
    previous_heap = conn.execute("PRAGMA hard_heap_limit").fetchone()[0]
    heap = HEAP_LIMIT_BYTES if previous_heap <= 0 else min(previous_heap, HEAP_LIMIT_BYTES)
    conn.execute(f"PRAGMA hard_heap_limit = {int(heap)}")
    conn.set_authorizer(_authorize)  # last: our own PRAGMAs above would be denied
    conn.set_progress_handler(progress, PROGRESS_EVERY)
    try:
        cursor = conn.execute(sql)
        columns = len(cursor.description or ())
        if columns > MAX_COLUMNS:
            raise QueryFailure("bound", f"result has {columns} columns > {MAX_COLUMNS}")
        rows: list[tuple] = []
        chars = 0
        while batch := cursor.fetchmany(ROW_BATCH):
            rows += batch
            chars += sum(_size(row) for row in batch)
            if len(rows) > MAX_ROWS:
                raise QueryFailure("bound", f"result has more than {MAX_ROWS} rows")
            if chars > MAX_RESULT_CHARS:
                raise QueryFailure("bound", f"result holds more than {MAX_RESULT_CHARS} chars")
        return QueryResult(rows, columns, calls * PROGRESS_EVERY)
    except sqlite3.DatabaseError as err:  # OperationalError, ProgrammingError, ... included
        raise _failure(err, calls > max_calls, step_budget) from None
    except (sqlite3.Warning, sqlite3.ProgrammingError, ValueError, OverflowError) as err:
        raise QueryFailure("refused", f"{type(err).__name__}: {err}") from None
    finally:
        conn.set_progress_handler(None, 0)
        conn.set_authorizer(None)
        conn.execute(f"PRAGMA hard_heap_limit = {int(previous_heap)}")
        conn.close()


def _failure(err: Exception, out_of_steps: bool, step_budget: int) -> QueryFailure:
    message = str(err).splitlines()[0] if str(err) else type(err).__name__
    if out_of_steps:
        return QueryFailure("budget", f"step budget of {step_budget} VM steps ran out")
    if any(word in message for word in ("not authorized", "authorization denied", "prohibited")):
        return QueryFailure("refused", f"refused: {message}")
    if isinstance(err, sqlite3.ProgrammingError):  # e.g. a second statement
        return QueryFailure("refused", f"refused: {message}")
    return QueryFailure("error", f"sqlite error: {message}")
