"""Serving-engine presets: memory rules and batch limits."""

from __future__ import annotations

import pytest

from aicost import UnknownNameError
from aicost.model import ENGINES, engine_kv_budget_bytes, get_engine

GIB = 2**30


def test_three_presets_with_sources():
    assert set(ENGINES) == {"vllm", "trtllm", "sglang"}
    for e in ENGINES.values():
        assert e.source and e.name in e.assumption()
    assert get_engine("TensorRT-LLM").name == "trtllm" and get_engine("vLLM").name == "vllm"


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
