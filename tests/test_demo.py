"""`aicost demo`: the main job writes one offline HTML report, recommendation first."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from _report_helpers import XSS, demo_report

import aicost
from aicost.report import external_resources

SECTIONS = ("1. What aicost knows: the catalog", "2. This machine: a quick compute benchmark",
            "3. Storage and network of this machine", "4. Training plan", "5. Serving plan",
            "6. Catalog rows behind the recommendations", "How this report was made")


def _text(html: str) -> str:
    import html as _h

    body = re.sub(r"<script\b.*?</script>", " ", html, flags=re.S | re.I)
    body = re.sub(r"<style\b.*?</style>", " ", body, flags=re.S | re.I)
    return _h.unescape(re.sub(r"<[^>]+>", " ", body))


def test_cli_demo_calls_run_demo(monkeypatch, tmp_path, capsys):
    calls = []

    def fake_run_demo(output, store, progress=None):
        calls.append((output, store))
        assert callable(progress)  # the CLI prints each section as it starts
        return Path(output)

    monkeypatch.setattr(aicost.demo, "run_demo", fake_run_demo)
    out = tmp_path / "d.html"
    assert aicost.cli.main(["demo", "-o", str(out), "--no-store"]) == 0
    assert calls == [(str(out), False)]
    assert f"wrote {out}" in capsys.readouterr().out


def test_run_demo_refuses_bad_parameters(tmp_path):
    with pytest.raises(ValueError, match="no parameter 'train_modle'"):
        aicost.demo.run_demo(tmp_path / "d.html", train_modle="x")


@pytest.mark.slow
def test_demo_report(tmp_path_factory):
    path = demo_report(tmp_path_factory)
    html = path.read_text(encoding="utf-8")
    text = _text(html)

    # offline: one copy of plotly.js (if any chart), nothing fetched from the network
    assert external_resources(html) == []
    n_charts = html.count('class="plotly-graph-div"')
    banners = len(re.findall(r"\* plotly\.js v\d+\.\d+\.\d+", html))
    assert banners == (1 if n_charts else 0)

    # the recommendation in words comes first, then the sections in order
    rec = text.index("Recommendation")
    positions = [text.index(s) for s in SECTIONS]
    assert rec < positions[0] and positions == sorted(positions)
    assert re.search(r"Generated \d{4}-\d\d-\d\d \d\d:\d\d UTC", text)
    assert "machine:" in text and "Machine this report ran on" in text

    # every section either ran or says why not
    for name in ("Catalog", "Compute benchmark", "Storage measurement", "Network measurement",
                 "Training plan", "Serving plan"):
        assert (re.search(rf"Sections that ran:[^.]*\b{name}\b", text)
                or f"{name} is not available" in text
                or re.search(rf"{name} \([A-Za-z]*Error", text)), name

    # the user's note is shown as text, never as markup
    assert "window.__pwned" in text
    assert XSS not in html and "&lt;script&gt;window.__pwned" in html
    assert "<script>window.__pwned" not in html


@pytest.mark.slow
def test_demo_sections_ran_for_real(tmp_path_factory):
    """Once the layers exist, the demo must use them: list what ran."""
    html = demo_report(tmp_path_factory).read_text(encoding="utf-8")
    text = _text(html)
    ran = re.search(r"Sections that ran: ([^.]*)\.", text).group(1)
    for name in ("Catalog", "Compute benchmark", "Training plan"):
        assert name in ran, f"{name} did not run: {ran}"
    assert "Quick suite results" in text and "Best 8 plans" in text
    assert "source" in text and "as_of" in text  # catalog rows used, with provenance
