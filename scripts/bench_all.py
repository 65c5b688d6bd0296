"""Run every CPU-side benchmark of aicost in one go (`make bench`).

Each script prints its figure beside the reference it is compared with (a ratio measured
side by side in the same run, never a timed unit test):

- ``bench_planner.py``: planner candidates per second (reference 1e6/s) and plan latency (2 s)
- ``bench_storage_vs_fio.py``: aicost.storage against fio on the same files (0.9 - 1.1)
- ``bench_network_vs_iperf3.py``: aicost.network against iperf3 on loopback (>= 0.8)

The compute benchmarks on a GPU live in ``scripts/device_check.py``.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> int:
    runs = [["bench_planner.py", "--repeat", "3"]]
    if shutil.which("fio"):
        runs.append(["bench_storage_vs_fio.py", "--size", "256MiB", "--duration", "5",
                     "--repeats", "2", "--dir", "."])
    else:
        print("skipping the fio comparison: fio is not installed (apt-get install fio)")
    if shutil.which("iperf3"):
        runs.append(["bench_network_vs_iperf3.py", "--duration", "5", "--repeats", "2",
                     "--length", "1MiB"])
    else:
        print("skipping the iperf3 comparison: iperf3 is not installed (apt-get install iperf3)")
    status = 0
    for args in runs:
        print(f"\n=== {' '.join(args)}", flush=True)
        status |= subprocess.call([sys.executable, str(HERE / args[0]), *args[1:]])
    return status


if __name__ == "__main__":
    sys.exit(main())
