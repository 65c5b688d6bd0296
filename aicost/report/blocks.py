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
import sys
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

__all__ = [
    "Outcome",
    "attempt",
    "callout",
    "catalog_figures",
    "catalog_rows_used",
    "esc",
    "facts",
    "figure",
    "header",
    "heading",
    "machine_info",
    "outcomes",
    "paragraph",
    "raw_html",
    "recommendation_html",
    "show_plan",
    "table",
    "text",
    "timings_table",
    "unavailable",
]

#: exceptions that mean "this part of aicost is not installed or not built yet": a section
#: degrades to a "not available" note on them in every report
MISSING_FEATURE_ERRORS: tuple[type[BaseException], ...] = (
    ImportError,
    AttributeError,
    NotImplementedError,
)


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


def attempt(title: str, fn: Callable[[], object], *, degrade: str = "missing") -> Outcome:
    """Run ``fn()`` for the section ``title``; return an :class:`Outcome`.

    Parameters
    ----------
    title : str
        Section name, shown in "not available" notes and the timing table.
    fn : callable
        Does the work and returns what the section shows.
    degrade : {"missing", "all"}
        ``"missing"``: only a missing feature (ImportError, AttributeError,
        NotImplementedError, BackendUnavailableError) becomes a "not available" note and
        other errors propagate (the report fails, naming the cell). ``"all"``: any
        ``Exception`` becomes a note (the demo: a part that cannot run here says why and the
        rest of the report is still written).
    """
    from .._errors import BackendUnavailableError

    if degrade not in ("missing", "all"):
        raise ValueError(f"degrade must be 'missing' or 'all', got {degrade!r}")
    catch = (Exception,) if degrade == "all" else (*MISSING_FEATURE_ERRORS, BackendUnavailableError)
    t0 = time.perf_counter()
    try:
        value = fn()
    except catch as exc:
        out = Outcome(title, error=f"{type(exc).__name__}: {exc}".strip().rstrip(":"),
                      error_type=type(exc).__name__, seconds=time.perf_counter() - t0,
                      details=traceback.format_exc())
        print(f"[aicost report] section {title!r} not available:\n{out.details}", file=sys.stderr)
    else:
        out = Outcome(title, value=value, seconds=time.perf_counter() - t0)
    _OUTCOMES.append(out)
    return out


def unavailable(outcome: Outcome | str, reason: str | None = None) -> None:
    """Display a clear "not available: <reason>" note for a section that could not run."""
    if isinstance(outcome, Outcome):
        title, reason = outcome.title, reason or outcome.error
    else:
        title = outcome
    callout(text("<em>{title}</em> is not available: {reason}", title=title, reason=reason),
            kind="warning")


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
    except (ValueError, OSError, AttributeError):
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
    except Exception:  # no driver, no device: a CPU machine
        return []


def machine_info() -> dict[str, object]:
    """Describe the machine this report runs on (host, OS, CPU, cores, memory, GPUs, versions)."""
    from .._version import __version__

    mem = _memory_gib()
    gpus = _gpus()
    return {
        "host": platform.node(),
        "os": f"{platform.system()} {platform.release()}",
        "cpu": _cpu_model(),
        "cpu cores (logical)": os.cpu_count(),
        "memory": f"{mem:.1f} GiB" if mem else None,
        "GPUs": ", ".join(gpus) if gpus else "none found (CPU only)",
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
    machine = f"{info['host']} · {info['cpu']} · {info['cpu cores (logical)']} cores · {info['GPUs']}"
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
def _fmt_usd(x) -> str:
    try:
        x = float(x)
    except (TypeError, ValueError):
        return "n/a"
    if x != x:  # NaN
        return "n/a"
    if abs(x) >= 1e6:
        return f"${x / 1e6:,.2f}M"
    if abs(x) >= 1e4:
        return f"${x / 1e3:,.1f}k"
    if abs(x) >= 10:
        return f"${x:,.0f}"
    return f"${x:,.3f}"


def recommendation_html(plan, question: str) -> str:
    """One escaped paragraph: the answer to ``question`` in words, from ``plan.best``.

    Parameters
    ----------
    plan : aicost.plan.Plan
        A training or inference plan.
    question : str
        What was asked, e.g. "train llama-3.1-8b on 1e12 tokens within 30 days".
    """
    from .._units import format_duration

    best = getattr(plan, "best", None)
    if best is None:
        why = ""
        try:
            why = plan.explain()
        except Exception:  # an explanation is a bonus; the sentence below stands alone
            why = ""
        return text("<b>{q}</b>: no feasible plan. {why}", q=question.capitalize(), why=why)
    time_label = str(getattr(best, "time_col", "time")).removesuffix("_s").replace("_", " ")
    unit = "/h" if str(getattr(best, "cost_col", "")).endswith("per_hour") else ""
    out = text(
        "<b>{q}</b>: rent <b>{headline}</b>. {tl}: <b>{t}</b>, cost <b>{c}{u}</b>; "
        "bottleneck: {b}.",
        q=question[:1].upper() + question[1:], headline=best.headline, tl=time_label.capitalize(),
        t=format_duration(best.time_s), c=_fmt_usd(best.cost), u=unit, b=best.bottleneck,
    )
    sens = getattr(best, "sensitivity", None)
    if sens is not None:
        try:
            out += " " + esc(sens.describe(best.time_s, best.cost, unit))
        except Exception:  # older planner without describe(): skip the sensitivity sentence
            pass
    return out


def show_plan(plan, max_rows: int = 10, figure_fn=None) -> None:
    """Display a plan: the recommendation explained, the best candidates, the Pareto frontier,
    why candidates were dropped, the assumptions and efficiency factors."""
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
    if figure_fn is not None:
        try:
            figure(figure_fn(plan))
        except Exception as exc:  # a chart must not sink the plan; say why it is missing
            unavailable("Plan chart", f"{type(exc).__name__}: {exc}")
    top = plan.top(max_rows)
    if len(top):
        table(top, caption=f"Best {len(top)} plans ({plan.objective})", max_rows=max_rows)
    front = plan.pareto
    if len(front):
        cols = [c for c in plan.table_columns if c in front.columns] or list(front.columns)
        table(front[cols], caption="Pareto frontier: no other plan is both faster and cheaper",
              max_rows=max_rows)
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
    if not shown:
        paragraph("No catalog rows matched the recommended plans.")


# ----------------------------------------------------------------------------- catalog
def catalog_figures(catalog, providers=None, accelerators=None) -> list:
    """The catalog charts shown in reports (from :mod:`aicost.viz`), filtered as asked."""
    from .. import viz

    figs = []
    for name in ("price_per_gpu_hour", "cost_per_pflop_hour", "spot_vs_on_demand"):
        fn = getattr(viz, name, None)
        if fn is None:
            continue
        figs.append(fn(catalog, providers=providers, accelerators=accelerators))
    if not figs:
        raise AttributeError("aicost.viz has no catalog charts (price_per_gpu_hour, ...)")
    return figs
