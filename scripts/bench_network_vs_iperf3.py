#!/usr/bin/env python
"""Measure loopback TCP throughput with iperf3 and with aicost.network.measure_tcp, side by side.

iperf3 runs as ``iperf3 -s`` on a free loopback port (one test, ``-1``) and
``iperf3 -c 127.0.0.1 -P 4 -t 5 -O 1 -J``; aicost runs with the same streams, duration and
warm-up. The runs alternate so that drift on a shared machine hits both; the best of the repeats
of each is compared (received bits per second, iperf3's ``sum_received``).

    python scripts/bench_network_vs_iperf3.py --streams 4 --duration 5 --omit 1

Target: aicost / iperf3 >= 0.8. By default each tool uses its own write size (iperf3 128 KiB,
aicost 1 MiB); loopback throughput depends on it, so ``--length 1MiB`` gives both the same for a
like-for-like comparison (iperf3 ``-l``).
"""

from __future__ import annotations

import argparse
import json
import shutil
import socket
import subprocess
import sys
import time

from aicost._units import parse_bytes
from aicost.network import measure_tcp


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    """True when some socket listens on ``port`` (Linux /proc/net/tcp; else wait 0.5 s)."""
    try:
        with open("/proc/net/tcp") as fh:
            rows = fh.read().splitlines()[1:]
    except OSError:
        time.sleep(0.5)
        return True
    for row in rows:
        parts = row.split()
        if parts[1].endswith(f":{port:04X}") and parts[3] == "0A":
            return True
    return False


def run_iperf3(streams: int = 4, duration_s: float = 5.0, omit_s: float = 1.0,
               host: str = "127.0.0.1", length: int | None = None) -> float:
    """Run an iperf3 server and client on loopback; return received bits per second."""
    if shutil.which("iperf3") is None:
        raise FileNotFoundError("iperf3 is not installed (Debian/Ubuntu: apt-get install iperf3)")
    port = free_port(host)
    server = subprocess.Popen(["iperf3", "-s", "-1", "-B", host, "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        # wait until the server listens (a probe connection would use up iperf3's one test)
        t0 = time.monotonic()
        while not _listening(port):
            if server.poll() is not None or time.monotonic() - t0 > 10:
                raise RuntimeError(f"iperf3 server did not start: {server.stderr.read()}")
            time.sleep(0.05)
        proc = subprocess.run(
            ["iperf3", "-c", host, "-p", str(port), "-P", str(streams), "-t", f"{duration_s:g}",
             "-O", f"{omit_s:g}", "-J", *(["-l", str(length)] if length else [])],
            capture_output=True, text=True, timeout=duration_s + omit_s + 60)
        data = json.loads(proc.stdout)
        if "error" in data:
            raise RuntimeError(f"iperf3 failed: {data['error']}")
        return float(data["end"]["sum_received"]["bits_per_second"])
    finally:
        server.kill()
        server.wait(5)


def compare(streams: int = 4, duration_s: float = 5.0, omit_s: float = 1.0, repeats: int = 2,
            verbose: bool = True, length: int | None = None) -> dict:
    """Alternate iperf3 and aicost runs; return the best of each and their ratio.

    ``length`` [B]: write size for both tools (None: each tool's default).
    """
    ip, ai = [], []
    extra = {"buffer_bytes": int(length)} if length else {}
    for _ in range(repeats):
        ip.append(run_iperf3(streams, duration_s, omit_s, length=length))
        ai.append(measure_tcp("127.0.0.1", 0, streams=streams, duration_s=duration_s,
                              omit_s=omit_s, **extra).bits_per_s)
        if verbose:
            print(f"  iperf3 {ip[-1] / 1e9:8.2f} Gbit/s   aicost {ai[-1] / 1e9:8.2f} Gbit/s",
                  flush=True)
    return {"iperf3_bits_per_s": max(ip), "aicost_bits_per_s": max(ai),
            "ratio": max(ai) / max(ip), "iperf3_runs": ip, "aicost_runs": ai}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--streams", type=int, default=4)
    ap.add_argument("--duration", type=float, default=5.0)
    ap.add_argument("--omit", type=float, default=1.0)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--length", help="write size for both tools, e.g. 1MiB (default: each "
                    "tool's own, iperf3 128 KiB and aicost 1 MiB)")
    ap.add_argument("--json", help="also write the comparison as JSON here")
    args = ap.parse_args(argv)
    length = parse_bytes(args.length) if args.length else None
    res = compare(args.streams, args.duration, args.omit, args.repeats, length=length)
    print(f"\niperf3 {res['iperf3_bits_per_s'] / 1e9:.2f} Gbit/s, aicost "
          f"{res['aicost_bits_per_s'] / 1e9:.2f} Gbit/s, ratio {res['ratio']:.3f} "
          f"({'>= 0.8 ok' if res['ratio'] >= 0.8 else 'below the 0.8 target'})")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(res, fh, indent=2)
    return 0


if __name__ == "__main__":
    sys.exit(main())
