"""Young/Daly checkpoint intervals, expected wall time (checked by simulation), failure defaults."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aicost.model import (
    DEFAULT_FAILURES_PER_GPU_HOUR,
    DEFAULT_JOB_FAILURES_PER_HOUR,
    Cluster,
    TrainingJob,
    estimate_training,
    expected_wall_time,
    optimal_checkpoint_interval,
)
from aicost.model._reliability import reliability_arrays

HW = dict(accelerator="H100-SXM", peak_flops_per_s=989e12, memory_bytes=80 * 2**30, mem_bw_bytes_per_s=3.35e12,
          scale_up_bw_bytes_per_s=450e9, scale_out_bw_bytes_per_s=50e9, price_usd_per_gpu_hour=4.0,
          efficiency=0.5)


def test_llama3_failure_rate():
    # 78% of Meta's 419 interruptions were hardware (scale with the GPUs), the rest come with the job
    assert DEFAULT_FAILURES_PER_GPU_HOUR == pytest.approx(0.78 * 419 / (54 * 24 * 16384))
    assert DEFAULT_JOB_FAILURES_PER_HOUR == pytest.approx(0.22 * 419 / (54 * 24))
    mtbf_h = 1 / (DEFAULT_FAILURES_PER_GPU_HOUR * 16384 + DEFAULT_JOB_FAILURES_PER_HOUR)
    assert mtbf_h == pytest.approx(54 * 24 / 419)  # ~3.1 h between interruptions at 16k GPUs
    # a small job is not 2048x as reliable as a 16k-GPU one: the job term caps its MTBF (~14 h)
    small_job_mtbf_h = 1 / (DEFAULT_FAILURES_PER_GPU_HOUR * 8 + DEFAULT_JOB_FAILURES_PER_HOUR)
    assert 10 < small_job_mtbf_h < 15


def test_fleet_class_table_holds_the_same_defaults():
    from aicost.model import failure_rates

    h = failure_rates("hyperscale-h100")
    assert h.failures_per_gpu_hour == pytest.approx(DEFAULT_FAILURES_PER_GPU_HOUR, rel=1e-3)
    assert h.job_failures_per_hour == pytest.approx(DEFAULT_JOB_FAILURES_PER_HOUR, rel=1e-3)


def test_young_and_daly():
    d, m = 60.0, 3600.0
    assert optimal_checkpoint_interval(d, m, method="young") == pytest.approx(math.sqrt(2 * d * m))
    x = d / (2 * m)
    daly = math.sqrt(2 * d * m) * (1 + math.sqrt(x) / 3 + x / 9) - d
    assert optimal_checkpoint_interval(d, m) == pytest.approx(daly)
    assert optimal_checkpoint_interval(8000.0, 3600.0) == pytest.approx(3600.0)  # delta >= 2M -> M
    assert optimal_checkpoint_interval(60.0, math.inf) == math.inf
    out = optimal_checkpoint_interval(np.array([10.0, 60.0]), 3600.0)
    assert out.shape == (2,) and out[0] < out[1]
    with pytest.raises(ValueError, match="mtbf_s"):
        optimal_checkpoint_interval(60, 0)
    with pytest.raises(ValueError, match="checkpoint_s"):
        optimal_checkpoint_interval(-1, 3600)
    with pytest.raises(ValueError, match="method"):
        optimal_checkpoint_interval(60, 3600, method="best")


def test_expected_wall_time_matches_simulation():
    # Exponential failures strike anywhere (work, checkpoint, restart); a failure loses the work
    # since the last checkpoint. Daly's closed form must agree with a simulation.
    rng = np.random.default_rng(7)
    work, mtbf, delta, restart = 20 * 3600.0, 2 * 3600.0, 120.0, 300.0
    tau = optimal_checkpoint_interval(delta, mtbf)
    n_seg = math.ceil(work / tau)
    seg = work / n_seg
    totals = []
    for _ in range(400):
        t = 0.0
        done = 0
        need_restart = False
        while done < n_seg:
            if need_restart:
                f = rng.exponential(mtbf)
                if f < restart:
                    t += f
                    continue
                t += restart
                need_restart = False
            f = rng.exponential(mtbf)
            if f < seg + delta:
                t += f
                need_restart = True
            else:
                t += seg + delta
                done += 1
        totals.append(t)
    sim = float(np.mean(totals))
    model = expected_wall_time(work, mtbf, delta, restart, interval_s=seg)
    assert model == pytest.approx(sim, rel=0.03)
    assert expected_wall_time(work, math.inf, delta, restart) == work


def test_reliability_arrays_shapes_and_limits():
    r = reliability_arrays(np.array([3600.0, 3600.0]), np.array([8, 16384]), np.array([1, 2048]), 60.0, 600.0)
    assert r["goodput"][0] > r["goodput"][1]
    assert np.all(r["expected_wall_s"] >= 3600.0)
    r0 = reliability_arrays(3600.0, 8, 1, 60.0, 600.0, failures_per_gpu_hour=0.0, job_failures_per_hour=0.0)
    assert float(r0["goodput"]) == 1.0 and float(r0["expected_interruptions"]) == 0.0


def test_failures_raise_expected_cost_and_spot_adds_preemptions():
    job = TrainingJob("llama-3.1-8b", 2e11, global_batch=512, tp=1, pp=1, checkpoint_s=60.0)
    e = estimate_training(job, Cluster(gpus=512, **HW))
    assert e.expected_wall_s > e.wall_s
    assert e.expected_cost_usd > e.cost_usd
    assert e.mtbf_s == pytest.approx(3600 / (DEFAULT_FAILURES_PER_GPU_HOUR * 512 + DEFAULT_JOB_FAILURES_PER_HOUR))
    assert e.checkpoint_interval_s == pytest.approx(optimal_checkpoint_interval(60.0, e.mtbf_s))
    spot = estimate_training(job, Cluster(gpus=512, pricing="spot", preemptions_per_node_hour=0.01, **HW))
    assert spot.mtbf_s < e.mtbf_s and spot.goodput < e.goodput
    assert spot.restart_s > e.restart_s  # spot waits for replacement capacity
    none = estimate_training(TrainingJob("llama-3.1-8b", 2e11, global_batch=512, checkpoint_s=60.0,
                                         failures_per_gpu_hour=0.0, job_failures_per_hour=0.0),
                              Cluster(gpus=512, **HW))
    assert none.goodput == 1.0 and none.expected_wall_s == pytest.approx(none.wall_s)
