"""The results store: one DuckDB file holding every measured run.

Default location: ``$AICOST_HOME/results.duckdb`` (``~/.aicost/results.duckdb``).

Tables
------
``meta``
    ``key, value``; holds ``schema_version``.
``runs``
    One row per run: ``run_id, created_at (UTC), kind, host, device, backend, suite, partial,
    n_results, aicost_version, versions (JSON), context (JSON), note``.
``results``
    One row per measurement: ``run_id, seq`` and the result columns in :data:`RESULT_COLUMNS`
    (statistics in seconds, ``value`` in ``unit``, ``params`` as JSON, every raw sample in
    ``samples_s``).

Guarantees
----------
- Saving a run is one transaction: a failure leaves no trace of the run.
- Each operation opens the file, does its work and closes it, so several processes can use the
  same file; DuckDB allows one writer process at a time, and a process that finds the file locked
  retries until ``lock_timeout_s``.
- A file with a newer or unknown schema, or a file that is not a DuckDB database, raises
  :class:`aicost.StoreError` and is never modified.
"""

from __future__ import annotations

import getpass
import json
import math
import os
import platform
import random
import socket
import time
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ._errors import StoreError
from ._paths import aicost_home
from ._version import __version__

__all__ = [
    "RESULT_COLUMNS",
    "SCHEMA_VERSION",
    "Store",
    "current_context",
    "decode_params",
    "default_path",
]

#: version of the table layout written by this aicost; bump with a migration
SCHEMA_VERSION = 1

#: result columns and their DuckDB types (``params`` and ``samples_s`` are converted)
RESULT_COLUMNS: dict[str, str] = {
    "kind": "VARCHAR",
    "name": "VARCHAR",
    "backend": "VARCHAR",
    "device": "VARCHAR",
    "dtype": "VARCHAR",
    "shape": "VARCHAR",
    "size_bytes": "DOUBLE",
    "flops": "DOUBLE",
    "bytes_moved": "DOUBLE",
    "median_s": "DOUBLE",
    "min_s": "DOUBLE",
    "mean_s": "DOUBLE",
    "stdev_s": "DOUBLE",
    "iqr_s": "DOUBLE",
    "n_samples": "BIGINT",
    "value": "DOUBLE",
    "unit": "VARCHAR",
    "peak": "DOUBLE",
    "pct_of_peak": "DOUBLE",
    "params": "VARCHAR",
    "samples_s": "DOUBLE[]",
    "flags": "VARCHAR",
}
_NUMERIC = {k for k, v in RESULT_COLUMNS.items() if v in ("DOUBLE", "BIGINT")}
_TEXT = {k for k, v in RESULT_COLUMNS.items() if v == "VARCHAR"} - {"params"}

_DDL = [
    "CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR NOT NULL)",
    """CREATE TABLE IF NOT EXISTS runs (
        run_id VARCHAR PRIMARY KEY,
        created_at TIMESTAMP NOT NULL,
        kind VARCHAR NOT NULL,
        host VARCHAR,
        device VARCHAR,
        backend VARCHAR,
        suite VARCHAR,
        partial BOOLEAN NOT NULL,
        n_results BIGINT NOT NULL,
        aicost_version VARCHAR,
        versions VARCHAR,
        context VARCHAR,
        note VARCHAR
    )""",
    "CREATE TABLE IF NOT EXISTS results (run_id VARCHAR NOT NULL, seq BIGINT NOT NULL, "
    + ", ".join(f"{k} {v}" for k, v in RESULT_COLUMNS.items())
    + ", PRIMARY KEY (run_id, seq))",
]
_OUR_TABLES = {"meta", "runs", "results"}

#: price history of catalog offers (one row per offer per catalog refresh); created on first
#: use, so stores made before it existed keep working (not part of _OUR_TABLES)
_OFFER_PRICES_DDL = """CREATE TABLE IF NOT EXISTS offer_prices (
    fetched_at TIMESTAMP NOT NULL,
    source VARCHAR NOT NULL,
    url VARCHAR,
    provider VARCHAR NOT NULL,
    instance_type VARCHAR NOT NULL,
    region VARCHAR NOT NULL,
    accelerator VARCHAR NOT NULL,
    accelerator_count BIGINT NOT NULL,
    price_on_demand_usd_per_hour DOUBLE,
    price_spot_usd_per_hour DOUBLE,
    vcpus DOUBLE,
    memory_gib DOUBLE
)"""
OFFER_PRICE_COLUMNS = ("fetched_at", "source", "url", "provider", "instance_type", "region",
                       "accelerator", "accelerator_count", "price_on_demand_usd_per_hour",
                       "price_spot_usd_per_hour", "vcpus", "memory_gib")


