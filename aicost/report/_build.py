"""Run a report template with parameters (papermill) and export it to offline HTML (nbconvert)."""

from __future__ import annotations

import os
import re
import sys
import tempfile
from pathlib import Path

from .._errors import AicostError
from ._export import notebook_to_html, write_atomic
from ._kinds import coerce_params, get_kind

__all__ = ["ReportError", "build", "execute_template", "export_notebook"]

#: seconds one template cell may run before the report is abandoned
CELL_TIMEOUT_S = 900
#: seconds to wait for the report kernel to start
KERNEL_START_TIMEOUT_S = 120
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


class ReportError(AicostError, RuntimeError):
    """A report could not be produced: a template cell raised, or the export failed.

    Attributes
    ----------
    kind : str
        The report kind (or the notebook exported).
    cell_index : int or None
        Index of the failing cell in the executed notebook.
    section : str or None
        The section that cell belongs to (its first comment line).
    ename, evalue : str or None
        The exception's type and message inside the kernel.
    traceback : str
        The kernel's traceback, without terminal colours.
    """

    def __init__(self, message: str, *, kind: str, cell_index: int | None = None,
                 section: str | None = None, ename: str | None = None,
                 evalue: str | None = None, traceback: str = "") -> None:
        super().__init__(message)
        self.kind = kind
        self.cell_index = cell_index
        self.section = section
        self.ename = ename
        self.evalue = evalue
        self.traceback = traceback


def _kernel_manager_class():
    """A kernel manager whose ``python3`` kernel is *this* Python (``sys.executable``).

    A ``python3`` kernelspec in the user's Jupyter folders may point at another environment
    without aicost; a report must run with the aicost that builds it.
    """
    from jupyter_client.kernelspec import KernelSpec, KernelSpecManager
    from jupyter_client.manager import AsyncKernelManager
    from traitlets import default

    class _ThisPythonSpecs(KernelSpecManager):
        def get_kernel_spec(self, kernel_name):
            if kernel_name in ("python3", "python"):
                return KernelSpec(
                    # the kernel's own log (shutdown chatter) would only clutter the terminal:
                    # what a cell raises reaches the user through papermill
                    argv=[sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}",
                          "--IPKernelApp.log_level=CRITICAL"],
                    display_name=f"Python {sys.version_info.major}.{sys.version_info.minor}",
                    language="python",
                    metadata={"debugger": False},
                )
            return super().get_kernel_spec(kernel_name)

    class _ThisPythonKernelManager(AsyncKernelManager):
        @default("transport")
        def _transport_default(self):
            # Unix sockets where available: no TCP port, and no "unencrypted TCP" warning
            return "ipc" if os.name == "posix" else "tcp"

        @default("kernel_spec_manager")
        def _kernel_spec_manager_default(self):
            return _ThisPythonSpecs(data_dir=self.data_dir)

    return _ThisPythonKernelManager


#: what running and exporting a report needs (the ``notebooks`` extra)
_NEEDS = ("papermill", "nbconvert", "nbformat", "nbclient", "jupyter_client", "ipykernel",
          "IPython")


def _require_notebook_extra() -> None:
    """Fail early, naming every missing package and the extra that installs them."""
    import importlib.util

    missing = [m for m in _NEEDS if importlib.util.find_spec(m) is None]
    if missing:
        raise ModuleNotFoundError(
            f"aicost reports need {', '.join(missing)}: pip install 'aicost[notebooks]'",
            name=missing[0],
        )


def _section_of(cell) -> str | None:
    """The section a template cell belongs to: metadata ``aicost.section`` or its first comment."""
    meta = cell.get("metadata", {}).get("aicost", {})
    if isinstance(meta, dict) and meta.get("section"):
        return str(meta["section"])
    for line in str(cell.get("source", "")).splitlines():
        line = line.strip()
        if line.startswith("#"):
            return line.lstrip("#").strip() or None
        if line:
            break
    return None


def _section_progress(progress):
    """An nbclient ``on_cell_execute`` hook calling ``progress(section, number)`` once per new
    section (number counts from 1); None without ``progress``."""
    if progress is None:
        return None
    seen: list[str] = []

    def hook(cell=None, cell_index=None, **_):
        if cell is None or cell.get("cell_type") != "code":
            return
        section = _section_of(cell)
        if section and section not in seen and not section.lower().startswith("parameters"):
            seen.append(section)
            progress(section, len(seen))

    return hook


def execute_template(template: Path, parameters: dict, *, cwd: str | os.PathLike | None = None,
                     kind: str | None = None, timeout: float = CELL_TIMEOUT_S, progress=None):
    """Execute a notebook with papermill; return the executed notebook (nbformat node).

    ``progress``, a callable ``(section, number)``, is called as each section starts.

    Raises
    ------
    ReportError
        When a cell raises: the message names the cell, its section and the exception.
    """
    _require_notebook_extra()
    import nbformat
    import papermill as pm
    from papermill.exceptions import PapermillExecutionError

    kind = kind or Path(template).stem
    with tempfile.TemporaryDirectory(prefix="aicost-report-") as tmp:
        out_nb = Path(tmp) / Path(template).name
        try:
            pm.execute_notebook(
                str(template), str(out_nb), parameters=parameters, kernel_name="python3",
                language="python", progress_bar=False, log_output=False,
                request_save_on_cell_execute=False, cwd=str(cwd or os.getcwd()),
                execution_timeout=timeout, start_timeout=KERNEL_START_TIMEOUT_S,
                kernel_manager_class=_kernel_manager_class(),
                **({"on_cell_execute": _section_progress(progress)} if progress else {}),
            )
        except PapermillExecutionError as exc:
            section = None
            try:
                failed = nbformat.read(out_nb, as_version=4)
                # papermill puts an error banner cell first; find the cell by its execution count
                for cell in failed.cells:
                    if cell.get("cell_type") == "code" and cell.get("execution_count") == exc.exec_count:
                        section = _section_of(cell)
                        break
            except (OSError, ValueError):  # unreadable partial notebook: only names the section
                pass
            tb = _ANSI.sub("", "\n".join(exc.traceback or []))
            where = f"cell {exc.cell_index}" + (f" ({section})" if section else "")
            raise ReportError(
                f"report {kind!r} failed in {where}: {exc.ename}: {exc.evalue}",
                kind=kind, cell_index=exc.cell_index, section=section, ename=exc.ename,
                evalue=exc.evalue, traceback=tb,
            ) from None
        nb = nbformat.read(out_nb, as_version=4)
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    return nb


