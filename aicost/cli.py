"""The ``aicost`` command line. It holds no logic: each command calls one public function.

Commands
--------
aicost --version
aicost catalog list accelerators|instances|storage|fabrics [--provider P] [--format table|csv|json]
aicost catalog show NAME
aicost catalog refresh [--source skypilot|gpuhunt] [--providers aws,gcp,...]
aicost catalog history NAME [--provider P] [--plot FILE.html]
aicost catalog status
aicost store list
aicost bench compute|storage|network ...
aicost plan train|serve ...
aicost report KIND ... -o report.html
aicost demo
aicost fleet bench --local N | --scheduler tcp://host:8786 [--suite quick] [--storage DIR] [--network]
aicost fleet analyze [FLEET_ID]
aicost spend optimize DEMAND.csv [--provider aws] [--whole-units]
aicost spend analyze FOCUS.csv|.parquet [--utilization LOG ...] [--tag team]
aicost completion bash|zsh

Every command that prints data takes ``--format table|csv|json``; ``--json -`` writes JSON to
standard output. ``aicost`` alone, or a command group alone, prints its help.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path

from ._errors import AicostError
from ._version import __version__

__all__ = ["build_parser", "completion_script", "main"]

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
    "scipy": "aicost[spend]",
}


# ----------------------------------------------------------------------------- output helpers
def _emit(df, fmt: str = "table", out=None, title: str | None = None) -> None:
    """Print a DataFrame as a table for people, CSV or JSON records.

    The table formats every cell by the unit its column name carries
    (:func:`aicost._units.format_table`: durations, dollars, percents, one format per unit,
    ``-`` for missing) and draws it with rich; CSV and JSON keep the raw numbers (JSON NaN is
    ``null``).
    """
    out = out or sys.stdout
    if fmt == "csv":
        from ._csv import spreadsheet_safe

        spreadsheet_safe(df).to_csv(out, index=False)  # no cell runs as a spreadsheet formula
    elif fmt == "json":
        out.write(df.to_json(orient="records", indent=2, date_format="iso", default_handler=str))
        out.write("\n")
    else:
        _print_table(df, out, title=title)


def _print_table(df, out=None, title: str | None = None) -> None:
    """A rich table of ``df`` with formatted cells; plain columns when rich is missing."""
    from ._units import column_label, format_table

    out = out or sys.stdout
    cells = format_table(df, labels=False, drop_empty=True) if len(df.columns) else df
    headers = [_header(c) for c in cells.columns]
    try:
        from rich import box
        from rich.console import Console
        from rich.table import Table
    except ImportError:  # rich is a core dependency; a broken install still gets a table
        cells.columns = [column_label(c) for c in cells.columns]
        out.write(cells.to_string(index=False) + "\n")
        return
    from pandas.api.types import is_bool_dtype, is_numeric_dtype

    numeric = {c for c in df.columns if is_numeric_dtype(df[c]) and not is_bool_dtype(df[c])}
    table = Table(box=box.SIMPLE_HEAD, title=title, title_justify="left", pad_edge=False,
                  show_edge=False, header_style="bold")
    for col, head in zip(cells.columns, headers):
        table.add_column(head, justify="right" if col in numeric else "left",
                         overflow="fold", no_wrap=col in numeric)
    for row in cells.itertuples(index=False):
        table.add_row(*[str(v) for v in row])
    tty = hasattr(out, "isatty") and out.isatty()
    if tty:
        Console(file=out, highlight=False, soft_wrap=False).print(table)
        return
    import io

    buf = io.StringIO()  # a pipe or a file: no colour, no wrapping, no trailing blanks
    Console(file=buf, width=4000, highlight=False, soft_wrap=False, color_system=None).print(table)
    out.write("\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n")


#: column-name suffix -> unit shown in a table header
_HEADER_UNITS = (
    ("_usd_per_gpu_hour", "USD/GPU-h"), ("_usd_per_hour", "USD/h"), ("_usd_per_gb_month", "USD/GB-month"),
    ("_usd", "USD"), ("_tflops", "TFLOP/s"), ("_gb_s", "GB/s"), ("_mb_s", "MB/s"), ("_gbps", "Gbit/s"),
    ("_gib", "GiB"), ("_tb", "TB"), ("_ms", "ms"), ("_us", "µs"), ("_s", ""), ("_watts", "W"),
    ("_pct", "%"), ("_bytes", ""),
)


#: headers the suffix rule does not read well
_HEADERS = {
    "usd_per_bf16_pflop_hour": "bf16 PFLOP/s-hour [USD]",
    "usd_per_bf16_pflop_hour_spot": "bf16 PFLOP/s-hour spot [USD]",
    "usd_per_million_tokens": "per 1M tokens [USD]",
    "price_usd_per_gpu_hour": "price on demand [USD/GPU-h]",
    "spot_discount": "spot discount [%]",
    "pct_of_peak": "% of peak",
    "rel_stdev_pct": "rel. stdev [%]",
    "iqr_pct": "IQR/median [%]",
    "accelerator_count": "GPUs",
}


def _header(column: str) -> str:
    """A header with its unit: ``price_on_demand_usd_per_hour`` -> ``price on demand [USD/h]``."""
    col = str(column)
    if col in _HEADERS:
        return _HEADERS[col]
    for suffix, unit in _HEADER_UNITS:
        if col.endswith(suffix) and col != suffix.lstrip("_"):
            base = col[: -len(suffix)].replace("_", " ")
            return f"{base} [{unit}]" if unit else base
    return col.replace("_", " ")


def _json_safe(obj):
    """``obj`` with NaN and infinities as ``null`` and numpy scalars as Python numbers: strict
    JSON that any parser reads (Python's ``json`` would write the non-standard ``NaN``)."""
    import math

    if isinstance(obj, dict):
        return {k: _json_safe(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_json_safe(v) for v in obj]
    if hasattr(obj, "item") and getattr(obj, "shape", None) == ():
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def _json_out(records, path: str | None) -> None:
    """Write JSON records to ``path``; ``-`` means standard output."""
    if path is None:
        return
    if path == "-":
        json.dump(_json_safe(records), sys.stdout, indent=2, default=str, allow_nan=False)
        sys.stdout.write("\n")
    else:
        _write_json(records, path)
        print(f"wrote {path}", file=sys.stderr)


def _write_json(records, path: str) -> None:
    """Write JSON records to ``path`` atomically (temp file in the same folder, then rename)."""
    import os
    import tempfile

    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "w") as fh:
            json.dump(_json_safe(records), fh, indent=2, default=str, allow_nan=False)
            fh.write("\n")
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _add_format(p: argparse.ArgumentParser, choices=("table", "csv", "json")) -> None:
    p.add_argument("--format", choices=choices, default="table",
                   help="output: table (for people), " + ", ".join(c for c in choices if c != "table")
                        + " (raw numbers, for programs); default table")


def _add_json(p: argparse.ArgumentParser, what: str = "the results") -> None:
    p.add_argument("--json", metavar="PATH",
                   help=f"also write {what} as JSON to PATH ('-': standard output)")


# ----------------------------------------------------------------------------- catalog
def _add_catalog(sub) -> None:
    p = sub.add_parser("catalog", help="list and look up the hardware and price catalog")
    csub = p.add_subparsers(dest="catalog_command", required=True)
    lp = csub.add_parser("list", help="list a catalog table")
    lp.add_argument("table", choices=("accelerators", "instances", "storage", "fabrics"),
                    help="which table")
    lp.add_argument("--provider", help="only rows of this provider (instances, storage)")
    lp.add_argument("--accelerator", "--gpu", dest="accelerator", metavar="NAME",
                    help="only offers with this accelerator, any alias (instances), e.g. h100")
    lp.add_argument("--extra", action="append", default=[], metavar="CSV",
                    help="user CSV adding or overriding rows (repeatable)")
    lp.add_argument("--all", action="store_true",
                    help="every column in the table format (csv and json always have all)")
    lp.add_argument("--shipped", action="store_true",
                    help="leave out the catalogs fetched by `aicost catalog refresh` (they are "
                         "included by default once fetched)")
    _add_format(lp)
    lp.set_defaults(func=_cmd_catalog_list)
    rp = csub.add_parser(
        "refresh", help="download fresh prices (SkyPilot's public catalogs, or gpuhunt)",
        description="Download the catalogs SkyPilot republishes every few hours "
                    "(github.com/skypilot-org/skypilot-catalog), validate them and cache them "
                    "under $AICOST_HOME/catalog/; each refresh is also kept as price history. "
                    "Offline or on a failure: one line says what failed and which cached or "
                    "shipped data is used instead.")
    rp.add_argument("--source", choices=("skypilot", "gpuhunt"), default="skypilot",
                    help="skypilot (public catalogs over HTTPS, default) or gpuhunt (needs the "
                         "gpuhunt package: pip install 'aicost[gpuhunt]')")
    rp.add_argument("--providers", metavar="P1,P2", help="e.g. aws,gcp,lambda (default: "
                                                           "the main GPU clouds)")
    rp.add_argument("--version", default="v7", choices=("v6", "v7", "v8"),
                    help="SkyPilot catalog schema (default v7)")
    rp.add_argument("--base-url", help="a mirror of the catalogs directory")
    rp.add_argument("--timeout", type=float, default=20.0, help="seconds per request")
    rp.add_argument("--no-history", action="store_true",
                    help="do not append the prices to the results store")
    rp.set_defaults(func=_cmd_catalog_refresh)
    hp = csub.add_parser("history", help="how the price per GPU-hour of an accelerator moved")
    hp.add_argument("name", help="accelerator, any alias or prefix (h100: every H100)")
    hp.add_argument("--provider", help="only offers of this provider")
    hp.add_argument("--plot", metavar="HTML", help="also write a plotly chart to this file")
    _add_format(hp)
    hp.set_defaults(func=_cmd_catalog_history)
    tp = csub.add_parser("status", help="per source and provider: offers, newest and oldest "
                                        "as_of, cache location")
    _add_format(tp)
    tp.set_defaults(func=_cmd_catalog_status)
    sp = csub.add_parser(
        "show", help="show one accelerator (with every offer and its prices), instance, storage "
                     "tier or fabric",
        description="Show one catalog entry. For an accelerator, also every offer of it: "
                    "provider, region, instance type, GPUs, prices on demand and spot, per "
                    "instance-hour and per GPU-hour, cheapest first (like `sky show-gpus H100`).")
    sp.add_argument("name", help="accelerator (any alias, e.g. h100), instance type, storage "
                                 "tier or fabric")
    sp.add_argument("--provider", help="only offers of this provider (accelerators)")
    sp.add_argument("--extra", action="append", default=[], metavar="CSV",
                    help="user CSV adding or overriding rows (repeatable)")
    _add_format(sp)
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

    cat = catalog.load(extra=args.extra or None, refreshed=not args.shipped)
    df = cat.table(args.table, provider=args.provider)
    if args.accelerator:
        if "accelerator" not in df.columns:
            raise ValueError(f"--accelerator filters instances, not {args.table}")
        df = df[df["accelerator"] == cat.accelerator(args.accelerator).name].reset_index(drop=True)
    note = catalog.price_age_note(df, always=True)
    if args.format == "table" and not args.all:
        df = df[[c for c in _TABLE_COLUMNS[args.table] if c in df.columns]]
    _emit(df, args.format)
    if note:  # the age of the numbers shown (stderr for csv/json, which must stay parseable)
        print(note if args.table == "instances" else note.replace("prices as of",
                                                                  "numbers as of", 1),
              file=sys.stdout if args.format == "table" else sys.stderr)
    return 0


def _cmd_catalog_refresh(args) -> int:
    from . import catalog

    report = catalog.refresh(args.source, args.providers, version=args.version,
                             base_url=args.base_url, timeout_s=args.timeout,
                             store=False if args.no_history else None, quiet=False)
    if report.history_rows:
        print(f"price history: {report.history_rows} offer prices appended to the results store")
    return 0 if report.ok else 1


def _cmd_catalog_history(args) -> int:
    from . import catalog

    df = catalog.price_history(args.name, provider=args.provider)
    if args.plot:
        from . import viz

        viz.price_history_figure(df, title=f"{args.name} price per GPU-hour").write_html(
            args.plot, include_plotlyjs=True)
        print(f"wrote {args.plot}", file=sys.stderr)
    if args.format == "table":
        df = df.assign(time=df["time"].dt.strftime("%Y-%m-%d %H:%M"))
    _emit(df, args.format)
    return 0


def _cmd_catalog_status(args) -> int:
    from . import catalog

    _emit(catalog.catalog_status(), args.format)
    return 0


def _cmd_catalog_show(args) -> int:
    from . import catalog

    cat = catalog.load(extra=args.extra or None)
    rec = cat.find(args.name)
    offers = None
    if isinstance(rec, catalog.Accelerator):
        offers = cat.table("instances", provider=args.provider)
        offers = offers[offers["accelerator"] == rec.name]
        offers = offers.sort_values(["price_usd_per_gpu_hour", "provider", "region"],
                                    kind="stable", na_position="last").reset_index(drop=True)
    if args.format == "json":
        doc = rec.to_dict()
        if offers is not None:
            doc["offers"] = json.loads(offers.to_json(orient="records", default_handler=str))
        print(json.dumps(_json_safe(doc), indent=2, default=str, allow_nan=False))
    elif args.format == "csv":
        import pandas as pd

        _emit(offers if offers is not None else pd.DataFrame([rec.to_dict()]), "csv")
    else:
        print(rec)
        if offers is not None:
            print()
            if offers.empty:
                print(f"No offer of {rec.name} in the catalog"
                      + (f" from {args.provider}." if args.provider else "."))
            else:
                _emit(offers[[c for c in _OFFER_COLUMNS if c in offers.columns]],
                      title=f"{len(offers)} offers of {rec.name}, cheapest GPU-hour first")
    return 0


#: the columns of `aicost catalog show ACCELERATOR`'s offers (as `sky show-gpus NAME`)
_OFFER_COLUMNS = ["provider", "region", "instance_type", "accelerator_count", "vcpus",
                  "memory_gib", "price_on_demand_usd_per_hour", "price_spot_usd_per_hour",
                  "price_usd_per_gpu_hour", "price_spot_usd_per_gpu_hour", "as_of"]


# ----------------------------------------------------------------------------- store
def _add_store(sub) -> None:
    p = sub.add_parser("store", help="the results database")
    ssub = p.add_subparsers(dest="store_command", required=True)
    path_help = "database file (default: $AICOST_HOME/results.duckdb)"
    lp = ssub.add_parser("list", help="list saved runs")
    lp.add_argument("--path", help=path_help)
    lp.add_argument("--kind", help="only runs of this kind (compute, storage, network, ...)")
    _add_format(lp)
    lp.set_defaults(func=_cmd_store_list)
    shp = ssub.add_parser("show", help="show the results of one run (noise and flags included; "
                                       "raw samples only in --format json)")
    shp.add_argument("run_id", help="run id (`aicost store list` shows them)")
    shp.add_argument("--path", help=path_help)
    _add_format(shp)
    shp.set_defaults(func=_cmd_store_show)
    cp = ssub.add_parser("compare", help="compare two runs result by result (b / a)")
    cp.add_argument("run_a", help="the reference run id")
    cp.add_argument("run_b", help="the run compared with it")
    cp.add_argument("--path", help=path_help)
    _add_format(cp)
    cp.set_defaults(func=_cmd_store_compare)


def _cmd_store_list(args) -> int:
    from .store import Store

    _emit(Store(args.path).runs(kind=args.kind), args.format)
    return 0


def _cmd_store_show(args) -> int:
    from .store import Store

    df = Store(args.path).results(run_id=args.run_id)
    if args.format != "json":  # raw samples are for programs; people read the spread
        df = _with_noise(df).drop(columns=["samples_s"], errors="ignore")
    if args.format == "table":
        df = df.drop(columns=["run_id", "seq", "created_at", "host", "partial"], errors="ignore")
        if "params" in df.columns:
            df["params"] = [json.dumps(p, sort_keys=True, default=str) if p else ""
                            for p in df["params"]]
    _emit(df, args.format)
    return 0


def _with_noise(df):
    """Add the spread of each measurement for people: ``rel_stdev_pct`` (stdev / median) and
    ``iqr_pct`` (IQR / median), next to ``flags``."""
    import numpy as np

    if {"stdev_s", "median_s"} <= set(df.columns):
        med = df["median_s"].astype(float).where(df["median_s"].astype(float) > 0)
        df = df.assign(rel_stdev_pct=100 * df["stdev_s"].astype(float) / med)
        if "iqr_s" in df.columns:
            df = df.assign(iqr_pct=100 * df["iqr_s"].astype(float) / med)
    if "flags" in df.columns:
        df = df.assign(flags=df["flags"].fillna("").replace({np.nan: ""}))
    return df


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
    """`aicost bench compute`: the compute benchmark suites."""
    p = bsub.add_parser("compute", help="GEMM, memory bandwidth, reductions, latency, transfers, "
                                         "roofline (GPU via CuPy/Numba CUDA, CPU via Numba/NumPy)")
    p.add_argument("--suite", choices=("quick", "full"), default="quick",
                   help="quick: seconds on a GPU, under a minute on a CPU; full: every dtype, "
                        "size, transformer layer shape and the whole roofline (default: quick)")
    p.add_argument("--backend", default="auto",
                   help="auto, cupy, numba-cuda, numba or numpy (default: auto = best available)")
    _add_json(p, "the results (every field, raw samples included)")
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
    _json_out(result.to_records(), args.json)
    if args.json != "-":
        _emit_bench(result.df, args.format)
    for label, msg in result.errors:
        print(f"aicost: {label} failed: {msg}", file=sys.stderr)
    if result.run_id:
        print(f"saved run {result.run_id}", file=sys.stderr)
    if result.partial:
        print("aicost: interrupted; the finished measurements were kept (partial run)",
              file=sys.stderr)
        return 130
    return 1 if result.errors else 0


def _emit_bench(df, fmt: str) -> None:
    """A compute run for people: kernel, size, median time, rate, % of peak, the spread of the
    samples (relative stdev and IQR) and the flags (noisy, timeout, throttle). A flagged row is
    never shown without its flag. CSV/JSON: every column but the raw samples."""
    from .report.blocks import bench_table

    if fmt != "table":
        _emit(_with_noise(df).drop(columns=["samples_s"], errors="ignore"), fmt)
        return
    view = bench_table(df)
    noisy = _with_noise(df).reset_index(drop=True)
    if "rel. stdev" not in view.columns and "rel_stdev_pct" in noisy.columns:
        view["rel. stdev"] = [f"{x:.1f}%" if x == x else "-" for x in noisy["rel_stdev_pct"]]
    if "IQR/median" not in view.columns and "iqr_pct" in noisy.columns:
        view["IQR/median"] = [f"{x:.1f}%" if x == x else "-" for x in noisy["iqr_pct"]]
    if "flags" not in view.columns and "flags" in noisy.columns:
        view["flags"] = noisy["flags"].astype(str)
    _print_table(view)
    n_flag = int((noisy.get("flags", "").astype(str).str.strip() != "").sum()) if len(noisy) else 0
    if n_flag:
        print(f"aicost: {n_flag} measurement(s) flagged: their numbers may not be this machine's; "
              "rerun on a quiet machine or with --suite full", file=sys.stderr)


def _add_bench_storage(bsub) -> None:
    """`aicost bench storage`: fio-like storage throughput."""
    p = bsub.add_parser(
        "storage", help="measure a file system like fio (direct I/O, parallel workers)",
        description="Measure throughput, IOPS and latency of a file system with fio's semantics "
                    "(O_DIRECT, psync). Files are laid out in a temporary work directory inside "
                    "--dir and removed afterwards.")
    p.add_argument("--dir", default=".", help="directory on the file system to measure (default: .)")
    p.add_argument("--pattern", default="seqread",
                   choices=("seqread", "seqwrite", "randread", "randwrite"),
                   help="access pattern (default seqread)")
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
    _add_json(p, "the result")
    _add_format(p, ("table", "json"))
    p.add_argument("--no-store", action="store_true", help="do not save to the results store")
    p.set_defaults(func=_cmd_bench_storage)


def _cmd_bench_storage(args) -> int:
    from . import storage

    res = storage.measure(args.dir, pattern=args.pattern, block_size=args.block_size,
                          workers=args.workers, file_size=args.size, duration_s=args.duration,
                          ramp_s=args.ramp, fsync=args.fsync, allow_buffered=args.buffered,
                          engine=args.engine)
    _print_result(res, args)
    if not args.no_store:
        print(f"saved run {storage.save_results(res)}", file=sys.stderr)
    return 0


def _print_result(res, args) -> None:
    """One storage or network measurement: text for people, or JSON (``--format json``)."""
    _json_out([res.to_dict()], args.json)
    if args.json == "-":
        return
    if args.format == "json":
        print(json.dumps(_json_safe(res.to_dict()), indent=2, default=str, allow_nan=False))
    else:
        print(res)


def _add_bench_network(bsub) -> None:
    """`aicost bench network`: TCP stream throughput (iperf3-like)."""
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
    _add_json(p, "the result")
    _add_format(p, ("table", "json"))
    p.add_argument("--no-store", action="store_true", help="do not save to the results store")
    p.set_defaults(func=_cmd_bench_network)


def _cmd_bench_network(args) -> int:
    from . import network

    if args.nccl:
        df = network.nccl_collectives()
        _json_out(json.loads(df.to_json(orient="records", default_handler=str)), args.json)
        if args.json != "-":
            _emit(df.drop(columns=["params"]), args.format)
        if not args.no_store:
            print(f"saved run {network.save_collectives(df)}", file=sys.stderr)
        return 0
    res = network.measure_tcp(args.host, args.port, streams=args.streams,
                              duration_s=args.duration, omit_s=args.omit, bind_all=args.bind_all)
    _print_result(res, args)
    if not args.no_store:
        print(f"saved run {network.save_results(res)}", file=sys.stderr)
    return 0


# ----------------------------------------------------------------------------- plan
#: pricing names the CLI accepts -> the planner's names
_PRICING_ALIASES = {"on_demand": "on_demand", "ondemand": "on_demand", "od": "on_demand",
                    "spot": "spot", "preemptible": "spot", "reserved": "reserved_1y",
                    "reserved_1y": "reserved_1y", "1y": "reserved_1y"}


def _model_presets() -> str:
    """The model presets, for help texts ("llama-3.1-8b, llama-3.1-70b, ...")."""
    try:
        from .model import list_models

        return ", ".join(list_models())
    except (ImportError, OSError, ValueError):  # help must print even if the presets do not load
        return "see aicost.model.list_models()"


def _add_plan(sub) -> None:
    """`aicost plan train|serve`: the training and serving planners."""
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

    def pricing_names(text: str) -> list[str]:
        out = []
        for t in names(text):
            key = t.lower().replace("-", "_")
            if key not in _PRICING_ALIASES:
                import difflib

                near = difflib.get_close_matches(key, list(_PRICING_ALIASES), n=1)
                raise argparse.ArgumentTypeError(
                    f"unknown pricing {t!r}" + (f"; did you mean {near[0]!r}?" if near else "")
                    + "; use on_demand, spot or reserved")
            out.append(_PRICING_ALIASES[key])
        return list(dict.fromkeys(out))

    def common(q) -> None:
        q.add_argument("--model", required=True, metavar="NAME",
                       help="model preset: " + _model_presets() + " (aliases work)")
        q.add_argument("--providers", "--provider", dest="providers", type=names,
                       help="comma-separated providers, e.g. aws,lambda (default: all)")
        q.add_argument("--accelerators", "--accelerator", "--gpus", dest="accelerators",
                       type=names, help="comma-separated accelerators, any alias, e.g. h100,mi300x "
                                        "(default: all)")
        q.add_argument("--no-estimates", action="store_true",
                       help="leave out offers whose price or accelerator peak the catalog marks "
                            "as an estimate (its 'estimated' column)")
        q.add_argument("--pricing", type=pricing_names, default=["on_demand", "spot"],
                       help="comma-separated pricing models: on_demand, spot, reserved "
                            "(1-year; also reserved_1y) (default: on_demand,spot)")
        q.add_argument("--efficiency", type=number,
                       help="compute efficiency, fraction of peak in (0, 1] (default: measured "
                            "in the results store, else documented)")
        q.add_argument("--extra", action="append", default=[], metavar="CSV",
                       help="user catalog CSV adding or overriding rows (repeatable)")
        q.add_argument("--as-of", dest="as_of", metavar="YYYY-MM-DD",
                       help="price the plan as on this date, from the price history that "
                            "`aicost catalog refresh` keeps in the results store "
                            "(aicost.catalog.prices_as_of)")
        q.add_argument("--objective", choices=("auto", "cost", "time", "balanced"), default="auto",
                       help="what the recommendation optimizes (default auto: cheapest that meets "
                            "the targets)")
        q.add_argument("--top", type=int, default=10, help="plans to list (default 10)")
        _add_json(q, "the plan")
        _add_format(q)

    tp_ = psub.add_parser("train", help="plan a training run: offers x nodes x layouts x pricing")
    common(tp_)
    tp_.add_argument("--tokens", type=number, required=True, help="training tokens, e.g. 2e12")
    tp_.add_argument("--deadline", type=duration, help="longest expected wall time, e.g. 30d")
    tp_.add_argument("--budget", type=number,
                     help="largest expected cost [USD], e.g. 2e6 (serving: USD/h)")
    tp_.add_argument("--max-gpus", type=int, default=16384, help="largest cluster searched (16384)")
    tp_.add_argument("--storage-tier", help="checkpoint storage tier (default: each provider's)")
    tp_.add_argument("--global-batch-tokens", type=number, default=4 * 2**20,
                     help="tokens per optimizer step (default 4Mi, as Llama 2)")
    tp_.add_argument("--seq-len", type=int, help="training sequence length (default: the model's)")
    tp_.add_argument("--failure-rate", type=number,
                     help="interruptions per GPU-hour (default: the fleet class's, Llama 3 report "
                          "1.54e-5); given alone it is the whole failure model (no per-job term)")
    tp_.add_argument("--job-failure-rate", type=number,
                     help="interruptions per job-hour that do not scale with the GPUs (default: "
                          "the fleet class's, Llama 3 report 0.071)")
    tp_.add_argument("--fleet-class",
                     help="failure rates of this fleet class (data/failure_rates.csv, e.g. "
                          "new-cluster-a100; default hyperscale-h100)")
    tp_.add_argument("--preemption-rate", type=number,
                     help="spot preemptions per node-hour (default: 0.2 per node-month)")
    tp_.add_argument("--overlap-tp-comm", action="store_true",
                     help="your stack overlaps tensor-parallel collectives with the GEMMs "
                          "(TransformerEngine userbuffers, Megatron --tp-comm-overlap); default exposed")
    tp_.add_argument("--overlap-ep-comm", action="store_true",
                     help="your stack overlaps the expert all-to-all with another micro-batch's compute "
                          "(DualPipe, Megatron-Core 1F1B A2A overlap: each transfer under its paired attention/MLP "
                          "piece); default exposed")
    tp_.add_argument("--ep-dispatcher", choices=("alltoall", "deepep"), default="alltoall",
                     help="how your stack's expert dispatch moves tokens: one copy per routed expert (alltoall, "
                          "default) or one per destination node with NVLink forwarding (deepep: DeepEP, "
                          "Megatron-Core flex dispatcher)")
    tp_.add_argument("--schedules", nargs="+", choices=("1f1b", "zb-h1"), default=None, metavar="SCHEDULE",
                     help="pipeline schedules searched: 1f1b (default; Megatron-LM's, interleaved with virtual "
                          "stages) and/or zb-h1 (zero-bubble ZB-H1, Qi et al. ICLR 2024, for a stack that runs it), "
                          "e.g. --schedules 1f1b zb-h1")
    tp_.set_defaults(func=_cmd_plan_train)

    sp = psub.add_parser("serve", help="plan serving: offers x tensor parallelism x batch x replicas")
    common(sp)
    sp.add_argument("--qps", "--requests-per-s", dest="qps", type=number,
                    help="requests per second (or --demand)")
    sp.add_argument("--demand", help="demand trace name or CSV with columns time_s (interval start "
                                     "[s], increasing) and requests_per_s, instead of --qps")
    sp.add_argument("--prompt-tokens", "--prompt", dest="prompt", type=int, default=512,
                    help="prompt (input) tokens per request (default 512)")
    sp.add_argument("--output-tokens", "--output", dest="output", type=int, default=256,
                    help="output tokens per request (default 256)")
    sp.add_argument("--ttft", type=duration, help="time-to-first-token target, e.g. 1s")
    sp.add_argument("--tpot", type=duration, help="time-per-output-token target, e.g. 50ms")
    sp.add_argument("--budget", type=number,
                    help="largest cost per hour [USD/h], e.g. 200 (training: total USD)")
    sp.add_argument("--engine", choices=("vllm", "trtllm", "sglang"),
                    help="serving engine preset: its KV-cache memory rule and batch cap (default: "
                         "engine-neutral, 90%% of GPU memory, no batch cap)")
    sp.set_defaults(func=_cmd_plan_serve)


def _print_plan(plan, top: int, json_path: str | None, fmt: str = "table") -> None:
    """A plan for people (summary, recommendation, best plans, Pareto frontier, why others were
    dropped) or for programs (``--format json``: ``plan.to_dict``; ``csv``: the best plans)."""
    _json_out(plan.to_dict(top=top), json_path)
    if json_path == "-":
        return
    if fmt == "json":
        print(json.dumps(_json_safe(plan.to_dict(top=top)), indent=2, default=str, allow_nan=False))
        return
    if fmt == "csv":
        _emit(plan.top(top), "csv")
        return
    best = plan.best
    print(plan.summary())
    print()
    if best is not None:
        print(best)
        print()
    if not plan.feasible.empty:
        shown = plan.top(top)
        _print_table(shown, title=f"Best {len(shown)} plans")
        print()
        front = plan.pareto
        cols = [c for c in plan.table_columns if c in front.columns]
        _print_table(front[cols], title=f"Pareto frontier ({len(front)} plans): no other plan is "
                                        "both faster and cheaper")
        print()
    print(plan.explain())


def _plan_catalog(args):
    as_of = getattr(args, "as_of", None)
    if not args.extra and not as_of:
        return None
    from . import catalog

    cat = catalog.load(extra=args.extra or None)
    return catalog.prices_as_of(as_of, catalog=cat) if as_of else cat


def _cmd_plan_train(args) -> int:
    from .plan import plan_training

    if args.top < 1:
        raise ValueError(f"--top must be at least 1, got {args.top}")
    plan = plan_training(args.model, args.tokens, deadline=args.deadline, budget_usd=args.budget,
                         providers=args.providers, pricing=args.pricing, accelerators=args.accelerators,
                         estimates=not args.no_estimates, max_gpus=args.max_gpus, storage_tier=args.storage_tier,
                         efficiency=args.efficiency, objective=args.objective,
                         global_batch_tokens=args.global_batch_tokens, seq_len=args.seq_len,
                         failure_rate_per_gpu_hour=args.failure_rate,
                         job_failure_rate_per_hour=args.job_failure_rate, fleet_class=args.fleet_class,
                         spot_preemption_rate_per_hour=args.preemption_rate,
                         overlap_tp_comm=args.overlap_tp_comm, overlap_ep_comm=args.overlap_ep_comm,
                         ep_dispatcher=args.ep_dispatcher, schedules=args.schedules,
                         catalog=_plan_catalog(args))
    _print_plan(plan, args.top, args.json, args.format)
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
                          estimates=not args.no_estimates, budget_usd_per_hour=args.budget, engine=args.engine,
                          objective=args.objective, catalog=_plan_catalog(args))
    _print_plan(plan, args.top, args.json, args.format)
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
    "demand": ("demand", "hourly demand CSV (timestamp, accelerator, gpus) [spend]"),
    "focus": ("focus", "FOCUS bill, CSV or Parquet [spend]"),
    "utilization": ("utilization", "nvidia-smi / DCGM logs, comma-separated [spend]"),
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
    bp.add_argument("--timeout", type=float, default=1800.0,
                    help="a unit not done this long after the start is cancelled (its worker "
                         "restarted if it keeps running) and reported [s]")
    bp.add_argument("--no-store", action="store_true", help="do not save the results")
    bp.add_argument("--storage", metavar="DIR",
                    help="also measure storage in this directory, once per host")
    bp.add_argument("--network", action="store_true",
                    help="also measure TCP throughput between the hosts' workers (a ring)")
    bp.set_defaults(func=_cmd_fleet_bench)
    ap = fsub.add_parser("analyze", help="distributions, slow units and stragglers of a stored "
                                         "fleet run")
    ap.add_argument("fleet_id", nargs="?", help="default: the newest fleet run")
    ap.add_argument("--threshold", type=float, default=3.5, help="robust z-score cut-off")
    ap.add_argument("--min-slower", type=float, default=5.0, help="... and at least this much "
                                                                  "slower than the median [%%]")
    _add_format(ap)
    ap.set_defaults(func=_cmd_fleet_analyze)


