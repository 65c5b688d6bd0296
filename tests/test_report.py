"""aicost.report: kinds and parameters, escaping, offline export, atomic writes, failing cells."""

from __future__ import annotations

import os
import re
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

import aicost
from aicost.report import _build, _export, _kinds, blocks

PLOTLY_MIME = "application/vnd.plotly.v1+json"


# ----------------------------------------------------------------------------- kinds
def test_kinds_are_listed_and_each_template_declares_every_parameter():
    assert aicost.report.kinds() == ["benchmark", "catalog", "demo", "fleet", "serving_plan", "spend", "training_plan"]
    for name in aicost.report.kinds():
        path = aicost.report.template_path(name)
        assert path.is_file(), path
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1, f"{name}: one cell must be tagged 'parameters'"
        assigned = set(re.findall(r"^(\w+)\s*=", tagged[0].source, flags=re.M))
        expected = {p.name for p in _kinds.KINDS[name].params}
        assert assigned == expected, f"{name}: template and spec disagree"


def test_unknown_kind_lists_the_known_ones():
    with pytest.raises(aicost.UnknownNameError) as err:
        aicost.report.build("trainig_plan", "x.html")
    msg = str(err.value)
    assert "training_plan" in msg and "benchmark" in msg and "catalog" in msg


def test_missing_and_unknown_parameters_list_what_the_kind_expects(tmp_path):
    with pytest.raises(ValueError) as err:
        aicost.report.build("training_plan", tmp_path / "x.html", tokens=1e12)
    assert "needs parameter(s) model" in str(err.value)
    assert "tokens (float, required)" in str(err.value)  # the description follows
    with pytest.raises(ValueError, match=r"no parameter 'tokenz' \(did you mean 'tokens'\?\)"):
        aicost.report.build("training_plan", tmp_path / "x.html", model="m", tokenz=1)
    with pytest.raises(ValueError, match="parameter 'tokens' expects float"):
        aicost.report.build("training_plan", tmp_path / "x.html", model="m", tokens="lots")
    assert not list(tmp_path.iterdir())


def test_parameters_are_converted_from_text():
    got = aicost.report.coerce_params("training_plan", {
        "model": "llama-3.1-70b", "tokens": "2e12", "deadline": "30d", "budget_usd": "2e6",
        "providers": "aws, gcp", "pricing": "spot"})
    assert got["tokens"] == 2e12 and got["deadline"] == 30 * 86400.0
    assert got["budget_usd"] == 2e6 and got["providers"] == ["aws", "gcp"]
    assert got["pricing"] == ["spot"] and got["efficiency"] is None and got["note"] == ""
    demo = aicost.report.coerce_params("demo", {"storage_seconds": "0.5", "store": "no"})
    assert demo["storage_seconds"] == 0.5 and demo["store"] is False
    assert demo["train_model"] == "llama-3.1-8b"


def test_describe_names_every_kind():
    text = aicost.report.describe()
    for name in aicost.report.kinds():
        assert f"{name}:" in text


def test_output_must_be_html(tmp_path):
    with pytest.raises(ValueError, match=r"\.html"):
        aicost.report.build("catalog", tmp_path / "report.pdf")


# ----------------------------------------------------------------------------- escaping
def test_blocks_escape_user_strings():
    payload = "<script>window.__pwned=1</script>"
    assert blocks.text("<b>{m}</b>", m=payload) == (
        "<b>&lt;script&gt;window.__pwned=1&lt;/script&gt;</b>")
    assert blocks.esc('"a" & <b>') == "&quot;a&quot; &amp; &lt;b&gt;"


def test_tables_escape_cells(monkeypatch):
    import pandas as pd

    shown = []
    monkeypatch.setattr(blocks, "_display_html", shown.append)
    blocks.table(pd.DataFrame({"model": ["<script>x()</script>"], "n": [1.5]}),
                 caption="<i>caption</i>")
    blocks.facts({"<k>": "<v>"})
    html = "".join(shown)
    assert "<script>" not in html and "<i>" not in html and "<k>" not in html
    assert "&lt;script&gt;x()&lt;/script&gt;" in html and "&lt;v&gt;" in html


