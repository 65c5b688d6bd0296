"""Waste and fit from history: a FOCUS bill joined with GPU utilization telemetry.

Idle GPU-hours (allocated, under a utilization threshold) and their cost, unused commitments
(``CommitmentDiscountStatus = 'Unused'``), effective $ per GPU-hour paid against list and the
catalog, and the shortfall where demand exceeded what was provisioned; per team or project
through a tag. The bill is aggregated in DuckDB; only aggregates reach pandas.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

from ._focus import FocusBill, gpu_line_items, match_key_sql, read_focus

__all__ = ["DEFAULT_IDLE_THRESHOLD", "SpendAnalysis", "analyze_spend"]

#: a GPU whose mean utilization in an hour is under this share is idle in that hour
DEFAULT_IDLE_THRESHOLD = 0.10


@dataclass(frozen=True)
class SpendAnalysis:
    """What a bill (and telemetry) says about spend and waste.

    Attributes
    ----------
    summary : dict
        ``effective_usd, list_usd, gpu_effective_usd, gpu_hours, effective_usd_per_gpu_hour,
        list_usd_per_gpu_hour, unused_commitment_usd, idle_gpu_hours, idle_usd,
        observed_gpu_hours, shortfall_gpu_hours, rows, focus_version``.
    by_category : pandas.DataFrame
        Daily cost by ``PricingCategory`` (``day, pricing_category, effective_usd,
        list_usd``).
    by_accelerator : pandas.DataFrame
        Per accelerator and instance: GPU-hours, effective and list $/GPU-hour, the catalog's
        on-demand $/GPU-hour.
    waste_by_team : pandas.DataFrame
        Per tag value: ``effective_usd, gpu_hours, idle_gpu_hours, idle_usd,
        unused_commitment_usd, waste_usd``.
    unused_commitments : pandas.DataFrame
        Per ``CommitmentDiscountId``: used and unused cost.
    idle : pandas.DataFrame
        Per resource and hour with telemetry: GPUs seen, idle GPUs, cost per GPU-hour.
    text : str
        The findings in words.
    """

    summary: dict
    by_category: pd.DataFrame
    by_accelerator: pd.DataFrame
    waste_by_team: pd.DataFrame
    unused_commitments: pd.DataFrame
    idle: pd.DataFrame
    shortfall: pd.DataFrame
    text: str
    tag: str = "team"
    bill: object = field(default=None, repr=False)

    def _repr_html_(self) -> str:
        import html

        return (f"<div><p><b>Spend analysis</b>: {html.escape(self.text)}</p>"
                + self.waste_by_team.to_html(index=False, float_format=lambda x: f"{x:,.4g}")
                + "</div>")


def analyze_spend(focus, utilization=None, *, demand=None, tag: str = "team",
                  idle_threshold: float = DEFAULT_IDLE_THRESHOLD, catalog=None) -> SpendAnalysis:
    """Read a FOCUS bill (and telemetry) and say what was spent and what was wasted.

    Parameters
    ----------
    focus : str or FocusBill
        FOCUS export path (CSV/Parquet, see :func:`aicost.spend.read_focus`) or an opened bill.
    utilization : pandas.DataFrame, str or list, optional
        Telemetry (:func:`aicost.spend.read_utilization` output, or paths to read).
    demand : pandas.DataFrame, optional
        Hourly demand (``timestamp, accelerator, gpus``): GPU-hours demanded beyond what the
        bill shows provisioned are the shortfall.
    tag : str
        The ``Tags`` key that groups spend (``team``, ``project``, ...).
    idle_threshold : float
        Utilization share under which a GPU-hour is idle (0-1).
    catalog : aicost.catalog.Catalog, optional
        For mapping line items and list prices.
    """
    from .. import catalog as C

    if not 0 <= idle_threshold <= 1:
        raise ValueError(f"idle_threshold {idle_threshold!r} must lie in [0, 1]")
    cat = catalog if catalog is not None else C.load()
    bill = focus if isinstance(focus, FocusBill) else read_focus(focus)
    tg = bill.tag(tag)
    status = bill.col("CommitmentDiscountStatus", "NULL")
    pcat = bill.col("PricingCategory", "'Unknown'")
    listc = bill.col("ListCost", "EffectiveCost")
    rid = bill.col("ResourceId", "NULL")
    prov, key = match_key_sql(bill)
    unit = f"lower(coalesce({bill.col('ConsumedUnit', 'NULL')}, ''))"
    qty = bill.col("ConsumedQuantity", "NULL")
    # one scan of the bill: everything below is computed from this (small) aggregate
    bill.con.sql(f"""
        CREATE OR REPLACE TEMP TABLE spend_agg AS
        SELECT date_trunc('day', ChargePeriodStart) AS day,
               coalesce({pcat}, 'Unknown') AS pricing_category, {status} AS status,
               {bill.col('CommitmentDiscountId', 'NULL')} AS commitment_id,
               coalesce({tg}, '(untagged)') AS tagv, {prov} AS _prov, {key} AS _key,
               CASE WHEN {unit} LIKE '%gpu%' THEN 'gpu'
                    WHEN {unit} LIKE 'hour%' OR {unit} LIKE 'hr%' OR {unit} = 'h' THEN 'hour'
                    ELSE 'period' END AS uc,
               sum(EffectiveCost) AS eff, sum({listc}) AS lst, sum({qty}) AS qty,
               sum(greatest(date_diff('second', ChargePeriodStart, ChargePeriodEnd), 0)
                   / 3600.0) AS hrs, count(*) AS n
        FROM focus GROUP BY ALL""")
    keys = bill.sql("SELECT _prov AS provider, _key AS key, sum(n) AS rows FROM spend_agg "
                    "GROUP BY ALL")
    gpu_line_items(bill, cat, keys=keys)
    bill.con.sql("""
        CREATE OR REPLACE TEMP VIEW spend_gpu AS
        SELECT a.*, m.instance_type, m.accelerator, m.gpus_per_unit,
               CASE a.uc WHEN 'gpu' THEN a.qty WHEN 'hour' THEN a.qty * m.gpus_per_unit
                         ELSE a.hrs * m.gpus_per_unit END AS gpu_hours
        FROM spend_agg a JOIN gpu_map m ON a._prov = m.provider AND a._key = m.key""")
    by_category = bill.sql("""
        SELECT day, pricing_category, sum(eff) AS effective_usd, sum(lst) AS list_usd
        FROM spend_agg GROUP BY ALL ORDER BY day, pricing_category""")
    used_a = "coalesce(status, 'Used') <> 'Unused'"
    acc = bill.sql(f"""
        SELECT accelerator, instance_type, sum(gpu_hours) AS gpu_hours,
               sum(eff) AS effective_usd, sum(lst) AS list_usd
        FROM spend_gpu WHERE {used_a} GROUP BY ALL ORDER BY effective_usd DESC""")
    acc["effective_usd_per_gpu_hour"] = acc["effective_usd"] / acc["gpu_hours"]
    acc["list_usd_per_gpu_hour"] = acc["list_usd"] / acc["gpu_hours"]
    inst = cat.instances
    od = {}
    for it in acc["instance_type"].dropna().unique():
        rows = inst[(inst["instance_type"] == it)
                    & ~inst["provider"].str.contains("capacity-block")]
        if not rows.empty:
            od[it] = float(rows["price_usd_per_gpu_hour"].min())
    acc["catalog_on_demand_usd_per_gpu_hour"] = acc["instance_type"].map(od)
    unused = bill.sql("""
        SELECT commitment_id,
               sum(CASE WHEN status = 'Unused' THEN eff ELSE 0 END) AS unused_usd,
               sum(CASE WHEN status = 'Used' THEN eff ELSE 0 END) AS used_usd
        FROM spend_agg WHERE status IS NOT NULL GROUP BY ALL ORDER BY unused_usd DESC""")
    team = bill.sql(f"""
        SELECT tagv AS {tag}, sum(eff) AS effective_usd,
               sum(CASE WHEN status = 'Unused' THEN eff ELSE 0 END) AS unused_commitment_usd
        FROM spend_agg GROUP BY ALL""")
    tgpu = bill.sql(f"""
        SELECT tagv AS {tag}, sum(gpu_hours) AS gpu_hours
        FROM spend_gpu WHERE {used_a} GROUP BY ALL""")
    team = team.merge(tgpu, on=tag, how="left").fillna({"gpu_hours": 0.0})
    used = f"coalesce({status}, 'Used') <> 'Unused'"

    # idle GPU-hours: telemetry per GPU and hour, joined to the bill's cost per GPU-hour
    idle = pd.DataFrame(columns=["resource_id", "hour", "gpus_seen", "idle_gpus",
                                 "usd_per_gpu_hour", tag])
    if utilization is not None:
        from ._telemetry import read_utilization

        u = utilization if isinstance(utilization, pd.DataFrame) else read_utilization(utilization)
        if len(u):
            u = u.assign(hour=u["timestamp"].dt.floor("h"))
            per_gpu = u.groupby(["resource_id", "hour", "gpu_uuid"], as_index=False)[
                "gpu_util"].mean()
            per_gpu["idle"] = per_gpu["gpu_util"] < idle_threshold
            per_hour = per_gpu.groupby(["resource_id", "hour"], as_index=False).agg(
                gpus_seen=("gpu_uuid", "nunique"), idle_gpus=("idle", "sum"))
            bill.con.register("tele_df", per_hour)
            idle = bill.sql(f"""
                SELECT t.resource_id, t.hour, t.gpus_seen, t.idle_gpus,
                       sum(f.EffectiveCost) / nullif(sum(f.gpu_hours), 0) AS usd_per_gpu_hour,
                       any_value(coalesce({tg.replace('"Tags"', 'f."Tags"')}, '(untagged)'))
                         AS {tag}
                FROM tele_df t JOIN focus_gpu f
                  ON f.{rid if rid != 'NULL' else '"ResourceId"'} = t.resource_id
                 AND t.hour >= f.ChargePeriodStart AND t.hour < f.ChargePeriodEnd
                WHERE {used.replace(status, 'f.' + status) if status != 'NULL' else 'TRUE'}
                GROUP BY ALL ORDER BY t.resource_id, t.hour""")
            bill.con.unregister("tele_df")
    idle["idle_usd"] = idle["idle_gpus"].astype(float) * idle["usd_per_gpu_hour"].astype(float)
    it = (idle.groupby(tag, as_index=False).agg(idle_gpu_hours=("idle_gpus", "sum"),
                                                idle_usd=("idle_usd", "sum"))
          if len(idle) else pd.DataFrame(columns=[tag, "idle_gpu_hours", "idle_usd"]))
    team = team.merge(it, on=tag, how="left").fillna({"idle_gpu_hours": 0.0, "idle_usd": 0.0})
    team["waste_usd"] = team["idle_usd"] + team["unused_commitment_usd"]
    team = team.sort_values("waste_usd", ascending=False, kind="stable").reset_index(drop=True)

    shortfall = pd.DataFrame(columns=["hour", "accelerator", "demand_gpus", "provisioned_gpus",
                                      "shortfall_gpus"])
    if demand is not None:
        from ._inputs import validate_demand

        d = demand if "workload_class" in demand.columns else validate_demand(demand)
        prov = bill.sql(f"""
            SELECT date_trunc('hour', ChargePeriodStart) AS hour, accelerator,
                   sum(gpu_hours) / greatest(any_value(date_diff('second', ChargePeriodStart,
                       ChargePeriodEnd)) / 3600.0, 1) AS provisioned_gpus
            FROM focus_gpu WHERE {used} GROUP BY ALL""")
        dd = d.groupby(["timestamp", "accelerator"], as_index=False)["gpus"].sum().rename(
            columns={"timestamp": "hour", "gpus": "demand_gpus"})
        prov["hour"] = pd.to_datetime(prov["hour"], utc=True)
        j = dd.merge(prov, on=["hour", "accelerator"], how="inner")
        j["shortfall_gpus"] = (j["demand_gpus"] - j["provisioned_gpus"]).clip(lower=0)
        shortfall = j
    eff = float(by_category["effective_usd"].sum())
    lst = float(by_category["list_usd"].sum())
    gh = float(acc["gpu_hours"].sum())
    ge = float(acc["effective_usd"].sum())
    gl = float(acc["list_usd"].sum())
    summary = {
        "rows": bill.rows, "focus_version": bill.version, "effective_usd": eff, "list_usd": lst,
        "gpu_effective_usd": ge, "gpu_hours": gh,
        "effective_usd_per_gpu_hour": ge / gh if gh else float("nan"),
        "list_usd_per_gpu_hour": gl / gh if gh else float("nan"),
        "unused_commitment_usd": float(unused["unused_usd"].sum()) if len(unused) else 0.0,
        "idle_gpu_hours": float(idle["idle_gpus"].sum()) if len(idle) else 0.0,
        "idle_usd": float(idle["idle_usd"].sum()) if len(idle) else 0.0,
        "observed_gpu_hours": float(idle["gpus_seen"].sum()) if len(idle) else 0.0,
        "shortfall_gpu_hours": float(shortfall["shortfall_gpus"].sum()) if len(shortfall)
        else 0.0,
        "idle_threshold": idle_threshold,
    }
    s = summary
    text = (f"The bill holds ${eff:,.0f} effective (${lst:,.0f} at list) over {bill.rows:,} line "
            f"items; GPUs took ${ge:,.0f} for {gh:,.0f} GPU-hours, "
            f"${s['effective_usd_per_gpu_hour']:.2f}/GPU-h paid against "
            f"${s['list_usd_per_gpu_hour']:.2f} list. Unused commitments cost "
            f"${s['unused_commitment_usd']:,.0f}.")
    if s["observed_gpu_hours"]:
        text += (f" Telemetry covers {s['observed_gpu_hours']:,.0f} GPU-hours, of which "
                 f"{s['idle_gpu_hours']:,.0f} ({s['idle_gpu_hours'] / s['observed_gpu_hours']:.0%})"
                 f" were idle (under {idle_threshold:.0%} utilization), costing "
                 f"${s['idle_usd']:,.0f}.")
    if len(team) and team["waste_usd"].iloc[0] > 0:
        text += (f" The largest waste is {team[tag].iloc[0]!s} ({tag}): "
                 f"${team['waste_usd'].iloc[0]:,.0f}.")
    if demand is not None:
        text += f" Demand exceeded what was provisioned by {s['shortfall_gpu_hours']:,.0f} GPU-hours."
    return SpendAnalysis(summary=summary, by_category=by_category, by_accelerator=acc,
                         waste_by_team=team, unused_commitments=unused, idle=idle,
                         shortfall=shortfall, text=text, tag=tag, bill=bill)