def default_path() -> Path:
    """Return the default database path, ``$AICOST_HOME/results.duckdb`` [path]."""
    return aicost_home() / "results.duckdb"


def _json_default(obj: Any) -> Any:
    if hasattr(obj, "item"):  # numpy scalar
        return obj.item()
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, (datetime, Path)):
        return str(obj)
    return repr(obj)


def _dumps(obj: Any) -> str:
    return json.dumps(obj, default=_json_default, sort_keys=True)


def _is_lock_error(exc: BaseException) -> bool:
    text = str(exc).lower()
    return "lock" in text and ("could not set" in text or "conflicting" in text)


def _duckdb_message(exc: BaseException) -> str:
    """The first line of a DuckDB error (its hints and SQL excerpts dropped)."""
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def _insert_results(con, frame) -> None:
    """Append a DataFrame of result rows (``run_id, seq`` and `RESULT_COLUMNS`) to ``results``
    inside the caller's transaction, each column cast to the table's type."""
    con.register("_aicost_new_results", frame)
    try:
        cols = ", ".join(["run_id", "seq", *RESULT_COLUMNS])
        casts = ", ".join(["run_id", "seq"]
                          + [f"CAST({c} AS {t}) AS {c}" for c, t in RESULT_COLUMNS.items()])
        con.execute(f"INSERT INTO results ({cols}) SELECT {casts} FROM _aicost_new_results")
    finally:
        con.unregister("_aicost_new_results")


def _rollback(con) -> None:
    """Roll back, keeping the error that got us here: after an I/O error DuckDB has already
    aborted the transaction, and "cannot rollback - no transaction is active" must not replace
    the real cause (e.g. "No space left on device")."""
    import duckdb

    try:
        con.execute("ROLLBACK")
    except duckdb.Error:
        pass


def _new_run_id(now: datetime) -> str:
    return now.strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:8]


