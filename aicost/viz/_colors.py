"""Colours that mean the same thing on every chart: one per accelerator, fixed across runs.

``hash(name)`` changes from one Python process to the next (string hashing is salted), so a
chart coloured by it changes every run and cannot carry a legend a reader remembers. Here the
shipped accelerators have fixed colours (families in related hues), and a name the list does
not know gets a colour from a CRC-32 of its lower-cased name: the same in every run and every
process.
"""

from __future__ import annotations

import math
import zlib

import numpy as np

__all__ = ["ACCELERATOR_COLORS", "accelerator_color", "accelerator_colors", "log_annotation_coord", "log_ticks",
           "usd_tick"]

#: fixed colours of the accelerators in the shipped catalog (lower-case names)
ACCELERATOR_COLORS = {
    "b200": "#08306b", "gb200": "#08519c", "b300": "#2171b5",
    "h200-sxm": "#1f77b4", "h200": "#1f77b4", "gh200": "#6baed6",
    "h100-sxm": "#d62728", "h100-pcie": "#ff9896", "h100-nvl": "#e377c2",
    "a100-80gb": "#2ca02c", "a100-80gb-pcie": "#98df8a", "a100-40gb": "#3f7f3f",
    "l40s": "#ff7f0e", "l4": "#ffbb78", "a10g": "#8c564b", "a10": "#c49c94", "t4": "#7f7f7f",
    "mi300x": "#9467bd", "mi325x": "#c5b0d5", "mi355x": "#5e3c99",
    "tpu-v5e": "#17becf", "tpu-v5p": "#0e8c99", "tpu-v6e": "#9edae5", "tpu-v4": "#5fa2a8",
    "trainium2": "#bcbd22", "trainium1": "#dbdb8d", "gaudi3": "#393b79",
    "gb300": "#4292c6", "tpu-v7": "#006d77", "trainium3": "#8c8c00", "h800": "#a50f15",
    "h20": "#fb6a4a", "rtx-pro-6000": "#d94801", "rtx4090": "#fdae6b", "a6000": "#a6761d",
    "rtx6000": "#e6ab02", "rtx6000-ada": "#bf812d", "a40": "#66a61e", "v100": "#525252",
    "v100-32gb": "#969696",
}
#: colours for names not listed above, picked by CRC-32 of the name
_FALLBACK = ("#843c39", "#ad494a", "#d6616b", "#e7969c", "#7b4173", "#a55194", "#ce6dbd",
             "#de9ed6", "#637939", "#8ca252", "#b5cf6b", "#cedb9c", "#8c6d31", "#bd9e39",
             "#e7ba52", "#e7cb94", "#3182bd", "#e6550d", "#31a354", "#756bb1")


def accelerator_color(name: object) -> str:
    """The colour of accelerator ``name`` (a ``#rrggbb`` string), the same in every run.

    Parameters
    ----------
    name : str
        Catalog name (case does not matter).
    """
    key = str(name).strip().lower()
    if key in ACCELERATOR_COLORS:
        return ACCELERATOR_COLORS[key]
    return _FALLBACK[zlib.crc32(key.encode()) % len(_FALLBACK)]


def accelerator_colors(names) -> dict[str, str]:
    """``{name: colour}`` for each distinct name, in first-seen order."""
    return {str(n): accelerator_color(n) for n in dict.fromkeys(str(n) for n in names)}


def log_annotation_coord(value: float, axis_type: str | None) -> float:
    """The coordinate plotly wants for an annotation at data ``value`` on an axis of
    ``axis_type``: on a log axis annotations are placed in log10 units (shapes are not).

    Raises
    ------
    ValueError
        For a non-positive value on a log axis.
    """
    if axis_type == "log":
        if not value > 0:
            raise ValueError(f"cannot place {value!r} on a log axis")
        return math.log10(value)
    return float(value)


def log_ticks(values, label=None) -> dict:
    """Ticks at 1-2-5 steps covering ``values`` for a log axis, each labelled in full by
    ``label`` (default ``"{:g}"``): plotly's own minor log ticks are bare digits ("2", "5")
    that read as 2 and 5 on a dollar or day axis, and its ticks on an axis spanning less than
    a decade are digits like "12.08017". Over more than four decades only the powers of ten."""
    v = np.asarray([x for x in values if x is not None and np.isfinite(x) and x > 0], float)
    if v.size == 0:
        return {}
    lo, hi = v.min(), v.max()
    steps = (1,) if np.log10(hi / lo) > 4 else (1, 2, 5)
    ticks = [m * 10.0**e for e in range(int(np.floor(np.log10(lo))) - 1,
                                        int(np.ceil(np.log10(hi))) + 1) for m in steps]
    inside = [t for t in ticks if lo / 1.5 <= t <= hi * 1.5]
    if len(inside) < 2:
        inside = [t for t in ticks if lo / 10 <= t <= hi * 10]
    label = label or "{:g}".format
    return {"tickmode": "array", "tickvals": inside, "ticktext": [label(t) for t in inside]}


def usd_tick(value: float) -> str:
    """A dollar tick label: ``$500``, ``$20k``, ``$1.5M`` (one "$": plotly typesets text
    between two dollar signs as MathJax)."""
    for scale, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"${value / scale:g}{suffix}"
    return f"${value:g}"
