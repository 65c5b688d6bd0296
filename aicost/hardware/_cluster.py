"""Resolving a cluster: which accelerator, fabrics, efficiencies and price it gets.

`Cluster` is the question ("8 x H100-SXM on an NVLink node, on demand"); `resolve_hardware`
answers it with a `Hardware` record of SI numbers and the source of each: peak FLOP/s, memory
and memory bandwidth from ``aicost.catalog``, the fabrics' bandwidths and latencies (defaults in
:mod:`aicost.hardware._fabric`), the price from the cheapest matching catalog instance, and the
compute and collective efficiencies from ``aicost.calibrate`` (measured when the results store
has them, documented defaults otherwise). ``aicost.model.estimate_training`` and the planner's
offers table (`offers_table`) both resolve hardware here.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from .._checks import check_positive, positive_int
from .._units import GIB, normalize_dtype
from ..calibrate import TRAINING_KERNEL_FACTOR, collective_efficiency, gemm_efficiency
from ..calibrate_curves import compute_units, gemm_curve
from ._fabric import DEFAULT_SCALE_OUT_LATENCY_S, DEFAULT_SCALE_UP_LATENCY_S

__all__ = [
    "Cluster",
    "Hardware",
    "load_catalog",
    "pick_instance",
    "resolve_hardware",
]


def load_catalog(catalog=None):
    """``catalog``, or the shipped one (``aicost.catalog.load()``) when None."""
    if catalog is not None:
        return catalog
    from .. import catalog as _cat

    return _cat.load()


@dataclass(frozen=True)
class Cluster:
    """Where to train: an accelerator type, a GPU count, the fabrics and the price.

    Names are looked up in the catalog (``aicost.catalog.load()``); the explicit SI fields
    override catalog values (and let the model run without a catalog).

    Parameters
    ----------
    accelerator : str
        Catalog accelerator name (aliases work).
    gpus, gpus_per_node : int
    scale_up, scale_out : str, optional
        Catalog fabric names (inside a node / between nodes). Defaults: the accelerator's
        scale-up bandwidth; the instance's scale-out fabric or network when ``instance`` is set.
    pricing : {"on_demand", "spot", "reserved_1y"}
    price_usd_per_gpu_hour : float, optional
        Overrides the catalog price [USD per GPU-hour].
    instance : str, optional
        Catalog instance type to price from (default: the cheapest instance with this
        accelerator at ``pricing``).
    storage_tier : str, optional
        Catalog storage tier the checkpoints are written to.
    efficiency : float, optional
        End-to-end compute efficiency (fraction of peak while computing); overrides
        ``gemm_efficiency x TRAINING_KERNEL_FACTOR``.
    preemptions_per_node_hour : float, optional
        Spot preemption rate [1/(node h)]; default ``DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR``
        on spot, 0 otherwise.
    peak_flops_per_s, memory_bytes, mem_bw_bytes_per_s, scale_up_bw_bytes_per_s,
    scale_up_latency_s, scale_out_bw_bytes_per_s, scale_out_latency_s,
    checkpoint_write_bytes_per_s : float, optional
        Explicit hardware numbers (SI; scale-out bandwidth per GPU; checkpoint write rate of
        the whole job).
    scale_up_domain_gpus : int, optional
        GPUs one scale-up (NVLink-class) fabric joins, the limit of tensor and expert parallelism
        (72 for a GB200/GB300 NVL72 rack of 4-GPU instances). Default: the ``scale_up`` fabric's
        domain, else the catalog instance's (``Catalog.scale_up_domain_gpus``) when it has
        ``gpus_per_node`` GPUs, else ``gpus_per_node``.
    """

    accelerator: str = "H100-SXM"
    gpus: int = 8
    gpus_per_node: int = 8
    scale_up: str | None = None
    scale_out: str | None = None
    pricing: str = "on_demand"
    price_usd_per_gpu_hour: float | None = None
    instance: str | None = None
    storage_tier: str | None = None
    efficiency: float | None = None
    preemptions_per_node_hour: float | None = None
    peak_flops_per_s: float | None = None
    memory_bytes: float | None = None
    mem_bw_bytes_per_s: float | None = None
    scale_up_bw_bytes_per_s: float | None = None
    scale_up_latency_s: float | None = None
    scale_out_bw_bytes_per_s: float | None = None
    scale_out_latency_s: float | None = None
    checkpoint_write_bytes_per_s: float | None = None
    scale_up_domain_gpus: int | None = None

    def __post_init__(self) -> None:
        positive_int("Cluster.gpus", self.gpus)
        positive_int("Cluster.gpus_per_node", self.gpus_per_node)
        if self.scale_up_domain_gpus is not None:
            positive_int("Cluster.scale_up_domain_gpus", self.scale_up_domain_gpus)
            if self.scale_up_domain_gpus < self.gpus_per_node:
                raise ValueError(f"Cluster.scale_up_domain_gpus={self.scale_up_domain_gpus} is smaller than "
                                 f"gpus_per_node={self.gpus_per_node}; a scale-up domain holds whole nodes")
        for name in ("price_usd_per_gpu_hour", "preemptions_per_node_hour"):
            v = getattr(self, name)
            if v is not None:
                check_positive(f"Cluster.{name}", v, allow_zero=True)
        if self.efficiency is not None and not 0 < self.efficiency <= 1:
            raise ValueError(f"Cluster.efficiency must be in (0, 1], got {self.efficiency!r}")
        for name in ("peak_flops_per_s", "memory_bytes", "mem_bw_bytes_per_s", "scale_up_bw_bytes_per_s",
                     "scale_out_bw_bytes_per_s", "checkpoint_write_bytes_per_s"):
            v = getattr(self, name)
            if v is not None:
                check_positive(f"Cluster.{name}", v)

    @property
    def nodes(self) -> int:
        return math.ceil(self.gpus / self.gpus_per_node)


@dataclass(frozen=True)
class Hardware:
    """Resolved numbers for a :class:`Cluster` (SI) and where each came from."""

    accelerator: str
    dtype: str
    peak_flops_per_s: float
    memory_bytes: float
    mem_bw_bytes_per_s: float
    scale_up_bw_bytes_per_s: float
    scale_up_latency_s: float
    scale_out_bw_bytes_per_s: float
    scale_out_latency_s: float
    price_usd_per_gpu_hour: float
    gemm_efficiency: float
    compute_efficiency: float
    comm_efficiency: float = 1.0
    storage_tier: object = None
    sources: dict = field(default_factory=dict, compare=False)
    #: GPUs one scale-up fabric joins (tensor/expert parallelism limit) [GPUs]; None = GPUs per node
    scale_up_domain_gpus: int | None = None
    #: the accelerator's GEMM curve (``aicost.calibrate_curves.gemm_curve``) behind the shape-aware
    #: training efficiency (``shape_aware_efficiency``); None when ``Cluster.efficiency`` is given
    gemm_curve: object = None
    #: peak the attention core runs at (bf16 even in FP8 training) [FLOP/s]
    attn_peak_flops_per_s: float = float("nan")
    #: SMs / CUs for wave quantization (``aicost.calibrate_curves.compute_units``)
    compute_units: int = 132


def resolve_hardware(cluster: Cluster, dtype: str = "bf16", catalog=None, store=None, shape=None,
                     kernel_factor: float = TRAINING_KERNEL_FACTOR) -> Hardware:
    """Look up a :class:`Cluster`'s numbers in the catalog and the efficiency in the store.

    Explicit ``Cluster`` fields win over the catalog. ``sources`` names the origin of each.
    """
    dtype = normalize_dtype(dtype)
    src: dict[str, str] = {}
    need_cat = (cluster.peak_flops_per_s is None or cluster.memory_bytes is None
                or cluster.mem_bw_bytes_per_s is None or cluster.scale_up_bw_bytes_per_s is None
                or cluster.scale_out_bw_bytes_per_s is None or cluster.price_usd_per_gpu_hour is None
                or cluster.scale_up is not None or cluster.scale_out is not None
                or cluster.storage_tier is not None)
    cat = load_catalog(catalog) if need_cat else None
    acc = cat.accelerator(cluster.accelerator) if cat is not None else None
    name = acc.name if acc is not None else cluster.accelerator

    def pick(field_name, explicit, fallback, what):
        if explicit is not None:
            src[field_name] = "Cluster (explicit)"
            return float(explicit)
        src[field_name] = what
        return float(fallback())

    peak = pick("peak_flops_per_s", cluster.peak_flops_per_s, lambda: acc.peak_flops_per_s(dtype),
                f"catalog accelerator {name} ({dtype} dense peak)")
    memory = pick("memory_bytes", cluster.memory_bytes, lambda: acc.memory_gib * GIB,
                  f"catalog accelerator {name} (memory_gib)")
    mem_bw = pick("mem_bw_bytes_per_s", cluster.mem_bw_bytes_per_s, lambda: acc.mem_bw_bytes_per_s,
                  f"catalog accelerator {name} (mem_bw)")
    # scale-up fabric
    su_lat = cluster.scale_up_latency_s
    if cluster.scale_up_bw_bytes_per_s is not None:
        su_bw = float(cluster.scale_up_bw_bytes_per_s)
        src["scale_up"] = "Cluster (explicit)"
    elif cluster.scale_up is not None:
        fab = cat.fabric(cluster.scale_up)
        su_bw = fab.bandwidth_per_gpu_bytes_per_s(cluster.gpus_per_node)
        su_lat = fab.latency_s if su_lat is None else su_lat
        src["scale_up"] = f"catalog fabric {fab.name}"
    elif acc is not None and acc.scale_up_bw_bytes_per_s:
        su_bw = float(acc.scale_up_bw_bytes_per_s)
        src["scale_up"] = f"catalog accelerator {name} (scale_up bandwidth)"
    else:
        raise ValueError(f"no scale-up bandwidth for {name}: set Cluster.scale_up to a catalog fabric "
                         "or Cluster.scale_up_bw_bytes_per_s")
    su_lat = DEFAULT_SCALE_UP_LATENCY_S if su_lat is None else float(su_lat)
    # instance (price, default scale-out)
    inst = None
    if cat is not None and (cluster.instance is not None or cluster.price_usd_per_gpu_hour is None
                            or (cluster.scale_out is None and cluster.scale_out_bw_bytes_per_s is None)):
        inst = pick_instance(cat, cluster, name)
    so_lat = cluster.scale_out_latency_s
    if cluster.scale_out_bw_bytes_per_s is not None:
        so_bw = float(cluster.scale_out_bw_bytes_per_s)
        src["scale_out"] = "Cluster (explicit)"
    else:
        fab_name = cluster.scale_out or (inst.scale_out_fabric if inst is not None else None)
        if fab_name:
            fab = cat.fabric(fab_name)
            so_bw = fab.bandwidth_per_gpu_bytes_per_s(cluster.gpus_per_node)
            so_lat = fab.latency_s if so_lat is None else so_lat
            src["scale_out"] = f"catalog fabric {fab.name}"
        elif inst is not None and inst.network_bytes_per_s:
            so_bw = inst.network_bytes_per_s / inst.accelerator_count
            src["scale_out"] = f"catalog instance {inst.instance_type} (network_gbps / GPUs)"
        elif cluster.gpus <= cluster.gpus_per_node:
            so_bw = su_bw
            src["scale_out"] = "single node (no scale-out traffic)"
        else:
            raise ValueError("no scale-out bandwidth: set Cluster.scale_out to a catalog fabric "
                             "(e.g. 'ib-ndr') or Cluster.scale_out_bw_bytes_per_s")
    so_lat = DEFAULT_SCALE_OUT_LATENCY_S if so_lat is None else float(so_lat)
    if cluster.price_usd_per_gpu_hour is not None:
        price = float(cluster.price_usd_per_gpu_hour)
        src["price"] = "Cluster (explicit)"
    else:
        p = inst.price_usd_per_gpu_hour(cluster.pricing) if inst is not None else None
        if p is None:
            price = math.nan
            src["price"] = f"no {cluster.pricing} price for {name} in the catalog (cost unknown)"
        else:
            price = float(p)
            src["price"] = f"catalog instance {inst.provider} {inst.instance_type} ({cluster.pricing})"
    g = gemm_efficiency(acc if acc is not None else name, dtype, store=store, shape=shape, catalog=cat)
    gemm, gsrc = float(g.value), str(g.source)
    if cluster.efficiency is not None:
        eff = float(cluster.efficiency)
        src["efficiency"] = "Cluster.efficiency (explicit)"
    else:
        eff = gemm * kernel_factor
        src["efficiency"] = f"GEMM efficiency {gemm:.3f} ({gsrc}) x kernel factor {kernel_factor}"
    src["gemm_efficiency"] = gsrc
    curve = None
    if cluster.efficiency is None:
        curve = gemm_curve(acc if acc is not None else name, dtype, store=store, catalog=cat)
        src["gemm_curve"] = curve.source
    attn_peak = peak
    if acc is not None and dtype in ("fp8", "int8"):
        try:
            attn_peak = float(acc.peak_flops_per_s("bf16")) or peak
        except (ValueError, KeyError, LookupError):  # no bf16 peak: attention at the dtype's peak
            attn_peak = peak
    c = collective_efficiency(name, store=store, catalog=cat)
    ceff, csrc = float(c.value), str(c.source)
    src["comm_efficiency"] = csrc
    tier = cat.storage_tier(cluster.storage_tier) if cluster.storage_tier is not None else None
    domain = _scale_up_domain(cluster, cat, inst)
    src["scale_up_domain"] = domain[1]
    return Hardware(accelerator=name, dtype=dtype, peak_flops_per_s=peak, memory_bytes=memory,
                    mem_bw_bytes_per_s=mem_bw, scale_up_bw_bytes_per_s=su_bw, scale_up_latency_s=su_lat,
                    scale_out_bw_bytes_per_s=so_bw, scale_out_latency_s=so_lat,
                    price_usd_per_gpu_hour=price, gemm_efficiency=gemm, compute_efficiency=eff,
                    comm_efficiency=ceff, storage_tier=tier, sources=src, scale_up_domain_gpus=domain[0],
                    gemm_curve=curve, attn_peak_flops_per_s=attn_peak, compute_units=compute_units(name))


def _scale_up_domain(cluster: Cluster, cat, inst) -> tuple[int, str]:
    """GPUs of one scale-up domain and where that number comes from: the cluster's own field, its
    ``scale_up`` fabric's domain, the priced instance's (when it has ``gpus_per_node`` GPUs), or
    the node."""
    gpn = int(cluster.gpus_per_node)
    if cluster.scale_up_domain_gpus is not None:
        return int(cluster.scale_up_domain_gpus), "Cluster (explicit)"
    if cluster.scale_up is not None and cat is not None:
        fab = cat.fabric(cluster.scale_up)
        if getattr(fab, "scale_up_domain_gpus", None):
            return max(int(fab.scale_up_domain_gpus), gpn), f"catalog fabric {fab.name}"
    if inst is not None and cat is not None and int(inst.accelerator_count) == gpn \
            and hasattr(cat, "scale_up_domain_gpus"):
        n = int(cat.scale_up_domain_gpus(inst.instance_type, inst.provider, inst.region))
        if n > gpn:
            return n, f"catalog instance {inst.provider} {inst.instance_type} ({inst.scale_up_fabric})"
    return gpn, "GPUs per node"


def pick_instance(cat, cluster: Cluster, acc_name: str):
    """The instance to price ``cluster`` from: the one named, else the cheapest at ``pricing``
    among instances with this accelerator, preferring whole nodes of ``gpus_per_node`` GPUs and,
    for multi-node clusters, a known scale-out network."""
    if cluster.instance is not None:
        return cat.instance(cluster.instance)
    df = cat.instances
    try:
        rows = df[df["accelerator"].astype(str).str.lower() == acc_name.lower()]
    except KeyError:
        return None
    multi = cluster.gpus > cluster.gpus_per_node
    ranked = []
    for rec in rows.to_dict("records"):
        try:
            inst = cat.instance(rec["instance_type"], provider=rec["provider"], region=rec["region"])
        except (LookupError, ValueError):  # a row the lookup cannot resolve is skipped
            continue
        p = inst.price_usd_per_gpu_hour(cluster.pricing)
        if p is None or not math.isfinite(p):
            continue
        whole = inst.accelerator_count == min(cluster.gpus_per_node, cluster.gpus)
        networked = bool(inst.scale_out_fabric or inst.network_gbps) or not multi
        ranked.append(((not networked, not whole, p), inst))
    if not ranked:
        return None
    ranked.sort(key=lambda x: x[0])
    return ranked[0][1]
