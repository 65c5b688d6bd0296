#!/usr/bin/env python
"""Time ``aicost.catalog.load(extra=[user.csv])`` against the size of the user file.

A user instances CSV of N generated rows (new offers; every 100th row overrides a shipped
row, each once) is written to a temporary folder and loaded; the reference is ``pandas.read_csv`` of
the same file (parsing alone, no validation). The loader matches each user row to the
catalog by key (a dict lookup), so its time should grow linearly, like the reference:
the ``x per 10x rows`` column (CPU time) should stay near
10. Wall and CPU seconds are both printed: on a shared machine CPU time is the steadier one.

    python scripts/bench_catalog_load.py                 # 10k, 100k, 1M rows
    python scripts/bench_catalog_load.py --rows 10000 100000

Target: 100k rows in under 2 s (the issue measured 523 s before the keyed join).
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from aicost import catalog

HEADER = ["provider", "instance_type", "region", "accelerator", "accelerator_count",
          "price_on_demand_usd_per_hour", "price_spot_usd_per_hour", "source", "as_of"]


def write_rows(path: Path, n: int) -> None:
    """Write ``n`` generated instance rows; every 100th overrides a shipped row's price (each
    shipped row once)."""
    shipped = catalog.load().table("instances")[["provider", "instance_type", "region"]]
    keys = list(shipped.itertuples(index=False, name=None))
    with open(path, "w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(HEADER)
        for i in range(n):
            if i % 100 == 0 and i // 100 < len(keys):
                prov, itype, region = keys[i // 100]
                price = 10.0 + (i % 97) / 10
                w.writerow([prov, itype, region, "", "", f"{price:.2f}", "", "", ""])
                continue
            w.writerow(["synthetic", f"gen-{i // 8}.{i % 8}xl", f"region-{i % 13}", "H100-SXM",
                        8, f"{20 + (i % 50) / 10:.2f}", f"{8 + (i % 30) / 10:.2f}",
                        "generated benchmark row", "2026-01-01"])


def time_it(fn) -> tuple[float, float]:
    """Wall and CPU seconds of ``fn()`` (CPU time is steadier on a shared machine)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    args = ap.parse_args(argv)
    print(f"{'rows':>9}  {'aicost load':>19}  {'read_csv':>17}  {'ratio':>5}  "
          f"{'x per 10x rows':>14}")
    print(f"{'':>9}  {'wall':>9} {'cpu':>9}  {'wall':>8} {'cpu':>8}  {'(cpu)':>5}  {'(cpu)':>14}")
    prev = None
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.rows:
            path = Path(tmp) / f"instances_{n}.csv"
            write_rows(path, n)
            ref, ref_cpu = time_it(lambda p=path: pd.read_csv(p))
            t, cpu = time_it(lambda p=path: catalog.load(extra=[p]))
            growth = ""
            if prev is not None:
                growth = f"{(cpu / prev[1]) / (n / prev[0]) * 10:.1f}"
            print(f"{n:>9,}  {t:>8.2f}s {cpu:>8.2f}s  {ref:>7.2f}s {ref_cpu:>7.2f}s  "
                  f"{cpu / ref_cpu:>5.0f}  {growth:>14}", flush=True)
            prev = (n, cpu)
            path.unlink()
    return 0


if __name__ == "__main__":
    sys.exit(main())
