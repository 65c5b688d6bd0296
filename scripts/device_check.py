#!/usr/bin/env python3
"""One-call GPU check of aicost's compute benchmarks (issue 3), for the H200 device machine.

Run on the device machine from the repository root:

    PYTHONUNBUFFERED=1 python3 scripts/device_check.py --out $OUT

In one process it

1. records the context and every backend's status (the numba-cuda status is taken in a
   subprocess *before* any compatibility shim, so its one-line reason is the real one);
2. runs the quick suite on CuPy cold (its wall time is a target: < 30 s on an H200);
3. checks the correctness of every GPU kernel (fresh random inputs, NaN-poisoned outputs,
   relative error against float64);
4. measures the references side by side, timed with ``triton.testing.do_bench`` (median):
   torch's device-to-device copy against the CuPy and Numba CUDA triads, torch.matmul
   against CuPy GEMM per dtype and shape, and aicost's timer against do_bench on the same ops;
5. (issue 15) times power-capped GEMMs three ways on the same operands: do_bench (before and
   after), aicost's timer as ``bench.gemm`` now runs it (at least ``GPU_GEMM_MIN_TIME_S`` =
   0.1 s of samples after a 0.1 s warm-up) and with the quick suite's old 20 ms; reads the NVML
   inventory (``aicost.fleet.gpu_inventory``); runs ``aicost.fleet.bench`` on a
   LocalCUDACluster (dask-cuda) or, without dask-cuda, a LocalCluster whose worker measures
   each GPU in a child process; all-pairs NCCL (``fleet.nccl_pairs``) on 2+ GPUs, a 1-rank
   all-reduce on one;
6. runs the quick suite on numba-cuda, then the full suites on CuPy and numba-cuda;
7. computes the target ratios and prints a short table last.

The fleet section needs Dask distributed (and duckdb for its analysis), which the device
image lacks: fetch the wheels here with ``scripts/device_wheels.sh`` (into ``.whl``, ignored by
git) and start the call with the install line that script prints. Without them the section
records why it was skipped. Whole run: about 3-4 minutes on an H200 (the previous check took
101 s; the new sections add about a minute); give the call ``timeout_s=480``.

numba-cuda 0.30.4 fails to import with numpy 2.5 (``module 'numpy' has no attribute
'row_stack'``). aicost reports that reason; this script then applies an explicit, logged
shim (``numpy.row_stack = numpy.vstack``) before importing numba so the Numba CUDA kernels
can still be measured, and records ``numba_shim_used`` in the output.

Files written under --out (flat, at most 8): device_check.json (summary: context, statuses,
checks, references, targets, timings, errors), quick_cupy.json, quick_numba_cuda.json,
full_cupy.json, full_numba_cuda.json, and results.json (all runs in the format of
``aicost.bench.load_results``, to be committed as data/results/<machine>.json). Every section
is in its own try/except and the summary is rewritten after each one.

``--cpu`` runs the same code paths with the CPU backends (numba, numpy) and small sizes, for
testing this script on a machine without a GPU (torch/triton sections use a host-clock
stand-in there and say so).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # aicost is not installed on the device machine
# Dask worker processes and fleet's per-GPU child processes import aicost too
os.environ["PYTHONPATH"] = str(ROOT) + (os.pathsep + os.environ["PYTHONPATH"]
                                        if os.environ.get("PYTHONPATH") else "")

T0 = time.perf_counter()
SUMMARY: dict = {"sections": {}, "errors": {}, "targets": {}}
OUT: Path = Path(".")
RUNS: dict = {}


def log(msg: str) -> None:
    print(f"[{time.perf_counter() - T0:7.1f}s] {msg}", flush=True)


def jsonable(v):
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if hasattr(v, "item") and not isinstance(v, (str, bytes)):
        try:
            return v.item()
        except Exception:
            return str(v)
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v


def write_summary() -> None:
    SUMMARY["elapsed_s"] = time.perf_counter() - T0
    tmp = OUT / "device_check.json.tmp"
    tmp.write_text(json.dumps(jsonable(SUMMARY), indent=1, default=str) + "\n")
    os.replace(tmp, OUT / "device_check.json")


def write_results() -> None:
    doc = {"context": SUMMARY.get("context", {}),
           "numba_shim_used": SUMMARY.get("numba_shim_used"),
           "runs": list(RUNS.values())}
    tmp = OUT / "results.json.tmp"
    tmp.write_text(json.dumps(jsonable(doc), indent=1, default=str) + "\n")
    os.replace(tmp, OUT / "results.json")


def section(name: str, budget_s: float):
    """Decorator: run a section once, timed, errors recorded, summary rewritten after."""
    def deco(fn):
        def wrapper(*a, **k):
            elapsed = time.perf_counter() - T0
            if elapsed > budget_s:
                SUMMARY["sections"][name] = {"skipped": f"time budget spent ({elapsed:.0f} s)"}
                log(f"SKIP {name}: time budget spent")
                write_summary()
                return None
            log(f"BEGIN {name}")
            t = time.perf_counter()
            try:
                out = fn(*a, **k)
                SUMMARY["sections"][name] = {"ok": True, "wall_s": time.perf_counter() - t}
                return out
            except BaseException as exc:  # noqa: BLE001 - one failure must not lose the rest
                SUMMARY["sections"][name] = {"ok": False, "wall_s": time.perf_counter() - t}
                SUMMARY["errors"][name] = "".join(traceback.format_exception(exc))[-4000:]
                log(f"FAIL {name}: {type(exc).__name__}: {exc}")
                if isinstance(exc, KeyboardInterrupt):
                    raise
                return None
            finally:
                log(f"END {name} ({time.perf_counter() - t:.1f} s)")
                write_summary()
        return wrapper
    return deco


# ----------------------------------------------------------------------------- shim
def numba_cuda_status_subprocess() -> dict:
    """aicost's numba-cuda status in a fresh interpreter with no shim (the real reason)."""
    code = (f"import sys; sys.path.insert(0, {str(ROOT)!r}); "
            "from aicost.bench import backend_status; "
            "import json; print(json.dumps(vars(backend_status('numba-cuda'))))")
    try:
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120)
        line = [x for x in p.stdout.splitlines() if x.startswith("{")]
        return json.loads(line[-1]) if line else {"error": p.stderr[-2000:]}
    except Exception as exc:
        return {"error": f"{type(exc).__name__}: {exc}"}


