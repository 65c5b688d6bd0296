"""Building blocks for report notebooks: escaped text, tables, figures, sections that degrade.

The report templates (``aicost/report/templates/*.ipynb``) use these so that every string that
comes from a user (a model name, a note, a CSV cell) is HTML-escaped before it reaches the page,
and a section that cannot run says why instead of failing the whole report::

    from aicost.report import blocks as R
    plan = R.attempt("Training plan", lambda: aicost.plan.plan_training(model, tokens))
    if plan.ok:
        R.table(plan.value.candidates.head(10))
    else:
        R.unavailable(plan)

Figures are displayed as plotly's JSON mimetype; :func:`aicost.report.build` turns them into
HTML with plotly.js embedded once, so the exported page works offline.
"""

from __future__ import annotations

import datetime as _dt
import html as _html
import os
import platform
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .._units import (
    column_label,
    format_bytes,
    format_cell,
    format_duration,
    format_price,
    format_quantity,
    format_table,
)

__all__ = [
    "Outcome",
    "attempt",
    "bench_context",
    "bench_summary_html",
    "bench_table",
    "callout",
    "catalog_figures",
    "catalog_highlights_html",
    "catalog_rows_used",
    "catalog_summary",
    "esc",
    "facts",
    "figure",
    "header",
    "heading",
    "humanize",
    "machine_info",
    "network_table",
    "outcomes",
    "paragraph",
    "price_age",
    "raw_html",
    "recommendation_html",
    "render",
    "show_figures",
    "show_plan",
    "storage_table",
    "table",
    "text",
    "timings_table",
    "unavailable",
    "viz_figure",
]

#: exceptions that mean "an optional dependency is not installed": a section degrades to a
#: "not available" note on them in every report (with BackendUnavailableError: no GPU backend)
MISSING_DEPENDENCY_ERRORS: tuple[type[BaseException], ...] = (ImportError,)


def esc(value) -> str:
    """Return ``value`` as text with HTML special characters escaped (``<`` -> ``&lt;``)."""
    if value is None:
        return ""
    return _html.escape(str(value), quote=True)


def _display_html(markup: str) -> None:
    from IPython.display import HTML, display

    display(HTML(markup))


def raw_html(markup: str) -> None:
    """Display trusted HTML written by the template itself (never pass user strings here)."""
    _display_html(markup)


def text(template: str, /, **values) -> str:
    """Format ``template`` (trusted HTML) with ``values`` escaped; return the HTML string.

    >>> text("<b>{name}</b>", name="<script>")
    '<b>&lt;script&gt;</b>'
    """
    return template.format(**{k: esc(v) for k, v in values.items()})


def heading(title: str, level: int = 2, anchor: str | None = None) -> None:
    """Display an escaped heading."""
    ident = f' id="{esc(anchor)}"' if anchor else ""
    _display_html(f"<h{level}{ident}>{esc(title)}</h{level}>")


def paragraph(template: str, /, **values) -> None:
    """Display a paragraph: ``template`` is trusted HTML, ``values`` are escaped."""
    _display_html(f"<p>{text(template, **values)}</p>")


def callout(body_html: str, kind: str = "info", title: str | None = None) -> None:
    """Display a boxed note. ``body_html`` must already be escaped (use :func:`text`)."""
    t = f"<strong>{esc(title)}</strong><br>" if title else ""
    _display_html(f'<div class="aicost-callout aicost-{esc(kind)}">{t}{body_html}</div>')


def facts(items: Mapping[str, object], title: str | None = None) -> None:
    """Display a two-column table of facts (keys and values escaped)."""
    rows = "".join(
        f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in items.items() if v is not None
    )
    cap = f"<caption>{esc(title)}</caption>" if title else ""
    _display_html(f'<table class="aicost-facts">{cap}{rows}</table>')


