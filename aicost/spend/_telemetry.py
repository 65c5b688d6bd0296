"""GPU utilization telemetry: nvidia-smi CSV logs and DCGM exporter dumps.

Both become one table: ``timestamp`` (UTC), ``resource_id`` (the bill's ``ResourceId``),
``gpu_uuid``, ``gpu_util`` (0-1) and, where the source has them, ``memory_used_bytes``,
``sm_active`` and ``tensor_active`` (0-1).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import pandas as pd

from .._checks import read_bounded
from ._inputs import SpendInputError

__all__ = ["DCGM_METRICS", "read_dcgm", "read_nvidia_smi", "read_utilization"]

#: DCGM exporter metrics read, and the column each becomes (with its scale to 0-1)
DCGM_METRICS = {
    "DCGM_FI_DEV_GPU_UTIL": ("gpu_util", 0.01),
    "DCGM_FI_PROF_SM_ACTIVE": ("sm_active", 1.0),
    "DCGM_FI_PROF_PIPE_TENSOR_ACTIVE": ("tensor_active", 1.0),
}
_COLUMNS = ["timestamp", "resource_id", "gpu_uuid", "gpu_util", "memory_used_bytes",
            "sm_active", "tensor_active"]
_NUM = re.compile(r"^\s*([-+0-9.eE]+)\s*(%|MiB|MB|GiB)?\s*$")


def _text(p: Path, what: str) -> str:
    """The file as text, bounded in size, with a message naming the file if it is not UTF-8."""
    raw = read_bounded(p, what, error=SpendInputError)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise SpendInputError(f"not UTF-8 text (byte {exc.start})", path=p,
                              row=raw[: exc.start].count(b"\n") + 1) from None


def read_nvidia_smi(path: str | os.PathLike, resource_id: str | None = None) -> pd.DataFrame:
    """Read an ``nvidia-smi --query-gpu=timestamp,uuid,utilization.gpu,memory.used
    --format=csv`` log (``nounits`` or not).

    Parameters
    ----------
    path : str or path-like
        The log. Repeated header lines (several runs appended) are skipped.
    resource_id : str, optional
        The bill's ``ResourceId`` of this host; default the file name without its suffix, and
        without anything up to ``nvidia-smi_`` (``host-a.csv`` and
        ``synthetic_nvidia-smi_host-a.csv`` both give ``host-a``).

    Raises
    ------
    SpendInputError
        Naming the line and column of the first value that does not parse.
    """
    p = Path(path)
    rid = resource_id or p.name.split(".")[0].rsplit("nvidia-smi_", 1)[-1]
    lines = _text(p, "an nvidia-smi CSV log").splitlines()
    if not lines:
        raise SpendInputError("empty nvidia-smi log", path=p, row=1)
    header = [h.strip() for h in lines[0].split(",")]
    names = [h.split(" [")[0].strip().lower() for h in header]
    need = ("timestamp", "uuid", "utilization.gpu")
    for n in need:
        if n not in names:
            raise SpendInputError(
                f"an nvidia-smi log needs {n!r}; record it with nvidia-smi "
                "--query-gpu=timestamp,uuid,utilization.gpu,memory.used --format=csv -l 60",
                path=p, row=1, column=n)
    rows = []
    for i, line in enumerate(lines[1:], start=2):
        if not line.strip() or line.lstrip().lower().startswith("timestamp"):
            continue
        f = [x.strip() for x in line.split(",")]
        if len(f) != len(names):
            raise SpendInputError(f"expected {len(names)} fields, found {len(f)}", path=p, row=i)
        rows.append((i, f))
    if not rows:
        raise SpendInputError("no samples after the header", path=p, row=2)
    df = pd.DataFrame([f for _, f in rows], columns=names)
    line_no = np.array([i for i, _ in rows])
    ts = pd.to_datetime(df["timestamp"], format="%Y/%m/%d %H:%M:%S.%f", errors="coerce", utc=True)
    ts = ts.fillna(pd.to_datetime(df["timestamp"], errors="coerce", utc=True, format="mixed"))
    if ts.isna().any():
        k = int(np.argmax(ts.isna().to_numpy()))
        raise SpendInputError(f"{df['timestamp'].iloc[k]!r} is not a timestamp", path=p,
                              row=int(line_no[k]), column="timestamp")

    def num(col, scale):
        vals = df[col].str.extract(_NUM)[0]
        out = pd.to_numeric(vals, errors="coerce")
        if out.isna().any():
            k = int(np.argmax(out.isna().to_numpy()))
            raise SpendInputError(f"{df[col].iloc[k]!r} is not a number", path=p,
                                  row=int(line_no[k]), column=header[names.index(col)])
        return out * scale

    util = num("utilization.gpu", 0.01)
    mem = num("memory.used", 1024.0**2) if "memory.used" in names else np.nan
    return pd.DataFrame({"timestamp": ts, "resource_id": rid, "gpu_uuid": df["uuid"],
                         "gpu_util": util.clip(0, 1), "memory_used_bytes": mem,
                         "sm_active": np.nan, "tensor_active": np.nan})[_COLUMNS]


_PROM = re.compile(r"^([A-Za-z_:][A-Za-z0-9_:]*)\{(.*)\}\s+(\S+)(?:\s+(\d+))?\s*$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


def read_dcgm(path: str | os.PathLike, resource_label: str = "Hostname") -> pd.DataFrame:
    """Read a DCGM exporter dump (Prometheus text format, one sample per line).

    Each sample needs its timestamp in milliseconds (``METRIC{labels} VALUE TIMESTAMP_MS``, as
    written by ``promtool tsdb dump`` or a scraper that stamps its scrapes).

    Parameters
    ----------
    path : str or path-like
        The dump.
    resource_label : str
        Label holding the bill's ``ResourceId`` (``Hostname`` by default; ``instance`` or
        ``pod`` elsewhere).
    """
    p = Path(path)
    recs = []
    for i, line in enumerate(_text(p, "a DCGM exporter dump").splitlines(), start=1):
        s = line.strip()
        if not s or s.startswith("#"):
            continue
        m = _PROM.match(s)
        if not m:
            raise SpendInputError("not a Prometheus sample (METRIC{labels} VALUE TIMESTAMP_MS)",
                                  path=p, row=i)
        name, labels, value, ts = m.groups()
        if name not in DCGM_METRICS:
            continue
        if ts is None:
            raise SpendInputError(f"{name} sample without a timestamp; dump with timestamps "
                                  "(promtool tsdb dump, or stamp each scrape)", path=p, row=i)
        lab = dict(_LABEL.findall(labels))
        if resource_label not in lab:
            raise SpendInputError(f"sample has no {resource_label!r} label (labels: "
                                  f"{', '.join(lab)}); pass resource_label=...", path=p, row=i,
                                  column=resource_label)
        try:
            v = float(value)
        except ValueError:
            raise SpendInputError(f"{value!r} is not a number", path=p, row=i) from None
        recs.append((int(ts), lab[resource_label], lab.get("UUID", lab.get("gpu", "")),
                     DCGM_METRICS[name][0], v * DCGM_METRICS[name][1]))
    if not recs:
        raise SpendInputError("no DCGM_FI_DEV_GPU_UTIL / DCGM_FI_PROF_* samples", path=p)
    df = pd.DataFrame(recs, columns=["ms", "resource_id", "gpu_uuid", "metric", "value"])
    wide = df.pivot_table(index=["ms", "resource_id", "gpu_uuid"], columns="metric",
                          values="value", aggfunc="mean").reset_index()
    for c in ("gpu_util", "sm_active", "tensor_active"):
        if c not in wide.columns:
            wide[c] = np.nan
    wide["gpu_util"] = wide["gpu_util"].fillna(wide["sm_active"])
    wide["timestamp"] = pd.to_datetime(wide["ms"], unit="ms", utc=True)
    wide["memory_used_bytes"] = np.nan
    return wide[_COLUMNS]


def read_utilization(paths, resource_label: str = "Hostname") -> pd.DataFrame:
    """Read several telemetry files (nvidia-smi CSV or DCGM dumps, told apart by content)."""
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    parts = []
    for path in paths:
        with open(path) as fh:
            head = fh.read(4096)
        if "DCGM_FI_" in head:
            parts.append(read_dcgm(path, resource_label=resource_label))
        else:
            parts.append(read_nvidia_smi(path))
    if not parts:
        return pd.DataFrame(columns=_COLUMNS)
    return pd.concat(parts, ignore_index=True)


