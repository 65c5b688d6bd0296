"""Read, validate, merge and index the catalog CSVs; the :class:`Catalog` object.

Override rules (``load(extra=...)``)
------------------------------------
A user file adds rows or overrides shipped rows, matched by key:

- accelerators, storage tiers, fabrics: ``name`` (any alias, case-insensitive, spaces,
  dashes and underscores ignored);
- instances: ``(provider, instance_type, region)``, case-insensitive; an EMPTY region
  overrides that instance type in every region of the provider.

An override row changes only the cells it fills; empty cells keep the shipped value (so
``provider,instance_type,region,price_on_demand_usd_per_hour`` is a complete negotiated-price
file). A row whose key matches nothing is a new row and must fill every required column. An
override without ``source`` gets ``"user override (FILE line N); was: <old source>"``.
Files are applied in order; a later file overrides an earlier one.

The kind of a user file is found from, in order: a ``table`` column (accelerators,
instances, storage, fabrics; rows may mix), SkyPilot ``vms.csv`` columns (imported with
:func:`aicost.catalog.from_skypilot`), the file name (``instances*.csv``, ...), its columns.
``extra`` may also hold DataFrames (e.g. the result of ``from_skypilot``), checked as if
written to CSV (header = line 1).
"""

from __future__ import annotations

import functools
import math
import os
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from .._errors import CatalogError, CatalogWarning, UnknownNameError, did_you_mean
from .._paths import data_dir
from ._cache import refreshed_frames, refreshed_stamps
from ._csvfile import MAX_FILE_BYTES as _CSV_MAX_FILE_BYTES
from ._csvfile import read_rows
from ._records import (
    PRICINGS,
    Accelerator,
    Fabric,
    Instance,
    StorageTier,
    UnknownPricingError,
    normalize_pricing,
)
from ._schema import TABLE_ALIASES, TABLES, TableSpec, convert_cell, normalize_name
from ._skypilot import import_skypilot

__all__ = ["Catalog", "load", "read_table"]

#: largest catalog file read [B] (``_csvfile.MAX_FILE_BYTES``; a module attribute here so tests
#: can lower it)
MAX_FILE_BYTES = _CSV_MAX_FILE_BYTES

#: columns a user file may carry that the loader ignores
_IGNORED_COLUMNS = ("table", "notes", "comment")

_ORIGIN = "_origin"  # (path, line) of the cells' row, kept out of the DataFrames

#: instance price columns: 0 is a defect (free? not offered?), rejected at load
_PRICE_COLUMNS = frozenset(("price_on_demand_usd_per_hour", "price_spot_usd_per_hour",
                            "price_reserved_1y_usd_per_hour"))


