"""Shared by the report, demo and browser tests: one demo report per test session.

Each report build starts a kernel (5-10 s on 2 cores) and the demo measures this machine, so
the demo is built once and the tests that read it share the file.
"""

from __future__ import annotations

import os
from pathlib import Path

#: a user string that must stay text in every report (it would set window.__pwned if it ran)
XSS = '<script>window.__pwned = 1</script><img src=x onerror="window.__pwned=2">'

_CACHE: dict[str, Path] = {}


def demo_report(tmp_path_factory) -> Path:
    """Build the demo report once per session (small measurements, nothing stored)."""
    if "demo" not in _CACHE:
        import aicost

        out = tmp_path_factory.mktemp("demo") / "demo.html"
        old = os.environ.get("AICOST_HOME")
        os.environ["AICOST_HOME"] = str(tmp_path_factory.mktemp("demo_home"))
        try:
            aicost.demo.run_demo(output=out, store=False, note=f"note {XSS}",
                                 storage_seconds=0.5, network_seconds=0.5)
        finally:
            if old is None:
                os.environ.pop("AICOST_HOME", None)
            else:
                os.environ["AICOST_HOME"] = old
        _CACHE["demo"] = out
    return _CACHE["demo"]


#: a user catalog row whose cells carry script payloads (instance type and source)
HOSTILE_CSV = (
    "provider,instance_type,region,accelerator,accelerator_count,vcpus,memory_gib,network_gbps,"
    "local_nvme_tb,price_on_demand_usd_per_hour,price_spot_usd_per_hour,"
    "price_reserved_1y_usd_per_hour,scale_up_fabric,scale_out_fabric,source,as_of\n"
    'aws,"<script>window.__pwned=3</script>",us-east-1,H100-SXM,8,192,2048,3200,30.72,30.00,,,'
    'nvlink4,efa-v2,"negotiated <img src=x onerror=window.__pwned=4>",2026-11-01\n'
)


def catalog_report(tmp_path_factory) -> Path:
    """Build, once per session through the CLI, a catalog report of aws and lambda offers with
    a user CSV whose cells hold script payloads, and a hostile note."""
    if "catalog" not in _CACHE:
        import aicost

        d = tmp_path_factory.mktemp("catalog_report")
        csv = d / "negotiated.csv"
        csv.write_text(HOSTILE_CSV)
        out = d / "cat.html"
        rc = aicost.cli.main(["report", "catalog", "--providers", "aws,lambda", "--extra",
                              str(csv), "--note", XSS, "-o", str(out)])
        assert rc == 0
        _CACHE["catalog"] = out
    return _CACHE["catalog"]
