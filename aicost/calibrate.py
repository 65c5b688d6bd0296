"""Efficiency factors: measured where aicost has measurements, documented defaults otherwise.

The models and the planner need "what fraction of the datasheet does this hardware deliver":

* :func:`gemm_efficiency` - achieved GEMM rate / catalog dense peak for an accelerator and a
  dtype, from ``kind="compute"``, ``name="gemm"`` results (the results store first, then the
  measured results shipped in ``data/results/*.json``), at the stored shape nearest to the
  one asked for; otherwise :func:`default_gemm_efficiency` (:data:`DEFAULT_GEMM_EFFICIENCY`, scaled
  for accelerators with a published maximum-achievable-matmul sweep).
* :func:`collective_efficiency` - NCCL bus bandwidth / catalog link bandwidth, from
  ``kind="collective"`` results (value = busbw [B/s], params ``n_ranks``, ``nbytes``) at the
  largest message sizes; :data:`DEFAULT_COLLECTIVE_EFFICIENCY` otherwise.

Each answer is an :class:`Efficiency` that says where its number came from.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from pathlib import Path

from ._errors import StoreError
from ._units import normalize_dtype
from .store import decode_params

__all__ = [
    "DEFAULT_BANDWIDTH_EFFICIENCY",
    "DEFAULT_COLLECTIVE_EFFICIENCY",
    "DEFAULT_GEMM_EFFICIENCY",
    "DEFAULT_GEMM_REFERENCE",
    "Efficiency",
    "INFERENCE_KERNEL_FACTOR",
    "TRAINING_KERNEL_FACTOR",
    "collective_efficiency",
    "default_gemm_efficiency",
    "dense_peak_flops",
    "gemm_efficiency",
    "measured_gemm",
    "published_gemm_peaks",
]

#: Large-GEMM efficiency (achieved / dense peak) per dtype when nothing is measured.
#: bf16/fp16: 690-720 of 989 TFLOP/s on an H200 measured for this project (design.md, 2026-11)
#: = 0.70-0.73; NVIDIA's published cuBLAS H100 results and MLPerf-era reports put large bf16
#: GEMMs at 0.7-0.8 of dense peak. tf32: 342 of 495 on that H200 = 0.69. fp32 (CUDA cores):
#: 51 of 67 = 0.76. fp64 (tensor cores): 61 of 67 = 0.91. fp8/int8: cuBLASLt large GEMMs reach
#: roughly 0.6-0.7 of the dense fp8 peak on H100 (NVIDIA Transformer Engine benchmarks); 0.65.
DEFAULT_GEMM_EFFICIENCY = {"bf16": 0.72, "fp16": 0.70, "tf32": 0.69, "fp32": 0.76, "fp64": 0.91,
                           "fp8": 0.65, "int8": 0.65}
#: The accelerator :data:`DEFAULT_GEMM_EFFICIENCY` describes (its tensor-core values are H100-class
#: numbers). Another accelerator never measured gets them scaled by its published maximum achievable
#: matmul efficiency relative to this one's (:func:`default_gemm_efficiency`).
DEFAULT_GEMM_REFERENCE = "H100-SXM"
#: dtypes whose default is scaled by the published tensor-core matmul ratios (fp16 and int8 use the
#: bf16 and fp8 rows; the CUDA-core and tf32/fp64 defaults are left as they are)
_SCALED_DTYPES = {"bf16": "bf16", "fp16": "bf16", "fp8": "fp8", "int8": "fp8"}
#: NCCL busbw / per-direction link bandwidth at large messages (nccl-tests PERFORMANCE.md
#: explains busbw as the number to compare with the hardware; all-reduce on NVLink/InfiniBand
#: typically reaches 75-90 %); 0.8 is the middle. The one definition: aicost.hardware and the
#: fabric collective times take it from here.
DEFAULT_COLLECTIVE_EFFICIENCY = 0.80
#: Fraction of the GEMM rate a whole training step keeps: layer norms, softmax, rotary and
#: other elementwise kernels, launches and the data loader run below the matmul rate. Megatron-LM
#: reaches 52-56% MFU on A100 at scale (Narayanan et al. 2021, Table 1; Korthikanti et al.
#: 2022, Table 5) with GEMMs near 75%; 0.8 x ~0.72 leaves ~0.58 before communication and bubble.
TRAINING_KERNEL_FACTOR = 0.80
#: Prefill keeps this fraction of the GEMM rate (attention, norms and sampling run below it); as
#: TRAINING_KERNEL_FACTOR.
INFERENCE_KERNEL_FACTOR = 0.80
#: Fraction of peak HBM bandwidth decode kernels reach: a device copy reached 0.88 of the H200's
#: 4.8 TB/s here (design.md: 4.2-4.3 TB/s); GEMV and paged-attention kernels sit a little lower.
DEFAULT_BANDWIDTH_EFFICIENCY = 0.80
#: a measured busbw above this multiple of a fabric's link bandwidth was measured over another
#: (faster) fabric and is not used for it (in-network reductions such as NVLink SHARP reach
#: somewhat above 1, not 1.5)
_MAX_COLLECTIVE_EFFICIENCY = 1.5
#: collective results from messages at least this large count (busbw plateaus there)
_LARGE_MESSAGE_BYTES = 64 * 2**20


@dataclass(frozen=True)
class Efficiency:
    """An efficiency factor and its provenance.

    Attributes
    ----------
    value : float
        Achieved / peak (dimensionless).
    source : str
        Where it came from, readable in a plan ("measured: ..." or "default: ...").
    measured : bool
        True when ``value`` comes from a measurement.
    details : dict
        Device, dtype, shape, measured rate, peak, run id, file ... as applicable.
    """

    value: float
    source: str
    measured: bool = False
    details: dict = field(default_factory=dict)

    def __float__(self) -> float:
        return float(self.value)


# ----------------------------------------------------------------------------- helpers
def _catalog():
    from . import catalog

    return catalog.load()


def _resolve_accelerator(name, cat=None):
    """A catalog Accelerator for a record, a catalog name, an alias or a CUDA device name."""
    if name is None:
        return None
    if hasattr(name, "peak_flops_per_s"):
        return name
    try:
        return (cat if cat is not None else _catalog()).accelerator(str(name))
    except LookupError:  # a device the catalog does not know: nothing to calibrate against
        return None


def _store_results(store, **filters):
    """Results from the store (``store=None``: the default store if its file exists)."""
    import pandas as pd

    if store is False:
        return pd.DataFrame()
    try:
        if store is None:
            from .store import default_path

            path = Path(default_path())
            if not path.exists():
                return pd.DataFrame()
            # one plan asks for every accelerator: read the file once per state, not per call
            return _read_store_file(_file_stamp(path), tuple(sorted(filters.items())))
        return store.results(**filters)
    except StoreError:  # an unusable store (damaged, locked, newer schema): calibrate from defaults
        return pd.DataFrame()


def _file_stamp(path: Path) -> tuple:
    """What changes when a DuckDB file changes: its and its write-ahead log's size and mtime."""
    stamp = [str(path)]
    for p in (path, path.with_name(path.name + ".wal")):
        try:
            st = p.stat()
            stamp += [st.st_size, st.st_mtime_ns]
        except FileNotFoundError:
            stamp += [None, None]
    return tuple(stamp)


