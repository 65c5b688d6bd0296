"""Benchmarks of aicost.spend, each printed beside its reference (issue 14).

    .venv/bin/python scripts/bench_spend.py [--rows 10000000] [--csv-rows 1000000] [--skip-focus]

1. Commitment portfolio: 8,760 hours x 20 offers x 3 terms (1y, 3y, capacity block) over five
   accelerator pools, solved by HiGHS (LP, then MILP with whole instances); reference: under 5 s
   of CPU time.
2. FOCUS ingestion: a generated bill of ``--rows`` line items (Parquet) and ``--csv-rows`` (CSV),
   opened with aicost.spend.read_focus and summarized with analyze_spend (DuckDB, never in
   pandas); reference: 10 million rows under 60 s with bounded memory. Each step runs in its own
   process so that its peak RSS is its own; pandas reads and summarizes the same file in the same
   run for comparison.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PY = sys.executable


def _child(code: str, mem_gib: float | None = None) -> dict:
    """Run code in a fresh interpreter; it prints a JSON dict; add its peak RSS [MiB].

    ``mem_gib`` caps the child's address space (RLIMIT_AS) so that a reader that would need more
    memory than the machine has fails with MemoryError instead of pushing others into swap.
    """
    cap = ("import resource as _res\n_res.setrlimit(_res.RLIMIT_AS, "
           f"({int(mem_gib * 2**30)}, {int(mem_gib * 2**30)}))\n" if mem_gib else "")
    wrapper = (cap + code + "\nimport resource, json as _j\n"
               "_r['peak_rss_mib'] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
               "print('@@' + _j.dumps(_r))\n")
    out = subprocess.run([PY, "-c", wrapper], capture_output=True, text=True)
    if out.returncode != 0:
        last = (out.stderr.strip().splitlines() or ["?"])[-1]
        if mem_gib and ("MemoryError" in out.stderr or "bad_alloc" in out.stderr
                        or "out of memory" in out.stderr.lower() or out.returncode < 0):
            return {"failed": f"out of memory under a {mem_gib:g} GiB cap ({last[:120]})"}
        raise RuntimeError(out.stderr[-3000:])
    line = [x for x in out.stdout.splitlines() if x.startswith("@@")][-1]
    return json.loads(line[2:])


def bench_portfolio() -> None:
    code = r"""
import time, numpy as np, pandas as pd
from aicost import spend as S
rng = np.random.default_rng(0)
T = 8760
idx = pd.date_range('2026-01-01', periods=T, freq='h', tz='UTC')
pools = ['H100-SXM', 'H200-SXM', 'A100-80GB', 'L40S', 'B200']
od = {'H100-SXM': 6.88, 'H200-SXM': 7.91, 'A100-80GB': 3.43, 'L40S': 2.24, 'B200': 14.24}
parts = []
t = np.arange(T)
for k, a in enumerate(pools):
    base = 40 + 20 * k + 15 * np.sin(2 * np.pi * t / 24) + 10 * np.sin(2 * np.pi * t / 8760)
    burst = (rng.random(T) < 0.05) * rng.integers(0, 60, T)
    g = np.maximum(0, np.round(base + burst + rng.normal(0, 5, T)))
    parts.append(pd.DataFrame({'timestamp': idx, 'accelerator': a, 'gpus': g,
                               'workload_class': 'training' if k % 2 else 'serving'}))
demand = pd.concat(parts, ignore_index=True)
offers = []
for k, a in enumerate(pools):
    for j in range(4):       # 4 offers (providers/instances) per pool = 20 offers
        p = od[a] * (1 + 0.05 * j)
        offers.append(S.Offer(f'{a} o{j} 1y', a, '1y', p * (0.70 - 0.02 * j), p, 8,
                              max_units=6 + j))
        offers.append(S.Offer(f'{a} o{j} 3y', a, '3y', p * (0.55 - 0.02 * j), p, 8,
                              max_units=3 + j))
        offers.append(S.Offer(f'{a} o{j} block', a, 'capacity_block', p * (0.75 - 0.01 * j), p, 8,
                              block_hours=168))
spot = {a: od[a] * 0.4 for a in pools}
_r = {'offers': len({o.name.rsplit(' ', 1)[0] for o in offers}), 'options': len(offers)}
for whole in (False, True):
    c0, w0 = time.process_time(), time.perf_counter()
    port = S.optimize_portfolio(demand, offers, spot_usd_per_gpu_hour=spot, whole_units=whole,
                                time_limit_s=120)
    key = 'milp' if whole else 'lp'
    _r[key + '_cpu_s'] = time.process_time() - c0
    _r[key + '_wall_s'] = time.perf_counter() - w0
    _r[key + '_total_usd'] = port.summary['total_usd']
    _r[key + '_savings'] = port.summary['savings_fraction']
    _r[key + '_gap'] = port.summary['mip_gap']
