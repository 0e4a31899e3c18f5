"""The embedded store: one DuckDB file holding regions, observations and provenance.

The interface the layers above use is deliberately narrow:

* :func:`open_store` returns a :class:`Store`;
* ``Store.query(sql, params)`` returns rows as dicts, ``Store.query_arrays`` columns;
* ``Store.transaction()`` wraps one import so that it lands whole or not at all;
* :func:`writing` is how every writer (``bli import``, ``bli sync``) changes a database:
  it works on a copy beside the file and renames the copy over it when done, so a running
  server (many read-only processes) never sees a half-written state, never holds a lock
  the writer needs, and picks the new file up by itself (``bliatlas.serving``). Two
  writers of the same file are serialised by a lock file (``<database>.lock``).

Nothing above this module issues DDL; the schema lives here, versioned by
``MIGRATIONS``. A server database (PostgreSQL) can later implement the same three
methods without touching ingest, indicators or the web layer.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import threading
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any, Self

import duckdb

from bliatlas import settings
from bliatlas.errors import DatabaseBusy
from bliatlas.settings import DEFAULT_DATABASE  # noqa: F401  (re-exported)

# Each migration is a list of statements, applied once, in order. Never edit an
# applied migration: add a new one.
# The published view since migration 4 (bounds), recreated by migration 5.
OBSERVATION_VIEW_WITH_BOUNDS = """CREATE VIEW observation AS
    SELECT o.dataset, o.measure, o.region_code, o.year, o.dims, o.unit,
           CASE WHEN s.reason IS NULL THEN o.value END AS value,
           CASE WHEN s.reason IS NULL THEN o.status ELSE 'suppressed' END AS status,
           coalesce(s.reason, o.status_note) AS status_note,
           o.import_id,
           CASE WHEN s.reason IS NULL THEN o.lower_bound ELSE 0 END AS lower_bound,
           CASE WHEN s.reason IS NULL THEN o.upper_bound END AS upper_bound
    FROM observation_source o
    LEFT JOIN observation_secondary s
      ON s.dataset = o.dataset AND s.measure = o.measure
     AND s.region_code = o.region_code AND s.year = o.year AND s.dims = o.dims
     AND s.unit = o.unit"""

MIGRATIONS: list[list[str]] = [
    [
        """CREATE TABLE import (
            import_id INTEGER PRIMARY KEY,
            publisher VARCHAR NOT NULL,
            dataset VARCHAR NOT NULL,
            source VARCHAR NOT NULL,          -- file name or API table id
            source_path VARCHAR,
            format VARCHAR NOT NULL,
            content_sha256 VARCHAR NOT NULL,
            licence VARCHAR NOT NULL,
            imported_at TIMESTAMP NOT NULL,
            n_values INTEGER NOT NULL,
            n_new INTEGER NOT NULL,
            n_changed INTEGER NOT NULL,
            n_unassigned INTEGER NOT NULL,
            notes VARCHAR
        )""",
        """CREATE TABLE region (
            code VARCHAR PRIMARY KEY,        -- 4 digits municipality, 2 digits county
            level VARCHAR NOT NULL CHECK (level IN ('kommune', 'fylke')),
            name VARCHAR NOT NULL,           -- official name, Sami/Kven forms kept
            short_name VARCHAR NOT NULL,     -- county: Norwegian form; municipality: publisher's name
            county_code VARCHAR,
            centrality INTEGER,
            kostra_group VARCHAR,
            robek BOOLEAN,
            import_id INTEGER NOT NULL
        )""",
        """CREATE TABLE kostra_group (
            code VARCHAR PRIMARY KEY,        -- 'EKG01' ... 'EKG16'
            name VARCHAR NOT NULL,           -- 'KOSTRA-gruppe 1'
            population_band VARCHAR,
            bound_costs VARCHAR,
            free_income VARCHAR,
            n_municipalities INTEGER,
            import_id INTEGER NOT NULL
        )""",
        """CREATE TABLE region_geometry (
            code VARCHAR PRIMARY KEY,
            level VARCHAR NOT NULL,
            official_name VARCHAR NOT NULL,
            geojson VARCHAR NOT NULL,
            import_id INTEGER NOT NULL
        )""",
        """CREATE TABLE observation (
            dataset VARCHAR NOT NULL,
            measure VARCHAR NOT NULL,
            region_code VARCHAR NOT NULL,
            year INTEGER NOT NULL,
            dims VARCHAR NOT NULL,           -- 'key=value|key=value', sorted; '' if none
            unit VARCHAR NOT NULL,
            value DOUBLE,                    -- NULL unless status = 'ok'
            status VARCHAR NOT NULL CHECK (status IN ('ok', 'suppressed', 'missing')),
            status_note VARCHAR,
            import_id INTEGER NOT NULL,
            PRIMARY KEY (dataset, measure, region_code, year, dims, unit),
            CHECK ((status = 'ok') = (value IS NOT NULL))
        )""",
        """CREATE TABLE observation_history (
            dataset VARCHAR NOT NULL,
            measure VARCHAR NOT NULL,
            region_code VARCHAR NOT NULL,
            year INTEGER NOT NULL,
            dims VARCHAR NOT NULL,
            unit VARCHAR NOT NULL,
            value DOUBLE,
            status VARCHAR NOT NULL,
            status_note VARCHAR,
            import_id INTEGER NOT NULL,
            replaced_by_import INTEGER NOT NULL
        )""",
        """CREATE TABLE observation_unassigned (
            dataset VARCHAR NOT NULL,
            measure VARCHAR NOT NULL,
            source_region_code VARCHAR NOT NULL,
            source_region_name VARCHAR NOT NULL,
            year INTEGER NOT NULL,
            dims VARCHAR NOT NULL,
            unit VARCHAR NOT NULL,
            value DOUBLE,
            status VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            import_id INTEGER NOT NULL
        )""",
    ],
    # 2: secondary suppression. The raw table becomes observation_source; `observation` is
    # now the published view every layer reads (see bliatlas.privacy).
    [
        "ALTER TABLE observation RENAME TO observation_source",
        """CREATE TABLE observation_secondary (
            dataset VARCHAR NOT NULL,
            measure VARCHAR NOT NULL,
            region_code VARCHAR NOT NULL,
            year INTEGER NOT NULL,
            dims VARCHAR NOT NULL,
            unit VARCHAR NOT NULL,
            reason VARCHAR NOT NULL,
            PRIMARY KEY (dataset, measure, region_code, year, dims, unit)
        )""",
        """CREATE VIEW observation AS
            SELECT o.dataset, o.measure, o.region_code, o.year, o.dims, o.unit,
                   CASE WHEN s.reason IS NULL THEN o.value END AS value,
                   CASE WHEN s.reason IS NULL THEN o.status ELSE 'suppressed' END AS status,
                   coalesce(s.reason, o.status_note) AS status_note,
                   o.import_id
            FROM observation_source o
            LEFT JOIN observation_secondary s
              ON s.dataset = o.dataset AND s.measure = o.measure
             AND s.region_code = o.region_code AND s.year = o.year AND s.dims = o.dims
             AND s.unit = o.unit""",
    ],
    # 3: what each `bli import` and `bli sync standard` run did, one row per file or table
    # (also when nothing was new): "sist oppdatert" and the web's /oppdateringer.
    [
        """CREATE TABLE refresh_log (
            run_at TIMESTAMP NOT NULL,       -- when the run wrote (UTC), the same for a run
            command VARCHAR NOT NULL,        -- 'import' | 'sync standard'
            source VARCHAR NOT NULL,         -- file name, or table key such as ssb:11607
            publisher VARCHAR,
            dataset VARCHAR,
            status VARCHAR NOT NULL,         -- importert | hentet | uendret | feilet | hoppet over
            new_years VARCHAR,               -- years first stored by the run, comma-separated
            n_new INTEGER NOT NULL,
            n_changed INTEGER NOT NULL,
            examples VARCHAR,                -- revised values, '; '-separated
            message VARCHAR,
            import_id INTEGER
        )""",
    ],
    # 4: suppression as bounds, and municipalities a source files under another. A hidden
    # cell has the interval everyone knows it lies in (a suppressed count: 0–4; a merged
    # municipality with a suppressed part: the published parts + 0–4 each); NULL = not
    # bounded. region_inclusion: a source filed a municipality's figures under another
    # (the 2020–2023 Ålesund under 1508 with Haram's row empty).
    [
        "ALTER TABLE observation_source ADD COLUMN lower_bound DOUBLE",
        "ALTER TABLE observation_source ADD COLUMN upper_bound DOUBLE",
        "ALTER TABLE observation_history ADD COLUMN lower_bound DOUBLE",
        "ALTER TABLE observation_history ADD COLUMN upper_bound DOUBLE",
        "ALTER TABLE observation_unassigned ADD COLUMN lower_bound DOUBLE",
        "ALTER TABLE observation_unassigned ADD COLUMN upper_bound DOUBLE",
        # Cells stored before bounds existed: a suppressed count of one published cell is
        # 0–4; a merged sum with a suppressed part lost its parts, so only 0 is known.
        """UPDATE observation_source SET lower_bound = 0,
            upper_bound = CASE WHEN unit IN ('personer', 'antall')
                AND coalesce(status_note, '') NOT LIKE 'omfatter prikkede%' THEN 4 END
            WHERE status = 'suppressed'""",
        """UPDATE observation_unassigned SET lower_bound = 0,
            upper_bound = CASE WHEN unit IN ('personer', 'antall') THEN 4 END
            WHERE status = 'suppressed'""",
        "DROP VIEW observation",
        OBSERVATION_VIEW_WITH_BOUNDS,
        """CREATE TABLE region_inclusion (
            dataset VARCHAR NOT NULL,
            region_code VARCHAR NOT NULL,    -- the municipality the source has no figures for
            year INTEGER NOT NULL,
            host_code VARCHAR NOT NULL,      -- the municipality whose figures include it
            note VARCHAR NOT NULL,
            import_id INTEGER NOT NULL,
            PRIMARY KEY (dataset, region_code, year)
        )""",
    ],
    # 5: observation_source without a primary-key index. The key is unique by construction
    # (ingest.prepare places one value per key and source; upsert_observations replaces a
    # changed key by delete + insert), and a test checks it on the real data. DuckDB keeps
    # an ART index for a six-column text key, which cost 13 of the 16 s of writing the
    # 1,25 million values of ../shared/data (insert and commit); reads never used it.
    [
        "DROP VIEW observation",
        """CREATE TABLE observation_source_v5 (
            dataset VARCHAR NOT NULL,
            measure VARCHAR NOT NULL,
            region_code VARCHAR NOT NULL,
            year INTEGER NOT NULL,
            dims VARCHAR NOT NULL,
            unit VARCHAR NOT NULL,
            value DOUBLE,
            status VARCHAR NOT NULL CHECK (status IN ('ok', 'suppressed', 'missing')),
            status_note VARCHAR,
            import_id INTEGER NOT NULL,
            lower_bound DOUBLE,
            upper_bound DOUBLE,
            CHECK ((status = 'ok') = (value IS NOT NULL))
        )""",
        """INSERT INTO observation_source_v5 SELECT dataset, measure, region_code, year, dims,
            unit, value, status, status_note, import_id, lower_bound, upper_bound
            FROM observation_source""",
        "DROP TABLE observation_source",
        "ALTER TABLE observation_source_v5 RENAME TO observation_source",
        OBSERVATION_VIEW_WITH_BOUNDS,
    ],
]

# Columns of observation_source in table order (observation_history adds
# replaced_by_import before the bounds).
OBSERVATION_COLUMNS = ("dataset", "measure", "region_code", "year", "dims", "unit", "value",
                       "status", "status_note", "import_id", "lower_bound", "upper_bound")

SCHEMA_VERSION = len(MIGRATIONS)
# The key of a stored value (unique in observation_source; see migration 5).
OBSERVATION_KEY = ("dataset", "measure", "region_code", "year", "dims", "unit")


def database_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The database file: the explicit path, else ``$BLI_DATABASE``, else ``var/bliatlas.duckdb``."""
    if explicit:
        return Path(explicit)
    return settings.get().database


