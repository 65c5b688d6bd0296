"""CSV that spreadsheets open as data: cells that would run as formulas are neutralized.

A cell starting with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is a formula to
Excel, LibreOffice and Google Sheets (``=HYPERLINK("http://...")``, ``@SUM(...)``): a catalog
or bill cell written by someone else would run when the CSV is opened. As OWASP recommends
(and spreadsheet-safe writers such as ``defusedcsv`` do), such text cells get a leading ``'``,
which spreadsheets show as nothing. Numbers (negative ones included) are left as numbers.
"""

from __future__ import annotations

__all__ = ["FORMULA_PREFIXES", "spreadsheet_safe", "spreadsheet_safe_cell"]

#: first characters that make a spreadsheet read a cell as a formula
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe_cell(value):
    """``value`` with a leading ``'`` when it is text starting with a formula character."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def spreadsheet_safe(df):
    """A copy of DataFrame ``df`` whose text cells (and column names) cannot run as formulas."""
    out = df.copy()
    for col in out.columns:
        if out[col].dtype == object or str(out[col].dtype) in ("string", "str"):
            out[col] = out[col].map(spreadsheet_safe_cell)
    out.columns = [spreadsheet_safe_cell(str(c)) for c in out.columns]
    return out