"""
    r = _child(code)
    print(f"portfolio: 8,760 h x {r['offers']} offers x 3 terms ({r['options']} commitment "
          "options, 5 pools)")
    print(f"  LP   (HiGHS linprog): {r['lp_cpu_s']:6.2f} s CPU ({r['lp_wall_s']:.2f} s wall)   "
          f"reference: < 5 s CPU   saves {r['lp_savings']:.1%} vs all on demand")
    print(f"  MILP (whole 8-GPU instances): {r['milp_cpu_s']:6.2f} s CPU "
          f"({r['milp_wall_s']:.2f} s wall)   total ${r['milp_total_usd']:,.0f} vs LP "
          f"${r['lp_total_usd']:,.0f} (MIP gap {r['milp_gap']:.2%})")
    print(f"  peak RSS {r['peak_rss_mib']:.0f} MiB")


def bench_focus(rows: int, fmt: str, tmp: Path, pandas_mem_gib: float = 8.0) -> dict:
    path = tmp / f"focus_{rows}.{fmt}"
    hours = 8760 if rows >= 8760 * 10 else 24
    resources = max(1, rows // hours)
    gen = _child(f"""
import time
from aicost import spend as S
t = time.perf_counter()
n = S.write_synthetic_focus({str(path)!r}, resources={resources}, hours={hours})
_r = {{'rows': n, 'gen_s': time.perf_counter() - t}}
""")
    size = path.stat().st_size
    ours = _child(f"""
import time
from aicost import spend as S
t = time.perf_counter()
bill = S.read_focus({str(path)!r})
t_open = time.perf_counter() - t
a = S.analyze_spend(bill)
_r = {{'open_s': t_open, 'total_s': time.perf_counter() - t,
       'effective_usd': a.summary['effective_usd'], 'gpu_hours': a.summary['gpu_hours'],
       'unused_usd': a.summary['unused_commitment_usd']}}
""")
    print(f"FOCUS {fmt}: {gen['rows']:,} rows, {size / 1e6:,.0f} MB (generated in "
          f"{gen['gen_s']:.0f} s)")
    print(f"  aicost (DuckDB) read_focus + analyze_spend: {ours['total_s']:6.1f} s, peak RSS "
          f"{ours['peak_rss_mib']:,.0f} MiB   reference: 10M rows < 60 s, bounded memory",
          flush=True)
    reader = "pd.read_parquet(p)" if fmt == "parquet" else "pd.read_csv(p)"
    pand = _child(f"""
import time, json, pandas as pd
p = {str(path)!r}
t = time.perf_counter()
df = {reader}
t_read = time.perf_counter() - t
day = pd.to_datetime(df['ChargePeriodStart'], utc=True).dt.floor('D')
by = df.groupby([day, 'PricingCategory'])['EffectiveCost'].sum()
team = df['Tags'].str.extract(r'"team":"([^"]*)"')[0]
unused = df.loc[df['CommitmentDiscountStatus'] == 'Unused'].groupby(team)['EffectiveCost'].sum()
_r = {{'read_s': t_read, 'total_s': time.perf_counter() - t,
       'effective_usd': float(df['EffectiveCost'].sum()), 'unused_usd': float(unused.sum())}}
""", mem_gib=pandas_mem_gib)
    if "failed" in pand:
        print(f"  pandas {reader.split('(')[0]} + the same summary: failed, {pand['failed']}")
        path.unlink()
        return {"rows": gen["rows"], "ours": ours, "pandas": pand}
    print(f"  pandas {reader.split('(')[0]} + the same summary: {pand['total_s']:6.1f} s, peak RSS "
          f"{pand['peak_rss_mib']:,.0f} MiB (read alone {pand['read_s']:.1f} s)")
    agree = abs(ours['effective_usd'] - pand['effective_usd']) <= 1e-6 * max(1, pand['effective_usd'])
    print(f"  totals agree: {agree} (effective ${ours['effective_usd']:,.0f}; unused "
          f"commitments ${ours['unused_usd']:,.0f} vs pandas ${pand['unused_usd']:,.0f})")
    path.unlink()
    return {"rows": gen["rows"], "ours": ours, "pandas": pand}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=10_000_000, help="Parquet bill rows")
    ap.add_argument("--csv-rows", type=int, default=1_000_000, help="CSV bill rows (0: skip)")
    ap.add_argument("--growth", action="store_true",
                    help="also time 1/10 and 1/100 of --rows to show the growth")
    ap.add_argument("--pandas-mem-gib", type=float, default=8.0,
                    help="address-space cap of the pandas comparison [GiB] (it needs about "
                         "1.7 GiB per million rows)")
    ap.add_argument("--skip-focus", action="store_true")
    ap.add_argument("--skip-portfolio", action="store_true")
    args = ap.parse_args()
    print(f"aicost.spend benchmarks, {time.strftime('%Y-%m-%d %H:%M')}, python {sys.version.split()[0]}")
    if not args.skip_portfolio:
        bench_portfolio()
    if args.skip_focus:
        return
    with tempfile.TemporaryDirectory(prefix="aicost-bench-spend-") as d:
        tmp = Path(d)
        sizes = [args.rows]
        if args.growth:
            sizes = [args.rows // 100, args.rows // 10, args.rows]
        for n in sizes:
            bench_focus(n, "parquet", tmp, args.pandas_mem_gib)
        if args.csv_rows:
            bench_focus(args.csv_rows, "csv", tmp, args.pandas_mem_gib)


if __name__ == "__main__":
    main()