class Store:
    """A DuckDB results database.

    Parameters
    ----------
    path : str or Path, optional
        Database file; default :func:`default_path`. ``":memory:"`` keeps a private
        in-memory database (tests, throw-away sessions).
    lock_timeout_s : float
        How long to keep retrying while another process holds the file [s].

    Examples
    --------
    >>> store = Store()                                   # doctest: +SKIP
    >>> run_id = store.save_run(df, context={"device": "cpu"})  # doctest: +SKIP
    >>> store.results(run_id=run_id)                      # doctest: +SKIP
    """

    def __init__(self, path: str | os.PathLike | None = None, *, lock_timeout_s: float = 60.0):
        if lock_timeout_s <= 0:
            raise ValueError(f"lock_timeout_s must be positive, got {lock_timeout_s!r}")
        self._memory = str(path) == ":memory:"
        self.path = Path(":memory:") if self._memory else Path(path or default_path()).expanduser()
        self.lock_timeout_s = float(lock_timeout_s)
        self._mem_con = None

    def __repr__(self) -> str:
        return f"Store({str(self.path)!r})"

    # ------------------------------------------------------------------ connections
    def _check_path(self, *, write: bool) -> None:
        """Raise StoreError when the path cannot hold a store (a directory, under a file,
        read-only), before DuckDB would report it as a damaged database."""
        path = self.path
        if path.is_dir():
            raise StoreError(f"results store {path} is a directory, not a database file; give a "
                             f"file path such as {path / 'results.duckdb'}")
        for parent in path.parents:
            if parent.exists():
                if not parent.is_dir():
                    raise StoreError(
                        f"results store {path} cannot be created: {parent} is a file, not a "
                        "directory (is AICOST_HOME set to a file?); point AICOST_HOME or the store "
                        "path at a directory")
                break
        if not write:
            return
        if path.exists():
            if not os.access(path, os.W_OK):
                raise StoreError(f"results store {path} is read-only (no write permission); "
                                 "make it writable, or use another store (AICOST_HOME)")
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StoreError(f"results store {path} cannot be created: "
                             f"{exc.strerror or exc}; use another directory (AICOST_HOME)") from None
        if not os.access(path.parent, os.W_OK):
            raise StoreError(f"results store {path} cannot be created: {path.parent} is read-only;"
                             " use another directory (AICOST_HOME)")

    def check_writable(self) -> None:
        """Raise :class:`aicost.StoreError` now if a run could not be saved here.

        Call it before a long measurement: it opens (and if needed creates) the store and checks
        its schema, so a wrong ``AICOST_HOME``, a read-only or damaged file is reported before
        anything is measured.
        """
        with self._connection(write=True):
            pass

    def _connect(self, read_only: bool):
        import sys

        import duckdb

        # never download or load extensions behind the user's back: a SQLite (or other) file at
        # the store path would otherwise make DuckDB fetch a scanner extension from the network
        config = {"autoinstall_known_extensions": False, "autoload_known_extensions": False}
        if self._memory:
            if self._mem_con is None:
                self._mem_con = duckdb.connect(":memory:", config=config)
            return self._mem_con
        self._check_path(write=not read_only)
        start = time.monotonic()
        deadline = start + self.lock_timeout_s
        delay = 0.01
        told = False
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only, config=config)
            except duckdb.Error as exc:
                if _is_lock_error(exc) and time.monotonic() < deadline:
                    if not told and time.monotonic() - start > 1.0:
                        told = True
                        print(f"aicost: results store {self.path} is locked by another process; "
                              f"waiting up to {self.lock_timeout_s:.0f} s for it", file=sys.stderr)
                    time.sleep(delay * (0.5 + random.random()))
                    delay = min(delay * 2, 0.5)
                    continue
                if _is_lock_error(exc):
                    raise StoreError(
                        f"results store {self.path} is locked by another process and stayed "
                        f"locked for {self.lock_timeout_s:.0f} s; wait for it to finish and try "
                        "again, or use another store (AICOST_HOME; Store(path, lock_timeout_s=...) "
                        "waits longer)"
                    ) from exc
                text = str(exc)
                if "permission denied" in text.lower() or "read-only" in text.lower():
                    raise StoreError(f"results store {self.path} cannot be opened: {text}; "
                                     "check its permissions, or use another store "
                                     "(AICOST_HOME)") from exc
                if "extension" in text.lower():
                    raise StoreError(
                        f"{self.path} is not a DuckDB database (another format, e.g. SQLite); "
                        "aicost will not modify it. Move it aside or use another store "
                        "(AICOST_HOME).") from exc
                raise StoreError(
                    f"cannot open results store {self.path}: {exc}. It is not a DuckDB database "
                    "written by this DuckDB version, or it is damaged; aicost will not modify it. "
                    "Move it aside (or set AICOST_HOME to another directory) to start a new store."
                ) from exc

    @contextmanager
    def _connection(self, *, write: bool) -> Iterator[Any]:
        """Open the database, check its schema, yield a connection, close it."""
        import duckdb

        if not write and not self._memory and not self.path.exists():
            self._check_path(write=False)
            yield None
            return
        con = self._connect(read_only=not write)
        try:
            try:
                # a fresh in-memory store gets its tables on first use, read or write
                self._check_schema(con, create=write or self._memory)
                yield con
            except duckdb.Error as exc:
                # damaged pages are found while reading, not when the file is opened
                text = _duckdb_message(exc)
                hint = ("Free some space on its file system and try again." if
                        "no space left" in text.lower() else
                        "If the file is damaged, move it aside (or set AICOST_HOME to another "
                        "directory) to start a new store; aicost did not change it.")
                raise StoreError(f"results store {self.path} failed: {text}. {hint}") from exc
        finally:
            if not self._memory:
                con.close()

    def _check_schema(self, con, *, create: bool) -> None:
        tables = {r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
        ).fetchall()}
        if not tables:
            if create:
                con.execute("BEGIN TRANSACTION")
                try:
                    for ddl in _DDL:
                        con.execute(ddl)
                    con.execute("INSERT INTO meta VALUES ('schema_version', ?)", [str(SCHEMA_VERSION)])
                    con.execute("INSERT INTO meta VALUES ('created_by', ?)", [f"aicost {__version__}"])
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            return
        if "meta" not in tables:
            raise StoreError(
                f"{self.path} is a DuckDB database but not an aicost results store (tables: "
                f"{', '.join(sorted(tables))}); aicost will not modify it. Pass another path or "
                "set AICOST_HOME."
            )
        row = con.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        try:
            version = int(row[0]) if row else None
        except ValueError:
            version = None
        if version is None:
            raise StoreError(f"{self.path} has no readable schema_version; aicost will not modify it")
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} uses results-store schema {version}, newer than this aicost "
                f"({__version__}) understands ({SCHEMA_VERSION}); upgrade aicost to read it. "
                "The file was not modified."
            )
        if version < SCHEMA_VERSION or not _OUR_TABLES <= tables:
            raise StoreError(
                f"{self.path} uses results-store schema {version} with tables "
                f"{sorted(tables)}, which this aicost cannot read (expects schema "
                f"{SCHEMA_VERSION}); the file was not modified."
            )

    # ------------------------------------------------------------------ writing
    def save_run(
        self,
        results,
        context: Mapping[str, Any] | None = None,
        *,
        kind: str = "compute",
        partial: bool = False,
        note: str | None = None,
    ) -> str:
        """Save one run and its results in a single transaction; return the run id.

        Parameters
        ----------
        results : pandas.DataFrame or list of dict
            One row per measurement. Known columns are :data:`RESULT_COLUMNS`; other columns
            are folded into ``params``. ``kind`` defaults to the run's kind.
        context : mapping, optional
            Where and how it was measured (``host``, ``device``, ``backend``, ``suite``,
            clocks, library ``versions``, ...). Stored as JSON; ``host`` defaults to this host.
        kind : str
            ``compute``, ``storage``, ``network``, ``collective`` or your own.
        partial : bool
            True when the run was interrupted before it finished.
        note : str, optional
            Free text.

        Returns
        -------
        str
            The new run id (``YYYYmmddTHHMMSS-xxxxxxxx``).
        """
        frame = self._normalize_results(results, kind)
        ctx = dict(context or {})
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        run_id = _new_run_id(now)
        host = str(ctx.get("host") or socket.gethostname())
        versions = ctx.get("versions") or {}
        first = frame.iloc[0] if len(frame) else {}
        device = ctx.get("device") or (first.get("device") if len(frame) else None)
        backend = ctx.get("backend") or (first.get("backend") if len(frame) else None)
        frame.insert(0, "seq", range(len(frame)))
        frame.insert(0, "run_id", run_id)
        try:
            self._insert_run(frame, run_id, now, kind, host, device, backend, ctx, versions,
                             partial, note)
        except StoreError as exc:
            kept = self._keep_unsaved(results, ctx, kind, partial, note, run_id)
            raise StoreError(f"{exc} -- the measurement was not saved in the store but kept in "
                             f"{kept}; save it later with "
                             f"Store().save_run(**json.load(open({str(kept)!r})))") from exc
        return run_id

    def _keep_unsaved(self, results, ctx, kind, partial, note, run_id) -> str:
        """Write a run that could not be saved as JSON (beside the store, else in the current
        directory, else in the temp directory); return where, or why nowhere."""
        import tempfile

        import pandas as pd

        records = (results.to_dict(orient="records") if isinstance(results, pd.DataFrame)
                   else list(results))
        doc = {"results": records, "context": ctx, "kind": kind, "partial": bool(partial),
               "note": note}
        text = json.dumps(doc, default=_json_default, indent=1)
        name = f"aicost-unsaved-{run_id}.json"
        dirs = [] if self._memory else [self.path.parent]
        dirs += [Path.cwd(), Path(tempfile.gettempdir())]
        errors = []
        for d in dirs:
            target = d / name
            try:
                tmp = target.with_name(f".{name}.tmp")
                tmp.write_text(text)
                os.replace(tmp, target)
                return str(target.absolute())
            except OSError as exc:
                errors.append(f"{d}: {exc.strerror or exc}")
                try:
                    tmp.unlink(missing_ok=True)
                except OSError:
                    pass
        return "no file either (" + "; ".join(errors) + ")"

    def _insert_run(self, frame, run_id, now, kind, host, device, backend, ctx, versions,
                    partial, note) -> None:
        with self._connection(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                con.execute(
                    "INSERT INTO runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [run_id, now, kind, host, _opt_str(device), _opt_str(backend),
                     _opt_str(ctx.get("suite")), bool(partial), len(frame), __version__,
                     _dumps(versions), _dumps(ctx), note],
                )
                if len(frame):
                    _insert_results(con, frame)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise

    def save_runs(self, batch, *, results=None, run_index=None) -> list[str]:
        """Save several runs and all their results in ONE transaction; return their ids.

        Used by :func:`aicost.fleet.save` (one transaction per fleet run): either every run of
        the batch is saved or none is.

        Parameters
        ----------
        batch : iterable of dict
            Each with optional ``results`` (DataFrame or list of dict, as :meth:`save_run`),
            ``context``, ``kind`` (default ``compute``), ``partial``, ``note``.
        results : pandas.DataFrame, optional
            Instead of per-run ``results``: every run's rows in one frame (fast for thousands
            of runs; columns of :data:`RESULT_COLUMNS` only) ...
        run_index : array of int, optional
            ... and the position in ``batch`` of each row's run.

        Returns
        -------
        list of str
            The new run ids, in the order of ``batch``.
        """
        import numpy as np
        import pandas as pd

        items = [dict(b) for b in batch]
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        if results is not None:
            if run_index is None or len(run_index) != len(results):
                raise ValueError("results= needs run_index= with one batch position per row")
            idx = np.asarray(run_index, dtype=np.int64)
            if len(idx) and (idx.min() < 0 or idx.max() >= len(items)):
                raise ValueError(f"run_index must be in [0, {len(items)}), got "
                                 f"{idx.min()}..{idx.max()}")
            order = np.argsort(idx, kind="stable")
            frame = _normalize_columnar(results.iloc[order], "compute")
            idx = idx[order]
            lengths = np.bincount(idx, minlength=len(items)).tolist()
            kinds = np.array([it.get("kind") or "compute" for it in items], dtype=object)
            frame["kind"] = frame["kind"].where(frame["kind"].notna(), pd.Series(
                kinds[idx], index=frame.index))
        else:
            parts, lengths = [], []
            for item in items:
                res = item.get("results")
                part = (res.copy() if isinstance(res, pd.DataFrame)
                        else pd.DataFrame(list(res or [])))
                if len(part):
                    kind_col = part["kind"] if "kind" in part.columns else pd.Series(
                        [None] * len(part), index=part.index, dtype=object)
                    part["kind"] = kind_col.where(kind_col.notna(), item.get("kind") or "compute")
                parts.append(part)
                lengths.append(len(part))
            nonempty = [p for p in parts if len(p)]
            frame = self._normalize_results(
                pd.concat(nonempty, ignore_index=True) if nonempty else pd.DataFrame(), "compute")
        starts = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
        seen: set[str] = set()
        run_rows = []
        dev_col = frame["device"].to_numpy() if len(frame) else None
        be_col = frame["backend"].to_numpy() if len(frame) else None
        for i, item in enumerate(items):
            kind = item.get("kind") or "compute"
            ctx = dict(item.get("context") or {})
            run_id = _new_run_id(now)
            while run_id in seen:  # 32 random bits: thousands of ids in one second can collide
                run_id = _new_run_id(now)
            seen.add(run_id)
            device = ctx.get("device") or (dev_col[starts[i]] if lengths[i] else None)
            backend = ctx.get("backend") or (be_col[starts[i]] if lengths[i] else None)
            run_rows.append([run_id, now, kind, str(ctx.get("host") or socket.gethostname()),
                             _opt_str(device), _opt_str(backend), _opt_str(ctx.get("suite")),
                             bool(item.get("partial", False)), lengths[i], __version__,
                             _dumps(ctx.get("versions") or {}), _dumps(ctx), item.get("note")])
        results = None
        if len(frame):
            ids = np.repeat(np.array([r[0] for r in run_rows], dtype=object), lengths)
            seq = np.arange(len(frame), dtype=np.int64) - np.repeat(starts[:-1], lengths)
            frame.insert(0, "seq", seq)
            frame.insert(0, "run_id", ids)
            results = frame
        runs = pd.DataFrame(run_rows, columns=["run_id", "created_at", "kind", "host", "device",
                                               "backend", "suite", "partial", "n_results",
                                               "aicost_version", "versions", "context", "note"])
        with self._connection(write=True) as con:
            con.execute("BEGIN TRANSACTION")
            try:
                if len(runs):
                    con.register("_aicost_new_runs", runs)
                    con.execute("INSERT INTO runs SELECT run_id, CAST(created_at AS TIMESTAMP), "
                                "kind, host, device, backend, suite, CAST(partial AS BOOLEAN), "
                                "CAST(n_results AS BIGINT), aicost_version, versions, context, "
                                "note FROM _aicost_new_runs")
                    con.unregister("_aicost_new_runs")
                if results is not None:
                    _insert_results(con, results)
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
        return [r[0] for r in run_rows]

    @staticmethod
    def _normalize_results(results, kind: str):
        import numpy as np
        import pandas as pd

        if isinstance(results, pd.DataFrame):
            df = results.copy()
        else:
            df = pd.DataFrame(list(results))
        extra = [c for c in df.columns if c not in RESULT_COLUMNS]
        out = pd.DataFrame(index=range(len(df)))
        rows = df.reset_index(drop=True)
        for col in RESULT_COLUMNS:
            if col == "params":
                params = []
                for i in range(len(rows)):
                    p = rows.at[i, "params"] if "params" in rows.columns else None
                    p = dict(p) if isinstance(p, Mapping) else ({} if _missing(p) else {"params": p})
                    for c in extra:
                        v = rows.at[i, c]
                        if not _missing(v):
                            p[c] = v
                    params.append(_dumps(p))
                out["params"] = pd.Series(params, dtype=object)
            elif col == "samples_s":
                vals = rows["samples_s"] if "samples_s" in rows.columns else [None] * len(rows)
                out["samples_s"] = pd.Series(
                    [None if _missing(v) else [float(x) for x in np.asarray(v, dtype=float).ravel()]
                     for v in vals], dtype=object)
            elif col in _NUMERIC:
                if col in rows.columns:
                    try:
                        num = pd.to_numeric(rows[col], errors="raise").astype(float)
                    except (TypeError, ValueError) as exc:
                        raise ValueError(
                            f"result column {col!r} must be numeric: {exc}"
                        ) from None
                    out[col] = num.to_numpy()
                else:
                    out[col] = np.nan
            else:
                if col in rows.columns:
                    out[col] = pd.Series(
                        [None if _missing(v) else str(v) for v in rows[col]], dtype=object)
                else:
                    out[col] = pd.Series([None] * len(rows), dtype=object)
        if len(out):
            out["kind"] = out["kind"].where(out["kind"].notna(), kind)
        for col in ("name",):
            if len(out) and out[col].isna().any():
                bad = int(out[col].isna().to_numpy().nonzero()[0][0])
                raise ValueError(f"result row {bad} has no {col!r}: every result needs a name")
        return out

    # ------------------------------------------------------------------ reading
    def runs(self, kind: str | None = None):
        """Return the saved runs, newest first, as a DataFrame.

        Parameters
        ----------
        kind : str, optional
            Only runs of this kind.
        """
        import pandas as pd

        cols = ["run_id", "created_at", "kind", "host", "device", "backend", "suite", "partial",
                "n_results", "aicost_version"]
        with self._connection(write=False) as con:
            if con is None:
                return pd.DataFrame(columns=cols)
            sql = f"SELECT {', '.join(cols)} FROM runs"
            args: list[Any] = []
            if kind:
                sql += " WHERE kind = ?"
                args.append(kind)
            return con.execute(sql + " ORDER BY created_at DESC, run_id DESC", args).df()

    def run(self, run_id: str) -> dict[str, Any]:
        """Return one run's row with its context decoded (``context``, ``versions`` as dicts)."""
        with self._connection(write=False) as con:
            row = None if con is None else con.execute(
                "SELECT * FROM runs WHERE run_id = ?", [run_id]).fetchone()
            if row is None:
                self._unknown_run(con, run_id)
            names = [d[0] for d in con.description]
        rec = dict(zip(names, row))
        for key in ("context", "versions"):
            rec[key] = json.loads(rec[key]) if rec.get(key) else {}
        return rec

    def _unknown_run(self, con, run_id: str):
        from ._errors import UnknownNameError

        ids = [] if con is None else [r[0] for r in con.execute("SELECT run_id FROM runs").fetchall()]
        raise UnknownNameError("run", run_id, ids, hint="(`aicost store list` shows the runs)")

    def results(
        self,
        run_id: str | None = None,
        *,
        kind: str | None = None,
        name: str | None = None,
        device: str | None = None,
        backend: str | None = None,
        dtype: str | None = None,
        include_partial: bool = True,
    ):
        """Return results as a DataFrame (newest run first), filtered by the given fields.

        ``params`` comes back as a dict and ``samples_s`` as a list of floats; ``created_at``,
        ``host`` and ``partial`` come from the run.
        """
        import pandas as pd

        cols = ["run_id", "seq", *RESULT_COLUMNS, "created_at", "host", "partial"]
        with self._connection(write=False) as con:
            if con is None:
                if run_id is not None:
                    self._unknown_run(None, run_id)
                return pd.DataFrame(columns=cols)
            where, args = [], []
            for col, val in (("run_id", run_id), ("kind", kind), ("name", name),
                             ("device", device), ("backend", backend), ("dtype", dtype)):
                if val is not None:
                    where.append(f"r.{col} = ?")
                    args.append(val)
            if not include_partial:
                where.append("NOT u.partial")
            sql = ("SELECT r.*, u.created_at, u.host, u.partial FROM results r "
                   "JOIN runs u USING (run_id)")
            if where:
                sql += " WHERE " + " AND ".join(where)
            df = con.execute(sql + " ORDER BY u.created_at DESC, r.run_id, r.seq", args).df()
            if run_id is not None and df.empty:
                if con.execute("SELECT 1 FROM runs WHERE run_id = ?", [run_id]).fetchone() is None:
                    self._unknown_run(con, run_id)
        df["params"] = [json.loads(p) if isinstance(p, str) and p else {} for p in df["params"]]
        df["samples_s"] = [list(s) if s is not None and not _missing(s) else [] for s in df["samples_s"]]
        return df

    def sql(self, query: str, params=None):
        """Run one read-only SQL query over the store's tables; return a DataFrame.

        For analyses too large for :meth:`results` (a fleet's 100k records): ``runs``,
        ``results`` and ``meta`` as documented at the top of this module. The file is opened
        read-only (an in-memory store uses its own connection); an empty store gives an empty
        DataFrame.
        """
        import pandas as pd

        with self._connection(write=False) as con:
            if con is None:
                return pd.DataFrame()
            return con.execute(query, params if params is not None else []).df()

    def compare(self, run_a: str, run_b: str):
        """Set two runs' results side by side, matched on kind, name, backend, dtype and shape.

        Returns
        -------
        pandas.DataFrame
            ``value_a``, ``value_b``, ``ratio`` (b / a) and ``unit`` per matched measurement
            (matched on kind, name, backend, dtype, shape, size and parameters; repeats of one
            measurement in a run are paired in order); measurements found in one run only
            have NaN on the other side.
        """
        a = self.results(run_id=run_a)
        b = self.results(run_id=run_b)
        # the parameters are part of a measurement's identity: the roofline sweep has one row
        # per FMA count with the same name, dtype and shape, and matching without them paired
        # every row of one run with every row of the other
        keys = ["kind", "name", "backend", "dtype", "shape", "size_bytes", "params"]
        for df in (a, b):
            df["params"] = [json.dumps(p, sort_keys=True, default=str) if p else ""
                            for p in df["params"]]
            for k in keys:
                df[k] = df[k].astype(object).where(df[k].notna(), "")
            # repeated measurements of one key within a run: pair them in order, never cross
            df["repeat"] = df.groupby(keys, dropna=False).cumcount()
        keys.append("repeat")
        merged = a[[*keys, "value", "unit"]].merge(
            b[[*keys, "value", "unit"]], on=keys, how="outer", suffixes=("_a", "_b"))
        merged["unit"] = merged["unit_a"].where(merged["unit_a"].notna(), merged["unit_b"])
        merged["ratio"] = merged["value_b"] / merged["value_a"]
        return merged[[*keys, "value_a", "value_b", "ratio", "unit"]]

    # ------------------------------------------------------------------ offer price history
    def save_offer_prices(self, offers, *, fetched_at: datetime, source: str,
                          url: str | None = None) -> int:
        """Append one catalog refresh's offers to the price history (one transaction).

        Parameters
        ----------
        offers : pandas.DataFrame
            Instance rows (``instances.csv`` columns: provider, instance_type, region,
            accelerator, accelerator_count, price_on_demand_usd_per_hour, ...).
        fetched_at : datetime
            When the prices were fetched (UTC).
        source : str
            ``skypilot``, ``gpuhunt``, ...
        url : str, optional

        Returns
        -------
        int
            Rows appended.
        """
        import pandas as pd

        ts = pd.Timestamp(fetched_at)
        frame = pd.DataFrame(index=range(len(offers)))
        frame["fetched_at"] = ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts
        frame["source"] = str(source)
        frame["url"] = url
        for col in OFFER_PRICE_COLUMNS[3:]:
            frame[col] = offers[col].to_numpy() if col in offers else None
        if frame.empty:
            return 0
        with self._connection(write=True) as con:
            con.execute(_OFFER_PRICES_DDL)
            con.execute("BEGIN TRANSACTION")
            try:
                con.register("_aicost_offer_prices", frame)
                con.execute(f"INSERT INTO offer_prices SELECT {', '.join(OFFER_PRICE_COLUMNS)} "
                            "FROM _aicost_offer_prices")
                con.unregister("_aicost_offer_prices")
                con.execute("COMMIT")
            except BaseException:
                _rollback(con)
                raise
        return len(frame)

    def offer_prices(self, accelerator: str | None = None, provider: str | None = None,
                     until: datetime | None = None):
        """The price history of catalog offers, oldest first.

        Parameters
        ----------
        accelerator : str, optional
            Canonical accelerator name (exact, case-insensitive).
        provider : str, optional
        until : datetime, optional
            Only prices fetched at or before this time.

        Returns
        -------
        pandas.DataFrame
            Columns :data:`OFFER_PRICE_COLUMNS`; empty when nothing was recorded.
        """
        import pandas as pd

        empty = pd.DataFrame(columns=list(OFFER_PRICE_COLUMNS))
        where, params = [], []
        if accelerator is not None:
            where.append("lower(accelerator) = lower(?)")
            params.append(str(accelerator))
        if provider is not None:
            where.append("lower(provider) = lower(?)")
            params.append(str(provider))
        if until is not None:
            where.append("fetched_at <= ?")
            ts = pd.Timestamp(until)
            params.append((ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo else ts)
                          .to_pydatetime())
        query = (f"SELECT {', '.join(OFFER_PRICE_COLUMNS)} FROM offer_prices"
                 + (" WHERE " + " AND ".join(where) if where else "")
                 + " ORDER BY fetched_at, provider, instance_type, region")
        with self._connection(write=False) as con:
            if con is None:
                return empty
            have = {r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_schema = 'main'"
            ).fetchall()}
            if "offer_prices" not in have:
                return empty
            return con.execute(query, params).df()


