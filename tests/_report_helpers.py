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
