"""Run the compute suite on every GPU (or CPU-only worker) of a Dask cluster.

The client plans one *unit* per GPU (NVML index on its host) or per CPU-only worker, submits
one task per unit pinned to its worker, follows them with a tqdm bar, and writes every unit's
results to the store in one transaction. A worker that dies or a unit that times out is
reported with the reason; the other units' results are kept; ``bench(..., workers=run.missing)``
measures only what is missing.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from .._errors import AicostError
from ._worker import (
    FLEET_SUITES,
    probe,
    run_unit,
    storage_records,
    tcp_collect,
    tcp_listen,
    tcp_send,
)

__all__ = ["FleetError", "FleetRun", "bench", "local_cluster", "records_from_units", "run", "save"]

#: identity columns of a fleet record (one row per unit x measurement)
UNIT_COLUMNS = ["fleet_id", "unit_id", "host", "worker", "gpu_index", "gpu_uuid", "gpu_serial",
                "driver_version", "sku", "backend", "sm_clock_mhz", "mem_clock_mhz",
                "max_sm_clock_mhz", "throttle_reasons", "simulated"]
RECORD_COLUMNS = [*UNIT_COLUMNS, "kind", "name", "dtype", "shape", "metric", "value", "unit",
                  "median_s", "min_s"]


#: after cancelling a timed-out unit, how long its task may take to end before its worker is
#: restarted [s]
CANCEL_GRACE_S = 2.0
#: how long a worker restart may take [s]
RESTART_TIMEOUT_S = 60.0


class FleetError(AicostError, RuntimeError):
    """A fleet run cannot start (no workers, bad address, unknown worker names)."""


@dataclass
class FleetRun:
    """One fleet benchmark: every unit's records and what failed.

    Attributes
    ----------
    fleet_id : str
        Id shared by every run this fleet benchmark saved (``fleet-YYYYmmddTHHMMSS-xxxxxx``).
    suite : str
    records : pandas.DataFrame
        One row per unit x measurement: :data:`RECORD_COLUMNS` (``value`` in ``unit``; the
        median and best sample time ``median_s``, ``min_s`` [s] where the suite gives them).
    units : pandas.DataFrame
        One row per unit: identity, ``status`` (``ok``/``failed``), ``reason``, ``wall_s``.
    dashboard_link : str or None
    run_ids : list of str
        Store run ids (empty when not saved).
    contexts : dict
        unit_id -> the unit's ``aicost.bench`` context (host, versions, device info, NVML).
    """

    fleet_id: str
    suite: str
    records: object
    units: object
    dashboard_link: str | None = None
    run_ids: list = field(default_factory=list)
    contexts: dict = field(default_factory=dict)

    @property
    def failures(self):
        """The failed units with their reason."""
        u = self.units
        return u[u["status"] != "ok"][["unit_id", "worker", "host", "gpu_index", "reason"]]

    @property
    def missing(self) -> list:
        """Worker names with a failed unit: pass as ``bench(..., workers=run.missing)``."""
        return sorted({str(w) for w in self.failures["worker"]})

    def analyze(self, **kwargs):
        """:func:`aicost.fleet.analyze` on these records."""
        from ._analyze import analyze

        return analyze(self.records, **kwargs)

    def __repr__(self) -> str:
        ok = int((self.units["status"] == "ok").sum()) if len(self.units) else 0
        lines = [f"aicost.fleet.FleetRun({self.fleet_id}, suite {self.suite!r}: {ok} of "
                 f"{len(self.units)} units measured, {len(self.records)} records)"]
        for r in self.failures.itertuples():
            lines.append(f"  FAILED {r.unit_id} (worker {r.worker}): {r.reason}")
        if "errors" in self.units:  # measurements that failed inside a measured unit
            for r in self.units[self.units["status"] == "ok"].itertuples():
                for label, msg in (r.errors or []):
                    lines.append(f"  error in {r.unit_id} ({label}): {msg}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        import html

        fails = "".join(f"<li>{html.escape(str(r.unit_id))} (worker {html.escape(str(r.worker))})"
                        f": {html.escape(str(r.reason))}</li>" for r in self.failures.itertuples())
        head = html.escape(repr(self).splitlines()[0])
        return f"<div><p><b>{head}</b></p>{'<ul>' + fails + '</ul>' if fails else ''}</div>"


def local_cluster(n_workers: int = 2, *, threads_per_worker: int = 1, gpu: bool | None = None,
                  **kwargs):
    """Start a local cluster: ``dask_cuda.LocalCUDACluster`` (one worker per GPU) when GPUs are
    present and dask-cuda is installed, else a ``distributed.LocalCluster`` of worker processes.

    Parameters
    ----------
    n_workers : int
        Worker processes of a CPU ``LocalCluster`` (ignored by LocalCUDACluster: one per GPU).
    gpu : bool, optional
        Force (True) or refuse (False) LocalCUDACluster; default: when NVML sees a GPU.
    """
    try:
        from distributed import LocalCluster
    except ImportError as exc:
        raise FleetError("aicost.fleet needs Dask distributed: pip install 'aicost[fleet]'") from exc
    from ._worker import gpu_inventory

    if gpu is None:
        gpu = bool(gpu_inventory())
    if gpu:
        try:
            from dask_cuda import LocalCUDACluster
        except ImportError as exc:
            raise FleetError("GPUs found but dask-cuda is missing: pip install 'aicost[gpu,fleet]' "
                             "(or pass gpu=False for one CPU worker process)") from exc
        return LocalCUDACluster(**kwargs)
    kwargs.setdefault("processes", True)
    kwargs.setdefault("dashboard_address", ":0")
    return LocalCluster(n_workers=n_workers, threads_per_worker=threads_per_worker, **kwargs)


def _client(client_or_address):
    try:
        from distributed import Client
    except ImportError as exc:
        raise FleetError("aicost.fleet needs Dask distributed: pip install 'aicost[fleet]'") from exc
    if isinstance(client_or_address, Client):
        return client_or_address, False
    if isinstance(client_or_address, str):
        try:
            return Client(client_or_address, timeout="20s"), True
        except OSError as exc:
            raise FleetError(f"cannot reach the Dask scheduler at {client_or_address!r} ({exc}); "
                             "start one (`dask scheduler`) or use `aicost fleet bench --local N`"
                             ) from exc
    if hasattr(client_or_address, "scheduler_address"):  # a cluster object
        return Client(client_or_address), True
    raise TypeError("client_or_address must be a distributed.Client, a cluster or a "
                    f"'tcp://host:port' address, got {type(client_or_address).__name__}")


def _plan_units(workers: dict, probes: dict, select: set | None) -> list[dict]:
    """One unit per GPU (once per host) or per CPU-only worker."""
    units, taken = [], set()
    for addr in sorted(workers, key=lambda a: str(workers[a].get("name"))):
        info = probes.get(addr)
        name = str(workers[addr].get("name", addr))
        if select is not None and name not in select and addr not in select:
            continue
        if not isinstance(info, dict):
            units.append({"worker": name, "address": addr, "host": workers[addr].get("host"),
                          "gpu_index": None, "isolate": False, "nvml": None,
                          "probe_error": f"worker did not answer the probe: {info!r}"})
            continue
        gpus = info.get("gpus") or []
        host = info.get("host")
        visible = info.get("cuda_visible_devices")
        if gpus and visible:  # pinned (dask-cuda): the first visible device is this worker's GPU
            first = visible.split(",")[0].strip()
            nv = next((g for g in gpus if str(g["gpu_index"]) == first
                       or str(g.get("gpu_uuid")) == first), gpus[0])
            chosen = [(nv, False)]
        elif gpus:  # one worker sees every GPU: measure each pinned in a child process
            chosen = [(g, True) for g in gpus]
        else:
            chosen = [(None, False)]
        for nv, isolate in chosen:
            key = (host, None if nv is None else nv["gpu_index"])
            if nv is not None and key in taken:
                continue
            taken.add(key)
            units.append({"worker": name, "address": addr, "host": host,
                          "gpu_index": None if nv is None else int(nv["gpu_index"]),
                          "isolate": isolate, "nvml": nv, "probe_error": None})
    for u in units:
        u["unit_id"] = (f"{u['host']}/gpu{u['gpu_index']}" if u["gpu_index"] is not None
                        else f"{u['host']}/worker-{u['worker']}")
    return units


def bench(client_or_address, suite: str = "quick", *, workers=None, store=None,
          timeout_s: float = 1800.0, backend: str = "auto", numba_threads=None,
          progress: bool = True, poll_s: float = 0.5, storage=None,
          network: bool | dict = False) -> FleetRun:
    """Benchmark every GPU (or CPU-only worker) of a Dask cluster; save in one transaction.

    Parameters
    ----------
    client_or_address : distributed.Client, cluster or str
        A client, a cluster object (``LocalCluster``, ``SLURMCluster``, ...) or a scheduler
        address (``"tcp://host:8786"``).
    suite : {"smoke", "quick", "full"}
        ``quick``/``full`` are :func:`aicost.bench.run`'s suites; ``smoke`` is one GEMM and one
        STREAM triad (seconds; tests and dry runs).
    workers : iterable of str, optional
        Only these workers (names or addresses), e.g. ``previous_run.missing`` for a rerun.
    store : aicost.store.Store, None or False
        Where the client writes (None: the default store; False: nothing). Workers never
        touch it.
    timeout_s : float
        A unit not finished this long after the run started is reported as timed out [s]. Its
        task is cancelled; if it keeps running (a running Python function cannot be
        interrupted), the worker running it is restarted (``Client.restart_workers``: its nanny
        starts a fresh process), or retired where it cannot be restarted; the reason says
        which. Other units' results are kept. A unit measuring a GPU in a child process
        (``isolate``) kills that process itself after ``timeout_s``.
    backend : str
        ``aicost.bench`` backend on the workers (``auto``).
    numba_threads : int or dict, optional
        Limit Numba's CPU threads, for every worker or per worker name (a slower unit on
        purpose: the test data for the outlier logic).
    progress : bool
        tqdm bar over completed units; the dashboard link is printed.
    poll_s : float
        How often the client checks for workers that left [s].
    storage : str, path or dict, optional
        Also measure storage, once per host, after the compute units: the directory to measure
        on each host (it must exist there; a work directory is created in it and removed), or a
        dict with ``directory`` and ``aicost.fleet.storage_records`` options (``file_size``,
        ``workers``, ``duration_s``, ``ramp_s``, ``allow_buffered``). Records ``kind="storage"``,
        metrics ``seqread 1MiB`` and ``randread 4KiB`` [B/s], on the host's first unit.
    network : bool or dict
        Also measure TCP throughput between workers, once per host, after the compute units:
        each host's first worker sends to the next host's (a ring; on a single-host cluster
        between two of its workers, or to itself when it has one worker), through
        ``aicost.network.TcpReceiver`` / ``send_tcp``, transfers that share no host running
        at once. A dict sets ``streams`` (4), ``omit_s`` (0.5) and ``duration_s`` (2.0).
        Records ``kind="network"``, metric ``tcp ring`` [bit/s received], on the sender's unit;
        the peer is in the unit's context (``tcp_to``).

    Both extra measurements go to the store in the same transaction as the compute records; a
    failed one is listed in the unit's ``errors``, and the unit's compute results are kept.

    Returns
    -------
    FleetRun
    """

    if suite not in FLEET_SUITES:
        raise ValueError(f"unknown fleet suite {suite!r}; use one of {', '.join(FLEET_SUITES)}")
    if timeout_s <= 0:
        raise ValueError(f"timeout_s must be positive, got {timeout_s!r}")
    client, owned = _client(client_or_address)
    try:
        all_workers = _workers(client)
        if not all_workers:
            raise FleetError("the Dask cluster has no workers; start some (`dask worker "
                             "tcp://scheduler:8786`) or use `aicost fleet bench --local N`")
        select = None if workers is None else {str(w) for w in workers}
        if select is not None:
            known = {str(v.get("name")) for v in all_workers.values()} | set(all_workers)
            unknown = sorted(select - known)
            if unknown:
                import difflib

                hint = difflib.get_close_matches(unknown[0], sorted(known), n=1)
                raise FleetError(f"no worker named {unknown[0]!r} in the cluster"
                                 + (f"; did you mean {hint[0]!r}?" if hint else
                                    f" (workers: {', '.join(sorted(known)[:8])})"))
        probes = client.run(probe, on_error="return")
        units = _plan_units(all_workers, probes, select)
        fleet_id = ("fleet-" + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-"
                    + uuid.uuid4().hex[:6])
        link = getattr(client, "dashboard_link", None)
        if progress:
            print(f"aicost fleet {fleet_id}: {len(units)} units on {len(all_workers)} workers; "
                  f"Dask dashboard: {link}")
        results: dict[str, dict] = {}
        futures = {}
        for u in units:
            if u["probe_error"]:
                results[u["unit_id"]] = {"status": "failed", "reason": u["probe_error"]}
                continue
            nt = numba_threads.get(u["worker"]) if isinstance(numba_threads, dict) else numba_threads
            fut = client.submit(run_unit, suite, u["gpu_index"], isolate=u["isolate"],
                                backend=backend, numba_threads=nt, timeout_s=timeout_s,
                                workers=[u["address"]],
                                allow_other_workers=False, pure=False, retries=0,
                                key=f"aicost-fleet-{fleet_id}-{u['unit_id']}")
            futures[fut] = u
        _follow(client, futures, results, timeout_s, poll_s, progress)
        if storage is not None or network:
            _host_measurements(client, fleet_id, units, results, storage, network, progress)
    finally:
        if owned:
            client.close()
    run = _assemble(fleet_id, suite, units, results, link)
    if store is not False:
        run.run_ids = save(run, store)
    return run


def _workers(client) -> dict:
    """address -> {"name", "host"} of every worker, asked of the scheduler itself.

    (``Client.scheduler_info()`` is not used: the client's periodic refresh can replace the
    answer with one that lists no workers, which would read as every worker gone.)
    """
    def _list(dask_scheduler):  # nested: pickled by value, so the scheduler needs no aicost
        return {addr: {"name": ws.name, "host": ws.host}
                for addr, ws in dask_scheduler.workers.items()}

    return dict(client.run_on_scheduler(_list))


def _follow(client, futures: dict, results: dict, timeout_s: float, poll_s: float,
            progress: bool) -> None:
    """Wait for the unit tasks; record each outcome; fail units whose worker left."""
    from distributed import wait

    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=len(futures), desc="fleet units", unit="unit")
    pending = set(futures)
    timed_out: list = []
    t0 = time.monotonic()
    absent: dict = {}  # address -> consecutive polls it was missing
    try:
        while pending:
            try:
                done, _ = wait(list(pending), timeout=poll_s, return_when="FIRST_COMPLETED")
            except TimeoutError:
                done = set()
            for fut in done:
                u = futures[fut]
                pending.discard(fut)
                if fut.status == "finished":
                    results[u["unit_id"]] = {"status": "ok", **fut.result()}
                elif fut.status == "error":
                    exc = fut.exception()
                    results[u["unit_id"]] = {"status": "failed",
                                             "reason": f"{type(exc).__name__}: {exc}"}
                else:
                    results[u["unit_id"]] = {"status": "failed", "reason": f"task {fut.status}"}
                if bar is not None:
                    bar.update(1)
            if not pending:
                break
            alive = set(_workers(client))
            elapsed = time.monotonic() - t0
            for addr in {futures[f]["address"] for f in pending}:
                absent[addr] = absent.get(addr, 0) + 1 if addr not in alive else 0
            for fut in list(pending):
                u = futures[fut]
                reason = None
                if absent.get(u["address"], 0) >= 2:  # gone in two polls in a row
                    reason = (f"worker {u['worker']} ({u['address']}) left the cluster while "
                              "measuring (died, was killed or lost its connection)")
                elif elapsed > timeout_s:
                    reason = f"timed out after {timeout_s:g} s"
                if reason:
                    pending.discard(fut)
                    fut.cancel()
                    results[u["unit_id"]] = {"status": "failed", "reason": reason}
                    if reason.startswith("timed out"):
                        timed_out.append(fut)
                    if bar is not None:
                        bar.update(1)
            if timed_out:
                _stop_timed_out(client, [(f, futures[f]) for f in timed_out], results)
                timed_out.clear()
    finally:
        if bar is not None:
            bar.close()


def _busy_with(keys, dask_worker=None):
    """Run on a worker (``client.run``, on its event loop): those of ``keys`` it still executes.

    A cancelled task that is running keeps its thread (Python cannot interrupt it); the worker
    then holds it as ``cancelled`` until the function returns.
    """
    out = []
    for k in keys:
        ts = dask_worker.state.tasks.get(k)
        if ts is not None and ts.state in ("executing", "long-running", "cancelled"):
            out.append(k)
    return out


def _stop_timed_out(client, stuck: list, results: dict) -> None:
    """Stop timed-out units for real: cancel (done by the caller), give the task
    :data:`CANCEL_GRACE_S` to end, then restart the worker process of any still running it
    (``Client.restart_workers``: the nanny starts a fresh process), or retire that worker
    (``Client.retire_workers``) when it cannot be restarted. Each unit's reason says which."""
    by_addr: dict = {}
    for fut, u in stuck:
        by_addr.setdefault(u["address"], []).append((fut, u))
    deadline = time.monotonic() + CANCEL_GRACE_S
    busy: dict = {}
    while True:
        busy = {}
        for addr, items in by_addr.items():
            keys = [f.key for f, _ in items]
            try:
                ans = client.run(_busy_with, keys, workers=[addr], on_error="return")
            except (OSError, TimeoutError) as exc:  # the worker went away meanwhile
                ans = {addr: exc}
            got = ans.get(addr)
            if isinstance(got, list) and got:
                busy[addr] = got
        if not busy or time.monotonic() >= deadline:
            break
        time.sleep(min(0.2, max(0.0, deadline - time.monotonic())))
    for addr, keys in busy.items():
        items = [(f, u) for f, u in by_addr[addr] if f.key in keys]
        name = items[0][1]["worker"]
        what = _restart_or_retire(client, addr, name)
        for _fut, u in items:
            results[u["unit_id"]]["reason"] += (
                f"; the task kept running after it was cancelled, so {what}")


