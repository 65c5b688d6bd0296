"""Exported reports in a real browser: headless Chromium, networking disabled.

Every plotly chart must render (an SVG inside each chart div), no JavaScript error, no request
leaving the machine, and user strings stay text (a ``<script>`` in a note does not run).
Needs /usr/bin/chromium (Debian package chromium; `.ci/run` installs it) and the ``playwright``
Python package (dev extra); playwright's own browser download is never used.
"""

from __future__ import annotations

import json

import pytest
from _report_helpers import XSS, catalog_report, demo_report
from conftest import requires_chromium

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")

pytestmark = [requires_chromium]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_FLAGS = [
    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
    "--disable-default-apps", "--disable-extensions", "--no-proxy-server",
]
#: every rendered plotly chart, read from the live figure: the axis ranges plotly drew, the
#: data each axis carries (numbers only), legend and colour facts. Log ranges are log10.
CHART_FACTS = """() => [...document.querySelectorAll('.plotly-graph-div')].map((gd, i) => {
  const fl = gd._fullLayout || {};
  const axes = {};
  for (const k of Object.keys(fl)) {
    if (!/^[xy]axis\\d*$/.test(k)) continue;
    const ax = fl[k];
    axes[ax._id] = {type: ax.type, range: (ax.range || []).map(Number), values: []};
  }
  const named = new Set();
  let numericColors = false;
  for (const tr of (gd._fullData || [])) {
    if (tr.visible !== true) continue;
    if (tr.showlegend && tr.name) named.add(tr.name);
    const mc = tr.marker && tr.marker.color;
    if (Array.isArray(mc) && mc.some(c => typeof c === 'number') && !tr.marker.showscale) numericColors = true;
    for (const [key, id] of [['x', tr.xaxis], ['y', tr.yaxis]]) {
      const ax = axes[id];
      const vals = tr[key];
      if (!ax || !vals || typeof vals.length !== 'number') continue;
      for (const v of vals) if (typeof v === 'number' && isFinite(v)) ax.values.push(v);
    }
  }
  for (const ax of Object.values(axes)) {
    const v = ax.values.filter(x => ax.type !== 'log' || x > 0);
    ax.n = v.length;
    ax.min = v.length ? Math.min(...v) : null;
    ax.max = v.length ? Math.max(...v) : null;
    delete ax.values;
  }
  return {i, title: (fl.title && fl.title.text) || '', axes, showlegend: !!fl.showlegend,
          legendItems: named.size, numericColors,
          legendRendered: !!gd.querySelector('g.legend')};
})"""


def check_charts(facts):
    """Problems of the rendered charts, as text: an axis that misses its data or spans far more
    than it (the log-axis annotation bug drew 1 to 1e31 days), colours without a legend."""
    import math

    problems = []
    for chart in facts:
        name = f"chart {chart['i']} ({chart['title'][:60]!r})"
        for axid, ax in chart["axes"].items():
            if ax["type"] not in ("linear", "log") or not ax["n"] or len(ax["range"]) != 2:
                continue
            lo, hi = sorted(ax["range"])
            dmin, dmax = ax["min"], ax["max"]
            if ax["type"] == "log":
                dmin, dmax = math.log10(dmin), math.log10(dmax)
                slack = 0.05 * max(hi - lo, 1e-9)
                if dmin < lo - slack or dmax > hi + slack:
                    problems.append(f"{name} {axid}: log range {lo:.2f}..{hi:.2f} misses the data "
                                    f"{dmin:.2f}..{dmax:.2f}")
                if (hi - lo) > (dmax - dmin) + 3:  # more than 3 decades beyond the data
                    problems.append(f"{name} {axid}: log range 1e{lo:.1f}..1e{hi:.1f} spans far "
                                    f"more than the data 1e{dmin:.1f}..1e{dmax:.1f}")
            else:
                span = max(dmax - dmin, abs(dmax), abs(dmin), 1e-12)
                slack = 0.05 * max(hi - lo, 1e-12)
                if dmin < lo - slack or dmax > hi + slack:
                    problems.append(f"{name} {axid}: range {lo:.4g}..{hi:.4g} misses the data "
                                    f"{dmin:.4g}..{dmax:.4g}")
                if (hi - lo) > 20 * span:
                    problems.append(f"{name} {axid}: range {lo:.4g}..{hi:.4g} dwarfs the data "
                                    f"{dmin:.4g}..{dmax:.4g}")
        if chart["legendItems"] >= 2 and not (chart["showlegend"] and chart["legendRendered"]):
            problems.append(f"{name}: {chart['legendItems']} named traces but no legend")
        if chart["numericColors"]:
            problems.append(f"{name}: numeric marker colours without a colour bar")
    return problems


