"""Reading one catalog CSV file: bounded in size, UTF-8, strict CSV, errors naming file and line.

Shared by the catalog loader (``_load``) and the SkyPilot import (``_skypilot``), which must not
import each other.
"""

from __future__ import annotations

import csv
import io

from .._errors import CatalogError

__all__ = ["MAX_FILE_BYTES", "read_rows"]

#: largest catalog file read [B] (a million instance rows take about 100 MB)
MAX_FILE_BYTES = 256 << 20


def read_rows(path, text: str | None = None, name: str | None = None,
              max_bytes: int | None = None) -> tuple[list[str], list[tuple[int, list[str]]]]:
    """The header and ``(line, fields)`` of each non-blank record of a CSV file.

    Parameters
    ----------
    path : path
        The file, read unless ``text`` is given.
    text : str, optional
        The file's content, already read.
    name : str, optional
        What errors call the file (default ``str(path)``; a URL for a downloaded catalog).
    max_bytes : int, optional
        Refuse larger files [B] (default :data:`MAX_FILE_BYTES`): ``--extra /dev/zero`` must not
        eat the memory.

    Raises
    ------
    CatalogError
        Missing or unreadable file, too large, not UTF-8, a NUL byte, malformed CSV, no header.
    """
    name = str(path) if name is None else name
    limit = MAX_FILE_BYTES if max_bytes is None else max_bytes
    if text is None:
        try:
            with open(path, "rb") as fh:
                raw = fh.read(limit + 1)
            if len(raw) > limit:
                raise CatalogError(f"the file is larger than {limit >> 20} MiB; is it a "
                                   "catalog CSV?", path=name)
        except FileNotFoundError:
            raise CatalogError("file not found", path=name) from None
        except OSError as exc:
            raise CatalogError(f"cannot read the file: {exc.strerror or exc}", path=name) from None
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            raise CatalogError(f"not UTF-8 text (byte {exc.start})", path=name, row=line) from None
    if "\x00" in text:
        line = text[: text.index("\x00")].count("\n") + 1
        raise CatalogError("the file holds a NUL byte; is it a CSV text file?", path=name, row=line)
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    header: list[str] | None = None
    rows: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for fields in reader:
            line, start = start, reader.line_num + 1
            if not fields or all(not f.strip() for f in fields):
                continue
            if header is None:
                header = [f.strip() for f in fields]
                continue
            rows.append((line, fields))
    except csv.Error as exc:
        raise CatalogError(f"malformed CSV: {exc}", path=name, row=start) from None
    if header is None:
        raise CatalogError("the file is empty; expected a header line", path=name, row=1)
    return header, rows