def _cmd_fleet_bench(args) -> int:
    from .fleet import run

    workers = [w.strip() for w in args.workers.split(",")] if args.workers else None
    result = run(local=args.local, scheduler=args.scheduler, suite=args.suite, workers=workers,
                 store=False if args.no_store else None, timeout_s=args.timeout,
                 storage=args.storage, network=args.network)
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


# ----------------------------------------------------------------------------- spend
def _add_spend(sub) -> None:
    p = sub.add_parser("spend", help="commitments vs on-demand vs spot; waste from FOCUS bills")
    ssub = p.add_subparsers(dest="spend_command", required=True)
    op = ssub.add_parser("optimize", help="what to commit to over a year of hourly demand "
                                          "(aicost.spend.optimize_portfolio)")
    op.add_argument("demand", help="hourly demand CSV: timestamp, accelerator, gpus "
                                   "[, workload_class]")
    op.add_argument("--provider", default="aws", help="offers and prices of this provider")
    op.add_argument("--whole-units", action="store_true",
                    help="commit whole instances (mixed-integer program)")
    op.add_argument("--spot-share", default=None, metavar="CLASS=SHARE,...",
                    help="most share of each workload class on spot, e.g. "
                         "training=0.5,serving=0 (default: training 0.5, batch 0.8, else 0)")
    _add_format(op)
    op.set_defaults(func=_cmd_spend_optimize)
    ap = ssub.add_parser("analyze", help="spend, idle GPU-hours and unused commitments from a "
                                         "FOCUS bill (aicost.spend.analyze_spend)")
    ap.add_argument("focus", help="FOCUS 1.0-1.3 export, CSV or Parquet")
    ap.add_argument("--utilization", action="append", default=[], metavar="LOG",
                    help="nvidia-smi CSV log or DCGM exporter dump (repeatable)")
    ap.add_argument("--demand", help="hourly demand CSV, for the shortfall")
    ap.add_argument("--tag", default="team", help="Tags key to group by (default team)")
    ap.add_argument("--idle-threshold", type=float, default=0.1,
                    help="GPU utilization under which an hour is idle (0-1)")
    _add_format(ap)
    ap.set_defaults(func=_cmd_spend_analyze)


