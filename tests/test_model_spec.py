"""Model presets and ModelSpec: parameter counts against published ones, lookups, validation."""

from __future__ import annotations

import pytest

from aicost import CatalogError, UnknownNameError
from aicost.model import ModelSpec, get_model, list_models, load_models


def test_at_least_fifteen_presets_with_sources():
    names = list_models()
    assert len(names) >= 15
    for required in ("llama-2-7b", "llama-2-13b", "llama-2-70b", "llama-3.1-8b", "llama-3.1-70b",
                     "llama-3.1-405b", "mistral-7b", "mixtral-8x7b", "mixtral-8x22b", "qwen2.5-7b",
                     "qwen2.5-72b", "gemma-2-9b", "gemma-2-27b", "gpt-3-175b"):
        assert required in names
    for spec in load_models().values():
        assert spec.source and spec.as_of


@pytest.mark.parametrize("name", [n for n in load_models()])
def test_computed_params_match_published(name):
    spec = get_model(name)
    assert spec.published_params is not None
    assert spec.n_params == pytest.approx(spec.published_params, rel=0.02)


def test_hand_computed_llama2_7b():
    s = get_model("llama-2-7b")
    d, f, v, L = 4096, 11008, 32000, 32
    per_layer = 4 * d * d + 3 * d * f + 2 * d
    assert s.n_params == L * per_layer + 2 * v * d + d == 6_738_415_616  # HF safetensors count


def test_moe_active_params():
    s = get_model("mixtral-8x7b")
    assert s.n_active_params == pytest.approx(12.9e9, rel=0.01)  # "13B active" (Mixtral paper)
    assert s.n_params == pytest.approx(46.7e9, rel=0.01)
    s = get_model("mixtral-8x22b")
    assert s.n_active_params == pytest.approx(39e9, rel=0.02)


def test_gqa_and_head_dim():
    s = get_model("llama-3.1-70b")
    assert (s.n_kv_heads, s.d_head, s.d_kv) == (8, 128, 1024)
    g = get_model("gemma-2-9b")
    assert g.d_head == 256 and g.d_attn == 4096 != g.d_model


def test_lookup_is_case_insensitive_with_aliases():
    assert get_model("LLAMA-3.1-70B").name == "llama-3.1-70b"
    assert get_model("Meta-Llama-3.1-70B").name == "llama-3.1-70b"
    assert get_model("llama3.1_70b").name == "llama-3.1-70b"
    assert get_model("gpt3").name == "gpt-3-175b"
    spec = get_model("mistral-7b")
    assert get_model(spec) is spec


def test_unknown_model_suggests():
    with pytest.raises(UnknownNameError) as exc:
        get_model("llama-3.1-7b")
    assert "did you mean" in str(exc.value)
    assert any("llama-3.1" in s for s in exc.value.suggestions)
    assert isinstance(exc.value, LookupError)


def test_modelspec_validation():
    with pytest.raises(ValueError, match="n_layers"):
        ModelSpec(name="x", n_layers=0, d_model=64, n_heads=4, d_ff=256, vocab_size=100, seq_len=128)
    with pytest.raises(ValueError, match="multiple of n_kv_heads"):
        ModelSpec(name="x", n_layers=2, d_model=64, n_heads=4, n_kv_heads=3, d_ff=256, vocab_size=100,
                  seq_len=128)
    with pytest.raises(ValueError, match="ffn"):
        ModelSpec(name="x", n_layers=2, d_model=64, n_heads=4, d_ff=256, vocab_size=100, seq_len=128,
                  ffn="mlp3")
    with pytest.raises(ValueError, match="experts_per_token"):
        ModelSpec(name="x", n_layers=2, d_model=64, n_heads=4, d_ff=256, vocab_size=100, seq_len=128,
                  n_experts=2, experts_per_token=3)
    s = ModelSpec(name="tiny", n_layers=2, d_model=64, n_heads=4, d_ff=256, vocab_size=100, seq_len=128)
    assert s.n_kv_heads == 4 and s.n_params == 2 * (4 * 64 * 64 + 3 * 64 * 256 + 128) + 2 * 100 * 64 + 64
    assert "tiny" in str(s) and "<table>" in s._repr_html_()


def _write(tmp_path, rows):
    header = ("name,aliases,n_layers,d_model,n_heads,n_kv_heads,d_ff,ffn,vocab_size,seq_len,n_experts,"
              "experts_per_token,tied_embeddings,published_params,source,as_of")
    p = tmp_path / "models.csv"
    p.write_text("# comment\n" + header + "\n" + "\n".join(rows) + "\n")
    return p


