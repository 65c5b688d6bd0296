"""Plans built on catalog estimates say so, and ``estimates=False`` leaves them out (issue 13)."""

from __future__ import annotations

import pytest

from aicost import InfeasibleError
from aicost.catalog import load
from aicost.hardware import offers_table
from aicost.plan import PlanCache, plan_inference, plan_training

# a small, fast question: Trainium3 (price and chips per instance estimated) against H100
MODEL, TOKENS = "llama-3.1-8b", 2e11
ACCS = ["Trainium3", "H100-SXM"]


@pytest.fixture(scope="module")
def cat():
    return load(refreshed=False)


def test_offers_say_what_is_estimated(cat):
    off = offers_table(cat, pricing=("on_demand", "spot"))
    p5 = off[(off.provider == "aws") & (off.instance_type == "p5.48xlarge")]
    # on demand is a published price, spot an estimate
    assert set(p5[p5.pricing == "on_demand"]["estimated"]) == {""}
    assert set(p5[p5.pricing == "spot"]["estimated"]) == {"price"}
    trn3 = off[(off.instance_type == "trn3.48xlarge") & (off.pricing == "on_demand")]
    assert trn3.iloc[0]["estimated"] == "price, accelerator count"
    # the chip's own estimates: A10G's peaks are the A10's datasheet figures
    g5 = off[(off.instance_type == "g5.xlarge") & (off.pricing == "on_demand")]
    assert g5.iloc[0]["estimated"] == "bf16 peak"
    kept = offers_table(cat, pricing=("on_demand", "spot"), estimates=False)
    assert len(kept) == (off["estimated"] == "").sum() and set(kept["estimated"]) == {""}
    assert "trn3.48xlarge" not in set(kept["instance_type"])


def test_a_plan_on_an_estimated_price_says_so(cat):
    plan = plan_training(MODEL, TOKENS, accelerators=["Trainium3"], catalog=cat, pricing="on_demand")
    assert plan.best.row["estimated"] == "price, accelerator count"
    note = plan.best.details[-2]  # the last detail says how old the prices are
    assert note.startswith("Price estimated, not a published list price; accelerators per instance estimated")
    assert plan.best.details[-1].startswith("Prices as of")
    assert "estimates=False" in note


def test_estimates_false_leaves_estimated_offers_out(cat):
    plan = plan_training(MODEL, TOKENS, accelerators=ACCS, catalog=cat, estimates=False)
    assert "Trainium3" not in set(plan.candidates["accelerator"])
    assert set(plan.candidates["estimated"]) == {""}
    assert not any("estimated" in d for d in plan.best.details)
    with pytest.raises(InfeasibleError, match="estimates=False"):
        plan_training(MODEL, TOKENS, accelerators=["Trainium3"], catalog=cat, estimates=False)


def test_the_frontier_counts_its_estimated_plans(cat):
    plan = plan_training(MODEL, TOKENS, accelerators=ACCS, catalog=cat, pricing=("on_demand", "spot"))
    front = plan.pareto
    n = int((front["estimated"] != "").sum())
    assert n > 0  # spot prices are estimates
    row = front[front["estimated"] == ""].iloc[0].to_dict()
    assert plan.estimate_note(row).startswith(f"{n} of the {len(front)} plans on the time-cost frontier")


def test_plan_cache_keeps_estimates_apart(cat):
    cache = PlanCache()
    with_est = cache.plan_training(MODEL, TOKENS, accelerators=ACCS, catalog=cat)
    without = cache.plan_training(MODEL, TOKENS, accelerators=ACCS, catalog=cat, estimates=False)
    cold = plan_training(MODEL, TOKENS, accelerators=ACCS, catalog=cat, estimates=False)
    assert without.best.headline == cold.best.headline
    assert without.best.row["cost_usd"] == pytest.approx(cold.best.row["cost_usd"])
    assert "Trainium3" in set(with_est.candidates["accelerator"])
    assert "Trainium3" not in set(without.candidates["accelerator"])


def test_serving_plans_leave_estimates_out_too(cat):
    plan = plan_inference(MODEL, 2.0, accelerators=["H100-SXM", "RTX-PRO-6000"], catalog=cat,
                          estimates=False)
    assert set(plan.candidates["estimated"]) == {""}
    assert "RTX-PRO-6000" not in set(plan.candidates["accelerator"])  # its price and bf16 peak are estimates


def test_cli_no_estimates(capsys):
    from aicost.cli import main

    argv = ["plan", "train", "--model", MODEL, "--tokens", "2e11", "--accelerators", "trainium3",
            "--pricing", "on_demand", "--top", "1"]
    assert main(argv) == 0
    assert "Price estimated, not a published list price" in capsys.readouterr().out
    assert main([*argv, "--no-estimates"]) == 2
    assert "estimates=False" in capsys.readouterr().err
