"""aicost.widgets without a browser: set control values, check that figures and tables follow."""

from __future__ import annotations

import pytest

import aicost

pytest.importorskip("ipywidgets")
pytest.importorskip("anywidget")  # plotly's FigureWidget needs it


#: a few accelerators keep each re-plan well under a second on 2 cores
FEW = {"accelerators": ["h100", "a100-80gb", "gh200", "l40s"]}


@pytest.fixture(scope="module")
def cat():
    return aicost.catalog.load()


def _xy(trace):
    return list(trace.x or ()), list(trace.y or ())


def test_training_planner_follows_its_controls(cat):
    import plotly.graph_objects as go

    tp = aicost.widgets.training_planner(model="llama-3.1-8b", tokens=1e12, deadline="30d",
                                         catalog=cat, **FEW)
    assert tp.error is None, tp.error
    assert set(tp.plan.feasible["accelerator"]) <= {"H100-SXM", "A100-80GB", "GH200", "L40S"}
    assert isinstance(tp.figure, go.FigureWidget)
    feasible, front, best = tp.figure.data[:3]
    assert len(feasible.x) > 10 and len(front.x) >= 1 and len(best.x) == 1
    assert all(x <= 30.0 + 1e-9 for x in feasible.x), "plans past the 30-day deadline drawn"
    assert tp.plan.best.headline in tp.table.value.replace("&amp;", "&")
    assert "llama-3.1-8b" in tp.table.value
    first_best = (best.x[0], best.y[0])
    first_table = tp.table.value
    figure_id = id(tp.figure)

    # 4x the tokens: the recommended plan costs more, the table changes, the same figure object
    tp.controls["tokens"].value = 4e12
    assert tp.error is None, tp.error
    assert tp.plan.request.get("tokens", 4e12) == pytest.approx(4e12)
    assert id(tp.figure) == figure_id
    best = tp.figure.data[2]
    assert (best.x[0], best.y[0]) != first_best
    assert best.y[0] > first_best[1]
    assert tp.table.value != first_table and "4e+12" in tp.table.value

    # a budget draws a horizontal line; a deadline a vertical one
    tp.controls["budget_usd"].value = 5e6
    shapes = tp.figure.layout.shapes
    assert any(s.y0 == 5e6 for s in shapes) and any(s.x0 == 30.0 for s in shapes)

    # only one provider: every drawn plan is from it
    providers = tp.controls["providers"].options
    assert "aws" in providers
    tp.controls["providers"].value = ("aws",)
    assert tp.error is None, tp.error
    assert all("provider=aws" in t for t in tp.figure.data[0].text)
    assert set(tp.plan.feasible["provider"]) == {"aws"}


def test_training_planner_shows_an_infeasible_question_and_recovers(cat):
    tp = aicost.widgets.training_planner(model="llama-3.1-70b", tokens=2e12, deadline="30d",
                                         catalog=cat, **FEW)
    assert tp.error is None
    tp.controls["deadline_days"].value = 0.5  # 12 hours: nothing trains a 70B on 2T tokens so fast
    assert isinstance(tp.error, aicost.InfeasibleError)
    assert "deadline" in tp.status.value and "relax" in tp.status.value
    assert _xy(tp.figure.data[0]) == ([], []) and tp.table.value == ""
    tp.controls["deadline_days"].value = 60
    assert tp.error is None and len(tp.figure.data[2].x) == 1


def test_training_planner_efficiency_override(cat):
    tp = aicost.widgets.training_planner(model="llama-3.1-8b", tokens=1e12, deadline=None,
                                         catalog=cat, **FEW)
    assert tp.controls["efficiency"].disabled
    fast = tp.plan.best
    tp.controls["efficiency_auto"].value = False
    assert not tp.controls["efficiency"].disabled
    tp.controls["efficiency"].value = 0.1
    assert tp.error is None
    slow = tp.plan.best
    assert slow.efficiency == pytest.approx(0.1, rel=0.3) or slow.efficiency < fast.efficiency
    assert slow.time_s > fast.time_s or slow.cost > fast.cost


def test_roofline_explorer_follows_its_controls(cat):
    rf = aicost.widgets.roofline_explorer(["h100", "a100-80gb"], dtype="bf16", catalog=cat,
                                          measured=False)
    assert rf.error is None
    names = [t.name for t in rf.figure.data]
    assert len(names) == 2 and any("H100" in n for n in names)
    h100 = cat.accelerator("h100")
    top = max(rf.figure.data[0].y)
    assert top == pytest.approx(h100.peak_flops_per_s("bf16") / 1e12)
    rf.controls["compute_efficiency"].value = 0.5
    assert max(rf.figure.data[0].y) == pytest.approx(top * 0.5)
    rf.controls["dtype"].value = "fp64"
    assert max(rf.figure.data[0].y) == pytest.approx(h100.peak_flops_per_s("fp64") / 1e12 * 0.5)
    assert "fp64" in rf.table.value and "ridge" in rf.table.value
    rf.controls["accelerators"].value = (rf.controls["accelerators"].value[0],)
    assert len(rf.figure.data) == 1