def _restart_or_retire(client, addr: str, name: str) -> str:
    """Restart the worker at ``addr`` (its nanny starts a fresh process), else retire it; say
    what happened, in words for a failure reason."""
    try:
        res = client.restart_workers([addr], timeout=RESTART_TIMEOUT_S, raise_for_error=False)
        ok = (res or {}).get(addr) == "OK"
        if ok:
            return f"worker {name} was restarted to stop it (a fresh process; other work on it was lost)"
        why = (res or {}).get(addr)
    except (OSError, TimeoutError, ValueError, RuntimeError) as exc:  # no nanny, comm failure
        why = f"{type(exc).__name__}: {exc}"
    try:
        client.retire_workers([addr], close_workers=True)
        return f"worker {name} was retired from the cluster to stop it (restart failed: {why})"
    except (OSError, TimeoutError, ValueError, RuntimeError) as exc:
        return (f"worker {name} could not be stopped (restart: {why}; retire: "
                f"{type(exc).__name__}: {exc}); it may still be running that task")


#: how long one host's storage measurement may take beyond its measured time [s] (layout of
#: the files, work directory removal)
STORAGE_SLACK_S = 120.0


def _host_reps(units: list, results: dict) -> list[dict]:
    """The first measured unit of each host (by worker name): where host measurements run."""
    reps, seen = [], set()
    for u in sorted(units, key=lambda u: (str(u["worker"]), str(u["unit_id"]))):
        if results.get(u["unit_id"], {}).get("status") != "ok" or u["host"] in seen:
            continue
        seen.add(u["host"])
        reps.append(u)
    return reps


