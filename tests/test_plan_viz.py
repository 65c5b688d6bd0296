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
    assert len(fig.data[0].y) == min(5, len(train.pareto))
    fig = viz.cost_vs_deadline_figure(train)
    assert any(t.name == "any" for t in fig.data)


def test_serving_figures(serve):
    fig = viz.latency_vs_batch_figure(serve)
    assert [t.name for t in fig.data][:2] == ["TTFT", "TPOT"]
    fig = viz.replicas_vs_rate_figure(serve, top=2)
    assert len(fig.data) in (1, 2)
    fig = viz.cost_per_million_tokens_figure(serve, top=5)
    assert len(fig.data[0].x) <= 5
    fig = viz.demand_figure(serve)
    assert "autoscaled" in fig.layout.title.text


def test_kind_checks(train, serve):
    with pytest.raises(ValueError, match="training plan"):
        viz.step_time_figure(serve)
    with pytest.raises(ValueError, match="inference plan"):
        viz.demand_figure(train)