def table(df, caption: str | None = None, max_rows: int = 25, float_format: str = "{:,.4g}"):
    """Display a DataFrame as an HTML table, cell contents escaped (pandas ``escape=True``).

    Parameters
    ----------
    df : pandas.DataFrame
        The rows to show; only the first ``max_rows`` are shown, with a note saying so.
    caption : str, optional
        Shown above the table (escaped).
    max_rows : int
        Row limit.
    float_format : str
        Format of float cells.
    """
    import pandas as pd

    if not isinstance(df, pd.DataFrame):
        df = pd.DataFrame(df)
    shown = df.head(max_rows)
    body = shown.to_html(
        index=False, escape=True, border=0, classes="aicost-table", na_rep="",
        float_format=lambda x: float_format.format(x),
    )
    more = (f'<p class="aicost-more">showing {len(shown)} of {len(df)} rows</p>'
            if len(df) > len(shown) else "")
    cap = f'<p class="aicost-caption">{esc(caption)}</p>' if caption else ""
    _display_html(f'<div class="aicost-table-wrap">{cap}{body}{more}</div>')


def figure(fig, caption: str | None = None) -> None:
    """Display a plotly figure as plotly's JSON mimetype (the export embeds plotly.js once)."""
    import plotly.io as pio

    if caption:
        _display_html(f'<p class="aicost-caption">{esc(caption)}</p>')
    pio.show(fig, renderer="plotly_mimetype", validate=False)


@dataclass
class Outcome:
    """What happened when a report section ran: its value, or why it could not run."""

    title: str
    value: object = None
    error: str | None = None
    error_type: str | None = None
    seconds: float = 0.0
    details: str = field(default="", repr=False)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        return "ran" if self.ok else f"not available: {self.error}"


_OUTCOMES: list[Outcome] = []


def outcomes() -> list[Outcome]:
    """Return the outcomes of every :func:`attempt` made in this kernel, in order."""
    return list(_OUTCOMES)


def attempt(title: str, fn: Callable[[], object], *, degrade: str = "missing",
            also: tuple[type[BaseException], ...] = ()) -> Outcome:
    """Run ``fn()`` for the section ``title``; return an :class:`Outcome`.

    Parameters
    ----------
    title : str
        Section name, shown in "not available" notes and the timing table.
    fn : callable
        Does the work and returns what the section shows.
    degrade : {"missing", "all"}
        ``"missing"``: only a missing dependency (ImportError, BackendUnavailableError)
        becomes a "not available" note and other errors propagate (the report fails, naming
        the cell). ``"all"``: any ``Exception`` becomes a note with its traceback (the demo:
        a part that cannot run here says why and the rest of the report is still written).
    also : tuple of exception types
        More exceptions that become a note, e.g. ``(aicost.InfeasibleError,)``: a plan that
        cannot be met is an answer worth reporting.
    """
    from .._errors import BackendUnavailableError

    if degrade not in ("missing", "all"):
        raise ValueError(f"degrade must be 'missing' or 'all', got {degrade!r}")
    # degrade="all" is the demo's documented choice: the error and its traceback are shown
    catch = (Exception,) if degrade == "all" else (
        *MISSING_DEPENDENCY_ERRORS, BackendUnavailableError, *also)
    t0 = time.perf_counter()
    try:
        value = fn()
    except catch as exc:
        out = Outcome(title, error=f"{type(exc).__name__}: {exc}".strip().rstrip(":"),
                      error_type=type(exc).__name__, seconds=time.perf_counter() - t0,
                      details=traceback.format_exc())
    else:
        out = Outcome(title, value=value, seconds=time.perf_counter() - t0)
    _OUTCOMES.append(out)
    return out


def unavailable(outcome: Outcome | str, reason: str | None = None) -> None:
    """Display a clear "not available: <reason>" note for a section that could not run."""
    details = ""
    if isinstance(outcome, Outcome):
        title, reason = outcome.title, reason or outcome.error
        if outcome.details:
            details = text("<details><summary>details</summary><pre>{tb}</pre></details>",
                           tb=outcome.details)
    else:
        title = outcome
    callout(text("<em>{title}</em> is not available: {reason}", title=title, reason=reason)
            + details, kind="warning")


