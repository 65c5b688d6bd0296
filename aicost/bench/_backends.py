"""Benchmark backends: which can run here, and why the others cannot (one line each)."""

from __future__ import annotations

import os
from dataclasses import dataclass

from .._errors import BackendUnavailableError, UnknownNameError

__all__ = ["BACKENDS", "BackendStatus", "available_backends", "backend_status", "get_backend"]

#: every backend, best first (``auto`` takes the first that can run)
BACKENDS = ("cupy", "numba-cuda", "numba", "numpy")
_ALIASES = {"numba_cuda": "numba-cuda", "numbacuda": "numba-cuda", "cuda": "cupy",
            "cpu": "numba", "numba-cpu": "numba"}


@dataclass(frozen=True)
class BackendStatus:
    """Whether a backend can run here.

    Attributes
    ----------
    name : str
    available : bool
    reason : str
        One line: the device it will use, or why it cannot run.
    device_kind : str
        ``"cuda"`` or ``"cpu"``.
    """

    name: str
    available: bool
    reason: str
    device_kind: str


# The status checks below turn ANY failure to import or start an optional GPU/JIT library into
# the one-line reason its backend is unavailable (`except Exception` on purpose): a library can
# fail in ways its documentation does not list (numba-cuda 0.30.4 raises AttributeError under
# NumPy 2.5, "numpy has no attribute row_stack"), and aicost must say why instead of crashing.
# The reason carries the exception's type and message, so nothing is hidden.
def _one_line(exc: BaseException) -> str:
    msg = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {msg}" if msg else type(exc).__name__


def _status_cupy() -> BackendStatus:
    try:
        import cupy
    except Exception as exc:
        return BackendStatus("cupy", False, f"import cupy failed: {_one_line(exc)}", "cuda")
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except cupy.cuda.runtime.CUDARuntimeError as exc:
        return BackendStatus("cupy", False, f"no CUDA driver or device: {_one_line(exc)}", "cuda")
    if count < 1:
        return BackendStatus("cupy", False, "no CUDA device", "cuda")
    try:
        props = cupy.cuda.runtime.getDeviceProperties(cupy.cuda.Device().id)
        name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    except cupy.cuda.runtime.CUDARuntimeError as exc:
        return BackendStatus("cupy", False, f"CUDA device unusable: {_one_line(exc)}", "cuda")
    return BackendStatus("cupy", True, f"CuPy {cupy.__version__} on {name}", "cuda")


def _status_numba_cuda() -> BackendStatus:
    if os.environ.get("NUMBA_ENABLE_CUDASIM") == "1":
        return BackendStatus(
            "numba-cuda", False,
            "the Numba CUDA simulator is active (NUMBA_ENABLE_CUDASIM=1): kernels run for "
            "correctness only, timings would mean nothing", "cuda")
    try:
        from numba import cuda
    except Exception as exc:
        return BackendStatus("numba-cuda", False, f"import numba.cuda failed: {_one_line(exc)}",
                             "cuda")
    try:
        ok = cuda.is_available()
    except Exception as exc:
        return BackendStatus("numba-cuda", False, f"no CUDA driver or device: {_one_line(exc)}",
                             "cuda")
    if not ok:
        why = ""
        try:
            err = cuda.cuda_error()
            why = " ".join(str(err).split()) if err else ""
        except Exception:
            pass
        return BackendStatus("numba-cuda", False,
                             f"no CUDA driver or device{': ' + why if why else ''}", "cuda")
    try:
        name = cuda.get_current_device().name
        name = name.decode() if isinstance(name, bytes) else str(name)
    except Exception as exc:
        return BackendStatus("numba-cuda", False, f"CUDA device unusable: {_one_line(exc)}", "cuda")
    return BackendStatus("numba-cuda", True, f"Numba CUDA on {name}", "cuda")


def _status_numba() -> BackendStatus:
    try:
        import numba
    except Exception as exc:
        return BackendStatus("numba", False, f"import numba failed: {_one_line(exc)} "
                             "(install it with `pip install 'aicost[cpu]'`)", "cpu")
    return BackendStatus("numba", True,
                         f"Numba {numba.__version__} parallel CPU, {numba.get_num_threads()} threads",
                         "cpu")


def _status_numpy() -> BackendStatus:
    import numpy

    return BackendStatus("numpy", True, f"NumPy {numpy.__version__} on the CPU", "cpu")


_CHECKS = {"cupy": _status_cupy, "numba-cuda": _status_numba_cuda, "numba": _status_numba,
           "numpy": _status_numpy}


def normalize_backend(name: str) -> str:
    key = str(name).strip().lower()
    key = _ALIASES.get(key, key)
    if key != "auto" and key not in BACKENDS:
        raise UnknownNameError("backend", name, (*BACKENDS, "auto"),
                               hint="(" + _status_lines() + ")")
    return key


def backend_status(name: str) -> BackendStatus:
    """Whether backend ``name`` can run here, with a one-line reason."""
    return _CHECKS[normalize_backend(name)]()


def _status_lines() -> str:
    parts = []
    for b in BACKENDS:
        st = _CHECKS[b]()
        parts.append(f"{b}: {'available' if st.available else 'unavailable'} - {st.reason}")
    return "; ".join(parts)


def available_backends():
    """A DataFrame: every backend, whether it can run here, and why (one line)."""
    import pandas as pd

    rows = [vars(_CHECKS[b]()) for b in BACKENDS]
    return pd.DataFrame(rows, columns=["name", "available", "reason", "device_kind"])


def get_backend(name: str = "auto"):
    """Return a ready backend object (``"auto"``: the best one that can run here).

    Raises
    ------
    UnknownNameError
        For an unknown name (the message lists every backend and its status).
    BackendUnavailableError
        When the backend cannot run here (the message says why and lists the others).
    """
    key = normalize_backend(name)
    if key == "auto":
        for b in BACKENDS:
            if _CHECKS[b]().available:
                return get_backend(b)
        raise BackendUnavailableError("no backend can run here: " + _status_lines())
    st = _CHECKS[key]()
    if not st.available:
        others = [f"{b} ({_CHECKS[b]().reason})" for b in BACKENDS
                  if b != key and _CHECKS[b]().available]
        raise BackendUnavailableError(
            f"backend {key!r} cannot run here: {st.reason}. "
            + (f"Available: {', '.join(others)}." if others else "No backend is available."))
    if key == "cupy":
        from ._kernels_cupy import CupyBackend

        return CupyBackend()
    if key == "numba-cuda":
        from ._kernels_numba_cuda import NumbaCudaBackend

        return NumbaCudaBackend()
    if key == "numba":
        from ._kernels_cpu import NumbaCpuBackend

        return NumbaCpuBackend()
    from ._kernels_cpu import NumpyBackend

    return NumpyBackend()
