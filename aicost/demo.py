"""The main job, ``aicost demo``: one offline HTML report of what aicost knows and finds here.

It shows the catalog (what accelerators cost per hour and per unit of work), benchmarks this
machine's compute briefly (the quick suite; CPU where there is no GPU), measures its disk and
loopback network for a second or two, plans a training run and a serving deployment, and puts the
recommendation in words at the top. Each part that cannot run here says why in the report; the
rest is still written. It is the ``demo`` report kind of :mod:`aicost.report`.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["DEMO_DEFAULTS", "run_demo"]

#: the demo's questions: small enough to answer in seconds on a laptop, real enough to matter
#: (a Llama 3.1 8B pre-training run and a chat service); see `aicost report --describe demo`
DEMO_DEFAULTS = {
    "train_model": "llama-3.1-8b",
    "train_tokens": 1e12,
    "train_deadline": "30d",
    "serve_model": "llama-3.1-8b",
    "serve_qps": 20.0,
}


def run_demo(output: str | os.PathLike = "reports/demo.html", store: bool = True,
             progress=None, **params) -> Path:
    """Run the demo and write its HTML report.

    Parameters
    ----------
    output : path
        The HTML file (its folder is created). Replaced only when the report is complete.
    store : bool
        Save the measurements (benchmark, storage, network) in the results store
        (``$AICOST_HOME/results.duckdb``).
    progress : callable, optional
        ``progress(section, number)`` as each section starts (``aicost demo`` prints it).
    **params
        Any parameter of the ``demo`` report kind (``aicost.report.describe("demo")``), e.g.
        ``train_model="llama-3.1-70b"``, ``measure_storage=False``.

    Returns
    -------
    pathlib.Path
        The report written.
    """
    from . import report

    values = {**DEMO_DEFAULTS, **params, "store": bool(store)}
    return report.build("demo", output, progress=progress, **values)
