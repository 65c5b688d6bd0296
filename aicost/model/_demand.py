"""Demand over a day: a synthetic diurnal trace, and autoscaled against static provisioning.

The shipped trace ``data/traces/synthetic_diurnal_chat_24h.csv`` is SYNTHETIC: it was produced
by :func:`synthetic_diurnal_trace` with the parameters written in its header (a raised-cosine
daily cycle peaking mid-afternoon, multiplied by seeded log-normal noise). It is an
illustration of a chat service's shape, not a measurement of one.

Provisioning (``autoscale``): for each interval the replicas needed to serve that interval's
rate under the TTFT/TPOT targets come from the queueing model of ``estimate_inference``.

* autoscaled: ``max(min_replicas, needed[t - lag])``: a reactive autoscaler sees the demand of
  the current interval and its new replicas serve ``scale_up_lag_s`` later (instance start,
  weight loading); scale-downs follow the same delay;
* static: a constant count sized for the peak interval (or the count the user gives).

Over-provisioning costs idle GPU-hours (``(provisioned - needed) * tp`` per interval);
under-provisioning leaves requests over target: ``max(0, rate - capacity(provisioned)) * dt``
where ``capacity(R)`` is the largest rate ``R`` replicas serve within the TTFT target.
"""

from __future__ import annotations

import html
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._paths import data_dir
from .._units import HOUR_S
from ._inference import InferenceEstimate, replicas_arrays, ttft_quantile

__all__ = [
    "DEFAULT_TRACE",
    "DemandPlan",
    "autoscale",
    "capacity_for_replicas",
    "list_traces",
    "load_trace",
    "synthetic_diurnal_trace",
]

#: the shipped synthetic trace
DEFAULT_TRACE = "synthetic_diurnal_chat_24h"
#: parameters the shipped trace was generated with (its header repeats them)
SHIPPED_TRACE_PARAMS = dict(peak_rps=40.0, trough_rps=6.0, peak_hour=14.0, interval_s=300.0, hours=24.0,
                            noise=0.10, seed=20261128)


def synthetic_diurnal_trace(peak_rps: float = 40.0, trough_rps: float = 6.0, *, peak_hour: float = 14.0,
                            interval_s: float = 300.0, hours: float = 24.0, noise: float = 0.10,
                            seed: int = 0):
    """A synthetic diurnal request-rate trace (a DataFrame).

    ``rate(h) = trough + (peak - trough) * (1 + cos(2 pi (h - peak_hour) / 24)) / 2``, times
    log-normal noise ``exp(N(0, noise) - noise^2/2)`` (mean 1) from ``numpy.random.default_rng(seed)``.

    Returns
    -------
    pandas.DataFrame
        ``time_s`` (interval start), ``hour``, ``requests_per_s``.
    """
    import pandas as pd

    if not 0 <= trough_rps <= peak_rps or peak_rps <= 0:
        raise ValueError(f"need 0 <= trough_rps <= peak_rps and peak_rps > 0, got {trough_rps}, {peak_rps}")
    if interval_s <= 0 or hours <= 0 or noise < 0:
        raise ValueError("interval_s and hours must be positive and noise >= 0")
    n = int(round(hours * HOUR_S / interval_s))
    t = np.arange(n) * float(interval_s)
    h = t / HOUR_S
    base = trough_rps + (peak_rps - trough_rps) * 0.5 * (1.0 + np.cos(2 * np.pi * (h - peak_hour) / 24.0))
    rng = np.random.default_rng(seed)
    mult = np.exp(rng.normal(0.0, noise, n) - noise ** 2 / 2.0) if noise > 0 else np.ones(n)
    return pd.DataFrame({"time_s": t, "hour": np.round(h, 6), "requests_per_s": np.round(base * mult, 4)})


def _traces_dir() -> Path:
    return data_dir() / "traces"


def list_traces() -> list[str]:
    """Names of the shipped demand traces."""
    return sorted(p.stem for p in _traces_dir().glob("*.csv"))


