"""Write the report template notebooks (aicost/report/templates/*.ipynb) from the cells below.

Run it after editing a template here: ``.venv/bin/python scripts/build_report_templates.py``.
Each template has one cell tagged ``parameters`` (papermill injects the user's values after it);
code cells start with a comment naming their section (a failing cell is reported by it); the
code is hidden in the exported report, markdown cells show as prose.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

OUT = Path(__file__).resolve().parent.parent / "aicost" / "report" / "templates"

SETUP = """\
# setup
import aicost
from aicost._units import format_duration
from aicost.report import blocks as R
"""
SETUP_MIN = """\
# setup
import aicost
from aicost.report import blocks as R
"""
SETUP_PD = """\
# setup
import aicost
from aicost._paths import aicost_home
from aicost._units import format_duration
from aicost.report import blocks as R
"""


def md(text: str):
    return new_markdown_cell(text.strip())


def code(src: str, tags: tuple[str, ...] = ()):
    cell = new_code_cell(src.strip("\n"))
    if tags:
        cell.metadata["tags"] = list(tags)
    return cell


def params(src: str):
    return code("# parameters\n" + src.strip("\n"), tags=("parameters",))


# ----------------------------------------------------------------------------- shared cells
CATALOG_LOAD = """\
# catalog: load
cat = R.attempt("Catalog", lambda: aicost.catalog.load(extra=extra or None))
"""

PLAN_CATALOG_ROWS = """\
# catalog rows used
if plan.ok and cat.ok and plan.value.best is not None:
    R.catalog_rows_used(cat.value, [plan.value.best.row])
elif not cat.ok:
    R.unavailable(cat)
else:
    R.paragraph("No plan was recommended, so no catalog rows are listed.")
"""


#: aicost.viz figure functions drawn from a plan, fn(plan)
TRAINING_FIGURES = ("pareto_figure", "step_time_figure", "cost_vs_deadline_figure")
SERVING_FIGURES = ("pareto_figure", "latency_vs_batch_figure", "cost_per_million_tokens_figure")
#: the demo shows fewer (it has other sections)
DEMO_TRAINING_FIGURES = ("pareto_figure", "step_time_figure")
DEMO_SERVING_FIGURES = ("pareto_figure", "cost_per_million_tokens_figure")


# ----------------------------------------------------------------------------- training_plan
TRAINING = [
    params("""\
model = "llama-3.1-8b"      # model preset (aicost.model)
tokens = 1e12               # training tokens
deadline = None             # [s]; None: no deadline
budget_usd = None           # [USD]; None: no budget
providers = None            # e.g. ["aws", "gcp"]; None: all
pricing = ["on_demand", "spot"]
efficiency = None           # override the compute efficiency factor (0-1)
extra = None                # user catalog CSVs
title = None
note = ""
"""),
    code(SETUP),
    code(CATALOG_LOAD),
    code("""\
# training plan: compute
def _plan():
    kw = dict(deadline=deadline, budget_usd=budget_usd, providers=providers, pricing=pricing)
    if efficiency is not None:
        kw["efficiency"] = efficiency
    if cat.ok:
        kw["catalog"] = cat.value
    return aicost.plan.plan_training(model, tokens, **kw)

plan = R.attempt("Training plan", _plan, also=(aicost.InfeasibleError,))
question = f"train {model} on {tokens:.3g} tokens"
if deadline:
    question += f" within {format_duration(deadline)}"
if budget_usd:
    question += f" for at most ${budget_usd:,.0f}"
"""),
    code("""\
# header and recommendation
R.header(title or f"Training plan: {model}", note=note, params={
    "model": model, "tokens": f"{tokens:.3g}", "deadline": format_duration(deadline) if deadline else None,
    "budget": f"${budget_usd:,.0f}" if budget_usd else None, "providers": providers,
    "pricing": pricing, "efficiency override": efficiency, "extra catalogs": extra})
if plan.ok:
    R.callout(R.recommendation_html(plan.value, question), kind="recommendation", title="In short")