def _cmd_spend_optimize(args) -> int:
    from .spend import optimize_portfolio

    share = None
    if args.spot_share:
        share = {}
        for item in args.spot_share.split(","):
            key, sep, value = item.partition("=")
            if not sep:
                raise ValueError(f"--spot-share expects CLASS=SHARE, got {item!r}")
            share[key.strip().lower()] = float(value)
    port = optimize_portfolio(args.demand, provider=args.provider, whole_units=args.whole_units,
                              spot_share_max=share)
    if args.format == "table":
        print(port.recommendation, end="\n\n")
    _emit(port.commitments[port.commitments["committed_gpus"] > 0], args.format)
    return 0


def _cmd_spend_analyze(args) -> int:
    from .spend import analyze_spend

    an = analyze_spend(args.focus, args.utilization or None, demand=args.demand, tag=args.tag,
                       idle_threshold=args.idle_threshold)
    if args.format == "table":
        print(an.text, end="\n\n")
    _emit(an.waste_by_team, args.format)
    return 0


# ----------------------------------------------------------------------------- demo
def _add_demo(sub) -> None:
    p = sub.add_parser("demo", help="the main job: measure this machine, plan, write an HTML report")
    p.add_argument("-o", "--output", default="reports/demo.html",
                   help="the HTML report to write (default reports/demo.html)")
    p.add_argument("--no-store", action="store_true", help="do not save measurements")
    p.add_argument("--no-progress", action="store_true", help="do not print each section as it starts")
    p.set_defaults(func=_cmd_demo)


