"""Fleet analysis in DuckDB SQL: distributions, robust outlier scores, stragglers, $ per work.

Everything here takes the flat fleet records (:data:`aicost.fleet.RECORD_COLUMNS`: one row
per unit x measurement) and runs SQL over them in an in-memory DuckDB; no Python loop per
unit or per record.

Outlier score
-------------
Per SKU and metric, ``score = dir * (median - value) / max(1.4826 * MAD, floor * |median|)``
where ``dir`` is +1 for rates (higher is better) and -1 for times (unit ``s``). 1.4826 * MAD
estimates the standard deviation of a normal distribution (Iglewicz & Hoaglin's modified
z-score uses the same scale, and their cut-off 3.5). A positive score means slower than the
SKU's median. A unit is **slow** on a metric when ``score > threshold`` AND it is at least
``min_slower_pct`` slower, with at least ``min_units`` units of that SKU to compare with.
"slower" is extra time for the same work: ``median / value - 1`` for rates.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MIN_SLOWER_PCT", "DEFAULT_THRESHOLD", "FleetAnalysis", "analyze",
           "analyze_stored", "efficiency", "load", "price_per_node"]

#: modified z-score cut-off (Iglewicz & Hoaglin 1993: |M| > 3.5 is a potential outlier)
DEFAULT_THRESHOLD = 3.5
#: a unit must also be this much slower than its SKU's median to be flagged [%]; published
#: fleet studies report 8-22 % spread within one SKU, so a few percent is noise, not a fault
DEFAULT_MIN_SLOWER_PCT = 5.0
#: MAD floor as a fraction of the median (identical units would otherwise divide by zero)
MAD_FLOOR = 0.005
#: 1 / Phi^-1(3/4): MAD -> standard deviation of a normal distribution
MAD_TO_SIGMA = 1.4826


@dataclass(frozen=True)
class FleetAnalysis:
    """What :func:`analyze` found.

    Attributes
    ----------
    distribution : pandas.DataFrame
        Per SKU and metric: ``n_units, p5, median, p95, mad, spread_pct`` ((p95-p5)/median
        [%]), ``unit``, ``higher_is_better``.
    scores : pandas.DataFrame
        Per unit and metric: identity, ``value, median, score, slower_pct, slow``.
    stragglers : pandas.DataFrame
        Units slow on at least one metric: ``n_slow`` metrics, ``worst_metric``,
        ``worst_slower_pct`` [%], ``max_score``; slowest first.
    threshold : float
    min_slower_pct : float [%]
    """

    distribution: object
    scores: object
    stragglers: object
    threshold: float
    min_slower_pct: float

    def slow_units(self):
        """The (unit, metric) pairs flagged slow, slowest first."""
        s = self.scores
        return s[s["slow"]].sort_values("slower_pct", ascending=False).reset_index(drop=True)

    def __repr__(self) -> str:
        n_units = self.scores["unit_id"].nunique() if len(self.scores) else 0
        head = (f"aicost.fleet.FleetAnalysis({n_units} units, {len(self.distribution)} SKU x "
                f"metric distributions; slow: score > {self.threshold:g} and >= "
                f"{self.min_slower_pct:g}% slower; {len(self.stragglers)} stragglers)")
        if len(self.stragglers):
            cols = ["unit_id", "sku", "n_slow", "worst_metric", "worst_slower_pct"]
            return head + "\n" + self.stragglers[cols].head(10).to_string(index=False)
        return head

    def _repr_html_(self) -> str:
        import html

        head = html.escape(repr(self).splitlines()[0])
        body = ""
        if len(self.stragglers):
            cols = ["unit_id", "sku", "n_slow", "worst_metric", "worst_slower_pct", "max_score"]
            body = self.stragglers[cols].head(20).round(2).to_html(index=False)
        return f"<div><p><b>{head}</b></p>{body}</div>"


def _con():
    import duckdb

    return duckdb.connect(":memory:")


def _records(records):
    import pandas as pd

    if hasattr(records, "records") and not isinstance(records, pd.DataFrame):
        records = records.records  # a FleetRun
    if not isinstance(records, pd.DataFrame):
        raise TypeError(f"records must be a DataFrame or a FleetRun, got {type(records).__name__}")
    missing = {"unit_id", "sku", "metric", "value", "unit"} - set(records.columns)
    if missing:
        raise ValueError(f"fleet records lack column(s) {sorted(missing)}; build them with "
                         "aicost.fleet.bench, aicost.fleet.load or aicost.fleet.records_from_units")
    return records


_SQL = [
    # the measurements that can be scored: positive finite values; dir = +1 rates, -1 times
    """CREATE TEMP TABLE r AS
       SELECT unit_id, host, gpu_index, sku, metric, unit, value,
              CASE WHEN unit = 's' THEN -1 ELSE 1 END AS dir
       FROM recs WHERE value IS NOT NULL AND isfinite(value) AND value > 0""",
    """CREATE TEMP TABLE d AS
       SELECT sku, metric, any_value(unit) AS unit, count(*) AS n_units,
              quantile_cont(value, 0.05) AS p5, median(value) AS median,
              quantile_cont(value, 0.95) AS p95, any_value(dir) AS dir
       FROM r GROUP BY sku, metric""",
    """CREATE TEMP TABLE dist AS
       SELECT d.*, m.mad, 100.0 * (d.p95 - d.p5) / d.median AS spread_pct,
              d.dir = 1 AS higher_is_better
       FROM d JOIN (SELECT r.sku, r.metric, median(abs(r.value - d.median)) AS mad
                    FROM r JOIN d USING (sku, metric) GROUP BY r.sku, r.metric) m
            USING (sku, metric)""",
    """CREATE TEMP TABLE scores AS
       WITH s AS (
           SELECT r.unit_id, r.host, r.gpu_index, r.sku, r.metric, r.unit, r.value,
                  dist.n_units, dist.median, dist.mad,
                  r.dir * (dist.median - r.value)
                      / greatest($sigma * dist.mad, $floor * abs(dist.median)) AS score,
                  100.0 * (CASE WHEN r.dir = 1 THEN dist.median / r.value
                                ELSE r.value / dist.median END - 1) AS slower_pct
           FROM r JOIN dist USING (sku, metric))
       SELECT *, (score > $t AND slower_pct >= $p AND n_units >= $n) AS slow FROM s""",
]


def analyze(records, *, threshold: float = DEFAULT_THRESHOLD,
            min_slower_pct: float = DEFAULT_MIN_SLOWER_PCT, min_units: int = 3,
            metrics=None) -> FleetAnalysis:
    """Distributions per SKU and metric, robust outlier scores, slow flags and stragglers.

    Parameters
    ----------
    records : pandas.DataFrame or FleetRun
        Fleet records (:data:`aicost.fleet.RECORD_COLUMNS`).
    threshold : float
        Score above which a unit is an outlier (modified z-score; default 3.5).
    min_slower_pct : float [%]
        ... and it must be at least this much slower than the SKU median.
    min_units : int
        SKUs with fewer units on a metric are described but never flagged.
    metrics : iterable of str, optional
        Only these metrics (default: all).

    Returns
    -------
    FleetAnalysis
    """
    if threshold <= 0:
        raise ValueError(f"threshold must be positive, got {threshold!r}")
    if min_slower_pct < 0:
        raise ValueError(f"min_slower_pct must be >= 0, got {min_slower_pct!r}")
    recs = _records(records)
    cols = [c for c in ("unit_id", "host", "gpu_index", "sku", "metric", "unit", "value")
            if c in recs.columns]
    recs = recs[cols]
    if "host" not in cols:
        recs = recs.assign(host=None)
    if "gpu_index" not in cols:
        recs = recs.assign(gpu_index=None)
    if metrics is not None:
        recs = recs[recs["metric"].isin([str(m) for m in metrics])]
    con = _con()
    try:
        con.register("recs", recs)
        args = {"sigma": MAD_TO_SIGMA, "floor": MAD_FLOOR, "t": float(threshold),
                "p": float(min_slower_pct), "n": int(min_units)}
        for stmt in _SQL:
            con.execute(stmt, {k: v for k, v in args.items() if f"${k}" in stmt})
        dist = con.execute("""
            SELECT sku, metric, unit, n_units, p5, median, p95, mad, spread_pct,
                   higher_is_better
            FROM dist ORDER BY sku, metric""").df()
        scores = con.execute("SELECT * FROM scores ORDER BY sku, metric, unit_id").df()
        strag = con.execute("""
            SELECT unit_id, any_value(host) AS host, any_value(gpu_index) AS gpu_index,
                   any_value(sku) AS sku, count(*) AS n_slow,
                   arg_max(metric, slower_pct) AS worst_metric,
                   max(slower_pct) AS worst_slower_pct, max(score) AS max_score
            FROM scores WHERE slow GROUP BY unit_id
            ORDER BY worst_slower_pct DESC, unit_id""").df()
    finally:
        con.close()
    return FleetAnalysis(distribution=dist, scores=scores, stragglers=strag,
                         threshold=float(threshold), min_slower_pct=float(min_slower_pct))


def _unit_rates(con):
    """Per unit: the best bf16 GEMM [FLOP/s] and the best STREAM copy/triad [B/s]."""
    return con.execute("""
        SELECT unit_id, any_value(host) AS host, any_value(sku) AS sku,
               max(value) FILTER (WHERE name = 'gemm' AND dtype = 'bf16') AS bf16_flops_per_s,
               max(value) FILTER (WHERE name IN ('copy', 'triad') AND unit = 'B/s')
                   AS mem_bw_bytes_per_s
        FROM recs WHERE value IS NOT NULL AND isfinite(value) GROUP BY unit_id""")


def price_per_node(records, *, catalog=None, pricing: str = "on_demand", providers=None):
    """$ per measured bf16 PFLOP-hour and per measured TB/s-hour, per node and provider.

    A node's price is its number of measured GPUs x the provider's cheapest per-GPU-hour price
    for that SKU in the catalog (:meth:`aicost.catalog.Catalog.instances_for`); its work is the
    sum of its GPUs' best measured bf16 GEMM rate and best STREAM copy/triad bandwidth.

    Parameters
    ----------
    records : pandas.DataFrame or FleetRun
    catalog : aicost.catalog.Catalog, optional
        Default: the shipped catalog.
    pricing : str
        ``on_demand``, ``spot`` or ``reserved_1y``.
    providers : iterable of str, optional
        Only these providers.

    Returns
    -------
    pandas.DataFrame
        ``host, sku, provider, n_gpus, price_usd_per_hour, measured_bf16_pflops,
        measured_mem_bw_tb_s, usd_per_bf16_pflop_hour, usd_per_tb_s_hour``; SKUs the catalog
        does not know (CPUs) have no rows.
    """
    import pandas as pd

    from .. import catalog as _catalog
    from .._errors import AicostError

    recs = _records(records)
    cat = catalog if catalog is not None else _catalog.load()
    con = _con()
    try:
        con.register("recs", recs)
        units = _unit_rates(con).df()
        rows = []
        for sku in sorted(units["sku"].dropna().unique()):
            try:
                offers = cat.instances_for(str(sku), pricing)
            except (AicostError, LookupError, ValueError):
                continue  # not an accelerator the catalog knows (a CPU): no price
            if providers is not None:
                offers = offers[offers["provider"].isin(list(providers))]
            col = "price_usd_per_gpu_hour" if pricing == "on_demand" else \
                f"price_{pricing}_usd_per_gpu_hour"
            if col not in offers:
                col = "price_usd_per_gpu_hour"
            best = offers.groupby("provider", as_index=False)[col].min()
            for p, price in zip(best["provider"], best[col]):
                rows.append({"sku": sku, "provider": p, "price_usd_per_gpu_hour": float(price)})
        con.register("prices", pd.DataFrame(rows, columns=["sku", "provider",
                                                           "price_usd_per_gpu_hour"]))
        con.register("units", units)
        return con.execute("""
            WITH nodes AS (
                SELECT host, sku, count(*) AS n_gpus,
                       sum(bf16_flops_per_s) / 1e15 AS measured_bf16_pflops,
                       sum(mem_bw_bytes_per_s) / 1e12 AS measured_mem_bw_tb_s
                FROM units GROUP BY host, sku)
            SELECT n.host, n.sku, p.provider, n.n_gpus,
                   n.n_gpus * p.price_usd_per_gpu_hour AS price_usd_per_hour,
                   n.measured_bf16_pflops, n.measured_mem_bw_tb_s,
                   n.n_gpus * p.price_usd_per_gpu_hour / n.measured_bf16_pflops
                       AS usd_per_bf16_pflop_hour,
                   n.n_gpus * p.price_usd_per_gpu_hour / n.measured_mem_bw_tb_s
                       AS usd_per_tb_s_hour
            FROM nodes n JOIN prices p USING (sku)
            ORDER BY n.sku, p.provider, usd_per_bf16_pflop_hour, n.host""").df()
    finally:
        con.close()


def efficiency(records, *, dtype: str = "bf16", percentile: float = 50.0, catalog=None) -> dict:
    """The fleet's measured GEMM efficiency per SKU, at a percentile of its units.

    Each unit's best ``dtype`` GEMM rate; the ``percentile`` across the units of a SKU (50:
    the median; 10: what 90 % of the fleet beats); divided by the catalog's dense peak.

    Returns
    -------
    dict
        Catalog accelerator name -> :class:`aicost.calibrate.Efficiency` (``measured=True``,
        the source names the fleet, percentile and unit count): a GEMM efficiency. Pass the
        dict as it is as ``efficiency=`` to ``aicost.plan.plan_training`` (or
        ``plan_inference``): the planner multiplies an ``Efficiency`` by its kernel factor
        (``aicost.calibrate.TRAINING_KERNEL_FACTOR``), as it does a calibrated GEMM
        efficiency, whereas a plain number there is the end-to-end compute efficiency. SKUs
        the catalog does not know are left out.
    """
    from .. import catalog as _catalog
    from .._errors import AicostError
    from .._units import normalize_dtype
    from ..calibrate import Efficiency

    if not 0 <= percentile <= 100:
        raise ValueError(f"percentile must be in [0, 100], got {percentile!r}")
    dtype = normalize_dtype(dtype)
    recs = _records(records)
    cat = catalog if catalog is not None else _catalog.load()
    con = _con()
    try:
        con.register("recs", recs)
        per_sku = con.execute("""
            WITH u AS (SELECT sku, unit_id, any_value(fleet_id) AS fleet_id, max(value) AS v
                       FROM recs WHERE name = 'gemm' AND dtype = $d AND isfinite(value)
                       GROUP BY sku, unit_id)
            SELECT sku, count(*) AS n_units, quantile_cont(v, $q) AS rate,
                   string_agg(DISTINCT fleet_id, ', ') AS fleets
            FROM u GROUP BY sku ORDER BY sku""", {"d": dtype, "q": percentile / 100.0}).df()
    finally:
        con.close()
    out = {}
    for row in per_sku.itertuples():
        try:
            acc = cat.accelerator(str(row.sku))
            peak = float(acc.peak_flops_per_s(dtype))
        except (AicostError, LookupError, ValueError, TypeError):
            continue
        if not peak or peak <= 0:
            continue
        out[acc.name] = Efficiency(
            value=float(row.rate) / peak,
            source=(f"measured: fleet p{percentile:g} of {row.n_units} units' {dtype} GEMM on "
                    f"{row.sku} = {row.rate / 1e12:.1f} of {peak / 1e12:.1f} TFLOP/s "
                    f"({row.fleets})"),
            measured=True,
            details={"accelerator": acc.name, "dtype": dtype, "percentile": percentile,
                     "n_units": int(row.n_units), "measured_flops_per_s": float(row.rate),
                     "peak_flops_per_s": peak, "fleets": row.fleets})
    return out


def load(store=None, fleet_id: str | None = None):
    """Read a fleet run back from the results store as a :class:`FleetRun` (SQL over the runs'
    JSON context).

    Parameters
    ----------
    store : aicost.store.Store, optional
        Default: the default store.
    fleet_id : str, optional
        Default: the newest fleet run.
    """
    import json

    import pandas as pd

    from .._errors import UnknownNameError
    from ..store import Store
    from ._bench import RECORD_COLUMNS, FleetRun

    store = store if store is not None else Store()
    fleets = store.sql("SELECT context->>'$.fleet_id' AS fleet_id, context FROM runs "
                       "WHERE kind = 'fleet' ORDER BY created_at DESC, run_id DESC")
    ids = list(fleets["fleet_id"]) if len(fleets) else []
    if not ids:
        raise UnknownNameError("fleet run", fleet_id or "(newest)", [],
                               hint="(run aicost.fleet.bench first)")
    fleet_id = fleet_id or ids[0]
    if fleet_id not in ids:
        raise UnknownNameError("fleet run", fleet_id, ids)
    summary = json.loads(fleets["context"][ids.index(fleet_id)])
    units = store.sql("""
        SELECT run_id, partial, note, context->>'$.unit_id' AS unit_id, host,
               context->>'$.worker' AS worker,
               TRY_CAST(context->>'$.gpu_index' AS BIGINT) AS gpu_index,
               context->>'$.gpu_uuid' AS gpu_uuid, context->>'$.gpu_serial' AS gpu_serial,
               context->>'$.driver_version' AS driver_version, device AS sku, backend,
               TRY_CAST(context->>'$.sm_clock_mhz' AS DOUBLE) AS sm_clock_mhz,
               TRY_CAST(context->>'$.mem_clock_mhz' AS DOUBLE) AS mem_clock_mhz,
               TRY_CAST(context->>'$.max_sm_clock_mhz' AS DOUBLE) AS max_sm_clock_mhz,
               context->>'$.throttle_reasons' AS throttle_reasons,
               COALESCE(TRY_CAST(context->>'$.simulated' AS BOOLEAN), false) AS simulated,
               context->>'$.failure' AS reason
        FROM runs WHERE kind <> 'fleet' AND context->>'$.fleet_id' = ?
        ORDER BY unit_id""", [fleet_id])
    recs = store.sql("""
        SELECT u.unit_id, r.kind, r.name, r.dtype, r.shape, r.value, r.unit, r.median_s,
               r.min_s, r.seq
        FROM results r JOIN (SELECT run_id, context->>'$.unit_id' AS unit_id FROM runs
                             WHERE kind <> 'fleet' AND context->>'$.fleet_id' = ?) u
             USING (run_id)
        ORDER BY u.unit_id, r.seq""", [fleet_id])
    units["fleet_id"] = fleet_id
    units["status"] = ["failed" if p else "ok" for p in units["partial"]]
    ident = units.drop(columns=["run_id", "partial", "note", "status", "reason"])
    dt = recs["dtype"].fillna("").astype(str)  # as records_from_units: no dtype, no blank
    base = (recs["name"].astype(str) + (" " + dt).where(dt != "", "") + " "
            + recs["shape"].fillna("").astype(str)).str.strip()
    nth = recs.assign(_b=base).groupby(["unit_id", "_b"], sort=False).cumcount()
    recs["metric"] = base.where(nth == 0, base + " #" + (nth + 1).astype(str))
    records = recs.drop(columns=["seq"]).merge(ident, on="unit_id", how="left")
    records = records[RECORD_COLUMNS] if len(records) else pd.DataFrame(columns=RECORD_COLUMNS)
    units_df = units[["fleet_id", "unit_id", "host", "worker", "gpu_index", "gpu_uuid",
                      "gpu_serial", "driver_version", "sku", "backend", "status", "reason"]]
    run = FleetRun(fleet_id=fleet_id, suite=str(summary.get("suite")), records=records,
                   units=units_df.reset_index(drop=True),
                   dashboard_link=summary.get("dashboard_link"),
                   run_ids=list(units["run_id"]))
    return run


def analyze_stored(fleet_id: str | None = None, *, store=None, **kwargs) -> FleetAnalysis:
    """:func:`analyze` a fleet run read from the store (what ``aicost fleet analyze`` runs)."""
    return analyze(load(store, fleet_id), **kwargs)