class Store:
    """A connection to the Bli-atlas database."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        self.read_only = read_only
        if not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._con = duckdb.connect(str(path), read_only=read_only)
        self._lock = threading.RLock()
        if not read_only:
            self._migrate()
        else:
            self._check_version()

    # -- schema -------------------------------------------------------------------
    def _migrate(self) -> None:
        con = self._con
        con.execute(
            "CREATE TABLE IF NOT EXISTS schema_version (version INTEGER PRIMARY KEY, "
            "applied_at TIMESTAMP DEFAULT current_timestamp)"
        )
        current = con.execute("SELECT coalesce(max(version), 0) FROM schema_version").fetchone()[0]
        if current > SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path}: database schema version {current} is newer than this "
                f"program's ({SCHEMA_VERSION}); upgrade bliatlas"
            )
        for version in range(current + 1, SCHEMA_VERSION + 1):
            con.execute("BEGIN TRANSACTION")
            try:
                for statement in MIGRATIONS[version - 1]:
                    con.execute(statement)
                con.execute("INSERT INTO schema_version (version) VALUES (?)", [version])
                con.execute("COMMIT")
            except Exception:
                con.execute("ROLLBACK")
                raise

    def _check_version(self) -> None:
        try:
            current = self._con.execute("SELECT max(version) FROM schema_version").fetchone()[0]
        except duckdb.CatalogException as exc:
            raise RuntimeError(f"{self.path}: not a Bli-atlas database (run `bli import`)") from exc
        if current != SCHEMA_VERSION:
            raise RuntimeError(
                f"{self.path}: schema version {current}, expected {SCHEMA_VERSION}; "
                "open it once without read_only to migrate"
            )

    @property
    def schema_version(self) -> int:
        return int(self._con.execute("SELECT max(version) FROM schema_version").fetchone()[0])

    # -- queries ------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[Any] | None = None) -> list[dict[str, Any]]:
        """Run ``sql`` and return the rows as dicts."""
        with self._lock:
            cur = self._con.execute(sql, params or [])
            names = [d[0] for d in cur.description]
            return [dict(zip(names, row)) for row in cur.fetchall()]

    def query_arrays(self, sql: str, params: Sequence[Any] | None = None) -> dict[str, Any]:
        """Run ``sql`` and return the result as a dict of numpy arrays, one per column."""
        with self._lock:
            return self._con.execute(sql, params or []).fetchnumpy()

    def query_arrow(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        """Run ``sql`` and return the result as a pyarrow Table (columnar, no Python
        objects per value: the fast way to move millions of rows to another database)."""
        with self._lock, warnings.catch_warnings():
            # DuckDB notes that a DB-API result copies once more into Arrow; still far
            # cheaper than a Python object per value.
            warnings.simplefilter("ignore", UserWarning)
            return self._con.execute(sql, params or []).to_arrow_table()

    def execute(self, sql: str, params: Sequence[Any] | None = None) -> None:
        with self._lock:
            self._con.execute(sql, params or [])

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        with self._lock:
            self._con.executemany(sql, rows)

    def insert_rows(self, table: str, rows: Sequence[Sequence[Any]]) -> None:
        """Append many rows to ``table`` (columns in table order) in one bulk operation."""
        if not rows:
            return
        import pyarrow as pa

        columns = [d[0] for d in self._con.execute(f"SELECT * FROM {table} LIMIT 0").description]
        data = pa.table({c: [r[i] for r in rows] for i, c in enumerate(columns)})
        with self._lock:
            self._con.register("_bulk_rows", data)
            try:
                self._con.execute(f"INSERT INTO {table} SELECT * FROM _bulk_rows")
            finally:
                self._con.unregister("_bulk_rows")

    def upsert_observations(self, table: Any, import_id: int) -> tuple[int, int]:
        """Write placed values (a pyarrow table with the ``observation_source`` columns
        except ``import_id``, bounds included) for one import; returns (new, changed).

        A key already stored with the same value, status and note is left as it is; a
        changed one moves its old row to ``observation_history`` first. When none of the
        incoming datasets is stored yet (the first import of a file or table) every row is
        new and goes in with one bulk ``INSERT`` straight from the Arrow table, without
        the comparison joins.
        """
        with self._lock:
            self._con.register("_incoming", table)
            try:
                stored = self._con.execute(
                    "SELECT 1 FROM observation_source WHERE dataset IN (SELECT DISTINCT "
                    "dataset FROM _incoming) LIMIT 1").fetchall()
                if stored:
                    # Another file of the same dataset (IMDi's county and municipality
                    # exports of one table): new keys only is as good as a first import.
                    on = " AND ".join(f"o.{k} = i.{k}" for k in OBSERVATION_KEY)
                    stored = self._con.execute(
                        f"SELECT 1 FROM _incoming i SEMI JOIN (SELECT * FROM "
                        f"observation_source WHERE dataset IN (SELECT DISTINCT dataset FROM "
                        f"_incoming)) o ON {on} LIMIT 1").fetchall()
                if not stored:
                    self._con.execute(
                        f"INSERT INTO observation_source ({', '.join(OBSERVATION_COLUMNS)}) "
                        "SELECT dataset, measure, region_code, year, dims, unit, value, status, "
                        "status_note, ?, lower_bound, upper_bound FROM _incoming",
                        [import_id])
                    return table.num_rows, 0
                self._con.execute(
                    "CREATE OR REPLACE TEMP TABLE _staging AS SELECT * FROM _incoming")
            finally:
                self._con.unregister("_incoming")
            join = " AND ".join(f"o.{k} = s.{k}" for k in OBSERVATION_KEY)
            differs = ("(o.value IS DISTINCT FROM s.value OR o.status <> s.status "
                       "OR o.status_note IS DISTINCT FROM s.status_note "
                       "OR o.lower_bound IS DISTINCT FROM s.lower_bound "
                       "OR o.upper_bound IS DISTINCT FROM s.upper_bound)")
            columns = ", ".join(OBSERVATION_COLUMNS)
            kept = ", ".join(f"o.{c}" for c in OBSERVATION_COLUMNS)
            n_new, n_changed = self._con.execute(
                f"SELECT count(*) FILTER (WHERE o.dataset IS NULL), "
                f"count(*) FILTER (WHERE o.dataset IS NOT NULL AND {differs}) "
                f"FROM _staging s LEFT JOIN observation_source o ON {join}").fetchone()
            self._con.execute(
                f"INSERT INTO observation_history ({columns}, replaced_by_import) "
                f"SELECT {kept}, ? FROM observation_source o "
                f"JOIN _staging s ON {join} WHERE {differs}", [import_id])
            # New and changed keys; a changed key's old row goes (it is in the history now).
            self._con.execute(
                f"CREATE OR REPLACE TEMP TABLE _write AS SELECT s.* FROM _staging s "
                f"LEFT JOIN observation_source o ON {join} WHERE o.dataset IS NULL OR {differs}")
            self._con.execute(
                f"DELETE FROM observation_source o USING _write s WHERE {join}")
            self._con.execute(
                f"INSERT INTO observation_source ({columns}) SELECT s.dataset, s.measure, "
                f"s.region_code, s.year, s.dims, s.unit, s.value, s.status, s.status_note, ?, "
                f"s.lower_bound, s.upper_bound FROM _write s", [import_id])
            self._con.execute("DROP TABLE _write")
            self._con.execute("DROP TABLE _staging")
            return int(n_new), int(n_changed)

    def register(self, name: str, relation: Any) -> None:
        """Expose a Python object (e.g. a pyarrow table or dict of arrays) as a view."""
        with self._lock:
            self._con.register(name, relation)

    def unregister(self, name: str) -> None:
        with self._lock:
            self._con.unregister(name)

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Store]:
        """Everything inside lands whole or not at all."""
        with self._lock:
            self._con.execute("BEGIN TRANSACTION")
            try:
                yield self
            except BaseException:
                self._con.execute("ROLLBACK")
                raise
            else:
                self._con.execute("COMMIT")

    def close(self) -> None:
        self._con.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(path: str | os.PathLike[str] | None = None, read_only: bool = False) -> Store:
    """Open (and, unless read-only, create or migrate) the database."""
    return Store(database_path(path), read_only=read_only)


# -- writing beside the served file ------------------------------------------------------
def _lock_message(lock_path: Path) -> str:
    try:
        holder = lock_path.read_text(encoding="utf-8").strip()
    except OSError:
        holder = ""
    return f" ({holder})" if holder else ""


@contextlib.contextmanager
def writer_lock(path: Path, wait: float | None = None,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold ``<path>.lock`` (an advisory ``flock``) for the duration: one writer at a time.

    A second writer waits (``wait`` seconds, ``None`` = as long as it takes) after
    telling ``on_wait`` in Norwegian who holds the lock; past ``wait`` it raises
    :class:`DatabaseBusy`.
    """
    import fcntl

    lock_path = path.with_name(path.name + ".lock")
    lock_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _lock_message(lock_path)
            if on_wait is not None:
                on_wait(f"en annen import eller synkronisering skriver til {path}{holder}; "
                        "venter til den er ferdig …")
            deadline = None if wait is None else time.monotonic() + wait
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if deadline is not None and time.monotonic() >= deadline:
                        raise DatabaseBusy(
                            f"{path}: en annen import eller synkronisering skriver til "
                            f"databasen{holder}; prøv igjen når den er ferdig") from None
                    time.sleep(0.2)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"prosess {os.getpid()}, startet {time.strftime('%H:%M:%S')}".encode(), 0)
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    for p in (path, path.with_name(path.name + ".wal")):
        p.unlink(missing_ok=True)


