"""TPU pod slices as clusters: one ICI scale-up domain across 4-chip hosts, DCN between slices."""

import pytest

from aicost.catalog import load
from aicost.hardware import Cluster, resolve_hardware
from aicost.model import TrainingJob, estimate_training
from aicost.validation import validation_models


@pytest.mark.parametrize("fabric, chips", [("tpu-ici-v4", 4096), ("tpu-ici-v5e", 256), ("tpu-ici-v5p", 8960),
                                           ("tpu-ici-v6e", 256), ("tpu-ici-v7", 9216)])
def test_tpu_ici_fabric_is_a_pod_slice_domain(fabric, chips):
    cat = load()
    assert cat.fabric(fabric).scale_up_domain_gpus == chips


def test_palm_layout_is_representable_on_v4_hosts():
    """PaLM 540B (arXiv:2204.02311): 12-way model parallel inside a pod's ICI, 2 pods over DCN;
    with 4-chip hosts the model-parallel group spans hosts but stays on ICI."""
    cat = load()
    cl = Cluster(accelerator="TPU-v4", gpus=6144, gpus_per_node=4, scale_up="tpu-ici-v4", scale_out="tpu-dcn",
                 price_usd_per_gpu_hour=1.0)
    hw = resolve_hardware(cl, "bf16", catalog=cat)
    assert hw.scale_up_domain_gpus == 4096
    # the DCN share of one chip: a 200 Gbit/s host NIC over 4 chips, not over the pod
    assert hw.scale_out_bw_bytes_per_s == pytest.approx(25e9 / 4)
    job = TrainingJob(validation_models()["palm-540b"], 1e12, global_batch=2048, micro_batch=4, tp=12, pp=1,
                      dp=512, recompute="full", zero_stage=3, seq_len=2048)
    e = estimate_training(job, cl, catalog=cat)
    assert e.fits
    assert 0.3 < e.mfu < 0.6
    # tensor parallelism beyond a 4-chip host is refused without the ICI domain
    with pytest.raises(ValueError):
        estimate_training(job, Cluster(accelerator="TPU-v4", gpus=6144, gpus_per_node=4, scale_out="tpu-dcn",
                                       scale_up_bw_bytes_per_s=150e9, price_usd_per_gpu_hour=1.0), catalog=cat)