@functools.lru_cache(maxsize=16)
def _read_store_file(stamp: tuple, filters: tuple):
    """Results of the default store at file state ``stamp`` (cached; callers must not mutate)."""
    from .store import Store

    return Store(stamp[0]).results(**dict(filters))


def _shipped_results():
    """Measured results shipped in ``data/results/*.json`` (one DataFrame, with the file).

    The files are parsed once per (path, size, modification time); the frame is shared, so
    callers filter it into new frames and never modify it in place.
    """
    import pandas as pd

    try:
        from ._paths import data_dir

        folder = data_dir() / "results"
        stamps = tuple((str(p), p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.glob("*.json")))
    except OSError:  # no readable data directory (an unusual install)
        return pd.DataFrame()
    return _read_shipped(stamps)


@functools.lru_cache(maxsize=4)
def _read_shipped(stamps: tuple):
    import pandas as pd

    from .bench import load_results

    frames = []
    for path, _size, _mtime in stamps:
        try:
            df = load_results(path).df.copy()
        except (OSError, ValueError, KeyError):  # a damaged results file is skipped
            continue
        df["source_file"] = Path(path).name
        frames.append(df)
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


_params = decode_params


def _shape_tuple(shape):
    if shape is None:
        return None
    if isinstance(shape, str):
        from .bench import gemm_shape

        return gemm_shape(shape)
    if isinstance(shape, (int, float)):
        return (int(shape),) * 3
    return tuple(int(x) for x in shape)


