"""Models on top of the catalog's storage tiers: data loading, checkpoints, storage cost.

A storage tier (``aicost.catalog.StorageTier``) has a read throughput whose meaning depends on
``throughput_basis``: ``volume`` (one provisioned volume, e.g. EBS gp3), ``per_tib`` (scales with
provisioned capacity, e.g. FSx for Lustre) or ``per_node`` (per client node, e.g. object
stores whose aggregate grows with the number of readers), capped by
``max_throughput_bytes_per_s``; likewise IOPS (capped by ``max_iops``) and a first-byte latency.
Local storage (``kind == "local"``, instance NVMe) is per node whatever its basis: every node
reads its own drives.

Data loading follows MLPerf Storage / DLIO: the accelerators are emulated by their compute time
per step, the loader prefetches in the background, and the accelerator utilization is
``AU = total compute time / total wall time`` (MLPerf Storage rules, v1.0). With perfect
overlap of I/O and compute a step takes ``max(compute time, I/O time)``, so
``AU = min(1, storage rate / demand rate)``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from .._units import GB, GIB, HOURS_PER_MONTH, TIB, format_bytes

__all__ = [
    "HOURS_PER_MONTH",
    "MLPERF_STORAGE_AU_THRESHOLDS",
    "PAGE_CACHE_FRACTION",
    "CheckpointEstimate",
    "DataLoadingEstimate",
    "StorageCost",
    "checkpoint_estimate",
    "checkpoint_time",
    "data_loading",
    "storage_cost",
    "storage_cost_over_time",
    "tier_iops",
    "tier_throughput",
]

#: Accelerator-utilization pass thresholds of the MLPerf Storage benchmark rules (v1.0, 2024):
#: unet3d and resnet50 must keep AU >= 90 %, cosmoflow >= 70 %.
MLPERF_STORAGE_AU_THRESHOLDS = {"unet3d": 0.90, "resnet50": 0.90, "cosmoflow": 0.70}
#: Share of a node's RAM the page cache can use for the dataset (the rest holds the training
#: process, pinned buffers, the OS). MLPerf Storage sizes datasets at >= 5x RAM precisely so
#: that they cannot be cached; below this fraction of RAM a dataset is cached after one epoch.
PAGE_CACHE_FRACTION = 0.8
#: Checkpoint writers per node when only the writer count is given (one per GPU, 8-GPU nodes).
DEFAULT_WRITERS_PER_NODE = 8
#: Multipart upload part size used to count PUT requests of object-store checkpoints [B]
#: (a common S3 client default is 8-64 MiB; 64 MiB keeps the request count conservative-low).
DEFAULT_PART_BYTES = 64 * 2**20


def _tier(tier, catalog=None):
    """Return a StorageTier record for a name or a record."""
    if isinstance(tier, str):
        if catalog is None:
            from .. import catalog as _catalog

            catalog = _catalog.load()
        return catalog.storage_tier(tier)
    return tier


def _get(tier, name, default=None):
    if isinstance(tier, dict):
        v = tier.get(name, default)
    else:
        v = getattr(tier, name, default)
    if v is None:
        return default
    try:
        if isinstance(v, float) and math.isnan(v):
            return default
    except TypeError:
        pass
    return v


def _is_local(tier) -> bool:
    """Local (instance) storage: every node has its own, so it scales with nodes."""
    return str(_get(tier, "kind", "")) == "local"


def _capacity_tib(tier, capacity_bytes, fallback_bytes):
    cap = np.asarray(fallback_bytes if capacity_bytes is None else capacity_bytes, dtype=float)
    min_gib = _get(tier, "min_capacity_gib", 0.0) or 0.0
    return np.maximum(cap, float(min_gib) * GIB) / TIB


def tier_throughput(tier, *, capacity_bytes=None, nodes=1, catalog=None):
    """Aggregate read throughput a tier delivers [B/s].

    Parameters
    ----------
    tier : StorageTier or str
        Catalog record or name.
    capacity_bytes : float or array [B], optional
        Provisioned capacity (``per_tib`` tiers); defaults to the tier's minimum capacity.
    nodes : int or array
        Client nodes reading at once (``per_node`` tiers).

    Returns
    -------
    float or numpy.ndarray [B/s]
    """
    tier = _tier(tier, catalog)
    base = float(_get(tier, "throughput_bytes_per_s", 0.0))
    basis = str(_get(tier, "throughput_basis", "volume"))
    nodes_arr = np.asarray(nodes, dtype=float)
    if np.any(nodes_arr < 1):
        raise ValueError(f"nodes must be >= 1, got {nodes!r}")
    if basis == "per_tib":
        bw = base * _capacity_tib(tier, capacity_bytes, 0.0)
    elif basis == "per_node" or _is_local(tier):
        bw = base * nodes_arr
    else:
        bw = np.asarray(base, dtype=float)
    cap = _get(tier, "max_throughput_bytes_per_s")
    if cap:
        bw = np.minimum(bw, float(cap) * (nodes_arr if _is_local(tier) else 1.0))
    bw = np.broadcast_to(bw, np.broadcast_shapes(np.shape(bw), nodes_arr.shape)) * 1.0
    return float(bw) if np.ndim(bw) == 0 else bw


def tier_iops(tier, *, capacity_bytes=None, nodes=1, catalog=None):
    """Aggregate operations (requests) per second a tier serves [1/s]; ``inf`` when unknown.

    IOPS follow the throughput basis: ``per_tib`` tiers scale with capacity, ``per_node`` tiers
    (object stores: request rates scale with prefixes and clients) with nodes; ``max_iops``
    caps them.
    """
    tier = _tier(tier, catalog)
    base = _get(tier, "iops")
    if not base:
        return math.inf
    basis = str(_get(tier, "throughput_basis", "volume"))
    if basis == "per_tib":
        val = float(base) * _capacity_tib(tier, capacity_bytes, 0.0)
    elif basis == "per_node" or _is_local(tier):
        val = float(base) * np.asarray(nodes, dtype=float)
    else:
        val = np.asarray(float(base))
    cap = _get(tier, "max_iops")
    if cap:
        val = np.minimum(val, float(cap) * (np.asarray(nodes, float) if _is_local(tier) else 1.0))
    return float(val) if np.ndim(val) == 0 else val


# ----------------------------------------------------------------------------- data loading
@dataclass(frozen=True)
class DataLoadingEstimate:
    """Can a storage tier feed the accelerators? (MLPerf Storage accelerator utilization)

    Attributes
    ----------
    tier : str
    n_gpus, nodes : int
    demand_samples_per_s : float
        Samples/s the accelerators consume at full speed [1/s].
    storage_samples_per_s : float
        Samples/s the tier delivers [1/s] (the smallest of the limits below).
    throughput_limit_samples_per_s, iops_limit_samples_per_s, latency_limit_samples_per_s : float
        Each limit on its own [1/s] (``inf`` when it does not apply).
    limit : str
        ``throughput``, ``iops`` or ``latency``: what bounds the storage rate.
    required_bytes_per_s, tier_bytes_per_s : float
        Read bandwidth the GPUs need and the tier's aggregate bandwidth [B/s].
    au_first_epoch : float
        Accelerator utilization while reading from the tier, in [0, 1].
    au_cached : float
        Utilization once the data is cached (1 when it fits in RAM or local NVMe, else equal to
        ``au_first_epoch``).
    au_average : float
        Utilization over ``epochs`` epochs.
    au_threshold : float
        Target (MLPerf Storage: 0.9 for unet3d and resnet50).
    meets_threshold : bool
        ``au_first_epoch >= au_threshold`` (the storage itself keeps up).
    bottleneck : str
        ``storage`` or ``compute``.
    fits_in_ram, fits_in_local_nvme : bool
        Whether one node can cache the whole dataset (page cache or a local NVMe copy).
    max_gpus_at_threshold : int or float
        Most GPUs this tier keeps at ``au_threshold`` with this workload (``inf`` when it
        scales with the nodes and keeps up at any size searched, up to 131,071 GPUs).
    epochs : int
    """

    tier: str
    n_gpus: int
    nodes: int
    demand_samples_per_s: float
    storage_samples_per_s: float
    throughput_limit_samples_per_s: float
    iops_limit_samples_per_s: float
    latency_limit_samples_per_s: float
    limit: str
    required_bytes_per_s: float
    tier_bytes_per_s: float
    au_first_epoch: float
    au_cached: float
    au_average: float
    au_threshold: float
    meets_threshold: bool
    bottleneck: str
    fits_in_ram: bool
    fits_in_local_nvme: bool
    max_gpus_at_threshold: int | float
    epochs: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __str__(self) -> str:
        verdict = "keeps up" if self.meets_threshold else "cannot keep up"
        cache = (" The dataset fits in RAM, so later epochs come from the page cache."
                 if self.fits_in_ram else
                 " The dataset fits on local NVMe (stage it there)." if self.fits_in_local_nvme else "")
        return (
            f"{self.tier} {verdict} with {self.n_gpus} GPUs: they need "
            f"{self.required_bytes_per_s / 1e9:,.2f} GB/s ({self.demand_samples_per_s:,.0f} "
            f"samples/s), the tier delivers {self.storage_samples_per_s:,.0f} samples/s "
            f"(limited by {self.limit}); AU {self.au_first_epoch:.1%} "
            f"(target {self.au_threshold:.0%}), bottleneck: {self.bottleneck}; "
            + ("any number of GPUs reaches the target (it scales with nodes)."
               if math.isinf(self.max_gpus_at_threshold) else
               f"up to {self.max_gpus_at_threshold:,} GPUs reach the target."
               if self.max_gpus_at_threshold else "not even one GPU reaches the target.")
            + cache
        )

    def _repr_html_(self) -> str:
        return f"<p>{self}</p>"


def data_loading(
    tier,
    *,
    dataset_bytes: float,
    sample_bytes: float,
    n_gpus: int,
    step_time_s: float,
    samples_per_step: float,
    gpus_per_node: int = 8,
    reads_per_sample: float = 1.0,
    capacity_bytes: float | None = None,
    ram_bytes_per_node: float | None = None,
    local_nvme_bytes_per_node: float | None = None,
    io_concurrency: int | None = None,
    au_threshold: float = MLPERF_STORAGE_AU_THRESHOLDS["unet3d"],
    epochs: int = 1,
    catalog=None,
) -> DataLoadingEstimate:
    """Estimate whether a storage tier can feed ``n_gpus`` accelerators.

    Parameters
    ----------
    tier : StorageTier or str
        Catalog record or name.
    dataset_bytes : float [B]
        Dataset size.
    sample_bytes : float [B]
        Bytes read per sample (after the file format: a 140 MB unet3d volume, a 150 KB JPEG).
    n_gpus : int
        Accelerators reading.
    step_time_s : float [s]
        Compute time of one training step (the accelerator's busy time).
    samples_per_step : float
        Samples each accelerator consumes per step (per-GPU batch size).
    gpus_per_node : int
        Accelerators per node (sets the node count for ``per_node`` tiers and caching).
    reads_per_sample : float
        Storage requests per sample (1 for one file per sample; < 1 for packed formats such as
        TFRecord shards read in large blocks; > 1 when a sample spans several reads).
    capacity_bytes : float [B], optional
        Provisioned capacity (``per_tib`` tiers scale throughput with it); default: the
        dataset size.
    ram_bytes_per_node, local_nvme_bytes_per_node : float [B], optional
        Per-node RAM and local NVMe, to decide whether the data is cached after one epoch.
    io_concurrency : int, optional
        Requests in flight over the whole job (loader workers x prefetch). With the tier's
        latency it bounds the rate by Little's law (``concurrency / latency``); None: no bound.
    au_threshold : float
        Target utilization (MLPerf Storage: 0.9 for unet3d and resnet50, 0.7 for cosmoflow).
    epochs : int
        Epochs, for the average utilization when later epochs are served from a cache.

    Returns
    -------
    DataLoadingEstimate

    Examples
    --------
    8 GPUs, 4 samples of 100 MB per step of 0.5 s need 8*4/0.5 = 64 samples/s = 6.4 GB/s;
    a 3.2 GB/s volume gives 32 samples/s, so AU = 50 % and storage is the bottleneck.
    """
    tier = _tier(tier, catalog)
    for name, v in (("dataset_bytes", dataset_bytes), ("sample_bytes", sample_bytes),
                    ("step_time_s", step_time_s), ("samples_per_step", samples_per_step),
                    ("reads_per_sample", reads_per_sample)):
        if not (isinstance(v, (int, float, np.number)) and v > 0 and math.isfinite(v)):
            raise ValueError(f"{name} must be a positive number, got {v!r}")
    if int(n_gpus) != n_gpus or n_gpus < 1:
        raise ValueError(f"n_gpus must be a whole number >= 1, got {n_gpus!r}")
    if int(gpus_per_node) != gpus_per_node or gpus_per_node < 1:
        raise ValueError(f"gpus_per_node must be a whole number >= 1, got {gpus_per_node!r}")
    if not 0 < au_threshold <= 1:
        raise ValueError(f"au_threshold must be in (0, 1], got {au_threshold!r}")
    if int(epochs) != epochs or epochs < 1:
        raise ValueError(f"epochs must be a whole number >= 1, got {epochs!r}")
    if io_concurrency is not None and io_concurrency < 1:
        raise ValueError(f"io_concurrency must be >= 1, got {io_concurrency!r}")
    n_gpus, gpus_per_node = int(n_gpus), int(gpus_per_node)
    nodes = math.ceil(n_gpus / gpus_per_node)
    cap = dataset_bytes if capacity_bytes is None else capacity_bytes

    per_gpu_demand = samples_per_step / step_time_s
    demand = n_gpus * per_gpu_demand

    def rate(n_nodes):
        bw = tier_throughput(tier, capacity_bytes=cap, nodes=n_nodes)
        io = tier_iops(tier, capacity_bytes=cap, nodes=n_nodes)
        by_bw = np.asarray(bw, dtype=float) / sample_bytes
        by_iops = np.asarray(io, dtype=float) / reads_per_sample
        lat = _get(tier, "latency_s")
        if io_concurrency is not None and lat:
            by_lat = np.full_like(by_bw, io_concurrency / float(lat) / reads_per_sample)
        else:
            by_lat = np.full_like(by_bw, np.inf)
        return bw, by_bw, by_iops, by_lat

    bw, by_bw, by_iops, by_lat = (np.asarray(x, dtype=float) for x in rate(nodes))
    limits = {"throughput": float(by_bw), "iops": float(by_iops), "latency": float(by_lat)}
    limit = min(limits, key=limits.get)
    supply = limits[limit]
    au1 = min(1.0, supply / demand)

    ram_cache = (ram_bytes_per_node or 0.0) * PAGE_CACHE_FRACTION
    fits_ram = ram_bytes_per_node is not None and dataset_bytes <= ram_cache
    fits_nvme = local_nvme_bytes_per_node is not None and dataset_bytes <= local_nvme_bytes_per_node
    au_cached = 1.0 if (fits_ram or fits_nvme) else au1
    au_avg = epochs / (1.0 / au1 + (epochs - 1) / au_cached)

    # the most GPUs kept at the threshold: evaluate every GPU count at once
    counts = np.arange(1, 1 << 17, dtype=float)
    _, b2, i2, l2 = rate(np.ceil(counts / gpus_per_node))
    supply_n = np.minimum(np.minimum(b2, i2), l2)
    ok = supply_n >= au_threshold * counts * per_gpu_demand
    if ok.all():  # the tier scales with nodes and keeps up at every count searched
        max_gpus: float = math.inf
    else:
        max_gpus = int(counts[ok].max()) if ok.any() else 0

    return DataLoadingEstimate(
        tier=str(_get(tier, "name", "tier")), n_gpus=n_gpus, nodes=nodes,
        demand_samples_per_s=float(demand), storage_samples_per_s=float(supply),
        throughput_limit_samples_per_s=limits["throughput"],
        iops_limit_samples_per_s=limits["iops"], latency_limit_samples_per_s=limits["latency"],
        limit=limit, required_bytes_per_s=float(demand * sample_bytes),
        tier_bytes_per_s=float(bw), au_first_epoch=float(au1), au_cached=float(au_cached),
        au_average=float(au_avg), au_threshold=float(au_threshold),
        meets_threshold=bool(au1 >= au_threshold), bottleneck="storage" if au1 < 1.0 else "compute",
        fits_in_ram=bool(fits_ram), fits_in_local_nvme=bool(fits_nvme),
        max_gpus_at_threshold=max_gpus, epochs=int(epochs),
    )


# ----------------------------------------------------------------------------- checkpoints
@dataclass(frozen=True)
class CheckpointEstimate:
    """Checkpoint write and read time on one tier.

    Attributes
    ----------
    tier : str
    checkpoint_bytes : float [B]
    n_writers : int
    aggregate_bytes_per_s : float
        Bandwidth the writers get together [B/s].
    write_s, read_s : float
        Time to write and to read back the checkpoint [s].
    """

    tier: str
    checkpoint_bytes: float
    n_writers: int
    aggregate_bytes_per_s: float
    write_s: float
    read_s: float

    def __str__(self) -> str:
        return (f"{format_bytes(self.checkpoint_bytes, binary=False)} checkpoint on {self.tier} "
                f"with {self.n_writers} writers: write {self.write_s:,.1f} s, read "
                f"{self.read_s:,.1f} s at {self.aggregate_bytes_per_s / 1e9:,.2f} GB/s")


def checkpoint_time(
    checkpoint_bytes,
    tier,
    *,
    n_writers=1,
    writers_per_node: int = DEFAULT_WRITERS_PER_NODE,
    per_writer_bytes_per_s=None,
    capacity_bytes=None,
    write_fraction: float = 1.0,
    direction: str = "write",
    catalog=None,
):
    """Time to write (or read) a checkpoint on a tier with ``n_writers`` parallel writers [s].

    ``time = latency + checkpoint_bytes / min(tier aggregate, n_writers * per-writer limit)``.
    Vectorized over ``checkpoint_bytes`` and ``n_writers`` (NumPy broadcasting).

    Parameters
    ----------
    checkpoint_bytes : float or array [B]
    tier : StorageTier or str
    n_writers : int or array
        Processes writing shards at once (e.g. one per GPU, or one per data-parallel group).
    writers_per_node : int
        Writers per node: ``per_node`` tiers scale with ``ceil(n_writers / writers_per_node)``.
    per_writer_bytes_per_s : float, optional [B/s]
        Limit of one writer (a single stream's throughput, a NIC share); None: no limit.
    capacity_bytes : float, optional [B]
        Provisioned capacity for ``per_tib`` tiers (default: the tier minimum, at least the
        checkpoint size).
    write_fraction : float
        Write bandwidth as a fraction of the catalog's read bandwidth (1: symmetric, as
        published for EBS, FSx for Lustre and S3 request rates).
    direction : {"write", "read"}

    Returns
    -------
    float or numpy.ndarray [s]
    """
    tier = _tier(tier, catalog)
    if direction not in ("write", "read"):
        raise ValueError(f"direction must be 'write' or 'read', got {direction!r}")
    if not 0 < write_fraction <= 1:
        raise ValueError(f"write_fraction must be in (0, 1], got {write_fraction!r}")
    size = np.asarray(checkpoint_bytes, dtype=float)
    writers = np.asarray(n_writers, dtype=float)
    if np.any(size < 0):
        raise ValueError("checkpoint_bytes must be >= 0")
    if np.any(writers < 1) or np.any(writers != np.floor(writers)):
        raise ValueError(f"n_writers must be whole numbers >= 1, got {n_writers!r}")
    nodes = np.ceil(writers / writers_per_node)
    cap = np.maximum(size, 0.0) if capacity_bytes is None else capacity_bytes
    bw = np.asarray(tier_throughput(tier, capacity_bytes=cap, nodes=nodes), dtype=float)
    if direction == "write":
        bw = bw * write_fraction
    if per_writer_bytes_per_s is not None:
        bw = np.minimum(bw, writers * float(per_writer_bytes_per_s))
    if np.any(bw <= 0):
        raise ValueError(
            f"tier {_get(tier, 'name', '?')!r} has no throughput for this capacity; "
            "pass capacity_bytes for a per-TiB tier")
    lat = float(_get(tier, "latency_s", 0.0) or 0.0)
    t = lat + size / bw
    t = np.where(size > 0, t, 0.0)
    return float(t) if np.ndim(t) == 0 else t


def checkpoint_estimate(checkpoint_bytes: float, tier, *, n_writers: int = 1, catalog=None,
                        **kwargs) -> CheckpointEstimate:
    """Return a :class:`CheckpointEstimate` (write and read time) for one checkpoint."""
    tier = _tier(tier, catalog)
    w = checkpoint_time(checkpoint_bytes, tier, n_writers=n_writers, direction="write", **kwargs)
    r = checkpoint_time(checkpoint_bytes, tier, n_writers=n_writers, direction="read", **kwargs)
    lat = float(_get(tier, "latency_s", 0.0) or 0.0)
    agg = checkpoint_bytes / (r - lat) if r > lat else math.inf
    return CheckpointEstimate(str(_get(tier, "name", "tier")), float(checkpoint_bytes),
                              int(n_writers), float(agg), float(w), float(r))


# ----------------------------------------------------------------------------- cost
@dataclass(frozen=True)
class StorageCost:
    """Storage cost over a period.

    Attributes
    ----------
    tier : str
    billed_gb : float
        Billed capacity [GB, decimal] (stored bytes, or the provisioned/minimum capacity).
    months : float
        Period [billing months of 730 h].
    capacity_usd, request_usd, total_usd : float [USD]
    usd_per_month : float [USD/month]
    """

    tier: str
    billed_gb: float
    months: float
    capacity_usd: float
    request_usd: float
    total_usd: float
    usd_per_month: float


def storage_cost(
    tier,
    *,
    dataset_bytes: float = 0.0,
    checkpoint_bytes: float = 0.0,
    checkpoints_kept: int = 1,
    duration_s: float = HOURS_PER_MONTH * 3600.0,
    capacity_bytes: float | None = None,
    put_requests: float = 0.0,
    get_requests: float = 0.0,
    catalog=None,
) -> StorageCost:
    """Cost of keeping a dataset and checkpoints on a tier for ``duration_s``.

    Capacity is billed at ``price_usd_per_gb_month`` on the larger of what is stored, the
    provisioned ``capacity_bytes`` and the tier's minimum capacity; requests at the tier's
    $ per 1,000 PUT and GET.

    Parameters
    ----------
    tier : StorageTier or str
    dataset_bytes, checkpoint_bytes : float [B]
    checkpoints_kept : int
        Checkpoints retained at once.
    duration_s : float [s]
        Default: one billing month (730 h).
    capacity_bytes : float [B], optional
        Provisioned capacity (block and file tiers bill what is provisioned).
    put_requests, get_requests : float
        Request counts over the period.

    Returns
    -------
    StorageCost
    """
    tier = _tier(tier, catalog)
    if checkpoints_kept < 0 or dataset_bytes < 0 or checkpoint_bytes < 0 or duration_s < 0:
        raise ValueError("sizes, counts and duration must be >= 0")
    stored = dataset_bytes + checkpoint_bytes * checkpoints_kept
    min_bytes = float(_get(tier, "min_capacity_gib", 0.0) or 0.0) * GIB
    billed = max(stored, capacity_bytes or 0.0, min_bytes if stored > 0 else 0.0)
    months = duration_s / 3600.0 / HOURS_PER_MONTH
    price = float(_get(tier, "price_usd_per_gb_month", 0.0) or 0.0)
    capacity_usd = billed / GB * price * months
    put_price = float(_get(tier, "price_usd_per_1k_put", 0.0) or 0.0)
    get_price = float(_get(tier, "price_usd_per_1k_get", 0.0) or 0.0)
    request_usd = put_requests / 1000.0 * put_price + get_requests / 1000.0 * get_price
    total = capacity_usd + request_usd
    return StorageCost(str(_get(tier, "name", "tier")), billed / GB, months, capacity_usd,
                       request_usd, total, total / months if months > 0 else 0.0)


def storage_cost_over_time(
    tier,
    *,
    dataset_bytes: float,
    checkpoint_bytes: float,
    checkpoint_interval_s: float,
    duration_s: float,
    checkpoints_kept: int | None = None,
    step_s: float = 86400.0,
    part_bytes: float = DEFAULT_PART_BYTES,
    catalog=None,
):
    """Day-by-day storage cost of a training run that writes checkpoints periodically.

    Parameters
    ----------
    tier : StorageTier or str
    dataset_bytes : float [B]
    checkpoint_bytes : float [B]
        Size of one checkpoint.
    checkpoint_interval_s : float [s]
    duration_s : float [s]
        Length of the run.
    checkpoints_kept : int, optional
        Keep only the newest N checkpoints (None: keep all).
    step_s : float [s]
        Time step of the table (default one day).
    part_bytes : float [B]
        Multipart part size: each checkpoint costs ``ceil(size / part)`` PUT requests.

    Returns
    -------
    pandas.DataFrame
        ``time_s, day, checkpoints_stored, stored_bytes, capacity_usd, request_usd,
        cumulative_usd``.
    """
    import pandas as pd

    tier = _tier(tier, catalog)
    if checkpoint_interval_s <= 0 or duration_s <= 0 or step_s <= 0:
        raise ValueError("checkpoint_interval_s, duration_s and step_s must be positive")
    edges = np.arange(step_s, duration_s + step_s, step_s)
    edges[-1] = min(edges[-1], duration_s)
    starts = np.concatenate([[0.0], edges[:-1]])
    written = np.floor(edges / checkpoint_interval_s)
    stored_ckpt = written if checkpoints_kept is None else np.minimum(written, checkpoints_kept)
    stored = dataset_bytes + stored_ckpt * checkpoint_bytes
    price = float(_get(tier, "price_usd_per_gb_month", 0.0) or 0.0)
    min_bytes = float(_get(tier, "min_capacity_gib", 0.0) or 0.0) * GIB
    billed = np.maximum(stored, min_bytes)
    months = (edges - starts) / 3600.0 / HOURS_PER_MONTH
    capacity_usd = billed / GB * price * months
    new_ckpts = np.diff(np.concatenate([[0.0], written]))
    puts = new_ckpts * math.ceil(checkpoint_bytes / part_bytes) if checkpoint_bytes else 0 * new_ckpts
    request_usd = puts / 1000.0 * float(_get(tier, "price_usd_per_1k_put", 0.0) or 0.0)
    total = capacity_usd + request_usd
    return pd.DataFrame({
        "time_s": edges, "day": edges / 86400.0, "checkpoints_stored": stored_ckpt.astype(int),
        "stored_bytes": stored, "capacity_usd": capacity_usd, "request_usd": request_usd,
        "cumulative_usd": np.cumsum(total),
    })
