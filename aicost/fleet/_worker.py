"""What runs on each Dask worker: the GPU inventory (NVML) and one unit's benchmark.

These functions are sent to workers by :func:`aicost.fleet.bench`; they never touch the
results store (the client alone writes it). Everything heavy is imported inside them.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from typing import Any

__all__ = ["FLEET_SUITES", "STORAGE_PATTERNS", "gpu_inventory", "probe", "run_unit",
           "storage_records", "tcp_collect", "tcp_listen", "tcp_send"]

#: what ``fleet.bench(storage=...)`` measures on each host: (pattern, block size), as
#: ``aicost.storage.quick_check`` (large sequential reads feed data loaders, 4 KiB random reads
#: show the device's IOPS)
STORAGE_PATTERNS = (("seqread", "1MiB"), ("randread", "4KiB"))
#: receivers waiting between fleet's tcp_listen and tcp_collect tasks on this worker
_RECEIVERS: dict = {}

#: suites a fleet can run: aicost.bench's ``quick`` and ``full``, and ``smoke`` (fleet's own:
#: one GEMM and one STREAM triad, a few seconds on a CPU; for tests and dry runs)
FLEET_SUITES = ("smoke", "quick", "full")

#: NVML throttle-reason bits (nvml.h, nvmlClocksEventReason*) and their short names
_THROTTLE_BITS = {
    0x1: "gpu_idle", 0x2: "applications_clocks_setting", 0x4: "sw_power_cap",
    0x8: "hw_slowdown", 0x10: "sync_boost", 0x20: "sw_thermal_slowdown",
    0x40: "hw_thermal_slowdown", 0x80: "hw_power_brake_slowdown", 0x100: "display_clock_setting",
}


def _text(v: Any) -> str | None:
    if v is None:
        return None
    return v.decode() if isinstance(v, bytes) else str(v)


def gpu_inventory() -> list[dict]:
    """This host's GPUs as NVML sees them (all of them, whatever CUDA_VISIBLE_DEVICES says).

    Returns
    -------
    list of dict
        Per GPU: ``gpu_index``, ``gpu_name``, ``gpu_uuid``, ``gpu_serial``, ``pci_bus_id``,
        ``driver_version``, ``sm_clock_mhz``, ``mem_clock_mhz``, ``max_sm_clock_mhz`` [MHz],
        ``power_w``, ``power_limit_w`` [W], ``temperature_c`` [C], ``throttle_reasons`` (list of
        names). Empty when nvidia-ml-py is missing or NVML cannot start (no driver); a field
        NVML refuses is None.
    """
    try:
        import pynvml as nvml
    except ImportError:  # no nvidia-ml-py: a CPU-only worker
        return []
    try:
        nvml.nvmlInit()
    except nvml.NVMLError:  # no driver: a CPU-only worker
        return []
    out = []
    try:
        driver = _text(nvml.nvmlSystemGetDriverVersion())
    except nvml.NVMLError:
        driver = None
    for i in range(int(nvml.nvmlDeviceGetCount())):
        h = nvml.nvmlDeviceGetHandleByIndex(i)
        rec: dict[str, Any] = {"gpu_index": i, "driver_version": driver}

        def _try(key, f, h=h, rec=rec):
            try:
                rec[key] = f(h)
            except nvml.NVMLError:  # NVML_ERROR_NOT_SUPPORTED and friends: record None
                rec[key] = None

        _try("gpu_name", lambda h: _text(nvml.nvmlDeviceGetName(h)))
        _try("gpu_uuid", lambda h: _text(nvml.nvmlDeviceGetUUID(h)))
        _try("gpu_serial", lambda h: _text(nvml.nvmlDeviceGetSerial(h)))
        _try("pci_bus_id", lambda h: _text(nvml.nvmlDeviceGetPciInfo(h).busId))
        _try("sm_clock_mhz", lambda h: float(nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_SM)))
        _try("mem_clock_mhz", lambda h: float(nvml.nvmlDeviceGetClockInfo(h, nvml.NVML_CLOCK_MEM)))
        _try("max_sm_clock_mhz",
             lambda h: float(nvml.nvmlDeviceGetMaxClockInfo(h, nvml.NVML_CLOCK_SM)))
        _try("power_w", lambda h: nvml.nvmlDeviceGetPowerUsage(h) / 1000.0)
        _try("power_limit_w", lambda h: nvml.nvmlDeviceGetEnforcedPowerLimit(h) / 1000.0)
        _try("temperature_c",
             lambda h: float(nvml.nvmlDeviceGetTemperature(h, nvml.NVML_TEMPERATURE_GPU)))

        def _reasons(h):
            getter = (getattr(nvml, "nvmlDeviceGetCurrentClocksEventReasons", None)
                      or nvml.nvmlDeviceGetCurrentClocksThrottleReasons)
            bits = int(getter(h))
            return [n for b, n in _THROTTLE_BITS.items() if bits & b] or ["none"]

        _try("throttle_reasons", _reasons)
        out.append(rec)
    return out


def probe() -> dict:
    """Describe this worker process: host, pid, visible GPUs and the GPU inventory."""
    return {
        "host": socket.gethostname(),
        "pid": os.getpid(),
        "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"),
        "gpus": gpu_inventory(),
    }


def _smoke(backend: str):
    """Fleet's smallest suite: one GEMM and one STREAM triad with short timer settings."""
    import pandas as pd

    from .. import bench

    be = bench.get_backend(backend)
    ctx = bench.collect_context(be)
    gpu = getattr(be, "device_kind", "cpu") == "cuda"
    t = {"min_samples": 10, "min_time_s": 0.1, "max_time_s": 1.0}
    frames = [bench.gemm("fp32", [2048 if gpu else 384], be, True, t),
              bench.stream("triad", n=(1 << 26) if gpu else (1 << 21), dtype="fp32", backend=be,
                           timer=t)]
    return pd.concat(frames, ignore_index=True), ctx, []


