"""Demand input: an hourly series of GPUs per accelerator (and workload class), validated.

A demand CSV has the columns ``timestamp, accelerator, gpus`` and optionally ``workload_class``
(``training``, ``serving``, ``batch``, ...; it bounds the spot share). Each row is one hour.
"""

from __future__ import annotations

import io
import os
from pathlib import Path

import numpy as np
import pandas as pd

from .._checks import read_bounded
from .._errors import InputFileError

__all__ = ["DEMAND_COLUMNS", "SpendInputError", "demand_matrix", "read_demand", "validate_demand"]

#: columns a demand table must have
DEMAND_COLUMNS = ("timestamp", "accelerator", "gpus")
#: workload class used when a demand table has no ``workload_class`` column
DEFAULT_CLASS = "default"


class SpendInputError(InputFileError):
    """A spend input (demand CSV, FOCUS bill, telemetry log) is malformed.

    The message names the file, the 1-based line (the header is line 1) and the column, and
    says what was expected.
    """


def _missing_columns(have, need, path, what: str) -> None:
    from .._errors import did_you_mean

    lowered = {str(c).strip().lower(): c for c in have}
    for col in need:
        if col not in lowered:
            s = did_you_mean(col, list(lowered))
            hint = f"; did you mean {lowered[s[0]]!r}?" if s else ""
            raise SpendInputError(
                f"{what} needs the column {col!r} (columns: {', '.join(map(str, have))}){hint}",
                path=path, row=1, column=col)


def validate_demand(df: pd.DataFrame, path: str | None = None, *, first_line: int = 2,
                    catalog=None) -> pd.DataFrame:
    """Check and normalise a demand table.

    Parameters
    ----------
    df : pandas.DataFrame
        Columns ``timestamp, accelerator, gpus`` [GPUs], optionally ``workload_class``.
    path : str, optional
        Named in errors.
    first_line : int
        Line number of the first data row in ``path`` (2 for a CSV with a header).
    catalog : aicost.catalog.Catalog, optional
        When given, accelerator names are resolved to the catalog's canonical names (aliases
        such as ``H100`` become ``H100-SXM``); an unknown name is an error naming its line.

    Returns
    -------
    pandas.DataFrame
        ``timestamp`` (UTC, floored to the hour), ``accelerator``, ``workload_class``,
        ``gpus`` (float), one row per (timestamp, accelerator, workload_class), sorted; rows
        of one key in the same hour are summed.

    Raises
    ------
    SpendInputError
        Naming the file, line and column of the first bad value.
    """
    where = path or "<demand table>"
    df = df.rename(columns={c: str(c).strip().lower() for c in df.columns})
    _missing_columns(df.columns, DEMAND_COLUMNS, where, "a demand table")
    if len(df) == 0:
        raise SpendInputError("the demand table has no rows; give one row per hour",
                              path=where, row=first_line)
    lines = np.arange(first_line, first_line + len(df))
    ts = pd.to_datetime(df["timestamp"], errors="coerce", utc=True, format="mixed")
    bad = ts.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise SpendInputError(
            f"{df['timestamp'].iloc[i]!r} is not a timestamp (write ISO 8601, e.g. "
            "2026-01-01T00:00:00Z)", path=where, row=int(lines[i]), column="timestamp")
    gpus = pd.to_numeric(df["gpus"], errors="coerce")
    bad = (gpus.isna() | ~np.isfinite(gpus.to_numpy(dtype=float, na_value=np.nan))
           | (gpus < 0)).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise SpendInputError(
            f"{df['gpus'].iloc[i]!r} is not a GPU count (a number >= 0)", path=where,
            row=int(lines[i]), column="gpus")
    acc = df["accelerator"].astype("string").str.strip()
    bad = (acc.isna() | (acc == "")).to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise SpendInputError("empty accelerator name", path=where, row=int(lines[i]),
                              column="accelerator")
    if catalog is not None:
        from .._errors import UnknownNameError

        canon = {}
        for name in acc.unique():
            try:
                canon[name] = catalog.accelerator(name).name
            except UnknownNameError as exc:
                i = int(np.argmax((acc == name).to_numpy()))
                raise SpendInputError(str(exc), path=where, row=int(lines[i]),
                                      column="accelerator") from None
        acc = acc.map(canon)
    if "workload_class" in df.columns:
        wc = df["workload_class"].astype("string").str.strip().str.lower().fillna(DEFAULT_CLASS)
        wc = wc.mask(wc == "", DEFAULT_CLASS)
    else:
        wc = pd.Series(DEFAULT_CLASS, index=df.index)
    out = pd.DataFrame({"timestamp": ts.dt.floor("h"), "accelerator": acc.astype(str),
                        "workload_class": wc.astype(str), "gpus": gpus.astype(float)})
    out = (out.groupby(["timestamp", "accelerator", "workload_class"], as_index=False,
                       sort=True)["gpus"].sum())
    return out


