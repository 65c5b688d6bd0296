"""The quick and full suites: which measurements each runs on this backend, running them with
progress and Ctrl-C handling, and saving the run in the results store."""

from __future__ import annotations

import functools
import time
import warnings
from collections.abc import Callable

from .._errors import BackendUnavailableError, StoreError
from ._backends import get_backend
from ._context import collect_context
from ._measure import (
    gemm,
    launch_latency,
    memory_capacity,
    reduction,
    roofline_sweep,
    stream,
    transfer,
)
from ._rows import COLUMNS
from ._run import Run, jsonable
from ._workloads import GEMM_SHAPES

__all__ = ["SUITES", "run"]

SUITES = ("quick", "full")


def _suite_tasks(be, suite: str) -> list[tuple[str, Callable]]:
    """(label, callable returning a DataFrame) for each measurement of the suite."""
    gpu = be.device_kind == "cuda"
    quick = suite == "quick"
    t = ({"min_samples": 10, "min_time_s": 0.02, "max_time_s": 1.0} if quick
         else {"min_samples": 10, "min_time_s": 0.05, "max_time_s": 2.0})
    tasks: list[tuple[str, Callable]] = [("memory capacity", lambda: memory_capacity(be))]
    if gpu:
        tasks.append(("launch latency", lambda: launch_latency(be)))
        rep = 4 if be.name == "numba-cuda" else 1
        n32 = 1 << 27 if quick else 1 << 28
        tasks.append(("stream fp32", lambda: stream(n=n32, dtype="fp32", backend=be, timer=t,
                                                    repeat=rep)))
        tasks.append(("sum fp32", lambda: reduction("sum", n=n32, dtype="fp32", backend=be,
                                                    timer=t)))
        if not quick:
            tasks.append(("stream fp64", lambda: stream(n=1 << 27, dtype="fp64", backend=be,
                                                        timer=t, repeat=rep)))
            tasks.append(("sum fp64", lambda: reduction("sum", n=1 << 27, dtype="fp64",
                                                        backend=be, timer=t)))
        for dt in be.gemm_dtypes:
            sizes = [4096] if quick else [2048, 4096, 8192]
            tasks.append((f"gemm {dt}", functools.partial(gemm, dt, sizes, be, True, t)))
        if be.gemm_dtypes:
            layers = (["llama-3.1-8b.mlp_up@4096"] if quick else list(GEMM_SHAPES))
            for dt in (["bf16"] if quick else ["bf16", "fp16"]):
                if dt in be.gemm_dtypes:
                    tasks.append((f"gemm {dt} layers",
                                  functools.partial(gemm, dt, layers, be, False, t)))
        if be.has_transfers:
            nb = 256 * 2**20 if quick else 2**30
            tasks.append(("transfers", lambda: transfer(nb, be, timer=t)))
        for dt in be.roofline_dtypes:
            if quick and dt != "fp32":
                continue
            ks = (0, 1, 4, 16, 64, 256, 1024) if quick else None
            tasks.append((f"roofline {dt}",
                          functools.partial(roofline_sweep, dt, ks, 1 << 26 if quick else 1 << 27,
                                            be, True, t)))
    else:
        n = 1 << 23 if quick else 1 << 25
        tasks.append(("stream fp32", lambda: stream(n=n, dtype="fp32", backend=be, timer=t)))
        tasks.append(("sum fp32", lambda: reduction("sum", n=n, dtype="fp32", backend=be, timer=t)))
        if not quick:
            tasks.append(("stream fp64", lambda: stream(n=n, dtype="fp64", backend=be, timer=t)))
        for dt in be.gemm_dtypes:
            sizes = [256, 1024] if quick else [512, 1024, 2048]
            tasks.append((f"gemm {dt}", functools.partial(gemm, dt, sizes, be, True, t)))
        if not quick:
            tasks.append(("gemm fp32 layer", functools.partial(
                gemm, "fp32", [(512, 4096, 4096)], be, False, t)))
        for dt in be.roofline_dtypes:
            if quick and dt != "fp32":
                continue
            ks = (0, 1, 4, 16, 64) if quick else (0, 1, 2, 4, 8, 16, 32, 64, 128, 256)
            tasks.append((f"roofline {dt}", functools.partial(
                roofline_sweep, dt, ks, 1 << 21 if quick else 1 << 22, be, True, t)))
    return tasks


def run(suite: str = "quick", backend="auto", store=None, progress: bool = True,
        raise_errors: bool = False) -> Run:
    """Run a benchmark suite and save it in the results store.

    Parameters
    ----------
    suite : {"quick", "full"}
        quick: a few seconds on a GPU, under a minute on a 2-core CPU; full: all dtypes,
        sizes, transformer layer shapes and the whole roofline sweep.
    backend : str
        "auto" (the best that can run here), "cupy", "numba-cuda", "numba" or "numpy".
    store : None, Store or False
        None saves into the default store (``$AICOST_HOME/results.duckdb``); False saves
        nothing.
    progress : bool
        Show a tqdm progress bar.
    raise_errors : bool
        Re-raise the first failing task instead of recording it and going on.

    Returns
    -------
    Run
        ``partial=True`` when interrupted with Ctrl-C (the finished measurements are kept
        and saved, marked partial).
    """
    import pandas as pd

    if suite not in SUITES:
        raise ValueError(f"unknown suite {suite!r}; use one of {', '.join(SUITES)}")
    be = get_backend(backend)
    ctx = collect_context(be)
    ctx["suite"] = suite
    tasks = _suite_tasks(be, suite)
    frames: list = []
    errors: list = []
    partial = False
    t0 = time.perf_counter()
    bar = None
    if progress:
        try:
            from tqdm.auto import tqdm
        except ImportError:  # tqdm is optional: no progress bar
            tqdm = None
        if tqdm is not None:
            bar = tqdm(total=len(tasks), desc=f"bench {suite} ({be.name})", unit="task")
    try:
        for label, task in tasks:
            if bar is not None:
                bar.set_postfix_str(label)
            try:
                frames.append(task())
            except (BackendUnavailableError, KeyboardInterrupt):
                raise
            # one failing measurement must not sink the others: its error is recorded in
            # Run.errors and shown with the run (raise_errors=True re-raises instead)
            except Exception as exc:
                if raise_errors:
                    raise
                errors.append((label, f"{type(exc).__name__}: {exc}"))
            if bar is not None:
                bar.update(1)
    except KeyboardInterrupt:
        partial = True
        warnings.warn("benchmark interrupted: keeping the finished measurements (partial run)",
                      stacklevel=2)
    finally:
        if bar is not None:
            bar.close()
    ctx["wall_s"] = time.perf_counter() - t0
    frames = [f for f in frames if f is not None and len(f)]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    result = Run(df=df, context=ctx, partial=partial, errors=errors)
    if store is not False:
        result.run_id = _save(result, store)
    return result


def _save(result: Run, store) -> str | None:
    try:
        if store is None:
            from ..store import Store

            store = Store()
        return store.save_run(result.df, context=jsonable(result.context), kind="compute",
                              partial=result.partial)
    # a store that cannot take the run (locked, foreign or damaged file, no disk space, DuckDB
    # missing) must not lose the measurements: they stay in the Run, with a warning
    except (StoreError, OSError, ImportError) as exc:
        result.context["store_error"] = f"results not saved: {type(exc).__name__}: {exc}"
        warnings.warn(f"results not saved: {type(exc).__name__}: {exc}", stacklevel=3)
        return None
