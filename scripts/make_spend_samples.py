"""Write the synthetic spend samples in data/samples/ (seeded; every name says synthetic).

    .venv/bin/python scripts/make_spend_samples.py [OUT_DIR]

- ``synthetic_demand_2026.csv``: a year of hourly GPU demand (H100 training campaigns, H100 and
  L40S serving with a day/week cycle that grows through the year).
- ``synthetic_focus_2026-05.parquet``: a FOCUS 1.2 cost-and-usage export (Parquet, as the
  providers' exports are), 24 AWS resources x 14 days
  hourly (on demand, 1-year commitments with some Unused hours, spot), tagged team/project.
- ``synthetic_nvidia-smi_<ResourceId>.csv``: nvidia-smi logs of two GPU hosts in that bill (one
  with a day and a half idle), and ``synthetic_dcgm_2026-05.prom`` a DCGM exporter dump of a
  third (one sample every two hours).
"""

from __future__ import annotations

import sys
from pathlib import Path

from aicost import spend as S

OUT = Path(__file__).resolve().parent.parent / "data" / "samples"
SEED = 2026
START = "2026-05-01"
HOURS = 24 * 14


def main(out: Path = OUT) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = []
    p = out / "synthetic_demand_2026.csv"
    S.synthetic_demand(seed=SEED).to_csv(p, index=False)
    written.append(p)
    p = out / "synthetic_focus_2026-05.parquet"
    S.write_synthetic_focus(p, resources=24, hours=HOURS, start=START, seed=SEED)
    written.append(p)
    bill = S.read_focus(p)
    S.gpu_line_items(bill)
    hosts = bill.sql("SELECT ResourceId, any_value(gpus_per_unit) AS g, "
                     f"any_value({bill.tag('team')}) AS team FROM focus_gpu "
                     "WHERE gpus_per_unit = 8 GROUP BY ALL ORDER BY ResourceId")
    smi = hosts.head(2)
    for k, (rid, g, team) in enumerate(smi.itertuples(index=False)):
        p = out / f"synthetic_nvidia-smi_{rid}.csv"
        idle = ((48, 84),) if k == 0 else ()
        p.write_text(S.synthetic_nvidia_smi(rid, team=team, gpus=int(g), hours=HOURS,
                                            start=START, interval_s=3600, idle_hours=idle,
                                            seed=SEED + k))
        written.append(p)
    dcgm = hosts.iloc[2:3]
    p = out / "synthetic_dcgm_2026-05.prom"
    p.write_text(S.synthetic_dcgm(list(dcgm["ResourceId"]), team=str(dcgm["team"].iloc[0]),
                                  gpus=8, hours=HOURS, start=START, interval_s=7200,
                                  idle_hours=((200, 260),), seed=SEED))
    written.append(p)
    return written


if __name__ == "__main__":
    for path in main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT):
        print(path, f"{path.stat().st_size / 1e6:.2f} MB")
