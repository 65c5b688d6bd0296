"""MoE dispatch physics (issue 12): deduplicated expert-parallel dispatch, node-limited routing and the
memory-bound token shuffling of MoE layers."""

import numpy as np
import pytest

from aicost import calibrate_curves as cc
from aicost.model import (
    EP_DISPATCHERS,
    Cluster,
    ModelSpec,
    TrainingJob,
    ep_dispatch_copies,
    estimate_training,
    get_model,
)

DSV3 = get_model("deepseek-v3")
QWEN3 = get_model("qwen3-235b-a22b")


def _monte_carlo(spec, ep, g, n=6000, seed=0):
    """Brute force over routing: M of G groups uniformly, then k distinct experts uniformly among
    their experts; experts placed contiguously on ranks, ranks contiguously on domains of g."""
    rng = np.random.default_rng(seed)
    e, k = spec.n_experts, spec.experts_per_token
    groups = spec.n_expert_groups or 1
    m = spec.expert_groups_per_token or 1
    q = e // groups
    per_rank = e // ep
    me_rank = 0
    remote_domains = np.empty(n)
    other_ranks = np.empty(n)
    for i in range(n):
        chosen = rng.choice(groups, size=m, replace=False)
        pool = (chosen[:, None] * q + np.arange(q)[None, :]).ravel()
        experts = rng.choice(pool, size=k, replace=False)
        ranks = np.unique(experts // per_rank)
        domains = np.unique(ranks // g)
        remote_domains[i] = np.count_nonzero(domains != me_rank // g)
        other_ranks[i] = np.count_nonzero(ranks != me_rank)
    return other_ranks.mean(), remote_domains.mean()


@pytest.mark.parametrize("spec, ep, g", [(DSV3, 64, 8), (DSV3, 64, 4), (DSV3, 256, 8), (QWEN3, 32, 4),
                                         (QWEN3, 64, 8)])
def test_deduplicated_copies_match_a_monte_carlo_over_routing(spec, ep, g):
    up, out = ep_dispatch_copies(spec, ep, g, "deepep")
    mc_ranks, mc_domains = _monte_carlo(spec, ep, g)
    assert float(out) == pytest.approx(mc_domains, rel=0.03, abs=0.02)
    assert float(up) == pytest.approx(mc_ranks, rel=0.03, abs=0.02)


def test_node_limited_routing_caps_the_nodes_a_token_reaches():
    # DeepSeek-V3: 8 groups, 4 per token. With one group per node the dispatch reaches at most 4
    # nodes however many nodes the expert-parallel group spans; an all-to-all sends one copy per expert.
    for ep, g in [(64, 8), (128, 16), (256, 32)]:
        _, out = ep_dispatch_copies(DSV3, ep, g, "deepep")
        assert float(out) <= DSV3.expert_groups_per_token - 0.25  # the own node may be among the 4
        _, a2a = ep_dispatch_copies(DSV3, ep, g, "alltoall")
        assert float(a2a) == pytest.approx(8 * (ep - g) / ep)
    free = DSV3.with_(n_expert_groups=None, expert_groups_per_token=None)
    assert float(ep_dispatch_copies(free, 64, 8, "deepep")[1]) > float(ep_dispatch_copies(DSV3, 64, 8, "deepep")[1])
    # one domain: nothing leaves over the scale-out fabric with either dispatcher
    for d in EP_DISPATCHERS:
        assert float(ep_dispatch_copies(QWEN3, 8, 8, d)[1]) == 0.0


def test_alltoall_copies_are_one_per_routed_expert():
    up, out = ep_dispatch_copies(QWEN3, np.array([8, 32]), np.array([8, 4]), "alltoall")
    np.testing.assert_allclose(up, [8 * 7 / 8, 8 * 3 / 32])
    np.testing.assert_allclose(out, [0.0, 8 * 28 / 32])
    with pytest.raises(ValueError, match="dispatcher"):
        ep_dispatch_copies(QWEN3, 8, 8, "nccl")


def test_group_limited_routing_fields_are_checked():
    with pytest.raises(ValueError, match="both"):
        DSV3.with_(expert_groups_per_token=None)
    with pytest.raises(ValueError, match="divide"):
        DSV3.with_(n_expert_groups=7)
    with pytest.raises(ValueError, match="exceeds"):
        QWEN3.with_(n_expert_groups=128, expert_groups_per_token=4)
    assert (DSV3.n_expert_groups, DSV3.expert_groups_per_token) == (8, 4)


def _dsv3_estimate(dispatcher):
    job = TrainingJob(DSV3, 1e12, global_batch=8192, micro_batch=1, tp=2, pp=8, ep=64, virtual_stages=4,
                      dtype="fp8", seq_len=4096, ep_dispatcher=dispatcher)
    return estimate_training(job, Cluster(accelerator="H100-SXM", gpus=1024, gpus_per_node=8, scale_up="nvlink4",
                                          scale_out="ib-ndr", price_usd_per_gpu_hour=1.0), store=False)


def test_deepep_dispatch_halves_deepseek_v3_inter_node_traffic_and_says_so():
    a2a, dedup = _dsv3_estimate("alltoall"), _dsv3_estimate("deepep")
    assert dedup.ep_comm_s < 0.75 * a2a.ep_comm_s
    assert dedup.compute_s == pytest.approx(a2a.compute_s)
    assert "per destination node" in dedup.sources["overlap"]
    assert "per routed expert" in a2a.sources["overlap"]
    with pytest.raises(ValueError, match="ep_dispatcher"):
        _dsv3_estimate("ring")


def _layer_eff(spec, **kw):
    return cc.layer_compute_efficiency(spec, micro_batch=1, seq_len=4096, tp=1, peak_flops_per_s=989e12,
                                       mem_bw_bytes_per_s=3.35e12, expert_parallel=8, **kw)


def test_moe_token_shuffling_is_memory_traffic_of_moe_layers_only(monkeypatch):
    dense = ModelSpec(name="dense", n_layers=32, d_model=4096, n_heads=32, n_kv_heads=8, d_ff=14336,
                      vocab_size=128256, seq_len=8192)
    oss = get_model("gpt-oss-120b")
    before_dense, before_moe = _layer_eff(dense), _layer_eff(oss)
    monkeypatch.setattr(cc, "MOE_PERMUTE_TENSORS_PER_PAIR", 0.0)
    assert _layer_eff(dense) == before_dense  # dense layers: unchanged
    without = _layer_eff(oss)
    assert before_moe["efficiency"] < without["efficiency"]
    assert before_moe["elementwise"] > without["elementwise"]
    # elementwise time is proportional to its bytes: the MoE term adds tokens * k * d_model * 6 tensors
    # * 2 B * (forward + backward) to the dense part's (12 d_model + 3 x active FFN width) * 2 B * 3 passes
    ratio = (before_moe["elementwise"] / before_moe["efficiency"]) / (without["elementwise"] / without["efficiency"])
    d, k = oss.d_model, oss.experts_per_token
    expected = (k * d * 6 * 2 * 2) / ((12 * d + 3 * oss.active_ffn_width) * 2 * 3)
    assert ratio - 1.0 == pytest.approx(expected, rel=1e-9)


def test_the_planner_takes_the_dispatcher_and_names_it_in_its_assumptions():
    from aicost.plan import plan_training

    kw = dict(deadline="60d", accelerators=["H100-SXM"], max_gpus=256, ep=8, seq_len=4096)
    a2a = plan_training("qwen3-235b-a22b", 2e11, **kw)
    dedup = plan_training("qwen3-235b-a22b", 2e11, ep_dispatcher="deepep", **kw)
    assert any("ep_dispatcher='alltoall'" in a for a in a2a.assumptions)
    assert any("ep_dispatcher='deepep'" in a for a in dedup.assumptions)
    # the same candidates (EP inside an 8-GPU node): the deduplicated dispatch sends fewer copies
    keys = ["instance_type", "pricing", "gpus", "tp", "pp", "ep", "cp", "virtual_stages", "micro_batch", "zero_stage",
            "recompute", "storage_tier"]
    both = a2a.candidates.merge(dedup.candidates, on=keys, suffixes=("_a2a", "_dedup"))
    assert len(both) and (both["ep_comm_s_dedup"] < both["ep_comm_s_a2a"]).all()
    assert (both["compute_s_dedup"] == both["compute_s_a2a"]).all()
    with pytest.raises(ValueError, match="ep_dispatcher"):
        plan_training("qwen3-235b-a22b", 2e11, ep_dispatcher="ring", **kw)


def test_mla_attention_counts_its_wider_query_key_heads():
    # DeepSeek-V3: QK^T over 128 + 64 (RoPE) dims, (softmax)V over 128: mean width 128 x 160 per token
    assert DSV3.attn_flops_width == 128 * (128 + 64 + 128) / 2
    llama = get_model("llama-3.1-70b")
    assert llama.attn_flops_width == llama.d_attn
    from aicost.model import training_flops

    no_rope = DSV3.with_(qk_rope_head_dim=1)  # (MLA needs a RoPE size; 1 is the smallest)
    extra = training_flops(DSV3, 1.0, seq_len=4096) - training_flops(no_rope, 1.0, seq_len=4096)
    # 12 L s x (the width's RoPE share, n_heads * 63 / 2) plus the larger query/key projections
    assert extra > 12 * DSV3.n_layers * 4096 * 128 * 63 / 2


def test_overlapped_all_to_all_keeps_the_share_its_kernels_take_from_compute():
    from aicost.model import EP_OVERLAP_SM_SHARE

    def est(overlap):
        job = TrainingJob(DSV3, 1e12, global_batch=8192, micro_batch=1, tp=2, pp=8, ep=64, virtual_stages=4,
                          dtype="fp8", seq_len=4096, ep_dispatcher="deepep", overlap_ep_comm=overlap)
        return estimate_training(job, Cluster(accelerator="H100-SXM", gpus=1024, gpus_per_node=8, scale_up="nvlink4",
                                              scale_out="ib-ndr", price_usd_per_gpu_hour=1.0), store=False)

    exposed, hidden = est(False), est(True)
    # here the all-to-all (14 s a step) about equals the compute (13 s): the whole compute would hide all
    # but the SMs' share, but each transfer hides only under its paired piece (EP_OVERLAP_PAIRING), and
    # the ones paired with the short forward pieces outlast them
    assert EP_OVERLAP_SM_SHARE * exposed.ep_comm_s < hidden.ep_comm_s < exposed.ep_comm_s
    assert hidden.ep_comm_s > max(exposed.ep_comm_s - exposed.compute_s, EP_OVERLAP_SM_SHARE * exposed.ep_comm_s)
    assert "15% of comm" in hidden.sources["overlap"]


def test_planner_candidate_with_deepep_agrees_with_estimate_training():
    from aicost.plan import plan_training

    p = plan_training("mixtral-8x7b", 2e11, deadline="30d", providers=["aws"], max_gpus=64, ep=(2, 4, 8),
                      pricing="on_demand", ep_dispatcher="deepep")
    r = p.feasible[p.feasible["ep"] > 1].iloc[0]
    gpn = int(r["gpus_per_node"])
    job = TrainingJob(model="mixtral-8x7b", tokens=2e11, global_batch=int(r["global_batch"]),
                      micro_batch=int(r["micro_batch"]), tp=int(r["tp"]), pp=int(r["pp"]), ep=int(r["ep"]),
                      cp=int(r["cp"]), virtual_stages=int(r["virtual_stages"]), recompute=r["recompute"],
                      zero_stage=int(r["zero_stage"]), seq_len=p.search.context.seq_len,
                      checkpoint_s=float(r["checkpoint_s"]), restart_s=float(r["restart_s"]), ep_dispatcher="deepep")
    cl = Cluster(accelerator=r["accelerator"], gpus=int(r["gpus"]), gpus_per_node=gpn,
                 scale_up_domain_gpus=int(r["scale_up_domain_gpus"]),
                 price_usd_per_gpu_hour=float(r["price_usd_per_hour"]) / gpn, efficiency=float(r["efficiency"]),
                 peak_flops_per_s=float(r["peak_flops_per_s"]), memory_bytes=float(r["memory_bytes"]),
                 mem_bw_bytes_per_s=float(r["mem_bw_bytes_per_s"]),
                 scale_up_bw_bytes_per_s=float(r["scale_up_bw_bytes_per_s"]),
                 scale_up_latency_s=float(r["scale_up_latency_s"]),
                 scale_out_bw_bytes_per_s=float(r["scale_out_bw_bytes_per_s"]) / gpn,
                 scale_out_latency_s=float(r["scale_out_latency_s"]))
    est = estimate_training(job, cl)
    assert est.ep_comm_s == pytest.approx(r["ep_comm_s"], rel=1e-9)
    assert est.step_s == pytest.approx(r["step_s"], rel=1e-9)
