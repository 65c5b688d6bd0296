"""Storage figures: checkpoint time across tiers, AU against GPUs, measured vs tiers."""

from __future__ import annotations

import numpy as np
import pytest

from aicost import viz
from aicost.storage import StorageResult, checkpoint_time


def _result(bps=2e9):
    return StorageResult("seqread", 2**20, 4, 2**30, 1.0, 0.1, bps, bps / 2**20, 1e-3, 1e-3,
                         2e-3, 3e-3, 4e-3, 100, 100 * 2**20, True, True, 0, "ext4", "/x", ())


def test_checkpoint_time_figure_matches_the_model():
    fig = viz.checkpoint_time_figure(["aws-ebs-gp3", "fsx-lustre"], checkpoint_bytes=[1e11, 1e12],
                                     n_writers=16)
    assert [t.name for t in fig.data] == ["aws-ebs-gp3", "fsx-lustre"]
    assert np.allclose(fig.data[0].y, checkpoint_time(np.array([1e11, 1e12]), "aws-ebs-gp3",
                                                      n_writers=16))
    assert fig.layout.yaxis.type == "log"


def test_accelerator_utilization_figure():
    fig = viz.accelerator_utilization_figure(
        ["fsx-lustre", "local-nvme"], sample_bytes=140e6, step_time_s=0.5, samples_per_step=1,
        dataset_bytes=10e12, gpus=[8, 64])
    assert len(fig.data) == 2
    for tr in fig.data:
        assert all(0 < v <= 100 for v in tr.y)
        assert tr.y[0] >= tr.y[1]  # more GPUs never raise utilization


def test_measured_vs_tiers_figure_marks_the_measurement():
    fig = viz.measured_vs_tiers_figure([_result(2e9)], ["aws-ebs-gp3"])
    labels = list(fig.data[0].y)
    assert any(lbl.startswith("this machine") for lbl in labels)
    i = next(i for i, lbl in enumerate(labels) if lbl.startswith("this machine"))
    assert fig.data[0].x[i] == pytest.approx(2.0)
