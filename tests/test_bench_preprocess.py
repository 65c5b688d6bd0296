"""CPU preprocessing benchmark (text tokenization, JPEG decode + resize) and its shipped defaults."""

from __future__ import annotations

import pytest

from aicost.bench import PREPROCESS_PIPELINES, default_preprocess_rates, preprocess_throughput


def test_shipped_defaults_cover_every_pipeline():
    rates = default_preprocess_rates()
    assert set(rates) == set(PREPROCESS_PIPELINES)
    assert all(r > 0 for r in rates.values())


@pytest.mark.parametrize("pipeline", PREPROCESS_PIPELINES)
def test_pipeline_measures_a_positive_rate(pipeline):
    pytest.importorskip("PIL" if pipeline == "jpeg" else "tokenizers")
    r = preprocess_throughput(pipeline, seconds=0.05)
    assert r["pipeline"] == pipeline and r["rate_per_vcpu"] > 0 and r["items"] > 0
    assert r["unit"] == ("tokens/s" if pipeline == "text" else "images/s")
    assert r["bytes_per_s_per_vcpu"] > r["rate_per_vcpu"] if pipeline == "jpeg" else r["bytes_per_s_per_vcpu"] > 0


def test_unknown_pipeline_suggests():
    with pytest.raises(ValueError, match="did you mean 'jpeg'"):
        preprocess_throughput("jpg")
    with pytest.raises(ValueError, match="seconds"):
        preprocess_throughput("text", seconds=0)