elif plan.error_type == "InfeasibleError":
    R.callout(R.text("<b>{q}</b>: {e}",
                     q=question[:1].upper() + question[1:], e=plan.error.split(": ", 1)[-1]),
              kind="warning", title="In short")
else:
    R.unavailable(plan)
"""),
    md("""\
## The plan

The planner evaluated every offer in the catalog, node counts, pricing models and parallel layouts.
The table lists the best feasible plans; the Pareto frontier lists the plans no other plan beats on
both time and cost; the last table says why the other candidates were dropped."""),
    code(f"""\
# training plan: details
if plan.ok:
    R.show_plan(plan.value, figures={TRAINING_FIGURES!r})
"""),
    md("""\
## Catalog rows behind the recommendation

Every number comes from a catalog row; each row names its source and the date it was checked."""),
    code(PLAN_CATALOG_ROWS),
    md("## How this report was made"),
    code("""\
# appendix
R.timings_table()
"""),
]

# ----------------------------------------------------------------------------- serving_plan
SERVING = [
    params("""\
model = "llama-3.1-8b"      # model preset (aicost.model)
qps = 20.0                  # requests per second
prompt_tokens = 512         # input tokens per request
output_tokens = 256         # output tokens per request
ttft = 1.0                  # time-to-first-token target [s]
tpot = 0.05                 # time-per-output-token target [s]
providers = None
pricing = ["on_demand", "spot"]
efficiency = None
extra = None
title = None
note = ""
"""),
    code(SETUP),
    code(CATALOG_LOAD),
    code("""\
# serving plan: compute
def _plan():
    kw = dict(prompt_tokens=prompt_tokens, output_tokens=output_tokens, ttft_s=ttft, tpot_s=tpot,
              providers=providers, pricing=pricing)
    if efficiency is not None:
        kw["efficiency"] = efficiency
    if cat.ok:
        kw["catalog"] = cat.value
    return aicost.plan.plan_inference(model, qps, **kw)

plan = R.attempt("Serving plan", _plan, also=(aicost.InfeasibleError,))
question = (f"serve {model} at {qps:g} requests/s ({prompt_tokens} in, {output_tokens} out) with "
            f"TTFT <= {format_duration(ttft)} and TPOT <= {format_duration(tpot)}")
"""),
    code("""\
# header and recommendation
R.header(title or f"Serving plan: {model}", note=note, params={
    "model": model, "requests/s": qps, "prompt tokens": prompt_tokens, "output tokens": output_tokens,
    "TTFT target": format_duration(ttft), "TPOT target": format_duration(tpot),
    "providers": providers, "pricing": pricing, "efficiency override": efficiency,
    "extra catalogs": extra})
if plan.ok:
    R.callout(R.recommendation_html(plan.value, question), kind="recommendation", title="In short")
elif plan.error_type == "InfeasibleError":
    R.callout(R.text("<b>{q}</b>: {e}",
                     q=question[:1].upper() + question[1:], e=plan.error.split(": ", 1)[-1]),
              kind="warning", title="In short")
else:
    R.unavailable(plan)
"""),
    md("""\
## The plan

Prefill is compute-bound and decode is memory-bandwidth-bound; the planner sizes the batch that fits
the KV cache, the replicas that meet the latency targets at this request rate, and prices them."""),
    code(f"""\
# serving plan: details
if plan.ok:
    R.show_plan(plan.value, figures={SERVING_FIGURES!r})
"""),
    md("## Catalog rows behind the recommendation"),
    code(PLAN_CATALOG_ROWS),
    md("## How this report was made"),
    code("""\
# appendix
R.timings_table()
"""),
]

# ----------------------------------------------------------------------------- benchmark
BENCHMARK = [
    params("""\
suite = "quick"             # quick or full
backend = "auto"            # auto, numpy, numba, cupy, numba-cuda
run_id = None               # show a stored run instead of measuring
store = True                # save the measurement in the results store
title = None
note = ""
"""),
    code(SETUP_MIN),
    code("""\
