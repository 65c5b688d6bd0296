"""fio-like storage measurement: direct I/O, parallel workers, ramp time, latency percentiles.

The method follows fio's ``--ioengine=psync`` engine so that the two agree on the same files:

- each worker owns one file of ``file_size`` bytes (fio's ``--size`` is per job), laid out
  sequentially *before* the timed part, fsynced and dropped from the page cache (fio's
  ``invalidate=1``);
- the file is opened with ``O_DIRECT`` (``--direct=1``) and read/written with ``preadv``/``pwritev``
  into a page-aligned ``mmap`` buffer of one block (``--bs``); ``os.preadv`` releases the GIL,
  so worker threads run the I/O in parallel (``engine="processes"`` runs one process per
  worker instead, as fio forks its jobs);
- sequential patterns walk the file block by block and wrap around; random patterns pick
  block-aligned offsets uniformly (``--rw=randread``);
- the run is time based (``--time_based --runtime``): operations that complete during the first
  ``ramp_s`` seconds are not counted (``--ramp_time``);
- writes call ``fsync`` every ``fsync`` writes when asked (``--fsync=N``).

Everything happens in a work directory created with :func:`tempfile.mkdtemp` inside the
directory the user names; the files are removed at the end, after an error and after Ctrl-C, and
no other file is ever opened for writing.
"""

from __future__ import annotations

import contextlib
import errno
import mmap
import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .._errors import AicostError, BackendUnavailableError
from .._units import MIB, format_bytes, parse_bytes, parse_duration

__all__ = [
    "DIRECT_IO_ALIGNMENT",
    "FIO_RW",
    "PATTERNS",
    "InsufficientSpaceError",
    "StorageResult",
    "Workspace",
    "filesystem_type",
    "measure",
    "quick_check",
    "results_frame",
    "save_results",
]

#: pattern name -> (is_write, is_random)
PATTERNS: dict[str, tuple[bool, bool]] = {
    "seqread": (False, False),
    "seqwrite": (True, False),
    "randread": (False, True),
    "randwrite": (True, True),
}
#: aicost pattern -> fio ``--rw`` value
FIO_RW = {"seqread": "read", "seqwrite": "write", "randread": "randread", "randwrite": "randwrite"}

#: O_DIRECT needs block sizes and offsets aligned to the device's logical block size (512 B or
#: 4 KiB); 4 KiB is safe on every Linux file system that supports O_DIRECT (open(2), NOTES).
DIRECT_IO_ALIGNMENT = 4096
#: free space left untouched besides the files we lay out [bytes]
SPACE_RESERVE_BYTES = 256 * MIB
#: write size used to lay out files [bytes]
LAYOUT_CHUNK_BYTES = 1 * MIB
#: prefix of the work directory created inside the directory the user names
WORKDIR_PREFIX = "aicost-storage-"
#: job name for the files: ``aicostjob.<worker>.0`` is the name fio gives job ``aicostjob``'s files,
#: so ``fio --name=aicostjob --directory=<workdir>`` reuses the very same files
JOB_NAME = "aicostjob"
#: random offsets drawn per batch in a worker
_OFFSET_BATCH = 4096

# indirection so tests can inject faults (KeyboardInterrupt in a worker, EINVAL on open)
_preadv = os.preadv
_pwritev = os.pwritev
_os_open = os.open


class InsufficientSpaceError(AicostError, OSError):
    """The target file system has too little free space for the files a run lays out."""


