"""aicost.spend: the commitment portfolio against the newsvendor closed form and brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("scipy")

from aicost import spend as S  # noqa: E402


def _demand(values, acc="H100-SXM", cls=None, start="2026-01-01"):
    df = pd.DataFrame({"timestamp": pd.date_range(start, periods=len(values), freq="h",
                                                  tz="UTC"),
                       "accelerator": acc, "gpus": np.asarray(values, dtype=float)})
    if cls is not None:
        df["workload_class"] = cls
    return df


def _cost(d, x, price, od):
    return price * len(d) * x + od * np.maximum(np.asarray(d) - x, 0).sum()


@pytest.mark.parametrize("seed,discount", [(0, 0.3), (1, 0.45), (2, 0.6), (3, 0.1)])
def test_one_offer_matches_newsvendor_quantile(seed, discount):
    rng = np.random.default_rng(seed)
    d = rng.integers(0, 40, size=24 * 30).astype(float)
    od = 6.88
    offer = S.Offer("o 1y", "H100-SXM", "1y", od * (1 - discount), od)
    port = S.optimize_portfolio(_demand(d), [offer], spot_share_max={}, forecast_errors=())
    x_lp = float(port.commitments["committed_gpus"].iloc[0])
    x_nv = S.newsvendor_commitment(d, discount)
    # the LP optimum has the newsvendor's cost, and its commitment lies in the optimal interval
    assert port.summary["total_usd"] == pytest.approx(_cost(d, x_nv, offer.price_usd_per_gpu_hour,
                                                            od), rel=1e-9)
    assert np.quantile(d, discount, method="inverted_cdf") - 1e-6 <= x_lp + 1e-9
    frac_above = (d > x_lp + 1e-9).mean()
    assert frac_above <= (1 - discount) + 1e-9
    # and nothing in a grid beats it
    grid = np.arange(0, 41)
    best = min(_cost(d, x, offer.price_usd_per_gpu_hour, od) for x in grid)
    assert port.summary["total_usd"] <= best + 1e-6


def test_newsvendor_closed_form_values():
    d = np.arange(1, 101, dtype=float)  # 1..100
    assert S.newsvendor_commitment(d, 0.3) == 30.0
    assert S.newsvendor_commitment(d, 0.0) == 0.0
    with pytest.raises(ValueError):
        S.newsvendor_commitment(d, 1.0)


def test_brute_force_two_terms_and_a_block_whole_units():
    rng = np.random.default_rng(7)
    T = 48
    d = rng.integers(0, 4, size=T).astype(float) * 8
    d[10:20] += 16  # a burst a 24-hour block can cover
    od = 7.0
    offers = [S.Offer("1y", "H100-SXM", "1y", 4.9, od, gpus_per_unit=8),
              S.Offer("3y", "H100-SXM", "3y", 3.9, od, gpus_per_unit=8, max_units=1),
              S.Offer("blk", "H100-SXM", "capacity_block", 5.2, od, gpus_per_unit=8,
                      block_hours=24)]
    port = S.optimize_portfolio(_demand(d), offers, whole_units=True, spot_share_max={},
                                forecast_errors=(), mip_rel_gap=0.0)
    best = np.inf
    for a, b, c0, c1 in itertools.product(range(5), range(2), range(5), range(5)):
        committed = 8 * (a + b) + np.r_[np.full(24, 8 * c0), np.full(24, 8 * c1)]
        cost = (4.9 * 8 * a * T + 3.9 * 8 * b * T + 5.2 * 8 * 24 * (c0 + c1)
                + od * np.maximum(d - committed, 0).sum())
        best = min(best, cost)
    assert port.summary["total_usd"] == pytest.approx(best, rel=1e-9)
    assert port.summary["solver"].startswith("HiGHS MILP")


def test_spot_share_bounded_per_class():
    T = 24
    train = _demand(np.full(T, 10.0), cls="training")
    serve = _demand(np.full(T, 10.0), cls="serving")
    demand = pd.concat([train, serve], ignore_index=True)
    port = S.optimize_portfolio(demand, [], on_demand_usd_per_gpu_hour={"H100-SXM": 6.0},
                                spot_usd_per_gpu_hour={"H100-SXM": 2.0},
                                spot_share_max={"training": 0.5, "serving": 0.0},
                                spot_overhead=1.0, forecast_errors=())
    h = port.hourly
    assert np.allclose(h["spot_gpus"], 5.0)        # half of training only
    assert np.allclose(h["on_demand_gpus"], 15.0)
    assert port.summary["total_usd"] == pytest.approx(T * (5 * 2.0 + 15 * 6.0))


def test_break_even_and_risk_table():
    d = np.r_[np.full(100, 10.0), np.full(100, 20.0)]
    offer = S.Offer("o", "H100-SXM", "1y", 3.0, 6.0)
    assert offer.break_even_utilization == pytest.approx(0.5)
    assert offer.discount == pytest.approx(0.5)
    port = S.optimize_portfolio(_demand(d), [offer], spot_share_max={})
    r = port.risk.set_index("forecast_error")
    assert r.loc[-0.3, "unused_commitment_usd"] >= r.loc[0.0, "unused_commitment_usd"]
    assert r.loc[0.3, "commitment_utilization"] >= r.loc[0.0, "commitment_utilization"]
    assert port.summary["total_usd"] <= port.summary["all_on_demand_usd"]
    assert "Commit to" in port.recommendation


def test_no_commitment_when_discount_cannot_pay():
    d = np.r_[np.zeros(90), np.full(10, 50.0)]  # busy 10% of the time
    port = S.optimize_portfolio(_demand(d), [S.Offer("o", "H100-SXM", "1y", 4.0, 6.0)],
                                spot_share_max={})
    assert port.commitments["committed_gpus"].sum() == pytest.approx(0.0, abs=1e-9)
    assert port.recommendation.startswith("Commit to nothing")


def test_catalog_offers_and_default_portfolio():
    offers, od, spot = S.catalog_offers(["H100-SXM"], provider="aws")
    terms = {o.term for o in offers}
    assert {"1y", "3y", "capacity_block"} <= terms
    assert od["H100-SXM"] == pytest.approx(55.04 / 8)
    demand = S.synthetic_demand(hours=24 * 14)
    port = S.optimize_portfolio(demand)
    assert set(port.pools["accelerator"]) == {"H100-SXM", "L40S"}
    assert port.summary["total_usd"] <= port.summary["all_on_demand_usd"] + 1e-6


def test_demand_errors_name_line_and_column(tmp_path):
    p = tmp_path / "demand.csv"
    p.write_text("timestamp,accelerator,gpus\n2026-01-01T00:00:00Z,H100,8\n"
                 "2026-01-01T01:00:00Z,H100,eight\n")
    with pytest.raises(S.SpendInputError) as e:
        S.read_demand(p)
    assert e.value.row == 3 and e.value.column == "gpus" and "demand.csv" in str(e.value)
    p.write_text("time,accelerator,gpus\n2026-01-01T00:00:00Z,H100,8\n")
    with pytest.raises(S.SpendInputError, match="did you mean 'time'"):
        S.read_demand(p)
    p.write_text("timestamp,accelerator,gpus\n2026-01-01T00:00:00Z,H1OO-SXN,8\n")
    import aicost

    with pytest.raises(S.SpendInputError, match="line 2, column 'accelerator'"):
        S.read_demand(p, catalog=aicost.catalog.load())
    p.write_text("timestamp,accelerator,gpus\n2026-01-01T00:00:00Z,H100,8\n")
    df = S.read_demand(p, catalog=aicost.catalog.load())
    assert df["accelerator"].iloc[0] == "H100-SXM"


class _Best:
    def __init__(self, kind, row, time_col):
        self.kind, self.row, self.time_col = kind, row, time_col


class _Plan:
    def __init__(self, kind, row, time_col="time_s"):
        self.best = _Best(kind, row, time_col)


def test_demand_from_plans_places_work_on_the_calendar():
    train = _Plan("training", {"accelerator": "H100-SXM", "gpus": 64, "time_s": 10 * 3600 + 1})
    serve = _Plan("inference", {"accelerator": "L40S", "gpus": 8.0, "replicas": 4.0},
                  time_col="latency_s")
    d = S.demand_from_plans([{"plan": train, "start": "2026-01-02"},
                             {"plan": serve, "trace": [0.5, 1.0]}],
                            start="2026-01-01", hours=72)
    h = d[d["accelerator"] == "H100-SXM"].set_index("timestamp")["gpus"]
    assert h.sum() == 64 * 11 and h.index[h > 0].min() == pd.Timestamp("2026-01-02", tz="UTC")
    s = d[d["accelerator"] == "L40S"]["gpus"].to_numpy()
    assert list(s[:4]) == [4.0, 8.0, 4.0, 8.0]  # 2 then 4 replicas of 2 GPUs
    assert set(d["workload_class"]) == {"training", "serving"}
