"""Hostile inputs and faults (issue 11): never lie, never leak, never crash on a user's mistake.

Each test reproduces one case of the hostile test: a wrong measurement, a page or socket that
reaches further than promised, lost work, a raw traceback, or nonsense accepted silently.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from aicost import StoreError
from aicost.store import Store

REPO = Path(__file__).resolve().parents[1]


def _cli(argv, capsys):
    """Run the CLI in-process; return (exit status, stdout, stderr)."""
    from aicost.cli import main

    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _one_line_error(rc, err):
    assert rc == 2, err
    assert "Traceback" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("aicost: error: "), err
    return lines[0]


# ============================================================================ wrong results
class TestTcpWindow:
    def test_window_counted_per_stream_when_one_stream_starts_late(self):
        """Old sampler: the first shared sample came after every thread started, so both
        window edges interpolated to it (0 bytes). Per-stream samples keep the window right."""
        from array import array

        from aicost.network._tcp import _window_bytes

        # stream 0 receives 1000 B/s from t=0; stream 1 starts at t=5 (starved) then 1000 B/s
        t0 = array("d", [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
        c0 = array("d", [0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000])
        t1 = array("d", [5.0, 6.0, 7.0, 8.0])
        c1 = array("d", [0, 1000, 2000, 3000])
        got, sd = _window_bytes([t0, t1], [c0, c1], 2.5, 6.5)
        assert got == pytest.approx(4000 + 1500)
        # edge 2.5 and 6.5 fall between samples 1000 B apart: sqrt(3 * 1000**2 / 12)
        assert sd == pytest.approx((3 * 1000**2 / 12) ** 0.5)

    def test_window_inside_one_gap_is_uncertain(self):
        from array import array

        from aicost.network._tcp import _window_bytes

        got, sd = _window_bytes([array("d", [0.0, 1.0])], [array("d", [0.0, 1e6])], 0.4, 0.401)
        assert got == pytest.approx(1e3)
        assert sd == pytest.approx(5e5)  # far more than the count: must be refused

    def test_many_streams_report_what_was_received(self):
        from aicost.network import measure_tcp

        r = measure_tcp(streams=64, duration_s=1.0, omit_s=0.3)
        assert r.bits_per_s > 0
        # receiver and sender agree within the socket buffers (was 0.00 received, 33 sent)
        assert r.bits_per_s == pytest.approx(r.sender_bits_per_s, rel=0.5)

    def test_too_short_window_is_refused_and_not_saved(self, capsys, aicost_home):
        from aicost.network import MeasurementError, measure_tcp

        with pytest.raises(MeasurementError, match="too short"):
            measure_tcp(streams=4, duration_s=0.001, omit_s=0)
        rc, _, err = _cli(["bench", "network", "--duration", "0.001", "--omit", "0"], capsys)
        assert "too short" in _one_line_error(rc, err)
        assert Store().runs().empty


def test_zero_on_demand_price_is_rejected_with_file_row_column(tmp_path):
    from aicost import CatalogError, catalog

    f = tmp_path / "instances_mine.csv"
    f.write_text("provider,instance_type,region,price_on_demand_usd_per_hour\n"
                 "aws,p5.48xlarge,us-east-1,0\n")
    with pytest.raises(CatalogError) as info:
        catalog.load(extra=[f])
    e = info.value
    assert e.path == str(f) and e.row == 2 and e.column == "price_on_demand_usd_per_hour"
    assert "positive price" in str(e)


def test_user_catalog_keyed_join_matches_as_before(tmp_path):
    """The keyed join (was a scan per row) keeps the override rules: an empty region overrides
    every region of the type, an exact key one row, an unknown key adds a row, aliases match."""
    from aicost import catalog

    base = catalog.load()
    inst = base.table("instances")
    itype = inst["instance_type"].value_counts().index[0]
    prov = inst.loc[inst["instance_type"] == itype, "provider"].iloc[0]
    n_regions = int(((inst["instance_type"] == itype) & (inst["provider"] == prov)).sum())
    f = tmp_path / "instances_mine.csv"
    f.write_text("provider,instance_type,region,accelerator,accelerator_count,"
                 "price_on_demand_usd_per_hour,source,as_of\n"
                 f"{prov.upper()},{itype},,,,12.34,,\n"
                 "acme,acme-8x,eu-1,H100-SXM,8,20,mine,2026-01-01\n")
    cat = catalog.load(extra=[f])
    got = cat.table("instances")
    rows = got[(got["instance_type"] == itype) & (got["provider"] == prov)]
    assert len(rows) == n_regions
    assert (rows["price_on_demand_usd_per_hour"] == 12.34).all()
    assert len(got) == len(inst) + 1


# ============================================================================ security
@pytest.mark.parametrize("host", ["", " ", "0", "0.0.0.0", "::"])
def test_tcp_server_binds_all_interfaces_only_with_bind_all(host):
    from aicost.network import measure_tcp

    with pytest.raises(ValueError, match="every interface"):
        measure_tcp(host, duration_s=0.2, omit_s=0)


def test_cli_empty_host_is_one_line(capsys):
    rc, _, err = _cli(["bench", "network", "--host", "", "--no-store"], capsys)
    assert "--bind-all" in _one_line_error(rc, err)


def test_store_refuses_sqlite_file_without_fetching_extensions(tmp_path):
    import sqlite3

    path = tmp_path / "results.duckdb"
    con = sqlite3.connect(path)
    con.execute("CREATE TABLE t (a)")
    con.commit()
    con.close()
    before = path.read_bytes()
    with pytest.raises(StoreError, match="not a DuckDB database") as info:
        Store(path).runs()
    assert "download" not in str(info.value).lower() and "http" not in str(info.value)
    assert path.read_bytes() == before


def test_store_connections_disable_extension_autoload(tmp_path):
    store = Store(tmp_path / "r.duckdb")
    with store._connection(write=True) as con:
        settings = dict(con.execute(
            "SELECT name, value FROM duckdb_settings() WHERE name LIKE 'auto%extensions'"
        ).fetchall())
    assert settings == {"autoinstall_known_extensions": "false",
                        "autoload_known_extensions": "false"}


# ============================================================================ leaks and lost work
def _wait_for(pred, timeout_s=60.0):
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        if pred():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.parametrize("engine", ["threads", "processes"])
def test_sigterm_during_bench_storage_removes_the_workspace(tmp_path, engine):
    work = tmp_path / "fs"
    work.mkdir()
    env = {**os.environ, "AICOST_HOME": str(tmp_path / "home"), "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "aicost.cli", "bench", "storage", "--dir", str(work), "--size",
         "32MiB", "--workers", "2", "--duration", "60", "--ramp", "0", "--no-store",
         "--buffered", "--engine", engine],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        files = lambda: [p for d in work.glob("aicost-storage-*") for p in d.iterdir()]  # noqa: E731
        assert _wait_for(lambda: len(files()) >= 2), "the run never laid out its files"
        time.sleep(0.5)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert list(work.iterdir()) == [], "workspace left behind"
    assert proc.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err


def test_disk_full_during_save_keeps_the_measurement_and_the_real_cause(tmp_path, monkeypatch):
    import duckdb

    store = Store(tmp_path / "r.duckdb")
    store.save_run(pd.DataFrame([{"name": "warm", "value": 1.0}]))

    real_connection = Store._connection

    class Full:
        """A connection on a full disk: the INSERT fails, DuckDB aborts the transaction."""

        def __init__(self, con):
            self.con = con
            self.aborted = False

        def execute(self, sql, *args):
            if sql.startswith("INSERT"):
                self.aborted = True
                raise duckdb.IOException('IO Error: Could not write file "r.duckdb.wal": '
                                         "No space left on device")
            if sql == "ROLLBACK" and self.aborted:
                raise duckdb.TransactionException(
                    "TransactionContext Error: cannot rollback - no transaction is active")
            return self.con.execute(sql, *args)

        def __getattr__(self, name):
            return getattr(self.con, name)

    from contextlib import contextmanager

    @contextmanager
    def full_connection(self, *, write):
        with real_connection(self, write=write) as con:
            yield Full(con) if write else con

    monkeypatch.setattr(Store, "_connection", full_connection)
    df = pd.DataFrame([{"name": "seqread", "value": 1.5e9, "unit": "B/s"}])
    with pytest.raises(StoreError) as info:
        store.save_run(df, context={"device": "nvme0"}, kind="storage")
    msg = str(info.value)
    assert "No space left on device" in msg and "cannot rollback" not in msg
    kept = Path(msg.split("kept in ")[1].split("; ")[0])
    assert kept.exists() and kept.parent == tmp_path
    monkeypatch.setattr(Store, "_connection", real_connection)
    run_id = store.save_run(**json.loads(kept.read_text()))
    assert store.results(run_id=run_id)["value"].tolist() == [1.5e9]


@pytest.mark.parametrize("cut", [100, 5000, "half"])
def test_truncated_store_is_a_store_error_and_never_written(tmp_path, cut):
    path = tmp_path / "r.duckdb"
    Store(path).save_run(pd.DataFrame([{"name": f"r{i}", "value": float(i)} for i in range(2000)]))
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2 if cut == "half" else cut])
    before = path.read_bytes()
    with pytest.raises(StoreError):
        Store(path).runs()
    with pytest.raises(StoreError, match="kept in"):
        Store(path).save_run(pd.DataFrame([{"name": "x", "value": 1.0}]))
    assert path.read_bytes() == before


def test_memory_store_is_readable_when_fresh():
    store = Store(":memory:")
    assert store.runs().empty
    assert store.results().empty


def test_store_path_that_is_a_directory_is_not_called_damaged(tmp_path):
    with pytest.raises(StoreError, match="is a directory") as info:
        Store(tmp_path).runs()
    assert "damaged" not in str(info.value)


def test_read_only_store_is_not_called_damaged(tmp_path, monkeypatch):
    path = tmp_path / "r.duckdb"
    Store(path).save_run(pd.DataFrame([{"name": "x", "value": 1.0}]))
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
        False if Path(p) == path and mode & os.W_OK else real_access(p, mode, **kw)))
    with pytest.raises(StoreError, match="read-only") as info:
        Store(path).save_run(pd.DataFrame([{"name": "y", "value": 2.0}]))
    assert "damaged" not in str(info.value)
    assert len(Store(path).runs()) == 1  # reading still works


def test_held_lock_is_announced_and_suggests_existing_options(tmp_path, capfd):
    path = tmp_path / "r.duckdb"
    Store(path).save_run(pd.DataFrame([{"name": "x", "value": 1.0}]))
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); "
         "print('held', flush=True); time.sleep(60)", str(path)],
        stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        with pytest.raises(StoreError, match="locked") as info:
            Store(path, lock_timeout_s=2.5).save_run(pd.DataFrame([{"name": "y", "value": 1.0}]))
    finally:
        holder.kill()
        holder.wait()
    assert "waiting up to" in capfd.readouterr().err
    assert "--lock-timeout" not in str(info.value)


def test_aicost_home_that_is_a_file_fails_before_measuring(tmp_path, monkeypatch, capsys):
    home = tmp_path / "home"
    home.write_text("not a directory")
    monkeypatch.setenv("AICOST_HOME", str(home))
    import aicost.network

    monkeypatch.setattr(aicost.network, "measure_tcp",
                        lambda *a, **k: pytest.fail("measured before checking the store"))
    rc, _, err = _cli(["bench", "network", "--duration", "0.2"], capsys)
    assert "AICOST_HOME" in _one_line_error(rc, err)


# ============================================================================ CLI mistakes
@pytest.fixture
def no_report_build(monkeypatch):
    import aicost.report

    monkeypatch.setattr(aicost.report, "build",
                        lambda *a, **k: pytest.fail("the report ran before -o was checked"))


def test_report_output_existing_directory(tmp_path, capsys, no_report_build):
    rc, _, err = _cli(["report", "catalog", "-o", str(tmp_path)], capsys)
    assert "is a directory" in _one_line_error(rc, err)


def test_report_output_under_a_file(tmp_path, capsys, no_report_build):
    f = tmp_path / "file"
    f.write_text("x")
    rc, _, err = _cli(["report", "catalog", "-o", str(f / "x.html")], capsys)
    assert "is a file, not a directory" in _one_line_error(rc, err)


def test_report_output_read_only_directory(tmp_path, capsys, monkeypatch, no_report_build):
    ro = tmp_path / "ro"
    ro.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, **kw: (
        False if Path(p) == ro else real_access(p, mode, **kw)))
    rc, _, err = _cli(["report", "catalog", "-o", str(ro / "x.html")], capsys)
    assert "cannot write" in _one_line_error(rc, err)


def test_bench_storage_dir_is_a_file(tmp_path, capsys):
    f = tmp_path / "passwd"
    f.write_text("root:x:0:0")
    rc, _, err = _cli(["bench", "storage", "--dir", str(f), "--size", "1MiB", "--duration",
                       "0.1", "--ramp", "0", "--no-store"], capsys)
    assert "not a directory" in _one_line_error(rc, err)


def test_bench_network_unresolvable_host(capsys):
    rc, _, err = _cli(["bench", "network", "--host", "999.1.1.1", "--no-store"], capsys)
    assert "999.1.1.1" in _one_line_error(rc, err)


def test_json_destination_is_a_directory(tmp_path, capsys, monkeypatch):
    import aicost.network

    monkeypatch.setattr(aicost.network, "measure_tcp",
                        lambda *a, **k: pytest.fail("measured before checking --json"))
    rc, _, err = _cli(["bench", "network", "--json", str(tmp_path), "--no-store"], capsys)
    assert "is a directory" in _one_line_error(rc, err)
    assert not list(Path("/").glob(f".{tmp_path.name}.*.tmp"))


@pytest.mark.parametrize("flag", ["--size", "--block-size", "--duration", "--ramp"])
def test_bench_storage_overflowing_numbers(tmp_path, capsys, flag):
    rc, _, err = _cli(["bench", "storage", "--dir", str(tmp_path), flag, "1e400", "--no-store"],
                      capsys)
    _one_line_error(rc, err)
    assert list(tmp_path.iterdir()) == []


def test_bench_network_absurd_stream_count(capsys):
    rc, _, err = _cli(["bench", "network", "--streams", "99999999999999999999", "--no-store"],
                      capsys)
    assert "streams" in _one_line_error(rc, err)


def test_numpy_reprs_do_not_leak_into_cli_messages():
    import numpy as np

    from aicost.cli import _error_text

    assert _error_text(ValueError(f"got {np.int64(-3)!r} and {np.float64(2.5)!r}")) == \
        "got -3 and 2.5"


def test_catalog_strings_in_charts_are_text_not_links(tmp_path):
    from aicost import catalog, viz

    f = tmp_path / "instances_mine.csv"
    f.write_text("provider,instance_type,region,accelerator,accelerator_count,"
                 "price_on_demand_usd_per_hour,price_spot_usd_per_hour,source,as_of\n"
                 '"<a href=""http://evil.example"">acme</a>",<b>x8</b>,eu,H100-SXM,8,20,10,'
                 "mine,2026-01-01\n")
    cat = catalog.load(extra=[f])
    for fig in (viz.price_per_gpu_hour_figure(cat), viz.best_offer_figure(cat),
                viz.spot_vs_on_demand_figure(cat)):
        text = fig.to_json()
        assert "<a href" not in text and "<b>x8" not in text
    fig = viz.price_per_gpu_hour_figure(cat)
    assert any(t.name == '&lt;a href="http://evil.example"&gt;acme&lt;/a&gt;' for t in fig.data)


def test_plotly_text_and_templates():
    import plotly.graph_objects as go

    from aicost._markup import escape_figure, plotly_text

    assert plotly_text("<i>x</i> &#36;5") == "&lt;i&gt;x&lt;/i&gt; &#36;5"
    fig = go.Figure(go.Bar(x=["<a href='http://e'>n</a>"], y=[1],
                           hovertemplate="on <a href='http://e'>p</a><br>%{y}<extra></extra>"))
    fig.update_layout(title="plan for <a href='http://e'>m</a> <b>ok</b>")
    escape_figure(fig)
    assert fig.data[0].x[0].startswith("&lt;a")
    assert "<br>" in fig.data[0].hovertemplate and "<a " not in fig.data[0].hovertemplate
    assert "<b>ok</b>" in fig.layout.title.text and "<a " not in fig.layout.title.text


def test_csv_export_neutralizes_formula_cells(tmp_path, capsys):
    f = tmp_path / "instances_mine.csv"
    f.write_text("provider,instance_type,region,accelerator,accelerator_count,"
                 "price_on_demand_usd_per_hour,source,as_of\n"
                 'acme,x8,eu,H100-SXM,8,20,"=HYPERLINK(""http://e"",""x"")",2026-01-01\n'
                 "acme,x9,eu,H100-SXM,8,21,@SUM(A1),2026-01-01\n")
    rc, out, _ = _cli(["catalog", "list", "instances", "--provider", "acme", "--extra", str(f),
                       "--format", "csv"], capsys)
    assert rc == 0
    import csv
    import io

    cells = [c for row in csv.reader(io.StringIO(out)) for c in row]
    assert "'=HYPERLINK(\"http://e\",\"x\")" in cells and "'@SUM(A1)" in cells
    assert not any(c.startswith(("=", "@", "+")) for c in cells)


# ============================================================================ nonsense refused
@pytest.mark.parametrize(("factory", "kwargs", "match"), [
    ("training_planner", {"tokens": -1}, r"tokens must be in \[1e\+09, 1e\+14\]"),
    ("training_planner", {"efficiency": 5}, r"efficiency must be in \[0.05, 1\]"),
    ("training_planner", {"budget_usd": -5}, r"budget_usd must be in \[0, "),
    ("serving_planner", {"qps": 1e40}, r"qps must be in"),
    ("roofline_explorer", {"compute_efficiency": 5}, r"compute_efficiency must be in"),
])
def test_widgets_refuse_values_their_controls_would_clamp(factory, kwargs, match):
    from aicost import widgets

    with pytest.raises(ValueError, match=match):
        getattr(widgets, factory)(**kwargs)


@pytest.mark.parametrize(("argv", "match"), [
    (["plan", "serve", "--model", "llama-3.1-8b", "--qps", "1e40"], "at most 1e+07"),
    (["plan", "serve", "--model", "llama-3.1-8b", "--qps", "1", "--prompt", "10000000"],
     "context"),
    (["plan", "train", "--model", "llama-3.1-8b", "--tokens", "1e308"], "at most 1e+16"),
])
def test_planner_refuses_nonsense(argv, match, capsys):
    rc, _, err = _cli(argv, capsys)
    assert match in _one_line_error(rc, err)


@pytest.fixture
def tiny_fs(tmp_path):
    """A 3 MiB tmpfs (root only; skipped where it cannot be mounted)."""
    mnt = tmp_path / "tiny"
    mnt.mkdir()
    if os.geteuid() != 0 or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=3M", "tmpfs", str(mnt)],
            capture_output=True).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield mnt
    subprocess.run(["umount", str(mnt)], capture_output=True)


def test_really_full_disk_keeps_the_measurement(tiny_fs, tmp_path, monkeypatch):
    import numpy as np

    monkeypatch.chdir(tmp_path)
    store = Store(tiny_fs / "r.duckdb")
    store.save_run(pd.DataFrame([{"name": "first", "value": 1.0}]))
    with open(tiny_fs / "filler", "wb") as fh:
        with pytest.raises(OSError):
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
    df = pd.DataFrame([{"name": f"r{i}", "value": float(i), "samples_s": list(np.ones(200))}
                       for i in range(3000)])
    with pytest.raises(StoreError, match="No space left on device") as info:
        store.save_run(df, kind="storage")
    assert "cannot rollback" not in str(info.value) and "damaged" not in str(info.value)
    kept = Path(str(info.value).split("kept in ")[1].split("; ")[0])
    assert kept.parent == tmp_path and len(json.loads(kept.read_text())["results"]) == 3000
    (tiny_fs / "filler").unlink()
    assert store.runs()["n_results"].tolist() == [1]  # the store is intact


def test_catalog_input_size_is_capped(monkeypatch, tmp_path):
    from aicost import CatalogError, catalog
    from aicost.catalog import _load

    monkeypatch.setattr(_load, "MAX_FILE_BYTES", 1 << 20)
    with pytest.raises(CatalogError, match="larger than 1 MiB"):
        catalog.load(extra=["/dev/zero"])


@pytest.mark.parametrize("reader", ["demand", "nvidia_smi", "dcgm", "trace"])
def test_user_input_files_are_size_capped(reader, monkeypatch, tmp_path):
    """/dev/zero (endless) or a file over the cap: an error naming the file, not a full memory."""
    import gzip

    from aicost import _checks
    from aicost._errors import InputFileError
    from aicost.model import load_trace
    from aicost.spend import read_dcgm, read_demand, read_nvidia_smi

    monkeypatch.setattr(_checks, "MAX_INPUT_BYTES", 1 << 20)
    read = {"demand": read_demand, "nvidia_smi": read_nvidia_smi, "dcgm": read_dcgm,
            "trace": load_trace}[reader]
    endless = tmp_path / "endless.csv"
    endless.symlink_to("/dev/zero")
    with pytest.raises(InputFileError, match=r"endless\.csv: the file is larger than 1 MiB"):
        read(str(endless))
    # a small gzip bomb: 2 MiB of commas in 2 kB compressed is refused the same way
    bomb = tmp_path / "big.csv.gz"
    bomb.write_bytes(gzip.compress(b"," * (2 << 20)))
    with pytest.raises(InputFileError, match="larger than 1 MiB"):
        read(str(bomb))


def test_size_cap_keeps_ordinary_files_readable(tmp_path):
    from aicost.spend import read_demand

    p = tmp_path / "demand.csv"
    p.write_text("timestamp,accelerator,gpus\n2026-01-01T00:00:00Z,H100-SXM,8\n")
    assert read_demand(p)["gpus"].tolist() == [8]