def timings_table() -> None:
    """Display how long each section took and whether it ran."""
    import pandas as pd

    rows = [{"section": o.title, "status": o.status, "seconds": round(o.seconds, 2)}
            for o in _OUTCOMES]
    if rows:
        table(pd.DataFrame(rows), caption="Sections of this report", max_rows=100)


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    except (ValueError, OSError, AttributeError):  # no os.sysconf (Windows) or no such name
        return None


def _gpus() -> list[str]:
    """Names of the CUDA devices, read through NVML when nvidia-ml-py is installed."""
    try:
        import pynvml
    except ImportError:
        return []
    try:
        pynvml.nvmlInit()
        try:
            names = []
            for i in range(pynvml.nvmlDeviceGetCount()):
                name = pynvml.nvmlDeviceGetName(pynvml.nvmlDeviceGetHandleByIndex(i))
                names.append(name.decode() if isinstance(name, bytes) else str(name))
            return names
        finally:
            pynvml.nvmlShutdown()
    except pynvml.NVMLError:  # no driver, no device: a CPU machine
        return []


def machine_info() -> dict[str, object]:
    """Describe the machine this report runs on (host, OS, CPU, cores, memory, GPUs, versions)."""
    from collections import Counter

    from .._version import __version__

    mem = _memory_gib()
    gpus = Counter(_gpus())
    return {
        "host": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu": _cpu_model(),
        "cpu cores (logical)": os.cpu_count(),
        "memory": f"{mem:.1f} GiB" if mem else None,
        "GPUs": ", ".join(f"{n} x {name}" for name, n in gpus.items()) if gpus else "no GPU found",
        "python": platform.python_version(),
        "aicost": __version__,
    }