def _note_error(results: dict, unit_id: str, label: str, exc) -> None:
    msg = exc if isinstance(exc, str) else f"{type(exc).__name__}: {exc}"
    results[unit_id].setdefault("errors", []).append([label, msg])


def _host_measurements(client, fleet_id: str, units: list, results: dict, storage, network,
                       progress: bool) -> None:
    """Storage once per host and TCP between hosts' workers, after the compute units."""
    from distributed import wait

    reps = _host_reps(units, results)
    if not reps:
        return
    if storage is not None:
        opts = dict(storage) if isinstance(storage, dict) else {"directory": storage}
        if "directory" not in opts:
            raise ValueError("storage= needs a directory (a path, or a dict with 'directory')")
        directory = str(opts.pop("directory"))
        limit = (float(opts.get("duration_s", 1.0)) + float(opts.get("ramp_s", 0.25))) * 2
        futs = {client.submit(storage_records, directory, **opts, workers=[u["address"]],
                              allow_other_workers=False, pure=False,
                              key=f"aicost-fleet-storage-{fleet_id}-{u['unit_id']}"): u
                for u in reps}
        done, _ = wait(list(futs), timeout=limit + STORAGE_SLACK_S)
        for fut, u in futs.items():
            if fut in done and fut.status == "finished":
                results[u["unit_id"]].setdefault("extra_records", []).extend(fut.result())
            else:
                err = fut.exception() if fut in done and fut.status == "error" else "timed out"
                if fut not in done:
                    fut.cancel()
                _note_error(results, u["unit_id"], f"storage {directory}", err)
        if progress:
            print(f"aicost fleet {fleet_id}: storage measured on {len(reps)} hosts")
    if network:
        _tcp_ring(client, fleet_id, units, reps, results,
                  network if isinstance(network, dict) else {})
        if progress:
            print(f"aicost fleet {fleet_id}: TCP measured between workers")