def apply_numba_shim() -> bool:
    """numpy 2.5 removed ``row_stack``; numba-cuda 0.30.4 still references it at import."""
    import numpy

    if hasattr(numpy, "row_stack"):
        return False
    setattr(numpy, "row_stack", numpy.vstack)  # noqa: B010 - the shim, explicit on purpose
    log("SHIM: numpy.row_stack = numpy.vstack (numba-cuda 0.30.4 needs it with numpy >= 2.5)")
    return True


# ----------------------------------------------------------------------------- references
def median_ms_do_bench(fn, cpu: bool) -> tuple[float, str]:
    """Median time [ms] through triton.testing.do_bench, or a host-clock stand-in with --cpu."""
    if not cpu:
        from triton.testing import do_bench

        try:
            return float(do_bench(fn, warmup=25, rep=100, return_mode="median")), "triton.do_bench"
        except TypeError:  # a triton without return_mode: ask for the 0.5 quantile
            q = do_bench(fn, warmup=25, rep=100, quantiles=[0.5])
            q = q[0] if isinstance(q, (list, tuple)) else q
            return float(q), "triton.do_bench (quantile 0.5)"
    for _ in range(3):
        fn()
    xs = []
    for _ in range(20):
        t = time.perf_counter()
        fn()
        xs.append(time.perf_counter() - t)
    return statistics.median(xs) * 1e3, "host-clock stand-in (--cpu)"


def ratio(a, b):
    try:
        return float(a) / float(b) if a and b else None
    except Exception:
        return None


# ----------------------------------------------------------------------------- issue 15
#: the quick suite's timer settings (aicost.bench._suite): what a GEMM got before the sustained
#: floor, kept as the contrast in the timer comparison
QUICK_TIMER = {"min_samples": 10, "min_time_s": 0.02, "max_time_s": 1.0}


def sustained_gemm_plan(cpu: bool) -> list:
    """(dtype, shape) of the power-capped GEMMs whose timer agreement with do_bench is checked:
    the H200 run's worst ratios (fp16/bf16 4096-token GEMMs of 0.5-1 ms) and the big squares."""
    if cpu:
        return [("fp32", 256), ("fp64", 192)]
    return [("bf16", 4096), ("fp16", 4096), ("bf16", 8192), ("fp16", 8192),
            ("fp16", "llama-3.1-8b.mlp_down@4096"), ("fp16", "llama-3.1-8b.o@4096"),
            ("bf16", "llama-3.1-8b.qkv@8192"), ("fp16", "llama-3.1-8b.qkv@8192"),
            ("tf32", 8192)]