ALL_RENDERED = """() => {
  const divs = [...document.querySelectorAll('.plotly-graph-div')];
  return divs.length > 0 && divs.every(d => d.querySelector('svg.main-svg'));
}"""


def open_offline(path, tmp_path, screenshot_name):
    """Open ``path`` in headless Chromium with every non-file request blocked.

    Returns a dict: charts, rendered, errors (JS), requests (non-file, attempted), pwned,
    text (body text), screenshot (path).
    """
    requests, errors = [], []
    with playwright_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            user_data_dir=str(tmp_path / f"profile-{screenshot_name}"),
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS, offline=True,
            viewport={"width": 1280, "height": 900}, service_workers="block",
        )
        try:
            def route(r):
                if r.request.url.startswith(("file:", "data:", "blob:", "about:")):
                    r.continue_()
                else:
                    requests.append(r.request.url)
                    r.abort()

            ctx.route("**/*", route)
            page = ctx.new_page()
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            # errors and warnings both: plotly's "Invalid color specifier" and "MathJax is not
            # loaded" are warnings, and each one is a chart drawn differently than meant
            page.on("console", lambda m: errors.append(f"console {m.type}: {m.text}")
                    if m.type in ("error", "warning", "warn") or "WARN" in m.text else None)
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
                    else requests.append(r.url))
            page.goto(path.as_uri(), wait_until="load")
            n = page.evaluate("() => document.querySelectorAll('.plotly-graph-div').length")
            rendered = False
            if n:
                page.wait_for_function(ALL_RENDERED, timeout=30_000)
                rendered = page.evaluate(ALL_RENDERED)
            facts = page.evaluate(CHART_FACTS) if n else []
            shot = tmp_path / f"{screenshot_name}.png"
            page.screenshot(path=str(shot), full_page=False)
            page.screenshot(path=str(tmp_path / f"{screenshot_name}-full.png"), full_page=True)
            out = {
                "charts": n, "rendered": rendered,
                "svgs": page.evaluate("() => document.querySelectorAll("
                                      "'.plotly-graph-div svg.main-svg').length"),
                "pwned": page.evaluate("() => typeof window.__pwned === 'undefined' ? null "
                                       ": window.__pwned"),
                "text": page.inner_text("body"),
                "screenshot": shot,
                "facts": facts,
            }
        finally:
            ctx.close()
    out["errors"] = errors
    out["requests"] = sorted(set(requests))
    return out


def test_exported_notebook_charts_render_offline(tmp_path):
    """No kernel: a notebook with three figures and a hostile markdown-free output."""
    import plotly.graph_objects as go
    import plotly.io as pio
    from nbformat.v4 import new_code_cell, new_notebook, new_output

    import aicost

    cells = []
    for i in range(3):
        fig = go.Figure(go.Scatter(x=[1, 2, 3], y=[i, i + 1, i * 2]), layout_title_text=f"chart {i}")
        cells.append(new_code_cell("fig.show()", outputs=[new_output(
            "display_data", data={"application/vnd.plotly.v1+json": json.loads(pio.to_json(fig)),
                                  "text/plain": "Figure"})]))
    cells.append(new_code_cell("print(name)", outputs=[new_output(
        "stream", name="stdout", text=f"model {XSS}\n")]))
    import nbformat

    src = tmp_path / "nb.ipynb"
    nbformat.write(new_notebook(cells=cells), src)
    html_path = aicost.report.export_notebook(src, tmp_path / "nb.html")
    res = open_offline(html_path, tmp_path, "notebook")
    assert res["charts"] == 3 and res["rendered"] and res["svgs"] >= 3
    assert res["requests"] == [], res["requests"]
    assert res["errors"] == [], res["errors"]
    assert res["pwned"] is None
    assert "window.__pwned = 1" in res["text"]  # shown as text
    assert res["screenshot"].stat().st_size > 10_000