def _shape_distance(a, b) -> float:
    """Distance between GEMM shapes in log space (scale-free: 4096 vs 8192 is 1 per dim)."""
    return sum(abs(math.log2(max(x, 1)) - math.log2(max(y, 1))) for x, y in zip(a, b))


#: the shape used when none is asked for: a large square GEMM
_DEFAULT_SHAPE = (8192, 8192, 8192)


def measured_gemm(accelerator, dtype: str = "bf16", store=None, catalog=None):
    """The stored GEMM results for ``accelerator`` and ``dtype`` (store, then shipped files).

    ``catalog`` (default: the shipped one) resolves the device names the results carry.
    Returns a DataFrame with ``m, n, k``, ``value`` [FLOP/s], ``peak`` and ``origin``
    columns (empty when none).
    """
    import pandas as pd

    acc = _resolve_accelerator(accelerator, catalog)
    dtype = normalize_dtype(dtype)
    frames = []
    for origin, df in (("store", _store_results(store, kind="compute", name="gemm", dtype=dtype)),
                       ("shipped", _shipped_results())):
        if df is None or len(df) == 0:
            continue
        if acc is not None:
            # resolve each distinct device name once, in one catalog (a results file holds
            # hundreds of rows), and keep this accelerator's rows before anything else
            cat = catalog if catalog is not None else _catalog()
            mine = [d for d in pd.unique(df["device"])
                    if getattr(_resolve_accelerator(d, cat), "name", None) == acc.name]
            if not mine:
                continue
            df = df[df["device"].isin(mine).to_numpy()]
        df = df[(df["name"] == "gemm") & (df["dtype"] == dtype)].copy()
        if "kind" in df:
            df = df[df["kind"].fillna("compute") == "compute"]
        if len(df) == 0:
            continue
        if acc is None:
            df = df[df["device"].astype(str) == str(accelerator)]
        if len(df) == 0:
            continue
        df["origin"] = origin
        if "source_file" not in df:
            df["source_file"] = None
        frames.append(df)
    if not frames:
        return pd.DataFrame(columns=["m", "n", "k", "value", "peak", "origin"])
    out = pd.concat(frames, ignore_index=True)
    shapes = [tuple(int(x) for x in str(s).split("x")) if s else (0, 0, 0) for s in out["shape"]]
    out["m"] = [s[0] for s in shapes]
    out["n"] = [s[1] if len(s) > 1 else s[0] for s in shapes]
    out["k"] = [s[2] if len(s) > 2 else s[0] for s in shapes]
    out = out[pd.to_numeric(out["value"], errors="coerce") > 0]
    return out.reset_index(drop=True)


# ----------------------------------------------------------------------------- GEMM
def dense_peak_flops(accelerator, dtype: str) -> float | None:
    """The dense peak [FLOP/s] of ``accelerator`` (a catalog ``Accelerator`` or None) for the
    normalized ``dtype``; None when the catalog has no finite positive peak for it (the
    measured GEMMs cannot then be read as efficiencies)."""
    if accelerator is None:
        return None
    try:
        peak = float(accelerator.peak_flops_per_s(dtype))
    except (ValueError, KeyError, LookupError):  # no peak for this dtype
        return None
    return peak if peak > 0 and math.isfinite(peak) else None


@functools.lru_cache(maxsize=4)
def _published_table(path: str):
    import pandas as pd

    df = pd.read_csv(path, comment="#")
    need = {"accelerator", "dtype", "mamf_tflops", "peak_tflops"}
    missing = need - set(df.columns)
    if missing:
        raise ValueError(f"{path}: missing column(s) {', '.join(sorted(missing))}; expected {', '.join(sorted(need))}")
    for col in ("mamf_tflops", "peak_tflops"):
        vals = pd.to_numeric(df[col], errors="coerce")
        bad = ~(vals > 0)
        if bad.any():
            i = int(bad.to_numpy().argmax())
            raise ValueError(f"{path}: row {i + 1}, column {col!r}: {df[col].iloc[i]!r} is not a positive "
                             "number [TFLOP/s]; fix or remove the row")
        df[col] = vals
    df["dtype"] = [normalize_dtype(d) for d in df["dtype"]]
    if "table" not in df.columns:
        df["table"] = "v2"
    df["table"] = df["table"].fillna("v2").astype(str)
    df["efficiency"] = df["mamf_tflops"] / df["peak_tflops"]
    return df


