"""Text that shows dollars must not turn into math.

JupyterLab renders Markdown and HTML outputs through MathJax, and plotly.js sends any label with
two ``$`` signs to MathJax: "Cost $1.28M: 48 nodes at $42/h" becomes italic math between the
two dollars. These helpers write ``$`` so that it stays a dollar sign.
"""

from __future__ import annotations

__all__ = [
    "MATHJAX_IGNORE_CLASSES",
    "escape_figure",
    "mathjax_safe",
    "mathjax_safe_html",
    "mathjax_safe_markdown",
    "plotly_text",
]

#: the classes MathJax 3 (``mathjax_ignore``) and MathJax 2 / JupyterLab configs
#: (``tex2jax_ignore``) skip when they typeset a page
MATHJAX_IGNORE_CLASSES = "tex2jax_ignore mathjax_ignore"


def mathjax_safe(text: object) -> str:
    """``text`` with every ``$`` written as the HTML entity ``&#36;``.

    For HTML (``_repr_html_``, reports) and for plotly labels (titles, annotations, hover
    text): the browser and plotly.js show ``&#36;`` as ``$``, MathJax never sees a ``$``.
    Escape HTML first (``html.escape``), then call this: the entity must not be escaped again.

    >>> mathjax_safe("Cost $1.28M at $42/h")
    'Cost &#36;1.28M at &#36;42/h'
    """
    return str(text).replace("$", "&#36;")


def mathjax_safe_html(html_text: object) -> str:
    """An HTML fragment (a ``_repr_html_``, an ipywidgets ``HTML`` value) that no MathJax
    typesets: wrapped in an element of class :data:`MATHJAX_IGNORE_CLASSES`, ``$`` as ``&#36;``.

    The entity alone is not enough in JupyterLab: the browser decodes it into the page's text
    and JupyterLab's MathJax reads the text, so "Cost &#36;1.28M at &#36;42/h" still became
    math between the two dollars. MathJax skips everything inside an ignore class.

    >>> mathjax_safe_html("<b>$42/h</b>")
    '<div class="tex2jax_ignore mathjax_ignore"><b>&#36;42/h</b></div>'
    """
    return f'<div class="{MATHJAX_IGNORE_CLASSES}">{mathjax_safe(html_text)}</div>'


def mathjax_safe_markdown(text: object) -> str:
    r"""``text`` with every ``$`` written ``\$``, for Markdown (``_repr_markdown_``, Markdown
    cells): Jupyter's Markdown renderer shows ``\$`` as a dollar sign, not as math.

    >>> mathjax_safe_markdown("Cost $1.28M at $42/h")
    'Cost \\$1.28M at \\$42/h'
    """
    return str(text).replace("\\$", "$").replace("$", "\\$")


# ---------------------------------------------------------------------------- plotly text
#: figure fields that hold data (user strings: catalog names, hosts, teams): every tag escaped
_DATA_FIELDS = ("name", "text", "hovertext", "x", "y", "z", "labels", "customdata", "ids",
                "header", "cells", "values", "parents", "legendgrouptitle")
#: fields written by aicost with intended markup (<br>, <b>, <extra>): only links neutralized
_TEMPLATE_FIELDS = ("hovertemplate", "texttemplate")


def plotly_text(value: object) -> str:
    """``value`` as a string plotly shows as plain text: ``<`` and ``>`` as entities.

    plotly.js renders a subset of HTML in labels, hover text and legends (``<a href>`` becomes
    a live link, ``<span style>`` restyles); a catalog cell such as ``<a href="http://...">``
    must show as typed. ``&`` is left alone so that entities already written (``&#36;`` from
    :func:`mathjax_safe`) still show as their character.

    >>> plotly_text('<a href="http://x">H100</a>')
    '&lt;a href="http://x"&gt;H100&lt;/a&gt;'
    """
    return str(value).replace("<", "&lt;").replace(">", "&gt;")


def _escape_data(v):
    if isinstance(v, str):
        return plotly_text(v)
    if isinstance(v, dict):
        return {k: _escape_data(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return type(v)(_escape_data(x) for x in v)
    if getattr(v, "dtype", None) is not None and getattr(v.dtype, "kind", "") in "OUS":
        return [_escape_data(x) for x in v.tolist()]
    return v


def _no_links(text):
    import re

    if not isinstance(text, str) or "<a" not in text.lower():
        return text
    return re.sub(r"<(/?\s*a\b[^>]*)>", r"&lt;\1&gt;", text, flags=re.IGNORECASE)


def escape_figure(fig):
    """Escape the user strings of a plotly figure in place and return it.

    Data fields of every trace (``name``, ``text``, ``hovertext``, categorical ``x``/``y``,
    string ``customdata``, ...) get :func:`plotly_text`; templates and layout texts (titles,
    axis titles, annotations), which aicost writes with intended markup, lose only links
    (``<a ...>``), which may have come from a user string spliced into them.
    """
    for trace in getattr(fig, "data", ()):
        for field in _DATA_FIELDS:
            if field not in trace:
                continue
            v = trace[field]
            if v is None:
                continue
            if field in ("header", "cells"):  # go.Table: values inside
                vals = v["values"] if "values" in v else None
                if vals is not None:
                    v["values"] = _escape_data(list(vals))
                continue
            if field == "legendgrouptitle":
                if v["text"]:
                    v["text"] = plotly_text(v["text"])
                continue
            new = _escape_data(v)
            if new is not v:
                trace[field] = new
        for field in _TEMPLATE_FIELDS:
            if field in trace and trace[field] is not None:
                t = trace[field]
                trace[field] = ([_no_links(x) for x in t] if isinstance(t, (list, tuple))
                                else _no_links(t))
    layout = getattr(fig, "layout", None)
    if layout is not None:
        if layout.title is not None and layout.title.text:
            layout.title.text = _no_links(layout.title.text)
        for ann in layout.annotations or ():
            if ann.text:
                ann.text = _no_links(ann.text)
        for key in list(layout.to_plotly_json()):
            if key.startswith(("xaxis", "yaxis")):
                axis = layout[key]
                if axis.title is not None and axis.title.text:
                    axis.title.text = _no_links(axis.title.text)
                if axis.ticktext is not None:
                    axis.ticktext = _escape_data(list(axis.ticktext))
        if layout.legend is not None and layout.legend.title is not None \
                and layout.legend.title.text:
            layout.legend.title.text = plotly_text(layout.legend.title.text)
    return fig