def test_roofline_explorer_overlays_measured_points(cat, aicost_home):
    import pandas as pd

    from aicost.store import Store

    store = Store()
    store.save_run(pd.DataFrame([{
        "kind": "compute", "name": "gemm", "backend": "numpy", "device": "test-cpu",
        "dtype": "fp32", "flops": 2e9, "bytes_moved": 1.2e7, "median_s": 0.02, "value": 1e11,
        "unit": "FLOP/s"}]), context={"device": "test-cpu", "backend": "numpy"}, kind="compute")
    rf = aicost.widgets.roofline_explorer(["h100"], catalog=cat, store=store, measured=True)
    assert rf.error is None
    # bf16 rooflines: the CPU's fp32 point is not drawn among them, and the page says so
    assert not [t for t in rf.figure.data if str(t.name).startswith("measured")]
    assert "other dtypes are hidden (fp32: 1)" in rf.status.value
    rf.controls["dtype"].value = "fp32"
    measured = [t for t in rf.figure.data if str(t.name).startswith("measured")]
    assert len(measured) == 1 and measured[0].name == "measured on test-cpu (fp32)"
    assert measured[0].x[0] == pytest.approx(2e9 / 1.2e7)
    assert measured[0].y[0] == pytest.approx(2e9 / 0.02 / 1e12)
    assert "test-cpu" in rf.status.value
    rf.controls["measured"].value = False
    assert not [t for t in rf.figure.data if str(t.name).startswith("measured")]


def test_dashboards_display_themselves(cat):
    rf = aicost.widgets.roofline_explorer(["h100"], catalog=cat, measured=False)
    bundle = rf._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle


def test_unknown_names_are_refused(cat):
    with pytest.raises(aicost.UnknownNameError):
        aicost.widgets.roofline_explorer(["h1000x"], catalog=cat)
    with pytest.raises(Exception, match="llama-9"):
        aicost.widgets.training_planner(model="llama-9", catalog=cat)


def test_serving_planner_follows_its_controls(cat):
    sp = aicost.widgets.serving_planner(model="llama-3.1-8b", qps=10, catalog=cat, **FEW)
    if isinstance(sp.error, NotImplementedError):
        pytest.skip("aicost.plan.plan_inference is not implemented yet")
    assert sp.error is None, sp.error
    best = sp.figure.data[2]
    assert len(best.x) == 1
    first_cost, first_table = best.y[0], sp.table.value
    sp.controls["qps"].value = 100
    assert sp.error is None, sp.error
    assert sp.figure.data[2].y[0] > first_cost
    assert sp.table.value != first_table
    # a budget below every plan: the planner says so on the page
    sp.controls["budget_usd_per_hour"].value = 0.01
    assert isinstance(sp.error, aicost.InfeasibleError) and "budget" in sp.status.value


def test_disabled_efficiency_slider_shows_the_efficiency_used(cat):
    tp = aicost.widgets.training_planner(model="llama-3.1-8b", tokens=1e12, deadline="30d",
                                         catalog=cat, **FEW)
    slider = tp.controls["efficiency"]
    assert slider.disabled
    assert slider.value == pytest.approx(tp.plan.best.efficiency, abs=0.006)
    assert "used" in slider.description
    n = tp.updates
    tp.controls["efficiency_auto"].value = False  # the user takes over: one re-plan
    assert not slider.disabled and tp.updates == n + 1
    slider.value = 0.3
    assert tp.plan.best.efficiency == pytest.approx(0.3)


def test_debounce_coalesces_fast_moves_and_takes_a_plan_function(cat):
    """In a kernel (a running event loop) several moves in a row make one re-plan, with the
    last values; a plugged-in plan function is what gets called."""
    import asyncio

    from aicost.plan import plan_training

    calls = []

    def counting_plan(*args, **kwargs):
        calls.append(args[1])
        return plan_training(*args, **kwargs)

    tp = aicost.widgets.training_planner(model="llama-3.1-8b", tokens=1e12, deadline="30d",
                                         catalog=cat, **FEW)
    tp.plan_function = counting_plan
    tp.debounce_s = 0.05

    async def move():
        for tokens in (2e12, 3e12, 4e12, 5e12):
            tp.controls["tokens"].value = tokens
            await asyncio.sleep(0.005)
        assert "updating" in tp.status.value
        await asyncio.sleep(0.3)

    asyncio.run(move())
    assert calls == [pytest.approx(5e12)]
    assert tp.error is None and tp.plan.request["tokens"] == pytest.approx(5e12)


def test_plan_html_is_mathjax_safe(cat):
    tp = aicost.widgets.training_planner(model="llama-3.1-8b", tokens=1e12, deadline="30d",
                                         catalog=cat, **FEW)
    assert "$" not in tp.table.value and "&#36;" in tp.table.value
    assert "$" not in tp.status.value
    # JupyterLab decodes &#36; before MathJax reads the page: the ignore class is what protects
    for value in (tp.table.value, tp.status.value, tp.plan._repr_html_()):
        assert value.startswith('<div class="tex2jax_ignore mathjax_ignore">')


def test_roofline_explorer_with_an_empty_store(cat, aicost_home):
    rf = aicost.widgets.roofline_explorer(["h100", "mi300x"], catalog=cat, measured=True)
    assert rf.error is None, rf.error
    assert len(rf.rows) == 2 and not [t for t in rf.figure.data if str(t.name).startswith("measured")]