def _run_here(suite: str, backend: str):
    from .. import bench

    if suite == "smoke":
        return _smoke(backend)
    res = bench.run(suite, backend=backend, store=False, progress=False)
    return res.df, res.context, [list(e) for e in res.errors]


def run_unit(suite: str = "quick", gpu_index: int | None = None, *, isolate: bool = False,
             backend: str = "auto", numba_threads: int | None = None,
             timeout_s: float | None = None) -> dict:
    """Benchmark one unit (a GPU, or this CPU-only worker) and return the records.

    Parameters
    ----------
    suite : {"smoke", "quick", "full"}
    gpu_index : int, optional
        The NVML index of the GPU to measure; None on CPU-only workers.
    isolate : bool
        Run in a child process with ``CUDA_VISIBLE_DEVICES=gpu_index`` (a worker that sees
        several GPUs measures each pinned to it); False runs in this process (dask-cuda workers
        are already pinned).
    backend : str
        ``aicost.bench`` backend (``auto``: the best that runs here).
    numba_threads : int, optional
        Limit Numba's CPU threads for this unit (a deliberately slower CPU unit).
    timeout_s : float, optional
        With ``isolate``: kill the child process after this long and raise [s].

    Returns
    -------
    dict
        ``records`` (list of result dicts), ``context``, ``errors``, ``inventory`` (the unit's
        NVML record before and after, or None), ``host``, ``pid``, ``wall_s`` [s].
    """
    if suite not in FLEET_SUITES:
        raise ValueError(f"unknown fleet suite {suite!r}; use one of {', '.join(FLEET_SUITES)}")
    t0 = time.perf_counter()
    before = _unit_nvml(gpu_index)
    if isolate:
        env = dict(os.environ)
        if gpu_index is not None:
            env["CUDA_VISIBLE_DEVICES"] = str(gpu_index)
        if numba_threads:
            env["NUMBA_NUM_THREADS"] = str(int(numba_threads))
        code = ("import json, sys; from aicost.fleet import run_unit; "
                f"r = run_unit({suite!r}, None, backend={backend!r}); "
                "sys.stdout.write('\\n@@AICOST@@' + json.dumps(r, default=str))")
        try:
            proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True,
                                  text=True, check=False, timeout=timeout_s)
        except subprocess.TimeoutExpired as exc:  # subprocess.run has killed the child
            raise TimeoutError(f"benchmark process for GPU {gpu_index} did not finish in "
                               f"{timeout_s:g} s and was killed") from exc
        if proc.returncode != 0 or "@@AICOST@@" not in proc.stdout:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-5:]
            raise RuntimeError(f"benchmark process for GPU {gpu_index} exited with "
                               f"{proc.returncode}: {' | '.join(tail)}")
        out = json.loads(proc.stdout.rsplit("@@AICOST@@", 1)[1])
        records, ctx, errors = out["records"], out["context"], out["errors"]
    else:
        prev = None
        if numba_threads:
            import numba

            prev = numba.get_num_threads()
            numba.set_num_threads(int(numba_threads))
        try:
            df, ctx, errors = _run_here(suite, backend)
        finally:
            if prev is not None:  # the worker's later units run with its own threads again
                import numba

                numba.set_num_threads(prev)
        records = json.loads(df.to_json(orient="records"))
        ctx = json.loads(json.dumps(ctx, default=str))
    ctx = dict(ctx)
    if numba_threads:
        ctx["numba_threads_limit"] = int(numba_threads)
    return {"records": records, "context": ctx, "errors": errors,
            "inventory": {"before": before, "after": _unit_nvml(gpu_index)},
            "host": socket.gethostname(), "pid": os.getpid(),
            "wall_s": time.perf_counter() - t0}