def test_attempt_degrades_only_as_asked():
    out = blocks.attempt("Missing", lambda: __import__("aicost_no_such_module"))
    assert not out.ok and "ModuleNotFoundError" in out.error
    with pytest.raises(ZeroDivisionError):
        blocks.attempt("Bug", lambda: 1 / 0)
    with pytest.raises(AttributeError):  # a bug, not "a feature not built yet"
        blocks.attempt("Bug", lambda: object().no_such_attribute)
    out = blocks.attempt("Bug", lambda: 1 / 0, degrade="all")
    assert not out.ok and out.error.startswith("ZeroDivisionError")
    assert blocks.attempt("Fine", lambda: 42).value == 42


# ----------------------------------------------------------------------------- export
def _figure_json(title):
    import json

    import plotly.graph_objects as go
    import plotly.io as pio

    fig = go.Figure(go.Bar(x=["a", "b"], y=[1, 2]), layout_title_text=title)
    return json.loads(pio.to_json(fig))


def _notebook_with_figures(n=3):
    cells = [new_markdown_cell("# Report")]
    # plotly's "notebook" renderer output: its own copy of plotly.js, which must be dropped
    cells.append(new_code_cell("init", outputs=[new_output(
        "display_data", data={"text/html": "<script>window.PlotlyConfig = {};/* plotly.js v9 */</script>"})]))
    for i in range(n):
        cells.append(new_code_cell(f"fig{i}", outputs=[new_output(
            "display_data", data={PLOTLY_MIME: _figure_json(f"figure {i}"), "text/plain": "Figure"})]))
    return new_notebook(cells=cells)


def test_export_embeds_plotly_once_and_loads_nothing_from_the_network():
    html = _export.notebook_to_html(_notebook_with_figures(3), title="t <x>")
    assert html.count("plotly.js v") >= 1
    # the bundle's banner comment appears once per copy
    banners = re.findall(r"\* plotly\.js v\d+\.\d+\.\d+", html)
    assert len(banners) == 1, banners
    assert html.count('class="plotly-graph-div"') == 3
    assert _export.external_resources(html) == []
    assert "require.min.js" not in html and "MathJax.Hub.Config" not in html
    assert "<title>t &lt;x&gt;</title>" in html
    assert "fig0" not in html  # code cells are hidden by default


def test_export_hides_code_by_default():
    nb = _notebook_with_figures(1)
    nb.cells.append(new_code_cell("secret_code_marker = 1"))
    assert "secret_code_marker" not in _export.notebook_to_html(nb)
    assert "secret_code_marker" in _export.notebook_to_html(nb, show_code=True)


def test_external_resources_are_detected():
    page = ('<script src="https://cdn.example/x.js"></script><link rel="stylesheet" '
            'href="//fonts.example/css"><script>var u = "https://plot.ly";</script>')
    assert _export.external_resources(page) == ["//fonts.example/css", "https://cdn.example/x.js"]


def test_write_atomic_keeps_the_old_file_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "r.html"
    _export.write_atomic(target, "good")
    assert target.read_text() == "good"
    assert oct(target.stat().st_mode & 0o777) != oct(0o600)

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        _export.write_atomic(target, "bad")
    assert target.read_text() == "good"
    assert [p.name for p in tmp_path.iterdir()] == ["r.html"]


def test_export_notebook_writes_reports_dir(tmp_path, monkeypatch):
    src = tmp_path / "nb.ipynb"
    nbformat.write(_notebook_with_figures(2), src)
    monkeypatch.chdir(tmp_path)
    out = aicost.report.export_notebook("nb.ipynb")
    assert out == Path("reports") / "nb.html" and out.resolve() == tmp_path / "reports" / "nb.html"
    html = out.read_text()
    assert html.count('class="plotly-graph-div"') == 2 and "fig0" in html  # code kept
    with pytest.raises(FileNotFoundError):
        aicost.report.export_notebook(tmp_path / "missing.ipynb")


