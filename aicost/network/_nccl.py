"""NCCL collectives through ``cupy.cuda.nccl``, with algbw and busbw as nccl-tests computes them.

One process drives every GPU (``NcclCommunicator.initAll``; nccl-tests' ``-g`` mode): each
iteration launches the collective on every device inside ``groupStart``/``groupEnd``, and the
time of one collective is the wall time of ``iters`` back-to-back launches, after ``warmup``
untimed ones, divided by ``iters``, with every stream synchronized at both ends (as nccl-tests
times it). Sizes are counted as nccl-tests counts them (see :mod:`aicost.network._model`):

- all-reduce, broadcast: ``nbytes`` is the buffer on each rank;
- all-gather: ``nbytes`` is the gathered output (each rank sends ``nbytes / n``);
- reduce-scatter: ``nbytes`` is the input on each rank (each receives ``nbytes / n``);
- all-to-all: ``nbytes`` is each rank's send buffer (``nbytes / n`` to each peer), built from
  grouped ``send``/``recv`` (NCCL >= 2.7).

``algbw = nbytes / time``; ``busbw = algbw * busbw_factor(op, n)``.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence

import numpy as np

from .._errors import BackendUnavailableError
from ._model import COLLECTIVES, algbw_busbw, busbw_factor, normalize_op

__all__ = [
    "DEFAULT_NCCL_SIZES",
    "collective_rows",
    "gpu_count",
    "nccl_collectives",
    "round_nbytes",
    "save_collectives",
]

#: default sweep: 1 KiB to 1 GiB by factors of 4 [B]
DEFAULT_NCCL_SIZES = tuple(int(4**k * 1024) for k in range(11))
_ELEMENT_BYTES = 4  # float32, as nccl-tests' default


def gpu_count() -> tuple[int, str]:
    """Return ``(number of CUDA devices CuPy sees, why none when 0)``."""
    try:
        import cupy
    # CuPy is optional: an ImportError, or any error of a broken CUDA install while it
    # imports, becomes the reason there is no GPU
    except Exception as exc:
        return 0, f"CuPy is not importable ({exc}); install aicost[gpu]"
    try:
        return int(cupy.cuda.runtime.getDeviceCount()), ""
    except cupy.cuda.runtime.CUDARuntimeError as exc:
        return 0, f"no CUDA device ({exc})"


def round_nbytes(op: str, nbytes: int, n: int, element_bytes: int = _ELEMENT_BYTES) -> int:
    """Round ``nbytes`` down to what the collective can move with ``n`` ranks.

    All-gather, reduce-scatter and all-to-all split the buffer into ``n`` equal parts of whole
    elements, so their size is a multiple of ``n * element_bytes``; the others a multiple of
    ``element_bytes``. At least one element (per rank).
    """
    op = normalize_op(op)
    unit = element_bytes * (n if op in ("all_gather", "reduce_scatter", "all_to_all") else 1)
    return max(unit, (int(nbytes) // unit) * unit)


def collective_rows(op: str, nbytes: Sequence[float], time_s: Sequence[float], n: int,
                    *, device: str = "", dtype: str = "fp32"):
    """Result rows (store columns) for measured collective times.

    Parameters
    ----------
    op : str
    nbytes : sequence of float [B]
        Sizes as nccl-tests counts them.
    time_s : sequence of float [s]
        Time of one collective at each size.
    n : int
        Ranks.

    Returns
    -------
    pandas.DataFrame
        ``kind="collective"``, ``name`` = op, ``value`` = busbw [B/s], ``median_s`` = time,
        ``size_bytes`` = nbytes, ``params`` with ``n_ranks``, ``nbytes``, ``algbw_bytes_per_s``,
        ``busbw_factor``.
    """
    import pandas as pd

    op = normalize_op(op)
    sizes = np.asarray(nbytes, dtype=float)
    times = np.asarray(time_s, dtype=float)
    alg, bus = algbw_busbw(op, sizes, times, n)
    alg, bus = np.atleast_1d(alg), np.atleast_1d(bus)
    factor = busbw_factor(op, n)
    return pd.DataFrame({
        "kind": "collective", "name": op, "backend": "nccl", "device": device, "dtype": dtype,
        "size_bytes": sizes, "median_s": times, "value": bus, "unit": "B/s",
        "params": [{"n_ranks": int(n), "nbytes": float(s), "algbw_bytes_per_s": float(a),
                    "busbw_factor": float(factor)} for s, a in zip(sizes, alg)],
        "algbw_bytes_per_s": alg,
    })


def _launch(nccl, op, comms, sends, recvs, nbytes, n, streams, dtype_code, sum_code):
    count = nbytes // _ELEMENT_BYTES
    part = count // n
    nccl.groupStart()
    try:
        for rank, comm in enumerate(comms):
            s, r, st = sends[rank].data.ptr, recvs[rank].data.ptr, streams[rank].ptr
            if op == "all_reduce":
                comm.allReduce(s, r, count, dtype_code, sum_code, st)
            elif op == "broadcast":
                comm.broadcast(s, r, count, dtype_code, 0, st)
            elif op == "all_gather":
                comm.allGather(s, r, part, dtype_code, st)
            elif op == "reduce_scatter":
                comm.reduceScatter(s, r, part, dtype_code, sum_code, st)
            else:  # all_to_all from grouped point-to-point calls
                step = part * _ELEMENT_BYTES
                for peer in range(n):
                    comm.send(s + peer * step, part, dtype_code, peer, st)
                    comm.recv(r + peer * step, part, dtype_code, peer, st)
    finally:
        nccl.groupEnd()


def nccl_collectives(
    ops: Iterable[str] = COLLECTIVES,
    sizes: Iterable[int] = DEFAULT_NCCL_SIZES,
    *,
    devices: Sequence[int] | None = None,
    warmup: int = 5,
    iters: int = 20,
    check: bool = True,
    _min_ranks: int = 2,
):
    """Measure NCCL collectives across this host's GPUs over a sweep of sizes.

    Parameters
    ----------
    ops : iterable of str
        Collectives: ``all_reduce``, ``all_gather``, ``reduce_scatter``, ``broadcast``,
        ``all_to_all``.
    sizes : iterable of int [B]
        Message sizes as nccl-tests counts them (rounded down to whole elements per rank).
    devices : sequence of int, optional
        CUDA device ids (default: all).
    warmup, iters : int
        Untimed and timed launches per size.
    check : bool
        Verify the all-reduce result once (each rank contributes ones; expect ``n``).

    Returns
    -------
    pandas.DataFrame
        One row per (op, size) in the store's columns; see :func:`collective_rows`.

    Raises
    ------
    aicost.BackendUnavailableError
        Fewer than two GPUs ("needs two GPUs, found N"), or CuPy/NCCL unavailable.
    """
    import pandas as pd

    ops = [normalize_op(o) for o in ops]
    sizes = [int(s) for s in sizes]
    if not ops or not sizes:
        raise ValueError("give at least one collective and one size")
    if warmup < 0 or iters < 1:
        raise ValueError("warmup must be >= 0 and iters >= 1")
    found, why = gpu_count()
    ids = list(range(found)) if devices is None else [int(d) for d in devices]
    if len(ids) < _min_ranks or found < _min_ranks:
        have = min(found, len(ids)) if devices is not None else found
        raise BackendUnavailableError(
            f"measuring NCCL collectives needs two GPUs, found {have}"
            + (f": {why}" if why else "")
            + "; on a single GPU use the alpha-beta model (aicost.network.collective_time)")
    try:
        import cupy
        from cupy.cuda import nccl
    except ImportError as exc:  # CuPy built without NCCL support
        raise BackendUnavailableError(f"cupy.cuda.nccl is not available: {exc}") from exc
    if not getattr(nccl, "available", True):
        raise BackendUnavailableError(
            "CuPy cannot load the NCCL library; install it (pip install nvidia-nccl-cu12)")
    n = len(ids)
    dtype_code = getattr(nccl, "NCCL_FLOAT32", getattr(nccl, "NCCL_FLOAT", 7))
    sum_code = nccl.NCCL_SUM
    comms = nccl.NcclCommunicator.initAll(ids)
    names = []
    for d in ids:
        with cupy.cuda.Device(d):
            names.append(cupy.cuda.runtime.getDeviceProperties(d)["name"].decode())
    device = f"{n}x {names[0]}" if len(set(names)) == 1 else ", ".join(names)
    frames = []
    try:
        streams = []
        for d in ids:
            with cupy.cuda.Device(d):
                streams.append(cupy.cuda.Stream(non_blocking=True))

        def sync():
            for d, st in zip(ids, streams):
                with cupy.cuda.Device(d):
                    st.synchronize()

        for op in ops:
            times, counted = [], []
            for size in sizes:
                nbytes = round_nbytes(op, size, n)
                in_bytes = nbytes // n if op == "all_gather" else nbytes
                out_bytes = nbytes // n if op == "reduce_scatter" else nbytes
                sends, recvs = [], []
                for d in ids:
                    with cupy.cuda.Device(d):
                        sends.append(cupy.ones(in_bytes // _ELEMENT_BYTES, dtype=cupy.float32))
                        recvs.append(cupy.zeros(out_bytes // _ELEMENT_BYTES, dtype=cupy.float32))
                for _ in range(max(warmup, 1 if check and op == "all_reduce" else 0)):
                    _launch(nccl, op, comms, sends, recvs, nbytes, n, streams, dtype_code, sum_code)
                sync()
                if check and op == "all_reduce" and not counted:
                    for d, r in zip(ids, recvs):
                        with cupy.cuda.Device(d):
                            if not bool(cupy.all(r == n)):
                                raise RuntimeError(f"NCCL all-reduce gave a wrong result on device {d}")
                t0 = time.perf_counter()
                for _ in range(iters):
                    _launch(nccl, op, comms, sends, recvs, nbytes, n, streams, dtype_code, sum_code)
                sync()
                times.append((time.perf_counter() - t0) / iters)
                counted.append(nbytes)
                del sends, recvs
            frames.append(collective_rows(op, counted, times, n, device=device))
    finally:
        for c in comms:
            c.destroy()
    return pd.concat(frames, ignore_index=True)


def save_collectives(df, *, store=None, context: dict | None = None) -> str:
    """Save :func:`nccl_collectives` rows as one run of kind ``collective``; return its id."""
    from ..store import Store, current_context

    ctx = {**current_context(), "backend": "nccl", **(context or {})}
    if len(df):
        ctx.setdefault("device", str(df["device"].iloc[0]))
    return (store or Store()).save_run(df, context=ctx, kind="collective")