def header(title: str, note: str | None = None, subtitle: str | None = None,
           params: Mapping[str, object] | None = None) -> dict[str, object]:
    """Display the report's title block: title, date (UTC), machine; return the machine facts."""
    now = _dt.datetime.now(_dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info = machine_info()
    sub = f'<p class="aicost-subtitle">{esc(subtitle)}</p>' if subtitle else ""
    note_html = f'<p class="aicost-note">{esc(note)}</p>' if note else ""
    machine = " · ".join(str(x) for x in (
        info["host"], info["cpu"], f"{info['cpu cores (logical)']} cores", info["memory"],
        info["GPUs"]) if x)
    _display_html(
        f'<div class="aicost-header"><h1>{esc(title)}</h1>{sub}'
        f'<p class="aicost-meta">Generated {esc(now)} by aicost {esc(info["aicost"])} · '
        f"machine: {esc(machine)}</p>{note_html}</div>"
    )
    if params:
        shown = {k: (", ".join(map(str, v)) if isinstance(v, list) else v)
                 for k, v in params.items() if v not in (None, "", [])}
        facts(shown, title="Parameters of this report")
    return info


# ----------------------------------------------------------------------------- plans
def recommendation_html(plan, question: str) -> str:
    """One escaped paragraph: the answer to ``question`` in words, from ``plan.best``.

    Parameters
    ----------
    plan : aicost.plan.Plan
        A training or inference plan.
    question : str
        What was asked, e.g. "train llama-3.1-8b on 1e12 tokens within 30 days".
    """
    best = plan.best
    if best is None:
        return text("<b>{q}</b>: no feasible plan. {why}", q=question.capitalize(),
                    why=plan.explain())
    time_label = column_label(best.time_col)
    unit = "/h" if best.cost_col.endswith("per_hour") else ""
    out = text(
        "<b>{q}</b>: rent <b>{headline}</b>. {tl}: <b>{t}</b>, cost <b>{c}</b>; "
        "bottleneck: {b}.",
        q=question[:1].upper() + question[1:], headline=best.headline, tl=time_label.capitalize(),
        t=format_duration(best.time_s), c=format_cell(best.cost, best.cost_col), b=best.bottleneck,
    )
    if best.sensitivity is not None:
        out += " " + esc(best.sensitivity.describe(best.time_s, best.cost, unit))
    return out


def viz_figure(name: str, *args, **kwargs):
    """Call the figure function ``aicost.viz.<name>(*args, **kwargs)`` and return its figure."""
    import importlib

    return getattr(importlib.import_module("aicost.viz"), name)(*args, **kwargs)


def show_figures(names, *args, **kwargs) -> None:
    """Display ``aicost.viz.<name>(*args, **kwargs)`` for each name; a chart that cannot be
    drawn for this input (plotly missing, a figure the data cannot make: ValueError) says why
    instead of sinking the report; any other error is a bug and propagates."""
    for name in names:
        try:
            fig = viz_figure(name, *args, **kwargs)
        except (ImportError, ValueError) as exc:
            unavailable(f"Chart {name}", f"{type(exc).__name__}: {exc}")
        else:
            figure(fig)


def show_plan(plan, max_rows: int = 10, figures=()) -> None:
    """Display a plan: the recommendation explained, the best candidates, the Pareto frontier,
    why candidates were dropped, the assumptions and efficiency factors.

    ``figures`` names :mod:`aicost.viz` functions drawn from the plan (``fn(plan)``)."""
    best = getattr(plan, "best", None)
    paragraph("{s}", s=plan.summary())
    if best is not None:
        items = "".join(f"<li>{esc(d)}</li>" for d in getattr(best, "details", ()))
        items += text("<li>Efficiency factor: {e} of peak ({src})</li>",
                      e=f"{best.efficiency:.2f}", src=best.efficiency_source)
        callout(text("<b>{h}</b>", h=best.headline) + f"<ul>{items}</ul>", kind="recommendation",
                title="Recommendation")
    else:
        callout(text("No feasible plan. {w}", w=plan.explain()), kind="warning")
    show_figures(figures, plan)
    top = plan.top(max_rows)
    if len(top):
        table(humanize(top), caption=f"Best {len(top)} plans ({plan.objective})",
              max_rows=max_rows)
    front = plan.pareto
    if len(front):
        cols = [c for c in plan.table_columns if c in front.columns] or list(front.columns)
        table(humanize(front[cols].head(max_rows)),
              caption="Pareto frontier: no other plan is both faster and cheaper", max_rows=max_rows)
    inf = plan.infeasible
    if len(inf):
        table(inf, caption="Candidates dropped, by reason", max_rows=max_rows)
    assumptions = list(getattr(plan, "assumptions", ()) or ())
    if best is not None:
        assumptions += [a for a in getattr(best, "assumptions", ()) if a not in assumptions]
    if assumptions:
        _display_html('<details open><summary><b>Assumptions</b></summary><ul>'
                      + "".join(f"<li>{esc(a)}</li>" for a in assumptions) + "</ul></details>")


def catalog_rows_used(catalog, rows) -> None:
    """Display the catalog rows behind the given plan rows, with their ``source`` and ``as_of``.

    Parameters
    ----------
    catalog : aicost.catalog.Catalog
        The catalog the plans were made from.
    rows : iterable of dict
        Plan rows (``plan.best.row``); matched on the key columns they share with each table.
    """
    import pandas as pd

    rows = [r for r in rows if r]
    shown = False
    used_instances = None
    for attr, keys in (("instances", ("provider", "instance_type", "region")),
                       ("accelerators", ("accelerator",)),
                       ("storage_tiers", ("storage_tier",)),
                       ("fabrics", ("fabric",))):
        df = getattr(catalog, attr, None)
        if df is None or not isinstance(df, pd.DataFrame) or df.empty:
            continue
        mask = pd.Series(False, index=df.index)
        for r in rows:
            m = pd.Series(True, index=df.index)
            used = 0
            for k in keys:
                col = k if k in df.columns else ("name" if k in ("accelerator", "storage_tier",
                                                                 "fabric") and "name" in df.columns
                                                 else None)
                if col is None or r.get(k) is None:
                    continue
                m &= df[col].astype(str).str.lower() == str(r[k]).lower()
                used += 1
            if used:
                mask |= m
        sel = df[mask]
        if sel.empty:
            continue
        first = [c for c in df.columns if c not in ("source", "as_of")][:10]
        cols = first + [c for c in ("source", "as_of") if c in df.columns]
        table(sel[cols], caption=f"Catalog {attr.replace('_', ' ')} used", max_rows=20)
        shown = True
        if attr == "instances":
            used_instances = sel
    if not shown:
        paragraph("No catalog rows matched the recommended plans.")
    if used_instances is not None:
        price_age(used_instances)


def price_age(rows) -> None:
    """Say how old the prices in ``rows`` are (the oldest ``as_of``); a warning past 180 days.

    Parameters
    ----------
    rows : pandas.DataFrame
        Catalog instance rows (with ``as_of``) a report used.
    """
    from ..catalog import price_age_note

    note = price_age_note(rows, always=True)
    if not note:
        return
    if "refresh" in note:
        callout(esc(note), kind="info", title="Prices are old")
    else:
        paragraph("{note} (the oldest as_of among the rows used).", note=note.capitalize())


# ----------------------------------------------------------------------------- catalog
def catalog_figures(catalog, providers=None, accelerators=None, full: bool = False) -> list:
    """The catalog charts shown in reports (from :mod:`aicost.viz`), filtered as asked.

    The demo shows three: price per GPU-hour by accelerator and provider, the cheapest bf16
    PFLOP-hour per accelerator, spot against on-demand. ``full`` adds the accelerators' peak
    compute against bandwidth and the storage tiers (the catalog report).
    """
    from .. import viz

    kw = {"providers": providers, "accelerators": accelerators}
    figs = [
        viz.price_per_gpu_hour_figure(catalog, **kw),
        viz.best_offer_figure(catalog, metric="usd_per_bf16_pflop_hour", **kw),
        viz.spot_vs_on_demand_figure(catalog, **kw),
    ]
    if full:
        figs.append(viz.accelerator_specs_figure(catalog, **kw))
        figs.append(viz.storage_tiers_figure(catalog, providers=providers))
    return figs


# ----------------------------------------------------------------------------- sections
def render(title: str, fn: Callable[[], object]) -> Outcome:
    """Run a display step; if it fails, show "not available: <reason>" instead (the demo)."""
    out = attempt(title, fn, degrade="all")
    if not out.ok:
        unavailable(out)
    return out


def bench_table(df):
    """A compute benchmark's results for people: kernel, dtype, shape, median time, rate,
    percent of the catalog peak."""
    import pandas as pd

    out = pd.DataFrame(index=df.index)
    for col in ("name", "backend", "dtype", "shape"):
        if col in df.columns:
            out[col] = [format_cell(x, col) for x in df[col]]
    if "median_s" in df.columns:
        out["median time"] = [format_cell(x, "median_s") for x in df["median_s"]]
    if "value" in df.columns:
        units = df["unit"] if "unit" in df.columns else pd.Series("", index=df.index)
        out["measured"] = [format_quantity(v, u) for v, u in zip(df["value"], units)]
    if "pct_of_peak" in df.columns:
        out["% of peak"] = [format_cell(x, "pct_of_peak") for x in df["pct_of_peak"]]
    if "n_samples" in df.columns:
        out["samples"] = df["n_samples"]
    # the spread of the samples and the timer's flags: a noisy number never stands alone
    med = pd.to_numeric(df["median_s"], errors="coerce") if "median_s" in df.columns else None
    for col, label in (("stdev_s", "rel. stdev"), ("iqr_s", "IQR/median")):
        if med is not None and col in df.columns:
            rel = 100 * pd.to_numeric(df[col], errors="coerce") / med.where(med > 0)
            out[label] = [format_cell(x, "spread_pct") for x in rel]
    if "flags" in df.columns:
        out["flags"] = [str(f) if isinstance(f, str) and f.strip() else "" for f in df["flags"]]
    return out.reset_index(drop=True)


def _flagged(df):
    """True where a measurement carries a flag (noisy, timeout, throttle)."""
    import pandas as pd

    if "flags" not in df.columns:
        return pd.Series(False, index=df.index)
    return df["flags"].fillna("").astype(str).str.strip() != ""


def bench_context(context) -> dict:
    """The facts of a benchmark run's context worth showing (device, backend, versions)."""
    ctx = dict(context or {})
    keys = ("device", "backend", "host", "time_utc", "cpu_model", "cpu_count", "suite", "wall_s")
    out = {k: ctx[k] for k in keys if k in ctx and ctx[k] not in (None, "")}
    info = ctx.get("device_info")
    if isinstance(info, dict):
        for k, v in info.items():
            if isinstance(v, (int, float)) and not isinstance(v, bool) and k.endswith("_bytes"):
                out[k.removesuffix("_bytes")] = format_bytes(v)
            elif isinstance(v, (str, int, float)) and k not in out:
                out[k] = v
    versions = ctx.get("versions")
    if isinstance(versions, dict) and versions:
        out["versions"] = ", ".join(f"{k} {v}" for k, v in versions.items())
    if "wall_s" in out:
        out["wall_s"] = f"{float(out['wall_s']):.1f} s"
    return out


def storage_table(results):
    """Storage measurements for people: pattern, block size, throughput, IOPS, latencies."""
    import pandas as pd

    rows = []
    for r in results:
        rows.append({
            "pattern": r.pattern, "block size": format_bytes(r.block_size_bytes),
            "workers": r.workers, "throughput": format_quantity(r.bytes_per_s, "B/s"),
            "IOPS": format_cell(r.iops, "iops"), "latency p50": format_duration(r.lat_p50_s),
            "latency p99": format_duration(r.lat_p99_s),
            "direct I/O": "yes" if r.direct else "no (buffered: measures the page cache)",
            "file system": r.filesystem, "flags": ", ".join(getattr(r, "flags", ()) or ()),
        })
    return pd.DataFrame(rows)


def network_table(results):
    """TCP measurements for people: host, streams, throughput."""
    import pandas as pd

    return pd.DataFrame([{
        "host": r.host, "streams": r.streams, "duration": format_duration(r.duration_s),
        "throughput": format_quantity(r.bits_per_s, "bit/s"),
        "bytes/s": format_quantity(r.bytes_per_s, "B/s"),
    } for r in results])


def catalog_summary(catalog) -> None:
    """One line per catalog table: rows, providers, sources and the range of as_of dates."""
    import pandas as pd

    rows = []
    for attr in ("accelerators", "instances", "storage_tiers", "fabrics"):
        df = getattr(catalog, attr, None)
        if not isinstance(df, pd.DataFrame):
            continue
        row = {"table": attr.replace("_", " "), "rows": len(df)}
        if "provider" in df.columns:
            row["providers"] = df["provider"].nunique()
        if "source" in df.columns:
            row["distinct sources"] = df["source"].nunique()
        if "as_of" in df.columns and len(df):
            dates = pd.to_datetime(df["as_of"].astype(str), errors="coerce").dropna()
            if len(dates):
                row["as_of"] = f"{dates.min():%Y-%m-%d} to {dates.max():%Y-%m-%d}"
        rows.append(row)
    if rows:
        table(pd.DataFrame(rows), caption="The catalog behind every number")


def humanize(df):
    """A copy of ``df`` with cells formatted by the unit their column name carries
    (:func:`aicost._units.format_cell`), all-empty columns dropped and headers for people."""
    return format_table(df, labels=True)


def bench_summary_html(df, context=None) -> str:
    """A compute benchmark in words: the best GEMM rate per dtype, the best memory bandwidth,
    and how far they are from the catalog's peak (escaped HTML)."""
    import pandas as pd

    ctx = dict(context or {})
    device = ctx.get("device") or (df["device"].dropna().iloc[0] if "device" in df.columns
                                   and df["device"].notna().any() else "this machine")
    parts = []
    name = df["name"].astype(str) if "name" in df.columns else pd.Series("", index=df.index)
    unit = df["unit"].astype(str) if "unit" in df.columns else pd.Series("", index=df.index)
    pct = df["pct_of_peak"] if "pct_of_peak" in df.columns else pd.Series(float("nan"),
                                                                          index=df.index)
    flagged = _flagged(df)

    def best(rows):
        """The best unflagged row; a flagged one only when nothing else was measured."""
        clean = rows[~flagged.loc[rows.index]]
        pick = clean if len(clean) else rows
        i = pick["value"].astype(float).idxmax()
        return i, (" [flagged: " + str(df.loc[i, "flags"]) + "]") if flagged.loc[i] else ""

    gemm = df[(name == "gemm") & (unit == "FLOP/s")]
    rates = []
    for dtype, g in gemm.groupby("dtype") if "dtype" in gemm.columns else ():
        i, flag = best(g)
        p = pd.to_numeric(pct.loc[i], errors="coerce")
        rates.append(format_quantity(g.loc[i, "value"], "FLOP/s") + f" {dtype}"
                     + (f" ({float(p):.0f}% of peak)" if pd.notna(p) else "") + flag)
    if rates:
        parts.append("GEMM up to " + ", ".join(rates))
    stream = df[name.isin(["copy", "scale", "add", "triad", "dot"]) & (unit == "B/s")]
    if len(stream):
        i, flag = best(stream)
        p = pd.to_numeric(pct.loc[i], errors="coerce")
        parts.append(f"memory bandwidth up to {format_quantity(stream.loc[i, 'value'], 'B/s')} "
                     f"({stream.loc[i, 'name']})" + (f", {float(p):.0f}% of peak"
                                                      if pd.notna(p) else "") + flag)
    if not parts:
        return text("No GEMM or memory-bandwidth results in this run of {d}.", d=device)
    out = text("<b>{d}</b> ({b}) reached {p}.", d=device, b=ctx.get("backend", ""),
               p="; ".join(parts))
    if flagged.any():
        out += text(" {n} of {m} measurements were flagged (noisy, timed out or throttled): "
                    "the table shows their spread and flags; these rates leave them out where "
                    "an unflagged measurement exists.", n=int(flagged.sum()), m=len(df))
    if not pd.to_numeric(pct, errors="coerce").notna().any():
        out += text(" Percent of peak is not given: the catalog has no row for {d} (the catalog "
                    "lists accelerators, not host CPUs).", d=device)
    return out


def catalog_highlights_html(catalog, providers=None, accelerators=None) -> str:
    """The catalog in words: offers, the cheapest GPU-hour and bf16 PFLOP-hour, the deepest
    spot discount (escaped HTML)."""
    df = catalog.instances
    if providers:
        df = df[df["provider"].str.lower().isin([str(p).lower() for p in providers])]
    if accelerators:
        names = {str(catalog.accelerator(a).name) for a in accelerators}
        df = df[df["accelerator"].isin(names)]
    if df.empty:
        return "No offer matches these filters."
    out = [text("{n} offers from {p} providers for {a} accelerators.", n=len(df),
                p=df["provider"].nunique(), a=df["accelerator"].nunique())]

    def cheapest(col, label):
        if col not in df.columns or df[col].notna().sum() == 0:
            return
        r = df.loc[df[col].astype(float).idxmin()]
        out.append(text("Cheapest {l}: <b>{acc}</b> on {prov} {it} at <b>{usd}</b>.", l=label,
                        acc=r["accelerator"], prov=r["provider"], it=r["instance_type"],
                        usd=format_price(r[col])))

    cheapest("price_usd_per_gpu_hour", "GPU-hour on demand")
    cheapest("usd_per_bf16_pflop_hour", "bf16 PFLOP/s-hour at peak, on demand")
    cheapest("usd_per_bf16_pflop_hour_spot", "bf16 PFLOP/s-hour at peak, spot")
    if "spot_discount" in df.columns and df["spot_discount"].notna().any():
        r = df.loc[df["spot_discount"].astype(float).idxmax()]
        out.append(text("Deepest spot discount: {acc} on {prov} {it}, {d}% off on-demand.",
                        acc=r["accelerator"], prov=r["provider"], it=r["instance_type"],
                        d=f"{100 * float(r['spot_discount']):.0f}"))
    return " ".join(out)
