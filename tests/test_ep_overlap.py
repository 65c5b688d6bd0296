"""Expert-parallel all-to-all overlap: each transfer hides only under its paired sub-layer piece
(aicost.model.EP_OVERLAP_PAIRING: DeepSeek-V3 Sec. 3.2.1 Fig. 4, Megatron-Core schedule_layer_1f1b)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from aicost.model import (
    EP_OVERLAP_PAIRING,
    EP_OVERLAP_SM_SHARE,
    Cluster,
    TrainingJob,
    ep_overlap_exposed,
    ep_overlap_unpaired_share,
    estimate_training,
    get_model,
)

F = EP_OVERLAP_SM_SHARE
HW = dict(accelerator="H100-SXM", peak_flops_per_s=989e12, memory_bytes=80 * 2**30, mem_bw_bytes_per_s=3.35e12,
          scale_up_bw_bytes_per_s=450e9, price_usd_per_gpu_hour=4.0, efficiency=0.5)
JOB = dict(global_batch=64, micro_batch=1, tp=1, pp=1, seq_len=4096, zero_stage=1, ep=8)

# Mixtral 8x7B at 4096 tokens, selective recompute, executed FLOPs per token of one layer (by hand):
# matmul weights 394,305,536 - 8,192 norm = 394,297,344; attention core 4 x 4096 x 4096 = 67,108,864 a pass
LAYER_HW = 6 * 394_297_344 + 4 * 67_108_864  # 2,634,219,520 (3 GEMM passes, 4 core passes)
ATTN = 2 * 41_943_040 * 3 + 4 * 67_108_864  # projections x 3 passes + core x 4 = 520,093,696
MLP = 2 * (2 * 176_160_768 + 4096 * 8) * 3  # 2 routed experts + the router, x 3 passes = 2,114,125,824
HEAD = 6 * 32_000 * 4096


def _pair(gpus, gpn, scale_out):
    c = Cluster(gpus=gpus, gpus_per_node=gpn, scale_out_bw_bytes_per_s=scale_out, **HW)
    exposed = estimate_training(TrainingJob("mixtral-8x7b", 1e9, **JOB), c)
    hidden = estimate_training(TrainingJob("mixtral-8x7b", 1e9, overlap_ep_comm=True, **JOB), c)
    return exposed, hidden


def _by_hand(exposed):
    """The pairing from the non-overlapped estimate: 32 MoE layers, 4 transfers each."""
    m = exposed.n_micro_batches
    c = exposed.ep_comm_s / (m * 32 * 4)  # one transfer [s]
    t_layer = exposed.compute_s / m * (32 * LAYER_HW / (32 * LAYER_HW + HEAD)) / 32
    attn, mlp = ATTN / LAYER_HW * t_layer, MLP / LAYER_HW * t_layer
    pieces = {"ATTN-fwd": attn / 3, "MLP-bwd": 2 * mlp / 3, "MLP-fwd": mlp / 3, "ATTN-bwd": 2 * attn / 3}
    paired = m * 32 * sum(max(c - t, F * c) for t in pieces.values())
    # no pipelining (combined_1f1b_schedule_for_no_pipelining): the first forward and the last
    # backward of the m micro-batches run alone, their transfers exposed whole
    u = 1.0 / m
    return c, pieces, (1 - u) * paired + u * exposed.ep_comm_s


def test_flop_pieces_cover_the_moe_layer():
    assert ATTN + MLP == LAYER_HW  # Mixtral: every layer is MoE, so the two pieces are the whole layer


def test_every_transfer_under_its_piece_leaves_only_the_sm_share():
    exposed, hidden = _pair(8, 8, 50e9)  # all eight ranks on NVLink: short transfers
    c, pieces, hand = _by_hand(exposed)
    assert c < min(pieces.values()) * (1 - F)
    u = 1.0 / exposed.n_micro_batches  # 8 micro-batches: one forward and one backward unpaired
    assert hidden.ep_comm_s == pytest.approx(((1 - u) * F + u) * exposed.ep_comm_s, rel=1e-12)
    assert hidden.ep_comm_s == pytest.approx(hand, rel=1e-12)


def test_a_transfer_longer_than_its_piece_exposes_the_excess_though_the_compute_would_hide_it():
    exposed, hidden = _pair(8, 2, 25e9)  # two GPUs a node, 25 GB/s per GPU: 6 of 8 ranks over the NIC
    c, pieces, hand = _by_hand(exposed)
    # COMBINE-backward (1.9 ms here) outlasts the forward attention piece (1.4 ms); the others fit
    assert c > pieces["ATTN-fwd"] / (1 - F)
    assert all(c < t / (1 - F) for k, t in pieces.items() if k != "ATTN-fwd")
    assert exposed.ep_comm_s < exposed.compute_s  # the old whole-compute rule would hide all but F of it
    assert hidden.ep_comm_s == pytest.approx(hand, rel=1e-12)
    excess = exposed.n_micro_batches * 32 * (c - pieces["ATTN-fwd"] - F * c)
    u = 1.0 / exposed.n_micro_batches
    assert hidden.ep_comm_s == pytest.approx((1 - u) * (F * exposed.ep_comm_s + excess) + u * exposed.ep_comm_s,
                                             rel=1e-12)
    assert excess > 0


def test_exposed_pair_rule():
    np.testing.assert_allclose(ep_overlap_exposed([1.0, 1.0, 3.0], [2.0, 1.0 / (1 - F), 1.0]),
                               [F, F, 2.0])


def test_dense_models_and_no_ep_are_unchanged():
    c = Cluster(gpus=8, gpus_per_node=8, scale_out_bw_bytes_per_s=50e9, **HW)
    kw = dict(global_batch=64, micro_batch=1, tp=2, pp=1, seq_len=4096)
    a = estimate_training(TrainingJob("llama-3.1-8b", 1e9, **kw), c)
    b = estimate_training(TrainingJob("llama-3.1-8b", 1e9, overlap_ep_comm=True, **kw), c)
    assert a.step_s == b.step_s and a.ep_comm_s == b.ep_comm_s == 0.0


def test_kernel_time_pieces_and_sources():
    from aicost.hardware import resolve_hardware, shape_aware_moe_sublayer_shares

    hw = resolve_hardware(Cluster(accelerator="H100-SXM", gpus=8), "bf16", store=False)
    mix = shape_aware_moe_sublayer_shares(hw, get_model("mixtral-8x7b"), dtype="bf16", seq_len=4096, ep=8)
    assert mix.shape == (2,) and mix.sum() == pytest.approx(1.0, rel=1e-9)  # all layers MoE: the whole layer
    assert 0.1 < mix[0] < 0.5  # attention is the smaller piece at 4k tokens
    dense = shape_aware_moe_sublayer_shares(hw, get_model("llama-3.1-8b"), dtype="bf16", seq_len=4096,
                                            tp=np.array([1, 2]))
    assert dense.shape == (2, 2) and np.all(dense[:, 1] == 0.0)
    job = TrainingJob("mixtral-8x7b", 1e9, overlap_ep_comm=True, **JOB)
    est = estimate_training(job, Cluster(accelerator="H100-SXM", gpus=8, scale_up="nvlink4", scale_out="ib-ndr",
                                         price_usd_per_gpu_hour=1.0), store=False)
    assert EP_OVERLAP_PAIRING in est.sources["overlap"] and "layer kernel-time model" in est.sources["overlap"]
    assert "COMBINE-backward under ATTN-forward" in EP_OVERLAP_PAIRING and "2412.19437" in EP_OVERLAP_PAIRING


@pytest.mark.parametrize("efficiency", [None, 0.5])  # kernel-time pieces (the tables), FLOP shares (by hand)
def test_planner_with_ep_overlap_agrees_with_estimate_training(efficiency):
    from aicost.plan import plan_training

    # L40S: PCIe between the GPUs (31.5 GB/s), so some transfers outlast their pieces
    p = plan_training("mixtral-8x7b", 2e11, deadline="300d", providers=["aws"], accelerators=["L40S"], max_gpus=64,
                      ep=(2, 4, 8), pricing="on_demand", overlap_ep_comm=True, efficiency=efficiency)
    assert any(EP_OVERLAP_PAIRING in a for a in p.assumptions)
    moe = p.feasible[p.feasible["ep"] > 1]
    r = moe.loc[(moe["ep_comm_s"] / moe["compute_s"]).idxmax()]
    gpn = int(r["gpus_per_node"])
    job = TrainingJob(model="mixtral-8x7b", tokens=2e11, global_batch=int(r["global_batch"]),
                      micro_batch=int(r["micro_batch"]), tp=int(r["tp"]), pp=int(r["pp"]), ep=int(r["ep"]),
                      cp=int(r["cp"]), virtual_stages=int(r["virtual_stages"]), recompute=r["recompute"],
                      zero_stage=int(r["zero_stage"]), seq_len=p.search.context.seq_len,
                      checkpoint_s=float(r["checkpoint_s"]), restart_s=float(r["restart_s"]), overlap_ep_comm=True)
    cl = Cluster(accelerator=r["accelerator"], gpus=int(r["gpus"]), gpus_per_node=gpn,
                 scale_up_domain_gpus=int(r["scale_up_domain_gpus"]),
                 price_usd_per_gpu_hour=float(r["price_usd_per_hour"]) / gpn, efficiency=efficiency,
                 peak_flops_per_s=float(r["peak_flops_per_s"]), memory_bytes=float(r["memory_bytes"]),
                 mem_bw_bytes_per_s=float(r["mem_bw_bytes_per_s"]),
                 scale_up_bw_bytes_per_s=float(r["scale_up_bw_bytes_per_s"]),
                 scale_up_latency_s=float(r["scale_up_latency_s"]),
                 scale_out_bw_bytes_per_s=float(r["scale_out_bw_bytes_per_s"]) / gpn,
                 scale_out_latency_s=float(r["scale_out_latency_s"]))
    est = estimate_training(job, cl)  # the same efficiency and pieces as the planner's
    plain = estimate_training(dataclasses.replace(job, overlap_ep_comm=False), cl)
    assert est.ep_comm_s > 1.01 * F * plain.ep_comm_s  # beyond the SM share: the pieces matter here
    assert est.compute_efficiency == pytest.approx(r["efficiency"], rel=1e-12)
    assert est.ep_comm_s == pytest.approx(r["ep_comm_s"], rel=1e-9) and est.ep_comm_s > 0
    assert est.step_s == pytest.approx(r["step_s"], rel=1e-9)


def test_unpaired_share_follows_megatrons_combined_1f1b_warmup():
    # interleaved: 2(p-1) + (v-1)p + 1 warm-up chunks on the first stage out of m v
    assert ep_overlap_unpaired_share(8, 4, 128) == pytest.approx(39 / 512)  # DeepSeek-V3, NeMo 25.09 H100
    assert ep_overlap_unpaired_share(8, 4, 512) == pytest.approx(39 / 2048)
    # without interleaving: the 1F1B warm-up p-1 plus the overlap's one
    assert ep_overlap_unpaired_share(4, 1, 80) == pytest.approx(4 / 80)
    # no pipelining: one forward and one backward of m alone
    assert ep_overlap_unpaired_share(1, 1, 8) == pytest.approx(1 / 8)
    # fewer chunks than the warm-up: nothing pairs
    np.testing.assert_allclose(ep_overlap_unpaired_share(np.array([8, 8]), np.array([4, 1]), np.array([8, 4])),
                               [1.0, 1.0])


def test_more_micro_batches_hide_more_of_the_all_to_all():
    c = Cluster(gpus=8, gpus_per_node=8, scale_out_bw_bytes_per_s=50e9, **HW)
    shares = []
    for gb in (16, 64, 256):
        job = dict(JOB, global_batch=gb)
        exposed = estimate_training(TrainingJob("mixtral-8x7b", 1e9, **job), c)
        hidden = estimate_training(TrainingJob("mixtral-8x7b", 1e9, overlap_ep_comm=True, **job), c)
        shares.append(hidden.ep_comm_s / exposed.ep_comm_s)
        u = 1.0 / exposed.n_micro_batches
        assert shares[-1] == pytest.approx((1 - u) * F + u, rel=1e-12)
    assert shares[0] > shares[1] > shares[2] > F


def test_the_overlap_warms_up_one_more_chunk_of_activations():
    base = dict(JOB, pp=4, tp=1, global_batch=64)
    c = Cluster(gpus=32, gpus_per_node=8, scale_out_bw_bytes_per_s=50e9, **HW)
    for v in (1, 2):
        plain = estimate_training(TrainingJob("mixtral-8x7b", 1e9, virtual_stages=v, **base), c)
        over = estimate_training(TrainingJob("mixtral-8x7b", 1e9, virtual_stages=v, overlap_ep_comm=True, **base), c)
        # Mixtral: 32 layers, 8 a stage, 8/v a chunk; in flight on the first stage: p (1F1B) or
        # p v + p - 1 (interleaved) chunks, one more with the overlap
        chunks = 4 if v == 1 else 4 * v + 3
        per_chunk = plain.memory.activations / chunks  # (less the small embedding-dropout term)
        assert over.memory.activations > plain.memory.activations
        assert over.memory.activations - plain.memory.activations == pytest.approx(per_chunk, rel=0.02)
        assert over.memory.weights == plain.memory.weights
