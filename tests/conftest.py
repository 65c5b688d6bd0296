"""Shared fixtures and skip markers (pvlib style): requires_gpu, requires_cupy, requires_fio, ..."""

from __future__ import annotations

import os
import shutil

import pytest


def _has_cuda_device() -> bool:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return False
    try:
        import cupy

        return cupy.cuda.runtime.getDeviceCount() > 0
    except Exception:
        return False


HAS_GPU = _has_cuda_device()

requires_gpu = pytest.mark.skipif(not HAS_GPU, reason="needs a CUDA GPU")
requires_cupy = pytest.mark.skipif(not HAS_GPU, reason="needs CuPy with a CUDA device")
requires_fio = pytest.mark.skipif(shutil.which("fio") is None, reason="needs fio (apt-get install fio)")
requires_iperf3 = pytest.mark.skipif(
    shutil.which("iperf3") is None, reason="needs iperf3 (apt-get install iperf3)"
)
requires_chromium = pytest.mark.skipif(
    not os.path.exists("/usr/bin/chromium"), reason="needs /usr/bin/chromium (apt-get install chromium)"
)


@pytest.fixture
def aicost_home(tmp_path, monkeypatch):
    """An empty AICOST_HOME so tests never touch the user's ~/.aicost."""
    home = tmp_path / "aicost_home"
    home.mkdir()
    monkeypatch.setenv("AICOST_HOME", str(home))
    return home


@pytest.fixture(autouse=True)
def _isolate_home(tmp_path_factory, monkeypatch):
    """Every test gets its own empty AICOST_HOME, so no test reads or writes ~/.aicost."""
    monkeypatch.setenv("AICOST_HOME", str(tmp_path_factory.mktemp("home")))


def pytest_configure(config):
    # Notebooks (nbval) run in kernels that inherit this environment: point them at a
    # throw-away home too, so `make test` never touches the user's results store.
    if not os.environ.get("AICOST_TEST_REAL_HOME"):
        import tempfile

        os.environ["AICOST_HOME"] = tempfile.mkdtemp(prefix="aicost-test-home-")