def _normalize_columnar(df, kind: str):
    """:meth:`Store._normalize_results` for one large frame of known columns, column by column
    (no Python loop per row except to encode dict ``params``): fleets save 100k+ rows."""
    import numpy as np
    import pandas as pd

    extra = [c for c in df.columns if c not in RESULT_COLUMNS]
    if extra:
        raise ValueError(f"results= takes only the store's result columns; also got {extra} "
                         "(put them in 'params')")
    rows = df.reset_index(drop=True)
    out = pd.DataFrame(index=range(len(rows)))
    for col in RESULT_COLUMNS:
        if col == "params":
            if "params" in rows.columns:
                out["params"] = pd.Series(
                    [_dumps(dict(p)) if isinstance(p, Mapping) else
                     ("{}" if _missing(p) else _dumps({"params": p})) for p in rows["params"]],
                    dtype=object)
            else:
                out["params"] = "{}"
        elif col == "samples_s":
            if "samples_s" in rows.columns and rows["samples_s"].notna().any():
                out["samples_s"] = pd.Series(
                    [None if _missing(v) else [float(x) for x in np.asarray(v, float).ravel()]
                     for v in rows["samples_s"]], dtype=object)
            else:
                out["samples_s"] = pd.Series([None] * len(rows), dtype=object)
        elif col in _NUMERIC:
            if col in rows.columns:
                try:
                    out[col] = pd.to_numeric(rows[col], errors="raise").astype(float).to_numpy()
                except (TypeError, ValueError) as exc:
                    raise ValueError(f"result column {col!r} must be numeric: {exc}") from None
            else:
                out[col] = np.nan
        elif col in rows.columns:
            obj = rows[col].astype(object)
            na = obj.isna()
            out[col] = obj.where(na, obj.astype(str)).where(~na, None)
        else:
            out[col] = pd.Series([None] * len(rows), dtype=object)
    if len(out):
        out["kind"] = out["kind"].where(out["kind"].notna(), kind)
        if out["name"].isna().any():
            bad = int(out["name"].isna().to_numpy().nonzero()[0][0])
            raise ValueError(f"result row {bad} has no 'name': every result needs a name")
    return out


def _opt_str(v: Any) -> str | None:
    return None if _missing(v) else str(v)


def _missing(v: Any) -> bool:
    if v is None:
        return True
    if isinstance(v, float) and math.isnan(v):
        return True
    try:
        import pandas as pd

        res = pd.isna(v)
        return bool(res) if isinstance(res, bool) or getattr(res, "ndim", 1) == 0 else False
    except (TypeError, ValueError):
        return False


def current_context() -> dict[str, Any]:
    """Return the host-side context every run records: host, user, OS, Python, time [UTC]."""
    return {
        "host": socket.gethostname(),
        "user": getpass.getuser() if hasattr(os, "getuid") else None,
        "os": platform.platform(),
        "python": platform.python_version(),
        "aicost_version": __version__,
        "time_utc": datetime.now(timezone.utc).isoformat(),
    }


def decode_params(p: Any) -> dict[str, Any]:
    """Return a result's ``params`` as a dict, whether stored as a dict or as JSON text."""
    if isinstance(p, dict):
        return p
    if isinstance(p, str) and p:
        try:
            out = json.loads(p)
        except ValueError:
            return {}
        return out if isinstance(out, dict) else {}
    return {}
