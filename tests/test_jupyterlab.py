"""The notebooks as a user sees them: JupyterLab in headless Chromium.

Starts ``jupyter lab`` on a free loopback port with a token, opens copies of notebook 03 and
the dashboards notebook, runs every cell, then checks what a reader sees: dollar amounts stay
dollar amounts ("$1.28M", not MathJax italics between two dollar signs), the dashboards render,
and moving a control redraws the figure. Needs /usr/bin/chromium and the notebook extra.
"""

from __future__ import annotations

import os
import re
import secrets
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import requires_chromium

playwright_api = pytest.importorskip("playwright.sync_api", reason="pip install playwright")
pytest.importorskip("jupyterlab")
pytest.importorskip("anywidget")

# two notebooks run in a live JupyterLab: a few minutes on a loaded 2-core machine
pytestmark = [requires_chromium, pytest.mark.slow, pytest.mark.timeout(1500)]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A JupyterLab server on copies of the notebooks; yields (base url, token, folder)."""
    folder = tmp_path_factory.mktemp("lab")
    for name in ("03_plan_llm_training.ipynb", "08_dashboards.ipynb"):
        shutil.copy(ROOT / "notebooks" / name, folder / name)
    port, token = _free_port(), secrets.token_hex(16)
    # user settings: every cell rendered (no windowing, so the test sees every output), no news
    settings = tmp_path_factory.mktemp("settings")
    (settings / "@jupyterlab" / "notebook-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "notebook-extension" / "tracker.jupyterlab-settings").write_text(
        '{"windowingMode": "none"}')
    (settings / "@jupyterlab" / "apputils-extension").mkdir(parents=True)
    (settings / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
     ).write_text('{"fetchNews": "false", "checkForUpdates": false}')
    env = {**os.environ, "AICOST_HOME": str(tmp_path_factory.mktemp("home")),
           "JUPYTER_RUNTIME_DIR": str(tmp_path_factory.mktemp("runtime")),
           "JUPYTERLAB_SETTINGS_DIR": str(settings),
           # a fresh workspace: no tabs restored from an earlier session
           "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path_factory.mktemp("workspaces"))}
    log = (folder / "lab.log").open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
         "--ServerApp.open_browser=False", "--allow-root", "--LabApp.news_url=",
         "--LabApp.check_for_updates_class="
         "jupyterlab.NeverCheckForUpdate"],
        cwd=folder, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("jupyter lab exited: " + (folder / "lab.log").read_text()[-2000:])
            time.sleep(0.5)
    else:
        proc.terminate()
        pytest.fail("jupyter lab did not start in 60 s")
    try:
        yield base, token, folder
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def _run_all(page, base, token, name, timeout_s=420):
    """Open notebook ``name`` in JupyterLab and run all its cells; return when done."""
    print(f"[{time.monotonic():.1f}] open {name}", flush=True)
    # ?reset: a fresh workspace. Without it JupyterLab restores the notebook opened before,
    # and anywidget cannot re-initialize the FigureWidgets of a restored tab whose models live
    # in another kernel ("[anywidget] Failed to initialize model", an upstream limitation).
    page.goto(f"{base}/lab/tree/{name}?reset&token={token}", wait_until="domcontentloaded",
              timeout=90_000)
    page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=90_000)
    page.wait_for_function("""() => {
        const s = document.querySelector('.jp-Notebook-ExecutionIndicator, .jp-KernelStatus');
        return !!document.querySelector('.jp-Notebook') && !!s;
    }""", timeout=90_000)
    page.wait_for_timeout(1500)
    _notebook(page).click()
    page.keyboard.press("Escape")
    # Run > Run All Cells, through the menu bar
    print(f"[{time.monotonic():.1f}] run all {name}", flush=True)
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()
    # done when no code cell shows [*] or [ ] and every code cell has a number
    page.wait_for_function("""() => {
        const nb = [...document.querySelectorAll('.jp-Notebook')].find(n => n.offsetParent);
        const prompts = nb ? [...nb.querySelectorAll('.jp-CodeCell .jp-InputPrompt')] : [];
        return prompts.length > 0 && prompts.every(p => /\\[\\d+\\]/.test(p.textContent));
    }""", timeout=timeout_s * 1000, polling=1000)
    page.wait_for_timeout(1500)


def _notebook(page):
    """The notebook in the visible tab (an earlier one stays open, hidden)."""
    return page.locator(".jp-Notebook >> visible=true").first


def _mathjax_nodes(page) -> list[str]:
    """The text around each piece of output that MathJax typeset (should be none)."""
    return page.evaluate("""() => [...document.querySelectorAll(
        '.jp-OutputArea mjx-container, .jp-OutputArea .MathJax, .jp-MarkdownOutput mjx-container'
    )].map(n => (n.parentElement || n).textContent.slice(0, 200))""")


def test_jupyterlab_shows_dollars_and_live_dashboards(lab, tmp_path):
    base, token, folder = lab
    t0 = time.monotonic()
    errors: list[str] = []
    with playwright_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True,
                                    args=["--no-sandbox", "--disable-gpu"])
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda exc: (errors.append(str(exc)),
                                               print(f"[{time.monotonic():.1f}] {exc}", flush=True)))

            _run_all(page, base, token, "08_dashboards.ipynb")
            page.screenshot(path=str(tmp_path / "lab-08.png"), full_page=False)
            outputs = _notebook(page).inner_text()
            assert "Error displaying widget" not in outputs
            assert page.locator(".jp-OutputArea .js-plotly-plot").count() >= 3, \
                "the dashboards' figures did not render"
            assert re.search(r"\$\d[\d,.]*[kM]?(/h)?", outputs), "no dollar amount shown"
            nodes = _mathjax_nodes(page)
            assert nodes == [], f"dollars rendered as MathJax: {nodes}"

            # move a control: the deadline of the training planner; the star must move.
            # JupyterLab renders only the cells in view: scroll the planner's cell in first
            page.keyboard.press("Escape")
            for _ in range(3):
                page.keyboard.press("Control+Home")
            cell = _notebook(page).locator(".jp-CodeCell:has-text('training_planner(')").first
            cell.scroll_into_view_if_needed(timeout=30_000)
            plot = cell.locator(".js-plotly-plot").first
            plot.wait_for(timeout=60_000)
            star = """gd => { const t = (gd._fullData || []).find(t => t.name === 'recommended');
                             return t && t.x && t.x.length ? [t.x[0], t.y[0]] : null; }"""
            try:
                page.wait_for_function(f"gd => ({star})(gd) !== null", arg=plot.element_handle(),
                                       timeout=30_000, polling=500)
            except playwright_api.TimeoutError:
                pass
            before = plot.evaluate(star)
            assert before is not None, plot.evaluate(
                "gd => (gd._fullData || []).map(t => [t.name, typeof t.x, t.x && t.x.length])")
            box = cell.locator(".widget-inline-hbox:has-text('deadline [d]') input").first
            box.fill("3")  # the notebook left 10 days; its recommendation takes about 7
            box.press("Enter")
            handle = plot.element_handle()
            page.wait_for_function(
                """([gd, before]) => { const t = (gd._fullData || []).find(t => t.name === 'recommended');
                     return t && t.x && t.x.length && (t.x[0] !== before[0] || t.y[0] !== before[1]); }""",
                arg=[handle, before], timeout=60_000, polling=500)
            after = plot.evaluate(star)
            assert after != before and after[0] <= 3.0 + 1e-9
            page.screenshot(path=str(tmp_path / "lab-08-moved.png"), full_page=False)

            _run_all(page, base, token, "03_plan_llm_training.ipynb")
            page.screenshot(path=str(tmp_path / "lab-03.png"), full_page=False)
            text = _notebook(page).inner_text()
            assert re.search(r"\$\d[\d,.]*[kM]", text), "no '$1.28M'-style amount in notebook 03"
            nodes = _mathjax_nodes(page)
            assert nodes == [], f"a plan's dollars rendered as MathJax (notebook 03): {nodes}"
        finally:
            browser.close()
    assert errors == [], errors
    print(f"JupyterLab check: {time.monotonic() - t0:.0f} s")