# benchmark: measure or load
def _bench():
    if run_id:
        st = aicost.store.Store()
        info = st.run(run_id)  # unknown id: a clear error naming the known runs
        context = {**(info.get("context") or {}),
                   **{k: v for k, v in info.items() if isinstance(v, (str, int, float))}}
        return st.results(run_id=run_id), context
    run = aicost.bench.run(suite=suite, backend=backend, store=None if store else False,
                          progress=False)
    return run.df, dict(run.context)

bench = R.attempt("Compute benchmark", _bench)
"""),
    code("""\
# header
machine = R.header(title or "Compute benchmark", note=note,
                   params={"suite": suite, "backend": backend, "stored run": run_id})
if bench.ok:
    R.callout(R.bench_summary_html(*bench.value), kind="recommendation", title="In short")
else:
    R.unavailable(bench)
"""),
    md("""\
## What was measured

Each kernel ran with warm-up calls first and adaptive stopping on noise; the table gives the median
time, the achieved rate and the percent of the catalog's peak for this device."""),
    code("""\
# benchmark: results
if bench.ok:
    df, context = bench.value
    R.facts(R.bench_context(context), title="Context of the measurement")
    R.table(R.bench_table(df), caption="Results", max_rows=100)
"""),
    md("## Roofline"),
    code("""\
# benchmark: roofline
if bench.ok:
    R.show_figures(["roofline"], bench.value[0])
"""),
    md("## How this report was made"),
    code("""\
# appendix
R.timings_table()
"""),
]

# ----------------------------------------------------------------------------- catalog
CATALOG = [
    params("""\
providers = None            # e.g. ["aws", "lambda"]; None: all
accelerators = None         # e.g. ["h100", "h200"]; None: all
extra = None                # user catalog CSVs adding or overriding rows
title = None
note = ""
"""),
    code(SETUP_MIN),
    code(CATALOG_LOAD),
    code("""\
# header
R.header(title or "What accelerators cost", note=note,
         params={"providers": providers, "accelerators": accelerators, "extra catalogs": extra})
if cat.ok:
    R.callout(R.catalog_highlights_html(cat.value, providers=providers, accelerators=accelerators),
              kind="recommendation", title="In short")
    R.catalog_summary(cat.value)
else:
    R.unavailable(cat)
"""),
    md("""\
## Price per GPU-hour and per unit of work

On-demand and spot prices per GPU-hour across providers, and what a bf16 PFLOP-hour at peak costs on
each offer. Every row carries its source and the date it was checked."""),
    code("""\
# catalog: charts and tables
if cat.ok:
    charts = R.attempt("Catalog charts", lambda: R.catalog_figures(
        cat.value, providers=providers, accelerators=accelerators, full=True))
    if charts.ok:
        for fig in charts.value:
            R.figure(fig)
    else:
        R.unavailable(charts)
"""),
    code("""\
# catalog: tables
if cat.ok:
    inst = cat.value.instances
    if providers:
        inst = inst[inst["provider"].str.lower().isin([p.lower() for p in providers])]
    R.table(inst, caption="Instances", max_rows=200)
    R.price_age(inst)
    R.table(cat.value.accelerators, caption="Accelerators", max_rows=100)
"""),
    md("## How this report was made"),
    code("""\
# appendix
R.timings_table()
"""),
]

