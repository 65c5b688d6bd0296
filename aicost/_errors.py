"""Exceptions raised by aicost, and the "did you mean" helper they share.

Every error says what was wrong and how to fix it. The classes subclass the
builtin that callers would naturally catch (``ValueError``, ``LookupError``,
``RuntimeError``) so plain ``except ValueError`` keeps working.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "AicostError",
    "BackendUnavailableError",
    "CatalogError",
    "CatalogWarning",
    "InfeasibleError",
    "InputFileError",
    "StoreError",
    "UnknownNameError",
    "did_you_mean",
]


class AicostError(Exception):
    """Base class of every error aicost raises on purpose."""


class InputFileError(AicostError, ValueError):
    """An input file (catalog CSV, demand CSV, bill, log) is malformed.

    The message names the file, the 1-based line (the header is line 1) and the column, and
    says what was expected; ``path``, ``row``, ``column`` and ``reason`` keep them apart.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.path = None if path is None else str(path)
        self.row = row
        self.column = column
        self.reason = message
        where = []
        if path is not None:
            where.append(str(path))
        if row is not None:
            where.append(f"line {row}")
        if column is not None:
            where.append(f"column {column!r}")
        prefix = ", ".join(where)
        super().__init__(f"{prefix}: {message}" if prefix else message)


class CatalogError(InputFileError):
    """A catalog CSV is malformed.

    Parameters
    ----------
    message : str
        What is wrong and what was expected.
    path : str, optional
        The file.
    row : int, optional
        1-based line number in the file (the header is line 1).
    column : str, optional
        The column name.
    """


class CatalogWarning(UserWarning):
    """A catalog import kept going but has something to say: rows dropped (and why), or an
    imported offer kept beside a curated row with the same key instead of replacing it."""


class UnknownNameError(AicostError, LookupError):
    """A name (accelerator, instance, model, backend, ...) is not known.

    The message lists the closest known names.
    """

    def __init__(self, kind: str, name: str, choices: Iterable[str], hint: str = "") -> None:
        self.kind = kind
        self.name = name
        self.choices = sorted(set(choices), key=str.lower)
        self.suggestions = did_you_mean(name, self.choices)
        msg = f"unknown {kind} {name!r}"
        if self.suggestions:
            msg += "; did you mean " + " or ".join(repr(s) for s in self.suggestions) + "?"
        elif self.choices:
            shown = ", ".join(self.choices[:12])
            more = f" (and {len(self.choices) - 12} more)" if len(self.choices) > 12 else ""
            msg += f"; known: {shown}{more}"
        if hint:
            msg += f" {hint}"
        super().__init__(msg)

    def __str__(self) -> str:  # LookupError would repr() the message
        return str(self.args[0])


class StoreError(AicostError, RuntimeError):
    """The results store cannot be used (corrupt file, unknown schema, lock timeout)."""


class BackendUnavailableError(AicostError, RuntimeError):
    """A benchmark backend cannot run here; the message says why."""


class InfeasibleError(AicostError, ValueError):
    """No plan satisfies the constraints; the message names the constraint and what to relax."""


def did_you_mean(name: str, choices: Iterable[str], n: int = 3, cutoff: float = 0.5) -> list[str]:
    """Return up to ``n`` known names closest to ``name`` (case-insensitive).

    Parameters
    ----------
    name : str
        What the user typed.
    choices : iterable of str
        Known names.
    n : int
        Most suggestions returned.
    cutoff : float
        Similarity threshold in [0, 1] (difflib ratio).

    Returns
    -------
    list of str
        Suggestions, best first, in their original spelling.
    """
    choices = list(dict.fromkeys(choices))
    lowered = {c.lower(): c for c in choices}
    key = name.lower()
    hits = difflib.get_close_matches(key, list(lowered), n=n, cutoff=cutoff)
    # substring matches help for short names such as "h100" -> "H100-SXM"
    if len(hits) < n:
        for low in lowered:
            if key and (key in low or low in key) and low not in hits:
                hits.append(low)
            if len(hits) >= n:
                break
    return [lowered[h] for h in hits]
