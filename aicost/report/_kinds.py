"""The report kinds, the template each one executes and the parameters each one expects.

A kind is a template notebook (``aicost/report/templates/<kind>.ipynb``) with a cell tagged
``parameters``. :func:`describe` lists what a kind expects; :func:`coerce_params` checks and
converts what a user passed (from Python or from the command line) into the plain JSON values
papermill injects into the notebook.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

from .._errors import UnknownNameError
from .._units import parse_bytes, parse_duration

__all__ = ["KINDS", "Kind", "Param", "coerce_params", "describe", "get_kind", "kinds", "template_path"]

#: marker for a parameter without a default
REQUIRED = object()

_TEMPLATES = Path(__file__).resolve().parent / "templates"


@dataclass(frozen=True)
class Param:
    """One parameter of a report kind.

    Parameters
    ----------
    name : str
        Python name in the template's ``parameters`` cell.
    type : str
        ``str``, ``float``, ``int``, ``bool``, ``duration`` (seconds; accepts ``"30d"``),
        ``bytes`` (accepts ``"64MiB"``), ``list`` (of str; accepts ``"aws,gcp"``), ``path``.
    help : str
        What it means, with its unit.
    default : object
        Its default; :data:`REQUIRED` when the user must give it.
    """

    name: str
    type: str
    help: str
    default: object = REQUIRED

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    def describe(self) -> str:
        dflt = "required" if self.required else f"default {self.default!r}"
        return f"{self.name} ({self.type}, {dflt}): {self.help}"

    def coerce(self, value):
        """Return ``value`` converted to this parameter's type (a JSON-able value)."""
        if value is None:
            return None
        t = self.type
        try:
            if t in ("str", "path"):
                return str(value)
            if t == "bool":
                if isinstance(value, str):
                    low = value.strip().lower()
                    if low in ("1", "true", "yes", "y", "on"):
                        return True
                    if low in ("0", "false", "no", "n", "off"):
                        return False
                    raise ValueError("write true or false")
                return bool(value)
            if t == "int":
                if isinstance(value, str):
                    f = float(value)
                else:
                    f = float(value)
                if not f.is_integer():
                    raise ValueError("not a whole number")
                return int(f)
            if t == "float":
                f = float(value)
                if not math.isfinite(f):
                    raise ValueError("not a finite number")
                return f
            if t == "duration":
                return float(parse_duration(value))
            if t == "bytes":
                return int(parse_bytes(value))
            if t == "list":
                if isinstance(value, str):
                    items = [v.strip() for v in value.split(",")]
                else:
                    items = [str(v).strip() for v in value]
                return [v for v in items if v]
        except (TypeError, ValueError) as exc:
            raise ValueError(
                f"parameter {self.name!r} expects {t} ({self.help}); got {value!r}: {exc}"
            ) from None
        raise AssertionError(f"unknown parameter type {t!r}")  # pragma: no cover


_TITLE = Param("title", "str", "title shown at the top of the report", None)
_NOTE = Param("note", "str", "free text shown under the title (escaped, never run as HTML)", "")
_PROVIDERS = Param("providers", "list", "only offers of these providers, e.g. aws,gcp", None)
_PRICING = Param("pricing", "list", "pricing models to consider: on_demand, spot, reserved",
                 ["on_demand", "spot"])
_EFFICIENCY = Param("efficiency", "float",
                    "override the compute efficiency factor (achieved/peak, 0-1); default: "
                    "measured in the store, else the documented default", None)
_EXTRA = Param("extra", "list", "user catalog CSVs adding or overriding rows (paths)", None)


@dataclass(frozen=True)
class Kind:
    """A report kind: its template and its parameters."""

    name: str
    summary: str
    params: tuple[Param, ...] = field(default_factory=tuple)

    @property
    def template(self) -> Path:
        return _TEMPLATES / f"{self.name}.ipynb"

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise KeyError(name)

    def describe(self) -> str:
        lines = [f"{self.name}: {self.summary}", "parameters:"]
        lines += [f"  {p.describe()}" for p in self.params]
        return "\n".join(lines)