def _tcp_ring(client, fleet_id: str, units: list, reps: list, results: dict, opts: dict) -> None:
    """Each representative worker sends to the next one (a ring), in phases of transfers that
    share no worker; the receiver's count is the result."""
    from distributed import wait
    from distributed.comm import get_address_host

    streams = int(opts.get("streams", 4))
    omit_s, duration_s = float(opts.get("omit_s", 0.5)), float(opts.get("duration_s", 2.0))
    nodes = list(reps)
    if len(nodes) == 1:  # one host: two of its workers, if it has two
        others = sorted({(str(u["worker"]), u["address"]) for u in units
                         if u["address"] != nodes[0]["address"]
                         and results.get(u["unit_id"], {}).get("status") == "ok"})
        if others:
            nodes.append(next(u for u in units if u["address"] == others[0][1]))
    edges = ([(nodes[0], nodes[0])] if len(nodes) == 1 else
             [(nodes[i], nodes[(i + 1) % len(nodes)]) for i in range(len(nodes))]
             if len(nodes) > 2 else [(nodes[0], nodes[1]), (nodes[1], nodes[0])])
    phases: list[list] = []
    for e in edges:  # greedy: a transfer joins the first phase where neither worker is busy
        ends = {e[0]["address"], e[1]["address"]}
        for ph in phases:
            if not any(ends & {x[0]["address"], x[1]["address"]} for x in ph):
                ph.append(e)
                break
        else:
            phases.append([e])
    limit = omit_s + duration_s + 60.0
    for n_ph, ph in enumerate(phases):
        toks = {id(e): f"aicost-tcp-{fleet_id}-{n_ph}-{i}" for i, e in enumerate(ph)}
        hosts = {id(e): get_address_host(e[1]["address"]) for e in ph}
        listen = {id(e): client.submit(tcp_listen, toks[id(e)], hosts[id(e)], streams, omit_s,
                                       duration_s, workers=[e[1]["address"]],
                                       allow_other_workers=False, pure=False) for e in ph}
        wait(list(listen.values()), timeout=limit)
        send = {}
        for e in ph:
            f = listen[id(e)]
            if f.status == "finished":
                send[id(e)] = client.submit(tcp_send, hosts[id(e)], f.result(), streams, omit_s,
                                            duration_s, workers=[e[0]["address"]],
                                            allow_other_workers=False, pure=False)
            else:
                err = f.exception() if f.status == "error" else "timed out starting the receiver"
                _note_error(results, e[0]["unit_id"], "tcp", err)
        wait(list(send.values()), timeout=limit)
        for e in ph:
            if id(e) not in send:
                continue
            s_ok = send[id(e)].status == "finished"
            c = client.submit(tcp_collect, toks[id(e)], not s_ok, workers=[e[1]["address"]],
                              allow_other_workers=False, pure=False)
            wait([c], timeout=limit)
            src, dst = e
            if s_ok and c.status == "finished":
                res = c.result()
                rec = {"kind": "network", "name": "tcp", "dtype": None, "shape": "ring",
                       "value": res["bits_per_s"], "unit": "bit/s", "median_s": None,
                       "min_s": None}
                results[src["unit_id"]].setdefault("extra_records", []).append(rec)
                results[src["unit_id"]].setdefault("context_extra", {})["tcp_to"] = {
                    "worker": dst["worker"], "host": dst["host"], "address": hosts[id(e)],
                    "sent_bits_per_s": send[id(e)].result(), "streams": streams,
                    "omit_s": omit_s, "duration_s": duration_s}
            else:
                bad = send[id(e)] if not s_ok else c
                err = bad.exception() if bad.status == "error" else f"tcp transfer {bad.status}"
                _note_error(results, src["unit_id"], f"tcp to {dst['worker']}", err)


