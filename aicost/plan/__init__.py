"""The provisioning planner: search the catalog for what to rent, and explain the answer.

``plan_training(model, tokens, deadline=..., budget_usd=...)`` and
``plan_inference(model, requests_per_s=..., prompt_tokens=..., output_tokens=..., ttft_s=...,
tpot_s=...)`` enumerate offers x node counts x pricing x parallel layouts (x storage tiers for
training), evaluate every candidate vectorized with ``aicost.model``'s array cores, drop the
infeasible ones with the reason (`TrainingDrop`, `ServingDrop`), and return a `TrainingPlan` or a
`ServingPlan` (both `Plan`): ``.candidates`` (DataFrame), ``.pareto`` (time against cost),
``.best`` (a `Recommendation` that names the bottleneck, the assumptions, the efficiency source
and how the answer moves if efficiency is 20% lower) and ``.infeasible``. Hardware (offers,
efficiencies, fabrics) comes from ``aicost.hardware``, the model math from ``aicost.model``'s
public array kernels.
When nothing is feasible they raise ``aicost.InfeasibleError`` saying which constraint removed
the candidates and what to relax.
"""

from __future__ import annotations

from ._demo import demo_plans
from ._evaluate import CHECKPOINT_KEEP
from ._inference import MAX_SERVING_TP_SEARCHED, ServingContext, ServingPlan, plan_inference
from ._pareto import pareto_mask
from ._reasons import MIN_GOODPUT, ServingDrop, TrainingDrop
from ._replan import PlanCache
from ._replan_serving import ServingPlanCache
from ._result import Plan, Recommendation, Sensitivity
from ._training import CP_MIN_SEQ_LEN, TrainingPlan, plan_training

__all__ = [
    "CHECKPOINT_KEEP",
    "CP_MIN_SEQ_LEN",
    "MAX_SERVING_TP_SEARCHED",
    "MIN_GOODPUT",
    "Plan",
    "PlanCache",
    "Recommendation",
    "Sensitivity",
    "ServingContext",
    "ServingDrop",
    "ServingPlan",
    "ServingPlanCache",
    "TrainingDrop",
    "TrainingPlan",
    "demo_plans",
    "pareto_mask",
    "plan_inference",
    "plan_training",
]
