#!/usr/bin/env python
"""Benchmark fleet ingest + analysis at scale: a SIMULATED fleet of N nodes x 8 GPUs x the quick
suite, written to a fresh results store in one transaction, read back and analyzed in DuckDB.

Usage::

    python scripts/bench_fleet.py [--nodes 128 256 512 1024] [--gpus 8] [--json PATH]

The simulated records are derived from the real H200 quick-suite measurements shipped in
data/results/h200_2026-11.json (each value scaled by a draw from that measurement's own raw
samples, a 3 % unit-to-unit factor and 1 % slow units; see aicost.fleet.simulate_fleet) and are
labelled ``simulated=True``. Timed per size: simulate (not counted in the target), ingest
(``aicost.fleet.save``: one transaction), load (``aicost.fleet.load``: SQL over the store),
analyze (``aicost.fleet.analyze``), price (``aicost.fleet.price_per_node``). The target of the
issue: ingest + analyze of 1,024 nodes x 8 GPUs (~100k records or more) under 10 s.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

REFERENCE_S = 10.0


def one(n_nodes: int, gpus: int) -> dict:
    from aicost import fleet
    from aicost.store import Store

    t0 = time.perf_counter()
    run = fleet.simulate_fleet(n_nodes, gpus, seed=n_nodes)
    t_sim = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "fleet.duckdb")
        t0 = time.perf_counter()
        fleet.save(run, store)
        t_ingest = time.perf_counter() - t0
        t0 = time.perf_counter()
        back = fleet.load(store)
        t_load = time.perf_counter() - t0
    t0 = time.perf_counter()
    an = fleet.analyze(back)
    t_analyze = time.perf_counter() - t0
    t0 = time.perf_counter()
    prices = fleet.price_per_node(back)
    t_price = time.perf_counter() - t0
    truly = set(run.units.loc[run.units["simulated_slow"], "unit_id"])
    found = set(an.stragglers["unit_id"])
    total = t_ingest + t_load + t_analyze + t_price
    return {"nodes": n_nodes, "gpus": n_nodes * gpus, "records": len(back.records),
            "simulate_s": t_sim, "ingest_s": t_ingest, "load_s": t_load,
            "analyze_s": t_analyze, "price_s": t_price, "total_s": total,
            "records_per_s": len(back.records) / total, "price_rows": len(prices),
            "slow_units_simulated": len(truly), "slow_units_found": len(truly & found),
            "other_stragglers": len(found - truly)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--nodes", type=int, nargs="+", default=[128, 256, 512, 1024])
    ap.add_argument("--gpus", type=int, default=8)
    ap.add_argument("--json", help="also write the rows to this file")
    args = ap.parse_args(argv)
    print(f"aicost fleet ingest + analysis, SIMULATED fleets from real H200 measurements; "
          f"{platform.node()}, {platform.processor() or platform.machine()}")
    hdr = (f"{'nodes':>6} {'GPUs':>6} {'records':>8} {'ingest':>8} {'load':>7} {'analyze':>8} "
           f"{'price':>7} {'total':>7} {'rec/s':>9} {'slow found':>11} {'extra':>6}")
    print(hdr)
    rows = []
    for n in args.nodes:
        r = one(n, args.gpus)
        rows.append(r)
        print(f"{r['nodes']:>6} {r['gpus']:>6} {r['records']:>8,} {r['ingest_s']:>7.2f}s "
              f"{r['load_s']:>6.2f}s {r['analyze_s']:>7.2f}s {r['price_s']:>6.2f}s "
              f"{r['total_s']:>6.2f}s {r['records_per_s']:>9,.0f} "
              f"{r['slow_units_found']:>5}/{r['slow_units_simulated']:<5} "
              f"{r['other_stragglers']:>6}", flush=True)
    if len(rows) > 1:
        a, b = rows[0], rows[-1]
        print(f"growth {a['nodes']} -> {b['nodes']} nodes (x{b['nodes'] / a['nodes']:.0f} records): "
              f"total time x{b['total_s'] / a['total_s']:.1f}")
    last = rows[-1]
    verdict = "meets" if last["total_s"] < REFERENCE_S else "MISSES"
    print(f"{last['nodes']} nodes x {args.gpus} GPUs: {last['total_s']:.2f} s for ingest + load + "
          f"analyze + price against the {REFERENCE_S:.0f} s reference: {verdict} it")
    if args.json:
        Path(args.json).write_text(json.dumps(rows, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
