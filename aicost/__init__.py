"""aicost: measure AI hardware, model workloads, plan what to rent and what it costs.

``import aicost`` is cheap and works anywhere: the layers (``aicost.catalog``,
``aicost.store``, ``aicost.bench``, ...) are imported on first use, and heavy
dependencies (CuPy, Numba, plotly, ipywidgets) only inside the functions that
need them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._errors import (
    AicostError,
    BackendUnavailableError,
    CatalogError,
    InfeasibleError,
    InputFileError,
    StoreError,
    UnknownNameError,
)
from ._version import __version__

#: the layers, in data-flow order (docs/architecture.md)
_SUBMODULES = (
    "catalog",
    "store",
    "bench",
    "storage",
    "network",
    "calibrate",
    "hardware",
    "model",
    "plan",
    "spend",
    "fleet",
    "viz",
    "widgets",
    "report",
    "demo",
    "cli",
)

__all__ = [
    "AicostError",
    "BackendUnavailableError",
    "CatalogError",
    "InfeasibleError",
    "InputFileError",
    "StoreError",
    "UnknownNameError",
    "__version__",
    "bench",
    "calibrate",
    "catalog",
    "fleet",
    "hardware",
    "model",
    "network",
    "plan",
    "report",
    "spend",
    "storage",
    "store",
    "viz",
    "widgets",
]


def __getattr__(name: str):
    if name in _SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module 'aicost' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))


if TYPE_CHECKING:  # pragma: no cover
    from . import (
        bench,
        calibrate,
        catalog,
        fleet,
        hardware,
        model,
        network,
        plan,
        report,
        storage,
        store,
        viz,
        widgets,
    )