def _assemble(fleet_id: str, suite: str, units: list, results: dict, link) -> FleetRun:
    import pandas as pd

    unit_rows, frames, contexts = [], [], {}
    for u in units:
        res = results.get(u["unit_id"], {"status": "failed", "reason": "no result"})
        ctx = res.get("context") or {}
        inv = (res.get("inventory") or {}).get("before") or u.get("nvml") or {}
        ident = {
            "fleet_id": fleet_id, "unit_id": u["unit_id"], "host": u["host"],
            "worker": u["worker"], "gpu_index": u["gpu_index"],
            "gpu_uuid": inv.get("gpu_uuid"), "gpu_serial": inv.get("gpu_serial"),
            "driver_version": inv.get("driver_version") or ctx.get("driver_version"),
            "sku": ctx.get("device") or inv.get("gpu_name"), "backend": ctx.get("backend"),
            "sm_clock_mhz": inv.get("sm_clock_mhz"), "mem_clock_mhz": inv.get("mem_clock_mhz"),
            "max_sm_clock_mhz": inv.get("max_sm_clock_mhz"),
            "throttle_reasons": (None if inv.get("throttle_reasons") is None
                                 else ",".join(inv["throttle_reasons"])),
            "simulated": False,
        }
        unit_rows.append({**ident, "status": res["status"], "reason": res.get("reason"),
                          "errors": res.get("errors") or [], "wall_s": res.get("wall_s"),
                          "n_records": len(res.get("records") or [])})
        contexts[u["unit_id"]] = {**ctx, "nvml_inventory": res.get("inventory"),
                                  **(res.get("context_extra") or {})}
        recs = list(res.get("records") or []) + list(res.get("extra_records") or [])
        if res["status"] == "ok" and recs:
            frames.append(records_from_units([ident], [recs]))
    units_df = pd.DataFrame(unit_rows)
    records = (pd.concat(frames, ignore_index=True) if frames
               else pd.DataFrame(columns=RECORD_COLUMNS))
    return FleetRun(fleet_id=fleet_id, suite=suite, records=records, units=units_df,
                    dashboard_link=link, contexts=contexts)


