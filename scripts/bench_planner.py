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


def _best_of(fn, repeat: int) -> tuple[float, list[float], float]:
    """Best wall time, all wall times, and the CPU time of the best run [s].

    On a shared machine the wall time includes waiting for a core; the process CPU time of a
    one-thread run is what one core spent, and is reported beside it.
    """
    times, cpus = [], []
    for _ in range(repeat):
        t0, c0 = time.perf_counter(), time.process_time()
        fn()
        times.append(time.perf_counter() - t0)
        cpus.append(time.process_time() - c0)
    return min(times), times, min(cpus)


#: issue 16's targets
ISSUE16_RATE = 5e6
ISSUE16_COLD_S = 1.0
ISSUE16_REPLAN_S = 0.3


def _replan_figures(args, cat, plan_training, repeat: int = 3) -> dict:
    """CPU seconds of `PlanCache.plan_training(...).best` after one change each, against a cold
    `plan_training(...).best` with the same arguments.

    Each timed call is a new value (deadline 45, 46, ... days; tokens x1.5, x1.6, ...), so no
    answer is a repeat; a filter seen for the first time also resolves its offers, so the first
    call of each change is reported beside the best of ``repeat``.
    """
    from aicost.plan import PlanCache

    cache = PlanCache()
    base = dict(tokens=args.tokens, deadline=args.deadline, catalog=cat)
    c0 = time.process_time()
    _ = cache.plan_training(args.model, **base).best
    fill = time.process_time() - c0
    changes = {
        "deadline": lambda i: dict(base, deadline=f"{45 + i}d"),
        "budget": lambda i: dict(base, budget_usd=5e6 + 1e5 * i),
        "tokens": lambda i: dict(base, tokens=args.tokens * (1.5 + 0.1 * i)),
        "pricing filter": lambda i: dict(base, pricing="on_demand", deadline=f"{30 + i}d"),
        "provider filter": lambda i: dict(base, providers=["aws", "gcp", "azure"], deadline=f"{30 + i}d"),
    }
    first, out, cold = {}, {}, {}
    for name, make in changes.items():
        times = []
        for i in range(repeat):
            c0 = time.process_time()
            _ = cache.plan_training(args.model, **make(i)).best
            times.append(time.process_time() - c0)
        first[name], out[name] = times[0], min(times)
        kw0 = make(0)
        _, _, cold[name] = _best_of(lambda kw=kw0: plan_training(args.model, **kw).best, 1)
    return {"fill_cpu_s": fill, "first_replan_cpu_s": first, "replan_cpu_s": out, "cold_cpu_s": cold,
            "entry_candidates": int(sum(len(e.cfg) * e.lay.n for e in cache._entries.values())),
            "cache_bytes": cache.nbytes, "full_evaluations": cache.misses}


def _serving_figures(cat, repeat: int = 3, model: str = "llama-3.1-8b") -> dict:
    """CPU seconds of `ServingPlanCache.plan_inference(...).best` after one change each (request
    rate, TTFT target, TPOT target, budget, pricing filter), against a cold
    `plan_inference(...).best` with the same arguments.

    Each timed call is a new value (a rate never seen sizes its replicas again), so no answer is
    a repeat; the pricing filter is a new cache entry on its first call (reported beside).
    """
    from aicost.plan import ServingPlanCache, plan_inference

    base = dict(requests_per_s=50.0, prompt_tokens=512, output_tokens=256, ttft_s=1.0, tpot_s=0.05,
                catalog=cat)
    _, _, cold = _best_of(lambda: plan_inference(model, **base).best, repeat)
    cache = ServingPlanCache()
    c0 = time.process_time()
    _ = cache.plan_inference(model, **base).best
    fill = time.process_time() - c0
    changes = {
        "request rate": lambda i: dict(base, requests_per_s=60.0 + 10 * i),
        "rate x10": lambda i: dict(base, requests_per_s=500.0 + 10 * i),
        "TTFT target": lambda i: dict(base, ttft_s=0.8 - 0.05 * i),
        "TPOT target": lambda i: dict(base, tpot_s=0.04 - 0.002 * i),
        "budget": lambda i: dict(base, budget_usd_per_hour=100.0 + 10 * i),
        "pricing filter": lambda i: dict(base, pricing="on_demand", requests_per_s=50.0 + i),
    }
    first, out, cold_at = {}, {}, {}
    for name, make in changes.items():
        times = []
        for i in range(repeat):
            c0 = time.process_time()
            _ = cache.plan_inference(model, **make(i)).best
            times.append(time.process_time() - c0)
        first[name], out[name] = times[0], min(times)
        kw0 = make(0)
        _, _, cold_at[name] = _best_of(lambda kw=kw0: plan_inference(model, **kw).best, 1)
    entry = next(iter(cache._entries.values()))
    return {"model": model, "cold_cpu_s": cold, "fill_cpu_s": fill, "replan_cpu_s": out,
            "first_replan_cpu_s": first, "cold_change_cpu_s": cold_at,
            "entry_candidates": int(len(entry.memo["base"][1.0].struct)), "cache_bytes": cache.nbytes,
            "full_evaluations": cache.misses}