def _cmd_demo(args) -> int:
    import time

    from .demo import run_demo

    t0 = time.monotonic()

    def progress(section: str, number: int) -> None:
        print(f"aicost demo [{time.monotonic() - t0:5.1f} s] {number}. "
              f"{section.removeprefix('demo: ')}", file=sys.stderr, flush=True)

    path = run_demo(output=args.output, store=not args.no_store,
                    progress=None if args.no_progress else progress)
    print(f"wrote {path} (open it in a browser: it works offline)")
    return 0


# ----------------------------------------------------------------------------- completion
def _add_completion(sub) -> None:
    p = sub.add_parser(
        "completion", help="print a shell completion script (bash or zsh)",
        description="Print a completion script for aicost's commands and options. Enable it with "
                    "`eval \"$(aicost completion bash)\"` in ~/.bashrc, or "
                    "`eval \"$(aicost completion zsh)\"` in ~/.zshrc.")
    p.add_argument("shell", nargs="?", choices=("bash", "zsh"), default="bash",
                   help="the shell (default bash)")
    p.set_defaults(func=_cmd_completion)


def _command_tree(parser, path=()) -> dict:
    """``{("catalog", "list"): [words completed there]}`` for every command path."""
    words: list[str] = []
    tree: dict = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                words.append(name)
                tree.update(_command_tree(child, (*path, name)))
        elif action.option_strings:
            words.extend(o for o in action.option_strings if o.startswith("--"))
        elif action.choices:
            words.extend(str(c) for c in action.choices)
    tree[path] = sorted(dict.fromkeys(words))
    return tree