def test_load_models_reports_file_line_column(tmp_path):
    good = "m1,a1,2,64,4,4,256,swiglu,100,128,1,1,false,,src,2026-01-01"
    assert list(load_models(_write(tmp_path, [good]))) == ["m1"]
    bad = "m2,,2,64,4,4,-256,swiglu,100,128,1,1,false,,src,2026-01-01"
    with pytest.raises(CatalogError) as exc:
        load_models(_write(tmp_path, [good, bad]))
    assert exc.value.row == 4 and exc.value.column == "d_ff"
    assert "models.csv" in str(exc.value)
    bad = "m2,,2,64,4,4,256,swiglu,100,128,1,1,maybe,,src,2026-01-01"
    with pytest.raises(CatalogError) as exc:
        load_models(_write(tmp_path, [good, bad]))
    assert exc.value.column == "tied_embeddings"
    dup = "m2,a1,2,64,4,4,256,swiglu,100,128,1,1,false,,src,2026-01-01"
    with pytest.raises(CatalogError, match="already used"):
        load_models(_write(tmp_path, [good, dup]))
    bad = "m2,,2,64,4,4,256,mlp,100,128,1,1,false,,src,2026-01-01"
    with pytest.raises(CatalogError, match="ffn"):
        load_models(_write(tmp_path, [good, bad]))


# ---- mixture-of-experts and MLA presets (issue 12) ------------------------------------------------
_NO_EMBEDDING_ACTIVE = {"gpt-oss-120b", "gpt-oss-20b"}  # the gpt-oss model card leaves the embedding out


@pytest.mark.parametrize("name", ["mixtral-8x7b", "mixtral-8x22b", "deepseek-v3", "qwen3-235b-a22b",
                                  "llama-4-scout", "llama-4-maverick", "gpt-oss-120b", "gpt-oss-20b"])
def test_moe_presets_total_and_active_match_published(name):
    s = get_model(name)
    assert s.is_moe and s.published_active_params
    assert s.n_params == pytest.approx(s.published_params, rel=0.02)
    active = s.n_active_params - (s.embedding_params if name in _NO_EMBEDDING_ACTIVE else 0)
    assert active == pytest.approx(s.published_active_params, rel=0.02)
    assert s.n_active_params < s.n_params / 3


def test_deepseek_v3_layers_and_mla():
    s = get_model("deepseek-v3")
    assert (s.n_moe_layers, s.n_dense_layers, s.n_shared_experts, s.expert_d_ff) == (58, 3, 1, 2048)
    assert s.is_mla
    # MLA caches the 512-wide latent plus the 64-wide RoPE key per layer: 61 * 576 * 2 bytes
    assert s.kv_bytes_per_token("bf16") == 61 * 576 * 2
    # per-token FFN width: 3 dense layers of 18432, 58 MoE layers of (8 routed + 1 shared) x 2048
    assert s.active_ffn_width == pytest.approx((3 * 18432 + 58 * 9 * 2048) / 61)
    # n_layers * layer_params is still the blocks' total
    assert s.n_layers * s.layer_params + s.embedding_params + s.head_params + s.final_norm_params \
        == pytest.approx(s.n_params)


def test_llama4_maverick_interleaves_dense_and_moe_layers():
    m, sc = get_model("llama-4-maverick"), get_model("llama-4-scout")
    assert m.n_moe_layers == 24 and sc.n_moe_layers == 48
    # same active path (one routed + one shared expert of 8192, or one dense FFN of 16384)
    assert m.n_active_params == pytest.approx(sc.n_active_params, rel=0.01)


def test_moe_defaults_keep_dense_counts():
    s = ModelSpec(name="tiny", n_layers=2, d_model=64, n_heads=4, d_ff=256, vocab_size=100, seq_len=128)
    assert (s.n_moe_layers, s.n_shared_experts, s.expert_d_ff, s.is_mla) == (0, 0, 256, False)
    assert s.layer_params == s.active_layer_params == 4 * 64 * 64 + 3 * 64 * 256 + 2 * 64
    with pytest.raises(ValueError, match="n_shared_experts"):
        ModelSpec(name="x", n_layers=2, d_model=64, n_heads=4, d_ff=256, vocab_size=100, seq_len=128,
                  n_shared_experts=-1)
    with pytest.raises(ValueError, match="n_dense_layers"):
        ModelSpec(name="x", n_layers=2, d_model=64, n_heads=4, d_ff=256, vocab_size=100, seq_len=128,
                  n_experts=4, experts_per_token=2, n_dense_layers=2)
    with pytest.raises(ValueError, match="qk_rope_head_dim"):
        ModelSpec(name="x", n_layers=2, d_model=64, n_heads=4, d_ff=256, vocab_size=100, seq_len=128,
                  kv_lora_rank=16)


def test_mla_kv_cache_in_serving_is_the_latent():
    from aicost.model import estimate_inference

    e = estimate_inference("deepseek-v3", "H200-SXM", tp=8, prompt_tokens=1000, output_tokens=1000, dtype="fp8")
    # 61 layers x (512 + 64) values x 1 byte x 2000 tokens, on every tensor-parallel rank
    assert e.kv_bytes_per_seq_per_gpu == pytest.approx(61 * 576 * 2000)
