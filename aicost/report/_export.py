"""Executed notebook -> one offline HTML file (nbconvert), plotly.js embedded exactly once."""

from __future__ import annotations

import copy
import os
import re
import tempfile
from pathlib import Path

__all__ = [
    "OFFLINE_CSP",
    "PLOTLY_MIMETYPE",
    "embed_plotly",
    "enforce_offline",
    "external_resources",
    "notebook_to_html",
    "write_atomic",
]

PLOTLY_MIMETYPE = "application/vnd.plotly.v1+json"
_TEMPLATE_DIR = Path(__file__).resolve().parent / "nbconvert"
_TEMPLATE_NAME = "aicost_offline"
#: chart options: no plotly logo (a link off the machine)
_PLOTLY_CONFIG = {"displaylogo": False, "responsive": True}
#: what an output of plotly's "notebook" renderer (or a user's include_plotlyjs=True) holds
_BUNDLE_MARK = re.compile(r"plotly\.js v\d|window\.PlotlyConfig\s*=")


def _plotly_html(fig_json: dict, include_plotlyjs: bool) -> str:
    import plotly.io as pio

    return pio.to_html(
        fig_json, include_plotlyjs=include_plotlyjs, full_html=False, validate=False,
        config=_PLOTLY_CONFIG, include_mathjax=False,
    )


def _bundle_html() -> str:
    from plotly.offline import get_plotlyjs

    return f'<script type="text/javascript">{get_plotlyjs()}</script>'


def embed_plotly(nb):
    """Return a copy of ``nb`` whose plotly figures are HTML with plotly.js embedded once.

    Figures shown with plotly's mimetype renderer (the default in Jupyter) become a ``<div>``
    plus ``Plotly.newPlot``; the first one carries the plotly.js bundle. Outputs that carried
    their own copy of the bundle (plotly's "notebook" renderer) are dropped, so the page holds
    one copy however the notebook drew its charts.
    """
    nb = copy.deepcopy(nb)
    embedded = False
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        new_outputs = []
        for out in cell.get("outputs", []):
            data = out.get("data") if out.get("output_type") in ("display_data",
                                                                 "execute_result") else None
            if not data:
                new_outputs.append(out)
                continue
            if PLOTLY_MIMETYPE in data:
                out["data"] = {"text/html": _plotly_html(data[PLOTLY_MIMETYPE], not embedded)}
                embedded = True
                new_outputs.append(out)
                continue
            html = data.get("text/html")
            if isinstance(html, list):
                html = "".join(html)
            if html and _BUNDLE_MARK.search(html):
                continue  # a copy of plotly.js (renderer init): drop it, we embed our own once
            if html and "Plotly.newPlot" in html and not embedded:
                out["data"] = {**data, "text/html": _bundle_html() + html}
                embedded = True
            new_outputs.append(out)
        cell["outputs"] = new_outputs
    return nb


def notebook_to_html(nb, title: str | None = None, show_code: bool = False) -> str:
    """Render an executed notebook to a standalone, offline HTML page.

    Parameters
    ----------
    nb : nbformat.NotebookNode
        The executed notebook.
    title : str, optional
        The page title (``<title>``).
    show_code : bool
        Show the code cells (hidden by default: reports are read by people who do not code).
    """
    from nbconvert import HTMLExporter

    nb = embed_plotly(nb)
    if not show_code:
        # a code cell without output would leave an empty block in the page
        nb.cells = [c for c in nb.cells if c.get("cell_type") != "code" or c.get("outputs")]
    if title:
        nb.metadata["title"] = title
    nb.metadata.pop("widgets", None)  # widget state would pull the widget manager off a CDN
    exporter = HTMLExporter(
        template_name=_TEMPLATE_NAME,
        extra_template_basedirs=[str(_TEMPLATE_DIR)],
        exclude_input=not show_code,
        exclude_input_prompt=True,
        exclude_output_prompt=True,
    )
    body, _ = exporter.from_notebook_node(nb)
    body = enforce_offline(body)
    leaks = external_resources(body)
    if leaks:  # pragma: no cover - guarded by tests; fail loudly rather than ship a CDN page
        raise RuntimeError(f"the exported report would load resources from the network: {leaks}")
    return body


_EXTERNAL = re.compile(
    r"""<(?:script|link|img|iframe)\b[^>]*?\b(?:src|href)\s*=\s*["']?((?:https?:)?//[^"'\s>]+)""",
    re.IGNORECASE,
)


#: Content-Security-Policy of every exported page: the browser itself refuses every load from
#: the network (CSS url()/@import, srcset, <svg><image>, <video>, <object>, fetch(), ...).
#: Inline scripts and styles (plotly.js embedded, its inline styles) and data:/blob: URLs stay
#: allowed; 'unsafe-eval' because plotly.js compiles some functions at run time.
OFFLINE_CSP = ("default-src 'none'; script-src 'unsafe-inline' 'unsafe-eval'; "
               "style-src 'unsafe-inline'; img-src data: blob:; font-src data:; "
               "media-src data: blob:; connect-src 'none'; frame-src 'none'; child-src 'none'; "
               "object-src 'none'; worker-src blob:; manifest-src 'none'; base-uri 'none'; "
               "form-action 'none'")
_HEAD = re.compile(r"<head\b[^>]*>", re.IGNORECASE)
#: <meta http-equiv="refresh"> navigates away (CSP does not cover it): removed
_META_REFRESH = re.compile(r"""<meta\b[^>]*\bhttp-equiv\s*=\s*["']?\s*refresh\b[^>]*>""",
                           re.IGNORECASE)


def enforce_offline(html: str) -> str:
    """Return ``html`` with :data:`OFFLINE_CSP` as the first element of ``<head>`` and every
    ``<meta http-equiv="refresh">`` removed, so that the page loads nothing from the network
    whatever its cells hold."""
    html = _META_REFRESH.sub("", html)
    meta = f'<meta http-equiv="Content-Security-Policy" content="{OFFLINE_CSP}">'
    m = _HEAD.search(html)
    if m is None:
        return f"<head>{meta}</head>" + html
    return html[:m.end()] + meta + html[m.end():]


def external_resources(html: str) -> list[str]:
    """Return the URLs that ``<script src>``, ``<link href>``, ``<img src>``, ``<iframe src>``
    in ``html`` would fetch from the network (an offline report has none)."""
    return sorted(set(_EXTERNAL.findall(html)))


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and a rename.

    A failure leaves the previous file (if any) untouched and removes the temporary file.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; a report is an ordinary file
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
