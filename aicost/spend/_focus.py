"""FOCUS bills (FinOps Open Cost and Usage Specification 1.0-1.3) read through DuckDB.

A bill is never loaded into pandas: :func:`read_focus` opens a DuckDB view over the CSV or
Parquet file(s), checks the header and the values of the columns aicost uses (errors name the
file, line and column), and the summaries run as SQL; only aggregates come back as DataFrames.
GPU line items are mapped to catalog instances and accelerators by their instance type or
accelerator name in ``SkuId``, ``SkuPriceDetails``, ``ChargeDescription``, ``ResourceType`` or
``ResourceName``.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ._inputs import SpendInputError

__all__ = [
    "FOCUS_MANDATORY_COLUMNS",
    "FOCUS_NUMERIC_COLUMNS",
    "FOCUS_REQUIRED_COLUMNS",
    "FOCUS_TIMESTAMP_COLUMNS",
    "FocusBill",
    "focus_missing_columns",
    "focus_summary",
    "gpu_line_items",
    "match_key_sql",
    "read_focus",
]

_V10 = (
    "BilledCost", "BillingAccountId", "BillingAccountName", "BillingCurrency",
    "BillingPeriodEnd", "BillingPeriodStart", "ChargeCategory", "ChargeClass",
    "ChargeDescription", "ChargePeriodEnd", "ChargePeriodStart", "ContractedCost",
    "EffectiveCost", "InvoiceIssuerName", "ListCost", "PricingQuantity", "PricingUnit",
    "ProviderName", "PublisherName", "ServiceCategory", "ServiceName",
)
#: the columns each FOCUS version makes mandatory (aicost's reading of the specification's
#: "Column required: True" entries; conditional columns such as ResourceId or Tags are not here)
FOCUS_MANDATORY_COLUMNS = {
    "1.0": _V10,
    "1.1": (*_V10, "ServiceSubcategory"),
    "1.2": (*_V10, "ServiceSubcategory", "InvoiceId", "PricingCurrency"),
    "1.3": (*_V10, "ServiceSubcategory", "InvoiceId", "PricingCurrency"),
}
#: columns aicost cannot work without
FOCUS_REQUIRED_COLUMNS = ("ChargePeriodStart", "ChargePeriodEnd", "EffectiveCost")
#: numeric columns checked on read (when present)
FOCUS_NUMERIC_COLUMNS = ("BilledCost", "EffectiveCost", "ListCost", "ContractedCost",
                         "ConsumedQuantity", "PricingQuantity")
#: timestamp columns checked on read (when present)
FOCUS_TIMESTAMP_COLUMNS = ("ChargePeriodStart", "ChargePeriodEnd")
#: identifiers kept as text (account ids such as 000123456789 must not become numbers)
_ID_COLUMNS = ("BillingAccountId", "SubAccountId", "InvoiceId", "ResourceId", "SkuId",
               "SkuPriceId", "CommitmentDiscountId", "CapacityReservationId")
#: text columns searched for an instance type or accelerator name
_MATCH_COLUMNS = ("SkuId", "SkuPriceDetails", "ChargeDescription", "ResourceType", "SkuMeter")
#: FOCUS ProviderName spellings -> catalog provider
_PROVIDERS = {"aws": "aws", "amazon web services": "aws", "amazon": "aws",
              "microsoft": "azure", "azure": "azure", "microsoft azure": "azure",
              "google cloud": "gcp", "google": "gcp", "gcp": "gcp",
              "oracle": "oci", "oci": "oci", "oracle cloud infrastructure": "oci",
              "lambda": "lambda", "coreweave": "coreweave", "runpod": "runpod"}


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


@dataclass
class FocusBill:
    """A FOCUS bill opened as a DuckDB view (nothing is loaded into memory).

    Attributes
    ----------
    path : str
        The file (or glob).
    format : str
        ``csv`` or ``parquet``.
    columns : dict
        Column name -> DuckDB type.
    rows : int
        Line items.
    version : str
        The newest FOCUS version whose mandatory columns are all present (``"<1.0"`` if none).
    missing : dict
        FOCUS version -> mandatory columns absent from this bill.
    con : duckdb.DuckDBPyConnection
        The connection holding the view ``focus``.
    """

    path: str
    format: str
    columns: dict
    rows: int
    version: str
    missing: dict
    con: object = field(repr=False)
    _gpu_ready: bool = field(default=False, repr=False)

    def sql(self, query: str) -> pd.DataFrame:
        """Run SQL against the view ``focus`` (and ``focus_gpu`` once GPU items are mapped)."""
        return self.con.sql(query).df()

    def has(self, column: str) -> bool:
        return column in self.columns

    def col(self, column: str, default: str = "NULL") -> str:
        """SQL expression of a column, or ``default`` when the bill lacks it."""
        return _q(column) if column in self.columns else default

    def tag(self, key: str) -> str:
        """SQL expression extracting tag ``key`` from ``Tags`` (JSON text or a MAP)."""
        if "Tags" not in self.columns:
            return "NULL"
        t = self.columns["Tags"].upper()
        k = key.replace("'", "''")
        if t.startswith("MAP"):
            return f"map_extract(\"Tags\", '{k}')[1]"
        return f"json_extract_string(CAST(\"Tags\" AS VARCHAR), '$.\"{k}\"')"

    def __repr__(self) -> str:
        return (f"FocusBill({self.path!r}, {self.format}, {self.rows:,} rows, "
                f"FOCUS {self.version})")


def focus_missing_columns(columns) -> dict:
    """FOCUS version -> mandatory columns absent from ``columns`` (column names)."""
    have = set(columns)
    return {v: [c for c in need if c not in have] for v, need in FOCUS_MANDATORY_COLUMNS.items()}


def _first_bad(con, source: str, column: str, cond: str) -> tuple[int, str] | None:
    row = con.execute(
        f"SELECT rn, v FROM (SELECT row_number() OVER () AS rn, CAST({_q(column)} AS VARCHAR) "
        f"AS v FROM {source}) WHERE {cond} LIMIT 1").fetchall()
    return None if not row else (int(row[0][0]), row[0][1])


def read_focus(path: str | os.PathLike, *, sample_size: int = 20480) -> FocusBill:
    """Open a FOCUS 1.0-1.3 bill (CSV, CSV.gz or Parquet; a glob reads several files).

    Parameters
    ----------
    path : str or path-like
        The export. ``*.parquet`` is read with ``read_parquet``, anything else as CSV.
    sample_size : int
        Rows DuckDB samples to infer CSV column types.

    Returns
    -------
    FocusBill

    Raises
    ------
    SpendInputError
        When a column aicost needs is missing, or a cost, quantity or timestamp value does not
        parse (the file, line and column are named).
    FileNotFoundError
        If nothing matches ``path``.
    """
    import duckdb

    p = str(path)
    if not any(ch in p for ch in "*?[") and not Path(p).exists():
        raise FileNotFoundError(f"FOCUS file {p!r} does not exist")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    lit = "'" + p.replace("'", "''") + "'"
    is_parquet = p.lower().endswith((".parquet", ".pq"))
    try:
        if is_parquet:
            src = f"read_parquet({lit}, union_by_name=true)"
        else:
            head = con.sql(f"SELECT * FROM read_csv({lit}, header=true, all_varchar=true, "
                           "sample_size=1) LIMIT 0").columns
            types = ", ".join(f"{_q(c).replace(chr(34), chr(39))}: 'VARCHAR'"
                              for c in head if c in _ID_COLUMNS or c == "Tags"
                              or c == "SkuPriceDetails")
            typ = f", types={{{types}}}" if types else ""
            src = (f"read_csv({lit}, header=true, sample_size={int(sample_size)}, "
                   f"ignore_errors=false{typ})")
        con.sql(f"CREATE VIEW focus_raw AS SELECT * FROM {src}")
        desc = con.execute("DESCRIBE focus_raw").fetchall()
    except duckdb.Error as exc:
        raise SpendInputError(f"cannot read as FOCUS {'Parquet' if is_parquet else 'CSV'}: "
                              f"{str(exc).splitlines()[0]}", path=p) from None
    columns = {r[0]: r[1] for r in desc}
    missing_needed = [c for c in FOCUS_REQUIRED_COLUMNS if c not in columns]
    if missing_needed:
        from .._errors import did_you_mean

        c = missing_needed[0]
        s = did_you_mean(c, list(columns))
        hint = f"; did you mean {s[0]!r}?" if s else ""
        raise SpendInputError(
            f"a FOCUS bill needs the column {c!r} (FOCUS 1.0-1.3 column ids are PascalCase){hint}",
            path=p, row=1 if not is_parquet else None, column=c)
    # values: numbers and timestamps must parse (DuckDB may have kept a column as text)
    sel = []
    for c, t in columns.items():
        if c in FOCUS_NUMERIC_COLUMNS and t.upper() not in ("DOUBLE", "BIGINT", "INTEGER",
                                                             "FLOAT", "HUGEINT") \
                and not t.upper().startswith("DECIMAL"):
            bad = _first_bad(con, "focus_raw", c,
                             "v IS NOT NULL AND trim(v) <> '' AND TRY_CAST(v AS DOUBLE) IS NULL")
            if bad:
                raise SpendInputError(f"{bad[1]!r} is not a number", path=p,
                                      row=bad[0] + (0 if is_parquet else 1), column=c)
            sel.append(f"TRY_CAST(NULLIF(trim(CAST({_q(c)} AS VARCHAR)), '') AS DOUBLE) AS {_q(c)}")
        elif c in FOCUS_TIMESTAMP_COLUMNS and "TIMESTAMP" not in t.upper():
            bad = _first_bad(con, "focus_raw", c,
                             "v IS NULL OR TRY_CAST(v AS TIMESTAMPTZ) IS NULL")
            if bad:
                raise SpendInputError(f"{bad[1]!r} is not a timestamp (ISO 8601)", path=p,
                                      row=bad[0] + (0 if is_parquet else 1), column=c)
            sel.append(f"CAST({_q(c)} AS TIMESTAMPTZ) AS {_q(c)}")
        else:
            sel.append(_q(c))
    con.sql("CREATE VIEW focus AS SELECT " + ", ".join(sel) + " FROM focus_raw")
    columns = {r[0]: r[1] for r in con.execute("DESCRIBE focus").fetchall()}
    if "ChargePeriodStart" in columns:
        bad = con.execute("SELECT count(*) FROM focus WHERE ChargePeriodStart IS NULL").fetchall()[0][0]
        if bad:
            r = _first_bad(con, "focus", "ChargePeriodStart", "v IS NULL")
            raise SpendInputError("empty ChargePeriodStart", path=p,
                                  row=r[0] + (0 if is_parquet else 1), column="ChargePeriodStart")
    rows = int(con.execute("SELECT count(*) FROM focus_raw").fetchall()[0][0])
    missing = focus_missing_columns(columns)
    version = "<1.0"
    for v in FOCUS_MANDATORY_COLUMNS:
        if not missing[v]:
            version = v
    return FocusBill(path=p, format="parquet" if is_parquet else "csv", columns=columns,
                     rows=rows, version=version, missing=missing, con=con)


def _instance_patterns(catalog):
    inst = catalog.instances
    acc = catalog.accelerators
    pats = []
    for _, r in inst.drop_duplicates(["provider", "instance_type"]).iterrows():
        it = str(r["instance_type"]).lower()
        pats.append((len(it), re.compile(r"(?<![a-z0-9_.\-])" + re.escape(it)
                                         + r"(?![a-z0-9_]|\.[a-z0-9])"),
                     str(r["provider"]).split("-")[0], r["instance_type"], r["accelerator"],
                     int(r["accelerator_count"])))
    pats.sort(key=lambda x: -x[0])
    apats = []
    for _, r in acc.iterrows():
        names = [str(r["name"])] + [a for a in str(r.get("aliases") or "").split("|") if a]
        for n in names:
            n = n.lower().strip()
            if len(n) >= 3:
                apats.append((len(n), re.compile(r"(?<![a-z0-9])" + re.escape(n)
                                                 + r"(?![a-z0-9])"), r["name"]))
    apats.sort(key=lambda x: -x[0])
    return pats, apats


def match_key_sql(bill: FocusBill) -> tuple[str, str]:
    """SQL expressions of the provider and the text a line item is matched on."""
    parts = [f"coalesce(CAST({_q(c)} AS VARCHAR), '')" for c in _MATCH_COLUMNS if bill.has(c)]
    key = "concat_ws('|', " + ", ".join(parts) + ")" if parts else "''"
    return bill.col("ProviderName", "''"), key


def gpu_line_items(bill: FocusBill, catalog=None, keys: pd.DataFrame | None = None
                   ) -> pd.DataFrame:
    """Map the bill's distinct SKUs to catalog instances and accelerators.

    Creates the DuckDB view ``focus_gpu`` (every GPU line item with ``instance_type,
    accelerator, gpus_per_unit, gpu_hours``) and returns the mapping, one row per distinct
    match key: ``provider, key, instance_type, accelerator, gpus_per_unit, rows``.
    ``gpu_hours`` is ``ConsumedQuantity`` times the instance's GPUs when ``ConsumedUnit`` is
    hours, the quantity itself when the unit says GPU-hours. ``keys`` (``provider, key,
    rows``), when a caller has already aggregated the bill, saves a scan.
    """
    from .. import catalog as C

    cat = catalog if catalog is not None else C.load()
    prov, key = match_key_sql(bill)
    if keys is None:
        keys = bill.con.sql(
            f"SELECT {prov} AS provider, {key} AS key, count(*) AS rows FROM focus "
            "GROUP BY ALL").df()
    pats, apats = _instance_patterns(cat)
    out = []
    for prv, k, n in keys.itertuples(index=False):
        text = str(k).lower()
        want = _PROVIDERS.get(str(prv or "").strip().lower())
        hit = None
        for _, rx, p, it, acc, cnt in pats:
            if rx.search(text) and (want is None or p == want):
                hit = (it, acc, cnt)
                break
        if hit is None:
            for _, rx, acc in apats:
                if rx.search(text):
                    hit = (None, acc, 1)
                    break
        if hit is not None:
            out.append({"provider": prv, "key": k, "instance_type": hit[0],
                        "accelerator": hit[1], "gpus_per_unit": hit[2], "rows": int(n)})
    mapping = pd.DataFrame(out, columns=["provider", "key", "instance_type", "accelerator",
                                         "gpus_per_unit", "rows"])
    bill.con.register("gpu_map_df", mapping)
    bill.con.sql("CREATE OR REPLACE TABLE gpu_map AS SELECT * FROM gpu_map_df")
    bill.con.unregister("gpu_map_df")
    qty = bill.col("ConsumedQuantity", "NULL")
    unit = f"lower(coalesce({bill.col('ConsumedUnit', 'NULL')}, ''))"
    hours = ("greatest(date_diff('second', ChargePeriodStart, ChargePeriodEnd), 0) / 3600.0")
    bill.con.sql(f"CREATE OR REPLACE VIEW focus_k AS SELECT *, {prov} AS _prov, {key} AS _key "
                 "FROM focus")
    bill.con.sql(f"""
        CREATE OR REPLACE VIEW focus_gpu AS
        SELECT f.* EXCLUDE (_prov, _key), m.instance_type, m.accelerator, m.gpus_per_unit,
               CASE WHEN {unit} LIKE '%gpu%' THEN {qty}
                    WHEN {unit} LIKE 'hour%' OR {unit} LIKE 'hr%' OR {unit} = 'h'
                         THEN {qty} * m.gpus_per_unit
                    ELSE {hours} * m.gpus_per_unit END AS gpu_hours
        FROM focus_k f JOIN gpu_map m ON f._prov = m.provider AND f._key = m.key
    """)
    bill._gpu_ready = True
    return mapping


def focus_summary(bill: FocusBill) -> pd.DataFrame:
    """Cost by provider, service, charge category and pricing category (SQL in DuckDB).

    Returns
    -------
    pandas.DataFrame
        ``ProviderName, ServiceName, ChargeCategory, PricingCategory, rows, billed_usd,
        effective_usd, list_usd``, largest effective cost first.
    """
    cols = ", ".join(f"{bill.col(c, repr(''))} AS {c}" for c in
                     ("ProviderName", "ServiceName", "ChargeCategory", "PricingCategory"))
    return bill.sql(f"""
        SELECT {cols}, count(*) AS rows,
               sum({bill.col('BilledCost', '0')}) AS billed_usd,
               sum(EffectiveCost) AS effective_usd,
               sum({bill.col('ListCost', '0')}) AS list_usd
        FROM focus GROUP BY ALL ORDER BY effective_usd DESC""")
