"""aicost.spend: FOCUS bills through DuckDB, telemetry, waste."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from aicost import spend as S

DATA = Path(__file__).parent / "data" / "focus"


def test_public_sample_reads_as_focus_1_2():
    bill = S.read_focus(DATA / "focus_1.2_aws_head.csv")
    assert bill.rows == 4
    assert bill.missing["1.2"] == [] and bill.version in ("1.2", "1.3")
    # account ids stay text (no 1e11 floats), tags parse as JSON
    ids = bill.sql("SELECT BillingAccountId FROM focus")["BillingAccountId"]
    assert set(ids) == {"100000000002", "100000000001"}
    owners = bill.sql(f"SELECT {bill.tag('Owner')} AS o FROM focus")["o"].tolist()
    assert "team-payments" in owners
    mapping = S.gpu_line_items(bill)
    assert mapping.empty  # m6i.large and CloudWatch are not GPUs
    summary = S.focus_summary(bill)
    assert summary["effective_usd"].sum() == pytest.approx(0.064032 * 2 + 38.556572)


def test_missing_mandatory_columns_listed(tmp_path):
    src = (DATA / "focus_1.2_aws_head.csv").read_text().splitlines()
    df = pd.read_csv(DATA / "focus_1.2_aws_head.csv", dtype=str)
    df = df.drop(columns=["InvoiceId", "ServiceSubcategory"])
    p = tmp_path / "f.csv"
    df.to_csv(p, index=False)
    bill = S.read_focus(p)
    assert bill.missing["1.2"] == ["ServiceSubcategory", "InvoiceId"]
    assert bill.missing["1.0"] == []
    assert bill.version == "1.0"
    assert len(src) == 5


def test_bad_values_name_file_line_column(tmp_path):
    p = tmp_path / "bad.csv"
    S.write_synthetic_focus(p, resources=2, hours=5)
    lines = p.read_text().splitlines()
    header = lines[0].split(",")
    i = header.index("EffectiveCost")
    f = lines[4].split(",")
    f[i] = "12,5"  # a decimal comma: one more field
    lines[4] = ",".join(f[:i] + ['"12,5"'] + f[i + 1:])
    p.write_text("\n".join(lines) + "\n")
    with pytest.raises(S.SpendInputError) as e:
        S.read_focus(p)
    assert e.value.row == 5 and e.value.column == "EffectiveCost"
    assert "bad.csv" in str(e.value)
    q = tmp_path / "nocol.csv"
    pd.read_csv(DATA / "focus_1.2_aws_head.csv", dtype=str).rename(
        columns={"EffectiveCost": "EfectiveCost"}).to_csv(q, index=False)
    with pytest.raises(S.SpendInputError, match="did you mean 'EfectiveCost'"):
        S.read_focus(q)


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_synthetic_bill_gpu_mapping_and_waste(tmp_path, suffix):
    p = tmp_path / f"bill{suffix}"
    n = S.write_synthetic_focus(p, resources=12, hours=48)
    bill = S.read_focus(p)
    assert bill.rows == n == 12 * 48
    mapping = S.gpu_line_items(bill)
    assert set(mapping["accelerator"]) <= {"H100-SXM", "H200-SXM", "L40S"}
    got = bill.sql("SELECT instance_type, accelerator, gpus_per_unit FROM focus_gpu "
                   "GROUP BY ALL")
    for it, acc, g in got.itertuples(index=False):
        assert {"p5.48xlarge": ("H100-SXM", 8), "p5en.48xlarge": ("H200-SXM", 8),
                "g6e.xlarge": ("L40S", 1), "g6e.12xlarge": ("L40S", 4)}[it] == (acc, g)
    a = S.analyze_spend(bill)
    # unused commitments equal the Unused rows' cost computed independently
    raw = bill.sql("SELECT sum(EffectiveCost) AS u FROM focus "
                   "WHERE CommitmentDiscountStatus = 'Unused'")["u"].iloc[0] or 0.0
    assert a.summary["unused_commitment_usd"] == pytest.approx(raw)
    assert a.waste_by_team["unused_commitment_usd"].sum() == pytest.approx(raw)
    assert a.summary["effective_usd"] == pytest.approx(a.by_category["effective_usd"].sum())


def test_telemetry_idle_cost_joined_to_bill(tmp_path):
    p = tmp_path / "bill.csv"
    S.write_synthetic_focus(p, resources=6, hours=24, committed_share=0.0, spot_share=0.0)
    bill = S.read_focus(p)
    S.gpu_line_items(bill)
    gpu = bill.sql("SELECT ResourceId, any_value(gpus_per_unit) AS g, "
                   "any_value(EffectiveCost / gpu_hours) AS rate FROM focus_gpu GROUP BY ALL")
    rid, g, rate = gpu.iloc[0]
    log = tmp_path / f"{rid}.csv"
    log.write_text(S.synthetic_nvidia_smi(rid, gpus=int(g), hours=24, start="2026-05-01",
                                          idle_hours=((0, 6),)))
    u = S.read_utilization([log])
    assert u["resource_id"].eq(rid).all() and u["gpu_util"].between(0, 1).all()
    a = S.analyze_spend(bill, u, idle_threshold=0.1)
    assert a.summary["idle_gpu_hours"] == pytest.approx(6 * int(g))
    assert a.summary["idle_usd"] == pytest.approx(6 * int(g) * rate)


def test_dcgm_dump_and_errors(tmp_path):
    p = tmp_path / "dcgm.prom"
    p.write_text(S.synthetic_dcgm(["host-a"], gpus=2, hours=2))
    u = S.read_dcgm(p)
    assert set(u["resource_id"]) == {"host-a"} and u["sm_active"].notna().all()
    assert len(u) == 2 * 4  # 2 GPUs x 4 half-hour scrapes
    p.write_text('DCGM_FI_DEV_GPU_UTIL{gpu="0",Hostname="h"} 50\n')
    with pytest.raises(S.SpendInputError, match="line 1.*without a timestamp"):
        S.read_dcgm(p)
    q = tmp_path / "smi.csv"
    q.write_text("timestamp, uuid, utilization.gpu [%], memory.used [MiB]\n"
                 "2026/05/01 00:00:00.000, GPU-1, 50 %, 100 MiB\n"
                 "2026/05/01 00:00:30.000, GPU-1, lots %, 100 MiB\n")
    with pytest.raises(S.SpendInputError) as e:
        S.read_nvidia_smi(q)
    assert e.value.row == 3 and e.value.column == "utilization.gpu [%]"


def test_shortfall_from_demand(tmp_path):
    p = tmp_path / "bill.csv"
    S.write_synthetic_focus(p, resources=4, hours=6, committed_share=0.0, spot_share=0.0)
    bill = S.read_focus(p)
    S.gpu_line_items(bill)
    prov = bill.sql("SELECT ChargePeriodStart AS t, accelerator, sum(gpu_hours) AS g "
                    "FROM focus_gpu GROUP BY ALL")
    d = prov.assign(gpus=prov["g"] + 3).rename(columns={"t": "timestamp"})[
        ["timestamp", "accelerator", "gpus"]]
    a = S.analyze_spend(bill, demand=d)
    assert a.summary["shortfall_gpu_hours"] == pytest.approx(3 * len(prov))


def test_demand_from_bill_matches_gpu_hours(tmp_path):
    p = tmp_path / "bill.csv"
    S.write_synthetic_focus(p, resources=6, hours=30)
    d = S.demand_from_bill(p)
    bill = S.read_focus(p)
    S.gpu_line_items(bill)
    used = bill.sql("SELECT sum(gpu_hours) AS g FROM focus_gpu "
                    "WHERE coalesce(CommitmentDiscountStatus, 'Used') <> 'Unused'")["g"].iloc[0]
    assert d["gpus"].sum() == pytest.approx(used)
    assert set(d["workload_class"]) <= {"training", "serving", "batch", "web"}
