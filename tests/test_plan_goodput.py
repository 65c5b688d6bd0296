"""A run that mostly fails and restarts is not a plan: the planner drops it with the reason."""

from __future__ import annotations

from aicost.plan import plan_training


def test_low_goodput_candidates_are_dropped_with_reason():
    # an absurd failure rate: large clusters spend most of their time restarting
    plan = plan_training("llama-3.1-8b", 2e11, failure_rate_per_gpu_hour=2e-3,
                         providers=["aws"], pricing="on_demand")
    reasons = plan.infeasible.set_index("reason")["candidates"]
    cut = [r for r in reasons.index if r.startswith("interrupted too often")]
    assert cut and reasons[cut[0]] > 0
    feasible = plan.candidates[plan.candidates["feasible"]]
    assert len(feasible) > 0
    # what is left spends at least half its wall time on useful work
    assert (feasible["goodput"] >= 0.5).all()
    dropped = plan.candidates[plan.candidates["reason"].str.startswith("interrupted too often")]
    assert (dropped["goodput"] < 0.5).all()
