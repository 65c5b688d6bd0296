"""Rightsizing: what the planner would run each workload on today, priced from the catalog."""

from __future__ import annotations

import pandas as pd

from .._errors import InfeasibleError

__all__ = ["rightsize"]


def rightsize(workloads: pd.DataFrame, *, catalog=None, providers=None) -> pd.DataFrame:
    """Ask the planner what each workload would run on today.

    Parameters
    ----------
    workloads : pandas.DataFrame
        One row per workload: ``workload`` (name), ``kind`` (``training`` or ``serving``),
        ``model`` (preset), ``tokens`` (training) or ``requests_per_s`` (serving),
        optionally ``deadline_s`` [s] and ``current_usd_per_hour`` [USD/h] (what the bill shows).
    catalog, providers
        Passed to :func:`aicost.plan.plan_training` / :func:`aicost.plan.plan_inference`.

    Returns
    -------
    pandas.DataFrame
        ``workload, kind, model, recommended`` (the plan's headline), ``efficiency_source``,
        ``plan_cost_usd`` (training, expected) or ``plan_usd_per_hour`` (serving),
        ``current_usd_per_hour`` and ``note`` (why there is no plan, when there is none).
    """
    from .. import plan as P

    out = []
    for r in workloads.to_dict("records"):
        row = {"workload": r.get("workload"), "kind": r.get("kind"), "model": r.get("model"),
               "recommended": None, "efficiency_source": None, "plan_cost_usd": float("nan"),
               "plan_usd_per_hour": float("nan"),
               "current_usd_per_hour": r.get("current_usd_per_hour", float("nan")), "note": ""}
        try:
            if str(r.get("kind")).lower() == "training":
                plan = P.plan_training(r["model"], float(r["tokens"]),
                                       deadline=r.get("deadline_s") or None, catalog=catalog,
                                       providers=providers)
            else:
                plan = P.plan_inference(r["model"], float(r["requests_per_s"]), catalog=catalog,
                                        providers=providers)
        except InfeasibleError as exc:
            row["note"] = str(exc).splitlines()[0]
            out.append(row)
            continue
        best = plan.best
        if best is None:
            row["note"] = "no feasible plan"
        else:
            row["recommended"] = best.headline
            row["efficiency_source"] = best.efficiency_source
            cost = best.row.get(best.cost_col)
            if str(r.get("kind")).lower() == "training":
                row["plan_cost_usd"] = float(cost) if cost is not None else float("nan")
            else:
                for c in ("cost_usd_per_hour", "price_usd_per_hour"):
                    if c in best.row:
                        row["plan_usd_per_hour"] = float(best.row[c])
                        break
        out.append(row)
    return pd.DataFrame(out)