#: options whose values are names from aicost's data, completed from it (dest -> source)
_NAME_VALUES = {"model": "models", "accelerator": "accelerators", "accelerators": "accelerators",
                "provider": "providers", "providers": "providers", "pricing": "pricings"}


def _name_lists() -> dict[str, list[str]]:
    """The names the completion offers for ``--model``, ``--accelerator``, ``--provider`` and
    ``--pricing``: the shipped presets and catalog (read once, when the script is printed)."""
    from . import catalog
    from .model import list_models

    try:
        cat = catalog.load(refreshed=False)
    except (AicostError, OSError) as exc:  # a broken user catalog: complete commands anyway
        print(f"aicost completion: catalog names left out ({exc})", file=sys.stderr)
        return {"models": list_models(), "pricings": sorted(catalog.PRICINGS)}
    return {"models": list_models(), "accelerators": sorted(cat.accelerators["name"].astype(str)),
            "providers": sorted(set(cat.instances["provider"].astype(str))),
            "pricings": sorted(catalog.PRICINGS)}


def _option_values(parser, names: dict[str, list[str]], out=None) -> dict[str, list[str]]:
    """``{"--format": ["csv", "json", "table"], "--model": [...], ...}`` over every command (an
    option takes the same values wherever it appears; the union when they differ)."""
    out = {} if out is None else out
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _option_values(child, names, out)
            continue
        if not action.option_strings or action.nargs == 0:
            continue
        values = ([str(c) for c in action.choices] if action.choices
                  else names.get(_NAME_VALUES.get(action.dest, ""), []))
        for opt in action.option_strings:
            if values:
                out[opt] = sorted({*out.get(opt, []), *values})
    return out


