"""Validation of the workload models against published runs (``data/validation/published_runs.csv``).

Every row of the CSV is a number someone published (a paper's table, a framework's benchmark
table, an engine's performance page, a model card) with the configuration needed to reproduce it.
:func:`validate_published_runs` predicts each with aicost's public model functions and one set of
constants, through the same default path a plan takes: ``estimate_training``'s shape-aware compute
efficiency (each accelerator's GEMM curve, fitted where aicost has measurements and the documented
default family elsewhere, over the row's layout through the layer kernel-time model of
:mod:`aicost.calibrate_curves`), the catalog's peaks and fabrics, and the model's documented
defaults for everything else. Nothing is fitted to these rows; a row the model cannot reproduce
stays in the table with its error and the reason (``notes``).

Metrics (``metric`` column): ``tflops_per_gpu`` (Megatron-LM's count, eq. 3 of arXiv:2104.04473,
which includes full recomputation), ``mfu`` (aicost's model FLOPs ``6N + 12 L d_attn s`` per
token over the bf16 peak), ``tokens_per_s_per_gpu``, ``gpu_hours`` (expected, with failures),
``output_tokens_per_s`` (one replica at full load or at the stated batch), ``ttft_s``,
``latency_s`` (first token plus ``output_tokens - 1`` decode steps).
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from .calibrate_curves import COMPUTE_UNITS, compute_units  # COMPUTE_UNITS re-exported (one table)

__all__ = [
    "COMPUTE_UNITS",
    "load_published_runs",
    "validate_published_runs",
    "validation_models",
    "validation_summary",
]

#: a row whose |error| exceeds this [%] is a miss (issue 12's bound for layout-published rows); its
#: reason then says where the predicted time goes
MISS_PCT = 25.0

_CLASSES = {"tflops_per_gpu": "step time", "mfu": "step time", "tokens_per_s_per_gpu": "step time",
            "gpu_hours": "GPU-hours", "output_tokens_per_s": "serving throughput",
            "ttft_s": "serving latency", "latency_s": "serving latency"}


def _validation_dir() -> Path:
    from ._paths import data_dir

    return data_dir() / "validation"


def load_published_runs(path: str | Path | None = None):
    """The published runs as a DataFrame (default: the shipped ``data/validation/published_runs.csv``)."""
    import pandas as pd

    path = Path(path) if path is not None else _validation_dir() / "published_runs.csv"
    return pd.read_csv(path, comment="#", dtype={"id": str, "notes": str, "source": str})


def validation_models() -> dict:
    """Presets plus the architectures only the validation needs (``data/validation/models.csv``)."""
    from .model import get_model, list_models, load_models

    out = {n: get_model(n) for n in list_models()}
    out.update(load_models(_validation_dir() / "models.csv"))
    return out


def _num(row, col, default=None):
    v = row.get(col)
    if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
        return default
    return v


def _megatron_flops(spec, batch, seq):
    """Megatron-LM eq. 3 (arXiv:2104.04473): FLOPs of one iteration with full recomputation."""
    L, h, V = spec.n_layers, spec.d_model, spec.vocab_size
    return 96.0 * batch * seq * L * h * h * (1.0 + seq / (6.0 * h) + V / (16.0 * L * h))


def _shares(parts: dict, total: float, n: int = 3) -> str:
    top = sorted(((v, k) for k, v in parts.items() if v > 0), reverse=True)[:n]
    return ", ".join(f"{k} {100.0 * v / total:.0f}%" for v, k in top)


def _kind(source) -> str:
    """Whether an efficiency was measured/fitted or is the documented default."""
    text = str(source).lower()
    if "explicit" in text:
        return "given"
    if "default" not in text:
        return "measured"
    if "published" in text:
        return ("the default family scaled by the accelerator's published max achievable matmul: not measured by "
                "aicost for this accelerator and dtype")
    return "the default family: not measured for this accelerator and dtype"


def _training_diag(e, dtype: str) -> str:
    """Where a training step's predicted time goes (the largest parts) and the compute efficiency."""
    parts = {"compute": e.compute_s, "TP comm": e.tp_comm_s, "PP sends": e.pp_comm_s, "EP all-to-all": e.ep_comm_s,
             "CP ring": e.cp_comm_s, "bubble": e.bubble_s, "DP exposed": e.dp_exposed_s, "optimizer": e.optimizer_s}
    return (f"predicted step {e.step_s:.3g} s = {_shares(parts, e.step_s)}; compute at {e.compute_efficiency:.2f} "
            f"of the {dtype} peak ({_kind(e.sources.get('efficiency', ''))})")


