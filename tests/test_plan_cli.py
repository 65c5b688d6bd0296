"""`aicost plan train|serve`: tables, the recommendation, JSON output, and refused input."""

from __future__ import annotations

import json

import pytest

from aicost.cli import main


def test_plan_train_prints_best_and_frontier(capsys, tmp_path):
    out_json = tmp_path / "plan.json"
    rc = main(["plan", "train", "--model", "llama-3.1-8b", "--tokens", "2e11", "--deadline", "20d",
               "--providers", "aws", "--max-gpus", "256", "--top", "3", "--json", str(out_json)])
    out = capsys.readouterr().out
    assert rc == 0
    assert "Recommended (cheapest plan that meets the constraints)" in out
    assert "Best 3 plans" in out and "Pareto frontier" in out and "Bottleneck:" in out
    assert "If efficiency is 20% lower" in out
    data = json.loads(out_json.read_text())
    assert data["kind"] == "training" and len(data["top"]) == 3 and data["best"]["headline"]
    assert data["request"]["deadline_s"] == 20 * 86400


def test_plan_train_with_budget_and_pricing(capsys):
    rc = main(["plan", "train", "--model", "llama-3.1-8b", "--tokens", "2e11", "--budget", "5e5",
               "--providers", "aws,gcp", "--pricing", "on_demand", "--max-gpus", "128", "--top", "2"])
    out = capsys.readouterr().out
    assert rc == 0 and "fastest plan" in out and "spot" not in out.split("Best")[1].split("Pareto")[0]


def test_plan_train_infeasible_exits_2_with_reason(capsys):
    rc = main(["plan", "train", "--model", "llama-3.1-70b", "--tokens", "2e12", "--deadline", "1d",
               "--providers", "aws", "--max-gpus", "64"])
    err = capsys.readouterr().err
    assert rc == 2 and "relax the deadline" in err


@pytest.mark.parametrize("argv, msg", [
    (["--tokens", "lots"], "expected a number"),
    (["--tokens", "1e12", "--deadline", "soon"], "cannot read duration"),
])
def test_plan_train_bad_arguments(capsys, argv, msg):
    with pytest.raises(SystemExit) as e:
        main(["plan", "train", "--model", "llama-3.1-8b", *argv])
    assert e.value.code == 2
    assert msg in capsys.readouterr().err


def test_plan_train_unknown_model(capsys):
    rc = main(["plan", "train", "--model", "llama-3.1-7b", "--tokens", "1e12", "--deadline", "30d"])
    assert rc == 2 and "did you mean" in capsys.readouterr().err


def test_plan_serve(capsys, tmp_path):
    out_json = tmp_path / "serve.json"
    rc = main(["plan", "serve", "--model", "llama-3.1-8b", "--qps", "50", "--prompt", "512", "--output",
               "256", "--ttft", "1s", "--tpot", "50ms", "--providers", "aws,lambda", "--top", "4",
               "--json", str(out_json)])
    out = capsys.readouterr().out
    assert rc == 0 and "Recommended" in out and "per 1M tokens" in out and "Pareto frontier" in out
    assert json.loads(out_json.read_text())["kind"] == "inference"


def test_plan_serve_needs_rate_or_demand(capsys):
    rc = main(["plan", "serve", "--model", "llama-3.1-8b"])
    assert rc == 2 and "--qps" in capsys.readouterr().err


def test_plan_train_reliability_options(capsys):
    rc = main(["plan", "train", "--model", "llama-3.1-8b", "--tokens", "2e11", "--deadline", "20d",
               "--providers", "aws", "--max-gpus", "128", "--failure-rate", "0", "--preemption-rate", "0",
               "--top", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and "goodput 100.0%" in out and "0 interruptions expected" in out.replace("0.0 ", "0 ")


def test_plan_serve_engine(capsys):
    rc = main(["plan", "serve", "--model", "llama-3.1-8b", "--qps", "20", "--tpot", "50ms",
               "--providers", "aws", "--engine", "trtllm", "--top", "1"])
    out = capsys.readouterr().out
    assert rc == 0 and "engine trtllm:" in out


def test_plan_train_shows_cp_and_virtual_stages_and_overlap_flags(capsys):
    """Issue 12: the layout table has cp and virtual_stages columns; the overlap flags reach the plan
    and its assumptions."""
    rc = main(["plan", "train", "--model", "llama-3.1-8b", "--tokens", "1e11", "--deadline", "60d",
               "--providers", "aws", "--accelerators", "H100-SXM", "--max-gpus", "64", "--seq-len", "32768",
               "--global-batch-tokens", "8e6", "--overlap-tp-comm", "--top", "2", "--format", "json"])
    data = json.loads(capsys.readouterr().out)
    assert rc == 0
    assert {"cp", "virtual_stages"} <= set(data["top"][0])
    assert any("TP collectives overlapped with GEMMs" in a for a in data["assumptions"])
    assert any("context parallelism" in a for a in data["assumptions"])
    rc = main(["plan", "train", "--model", "llama-3.1-8b", "--tokens", "1e11", "--deadline", "60d",
               "--providers", "aws", "--accelerators", "H100-SXM", "--max-gpus", "64", "--top", "2"])
    out = capsys.readouterr().out
    assert rc == 0 and "virtual stages" in out and " cp " in out
