"""Demand from other sources: history in a FOCUS bill, and planned work (training plans placed on
a calendar, serving plans driven by a demand trace). Both return the table
:func:`aicost.spend.read_demand` returns (``timestamp, accelerator, workload_class, gpus``)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ._focus import FocusBill, gpu_line_items, read_focus
from ._inputs import validate_demand

__all__ = ["demand_from_bill", "demand_from_plans"]


def demand_from_bill(focus, *, class_tag: str | None = "workload", catalog=None) -> pd.DataFrame:
    """Hourly GPUs the bill shows running (used line items), per accelerator.

    Parameters
    ----------
    focus : str or FocusBill
        The bill.
    class_tag : str, optional
        ``Tags`` key holding the workload class (``training``, ``serving``, ...); None: one
        class.

    Notes
    -----
    A line item over several hours (daily rows) is spread evenly over its hours.
    """
    bill = focus if isinstance(focus, FocusBill) else read_focus(focus)
    gpu_line_items(bill, catalog)
    status = bill.col("CommitmentDiscountStatus", "NULL")
    wc = f"coalesce({bill.tag(class_tag)}, 'default')" if class_tag else "'default'"
    df = bill.sql(f"""
        WITH g AS (
          SELECT ChargePeriodStart AS t0, ChargePeriodEnd AS t1, accelerator, {wc} AS wc,
                 gpu_hours / greatest(date_diff('second', ChargePeriodStart, ChargePeriodEnd)
                                      / 3600.0, 1.0) AS gpus
          FROM focus_gpu WHERE coalesce({status}, 'Used') <> 'Unused')
        SELECT unnest(generate_series(date_trunc('hour', t0), t1 - INTERVAL 1 SECOND,
                                      INTERVAL 1 HOUR)) AS timestamp,
               accelerator, wc AS workload_class, gpus
        FROM g""")
    if df.empty:
        raise ValueError(f"{bill.path}: no GPU line items to take demand from")
    df = df.groupby(["timestamp", "accelerator", "workload_class"], as_index=False)["gpus"].sum()
    return validate_demand(df, bill.path)


def demand_from_plans(items, *, start="2026-01-01", hours: int = 8760) -> pd.DataFrame:
    """Hourly demand of planned work placed on a calendar.

    Parameters
    ----------
    items : iterable of dict
        Each ``{"plan": Plan, "start": timestamp (default ``start``)}``; a training plan
        occupies its recommended GPUs for its expected wall time; a serving plan
        (``aicost.plan.plan_inference``) its GPUs until ``"end"`` (default the horizon's end),
        scaled by ``"trace"`` when given: relative load per hour (0-1; 24 values repeat daily)
        times the replicas, rounded up to whole replicas.
    start : timestamp
        First hour of the horizon.
    hours : int
        Length of the horizon [h].
    """
    idx = pd.date_range(pd.Timestamp(start, tz="UTC").floor("h"), periods=int(hours), freq="h")
    parts = []
    for item in items:
        plan = item["plan"]
        best = plan.best
        if best is None:
            raise ValueError("a plan without a recommendation cannot be placed on the calendar")
        row = best.row
        t0 = pd.Timestamp(item.get("start", idx[0]))
        t0 = (t0.tz_localize("UTC") if t0.tzinfo is None else t0).floor("h")
        i0 = int(max(0, (t0 - idx[0]) / pd.Timedelta(hours=1)))
        gpus = float(row["gpus"])
        if best.kind == "training":
            n = int(math.ceil(float(row[best.time_col]) / 3600.0))
            g = np.zeros(len(idx))
            g[i0:i0 + n] = gpus
            cls = "training"
        else:
            end = item.get("end")
            i1 = len(idx) if end is None else int(
                (pd.Timestamp(end, tz="UTC") - idx[0]) / pd.Timedelta(hours=1))
            g = np.zeros(len(idx))
            trace = item.get("trace")
            if trace is None:
                g[i0:i1] = gpus
            else:
                tr = np.asarray(trace, dtype=float)
                tr = np.resize(tr, i1 - i0) if tr.size else np.ones(i1 - i0)
                replicas = float(row.get("replicas", 1.0)) or 1.0
                per = gpus / replicas
                g[i0:i1] = np.ceil(np.clip(tr, 0, None) * replicas) * per
            cls = "serving"
        parts.append(pd.DataFrame({"timestamp": idx, "accelerator": row["accelerator"],
                                   "workload_class": cls, "gpus": g}))
    if not parts:
        raise ValueError("no plans given")
    return validate_demand(pd.concat(parts, ignore_index=True), "<plans>")
