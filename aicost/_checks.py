"""Argument checks shared by the layers: one wording for "must be a positive number".

Each check raises ``ValueError`` that names the argument and the value it got, so the caller's
message says what to fix. The model, hardware and plan layers use these instead of private
copies.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def _shown(value):
    """``value`` as people write it in a message (numpy scalars as plain Python numbers)."""
    return value.item() if isinstance(value, np.generic) else value


__all__ = [
    "MAX_INPUT_BYTES",
    "as_tuple",
    "check_nonnegative",
    "check_positive",
    "positive_int",
    "read_bounded",
]

#: largest user input file (demand CSV, telemetry log, demand trace) read into memory [B]
MAX_INPUT_BYTES = 256 << 20


def check_positive(name: str, value, unit: str = "", *, allow_zero: bool = False) -> float:
    """``float(value)`` when it is a finite number > 0 (>= 0 with ``allow_zero``).

    Parameters
    ----------
    name : str
        The argument's name, as the caller spells it.
    value : object
    unit : str
        Appended to the message (``" [USD]"``, ``" of tokens"``).
    allow_zero : bool
        Accept 0.

    Raises
    ------
    ValueError
        Not a number, not finite, negative, or zero without ``allow_zero``.
    """
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number{unit}, got {_shown(value)!r}") from None
    if not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        what = ">= 0" if allow_zero else "a positive number"
        raise ValueError(f"{name} must be {what}{unit}, got {_shown(value)!r}")
    return v


def check_nonnegative(name: str, value, default: float | None = None) -> float:
    """``float(value)`` when finite and >= 0; ``default`` when ``value`` is None."""
    if value is None:
        if default is None:
            raise ValueError(f"{name} is required")
        return float(default)
    return check_positive(name, value, allow_zero=True)


def positive_int(name: str, value, allow_zero: bool = False) -> int:
    """``int(value)`` when it is a whole number > 0 (>= 0 with ``allow_zero``); bools refused."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer, float)) or (
            isinstance(value, float) and not value.is_integer()):
        raise ValueError(f"{name} must be an integer, got {_shown(value)!r}")
    v = int(value)
    if v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be {'>= 0' if allow_zero else 'positive'}, got {_shown(value)!r}")
    return v


def as_tuple(value, default: Sequence) -> tuple:
    """``value`` as a tuple: ``default`` for None, a 1-tuple for a scalar or a string."""
    if value is None:
        return tuple(default)
    if isinstance(value, (int, np.integer, str)):
        return (value,)
    return tuple(value)


def read_bounded(path, what: str, max_bytes: int | None = None, error=None) -> bytes:
    """The bytes of the file ``path`` (gunzipped when it ends in ``.gz``), at most ``max_bytes``.

    Parameters
    ----------
    path : path-like
        The file.
    what : str
        What the file should be ("a demand CSV"), for the message.
    max_bytes : int, optional
        Refuse a larger (decompressed) file [B]; default :data:`MAX_INPUT_BYTES`. ``/dev/zero``
        or a mistaken multi-GB file must give an error, not eat the memory.
    error : type, optional
        The :class:`aicost._errors.InputFileError` subclass to raise (default that class).

    Raises
    ------
    aicost._errors.InputFileError
        The file is larger than the limit or cannot be decompressed.
    FileNotFoundError, OSError
        The file cannot be opened.
    """
    import gzip

    from ._errors import InputFileError

    error = InputFileError if error is None else error
    limit = MAX_INPUT_BYTES if max_bytes is None else int(max_bytes)
    name = str(path)
    opener = gzip.open if name.endswith(".gz") else open
    try:
        with opener(path, "rb") as fh:
            raw = fh.read(limit + 1)
    except (gzip.BadGzipFile, EOFError) as exc:
        raise error(f"cannot decompress: {exc}", path=name) from None
    if len(raw) > limit:
        raise error(f"the file is larger than {limit >> 20} MiB; is it {what}? "
                             "(split it, or aggregate it first)", path=name)
    return raw
