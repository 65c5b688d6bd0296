"""Measure the fleet test data: a real slower unit among normal ones, on this machine.

A 2-worker LocalCluster; the smoke suite runs one unit at a time (so the units do not compete
for the 2 cores): 6 normal units (Numba backend, ``numba_threads=1``) and 1 slow unit (the
NumPy backend: its STREAM triad ``a = b + s*c`` makes a temporary and reads/writes memory
twice, a real slower software stack on the same CPU). Units are measured round-robin, 3 rounds,
and each keeps its best rate per metric computed from the fastest sample (``min_s``), not the
median: 8 helpers share this 2-core machine at a load average of 12-16, where median-based
rates of one configuration varied 10x between rounds (a descheduled process); the fastest
sample is the one that ran undisturbed, and a unit that is slow by construction stays slow in
it.

Why not Numba with 2 threads against 1 (the first plan): on this machine, shared by 8
processes at a load average of 6-8, a 2-thread parallel kernel waits at every barrier for a
descheduled thread and measured 0.8-1.9 GB/s against 2.4 GB/s for 1 thread (2026-11-30,
first attempt): the "slow" unit came out fastest. The records are written to tests/data/fleet/cpu_slow_unit.csv with the
date and host; tests/test_fleet.py checks that the outlier logic flags exactly that unit.

    .venv/bin/python scripts/make_fleet_test_data.py
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd

from aicost import fleet


def main(rounds: int = 6, tries: int = 3) -> int:
    from distributed import Client

    out = Path(__file__).resolve().parents[1] / "tests" / "data" / "fleet" / "cpu_slow_unit.csv"
    plan = ([("0", "numba")] * (rounds // 2) + [("1", "numba")] * (rounds - rounds // 2)
            + [("1", "numpy")])
    best: dict[int, pd.DataFrame] = {}
    with fleet.local_cluster(2, gpu=False) as cluster, Client(cluster) as client:
        # round-robin: every unit is measured once per round, so all units meet the same
        # (changing) load of the shared machine; each keeps its best of `tries` rounds
        for t in range(tries):
            for i, (worker, backend) in enumerate(plan):
                for _ in range(5):  # a unit lost to the shared machine is retried
                    r = fleet.bench(client, "smoke", workers=[worker], numba_threads=1,
                                    backend=backend, store=False, progress=False)
                    if not len(r.failures):
                        break
                    print("retrying after:", r.failures["reason"].iloc[0])
                    client.wait_for_workers(2, timeout=60)
                else:
                    raise SystemExit(f"unit {worker}/{backend}: too many failures")
                rec = r.records.copy()
                # the best-sample rate: value (from the median sample) x median_s / min_s
                rec["value"] = rec["value"] * rec["median_s"] / rec["min_s"]
                if i in best:
                    rec["value"] = pd.concat([best[i]["value"], rec["value"]], axis=1).max(axis=1)
                rec["unit_id"] = (rec["unit_id"] + f"/unit{i}"
                                  + ("-numpy" if backend == "numpy" else ""))
                rec["measured_utc"] = r.fleet_id.split("-")[1]
                best[i] = rec
            print(f"round {t}:", [f"{b['value'].iloc[-1] / 1e9:.2f}" for b in best.values()],
                  "GB/s triad (best so far)", flush=True)
    frames = [best[i] for i in sorted(best)]
    df = pd.concat(frames, ignore_index=True)
    df.to_csv(out, index=False)
    print(f"wrote {out} ({len(df)} records)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
