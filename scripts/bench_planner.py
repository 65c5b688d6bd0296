#!/usr/bin/env python
"""Benchmark the planner: candidates evaluated per second on one core, and plan latency.

Usage::

    python scripts/bench_planner.py [--model llama-3.1-70b] [--tokens 2e12] [--deadline 30d]
                                    [--repeat 5] [--json PATH]

It prints

* the search rate: candidates (offer x node count x pricing x storage tier x parallel layout)
  evaluated per second by the vectorized kernel and its reduction, against the reference of
  1,000,000 candidates/s on one core;
* the latency of the default training plan over the whole catalog (``plan_training`` end to
  end: catalog, enumeration, search, the candidate table, the Pareto frontier and the
  recommendation with its 20%-lower-efficiency re-evaluation), against the 2 s reference;
* the latency of a default serving plan.

Thread pools are pinned to one thread before numpy is imported, so the rate is one core's.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402

#: the issue's targets
REFERENCE_CANDIDATES_PER_S = 1e6
REFERENCE_PLAN_LATENCY_S = 2.0


def _best_of(fn, repeat: int) -> tuple[float, list[float]]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times), times


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="llama-3.1-70b")
    ap.add_argument("--tokens", type=float, default=2e12)
    ap.add_argument("--deadline", default="30d")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions (the best is reported)")
    ap.add_argument("--json", metavar="PATH", help="write the numbers as JSON")
    args = ap.parse_args(argv)

    import numpy as np

    import aicost
    from aicost.plan import _evaluate as ev
    from aicost.plan import plan_inference, plan_training

    cat = aicost.catalog.load()
    # warm-up: imports, catalog cache, first-call costs
    plan = plan_training(args.model, args.tokens, deadline=args.deadline, catalog=cat)

    # 1. the search rate: the kernel and the per-configuration reduction over every candidate
    cfg, lay, ctx = plan.extras["search"]
    n = len(cfg) * lay.n
    best_s, times = _best_of(lambda: ev.search_training(cfg, lay, ctx), args.repeat)
    rate = n / best_s

    # 2. the default plan, end to end
    plan_s, plan_times = _best_of(
        lambda: plan_training(args.model, args.tokens, deadline=args.deadline, catalog=cat), args.repeat)

    # 3. a serving plan
    serve_s, _ = _best_of(lambda: plan_inference("llama-3.1-8b", requests_per_s=50, prompt_tokens=512,
                                                 output_tokens=256, ttft_s=1.0, tpot_s=0.05,
                                                 catalog=cat), args.repeat)

    ok_rate = rate >= REFERENCE_CANDIDATES_PER_S
    ok_plan = plan_s < REFERENCE_PLAN_LATENCY_S
    print(f"machine: {platform.node()} ({platform.processor() or platform.machine()}), "
          f"Python {platform.python_version()}, numpy {np.__version__}, one thread")
    print(f"search: {n:,} candidates ({len(cfg):,} configurations x {lay.n} layouts) in "
          f"{best_s * 1e3:.0f} ms (best of {args.repeat}; median {statistics.median(times) * 1e3:.0f} ms)")
    print(f"  rate: {rate:,.0f} candidates/s   reference: {REFERENCE_CANDIDATES_PER_S:,.0f}/s   "
          f"{'OK' if ok_rate else 'BELOW REFERENCE'}")
    print(f"default training plan ({args.model}, {args.tokens:.3g} tokens, deadline {args.deadline}, "
          f"whole catalog): {plan_s:.2f} s (best of {args.repeat}; median "
          f"{statistics.median(plan_times):.2f} s)   reference: < {REFERENCE_PLAN_LATENCY_S:.0f} s   "
          f"{'OK' if ok_plan else 'SLOWER THAN REFERENCE'}")
    print(f"  {plan.summary()}")
    print(f"serving plan (llama-3.1-8b, 50 req/s): {serve_s:.2f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"candidates": n, "search_s": best_s, "candidates_per_s": rate,
                       "reference_candidates_per_s": REFERENCE_CANDIDATES_PER_S,
                       "plan_latency_s": plan_s, "reference_plan_latency_s": REFERENCE_PLAN_LATENCY_S,
                       "serve_plan_latency_s": serve_s, "machine": platform.node(),
                       "numpy": np.__version__}, fh, indent=2)
    return 0 if (ok_rate and ok_plan) else 1


if __name__ == "__main__":
    sys.exit(main())