def load_trace(trace=None):
    """Load a demand trace: a shipped name, a CSV path, or a DataFrame (returned checked).

    The CSV needs ``time_s`` and ``requests_per_s`` columns; ``#`` lines are comments.

    Raises
    ------
    aicost.UnknownNameError
        For an unknown shipped name.
    aicost.CatalogError
        For a malformed file (the column and line named).
    """
    import pandas as pd

    from .._errors import CatalogError, UnknownNameError

    if trace is None:
        trace = DEFAULT_TRACE
    if isinstance(trace, pd.DataFrame):
        df, where = trace.copy(), "trace DataFrame"
    else:
        path = Path(str(trace))
        if not path.suffix:
            path = _traces_dir() / f"{trace}.csv"
            if not path.exists():
                raise UnknownNameError("trace", str(trace), list_traces())
        if not path.exists():
            raise FileNotFoundError(f"no trace file at {path}")
        import io

        from .._checks import read_bounded

        raw = read_bounded(path, "a demand trace CSV (time_s, requests_per_s)")
        df, where = pd.read_csv(io.BytesIO(raw), comment="#"), str(path)
    for col in ("time_s", "requests_per_s"):
        if col not in df.columns:
            raise CatalogError(f"missing column {col!r} (have {', '.join(map(str, df.columns))})",
                               path=where, column=col)
    for col in ("time_s", "requests_per_s"):
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = vals.isna() | (vals < 0)
        if bad.any():
            i = int(np.nonzero(bad.to_numpy())[0][0])
            raise CatalogError(f"expected a number >= 0, got {df[col].iloc[i]!r}", path=where, row=i + 2,
                               column=col)
        df[col] = vals.astype(float)
    if len(df) < 2 or not np.all(np.diff(df["time_s"].to_numpy()) > 0):
        raise CatalogError("time_s must increase, with at least two rows", path=where, column="time_s")
    return df.reset_index(drop=True)


def capacity_for_replicas(estimate: InferenceEstimate, replicas, ttft_s=None, percentile="estimate"):
    """Largest request rate ``replicas`` replicas serve within the TTFT target [req/s] (arrays ok)."""
    target = estimate.ttft_target_s if ttft_s is None else float(ttft_s)
    pct = estimate.ttft_percentile if percentile == "estimate" else percentile
    service = estimate.prefill_s + estimate.output_tokens * estimate.tpot_s
    r = np.asarray(replicas, float)
    hi = r * estimate.batch / service * (1 - 1e-9)  # stability limit
    if target is None:
        return hi
    lo = np.zeros_like(hi)
    base = estimate.ttft_no_queue_s
    if base > target:
        return np.zeros_like(hi)
    for _ in range(60):
        mid = (lo + hi) / 2
        ok = ttft_quantile(r, estimate.batch, mid, service, base, pct) <= target
        lo = np.where(ok, mid, lo)
        hi = np.where(ok, hi, mid)
    return np.where(r > 0, lo, 0.0)


@dataclass(frozen=True)
class DemandPlan:
    """Autoscaled against static provisioning of one serving configuration over a trace."""

    estimate: InferenceEstimate
    timeline: object  # pandas DataFrame
    summary: object  # pandas DataFrame, one row per policy
    min_replicas: int
    scale_up_lag_s: float
    static_replicas: int
    notes: dict = field(default_factory=dict, compare=False)

    def _rows(self):
        s = self.summary.set_index("policy")
        rows = []
        for pol in s.index:
            r = s.loc[pol]
            rows.append((pol, f"{r['gpu_hours']:,.1f} GPU-h, ${r['cost_usd']:,.0f}; idle {r['idle_gpu_hours']:,.1f} "
                              f"GPU-h (${r['idle_cost_usd']:,.0f}); requests over target "
                              f"{r['unmet_requests']:,.0f} ({r['unmet_fraction']:.2%})"))
        return rows

    def __str__(self) -> str:
        e = self.estimate
        head = (f"Demand plan for {e.model} on {e.tp} x {e.accelerator} (batch {e.batch}), "
                f"{len(self.timeline)} intervals, lag {self.scale_up_lag_s:g} s, min {self.min_replicas}, "
                f"static {self.static_replicas} replicas")
        return head + "\n" + "\n".join(f"  {k:<10}  {v}" for k, v in self._rows())

    def _repr_html_(self) -> str:
        return (f"<div><b>{html.escape(str(self).splitlines()[0])}</b>"
                + self.summary.to_html(index=False, float_format=lambda x: f"{x:,.2f}") + "</div>")