@dataclass(frozen=True)
class StorageResult:
    """One storage measurement.

    Attributes
    ----------
    pattern : str
        ``seqread``, ``seqwrite``, ``randread`` or ``randwrite``.
    block_size_bytes : int
        Bytes per I/O [B].
    workers : int
        Parallel workers (threads, one file each).
    file_size_bytes : int
        Size of each worker's file [B].
    duration_s : float
        Measured window, ramp excluded [s].
    ramp_s : float
        Ramp time excluded from the counts [s].
    bytes_per_s : float
        Throughput summed over workers [B/s] (decimal: 1 GB/s = 1e9 B/s).
    iops : float
        Operations per second summed over workers [1/s].
    lat_mean_s, lat_p50_s, lat_p99_s, lat_p999_s, lat_max_s : float
        Completion latency of one operation [s].
    n_ops : int
        Operations counted in the window.
    bytes_total : int
        Bytes moved in the window [B].
    direct : bool
        True when the files were really opened with ``O_DIRECT``.
    direct_requested : bool
        True when direct I/O was asked for.
    fsync : int
        ``fsync`` after every this many writes (0: never).
    filesystem : str
        File system type of the directory (``ext4``, ``xfs``, ``tmpfs``, ...).
    directory : str
        The directory measured (the work directory was created inside it).
    flags : tuple of str
        Caveats, e.g. ``buffered-fallback`` (O_DIRECT unsupported, buffered I/O measured) or
        ``buffered`` (the page cache, not only the device, was measured).
    """

    pattern: str
    block_size_bytes: int
    workers: int
    file_size_bytes: int
    duration_s: float
    ramp_s: float
    bytes_per_s: float
    iops: float
    lat_mean_s: float
    lat_p50_s: float
    lat_p99_s: float
    lat_p999_s: float
    lat_max_s: float
    n_ops: int
    bytes_total: int
    direct: bool
    direct_requested: bool
    fsync: int
    filesystem: str
    directory: str
    flags: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict."""
        return asdict(self)

    def to_frame(self):
        """Return one result row in the store's columns (``kind="storage"``, value in B/s)."""
        return results_frame([self])

    def __str__(self) -> str:
        io = "direct" if self.direct else "buffered"
        return (
            f"{self.pattern} bs={format_bytes(self.block_size_bytes)} workers={self.workers} "
            f"({io}, {self.filesystem}): {self.bytes_per_s / 1e6:,.1f} MB/s, "
            f"{self.iops:,.0f} IOPS, latency p50 {self.lat_p50_s * 1e6:,.0f} us, "
            f"p99 {self.lat_p99_s * 1e6:,.0f} us, p99.9 {self.lat_p999_s * 1e6:,.0f} us "
            f"({self.n_ops:,} ops in {self.duration_s:.2f} s)"
            + (f" [{', '.join(self.flags)}]" if self.flags else "")
        )

    def _repr_html_(self) -> str:
        rows = [
            ("pattern", self.pattern),
            ("block size", format_bytes(self.block_size_bytes)),
            ("workers", self.workers),
            ("I/O", "direct (O_DIRECT)" if self.direct else "buffered (page cache)"),
            ("file system", self.filesystem),
            ("throughput", f"{self.bytes_per_s / 1e6:,.1f} MB/s"),
            ("IOPS", f"{self.iops:,.0f}"),
            ("latency p50 / p99 / p99.9",
             f"{self.lat_p50_s * 1e6:,.0f} / {self.lat_p99_s * 1e6:,.0f} / "
             f"{self.lat_p999_s * 1e6:,.0f} us"),
            ("operations", f"{self.n_ops:,} in {self.duration_s:.2f} s (ramp {self.ramp_s:g} s)"),
        ]
        if self.flags:
            rows.append(("flags", ", ".join(self.flags)))
        body = "".join(f"<tr><th style='text-align:left'>{k}</th><td>{v}</td></tr>" for k, v in rows)
        return f"<table><caption>aicost storage measurement</caption>{body}</table>"


def results_frame(results) -> Any:
    """Return storage results as a DataFrame in the store's result columns.

    Parameters
    ----------
    results : iterable of StorageResult

    Returns
    -------
    pandas.DataFrame
        One row per result: ``kind="storage"``, ``name`` = pattern, ``value`` = throughput
        [B/s], ``median_s`` = p50 latency, ``size_bytes`` = block size, ``params`` with the rest.
    """
    import pandas as pd

    rows = []
    for r in results:
        rows.append({
            "kind": "storage",
            "name": r.pattern,
            "backend": "aicost-psync" + ("-direct" if r.direct else "-buffered"),
            "device": r.filesystem,
            "size_bytes": float(r.block_size_bytes),
            "bytes_moved": float(r.bytes_total),
            "median_s": r.lat_p50_s,
            "mean_s": r.lat_mean_s,
            "n_samples": r.n_ops,
            "value": r.bytes_per_s,
            "unit": "B/s",
            "params": {
                "pattern": r.pattern, "block_size_bytes": r.block_size_bytes,
                "workers": r.workers, "file_size_bytes": r.file_size_bytes,
                "duration_s": r.duration_s, "ramp_s": r.ramp_s, "iops": r.iops,
                "lat_p99_s": r.lat_p99_s, "lat_p999_s": r.lat_p999_s, "lat_max_s": r.lat_max_s,
                "direct": r.direct, "direct_requested": r.direct_requested, "fsync": r.fsync,
                "directory": r.directory,
            },
            "flags": ",".join(r.flags) if r.flags else None,
        })
    return pd.DataFrame(rows)