def _serving_diag(est) -> str:
    """A serving row's operating point: batch, decode side of the roofline, TPOT, compute efficiency."""
    return (f"batch {est.batch} of at most {est.max_batch}, decode {est.decode_bound}-bound, TPOT "
            f"{1e3 * est.tpot_s:.3g} ms, prefill {1e3 * est.prefill_s:.3g} ms; GEMM efficiency "
            f"{_kind(est.sources.get('gemm_efficiency', ''))}")


def _predict_training(row, spec, acc, cat, curve, store=False):
    from .model import Cluster, TrainingJob, estimate_training, training_flops

    reasons = []
    dtype = str(row["dtype"])
    tp, pp, dp = int(row["tp"]), int(row["pp"]), int(row["dp"])
    cp = int(_num(row, "cp", 1))
    ep = int(_num(row, "ep", 1))
    vp_given = _num(row, "vp")
    mb = int(_num(row, "micro_batch", 1))
    gb = int(row["global_batch"])
    seq = int(row["seq_len"])
    gpus = int(row["gpus"])
    peak = acc.peak_flops_per_s(dtype)
    bf16_peak = acc.peak_flops_per_s("bf16")
    if not peak or not math.isfinite(peak):
        return np.nan, f"{acc.name} has no {dtype} peak in the catalog"
    bw = acc.mem_bw_bytes_per_s
    fp8 = dtype.startswith("fp8")
    attention = "materialized" if str(row["id"]).startswith("mlm-") else "flash"
    # the default: estimate_training's shape-aware efficiency (the accelerator's GEMM curve over this
    # layout's GEMM shapes, aicost.hardware.shape_aware_efficiency), as the planner uses it
    eff = None
    if curve is not None:  # a caller's curve: the same layer model on it, given as the efficiency
        from .calibrate_curves import layout_compute_efficiency

        eff = float(layout_compute_efficiency(
            spec, curve=curve, peak_flops_per_s=peak, mem_bw_bytes_per_s=bw, dtype=dtype, seq_len=seq, tp=tp,
            micro_batch=mb, ep=ep, cp=cp, recompute_code={"none": 0, "selective": 1, "full": 2}[str(row["recompute"])],
            n_units=compute_units(acc.name), attn_peak_flops_per_s=bf16_peak if fp8 else peak, attention=attention))
    dispatcher = str(_num(row, "ep_dispatcher", "alltoall")).lower()
    if ep > 1:
        ov = str(_num(row, "ep_overlap", "no")).lower() == "yes"
        reasons.append(f"expert parallelism {ep}: all-to-all "
                       + ("overlapped with compute (the source says so)" if ov else "exposed (overlap not stated)")
                       + (", DeepEP-style dispatch (one copy per destination node)" if dispatcher == "deepep" else "")
                       + ", routing balanced")
    tokens = float(_num(row, "tokens", gb * seq * 100.0))
    domain = _num(row, "scale_up_domain_gpus")
    cluster = Cluster(accelerator=acc.name, gpus=gpus, gpus_per_node=int(row["gpus_per_node"]),
                      scale_up=_num(row, "scale_up"), scale_out=_num(row, "scale_out"), efficiency=eff,
                      price_usd_per_gpu_hour=1.0, scale_up_domain_gpus=None if domain is None else int(domain))

    def run(v):
        job = TrainingJob(spec, tokens, global_batch=gb, micro_batch=mb, tp=tp, pp=pp, dp=dp, cp=cp, ep=ep,
                          overlap_ep_comm=str(_num(row, "ep_overlap", "no")).lower() == "yes",
                          ep_dispatcher=dispatcher,
                          recompute=str(row["recompute"]), zero_stage=int(row["zero_stage"]),
                          seq_len=seq, virtual_stages=v, dtype=dtype, attention=attention)
        return estimate_training(job, cluster, catalog=cat, store=store)

    if vp_given is not None:
        e = run(int(vp_given))
    else:  # not published: the fastest valid interleaving that fits, as the planner would choose
        tried = []
        for v in (1, 2, 3, 4, 6, 8):
            try:
                tried.append((run(v), v))
            except ValueError:
                continue
        fitting = [ev for ev in tried if ev[0].fits] or tried
        e, v = min(fitting, key=lambda ev: ev[0].step_s)
        if pp > 1:
            reasons.append(f"virtual stages not published: {v} chosen (fastest valid"
                           + (" that fits)" if e.fits else ")"))
            faster = sorted(w for ew, w in tried if ew.step_s < e.step_s and not ew.fits)
            if e.fits and faster:
                reasons.append(f"the faster interleavings ({', '.join(map(str, faster))}) do not fit in memory "
                               "by aicost's model (the source's schedule may hold fewer micro-batches in flight)")
    if not e.fits:
        reasons.append("does not fit in memory by aicost's model")
    step = e.step_s
    metric = row["metric"]
    if metric == "tflops_per_gpu":
        pred = _megatron_flops(spec, gb, seq) / (step * gpus) / 1e12
    elif metric == "mfu":
        pred = training_flops(spec, gb * seq, seq_len=seq) / (step * gpus * bf16_peak)
    elif metric == "tokens_per_s_per_gpu":
        pred = gb * seq / (step * gpus)
    elif metric == "gpu_hours":
        pred = e.expected_gpu_hours
    else:
        raise ValueError(f"unknown training metric {metric!r} (row {row['id']})")
    return float(pred), "; ".join(reasons), _training_diag(e, dtype)


