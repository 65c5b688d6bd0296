"""Training formulas against hand computation and published values; vectorized == scalar."""

from __future__ import annotations

import math

import numpy as np
import pytest

from aicost.model import (
    RECOMPUTE_CODES,
    Cluster,
    ModelSpec,
    TrainingJob,
    activation_bytes_per_layer,
    estimate_training,
    get_model,
    kv_cache_bytes,
    model_state_bytes,
    training_arrays,
    training_flops,
    training_memory,
)

GPT = ModelSpec(name="gpt-like", n_layers=24, d_model=2048, n_heads=16, d_ff=8192, vocab_size=51200,
                seq_len=2048, ffn="gelu", tied_embeddings=True, dropout=True)

# A100-80GB-like cluster given explicitly (no catalog needed)
A100 = dict(accelerator="A100-80GB", peak_flops_per_s=312e12, memory_bytes=80 * 2**30,
            mem_bw_bytes_per_s=2.039e12, scale_up_bw_bytes_per_s=300e9, scale_up_latency_s=5e-6,
            scale_out_bw_bytes_per_s=25e9, scale_out_latency_s=1e-5, price_usd_per_gpu_hour=2.0,
            checkpoint_write_bytes_per_s=100e9)


# ---- FLOPs ------------------------------------------------------------------------------
def test_flops_hand_computed():
    s = GPT
    n = s.n_matmul_params
    # 4 d^2 attention + 2 d f MLP per layer (no biases), plus the V*d output projection
    assert n == 24 * (4 * 2048**2 + 2 * 2048 * 8192) + 51200 * 2048
    tokens = 1e9
    attn = 12 * 24 * 2048 * 2048  # 12 L d_attn s per token
    assert training_flops(s, tokens) == pytest.approx(tokens * (6 * n + attn))
    sel = training_flops(s, tokens, recompute="selective")
    assert sel - training_flops(s, tokens) == pytest.approx(tokens * 4 * 24 * 2048 * 2048)
    full = training_flops(s, tokens, recompute="full")
    head = 6 * 51200 * 2048
    layers = n - 51200 * 2048
    assert full == pytest.approx(tokens * (8 * layers + head + attn * 4 / 3))


def test_gpt3_training_compute_close_to_paper():
    # Brown et al. 2020 Table D.1: 3.14e23 FLOPs for 175B params on 300B tokens (6ND, no attention)
    spec = get_model("gpt-3-175b")
    six_nd = 6 * spec.n_matmul_params * 300e9
    assert six_nd == pytest.approx(3.14e23, rel=0.01)
    # with the attention term the estimate is ~3% higher
    assert training_flops(spec, 300e9) == pytest.approx(3.14e23 * 1.03, rel=0.01)


def test_llama31_405b_compute_close_to_report():
    # Llama 3 report: 3.8e25 FLOPs for 405B on 15.6T tokens (6ND)
    spec = get_model("llama-3.1-405b")
    assert 6 * spec.n_matmul_params * 15.6e12 == pytest.approx(3.8e25, rel=0.01)


def test_moe_flops_use_active_params():
    m = get_model("mixtral-8x7b")
    dense_equiv = 6 * m.n_matmul_params
    assert m.n_matmul_params < m.n_params / 3
    assert training_flops(m, 1.0, seq_len=1) == pytest.approx(dense_equiv + 12 * 32 * 4096, rel=1e-9)


def test_flops_bad_input():
    with pytest.raises(ValueError, match="tokens"):
        training_flops(GPT, 0)
    with pytest.raises(ValueError, match="tokens"):
        training_flops(GPT, -5)
    with pytest.raises(ValueError, match="recompute"):
        training_flops(GPT, 1e9, recompute="some")


# ---- memory -----------------------------------------------------------------------------
def test_zero_paper_accounting():
    # Rajbhandari et al. 2020, Fig. 1 / Table 1: Psi = 7.5B, Nd = 64, K = 12
    w, g, o = model_state_bytes(7.5e9, 64, np.array([0, 1, 2, 3]))
    total = (w + g + o) / 1e9
    assert total[0] == pytest.approx(120.0)
    assert total[1] == pytest.approx(31.4, abs=0.05)
    assert total[2] == pytest.approx(16.6, abs=0.05)
    assert total[3] == pytest.approx(1.9, abs=0.05)


