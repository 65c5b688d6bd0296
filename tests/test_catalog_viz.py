"""The catalog's plotly figures build from the shipped catalog and show what they claim."""

from __future__ import annotations

import pytest

from aicost import viz
from aicost.catalog import load


@pytest.fixture(scope="module")
def cat():
    return load()


def test_price_figure_has_one_marker_per_priced_offer(cat):
    fig = viz.price_per_gpu_hour_figure(cat)
    assert sum(len(t.x) for t in fig.data) == cat.instances["price_usd_per_gpu_hour"].notna().sum()
    assert {t.name for t in fig.data} == set(cat.instances["provider"])
    order = list(fig.layout.xaxis.categoryarray)
    best = cat.instances.groupby("accelerator")["price_usd_per_gpu_hour"].min()
    assert order == list(best.sort_values().index)
    spot = viz.price_per_gpu_hour_figure(cat, metric="price_spot_usd_per_gpu_hour",
                                         accelerators=["h100"])
    assert {x for t in spot.data for x in t.x} == {"H100-SXM"}
    with pytest.raises(ValueError, match="unknown instance column"):
        viz.price_per_gpu_hour_figure(cat, metric="price_per_banana")


def test_best_offer_figure_matches_best_offers(cat):
    fig = viz.best_offer_figure(cat, metric="usd_per_tb_s_hour")
    best = cat.best_offers(by="usd_per_tb_s_hour").set_index("accelerator")["usd_per_tb_s_hour"]
    bars = dict(zip(fig.data[0].y, fig.data[0].x))
    assert bars.keys() == set(best.index)
    for name, value in bars.items():
        assert value == pytest.approx(best[name])


def test_spot_figure_only_offers_with_spot(cat):
    fig = viz.spot_vs_on_demand_figure(cat)
    points = [t for t in fig.data if t.mode == "markers"]
    assert sum(len(t.x) for t in points) == cat.instances["price_spot_usd_per_hour"].notna().sum()
    for t in points:
        assert all(y <= x for x, y in zip(t.x, t.y))  # spot never above on demand in the catalog


def test_other_figures_build(cat):
    specs = viz.accelerator_specs_figure(cat, dtype="fp8")
    named = {n for t in specs.data if t.text is not None for n in t.text}
    assert "H100-SXM" in named and "A100-80GB" not in named  # the A100 has no fp8
    storage = viz.storage_tiers_figure(cat)
    assert sum(len(t.x) for t in storage.data) == len(cat.storage_tiers)
    fabrics = viz.fabrics_figure(cat)
    assert sum(len(t.y) for t in fabrics.data) == len(cat.fabrics)


def test_figures_filter_by_provider_and_accelerator(cat):
    fig = viz.price_per_gpu_hour_figure(cat, providers=["aws"], accelerators=["H100", "L4"])
    assert [t.name for t in fig.data] == ["aws"]
    assert set(fig.data[0].x) == {"H100-SXM", "L4"}
    best = viz.best_offer_figure(cat, providers="lambda")
    lam = cat.table("instances", provider="lambda")
    # the default metric is $ per bf16 PFLOP/s-hour: chips without bf16 (V100, RTX6000) have none
    assert set(best.data[0].y) == set(lam[lam["usd_per_bf16_pflop_hour"].notna()]["accelerator"])
    assert {t.name for t in viz.spot_vs_on_demand_figure(cat, providers=["gcp"]).data
            if t.mode == "markers"} == {"gcp"}
    specs = viz.accelerator_specs_figure(cat, providers=["oci"])
    named = {n for t in specs.data if t.text is not None for n in t.text}
    assert named == set(cat.table("accelerators", provider="oci")["name"])
    storage = viz.storage_tiers_figure(cat, providers=["azure"])
    names = {n for t in storage.data for n in t.text}
    assert "local-nvme" in names and "s3-standard" not in names
    fab = viz.fabrics_figure(cat, providers=["aws"])
    assert "ib-ndr" not in {n for t in fab.data for n in t.y}
    import aicost

    with pytest.raises(aicost.UnknownNameError):
        viz.price_per_gpu_hour_figure(cat, providers=["amazon-web"])


def test_every_shipped_accelerator_has_a_fixed_colour():
    """A new catalog accelerator gets its line in ACCELERATOR_COLORS (charts keep their legend)."""
    from aicost.catalog import load

    names = {n.lower() for n in load(refreshed=False).accelerators["name"]}
    assert names <= set(viz.ACCELERATOR_COLORS), sorted(names - set(viz.ACCELERATOR_COLORS))
    assert viz.accelerator_color("Trainium3") == viz.ACCELERATOR_COLORS["trainium3"]