def _print_serving(sv: dict) -> None:
    print(f"serving re-plans (issue 16; {sv['model']} at 50 req/s, TTFT 1 s, TPOT 50 ms, whole catalog, "
          f"CPU seconds with .best, one thread):")
    print(f"  cold plan_inference         {sv['cold_cpu_s']:>11.3f} s")
    print(f"  ServingPlanCache fill       {sv['fill_cpu_s']:>11.3f} s   ({sv['entry_candidates']:,} candidates; "
          f"{sv['cache_bytes'] / 1e6:.0f} MB held after all changes, {sv['full_evaluations']} entries)")
    for name, cpu_s in sv["replan_cpu_s"].items():
        print(f"  re-plan after {name:<14}{cpu_s:>10.3f} s   target < {ISSUE16_REPLAN_S:g} s   "
              f"{'OK' if cpu_s < ISSUE16_REPLAN_S else 'MISSED'}   (first call {sv['first_replan_cpu_s'][name]:.3f} s; "
              f"cold plan {sv['cold_change_cpu_s'][name]:.3f} s)")


def _schedule_figures(args, cat, plan_training, repeat: int) -> dict:
    """Issue 12: the default search against the same search with the ZB-H1 schedule axis
    (``schedules=("1f1b", "zb-h1")``), timed alternately (side by side on a shared machine):
    candidates, CPU seconds of ``search.evaluate()`` (best of ``repeat``) and candidates per CPU-second."""
    searches = {
        "1f1b (default)": plan_training(args.model, args.tokens, deadline=args.deadline, catalog=cat).search,
        "1f1b + zb-h1": plan_training(args.model, args.tokens, deadline=args.deadline, catalog=cat,
                                      schedules=("1f1b", "zb-h1")).search,
    }
    cpu = {k: [] for k in searches}
    for _ in range(repeat):
        for k, s in searches.items():
            _, _, c = _best_of(s.evaluate, 1)
            cpu[k].append(c)
    return {k: {"candidates": s.n_candidates, "layouts": s.layouts.n, "cpu_s": min(cpu[k]),
                "candidates_per_cpu_s": s.n_candidates / min(cpu[k])} for k, s in searches.items()}