def test_training_memory_zero_stages_through_public_api():
    spec = get_model("llama-2-7b")
    psi = spec.n_params
    for stage, expect in [(0, 16 * psi), (1, 4 * psi + 12 * psi / 64), (2, 2 * psi + 14 * psi / 64),
                          (3, 16 * psi / 64)]:
        m = training_memory(spec, dp=64, zero_stage=stage)
        assert m.model_states == pytest.approx(expect, rel=1e-9)
        assert m.total == pytest.approx(m.weights + m.gradients + m.optimizer + m.activations)


@pytest.mark.parametrize("t", [1, 2, 4, 8])
def test_korthikanti_table2(t):
    s, b, h, a = 2048, 4, GPT.d_model, GPT.n_heads
    sbh = s * b * h
    none, sel, full = RECOMPUTE_CODES["none"], RECOMPUTE_CODES["selective"], RECOMPUTE_CODES["full"]
    f = lambda sp, rc: float(activation_bytes_per_layer(GPT, b, s, t, sp, rc))  # noqa: E731
    assert f(False, none) == pytest.approx(sbh * (10 + 24 / t + 5 * a * s / (h * t)))
    assert f(True, none) == pytest.approx(sbh / t * (34 + 5 * a * s / h))
    assert f(False, sel) == pytest.approx(sbh * (10 + 24 / t))
    assert f(True, sel) == pytest.approx(sbh / t * 34)
    assert f(False, full) == pytest.approx(2 * sbh)
    if t == 1:
        assert f(False, none) == pytest.approx(sbh * (34 + 5 * a * s / h))


def test_activation_memory_gqa_swiglu_is_smaller_per_width():
    # GQA shrinks the K,V terms; a SwiGLU MLP with d_ff = 3.5h stores 21h against GELU's 16h;
    # Llama trains without dropout: the "10" loses its two 1-byte masks
    llama = get_model("llama-3.1-8b")
    per = float(activation_bytes_per_layer(llama, 1, 1024, 1, False, 1))
    sbh = 1024 * 4096
    expect = sbh * (8 + (4 * 4096 + 4 * 1024) / 4096 + 6 * 14336 / 4096)
    assert per == pytest.approx(expect)


def test_pipeline_activations_and_output_layer():
    spec = GPT
    m1 = training_memory(spec, micro_batch=1, seq_len=2048, tp=1, pp=1, recompute="selective")
    per_layer = float(activation_bytes_per_layer(spec, 1, 2048, 1, False, 1))
    sbh = 2048 * 2048
    extra = sbh + 4 * sbh * (1 + spec.vocab_size / spec.d_model)
    assert m1.activations == pytest.approx(24 * per_layer + extra)
    # 1F1B: the first stage keeps pp micro-batches of its L/pp layers -> about the same total
    m4 = training_memory(spec, micro_batch=1, seq_len=2048, pp=4, recompute="selective")
    assert m4.activations == pytest.approx(24 * per_layer + 4 * sbh)
    # fewer micro-batches than stages -> fewer in flight
    m4b = training_memory(spec, micro_batch=1, seq_len=2048, pp=4, recompute="selective", n_micro_batches=2)
    assert m4b.activations == pytest.approx(6 * 2 * per_layer + 2 * sbh)


def test_memory_fits_and_reserve():
    m = training_memory("llama-2-7b", dp=8, zero_stage=3, recompute="full", seq_len=4096)
    assert m.fits(80 * 2**30)
    assert not m.fits(m.total)  # the runtime reserve must stay free
    assert m.fits(m.total, reserve_bytes=0)
    assert "weights" in str(m) and "<table>" in m._repr_html_()


