"""The planner's answer: the `Plan` (every candidate, the Pareto frontier, the infeasible summary)
and the `Recommendation` (the plan to pick, and why).

Both show themselves in Jupyter (``_repr_html_``) and in a terminal (``str``).
"""

from __future__ import annotations

import dataclasses
import datetime
import html
from dataclasses import dataclass
from functools import cached_property
from typing import ClassVar

import numpy as np
import pandas as pd

from .._markup import mathjax_safe_html
from .._units import format_duration, format_table, format_usd
from ._pareto import pareto_mask
from ._reasons import REASON_DETAIL_SEP

__all__ = ["Plan", "Recommendation", "Sensitivity"]

#: how many rows the text and HTML views show
_SHOW_ROWS = 8

_fmt_usd = format_usd


def _row_label(row) -> str:
    """A short name of a candidate row ("64x H100-SXM aws p5.48xlarge (spot)")."""
    gpus = f"{int(row['gpus'])}x " if "gpus" in row and pd.notna(row["gpus"]) else ""
    return f"{gpus}{row['accelerator']} {row['provider']} {row['instance_type']} ({row['pricing']})"


def _table(df: pd.DataFrame, columns) -> pd.DataFrame:
    """The rows people read, every cell through ``format_table`` (feasible rows drop ``reason``)."""
    return format_table(df.reset_index(drop=True), list(columns))


@dataclass(frozen=True)
class Sensitivity:
    """How the answer moves when the efficiency factor is lower than assumed.

    Attributes
    ----------
    efficiency_scale : float
        The factor applied to every efficiency (0.8: 20% lower).
    same_time_s, same_cost : float
        The recommended configuration re-evaluated at the lower efficiency [s] and [USD or USD/h].
    same_feasible : bool
        Whether that configuration still meets every constraint.
    same_reason : str
        Why not, when it does not.
    new_best : str or None
        The recommendation at the lower efficiency, in words (None when nothing is feasible).
    new_best_time_s, new_best_cost : float
        Its time and cost (NaN when nothing is feasible).
    """

    efficiency_scale: float
    same_time_s: float
    same_cost: float
    same_feasible: bool
    same_reason: str
    new_best: str | None
    new_best_time_s: float
    new_best_cost: float

    def describe(self, base_time_s: float, base_cost: float, cost_unit: str = "") -> str:
        """One paragraph: what changes if efficiency is ``1 - efficiency_scale`` lower."""
        pct = round(100 * (1 - self.efficiency_scale))
        dt = (self.same_time_s / base_time_s - 1) * 100 if base_time_s else float("nan")
        dc = (self.same_cost / base_cost - 1) * 100 if base_cost else float("nan")
        s = (f"If efficiency is {pct}% lower, the same configuration takes "
             f"{format_duration(self.same_time_s)} ({dt:+.0f}%) and costs "
             f"{_fmt_usd(self.same_cost)}{cost_unit} ({dc:+.0f}%)")
        if self.same_feasible:
            s += " and still meets every constraint."
        else:
            s += f", which breaks a constraint ({self.same_reason})."
        if self.new_best is None:
            s += " Nothing in the search would then be feasible."
        elif not self.same_feasible or self.new_best_cost < self.same_cost * 0.999:
            s += (f" The recommendation would become {self.new_best}: "
                  f"{format_duration(self.new_best_time_s)}, {_fmt_usd(self.new_best_cost)}{cost_unit}.")
        else:
            s += " The recommendation would not change."
        return s


