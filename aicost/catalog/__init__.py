"""The hardware and price catalog: accelerators, cloud instances, storage tiers, fabrics.

>>> import aicost
>>> cat = aicost.catalog.load()
>>> cat.accelerator("NVIDIA H100 80GB HBM3").bf16_tflops
989.4

The shipped CSVs live in ``data/catalog/``; every row has a ``source`` and an ``as_of``
date. ``load(extra=...)`` adds or overrides rows from user CSVs (negotiated prices) or a
SkyPilot ``vms.csv``; see :func:`load` and docs/architecture.md for the rules.
"""

from __future__ import annotations

from ._load import Catalog, load, read_table
from ._records import (
    PRICINGS,
    Accelerator,
    Fabric,
    Instance,
    StorageTier,
    UnknownPricingError,
    normalize_pricing,
)
from ._refresh import (
    RefreshReport,
    RefreshResult,
    catalog_status,
    load_refreshed,
    oldest_as_of,
    price_age_note,
    price_history,
    prices_as_of,
    refresh,
)
from ._schema import normalize_name
from ._skypilot import ImportSummary, from_skypilot

# PRICINGS (pricing name -> instance price column) is public: it is aicost's one pricing
# vocabulary. The other named constants (TABLES, PLAUSIBLE_USD_PER_GPU_HOUR,
# SKYPILOT_ACCELERATOR_NAMES) live in the private modules.
__all__ = [
    "Accelerator",
    "Catalog",
    "Fabric",
    "ImportSummary",
    "Instance",
    "PRICINGS",
    "RefreshReport",
    "RefreshResult",
    "StorageTier",
    "UnknownPricingError",
    "catalog_status",
    "from_skypilot",
    "load",
    "load_refreshed",
    "normalize_name",
    "normalize_pricing",
    "oldest_as_of",
    "price_age_note",
    "price_history",
    "prices_as_of",
    "read_table",
    "refresh",
]