@contextlib.contextmanager
def writing(path: str | os.PathLike[str] | None = None, wait: float | None = None,
            on_wait: Callable[[str], None] | None = None) -> Iterator[Store]:
    """A writable :class:`Store` whose changes replace the database atomically on success.

    Under :func:`writer_lock`, the current file is copied beside itself
    (``.<name>.ny-<pid>``), opened read-write (migrated) and handed out; when the block
    ends without an exception the copy is checkpointed, synced and renamed over the
    database in one step. On an exception (or a kill) the database is untouched and the
    copy is removed. Readers that have the old file open keep reading it until they
    reopen; ``bliatlas.serving`` does that when it sees the new file.
    """
    target = database_path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    with writer_lock(target, wait, on_wait):
        wal = target.with_name(target.name + ".wal")
        if wal.exists():
            # left by a writer that opened the file in place and died: let DuckDB replay it
            try:
                Store(target).close()
            except duckdb.Error as exc:
                raise DatabaseBusy(f"{target}: databasen har en ufullført skrivelogg (.wal) og er "
                                   f"åpen i en annen prosess; stopp den og prøv igjen ({exc})"
                                   ) from None
        work = target.with_name(f".{target.name}.ny-{os.getpid()}")
        _remove(work)
        for stale in target.parent.glob(f".{target.name}.ny-*"):
            _remove(stale)  # copies of writers that were killed (we hold the lock)
        try:
            if target.exists():
                shutil.copyfile(target, work)
            store = Store(work)
        except BaseException:
            _remove(work)
            raise
        try:
            yield store
            store.execute("CHECKPOINT")
        except BaseException:
            store.close()
            _remove(work)
            raise
        store.close()
        try:
            _fsync(work)
            os.replace(work, target)
            _fsync(target.parent)
        except BaseException:
            _remove(work)
            raise


def state_token(path: str | os.PathLike[str] | None = None) -> str | None:
    """An identifier of the database file's current state (changes when a writer replaced
    it), the same in every process; ``None`` when there is no file."""
    try:
        st = os.stat(database_path(path))
    except FileNotFoundError:
        return None
    return f"{st.st_ino:x}-{st.st_size:x}-{st.st_mtime_ns:x}"
