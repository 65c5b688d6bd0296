"""Where aicost finds its shipped data and keeps its own files."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["aicost_home", "data_dir"]


def data_dir() -> Path:
    """Return the directory holding the shipped ``data/`` (catalog, models, sample results).

    A wheel carries it as ``aicost/data``; in a source checkout (editable
    install) it is the repository's top-level ``data/``.
    """
    here = Path(__file__).resolve().parent
    for candidate in (here / "data", here.parent / "data"):
        if (candidate / "catalog").is_dir():
            return candidate
    raise FileNotFoundError(
        f"aicost's data directory is missing (looked in {here / 'data'} and {here.parent / 'data'}); "
        "reinstall the package with `pip install aicost` or `pip install .` from the repository"
    )


def aicost_home() -> Path:
    """Return aicost's own directory: ``$AICOST_HOME`` or ``~/.aicost`` (not created here)."""
    env = os.environ.get("AICOST_HOME")
    return Path(env).expanduser() if env else Path.home() / ".aicost"
