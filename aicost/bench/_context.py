"""The context recorded with every run: host, library versions, device, NVML readings."""

from __future__ import annotations

import datetime as _dt
import os
import platform
import socket
from importlib import metadata

__all__ = ["NvmlMonitor", "collect_context", "package_versions"]

#: NVML throttle-reason bits (nvml.h, nvmlClocksEventReason*) and their short names
_THROTTLE_BITS = {
    0x1: "gpu_idle",
    0x2: "applications_clocks_setting",
    0x4: "sw_power_cap",
    0x8: "hw_slowdown",
    0x10: "sync_boost",
    0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown",
    0x80: "hw_power_brake_slowdown",
    0x100: "display_clock_setting",
}


class NvmlMonitor:
    """Reads clocks, power, temperature and throttle reasons of one GPU through NVML.

    ``NvmlMonitor.open()`` returns None when nvidia-ml-py (``pynvml``) is missing or NVML
    cannot start (no driver); callers then record no NVML data.
    """

    def __init__(self, nvml, handle) -> None:
        self._nvml = nvml
        self._h = handle
        try:
            self.max_sm_clock_mhz = float(nvml.nvmlDeviceGetMaxClockInfo(handle, nvml.NVML_CLOCK_SM))
        except nvml.NVMLError:  # NVML_ERROR_NOT_SUPPORTED on some devices
            self.max_sm_clock_mhz = None

    @classmethod
    def open(cls, index: int | None = None) -> NvmlMonitor | None:
        try:
            import pynvml as nvml
        except ImportError:  # nvidia-ml-py is optional: no NVML readings
            return None
        try:
            nvml.nvmlInit()
            if index is None:
                index = _current_cuda_index()
            handle = nvml.nvmlDeviceGetHandleByIndex(index)
        except nvml.NVMLError:  # no driver or no such device: no NVML readings
            return None
        return cls(nvml, handle)

    def driver_version(self) -> str | None:
        """The NVIDIA driver's version ("580.95.05"), or None when NVML cannot say."""
        try:
            v = self._nvml.nvmlSystemGetDriverVersion()
        except self._nvml.NVMLError:
            return None
        return v.decode() if isinstance(v, bytes) else str(v)

    def sm_clock_mhz(self) -> float | None:
        try:
            return float(self._nvml.nvmlDeviceGetClockInfo(self._h, self._nvml.NVML_CLOCK_SM))
        except self._nvml.NVMLError:
            return None

    def snapshot(self) -> dict:
        """Clocks [MHz], power [W], temperature [C], throttle reasons, now."""
        n, h = self._nvml, self._h
        out: dict = {}

        def _try(key, f):
            try:
                out[key] = f()
            except n.NVMLError:  # a reading this device does not support: left out
                pass

        _try("sm_clock_mhz", lambda: float(n.nvmlDeviceGetClockInfo(h, n.NVML_CLOCK_SM)))
        _try("mem_clock_mhz", lambda: float(n.nvmlDeviceGetClockInfo(h, n.NVML_CLOCK_MEM)))
        _try("power_w", lambda: n.nvmlDeviceGetPowerUsage(h) / 1000.0)
        _try("power_limit_w", lambda: n.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0)
        _try("temperature_c", lambda: float(n.nvmlDeviceGetTemperature(h, n.NVML_TEMPERATURE_GPU)))
        if self.max_sm_clock_mhz:
            out["max_sm_clock_mhz"] = self.max_sm_clock_mhz

        def _reasons():
            getter = getattr(n, "nvmlDeviceGetCurrentClocksEventReasons", None) or n.nvmlDeviceGetCurrentClocksThrottleReasons
            bits = int(getter(h))
            return [name for bit, name in _THROTTLE_BITS.items() if bits & bit] or ["none"]

        _try("throttle_reasons", _reasons)
        return out


def _current_cuda_index() -> int:
    """The CUDA device index in use (CUDA_VISIBLE_DEVICES is honoured through the PCI bus id)."""
    try:
        import cupy
        import pynvml as nvml
    except ImportError:  # without CuPy the current device is device 0
        return 0
    try:
        bus = cupy.cuda.Device().pci_bus_id
        h = nvml.nvmlDeviceGetHandleByPciBusId(bus.encode() if isinstance(bus, str) else bus)
        return int(nvml.nvmlDeviceGetIndex(h))
    except (nvml.NVMLError, cupy.cuda.runtime.CUDARuntimeError):
        return 0


def package_versions(names=("numpy", "pandas", "numba", "numba-cuda", "cupy-cuda13x",
                            "cupy-cuda12x", "cupy", "ml_dtypes", "nvidia-ml-py", "llvmlite",
                            "torch", "triton")) -> dict:
    """Installed versions of the libraries that affect the numbers (missing ones omitted)."""
    out = {}
    for name in names:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def collect_context(backend=None) -> dict:
    """The run context: host, time, versions, and the backend's device description.

    Parameters
    ----------
    backend : Backend, optional
        Adds ``backend``, ``device`` and the backend's ``device_info()`` (SM count, L2,
        memory, clocks, TF32 setting on CuPy) plus an NVML snapshot on CUDA.
    """
    from .._version import __version__

    ctx: dict = {
        "aicost_version": __version__,
        "host": socket.gethostname(),
        "time_utc": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "versions": package_versions(),
        "env": {k: os.environ[k] for k in ("CUPY_TF32", "NVIDIA_TF32_OVERRIDE", "NUMBA_NUM_THREADS",
                                           "OMP_NUM_THREADS", "CUDA_VISIBLE_DEVICES")
                if k in os.environ},
    }
    if backend is not None:
        ctx["backend"] = backend.name
        ctx["device"] = backend.device_name()
        ctx["device_info"] = backend.device_info()
        if backend.device_kind == "cuda":
            mon = NvmlMonitor.open()
            if mon is not None:
                ctx["nvml"] = mon.snapshot()
                ctx["driver_version"] = mon.driver_version()
    return ctx