def _predict_serving(row, spec, acc, cat):
    from dataclasses import replace

    from .model import estimate_inference, get_engine

    dtype = str(row["dtype"])
    batch = _num(row, "batch")
    engine = get_engine(row["engine"]) if _num(row, "engine") else None
    if engine is not None and _num(row, "max_num_seqs") is not None:
        engine = replace(engine, max_batch=int(row["max_num_seqs"]))
    est = estimate_inference(spec, acc.name, tp=int(row["tp"]), prompt_tokens=int(row["input_tokens"]),
                             output_tokens=int(row["output_tokens"]), batch=None if batch is None else int(batch),
                             dtype=dtype, kv_dtype=dtype, catalog=cat, price_usd_per_gpu_hour=1.0,
                             engine=engine)
    metric = row["metric"]
    reasons = []
    if metric == "output_tokens_per_s":
        pred = est.output_tokens_per_s_per_replica
        if batch is None:
            reasons.append(f"full load: the largest batch the {engine.name if engine else 'default'} memory "
                           f"rule allows ({est.batch})")
    elif metric == "ttft_s":
        pred = est.ttft_no_queue_s
    elif metric == "latency_s":
        pred = est.ttft_no_queue_s + (int(row["output_tokens"]) - 1) * est.tpot_s
    else:
        raise ValueError(f"unknown serving metric {metric!r} (row {row['id']})")
    if spec.is_moe:
        reasons.append("MoE decode reads the experts the batch touches")
    return float(pred), "; ".join(reasons), _serving_diag(est)


