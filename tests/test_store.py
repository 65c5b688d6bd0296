"""The DuckDB results store: round trip, transactions, concurrency, refusal of foreign files."""

from __future__ import annotations

import hashlib
import multiprocessing as mp
import os

import numpy as np
import pandas as pd
import pytest

from aicost import StoreError, UnknownNameError
from aicost.store import SCHEMA_VERSION, Store, default_path


def _rows(n=3, value=1.0):
    return pd.DataFrame(
        {
            "name": [f"k{i}" for i in range(n)],
            "backend": "numpy",
            "device": "cpu",
            "dtype": "fp32",
            "shape": "1024",
            "median_s": np.linspace(0.1, 0.3, n),
            "value": value * np.arange(1, n + 1),
            "unit": "B/s",
            "samples_s": [[0.1, 0.2, 0.3]] * n,
            "params": [{"i": i} for i in range(n)],
            "threads": 2,  # not a result column: folded into params
        }
    )


def _sha(path):
    return hashlib.sha256(open(path, "rb").read()).hexdigest()


def test_default_path_follows_aicost_home(tmp_path, monkeypatch):
    monkeypatch.setenv("AICOST_HOME", str(tmp_path / "h"))
    assert default_path() == tmp_path / "h" / "results.duckdb"
    assert Store().path == tmp_path / "h" / "results.duckdb"


def test_round_trip(tmp_path):
    store = Store(tmp_path / "r.duckdb")
    run_id = store.save_run(_rows(), context={"device": "cpu", "suite": "quick", "versions": {"numpy": "2"}})
    runs = store.runs()
    assert list(runs["run_id"]) == [run_id]
    assert runs.loc[0, "n_results"] == 3
    assert runs.loc[0, "suite"] == "quick"
    assert not runs.loc[0, "partial"]
    res = store.results(run_id=run_id)
    assert list(res["name"]) == ["k0", "k1", "k2"]
    assert list(res["value"]) == [1.0, 2.0, 3.0]
    assert res.loc[1, "params"] == {"i": 1, "threads": 2}
    assert res.loc[2, "samples_s"] == [0.1, 0.2, 0.3]
    assert (res["kind"] == "compute").all()
    rec = store.run(run_id)
    assert rec["context"]["suite"] == "quick"
    assert rec["versions"] == {"numpy": "2"}


def test_results_filters_and_partial(tmp_path):
    store = Store(tmp_path / "r.duckdb")
    a = store.save_run(_rows(2), kind="storage")
    b = store.save_run(_rows(1, value=5.0), kind="compute", partial=True)
    assert set(store.results(kind="storage")["run_id"]) == {a}
    assert list(store.results(name="k0", kind="compute")["value"]) == [5.0]
    assert store.results(include_partial=False, kind="compute").empty
    assert list(store.runs(kind="compute")["run_id"]) == [b]


def test_compare_matches_results(tmp_path):
    store = Store(tmp_path / "r.duckdb")
    a = store.save_run(_rows(2, value=1.0))
    b = store.save_run(_rows(3, value=2.0))
    cmp = store.compare(a, b).set_index("name")
    assert cmp.loc["k0", "ratio"] == pytest.approx(2.0)
    assert cmp.loc["k1", "ratio"] == pytest.approx(2.0)
    assert np.isnan(cmp.loc["k2", "value_a"])


def test_empty_store_reads_without_creating_file(tmp_path):
    path = tmp_path / "none.duckdb"
    store = Store(path)
    assert store.runs().empty
    assert store.results().empty
    assert not path.exists()


def test_unknown_run_suggests(tmp_path):
    store = Store(tmp_path / "r.duckdb")
    run_id = store.save_run(_rows(1))
    with pytest.raises(UnknownNameError, match="did you mean"):
        store.results(run_id=run_id[:-1] + "x")


