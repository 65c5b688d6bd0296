"""Frozen records for one catalog row: Accelerator, Instance, StorageTier, Fabric.

The CSVs hold human units (TFLOP/s, GB/s, Gbit/s, ms, us); records hold SI
units in fields named with their unit (``mem_bw_bytes_per_s``, ``latency_s``),
except the per-dtype peaks, which keep their ``*_tflops`` names and are turned
into FLOP/s by :meth:`Accelerator.peak_flops_per_s`.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import html
import math
from dataclasses import dataclass, field

from .._errors import UnknownNameError
from .._units import DTYPES, GIB, TIB, format_cell, normalize_dtype

__all__ = [
    "PRICINGS",
    "Accelerator",
    "Fabric",
    "Instance",
    "StorageTier",
    "UnknownPricingError",
    "normalize_pricing",
]

#: pricing models of an instance offer, and the column holding each price
PRICINGS = {
    "on_demand": "price_on_demand_usd_per_hour",
    "spot": "price_spot_usd_per_hour",
    "reserved_1y": "price_reserved_1y_usd_per_hour",
}
_PRICING_ALIASES = {
    "on_demand": "on_demand", "on-demand": "on_demand", "ondemand": "on_demand", "od": "on_demand",
    "spot": "spot", "preemptible": "spot", "interruptible": "spot",
    "reserved_1y": "reserved_1y", "reserved": "reserved_1y", "reserved-1y": "reserved_1y",
    "1y": "reserved_1y", "committed": "reserved_1y",
}

_DTYPE_FIELD = {
    "fp64": "fp64_tflops", "fp32": "fp32_tflops", "tf32": "tf32_tflops", "bf16": "bf16_tflops",
    "fp16": "fp16_tflops", "fp8": "fp8_tflops", "int8": "int8_tops",
}


class UnknownPricingError(UnknownNameError, ValueError):
    """An unknown pricing model: a ``LookupError`` like every unknown name, and a ``ValueError``
    as a bad argument value."""


def normalize_pricing(pricing: str) -> str:
    """Return ``on_demand``, ``spot`` or ``reserved_1y`` for any accepted spelling.

    The one pricing vocabulary of aicost: the planner and the hardware layer call this too.

    Raises
    ------
    UnknownPricingError
        For an unknown spelling, with the closest names.
    """
    key = str(pricing).strip().lower().replace(" ", "_")
    try:
        return _PRICING_ALIASES[key]
    except KeyError:
        raise UnknownPricingError("pricing", str(pricing), PRICINGS,
                                  hint=f"(use one of {', '.join(PRICINGS)})") from None


class _RecordMixin:
    """``to_dict``, ``__str__`` and ``_repr_html_`` shared by the four records."""

    _title_fields: tuple[str, ...] = ("name",)

    def to_dict(self) -> dict:
        """Return the fields as a plain dict (dates as ISO strings, tuples as lists)."""
        out = {}
        for f in dataclasses.fields(self):
            v = getattr(self, f.name)
            if isinstance(v, _dt.date):
                v = v.isoformat()
            elif isinstance(v, tuple):
                v = list(v)
            out[f.name] = v
        return out

    def _title(self) -> str:
        return f"{type(self).__name__} " + " / ".join(
            str(getattr(self, n)) for n in self._title_fields)

    def __str__(self) -> str:
        rows = [(f.name, format_cell(getattr(self, f.name), f.name))
                for f in dataclasses.fields(self) if f.name not in self._title_fields]
        width = max(len(n) for n, _ in rows)
        return self._title() + "\n" + "\n".join(f"  {n:<{width}}  {v}" for n, v in rows)

    def _repr_html_(self) -> str:
        cells = "".join(
            f"<tr><th style='text-align:left'>{html.escape(f.name)}</th>"
            f"<td style='text-align:left'>{html.escape(format_cell(getattr(self, f.name), f.name))}</td></tr>"
            for f in dataclasses.fields(self) if f.name not in self._title_fields)
        return f"<b>{html.escape(self._title())}</b><table>{cells}</table>"


@dataclass(frozen=True, repr=True)
class Accelerator(_RecordMixin):
    """One accelerator model (GPU, TPU, Trainium, Gaudi).

    Peaks are dense (no structured sparsity), per device.

    Attributes
    ----------
    name : str
        Canonical name (``H100-SXM``).
    vendor : str
    aliases : tuple of str
        Other names, including the device name CUDA/ROCm reports.
    fp64_tflops, fp32_tflops, tf32_tflops, bf16_tflops, fp16_tflops, fp8_tflops : float or None
        Dense peak [TFLOP/s]; ``None`` where the chip has no such rate. fp64 is the
        tensor/matrix rate where one exists; fp32 is the non-tensor rate.
    int8_tops : float or None
        Dense INT8 peak [TOP/s].
    memory_gib : float
        Device memory the software sees [GiB].
    mem_bw_bytes_per_s : float
        Peak memory bandwidth [B/s].
    scale_up_bw_bytes_per_s : float or None
        Scale-up interconnect per device, one direction [B/s].
    tdp_watts : float or None
    source : str
    as_of : datetime.date
    memory_gb : float or None
        Memory as the datasheet prints it [GB, vendor's unit].
    fp4_tflops : float or None
        Dense FP4 peak (NVFP4/MXFP4) [TFLOP/s]; ``None`` where the chip has none.
    estimated : tuple of str
        The catalog columns of this row whose values are estimates (``bf16_tflops``,
        ``mem_bw_gb_s``, ...); empty when every number is read from the source.
    """

    name: str
    vendor: str
    aliases: tuple[str, ...]
    fp64_tflops: float | None
    fp32_tflops: float | None
    tf32_tflops: float | None
    bf16_tflops: float | None
    fp16_tflops: float | None
    fp8_tflops: float | None
    int8_tops: float | None
    memory_gib: float
    mem_bw_bytes_per_s: float
    scale_up_bw_bytes_per_s: float | None
    tdp_watts: float | None
    source: str
    as_of: _dt.date
    memory_gb: float | None = None
    fp4_tflops: float | None = None
    estimated: tuple[str, ...] = ()

    @property
    def memory_bytes(self) -> int:
        """Device memory [B] (``memory_gib * 2**30``)."""
        return int(round(self.memory_gib * GIB))

    @property
    def dtypes(self) -> tuple[str, ...]:
        """The dtypes this chip has a peak for, in aicost's order."""
        return tuple(d for d in DTYPES if getattr(self, _DTYPE_FIELD[d]) is not None)

    def peak_is_estimated(self, dtype: str) -> bool:
        """Whether the catalog's peak for ``dtype`` is an estimate (its column is listed in
        `estimated`), not a datasheet figure."""
        return _DTYPE_FIELD[normalize_dtype(dtype)] in self.estimated

    def peak_tflops(self, dtype: str) -> float:
        """Dense peak for ``dtype`` [TFLOP/s, TOP/s for int8]."""
        return self.peak_flops_per_s(dtype) / 1e12

    def peak_flops_per_s(self, dtype: str) -> float:
        """Dense peak for ``dtype`` [FLOP/s; OP/s for int8].

        Parameters
        ----------
        dtype : str or numpy dtype
            Any name :func:`aicost._units.normalize_dtype` accepts (``"bf16"``, ``"float32"``, ...).

        Raises
        ------
        ValueError
            If the dtype is unknown, or this chip has no peak for it (the message lists those it has).
        """
        canon = normalize_dtype(dtype)
        value = getattr(self, _DTYPE_FIELD[canon])
        if value is None:
            raise ValueError(
                f"{self.name} has no {canon} peak in the catalog; it has: {', '.join(self.dtypes)}"
            )
        return float(value) * 1e12


@dataclass(frozen=True, repr=True)
class Instance(_RecordMixin):
    """One cloud offer: an instance type in a region with its prices.

    Attributes
    ----------
    provider, instance_type, region : str
    accelerator : str
        Canonical accelerator name (look it up with ``Catalog.accelerator``).
    accelerator_count : int
    vcpus : float or None
    memory_gib : float or None
        Host memory [GiB].
    network_gbps : float or None
        Scale-out network per instance [Gbit/s].
    local_nvme_tb : float or None
        Local NVMe [TB].
    price_on_demand_usd_per_hour : float
        [USD/h] per instance.
    price_spot_usd_per_hour, price_reserved_1y_usd_per_hour : float or None
        [USD/h] per instance, ``None`` when not offered / not published.
    scale_up_fabric, scale_out_fabric : str or None
        Fabric names (look them up with ``Catalog.fabric``).
    source : str
    as_of : datetime.date
    estimated : tuple of str
        The price columns (and others) of this row that are estimates, not read from the
        source; empty when every number is a published one.
    """

    _title_fields = ("provider", "instance_type", "region")

    provider: str
    instance_type: str
    region: str
    accelerator: str
    accelerator_count: int
    vcpus: float | None
    memory_gib: float | None
    network_gbps: float | None
    local_nvme_tb: float | None
    price_on_demand_usd_per_hour: float
    price_spot_usd_per_hour: float | None
    price_reserved_1y_usd_per_hour: float | None
    scale_up_fabric: str | None
    scale_out_fabric: str | None
    source: str
    as_of: _dt.date
    estimated: tuple[str, ...] = ()

    @property
    def network_bytes_per_s(self) -> float | None:
        """Scale-out network per instance [B/s] (``network_gbps * 1e9 / 8``)."""
        return None if self.network_gbps is None else self.network_gbps * 1e9 / 8

    @property
    def local_nvme_bytes(self) -> float | None:
        """Local NVMe capacity [B]."""
        return None if self.local_nvme_tb is None else self.local_nvme_tb * 1e12

    def price_usd_per_hour(self, pricing: str = "on_demand") -> float | None:
        """Price of the whole instance [USD/h] for ``on_demand``, ``spot`` or ``reserved_1y``.

        Returns ``None`` when the provider does not offer that pricing for this instance.
        """
        return getattr(self, PRICINGS[normalize_pricing(pricing)])

    def price_usd_per_gpu_hour(self, pricing: str = "on_demand") -> float | None:
        """Price per accelerator [USD per accelerator-hour], ``None`` if not offered."""
        p = self.price_usd_per_hour(pricing)
        return None if p is None else p / self.accelerator_count


@dataclass(frozen=True, repr=True)
class StorageTier(_RecordMixin):
    """One storage service tier.

    Attributes
    ----------
    name, provider : str
    kind : str
        ``local``, ``block``, ``file`` or ``object``.
    throughput_bytes_per_s : float
        Read throughput [B/s] per volume, per TiB or per client node (see ``throughput_basis``).
    throughput_basis : str
        ``volume``, ``per_tib`` or ``per_node``.
    max_throughput_bytes_per_s : float or None
        Ceiling [B/s].
    iops, max_iops : float or None
    latency_s : float or None
    price_usd_per_gb_month : float
    price_usd_per_1k_put, price_usd_per_1k_get : float or None
    source : str
    as_of : datetime.date
    aliases : tuple of str
    min_capacity_gib : float or None
    """

    name: str
    provider: str
    kind: str
    throughput_bytes_per_s: float
    throughput_basis: str
    max_throughput_bytes_per_s: float | None
    iops: float | None
    latency_s: float | None
    price_usd_per_gb_month: float
    price_usd_per_1k_put: float | None
    price_usd_per_1k_get: float | None
    source: str
    as_of: _dt.date
    aliases: tuple[str, ...] = field(default=())
    max_iops: float | None = None
    min_capacity_gib: float | None = None

    def throughput_for(self, capacity_bytes: float | None = None, nodes: int = 1) -> float:
        """Read throughput [B/s] of ``capacity_bytes`` of this tier read by ``nodes`` clients.

        - ``volume``: one volume's throughput, whatever its size;
        - ``per_tib``: ``throughput_bytes_per_s * capacity / TiB`` (capacity required);
        - ``per_node``: ``throughput_bytes_per_s * nodes`` (object stores scale with clients);

        each capped at ``max_throughput_bytes_per_s`` when the tier has one.

        Raises
        ------
        ValueError
            For a per-TiB tier without a capacity, or negative arguments.
        """
        if nodes < 1:
            raise ValueError(f"nodes must be >= 1, got {nodes}")
        if capacity_bytes is not None and (capacity_bytes < 0 or not math.isfinite(capacity_bytes)):
            raise ValueError(f"capacity_bytes must be a non-negative number, got {capacity_bytes!r}")
        if self.throughput_basis == "per_tib":
            if capacity_bytes is None:
                raise ValueError(
                    f"{self.name}'s throughput scales with capacity "
                    f"({self.throughput_bytes_per_s / 1e6:g} MB/s per TiB): pass capacity_bytes"
                )
            rate = self.throughput_bytes_per_s * capacity_bytes / TIB
        elif self.throughput_basis == "per_node":
            rate = self.throughput_bytes_per_s * nodes
        else:
            rate = self.throughput_bytes_per_s
        if self.max_throughput_bytes_per_s is not None:
            rate = min(rate, self.max_throughput_bytes_per_s)
        return float(rate)

    def price_usd_per_month(self, capacity_bytes: float) -> float:
        """Capacity price of ``capacity_bytes`` for one month [USD] (decimal GB, as billed)."""
        return float(self.price_usd_per_gb_month * capacity_bytes / 1e9)


@dataclass(frozen=True, repr=True)
class Fabric(_RecordMixin):
    """One interconnect.

    Attributes
    ----------
    name : str
    kind : str
        ``scale_up`` (between accelerators of one node) or ``scale_out`` (between nodes).
    bandwidth_bytes_per_s : float
        One direction, per GPU or per node (see ``basis``) [B/s].
    basis : str
        ``per_gpu`` or ``per_node``.
    latency_s : float or None
    aliases : tuple of str
    source : str
    as_of : datetime.date
    scale_up_domain_gpus : int or None
        Accelerators in one scale-up domain when it spans several instances (72 for an
        NVL72 rack); ``None``: the domain is the instance.
    """

    name: str
    kind: str
    bandwidth_bytes_per_s: float
    basis: str
    latency_s: float | None
    aliases: tuple[str, ...]
    source: str
    as_of: _dt.date
    scale_up_domain_gpus: int | None = None

    def bandwidth_per_gpu_bytes_per_s(self, gpus_per_node: int = 8) -> float:
        """One-direction bandwidth available to one GPU [B/s] (per-node fabrics are shared)."""
        if gpus_per_node < 1:
            raise ValueError(f"gpus_per_node must be >= 1, got {gpus_per_node}")
        if self.basis == "per_node":
            return self.bandwidth_bytes_per_s / gpus_per_node
        return self.bandwidth_bytes_per_s