def save_results(results, *, store=None, context: dict | None = None) -> str:
    """Save storage results to the results store as one run of kind ``storage``.

    Parameters
    ----------
    results : StorageResult or iterable of StorageResult
    store : aicost.store.Store, optional
        Defaults to ``Store()`` (``$AICOST_HOME/results.duckdb``).
    context : dict, optional
        Extra context; the host context is always recorded.

    Returns
    -------
    str
        The run id.
    """
    from ..store import Store, current_context

    if isinstance(results, StorageResult):
        results = [results]
    results = list(results)
    ctx = {**current_context(), "backend": "aicost-storage", **(context or {})}
    if results:
        ctx.setdefault("device", results[0].filesystem)
        ctx.setdefault("directory", results[0].directory)
    return (store or Store()).save_run(results_frame(results), context=ctx, kind="storage")


# ----------------------------------------------------------------------------- helpers
def filesystem_type(path: str | os.PathLike) -> str:
    """Return the type of the file system holding ``path`` (from ``/proc/mounts``), or ``unknown``."""
    real = os.path.realpath(path)
    best, fstype = "", "unknown"
    try:
        with open("/proc/mounts") as fh:
            for line in fh:
                parts = line.split()
                if len(parts) < 3:
                    continue
                mnt = parts[1].replace("\\040", " ")
                if (real == mnt or real.startswith(mnt.rstrip("/") + "/")) and len(mnt) >= len(best):
                    best, fstype = mnt, parts[2]
    except OSError:
        pass
    return fstype


class _Terminated(KeyboardInterrupt):
    """SIGTERM (``kill``, ``timeout``) received during a measurement: handled as Ctrl-C is, so
    the work directory is removed; ``signal`` is the number (the CLI exits with 128 + it)."""

    signal = 15


