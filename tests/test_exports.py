"""Keep the public names honest (httpx style): every public module has a sorted ``__all__``
whose names exist, and ``import aicost`` stays light."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest

import aicost

PUBLIC_MODULES = [
    "aicost",
    "aicost.bench",
    "aicost.calibrate",
    "aicost.calibrate_curves",
    "aicost.catalog",
    "aicost.cli",
    "aicost.demo",
    "aicost.fleet",
    "aicost.hardware",
    "aicost.model",
    "aicost.network",
    "aicost.plan",
    "aicost.report",
    "aicost.spend",
    "aicost.storage",
    "aicost.store",
    "aicost.validation",
    "aicost.viz",
    "aicost.widgets",
]


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_all_is_sorted_and_exists(name):
    mod = importlib.import_module(name)
    exported = list(mod.__all__)
    assert exported == sorted(exported), f"{name}.__all__ is not sorted"
    assert len(set(exported)) == len(exported), f"{name}.__all__ has duplicates"
    for attr in exported:
        assert hasattr(mod, attr), f"{name}.__all__ names {attr!r}, which does not exist"


@pytest.mark.parametrize("name", PUBLIC_MODULES)
def test_private_modules_declare_all(name):
    mod = importlib.import_module(name)
    path = getattr(mod, "__path__", None)
    if not path:
        return
    import pkgutil

    for info in pkgutil.iter_modules(path):
        if info.name.startswith("_") and not info.ispkg:
            sub = importlib.import_module(f"{name}.{info.name}")
            assert hasattr(sub, "__all__"), f"{name}.{info.name} has no __all__"


def test_layers_reachable_from_package():
    for layer in aicost._SUBMODULES:
        assert importlib.import_module(f"aicost.{layer}") is getattr(aicost, layer)


def test_import_aicost_is_light():
    code = (
        "import sys, aicost, aicost.catalog, aicost.store, aicost.model, aicost.plan, aicost.bench;"
        "heavy = [m for m in ('cupy', 'numba', 'plotly', 'ipywidgets', 'papermill', 'torch', 'dask')"
        " if m in sys.modules];"
        "print(','.join(heavy))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "", f"importing aicost pulled in heavy modules: {out.stdout}"
