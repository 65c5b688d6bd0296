"""The commitment portfolio: how much to commit to, and for how long, over a year of demand.

A linear program (HiGHS through :func:`scipy.optimize.linprog`; :func:`scipy.optimize.milp` when
units are whole) over the hourly demand of each accelerator pool chooses committed GPUs per offer
and term (1-year and 3-year commitments are paid every hour of the horizon; capacity blocks are
paid per block they are bought for), with on-demand and spot covering the rest. Spot may carry at
most a share of each workload class's demand and is priced with the planner's preemption model.

With one offer and one term the optimum is the newsvendor quantile (:func:`newsvendor_commitment`):
commit to the demand level that is exceeded in a fraction ``price / on_demand`` of the hours, i.e.
the quantile of hourly demand at the discount level.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .._errors import AicostError, InfeasibleError
from ._inputs import demand_matrix, validate_demand

__all__ = [
    "DEFAULT_BLOCK_HOURS",
    "DEFAULT_FORECAST_ERRORS",
    "DEFAULT_SPOT_SHARE_MAX",
    "THREE_YEAR_DISCOUNT",
    "TERMS",
    "Offer",
    "Portfolio",
    "catalog_offers",
    "evaluate_commitments",
    "newsvendor_commitment",
    "optimize_portfolio",
    "recommend",
    "spot_overhead_factor",
]

#: commitment terms: hours a 1y/3y commitment runs (capacity blocks run ``block_hours``)
TERMS = {"1y": 8760, "3y": 3 * 8760, "capacity_block": None}
#: a capacity block's length when an offer does not say [h]; AWS EC2 Capacity Blocks for ML
#: are sold for 1-14 days (and up to 182 days): one week here
DEFAULT_BLOCK_HOURS = 168
#: 3-year discount off on demand when the catalog has no 3-year price. Estimate: AWS EC2
#: Instance Savings Plans advertise "up to 72%" for 3 years; published GPU-instance 3-year
#: no-upfront rates (p4d/p5, 2024-25) sit near 45-50% off; 45% is the conservative end.
THREE_YEAR_DISCOUNT = 0.45
#: the largest share of a workload class's demand that may run on spot. Interruptible training
#: with checkpoints tolerates preemption; latency-bound serving does not. Unknown classes get
#: the ``default`` entry.
DEFAULT_SPOT_SHARE_MAX = {"training": 0.5, "batch": 0.8, "serving": 0.0, "default": 0.0}
#: demand forecast errors the risk table re-prices the chosen commitments at
DEFAULT_FORECAST_ERRORS = (-0.3, -0.2, -0.1, 0.0, 0.1, 0.2, 0.3)
#: checkpoint time assumed for spot work in the overhead factor [s]
SPOT_CHECKPOINT_S = 60.0


@dataclass(frozen=True)
class Offer:
    """One commitment option: an offer (instance) and a term.

    Parameters
    ----------
    name : str
        Label, e.g. ``"aws p5.48xlarge 1y"``.
    accelerator : str
        Catalog accelerator name; the pool of demand it can serve.
    term : str
        ``1y``, ``3y`` or ``capacity_block``.
    price_usd_per_gpu_hour : float [USD/(GPU h)]
        Committed rate, paid whether used or not.
    on_demand_usd_per_gpu_hour : float [USD/(GPU h)]
        The on-demand rate it replaces.
    gpus_per_unit : int
        GPUs per instance (whole units in a mixed-integer solve).
    block_hours : int [h]
        Capacity blocks: the length of one block (the horizon is cut into such windows).
    max_units : float, optional
        Most units available (capacity); None: unbounded.
    provider : str
        Provider name (informative).
    """

    name: str
    accelerator: str
    term: str
    price_usd_per_gpu_hour: float
    on_demand_usd_per_gpu_hour: float
    gpus_per_unit: int = 1
    block_hours: int = DEFAULT_BLOCK_HOURS
    max_units: float | None = None
    provider: str = ""

    def __post_init__(self) -> None:
        if self.term not in TERMS:
            raise ValueError(f"offer {self.name!r}: term {self.term!r} is not one of "
                             f"{', '.join(TERMS)}")
        for f in ("price_usd_per_gpu_hour", "on_demand_usd_per_gpu_hour"):
            v = float(getattr(self, f))
            if not (math.isfinite(v) and v > 0):
                raise ValueError(f"offer {self.name!r}: {f} = {v!r} must be a positive number")
        if int(self.gpus_per_unit) < 1:
            raise ValueError(f"offer {self.name!r}: gpus_per_unit must be >= 1")
        if self.term == "capacity_block" and int(self.block_hours) < 1:
            raise ValueError(f"offer {self.name!r}: block_hours must be >= 1")

    @property
    def discount(self) -> float:
        """Discount off on demand (0-1; negative when the commitment costs more)."""
        return 1.0 - self.price_usd_per_gpu_hour / self.on_demand_usd_per_gpu_hour

    @property
    def break_even_utilization(self) -> float:
        """Share of hours a committed GPU must be busy for the commitment to pay off (0-1).

        ``price / on_demand``: below it, on demand for the same hours costs less.
        """
        return self.price_usd_per_gpu_hour / self.on_demand_usd_per_gpu_hour


def newsvendor_commitment(demand_gpus, discount: float) -> float:
    """The cost-optimal flat commitment for one offer and one term (newsvendor) [GPUs].

    Committing ``x`` GPUs at ``(1 - discount) * p`` per hour, with on demand ``p`` for the
    rest, costs ``(1 - discount) p T x + p sum(max(d_t - x, 0))``; its slope is zero where the
    share of hours with demand above ``x`` equals ``1 - discount``, so ``x`` is the
    ``discount`` quantile of hourly demand (the smallest ``x`` with ``P(d <= x) >= discount``).

    Parameters
    ----------
    demand_gpus : array-like [GPUs]
        Hourly demand.
    discount : float
        Discount of the commitment off on demand, in [0, 1).
    """
    d = np.asarray(demand_gpus, dtype=float).ravel()
    if d.size == 0:
        raise ValueError("demand_gpus is empty")
    if not 0.0 <= discount < 1.0:
        raise ValueError(f"discount {discount!r} must lie in [0, 1)")
    if discount == 0.0:
        return 0.0
    return float(np.quantile(d, discount, method="inverted_cdf"))


def spot_overhead_factor(preemptions_per_node_hour: float | None = None,
                         restart_s: float | None = None,
                         checkpoint_s: float = SPOT_CHECKPOINT_S) -> float:
    """Expected wall time per unit of work on spot (>= 1), from the planner's reliability model.

    Young/Daly checkpointing under preemptions (``aicost.model.expected_wall_time``) with the
    planner's default spot preemption rate and restart time unless given.
    """
    from .. import model as M

    rate = (M.DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR if preemptions_per_node_hour is None
            else float(preemptions_per_node_hour))
    restart = M.DEFAULT_SPOT_RESTART_S if restart_s is None else float(restart_s)
    if rate <= 0:
        return 1.0
    work = 1e7
    wall = float(M.expected_wall_time(work, 3600.0 / rate, checkpoint_s, restart))
    return max(1.0, wall / work)


def catalog_offers(accelerators: Iterable[str], *, provider: str | None = "aws", catalog=None,
                   terms: Sequence[str] = ("1y", "3y", "capacity_block"),
                   block_hours: int = DEFAULT_BLOCK_HOURS) -> tuple[list[Offer], dict, dict]:
    """Commitment offers, on-demand and spot prices for some accelerators, from the catalog.

    1-year rates are the catalog's ``price_reserved_1y_usd_per_hour``; 3-year rates the lower of
    that and on demand less :data:`THREE_YEAR_DISCOUNT` (an estimate, offered only where a 1-year
    rate exists); capacity blocks are the ``<provider>-capacity-block`` rows.

    Returns
    -------
    offers : list of Offer
    on_demand : dict
        Accelerator -> cheapest on-demand rate of ``provider`` [USD/(GPU h)].
    spot : dict
        Accelerator -> cheapest spot rate of ``provider`` [USD/(GPU h)] (absent: no spot).
    """
    from .. import catalog as C

    cat = catalog if catalog is not None else C.load()
    inst = cat.instances
    offers: list[Offer] = []
    on_demand: dict[str, float] = {}
    spot: dict[str, float] = {}
    for acc in dict.fromkeys(accelerators):
        name = cat.accelerator(acc).name
        rows = inst[inst["accelerator"] == name]
        base = rows if provider is None else rows[rows["provider"].str.lower() == provider.lower()]
        base = base[base["price_on_demand_usd_per_hour"].notna()]
        if base.empty:
            continue
        n = base["accelerator_count"].astype(float)
        od = base["price_on_demand_usd_per_hour"] / n
        on_demand[name] = float(od.min())
        sp = (base["price_spot_usd_per_hour"] / n).dropna()
        if not sp.empty:
            spot[name] = float(sp.min())
        seen = set()
        for _, r in base.iterrows():
            key = (r["provider"], r["instance_type"])
            if key in seen:
                continue
            seen.add(key)
            g = int(r["accelerator_count"])
            od_g = float(r["price_on_demand_usd_per_hour"]) / g
            r1 = r.get("price_reserved_1y_usd_per_hour")
            if r1 is None or pd.isna(r1):
                continue
            r1 = float(r1) / g
            label = f"{r['provider']} {r['instance_type']}"
            if "1y" in terms:
                offers.append(Offer(f"{label} 1y", name, "1y", r1, od_g, g,
                                    provider=r["provider"]))
            if "3y" in terms:
                offers.append(Offer(f"{label} 3y", name, "3y",
                                    min(r1, od_g * (1 - THREE_YEAR_DISCOUNT)), od_g, g,
                                    provider=r["provider"]))
        if "capacity_block" in terms and provider is not None:
            cb = rows[rows["provider"].str.lower() == f"{provider.lower()}-capacity-block"]
            for _, r in cb.drop_duplicates("instance_type").iterrows():
                g = int(r["accelerator_count"])
                same = base[base["instance_type"] == r["instance_type"]]
                od_g = (float(same["price_on_demand_usd_per_hour"].min()) / g if not same.empty
                        else on_demand[name])
                offers.append(Offer(f"{r['provider']} {r['instance_type']} block",
                                    name, "capacity_block",
                                    float(r["price_on_demand_usd_per_hour"]) / g, od_g, g,
                                    block_hours=block_hours, provider=r["provider"]))
    return offers, on_demand, spot


@dataclass(frozen=True)
class Portfolio:
    """A commitment portfolio and what it costs.

    Attributes
    ----------
    commitments : pandas.DataFrame
        One row per offer: ``offer, provider, accelerator, term, gpus_per_unit, units,
        committed_gpus`` (for capacity blocks the mean over the horizon), ``peak_gpus``,
        ``commitment_usd_per_gpu_hour, on_demand_usd_per_gpu_hour, discount,
        break_even_utilization, cost_usd``.
    hourly : pandas.DataFrame
        ``timestamp, accelerator, demand_gpus, committed_gpus, committed_used_gpus,
        on_demand_gpus, spot_gpus, spot_max_gpus``.
    pools : pandas.DataFrame
        Per accelerator: GPU-hours, cost by category, coverage, commitment utilization,
        all-on-demand cost, prices.
    summary : dict
        ``total_usd, all_on_demand_usd, savings_usd, savings_fraction, committed_usd,
        on_demand_usd, spot_usd, unused_commitment_usd, coverage, commitment_utilization,
        demand_gpu_hours, hours, solver, whole_units``.
    risk : pandas.DataFrame
        The chosen commitments re-priced under demand forecast errors: ``forecast_error,
        demand_gpu_hours, total_usd, all_on_demand_usd, savings_usd, unused_commitment_usd,
        commitment_utilization, coverage``.
    recommendation : str
        The answer in words.
    offers : tuple of Offer
    spot_overhead : float
        Expected wall time per unit of work on spot (the preemption model).
    """

    commitments: pd.DataFrame
    hourly: pd.DataFrame
    pools: pd.DataFrame
    summary: dict
    risk: pd.DataFrame
    recommendation: str
    offers: tuple = field(default_factory=tuple)
    spot_overhead: float = 1.0
    inputs: dict = field(default_factory=dict, repr=False)

    def __repr__(self) -> str:
        s = self.summary
        return (f"Portfolio(total=${s['total_usd']:,.0f} vs ${s['all_on_demand_usd']:,.0f} "
                f"all on demand, coverage {s['coverage']:.0%}, commitment utilization "
                f"{s['commitment_utilization']:.0%})")

    def _repr_html_(self) -> str:
        import html

        s = self.summary
        head = html.escape(self.recommendation).replace("\n", "<br>")
        used = self.commitments[self.commitments["committed_gpus"] > 0]
        return (f"<div><p><b>Commitment portfolio</b>: ${s['total_usd']:,.0f} vs "
                f"${s['all_on_demand_usd']:,.0f} all on demand "
                f"({s['savings_fraction']:.1%} less)</p><p>{head}</p>"
                + used.to_html(index=False, float_format=lambda x: f"{x:,.4g}") + "</div>")


def _pool_prices(pools, offers, on_demand, spot, overhead):
    od = {}
    sp = {}
    for a in pools:
        if on_demand and a in on_demand:
            od[a] = float(on_demand[a])
        else:
            rates = [o.on_demand_usd_per_gpu_hour for o in offers if o.accelerator == a]
            if not rates:
                raise InfeasibleError(
                    f"no on-demand price for accelerator {a!r}: pass "
                    f"on_demand_usd_per_gpu_hour={{{a!r}: ...}} or an offer for it")
            od[a] = min(rates)
        if spot and a in spot and spot[a] is not None and math.isfinite(float(spot[a])):
            sp[a] = float(spot[a]) * overhead
    return od, sp


def _allocate(d, s, committed, od_price, sp_price):
    """Fill each pool-hour: commitments first, then spot (if cheaper, within its cap), then OD."""
    used = np.minimum(d, committed)
    rest = d - used
    spot = np.zeros_like(d)
    for i, a in enumerate(od_price):
        if a in sp_price and sp_price[a] < od_price[a]:
            spot[i] = np.minimum(rest[i], s[i])
    return used, spot, rest - spot


def evaluate_commitments(d, s, committed, committed_cost_usd, od_price, sp_price) -> dict:
    """Cost of fixed commitments against a demand matrix (pools x hours) [USD, GPU-hours]."""
    used, spot, od = _allocate(d, s, committed, od_price, sp_price)
    odv = np.array([od_price[a] for a in od_price])
    spv = np.array([sp_price.get(a, 0.0) for a in od_price])
    od_usd = float((od.sum(axis=1) * odv).sum())
    sp_usd = float((spot.sum(axis=1) * spv).sum())
    total = committed_cost_usd + od_usd + sp_usd
    all_od = float((d.sum(axis=1) * odv).sum())
    c_hours = float(committed.sum())
    u_hours = float(used.sum())
    unused_usd = 0.0
    if c_hours > 0:
        unused_usd = committed_cost_usd * (1 - u_hours / c_hours)
    dem = float(d.sum())
    return {"total_usd": total, "all_on_demand_usd": all_od, "savings_usd": all_od - total,
            "savings_fraction": (all_od - total) / all_od if all_od > 0 else 0.0,
            "committed_usd": committed_cost_usd, "on_demand_usd": od_usd, "spot_usd": sp_usd,
            "unused_commitment_usd": unused_usd,
            "coverage": u_hours / dem if dem > 0 else 0.0,
            "commitment_utilization": u_hours / c_hours if c_hours > 0 else float("nan"),
            "demand_gpu_hours": dem}


def optimize_portfolio(demand, offers: Iterable[Offer] | None = None, *,
                       on_demand_usd_per_gpu_hour: dict | None = None,
                       spot_usd_per_gpu_hour: dict | None = None,
                       spot_share_max: dict | None = None,
                       whole_units: bool = False,
                       forecast_errors: Sequence[float] = DEFAULT_FORECAST_ERRORS,
                       spot_overhead: float | None = None,
                       provider: str | None = "aws", catalog=None,
                       time_limit_s: float = 60.0, mip_rel_gap: float = 1e-3) -> Portfolio:
    """Choose committed GPUs per offer and term over hourly demand (HiGHS LP or MILP).

    Parameters
    ----------
    demand : pandas.DataFrame or str
        Hourly demand (``timestamp, accelerator, gpus[, workload_class]``) or a CSV path
        (:func:`aicost.spend.read_demand`).
    offers : iterable of Offer, optional
        Commitment options; default :func:`catalog_offers` for the demand's accelerators and
        ``provider`` (also supplying on-demand and spot prices).
    on_demand_usd_per_gpu_hour : dict, optional [USD/(GPU h)]
        Accelerator -> on-demand rate; default the lowest ``on_demand_usd_per_gpu_hour`` of
        the pool's offers.
    spot_usd_per_gpu_hour : dict, optional [USD/(GPU h)]
        Accelerator -> spot rate; a pool without one gets no spot.
    spot_share_max : dict, optional
        Workload class -> most share of its demand on spot (0-1);
        default :data:`DEFAULT_SPOT_SHARE_MAX`.
    whole_units : bool
        Commit whole instances (mixed-integer program) instead of fractional GPUs (LP).
    forecast_errors : sequence of float
        Relative demand errors for the risk table (e.g. -0.3 is 30% less demand).
    spot_overhead : float, optional
        Multiplier on spot rates for preemption losses; default :func:`spot_overhead_factor`.
    provider, catalog
        Where default offers come from.
    time_limit_s : float [s]
        HiGHS time limit.
    mip_rel_gap : float
        With ``whole_units``: stop when the best whole-unit portfolio is within this share of
        the lower bound (``summary['mip_gap']`` says how close it got).

    Returns
    -------
    Portfolio

    Raises
    ------
    InfeasibleError
        When a pool has no on-demand price (nothing can cover its demand).
    """
    from scipy import sparse
    from scipy.optimize import Bounds, LinearConstraint, linprog, milp

    if offers is None and catalog is None:
        from .. import catalog as C

        catalog = C.load()
    if isinstance(demand, pd.DataFrame):
        normalized = ("workload_class" in demand.columns
                      and pd.api.types.is_datetime64_any_dtype(demand["timestamp"]))
        if not normalized or catalog is not None:
            demand = validate_demand(demand, catalog=catalog)
    else:
        from ._inputs import read_demand

        demand = read_demand(demand, catalog=catalog)
    share = DEFAULT_SPOT_SHARE_MAX if spot_share_max is None else spot_share_max
    idx, pools, d, s = demand_matrix(demand, share)
    if offers is None:
        offers, od_cat, sp_cat = catalog_offers(pools, provider=provider, catalog=catalog)
        on_demand_usd_per_gpu_hour = {**od_cat, **(on_demand_usd_per_gpu_hour or {})}
        spot_usd_per_gpu_hour = {**sp_cat, **(spot_usd_per_gpu_hour or {})}
    offers = tuple(o for o in offers if o.accelerator in pools)
    overhead = spot_overhead_factor() if spot_overhead is None else float(spot_overhead)
    od_price, sp_price = _pool_prices(pools, offers, on_demand_usd_per_gpu_hour,
                                      spot_usd_per_gpu_hour, overhead)
    P, T = d.shape
    pool_of = {a: i for i, a in enumerate(pools)}

    # Hours that lie in the same capacity-block windows and have the same demand and spot cap
    # are interchangeable: the program keeps one row per such group, weighted by its hours
    # (exact; a year of hourly demand shrinks to a few hundred or thousand rows per pool).
    hourly = [o for o in offers if o.term != "capacity_block"]
    blocks = [o for o in offers if o.term == "capacity_block"]
    nh = len(hourly)
    t_all = np.arange(T)
    win_start = [np.arange(0, T, int(o.block_hours)) for o in blocks]
    seg = (np.unique(np.stack([t_all // int(o.block_hours) for o in blocks], axis=1), axis=0,
                     return_inverse=True)[1].ravel() if blocks else np.zeros(T, dtype=np.int64))
    groups = []  # (pool, representative hour, demand, spot cap, hours in group)
    for i in range(P):
        key = np.stack([seg.astype(float), d[i], s[i]], axis=1)
        uniq, first, counts = np.unique(key, axis=0, return_index=True, return_counts=True)
        groups.append((np.full(len(uniq), i), first, uniq[:, 1], uniq[:, 2], counts))
    g_pool = np.concatenate([g[0] for g in groups])
    g_rep = np.concatenate([g[1] for g in groups])
    g_d = np.concatenate([g[2] for g in groups])
    g_s = np.concatenate([g[3] for g in groups])
    g_n = np.concatenate([g[4] for g in groups]).astype(float)
    G = len(g_d)

    # variables: [x_o units of hourly offers] [y_{o,w} units of blocks] [C_a] [od_g] [sp_g]
    nb = int(sum(len(w) for w in win_start))
    iC = nh + nb
    iod = iC + P
    isp = iod + G
    n = isp + G
    cost = np.zeros(n)
    ub = np.full(n, np.inf)
    for j, o in enumerate(hourly):
        cost[j] = o.price_usd_per_gpu_hour * o.gpus_per_unit * T
        if o.max_units is not None:
            ub[j] = float(o.max_units)
    k = nh
    block_cols = []
    for o, ws in zip(blocks, win_start):
        lens = np.minimum(ws + int(o.block_hours), T) - ws
        cost[k:k + len(ws)] = o.price_usd_per_gpu_hour * o.gpus_per_unit * lens
        if o.max_units is not None:
            ub[k:k + len(ws)] = float(o.max_units)
        block_cols.append(k + np.arange(len(ws)))
        k += len(ws)
    odv = np.array([od_price[a] for a in pools])
    spv = np.array([sp_price[a] if a in sp_price and sp_price[a] < od_price[a] else np.nan
                    for a in pools])
    cost[iod:iod + G] = odv[g_pool] * g_n
    has_spot = ~np.isnan(spv[g_pool])
    cost[isp:isp + G] = np.where(has_spot, np.nan_to_num(spv[g_pool]), 0.0) * g_n
    ub[isp:isp + G] = np.where(has_spot, g_s, 0.0)

    # coverage rows (group): C_pool + sum_blocks g y_{b, w(t)} + od_g + sp_g >= d_g
    r_all = np.arange(G)
    rows = [r_all, r_all, r_all]
    cols = [iC + g_pool, iod + r_all, isp + r_all]
    vals = [np.ones(G)] * 3
    for o, bc in zip(blocks, block_cols):
        sel = np.flatnonzero(g_pool == pool_of[o.accelerator])
        rows.append(sel)
        cols.append(bc[g_rep[sel] // int(o.block_hours)])
        vals.append(np.full(len(sel), float(o.gpus_per_unit)))
    # pool rows: C_a - sum_{hourly o in a} g_o x_o = 0
    for i, a in enumerate(pools):
        rows.append(np.array([G + i]))
        cols.append(np.array([iC + i]))
        vals.append(np.array([1.0]))
        for j, o in enumerate(hourly):
            if o.accelerator == a:
                rows.append(np.array([G + i]))
                cols.append(np.array([j]))
                vals.append(np.array([-float(o.gpus_per_unit)]))
    A = sparse.csr_array((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))),
                         shape=(G + P, n))
    lo = np.concatenate([g_d, np.zeros(P)])
    hi = np.concatenate([np.full(G, np.inf), np.zeros(P)])
    if whole_units and (nh + nb) > 0:
        integrality = np.zeros(n)
        integrality[: nh + nb] = 1
        res = milp(cost, constraints=LinearConstraint(A, lo, hi), integrality=integrality,
                   bounds=Bounds(np.zeros(n), ub),
                   options={"time_limit": time_limit_s, "disp": False,
                            "mip_rel_gap": mip_rel_gap})
        solver = "HiGHS MILP (scipy.optimize.milp)"
    else:
        res = linprog(cost, A_ub=-A[:G], b_ub=-g_d, A_eq=A[G:], b_eq=np.zeros(P),
                      bounds=np.column_stack([np.zeros(n), ub]), method="highs",
                      options={"time_limit": time_limit_s})
        solver = "HiGHS LP (scipy.optimize.linprog)"
    if res.x is None:
        raise AicostError(f"the commitment program was not solved: {res.message}")
    x = np.maximum(res.x, 0.0)
    if whole_units:
        x[: nh + nb] = np.round(x[: nh + nb])

    # committed GPUs per pool-hour and the cost of commitments
    committed = np.zeros((P, T))
    rows_c = []
    committed_usd = 0.0
    for j, o in enumerate(hourly):
        i = pool_of[o.accelerator]
        g = x[j] * o.gpus_per_unit
        committed[i] += g
        c = cost[j] * x[j]
        committed_usd += c
        rows_c.append((o, x[j], g, g, c))
    for o, bc in zip(blocks, block_cols):
        i = pool_of[o.accelerator]
        units = x[bc]
        per_hour = np.repeat(units, int(o.block_hours))[:T] * o.gpus_per_unit
        committed[i] += per_hour
        c = float(cost[bc] @ units)
        committed_usd += c
        rows_c.append((o, float(units.mean()), float(per_hour.mean()), float(per_hour.max()), c))
    commitments = pd.DataFrame([{
        "offer": o.name, "provider": o.provider, "accelerator": o.accelerator, "term": o.term,
        "gpus_per_unit": o.gpus_per_unit, "units": float(u), "committed_gpus": float(g),
        "peak_gpus": float(pk), "commitment_usd_per_gpu_hour": o.price_usd_per_gpu_hour,
        "on_demand_usd_per_gpu_hour": o.on_demand_usd_per_gpu_hour, "discount": o.discount,
        "break_even_utilization": o.break_even_utilization, "cost_usd": float(c),
    } for o, u, g, pk, c in rows_c], columns=[
        "offer", "provider", "accelerator", "term", "gpus_per_unit", "units", "committed_gpus",
        "peak_gpus", "commitment_usd_per_gpu_hour", "on_demand_usd_per_gpu_hour", "discount",
        "break_even_utilization", "cost_usd"])
    commitments["committed_gpus"] = commitments["committed_gpus"].round(9)

    summary = evaluate_commitments(d, s, committed, committed_usd, od_price, sp_price)
    summary.update({"hours": T, "solver": solver, "whole_units": bool(whole_units),
                    "lp_objective_usd": float(res.fun) if res.fun is not None else float("nan"),
                    "spot_overhead": overhead,
                    "mip_gap": float(getattr(res, "mip_gap", 0.0) or 0.0) if whole_units else 0.0})
    used, spot, od = _allocate(d, s, committed, od_price, sp_price)
    hourly_df = pd.DataFrame({
        "timestamp": np.tile(idx.to_numpy(), P),
        "accelerator": np.repeat(pools, T),
        "demand_gpus": d.ravel(), "committed_gpus": committed.ravel(),
        "committed_used_gpus": used.ravel(), "on_demand_gpus": od.ravel(),
        "spot_gpus": spot.ravel(), "spot_max_gpus": s.ravel()})
    hourly_df["timestamp"] = pd.to_datetime(hourly_df["timestamp"], utc=True)
    pool_rows = []
    for i, a in enumerate(pools):
        ccost = float(commitments.loc[commitments["accelerator"] == a, "cost_usd"].sum())
        ev = evaluate_commitments(d[i:i + 1], s[i:i + 1], committed[i:i + 1], ccost,
                                  {a: od_price[a]}, {a: sp_price[a]} if a in sp_price else {})
        pool_rows.append({"accelerator": a, **ev, "on_demand_usd_per_gpu_hour": od_price[a],
                          "spot_usd_per_gpu_hour_effective": sp_price.get(a, float("nan")),
                          "peak_gpus": float(d[i].max()), "mean_gpus": float(d[i].mean())})
    pools_df = pd.DataFrame(pool_rows)

    risk_rows = []
    for e in forecast_errors:
        ev = evaluate_commitments(d * (1 + e), s * (1 + e), committed, committed_usd,
                                  od_price, sp_price)
        risk_rows.append({"forecast_error": float(e), **{k: ev[k] for k in (
            "demand_gpu_hours", "total_usd", "all_on_demand_usd", "savings_usd",
            "unused_commitment_usd", "commitment_utilization", "coverage")}})
    risk = pd.DataFrame(risk_rows)
    port = Portfolio(commitments=commitments, hourly=hourly_df, pools=pools_df, summary=summary,
                     risk=risk, recommendation="", offers=tuple(offers), spot_overhead=overhead,
                     inputs={"d": d, "s": s, "index": idx, "pools": pools,
                             "on_demand": od_price, "spot": sp_price})
    object.__setattr__(port, "recommendation", recommend(port))
    return port


def recommend(port: Portfolio) -> str:
    """The portfolio's answer in words (a few sentences)."""
    s = port.summary
    c = port.commitments
    lines = []
    chosen = c[c["committed_gpus"] > 1e-9]
    if chosen.empty:
        lines.append("Commit to nothing: no offer's discount pays for the hours its GPUs "
                     "would sit idle at this demand; stay on demand"
                     + (" and spot." if s["spot_usd"] > 0 else "."))
    else:
        parts = []
        for _, r in chosen.iterrows():
            if r["term"] == "capacity_block":
                parts.append(f"capacity blocks of {r['offer']} (on average "
                             f"{r['committed_gpus']:.3g} GPUs, at most {r['peak_gpus']:.3g})")
            else:
                units = (f" = {r['units']:.3g} x {r['gpus_per_unit']}-GPU instances"
                         if r["gpus_per_unit"] > 1 else "")
                parts.append(f"{r['committed_gpus']:.3g} {r['accelerator']} GPUs on "
                             f"{r['offer']}{units}")
        lines.append("Commit to " + "; ".join(parts) + ".")
        lines.append(f"Commitments cover {s['coverage']:.0%} of the demanded GPU-hours and are "
                     f"expected to be used {s['commitment_utilization']:.0%} of the time; "
                     "each offer pays off while its GPUs are busy at least "
                     + ", ".join(f"{r['break_even_utilization']:.0%} ({r['offer']})"
                                 for _, r in chosen.drop_duplicates('offer').iterrows())
                     + " of the hours.")
    rest = []
    if s["on_demand_usd"] > 0:
        rest.append(f"on demand ${s['on_demand_usd']:,.0f}")
    if s["spot_usd"] > 0:
        rest.append(f"spot ${s['spot_usd']:,.0f} (priced x{port.spot_overhead:.3f} for "
                    "preemptions)")
    if rest:
        lines.append("The rest runs " + " and ".join(rest) + ".")
    lines.append(f"Total ${s['total_usd']:,.0f} against ${s['all_on_demand_usd']:,.0f} all on "
                 f"demand: {s['savings_fraction']:.1%} less.")
    r = port.risk
    if not chosen.empty and len(r) and r["forecast_error"].min() < 0:
        low = r.loc[r["forecast_error"].idxmin()]
        lines.append(f"If demand comes in {-low['forecast_error']:.0%} lower, "
                     f"${low['unused_commitment_usd']:,.0f} of commitments go unused "
                     f"(utilization {low['commitment_utilization']:.0%}) and the portfolio "
                     f"still saves {low['savings_usd'] / max(low['all_on_demand_usd'], 1e-9):.1%} "
                     "against on demand.")
    if (c["term"] == "3y").any() and (chosen["term"] == "3y").any():
        lines.append("3-year terms bind beyond this horizon: they assume the demand lasts.")
    return " ".join(lines)