@contextlib.contextmanager
def _sigterm_as_interrupt():
    """Within the block, SIGTERM raises :class:`_Terminated` in the main thread (as SIGINT
    raises KeyboardInterrupt), so that cleanup runs. Left alone outside the main thread or
    when the program has its own SIGTERM handler."""
    import signal

    if threading.current_thread() is not threading.main_thread():
        yield
        return
    try:
        previous = signal.getsignal(signal.SIGTERM)
    except (ValueError, OSError):  # pragma: no cover - no signals here
        yield
        return
    if previous not in (signal.SIG_DFL, None):
        yield
        return

    def handler(signum, frame):
        raise _Terminated()

    signal.signal(signal.SIGTERM, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


#: longest duration or ramp of one storage run [s] (a day; fio's runtime has no upper bound,
#: but a bigger number is a typo or an overflow)
_MAX_SECONDS = 86400.0
#: largest file size or block size [B] (1 PiB)
_MAX_BYTES = 1 << 50


def _check_params(pattern, block_size, workers, file_size, duration_s, ramp_s, direct, fsync):
    if pattern not in PATTERNS:
        raise ValueError(f"unknown pattern {pattern!r}; use one of {', '.join(PATTERNS)}")
    bs = _bytes_arg("block size", block_size)
    size = _bytes_arg("file size", file_size)
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
    if bs <= 0:
        raise ValueError(f"block size must be positive, got {block_size!r}")
    if size <= 0:
        raise ValueError(f"file size must be positive, got {file_size!r}")
    if bs > size:
        raise ValueError(
            f"block size {format_bytes(bs)} is larger than the file ({format_bytes(size)}); "
            "use a larger file size or a smaller block size"
        )
    if direct and bs % DIRECT_IO_ALIGNMENT:
        raise ValueError(
            f"block size {bs} B is not a multiple of {DIRECT_IO_ALIGNMENT} B, which O_DIRECT "
            "needs; use e.g. 4KiB or 1MiB, or measure buffered I/O (direct=False)"
        )
    dur = parse_duration(duration_s)
    ramp = parse_duration(ramp_s)
    if dur <= 0:
        raise ValueError(f"duration must be positive, got {duration_s!r}")
    for what, v, text in (("duration", dur, duration_s), ("ramp", ramp, ramp_s)):
        if not v <= _MAX_SECONDS:
            raise ValueError(f"{what} must be at most {_MAX_SECONDS:g} s (a day), got {text!r}")
    if isinstance(fsync, bool):
        fsync = int(fsync)
    if not isinstance(fsync, int) or fsync < 0:
        raise ValueError(f"fsync must be a whole number >= 0 (fsync every N writes), got {fsync!r}")
    return bs, size, dur, ramp, fsync


def _bytes_arg(what: str, value) -> int:
    """``parse_bytes(value)`` within (0, 1 PiB], with overflow ("1e400") as a ValueError."""
    try:
        n = parse_bytes(value)
    except OverflowError:
        n = None
    if n is None or n > _MAX_BYTES:
        raise ValueError(f"{what} must be at most {format_bytes(_MAX_BYTES)}, got {value!r}")
    return n


def _check_directory(directory: Path, need_bytes: int) -> None:
    if not directory.exists():
        raise FileNotFoundError(f"directory {str(directory)!r} does not exist; create it or pick another")
    if not directory.is_dir():
        raise NotADirectoryError(f"{str(directory)!r} is not a directory")
    if not os.access(directory, os.W_OK | os.X_OK):
        raise PermissionError(
            f"cannot write in {str(directory)!r}; pick a directory you can write to"
        )
    free = shutil.disk_usage(directory).free
    if free < need_bytes + SPACE_RESERVE_BYTES:
        raise InsufficientSpaceError(
            f"{str(directory)!r} has {format_bytes(free)} free; the run lays out "
            f"{format_bytes(need_bytes)} (workers x file size) and keeps "
            f"{format_bytes(SPACE_RESERVE_BYTES)} spare; use a smaller --size or fewer workers"
        )


def _probe_direct(workdir: Path) -> bool:
    """Return True when O_DIRECT open, aligned write and read work in ``workdir``."""
    probe = workdir / ".aicost-odirect-probe"
    buf = mmap.mmap(-1, DIRECT_IO_ALIGNMENT)
    fd = None
    try:
        fd = _os_open(probe, os.O_CREAT | os.O_EXCL | os.O_RDWR | os.O_DIRECT, 0o600)
        os.pwritev(fd, [buf], 0)
        os.preadv(fd, [buf], 0)
        return True
    except OSError as exc:
        if exc.errno in (errno.EINVAL, errno.EOPNOTSUPP, errno.ENOTSUP):
            return False
        raise
    finally:
        if fd is not None:
            os.close(fd)
        with contextlib.suppress(FileNotFoundError):
            probe.unlink()
        buf.close()


def _layout(path: Path, size: int, stop: threading.Event) -> None:
    """Write ``size`` bytes of incompressible data to a new file, fsync it, drop it from cache."""
    chunk = os.urandom(min(LAYOUT_CHUNK_BYTES, size))
    fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    try:
        done = 0
        while done < size:
            if stop.is_set():
                raise KeyboardInterrupt
            n = min(len(chunk), size - done)
            done += os.write(fd, chunk[:n] if n < len(chunk) else chunk)
        os.fsync(fd)
        if hasattr(os, "posix_fadvise"):
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    finally:
        os.close(fd)


def _open_for_io(path, is_write: bool, bs: int, direct: bool):
    """Open a worker's file and allocate its page-aligned buffer (filled for writes)."""
    flags = os.O_WRONLY if is_write else os.O_RDONLY
    if direct:
        flags |= os.O_DIRECT
    fd = _os_open(path, flags)
    try:
        buf = mmap.mmap(-1, bs)  # page-aligned, as O_DIRECT needs
        if is_write:
            buf.write(os.urandom(bs))
        if hasattr(os, "posix_fadvise") and not direct:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)  # fio's invalidate=1
    except BaseException:
        os.close(fd)
        raise
    return fd, buf


def _io_loop(fd, buf, path, is_write, is_random, bs, nblocks, fsync_every, seed, ramp_end,
             deadline, stop=None):
    """Issue I/O until ``deadline`` [monotonic ns]; return (latencies [ns] after ramp, last ns)."""
    import numpy as np

    op = _pwritev if is_write else _preadv
    rng = np.random.default_rng(seed)
    bufs = [buf]
    fsync_every = fsync_every if is_write else 0
    nwrites = 0
    lat: list[int] = []
    append = lat.append
    clock = time.monotonic_ns  # CLOCK_MONOTONIC: the same clock in every process
    last = 0
    seq_block = 0
    while True:
        if is_random:
            offsets = (rng.integers(0, nblocks, _OFFSET_BATCH, dtype=np.int64) * bs).tolist()
        else:
            offsets = [((seq_block + i) % nblocks) * bs for i in range(_OFFSET_BATCH)]
            seq_block = (seq_block + _OFFSET_BATCH) % nblocks
        for off in offsets:
            t0 = clock()
            n = op(fd, bufs, off)
            if fsync_every:
                nwrites += 1
                if nwrites % fsync_every == 0:
                    os.fsync(fd)
            t1 = clock()
            if n != bs:
                raise OSError(errno.EIO, f"short {'write' if is_write else 'read'} "
                              f"of {n} B at offset {off} in {path}")
            if t1 >= ramp_end:
                append(t1 - t0)
                last = t1
            if t1 >= deadline or (stop is not None and stop()):
                return lat, last