def _print_schedules(sf: dict) -> None:
    print("pipeline schedules (issue 12; the default search and the same with schedules=('1f1b', 'zb-h1'), "
          "timed alternately, CPU seconds of search.evaluate(), best):")
    for name, f in sf.items():
        print(f"  {name:<16}{f['candidates']:>13,} candidates ({f['layouts']} layouts) in {f['cpu_s']:.3f} s CPU: "
              f"{f['candidates_per_cpu_s']:>12,.0f}/s   reference: {REFERENCE_CANDIDATES_PER_S:,.0f}/s   "
              f"{'OK' if f['candidates_per_cpu_s'] >= REFERENCE_CANDIDATES_PER_S else 'BELOW REFERENCE'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", default="llama-3.1-70b")
    ap.add_argument("--moe-model", default="mixtral-8x7b", help="mixture-of-experts model for the MoE figure")
    ap.add_argument("--cp-seq-len", type=int, default=32768,
                    help="sequence length of the dense and MoE figures with context parallelism in the search")
    ap.add_argument("--tokens", type=float, default=2e12)
    ap.add_argument("--deadline", default="30d")
    ap.add_argument("--repeat", type=int, default=5, help="repetitions (the best is reported)")
    ap.add_argument("--json", metavar="PATH", help="write the numbers as JSON")
    ap.add_argument("--serving-only", action="store_true", help="only the serving re-plan figures (issue 16)")
    ap.add_argument("--schedules-only", action="store_true",
                    help="only the search rate with and without the ZB-H1 schedule axis (issue 12)")
    args = ap.parse_args(argv)

    import numpy as np

    import aicost
    from aicost.plan import plan_inference, plan_training

    cat = aicost.catalog.load()
    if args.serving_only:
        _ = plan_inference("llama-3.1-8b", requests_per_s=50, catalog=cat).best  # warm-up
        _print_serving(_serving_figures(cat, args.repeat))
        return 0
    if args.schedules_only:
        sf = _schedule_figures(args, cat, plan_training, args.repeat)
        _print_schedules(sf)
        return 0 if all(f["candidates_per_cpu_s"] >= REFERENCE_CANDIDATES_PER_S for f in sf.values()) else 1
    # warm-up: imports, catalog cache, first-call costs
    plan = plan_training(args.model, args.tokens, deadline=args.deadline, catalog=cat)

    # 1. the search rate: the kernel and the per-configuration reduction over every candidate
    search = plan.search
    n = search.n_candidates
    n_modeled = search.n_modeled
    best_s, times, best_cpu = _best_of(search.evaluate, args.repeat)
    rate = n / best_s
    rate_cpu = n / best_cpu

    # 1b. issue 12: the same search rate with context parallelism in the search (a long sequence:
    # cp is searched from aicost.plan.CP_MIN_SEQ_LEN on), dense and mixture-of-experts (ep and cp)
    cp_search = plan_training(args.model, args.tokens, deadline=args.deadline, catalog=cat,
                              seq_len=args.cp_seq_len).search
    cp_n = cp_search.n_candidates
    cp_s, _, cp_cpu = _best_of(cp_search.evaluate, args.repeat)
    moe_search = plan_training(args.moe_model, args.tokens, deadline=args.deadline, catalog=cat,
                               seq_len=args.cp_seq_len).search
    moe_n = moe_search.n_candidates
    moe_s, _, moe_cpu = _best_of(moe_search.evaluate, args.repeat)

    # 2. the default plan, end to end, with its recommendation (which re-evaluates at -20% efficiency)
    def default_plan():
        return plan_training(args.model, args.tokens, deadline=args.deadline, catalog=cat).best

    plan_s, plan_times, plan_cpu = _best_of(default_plan, args.repeat)

    # 3. a serving plan with its recommendation
    serve_s, _, serve_cpu = _best_of(
        lambda: plan_inference("llama-3.1-8b", requests_per_s=50, prompt_tokens=512, output_tokens=256,
                               ttft_s=1.0, tpot_s=0.05, catalog=cat).best, args.repeat)

    # 4. issue 16: re-plans through aicost.plan.PlanCache (time from the call to the new best plan)
    replan = _replan_figures(args, cat, plan_training)
    serving = _serving_figures(cat, min(args.repeat, 3))
    schedules = _schedule_figures(args, cat, plan_training, min(args.repeat, 3))

    ok_rate = max(rate, rate_cpu) >= REFERENCE_CANDIDATES_PER_S
    ok_plan = min(plan_s, plan_cpu) < REFERENCE_PLAN_LATENCY_S
    try:
        load = f", load average {os.getloadavg()[0]:.1f}"
    except OSError:  # pragma: no cover - not on every platform
        load = ""
    print(f"machine: {platform.node()} ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
          f"{load}), Python {platform.python_version()}, numpy {np.__version__}, one thread")
    print(f"search: {n:,} candidates ({len(search.configs):,} configurations x {search.layouts.n} layouts; "
          f"{n_modeled:,} passed "
          f"the structural checks and have the full model's numbers, from "
          f"{search.evaluate()[0]['n_physics']:,} evaluations of its physics: one per distinct hardware and "
          f"layout) in {best_s * 1e3:.0f} ms wall, "
          f"{best_cpu * 1e3:.0f} ms CPU (best of {args.repeat}; median wall "
          f"{statistics.median(times) * 1e3:.0f} ms)")
    print(f"  rate: {rate:,.0f} candidates/s wall, {rate_cpu:,.0f}/s CPU "
          f"({n_modeled / best_cpu:,.0f} fully modeled/s)   reference: {REFERENCE_CANDIDATES_PER_S:,.0f}/s   "
          f"{'OK' if ok_rate else 'BELOW REFERENCE'}")
    cps = ",".join(str(c) for c in sorted(set(cp_search.layouts.cp)))
    print(f"  dense with CP ({args.model}, seq_len {args.cp_seq_len}, cp {cps} searched, "
          f"{cp_search.layouts.n} layouts): {cp_n:,} candidates, {cp_n / cp_s:,.0f} candidates/s wall, "
          f"{cp_n / cp_cpu:,.0f}/s CPU   reference: {REFERENCE_CANDIDATES_PER_S:,.0f}/s   "
          f"{'OK' if cp_n / cp_cpu >= REFERENCE_CANDIDATES_PER_S else 'BELOW REFERENCE'}")
    eps = ",".join(str(e) for e in sorted(set(moe_search.layouts.ep)))
    mcps = ",".join(str(c) for c in sorted(set(moe_search.layouts.cp)))
    print(f"  MoE with EP and CP ({args.moe_model}, seq_len {args.cp_seq_len}, ep {eps} and cp {mcps} searched, "
          f"{moe_search.layouts.n} layouts): {moe_n:,} candidates, "
          f"{moe_n / moe_s:,.0f} candidates/s wall, {moe_n / moe_cpu:,.0f}/s CPU   reference: "
          f"{REFERENCE_CANDIDATES_PER_S:,.0f}/s   "
          f"{'OK' if moe_n / moe_cpu >= REFERENCE_CANDIDATES_PER_S else 'BELOW REFERENCE'}")
    _print_schedules(schedules)
    print(f"default training plan with its recommendation ({args.model}, {args.tokens:.3g} tokens, "
          f"deadline {args.deadline}, whole catalog): {plan_s:.2f} s wall, {plan_cpu:.2f} s CPU (best of "
          f"{args.repeat}; median wall {statistics.median(plan_times):.2f} s)   reference: < "
          f"{REFERENCE_PLAN_LATENCY_S:.0f} s   {'OK' if ok_plan else 'SLOWER THAN REFERENCE'}")
    print(f"  {plan.summary()}")
    print(f"serving plan with its recommendation (llama-3.1-8b, 50 req/s): {serve_s:.2f} s wall, "
          f"{serve_cpu:.2f} s CPU")
    print(f"issue 16 targets, side by side ({args.model}, whole catalog, CPU seconds, one thread):")
    print(f"  candidates per CPU-second   {rate_cpu:>12,.0f}   target >= {ISSUE16_RATE:,.0f}   "
          f"{'OK' if rate_cpu >= ISSUE16_RATE else 'MISSED'}")
    print(f"  cold plan (with .best)      {plan_cpu:>11.2f} s   target < {ISSUE16_COLD_S:g} s   "
          f"{'OK' if plan_cpu < ISSUE16_COLD_S else 'MISSED'}")
    print(f"  PlanCache fill (first call) {replan['fill_cpu_s']:>11.2f} s   (evaluates every pricing, "
          f"provider and accelerator once: {replan['entry_candidates']:,} candidates; the entry holds "
          f"{replan['cache_bytes'] / 1e6:,.0f} MB)")
    for name, cpu_s in replan["replan_cpu_s"].items():
        print(f"  re-plan after {name:<14}{cpu_s:>10.3f} s   target < {ISSUE16_REPLAN_S:g} s   "
              f"{'OK' if cpu_s < ISSUE16_REPLAN_S else 'MISSED'}   (first call {replan['first_replan_cpu_s'][name]:.3f} s; "
              f"cold plan {replan['cold_cpu_s'][name]:.2f} s)")
    _print_serving(serving)
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"candidates": n, "modeled": n_modeled, "search_s": best_s, "search_cpu_s": best_cpu,
                       "candidates_per_s": rate, "candidates_per_cpu_s": rate_cpu, "plan_cpu_s": plan_cpu,
                       "moe_candidates_per_cpu_s": moe_n / moe_cpu,
                       "dense_cp_candidates_per_cpu_s": cp_n / cp_cpu, "cp_seq_len": args.cp_seq_len,
                       "reference_candidates_per_s": REFERENCE_CANDIDATES_PER_S,
                       "plan_latency_s": plan_s, "reference_plan_latency_s": REFERENCE_PLAN_LATENCY_S,
                       "serve_plan_latency_s": serve_s, "machine": platform.node(),
                       "numpy": np.__version__, "replan": replan,
                       "serving_replan": serving, "schedules": schedules}, fh, indent=2)
    return 0 if (ok_rate and ok_plan) else 1


if __name__ == "__main__":
    sys.exit(main())