def test_memory_bad_input():
    with pytest.raises(ValueError, match="zero_stage"):
        training_memory(GPT, zero_stage=4)
    with pytest.raises(ValueError, match="micro_batch"):
        training_memory(GPT, micro_batch=0)
    with pytest.raises(ValueError, match="tp"):
        training_memory(GPT, tp=-2)
    with pytest.raises(ValueError, match="pp"):
        training_memory(GPT, pp=48)
    with pytest.raises(ValueError, match="optimizer"):
        training_memory(GPT, optimizer="adagrad2")


def test_kv_cache_gqa():
    spec = get_model("llama-3.1-70b")
    assert kv_cache_bytes(spec, 1, 1) == 327_680  # 2 * 80 layers * 8 heads * 128 * 2 bytes
    assert kv_cache_bytes(spec, 4, 8192) == 327_680 * 4 * 8192
    assert kv_cache_bytes(spec, 1, 1, dtype="fp8") == 163_840
    mha = get_model("llama-2-70b").with_(n_kv_heads=64)
    assert kv_cache_bytes(mha, 1, 1) == 8 * 327_680
    np.testing.assert_array_equal(kv_cache_bytes(spec, np.array([1, 2]), 10), [3_276_800, 6_553_600])
    with pytest.raises(ValueError):
        kv_cache_bytes(spec, -1, 10)


# ---- estimate ---------------------------------------------------------------------------
def test_estimate_training_consistency():
    job = TrainingJob("llama-2-70b", 2e12, global_batch=1024, micro_batch=1, tp=8, pp=4,
                      recompute="selective", zero_stage=1)
    e = estimate_training(job, Cluster(gpus=2048, gpus_per_node=8, **A100))
    assert e.dp == 64 and e.n_micro_batches == 16
    parts = e.compute_s + e.tp_comm_s + e.pp_comm_s + e.bubble_s + e.dp_exposed_s + e.optimizer_s
    assert e.step_s == pytest.approx(parts)
    # bubble = (p-1)/m of the per-micro-batch work
    assert e.bubble_s == pytest.approx(3 / 16 * (e.compute_s + e.tp_comm_s + e.pp_comm_s))
    assert e.steps == math.ceil(2e12 / (1024 * 4096))
    assert e.wall_s == pytest.approx(e.steps * e.step_s)
    assert e.gpu_hours == pytest.approx(e.wall_s * 2048 / 3600)
    assert e.cost_usd == pytest.approx(e.gpu_hours * 2.0)
    assert e.model_flops == pytest.approx(training_flops("llama-2-70b", e.steps * 1024 * 4096), rel=1e-9)
    assert e.mfu == pytest.approx(e.model_flops / (e.wall_s * 2048 * 312e12))
    assert e.hfu > e.mfu  # selective recompute executes more than the model needs
    assert 0.3 < e.mfu < 0.6
    assert e.expected_wall_s > e.wall_s and 0.9 < e.goodput < 1
    assert e.expected_cost_usd == pytest.approx(e.expected_gpu_hours * 2.0)
    assert e.fits and e.memory.total < 80 * 2**30
    assert "MFU" in str(e) and "<table>" in e._repr_html_()
    assert "efficiency" in e.sources and "checkpoint" in e.sources


def test_explicit_efficiency_scales_compute():
    job = TrainingJob("llama-2-7b", 1e11, global_batch=512, tp=1, pp=1, zero_stage=1)
    a = estimate_training(job, Cluster(gpus=64, efficiency=0.5, **A100))
    b = estimate_training(job, Cluster(gpus=64, efficiency=0.4, **A100))
    assert b.compute_s / a.compute_s == pytest.approx(0.5 / 0.4)
    assert a.sources["efficiency"].startswith("Cluster.efficiency")


def test_comm_grows_across_nodes():
    job = TrainingJob("llama-2-7b", 1e11, global_batch=256, tp=1, pp=1, zero_stage=0)
    one_node = estimate_training(job, Cluster(gpus=8, efficiency=0.5, **A100))
    r = training_arrays(get_model("llama-2-7b"), tokens=1e11, global_batch=256, micro_batch=1,
                              seq_len=4096, tp=1, pp=1, dp=np.array([8, 64]), peak_flops_per_s=312e12,
                              efficiency=0.5, scale_up_bw_bytes_per_s=300e9, scale_out_bw_bytes_per_s=25e9)
    assert r["t_dp_s"][1] > r["t_dp_s"][0] > 0
    # hand check: hierarchical all-reduce of 2-byte grads, 8 GPUs in one node
    psi = get_model("llama-2-7b").n_params + get_model("llama-2-7b").final_norm_params
    t8 = 2 * 7 * (5e-6 + 2 * psi / (8 * 300e9))
    assert r["t_dp_s"][0] == pytest.approx(t8, rel=1e-6)
    assert one_node.dp_exposed_s >= 0