def validate_published_runs(runs=None, *, catalog=None, curve=None, store=False):
    """Predict every published run and compare (one set of constants for all rows).

    Parameters
    ----------
    runs : DataFrame, optional
        Default: :func:`load_published_runs`.
    catalog : aicost.catalog.Catalog, optional
    curve : aicost.calibrate_curves.GemmCurve, optional
        One GEMM curve for every training row's compute efficiency. Default: none, each row
        gets ``estimate_training``'s default shape-aware efficiency (its accelerator's curve:
        fitted where aicost has measurements, the documented default family otherwise).
    store : Store, None or False
        Results store whose GEMM measurements fit the curves (default False: only the shipped
        measurements, so the table is the same on every machine; None: the user's store).

    Returns
    -------
    pandas.DataFrame
        ``id, class, metric, model, accelerator, layout_published, published, predicted, error_pct,
        reason, notes, source``; ``reason`` is what the model leaves out for that row, ``notes``
        what the CSV says about the source's configuration; ``error_pct = 100 (predicted - published) / published``; ``predicted`` is
        NaN with the reason when the model cannot run the row (e.g. accelerator not in the catalog).
    """
    import pandas as pd

    from . import catalog as _catalog
    from ._errors import AicostError

    runs = load_published_runs() if runs is None else runs
    cat = _catalog.load() if catalog is None else catalog
    models = validation_models()
    out = []
    for row in runs.to_dict("records"):
        rec = {"id": row["id"], "class": _CLASSES.get(row["metric"], row["metric"]), "metric": row["metric"],
               "model": row["model"], "accelerator": row["accelerator"], "dtype": row["dtype"],
               "layout_published": row["layout_published"], "published": float(row["published_value"]),
               "predicted": np.nan, "reason": "", "notes": row.get("notes") if isinstance(row.get("notes"), str) else "",
               "source": row["source"]}
        spec = models.get(row["model"])
        try:
            acc = cat.accelerator(row["accelerator"])
        except (LookupError, AicostError) as exc:
            rec["reason"] = f"accelerator not in the catalog ({type(exc).__name__})"
            out.append(rec)
            continue
        if spec is None:
            rec["reason"] = "model not in the presets"
            out.append(rec)
            continue
        try:
            if row["kind"] == "train":
                pred, reason, diag = _predict_training(row, spec, acc, cat, curve, store=store)
            else:
                pred, reason, diag = _predict_serving(row, spec, acc, cat)
        except (AicostError, ValueError) as exc:
            rec["reason"] = f"model refused: {exc}"
            out.append(rec)
            continue
        rec["predicted"] = pred
        rec["reason"] = reason
        rec["diag"] = diag
        out.append(rec)
    df = pd.DataFrame(out)
    df["error_pct"] = 100.0 * (df["predicted"] - df["published"]) / df["published"]
    if "diag" in df:  # a miss says where the predicted time goes, so the reader sees what to doubt
        miss = (df["error_pct"].abs() > MISS_PCT).to_numpy() & df["diag"].notna().to_numpy()
        for i in np.flatnonzero(miss):
            head = df.at[i, "reason"]
            df.at[i, "reason"] = (f"{head}; " if head else "") + f"miss (> {MISS_PCT:g}%): {df.at[i, 'diag']}"
    cols = ["id", "class", "metric", "model", "accelerator", "dtype", "layout_published", "published",
            "predicted", "error_pct", "reason", "notes", "source"]
    return df[cols]


def validation_summary(table):
    """Per class: rows, rows predicted, median and max absolute error [%], rows within 25%, and the
    median and max over the rows whose layout is published (issue 12's targets)."""
    import pandas as pd

    rows = []
    for cls, g in table.groupby("class", sort=False):
        err = g["error_pct"].abs()
        pub = g[g["layout_published"] == "yes"]["error_pct"].abs()
        rows.append({"class": cls, "rows": len(g), "predicted": int(err.notna().sum()),
                     "median_abs_error_pct": float(err.median()), "max_abs_error_pct": float(err.max()),
                     "within_25pct": int((err <= 25).sum()),
                     "layout_published_rows": len(pub),
                     "layout_published_median_abs_error_pct": float(pub.median()) if len(pub) else np.nan,
                     "layout_published_max_abs_error_pct": float(pub.max()) if len(pub) else np.nan})
    return pd.DataFrame(rows)
