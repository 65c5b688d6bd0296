"""The refreshed-catalog cache on disk: where it is, which files are valid, their import.

``$AICOST_HOME/catalog/<source>/<version>/<provider>/vms.csv`` with ``meta.json`` beside it
(url, etag, last_modified, fetched_at, checked_at, sha256, bytes). Written by
:func:`aicost.catalog.refresh`; read by :func:`aicost.catalog.load` (which includes every valid
cached catalog unless ``refreshed=False``). Kept apart from ``_refresh`` so that ``_load`` can
use it without an import cycle.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import os
from pathlib import Path

import pandas as pd

from .._paths import aicost_home
from ._skypilot import import_skypilot

__all__ = ["SOURCES", "cache_dir", "cached_files", "import_cached", "read_meta",
           "refreshed_frames", "refreshed_stamps"]

SOURCES = ("skypilot", "gpuhunt")


def cache_dir(source: str = "skypilot", home: str | os.PathLike | None = None) -> Path:
    """``$AICOST_HOME/catalog/<source>`` (not created here)."""
    base = Path(home) if home is not None else aicost_home()
    return base / "catalog" / source


def read_meta(folder: Path) -> dict | None:
    """The cache's meta.json, or None when missing, unreadable or not matching the file."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
        data = (folder / "vms.csv").read_bytes()
    except (OSError, ValueError):
        return None
    if not isinstance(meta, dict) or meta.get("sha256") != hashlib.sha256(data).hexdigest():
        return None
    return meta


def parse_time(text) -> _dt.datetime | None:
    if not text:
        return None
    try:
        t = _dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return t if t.tzinfo else t.replace(tzinfo=_dt.timezone.utc)


def _candidates(source: str | None, home) -> list[tuple[str, Path]]:
    out = []
    for src in ([source] if source else SOURCES):
        root = cache_dir(src, home)
        if root.is_dir():
            out += [(src, p) for p in sorted(root.glob("*/*/vms.csv"))]
    return out


def cached_files(source: str | None = None, home=None) -> list[tuple[Path, dict]]:
    """Valid cached catalogs: ``(vms.csv path, meta dict with 'source')``."""
    out = []
    for src, path in _candidates(source, home):
        meta = read_meta(path.parent)
        if meta is not None:
            out.append((path, {**meta, "source": src}))
    return out


def refreshed_stamps(source: str | None = None, home=None) -> tuple:
    """A cheap key of the cache's state: (path, mtime, size) of each vms.csv and meta.json."""
    stamps = []
    for _src, path in _candidates(source, home):
        meta = path.parent / "meta.json"
        try:
            a, b = path.stat(), meta.stat()
        except OSError:
            continue
        stamps.append((str(path), a.st_mtime_ns, a.st_size, b.st_mtime_ns, b.st_size))
    return tuple(stamps)


def import_cached(folder: Path, meta: dict) -> pd.DataFrame:
    """The cached file imported with its fetch time as as_of and its URL as source."""
    fetched = parse_time(meta.get("fetched_at")) or _dt.datetime.now(_dt.timezone.utc)
    return import_skypilot(folder / "vms.csv", meta.get("provider") or folder.name, as_of=fetched,
                           source_url=meta.get("url"))


def refreshed_frames(stamps: tuple) -> list[pd.DataFrame]:
    """The import of each cached catalog in ``stamps`` (invalid ones skipped), quiet: the
    refresh already reported what it dropped."""
    frames = []
    for stamp in stamps:
        folder = Path(stamp[0]).parent
        meta = read_meta(folder)
        if meta is None:
            continue
        df = import_cached(folder, meta)
        df.attrs["aicost_quiet"] = True
        frames.append(df)
    return frames
