"""Plan figures build from real plans and show what they claim."""

from __future__ import annotations

import pytest

import aicost
from aicost import viz
from aicost.plan import plan_inference, plan_training


@pytest.fixture(scope="module")
def cat():
    return aicost.catalog.load()


@pytest.fixture(scope="module")
def train(cat):
    return plan_training("llama-3.1-8b", 2e11, deadline="20d", catalog=cat, providers=["aws"], max_gpus=128)


@pytest.fixture(scope="module")
def serve(cat):
    trace = aicost.model.load_trace("synthetic_diurnal_chat_24h")
    return plan_inference("llama-3.1-8b", demand=trace.assign(requests_per_s=trace["requests_per_s"] * 4),
                          ttft_s="1s", tpot_s="50ms", catalog=cat, providers=["aws", "lambda"])


def test_training_figures(train):
    fig = viz.pareto_figure(train)
    names = [t.name for t in fig.data]
    assert "Pareto frontier" in names and "recommended" in names
    front = [t for t in fig.data if t.name == "Pareto frontier"][0]
    assert len(front.x) == len(train.pareto)
    fig = viz.step_time_figure(train, n=5)
    assert {t.name for t in fig.data} >= {"compute", "pipeline bubble"}
    assert len(fig.data[0].y) == 5
    fig = viz.cost_vs_deadline_figure(train)
    assert any(t.name == "any" for t in fig.data)


def test_serving_figures(serve):
    fig = viz.latency_vs_batch_figure(serve)
    assert [t.name for t in fig.data][:2] == ["TTFT (left axis)", "TPOT (right axis)"]
    # the TPOT target is drawn against the TPOT (right) axis, its label beside it
    tpot = [a for a in fig.layout.annotations if a.text.startswith("TPOT target")]
    assert len(tpot) == 1 and tpot[0].yref == "y2"
    assert tpot[0].y == pytest.approx(__import__("math").log10(50.0))  # log axis: log10 units
    fig = viz.replicas_vs_rate_figure(serve, top=2)
    assert len(fig.data) in (1, 2)
    fig = viz.cost_per_million_tokens_figure(serve, top=5)
    assert sum(len(t.x) for t in fig.data) == 5
    fig = viz.demand_figure(serve)
    assert "autoscaled" in fig.layout.title.text
    assert "$" not in fig.layout.title.text  # two dollars would make plotly call MathJax
    assert fig.layout.yaxis2.tickformat == "d" and float(fig.layout.yaxis2.dtick).is_integer()


def test_kind_checks(train, serve):
    with pytest.raises(ValueError, match="training plan"):
        viz.step_time_figure(serve)
    with pytest.raises(ValueError, match="inference plan"):
        viz.demand_figure(train)


# --------------------------------------------------------------------- what the charts claim
def _row_count(fig):
    return len(fig.data[0].y)


def test_step_time_rows_are_recommended_first_and_distinct(train):
    rows = viz.step_time_rows(train, n=6)
    assert len(rows) == 6
    assert rows["label"].is_unique
    assert rows["label"][0].startswith("recommended: ")
    best = train.best.row
    for part in (best["provider"], best["instance_type"], best["accelerator"], best["pricing"]):
        assert str(part) in rows["label"][0]
    # every label names the provider and the instance type: two offers never share a bar
    for _, r in rows.iterrows():
        assert f" {r['provider']} {r['instance_type']} " in r["label"]
    # after the recommendation: the fastest distinct candidates, fastest first
    rest = rows.iloc[1:]
    assert list(rest[train.time_col]) == sorted(rest[train.time_col])
    assert rest[train.time_col].min() == pytest.approx(train.feasible[train.time_col].min())
    fig = viz.step_time_figure(train, n=6)
    assert _row_count(fig) == 6 and list(fig.data[0].y) == list(rows["label"])


def test_step_time_rows_n_and_which(train):
    assert len(viz.step_time_rows(train, n=1)) == 1
    front = viz.step_time_rows(train, n=50, which="pareto")
    assert len(front) <= len(train.pareto) + 1
    with pytest.raises(ValueError, match="which"):
        viz.step_time_rows(train, which="slowest")
    with pytest.raises(ValueError, match="at least 1"):
        viz.step_time_rows(train, n=0)


def test_pareto_deadline_and_budget_lines_stay_in_range(cat):
    """On log axes the labels go in log10 units: add_vline(annotation_text=) put "deadline" at
    10**30 days and the axis followed it."""
    import math

    plan = plan_training("llama-3.1-8b", 2e11, deadline="20d", budget_usd=5e4, catalog=cat,
                         providers=["aws"], max_gpus=128)
    fig = viz.pareto_figure(plan)
    shapes = {round(s.x0, 6) if s.xref == "x" else round(s.y0, 6): s for s in fig.layout.shapes}
    assert 20.0 in shapes and 5e4 in shapes  # lines in data units
    ann = {a.text: a for a in fig.layout.annotations}
    assert ann["deadline"].x == pytest.approx(math.log10(20.0))
    assert ann["budget"].y == pytest.approx(math.log10(5e4))


def test_accelerator_colors_are_stable_and_distinct():
    import subprocess
    import sys

    names = ["H100-SXM", "h100-sxm", "B200", "MI300X", "Some-Future-Chip", "another chip"]
    here = [viz.accelerator_color(n) for n in names]
    assert here[0] == here[1]  # case does not matter
    assert all(c.startswith("#") and len(c) == 7 for c in here)
    code = ("import aicost.viz as v; print(' '.join(v.accelerator_color(n) for n in "
            f"{names!r}))")
    # another process (another string-hash seed) gives the same colours
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={"PYTHONHASHSEED": "12345", "PATH": ""}).stdout.split()
    assert out == here
    shipped = list(aicost.catalog.load().accelerators["name"])
    colors = [viz.accelerator_color(n) for n in shipped]
    assert len(set(colors)) == len(colors), "two shipped accelerators share a colour"


def test_cost_per_million_tokens_colours_follow_the_accelerator(serve):
    fig = viz.cost_per_million_tokens_figure(serve, top=8)
    assert fig.layout.showlegend is not False
    for t in fig.data:
        assert t.marker.color == viz.accelerator_color(t.name)
        assert t.textfont.size >= 11
    labels = [y for t in fig.data for y in t.y]
    assert list(fig.layout.yaxis.categoryarray) == sorted(
        labels, key=list(fig.layout.yaxis.categoryarray).index)
    assert fig.layout.height >= 26 * len(labels)  # room for every label


def test_cost_vs_deadline_axis_is_log(train):
    assert viz.cost_vs_deadline_figure(train).layout.xaxis.type == "log"