def compare_timer(be, dtype: str, shape, cpu: bool, do_bench=None) -> dict:
    """One GEMM timed three ways on the same operands: do_bench (twice: before and after, its
    own spread is the noise floor), aicost's timer with the sustained floor (what bench.gemm
    does now) and with the quick suite's old 20 ms. Ratios are aicost / do_bench (mean of two)."""
    from aicost.bench import benchmark, gemm_shape
    from aicost.bench._measure import gemm_timer_kwargs

    do_bench = do_bench or median_ms_do_bench
    m, n, k = gemm_shape(shape)
    gpu = be.device_kind == "cuda"
    a, b, c = be.gemm_operands(dtype, m, n, k, 11)
    fn = be.gemm_fn(dtype, a, b, c)
    e = {"dtype": dtype, "shape": f"{m}x{n}x{k}", "layer": shape if isinstance(shape, str) else None}
    try:
        d1, how = do_bench(fn, cpu)
        sus = benchmark(fn, device=be.device_kind, clock=be.event_clock(),
                        **gemm_timer_kwargs(QUICK_TIMER, gpu))
        old = benchmark(fn, device=be.device_kind, clock=be.event_clock(), warmup_s=0.0 if cpu else None,
                        **QUICK_TIMER)
        d2, _ = do_bench(fn, cpu)
    finally:
        del a, b, c, fn
        be.free_all()
    ref = (d1 + d2) / 2
    e.update(do_bench_ms=[d1, d2], do_bench_timer=how, do_bench_spread=abs(d1 - d2) / ref,
             sustained_ms=sus.median_s * 1e3, sustained_n=sus.n_samples,
             sustained_sampled_s=sum(sus.samples_s), sustained_stop=sus.stop_reason,
             sustained_flags=list(sus.flags), quick_ms=old.median_s * 1e3, quick_n=old.n_samples,
             quick_sampled_s=sum(old.samples_s),
             ratio_sustained=ratio(sus.median_s * 1e3, ref), ratio_quick=ratio(old.median_s * 1e3, ref),
             tflops_sustained=2.0 * m * n * k / sus.median_s / 1e12,
             power_w_after=(sus.nvml_after or {}).get("power_w"),
             power_limit_w=(sus.nvml_after or {}).get("power_limit_w"),
             throttle_after=(sus.nvml_after or {}).get("throttle_reasons"))
    return e


def timer_targets(entries: list) -> dict:
    """The worst |ratio - 1| with the sustained floor and with the quick suite's 20 ms, and how
    many GEMMs fall outside 3 %."""
    def worst(key):
        rs = [x[key] for x in entries if x.get(key)]
        return max(rs, key=lambda r: abs(r - 1)) if rs else None

    def outside(key):
        return sum(1 for x in entries if x.get(key) and abs(x[key] - 1) > 0.03)

    return {"timer_sustained_over_do_bench": {
                "value": worst("ratio_sustained"), "n_outside_3pct": outside("ratio_sustained"),
                "n": len(entries), "target": "within 3 % (0.97-1.03)"},
            "timer_quick20ms_over_do_bench": {
                "value": worst("ratio_quick"), "n_outside_3pct": outside("ratio_quick"),
                "n": len(entries), "target": "contrast (the old setting)"}}


def fleet_check(cpu: bool, timeout_s: float = 240.0) -> dict:
    """aicost.fleet.bench on this machine: dask-cuda's LocalCUDACluster (one worker per GPU)
    when it is installed, else a LocalCluster of one worker that measures each GPU pinned in a
    child process; the quick suite on a GPU, smoke on --cpu; no store (the summary keeps it)."""
    out: dict = {}
    try:
        import distributed  # noqa: F401
    except ImportError as exc:
        return {"skipped": f"Dask distributed is not installed ({exc}); carry the wheels "
                           "(scripts/device_wheels.sh) and name .whl in carry"}
    from distributed import Client

    from aicost import fleet

    inv = fleet.gpu_inventory()
    try:
        cluster = fleet.local_cluster(1, gpu=bool(inv) and not cpu)
        out["cluster"] = type(cluster).__name__
    except fleet.FleetError as exc:  # GPUs but no dask-cuda: one worker, GPUs in children
        out["cluster_note"] = str(exc)
        cluster = fleet.local_cluster(1, gpu=False)
        out["cluster"] = "LocalCluster (GPUs isolated in child processes)"
    t = time.perf_counter()
    with cluster, Client(cluster) as client:
        run = fleet.bench(client, "smoke" if cpu else "quick", store=False, progress=False,
                          timeout_s=timeout_s)
    out["wall_s"] = time.perf_counter() - t
    out["units"] = run.units.drop(columns=["errors"], errors="ignore").to_dict(orient="records")
    out["n_records"] = len(run.records)
    out["failures"] = run.failures.to_dict(orient="records")
    recs = run.records
    out["records"] = recs[["unit_id", "metric", "value", "unit"]].to_dict(orient="records")
    try:
        out["efficiency"] = {k: {"value": v.value, "source": v.source}
                             for k, v in fleet.efficiency(recs).items()}
        an = fleet.analyze(recs)
        out["analysis"] = {"n_distributions": len(an.distribution), "n_stragglers": len(an.stragglers)}
    except ImportError as exc:  # no duckdb on the machine
        out["analysis"] = f"skipped: {exc}"
    return out


