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
from ._schema import normalize_name
from ._skypilot import from_skypilot

# PRICINGS (pricing name -> instance price column) is public: it is aicost's one pricing
# vocabulary. The other named constants (TABLES, PLAUSIBLE_USD_PER_GPU_HOUR,
# SKYPILOT_ACCELERATOR_NAMES) live in the private modules.
__all__ = [
    "Accelerator",
    "Catalog",
    "Fabric",
    "Instance",
    "PRICINGS",
    "StorageTier",
    "UnknownPricingError",
    "from_skypilot",
    "load",
    "normalize_name",
    "normalize_pricing",
    "read_table",
]