def _normalize_paths(values: dict) -> dict:
    """Make user file paths absolute (the kernel may run elsewhere) and check they exist."""
    extra = values.get("extra")
    if extra:
        paths = []
        for p in extra:
            path = Path(p).expanduser()
            if not path.is_file():
                raise FileNotFoundError(f"catalog CSV {p!r} (parameter 'extra') does not exist")
            paths.append(str(path.resolve()))
        values["extra"] = paths
    return values


#: report parameters naming a model preset: checked before a kernel starts
_MODEL_PARAMS = ("model", "train_model", "serve_model")


def _prevalidate(values: dict) -> None:
    """Catch a mistyped model name in a second instead of after a kernel start."""
    names = [values[p] for p in _MODEL_PARAMS if values.get(p)]
    if not names:
        return
    try:
        from ..model import get_model
    except ImportError:  # the model layer is optional for the report layer
        return
    for name in names:
        get_model(name)  # raises aicost.UnknownNameError with the closest names


def build(kind: str, output: str | os.PathLike = "report.html", *, show_code: bool = False,
          keep_notebook: bool = False, timeout: float = CELL_TIMEOUT_S, progress=None,
          **params) -> Path:
    """Build a report: run the template of ``kind`` with ``params``, export it to offline HTML.

    Parameters
    ----------
    kind : str
        One of :func:`aicost.report.kinds` (``benchmark``, ``catalog``, ``demo``,
        ``serving_plan``, ``training_plan``); :func:`aicost.report.describe` lists what each
        expects.
    output : path
        Where to write the HTML. The file is replaced only once the whole report succeeded.
    show_code : bool
        Show the code cells (hidden by default).
    keep_notebook : bool
        Also write the executed notebook next to the HTML (same name, ``.ipynb``).
    timeout : float [s]
        Longest time one cell may run.
    progress : callable, optional
        ``progress(section, number)`` is called as each section of the template starts (the
        CLI prints it, so a long report shows where it is).
    **params
        The report's parameters, e.g. ``model="llama-3.1-70b", tokens=2e12, deadline="30d"``.

    Returns
    -------
    pathlib.Path
        The HTML file written, as ``output`` named it (relative stays relative).

    Raises
    ------
    aicost.UnknownNameError
        Unknown kind (lists the known ones).
    ValueError
        A missing, unknown or malformed parameter (lists what the kind expects).
    ReportError
        A template cell raised (names the cell, its section and the error); no HTML is written.
    """
    k = get_kind(kind)
    values = _normalize_paths(coerce_params(k.name, params))
    _prevalidate(values)
    given = Path(output).expanduser()
    output = given.resolve()
    if output.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"report output must be an .html file, got {str(output)!r}")
    if output.exists() and output.is_dir():
        raise IsADirectoryError(f"report output {str(output)!r} is a directory; name a .html file")
    nb = execute_template(k.template, values, kind=k.name, timeout=timeout, progress=progress)
    title = values.get("title") or f"aicost {k.name.replace('_', ' ')} report"
    html = notebook_to_html(nb, title=title, show_code=show_code)
    if keep_notebook:
        import nbformat

        write_atomic(output.with_suffix(".ipynb"), nbformat.writes(nb))
    write_atomic(output, html)
    return given


def export_notebook(notebook: str | os.PathLike, output: str | os.PathLike | None = None, *,
                    execute: bool = False, show_code: bool = True,
                    timeout: float = CELL_TIMEOUT_S) -> Path:
    """Export a notebook (a tutorial, your own analysis) as an offline HTML report.

    Parameters
    ----------
    notebook : path
        The ``.ipynb`` file.
    output : path, optional
        The HTML file; default ``reports/<notebook name>.html`` under the current directory.
    execute : bool
        Run the notebook first (papermill, with this Python); by default the outputs saved in
        the file are exported as they are, which takes a second or two.
    show_code : bool
        Keep the code cells (a tutorial's code is part of the story); ``False`` hides them.
    timeout : float [s]
        Longest time one cell may run when ``execute`` is true.

    Returns
    -------
    pathlib.Path
        The HTML file written, as ``output`` named it (default ``reports/<name>.html``).
    """
    import nbformat

    src = Path(notebook).expanduser()
    if not src.is_file():
        raise FileNotFoundError(f"notebook {str(notebook)!r} does not exist")
    if output is None:
        output = Path("reports") / f"{src.stem}.html"
    given = Path(output).expanduser()
    output = given.resolve()
    if execute:
        nb = execute_template(src, {}, cwd=src.resolve().parent, kind=src.name, timeout=timeout)
    else:
        nb = nbformat.read(src, as_version=4)
    title = nb.metadata.get("title") or src.stem.replace("_", " ")
    html = notebook_to_html(nb, title=title, show_code=show_code)
    write_atomic(output, html)
    return given