KINDS: dict[str, Kind] = {
    k.name: k
    for k in (
        Kind(
            "benchmark",
            "measure this machine's compute (or show a stored run): table, roofline, % of peak",
            (
                _TITLE, _NOTE,
                Param("suite", "str", "benchmark suite: quick or full", "quick"),
                Param("backend", "str", "compute backend: auto, numpy, numba, cupy, numba-cuda",
                      "auto"),
                Param("run_id", "str", "show this stored run instead of measuring", None),
                Param("store", "bool", "save the measurement in the results store", True),
            ),
        ),
        Kind(
            "training_plan",
            "what to rent to train a model on N tokens by a deadline or within a budget",
            (
                Param("model", "str", "model preset, e.g. llama-3.1-70b"),
                Param("tokens", "float", "training tokens, e.g. 2e12"),
                Param("deadline", "duration", "wall-clock deadline [s]; accepts 30d, 72h", None),
                Param("budget_usd", "float", "budget [USD]", None),
                _PROVIDERS, _PRICING, _EFFICIENCY, _EXTRA, _TITLE, _NOTE,
            ),
        ),
        Kind(
            "serving_plan",
            "how many GPUs/replicas to serve a model at a request rate and latency target",
            (
                Param("model", "str", "model preset, e.g. llama-3.1-8b"),
                Param("qps", "float", "requests per second"),
                Param("prompt_tokens", "int", "input tokens per request", 512),
                Param("output_tokens", "int", "output tokens per request", 256),
                Param("ttft", "duration", "time-to-first-token target [s]; accepts 1s, 500ms", 1.0),
                Param("tpot", "duration", "time-per-output-token target [s]; accepts 50ms", 0.05),
                _PROVIDERS, _PRICING, _EFFICIENCY, _EXTRA, _TITLE, _NOTE,
            ),
        ),
        Kind(
            "fleet",
            "every GPU of a fleet benchmarked through Dask: spread per SKU, slow units, "
            "stragglers, $ per measured bf16 PFLOP-hour and TB/s-hour per node",
            (
                Param("fleet_id", "str", "a stored fleet run (default: the newest one)", None),
                Param("simulate_nodes", "int", "instead, a SIMULATED fleet of this many 8-GPU "
                      "H200 nodes built from the shipped H200 measurements (0: off)", 0),
                Param("threshold", "float", "robust z-score above which a unit is an outlier",
                      3.5),
                Param("min_slower_pct", "float", "... and at least this much slower than its "
                      "SKU's median [%]", 5.0),
                _PROVIDERS, _TITLE, _NOTE,
            ),
        ),
        Kind(
            "catalog",
            "what accelerators cost per hour and per unit of work across providers",
            (_PROVIDERS,
             Param("accelerators", "list", "only these accelerators, e.g. h100,h200,mi300x", None),
             _EXTRA, _TITLE, _NOTE),
        ),
        Kind(
            "demo",
            "the main job: catalog, a quick benchmark of this machine, storage and network, "
            "a training and a serving plan, with the recommendation at the top",
            (
                _TITLE, _NOTE,
                Param("train_model", "str", "model to plan training for", "llama-3.1-8b"),
                Param("train_tokens", "float", "training tokens", 1e12),
                Param("train_deadline", "duration", "training deadline [s]", 30 * 86400.0),
                Param("serve_model", "str", "model to plan serving for", "llama-3.1-8b"),
                Param("serve_qps", "float", "requests per second to serve", 20.0),
                Param("prompt_tokens", "int", "input tokens per request", 512),
                Param("output_tokens", "int", "output tokens per request", 256),
                Param("ttft", "duration", "time-to-first-token target [s]", 1.0),
                Param("tpot", "duration", "time-per-output-token target [s]", 0.05),
                _PROVIDERS, _PRICING,
                Param("bench_suite", "str", "compute benchmark suite", "quick"),
                Param("backend", "str", "compute backend", "auto"),
                Param("measure_storage", "bool", "run the short storage measurement", True),
                Param("measure_network", "bool", "run the short loopback network measurement",
                      True),
                Param("storage_seconds", "float",
                      "measured time per storage pattern (1 MiB sequential read, 4 KiB random "
                      "read) [s]", 1.0),
                Param("network_seconds", "float", "duration of the network measurement [s]", 1.0),
                Param("store", "bool", "save the measurements in the results store", True),
            ),
        ),
        Kind(
            "spend",
            "commitments vs on-demand vs spot over a year of demand, and waste from a FOCUS "
            "bill and GPU telemetry (synthetic samples when no input is given)",
            (
                Param("demand", "path", "hourly demand CSV: timestamp, accelerator, gpus", None),
                Param("focus", "path", "FOCUS 1.0-1.3 bill, CSV or Parquet", None),
                Param("utilization", "list", "nvidia-smi CSV logs / DCGM dumps (paths)", None),
                Param("provider", "str", "commitment offers and prices of this provider", "aws"),
                Param("whole_units", "bool", "commit whole instances (mixed-integer program)",
                      False),
                Param("tag", "str", "Tags key that groups the bill", "team"),
                Param("idle_threshold", "float", "GPU utilization under which an hour is idle "
                      "(0-1)", 0.1),
                _TITLE, _NOTE,
            ),
        ),
    )
}


def kinds() -> list[str]:
    """Return the names of the report kinds, sorted."""
    return sorted(KINDS)


def get_kind(kind: str) -> Kind:
    """Return the :class:`Kind` named ``kind``; an unknown name lists the known ones."""
    key = str(kind).strip().lower().replace("-", "_")
    if key not in KINDS:
        raise UnknownNameError(
            "report kind", str(kind), KINDS,
            hint="Known kinds: " + ", ".join(kinds()) + "; see aicost.report.describe(kind).",
        )
    return KINDS[key]


def describe(kind: str | None = None) -> str:
    """Describe one report kind (its parameters), or all of them when ``kind`` is None."""
    if kind is None:
        return "\n\n".join(KINDS[k].describe() for k in kinds())
    return get_kind(kind).describe()


def template_path(kind: str) -> Path:
    """Return the template notebook of a report kind."""
    return get_kind(kind).template


def coerce_params(kind: str, params: dict) -> dict:
    """Check ``params`` against what ``kind`` expects; return them converted, defaults filled in.

    Raises
    ------
    ValueError
        For an unknown parameter, a missing required one, or a value of the wrong type; the
        message lists what the kind expects.
    """
    k = get_kind(kind)
    known = {p.name: p for p in k.params}
    unknown = sorted(set(params) - set(known))
    if unknown:
        from .._errors import did_you_mean

        hints = []
        for name in unknown:
            s = did_you_mean(name, known)
            hints.append(f"{name!r}" + (f" (did you mean {s[0]!r}?)" if s else ""))
        raise ValueError(
            f"report kind {k.name!r} has no parameter {', '.join(hints)}.\n{k.describe()}"
        )
    missing = [p.name for p in k.params if p.required and params.get(p.name) is None]
    if missing:
        raise ValueError(
            f"report kind {k.name!r} needs parameter(s) {', '.join(missing)}.\n{k.describe()}"
        )
    out = {}
    for p in k.params:
        value = params.get(p.name, None if p.required else p.default)
        out[p.name] = p.coerce(value) if value is not None else None
    return out