def published_gemm_peaks(path=None):
    """Published maximum achievable matmul rates per accelerator (``data/published_gemm_peaks.csv``).

    Parameters
    ----------
    path : path-like, optional
        Another table with the same columns.

    Returns
    -------
    pandas.DataFrame
        ``accelerator, dtype, mamf_tflops, peak_tflops, table, ..., efficiency`` (``mamf / peak`` of
        the table's own theoretical peak [-]; :func:`default_gemm_efficiency` divides by the catalog's).
    """
    from ._paths import data_dir

    p = Path(path) if path is not None else data_dir() / "published_gemm_peaks.csv"
    return _published_table(str(p)).copy()


def default_gemm_efficiency(accelerator=None, dtype: str = "bf16", catalog=None) -> Efficiency:
    """The documented GEMM efficiency for an accelerator with no measurement of its own [fraction of peak].

    :data:`DEFAULT_GEMM_EFFICIENCY` describes the reference accelerator
    (:data:`DEFAULT_GEMM_REFERENCE`, H100 SXM). Accelerators do not reach the same fraction of their
    datasheet peak (clocks under the power cap, the vendor's BLAS), so for one listed in
    ``data/published_gemm_peaks.csv`` (published maximum-achievable-matmul sweeps) the default is
    scaled by ``efficiency(accelerator) / efficiency(reference)``, each the published rate over the
    catalog's dense peak (the peak the efficiency multiplies), both from the same table version: a
    ratio, so the gap between the best shape of a sweep and a typical GEMM stays the reference's.
    fp16 and int8 use the bf16 and fp8 rows; an accelerator with a bf16 row and no fp8 row scales
    fp8 by its bf16 ratio; tf32/fp32/fp64 and unlisted accelerators keep the plain default.

    Parameters
    ----------
    accelerator : str, Accelerator or None
        None: the plain default.
    dtype : str
    catalog : aicost.catalog.Catalog, optional

    Returns
    -------
    Efficiency
        ``measured=False``; ``source`` names the default and, when scaled, the published rows.
    """
    dtype = normalize_dtype(dtype)
    if dtype not in DEFAULT_GEMM_EFFICIENCY:
        raise ValueError(f"no default GEMM efficiency for {dtype!r}; "
                         f"known: {', '.join(DEFAULT_GEMM_EFFICIENCY)}")
    d = DEFAULT_GEMM_EFFICIENCY[dtype]
    acc = None if accelerator is None else _resolve_accelerator(accelerator, catalog)
    name = getattr(acc, "name", None if accelerator is None else str(accelerator))
    plain = Efficiency(value=d, source=(f"default: large {dtype} GEMMs reach about {d:.2f} of dense peak "
                                        f"(aicost.calibrate.DEFAULT_GEMM_EFFICIENCY)"),
                       measured=False, details={"accelerator": name, "dtype": dtype, "scale": 1.0})
    row_dtype = _SCALED_DTYPES.get(dtype)
    if acc is None or row_dtype is None or name == DEFAULT_GEMM_REFERENCE:
        return plain
    ref = _resolve_accelerator(DEFAULT_GEMM_REFERENCE, catalog)
    peaks = tuple((dense_peak_flops(acc, dt), dense_peak_flops(ref, dt)) for dt in ("bf16", "fp8"))
    ratio = _published_ratio(name, row_dtype, peaks)
    if ratio is None:
        return plain
    scale, used_dtype, eff, ref_eff, table = ratio
    value = min(d * scale, 0.98)
    return Efficiency(
        value=value,
        source=(f"default scaled: {d:.2f} (aicost.calibrate.DEFAULT_GEMM_EFFICIENCY[{dtype!r}], "
                f"{DEFAULT_GEMM_REFERENCE}) x {scale:.3f} = {name}'s published max achievable {used_dtype} matmul "
                f"{eff:.1%} of its dense peak / {DEFAULT_GEMM_REFERENCE}'s {ref_eff:.1%} "
                f"(data/published_gemm_peaks.csv, table {table})"),
        measured=False, details={"accelerator": name, "dtype": dtype, "scale": scale, "published_dtype": used_dtype,
                                 "published_table": table})


