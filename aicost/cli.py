"""The ``aicost`` command line. It holds no logic: each command calls one public function.

Commands
--------
aicost --version
aicost catalog list accelerators|instances|storage|fabrics [--provider P] [--format table|csv|json]
aicost catalog show NAME
aicost store list
aicost bench compute|storage|network ...
aicost plan train|serve ...
aicost report KIND ... -o report.html
aicost demo
aicost fleet bench --local N | --scheduler tcp://host:8786 [--suite quick]
aicost fleet analyze [FLEET_ID]
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ._errors import AicostError
from ._version import __version__

__all__ = ["build_parser", "main"]

#: optional dependencies and the extra that installs them
_EXTRA_FOR = {
    "plotly": "aicost (core)",
    "duckdb": "aicost (core)",
    "ipywidgets": "aicost[notebooks]",
    "papermill": "aicost[notebooks]",
    "nbconvert": "aicost[notebooks]",
    "nbformat": "aicost[notebooks]",
    "numba": "aicost[cpu]",
    "cupy": "aicost[gpu]",
    "pynvml": "aicost[gpu]",
    "distributed": "aicost[fleet]",
    "dask": "aicost[fleet]",
    "dask_cuda": "aicost[gpu,fleet]",
}


# ----------------------------------------------------------------------------- output helpers
def _emit(df, fmt: str = "table", out=None) -> None:
    """Print a DataFrame as an aligned table, CSV or JSON records."""
    import pandas as pd

    out = out or sys.stdout
    if fmt == "csv":
        df.to_csv(out, index=False)
    elif fmt == "json":
        out.write(df.to_json(orient="records", indent=2, date_format="iso", default_handler=str))
        out.write("\n")
    else:
        with pd.option_context(
            "display.max_rows", 500, "display.max_columns", 50, "display.width", 200,
            "display.max_colwidth", 60,
        ):
            out.write(df.to_string(index=False) + "\n")


def _write_json(records, path: str) -> None:
    """Write JSON records to ``path`` atomically (temp file in the same folder, then rename)."""
    import os
    import tempfile

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(records, fh, indent=2, default=str)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _add_format(p: argparse.ArgumentParser) -> None:
    p.add_argument("--format", choices=("table", "csv", "json"), default="table",
                   help="output format (default: table)")


# ----------------------------------------------------------------------------- catalog
def _add_catalog(sub) -> None:
    p = sub.add_parser("catalog", help="list and look up the hardware and price catalog")
    csub = p.add_subparsers(dest="catalog_command", required=True)
    lp = csub.add_parser("list", help="list a catalog table")
    lp.add_argument("table", choices=("accelerators", "instances", "storage", "fabrics"))
    lp.add_argument("--provider", help="only rows of this provider (instances, storage)")
    lp.add_argument("--extra", action="append", default=[], metavar="CSV",
                    help="user CSV adding or overriding rows (repeatable)")
    lp.add_argument("--all", action="store_true",
                    help="every column in the table format (csv and json always have all)")
    _add_format(lp)
    lp.set_defaults(func=_cmd_catalog_list)
    sp = csub.add_parser("show", help="show one accelerator, instance, storage tier or fabric")
    sp.add_argument("name")
    sp.add_argument("--extra", action="append", default=[], metavar="CSV")
    sp.add_argument("--format", choices=("table", "json"), default="table")
    sp.set_defaults(func=_cmd_catalog_show)


#: the columns `aicost catalog list` shows as a terminal table (csv/json and --all show every one)
_TABLE_COLUMNS = {
    "accelerators": ["name", "vendor", "fp64_tflops", "fp32_tflops", "tf32_tflops", "bf16_tflops",
                     "fp8_tflops", "memory_gib", "mem_bw_gb_s", "scale_up_gb_s", "tdp_watts", "as_of"],
    "instances": ["provider", "instance_type", "region", "accelerator", "accelerator_count",
                  "price_on_demand_usd_per_hour", "price_spot_usd_per_hour",
                  "price_usd_per_gpu_hour", "usd_per_bf16_pflop_hour", "spot_discount",
                  "scale_out_fabric", "as_of"],
    "storage": ["name", "provider", "kind", "throughput_mb_s", "throughput_basis", "iops",
                "latency_ms", "price_usd_per_gb_month", "as_of"],
    "fabrics": ["name", "kind", "bandwidth_gb_s", "basis", "latency_us", "as_of"],
}


def _cmd_catalog_list(args) -> int:
    from . import catalog

    cat = catalog.load(extra=args.extra or None)
    df = cat.table(args.table, provider=args.provider)
    if args.format == "table" and not args.all:
        df = df[[c for c in _TABLE_COLUMNS[args.table] if c in df.columns]]
    _emit(df, args.format)
    return 0


def _cmd_catalog_show(args) -> int:
    from . import catalog

    cat = catalog.load(extra=args.extra or None)
    rec = cat.find(args.name)
    if args.format == "json":
        print(json.dumps(rec.to_dict(), indent=2, default=str))
    else:
        print(rec)
    return 0


# ----------------------------------------------------------------------------- store
def _add_store(sub) -> None:
    p = sub.add_parser("store", help="the results database")
    ssub = p.add_subparsers(dest="store_command", required=True)
    lp = ssub.add_parser("list", help="list saved runs")
    lp.add_argument("--path", help="database file (default: $AICOST_HOME/results.duckdb)")
    lp.add_argument("--kind", help="only runs of this kind (compute, storage, network, ...)")
    _add_format(lp)
    lp.set_defaults(func=_cmd_store_list)
    shp = ssub.add_parser("show", help="show the results of one run")
    shp.add_argument("run_id")
    shp.add_argument("--path")
    _add_format(shp)
    shp.set_defaults(func=_cmd_store_show)
    cp = ssub.add_parser("compare", help="compare two runs result by result")
    cp.add_argument("run_a")
    cp.add_argument("run_b")
    cp.add_argument("--path")
    _add_format(cp)
    cp.set_defaults(func=_cmd_store_compare)


def _cmd_store_list(args) -> int:
    from .store import Store

    _emit(Store(args.path).runs(kind=args.kind), args.format)
    return 0


def _cmd_store_show(args) -> int:
    from .store import Store

    _emit(Store(args.path).results(run_id=args.run_id), args.format)
    return 0


def _cmd_store_compare(args) -> int:
    from .store import Store

    _emit(Store(args.path).compare(args.run_a, args.run_b), args.format)
    return 0


# ----------------------------------------------------------------------------- bench
def _add_bench(sub) -> None:
    p = sub.add_parser("bench", help="measure compute, storage or network")
    bsub = p.add_subparsers(dest="bench_command", required=True)
    _add_bench_compute(bsub)
    _add_bench_storage(bsub)
    _add_bench_network(bsub)


def _add_bench_compute(bsub) -> None:
    """`aicost bench compute` (issue: compute benchmarks)."""
    p = bsub.add_parser("compute", help="GEMM, memory bandwidth, reductions, latency, transfers, "
                                         "roofline (GPU via CuPy/Numba CUDA, CPU via Numba/NumPy)")
    p.add_argument("--suite", choices=("quick", "full"), default="quick",
                   help="quick: seconds on a GPU, under a minute on a CPU; full: every dtype, "
                        "size, transformer layer shape and the whole roofline (default: quick)")
    p.add_argument("--backend", default="auto",
                   help="auto, cupy, numba-cuda, numba or numpy (default: auto = best available)")
    p.add_argument("--json", metavar="PATH", help="also write the results as JSON records")
    p.add_argument("--no-store", action="store_true", help="do not save in the results store")
    p.add_argument("--list-backends", action="store_true",
                   help="show which backends can run here and why the others cannot, then exit")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    _add_format(p)
    p.set_defaults(func=_cmd_bench_compute)


def _cmd_bench_compute(args) -> int:
    from . import bench

    if args.list_backends:
        _emit(bench.available_backends(), args.format)
        return 0
    result = bench.run(args.suite, backend=args.backend, store=False if args.no_store else None,
                       progress=not args.no_progress)
    if args.json:
        _write_json(result.to_records(), args.json)
    _emit(result.summary(), args.format)
    for label, msg in result.errors:
        print(f"aicost: {label} failed: {msg}", file=sys.stderr)
    if result.run_id:
        print(f"saved run {result.run_id}", file=sys.stderr)
    if result.partial:
        print("aicost: interrupted; the finished measurements were kept (partial run)",
              file=sys.stderr)
        return 130
    return 1 if result.errors else 0


def _add_bench_storage(bsub) -> None:
    """`aicost bench storage` (issue: storage and network)."""
    p = bsub.add_parser(
        "storage", help="measure a file system like fio (direct I/O, parallel workers)",
        description="Measure throughput, IOPS and latency of a file system with fio's semantics "
                    "(O_DIRECT, psync). Files are laid out in a temporary work directory inside "
                    "--dir and removed afterwards.")
    p.add_argument("--dir", default=".", help="directory on the file system to measure (default: .)")
    p.add_argument("--pattern", default="seqread",
                   choices=("seqread", "seqwrite", "randread", "randwrite"))
    p.add_argument("--block-size", default="1MiB", help="bytes per I/O (default 1MiB)")
    p.add_argument("--workers", type=int, default=4, help="parallel workers (default 4)")
    p.add_argument("--size", default="1GiB", help="file size per worker (default 1GiB)")
    p.add_argument("--duration", default="10", help="measured seconds (default 10)")
    p.add_argument("--ramp", default="1", help="seconds run but not counted first (default 1)")
    p.add_argument("--fsync", type=int, default=0, help="fsync every N writes (default 0: never)")
    p.add_argument("--buffered", action="store_true",
                   help="fall back to buffered I/O where O_DIRECT is unsupported (flagged)")
    p.add_argument("--engine", choices=("threads", "processes"), default="threads",
                   help="one thread (default) or one process (like fio) per worker")
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    p.add_argument("--no-store", action="store_true", help="do not save to the results store")
    p.set_defaults(func=_cmd_bench_storage)


def _cmd_bench_storage(args) -> int:
    from . import storage

    res = storage.measure(args.dir, pattern=args.pattern, block_size=args.block_size,
                          workers=args.workers, file_size=args.size, duration_s=args.duration,
                          ramp_s=args.ramp, fsync=args.fsync, allow_buffered=args.buffered,
                          engine=args.engine)
    print(res)
    if args.json:
        _write_json([res.to_dict()], args.json)
    if not args.no_store:
        print(f"saved run {storage.save_results(res)}")
    return 0


def _add_bench_network(bsub) -> None:
    """`aicost bench network` (issue: storage and network)."""
    p = bsub.add_parser(
        "network", help="measure TCP throughput like iperf3 (loopback by default)",
        description="TCP stream throughput between a server process and a client, parallel "
                    "streams, warm-up omitted; NCCL collectives with --nccl on 2+ GPUs.")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on and connect to")
    p.add_argument("--port", type=int, default=0, help="TCP port (default 0: any free port)")
    p.add_argument("--streams", type=int, default=4, help="parallel streams (default 4)")
    p.add_argument("--duration", type=float, default=5.0, help="measured seconds (default 5)")
    p.add_argument("--omit", type=float, default=1.0, help="warm-up seconds omitted (default 1)")
    p.add_argument("--bind-all", action="store_true", help="listen on all interfaces")
    p.add_argument("--nccl", action="store_true",
                   help="measure NCCL collectives across this host's GPUs instead (needs 2+)")
    p.add_argument("--json", metavar="PATH", help="also write the result as JSON")
    p.add_argument("--no-store", action="store_true", help="do not save to the results store")
    p.set_defaults(func=_cmd_bench_network)


def _cmd_bench_network(args) -> int:
    from . import network

    if args.nccl:
        df = network.nccl_collectives()
        _emit(df.drop(columns=["params"]))
        if args.json:
            _write_json(json.loads(df.to_json(orient="records", default_handler=str)), args.json)
        if not args.no_store:
            print(f"saved run {network.save_collectives(df)}")
        return 0
    res = network.measure_tcp(args.host, args.port, streams=args.streams,
                              duration_s=args.duration, omit_s=args.omit, bind_all=args.bind_all)
    print(res)
    if args.json:
        _write_json([res.to_dict()], args.json)
    if not args.no_store:
        print(f"saved run {network.save_results(res)}")
    return 0


# ----------------------------------------------------------------------------- plan
def _add_plan(sub) -> None:
    """`aicost plan train|serve` (issue: workload models and planner)."""
    from ._units import parse_duration

    def number(text: str) -> float:
        try:
            return float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number such as 2e12, got {text!r}") from None

    def duration(text: str) -> float:
        try:
            return parse_duration(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    def names(text: str) -> list[str]:
        return [t for t in text.replace(",", " ").split() if t]

    p = sub.add_parser("plan", help="what to rent to train or serve a model, and what it costs")
    psub = p.add_subparsers(dest="plan_command", required=True)

    def common(q) -> None:
        q.add_argument("--model", required=True, help="model preset (e.g. llama-3.1-70b)")
        q.add_argument("--providers", type=names, help="comma-separated providers (default: all)")
        q.add_argument("--accelerators", type=names, help="comma-separated accelerators (default: all)")
        q.add_argument("--pricing", type=names, default=["on_demand", "spot"],
                       help="comma-separated pricing models: on_demand, spot, reserved_1y "
                            "(default: on_demand,spot)")
        q.add_argument("--efficiency", type=number,
                       help="compute efficiency, fraction of peak (default: measured or documented)")
        q.add_argument("--extra", action="append", default=[], metavar="CSV",
                       help="user catalog CSV adding or overriding rows (repeatable)")
        q.add_argument("--top", type=int, default=10, help="plans to list (default 10)")
        q.add_argument("--json", metavar="PATH", help="also write the plan as JSON to PATH")

    tp_ = psub.add_parser("train", help="plan a training run: offers x nodes x layouts x pricing")
    common(tp_)
    tp_.add_argument("--tokens", type=number, required=True, help="training tokens, e.g. 2e12")
    tp_.add_argument("--deadline", type=duration, help="longest expected wall time, e.g. 30d")
    tp_.add_argument("--budget", type=number, help="largest expected cost [USD], e.g. 2e6")
    tp_.add_argument("--max-gpus", type=int, default=16384, help="largest cluster searched (16384)")
    tp_.add_argument("--storage-tier", help="checkpoint storage tier (default: each provider's)")
    tp_.add_argument("--objective", choices=("auto", "cost", "time", "balanced"), default="auto")
    tp_.add_argument("--global-batch-tokens", type=number, default=4 * 2**20,
                     help="tokens per optimizer step (default 4Mi, as Llama 2)")
    tp_.add_argument("--seq-len", type=int, help="training sequence length (default: the model's)")
    tp_.add_argument("--failure-rate", type=number,
                     help="interruptions per GPU-hour (default: Llama 3 report, 1.97e-5)")
    tp_.add_argument("--preemption-rate", type=number,
                     help="spot preemptions per node-hour (default: 0.2 per node-month)")
    tp_.set_defaults(func=_cmd_plan_train)

    sp = psub.add_parser("serve", help="plan serving: offers x tensor parallelism x batch x replicas")
    common(sp)
    sp.add_argument("--qps", type=number, help="requests per second (or --demand)")
    sp.add_argument("--demand", help="demand trace name or CSV (hour, requests_per_s) instead of --qps")
    sp.add_argument("--prompt", type=int, default=512, help="prompt tokens per request (512)")
    sp.add_argument("--output", type=int, default=256, help="output tokens per request (256)")
    sp.add_argument("--ttft", type=duration, help="time-to-first-token target, e.g. 1s")
    sp.add_argument("--tpot", type=duration, help="time-per-output-token target, e.g. 50ms")
    sp.add_argument("--objective", choices=("auto", "cost", "time", "balanced"), default="auto")
    sp.set_defaults(func=_cmd_plan_serve)


def _print_plan(plan, top: int, json_path: str | None) -> None:
    best = plan.best
    print(plan.summary())
    print()
    if best is not None:
        print(best)
        print()
    from .plan._result import _format_table

    cols = list(plan.table_columns)
    if not plan.feasible.empty:
        shown = plan._distinct(plan.feasible).head(top)
        print(f"Best {len(shown)} plans:")
        print(_format_table(shown, cols).to_string(index=False))
        print()
        front = plan.pareto
        print(f"Pareto frontier ({plan.time_col} against {plan.cost_col}, {len(front)} points):")
        print(_format_table(front, cols).to_string(index=False))
        print()
    print(plan.explain())
    if json_path:
        _write_json(plan.to_dict(top=top), json_path)
        print(f"wrote {json_path}")


def _plan_catalog(args):
    if not args.extra:
        return None
    from . import catalog

    return catalog.load(extra=args.extra)


def _cmd_plan_train(args) -> int:
    from .plan import plan_training

    if args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}")
    plan = plan_training(args.model, args.tokens, deadline=args.deadline, budget_usd=args.budget,
                         providers=args.providers, pricing=args.pricing, accelerators=args.accelerators,
                         max_gpus=args.max_gpus, storage_tier=args.storage_tier,
                         efficiency=args.efficiency, objective=args.objective,
                         global_batch_tokens=args.global_batch_tokens, seq_len=args.seq_len,
                         failure_rate_per_gpu_hour=args.failure_rate,
                         spot_preemption_rate_per_hour=args.preemption_rate,
                         catalog=_plan_catalog(args))
    _print_plan(plan, args.top, args.json)
    return 0


def _cmd_plan_serve(args) -> int:
    from .plan import plan_inference

    if args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}")
    if (args.qps is None) == (args.demand is None):
        raise ValueError("give exactly one of --qps (requests per second) or --demand (a trace)")
    plan = plan_inference(args.model, requests_per_s=args.qps, demand=args.demand,
                          prompt_tokens=args.prompt, output_tokens=args.output, ttft_s=args.ttft,
                          tpot_s=args.tpot, providers=args.providers, pricing=args.pricing,
                          accelerators=args.accelerators, efficiency=args.efficiency,
                          objective=args.objective, catalog=_plan_catalog(args))
    _print_plan(plan, args.top, args.json)
    return 0


# ----------------------------------------------------------------------------- report
#: named `aicost report` flags -> (report parameter, help); -p key=value reaches any parameter
_REPORT_FLAGS = {
    "model": ("model", "model preset, e.g. llama-3.1-70b"),
    "tokens": ("tokens", "training tokens, e.g. 2e12"),
    "deadline": ("deadline", "training deadline, e.g. 30d"),
    "budget": ("budget_usd", "budget [USD], e.g. 2e6"),
    "qps": ("qps", "requests per second to serve"),
    "prompt_tokens": ("prompt_tokens", "input tokens per request"),
    "output_tokens": ("output_tokens", "output tokens per request"),
    "ttft": ("ttft", "time-to-first-token target, e.g. 1s"),
    "tpot": ("tpot", "time-per-output-token target, e.g. 50ms"),
    "providers": ("providers", "comma-separated providers, e.g. aws,gcp"),
    "accelerators": ("accelerators", "comma-separated accelerators, e.g. h100,mi300x"),
    "pricing": ("pricing", "comma-separated pricing models: on_demand,spot,reserved"),
    "efficiency": ("efficiency", "compute efficiency factor override (0-1)"),
    "suite": ("suite", "benchmark suite: quick or full"),
    "backend": ("backend", "benchmark backend"),
    "run_id": ("run_id", "show this stored benchmark run instead of measuring"),
    "title": ("title", "report title"),
    "note": ("note", "free text under the title"),
}


def _add_report(sub) -> None:
    """`aicost report KIND [--param value ...] [-p key=value ...] -o report.html`."""
    p = sub.add_parser(
        "report", help="write an HTML report (offline) from a parameterized notebook",
        description="Run a report template with parameters and export it to one offline HTML "
                    "file. `aicost report --list` shows the kinds and what each expects.",
        epilog="example: aicost report training_plan --model llama-3.1-70b --tokens 2e12 "
               "--deadline 30d -o plan.html",
    )
    p.add_argument("kind", nargs="?", help="report kind: benchmark, catalog, demo, serving_plan, "
                                           "training_plan")
    p.add_argument("-o", "--output", default=None, help="HTML file to write (default: KIND.html)")
    p.add_argument("-p", "--param", action="append", default=[], metavar="KEY=VALUE",
                   help="any report parameter (repeatable), e.g. -p tokens=2e12")
    for flag, (_, help_) in _REPORT_FLAGS.items():
        p.add_argument("--" + flag.replace("_", "-"), dest=f"rp_{flag}", default=None, help=help_)
    p.add_argument("--extra", action="append", default=[], metavar="CSV",
                   help="user catalog CSV adding or overriding rows (repeatable)")
    p.add_argument("--show-code", action="store_true", help="show the code cells in the report")
    p.add_argument("--keep-notebook", action="store_true",
                   help="also write the executed notebook next to the HTML")
    p.add_argument("--list", action="store_true", help="list the report kinds and their parameters")
    p.add_argument("--describe", action="store_true", help="describe KIND's parameters and exit")
    p.set_defaults(func=_cmd_report)


def _cmd_report(args) -> int:
    from . import report

    if args.list or not args.kind:
        if not args.list:
            print("aicost: error: name a report kind (aicost report KIND); the kinds are:\n",
                  file=sys.stderr)
        print(report.describe(), file=sys.stdout if args.list else sys.stderr)
        return 0 if args.list else 2
    if args.describe:
        print(report.describe(args.kind))
        return 0
    kind = report.get_kind(args.kind)
    params: dict = {}
    for item in args.param:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ValueError(f"-p expects KEY=VALUE, got {item!r}")
        params[key.strip().replace("-", "_")] = value
    for flag, (name, _) in _REPORT_FLAGS.items():
        value = getattr(args, f"rp_{flag}")
        if value is not None:
            params[name] = value
    if args.extra:
        params["extra"] = args.extra
    output = args.output or f"{kind.name}.html"
    try:
        path = report.build(kind.name, output, show_code=args.show_code,
                            keep_notebook=args.keep_notebook, **params)
    except ModuleNotFoundError as exc:  # the notebook extra is missing: say which and how
        print(f"aicost: error: {exc}", file=sys.stderr)
        return 3
    print(f"wrote {path}")
    return 0


# ----------------------------------------------------------------------------- fleet
def _add_fleet(sub) -> None:
    p = sub.add_parser("fleet", help="benchmark every GPU of a Dask cluster, find slow units")
    fsub = p.add_subparsers(dest="fleet_command", required=True)
    bp = fsub.add_parser("bench", help="run the compute suite once per GPU (or CPU-only worker)")
    where = bp.add_mutually_exclusive_group(required=True)
    where.add_argument("--local", type=int, metavar="N",
                       help="start a local cluster of N worker processes (one per GPU with "
                            "dask-cuda on a GPU machine)")
    where.add_argument("--scheduler", metavar="ADDRESS",
                       help="a running Dask scheduler, e.g. tcp://host:8786")
    bp.add_argument("--suite", default="quick", help="smoke, quick or full")
    bp.add_argument("--workers", help="only these worker names, comma-separated (a rerun of "
                                      "the missing ones)")
    bp.add_argument("--timeout", type=float, default=1800.0, help="per-unit timeout [s]")
    bp.add_argument("--no-store", action="store_true", help="do not save the results")
    bp.set_defaults(func=_cmd_fleet_bench)
    ap = fsub.add_parser("analyze", help="distributions, slow units and stragglers of a stored "
                                         "fleet run")
    ap.add_argument("fleet_id", nargs="?", help="default: the newest fleet run")
    ap.add_argument("--threshold", type=float, default=3.5, help="robust z-score cut-off")
    ap.add_argument("--min-slower", type=float, default=5.0, help="... and at least this much "
                                                                  "slower than the median [%%]")
    ap.add_argument("--format", choices=("table", "csv", "json"), default="table")
    ap.set_defaults(func=_cmd_fleet_analyze)


def _cmd_fleet_bench(args) -> int:
    from .fleet import run

    workers = [w.strip() for w in args.workers.split(",")] if args.workers else None
    result = run(local=args.local, scheduler=args.scheduler, suite=args.suite, workers=workers,
                 store=False if args.no_store else None, timeout_s=args.timeout)
    print(result)
    if result.missing:
        print(f"rerun the missing workers: aicost fleet bench --scheduler ADDRESS --workers "
              f"{','.join(result.missing)}")
    return 1 if len(result.failures) else 0


def _cmd_fleet_analyze(args) -> int:
    from .fleet import analyze_stored

    an = analyze_stored(args.fleet_id, threshold=args.threshold, min_slower_pct=args.min_slower)
    print(an if args.format == "table" else "", end="\n" if args.format == "table" else "")
    if args.format != "table":
        _emit(an.stragglers, args.format)
    return 0


# ----------------------------------------------------------------------------- demo
def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="the main job: measure this machine, plan, write an HTML report")
    p.add_argument("-o", "--output", default="reports/demo.html", help="report path")
    p.add_argument("--no-store", action="store_true", help="do not save measurements")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args) -> int:
    from .demo import run_demo

    path = run_demo(output=args.output, store=not args.no_store)
    print(f"wrote {path}")
    return 0


# ----------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``aicost`` command."""
    parser = argparse.ArgumentParser(
        prog="aicost",
        description="Measure AI hardware, model workloads, plan what to rent and what it costs.",
    )
    parser.add_argument("--version", action="version", version=f"aicost {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_catalog(sub)
    _add_store(sub)
    _add_bench(sub)
    _add_plan(sub)
    _add_report(sub)
    _add_demo(sub)
    _add_fleet(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aicost`` command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("aicost: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # `aicost catalog list instances | head`: the reader went away; exit quietly
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except ModuleNotFoundError as exc:
        name = (exc.name or "").split(".")[0]
        extra = _EXTRA_FOR.get(name)
        if extra is None:
            raise
        print(f"aicost: error: {name} is not installed; install it with `pip install '{extra}'`",
              file=sys.stderr)
        return 3
    except (AicostError, ValueError, LookupError, FileNotFoundError, PermissionError) as exc:
        print(f"aicost: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
