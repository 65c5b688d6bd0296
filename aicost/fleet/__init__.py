"""Fleets: the compute suite on every GPU of many nodes through Dask, slow units, $ per work.

>>> import aicost.fleet as fleet                                       # doctest: +SKIP
>>> run = fleet.bench("tcp://scheduler:8786", suite="quick")           # doctest: +SKIP
>>> an = fleet.analyze(run)          # p5/median/p95, MAD scores, stragglers (DuckDB SQL)
>>> fleet.price_per_node(run)        # $ per measured bf16 PFLOP-hour and TB/s-hour
>>> fleet.efficiency(run, percentile=50)   # measured efficiency per SKU for the planner
>>> fleet.bench(client, workers=run.missing)   # rerun only the failed workers
>>> fleet.bench(client, "smoke", storage="/scratch", network=True)  # + storage, TCP ring

Workers measure; the client alone writes the results store, one transaction per fleet run.
Needs the ``fleet`` extra (Dask distributed); ``dask-cuda`` (``gpu`` extra) gives one worker
per GPU. Recipes for SLURM and Kubernetes: docs/fleet.md.
"""

from __future__ import annotations

from ._analyze import (
    DEFAULT_MIN_SLOWER_PCT,
    DEFAULT_THRESHOLD,
    FleetAnalysis,
    analyze,
    analyze_stored,
    efficiency,
    load,
    price_per_node,
)
from ._bench import (
    RECORD_COLUMNS,
    UNIT_COLUMNS,
    FleetError,
    FleetRun,
    bench,
    local_cluster,
    records_from_units,
    run,
    save,
)
from ._nccl_pairs import flag_slow_pairs, nccl_pairs
from ._simulate import simulate_fleet
from ._worker import (
    FLEET_SUITES,
    STORAGE_PATTERNS,
    gpu_inventory,
    probe,
    run_unit,
    storage_records,
)

__all__ = [
    "DEFAULT_MIN_SLOWER_PCT",
    "DEFAULT_THRESHOLD",
    "FLEET_SUITES",
    "FleetAnalysis",
    "FleetError",
    "FleetRun",
    "RECORD_COLUMNS",
    "STORAGE_PATTERNS",
    "UNIT_COLUMNS",
    "analyze",
    "analyze_stored",
    "bench",
    "efficiency",
    "flag_slow_pairs",
    "gpu_inventory",
    "load",
    "local_cluster",
    "nccl_pairs",
    "price_per_node",
    "probe",
    "records_from_units",
    "run",
    "run_unit",
    "save",
    "simulate_fleet",
    "storage_records",
]