def test_bad_layouts_refused_with_reason():
    c = Cluster(gpus=64, **A100)
    with pytest.raises(ValueError, match="larger than the 8 GPUs in a node"):
        estimate_training(TrainingJob("llama-2-7b", 1e9, tp=16, global_batch=64), Cluster(gpus=64, **A100))
    with pytest.raises(ValueError, match="tokens"):
        estimate_training(TrainingJob("llama-2-7b", 0), c)
    with pytest.raises(ValueError, match="do not split"):
        estimate_training(TrainingJob("llama-2-7b", 1e9, tp=8, pp=3), c)
    with pytest.raises(ValueError, match="global_batch"):
        estimate_training(TrainingJob("llama-2-7b", 1e9, global_batch=100, tp=1), c)
    with pytest.raises(ValueError, match="does not match"):
        estimate_training(TrainingJob("llama-2-7b", 1e9, tp=1, dp=32, global_batch=64), c)
    with pytest.raises(ValueError, match="heads"):
        estimate_training(TrainingJob(GPT, 1e9, tp=3, global_batch=64), Cluster(gpus=63, gpus_per_node=9, **A100))
    with pytest.raises(ValueError, match="gpus"):
        Cluster(gpus=0, **A100)
    with pytest.raises(ValueError, match="efficiency"):
        Cluster(gpus=8, efficiency=1.5, **A100)


def test_memory_overflow_is_reported_not_hidden():
    job = TrainingJob("llama-2-70b", 1e9, global_batch=64, tp=1, pp=1, zero_stage=0)
    e = estimate_training(job, Cluster(gpus=64, **A100))
    assert not e.fits and "DOES NOT FIT" in str(e)


def test_vectorized_equals_scalar():
    spec = get_model("llama-3.1-70b")
    gpus = 512
    rows = []
    for tp in (2, 4, 8):
        for pp in (1, 2, 4, 8):
            for mb in (1, 2):
                for z in (0, 1, 3):
                    for rc in ("selective", "full"):
                        dp = gpus // (tp * pp)
                        if 1024 % (mb * dp):
                            continue
                        rows.append((tp, pp, dp, mb, z, rc))
    tp, pp, dp, mb, z, rc = (np.array(c) for c in zip(*rows))
    codes = np.array([RECOMPUTE_CODES[r] for r in rc])
    cl = Cluster(gpus=gpus, efficiency=0.55, **A100)
    r = training_arrays(spec, tokens=1e12, global_batch=1024, micro_batch=mb, seq_len=8192, tp=tp,
                              pp=pp, dp=dp, zero_stage=z, recompute_code=codes, sequence_parallel=tp > 1,
                              peak_flops_per_s=312e12, efficiency=0.55, gpus_per_node=8,
                              scale_up_bw_bytes_per_s=300e9, scale_up_latency_s=5e-6,
                              scale_out_bw_bytes_per_s=25e9, scale_out_latency_s=1e-5,
                              mem_bw_bytes_per_s=2.039e12, gpu_memory_bytes=80 * 2**30,
                              price_usd_per_gpu_hour=2.0, checkpoint_s=spec.n_params * 14 / 100e9,
                              restart_s=600.0, comm_efficiency=0.8)
    assert r["step_s"].shape == (len(rows),)
    for i, (t_, p_, _dp, m_, z_, rc_) in enumerate(rows):
        e = estimate_training(TrainingJob(spec, 1e12, global_batch=1024, micro_batch=m_, tp=t_, pp=p_,
                                          recompute=rc_, zero_stage=z_, seq_len=8192), cl)
        assert e.comm_efficiency == pytest.approx(0.8)
        assert e.step_s == pytest.approx(r["step_s"][i], rel=1e-12)
        assert e.mfu == pytest.approx(r["mfu"][i], rel=1e-12)
        assert e.memory.total == pytest.approx(r["mem_total"][i], rel=1e-12)
        assert e.expected_cost_usd == pytest.approx(r["expected_cost_usd"][i], rel=1e-12)
        assert e.fits == (not r["out_of_memory"][i])
    # the faster layouts are those with less pipeline bubble and communication
    assert np.all(r["step_s"] > r["compute_s"])