# ----------------------------------------------------------------------------- failing cells
def test_a_failing_cell_is_named_and_the_old_report_survives(tmp_path, monkeypatch):
    """One kernel run: a template whose third cell raises."""
    tdir = tmp_path / "templates"
    tdir.mkdir()
    nb = new_notebook(cells=[
        new_code_cell("# parameters\nmodel = 'x'\ntokens = 1.0", metadata={"tags": ["parameters"]}),
        new_code_cell("# setup\nimport math"),
        new_code_cell("# the plan\nraise ValueError(f'unknown model {model!r}')"),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tdir / "training_plan.ipynb")
    monkeypatch.setattr(_kinds, "_TEMPLATES", tdir)
    out = tmp_path / "plan.html"
    out.write_text("previous good report")
    with pytest.raises(aicost.report.ReportError) as err:
        aicost.report.build("training_plan", out, model="llama-3.1-8b", tokens=1e9)
    e = err.value
    assert e.ename == "ValueError" and "unknown model 'llama-3.1-8b'" in e.evalue
    assert e.section == "the plan"
    assert "failed in cell" in str(e) and "(the plan)" in str(e)
    assert "ValueError: unknown model" in str(e)
    assert isinstance(e, RuntimeError) and isinstance(e, aicost.AicostError)
    assert out.read_text() == "previous good report"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plan.html", "templates"]


def test_model_names_are_checked_before_a_kernel_starts(tmp_path):
    with pytest.raises(aicost.UnknownNameError, match="did you mean"):
        aicost.report.build("training_plan", tmp_path / "x.html", model="llama-3.1-8bb",
                            tokens=1e12)
    with pytest.raises(aicost.UnknownNameError):
        aicost.report.build("demo", tmp_path / "x.html", serve_model="no-such-model")


def test_kernel_runs_this_python():
    km_class = _build._kernel_manager_class()
    spec = km_class(kernel_name="python3").kernel_spec
    import sys

    assert spec.argv[0] == sys.executable


# ----------------------------------------------------------------------------- real reports
@pytest.mark.slow
def test_cli_catalog_report(tmp_path_factory):
    from _report_helpers import catalog_report

    html = catalog_report(tmp_path_factory).read_text()
    assert _export.external_resources(html) == []
    assert len(re.findall(r"\* plotly\.js v\d+\.\d+\.\d+", html)) == 1
    assert html.count('class="plotly-graph-div"') >= 3
    assert "aicost-callout aicost-warning" not in html  # no section fell back to "not available"
    assert "as_of" in html and "source" in html and "In short" in html
    assert "prices as of 2025-10-01" in html  # the oldest as_of among the rows shown
    # user strings (note, CSV cells) are text
    for payload in ("<script>window.__pwned", "<img src=x"):
        assert payload not in html
    assert "&lt;script&gt;window.__pwned=3&lt;/script&gt;" in html
    assert "negotiated &lt;img src=x onerror=window.__pwned=4&gt;" in html


@pytest.mark.slow
def test_training_plan_report_states_its_answer_and_assumptions(tmp_path):
    out = aicost.report.build("training_plan", tmp_path / "plan.html", model="llama-3.1-8b",
                              tokens=1e12, deadline="30d", note="<script>window.__pwned=1</script>")
    html = out.read_text()
    import html as _h

    text = _h.unescape(re.sub(r"<[^>]+>", " ", re.sub(r"<script\b.*?</script>", " ", html,
                                                    flags=re.S)))
    assert "In short" in text and "rent" in text and "bottleneck" in text
    assert "Assumptions" in text and "Efficiency factor" in text
    assert "Catalog instances used" in text and "as_of" in text
    assert "rices as of 20" in text  # how old the prices behind the plan are
    assert "<script>window.__pwned" not in html
    assert text.index("In short") < text.index("The plan")


def test_missing_notebook_extra_is_named(monkeypatch, tmp_path, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "papermill" else real(name, *a))
    with pytest.raises(ModuleNotFoundError, match=r"papermill.*aicost\[notebooks\]"):
        aicost.report.build("catalog", tmp_path / "c.html")
    assert aicost.cli.main(["report", "catalog", "-o", str(tmp_path / "c.html")]) == 3
    assert "pip install 'aicost[notebooks]'" in capsys.readouterr().err


def test_plan_tables_are_formatted_by_unit():
    import pandas as pd

    df = pd.DataFrame({"time_s": [3600.0, 3 * 86400.0], "cost_usd": [1e5, 12.5],
                       "cost_usd_per_hour": [40.0, 1.49], "mfu": [0.438, 0.5],
                       "reason": ["", ""], "gpus": [64, 8], "provider": ["<aws>", "gcp"]})
    out = blocks.humanize(df)
    assert list(out.columns) == ["time", "cost usd", "cost usd per hour", "mfu", "gpus", "provider"]
    assert list(out["time"]) == ["60.0 min", "3.0 d"]
    assert list(out["cost usd"]) == ["$100.0k", "$12"]
    assert list(out["cost usd per hour"]) == ["$40.00/h", "$1.49/h"]
    assert list(out["mfu"]) == ["43.8%", "50.0%"] and list(out["gpus"]) == ["64", "8"]
    assert out["provider"][0] == "<aws>"  # escaping happens when the table is rendered
