"""Expert-parallel all-to-all: the peers inside the scale-up domain are reached over it."""

import numpy as np
import pytest

from aicost.model import get_model, training_arrays


def _ep_comm(ep, domain=8, tp=1, su=450e9, so=50e9):
    spec = get_model("deepseek-v3")
    r = training_arrays(spec, tokens=1e9, global_batch=1024, micro_batch=1, seq_len=4096, tp=tp, pp=1, dp=64,
                        expert_parallel=ep, recompute_code=1, peak_flops_per_s=1e15, efficiency=0.5,
                        gpus_per_node=8, scale_up_domain_gpus=domain, scale_up_bw_bytes_per_s=su,
                        scale_up_latency_s=0.0, scale_out_bw_bytes_per_s=so, scale_out_latency_s=0.0)
    return float(r["ep_comm_s"]) / float(r["n_micro"])


def test_all_to_all_splits_between_the_fabrics():
    spec = get_model("deepseek-v3")
    moe_layers = spec.n_moe_layers
    buf = 4096 * spec.experts_per_token * spec.d_model * 2.0  # send buffer of one micro-batch [B]
    # EP 64 over 8-GPU domains: 7/64 of the buffer over the scale-up fabric, 56/64 over the scale-out one
    expect = 4 * moe_layers * (buf * 7 / 64 / 450e9 + buf * 56 / 64 / 50e9)
    assert _ep_comm(64) == pytest.approx(expect, rel=1e-9)
    # inside one domain it is the plain scale-up all-to-all
    assert _ep_comm(8) == pytest.approx(4 * moe_layers * buf * 7 / 8 / 450e9, rel=1e-9)
    # a 72-GPU domain (NVL72) keeps EP 64 on the scale-up fabric
    assert _ep_comm(64, domain=72) == pytest.approx(4 * moe_layers * buf * 63 / 64 / 450e9, rel=1e-9)
    assert np.isfinite(_ep_comm(64, tp=2))