def read_demand(path: str | os.PathLike, *, catalog=None) -> pd.DataFrame:
    """Read an hourly demand CSV (``timestamp, accelerator, gpus[, workload_class]``).

    Parameters
    ----------
    path : str or path-like
        CSV file (``.csv`` or ``.csv.gz``), one row per hour and accelerator.
    catalog : aicost.catalog.Catalog, optional
        Resolve accelerator aliases to catalog names (see :func:`validate_demand`).

    Returns
    -------
    pandas.DataFrame
        See :func:`validate_demand`.

    Raises
    ------
    SpendInputError
        File, line and column of the first bad value.
    FileNotFoundError
        If ``path`` does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise FileNotFoundError(f"demand file {str(p)!r} does not exist")
    raw = read_bounded(p, "a demand CSV", error=SpendInputError)
    try:
        df = pd.read_csv(io.BytesIO(raw), dtype=str, keep_default_na=False, skipinitialspace=True)
    except (pd.errors.ParserError, UnicodeDecodeError) as exc:
        raise SpendInputError(f"cannot parse as CSV: {exc}", path=p) from None
    except pd.errors.EmptyDataError:
        raise SpendInputError("the file is empty; expected a header "
                              "timestamp,accelerator,gpus", path=p, row=1) from None
    return validate_demand(df, str(p), catalog=catalog)


def demand_matrix(demand: pd.DataFrame, spot_share_max: dict | None = None):
    """Pivot a validated demand table to hourly arrays per accelerator.

    Returns
    -------
    index : pandas.DatetimeIndex
        Every hour from the first to the last (missing hours have zero demand).
    pools : list of str
        Accelerators, sorted.
    d : numpy.ndarray
        Demand [GPUs], shape (pools, hours).
    s : numpy.ndarray
        Most GPUs that may run on spot [GPUs], shape (pools, hours).
    """
    share = dict(spot_share_max or {})
    dflt = float(share.get(DEFAULT_CLASS, 0.0))
    for cls in demand["workload_class"].unique():
        v = float(share.get(cls, dflt))
        if not 0.0 <= v <= 1.0:
            raise ValueError(f"spot_share_max[{cls!r}] = {v} must lie in [0, 1]")
    idx = pd.date_range(demand["timestamp"].min(), demand["timestamp"].max(), freq="h")
    tot = demand.pivot_table(index="timestamp", columns="accelerator", values="gpus",
                             aggfunc="sum").reindex(idx, fill_value=0.0).fillna(0.0)
    alpha = demand["workload_class"].map(lambda c: float(share.get(c, dflt)))
    spot = (demand.assign(spot=demand["gpus"] * alpha)
            .pivot_table(index="timestamp", columns="accelerator", values="spot",
                         aggfunc="sum").reindex(idx, fill_value=0.0).fillna(0.0))
    pools = sorted(tot.columns)
    return idx, pools, tot[pools].to_numpy().T.copy(), spot[pools].to_numpy().T.copy()