# ============================================================================ reading
def _read_rows(path, text: str | None = None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """Return the header and ``(line, fields)`` of each non-blank record of a CSV file."""
    return read_rows(path, text, max_bytes=MAX_FILE_BYTES)


def _check_header(spec: TableSpec | None, header: list[str], path: str, *, full: bool,
                  allowed: set[str] | None = None) -> None:
    seen: set[str] = set()
    for col in header:
        if col == "":
            raise CatalogError("empty column name in the header", path=path, row=1)
        if col in seen:
            raise CatalogError("duplicate column in the header", path=path, row=1, column=col)
        seen.add(col)
    known = allowed if allowed is not None else set(spec.column_names)
    for col in header:
        if col not in known and col not in _IGNORED_COLUMNS:
            hint = did_you_mean(col, sorted(known))
            extra = f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else ""
            raise CatalogError(f"unknown column{extra}", path=path, row=1, column=col)
    if full:
        for col in spec.column_names:
            if col not in seen:
                raise CatalogError(
                    f"missing column; the header must name: {', '.join(spec.column_names)}",
                    path=path, row=1, column=col)
    elif spec is not None:
        for col in spec.key:
            if col == "region" and spec.name == "instances":
                continue
            if col not in seen:
                raise CatalogError(f"missing column {col!r}, which identifies the {spec.name} row",
                                   path=path, row=1, column=col)


_HEADER_COLUMNS: dict[tuple, tuple] = {}


def _header_columns(spec: TableSpec, header: tuple[str, ...]) -> tuple:
    """The :class:`Column` of each header name (None: a column the loader ignores), cached."""
    key = (spec.name, id(spec), header)
    cols = _HEADER_COLUMNS.get(key)
    if cols is None:
        known = {c.name: c for c in spec.columns}
        cols = tuple(None if name in _IGNORED_COLUMNS else known.get(name) for name in header)
        if len(_HEADER_COLUMNS) > 256:
            _HEADER_COLUMNS.clear()
        _HEADER_COLUMNS[key] = cols
    return cols


#: date cell text -> date, as convert_cell returned it (valid dates only)
_DATES: dict = {}


def _fast_number(col, text: str):
    """The number convert_cell would return for a valid cell, or None (then convert_cell
    decides, with its error message). ``float`` accepts what the schema's number pattern does,
    plus underscores (excluded here) and nan/inf (rejected below)."""
    if "_" in text:
        return None
    try:
        v = float(text)
    except ValueError:
        return None
    if not (v >= 0 and v != math.inf) or (col.positive and v == 0):
        return None
    if col.kind == "int":
        return int(v) if v == int(v) else None
    return v


def _convert_row(spec: TableSpec, header: list[str], fields: list[str], path: str, line: int,
                 *, need_required: bool) -> dict:
    if len(fields) != len(header):
        raise CatalogError(f"expected {len(header)} fields as in the header, got {len(fields)}",
                           path=path, row=line)
    row: dict = {}
    for col, text in zip(_header_columns(spec, tuple(header)), fields):
        if col is None:
            continue
        col_name = col.name
        if not text or text.isspace():  # empty: the common case of override files, no parsing
            row[col_name] = None
            continue
        if col.kind == "str":  # as convert_cell does, without its call per cell
            row[col_name] = text.strip()
            continue
        kind = col.kind
        if kind == "date":  # a file repeats a few dates over many rows: convert each once
            value = _DATES.get(text)
            if value is None:
                value = convert_cell(col, text, path=path, line=line)
                if len(_DATES) > 4096:
                    _DATES.clear()
                _DATES[text] = value
            row[col_name] = value
            continue
        value = _fast_number(col, text) if kind in ("float", "int") else None
        row[col_name] = (value if value is not None
                         else convert_cell(col, text, path=path, line=line))
        if col_name in _PRICE_COLUMNS and row[col_name] == 0:
            raise CatalogError(
                "expected a positive price [USD/h], got 0: a price of 0 would read as free or "
                "as not offered; leave the cell empty (not offered, or keep the shipped price in "
                "an override)", path=path, row=line, column=col_name)
    if row.get("estimated"):
        row["estimated"] = _estimated_columns(spec, row["estimated"], path, line)
    if need_required:
        for col in spec.columns:
            if col.required and row.get(col.name) is None:
                raise CatalogError("expected a value: this column is required", path=path,
                                   row=line, column=col.name)
    row[_ORIGIN] = (path, line)
    return row


def _estimated_columns(spec: TableSpec, names, path: str, line: int) -> tuple[str, ...]:
    """The ``estimated`` cell as column names of ``spec`` (a pricing name, ``spot``, stands for
    its price column in the instances table); an unknown name raises naming the cell."""
    out = []
    for name in names:
        col = name
        if spec.name == "instances" and name not in spec.column_names:
            try:
                col = PRICINGS[normalize_pricing(name)]
            except UnknownPricingError:
                col = name
        if col not in spec.column_names or col in ("source", "as_of", "estimated"):
            choices = [c for c in spec.column_names if c not in ("source", "as_of", "estimated")]
            hint = did_you_mean(name, choices)
            extra = f"; did you mean {' or '.join(repr(h) for h in hint)}?" if hint else ""
            raise CatalogError(f"'estimated' must name columns of this table, got {name!r}{extra}",
                               path=path, row=line, column="estimated")
        if col not in out:
            out.append(col)
    return tuple(out)


def _fold(value) -> str:
    return normalize_name(value) if value is not None else ""


def _row_key(spec: TableSpec, row: dict) -> tuple:
    if spec.name == "instances":
        return tuple([str(row.get(k) or "").strip().lower() for k in spec.key])
    return (_fold(row.get("name")),)


def _parse_full(spec: TableSpec, path: str, header, rows) -> list[dict]:
    """Validate a complete table (the shipped file, or ``read_table``)."""
    _check_header(spec, header, path, full=True)
    out: list[dict] = []
    seen: dict[tuple, int] = {}
    for line, fields in rows:
        row = _convert_row(spec, header, fields, path, line, need_required=True)
        key = _row_key(spec, row)
        if key in seen:
            raise CatalogError(
                f"duplicate key {_key_text(spec, row)}, first defined on line {seen[key]}",
                path=path, row=line, column=spec.key[-1] if spec.name == "instances" else "name")
        seen[key] = line
        out.append(row)
    return out


def _key_text(spec: TableSpec, row: dict) -> str:
    if len(spec.key) == 1:
        return repr(row.get(spec.key[0]))
    return "(" + ", ".join(f"{k}={row.get(k)!r}" for k in spec.key) + ")"


# ============================================================================ merging extras
def _detect_table(header: list[str], path: str) -> str:
    cols = set(header)
    stem = Path(path).name.lower()
    for prefix, table in (("accelerator", "accelerators"), ("instance", "instances"),
                          ("storage", "storage"), ("fabric", "fabrics")):
        if stem.startswith(prefix):
            return table
    if "instance_type" in cols:
        return "instances"
    generic = {"name", "aliases", "source", "as_of", "provider", "kind"}
    scores = {
        name: len((cols - generic) & set(spec.column_names))
        for name, spec in TABLES.items() if name != "instances"
    }
    best = max(scores, key=lambda k: scores[k])
    if "name" in cols and scores[best] > 0 and list(scores.values()).count(scores[best]) == 1:
        return best
    raise CatalogError(
        "cannot tell which catalog table this file holds: add a 'table' column "
        "(accelerators, instances, storage or fabrics), name the file instances*.csv, "
        "accelerators*.csv, storage*.csv or fabrics*.csv, or use the column names of that table",
        path=path, row=1)


def _frame_to_rows(df: pd.DataFrame) -> tuple[list[str], list[tuple[int, list[str]]]]:
    header = [str(c) for c in df.columns]
    rows = []
    # to_numpy, not itertuples: pandas deep-copies ``df.attrs`` (a SkyPilot import keeps its
    # dropped rows there) for every column itertuples takes, 5 of the 8 s of loading 30k rows
    for i, rec in enumerate(df.to_numpy(dtype=object).tolist()):
        fields = []
        for v in rec:
            if v is None or (isinstance(v, float) and math.isnan(v)) or v is pd.NA:
                fields.append("")
            elif isinstance(v, (tuple, list)):
                fields.append("|".join(map(str, v)))
            elif isinstance(v, float) and v == int(v) and abs(v) < 1e15:
                fields.append(repr(v))
            else:
                fields.append(str(v))
        rows.append((i + 2, fields))
    return header, rows


def _apply_extra(tables: dict[str, list[dict]], item, index: int) -> None:
    """Merge one user file or DataFrame into ``tables`` (in place)."""
    if isinstance(item, pd.DataFrame) and item.attrs.get("aicost_import") == "skypilot":
        _apply_import(tables, item, str(item.attrs.get("aicost_path")
                                        or f"<DataFrame extra #{index + 1}>"))
        return
    if isinstance(item, pd.DataFrame):
        path = str(item.attrs.get("aicost_path") or f"<DataFrame extra #{index + 1}>")
        header, rows = _frame_to_rows(item)
        forced = item.attrs.get("aicost_table")
    else:
        path = str(item)
        header, rows = _read_rows(item)
        forced = None
    header_set = set(header)
    if forced is None and {"InstanceType", "AcceleratorName"} <= header_set:
        _apply_import(tables, import_skypilot(item, catalog=tables["accelerators"],
                                              instances=tables["instances"]), path)
        return
    if forced is None and "table" in header_set:
        tcol = header.index("table")
        groups: dict[str, list] = {}
        for line, fields in rows:
            raw = fields[tcol].strip().lower() if tcol < len(fields) else ""
            if raw not in TABLE_ALIASES:
                raise CatalogError("expected one of accelerators, instances, storage, fabrics, "
                                   f"got {fields[tcol] if tcol < len(fields) else ''!r}",
                                   path=path, row=line, column="table")
            groups.setdefault(TABLE_ALIASES[raw], []).append((line, fields))
        allowed = set().union(*(s.column_names for s in TABLES.values()))
        _check_header(None, header, path, full=False, allowed=allowed)
        for table, trows in groups.items():
            _merge(tables, TABLES[table], header, trows, path, check_header=False)
        return
    table = TABLE_ALIASES.get(str(forced).lower()) if forced else _detect_table(header, path)
    _merge(tables, TABLES[table], header, rows, path)


def _apply_import(tables: dict[str, list[dict]], df: pd.DataFrame, path: str) -> None:
    """Add the offers of a SkyPilot import (``from_skypilot``'s frame) to ``tables``.

    An import never replaces a row already in the catalog: an offer identical to the row
    with its key (provider, instance type, region) is skipped; a different one is added
    BESIDE it (both visible; ``Catalog.instance`` finds the earlier one first) and one
    :class:`CatalogWarning` names them. Rows the import dropped are summarised in a warning.
    """
    import warnings

    spec = TABLES["instances"]
    header, rows = _frame_to_rows(df)
    _check_header(spec, header, path, full=False)
    base = tables["instances"]
    existing: dict[tuple, int] = {}
    for i, r in enumerate(base):
        existing.setdefault(_row_key(spec, r), i)
    same, beside = 0, []
    for line, fields in rows:
        row = _convert_row(spec, header, fields, path, line, need_required=True)
        j = existing.get(_row_key(spec, row))
        if j is not None:
            old = base[j]
            if (_fold(old["accelerator"]) == _fold(row["accelerator"])
                    and old["accelerator_count"] == row["accelerator_count"]
                    and old["price_on_demand_usd_per_hour"] == row["price_on_demand_usd_per_hour"]
                    and old.get("price_spot_usd_per_hour") == row.get("price_spot_usd_per_hour")):
                same += 1
                continue
            beside.append((old, row))
        base.append(row)
    if df.attrs.get("aicost_quiet"):  # a refreshed catalog: refresh() reported it already
        return
    summary = df.attrs.get("summary")
    if summary is not None and (summary.rows_dropped or summary.unknown_accelerators):
        warnings.warn(f"SkyPilot import {summary.line()}", CatalogWarning, stacklevel=4)
    if beside:
        examples = "; ".join(
            f"{o['provider']} {o['instance_type']} {o['region']}: catalog {o['accelerator']} "
            f"${o['price_on_demand_usd_per_hour']:g}/h ({o['as_of']}), import {n['accelerator']} "
            f"${n['price_on_demand_usd_per_hour']:g}/h ({n['as_of']})" for o, n in beside[:3])
        more = f" and {len(beside) - 3} more" if len(beside) > 3 else ""
        warnings.warn(
            f"{path}: {len(beside)} imported offers have the key of a catalog row and differ "
            f"from it; both are kept (the catalog row is found first): {examples}{more}",
            CatalogWarning, stacklevel=4)


def _merge(tables, spec: TableSpec, header, rows, path, check_header: bool = True) -> None:
    if check_header:
        _check_header(spec, header, path, full=False)
    else:
        for col in spec.key:
            if col not in header and not (spec.name == "instances" and col == "region"):
                raise CatalogError(f"missing column {col!r}, which identifies the {spec.name} row",
                                   path=path, row=1, column=col)
    base = tables[spec.name]
    index = _KeyIndex(spec, base)
    required = [c.name for c in spec.columns if c.required]
    seen: dict[tuple, int] = {}
    for line, fields in rows:
        row = _convert_row(spec, header, fields, path, line, need_required=False)
        for k in spec.key:
            if k == "region" and spec.name == "instances":
                continue
            if row.get(k) is None:
                raise CatalogError("expected a value: this column identifies the row",
                                   path=path, row=line, column=k)
        key = _row_key(spec, row)
        if key in seen:
            raise CatalogError(
                f"duplicate key {_key_text(spec, row)}, first defined on line {seen[key]}",
                path=path, row=line, column=spec.key[-1] if spec.name == "instances" else "name")
        seen[key] = line
        targets = index.matching(row)
        if targets:
            given = {k: v for k, v in row.items() if v is not None and k != _ORIGIN}
            if not any(k not in spec.key for k in given):
                continue  # nothing to change
            for i in targets:
                old = base[i]
                new = dict(old)
                for k, v in given.items():
                    if k in spec.key:
                        continue  # keep the shipped spelling of the key
                    new[k] = v
                if "estimated" not in given and old.get("estimated"):
                    # a value the user gives replaces the estimate it overrides
                    new["estimated"] = tuple(c for c in old["estimated"] if c not in given)
                if "source" not in given:
                    new["source"] = f"user override ({path} line {line}); was: {old['source']}"
                new[_ORIGIN] = (path, line)
                base[i] = new
            continue
        for name in required:
            if row.get(name) is None:
                raise CatalogError(
                    f"expected a value: {_key_text(spec, row)} matches no catalog row, so this "
                    "is a new row and needs every required column", path=path, row=line,
                    column=name)
        base.append(row)
        index.add(len(base) - 1)


class _KeyIndex:
    """The rows of one table by key, so that matching a user row is a lookup, not a scan.

    instances: ``(provider, instance_type)`` -> region -> row positions (an empty region
    matches every region); other tables: every folded name and alias -> the first row bearing it.
    """

    def __init__(self, spec: TableSpec, base: list[dict]) -> None:
        self.spec = spec
        self.base = base
        self.by_key: dict = {}
        for i in range(len(base)):
            self.add(i)

    def add(self, i: int) -> None:
        r = self.base[i]
        if self.spec.name == "instances":
            key = (str(r["provider"]).lower(), str(r["instance_type"]).lower())
            regions = self.by_key.setdefault(key, {})
            regions.setdefault(str(r["region"]).lower(), []).append(i)
            return
        for n in (r["name"], *(r.get("aliases") or ())):
            self.by_key.setdefault(_fold(n), i)

    def matching(self, row: dict) -> list[int]:
        """Positions of the rows ``row`` overrides (in table order)."""
        if self.spec.name == "instances":
            regions = self.by_key.get((str(row["provider"]).lower(),
                                       str(row["instance_type"]).lower()), {})
            region = str(row.get("region") or "").lower()
            if region:
                return list(regions.get(region, []))
            return sorted(i for hits in regions.values() for i in hits)
        i = self.by_key.get(_fold(row["name"]))
        return [] if i is None else [i]


# ============================================================================ cross checks
class _NameIndex:
    """Case-, space- and dash-insensitive name lookup with aliases."""

    def __init__(self, kind: str, rows: list[dict], *, check: bool = True) -> None:
        self.kind = kind
        self.names = [r["name"] for r in rows]
        self._map: dict[str, int] = {}
        self._choices: list[str] = []
        for i, r in enumerate(rows):
            for n in (r["name"], *(r.get("aliases") or ())):
                f = _fold(n)
                other = self._map.get(f)
                if other is not None and other != i and check:
                    path, line = r[_ORIGIN]
                    raise CatalogError(
                        f"{n!r} already names {rows[other]['name']!r} "
                        f"({rows[other][_ORIGIN][0]} line {rows[other][_ORIGIN][1]}); "
                        "names and aliases must be unique", path=path, row=line,
                        column="name" if n == r["name"] else "aliases")
                self._map.setdefault(f, i)
                self._choices.append(n)

    def get(self, name: str) -> int | None:
        return self._map.get(_fold(name))

    def lookup(self, name: str) -> int:
        i = self.get(name)
        if i is None:
            raise _unknown(self.kind, str(name), self.names, self.suggest(name))
        return i

    def suggest(self, name: str) -> list[str]:
        """Up to 3 canonical names: prefix matches first ("a100" -> both A100s), then difflib
        matches on names and on aliases (shown as the canonical name)."""
        q = _fold(name)
        out = []
        if q:
            out += [self.names[i] for f, i in self._map.items() if f.startswith(q)]
        out += did_you_mean(str(name), self.names)
        out += [self.names[self._map[_fold(h)]] for h in did_you_mean(str(name), self._choices)]
        return list(dict.fromkeys(out))[:3]


def _unknown(kind: str, name: str, choices: list[str], suggestions: list[str],
             hint: str = "") -> UnknownNameError:
    """An UnknownNameError whose suggestions are ``suggestions`` (when there are any)."""
    err = UnknownNameError(kind, name, choices, hint=hint)
    if suggestions:
        err.suggestions = list(suggestions)
        msg = f"unknown {kind} {name!r}; did you mean " + " or ".join(
            repr(s) for s in suggestions) + "?"
        if hint:
            msg += f" {hint}"
        err.args = (msg,)
    return err


def _cross_check(tables: dict[str, list[dict]]) -> tuple[_NameIndex, _NameIndex, _NameIndex]:
    acc = _NameIndex("accelerator", tables["accelerators"])
    fab = _NameIndex("fabric", tables["fabrics"])
    sto = _NameIndex("storage tier", tables["storage"])
    accs = tables["accelerators"]
    fabs = tables["fabrics"]
    acc_memo: dict = {}  # user files repeat a few names over many rows: resolve each once
    fab_memo: dict = {}
    for j, r in enumerate(tables["instances"]):
        path, line = r[_ORIGIN]
        name = r["accelerator"]
        i = acc_memo[name] if name in acc_memo else acc_memo.setdefault(name, acc.get(name))
        if i is None:
            sugg = acc.suggest(r["accelerator"])
            hint = ("; did you mean " + " or ".join(repr(s) for s in sugg) + "?") if sugg else ""
            raise CatalogError(
                f"unknown accelerator {r['accelerator']!r}{hint} (add it to accelerators.csv "
                "or a user accelerators file first)", path=path, row=line, column="accelerator")
        changes = {}
        if accs[i]["name"] != name:
            changes["accelerator"] = accs[i]["name"]
        for col in ("scale_up_fabric", "scale_out_fabric"):
            fname = r.get(col)
            if fname is None:
                continue
            k = fab_memo[fname] if fname in fab_memo else fab_memo.setdefault(fname,
                                                                               fab.get(fname))
            if k is None:
                sugg = fab.suggest(r[col])
                hint = ("; did you mean " + " or ".join(repr(s) for s in sugg) + "?") if sugg else ""
                raise CatalogError(f"unknown fabric {r[col]!r}{hint}", path=path, row=line,
                                   column=col)
            if fabs[k]["name"] != fname:
                changes[col] = fabs[k]["name"]
        if changes:  # canonical spellings; rows are never shared, so a copy only when needed
            tables["instances"][j] = {**r, **changes}
    return acc, fab, sto


# ============================================================================ DataFrames
def _frame(spec: TableSpec, rows: list[dict]) -> pd.DataFrame:
    data = {}
    for col in spec.columns:
        vals = [r.get(col.name) for r in rows]
        if col.kind in ("float",):
            data[col.name] = pd.Series([math.nan if v is None else float(v) for v in vals],
                                       dtype="float64")
        elif col.kind == "int":
            data[col.name] = pd.Series([int(v) for v in vals], dtype="int64") if all(
                v is not None for v in vals) else pd.Series(vals, dtype="Int64")
        elif col.kind == "list":
            data[col.name] = pd.Series(["|".join(v) if v else "" for v in vals], dtype=object)
        elif col.kind == "date":
            data[col.name] = pd.Series([v.isoformat() for v in vals], dtype=object)
        else:
            data[col.name] = pd.Series([v for v in vals], dtype=object)
    return pd.DataFrame(data, columns=spec.column_names)


def _derive_accelerators(df: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    # the roofline ridge point: bf16 FLOP per byte of memory traffic at which a kernel
    # stops being memory-bound
    df["ridge_bf16_flop_per_byte"] = df["bf16_tflops"] * 1e12 / (df["mem_bw_gb_s"] * 1e9)
    return df


def _derive_instances(df: pd.DataFrame, acc: pd.DataFrame) -> pd.DataFrame:
    df = df.copy()
    specs = acc.set_index("name")
    n = df["accelerator_count"].astype("float64")
    bf16 = df["accelerator"].map(specs["bf16_tflops"]).astype("float64")
    bw = df["accelerator"].map(specs["mem_bw_gb_s"]).astype("float64")
    mem = df["accelerator"].map(specs["memory_gib"]).astype("float64")
    df["vendor"] = df["accelerator"].map(specs["vendor"])
    df["price_usd_per_gpu_hour"] = df["price_on_demand_usd_per_hour"] / n
    df["price_spot_usd_per_gpu_hour"] = df["price_spot_usd_per_hour"] / n
    df["price_reserved_1y_usd_per_gpu_hour"] = df["price_reserved_1y_usd_per_hour"] / n
    df["spot_discount"] = 1.0 - df["price_spot_usd_per_hour"] / df["price_on_demand_usd_per_hour"]
    df["total_accelerator_memory_gib"] = mem * n
    df["total_bf16_pflops"] = bf16 * n / 1e3
    df["total_mem_bw_tb_s"] = bw * n / 1e3
    df["usd_per_bf16_pflop_hour"] = df["price_on_demand_usd_per_hour"] / df["total_bf16_pflops"]
    df["usd_per_bf16_pflop_hour_spot"] = df["price_spot_usd_per_hour"] / df["total_bf16_pflops"]
    df["usd_per_tb_s_hour"] = df["price_on_demand_usd_per_hour"] / df["total_mem_bw_tb_s"]
    df["usd_per_tb_s_hour_spot"] = df["price_spot_usd_per_hour"] / df["total_mem_bw_tb_s"]
    return df


# ============================================================================ the Catalog
def _record(cls, row: dict):
    r = {k: v for k, v in row.items() if k != _ORIGIN}
    if cls is Accelerator:
        return Accelerator(
            name=r["name"], vendor=r["vendor"], aliases=tuple(r.get("aliases") or ()),
            fp64_tflops=r.get("fp64_tflops"), fp32_tflops=r.get("fp32_tflops"),
            tf32_tflops=r.get("tf32_tflops"), bf16_tflops=r.get("bf16_tflops"),
            fp16_tflops=r.get("fp16_tflops"), fp8_tflops=r.get("fp8_tflops"),
            int8_tops=r.get("int8_tops"), memory_gib=r["memory_gib"],
            mem_bw_bytes_per_s=r["mem_bw_gb_s"] * 1e9,
            scale_up_bw_bytes_per_s=None if r.get("scale_up_gb_s") is None
            else r["scale_up_gb_s"] * 1e9,
            tdp_watts=r.get("tdp_watts"), source=r["source"], as_of=r["as_of"],
            memory_gb=r.get("memory_gb"), fp4_tflops=r.get("fp4_tflops"),
            estimated=tuple(r.get("estimated") or ()))
    if cls is Instance:
        return Instance(**{k: r.get(k) for k in TABLES["instances"].column_names
                           if k != "estimated"}, estimated=tuple(r.get("estimated") or ()))
    if cls is StorageTier:
        mb = 1e6
        return StorageTier(
            name=r["name"], provider=r["provider"], kind=r["kind"],
            throughput_bytes_per_s=r["throughput_mb_s"] * mb,
            throughput_basis=r["throughput_basis"],
            max_throughput_bytes_per_s=None if r.get("max_throughput_mb_s") is None
            else r["max_throughput_mb_s"] * mb,
            iops=r.get("iops"),
            latency_s=None if r.get("latency_ms") is None else r["latency_ms"] * 1e-3,
            price_usd_per_gb_month=r["price_usd_per_gb_month"],
            price_usd_per_1k_put=r.get("price_usd_per_1k_put"),
            price_usd_per_1k_get=r.get("price_usd_per_1k_get"),
            source=r["source"], as_of=r["as_of"], aliases=tuple(r.get("aliases") or ()),
            max_iops=r.get("max_iops"), min_capacity_gib=r.get("min_capacity_gib"))
    if cls is Fabric:
        return Fabric(
            name=r["name"], kind=r["kind"], bandwidth_bytes_per_s=r["bandwidth_gb_s"] * 1e9,
            basis=r["basis"],
            latency_s=None if r.get("latency_us") is None else r["latency_us"] * 1e-6,
            aliases=tuple(r.get("aliases") or ()), source=r["source"], as_of=r["as_of"],
            scale_up_domain_gpus=r.get("scale_up_domain_gpus"))
    raise TypeError(cls)  # pragma: no cover


class Catalog:
    """The hardware and price catalog: four validated tables and lookups by name.

    Build one with :func:`aicost.catalog.load`. Each ``load()`` returns its own
    object; changing its DataFrames does not change the next ``load()``.

    Attributes
    ----------
    accelerators : pandas.DataFrame
        One row per accelerator, CSV columns (TFLOP/s, GB/s, GiB) plus
        ``ridge_bf16_flop_per_byte``.
    instances : pandas.DataFrame
        One row per offer, CSV columns plus derived ones: ``vendor``,
        ``price_usd_per_gpu_hour`` (on demand), ``price_spot_usd_per_gpu_hour``,
        ``price_reserved_1y_usd_per_gpu_hour``, ``spot_discount`` (fraction),
        ``total_accelerator_memory_gib``, ``total_bf16_pflops``, ``total_mem_bw_tb_s``,
        ``usd_per_bf16_pflop_hour`` and ``usd_per_tb_s_hour`` (on demand, at peak) and
        their ``_spot`` variants. Missing values are NaN.
    storage_tiers : pandas.DataFrame
    fabrics : pandas.DataFrame
    files : list of str
        The files (and DataFrames) the catalog was built from, in order.
    """

    def __init__(self, tables: dict[str, list[dict]], files: list[str]) -> None:
        self._rows = tables
        self._acc_index, self._fab_index, self._sto_index = _cross_check(tables)
        self.files = list(files)
        acc = _derive_accelerators(_frame(TABLES["accelerators"], tables["accelerators"]))
        self.accelerators = acc
        self.instances = _derive_instances(_frame(TABLES["instances"], tables["instances"]), acc)
        self.storage_tiers = _frame(TABLES["storage"], tables["storage"])
        self.fabrics = _frame(TABLES["fabrics"], tables["fabrics"])
        # the scale-up (NVLink) domain: the fabric's when it spans instances (NVL72 racks),
        # else the instance's own accelerators
        domain = self.instances["scale_up_fabric"].map(
            self.fabrics.set_index("name")["scale_up_domain_gpus"]).astype("Float64")
        self.instances["scale_up_domain_gpus"] = domain.fillna(
            self.instances["accelerator_count"].astype("Float64")).astype("int64")

    def copy(self) -> Catalog:
        """Return an independent copy (DataFrames copied)."""
        new = object.__new__(Catalog)
        new._rows = {k: list(v) for k, v in self._rows.items()}
        new._acc_index, new._fab_index, new._sto_index = (
            self._acc_index, self._fab_index, self._sto_index)
        new.files = list(self.files)
        for attr in ("accelerators", "instances", "storage_tiers", "fabrics"):
            setattr(new, attr, getattr(self, attr).copy())
        return new

    # ------------------------------------------------------------------ summaries
    def __repr__(self) -> str:
        return (f"<Catalog: {len(self.accelerators)} accelerators, {len(self.instances)} instances "
                f"from {self.instances['provider'].nunique()} providers, "
                f"{len(self.storage_tiers)} storage tiers, {len(self.fabrics)} fabrics>")

    def _repr_html_(self) -> str:
        import html

        return "<b>" + html.escape(repr(self)) + "</b><br>files: " + html.escape(
            ", ".join(self.files))

    @property
    def providers(self) -> list[str]:
        """Providers with at least one instance or storage tier, sorted."""
        return sorted(set(self.instances["provider"]) | set(self.storage_tiers["provider"]))

    # ------------------------------------------------------------------ tables
    def table(self, name: str, provider: str | None = None) -> pd.DataFrame:
        """Return one table as a DataFrame, optionally for one provider.

        Parameters
        ----------
        name : str
            ``accelerators``, ``instances``, ``storage`` (or ``storage_tiers``), ``fabrics``.
        provider : str, optional
            Instances and storage tiers: rows of that provider. Accelerators and fabrics:
            those the provider's instances use.

        Raises
        ------
        ValueError
            For an unknown table name.
        UnknownNameError
            For a provider with no rows.
        """
        key = TABLE_ALIASES.get(str(name).strip().lower())
        if key is None:
            raise ValueError(f"unknown catalog table {name!r}; use accelerators, instances, "
                             "storage or fabrics")
        frames = {"accelerators": self.accelerators, "instances": self.instances,
                  "storage": self.storage_tiers, "fabrics": self.fabrics}
        df = frames[key]
        if provider is None:
            return df.reset_index(drop=True)
        prov = str(provider).strip().lower()
        if prov not in {p.lower() for p in self.providers}:
            raise UnknownNameError("provider", provider, self.providers)
        inst = self.instances[self.instances["provider"].str.lower() == prov]
        if key == "instances":
            out = inst
        elif key == "storage":
            out = df[df["provider"].str.lower().isin([prov, "any"])]
        elif key == "accelerators":
            out = df[df["name"].isin(set(inst["accelerator"]))]
        else:
            used = set(inst["scale_up_fabric"].dropna()) | set(inst["scale_out_fabric"].dropna())
            out = df[df["name"].isin(used)]
        return out.reset_index(drop=True)

    # ------------------------------------------------------------------ lookups
    def accelerator(self, name: str) -> Accelerator:
        """Look up an accelerator by name, alias or CUDA/ROCm device name.

        Raises
        ------
        UnknownNameError
            With the closest names.
        """
        return _record(Accelerator, self._rows["accelerators"][self._acc_index.lookup(name)])

    def fabric(self, name: str) -> Fabric:
        """Look up a fabric (``nvlink4``, ``ib-ndr``, ``efa-v2``, ...)."""
        return _record(Fabric, self._rows["fabrics"][self._fab_index.lookup(name)])

    def storage_tier(self, name: str) -> StorageTier:
        """Look up a storage tier (``fsx-lustre``, ``s3-standard``, ...)."""
        return _record(StorageTier, self._rows["storage"][self._sto_index.lookup(name)])

    def instance(self, instance_type: str, provider: str | None = None,
                 region: str | None = None) -> Instance:
        """Look up an offer by instance type (case-insensitive).

        Without ``provider``/``region`` the first matching row of the catalog is returned
        (shipped files list each provider's reference region first).

        Raises
        ------
        UnknownNameError
            If nothing matches, with the closest instance types (or regions/providers).
        """
        rows = self._rows["instances"]
        want = _fold(instance_type)
        hits = [r for r in rows if _fold(r["instance_type"]) == want]
        if not hits:
            raise UnknownNameError("instance type", str(instance_type),
                                   [r["instance_type"] for r in rows])
        if provider is not None:
            sel = [r for r in hits if r["provider"].lower() == str(provider).strip().lower()]
            if not sel:
                raise UnknownNameError(f"provider for {instance_type}", str(provider),
                                       [r["provider"] for r in hits])
            hits = sel
        if region is not None:
            sel = [r for r in hits if r["region"].lower() == str(region).strip().lower()]
            if not sel:
                raise UnknownNameError(f"region for {instance_type}", str(region),
                                       [r["region"] for r in hits])
            hits = sel
        return _record(Instance, hits[0])

    def scale_up_domain_gpus(self, instance_type: str, provider: str | None = None,
                             region: str | None = None) -> int:
        """Accelerators that one scale-up (NVLink-class) domain of this offer joins.

        The limit for tensor and expert parallelism: 72 for a GB200/GB300 NVL72 rack whose
        instances hold 4 GPUs each, otherwise the instance's accelerator count. The same
        number is the ``scale_up_domain_gpus`` column of :attr:`instances`.
        """
        inst = self.instance(instance_type, provider, region)
        if inst.scale_up_fabric is not None:
            fab = self.fabric(inst.scale_up_fabric)
            if fab.scale_up_domain_gpus is not None:
                return int(fab.scale_up_domain_gpus)
        return int(inst.accelerator_count)

    def find(self, name: str):
        """Look ``name`` up in every table: accelerators, instances, storage tiers, fabrics.

        Returns
        -------
        Accelerator, Instance, StorageTier or Fabric
            The first table with a match wins, in that order.

        Raises
        ------
        UnknownNameError
            With the closest names from all four tables.
        """
        for lookup in (self.accelerator, self.instance, self.storage_tier, self.fabric):
            try:
                return lookup(name)
            except UnknownNameError:
                continue
        choices = (self._acc_index.names + self._sto_index.names + self._fab_index.names
                   + sorted({r["instance_type"] for r in self._rows["instances"]}))
        raise UnknownNameError("catalog entry", str(name), choices,
                               hint="(`aicost catalog list TABLE` lists the names)")

    def names(self, table: str) -> list[str]:
        """Canonical names of a table (instance types for ``instances``), in file order."""
        key = TABLE_ALIASES.get(str(table).strip().lower())
        if key == "instances":
            return list(dict.fromkeys(r["instance_type"] for r in self._rows["instances"]))
        if key is None:
            raise ValueError(f"unknown catalog table {table!r}")
        return [r["name"] for r in self._rows[key]]

    # ------------------------------------------------------------------ offers
    def instances_for(self, accelerator: str, pricing: str = "on_demand") -> pd.DataFrame:
        """Offers of one accelerator with a ``pricing`` price, cheapest per GPU-hour first.

        Parameters
        ----------
        accelerator : str
            Any name or alias.
        pricing : str
            ``on_demand``, ``spot`` or ``reserved_1y``.
        """
        name = self.accelerator(accelerator).name
        col = _gpu_price_column(pricing)
        df = self.instances[self.instances["accelerator"] == name]
        df = df[df[col].notna()]
        return df.sort_values([col, "provider", "instance_type"], kind="stable").reset_index(
            drop=True)

    def offers(self, pricings: Iterable[str] = ("on_demand", "spot", "reserved_1y")) -> pd.DataFrame:
        """Long table of every (instance, pricing) with a price, in the catalog's own units.

        A view for browsing and comparing prices. The planner searches
        ``aicost.hardware.offers_table``: the same offers and the same price columns
        (``aicost.catalog.PRICINGS``), in SI units with the fabrics and efficiencies resolved.

        Columns: ``provider, instance_type, region, accelerator, accelerator_count, pricing,
        price_usd_per_hour, price_usd_per_gpu_hour`` plus the instance's other columns and the
        accelerator's peaks (``bf16_tflops``, ..., ``memory_gib`` as ``accelerator_memory_gib``,
        ``mem_bw_gb_s``, ``scale_up_gb_s``).
        """
        parts = []
        base = self.instances.drop(columns=[
            "price_usd_per_gpu_hour", "price_spot_usd_per_gpu_hour",
            "price_reserved_1y_usd_per_gpu_hour", "usd_per_bf16_pflop_hour",
            "usd_per_bf16_pflop_hour_spot", "usd_per_tb_s_hour", "usd_per_tb_s_hour_spot"])
        for p in pricings:
            p = normalize_pricing(p)
            col = PRICINGS[p]
            sel = base[base[col].notna()].copy()
            sel.insert(5, "pricing", p)
            sel.insert(6, "price_usd_per_hour", sel[col])
            sel.insert(7, "price_usd_per_gpu_hour", sel[col] / sel["accelerator_count"])
            parts.append(sel)
        out = pd.concat(parts, ignore_index=True)
        acc = self.accelerators.set_index("name")
        for col in ("fp64_tflops", "fp32_tflops", "tf32_tflops", "bf16_tflops", "fp16_tflops",
                    "fp8_tflops", "int8_tops", "mem_bw_gb_s", "scale_up_gb_s"):
            out[col] = out["accelerator"].map(acc[col]).astype("float64")
        out["accelerator_memory_gib"] = out["accelerator"].map(acc["memory_gib"]).astype("float64")
        return out

    def best_offers(self, pricing: str = "on_demand", by: str | None = None) -> pd.DataFrame:
        """The cheapest offer per accelerator.

        Parameters
        ----------
        pricing : str
            ``on_demand``, ``spot`` or ``reserved_1y``.
        by : str, optional
            Column to minimise; default the per-GPU-hour price of ``pricing``.

        Returns
        -------
        pandas.DataFrame
            One row per accelerator that has such an offer, sorted by ``by``.
        """
        col = by or _gpu_price_column(pricing)
        if col not in self.instances.columns:
            raise ValueError(f"unknown instance column {col!r}")
        df = self.instances[self.instances[col].notna()]
        if by is not None and pricing != "on_demand":
            df = df[df[_gpu_price_column(pricing)].notna()]
        idx = df.groupby("accelerator", sort=False)[col].idxmin()
        return df.loc[idx].sort_values(col, kind="stable").reset_index(drop=True)


def _gpu_price_column(pricing: str) -> str:
    p = normalize_pricing(pricing)
    return {"on_demand": "price_usd_per_gpu_hour", "spot": "price_spot_usd_per_gpu_hour",
            "reserved_1y": "price_reserved_1y_usd_per_gpu_hour"}[p]


# ============================================================================ entry points
def _shipped_dir() -> Path:
    return data_dir() / "catalog"


def _read_base(base: Path) -> dict[str, list[dict]]:
    tables = {}
    for name, spec in TABLES.items():
        path = base / spec.filename
        header, rows = _read_rows(path)
        tables[name] = _parse_full(spec, str(path), header, rows)
    return tables


def _build(base: Path, extras: list) -> Catalog:
    import gc

    # a user file of 100k rows makes a million small objects that hold no cycles: the cyclic
    # garbage collector's full passes over them cost a third of the load; pause it meanwhile
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        tables = _read_base(base)
        files = [str(base / s.filename) for s in TABLES.values()]
        for i, item in enumerate(extras):
            _apply_extra(tables, item, i)
            files.append(str(item.attrs.get("aicost_path", f"<DataFrame extra #{i + 1}>"))
                         if isinstance(item, pd.DataFrame) else str(item))
        return Catalog(tables, files)
    finally:
        if was_enabled:
            gc.enable()


def _stamp(path: str) -> tuple[str, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (path, -1, -1)
    return (path, st.st_mtime_ns, st.st_size)


def load(extra=None, *, base: str | os.PathLike | None = None,
         refreshed: bool = True) -> Catalog:
    """Load the catalog: the shipped CSVs, the refreshed catalogs, user files overriding rows.

    Parameters
    ----------
    extra : path, DataFrame, or list of them, optional
        User CSVs (or DataFrames such as :func:`from_skypilot`'s result) adding rows or
        overriding rows by key; see the module notes for the rules. SkyPilot ``vms.csv``
        files are recognised by their columns and imported.
    base : path, optional
        A directory holding ``accelerators.csv``, ``instances.csv``, ``storage_tiers.csv``
        and ``fabrics.csv`` to use instead of the shipped ones.
    refreshed : bool
        Include the catalogs ``aicost catalog refresh`` cached under
        ``$AICOST_HOME/catalog/`` (default True; without a refresh there are none). They
        come after the shipped rows and before ``extra``; an imported offer never replaces a
        curated row (both are listed). Ignored with ``base``.

    Returns
    -------
    Catalog
        A fresh object per call (loads from files are cached; the cache key includes each
        file's modification time, so edited files are re-read).

    Raises
    ------
    CatalogError
        For a malformed file, naming the file, line and column.
    """
    if extra is None:
        items: list = []
    elif isinstance(extra, (str, os.PathLike, pd.DataFrame)):
        items = [extra]
    else:
        items = list(extra)
    base_dir = Path(base) if base is not None else _shipped_dir()
    fresh = refreshed_stamps() if refreshed and base is None else ()
    if any(isinstance(x, pd.DataFrame) for x in items):
        return _build(base_dir, [*refreshed_frames(fresh), *items])
    for x in items:
        if not isinstance(x, (str, os.PathLike)):
            raise TypeError(f"extra must hold paths or DataFrames, got {type(x).__name__}")
    stamps = tuple(_stamp(str(Path(x))) for x in items)
    base_stamp = tuple(_stamp(str(base_dir / s.filename)) for s in TABLES.values())
    return _load_cached_with(str(base_dir), base_stamp, stamps, fresh).copy()


@functools.lru_cache(maxsize=16)
def _load_cached_with(base: str, base_stamp, extras, fresh=()) -> Catalog:
    return _build(Path(base), [*refreshed_frames(fresh), *(e[0] for e in extras)])


def _cache_clear() -> None:
    _load_cached_with.cache_clear()


load.cache_clear = _cache_clear  # type: ignore[attr-defined]


def read_table(path, table: str | None = None) -> pd.DataFrame:
    """Read and validate ONE complete catalog CSV (every column present) into a DataFrame.

    Parameters
    ----------
    path : path
    table : str, optional
        ``accelerators``, ``instances``, ``storage`` or ``fabrics``; found from the file
        name or columns when omitted.

    Raises
    ------
    CatalogError
        Naming the file, line and column of the first problem.
    """
    header, rows = _read_rows(path)
    key = TABLE_ALIASES.get(str(table).lower()) if table else _detect_table(header, str(path))
    if key is None:
        raise ValueError(f"unknown catalog table {table!r}")
    spec = TABLES[key]
    return _frame(spec, _parse_full(spec, str(path), header, rows))
