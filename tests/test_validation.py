"""Validation against published runs: the data file's coverage and the harness (aicost.validation)."""

from __future__ import annotations

import pytest

from aicost.validation import load_published_runs, validate_published_runs, validation_summary


def test_published_runs_cover_the_issue_scope():
    runs = load_published_runs()
    assert len(runs) >= 25 and runs["id"].is_unique
    assert runs["source"].str.len().gt(10).all()
    accs = set(runs["accelerator"])
    assert {"A100-80GB", "H100-SXM", "H200-SXM"} <= accs
    assert accs & {"MI300X", "TPU-v4", "TPU-v5p", "Gaudi3"}  # at least one non-NVIDIA accelerator
    assert {"train", "serve"} == set(runs["kind"])
    assert {"gpu_hours", "output_tokens_per_s", "ttft_s"} <= set(runs["metric"])
    assert runs["layout_published"].isin(["yes", "partial", "no"]).all()
    moe = {"mixtral-8x7b", "deepseek-v3", "qwen3-235b-a22b", "gpt-oss-120b"}
    assert moe & set(runs[runs["kind"] == "train"]["model"]) and moe & set(runs[runs["kind"] == "serve"]["model"])


@pytest.fixture(scope="module")
def table():
    return validate_published_runs()


def test_every_row_is_predicted_or_says_why(table):
    assert len(table) == len(load_published_runs())
    missing = table[table["predicted"].isna()]
    assert (missing["reason"].str.len() > 0).all()
    assert table["predicted"].notna().sum() >= 25


def test_megatron_weak_scaling_trend_is_reproduced(table):
    # arXiv:2104.04473 Table 1: 44% of peak at 1.7B, 52% at 1T; the size-aware efficiency follows
    mlm = table[table["id"].str.startswith("mlm-")].set_index("id")
    assert mlm.loc["mlm-1.7b", "predicted"] < mlm.loc["mlm-1008b", "predicted"]
    assert mlm["error_pct"].abs().max() < 15


def test_summary_classes(table):
    s = validation_summary(table).set_index("class")
    assert {"step time", "GPU-hours", "serving throughput", "serving latency"} <= set(s.index)
    assert (s["rows"] >= s["predicted"]).all()


def test_a_miss_says_where_the_predicted_time_goes():
    from aicost.validation import MISS_PCT, validate_published_runs

    t = validate_published_runs()
    miss = t[t["error_pct"].abs() > MISS_PCT]
    assert len(miss) and miss["reason"].str.contains("miss").all()
    ok = t[t["error_pct"].abs() <= MISS_PCT]
    assert not ok["reason"].str.contains(r"miss \(").any()
    train = miss[miss["class"] != "serving throughput"]["reason"]
    assert train.str.contains("predicted step|decode").all()