@pytest.mark.slow
def test_demo_report_in_the_browser(tmp_path, tmp_path_factory):
    path = demo_report(tmp_path_factory)
    res = open_offline(path, tmp_path, "demo")
    html = path.read_text()
    assert res["requests"] == [], f"the report tried to reach the network: {res['requests']}"
    assert res["errors"] == [], res["errors"]
    assert res["pwned"] is None, "a <script> in a user string ran"
    assert "window.__pwned = 1" in res["text"]
    n_figs = html.count('class="plotly-graph-div"')
    assert res["charts"] == n_figs
    if n_figs:
        assert res["rendered"], "a plotly chart did not render (no svg.main-svg)"
    assert "Recommendation" in res["text"]
    assert res["screenshot"].stat().st_size > 10_000
    assert check_charts(res["facts"]) == []
    # the headline Pareto chart: days on a log axis that stays near the plans (was 1..1e31)
    pareto = [f for f in res["facts"] if f["title"].startswith("Training plans")]
    assert pareto and pareto[0]["axes"]["x"]["range"][1] < 4


@pytest.mark.slow
def test_catalog_report_with_hostile_user_csv_in_the_browser(tmp_path, tmp_path_factory):
    path = catalog_report(tmp_path_factory)
    res = open_offline(path, tmp_path, "catalog")
    assert res["requests"] == [] and res["errors"] == [], (res["requests"], res["errors"])
    assert res["charts"] >= 3 and res["rendered"]
    assert res["pwned"] is None, "a script in a user CSV cell or note ran"
    assert "<script>window.__pwned=3</script>" in res["text"]
    assert check_charts(res["facts"]) == []
    assert "negotiated <img src=x onerror=window.__pwned=4>" in res["text"]
    assert "window.__pwned = 1" in res["text"]


def test_every_plan_chart_in_the_browser(tmp_path):
    """Every aicost.viz plan and catalog chart, rendered: axes cover the data and stay near it,
    no console warning, legends where colour carries meaning (no kernel: seconds)."""
    import plotly.io as pio

    import aicost
    from aicost import viz

    cat = aicost.catalog.load()
    train = aicost.plan.plan_training("llama-3.1-8b", 2e11, deadline="20d", budget_usd=6e4,
                                      catalog=cat, providers=["aws", "gcp"], max_gpus=256)
    trace = aicost.model.load_trace("synthetic_diurnal_chat_24h")
    serve = aicost.plan.plan_inference("llama-3.1-8b", demand=trace, ttft_s="1s", tpot_s="50ms",
                                       catalog=cat, providers=["aws", "lambda", "runpod"])
    figs = [viz.pareto_figure(train), viz.step_time_figure(train, n=8),
            viz.cost_vs_deadline_figure(train), viz.pareto_figure(serve),
            viz.latency_vs_batch_figure(serve), viz.replicas_vs_rate_figure(serve),
            viz.cost_per_million_tokens_figure(serve), viz.demand_figure(serve),
            viz.best_offer_figure(cat), viz.price_per_gpu_hour_figure(cat),
            viz.spot_vs_on_demand_figure(cat)]
    html = "".join(pio.to_html(f, full_html=False, include_plotlyjs=(i == 0))
                   for i, f in enumerate(figs))
    page = tmp_path / "charts.html"
    page.write_text(f"<html><body>{html}</body></html>")
    res = open_offline(page, tmp_path, "charts")
    assert res["charts"] == len(figs) and res["rendered"]
    assert res["errors"] == [], res["errors"]
    assert check_charts(res["facts"]) == [], check_charts(res["facts"])
    by_title = {f["title"]: f for f in res["facts"]}
    steps = next(f for t, f in by_title.items() if t.startswith("Where a training step goes"))
    assert steps["legendItems"] >= 2 and steps["legendRendered"]
    per_token = next(f for t, f in by_title.items() if t.startswith("$ per 1M tokens"))
    assert per_token["legendRendered"], "bar colours (accelerators) without a legend"


def test_check_charts_catches_the_log_axis_annotation_bug():
    """The checker itself: the Pareto chart as it was (x to 1e31 days) is refused."""
    facts = [{"i": 0, "title": "Training plans", "showlegend": True, "legendItems": 3,
              "legendRendered": True, "numericColors": False,
              "axes": {"x": {"type": "log", "range": [-2.4, 32.1], "n": 10, "min": 0.5,
                             "max": 30.0},
                       "y": {"type": "log", "range": [4.6, 6.9], "n": 10, "min": 6e4,
                             "max": 7e6}}}]
    problems = check_charts(facts)
    assert len(problems) == 1 and "spans far more than the data" in problems[0]
    facts[0]["numericColors"] = True
    assert any("colour bar" in p for p in check_charts(facts))