# ----------------------------------------------------------------------------- spend
SPEND = [
    params("""\
demand = None               # hourly demand CSV (timestamp, accelerator, gpus[, workload_class])
focus = None                # FOCUS 1.0-1.3 bill, CSV or Parquet (a glob reads several files)
utilization = None          # nvidia-smi CSV logs / DCGM exporter dumps (list of paths)
provider = "aws"            # commitment offers and prices of this provider
whole_units = False         # commit whole instances (mixed-integer program)
tag = "team"                # Tags key that groups the bill
idle_threshold = 0.1        # GPU utilization under which an hour is idle (0-1)
title = None
note = ""
"""),
    code("""\
# setup
import aicost
from aicost._paths import data_dir
from aicost.report import blocks as R

samples = data_dir() / "samples"
synthetic = demand is None and focus is None
if synthetic:  # nothing given: show the shipped synthetic samples, and say so
    demand = str(samples / "synthetic_demand_2026.csv")
    focus = str(samples / "synthetic_focus_2026-05.parquet")
    utilization = [str(p) for p in sorted(samples.glob("synthetic_nvidia-smi_*.csv"))] + [
        str(samples / "synthetic_dcgm_2026-05.prom")]
errors = (aicost.spend.SpendInputError, aicost.InfeasibleError, FileNotFoundError)
"""),
    code("""\
# spend: compute
port = R.attempt("Commitment portfolio", lambda: aicost.spend.optimize_portfolio(
    demand, provider=provider, whole_units=whole_units), also=errors) if demand else None
analysis = R.attempt("Spend analysis", lambda: aicost.spend.analyze_spend(
    focus, utilization or None, tag=tag, idle_threshold=idle_threshold), also=errors) \\
    if focus else None
"""),
    code("""\
# header and recommendation
R.header(title or "Spend: commitments, on demand, spot and waste",
         note=note or ("Synthetic sample inputs (data/samples): pass --demand, --focus and "
                       "--utilization for your own." if synthetic else ""),
         params={"demand": demand, "FOCUS bill": focus, "utilization": utilization,
                 "provider": provider, "whole units": whole_units, "tag": tag,
                 "idle threshold": f"{idle_threshold:.0%}"})
parts = []
if port is not None and port.ok:
    parts.append(R.text("{t}", t=port.value.recommendation))
if analysis is not None and analysis.ok:
    parts.append(R.text("{t}", t=analysis.value.text))
if parts:
    R.callout("<br><br>".join(parts), kind="recommendation", title="In short")
for o in (port, analysis):
    if o is not None and not o.ok:
        R.unavailable(o)
if port is None and analysis is None:
    R.paragraph("Give a demand CSV (--demand) or a FOCUS bill (--focus).")
"""),
    md("""\
## Commitment portfolio

A linear program over the hourly demand (HiGHS through SciPy) chooses committed GPUs per offer and
term; on demand and spot cover the rest, spot within each workload class's share. The duration
curve sorts the hours from busiest to quietest against the committed baseline; the risk table
re-prices the commitments if demand comes in 30% lower to 30% higher."""),
    code("""\
# spend: portfolio
if port is not None and port.ok:
    p = port.value
    R.table(p.commitments[p.commitments["committed_gpus"] > 1e-6], caption="What to commit to")
    for a in p.pools["accelerator"]:
        R.figure(aicost.viz.demand_duration_figure(p, a))
    R.figure(aicost.viz.portfolio_cost_figure(p))
    R.table(p.pools, caption="Per accelerator")
    R.table(p.risk, caption="Unused-commitment risk under forecast error")
    R.figure(aicost.viz.commitment_risk_figure(p))
"""),
    md("""\
## Waste from the bill

Idle GPU-hours (allocated, under the utilization threshold) from telemetry joined to the bill's
cost per GPU-hour, unused commitments from the FOCUS status columns, and the effective $ per
GPU-hour paid against list."""),
    code("""\
# spend: waste
if analysis is not None and analysis.ok:
    a = analysis.value
    R.figure(aicost.viz.waste_by_team_figure(a))
    R.table(a.waste_by_team, caption=f"Waste by {tag}")
    R.figure(aicost.viz.cost_by_pricing_category_figure(a))
    R.table(a.by_accelerator, caption="Effective $ per GPU-hour by accelerator and instance")
    R.table(a.unused_commitments, caption="Commitments: used and unused cost")
    R.facts({"FOCUS version": a.summary["focus_version"], "line items": f"{a.summary['rows']:,}",
             "missing FOCUS 1.2 mandatory columns":
                 ", ".join(a.bill.missing.get("1.2", [])) or "none"}, title="The bill")
"""),
    md("## How this report was made"),
    code("""\
# appendix
R.timings_table()
"""),
]