def nccl_check(cpu: bool) -> dict:
    """All-pairs NCCL bus bandwidth on 2+ GPUs (fleet.nccl_pairs, slow pairs flagged); on one GPU
    a 1-rank all-reduce through aicost.network so the NCCL path still runs."""
    from aicost import fleet, network

    if cpu:
        return {"skipped": "--cpu: no GPUs"}
    n, why = network.gpu_count()
    out: dict = {"gpus": n, "gpu_count_note": why}
    if n >= 2:
        pairs = fleet.nccl_pairs(nbytes=256 * 2**20, warmup=5, iters=20)
        try:
            pairs = fleet.flag_slow_pairs(pairs)
        except ImportError as exc:  # no duckdb
            out["flag_note"] = str(exc)
        out["pairs"] = pairs.to_dict(orient="records")
    else:
        df = network.nccl_collectives(["all_reduce"], [64 * 2**20], devices=[0], warmup=2, iters=5,
                                      _min_ranks=1)
        out["single_rank"] = df[["name", "size_bytes", "value", "median_s"]].to_dict(orient="records")
        out["pairs"] = "skipped: all-pairs needs 2 GPUs on the node"
    return out


# ----------------------------------------------------------------------------- markdown
def _fmt(v, digits=3):
    if v is None:
        return "n/a"
    if isinstance(v, float):
        return f"{v:.{digits}g}"
    return str(v)


def markdown_tables(summary: dict) -> str:
    """Targets, references and GEMM comparisons of a device_check.json as Markdown."""
    ctx = summary.get("context", {})
    info = ctx.get("device_info", {})
    out = [f"Device: {ctx.get('device')} ({info.get('sm_count')} SMs, L2 "
           f"{(info.get('l2_bytes') or 0) / 2**20:.0f} MiB), driver {ctx.get('driver_version')}, "
           f"CuPy {ctx.get('versions', {}).get('cupy-cuda13x') or info.get('cupy_version')}, "
           f"measured {ctx.get('time_utc')}; numba-cuda shim used: {summary.get('numba_shim_used')}.",
           "", "| target | measured | goal |", "| --- | --- | --- |"]
    for k, v in summary.get("targets", {}).items():
        out.append(f"| {k} | {_fmt(v.get('value'))} | {v.get('target')} |")
    refs = summary.get("references", {})
    out += ["", "| bandwidth | GB/s |", "| --- | --- |"]
    for k, v in refs.items():
        if isinstance(v, dict) and v.get("rate_bytes_per_s"):
            out.append(f"| {k} | {v['rate_bytes_per_s'] / 1e9:.0f} |")
    out += ["", "| GEMM | shape | aicost TFLOP/s | torch TFLOP/s | aicost/torch | timer/do_bench |",
            "| --- | --- | --- | --- | --- | --- |"]
    for e in refs.get("gemm", []):
        out.append(f"| {e['dtype']} | {e.get('layer') or e['shape']} | "
                   f"{(e.get('aicost_flops_per_s') or 0) / 1e12:.1f} | "
                   f"{(e.get('torch_flops_per_s') or 0) / 1e12:.1f} | "
                   f"{_fmt(e.get('ratio_aicost_over_torch'))} | {_fmt(e.get('timer_ratio'))} |")
    checks = summary.get("checks", {})
    bad = [k for k, v in checks.items() if not v.get("ok")]
    out += ["", f"Correctness checks: {len(checks) - len(bad)}/{len(checks)} passed"
            + (f"; failed: {', '.join(bad)}" if bad else ".")]
    return "\n".join(out)