@dataclass(frozen=True)
class Recommendation:
    """The plan to pick, and why.

    Attributes
    ----------
    kind : str
        ``"training"`` or ``"inference"``.
    row : dict
        The candidate's full row (every column of `Plan.candidates`).
    headline : str
        The configuration in words ("64 x H100 (8 x aws p5.48xlarge, us-east-1, spot), tp=8 pp=1 dp=8").
    objective : str
        What it minimizes, in words.
    bottleneck : str
        ``compute``, ``communication``, ``bubble``, ``memory``, ``storage``, ``reliability`` (training);
        ``memory bandwidth``, ``compute``, ``memory capacity``, ``latency target`` (inference).
    details : tuple of str
        The explanation, one sentence each (breakdown, memory, reliability, ...).
    assumptions : tuple of str
        Every assumption the numbers rest on.
    efficiency : float
        The efficiency factor used for the recommended accelerator (achieved / peak).
    efficiency_source : str
        ``measured ...`` (from the results store) or ``documented default ...``.
    sensitivity : Sensitivity or None
        The same question re-evaluated with every efficiency 20% lower.
    time_col, cost_col : str
        The row's time [s] and cost column names.
    """

    kind: str
    row: dict
    headline: str
    objective: str
    bottleneck: str
    details: tuple[str, ...]
    assumptions: tuple[str, ...]
    efficiency: float
    efficiency_source: str
    sensitivity: Sensitivity | None
    time_col: str
    cost_col: str

    @property
    def time_s(self) -> float:
        """The recommended plan's time [s] (expected wall time, or request latency for serving)."""
        return float(self.row[self.time_col])

    @property
    def cost(self) -> float:
        """The recommended plan's cost [USD] (training) or [USD/h] (serving)."""
        return float(self.row[self.cost_col])

    @property
    def _cost_unit(self) -> str:
        return "/h" if self.cost_col.endswith("per_hour") else ""

    def lines(self) -> list[str]:
        """The recommendation as lines of text."""
        out = [f"Recommended ({self.objective}): {self.headline}",
               f"  {self.time_col.replace('_s', '').replace('_', ' ')}: {format_duration(self.time_s)}"
               f"   cost: {_fmt_usd(self.cost)}{self._cost_unit}",
               f"  Bottleneck: {self.bottleneck}"]
        out += [f"  {d}" for d in self.details]
        out.append(f"  Efficiency: {self.efficiency:.2f} of peak ({self.efficiency_source})")
        if self.sensitivity is not None:
            out.append("  " + self.sensitivity.describe(self.time_s, self.cost, self._cost_unit))
        if self.assumptions:
            out.append("  Assumptions:")
            out += [f"    - {a}" for a in self.assumptions]
        return out

    def __str__(self) -> str:
        return "\n".join(self.lines())

    def _repr_html_(self) -> str:
        e = html.escape
        parts = [f"<div class='aicost-rec'><b>Recommended</b> ({e(self.objective)}): {e(self.headline)}<br>",
                 f"{e(self.time_col.replace('_s', '').replace('_', ' '))}: "
                 f"<b>{e(format_duration(self.time_s))}</b>, cost: "
                 f"<b>{e(_fmt_usd(self.cost))}{e(self._cost_unit)}</b>, bottleneck: "
                 f"<b>{e(self.bottleneck)}</b><ul>"]
        parts += [f"<li>{e(d)}</li>" for d in self.details]
        parts.append(f"<li>Efficiency {self.efficiency:.2f} of peak ({e(self.efficiency_source)})</li>")
        if self.sensitivity is not None:
            parts.append(f"<li>{e(self.sensitivity.describe(self.time_s, self.cost, self._cost_unit))}</li>")
        parts.append("</ul>")
        if self.assumptions:
            parts.append("<details><summary>Assumptions</summary><ul>")
            parts += [f"<li>{e(a)}</li>" for a in self.assumptions]
            parts.append("</ul></details>")
        parts.append("</div>")
        return mathjax_safe_html("".join(parts))  # "$1.2M ... $42/h" is not MathJax in Jupyter

    def to_dict(self) -> dict:
        """A JSON-friendly dict of the recommendation."""
        d = {
            "kind": self.kind, "headline": self.headline, "objective": self.objective,
            "bottleneck": self.bottleneck, "details": list(self.details),
            "assumptions": list(self.assumptions), "efficiency": self.efficiency,
            "efficiency_source": self.efficiency_source,
            "row": {k: (v.item() if hasattr(v, "item") else v) for k, v in self.row.items()},
        }
        if self.sensitivity is not None:
            d["sensitivity"] = {k: getattr(self.sensitivity, k)
                                for k in self.sensitivity.__dataclass_fields__}
            d["sensitivity"]["text"] = self.sensitivity.describe(
                self.time_s, self.cost, self._cost_unit)
        return d


