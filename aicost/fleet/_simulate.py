"""A SIMULATED fleet built from real measured distributions (benchmarks, demos).

Every simulated unit repeats the quick suite measured on a real H200
(``data/results/h200_2026-11.json``): each metric's value is the measured one scaled by the
median of a bootstrap resample of that measurement's own raw samples (the real run-to-run
noise of a reported median), times a unit-to-unit factor, times a slowdown for a few deliberately slow units. Records say
``simulated=True`` and hosts are named ``sim-node-NNNN``.
"""

from __future__ import annotations

__all__ = ["BOOTSTRAP_SAMPLES", "UNIT_SPREAD_SIGMA", "simulate_fleet"]

#: unit-to-unit spread of one SKU (standard deviation of a multiplicative factor): 3 % puts
#: p5-p95 near 10 %, inside the 8-22 % published by Sinha et al. ("Not All GPUs Are Created
#: Equal", revised) - an assumption, not a measurement of this project
UNIT_SPREAD_SIGMA = 0.03
#: samples per bootstrapped median (at most the measurement's own sample count)
BOOTSTRAP_SAMPLES = 25


def simulate_fleet(n_nodes: int = 128, gpus_per_node: int = 8, *, slow_fraction: float = 0.01,
                   slowdown=(0.15, 0.30), seed: int = 0, source=None, suite: str = "quick"):
    """Records of a simulated fleet of ``n_nodes`` x ``gpus_per_node`` GPUs.

    Parameters
    ----------
    n_nodes, gpus_per_node : int
    slow_fraction : float
        Fraction of units made slow (every rate metric ``slowdown`` slower).
    slowdown : (float, float)
        Range of the extra time of a slow unit (0.15 = 15 % slower).
    seed : int
    source : path, optional
        A results file (``aicost.bench.load_results``); default the shipped H200 file.
    suite : str
        Which of the file's suites to replicate (``params['suite']``).

    Returns
    -------
    FleetRun
        ``records`` with :data:`aicost.fleet.RECORD_COLUMNS` (``simulated=True``), ``units``
        with ``status="ok"`` and the truly slow ones in ``units["simulated_slow"]``.
    """
    import numpy as np
    import pandas as pd

    from .._paths import data_dir
    from ..bench import load_results
    from ._bench import RECORD_COLUMNS, FleetRun, records_from_units

    if n_nodes < 1 or gpus_per_node < 1:
        raise ValueError("n_nodes and gpus_per_node must be >= 1")
    path = source or (data_dir() / "results" / "h200_2026-11.json")
    base = load_results(path)
    df = base.df
    keep = [(p or {}).get("suite", suite) == suite and b == "cupy"
            for p, b in zip(df["params"], df["backend"])] if "params" in df else None
    if keep is not None and any(keep):
        df = df[keep]
    df = df[pd.to_numeric(df["value"], errors="coerce") > 0].reset_index(drop=True)
    ctx = base.context
    sku = str(ctx.get("device") or df["device"].iloc[0])
    rng = np.random.default_rng(seed)
    n_units, n_metrics = n_nodes * gpus_per_node, len(df)
    # real relative noise: each metric's raw samples / their median
    rel = []
    for s in df["samples_s"]:
        s = np.asarray(s if isinstance(s, (list, tuple, np.ndarray)) else [], dtype=float)
        s = s[np.isfinite(s) & (s > 0)]
        rel.append(s / np.median(s) if len(s) else np.ones(1))
    # a unit reports the median of its samples: bootstrap that median from the real samples
    draws = np.column_stack([
        np.median(r[rng.integers(0, len(r), (n_units, min(len(r), BOOTSTRAP_SAMPLES)))], axis=1)
        for r in rel])
    unit_factor = rng.normal(1.0, UNIT_SPREAD_SIGMA, n_units).clip(0.8, 1.2)
    slow = rng.random(n_units) < slow_fraction
    extra = np.where(slow, rng.uniform(*slowdown, n_units), 0.0)
    time_factor = draws * (unit_factor * (1 + extra))[:, None]        # units x metrics
    units_s = df["unit"].astype(str).to_numpy()
    is_rate = np.array([u.endswith("/s") for u in units_s])
    is_time = units_s == "s"
    values = np.tile(df["value"].to_numpy(dtype=float), (n_units, 1))
    values = np.where(is_rate, values / time_factor, values)
    values = np.where(is_time, values * time_factor, values)
    hosts = np.array([f"sim-node-{i:04d}" for i in range(n_nodes)])
    host = np.repeat(hosts, gpus_per_node)
    gpu = np.tile(np.arange(gpus_per_node), n_nodes)
    unit_id = np.char.add(np.char.add(host, "/gpu"), gpu.astype(str))
    one = records_from_units([{"unit_id": "u"}], [df.to_dict(orient="records")])
    fleet_id = f"fleet-simulated-{n_nodes}x{gpus_per_node}-seed{seed}"
    rec = pd.DataFrame({
        "fleet_id": fleet_id,
        "unit_id": np.repeat(unit_id, n_metrics), "host": np.repeat(host, n_metrics),
        "worker": np.repeat(host, n_metrics), "gpu_index": np.repeat(gpu, n_metrics),
        "gpu_uuid": np.repeat(np.char.add("GPU-sim-", unit_id), n_metrics),
        "gpu_serial": None, "driver_version": ctx.get("driver_version"), "sku": sku,
        "backend": "cupy", "sm_clock_mhz": (ctx.get("nvml") or {}).get("sm_clock_mhz"),
        "mem_clock_mhz": (ctx.get("nvml") or {}).get("mem_clock_mhz"),
        "max_sm_clock_mhz": (ctx.get("nvml") or {}).get("max_sm_clock_mhz"),
        "throttle_reasons": None, "simulated": True,
        "kind": np.tile(one["kind"].to_numpy(), n_units),
        "name": np.tile(one["name"].to_numpy(), n_units),
        "dtype": np.tile(one["dtype"].to_numpy(), n_units),
        "shape": np.tile(one["shape"].to_numpy(), n_units),
        "metric": np.tile(one["metric"].to_numpy(), n_units),
        "value": values.ravel(), "unit": np.tile(units_s, n_units),
    }).reindex(columns=RECORD_COLUMNS)
    units = rec.drop_duplicates("unit_id")[["fleet_id", "unit_id", "host", "worker", "gpu_index",
                                            "gpu_uuid", "gpu_serial", "driver_version", "sku",
                                            "backend", "simulated"]].reset_index(drop=True)
    units["status"] = "ok"
    units["reason"] = None
    units["simulated_slow"] = slow
    units["simulated_slowdown_pct"] = 100 * extra
    return FleetRun(fleet_id=fleet_id, suite=f"{suite} (simulated from {path.name if hasattr(path, 'name') else path})",
                    records=rec, units=units)
