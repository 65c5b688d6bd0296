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
    path = report.build(kind.name, output, show_code=args.show_code, keep_notebook=args.keep_notebook,
                        **params)
    print(f"wrote {path}")
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