def test_save_is_one_transaction(tmp_path):
    store = Store(tmp_path / "r.duckdb")
    store.save_run(_rows(1))
    bad = _rows(2)
    bad["value"] = ["1.0", "not a number"]
    with pytest.raises(ValueError, match="value"):
        store.save_run(bad)
    # a failure inside the database transaction leaves no run behind either
    dup = _rows(2)

    class Boom(Exception):
        pass

    import duckdb

    real_register = duckdb.DuckDBPyConnection.register

    def exploding_register(self, *args, **kwargs):
        raise Boom("disk full")

    duckdb.DuckDBPyConnection.register = exploding_register
    try:
        with pytest.raises(Boom):
            store.save_run(dup)
    finally:
        duckdb.DuckDBPyConnection.register = real_register
    assert len(store.runs()) == 1
    assert len(store.results()) == 1


def test_rows_need_a_name(tmp_path):
    with pytest.raises(ValueError, match="name"):
        Store(tmp_path / "r.duckdb").save_run([{"value": 1.0}])


def test_refuses_newer_schema_and_leaves_file_alone(tmp_path):
    import duckdb

    path = tmp_path / "new.duckdb"
    Store(path).save_run(_rows(1))
    con = duckdb.connect(str(path))
    con.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", [str(SCHEMA_VERSION + 1)])
    con.close()
    before = _sha(path)
    with pytest.raises(StoreError, match="newer"):
        Store(path).save_run(_rows(1))
    with pytest.raises(StoreError, match="newer"):
        Store(path).runs()
    assert _sha(path) == before


def test_refuses_foreign_duckdb(tmp_path):
    import duckdb

    path = tmp_path / "other.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE customers (id INTEGER)")
    con.close()
    before = _sha(path)
    with pytest.raises(StoreError, match="not an aicost results store"):
        Store(path).save_run(_rows(1))
    assert _sha(path) == before


def test_refuses_corrupt_file_without_overwriting(tmp_path):
    path = tmp_path / "corrupt.duckdb"
    path.write_bytes(os.urandom(8192))
    before = _sha(path)
    with pytest.raises(StoreError, match="will not modify"):
        Store(path).save_run(_rows(1))
    with pytest.raises(StoreError):
        Store(path).runs()
    assert _sha(path) == before


def _writer(path, n, value, queue):
    try:
        store = Store(path, lock_timeout_s=120)
        ids = [store.save_run(_rows(4, value=value), context={"writer": value}) for _ in range(n)]
        queue.put(ids)
    except Exception as exc:  # pragma: no cover - reported to the parent
        queue.put(repr(exc))


def test_concurrent_writers_do_not_corrupt(tmp_path):
    path = tmp_path / "shared.duckdb"
    Store(path).save_run(_rows(1))  # create the schema first, as a user would have
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_writer, args=(str(path), 5, float(w), queue)) for w in range(1, 4)]
    for p in procs:
        p.start()
    got = [queue.get(timeout=180) for _ in procs]
    for p in procs:
        p.join(timeout=60)
    assert all(isinstance(g, list) for g in got), got
    store = Store(path)
    runs = store.runs()
    assert len(runs) == 1 + 15
    assert set(sum(got, [])) <= set(runs["run_id"])
    res = store.results()
    assert len(res) == 1 + 15 * 4
    assert (res.groupby("run_id").size().drop(runs["run_id"].iloc[-1]) == 4).all()


def test_lock_timeout_is_clear(tmp_path, monkeypatch):
    import duckdb

    path = tmp_path / "locked.duckdb"
    Store(path).save_run(_rows(1))

    def locked(*args, **kwargs):
        raise duckdb.IOException('IO Error: Could not set lock on file "x": Conflicting lock is held')

    monkeypatch.setattr(duckdb, "connect", locked)
    with pytest.raises(StoreError, match="locked by another process"):
        Store(path, lock_timeout_s=0.05).save_run(_rows(1))


def test_memory_store():
    store = Store(":memory:")
    run_id = store.save_run(_rows(2))
    assert list(store.results(run_id=run_id)["name"]) == ["k0", "k1"]


def test_bad_lock_timeout():
    with pytest.raises(ValueError, match="lock_timeout_s"):
        Store(":memory:", lock_timeout_s=0)


def test_decode_params():
    from aicost.store import decode_params

    assert decode_params({"a": 1}) == {"a": 1}
    assert decode_params('{"m": 4096}') == {"m": 4096}
    assert decode_params("not json") == {}
    assert decode_params("[1, 2]") == {}
    assert decode_params(None) == {}
