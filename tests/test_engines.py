"""Serving-engine presets: memory rules and batch limits."""

from __future__ import annotations

import pytest

from aicost import UnknownNameError
from aicost.model import ENGINES, engine_kv_budget_bytes, get_engine

GIB = 2**30


def test_presets_with_sources():
    assert set(ENGINES) == {"vllm", "trtllm", "sglang", "trtllm-static"}
    for e in ENGINES.values():
        assert e.source and e.name in e.assumption()
    assert get_engine("TensorRT-LLM").name == "trtllm" and get_engine("vLLM").name == "vllm"
    assert get_engine("trtllm_static").name == "trtllm-static"


def test_static_batching_uses_all_free_memory():
    kw = dict(memory_bytes=80e9, weights_bytes=14e9, workspace_bytes=2e9)
    assert engine_kv_budget_bytes(get_engine("trtllm-static"), **kw) == pytest.approx(64e9)
    assert engine_kv_budget_bytes(get_engine("trtllm"), **kw) == pytest.approx(0.9 * 64e9)


def test_engine_batch_cap_is_not_a_memory_limit():
    """A batch the KV cache holds but the engine's cap refuses says so (not 'does not fit')."""
    from dataclasses import replace

    from aicost import InfeasibleError
    from aicost.model import estimate_inference, inference_arrays, max_batch_arrays

    eng = replace(get_engine("vllm"), max_batch=16)
    kw = dict(tp=1, context_tokens=1024, memory_bytes=80 * 2**30)
    from aicost.model import get_model

    spec = get_model("llama-3.1-8b")
    capped = max_batch_arrays(spec, engine=eng, **kw)
    kv = max_batch_arrays(spec, engine=eng, cap=False, **kw)
    assert capped == 16 and kv > 16
    with pytest.raises(InfeasibleError, match="batch cap of 16") as exc:
        estimate_inference("llama-3.1-8b", "H100-SXM", prompt_tokens=512, output_tokens=512, batch=32,
                           price_usd_per_gpu_hour=1.0, engine=eng)
    assert "does not fit" not in str(exc.value)
    with pytest.raises(InfeasibleError, match="does not fit"):
        estimate_inference("llama-3.1-8b", "H100-SXM", prompt_tokens=512, output_tokens=512, batch=10**6,
                           price_usd_per_gpu_hour=1.0, engine=eng)
    r = inference_arrays(spec, tp=1, batch=32.0, prompt_tokens=512, output_tokens=512,
                         peak_flops_per_s=989e12, mem_bw_bytes_per_s=3.35e12, memory_bytes=80 * 2**30,
                         compute_efficiency=0.5, bandwidth_efficiency=0.8,
                         engine=eng)
    assert float(r["max_batch"]) == 16 and float(r["max_batch_kv"]) == kv


def test_memory_rules_differ_when_weights_fill_the_gpu():
    # 70B in FP8 on one 80 GB GPU: ~70 GB of weights, 2 GB of workspace
    kw = dict(memory_bytes=80e9, weights_bytes=70e9, workspace_bytes=2e9)
    v = engine_kv_budget_bytes(get_engine("vllm"), **kw)
    t = engine_kv_budget_bytes(get_engine("trtllm"), **kw)
    assert v == pytest.approx(0.9 * 80e9 - 72e9, abs=1.0) == 0.0 or v < t
    assert t == pytest.approx(0.9 * 8e9)


def test_sglang_fraction_follows_tp():
    s = get_engine("sglang")
    assert s.fraction(1) == 0.88 and s.fraction(8) == 0.81 and s.fraction(3) == 0.87


def test_unknown_engine():
    with pytest.raises(UnknownNameError, match="did you mean 'vllm'"):
        get_engine("vlm")


def test_plan_names_the_engine_batch_cap():
    from dataclasses import replace

    from aicost.plan import ServingDrop, plan_inference

    eng = replace(get_engine("vllm"), max_batch=16)
    p = plan_inference("llama-3.1-8b", 5, prompt_tokens=512, output_tokens=256, providers=["aws"],
                       accelerators=["H100-SXM"], tp=[1], batch=[8, 16, 64], engine=eng)
    c = p.candidates
    over = c[c["batch"] == 64]
    assert len(over) and set(over["reason"]) == {ServingDrop.ENGINE_BATCH_CAP.text}
    assert (over["max_batch_kv"] > 64).all()
    assert "engine batch cap" in set(c.loc[c["batch"] == 16, "bottleneck"])


def test_pre_xqa_kernel_reads_the_kv_cache_once_per_query_head():
    from dataclasses import replace

    from aicost.model import DECODE_KV_READS, get_model

    static = get_engine("trtllm-static")
    assert static.decode_kv_reads == "per_query_head" and "once per query head" in static.assumption()
    assert get_engine("trtllm").decode_kv_reads == "per_kv_head"
    assert set(DECODE_KV_READS) == {"per_kv_head", "per_query_head"}
    assert static.kv_read_factor(get_model("llama-2-70b")) == 8.0  # 64 query heads over 8 KV heads
    assert static.kv_read_factor(get_model("llama-2-7b")) == 1.0  # multi-head attention: nothing shared
    assert static.kv_read_factor(get_model("deepseek-v3")) == 1.0  # MLA: one latent every head reads
    for name in ("vllm", "trtllm", "sglang"):
        assert get_engine(name).kv_read_factor(get_model("llama-2-70b")) == 1.0
    with pytest.raises(ValueError, match="decode_kv_reads"):
        replace(static, decode_kv_reads="per_token")


def test_kv_read_factor_scales_only_the_decode_attention_reads():
    """Llama 2 70B at batch 64, FP8 on 4 H100: the decode step grows by 7 x the attention kernel's KV
    reads (memory-bound), the prefill does not change."""
    from dataclasses import replace

    from aicost.model import decode_step_arrays, get_model, inference_arrays, prefill_arrays

    spec = get_model("llama-2-70b")
    hw = dict(tp=4, peak_flops_per_s=1979e12, mem_bw_bytes_per_s=3.35e12, compute_efficiency=0.5,
              bandwidth_efficiency=0.8, weight_bytes=1.0, kv_bytes=1.0)
    b, c = 64.0, 1152.0
    one = decode_step_arrays(spec, batch=b, context_tokens=c, **hw)
    eight = decode_step_arrays(spec, batch=b, context_tokens=c, kv_read_factor=8.0, **hw)
    # KV cache per token on one GPU: 80 layers x K and V x 8/4 heads x 128 x 1 byte
    kv_layer = b * c * (2 * 2 * 128 * 1.0) / (3.35e12 * 0.8)
    assert eight - one == pytest.approx(80 * 7 * kv_layer, rel=1e-9)
    per_group = replace(get_engine("trtllm-static"), decode_kv_reads="per_kv_head")
    kw = dict(batch=b, prompt_tokens=128.0, output_tokens=2048.0, memory_bytes=80 * 2**30, **hw)
    old = inference_arrays(spec, engine="trtllm-static", **kw)
    new = inference_arrays(spec, engine=per_group, **kw)
    assert old["prefill_s"] == new["prefill_s"] == prefill_arrays(spec, n_seqs=1.0, prompt_tokens=128.0, **hw)
    assert old["max_batch"] == new["max_batch"]  # the same cache: only its reads differ
    assert old["decode_step_s"] > new["decode_step_s"] * 1.3
