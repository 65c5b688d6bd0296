"""`plan_inference` (in progress)."""

from __future__ import annotations

__all__ = ["plan_inference"]


def plan_inference(*args, **kwargs):
    raise NotImplementedError("plan_inference is being written")