def records_from_units(identities: list[dict], record_lists: list[list[dict]]):
    """Flat fleet records from units' identities and their ``aicost.bench`` result rows.

    ``metric`` names a measurement (``"gemm fp32 384x384x384"``); a measurement repeated in one
    unit (the roofline's points) gets ``#2``, ``#3``... in suite order.
    """
    import pandas as pd

    frames = []
    for ident, recs in zip(identities, record_lists):
        df = pd.DataFrame(recs)
        keep = ["kind", "name", "dtype", "shape", "value", "unit", "median_s", "min_s"]
        for c in keep:
            if c not in df:
                df[c] = None
        df = df[keep].copy()
        for k, v in ident.items():
            df[k] = v
        frames.append(df)
    out = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=RECORD_COLUMNS)
    dt = out["dtype"].fillna("").astype(str)
    base = (out["name"].astype(str) + (" " + dt).where(dt != "", "") + " "
            + out["shape"].fillna("").astype(str)).str.strip()
    nth = out.assign(_b=base).groupby(["unit_id", "_b"], sort=False).cumcount()
    out["metric"] = base.where(nth == 0, base + " #" + (nth + 1).astype(str))
    for c in ("value", "median_s", "min_s"):
        out[c] = pd.to_numeric(out[c], errors="coerce")
    return out.reindex(columns=RECORD_COLUMNS)


