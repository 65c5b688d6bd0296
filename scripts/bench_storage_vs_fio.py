#!/usr/bin/env python
"""Measure the same files with fio and with aicost.storage.measure, side by side.

Both run with the same options on the very same files: aicost lays out one file per worker in
its work directory under the names fio gives job ``aicostjob``'s files (``aicostjob.<n>.0``), and
fio runs with ``--name=aicostjob --directory=<workdir>``, so it reuses them. The runs alternate
(fio, aicost, fio, aicost, ...) so that drift on a shared machine hits both; the median of the
repeats of each is compared (robust to the odd outlier run of either tool; the best of each is
printed too).

    python scripts/bench_storage_vs_fio.py --dir . --size 1GiB --duration 10
    python scripts/bench_storage_vs_fio.py --dir /mnt/nvme --cases seqread:1MiB randread:4KiB

Target: aicost / fio between 0.9 and 1.1 for 1 MiB sequential reads and 4 KiB random reads.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from statistics import median

from aicost._units import parse_bytes
from aicost.storage import FIO_RW, Workspace, measure
from aicost.storage._measure import JOB_NAME

DEFAULT_CASES = ("seqread:1MiB", "randread:4KiB")


@dataclass(frozen=True)
class Comparison:
    """One pattern and block size measured by both tools (medians of the repeats)."""

    pattern: str
    block_size_bytes: int
    fio_bytes_per_s: float
    aicost_bytes_per_s: float
    fio_iops: float
    aicost_iops: float
    fio_runs: tuple[float, ...]
    aicost_runs: tuple[float, ...]

    @property
    def ratio(self) -> float:
        """aicost throughput / fio throughput (medians of the repeats)."""
        return self.aicost_bytes_per_s / self.fio_bytes_per_s

    @property
    def best_ratio(self) -> float:
        """aicost's best run / fio's best run."""
        return max(self.aicost_runs) / max(self.fio_runs)


def run_fio(workdir, pattern: str, block_size: int, workers: int, file_size: int,
            duration_s: float, ramp_s: float) -> dict:
    """Run fio on the files in ``workdir``; return ``{"bytes_per_s", "iops", "lat_p50_s"}``."""
    cmd = [
        "fio", f"--name={JOB_NAME}", f"--directory={workdir}", "--ioengine=psync", "--direct=1",
        f"--rw={FIO_RW[pattern]}", f"--bs={block_size}", f"--numjobs={workers}",
        f"--size={file_size}", f"--runtime={duration_s:g}", "--time_based",
        f"--ramp_time={ramp_s:g}", "--group_reporting", "--output-format=json",
        "--randrepeat=0",
    ]
    # cwd=workdir: fio treats a file named like the job in its cwd as the job's file
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=workdir,
                          timeout=duration_s + ramp_s + 120)
    if proc.returncode != 0:
        raise RuntimeError(f"fio failed ({proc.returncode}): {proc.stderr.strip() or proc.stdout[-500:]}")
    text = proc.stdout[proc.stdout.index("{"):]  # fio may print notes before the JSON
    job = json.loads(text)["jobs"][0]
    side = job["write" if pattern.endswith("write") else "read"]
    pct = side.get("clat_ns", {}).get("percentile", {})
    return {
        "bytes_per_s": float(side["bw_bytes"]),
        "iops": float(side["iops"]),
        "lat_p50_s": float(pct.get("50.000000", "nan")) / 1e9,
    }


def compare(directory, cases=DEFAULT_CASES, *, workers: int = 4, file_size="1GiB",
            duration_s: float = 10.0, ramp_s: float = 1.0, repeats: int = 3,
            verbose: bool = True, engine: str = "threads") -> list[Comparison]:
    """Run fio and aicost alternately on the same files; return one Comparison per case (medians).

    Parameters
    ----------
    directory : path
        Directory on the file system to measure (must support O_DIRECT).
    cases : iterable of str
        ``"pattern:block_size"`` items, e.g. ``"randread:4KiB"``.
    workers, file_size, duration_s, ramp_s
        As in :func:`aicost.storage.measure` (fio's numjobs, size, runtime, ramp_time).
    repeats : int
        Runs of each tool per case, alternated; the medians are compared.
    engine : {"threads", "processes"}
        aicost's worker engine.
    """
    if shutil.which("fio") is None:
        raise FileNotFoundError("fio is not installed (Debian/Ubuntu: apt-get install fio)")
    size = parse_bytes(file_size)
    out = []
    with Workspace(directory, workers=workers, file_size=size) as ws:
        for case in cases:
            pattern, _, bs_text = case.partition(":")
            bs = parse_bytes(bs_text or "1MiB")
            fio_runs, ai_runs, fio_iops, ai_iops = [], [], [], []
            for _ in range(repeats):
                f = run_fio(ws.workdir, pattern, bs, workers, size, duration_s, ramp_s)
                extra = set(os.listdir(ws.workdir)) - {p.name for p in ws.paths}
                if extra:
                    raise RuntimeError(f"fio did not use aicost's files; it created {sorted(extra)}")
                a = measure(directory, pattern, bs, workers, size, duration_s, ramp_s,
                            workspace=ws, engine=engine)
                fio_runs.append(f["bytes_per_s"])
                fio_iops.append(f["iops"])
                ai_runs.append(a.bytes_per_s)
                ai_iops.append(a.iops)
                if verbose:
                    print(f"  {pattern:9s} bs={bs:>8d}  fio {f['bytes_per_s'] / 1e6:9.1f} MB/s "
                          f"{f['iops']:9.0f} IOPS   aicost {a.bytes_per_s / 1e6:9.1f} MB/s "
                          f"{a.iops:9.0f} IOPS", flush=True)
            out.append(Comparison(pattern, bs, median(fio_runs), median(ai_runs),
                                  median(fio_iops), median(ai_iops), tuple(fio_runs),
                                  tuple(ai_runs)))
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--dir", default=".", help="directory to measure (default: .)")
    ap.add_argument("--cases", nargs="+", default=list(DEFAULT_CASES),
                    help="pattern:block_size items (default: seqread:1MiB randread:4KiB)")
    ap.add_argument("--workers", type=int, default=4)
    ap.add_argument("--size", default="1GiB", help="file size per worker (default 1GiB)")
    ap.add_argument("--duration", type=float, default=10.0, help="seconds per run (default 10)")
    ap.add_argument("--ramp", type=float, default=1.0, help="ramp seconds (default 1)")
    ap.add_argument("--repeats", type=int, default=3, help="alternated runs per tool (default 3)")
    ap.add_argument("--engine", choices=("threads", "processes"), default="threads",
                    help="aicost's workers: threads (default) or processes (as fio's jobs)")
    ap.add_argument("--json", help="also write the comparison as JSON here")
    args = ap.parse_args(argv)
    rows = compare(args.dir, args.cases, workers=args.workers, file_size=args.size,
                   duration_s=args.duration, ramp_s=args.ramp, repeats=args.repeats,
                   engine=args.engine)
    print(f"\n{'pattern':9s} {'bs':>8s} {'fio MB/s':>10s} {'aicost MB/s':>12s} {'ratio':>6s} "
          f"{'best/best':>9s}  target (medians of {args.repeats} runs)")
    for c in rows:
        ok = 0.9 <= c.ratio <= 1.1
        print(f"{c.pattern:9s} {c.block_size_bytes:>8d} {c.fio_bytes_per_s / 1e6:10.1f} "
              f"{c.aicost_bytes_per_s / 1e6:12.1f} {c.ratio:6.3f} {c.best_ratio:9.3f}  "
              f"{'0.9-1.1 ok' if ok else 'outside 0.9-1.1'}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump([{**c.__dict__, "ratio": c.ratio, "best_ratio": c.best_ratio} for c in rows],
                      fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