def completion_script(shell: str = "bash") -> str:
    """A bash (or zsh, through bashcompinit) completion script for the ``aicost`` command:
    commands, options, and option values (``--format`` choices, model presets after ``--model``,
    catalog accelerators and providers, pricings)."""
    parser = build_parser()
    tree = _command_tree(parser)
    cases = "\n".join(f'        "{" ".join(path)}") words="{" ".join(words)}" ;;'
                      for path, words in sorted(tree.items()))
    values = _option_values(parser, _name_lists())
    value_cases = "\n".join(f'        {opt}) words="{" ".join(v)}" ;;' for opt, v in sorted(values.items()))
    commands = sorted({name for path in tree for name in path})
    script = f"""# aicost {shell} completion (aicost completion {shell})
_aicost_complete() {{
    local cur prev path w i words
    cur="${{COMP_WORDS[COMP_CWORD]}}"
    prev="${{COMP_WORDS[COMP_CWORD-1]}}"
    words=""
    case "$prev" in
{value_cases}
    esac
    if [[ -n "$words" ]]; then
        # a comma-separated list (--providers aws,gcp): complete the last item
        local head="" last="$cur"
        if [[ "$cur" == *,* ]]; then head="${{cur%,*}},"; last="${{cur##*,}}"; fi
        COMPREPLY=( $(compgen -P "$head" -W "$words" -- "$last") )
        return 0
    fi
    path=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        w="${{COMP_WORDS[i]}}"
        case " {' '.join(commands)} " in
            *" $w "*) path="${{path:+$path }}$w" ;;
        esac
    done
    case "$path" in
{cases}
        *) words="" ;;
    esac
    COMPREPLY=( $(compgen -W "$words" -- "$cur") )
    [[ ${{#COMPREPLY[@]}} -eq 0 ]] && COMPREPLY=( $(compgen -f -- "$cur") )
    return 0
}}
complete -o default -F _aicost_complete aicost
"""
    if shell == "zsh":
        script = "autoload -U +X bashcompinit && bashcompinit\n" + script
    return script