def test_array_feasibility_masks():
    spec = get_model("llama-3.1-70b")
    r = training_arrays(spec, tokens=1e12, global_batch=1024, micro_batch=1, seq_len=8192,
                              tp=np.array([16, 3, 8, 8]), pp=np.array([1, 1, 100, 1]),
                              dp=np.array([8, 8, 1, 3]), peak_flops_per_s=989e12, efficiency=0.5,
                              scale_up_bw_bytes_per_s=450e9, scale_out_bw_bytes_per_s=50e9,
                              gpu_memory_bytes=80 * 2**30)
    assert r["tp_exceeds_node"].tolist() == [True, False, False, False]
    assert r["tp_splits_heads"].tolist() == [False, True, False, False]
    assert r["pp_exceeds_layers"].tolist() == [False, False, True, False]
    assert r["batch_not_divisible"].tolist() == [False, False, False, True]
    assert not r["feasible"].any()


def test_training_memory_takes_arrays():
    spec = get_model("llama-2-13b")
    tp = np.array([1, 2, 4, 8])
    z = np.array([0, 1, 2, 3])
    m = training_memory(spec, tp=tp, dp=16, zero_stage=z, recompute="selective", sequence_parallel=tp > 1)
    assert m.total.shape == (4,)
    for i in range(4):
        one = training_memory(spec, tp=int(tp[i]), dp=16, zero_stage=int(z[i]), recompute="selective",
                              sequence_parallel=bool(tp[i] > 1))
        assert one.total == pytest.approx(m.total[i])
        assert one.weights == pytest.approx(m.weights[i])
    assert m.fits(80e9).dtype == bool and m.fits(80e9).shape == (4,)
    with pytest.raises(ValueError, match="tp"):
        training_memory(spec, tp=np.array([1, 0]))
    with pytest.raises(ValueError, match="zero_stage"):
        training_memory(spec, zero_stage=np.array([1, 5]))


def test_interleaved_schedule():
    spec = get_model("llama-3.1-70b")
    base = dict(tokens=1e12, global_batch=512, micro_batch=1, tp=8, pp=8, recompute="selective", seq_len=8192)
    cl = Cluster(gpus=512, efficiency=0.55, **A100)
    plain = estimate_training(TrainingJob(spec, **base), cl)
    inter = estimate_training(TrainingJob(spec, virtual_stages=2, **base), cl)
    m = plain.n_micro_batches
    slot_plain = plain.compute_s / m + plain.tp_comm_s / m + plain.pp_comm_s / m
    assert plain.bubble_s == pytest.approx(7 * slot_plain)
    slot_inter = inter.compute_s / m + inter.tp_comm_s / m + inter.pp_comm_s / m
    assert inter.bubble_s == pytest.approx(7 / 2 * slot_inter)
    assert inter.pp_comm_s == pytest.approx(2 * plain.pp_comm_s)
    assert inter.step_s < plain.step_s
    ratio = (inter.memory.activations - 0) / plain.memory.activations
    assert ratio > 1
    assert ratio < 1 + 7 / 16 + 1e-9  # 1 + (p-1)/(p v) on the layer activations
    with pytest.raises(ValueError, match="pipeline parallelism"):
        estimate_training(TrainingJob(spec, **{**base, "pp": 1}, virtual_stages=2), Cluster(gpus=64, **A100))
    with pytest.raises(ValueError, match="multiple of pp"):
        estimate_training(TrainingJob(spec, **{**base, "global_batch": 520}, virtual_stages=2), cl)
