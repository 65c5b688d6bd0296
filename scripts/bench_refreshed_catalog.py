#!/usr/bin/env python
"""Load and plan over a refreshed catalog of tens of thousands of rows, beside today's figures.

Issue 13's speed targets: ``aicost.catalog.load()`` with refreshed data (all providers, tens of
thousands of rows) under 1 s warm, and the 70B training plan over the refreshed catalog under
5 s of CPU time on 2 cores, printed beside today's figure (the shipped catalog alone) in one run.

The refreshed catalog is built offline, never from the network: the real SkyPilot ``vms.csv``
files in ``tests/data/skypilot`` (Lambda, Nebius, Hyperbolic; commits in its README), and with ``--illustrative`` the
SkyPilot-format AWS/GCP test files of ``tests/data/catalog/skypilot`` (illustrative prices, but
instance families with cluster fabrics, so multi-node offers), are scaled
to ``--rows`` rows by repeating every row (GPU and CPU-only rows alike) in synthetic regions
(``<region>-s<k>``), each region's prices a few percent apart (``--price-levels`` distinct
levels, as regional prices differ in the real catalogs), and written where
``aicost catalog refresh`` writes them: ``$AICOST_HOME/catalog/skypilot/v7/<provider>/vms.csv``
with its ``meta.json``, under a temporary ``AICOST_HOME``.

    python scripts/bench_refreshed_catalog.py                  # 30,000 rows, 3 price levels
    python scripts/bench_refreshed_catalog.py --rows 100000 --price-levels 5

Times are CPU seconds of this process (``time.process_time``, all threads) and wall seconds;
on a shared machine CPU time is the steadier one. Thread pools are limited to 2 threads.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "2")

import argparse  # noqa: E402
import csv  # noqa: E402
import datetime as dt  # noqa: E402
import hashlib  # noqa: E402
import io  # noqa: E402
import json  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SKYPILOT = ROOT / "tests" / "data" / "skypilot" / "catalogs" / "v7"
#: small SkyPilot-format files with illustrative prices (AWS v7, GCP v8): their instance families
#: have cluster fabrics, so the planner searches them as multi-node clusters (the harder case)
ILLUSTRATIVE = ROOT / "tests" / "data" / "catalog" / "skypilot"
#: the issue's targets
TARGET_LOAD_WARM_S = 1.0
TARGET_PLAN_CPU_S = 5.0


def scaled_vms(path: Path, n_rows: int, levels: int) -> tuple[str, int]:
    """The rows of a real SkyPilot ``vms.csv`` repeated in synthetic regions up to ``n_rows``."""
    with open(path, newline="") as fh:
        rows = list(csv.reader(fh))
    header, body = rows[0], rows[1:]
    i_region, i_price = header.index("Region"), header.index("Price")
    i_spot = header.index("SpotPrice") if "SpotPrice" in header else None
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(header)
    n, k = 0, 0
    while n < n_rows:
        factor = 1.0 + 0.03 * (k % levels)  # a region's prices: one of `levels` levels
        for r in body:
            if n >= n_rows:
                break
            r = list(r)
            if k:
                r[i_region] = f"{r[i_region]}-s{k}"
                for i in (i_price, i_spot):
                    if i is not None and r[i] not in ("", "nan"):
                        r[i] = f"{float(r[i]) * factor:.4f}"
            w.writerow(r)
            n += 1
        k += 1
    return out.getvalue(), n


def build_cache(home: Path, n_rows: int, levels: int, illustrative: bool = False) -> int:
    """Write the scaled catalogs and their meta.json as ``aicost catalog refresh`` does."""
    files = sorted(SKYPILOT.glob("*/vms.csv"))
    if illustrative:
        files += sorted(ILLUSTRATIVE.glob("v*/*/vms.csv"))
    per = n_rows // len(files)
    total = 0
    fetched = dt.datetime(2026, 11, 30, tzinfo=dt.timezone.utc).isoformat()
    for f in files:
        text, n = scaled_vms(f, per, levels)
        total += n
        folder = home / "catalog" / "skypilot" / f.parent.parent.name / f.parent.name
        folder.mkdir(parents=True, exist_ok=True)
        data = text.encode()
        (folder / "vms.csv").write_bytes(data)
        meta = {"url": f"file://{f}", "provider": f.parent.name, "fetched_at": fetched,
                "checked_at": fetched, "etag": None, "last_modified": None,
                "sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
        (folder / "meta.json").write_text(json.dumps(meta))
    return total


def timed(fn, repeat: int = 1):
    """(result, best wall s, best CPU s) over ``repeat`` calls."""
    walls, cpus, out = [], [], None
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        out = fn()
        walls.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return out, min(walls), min(cpus)


def measure(label: str, args) -> dict:
    import warnings

    from aicost import catalog
    from aicost.plan import plan_training

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # the import summary of the scaled files
        cat, cold_wall, cold_cpu = timed(catalog.load)
        _, warm_wall, warm_cpu = timed(catalog.load, repeat=args.repeat)
    plan, plan_wall, plan_cpu = timed(
        lambda: plan_training(args.model, args.tokens, deadline=args.deadline, catalog=cat).best,
        repeat=args.plan_repeat)
    return {"label": label, "rows": len(cat.instances), "cold_wall": cold_wall, "cold_cpu": cold_cpu,
            "warm_wall": warm_wall, "warm_cpu": warm_cpu, "plan_wall": plan_wall, "plan_cpu": plan_cpu,
            "best": plan.headline if plan is not None else "-"}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=30_000, help="rows of the refreshed catalog (all files)")
    ap.add_argument("--price-levels", type=int, default=3, help="distinct regional price levels")
    ap.add_argument("--model", default="llama-3.1-70b")
    ap.add_argument("--tokens", type=float, default=2e12)
    ap.add_argument("--deadline", default="30d")
    ap.add_argument("--repeat", type=int, default=5, help="warm loads timed (best of)")
    ap.add_argument("--plan-repeat", type=int, default=2, help="plans timed (best of)")
    ap.add_argument("--illustrative", action="store_true",
                    help="also scale the AWS/GCP SkyPilot-format test files (illustrative prices; "
                         "multi-node instance families)")
    args = ap.parse_args(argv)

    results = []
    with tempfile.TemporaryDirectory() as tmp:
        os.environ["AICOST_HOME"] = str(Path(tmp) / "empty")  # today: the shipped catalog alone
        results.append(measure("today (shipped)", args))
        home = Path(tmp) / "refreshed"
        n = build_cache(home, args.rows, args.price_levels, args.illustrative)
        os.environ["AICOST_HOME"] = str(home)
        results.append(measure(f"refreshed ({n:,} vms.csv rows)", args))

    print(f"{'catalog':<30} {'instances':>9}  {'load cold':>17}  {'load warm':>17}  {'70B plan':>17}")
    print(f"{'':<30} {'':>9}  {'wall':>8} {'cpu':>8}  {'wall':>8} {'cpu':>8}  {'wall':>8} {'cpu':>8}")
    for r in results:
        print(f"{r['label']:<30} {r['rows']:>9,}  {r['cold_wall']:>7.2f}s {r['cold_cpu']:>7.2f}s  "
              f"{r['warm_wall']:>7.3f}s {r['warm_cpu']:>7.3f}s  {r['plan_wall']:>7.2f}s {r['plan_cpu']:>7.2f}s")
    today, fresh = results
    print(f"targets: warm load < {TARGET_LOAD_WARM_S:g} s -> {fresh['warm_wall']:.3f} s wall "
          f"({'ok' if fresh['warm_wall'] < TARGET_LOAD_WARM_S else 'MISSED'}); 70B plan < "
          f"{TARGET_PLAN_CPU_S:g} s CPU -> {fresh['plan_cpu']:.2f} s "
          f"({'ok' if fresh['plan_cpu'] < TARGET_PLAN_CPU_S else 'MISSED'}); refreshed/today: load warm "
          f"x{fresh['warm_cpu'] / max(today['warm_cpu'], 1e-9):.1f}, plan x{fresh['plan_cpu'] / today['plan_cpu']:.2f}")
    for r in results:
        print(f"best ({r['label']}): {r['best']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