class _Worker(threading.Thread):
    """One worker thread (``engine="threads"``): ``os.preadv`` releases the GIL."""

    def __init__(self, idx, path, is_write, is_random, bs, nblocks, direct, fsync_every,
                 barrier, timing, stop, seed):
        super().__init__(name=f"aicost-storage-{idx}", daemon=True)
        self.idx, self.path = idx, path
        self.is_write, self.is_random = is_write, is_random
        self.bs, self.nblocks, self.direct, self.fsync_every = bs, nblocks, direct, fsync_every
        self.barrier, self.timing, self.stop, self.seed = barrier, timing, stop, seed
        self.lat_ns: list[int] = []
        self.last_ns = 0
        self.error: BaseException | None = None

    def run(self) -> None:
        fd = buf = None
        try:
            fd, buf = _open_for_io(self.path, self.is_write, self.bs, self.direct)
            self.barrier.wait()
            self.lat_ns, self.last_ns = _io_loop(
                fd, buf, self.path, self.is_write, self.is_random, self.bs, self.nblocks,
                self.fsync_every, self.seed, self.timing["ramp_end_ns"],
                self.timing["deadline_ns"], self.stop.is_set)
        except threading.BrokenBarrierError:
            pass
        except BaseException as exc:  # includes KeyboardInterrupt injected in a worker
            self.error = exc
            self.stop.set()
            self.barrier.abort()
        finally:
            if fd is not None:
                os.close(fd)
            if buf is not None:
                buf.close()


def _process_main(conn, path, is_write, is_random, bs, nblocks, direct, fsync_every, seed):
    """One worker process (``engine="processes"``, like fio's default forked jobs)."""
    import pickle
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops us

    def terminated(signum, frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminated)  # close our file and leave quietly
    fd = buf = None
    try:
        fd, buf = _open_for_io(path, is_write, bs, direct)
        conn.send(("ready",))
        msg = conn.recv()
        if msg[0] != "go":
            return
        lat, last = _io_loop(fd, buf, path, is_write, is_random, bs, nblocks, fsync_every, seed,
                             msg[1], msg[2])
        import numpy as np

        conn.send(("done", np.asarray(lat, dtype=np.int64).tobytes(), last))
    except (SystemExit, EOFError, BrokenPipeError, ConnectionResetError):
        pass  # terminated, or the parent went away (it removes the files): nothing to report
    except BaseException as exc:
        with contextlib.suppress(OSError, EOFError):
            try:
                conn.send(("error", exc))
            except (pickle.PicklingError, TypeError, AttributeError):  # not picklable
                conn.send(("error", OSError(str(exc))))
    finally:
        if fd is not None:
            os.close(fd)
        if buf is not None:
            buf.close()


