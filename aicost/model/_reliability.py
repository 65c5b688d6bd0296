"""Failures, checkpoints and goodput: what interruptions cost a training run.

* Failure rate: Meta report 419 unexpected interruptions in a 54-day snapshot of Llama 3 405B
  pre-training on 16,384 H100 GPUs ("The Llama 3 Herd of Models", 2024, Sec. 3.3.4, Table 5),
  about 78% of them hardware. A synchronous job on ``n`` GPUs stops when any of them fails and
  when its own software does, so its interruption rate is
  ``rate_gpu * n + rate_job``: the hardware part ``0.78 * 419 / (54 * 24 h * 16,384)`` =
  1.54e-5 per GPU-hour scales with ``n``, the software part ``0.22 * 419 / (54 * 24 h)`` = 0.071
  per hour comes with the job (3.1 h between interruptions at 16,384 GPUs as Meta saw, 11 h at
  1,024, 14 h at 8 instead of the 6,300 h a pure ``1/n`` law would give). Other fleets:
  ``aicost.model.failure_rates(fleet_class)`` (``data/failure_rates.csv``, with sources).
* Spot capacity: a preemption of any node stops the job; the rate per node-hour is the user's
  (``DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR`` otherwise) and adds to the failure rate.
* Checkpoint interval (Young 1974; Daly 2006): Young's first-order optimum
  ``tau = sqrt(2 delta M)`` and Daly's higher-order one
  ``tau = sqrt(2 delta M) [1 + (1/3) sqrt(delta/(2M)) + (1/9) (delta/(2M))] - delta``
  for ``delta < 2M`` (``tau = M`` otherwise), with ``delta`` the checkpoint write time.
* Expected wall time (Daly 2006, eq. 20, exponential failures, failures may strike during
  work, checkpoint and restart alike): ``T = M e^{R/M} (e^{(tau+delta)/M} - 1) T_s / tau`` for
  ``T_s`` seconds of failure-free work and restart time ``R``; goodput = ``T_s / T``. To first
  order the waste per failure is half an interval of lost work plus the restart.
"""

from __future__ import annotations

import numpy as np

from .._units import HOURS_PER_MONTH

__all__ = [
    "DEFAULT_FAILURES_PER_GPU_HOUR",
    "DEFAULT_JOB_FAILURES_PER_HOUR",
    "DEFAULT_RESTART_S",
    "DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR",
    "DEFAULT_SPOT_RESTART_S",
    "LLAMA3_GPU_HOURS",
    "LLAMA3_HARDWARE_SHARE",
    "LLAMA3_INTERRUPTIONS",
    "expected_wall_time",
    "optimal_checkpoint_interval",
    "reliability_arrays",
    "reliability_factors",
    "reliability_for_work",
]

#: "The Llama 3 Herd of Models" (Meta, 2024), Sec. 3.3.4: 419 unexpected interruptions ...
LLAMA3_INTERRUPTIONS = 419
#: ... during a 54-day snapshot on 16,384 H100 GPUs
LLAMA3_GPU_HOURS = 54 * 24 * 16384
#: share of those interruptions Meta attributes to confirmed or suspected hardware (Sec. 3.3.4)
LLAMA3_HARDWARE_SHARE = 0.78
#: hardware interruptions per GPU-hour (Llama 3 405B pre-training): 1.539e-5; scales with the GPUs
DEFAULT_FAILURES_PER_GPU_HOUR = LLAMA3_HARDWARE_SHARE * LLAMA3_INTERRUPTIONS / LLAMA3_GPU_HOURS
#: software interruptions per job-hour (the other 22%: 92 in 1,296 h): 0.0711; does not scale
#: with the job's size. data/failure_rates.csv's "hyperscale-h100" row holds the same two numbers.
DEFAULT_JOB_FAILURES_PER_HOUR = (1.0 - LLAMA3_HARDWARE_SHARE) * LLAMA3_INTERRUPTIONS / (54 * 24)
#: time from a failure to training again: detect, reschedule, reload the checkpoint, warm up.
#: An assumption (10 min); the Llama 3 report states most interruptions were handled by
#: automation without giving a restart time. Set ``TrainingJob.restart_s`` from your own logs.
DEFAULT_RESTART_S = 600.0
#: spot preemptions per node-hour when the user sets none: AWS Spot Instance Advisor's highest
#: "frequency of interruption" bucket is >20% per month, common for GPU instances; 20%/730 h.
DEFAULT_SPOT_PREEMPTIONS_PER_NODE_HOUR = 0.20 / HOURS_PER_MONTH
#: restart after a spot preemption also waits for replacement capacity (assumption: 30 min)
DEFAULT_SPOT_RESTART_S = 1800.0