@dataclass(eq=False)
class Plan:
    """The planner's answer to one question (the base of `TrainingPlan` and `ServingPlan`).

    Attributes
    ----------
    candidates : pandas.DataFrame
        One row per candidate configuration (feasible and infeasible), with the ``feasible`` flag
        and the ``reason`` it was dropped ("" when feasible).
    request : dict
        The question: model, tokens or traffic, constraints.
    n_evaluated : int
        How many candidates (layouts included) were evaluated.
    reason_counts : pandas.Series
        Evaluated candidates dropped per reason (layouts included).
    elapsed_s : float
        Wall time of the search [s].
    sort_col : str
        The column `best` minimizes.
    objective : str
        What `best` minimizes, in words.
    assumptions : tuple of str
        The assumptions behind every number.

    Class attributes
    ----------------
    kind : str
        ``"training"`` or ``"inference"``.
    time_col, cost_col : str
        The objective columns of `candidates` ([s], and [USD] or [USD/h]).
    table_columns : tuple of str
        The columns the text and HTML views show.
    distinct_by : tuple of str
        Columns that make two plans different to a reader: `top` and the views list the best
        row of each such group.
    """

    candidates: pd.DataFrame
    request: dict
    n_evaluated: int
    reason_counts: pd.Series
    elapsed_s: float
    sort_col: str
    objective: str
    assumptions: tuple[str, ...] = ()

    kind: ClassVar[str] = "plan"
    time_col: ClassVar[str] = "time_s"
    cost_col: ClassVar[str] = "cost_usd"
    table_columns: ClassVar[tuple[str, ...]] = ()
    distinct_by: ClassVar[tuple[str, ...]] = ()

    def _recommend(self) -> Recommendation | None:
        """The recommendation for the first row of `feasible` (subclasses build it)."""
        return None

    @property
    def extras(self) -> dict:
        """A read-only view of the subclass's typed results under their old names (``search``,
        ``layouts``, ``demand``), for code written against the single ``Plan`` class."""
        return {}

    # ------------------------------------------------------------------ views
    @property
    def feasible(self) -> pd.DataFrame:
        """Feasible candidates, best first (by `sort_col`, then time)."""
        df = self.candidates[self.candidates["feasible"]]
        return df.sort_values([self.sort_col, self.time_col, self.cost_col], kind="stable")

    @property
    def pareto(self) -> pd.DataFrame:
        """The feasible candidates no other feasible candidate beats on both time and cost.

        Sorted by time, fastest first. Ties (the same time and cost, e.g. the same offer in two
        regions) keep the first row only.
        """
        df = self.candidates[self.candidates["feasible"]]
        if df.empty:
            return df
        mask = pareto_mask(df[self.time_col].to_numpy(), df[self.cost_col].to_numpy())
        front = df[mask].sort_values([self.time_col, self.cost_col], kind="stable")
        return front.drop_duplicates(subset=[self.time_col, self.cost_col], keep="first")

    @property
    def infeasible(self) -> pd.DataFrame:
        """Why candidates were dropped: one row per reason with the number of configurations
        (``candidates``) and of evaluated candidates, layouts included (``evaluated``)."""
        bad = self.candidates[~self.candidates["feasible"]]
        per_cfg = bad["reason"].str.split(REASON_DETAIL_SEP, regex=False).str[0].value_counts()  # numbers off
        out = pd.DataFrame({"reason": list(self.reason_counts.index),
                            "evaluated": self.reason_counts.to_numpy(dtype=np.int64)})
        out["candidates"] = [int(per_cfg.get(r, 0)) for r in out["reason"]]
        for r, n in per_cfg.items():
            if r not in set(out["reason"]):
                out.loc[len(out)] = [r, 0, int(n)]
        out = out[["reason", "candidates", "evaluated"]]
        return out.sort_values(["candidates", "evaluated"], ascending=False, kind="stable").reset_index(
            drop=True)

    @cached_property
    def best(self) -> Recommendation | None:
        """The recommendation (None when no candidate is feasible); computed once."""
        if not self.candidates["feasible"].any():
            return None
        rec = self._recommend()
        # what rests on estimates, then how old the prices are (the last detail)
        est = self.estimate_note(rec.row if rec is not None else None)
        if rec is not None and est:
            rec = dataclasses.replace(rec, details=(*rec.details, est))
        note = self.price_note
        if rec is not None and note:
            rec = dataclasses.replace(rec, details=(*rec.details, note[0].upper() + note[1:] + "."))
        return rec

    def estimate_note(self, row: dict | None = None) -> str:
        """What of the plan rests on catalog estimates, in words ("" when nothing does).

        For the recommended ``row``: "Price estimated, not a published list price; bf16 peak
        estimated, not a datasheet figure (catalog column `estimated`) ..."; otherwise, how many
        plans of the time-cost frontier do. Plan with ``estimates=False`` to leave them out.
        """
        if "estimated" not in self.candidates.columns:
            return ""
        words = {"price": "price estimated, not a published list price",
                 "memory bandwidth": "memory bandwidth estimated, not a datasheet figure",
                 "accelerator count": "accelerators per instance estimated"}
        est = str((row or {}).get("estimated") or "")
        if est and est != "nan":
            parts = [words.get(p, f"{p} estimated, not a datasheet figure") for p in est.split(", ")]
            text = "; ".join(parts)
            return (f"{text[0].upper()}{text[1:]} (catalog column `estimated`); plan with "
                    "estimates=False to leave offers built on estimates out.")
        front = self.pareto
        n = int((front["estimated"].astype(str).replace("nan", "") != "").sum()) if len(front) else 0
        if not n:
            return ""
        return (f"{n} of the {len(front)} plans on the time-cost frontier rest on estimated prices or "
                "peaks (column `estimated`); plan with estimates=False to leave them out.")

    @property
    def prices_as_of(self) -> datetime.date | None:
        """The oldest ``as_of`` date among the catalog offers this plan searched (None when
        the catalog gave none)."""
        from ..catalog import oldest_as_of

        if "as_of" not in self.candidates.columns:
            return None
        dates = [d for d in pd.unique(self.candidates["as_of"].astype(str)) if d and d != "nan"]
        return oldest_as_of(dates)

    @property
    def price_note(self) -> str:
        """How old the plan's prices are: ``"prices as of 2025-10-01, 14 months old; run
        `aicost catalog refresh`"`` (flagged past 180 days), or
        ``"prices as of 2026-11-02"``; ``""`` when the catalog gave no dates."""
        from ..catalog import price_age_note

        oldest = self.prices_as_of
        return price_age_note(oldest, always=True) if oldest is not None else ""

    def top(self, n: int = 10, distinct: bool = True) -> pd.DataFrame:
        """The ``n`` best feasible candidates with the columns people read first.

        With ``distinct`` (default) only the best row of each `distinct_by` group is listed, so
        the same offer does not appear once per storage tier or batch size.
        """
        cols = [c for c in self.table_columns if c in self.candidates.columns]
        return self._distinct(self.feasible, distinct).head(n)[cols].reset_index(drop=True)

    def _distinct(self, df: pd.DataFrame, distinct: bool = True) -> pd.DataFrame:
        key = [c for c in self.distinct_by if c in df.columns]
        if not distinct or not key:
            return df
        return df.drop_duplicates(subset=key, keep="first")

    def cost_by_deadline(self, deadlines_s=None, by: str = "pricing") -> pd.DataFrame:
        """The cheapest feasible candidate for each deadline, overall and per ``by`` group.

        Parameters
        ----------
        deadlines_s : array_like, optional
            Deadlines [s]; default: 60 points spaced geometrically from the fastest feasible
            candidate to the slowest.
        by : str
            A column to split by (``"pricing"``, ``"accelerator"``, ``"provider"``).

        Returns
        -------
        pandas.DataFrame
            ``deadline_s, <by>, cost, plan`` (cost under the plan's cost column name; NaN where
            nothing finishes in time). The ``<by>`` value ``"any"`` is the overall minimum.
        """
        ok = self.feasible
        if ok.empty:
            return pd.DataFrame(columns=["deadline_s", by, self.cost_col, "plan"])
        t_all = ok[self.time_col].to_numpy(dtype=float)
        if deadlines_s is None:
            lo, hi = float(np.min(t_all)), float(np.max(t_all))
            deadlines_s = np.geomspace(lo, max(hi, lo * 1.0001), 60)
        d = np.asarray(deadlines_s, dtype=float)
        frames = []
        groups = [("any", ok)] + ([(k, g) for k, g in ok.groupby(by, sort=True)] if by in ok.columns else [])
        for key, part in groups:
            part = part.sort_values(self.time_col, kind="stable")
            t = part[self.time_col].to_numpy(dtype=float)
            c = part[self.cost_col].to_numpy(dtype=float)
            run = np.minimum.accumulate(c)
            arg = np.maximum.accumulate(np.where(c == run, np.arange(c.size), 0))
            pos = np.searchsorted(t, d, side="right") - 1
            valid = pos >= 0
            cost = np.where(valid, run[np.maximum(pos, 0)], np.nan)
            labels = np.array([_row_label(r) for _, r in part.iterrows()], dtype=object)
            plan = np.where(valid, labels[arg[np.maximum(pos, 0)]], "")
            frames.append(pd.DataFrame({"deadline_s": d, by: key, self.cost_col: cost, "plan": plan}))
        return pd.concat(frames, ignore_index=True)

    # ------------------------------------------------------------------ text
    def summary(self) -> str:
        """One line: how many candidates, how many feasible, how long the search took."""
        n_cfg = len(self.candidates)
        n_ok = int(self.candidates["feasible"].sum())
        return (f"{self.kind} plan for {self.request.get('model', '?')}: {self.n_evaluated:,} candidates "
                f"evaluated ({n_cfg:,} configurations, {n_ok:,} feasible) in {self.elapsed_s:.2f} s")

    def explain(self) -> str:
        """Why candidates were dropped, as text."""
        inf = self.infeasible
        if inf.empty:
            return "Every candidate is feasible."
        lines = ["Dropped candidates, by reason (configurations / evaluated incl. layouts):"]
        lines += [f"  {r.reason}: {r.candidates:,} / {r.evaluated:,}" for r in inf.itertuples()]
        return "\n".join(lines)

    def __str__(self) -> str:
        lines = [self.summary(), ""]
        best = self.best
        if best is not None:
            lines += best.lines() + [""]
        cols = list(self.table_columns)
        if not self.feasible.empty:
            shown = self._distinct(self.feasible).head(_SHOW_ROWS)
            lines.append(f"Best {len(shown)} plans:")
            lines.append(_table(shown, cols).to_string(index=False))
            lines.append("")
            front = self.pareto
            lines.append(f"Pareto frontier (time against cost, {len(front)} points):")
            lines.append(_table(front.head(2 * _SHOW_ROWS), cols).to_string(index=False))
            lines.append("")
        lines.append(self.explain())
        return "\n".join(lines)

    def __repr__(self) -> str:
        return f"<Plan {self.summary()}>"

    def _repr_html_(self) -> str:
        e = html.escape
        cols = list(self.table_columns)
        parts = [f"<div class='aicost-plan'><p><b>{e(self.summary())}</b></p>"]
        best = self.best
        if best is not None:
            parts.append(best._repr_html_())
        else:
            parts.append("<p><b>No feasible plan.</b></p>")
        if not self.feasible.empty:
            shown = self._distinct(self.feasible).head(_SHOW_ROWS)
            parts.append(f"<p><b>Best {len(shown)} plans</b></p>")
            parts.append(_table(shown, cols).to_html(index=False))
            front = self.pareto
            parts.append(f"<p><b>Pareto frontier</b> (time against cost, {len(front)} points)</p>")
            parts.append(_table(front.head(2 * _SHOW_ROWS), cols).to_html(index=False))
        inf = self.infeasible
        if not inf.empty:
            parts.append("<details><summary>Dropped candidates by reason</summary>")
            parts.append(inf.to_html(index=False))
            parts.append("</details>")
        parts.append("</div>")
        return mathjax_safe_html("".join(parts))

    def to_dict(self, top: int = 10) -> dict:
        """A JSON-friendly summary: request, best, top plans, Pareto frontier, infeasible counts."""
        def records(df: pd.DataFrame) -> list[dict]:
            return [{k: (v.item() if hasattr(v, "item") else v) for k, v in r.items()}
                    for r in df.to_dict(orient="records")]

        best = self.best
        return {
            "kind": self.kind,
            "request": {k: (v if isinstance(v, (int, float, str, bool, type(None), list)) else str(v))
                        for k, v in self.request.items()},
            "summary": self.summary(),
            "n_evaluated": self.n_evaluated,
            "elapsed_s": self.elapsed_s,
            "best": best.to_dict() if best is not None else None,
            "top": records(self._distinct(self.feasible).head(top)),
            "pareto": records(self.pareto),
            "infeasible": records(self.infeasible),
            "assumptions": list(self.assumptions),
        }