def _unit_nvml(gpu_index: int | None) -> dict | None:
    if gpu_index is None:
        return None
    for rec in gpu_inventory():
        if rec["gpu_index"] == gpu_index:
            return rec
    return None


# ----------------------------------------------------------------------------- storage, TCP
def storage_records(directory: str, *, file_size="64MiB", workers: int = 2,
                    duration_s: float = 1.0, ramp_s: float = 0.25, allow_buffered: bool = True,
                    patterns=STORAGE_PATTERNS) -> list[dict]:
    """Measure the file system at ``directory`` on this worker's host (``aicost.storage``, fio
    semantics, in a work directory it creates and removes) and return fleet records.

    Each record: ``kind="storage"``, ``name`` the pattern, ``shape`` the block size, ``value``
    the throughput [B/s], ``median_s`` the p50 latency, ``min_s`` None, and ``flags`` (e.g.
    ``buffered-fallback`` where O_DIRECT is refused), ``iops``, ``lat_p99_s``, ``filesystem``.
    """
    from .. import storage

    out = []
    with storage.Workspace(directory, workers=workers, file_size=file_size,
                           allow_buffered=allow_buffered) as ws:
        for pattern, bs in patterns:
            r = storage.measure(directory, pattern=pattern, block_size=bs, workers=workers,
                                file_size=file_size, duration_s=duration_s, ramp_s=ramp_s,
                                allow_buffered=allow_buffered, workspace=ws)
            out.append({"kind": "storage", "name": pattern, "dtype": None, "shape": str(bs),
                        "value": r.bytes_per_s, "unit": "B/s", "median_s": r.lat_p50_s,
                        "min_s": None, "flags": ",".join(r.flags), "iops": r.iops,
                        "lat_p99_s": r.lat_p99_s, "filesystem": r.filesystem,
                        "directory": str(directory)})
    return out


def tcp_listen(token: str, host: str, streams: int = 4, omit_s: float = 0.5,
               duration_s: float = 2.0) -> int:
    """Start an ``aicost.network.TcpReceiver`` on ``host`` (this worker's address) and keep it
    until :func:`tcp_collect`; return its port."""
    from ..network import TcpReceiver

    r = TcpReceiver(host, streams=int(streams), omit_s=float(omit_s), duration_s=float(duration_s))
    _RECEIVERS[token] = r
    return r.port


def tcp_send(host: str, port: int, streams: int = 4, omit_s: float = 0.5,
             duration_s: float = 2.0) -> float:
    """Send to a receiver on another worker (``aicost.network.send_tcp``) [bit/s sent]."""
    from ..network import send_tcp

    return send_tcp(host, int(port), int(streams), float(omit_s), float(duration_s))


def tcp_collect(token: str, abort: bool = False) -> dict:
    """The result of the receiver :func:`tcp_listen` started (bytes received in the window);
    ``abort`` closes it without a result (the sender failed)."""
    r = _RECEIVERS.pop(token, None)
    if r is None:
        raise LookupError(f"no TCP receiver {token!r} on this worker (was it restarted?)")
    if abort:
        r.close()
        return {}
    res = r.result()
    return {"bits_per_s": res.bits_per_s, "bytes_received": res.bytes_received,
            "host": res.host, "streams": res.streams, "duration_s": res.duration_s}