def optimal_checkpoint_interval(checkpoint_s, mtbf_s, method: str = "daly"):
    """Compute time between checkpoints that minimises the expected wall time [s].

    Parameters
    ----------
    checkpoint_s : float or array [s]
        Time one checkpoint blocks training (``delta``).
    mtbf_s : float or array [s]
        Mean time between interruptions of the whole job (``M``).
    method : {"daly", "young"}
        ``"daly"``: Daly (2006) higher-order estimate
        ``sqrt(2 delta M)[1 + sqrt(delta/(2M))/3 + (delta/(2M))/9] - delta`` for
        ``delta < 2M``, else ``M``. ``"young"``: Young (1974) ``sqrt(2 delta M)``.

    Returns
    -------
    float or array [s]
        ``inf`` where failures never happen (``mtbf_s = inf``).
    """
    d = np.asarray(checkpoint_s, dtype=float)
    m = np.asarray(mtbf_s, dtype=float)
    if np.any(d < 0) or np.any(np.isnan(d)):
        raise ValueError(f"checkpoint_s must be >= 0, got {checkpoint_s!r}")
    if np.any(m <= 0) or np.any(np.isnan(m)):
        raise ValueError(f"mtbf_s must be > 0, got {mtbf_s!r}")
    out = _interval(d, m, method)
    return float(out) if out.ndim == 0 else out


def _interval(d, m, method="daly"):
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        young = np.sqrt(2.0 * d * m)
        if method == "young":
            out = young
        elif method == "daly":
            x = d / (2.0 * m)
            daly = young * (1.0 + np.sqrt(x) / 3.0 + x / 9.0) - d
            out = np.where(d < 2.0 * m, daly, m)
        else:
            raise ValueError(f"method must be 'daly' or 'young', got {method!r}")
    out = np.where(np.isinf(m), np.inf, out)
    # a zero-cost checkpoint would be taken continuously; keep the interval positive
    return np.where(out > 0, out, np.where(np.isinf(m), np.inf, np.maximum(young, 1e-9)))


def expected_wall_time(work_s, mtbf_s, checkpoint_s, restart_s, interval_s=None):
    """Expected wall time of ``work_s`` seconds of work under failures [s] (Daly 2006, eq. 20).

    ``M e^{R/M} (e^{(tau+delta)/M} - 1) work / tau`` with the optimal ``tau`` unless given.
    Arrays broadcast; ``mtbf_s = inf`` gives ``work_s`` (no checkpoints needed).
    """
    w = np.asarray(work_s, dtype=float)
    m = np.asarray(mtbf_s, dtype=float)
    d = np.asarray(checkpoint_s, dtype=float)
    r = np.asarray(restart_s, dtype=float)
    tau = _interval(d, m) if interval_s is None else np.asarray(interval_s, dtype=float)
    t = _wall(w, m, tau, _wall_factor(m, d, r, tau))
    return float(t) if t.ndim == 0 else t


def _wall_factor(m, d, r, tau):
    """``M e^{R/M} (e^{(tau+delta)/M} - 1)``: the expected wall time is this times work / tau."""
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        return m * np.exp(r / m) * np.expm1((tau + d) / m)


def _wall(w, m, tau, factor):
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        t = factor * w / tau
    return np.where(np.isinf(m), w, t)