def save(run: FleetRun, store=None) -> list[str]:
    """Write a fleet run to the results store in ONE transaction; return the run ids.

    Each unit becomes one run (``kind="compute"``, its identity in the context with the
    ``fleet_id``; failed units ``partial`` with the reason and no results) and a ``kind="fleet"``
    run summarizes the whole; either all are saved or none. :func:`bench` calls this.
    """
    import json


    if store is None:
        from ..store import Store

        store = Store()
    recs = run.records
    pos = {u: i for i, u in enumerate(run.units["unit_id"])}
    ok_units = set(run.units.loc[run.units["status"] == "ok", "unit_id"])
    keep = recs["unit_id"].isin(ok_units).to_numpy()
    recs = recs[keep]
    run_index = recs["unit_id"].map(pos).to_numpy()
    cols = [c for c in ("kind", "name", "backend", "dtype", "shape", "value", "unit",
                        "median_s", "min_s") if c in recs.columns]
    results = recs[cols].assign(
        device=recs["sku"].to_numpy())
    batch = []
    for row in run.units.to_dict(orient="records"):
        ctx = dict(run.contexts.get(row["unit_id"]) or {})
        ctx.update({k: row.get(k) for k in ("fleet_id", "unit_id", "worker", "gpu_index",
                                            "gpu_uuid", "gpu_serial", "driver_version",
                                            "sm_clock_mhz", "mem_clock_mhz", "max_sm_clock_mhz",
                                            "throttle_reasons", "simulated")})
        ctx["host"] = row["host"]
        ctx["suite"] = run.suite
        ctx.setdefault("device", row.get("sku"))
        ctx.setdefault("backend", row.get("backend"))
        ok = row["status"] == "ok"
        if not ok:
            ctx["failure"] = row["reason"]
        batch.append({"context": json.loads(json.dumps(ctx, default=str)), "kind": "compute",
                      "partial": not ok,
                      "note": None if ok else f"fleet unit failed: {row['reason']}"})
    summary = {"fleet_id": run.fleet_id, "suite": run.suite, "n_units": len(run.units),
               "failed": json.loads(run.failures.to_json(orient="records")),
               "dashboard_link": run.dashboard_link, "device": "fleet", "backend": "dask"}
    batch.append({"context": summary, "kind": "fleet",
                  "partial": bool(len(run.failures)), "note": f"fleet {run.fleet_id}"})
    return store.save_runs(batch, results=results, run_index=run_index)


