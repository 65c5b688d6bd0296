"""Training memory: uneven pipeline stages, interleaved in-flight cap, FP8 activations, dropout masks."""

import numpy as np
import pytest

from aicost.model import (
    FP8_GEMM_INPUT_BYTES,
    FP8_WEIGHT_CACHE_BYTES_PER_PARAM,
    ModelSpec,
    activation_bytes_per_layer,
    get_model,
    training_memory,
)

# Llama-3.1-405B-like depth: 126 layers do not split evenly over 16 stages
DEEP = ModelSpec(name="deep", n_layers=126, d_model=1024, n_heads=8, n_kv_heads=8, d_ff=3584, vocab_size=32000,
                 seq_len=4096, ffn="swiglu")


def _layer_acts(spec, m, **kw):
    """Activations without the per-stage extras (embedding dropout on the first stage)."""
    sbh = 4096 * spec.d_model
    in_flight = min(kw.get("pp", 1), m)
    return m_total(spec, m, **kw) - sbh * in_flight


def m_total(spec, m, **kw):
    return training_memory(spec, micro_batch=1, seq_len=4096, recompute="selective", n_micro_batches=m,
                           **kw).activations


def test_uneven_stages_put_the_extra_layers_on_late_stages():
    per = float(activation_bytes_per_layer(DEEP, 1, 4096, 1, False, 1))
    # 126 = 7 x 16 + 14: the first stage keeps 7 layers x 16 micro-batches, the first 8-layer stage
    # (stage 2) keeps 8 x 14 = 112 as well; the old ceil-based count was 8 x 16 = 128
    assert _layer_acts(DEEP, 32, pp=16) == pytest.approx(112 * per)
    # an even split is unchanged: 120 layers over 8 stages, 15 x 8
    even = DEEP.with_(n_layers=120)
    assert _layer_acts(even, 32, pp=8) == pytest.approx(120 * per)
    # 10 layers on 4 stages (2 x 4 on the first stage vs 3 x 2 on the last two): 8
    assert _layer_acts(DEEP.with_(n_layers=10), 32, pp=4) == pytest.approx(8 * per)


def test_interleaved_in_flight_capped_by_the_micro_batches():
    spec = DEEP.with_(n_layers=128)
    per = float(activation_bytes_per_layer(spec, 1, 4096, 1, False, 1))
    pp, v = 16, 2
    # many micro-batches: Korthikanti Sec. 4.2.3, L (1 + (p-1)/(p v))
    assert _layer_acts(spec, 64, pp=pp, virtual_stages=v) == pytest.approx(128 * (1 + 15 / 32) * per)
    # as many micro-batches as stages: every micro-batch's chunks are in flight, i.e. L/pp x m = L layers
    assert _layer_acts(spec, 16, pp=pp, virtual_stages=v) == pytest.approx(128 * per)
    assert _layer_acts(spec, 16, pp=pp, virtual_stages=4) == pytest.approx(128 * per)
    # plain 1F1B keeps pp micro-batches of L/pp layers
    assert _layer_acts(spec, 64, pp=pp) == pytest.approx(128 * per)


def test_fp8_keeps_gemm_inputs_in_fp8_and_fp8_weight_copies():
    spec = get_model("llama-3.1-8b")
    h, f = spec.d_model, spec.d_ff
    sbh = 8192 * h
    bf = float(activation_bytes_per_layer(spec, 1, 8192, 1, False, 1))
    f8 = float(activation_bytes_per_layer(spec, 1, 8192, 1, False, 1, gemm_input_bytes=FP8_GEMM_INPUT_BYTES))
    # QKV input and FFN input (h each) and the down-projection input (d_ff): 1 byte less per value
    assert bf - f8 == pytest.approx(sbh * (2 + f / h))
    m16 = training_memory(spec, dp=8, zero_stage=1, seq_len=8192, recompute="selective", dtype="bf16")
    m8 = training_memory(spec, dp=8, zero_stage=1, seq_len=8192, recompute="selective", dtype="fp8")
    assert m8.weights - m16.weights == pytest.approx(FP8_WEIGHT_CACHE_BYTES_PER_PARAM * m16.params_per_gpu)
    assert m8.gradients == m16.gradients and m8.optimizer == m16.optimizer
    assert m8.activations < m16.activations


def test_dropout_masks_only_with_dropout():
    spec = get_model("llama-3.1-8b")
    assert not spec.dropout
    sbh = 1024 * spec.d_model
    without = float(activation_bytes_per_layer(spec, 1, 1024, 1, False, 1))
    with_ = float(activation_bytes_per_layer(spec.with_(dropout=True), 1, 1024, 1, False, 1))
    assert with_ - without == pytest.approx(2 * sbh)
    # sequence parallelism shards them with the rest of the "10"
    t = 4
    d_sp = float(activation_bytes_per_layer(spec.with_(dropout=True), 1, 1024, t, True, 1)) \
        - float(activation_bytes_per_layer(spec, 1, 1024, t, True, 1))
    assert d_sp == pytest.approx(2 * sbh / t)


def test_layouts_broadcast():
    m = training_memory(DEEP, micro_batch=1, seq_len=4096, pp=np.array([1, 2, 16]), recompute="selective",
                        n_micro_batches=32)
    assert np.shape(m.activations) == (3,)
    assert np.all(np.diff(m.activations) < 0)


def test_fp8_training_names_its_overheads():
    from aicost.model import Cluster, TrainingJob, estimate_training, fp8_training_assumption

    job = dict(global_batch=64, tp=1, seq_len=4096)
    cl = Cluster(gpus=8, accelerator="H100-SXM", gpus_per_node=8, price_usd_per_gpu_hour=1.0,
                 scale_out_bw_bytes_per_s=50e9)
    e8 = estimate_training(TrainingJob("llama-3.1-8b", 1e12, dtype="fp8", **job), cl)
    e16 = estimate_training(TrainingJob("llama-3.1-8b", 1e12, dtype="bf16", **job), cl)
    assert e8.sources["fp8"] == fp8_training_assumption() and "fp8" not in e16.sources
    for word in ("bf16 peak", "casts", "weight copies", "GEMM inputs"):
        assert word in e8.sources["fp8"]
    # FP8 weight copies cost memory; FP8 GEMM inputs save activation memory
    assert e8.memory.weights > e16.memory.weights and e8.memory.activations < e16.memory.activations


def test_presets_carry_dropout_where_the_source_states_it():
    """data/models.csv: OPT-175B trained with dropout 0.1 (Zhang et al. 2022); GPT-3's paper does not
    say, Llama does not use it: only OPT keeps the masks."""
    from aicost.model import get_model

    assert get_model("opt-175b").dropout is True
    assert get_model("gpt-3-175b").dropout is False and get_model("llama-3.1-70b").dropout is False
    opt = get_model("opt-175b")
    assert float(activation_bytes_per_layer(opt, 1, 2048, 8, True, 1)) > float(
        activation_bytes_per_layer(opt.with_(dropout=False), 1, 2048, 8, True, 1))