def reliability_factors(n_gpus, n_nodes, checkpoint_s, restart_s,
                        failures_per_gpu_hour=DEFAULT_FAILURES_PER_GPU_HOUR,
                        preemptions_per_node_hour=0.0, job_failures_per_hour=DEFAULT_JOB_FAILURES_PER_HOUR):
    """The parts of `reliability_arrays` that do not depend on the work: arrays broadcast.

    Returns
    -------
    dict of arrays
        ``mtbf_s`` (job) [s], ``interval_s`` (Daly) [s], ``checkpoint_s`` [s] and
        ``wall_factor`` (``M e^{R/M} (e^{(tau+delta)/M} - 1)`` [s]: the expected wall time of
        ``work`` seconds of work is ``wall_factor * work / interval_s``). `reliability_for_work`
        finishes them for a work; a planner computes them once per cluster and reuses them for
        every layout and token count.
    """
    rate_per_s = (np.asarray(failures_per_gpu_hour, float) * np.asarray(n_gpus, float)
                  + np.asarray(preemptions_per_node_hour, float) * np.asarray(n_nodes, float)
                  + np.asarray(job_failures_per_hour, float)) / 3600.0
    with np.errstate(divide="ignore"):
        mtbf = np.where(rate_per_s > 0, 1.0 / np.where(rate_per_s > 0, rate_per_s, 1.0), np.inf)
    d = np.asarray(checkpoint_s, float)
    tau = _interval(d, mtbf)
    return {"mtbf_s": mtbf, "interval_s": tau, "checkpoint_s": d,
            "wall_factor": _wall_factor(mtbf, d, np.asarray(restart_s, dtype=float), tau)}


def reliability_for_work(work_s, factors: dict) -> dict:
    """`reliability_arrays` for ``work_s`` seconds of failure-free work [s], from
    `reliability_factors` (arrays broadcast; the same numbers as `reliability_arrays`)."""
    mtbf, tau, d = factors["mtbf_s"], factors["interval_s"], factors["checkpoint_s"]
    w = np.asarray(work_s, float)
    wall = np.asarray(_wall(w, mtbf, tau, factors["wall_factor"]), dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        ckpt_overhead = np.where(np.isinf(tau), 0.0, np.floor(w / tau) * d)
        goodput = np.where(wall > 0, w / wall, 1.0)
    interruptions = np.where(np.isinf(mtbf), 0.0, wall / np.where(np.isinf(mtbf), 1.0, mtbf))
    lost = np.maximum(wall - w - ckpt_overhead, 0.0)
    return {"mtbf_s": mtbf, "interval_s": tau, "expected_wall_s": wall, "goodput": goodput,
            "expected_interruptions": interruptions, "checkpoint_overhead_s": ckpt_overhead,
            "lost_work_s": lost}


def reliability_arrays(work_s, n_gpus, n_nodes, checkpoint_s, restart_s,
                        failures_per_gpu_hour=DEFAULT_FAILURES_PER_GPU_HOUR,
                        preemptions_per_node_hour=0.0, job_failures_per_hour=DEFAULT_JOB_FAILURES_PER_HOUR):
    """Vectorized reliability: all arguments broadcast.

    The job is interrupted at ``failures_per_gpu_hour * n_gpus + preemptions_per_node_hour *
    n_nodes + job_failures_per_hour`` per hour (the last term does not scale with the job).
    ``reliability_for_work(work_s, reliability_factors(...))``.

    Returns
    -------
    dict of arrays
        ``mtbf_s`` (job), ``interval_s`` (Daly), ``expected_wall_s``, ``goodput`` (work /
        expected wall), ``expected_interruptions``, ``checkpoint_overhead_s`` (time spent
        writing checkpoints, failure-free), ``lost_work_s`` (expected re-done work + restarts).
    """
    return reliability_for_work(work_s, reliability_factors(
        n_gpus, n_nodes, checkpoint_s, restart_s, failures_per_gpu_hour, preemptions_per_node_hour,
        job_failures_per_hour))