@functools.lru_cache(maxsize=256)
def _published_ratio(name, row_dtype, peaks):
    """``(scale, dtype, efficiency, reference_efficiency, table)`` or None (not listed).

    ``peaks``: ``((acc_bf16, ref_bf16), (acc_fp8, ref_fp8))`` catalog dense peaks [FLOP/s] or None."""
    table = published_gemm_peaks()
    peak_of = dict(zip(("bf16", "fp8"), peaks))
    rows = table[table["accelerator"] == name]
    for dt in dict.fromkeys((row_dtype, "bf16")):  # the dtype's own row, else the bf16 one
        mine = rows[rows["dtype"] == dt]
        for version in sorted(set(mine["table"]), reverse=True):  # the newest table version first
            ref = table[(table["accelerator"] == DEFAULT_GEMM_REFERENCE) & (table["dtype"] == dt)
                        & (table["table"] == version)]
            if ref.empty:
                continue
            a, r = mine[mine["table"] == version].iloc[0], ref.iloc[0]
            acc_peak, ref_peak = peak_of.get(dt, (None, None))
            # efficiency against the catalog's dense peak, the one the curve multiplies (the table's own
            # theoretical peak where the catalog has none)
            e_a = a["mamf_tflops"] * 1e12 / (acc_peak or a["peak_tflops"] * 1e12)
            e_r = r["mamf_tflops"] * 1e12 / (ref_peak or r["peak_tflops"] * 1e12)
            return e_a / e_r, dt, e_a, e_r, version
    return None


def gemm_efficiency(accelerator, dtype: str = "bf16", store=None, shape=None, catalog=None) -> Efficiency:
    """Achieved GEMM rate / catalog dense peak for ``accelerator`` in ``dtype``.

    Parameters
    ----------
    accelerator : str or Accelerator
        A catalog name, alias or the name CUDA reports ("NVIDIA H200").
    dtype : str
        fp64, fp32, tf32, bf16, fp16, fp8, int8.
    store : Store, None or False
        Where to look for measurements (None: the default store if it exists; False: none).
        Measured results shipped with aicost (``data/results``) are used after the store.
    shape : int, (m, n, k), "MxNxK" or a layer name of ``aicost.bench.GEMM_SHAPES``, optional
        Pick the measurement at the nearest shape (log-distance); default a large square GEMM.
    catalog : aicost.catalog.Catalog, optional
        Where the peak and the device names are looked up (default: the shipped catalog).

    Returns
    -------
    Efficiency
        ``measured=True`` with the run/file, shape, rate and peak in ``details``; otherwise the
        documented default of :data:`DEFAULT_GEMM_EFFICIENCY`.
    """
    dtype = normalize_dtype(dtype)
    acc = _resolve_accelerator(accelerator, catalog)
    name = getattr(acc, "name", str(accelerator))
    want = _shape_tuple(shape) or _DEFAULT_SHAPE
    peak = dense_peak_flops(acc, dtype)
    if peak:
        df = measured_gemm(acc, dtype, store=store, catalog=catalog)
        if len(df):
            dist = [_shape_distance((m, n, k), want) for m, n, k in zip(df["m"], df["n"], df["k"])]
            df = df.assign(_dist=dist)
            # nearest shape; among equals, the store before shipped files, then the fastest run
            df = df.sort_values(["_dist", "origin", "value"], ascending=[True, False, False])
            best = df.iloc[0]
            value = float(best["value"]) / peak
            where = (f"results store run {best.get('run_id')}" if best["origin"] == "store"
                     else f"aicost data/results/{best['source_file']}")
            shp = f"{int(best['m'])}x{int(best['n'])}x{int(best['k'])}"
            return Efficiency(
                value=value,
                source=(f"measured: {dtype} GEMM {shp} on {best['device']} reached "
                        f"{float(best['value']) / 1e12:.1f} of {peak / 1e12:.1f} TFLOP/s "
                        f"({where})"),
                measured=True,
                details={"accelerator": name, "dtype": dtype, "shape": shp,
                         "measured_flops_per_s": float(best["value"]), "peak_flops_per_s": peak,
                         "origin": best["origin"], "run_id": best.get("run_id"),
                         "file": best.get("source_file"), "n_candidates": len(df)})
    why = "no measurement for it" if peak else "not in the catalog or no peak for this dtype"
    d = default_gemm_efficiency(acc if acc is not None else accelerator, dtype, catalog=catalog)
    return Efficiency(value=d.value, source=f"{d.source}; {name}: {why}", measured=False,
                      details={**d.details, "accelerator": name})


