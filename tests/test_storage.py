"""aicost.storage measurement: real I/O on small files, clean-up, refusals, fio comparison."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import requires_fio

from aicost import BackendUnavailableError
from aicost.storage import (
    InsufficientSpaceError,
    StorageResult,
    Workspace,
    measure,
    quick_check,
    results_frame,
    save_results,
)
from aicost.storage import _measure as M

SMALL = {"file_size": "8MiB", "workers": 2, "duration_s": 0.3, "ramp_s": 0.1,
         "allow_buffered": True}


def _leftovers(path: Path) -> list[str]:
    return sorted(p.name for p in path.iterdir() if p.name.startswith(M.WORKDIR_PREFIX))


@pytest.fixture
def disk(tmp_path):
    d = tmp_path / "disk"
    d.mkdir()
    return d


def test_seqread_measures_and_cleans_up(disk):
    keep = disk / "keep.txt"
    keep.write_text("not aicost's")
    r = measure(disk, "seqread", "1MiB", **SMALL)
    assert isinstance(r, StorageResult)
    assert r.n_ops > 0 and r.bytes_total == r.n_ops * 2**20
    assert r.bytes_per_s == pytest.approx(r.bytes_total / r.duration_s)
    assert r.iops == pytest.approx(r.n_ops / r.duration_s)
    assert 0 < r.lat_p50_s <= r.lat_p99_s <= r.lat_p999_s <= r.lat_max_s
    assert r.direct == ("buffered-fallback" not in r.flags)
    assert r.direct_requested
    # only our work directory was created and it is gone; the user's file is untouched
    assert sorted(p.name for p in disk.iterdir()) == ["keep.txt"]
    assert keep.read_text() == "not aicost's"
    assert "MB/s" in str(r) and "<table>" in r._repr_html_()


def test_ramp_is_excluded_from_the_window(disk):
    r = measure(disk, "randread", "4KiB", file_size="4MiB", workers=2, duration_s=0.4,
                ramp_s=0.4, allow_buffered=True)
    # the window is the measured duration only, not ramp + duration
    assert 0.3 <= r.duration_s <= 0.6
    assert r.ramp_s == 0.4


@pytest.mark.parametrize("pattern", ["seqwrite", "randwrite"])
def test_writes_with_fsync(disk, pattern):
    r = measure(disk, pattern, "64KiB", fsync=4, **SMALL)
    assert r.n_ops > 0 and r.fsync == 4
    assert _leftovers(disk) == []


def test_offsets_are_block_aligned_and_sequential_wraps(disk, monkeypatch):
    seen: dict[str, list[int]] = {"rand": [], "seq": []}
    real = os.preadv
    key = {"k": "rand"}

    def spy(fd, bufs, off):
        seen[key["k"]].append(off)
        return real(fd, bufs, off)

    monkeypatch.setattr(M, "_preadv", spy)
    bs, size = 64 * 1024, 1024 * 1024
    measure(disk, "randread", bs, file_size=size, workers=1, duration_s=0.2, ramp_s=0,
            allow_buffered=True)
    assert seen["rand"] and all(o % bs == 0 and 0 <= o <= size - bs for o in seen["rand"])
    assert len(set(seen["rand"])) > 1
    key["k"] = "seq"
    measure(disk, "seqread", bs, file_size=size, workers=1, duration_s=0.2, ramp_s=0,
            allow_buffered=True)
    seq = seen["seq"]
    nblocks = size // bs
    assert seq[: nblocks + 2] == [(i % nblocks) * bs for i in range(nblocks + 2)]


def test_workspace_runs_several_patterns_on_the_same_files(disk):
    with Workspace(disk, workers=2, file_size="4MiB", allow_buffered=True) as ws:
        names = sorted(p.name for p in ws.paths)
        assert names == ["aicostjob.0.0", "aicostjob.1.0"]  # fio's names for job "aicostjob"
        assert all(p.stat().st_size == 4 * 2**20 for p in ws.paths)
        a = measure(disk, "seqread", "1MiB", 2, "4MiB", 0.2, 0, workspace=ws)
        b = measure(disk, "randread", "4KiB", 2, "4MiB", 0.2, 0, workspace=ws)
        assert a.n_ops > 0 and b.n_ops > 0
        with pytest.raises(ValueError, match="workspace holds"):
            measure(disk, "seqread", "1MiB", 3, "4MiB", 0.2, 0, workspace=ws)
        workdir = ws.workdir
    assert not workdir.exists() and _leftovers(disk) == []
    with pytest.raises(ValueError, match="closed"):
        measure(disk, "seqread", "1MiB", 2, "4MiB", 0.2, 0, workspace=ws)


def test_processes_engine_measures_the_same_files(disk):
    with Workspace(disk, workers=2, file_size="4MiB", allow_buffered=True) as ws:
        r = measure(disk, "randread", "4KiB", 2, "4MiB", 0.3, 0.1, workspace=ws,
                    engine="processes")
        w = measure(disk, "seqwrite", "64KiB", 2, "4MiB", 0.3, 0, workspace=ws,
                    engine="processes", fsync=8)
    assert r.n_ops > 0 and "processes" in r.flags and 0.2 <= r.duration_s <= 0.6
    assert r.bytes_total == r.n_ops * 4096 and r.lat_p50_s <= r.lat_p99_s
    assert w.n_ops > 0 and w.fsync == 8
    assert _leftovers(disk) == []
    with pytest.raises(ValueError, match="engine"):
        measure(disk, "seqread", file_size="4MiB", workers=1, engine="fibers")


def test_processes_engine_reports_worker_errors(disk, monkeypatch):
    real = M.Workspace.__enter__

    def enter(self):
        ws = real(self)
        ws.paths[1].unlink()  # the worker cannot open its file
        return ws

    monkeypatch.setattr(M.Workspace, "__enter__", enter)
    with pytest.raises(FileNotFoundError):
        measure(disk, "seqread", "1MiB", file_size="4MiB", workers=2, duration_s=0.2, ramp_s=0,
                allow_buffered=True, engine="processes")
    assert _leftovers(disk) == []


# ----------------------------------------------------------------------------- O_DIRECT
def _no_odirect(monkeypatch):
    real = os.open

    def fake_open(path, flags, *args):
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument", str(path))
        return real(path, flags, *args)

    monkeypatch.setattr(M, "_os_open", fake_open)


def test_filesystem_without_odirect_is_refused_clearly(disk, monkeypatch):
    _no_odirect(monkeypatch)
    with pytest.raises(BackendUnavailableError, match=r"O_DIRECT.*allow_buffered"):
        measure(disk, "seqread", "1MiB", file_size="4MiB", workers=1, duration_s=0.1, ramp_s=0)
    assert _leftovers(disk) == []


def test_buffered_fallback_only_when_asked_and_flagged(disk, monkeypatch):
    _no_odirect(monkeypatch)
    r = measure(disk, "seqread", "1MiB", file_size="4MiB", workers=1, duration_s=0.2,
                ramp_s=0, allow_buffered=True)
    assert r.direct is False and r.direct_requested is True
    assert "buffered-fallback" in r.flags and "buffered" in r.flags
    assert results_frame([r]).loc[0, "flags"] == "buffered-fallback,buffered"


def test_real_tmpfs_is_either_direct_or_flagged():
    shm = Path("/dev/shm")
    if not shm.is_dir() or M.filesystem_type(shm) != "tmpfs" or not os.access(shm, os.W_OK):
        pytest.skip("no writable tmpfs at /dev/shm")
    if M.shutil.disk_usage(shm).free < M.SPACE_RESERVE_BYTES + 64 * 2**20:
        pytest.skip("/dev/shm is too small (containers often give it 64 MB)")
    probe = Workspace(shm, workers=1, file_size="1MiB", allow_buffered=True)
    with probe:
        supported = probe.direct
    if supported:  # Linux >= 6.6 supports O_DIRECT on tmpfs
        r = measure(shm, "seqread", "1MiB", file_size="4MiB", workers=1, duration_s=0.1, ramp_s=0)
        assert r.direct and r.filesystem == "tmpfs"
    else:
        with pytest.raises(BackendUnavailableError, match="tmpfs"):
            measure(shm, "seqread", "1MiB", file_size="4MiB", workers=1, duration_s=0.1, ramp_s=0)


# ----------------------------------------------------------------------------- faults
def test_keyboard_interrupt_in_a_worker_leaves_nothing(disk, monkeypatch):
    real = os.preadv
    calls = {"n": 0}

    def flaky(fd, bufs, off):
        calls["n"] += 1
        if calls["n"] == 50:
            raise KeyboardInterrupt
        return real(fd, bufs, off)

    monkeypatch.setattr(M, "_preadv", flaky)
    with pytest.raises(KeyboardInterrupt):
        measure(disk, "randread", "4KiB", file_size="4MiB", workers=2, duration_s=5, ramp_s=0,
                allow_buffered=True)
    assert _leftovers(disk) == []


def test_io_error_in_a_worker_is_raised_and_cleaned_up(disk, monkeypatch):
    def broken(fd, bufs, off):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(M, "_pwritev", broken)
    with pytest.raises(OSError, match="Input/output"):
        measure(disk, "seqwrite", "1MiB", file_size="4MiB", workers=2, duration_s=5, ramp_s=0,
                allow_buffered=True)
    assert _leftovers(disk) == []


def test_interrupt_while_laying_out_leaves_nothing(disk, monkeypatch):
    real = M._layout
    calls = {"n": 0}

    def layout(path, size, stop):
        calls["n"] += 1
        real(path, size, stop)
        if calls["n"] == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(M, "_layout", layout)
    with pytest.raises(KeyboardInterrupt):
        measure(disk, "seqread", "1MiB", file_size="4MiB", workers=3, duration_s=1, ramp_s=0,
                allow_buffered=True)
    assert _leftovers(disk) == []


@pytest.mark.parametrize("engine", ["threads", "processes"])
def test_sigint_to_a_running_measurement_removes_its_files(disk, engine):
    code = textwrap.dedent(f"""
        from aicost.storage import measure
        if __name__ == "__main__":
            measure({str(disk)!r}, "randread", "4KiB", file_size="8MiB", workers=2,
                    duration_s=30, ramp_s=0, allow_buffered=True, engine={engine!r})
    """)
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # wait until both files are laid out
            dirs = [disk / d for d in _leftovers(disk)]
            if dirs and len(list(dirs[0].glob("aicostjob.*"))) == 2:
                break
            time.sleep(0.05)
        else:
            pytest.fail("the measurement never laid out its files")
        time.sleep(0.5 if engine == "threads" else 3.0)  # let the worker processes start
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode != 0 and "KeyboardInterrupt" in err
    assert _leftovers(disk) == []


# ----------------------------------------------------------------------------- refusals
@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"workers": 0}, "workers"),
        ({"workers": 1.5}, "workers"),
        ({"block_size": "2MiB", "file_size": "1MiB"}, "larger than the file"),
        ({"block_size": 1000}, "multiple of 4096"),
        ({"pattern": "readwrite"}, "unknown pattern"),
        ({"duration_s": 0}, "duration"),
        ({"fsync": -1}, "fsync"),
        ({"block_size": "lots"}, "cannot read size"),
    ],
)
def test_impossible_parameters_are_refused(disk, kwargs, match):
    args = {"pattern": "seqread", "block_size": "1MiB", "workers": 1, "file_size": "4MiB",
            "duration_s": 0.1, "ramp_s": 0}
    args.update(kwargs)
    with pytest.raises(ValueError, match=match):
        measure(disk, **args)
    assert list(disk.iterdir()) == []


def test_missing_directory(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        measure(tmp_path / "nope", "seqread", file_size="4MiB", workers=1, duration_s=0.1)


def test_not_a_directory(tmp_path):
    f = tmp_path / "file"
    f.write_text("x")
    with pytest.raises(NotADirectoryError):
        measure(f, "seqread", file_size="4MiB", workers=1, duration_s=0.1)


def test_unwritable_directory(disk, monkeypatch):
    real = os.access
    monkeypatch.setattr(M.os, "access", lambda p, mode: False if Path(p) == disk else real(p, mode))
    with pytest.raises(PermissionError, match="cannot write"):
        measure(disk, "seqread", file_size="4MiB", workers=1, duration_s=0.1)


def test_too_little_free_space_is_refused_before_writing(disk, monkeypatch):
    from collections import namedtuple

    usage = namedtuple("usage", "total used free")
    monkeypatch.setattr(M.shutil, "disk_usage", lambda p: usage(10 * 2**30, 10 * 2**30, 2**20))
    with pytest.raises(InsufficientSpaceError, match="free"):
        measure(disk, "seqread", file_size="1GiB", workers=4, duration_s=0.1)
    assert list(disk.iterdir()) == []


# ----------------------------------------------------------------------------- store, demo
def test_results_frame_and_store_round_trip(disk, tmp_path):
    from aicost.store import Store

    r = measure(disk, "seqread", "1MiB", **SMALL)
    df = results_frame([r])
    row = df.iloc[0]
    assert row["kind"] == "storage" and row["name"] == "seqread" and row["unit"] == "B/s"
    assert row["value"] == r.bytes_per_s and row["params"]["workers"] == 2
    store = Store(tmp_path / "r.duckdb")
    run_id = save_results(r, store=store)
    got = store.results(run_id=run_id)
    assert len(got) == 1 and got.iloc[0]["value"] == pytest.approx(r.bytes_per_s)
    assert store.runs().iloc[0]["kind"] == "storage"


def test_quick_check_is_short(disk):
    t0 = time.monotonic()
    res = quick_check(disk, duration_s=0.3)
    assert [r.pattern for r in res] == ["seqread", "randread"]
    assert all(r.n_ops > 0 for r in res)
    assert time.monotonic() - t0 < 20
    assert _leftovers(disk) == []


def test_cli_bench_storage(disk, tmp_path, capsys):
    from aicost.cli import main

    out = tmp_path / "r.json"
    rc = main(["bench", "storage", "--dir", str(disk), "--pattern", "randread", "--block-size",
               "4KiB", "--workers", "2", "--size", "4MiB", "--duration", "0.2", "--ramp", "0",
               "--buffered", "--json", str(out), "--no-store"])
    assert rc == 0
    rec = json.loads(out.read_text())[0]
    assert rec["pattern"] == "randread" and rec["n_ops"] > 0
    assert "IOPS" in capsys.readouterr().out
    rc = main(["bench", "storage", "--dir", str(disk / "missing"), "--no-store"])
    assert rc == 2 and "does not exist" in capsys.readouterr().err


# ----------------------------------------------------------------------------- fio
@requires_fio
def test_matches_fio_on_the_same_files(disk):
    """aicost and fio on the same files, short runs, alternated, median of 5 each.

    The target of the full benchmark (scripts/bench_storage_vs_fio.py, 1 GiB files, 10 s) is a
    ratio of 0.9-1.1. These runs last 0.8 s on small files on a shared 2-core CI machine whose
    neighbours come and go (single fio runs here jumped from 1.4 to 2.6 GB/s between runs), so
    the band is wide: 0.55-1.8, on the medians of 5 alternated runs. It still catches real
    regressions such as losing O_DIRECT (page-cache reads of these files are over ten times
    faster) or a broken byte count.
    """
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
    try:
        import bench_storage_vs_fio as bench
    finally:
        sys.path.pop(0)
    with Workspace(disk, workers=1, file_size="1MiB", allow_buffered=True) as ws:
        if not ws.direct:
            pytest.skip("this file system has no O_DIRECT")
    try:
        rows = bench.compare(disk, ["seqread:1MiB", "randread:4KiB"], workers=2,
                             file_size="32MiB", duration_s=0.8, ramp_s=0.2, repeats=5,
                             verbose=False)
    except RuntimeError as exc:
        if "fio failed" in str(exc):
            pytest.skip(str(exc))
        raise
    for c in rows:
        assert 0.55 <= c.ratio <= 1.8, (c.pattern, c.fio_runs, c.aicost_runs)
    assert _leftovers(disk) == []