def autoscale(estimate: InferenceEstimate, trace=None, *, min_replicas: int = 1, scale_up_lag_s: float = 300.0,
              headroom: float = 0.0, static_replicas: int | None = None) -> DemandPlan:
    """Compare an autoscaled fleet with a static (peak-sized) one over a demand trace.

    Parameters
    ----------
    estimate : InferenceEstimate
        The serving configuration (from ``estimate_inference``, with its TTFT/TPOT targets).
    trace : str, path or DataFrame, optional
        ``time_s``, ``requests_per_s``; default the shipped synthetic diurnal trace.
    min_replicas : int
        Floor of the autoscaler.
    scale_up_lag_s : float [s]
        Delay from a demand change to the replicas serving (rounded up to whole intervals).
    headroom : float
        Extra rate the autoscaler provisions for (0.2 = size for 120% of the observed rate).
    static_replicas : int, optional
        The static fleet; default sized for the trace's peak.
    """
    import pandas as pd

    if min_replicas < 0 or headroom < 0 or scale_up_lag_s < 0:
        raise ValueError("min_replicas, headroom and scale_up_lag_s must be >= 0")
    df = load_trace(trace)
    t = df["time_s"].to_numpy(float)
    dt = np.diff(np.append(t, t[-1] + (t[-1] - t[-2])))
    rate = df["requests_per_s"].to_numpy(float)
    service = estimate.prefill_s + estimate.output_tokens * estimate.tpot_s
    target = np.inf if estimate.ttft_target_s is None else estimate.ttft_target_s

    def needed(lam):
        reps, _ = replicas_arrays(rate=lam, batch=estimate.batch, service_s=service,
                                   base_ttft_s=estimate.ttft_no_queue_s, ttft_target_s=target,
                                   percentile=estimate.ttft_percentile)
        return np.where(lam > 0, reps, 0.0)

    need = needed(rate)
    if not np.all(np.isfinite(need)):
        from .._errors import InfeasibleError

        raise InfeasibleError("the TTFT target cannot be met at any replica count for this configuration")
    want = needed(rate * (1.0 + headroom))
    lag = int(math.ceil(scale_up_lag_s / float(np.median(dt)))) if scale_up_lag_s > 0 else 0
    lagged = np.concatenate([np.full(lag, want[0]), want[:len(want) - lag]]) if lag else want
    auto = np.maximum(lagged, float(min_replicas))
    static = float(static_replicas if static_replicas is not None else max(need.max(), min_replicas))
    stat = np.full_like(need, static)
    tp = estimate.tp
    price = estimate.price_usd_per_gpu_hour
    rows = []
    out = pd.DataFrame({"time_s": t, "hour": t / HOUR_S, "requests_per_s": rate, "replicas_needed": need,
                        "replicas_autoscaled": auto, "replicas_static": stat})
    for pol, prov in (("autoscaled", auto), ("static", stat)):
        uniq, inv = np.unique(prov, return_inverse=True)
        cap = capacity_for_replicas(estimate, uniq)[inv]
        unmet = np.maximum(rate - cap, 0.0) * dt
        idle = np.maximum(prov - need, 0.0) * tp * dt / HOUR_S
        gpu_h = prov * tp * dt / HOUR_S
        out[f"capacity_rps_{pol}"] = cap
        out[f"unmet_requests_{pol}"] = unmet
        total_req = float(np.sum(rate * dt))
        rows.append({"policy": pol, "gpu_hours": gpu_h.sum(), "cost_usd": gpu_h.sum() * price,
                     "idle_gpu_hours": idle.sum(), "idle_cost_usd": idle.sum() * price,
                     "unmet_requests": unmet.sum(),
                     "unmet_fraction": unmet.sum() / total_req if total_req else 0.0,
                     "peak_replicas": prov.max(), "mean_replicas": float(np.sum(prov * dt) / dt.sum())})
    summary = pd.DataFrame(rows)
    return DemandPlan(estimate=estimate, timeline=out, summary=summary, min_replicas=int(min_replicas),
                      scale_up_lag_s=float(scale_up_lag_s), static_replicas=int(static),
                      notes={"lag_intervals": lag, "headroom": headroom})