# ----------------------------------------------------------------------------- demo
DEMO = [
    params("""\
title = None
note = ""
train_model = "llama-3.1-8b"
train_tokens = 1e12
train_deadline = 30 * 86400.0     # [s]
serve_model = "llama-3.1-8b"
serve_qps = 20.0
prompt_tokens = 512
output_tokens = 256
ttft = 1.0                        # [s]
tpot = 0.05                       # [s]
providers = None
pricing = ["on_demand", "spot"]
bench_suite = "quick"
backend = "auto"
measure_storage = True
measure_network = True
storage_seconds = 1.0             # [s] per pattern
network_seconds = 1.0             # [s]
store = True
"""),
    code(SETUP_PD),
    code("""\
# demo: catalog
cat = R.attempt("Catalog", lambda: aicost.catalog.load(), degrade="all")
charts = R.attempt("Catalog charts", lambda: R.catalog_figures(cat.value, providers=providers),
                   degrade="all") if cat.ok else cat
"""),
    code("""\
# demo: compute benchmark
bench = R.attempt("Compute benchmark", lambda: aicost.bench.run(
    suite=bench_suite, backend=backend, store=None if store else False, progress=False),
    degrade="all")
"""),
    code("""\
# demo: storage and network
def _storage():
    if not measure_storage:
        raise RuntimeError("skipped (measure_storage=False)")
    where = aicost_home()
    where.mkdir(parents=True, exist_ok=True)
    results = aicost.storage.quick_check(where, duration_s=storage_seconds)
    if store:
        aicost.storage.save_results(results)
    return results


def _network():
    if not measure_network:
        raise RuntimeError("skipped (measure_network=False)")
    result = aicost.network.quick_check(duration_s=network_seconds)
    if store:
        aicost.network.save_results([result])
    return result


disk = R.attempt("Storage measurement", _storage, degrade="all")
net = R.attempt("Network measurement", _network, degrade="all")
"""),
    code("""\
# demo: plans
def _train():
    kw = {"catalog": cat.value} if cat.ok else {}
    return aicost.plan.plan_training(train_model, train_tokens, deadline=train_deadline,
                                     providers=providers, pricing=pricing, **kw)


def _serve():
    kw = {"catalog": cat.value} if cat.ok else {}
    return aicost.plan.plan_inference(serve_model, serve_qps, prompt_tokens=prompt_tokens,
                                      output_tokens=output_tokens, ttft_s=ttft, tpot_s=tpot,
                                      providers=providers, pricing=pricing, **kw)


train = R.attempt("Training plan", _train, degrade="all")
serve = R.attempt("Serving plan", _serve, degrade="all")
train_q = f"train {train_model} on {train_tokens:.3g} tokens within {format_duration(train_deadline)}"
serve_q = (f"serve {serve_model} at {serve_qps:g} requests/s with TTFT <= {format_duration(ttft)} "
           f"and TPOT <= {format_duration(tpot)}")
"""),
    code("""\
# demo: header and recommendation
machine = R.header(title or "aicost demo: what to provision, and what it will cost", note=note,
                   subtitle="What aicost knows, what this machine delivers, and what to rent.")
answers = []
for out, q in ((train, train_q), (serve, serve_q)):
    answers.append(R.recommendation_html(out.value, q) if out.ok else
                   R.text("<b>{q}</b>: not available ({e})", q=q[:1].upper() + q[1:], e=out.error))
R.callout("<br><br>".join(answers), kind="recommendation", title="Recommendation")
ran = [o.title for o in R.outcomes() if o.ok]
missing = [f"{o.title} ({o.error})" for o in R.outcomes() if not o.ok]
R.paragraph("Sections that ran: {r}.", r=", ".join(ran) or "none")
if missing:
    R.paragraph("Not available here: {m}.", m="; ".join(missing))
"""),
    md("""\
## 1. What aicost knows: the catalog

Accelerators, cloud instances, storage tiers and network fabrics, each row with its source and the
date it was checked. The charts compare what a GPU-hour costs across providers and what a unit of
work (a bf16 PFLOP-hour at peak) costs."""),
    code("""\
# demo: catalog section
if charts.ok:
    for fig in charts.value:
        R.figure(fig)
    R.catalog_summary(cat.value)
else:
    R.unavailable(charts)
"""),
    md("""\
## 2. This machine: a quick compute benchmark

GEMM per dtype, memory bandwidth (STREAM kernels, bytes counted as BabelStream counts them) and a
roofline sweep, timed with warm-up and adaptive stopping. On a machine without a GPU this measures
the CPU (NumPy/Numba)."""),
    code("""\
# demo: benchmark section
def _show_bench():
    run = bench.value
    R.callout(R.bench_summary_html(run.df, run.context), kind="info")
    R.facts(R.bench_context(run.context), title="Machine measured")
    R.table(R.bench_table(run.df), caption="Quick suite results", max_rows=40)
    R.show_figures(["roofline"], run)


if bench.ok:
    R.render("Compute benchmark (display)", _show_bench)
else:
    R.facts(machine, title="Machine")
    R.unavailable(bench)
"""),
    md("""\
## 3. Storage and network of this machine

A short 1 MiB sequential read and 4 KiB random read of a file on the disk that holds aicost's home
directory (direct I/O where the file system allows it; buffered results are flagged), and TCP
streams over loopback. Longer runs: `aicost bench storage` and `aicost bench network`."""),
    code("""\
# demo: storage and network section
if disk.ok:
    R.render("Storage measurement (display)", lambda: R.table(
        R.storage_table(disk.value), caption="Storage (this machine)"))
else:
    R.unavailable(disk)
if net.ok:
    R.render("Network measurement (display)", lambda: R.table(
        R.network_table([net.value]), caption="Network (loopback)"))
else:
    R.unavailable(net)
"""),
    md("""\
## 4. Training plan

The planner searches every offer, node count, pricing model and parallel layout for the plans that
meet the deadline, then recommends the cheapest and explains it."""),
    code(f"""\
# demo: training plan section
if train.ok:
    R.render("Training plan (display)", lambda: R.show_plan(
        train.value, max_rows=8, figures={DEMO_TRAINING_FIGURES!r}))
else:
    R.unavailable(train)
"""),
    md("""\
## 5. Serving plan

Replicas and GPUs to serve the request rate within the latency targets, and the price per million
tokens."""),
    code(f"""\
# demo: serving plan section
if serve.ok:
    R.render("Serving plan (display)", lambda: R.show_plan(
        serve.value, max_rows=8, figures={DEMO_SERVING_FIGURES!r}))
else:
    R.unavailable(serve)
"""),
    md("""\
## 6. Catalog rows behind the recommendations

Each number above rests on these rows; each names its source and the date it was checked."""),
    code("""\
# demo: catalog rows used
used = [o.value.best.row for o in (train, serve) if o.ok and o.value.best is not None]
if cat.ok and used:
    R.render("Catalog rows used", lambda: R.catalog_rows_used(cat.value, used))
elif not cat.ok:
    R.unavailable(cat)
else:
    R.paragraph("No plan was made, so no catalog rows were used.")
"""),
    md("## How this report was made"),
    code("""\
# appendix
R.facts(machine, title="Machine this report ran on")
R.timings_table()
"""),
]

