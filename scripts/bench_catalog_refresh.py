#!/usr/bin/env python
"""Time the refreshed catalog: load it (cold and warm) and plan the 70B training run over it.

A large refreshed catalog is generated from the REAL SkyPilot files in tests/data/skypilot/
(Lambda, Nebius, Hyperbolic; commits in its README): each file's rows are repeated over
``--regions`` synthetic regions, which gives tens of thousands of offers, as a refresh of all
providers does. The files are served by a local HTTP server and fetched with
``aicost.catalog.refresh`` (the real code path: download, validation, atomic cache, history)
into a temporary AICOST_HOME. Then it prints, in one run:

* ``aicost.catalog.load()`` (which includes the refreshed catalogs) cold (first build: parse
  and import every cached file) and warm (the cached build, copied) against the 1 s target;
* ``plan_training("llama-3.1-70b", 2e12, deadline="30d")`` CPU time over today's catalog and
  over the refreshed one, against the 5 s target.

    python scripts/bench_catalog_refresh.py [--regions 600] [--repeat 3]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import functools  # noqa: E402
import http.server  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import threading  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402
from pathlib import Path  # noqa: E402

DATA = Path(__file__).resolve().parent.parent / "tests" / "data" / "skypilot"
TARGET_WARM_LOAD_S = 1.0
TARGET_PLAN_CPU_S = 5.0


def _grow(src: Path, regions: int) -> bytes:
    """The file's rows repeated over ``regions`` synthetic regions (region name suffixed)."""
    import csv
    import io

    rows = list(csv.reader(io.StringIO(src.read_text())))
    header, body = rows[0], rows[1:]
    ri = header.index("Region")
    seen = []
    for r in body:  # one row per (type, region) of the real file, then spread over regions
        if r not in seen:
            seen.append(r)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    for k in range(regions):
        for r in seen:
            r2 = list(r)
            r2[ri] = f"{r[ri]}-s{k:03d}"
            w.writerow(r2)
    return out.getvalue().encode()


def _best(fn, repeat):
    walls, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(walls), min(cpus), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--regions", type=int, default=600, help="synthetic regions per real file")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "www"
        for prov in ("lambda", "nebius", "hyperbolic"):
            dest = root / "catalogs" / "v7" / prov / "vms.csv"
            dest.parent.mkdir(parents=True)
            dest.write_bytes(_grow(DATA / "catalogs" / "v7" / prov / "vms.csv", args.regions))
        os.environ["AICOST_HOME"] = str(Path(tmp) / "home")
        class Quiet(http.server.SimpleHTTPRequestHandler):
            def log_message(self, *a):
                pass

        handler = functools.partial(Quiet, directory=str(root))
        httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{httpd.server_address[1]}/catalogs"

        import aicost
        from aicost.plan import plan_training

        t0 = time.perf_counter()
        report = aicost.catalog.refresh("skypilot", "lambda,nebius,hyperbolic", base_url=url)
        refresh_s = time.perf_counter() - t0
        httpd.shutdown()
        offers = sum(r.offers for r in report.results)
        size = sum((root / "catalogs/v7" / p / "vms.csv").stat().st_size
                   for p in ("lambda", "nebius", "hyperbolic"))

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0, c0 = time.perf_counter(), time.process_time()
            big = aicost.catalog.load()  # includes the refreshed catalogs
            cold_s, cold_cpu = time.perf_counter() - t0, time.process_time() - c0
            warm_s, warm_cpu, big = _best(aicost.catalog.load, max(args.repeat, 5))
            today_load_s, _, today = _best(lambda: aicost.catalog.load(refreshed=False),
                                           max(args.repeat, 5))

        def plan(cat):
            return lambda: plan_training("llama-3.1-70b", 2e12, deadline="30d", catalog=cat)

        plan(today)()  # warm-up (imports, model presets)
        p_today_s, p_today_cpu, pt = _best(plan(today), args.repeat)
        p_big_s, p_big_cpu, pb = _best(plan(big), args.repeat)

    print(f"machine: {platform.node()} ({os.cpu_count()} CPUs, load average "
          f"{os.getloadavg()[0]:.1f}), Python {platform.python_version()}")
    print(f"refresh: 3 providers, {size / 1e6:.1f} MB of vms.csv ({args.regions} synthetic regions "
          f"per real file) -> {offers:,} offers in {refresh_s:.2f} s (download, validation, "
          f"atomic cache, {report.history_rows:,} history rows)")
    print(f"catalog instances: today {len(today.instances):,}, refreshed {len(big.instances):,}")
    print(f"load() with the refreshed catalogs: cold {cold_s:.2f} s ({cold_cpu:.2f} s CPU), warm {warm_s * 1e3:.0f} ms "
          f"({warm_cpu * 1e3:.0f} ms CPU)   target warm < {TARGET_WARM_LOAD_S:.0f} s   "
          f"{'OK' if warm_s < TARGET_WARM_LOAD_S else 'SLOWER THAN TARGET'}   "
          f"(load(refreshed=False), warm: {today_load_s * 1e3:.0f} ms)")
    print(f"plan_training(llama-3.1-70b, 2e12 tokens, deadline 30d), best of {args.repeat}:")
    print(f"  today's catalog:     {p_today_s:.2f} s wall, {p_today_cpu:.2f} s CPU")
    print(f"  refreshed catalog:   {p_big_s:.2f} s wall, {p_big_cpu:.2f} s CPU   target < "
          f"{TARGET_PLAN_CPU_S:.0f} s CPU   "
          f"{'OK' if p_big_cpu < TARGET_PLAN_CPU_S else 'SLOWER THAN TARGET'}")
    for name, p in (("today", pt), ("refreshed", pb)):
        print(f"  {name}: {p.summary() if hasattr(p, 'summary') else p}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