def _cmd_completion(args) -> int:
    sys.stdout.write(completion_script(args.shell))
    return 0


# ----------------------------------------------------------------------------- main
def build_parser() -> argparse.ArgumentParser:
    """Return the argument parser of the ``aicost`` command."""
    parser = argparse.ArgumentParser(
        prog="aicost",
        description="Measure AI hardware, model workloads, plan what to rent and what it costs.",
    )
    parser.add_argument("--version", action="version", version=f"aicost {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_catalog(sub)
    _add_store(sub)
    _add_bench(sub)
    _add_plan(sub)
    _add_report(sub)
    _add_demo(sub)
    _add_fleet(sub)
    _add_spend(sub)
    _add_completion(sub)
    _help_for_groups(parser)
    return parser


def _help_for_groups(parser: argparse.ArgumentParser) -> None:
    """A command group named without its subcommand (``aicost``, ``aicost catalog``) prints
    its help instead of an error."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            action.required = False
            if parser.get_default("func") is None:
                parser.set_defaults(func=lambda _args, p=parser: p.print_help() or 0)
            for child in action.choices.values():
                _help_for_groups(child)


def _error_text(exc: BaseException) -> str:
    """One line for an error: OSErrors as ``path: reason``, numpy reprs as plain numbers."""
    import re

    if isinstance(exc, OSError) and not isinstance(exc, AicostError) and exc.strerror:
        where = " -> ".join(str(f) for f in (exc.filename, exc.filename2) if f is not None)
        text = f"{where}: {exc.strerror}" if where else str(exc.strerror)
    elif isinstance(exc, ArithmeticError):
        text = f"a number is out of range ({exc}); use a smaller value"
    else:
        text = str(exc) or type(exc).__name__
    # np.int64(-3) / np.float64(2.5) -> -3 / 2.5 (numpy 2 reprs inside f"{value!r}")
    return re.sub(r"\bnp\.(?:u?int|float|complex|bool_?|str_)\d*\(([^()]*)\)", r"\1", text)


def _check_output_file(path, what: str) -> None:
    """Raise ValueError now if a file cannot be written at ``path`` ('-' is standard output)."""
    import os

    if path is None or str(path) == "-":
        return
    target = Path(path).expanduser()
    if target.is_dir():
        raise ValueError(f"{what} {path} is a directory; give a file name such as "
                         f"{target / ('report.html' if what == '-o' else 'results.json')}")
    parent = target.parent
    for ancestor in (parent, *parent.parents):
        if ancestor.exists():
            if not ancestor.is_dir():
                raise ValueError(f"{what} {path}: {ancestor} is a file, not a directory")
            if not os.access(ancestor, os.W_OK | os.X_OK):
                raise ValueError(f"{what} {path}: cannot write in {ancestor} (permission "
                                 "denied); choose a directory you can write to")
            break
    if target.exists() and not os.access(target, os.W_OK):
        raise ValueError(f"{what} {path}: the file exists and is read-only")


def _check_destinations(args) -> None:
    """Check where a command will write (--json, report/demo -o, the results store) before it
    measures or runs a report, so that a wrong path fails at once, not after the work."""
    json_path = getattr(args, "json", None)
    if isinstance(json_path, str):
        _check_output_file(json_path, "--json")
    command = getattr(args, "command", None)
    if command in ("report", "demo") and isinstance(getattr(args, "output", None), str):
        _check_output_file(args.output, "-o")
    if (command in ("bench", "demo") and not getattr(args, "no_store", True)
            and not getattr(args, "list_backends", False)):
        from .store import Store

        Store().check_writable()


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``aicost`` command; return the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        _check_destinations(args)  # before long work: a bad -o/--json/store fails in a second
        return int(args.func(args) or 0)
    except KeyboardInterrupt as exc:
        sig = getattr(exc, "signal", None)  # SIGTERM during a measurement (cleaned up)
        print("aicost: terminated" if sig else "aicost: interrupted", file=sys.stderr)
        return 128 + sig if sig else 130
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
    except (AicostError, ValueError, LookupError, OSError, ArithmeticError) as exc:
        # a user's mistake (bad value, path, host, overflow): one line, no traceback
        print(f"aicost: error: {_error_text(exc)}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