def run(*, local: int | None = None, scheduler: str | None = None, suite: str = "quick",
        workers=None, store=None, timeout_s: float = 1800.0, progress: bool = True,
        storage=None, network: bool | dict = False) -> FleetRun:
    """Start-and-bench in one call (what ``aicost fleet bench`` runs).

    Parameters
    ----------
    local : int, optional
        Start a local cluster of this many CPU worker processes (:func:`local_cluster`: one
        worker per GPU with dask-cuda where GPUs are present) and close it afterwards.
    scheduler : str, optional
        Or use the running cluster at this address (``tcp://host:8786``).
    suite, workers, store, timeout_s, progress, storage, network
        As :func:`bench`.
    """
    if (local is None) == (scheduler is None):
        raise ValueError("give exactly one of local (worker count) or scheduler (address)")
    if scheduler is not None:
        return bench(scheduler, suite, workers=workers, store=store, timeout_s=timeout_s,
                     progress=progress, storage=storage, network=network)
    if int(local) < 1:
        raise ValueError(f"local must be >= 1 worker, got {local!r}")
    from distributed import Client

    with local_cluster(int(local)) as cluster, Client(cluster) as client:
        return bench(client, suite, workers=workers, store=store, timeout_s=timeout_s,
                     progress=progress, storage=storage, network=network)