def measure(
    directory: str | os.PathLike,
    pattern: str = "seqread",
    block_size: str | int = "1MiB",
    workers: int = 4,
    file_size: str | int = "1GiB",
    duration_s: float | str = 10.0,
    ramp_s: float | str = 1.0,
    direct: bool = True,
    fsync: int = 0,
    allow_buffered: bool = False,
    seed: int = 0,
    workspace: Workspace | None = None,
    engine: str = "threads",
) -> StorageResult:
    """Measure a file system's throughput, IOPS and latency the way fio's psync engine does.

    Parameters
    ----------
    directory : path
        An existing directory on the file system to measure. A work directory
        ``aicost-storage-*`` is created inside it and removed at the end (also after an error or
        Ctrl-C); no other file is touched.
    pattern : {"seqread", "seqwrite", "randread", "randwrite"}
        Access pattern (fio ``--rw`` read, write, randread, randwrite).
    block_size : str or int [B]
        Bytes per operation, e.g. ``"1MiB"`` or ``"4KiB"`` (fio ``--bs``).
    workers : int
        Parallel workers, each with its own file (fio ``--numjobs``).
    file_size : str or int [B]
        Size of each worker's file (fio ``--size``); ``workers * file_size`` bytes are written.
    duration_s : float [s]
        Measured time after the ramp (fio ``--runtime --time_based``).
    ramp_s : float [s]
        Time run but not counted at the start (fio ``--ramp_time``).
    direct : bool
        Use ``O_DIRECT`` (fio ``--direct=1``); page cache bypassed.
    fsync : int
        Call ``fsync`` after every this many writes (fio ``--fsync``); 0: never.
    allow_buffered : bool
        When the file system refuses ``O_DIRECT`` (tmpfs, some FUSE and network file systems),
        measure buffered I/O instead and flag the result ``buffered-fallback``. Off by default:
        buffered reads measure the page cache, not the device.
    seed : int
        Seed of the random offsets.
    workspace : Workspace, optional
        Files laid out beforehand (several patterns on the same files); ``directory`` is then
        ignored and the workspace is left for its ``with`` block to remove.
    engine : {"threads", "processes"}
        ``threads`` (default): one thread per worker, starts instantly; ``os.preadv`` releases
        the GIL, but at several hundred thousand IOPS the Python work between calls becomes
        the limit. ``processes``: one process per worker, as fio forks its jobs; no shared
        interpreter lock, about a second more to start. The result is flagged ``processes``.
        It uses ``multiprocessing`` (spawn): in a script, call it under
        ``if __name__ == "__main__":`` (notebooks and the CLI need nothing).

    Returns
    -------
    StorageResult

    Raises
    ------
    ValueError
        Impossible parameters (zero workers, block larger than the file, unaligned block size
        with direct I/O, unknown pattern).
    FileNotFoundError, NotADirectoryError, PermissionError
        The directory is missing or not writable.
    InsufficientSpaceError
        Less free space than ``workers * file_size`` plus a reserve.
    aicost.BackendUnavailableError
        The file system does not support O_DIRECT and ``allow_buffered`` is False.
    KeyboardInterrupt
        Re-raised after the work directory has been removed.
    """
    bs, size, dur, ramp, fsync = _check_params(
        pattern, block_size, workers, file_size, duration_s, ramp_s, direct, fsync)
    with _sigterm_as_interrupt():
        return _measure(directory, pattern, workers, direct, allow_buffered, workspace, seed,
                        engine, bs, size, dur, ramp, fsync)


def _measure(directory, pattern, workers, direct, allow_buffered, workspace, seed, engine, bs,
             size, dur, ramp, fsync) -> StorageResult:
    if engine not in ("threads", "processes"):
        raise ValueError(f"engine must be 'threads' or 'processes', got {engine!r}")
    is_write, is_random = PATTERNS[pattern]
    if workspace is not None:
        if workspace.closed:
            raise ValueError("the workspace is closed; measure inside its `with` block")
        if workspace.workers < workers or workspace.file_size_bytes < size:
            raise ValueError(
                f"the workspace holds {workspace.workers} file(s) of "
                f"{format_bytes(workspace.file_size_bytes)}; this run needs {workers} of "
                f"{format_bytes(size)}")
        if workspace.direct_requested != bool(direct):
            raise ValueError("direct must match the workspace's direct setting")
        return _run(workspace.paths[:workers], pattern, is_write, is_random, bs, size, workers,
                    dur, ramp, workspace.direct, bool(direct), fsync, workspace.filesystem,
                    workspace.directory, workspace.flags, seed, engine)
    with Workspace(directory, workers=workers, file_size=size, direct=direct,
                   allow_buffered=allow_buffered) as ws:
        return _run(ws.paths, pattern, is_write, is_random, bs, size, workers, dur, ramp,
                    ws.direct, bool(direct), fsync, ws.filesystem, ws.directory, ws.flags, seed,
                    engine)


