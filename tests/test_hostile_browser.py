"""An exported report loads nothing from the network, whatever its cells hold (issue 11).

A notebook output carries every way a page can reach out that the old regex check missed: CSS
``url()`` and ``@import``, ``srcset``, ``<svg><image href>``, ``<video src>``, ``<object data>``,
``<meta http-equiv=refresh>`` and ``fetch()``. Exported, the page makes zero requests in
headless Chromium (its Content-Security-Policy forbids them; the refresh is removed), and the
plotly chart beside them still renders. The same page without the policy makes requests: the
test would see a leak.
"""

from __future__ import annotations

import json

import pytest
from conftest import requires_chromium

pytest.importorskip("playwright.sync_api", reason="pip install playwright")
from test_browser import ALL_RENDERED, CHROMIUM, CHROMIUM_FLAGS  # noqa: E402

pytestmark = [requires_chromium]



class _Sink:
    """A local HTTP server counting every request the page makes (the network, as far as the
    page can tell): Playwright's request events also list loads that the policy blocked."""

    def __init__(self) -> None:
        import http.server
        import threading

        hits = self.hits = []

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):  # noqa: N802
                hits.append(self.path)
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _open(path, sink_hits_before: int, sink) -> dict:
    """Open ``path`` in headless Chromium (no request blocking); return charts rendered, the
    console errors and the requests that reached the sink."""
    import time

    from playwright.sync_api import sync_playwright

    errors = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_FLAGS)
        try:
            page = browser.new_page()
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))
            page.goto(path.as_uri(), wait_until="load")
            n = page.evaluate("() => document.querySelectorAll('.plotly-graph-div').length")
            if n:
                page.wait_for_function(ALL_RENDERED, timeout=30_000)
            rendered = bool(n) and page.evaluate(ALL_RENDERED)
            time.sleep(1.0)  # let the refresh, fetch and media loads happen
        finally:
            browser.close()
    return {"charts": n, "rendered": rendered, "errors": errors,
            "requests": sink.hits[sink_hits_before:]}


@pytest.fixture
def sink():
    s = _Sink()
    yield s
    s.close()


HOSTILE_TEMPLATE = """
<style>@import url("{SINK}/import.css");</style>
<style>.bg {{ background-image: url("{SINK}/bg.png"); width: 10px; height: 10px; }}</style>
<div class="bg">bg</div>
<img alt="srcset" srcset="{SINK}/srcset.png 1x, {SINK}/srcset2.png 2x">
<svg width="10" height="10"><image href="{SINK}/svg.png" width="10" height="10"/></svg>
<video src="{SINK}/video.mp4" autoplay muted></video>
<object data="{SINK}/object.bin" type="application/octet-stream"></object>
<meta http-equiv="refresh" content="0;url={SINK}/refresh">
<script>fetch("{SINK}/fetch").catch(function () {{}});
  var x = new XMLHttpRequest(); x.open("GET", "{SINK}/xhr"); try {{ x.send(); }} catch (e) {{}}
</script>
"""


def _hostile_html(sink_url: str) -> str:
    return HOSTILE_TEMPLATE.replace("{SINK}", sink_url).replace("{{", "{").replace("}}", "}")


def _hostile_notebook(path, sink_url):
    import nbformat
    import plotly.graph_objects as go
    import plotly.io as pio
    from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout_title_text="still renders")
    cells = [
        new_markdown_cell(f'<div class="bg">markdown</div><img srcset="{sink_url}/md.png 1x">'),
        new_code_cell("fig.show()", outputs=[new_output(
            "display_data", data={"application/vnd.plotly.v1+json": json.loads(pio.to_json(fig)),
                                  "text/plain": "Figure"})]),
        new_code_cell("display(HTML(page))", outputs=[new_output(
            "display_data", data={"text/html": _hostile_html(sink_url), "text/plain": "HTML"})]),
    ]
    nbformat.write(new_notebook(cells=cells), path)


def test_exported_page_makes_no_request_and_plotly_renders(tmp_path, sink):
    import aicost
    from aicost.report._export import OFFLINE_CSP

    src = tmp_path / "hostile.ipynb"
    _hostile_notebook(src, sink.url)
    html_path = aicost.report.export_notebook(src, tmp_path / "hostile.html")
    html = html_path.read_text()
    assert OFFLINE_CSP in html and 'http-equiv="refresh"' not in html
    res = _open(html_path, len(sink.hits), sink)
    assert res["requests"] == [], f"the page reached the network: {res['requests']}"
    assert res["charts"] == 1 and res["rendered"], "plotly did not render under the policy"
    # the only console errors are the policy refusing the hostile loads, none from plotly
    assert all("Content Security Policy" in e for e in res["errors"]), res["errors"]
    assert len(res["errors"]) >= 7  # each hostile load was attempted, and refused

    # control: the same page without the policy, with its refresh, does reach out
    leaky = tmp_path / "leaky.html"
    leaky.write_text(html.replace(f'<meta http-equiv="Content-Security-Policy" '
                                  f'content="{OFFLINE_CSP}">', "")
                     .replace("</body>", f"{_hostile_html(sink.url)}</body>"))
    control = _open(leaky, len(sink.hits), sink)
    assert len(set(control["requests"])) >= 5, control["requests"]
