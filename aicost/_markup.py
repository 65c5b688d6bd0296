"""Text that shows dollars must not turn into math.

JupyterLab renders Markdown and HTML outputs through MathJax, and plotly.js sends any label with
two ``$`` signs to MathJax: "Cost $1.28M: 48 nodes at $42/h" becomes italic math between the
two dollars. These helpers write ``$`` so that it stays a dollar sign.
"""

from __future__ import annotations

__all__ = ["mathjax_safe", "mathjax_safe_markdown"]


def mathjax_safe(text: object) -> str:
    """``text`` with every ``$`` written as the HTML entity ``&#36;``.

    For HTML (``_repr_html_``, reports) and for plotly labels (titles, annotations, hover
    text): the browser and plotly.js show ``&#36;`` as ``$``, MathJax never sees a ``$``.
    Escape HTML first (``html.escape``), then call this: the entity must not be escaped again.

    >>> mathjax_safe("Cost $1.28M at $42/h")
    'Cost &#36;1.28M at &#36;42/h'
    """
    return str(text).replace("$", "&#36;")


def mathjax_safe_markdown(text: object) -> str:
    r"""``text`` with every ``$`` written ``\$``, for Markdown (``_repr_markdown_``, Markdown
    cells): Jupyter's Markdown renderer shows ``\$`` as a dollar sign, not as math.

    >>> mathjax_safe_markdown("Cost $1.28M at $42/h")
    'Cost \\$1.28M at \\$42/h'
    """
    return str(text).replace("\\$", "$").replace("$", "\\$")
