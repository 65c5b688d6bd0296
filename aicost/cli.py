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
    _add_format(lp)
    lp.set_defaults(func=_cmd_catalog_list)
    sp = csub.add_parser("show", help="show one accelerator, instance, storage tier or fabric")
    sp.add_argument("name")
    sp.add_argument("--extra", action="append", default=[], metavar="CSV")
    sp.add_argument("--format", choices=("table", "json"), default="table")
    sp.set_defaults(func=_cmd_catalog_show)


def _cmd_catalog_list(args) -> int:
    from . import catalog

    cat = catalog.load(extra=args.extra or None)
    _emit(cat.table(args.table, provider=args.provider), args.format)
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


def _add_bench_storage(bsub) -> None:
    """`aicost bench storage` (issue: storage and network)."""


def _add_bench_network(bsub) -> None:
    """`aicost bench network` (issue: storage and network)."""


# ----------------------------------------------------------------------------- plan
def _add_plan(sub) -> None:
    """`aicost plan train|serve` (issue: workload models and planner)."""


# ----------------------------------------------------------------------------- report
def _add_report(sub) -> None:
    """`aicost report KIND` (issue: reports and dashboards)."""


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