# ----------------------------------------------------------------------------- collectives
def _norm_op(op: str) -> str:
    """``aicost.network.normalize_op``, leaving a name it does not know (a stored result of
    some other collective) as it is, so that it simply matches nothing."""
    from .network import normalize_op

    try:
        return normalize_op(op)
    except LookupError:
        return str(op)


def collective_efficiency(fabric_or_device=None, op: str = "all_reduce", store=None,
                          catalog=None) -> Efficiency:
    """NCCL bus bandwidth / catalog link bandwidth for large messages of collective ``op``.

    Parameters
    ----------
    fabric_or_device : str, optional
        A catalog fabric ("nvlink4", "ib-ndr") - its per-GPU bandwidth is the reference - or an
        accelerator (catalog name or the CUDA name) - its scale-up (NVLink) bandwidth is the
        reference and only results measured on that device count. None: the default.
    op : str
        all_reduce, all_gather, reduce_scatter, ...
    store : Store, None or False
        As for :func:`gemm_efficiency`.
    catalog : aicost.catalog.Catalog, optional
        Where fabrics and accelerators are looked up (default: the shipped catalog).

    Returns
    -------
    Efficiency
        The median busbw / bandwidth over results with messages >= 64 MiB (or the largest
        messages measured), else :data:`DEFAULT_COLLECTIVE_EFFICIENCY`.
    """
    op = _norm_op(op)
    default = Efficiency(
        value=DEFAULT_COLLECTIVE_EFFICIENCY,
        source=("default: nccl-tests busbw typically 75-90% of link bandwidth for large messages "
                "(aicost.calibrate.DEFAULT_COLLECTIVE_EFFICIENCY)"),
        details={"op": op, "target": None if fabric_or_device is None else str(fabric_or_device)})
    if fabric_or_device is None:
        return default
    df = _store_results(store, kind="collective", name=op)
    if df is None or len(df) == 0:  # nothing measured: no need to look anything up
        return default
    cat = catalog if catalog is not None else _catalog()
    ref_bw, acc, label = None, None, str(fabric_or_device)
    try:
        fab = cat.fabric(str(fabric_or_device))
        ref_bw = float(fab.bandwidth_bytes_per_s)
        label = f"fabric {fab.name} ({ref_bw / 1e9:.0f} GB/s per direction)"
    except LookupError:  # not a fabric: an accelerator
        acc = _resolve_accelerator(fabric_or_device, cat)
        if acc is not None:
            try:
                ref_bw = float(acc.scale_up_bw_bytes_per_s)
                label = f"{acc.name} scale-up link ({ref_bw / 1e9:.0f} GB/s per direction)"
            except (TypeError, ValueError):  # no scale-up bandwidth in the catalog
                ref_bw = None
    if not ref_bw or ref_bw <= 0:
        return default
    df = df[df["name"].map(_norm_op) == op]
    if acc is not None and len(df):
        names = {d: getattr(_resolve_accelerator(d, cat), "name", None) for d in set(df["device"])}
        df = df[[names[d] == acc.name for d in df["device"]]]
    if len(df) == 0:
        return default
    sizes = [float(_params(p).get("nbytes") or s or 0) for p, s in zip(df["params"], df["size_bytes"])]
    df = df.assign(_nbytes=sizes)
    large = df[df["_nbytes"] >= _LARGE_MESSAGE_BYTES]
    if len(large) == 0:
        large = df[df["_nbytes"] == df["_nbytes"].max()]
    import statistics

    busbw = statistics.median(float(v) for v in large["value"])
    if busbw / ref_bw > _MAX_COLLECTIVE_EFFICIENCY:
        # faster than the link can carry: these results ran over another, faster fabric
        return default
    ranks = sorted({int(_params(p).get("n_ranks") or 0) for p in large["params"]})
    return Efficiency(
        value=busbw / ref_bw,
        source=(f"measured: {op} busbw {busbw / 1e9:.1f} GB/s (median of {len(large)} results, "
                f"messages >= {min(large['_nbytes']) / 2**20:.0f} MiB, ranks {ranks}) vs {label}"),
        measured=True,
        details={"op": op, "busbw_bytes_per_s": busbw, "reference_bytes_per_s": ref_bw,
                 "n_results": len(large), "n_ranks": ranks})
