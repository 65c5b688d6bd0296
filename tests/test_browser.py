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
            page.on("console", lambda m: errors.append(f"console: {m.text}")
                    if m.type == "error" else None)
            page.on("request", lambda r: None if r.url.startswith(("file:", "data:", "blob:"))
                    else requests.append(r.url))
            page.goto(path.as_uri(), wait_until="load")
            n = page.evaluate("() => document.querySelectorAll('.plotly-graph-div').length")
            rendered = False
            if n:
                page.wait_for_function(ALL_RENDERED, timeout=30_000)
                rendered = page.evaluate(ALL_RENDERED)
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


@pytest.mark.slow
def test_catalog_report_with_hostile_user_csv_in_the_browser(tmp_path, tmp_path_factory):
    path = catalog_report(tmp_path_factory)
    res = open_offline(path, tmp_path, "catalog")
    assert res["requests"] == [] and res["errors"] == [], (res["requests"], res["errors"])
    assert res["charts"] >= 3 and res["rendered"]
    assert res["pwned"] is None, "a script in a user CSV cell or note ran"
    assert "<script>window.__pwned=3</script>" in res["text"]
    assert "negotiated <img src=x onerror=window.__pwned=4>" in res["text"]
    assert "window.__pwned = 1" in res["text"]
