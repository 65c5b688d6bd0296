"""HTML reports that open offline: parameterized notebook templates, executed and exported.

A report is a notebook: the template of a report kind (``aicost/report/templates/<kind>.ipynb``)
is executed with your parameters by papermill, then exported to one HTML file by nbconvert with
the code hidden, plotly.js embedded once and no request to any network::

    import aicost
    aicost.report.kinds()                      # ['benchmark', 'catalog', 'demo', ...]
    print(aicost.report.describe("training_plan"))
    aicost.report.build("training_plan", "plan.html",
                        model="llama-3.1-70b", tokens=2e12, deadline="30d")
    aicost.report.export_notebook("00_catalog_tour.ipynb")   # any notebook -> reports/*.html

The same from the shell: ``aicost report training_plan --model llama-3.1-70b --tokens 2e12
--deadline 30d -o plan.html``.
"""

from __future__ import annotations

from . import blocks
from ._build import ReportError, build, export_notebook
from ._export import external_resources
from ._kinds import Kind, Param, coerce_params, describe, get_kind, kinds, template_path

__all__ = [
    "Kind",
    "Param",
    "ReportError",
    "blocks",
    "build",
    "coerce_params",
    "describe",
    "export_notebook",
    "external_resources",
    "get_kind",
    "kinds",
    "template_path",
]
