"""The result of a suite run (:class:`Run`: rows, context, JSON, HTML) and reading it back."""

from __future__ import annotations

import html
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._units import format_cell, format_quantity
from ._rows import COLUMNS

__all__ = ["Run", "jsonable", "load_results"]


@dataclass
class Run:
    """One suite run: a tidy DataFrame of results and the context they were measured in.

    Attributes
    ----------
    df : pandas.DataFrame
        One row per measurement (:data:`COLUMNS`).
    context : dict
        Host, device, versions, TF32 setting, NVML readings, suite, wall time.
    partial : bool
        True when the run was interrupted (Ctrl-C) and holds only the finished measurements.
    errors : list of (str, str)
        (task, message) for each task that failed; the others still ran.
    run_id : str or None
        The store's id when saved.
    """

    df: object
    context: dict
    partial: bool = False
    errors: list = field(default_factory=list)
    run_id: str | None = None

    def summary(self):
        """A short table: kernel, dtype, shape, median time, rate and percent of peak."""
        import pandas as pd

        df = self.df
        if len(df) == 0:
            return pd.DataFrame(columns=["name", "backend", "dtype", "shape", "median", "rate",
                                         "pct_of_peak"])
        out = pd.DataFrame({
            "name": df["name"], "backend": df["backend"], "dtype": df["dtype"],
            "shape": df["shape"],
            "median": [format_cell(x, "median_s") for x in df["median_s"]],
            "rate": [format_quantity(v, u) for v, u in zip(df["value"], df["unit"])],
            "pct_of_peak": [None if p is None or (isinstance(p, float) and math.isnan(p))
                            else round(float(p), 1) for p in df["pct_of_peak"]],
        })
        return out

    def to_records(self) -> list[dict]:
        """JSON-ready records (:data:`JSON_FIELDS` plus params, samples, flags, context keys)."""
        recs = []
        for row in self.df.to_dict(orient="records"):
            rec = {"kernel": row["name"]}
            for k in COLUMNS:
                v = row.get(k)
                if isinstance(v, float) and math.isnan(v):
                    v = None
                rec[k] = jsonable(v)
            recs.append(rec)
        return recs

    def to_json(self, path: str | Path | None = None) -> str:
        """The run as JSON: ``{"context": ..., "partial": ..., "results": [records]}``."""
        doc = {"context": jsonable(self.context), "partial": self.partial,
               "errors": [list(e) for e in self.errors], "results": self.to_records()}
        text = json.dumps(doc, indent=1, default=str)
        if path is not None:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
            Path(path).write_text(text + "\n")
        return text

    def __repr__(self) -> str:
        head = (f"aicost.bench.Run({self.context.get('suite')!r} suite on "
                f"{self.context.get('device')!r} via {self.context.get('backend')!r}, "
                f"{len(self.df)} results{', PARTIAL' if self.partial else ''}"
                f"{', run_id=' + self.run_id if self.run_id else ''})")
        body = self.summary().to_string(index=False) if len(self.df) else "(no results)"
        errs = "".join(f"\n  error in {t}: {m}" for t, m in self.errors)
        return f"{head}\n{body}{errs}"

    def _repr_html_(self) -> str:
        ctx = self.context
        title = html.escape(f"{ctx.get('suite', '?')} suite · {ctx.get('device', '?')} · "
                            f"backend {ctx.get('backend', '?')} · {ctx.get('time_utc', '')}")
        warn = "<p><b>Partial run (interrupted)</b></p>" if self.partial else ""
        errs = "".join(f"<li>{html.escape(t)}: {html.escape(m)}</li>" for t, m in self.errors)
        errs = f"<p>Errors:</p><ul>{errs}</ul>" if errs else ""
        return (f"<div><p><b>aicost compute benchmark</b>: {title}</p>{warn}"
                f"{self.summary().to_html(index=False)}{errs}</div>")


def jsonable(v):
    """``v`` with NumPy scalars as Python numbers, NaN and inf as None, tuples as lists."""
    if isinstance(v, dict):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, np.generic):
        return v.item()
    if isinstance(v, float) and (math.isnan(v) or math.isinf(v)):
        return None
    return v


def load_results(path: str | Path) -> Run:
    """Read a run saved with :meth:`Run.to_json` (or by ``scripts/device_check.py``).

    A device-check file holds several runs: ``{"runs": [...]}``; their results are
    concatenated (the ``params['suite']`` of each row says which run it came from).
    """
    import pandas as pd

    doc = json.loads(Path(path).read_text())
    if "runs" in doc:
        recs, ctx = [], dict(doc.get("context") or {})
        for r in doc["runs"]:
            for rec in r.get("results", []):
                rec = dict(rec)
                rec["params"] = {**(rec.get("params") or {}),
                                 "suite": r.get("context", {}).get("suite")}
                recs.append(rec)
        partial = any(r.get("partial") for r in doc["runs"])
    else:
        recs, ctx, partial = doc.get("results", []), dict(doc.get("context") or {}), doc.get("partial", False)
    df = pd.DataFrame([{k: r.get(k) for k in COLUMNS} for r in recs], columns=COLUMNS)
    for col in ("flops", "bytes_moved", "median_s", "min_s", "mean_s", "stdev_s", "iqr_s",
                "value", "peak", "pct_of_peak", "size_bytes"):
        df[col] = pd.to_numeric(df[col], errors="coerce")
    ctx.setdefault("source_file", str(path))
    return Run(df=df, context=ctx, partial=bool(partial), errors=[tuple(e) for e in doc.get("errors", [])])