# ----------------------------------------------------------------------------- fleet
FLEET = [
    params("""\
fleet_id = None             # a stored fleet run; None: the newest
simulate_nodes = 0          # > 0: a SIMULATED fleet of 8-GPU H200 nodes instead
threshold = 3.5             # robust z-score cut-off (median/MAD)
min_slower_pct = 5.0        # ... and at least this much slower than the SKU median [%]
providers = None            # price nodes with these providers only; None: all
title = None
note = ""
"""),
    code(SETUP_MIN),
    code("""\
# fleet: load or simulate
def _fleet():
    if simulate_nodes:
        return aicost.fleet.simulate_fleet(int(simulate_nodes), 8)
    return aicost.fleet.load(fleet_id=fleet_id)  # no fleet run: a clear error

fl = R.attempt("Fleet results", _fleet, also=(LookupError,))
an = R.attempt("Fleet analysis", lambda: aicost.fleet.analyze(
    fl.value, threshold=threshold, min_slower_pct=min_slower_pct)) if fl.ok else fl
"""),
    code("""\
# header
R.header(title or "Fleet benchmark", note=note,
         params={"fleet": fl.value.fleet_id if fl.ok else fleet_id,
                 "suite": fl.value.suite if fl.ok else None, "threshold": threshold,
                 "min slower %": min_slower_pct, "providers": providers})
if fl.ok and an.ok:
    run, a = fl.value, an.value
    n_ok = int((run.units["status"] == "ok").sum())
    simulated = " SIMULATED from real H200 measurements." if simulate_nodes else ""
    R.callout(R.text("{n} of {m} units measured, {s} stragglers (score > {t} and at least {p}% "
                     "slower than their SKU's median).{sim}", n=n_ok, m=len(run.units),
                     s=len(a.stragglers), t=threshold, p=min_slower_pct, sim=simulated),
              kind="recommendation", title="In short")
    if len(run.failures):
        R.table(run.failures, caption="Units that failed (rerun: bench(..., workers=run.missing))")
else:
    R.unavailable(fl if not fl.ok else an)
"""),
    md("""\
## Spread within each SKU

p5, median and p95 of every metric across the units of one SKU; published fleet studies find
8-22 % (and up to 30 %+) between GPUs of one SKU."""),
    code("""\
# fleet: distribution
if fl.ok and an.ok:
    R.table(an.value.distribution, caption="Distribution per SKU and metric", max_rows=40)
    R.show_figures(["fleet_box_figure"], fl.value, analysis=an.value)
"""),
    md("## Nodes x GPUs"),
    code("""\
# fleet: heatmap
if fl.ok and an.ok:
    R.show_figures(["fleet_heatmap_figure"], fl.value)
"""),
    md("## Slow units and stragglers"),
    code("""\
# fleet: slow units
if fl.ok and an.ok:
    R.show_figures(["fleet_slow_table_figure"], an.value)
    R.table(an.value.stragglers, caption="Stragglers, slowest first")
"""),
    md("## $ per measured work, per node"),
    code("""\
# fleet: prices
if fl.ok and an.ok:
    prices = aicost.fleet.price_per_node(fl.value, providers=providers)
    if len(prices):
        summary = prices.groupby(["sku", "provider"], as_index=False)[
            ["usd_per_bf16_pflop_hour", "usd_per_tb_s_hour"]].median()
        R.table(summary, caption="Median node: $ per measured bf16 PFLOP-hour and TB/s-hour")
    else:
        R.unavailable("Prices", "no unit of a SKU the catalog prices (CPU-only workers)")
"""),
    md("## How this report was made"),
    code("""\
# appendix
R.timings_table()
"""),
]

TEMPLATES = {
    "fleet": (FLEET, "aicost fleet benchmark"),
    "training_plan": (TRAINING, "aicost training plan"),
    "serving_plan": (SERVING, "aicost serving plan"),
    "benchmark": (BENCHMARK, "aicost compute benchmark"),
    "catalog": (CATALOG, "aicost catalog"),
    "demo": (DEMO, "aicost demo"),
    "spend": (SPEND, "aicost spend"),
}


def build_all(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for name, (cells, title) in TEMPLATES.items():
        nb = new_notebook(cells=cells)
        nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                     "language": "python"}
        nb.metadata["language_info"] = {"name": "python"}
        nb.metadata["title"] = title
        path = out / f"{name}.ipynb"
        nbformat.validate(nb)
        nbformat.write(nb, path)
        written.append(path)
    return written


if __name__ == "__main__":
    for p in build_all(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(p)
