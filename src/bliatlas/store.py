"""The embedded store: one DuckDB file holding regions, observations and provenance.

The interface the layers above use is deliberately narrow:

* :func:`open_store` returns a :class:`Store`;
* ``Store.query(sql, params)`` returns rows as dicts, ``Store.query_arrays`` columns;
* ``Store.transaction()`` wraps one import so that it lands whole or not at all.

Nothing above this module issues DDL; the schema lives here, versioned by
``MIGRATIONS``. A server database (PostgreSQL) can later implement the same three
methods without touching ingest, indicators or the web layer.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Self

import duckdb

DEFAULT_DATABASE = Path("var/bliatlas.duckdb")

# Each migration is a list of statements, applied once, in order. Never edit an
# applied migration: add a new one.
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
    # 3: suppression as bounds, and municipalities a source files under another. A hidden
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
        """CREATE VIEW observation AS
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
             AND s.unit = o.unit""",
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
]

# Columns of observation_source in table order (observation_history adds
# replaced_by_import before the bounds).
OBSERVATION_COLUMNS = ("dataset", "measure", "region_code", "year", "dims", "unit", "value",
                       "status", "status_note", "import_id", "lower_bound", "upper_bound")

SCHEMA_VERSION = len(MIGRATIONS)


def database_path(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The database file: the explicit path, else ``$BLI_DATABASE``, else ``var/bliatlas.duckdb``."""
    if explicit:
        return Path(explicit)
    env = os.environ.get("BLI_DATABASE")
    return Path(env) if env else DEFAULT_DATABASE


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