class Workspace:
    """A work directory with one laid-out file per worker, removed on exit (also on Ctrl-C).

    Use it to run several patterns on the same files, as one fio job file does, or to point
    fio at the very files aicost measures (``fio --name=aicostjob --directory=ws.workdir``).

    Parameters
    ----------
    directory : path
        Existing, writable directory; ``aicost-storage-*`` is created inside it.
    workers : int
        Number of files.
    file_size : str or int [B]
        Size of each file.
    direct : bool
        Probe O_DIRECT support (and require it unless ``allow_buffered``).
    allow_buffered : bool
        Fall back to buffered I/O (flagged) when O_DIRECT is unsupported.

    Examples
    --------
    >>> with Workspace("/mnt/nvme", workers=4, file_size="1GiB") as ws:  # doctest: +SKIP
    ...     r1 = measure("/mnt/nvme", "seqread", workers=4, file_size="1GiB", workspace=ws)
    ...     r2 = measure("/mnt/nvme", "randread", "4KiB", workers=4, file_size="1GiB", workspace=ws)
    """

    def __init__(self, directory, *, workers: int = 4, file_size: str | int = "1GiB",
                 direct: bool = True, allow_buffered: bool = False) -> None:
        if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
            raise ValueError(f"workers must be a whole number >= 1, got {workers!r}")
        size = _bytes_arg("file size", file_size)
        if size <= 0:
            raise ValueError(f"file size must be positive, got {file_size!r}")
        self.directory = Path(directory).expanduser()
        self.workers = workers
        self.file_size_bytes = size
        self.direct_requested = bool(direct)
        self.allow_buffered = allow_buffered
        self.filesystem = "unknown"
        self.direct = bool(direct)
        self.flags: tuple[str, ...] = ()
        self.workdir: Path | None = None
        self.paths: list[Path] = []
        self.closed = True
        self._created: list[Path] = []
        self._stop = threading.Event()

    def __enter__(self) -> Workspace:
        with _sigterm_as_interrupt():  # a SIGTERM while laying out files still cleans up
            return self._enter()

    def _enter(self) -> Workspace:
        _check_directory(self.directory, self.workers * self.file_size_bytes)
        self.filesystem = filesystem_type(self.directory)
        try:
            self.workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=self.directory))
        except PermissionError:
            raise PermissionError(
                f"cannot create a work directory in {str(self.directory)!r}; "
                "pick a directory you can write to") from None
        self.closed = False
        try:
            flags = []
            if self.direct_requested and not _probe_direct(self.workdir):
                if not self.allow_buffered:
                    raise BackendUnavailableError(
                        f"the {self.filesystem} file system at {str(self.directory)!r} does not "
                        "support direct I/O (O_DIRECT); measure a directory on a disk, or allow "
                        "buffered I/O (allow_buffered=True, --buffered) knowing that it measures "
                        "the page cache")
                self.direct = False
                flags.append("buffered-fallback")
            if not self.direct:
                flags.append("buffered")
            self.flags = tuple(flags)
            paths = [self.workdir / f"{JOB_NAME}.{i}.0" for i in range(self.workers)]
            for p in paths:
                self._created.append(p)
                _layout(p, self.file_size_bytes, self._stop)
            self.paths = paths
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Remove the files and the work directory (idempotent)."""
        self._stop.set()
        if self.workdir is not None and not self.closed:
            _cleanup(self.workdir, self._created)
        self.closed = True


#: seconds allowed for workers to open their files and start
_START_TIMEOUT_S = 60.0
#: lead time between the start signal and the first timed operation [s]
_START_LEAD_S = 0.02


def _run(paths, pattern, is_write, is_random, bs, size, workers, dur, ramp, use_direct,
         direct_requested, fsync, fstype, directory, flags, seed, engine="threads") -> StorageResult:
    import numpy as np

    nblocks = size // bs
    if engine == "threads":
        lats, lasts, ramp_end = _run_threads(paths, is_write, is_random, bs, nblocks, use_direct,
                                             fsync, dur, ramp, seed)
    else:
        lats, lasts, ramp_end = _run_processes(paths, is_write, is_random, bs, nblocks,
                                               use_direct, fsync, dur, ramp, seed)
    lat = np.concatenate([np.asarray(x, dtype=np.int64) for x in lats]) / 1e9
    n_ops = int(lat.size)
    if n_ops == 0:
        raise RuntimeError(
            f"no operation completed within {dur:g} s after the {ramp:g} s ramp; "
            "use a longer duration"
        )
    window = max((max(lasts) - ramp_end) / 1e9, 1e-9)
    total = n_ops * bs
    p50, p99, p999 = np.percentile(lat, [50, 99, 99.9])
    return StorageResult(
        pattern=pattern, block_size_bytes=bs, workers=workers, file_size_bytes=size,
        duration_s=float(window), ramp_s=float(ramp), bytes_per_s=total / window,
        iops=n_ops / window, lat_mean_s=float(lat.mean()), lat_p50_s=float(p50),
        lat_p99_s=float(p99), lat_p999_s=float(p999), lat_max_s=float(lat.max()), n_ops=n_ops,
        bytes_total=int(total), direct=use_direct, direct_requested=direct_requested,
        fsync=fsync, filesystem=fstype, directory=str(directory),
        flags=flags + (("processes",) if engine == "processes" else ()),
    )


def _run_threads(paths, is_write, is_random, bs, nblocks, use_direct, fsync, dur, ramp, seed):
    stop = threading.Event()
    barrier = threading.Barrier(len(paths) + 1)
    timing: dict[str, int] = {}
    threads = [
        _Worker(i, p, is_write, is_random, bs, nblocks, use_direct, fsync, barrier, timing, stop,
                (seed, i))
        for i, p in enumerate(paths)
    ]
    for t in threads:
        t.start()
    try:
        start = time.monotonic_ns()
        timing["ramp_end_ns"] = start + int(ramp * 1e9)
        timing["deadline_ns"] = start + int((ramp + dur) * 1e9)
        try:
            barrier.wait(timeout=_START_TIMEOUT_S)
        except threading.BrokenBarrierError:
            pass  # a worker failed before starting; its error is raised below
        for t in threads:
            while t.is_alive():
                t.join(0.05)
    except BaseException:  # Ctrl-C in the main thread: stop the workers, then clean up
        stop.set()
        barrier.abort()
        for t in threads:
            t.join(10)
        raise
    for t in threads:
        if t.error is not None:
            raise t.error
    return [t.lat_ns for t in threads], [t.last_ns for t in threads], timing["ramp_end_ns"]


def _run_processes(paths, is_write, is_random, bs, nblocks, use_direct, fsync, dur, ramp, seed):
    import multiprocessing

    import numpy as np

    ctx = multiprocessing.get_context("spawn")
    procs, conns = [], []
    try:
        for i, p in enumerate(paths):
            parent, child = ctx.Pipe()
            proc = ctx.Process(target=_process_main, name=f"aicost-storage-{i}", daemon=True,
                               args=(child, str(p), is_write, is_random, bs, nblocks,
                                     use_direct, fsync, (seed, i)))
            proc.start()
            child.close()
            procs.append(proc)
            conns.append(parent)
        for c in conns:
            if not c.poll(_START_TIMEOUT_S):
                raise TimeoutError(f"a storage worker did not start within {_START_TIMEOUT_S:g} s")
            msg = c.recv()
            if msg[0] == "error":
                raise msg[1]
        start = time.monotonic_ns() + int(_START_LEAD_S * 1e9)
        ramp_end, deadline = start + int(ramp * 1e9), start + int((ramp + dur) * 1e9)
        for c in conns:
            c.send(("go", ramp_end, deadline))
        lats, lasts = [], []
        for c in conns:
            if not c.poll(ramp + dur + _START_TIMEOUT_S):
                raise TimeoutError("a storage worker did not finish in time")
            msg = c.recv()
            if msg[0] == "error":
                raise msg[1]
            lats.append(np.frombuffer(msg[1], dtype=np.int64))
            lasts.append(msg[2])
        return lats, lasts, ramp_end
    finally:
        for c in conns:
            c.close()
        for proc in procs:
            proc.join(0.5)
            if proc.is_alive():
                proc.kill()
                proc.join(5)


def _cleanup(workdir: Path, created: list[Path]) -> None:
    """Remove the files we created and the work directory (never anything else)."""
    for p in created:
        with contextlib.suppress(FileNotFoundError):
            p.unlink()
    with contextlib.suppress(FileNotFoundError):
        (workdir / ".aicost-odirect-probe").unlink()
    try:
        workdir.rmdir()
    except FileNotFoundError:
        pass
    except OSError:
        import warnings

        warnings.warn(
            f"left {workdir} in place: it holds files aicost did not create", stacklevel=3)


def quick_check(directory: str | os.PathLike | None = None, *, duration_s: float = 1.0) -> list[StorageResult]:
    """Run a short (~3 s) storage check for ``aicost demo``: 1 MiB sequential read, 4 KiB random read.

    Parameters
    ----------
    directory : path, optional
        Defaults to the current directory (``/tmp`` is often tmpfs, which measures memory).
    duration_s : float [s]
        Measured time per pattern.

    Returns
    -------
    list of StorageResult
        Buffered results (flagged) when the file system refuses O_DIRECT.
    """
    directory = Path(directory) if directory is not None else Path.cwd()
    out = []
    with Workspace(directory, workers=2, file_size="64MiB", allow_buffered=True) as ws:
        for pattern, bs in (("seqread", "1MiB"), ("randread", "4KiB")):
            out.append(measure(directory, pattern=pattern, block_size=bs, workers=2,
                               file_size="64MiB", duration_s=duration_s, ramp_s=0.25,
                               workspace=ws))
    return out