# ----------------------------------------------------------------------------- main
def main(argv=None) -> int:
    global OUT
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=os.environ.get("OUT", "device_check_out"))
    ap.add_argument("--cpu", action="store_true", help="dry run on the CPU backends")
    ap.add_argument("--budget-s", type=float, default=420.0,
                    help="start no new section after this many seconds (default 420)")
    ap.add_argument("--skip-full", action="store_true", help="skip the full suites")
    ap.add_argument("--markdown", metavar="SUMMARY_JSON",
                    help="print the tables of a finished check (its device_check.json) as "
                         "Markdown for docs/benchmarks.md, then exit")
    args = ap.parse_args(argv)
    if args.markdown:
        print(markdown_tables(json.loads(Path(args.markdown).read_text())))
        return 0
    OUT = Path(args.out)
    OUT.mkdir(parents=True, exist_ok=True)
    cpu = args.cpu
    gpu_be, second_be = ("numba", "numpy") if cpu else ("cupy", "numba-cuda")
    SUMMARY["mode"] = "cpu-dry-run" if cpu else "gpu"
    budget = args.budget_s

    # --- 0. statuses before any shim ---------------------------------------------------------
    @section("status", budget)
    def status():
        SUMMARY["numba_cuda_status_no_shim"] = numba_cuda_status_subprocess()
        log(f"numba-cuda without shim: {SUMMARY['numba_cuda_status_no_shim']}")
        SUMMARY["numba_shim_used"] = apply_numba_shim() if not cpu else False
        from aicost.bench import available_backends, collect_context, get_backend

        SUMMARY["backends"] = available_backends().to_dict(orient="records")
        for r in SUMMARY["backends"]:
            log(f"backend {r['name']}: {'OK' if r['available'] else 'NO'} - {r['reason']}")
        SUMMARY["context"] = collect_context(get_backend(gpu_be))
        SUMMARY["context"]["numba_shim_used"] = SUMMARY["numba_shim_used"]
        log(f"device: {SUMMARY['context'].get('device')}; "
            f"tf32: {SUMMARY['context'].get('device_info', {}).get('tf32')}")

    status()

    from aicost import bench

    def run_suite(suite: str, backend: str) -> None:
        key = f"{suite}_{backend.replace('-', '_')}"
        t = time.perf_counter()
        r = bench.run(suite, backend=backend, store=False, progress=False)
        wall = time.perf_counter() - t
        r.context["numba_shim_used"] = SUMMARY.get("numba_shim_used")
        r.context["wall_s_outer"] = wall
        r.to_json(OUT / f"{key}.json")
        RUNS[key] = json.loads(r.to_json())
        write_results()
        SUMMARY.setdefault("suites", {})[key] = {
            "wall_s": wall, "n_results": len(r.df), "errors": r.errors, "partial": r.partial}
        for label, msg in r.errors:
            log(f"  {key} error in {label}: {msg}")
        log(f"  {key}: {len(r.df)} results in {wall:.1f} s")

    # --- 1. quick suite, cold -----------------------------------------------------------------
    section("quick suite " + gpu_be, budget)(lambda: run_suite("quick", gpu_be))()

    # --- 2. correctness of every GPU kernel ---------------------------------------------------
    checks: dict = {}
    SUMMARY["checks"] = checks

    def record_check(key, fn):
        try:
            err = fn()
            checks[key] = {"ok": True, "rel_err": err}
        except Exception as exc:
            checks[key] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
            log(f"  CHECK FAIL {key}: {exc}")

    @section("correctness", budget)
    def correctness():
        for bname in (gpu_be, second_be):
            try:
                be = bench.get_backend(bname)
            except Exception as exc:
                checks[bname] = {"ok": False, "error": f"{type(exc).__name__}: {exc}"}
                continue
            for dt in be.stream_dtypes:
                for op in ("copy", "scale", "add", "triad", "dot", "sum"):
                    for waves in ((1, None) if be.device_kind == "cuda" else (None,)):
                        record_check(f"{bname}/{op}/{dt}/waves={waves or 'full'}",
                                     lambda be=be, op=op, dt=dt, w=waves:
                                     bench.check_stream(be, op, dt, waves=w))
            for dt in be.gemm_dtypes:
                for shape in ((1024, 1536, 768), (1000, 1032, 1056)):
                    record_check(f"{bname}/gemm/{dt}/{'x'.join(map(str, shape))}",
                                 lambda be=be, dt=dt, s=shape: bench.check_gemm(be, dt, s))
            for dt in be.roofline_dtypes:
                record_check(f"{bname}/roofline/{dt}", lambda be=be, dt=dt:
                             bench.check_roofline(be, dt))
            if be.has_transfers:
                record_check(f"{bname}/transfer_roundtrip", be.transfer_check)
            be.free_all()
        n_ok = sum(1 for v in checks.values() if v.get("ok"))
        log(f"  checks: {n_ok}/{len(checks)} passed")

    correctness()

    # --- 3. references side by side -------------------------------------------------------------
    refs: dict = {}
    SUMMARY["references"] = refs

    @section("reference copy/triad", budget)
    def ref_stream():
        import numpy as np

        n = (1 << 28) if not cpu else (1 << 22)
        item = 4
        nbytes = n * item
        if cpu:
            x = np.random.default_rng(1).standard_normal(n, dtype=np.float32)
            y = np.empty_like(x)

            def torch_copy():
                np.copyto(y, x)
        else:
            import torch

            x = torch.randn(n, device="cuda", dtype=torch.float32)
            y = torch.empty_like(x)

            def torch_copy():
                y.copy_(x)
        ms, how = median_ms_do_bench(torch_copy, cpu)
        refs["torch_copy"] = {"n": n, "median_ms": ms, "bytes": 2 * nbytes,
                              "rate_bytes_per_s": 2 * nbytes / (ms * 1e-3), "timer": how}
        log(f"  torch copy: {2 * nbytes / (ms * 1e-3) / 1e9:.0f} GB/s ({how})")
        # aicost triads at the same n (their own rows, the suite's method: tuned waves)
        for bname in (gpu_be, second_be):
            try:
                df = bench.stream(("copy", "triad"), n=n, dtype="fp32", backend=bname,
                                  check=False, repeat=1)
                for _, row in df.iterrows():
                    refs[f"{bname}_{row['name']}"] = {
                        "n": n, "median_s": row["median_s"], "rate_bytes_per_s": row["value"],
                        "params": {k: row["params"].get(k) for k in ("grid", "waves", "waves_tuned_over")}}
                    log(f"  {bname} {row['name']}: {row['value'] / 1e9:.0f} GB/s")
                if bname == "numba-cuda":  # launch overhead hidden: 4 kernels per sample
                    df4 = bench.stream("triad", n=n, dtype="fp32", backend=bname, check=False,
                                       repeat=4)
                    refs[f"{bname}_triad_repeat4"] = {"n": n, "median_s": float(df4["median_s"][0]),
                                                     "rate_bytes_per_s": float(df4["value"][0])}
                    log(f"  {bname} triad (4 per sample): {float(df4['value'][0]) / 1e9:.0f} GB/s")
            except Exception as exc:
                refs[f"{bname}_triad"] = {"error": f"{type(exc).__name__}: {exc}"}
                log(f"  {bname} triad failed: {exc}")
        # timer agreement on the same op: torch copy, timed by aicost and by do_bench
        from aicost.bench import benchmark

        res = benchmark(torch_copy, device="cpu" if cpu else "cuda",
                        min_samples=10, min_time_s=0.1, max_time_s=3.0)
        refs["timer_torch_copy"] = {"aicost_median_ms": res.median_s * 1e3, "do_bench_median_ms": ms,
                                    "ratio": ratio(res.median_s * 1e3, ms), "n_samples": res.n_samples}
        log(f"  timer vs do_bench (copy): {res.median_s * 1e3:.4f} ms vs {ms:.4f} ms")

    ref_stream()

    @section("reference gemm", budget)
    def ref_gemm():
        import numpy as np

        from aicost.bench import GEMM_SHAPES, benchmark
        from aicost.bench._measure import gemm_timer_kwargs

        be = bench.get_backend(gpu_be)
        if cpu:
            plan = {"fp64": [256, 512], "fp32": [256, 512]}
        else:
            layers = [s for s in GEMM_SHAPES if s.endswith("@8192") or "8b" in s]
            plan = {"bf16": [4096, 8192, *layers], "fp16": [4096, 8192, *layers],
                    "tf32": [8192], "fp32": [8192], "fp64": [8192], "int8": [8192]}
        gemm_refs = refs.setdefault("gemm", [])
        torch = None
        if not cpu:
            import torch

        def torch_fn(dt, m, n, k):
            if cpu:
                a = np.random.default_rng(2).standard_normal((m, k)).astype(dt == "fp64" and np.float64 or np.float32)
                b = np.random.default_rng(3).standard_normal((k, n)).astype(a.dtype)
                c = np.empty((m, n), dtype=a.dtype)
                return lambda: np.matmul(a, b, out=c), (a, b, c)
            tdt = {"bf16": torch.bfloat16, "fp16": torch.float16, "fp32": torch.float32,
                   "tf32": torch.float32, "fp64": torch.float64}
            if dt == "int8":
                a = torch.randint(-8, 8, (m, k), device="cuda", dtype=torch.int8)
                bt = torch.randint(-8, 8, (n, k), device="cuda", dtype=torch.int8)
                b = bt.t()  # column-major (k, n): the layout _int_mm wants
                return (lambda: torch._int_mm(a, b)), (a, bt)
            a = torch.randn((m, k), device="cuda", dtype=tdt[dt])
            b = torch.randn((k, n), device="cuda", dtype=tdt[dt])
            c = torch.empty((m, n), device="cuda", dtype=tdt[dt])
            return (lambda: torch.matmul(a, b, out=c)), (a, b, c)

        def set_torch_tf32(on: bool):
            if cpu:
                return
            m = torch.backends.cuda.matmul
            if hasattr(m, "fp32_precision"):
                try:
                    m.fp32_precision = "tf32" if on else "ieee"
                    return
                except Exception:
                    pass
            m.allow_tf32 = on

        for dt, shapes in plan.items():
            for shp in shapes:
                m, n, k = GEMM_SHAPES[shp] if isinstance(shp, str) else (shp,) * 3
                entry = {"dtype": dt, "shape": f"{m}x{n}x{k}", "layer": shp if isinstance(shp, str) else None}
                try:
                    set_torch_tf32(dt == "tf32")
                    fn, keep = torch_fn(dt, m, n, k)
                    ms, how = median_ms_do_bench(fn, cpu)
                    entry.update(torch_median_ms=ms, torch_timer=how,
                                 torch_flops_per_s=2.0 * m * n * k / (ms * 1e-3))
                    del keep, fn
                    if not cpu:
                        torch.cuda.empty_cache()
                except Exception as exc:
                    entry["torch_error"] = f"{type(exc).__name__}: {exc}"
                finally:
                    set_torch_tf32(False)
                try:
                    a, b, c = be.gemm_operands(dt, m, n, k, 7)
                    fn = be.gemm_fn(dt, a, b, c)
                    res = benchmark(fn, device=be.device_kind, clock=be.event_clock(),
                                    **gemm_timer_kwargs({"min_samples": 10, "max_time_s": 3.0},
                                                        be.device_kind == "cuda"))
                    entry.update(aicost_median_ms=res.median_s * 1e3,
                                 aicost_flops_per_s=2.0 * m * n * k / res.median_s,
                                 aicost_flags=list(res.flags))
                    # the same aicost op timed by do_bench: timer agreement
                    ms2, _ = median_ms_do_bench(fn, cpu)
                    entry["aicost_op_do_bench_ms"] = ms2
                    entry["timer_ratio"] = ratio(res.median_s * 1e3, ms2)
                    del a, b, c, fn
                    be.free_all()
                except Exception as exc:
                    entry["aicost_error"] = f"{type(exc).__name__}: {exc}"
                entry["ratio_aicost_over_torch"] = ratio(entry.get("aicost_flops_per_s"),
                                                         entry.get("torch_flops_per_s"))
                gemm_refs.append(entry)
                log(f"  gemm {dt} {entry['shape']}: aicost "
                    f"{(entry.get('aicost_flops_per_s') or 0) / 1e12:.1f} vs torch "
                    f"{(entry.get('torch_flops_per_s') or 0) / 1e12:.1f} TFLOP/s, "
                    f"ratio {entry['ratio_aicost_over_torch']}, timer ratio {entry.get('timer_ratio')}")
                write_summary()

    ref_gemm()

    # --- 3b. issue 15: sustained GEMM timing vs do_bench, NVML, fleet, NCCL pairs ----------------
    @section("timer sustained gemm", budget)
    def timer_sustained():
        be = bench.get_backend(gpu_be)
        entries = refs.setdefault("timer_sustained", [])
        for dt, shp in sustained_gemm_plan(cpu):
            try:
                e = compare_timer(be, dt, shp, cpu)
            except Exception as exc:  # one GEMM's failure must not lose the others
                e = {"dtype": dt, "shape": str(shp), "error": f"{type(exc).__name__}: {exc}"}
            entries.append(e)
            log(f"  timer {dt} {e.get('layer') or e['shape']}: sustained/do_bench "
                f"{_fmt(e.get('ratio_sustained'), 4)} ({e.get('sustained_n')} samples, "
                f"{_fmt(e.get('sustained_sampled_s'))} s), quick-20ms/do_bench "
                f"{_fmt(e.get('ratio_quick'), 4)}; do_bench spread {_fmt(e.get('do_bench_spread'))}; "
                f"throttle {e.get('throttle_after')}")
            write_summary()

    timer_sustained()

    @section("nvml inventory", budget)
    def nvml_inventory():
        from aicost import fleet

        SUMMARY["nvml_inventory"] = inv = fleet.gpu_inventory()
        for g in inv:
            log(f"  GPU {g.get('gpu_index')} {g.get('gpu_name')} uuid {g.get('gpu_uuid')} serial "
                f"{g.get('gpu_serial')} SM {g.get('sm_clock_mhz')}/{g.get('max_sm_clock_mhz')} MHz "
                f"{g.get('power_w')}/{g.get('power_limit_w')} W throttle {g.get('throttle_reasons')}")
        if not inv:
            log("  NVML sees no GPU (nvidia-ml-py missing or no driver)")

    nvml_inventory()

    @section("fleet bench", budget)
    def fleet_bench():
        SUMMARY["fleet"] = f = fleet_check(cpu)
        log(f"  fleet: {f.get('skipped') or f.get('cluster')}; {f.get('n_records')} records in "
            f"{_fmt(f.get('wall_s'))} s; failures {f.get('failures')}")

    fleet_bench()

    @section("nccl pairs", budget)
    def nccl_pairs_section():
        SUMMARY["nccl"] = r = nccl_check(cpu)
        log(f"  nccl: {r.get('skipped') or r.get('gpus')} GPUs; pairs "
            f"{r.get('pairs') if isinstance(r.get('pairs'), str) else len(r.get('pairs') or [])}")

    nccl_pairs_section()

    # --- 4. numba-cuda quick, then the full suites ---------------------------------------------
    section("quick suite " + second_be, budget)(lambda: run_suite("quick", second_be))()
    if not args.skip_full:
        section("full suite " + gpu_be, budget)(lambda: run_suite("full", gpu_be))()
        section("full suite " + second_be, budget)(lambda: run_suite("full", second_be))()

    # --- 5. targets --------------------------------------------------------------------------------
    @section("targets", budget + 1e9)
    def targets():
        tg = SUMMARY["targets"]
        copy_rate = refs.get("torch_copy", {}).get("rate_bytes_per_s")
        tg["triad_over_torch_copy"] = {
            "value": ratio(refs.get(f"{gpu_be}_triad", {}).get("rate_bytes_per_s"), copy_rate),
            "target": 0.95}
        nb = max([refs.get(k, {}).get("rate_bytes_per_s") or 0
                  for k in (f"{second_be}_triad", f"{second_be}_triad_repeat4")]) or None
        tg["numba_triad_over_torch_copy"] = {"value": ratio(nb, copy_rate), "target": 0.90}
        for dt in ("bf16", "fp16"):
            rs = [e["ratio_aicost_over_torch"] for e in refs.get("gemm", [])
                  if e["dtype"] == dt and e.get("ratio_aicost_over_torch")]
            sq = [e["ratio_aicost_over_torch"] for e in refs.get("gemm", [])
                  if e["dtype"] == dt and e.get("layer") is None and e.get("ratio_aicost_over_torch")]
            tg[f"gemm_{dt}_over_torch"] = {"value": min(sq) if sq else None,
                                           "min_all_shapes": min(rs) if rs else None,
                                           "median_all_shapes": statistics.median(rs) if rs else None,
                                           "target": 0.97}
        trs = [e["timer_ratio"] for e in refs.get("gemm", []) if e.get("timer_ratio")]
        tc = refs.get("timer_torch_copy", {}).get("ratio")
        if tc:
            trs.append(tc)
        tg["timer_over_do_bench"] = {
            "value": max(trs, key=lambda r: abs(r - 1)) if trs else None,
            "all": trs, "target": "within 3 % (0.97-1.03)"}
        tg.update(timer_targets(refs.get("timer_sustained", [])))
        fl = SUMMARY.get("fleet", {})
        tg["fleet_bench_units_ok"] = {
            "value": (fl.get("skipped") or
                      f"{sum(1 for u in fl.get('units', []) if u.get('status') == 'ok')}/"
                      f"{len(fl.get('units', []))}"), "target": "all"}
        q = SUMMARY.get("suites", {}).get(f"quick_{gpu_be.replace('-', '_')}", {})
        tg["quick_suite_wall_s"] = {"value": q.get("wall_s"), "target": 30.0}
        n_ok = sum(1 for v in checks.values() if v.get("ok"))
        tg["correctness"] = {"value": f"{n_ok}/{len(checks)}", "target": "all"}

    targets()
    write_results()

    # --- 6. the short table, last --------------------------------------------------------------
    print("\n==== aicost device check ====")
    ctx = SUMMARY.get("context", {})
    print(f"device: {ctx.get('device')}  mode: {SUMMARY['mode']}  shim: {SUMMARY.get('numba_shim_used')}")
    print(f"numba-cuda (no shim): {SUMMARY.get('numba_cuda_status_no_shim', {}).get('reason')}")
    for k, v in SUMMARY["targets"].items():
        val = v.get("value")
        sval = f"{val:.3f}" if isinstance(val, float) else str(val)
        print(f"  {k:32s} {sval:>12s}   target {v.get('target')}")
    for name, s in SUMMARY["sections"].items():
        status_txt = "skipped" if "skipped" in s else ("ok" if s.get("ok") else "FAILED")
        print(f"  section {name:32s} {status_txt:8s} {s.get('wall_s', 0):6.1f} s")
    for e in refs.get("gemm", []):
        print(f"  gemm {e['dtype']:5s} {e['shape']:>18s} aicost "
              f"{(e.get('aicost_flops_per_s') or 0) / 1e12:7.1f} torch "
              f"{(e.get('torch_flops_per_s') or 0) / 1e12:7.1f} TF/s  ratio "
              f"{e.get('ratio_aicost_over_torch') or float('nan'):.3f}")
    for e in refs.get("timer_sustained", []):
        print(f"  timer {e['dtype']:5s} {str(e.get('layer') or e['shape']):>26s} sustained/do_bench "
              f"{_fmt(e.get('ratio_sustained'), 4):>6s} quick/do_bench {_fmt(e.get('ratio_quick'), 4):>6s} "
              f"do_bench spread {_fmt(e.get('do_bench_spread'), 2)}")
    failed = [k for k, v in checks.items() if not v.get("ok")]
    print(f"  checks failed: {failed or 'none'}")
    print(f"total {time.perf_counter() - T0:.0f} s; files in {OUT}")
    write_summary()
    return 0


if __name__ == "__main__":
    sys.exit(main())
