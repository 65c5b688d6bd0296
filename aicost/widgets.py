"""Interactive dashboards for Jupyter: controls bound to plotly FigureWidgets that update in place.

::

    import aicost
    aicost.widgets.training_planner()              # model, tokens, deadline, budget, providers, ...
    aicost.widgets.serving_planner(model="llama-3.1-70b", qps=50)
    aicost.widgets.roofline_explorer(["h100", "mi300x"])

Each dashboard calls the same public functions as the command line (``aicost.plan.plan_training``,
``aicost.plan.plan_inference``, ``aicost.catalog.load``) whenever a control changes, redraws its
figure in place and shows the current plan table below it. The dashboard object keeps the latest
answer (``.plan``), the error of the last update if it failed (``.error``, also shown on the
page), and its parts (``.controls``, ``.figure``, ``.table``) so notebooks and tests can drive it.

Needs the notebook extra: ``pip install 'aicost[notebooks]'`` (ipywidgets, anywidget).
"""

from __future__ import annotations

import html as _html
import math

import numpy as np

from ._markup import mathjax_safe_html

__all__ = [
    "Dashboard",
    "RooflineExplorer",
    "ServingPlanner",
    "SpendPortfolio",
    "TrainingPlanner",
    "roofline_explorer",
    "serving_planner",
    "spend_portfolio",
    "training_planner",
]

#: points drawn per scatter at most (the best ones first): keeps the widget responsive
MAX_POINTS = 1500
#: pricing models the planner knows (aicost.plan)
PRICING = ("on_demand", "spot", "reserved")
#: dtypes offered by the roofline explorer, fastest first
ROOFLINE_DTYPES = ("fp8", "int8", "bf16", "fp16", "tf32", "fp32", "fp64")
_DAY_S = 86400.0


def _esc(x) -> str:
    return _html.escape("" if x is None else str(x), quote=True)


def _imports():
    try:
        import ipywidgets as w
        import plotly.graph_objects as go
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"aicost.widgets needs ipywidgets and anywidget: pip install 'aicost[notebooks]' ({exc})"
        ) from exc
    return w, go


class Dashboard:
    """Controls, a plotly ``FigureWidget``, a status line and a table, laid out in a ``VBox``.

    Attributes
    ----------
    controls : dict of str to ipywidgets.Widget
        The inputs, by name.
    figure : plotly.graph_objects.FigureWidget
        Redrawn in place on every change.
    table : ipywidgets.HTML
        The current answer as a table (escaped).
    status : ipywidgets.HTML
        What the last update did, or why it failed.
    error : Exception or None
        The exception of the last update, None when it succeeded.
    widget : ipywidgets.VBox
        Everything, for ``display``; the dashboard displays itself too.
    """

    #: seconds a control must rest before the dashboard recomputes (a re-plan takes seconds;
    #: arrow keys or typing would otherwise queue one per step). 0: recompute at once. Set it
    #: low when the plan function is fast (cached re-plans).
    debounce_s: float = 0.4

    def __init__(self, controls: dict, figure, title: str) -> None:
        w, _ = _imports()
        self._pending = None
        self.controls = controls
        self.figure = figure
        # full width, wrapping: long recommendations were clipped at the widget's edge
        self.table = w.HTML(layout=w.Layout(width="100%", overflow="visible"))
        self.status = w.HTML(layout=w.Layout(width="100%", overflow="visible"))
        self.error: Exception | None = None
        self.updates = 0
        boxes = [w.HTML(f"<h3>{_esc(title)}</h3>")]
        row: list = []
        for ctl in controls.values():
            if hasattr(ctl, "style") and hasattr(ctl.style, "description_width"):
                ctl.style.description_width = "initial"  # show whole labels ("bandwidth eff.")
            row.append(ctl)
            if len(row) == 3:
                boxes.append(w.HBox(row))
                row = []
        if row:
            boxes.append(w.HBox(row))
        self.widget = w.VBox([*boxes, self.status, figure, self.table])
        for ctl in controls.values():
            ctl.observe(self._on_change, names="value")

    # the dashboard shows itself in Jupyter
    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)

    def _on_change(self, _change=None) -> None:
        """Recompute once the controls rest for `debounce_s` (in a running kernel), at once
        otherwise (scripts, tests)."""
        if self._pending is not None:
            self._pending.cancel()
            self._pending = None
        if self.debounce_s > 0:
            import asyncio

            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:  # no event loop (a script or a test): update now
                loop = None
            if loop is not None:
                busy = self._pending_status()
                if busy:
                    self.status.value = busy
                self._pending = loop.call_later(self.debounce_s, self._run_pending)
                return
        self.update()

    def _pending_status(self) -> str:
        """What the status line says while a change waits for its update ("" keeps it)."""
        return "<small><i>updating…</i></small>"

    def _show_first_answer(self) -> None:
        """Compute the first answer, then rebuild the FigureWidget around it.

        plotly's anywidget FigureWidget sends trace changes as messages to the views that
        exist; a figure built empty and filled before it is displayed showed empty axes in
        JupyterLab (the view starts from the state at construction). A widget constructed
        with the data shows it; later changes reach the displayed view.
        """
        self.update()
        _, go = _imports()
        fresh = go.FigureWidget(self.figure)
        children = list(self.widget.children)
        children[children.index(self.figure)] = fresh
        self.figure = fresh
        self.widget.children = tuple(children)

    def _run_pending(self) -> None:
        self._pending = None
        self.update()

    def flush(self) -> None:
        """Run a pending (debounced) update now."""
        if self._pending is not None:
            self._pending.cancel()
            self._run_pending()

    def value(self, name: str):
        """The current value of the control ``name``."""
        return self.controls[name].value

    def update(self) -> None:
        """Recompute from the controls and redraw (called on every change)."""
        self.updates += 1
        try:
            self._update()
        # bad input (an unknown name, an infeasible target, a value out of range: aicost's
        # errors are ValueError or LookupError) is shown on the page; a bug propagates
        except (ValueError, LookupError) as exc:
            self.error = exc
            self.status.value = (f'<div style="color:#a33"><b>{_esc(type(exc).__name__)}</b>: '
                                 f"{_esc(exc)}</div>")
            self._clear()
        else:
            self.error = None

    def _update(self) -> None:  # pragma: no cover - abstract
        raise NotImplementedError

    def _clear(self) -> None:
        with self.figure.batch_update():
            for trace in self.figure.data:
                trace.x, trace.y = [], []
        self.table.value = ""


# ----------------------------------------------------------------------------- planners
def _model_choice(model) -> tuple[list[str], str]:
    """The model presets for a dropdown and the preset ``model`` names (aliases resolved;
    an unknown name raises aicost.UnknownNameError with the closest names)."""
    from . import model as _model

    spec = _model.get_model(model)
    options = list(_model.list_models())
    name = getattr(spec, "name", str(model))
    if name not in options:  # a user's own ModelSpec
        options.append(name)
        _CUSTOM_MODELS[name] = spec
    return options, name


#: user ModelSpecs shown in the dashboards' model dropdowns, by name
_CUSTOM_MODELS: dict[str, object] = {}


def _model_arg(name: str):
    return _CUSTOM_MODELS.get(name, name)


def _provider_choices(catalog) -> list[str]:
    return sorted({str(p) for p in catalog.instances["provider"].dropna()})


def _hover(df) -> list[str]:
    cols = [c for c in ("provider", "instance_type", "accelerator", "n_gpus", "gpus", "pricing",
                        "region", "tp", "pp", "dp", "replicas") if c in df.columns]
    if not cols:
        return [""] * len(df)
    parts = [df[c].astype(str).map(lambda v, c=c: f"{c}={v}") for c in cols]
    out = parts[0]
    for p in parts[1:]:
        out = out + "<br>" + p
    return [_esc(s).replace("&lt;br&gt;", "<br>") for s in out]


def _plan_table(plan, question: str, max_rows: int = 10) -> str:
    from .report.blocks import humanize, recommendation_html

    top = plan.top(max_rows)
    body = recommendation_html(plan, question)
    table = humanize(top).to_html(index=False, escape=True, border=0) if len(top) else ""
    table = table.replace("<td>", '<td style="padding:1px 6px">').replace(
        "<th>", '<th style="padding:1px 6px">')
    return mathjax_safe_html(
        f'<div style="margin:6px 0;line-height:1.4;white-space:normal;overflow-wrap:anywhere">'
        f'{body}</div>'
        f'<div style="overflow-x:auto;font-size:12px;line-height:1.2">{table}</div>')


def _toggle_efficiency(dash, change) -> None:
    slider = dash.controls["efficiency"]
    slider.disabled = bool(change["new"])
    slider.description = "efficiency (used)" if change["new"] else "efficiency"


class _PlanDashboard(Dashboard):
    """Shared drawing of a plan: candidates, Pareto frontier, recommendation."""

    time_scale = 1.0
    time_label = "time [s]"
    plan = None
    #: the function that plans (default aicost.plan.plan_training / plan_inference), called
    #: with the same arguments on every change: plug a cached or incremental re-plan in here
    #: (and lower `debounce_s` when it is fast)
    plan_function = None

    def _make_figure(self, go, x_title: str, y_title: str):
        fig = go.FigureWidget()
        fig.add_scatter(name="feasible plans", mode="markers", x=[], y=[],
                        marker={"size": 6, "opacity": 0.45, "color": "#7f9cc9"},
                        hovertemplate="%{text}<br>%{x:.3g}, %{y:$,.4g}<extra></extra>", text=[])
        fig.add_scatter(name="Pareto frontier", mode="lines+markers", x=[], y=[],
                        line={"color": "#1f5fbf"}, marker={"size": 8}, text=[],
                        hovertemplate="%{text}<br>%{x:.3g}, %{y:$,.4g}<extra></extra>")
        fig.add_scatter(name="recommended", mode="markers", x=[], y=[], text=[],
                        marker={"symbol": "star", "size": 18, "color": "#e8a33d",
                                "line": {"width": 1, "color": "#333"}},
                        hovertemplate="%{text}<extra>recommended</extra>")
        fig.update_layout(height=420, margin={"l": 60, "r": 20, "t": 30, "b": 50},
                          xaxis_title=x_title, yaxis_title=y_title, xaxis_type="log",
                          yaxis_type="log", legend={"orientation": "h", "y": 1.08})
        return fig

    def _draw(self, plan, question: str) -> None:
        self.plan = plan
        feas = plan.feasible.head(MAX_POINTS)
        front = plan.pareto
        tc, cc = plan.time_col, plan.cost_col
        best = plan.best
        with self.figure.batch_update():
            f, p, b = self.figure.data[:3]
            f.x = (feas[tc].to_numpy(float) / self.time_scale).tolist()
            f.y = feas[cc].to_numpy(float).tolist()
            f.text = _hover(feas)
            p.x = (front[tc].to_numpy(float) / self.time_scale).tolist()
            p.y = front[cc].to_numpy(float).tolist()
            p.text = _hover(front)
            if best is not None:
                b.x, b.y, b.text = [best.time_s / self.time_scale], [best.cost], [_esc(best.headline)]
            else:
                b.x, b.y, b.text = [], [], []
            self._draw_limits()
        self.table.value = _plan_table(plan, question)
        self.status.value = mathjax_safe_html(f"<small>{_esc(plan.summary())}</small>")
        self._show_efficiency(plan)

    def _show_efficiency(self, plan) -> None:
        """With "measured/default" ticked the slider is disabled: move it to the efficiency the
        recommendation used (without re-planning), so it never shows a number that was not used."""
        if "efficiency" not in self.controls or not self.value("efficiency_auto"):
            return
        best = plan.best
        eff = getattr(best, "efficiency", None) if best is not None else None
        if eff is None or not math.isfinite(float(eff)):
            return
        slider = self.controls["efficiency"]
        slider.unobserve(self._on_change, names="value")
        try:
            slider.value = min(max(float(eff), slider.min), slider.max)
        finally:
            slider.observe(self._on_change, names="value")
        slider.description = "efficiency (used)"
        slider.tooltip = str(getattr(best, "efficiency_source", "") or "")

    def _draw_limits(self) -> None:
        """Lines for the constraints (deadline, budget, latency targets)."""


class TrainingPlanner(_PlanDashboard):
    """Dashboard over :func:`aicost.plan.plan_training`."""

    time_scale = _DAY_S

    def __init__(self, model, tokens, deadline_days, budget_usd, providers, pricing, efficiency,
                 catalog, plan_options=None) -> None:
        w, go = _imports()
        models, model = _model_choice(model)
        self.catalog = catalog
        self.plan_options = dict(plan_options or {})
        eff_auto = efficiency is None
        controls = {
            "model": w.Dropdown(options=models, value=model, description="model"),
            "tokens": w.FloatLogSlider(value=tokens, base=10, min=9, max=14, step=0.05,
                                       description="tokens", readout_format=".2g",
                                       continuous_update=False),
            "deadline_days": w.BoundedFloatText(value=deadline_days or 0.0, min=0.0, max=3650.0,
                                                step=1.0, description="deadline [d]"),
            "budget_usd": w.BoundedFloatText(value=budget_usd or 0.0, min=0.0, max=1e12,
                                             step=1e5, description="budget [$]"),
            "providers": w.SelectMultiple(options=_provider_choices(catalog),
                                          value=tuple(providers or ()), rows=4,
                                          description="providers"),
            "pricing": w.SelectMultiple(options=list(PRICING), value=tuple(pricing), rows=3,
                                        description="pricing"),
            "efficiency_auto": w.Checkbox(value=eff_auto, description="efficiency: measured/default"),
            "efficiency": w.FloatSlider(value=0.4 if eff_auto else efficiency, min=0.05, max=1.0,
                                        step=0.01, description="efficiency",
                                        continuous_update=False, disabled=eff_auto),
        }
        fig = self._make_figure(go, "expected wall time [days]", "expected cost [USD]")
        # re-plans from cached candidate arrays (issue 16): only a model, efficiency or catalog
        # change evaluates the model again; the rest answers in a fraction of a second
        from .plan import PlanCache

        self.plan_cache = PlanCache(max_entries=2)
        self.plan_function = self.plan_cache.plan_training
        self.debounce_s = 0.15
        super().__init__(controls, fig, "Training planner")
        controls["efficiency_auto"].observe(self._toggle_eff, names="value")
        self._show_first_answer()

    def _toggle_eff(self, change) -> None:
        _toggle_efficiency(self, change)

    def _pending_status(self) -> str:
        """Say "planning…" only when the change needs a full evaluation (a model, efficiency or
        catalog change); a cached re-plan keeps the current status until it answers."""
        cache = getattr(self, "plan_cache", None)
        if cache is None or self.plan_function != cache.plan_training:
            return super()._pending_status()
        v = self.value
        full = cache.will_reevaluate(_model_arg(v("model")), catalog=self.catalog,
                                     efficiency=None if v("efficiency_auto") else v("efficiency"),
                                     **self.plan_options)
        return "<small><i>planning…</i></small>" if full else ""

    def _update(self) -> None:
        from . import plan as _plan

        v = self.value
        deadline = v("deadline_days") * _DAY_S or None
        budget = v("budget_usd") or None
        plan = (self.plan_function or _plan.plan_training)(
            _model_arg(v("model")), v("tokens"), deadline=deadline, budget_usd=budget,
            providers=list(v("providers")) or None, pricing=tuple(v("pricing")) or ("on_demand",),
            catalog=self.catalog, efficiency=None if v("efficiency_auto") else v("efficiency"),
            **self.plan_options,
        )
        q = f"train {v('model')} on {v('tokens'):.3g} tokens"
        if deadline:
            q += f" within {v('deadline_days'):g} days"
        if budget:
            q += f" for at most ${budget:,.0f}"
        self._draw(plan, q)

    def _draw_limits(self) -> None:
        shapes = []
        d = self.value("deadline_days")
        if d:
            shapes.append({"type": "line", "xref": "x", "yref": "paper", "x0": d, "x1": d,
                           "y0": 0, "y1": 1, "line": {"dash": "dash", "color": "#c33"}})
        b = self.value("budget_usd")
        if b:
            shapes.append({"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1,
                           "y0": b, "y1": b, "line": {"dash": "dot", "color": "#c33"}})
        self.figure.layout.shapes = shapes


class ServingPlanner(_PlanDashboard):
    """Dashboard over :func:`aicost.plan.plan_inference`."""

    def __init__(self, model, qps, prompt_tokens, output_tokens, ttft_s, tpot_s,
                 budget_usd_per_hour, providers, pricing, efficiency, catalog,
                 plan_options=None) -> None:
        w, go = _imports()
        models, model = _model_choice(model)
        self.catalog = catalog
        self.plan_options = dict(plan_options or {})
        eff_auto = efficiency is None
        controls = {
            "model": w.Dropdown(options=models, value=model, description="model"),
            "qps": w.FloatLogSlider(value=qps, base=10, min=-1, max=4, step=0.05,
                                    description="requests/s", readout_format=".3g",
                                    continuous_update=False),
            "prompt_tokens": w.BoundedIntText(value=prompt_tokens, min=1, max=1_000_000,
                                              description="prompt tok"),
            "output_tokens": w.BoundedIntText(value=output_tokens, min=1, max=1_000_000,
                                              description="output tok"),
            "ttft_ms": w.BoundedFloatText(value=ttft_s * 1e3, min=1.0, max=1e6,
                                          description="TTFT [ms]"),
            "tpot_ms": w.BoundedFloatText(value=tpot_s * 1e3, min=0.1, max=1e5,
                                          description="TPOT [ms]"),
            "budget_usd_per_hour": w.BoundedFloatText(value=budget_usd_per_hour or 0.0, min=0.0,
                                                      max=1e9, step=10.0,
                                                      description="budget [$/h]"),
            "providers": w.SelectMultiple(options=_provider_choices(catalog),
                                          value=tuple(providers or ()), rows=4,
                                          description="providers"),
            "pricing": w.SelectMultiple(options=list(PRICING), value=tuple(pricing), rows=3,
                                        description="pricing"),
            "efficiency_auto": w.Checkbox(value=eff_auto, description="efficiency: measured/default"),
            "efficiency": w.FloatSlider(value=0.5 if eff_auto else efficiency, min=0.05, max=1.0,
                                        step=0.01, description="efficiency",
                                        continuous_update=False, disabled=eff_auto),
        }
        fig = self._make_figure(go, "latency [s]", "cost [USD/h]")
        # re-plans from cached candidates (issue 16): a rate, TTFT, TPOT, budget change sizes the
        # cached candidates again (no model evaluation); a model, token, efficiency, filter or
        # catalog change evaluates the model once
        from .plan import ServingPlanCache

        self.plan_cache = ServingPlanCache(max_entries=4)
        self.plan_function = self.plan_cache.plan_inference
        self.debounce_s = 0.15
        super().__init__(controls, fig, "Serving planner")
        controls["efficiency_auto"].observe(lambda ch: _toggle_efficiency(self, ch), names="value")
        self._show_first_answer()

    def _plan_args(self) -> tuple[tuple, dict]:
        """The arguments of `plan_inference` the controls ask for."""
        v = self.value
        return (_model_arg(v("model")), v("qps")), dict(
            prompt_tokens=v("prompt_tokens"), output_tokens=v("output_tokens"),
            ttft_s=v("ttft_ms") / 1e3, tpot_s=v("tpot_ms") / 1e3,
            budget_usd_per_hour=v("budget_usd_per_hour") or None,
            providers=list(v("providers")) or None,
            pricing=tuple(v("pricing")) or ("on_demand",), catalog=self.catalog,
            efficiency=None if v("efficiency_auto") else v("efficiency"),
            **self.plan_options,
        )

    def _pending_status(self) -> str:
        """Say "planning…" only when the change evaluates the model again (a model, token,
        efficiency, filter or catalog change); a rate, TTFT, TPOT or budget change keeps the
        current status until it answers."""
        cache = getattr(self, "plan_cache", None)
        if cache is None or self.plan_function != cache.plan_inference:
            return super()._pending_status()
        args, kwargs = self._plan_args()
        return "<small><i>planning…</i></small>" if cache.will_reevaluate(*args, **kwargs) else ""

    def _update(self) -> None:
        from . import plan as _plan

        v = self.value
        args, kwargs = self._plan_args()
        plan = (self.plan_function or _plan.plan_inference)(*args, **kwargs)
        self.figure.layout.xaxis.title.text = plan.time_col.replace("_", " ").replace(" s", " [s]")
        self.figure.layout.yaxis.title.text = plan.cost_col.replace("_", " ")
        q = (f"serve {v('model')} at {v('qps'):.3g} requests/s with TTFT <= {v('ttft_ms'):g} ms "
             f"and TPOT <= {v('tpot_ms'):g} ms")
        self._draw(plan, q)

    def _draw_limits(self) -> None:
        b = self.value("budget_usd_per_hour")
        self.figure.layout.shapes = [
            {"type": "line", "xref": "paper", "yref": "y", "x0": 0, "x1": 1, "y0": b, "y1": b,
             "line": {"dash": "dot", "color": "#c33"}}] if b else []


def _in_range(name: str, value, lo: float, hi: float, unit: str = ""):
    """``value`` when it is a number in [lo, hi]; else ValueError naming the valid range.

    The dashboards' controls would clamp a value outside their range without a word
    (``tokens=-1`` shown as 1e9); a dashboard must show what was asked or refuse it.
    """
    import math

    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number in [{lo:g}, {hi:g}]{unit}, got {value!r}") from None
    if not (math.isfinite(v) and lo <= v <= hi):
        raise ValueError(f"{name} must be in [{lo:g}, {hi:g}]{unit} (the dashboard's range), "
                         f"got {value!r}")
    return value


def _catalog(catalog):
    if catalog is not None:
        return catalog
    from . import catalog as _catalog_mod

    return _catalog_mod.load()


def training_planner(model: str = "llama-3.1-8b", tokens: float = 1e12, deadline="30d",
                     budget_usd: float | None = None, providers=None,
                     pricing=("on_demand", "spot"), efficiency: float | None = None,
                     catalog=None, **plan_options) -> TrainingPlanner:
    """A dashboard that plans a training run as you move the controls.

    Parameters
    ----------
    model : str
        Model preset (``aicost.model.list_models()``).
    tokens : float
        Training tokens.
    deadline : str or float or None
        Deadline (``"30d"``, or seconds); None or 0: none.
    budget_usd : float, optional [USD]
    providers : list of str, optional
        Offers of these providers only; default all.
    pricing : tuple of str
        ``on_demand``, ``spot``, ``reserved``.
    efficiency : float, optional
        Compute efficiency (achieved / peak); default measured in the store or documented.
    catalog : aicost.catalog.Catalog, optional
        Default ``aicost.catalog.load()``.
    **plan_options
        More arguments of :func:`aicost.plan.plan_training`, fixed for the session, e.g.
        ``accelerators=["h100", "h200"]``, ``max_gpus=4096``.

    Returns
    -------
    TrainingPlanner
        Displays itself; ``.plan`` holds the current :class:`aicost.plan.Plan`.
    """
    from ._units import parse_duration

    days = parse_duration(deadline) / _DAY_S if deadline else 0.0
    _in_range("tokens", tokens, 1e9, 1e14)
    _in_range("deadline", days, 0, 3650, " days")
    if budget_usd is not None:
        _in_range("budget_usd", budget_usd, 0, 1e12, " [USD]")
    if efficiency is not None:
        _in_range("efficiency", efficiency, 0.05, 1.0, " (fraction of peak)")
    return TrainingPlanner(model, float(tokens), days, budget_usd, providers, tuple(pricing),
                           efficiency, _catalog(catalog), plan_options)


def serving_planner(model: str = "llama-3.1-8b", qps: float = 20.0, prompt_tokens: int = 512,
                    output_tokens: int = 256, ttft="1s", tpot="50ms",
                    budget_usd_per_hour: float | None = None, providers=None,
                    pricing=("on_demand", "spot"), efficiency: float | None = None,
                    catalog=None, **plan_options) -> ServingPlanner:
    """A dashboard that sizes a serving deployment as you move the controls.

    Parameters
    ----------
    model : str
        Model preset.
    qps : float [requests/s]
    prompt_tokens, output_tokens : int
        Tokens per request.
    ttft, tpot : str or float
        Latency targets (``"1s"``, ``"50ms"`` or seconds).
    budget_usd_per_hour : float, optional [USD/h]
    providers, pricing, efficiency, catalog
        As for :func:`training_planner`.
    **plan_options
        More arguments of :func:`aicost.plan.plan_inference`, e.g. ``accelerators=[...]``.
    """
    from ._units import parse_duration

    _in_range("qps", qps, 0.1, 1e4, " [requests/s]")
    _in_range("prompt_tokens", prompt_tokens, 1, 1_000_000)
    _in_range("output_tokens", output_tokens, 1, 1_000_000)
    _in_range("ttft", parse_duration(ttft), 1e-3, 1e3, " [s]")
    _in_range("tpot", parse_duration(tpot), 1e-4, 1e2, " [s]")
    if budget_usd_per_hour is not None:
        _in_range("budget_usd_per_hour", budget_usd_per_hour, 0, 1e9, " [USD/h]")
    if efficiency is not None:
        _in_range("efficiency", efficiency, 0.05, 1.0, " (fraction of peak)")
    return ServingPlanner(model, float(qps), int(prompt_tokens), int(output_tokens),
                          parse_duration(ttft), parse_duration(tpot), budget_usd_per_hour,
                          providers, tuple(pricing), efficiency, _catalog(catalog),
                          plan_options)


# ----------------------------------------------------------------------------- roofline
class RooflineExplorer(Dashboard):
    """Rooflines of catalog accelerators for a dtype, scaled by efficiency factors, with the
    measured points of the results store."""

    def __init__(self, accelerators, dtype, compute_efficiency, bandwidth_efficiency, measured,
                 catalog, store) -> None:
        w, go = _imports()
        self.catalog = catalog
        self.store = store
        names = self._accelerator_names()
        chosen = self._resolve(accelerators, names)
        controls = {
            "accelerators": w.SelectMultiple(options=names, value=tuple(chosen), rows=6,
                                             description="accelerators"),
            "dtype": w.Dropdown(options=list(ROOFLINE_DTYPES), value=dtype, description="dtype"),
            "compute_efficiency": w.FloatSlider(value=compute_efficiency, min=0.05, max=1.0,
                                                step=0.01, description="compute eff.",
                                                continuous_update=False),
            "bandwidth_efficiency": w.FloatSlider(value=bandwidth_efficiency, min=0.05, max=1.0,
                                                  step=0.01, description="bandwidth eff.",
                                                  continuous_update=False),
            "measured": w.Checkbox(value=measured, description="measured points (store)"),
        }
        fig = go.FigureWidget()
        fig.update_layout(height=460, xaxis_type="log", yaxis_type="log",
                          xaxis_title="operational intensity [FLOP/byte]",
                          yaxis_title="attainable [TFLOP/s]", xaxis_dtick=1, yaxis_dtick=1,
                          margin={"l": 60, "r": 20, "t": 30, "b": 50})
        super().__init__(controls, fig, "Roofline explorer")
        self.rows: list[dict] = []
        self._show_first_answer()

    def _accelerator_names(self) -> list[str]:
        df = self.catalog.accelerators
        col = "name" if "name" in df.columns else df.columns[0]
        return [str(n) for n in df[col]]

    def _resolve(self, requested, names) -> list[str]:
        """Catalog names of the requested accelerators (aliases resolved by the catalog)."""
        if not requested:
            preferred = [n for n in names if n.lower() in ("h100-sxm", "a100-80gb", "h200")]
            return preferred[:3] or names[:2]
        if isinstance(requested, str):
            requested = [requested]
        return [str(self.catalog.accelerator(r).name) for r in requested]

    def _measured(self):
        """Measured (intensity, TFLOP/s, label) points from the results store."""
        import pandas as pd

        if self.store is None:
            from .store import Store

            self.store = Store()
        df = self.store.results(kind="compute")
        if df is None or df.empty or not {"flops", "bytes_moved", "median_s"} <= set(df.columns):
            return pd.DataFrame(columns=["oi", "tflops", "device", "dtype", "flagged", "label"])
        df = df[(df["flops"] > 0) & (df["bytes_moved"] > 0) & (df["median_s"] > 0)]

        def col(name):
            return df[name].fillna("").astype(str) if name in df.columns else pd.Series(
                "", index=df.index)

        flags = col("flags")
        return pd.DataFrame({
            "oi": df["flops"] / df["bytes_moved"],
            "tflops": df["flops"] / df["median_s"] / 1e12,
            "device": col("device").replace("", "unknown device"),
            "dtype": col("dtype"),
            "flagged": flags.str.strip() != "",
            "label": col("name") + " " + col("dtype") + " " + col("shape")
            + flags.map(lambda f: f" (flagged: {f})" if f.strip() else ""),
        })

    def _update(self) -> None:
        v = self.value
        dtype = v("dtype")
        ce, be = v("compute_efficiency"), v("bandwidth_efficiency")
        oi = np.logspace(-2, 4, 200)
        rows, traces = [], []
        skipped = []
        for name in v("accelerators"):
            acc = self.catalog.accelerator(name)
            try:
                peak = acc.peak_flops_per_s(dtype) * ce
            except (ValueError, KeyError, LookupError):
                skipped.append(name)
                continue
            bw = acc.mem_bw_bytes_per_s * be
            if not (peak > 0 and bw > 0 and math.isfinite(peak)):
                skipped.append(name)
                continue
            ridge = peak / bw
            from .viz import accelerator_color

            traces.append({"type": "scatter", "mode": "lines", "name": f"{name} ({dtype})",
                           "line": {"color": accelerator_color(name)},
                           "x": oi.tolist(), "y": (np.minimum(peak, bw * oi) / 1e12).tolist(),
                           "hovertemplate": "%{x:.3g} FLOP/B: %{y:.4g} TFLOP/s<extra>"
                                            + _esc(name) + "</extra>"})
            rows.append({"accelerator": name, "dtype": dtype,
                         "attainable_peak_tflops": peak / 1e12,
                         "attainable_bw_tb_s": bw / 1e12, "ridge_flop_per_byte": ridge})
        measured_note = ""
        if v("measured"):
            # only points of the chosen dtype, one trace per measured device named in the
            # legend: this machine's fp32 points are not bf16 points of the GPUs drawn
            pts = self._measured()
            same = pts[pts["dtype"] == dtype]
            symbols = ("circle", "square", "triangle-up", "x", "cross")
            for i, (device, part) in enumerate(same.groupby("device", sort=True)):
                traces.append({
                    "type": "scatter", "mode": "markers",
                    "name": f"measured on {device} ({dtype})",
                    "x": part["oi"].tolist(), "y": part["tflops"].tolist(),
                    "text": [_esc(t) for t in part["label"]],
                    "marker": {"size": 9, "symbol": symbols[i % len(symbols)],
                               "color": ["#bbbbbb" if f else "#e8a33d" for f in part["flagged"]],
                               "line": {"width": 1, "color": "#333"}},
                    "hovertemplate": "%{text}<br>%{x:.3g} FLOP/B, %{y:.4g} TFLOP/s"
                                     "<extra>" + _esc(device) + "</extra>"})
            other = pts[pts["dtype"] != dtype]
            if len(same):
                measured_note += (" Measured points: " + ", ".join(
                    f"{d} ({n})" for d, n in same.groupby("device").size().items())
                    + f", {dtype}, from the results store (grey: flagged).")
            if len(other):
                others = ", ".join(f"{dt}: {n}" for dt, n in other.groupby("dtype").size().items()
                                   if dt)
                measured_note += f" Measured points of other dtypes are hidden ({others})."
        with self.figure.batch_update():
            self.figure.data = []
            for t in traces:
                self.figure.add_trace(t)
        import pandas as pd

        self.rows = rows
        table = pd.DataFrame(rows).to_html(index=False, escape=True, border=0,
                                           float_format=lambda x: f"{x:,.4g}") if rows else ""
        self.table.value = table
        note = f" no {dtype} peak in the catalog for: {', '.join(skipped)}." if skipped else ""
        self.status.value = (f"<small>{len(rows)} rooflines ({dtype}) at {ce:.2f} of peak compute "
                             f"and {be:.2f} of peak bandwidth.{_esc(note)}"
                             f"{_esc(measured_note)}</small>")

    def _clear(self) -> None:
        with self.figure.batch_update():
            self.figure.data = []
        self.table.value = ""


def roofline_explorer(accelerators=None, dtype: str = "bf16", compute_efficiency: float = 1.0,
                      bandwidth_efficiency: float = 1.0, measured: bool = True, catalog=None,
                      store=None) -> RooflineExplorer:
    """A dashboard of rooflines: pick accelerators, a dtype and efficiency factors.

    Parameters
    ----------
    accelerators : list of str, optional
        Catalog names (aliases work); default a few current GPUs.
    dtype : str
        ``bf16``, ``fp16``, ``fp8``, ``int8``, ``tf32``, ``fp32``, ``fp64``.
    compute_efficiency, bandwidth_efficiency : float
        Fractions of the catalog peaks drawn (1.0: the datasheet).
    measured : bool
        Overlay the compute results saved in the results store.
    catalog, store : optional
        Default ``aicost.catalog.load()`` and ``aicost.store.Store()``.
    """
    from ._units import normalize_dtype

    _in_range("compute_efficiency", compute_efficiency, 0.05, 1.0, " (fraction of peak)")
    _in_range("bandwidth_efficiency", bandwidth_efficiency, 0.05, 1.0, " (fraction of peak)")
    return RooflineExplorer(accelerators, normalize_dtype(dtype), compute_efficiency,
                            bandwidth_efficiency, measured, _catalog(catalog), store)


# ----------------------------------------------------------------------------- spend
class SpendPortfolio(Dashboard):
    """Commitment portfolio dashboard: discount, term and forecast error redraw the demand
    duration curve with the committed baseline (see :func:`spend_portfolio`)."""

    def __init__(self, demand, offers, on_demand, spot, discount: float, term: str,
                 forecast_error: float, spot_share_max=None) -> None:
        w, go = _imports()
        from . import spend

        self._spend = spend
        self._demand = demand
        self._offers = list(offers)
        self._on_demand = on_demand
        self._spot = spot
        self._share = spot_share_max
        self._cache: dict = {}
        self.portfolio = None
        terms = sorted({o.term for o in self._offers}) + ["all"]
        controls = {
            "discount": w.FloatSlider(value=discount, min=0.0, max=0.7, step=0.05,
                                      description="discount off on demand",
                                      readout_format=".0%"),
            "term": w.Dropdown(options=terms, value=term if term in terms else terms[0],
                               description="term"),
            "forecast_error": w.FloatSlider(value=forecast_error, min=-0.3, max=0.3, step=0.05,
                                            description="demand forecast error",
                                            readout_format="+.0%"),
        }
        fig = go.FigureWidget()
        fig.add_scatter(name="actual demand (sorted)", mode="lines",
                        line={"color": "#333", "width": 2})
        fig.add_scatter(name="committed", mode="lines", fill="tozeroy",
                        line={"color": "#2a6f97"}, fillcolor="rgba(42,111,151,0.25)")
        fig.update_layout(template="plotly_white", height=380,
                          xaxis_title="share of hours with at least this demand [%]",
                          yaxis_title="GPUs", legend={"orientation": "h", "y": -0.25})
        super().__init__(controls, fig, "Commitment portfolio")
        self.debounce_s = 0.2
        self._show_first_answer()

    def _portfolio(self, discount: float, term: str):
        key = (round(discount, 4), term)
        if key not in self._cache:
            Offer = self._spend.Offer
            offers = [Offer(o.name, o.accelerator, o.term,
                            o.on_demand_usd_per_gpu_hour * (1 - discount),
                            o.on_demand_usd_per_gpu_hour, o.gpus_per_unit, o.block_hours,
                            o.max_units, o.provider)
                      for o in self._offers if term == "all" or o.term == term]
            self._cache[key] = self._spend.optimize_portfolio(
                self._demand, offers, on_demand_usd_per_gpu_hour=self._on_demand,
                spot_usd_per_gpu_hour=self._spot, spot_share_max=self._share,
                forecast_errors=())
        return self._cache[key]

    def _update(self) -> None:
        discount = float(self.value("discount"))
        port = self._portfolio(discount, self.value("term"))
        self.portfolio = port
        e = float(self.value("forecast_error"))
        d = port.inputs["d"] * (1 + e)
        s = port.inputs["s"] * (1 + e)
        committed = (port.hourly.pivot_table(index="timestamp", columns="accelerator",
                                             values="committed_gpus", aggfunc="sum")
                     [port.inputs["pools"]].to_numpy().T)
        ev = self._spend.evaluate_commitments(d, s, committed, port.summary["committed_usd"],
                                  port.inputs["on_demand"], port.inputs["spot"])
        tot = d.sum(axis=0)
        order = np.argsort(-tot, kind="stable")
        x = np.arange(1, len(tot) + 1) / max(len(tot), 1) * 100
        with self.figure.batch_update():
            self.figure.data[0].x, self.figure.data[0].y = x, tot[order]
            self.figure.data[1].x = x
            self.figure.data[1].y = committed.sum(axis=0)[order]
            self.figure.layout.title = (
                f"{discount:.0%} off, {self.value('term')}, demand {e:+.0%}: "
                f"${ev['total_usd']:,.0f} vs ${ev['all_on_demand_usd']:,.0f} on demand")
        self.status.value = ""
        util = ev["commitment_utilization"]
        self.table.value = (
            f"<p>{_esc(port.recommendation)}</p><p>At {e:+.0%} demand: total "
            f"${ev['total_usd']:,.0f} ({ev['savings_fraction']:.1%} under all on demand), "
            f"unused commitments ${ev['unused_commitment_usd']:,.0f}, commitment utilization "
            + ("-" if util != util else f"{util:.0%}") + f", coverage {ev['coverage']:.0%}.</p>")


def spend_portfolio(demand, offers=None, *, discount: float | None = None, term: str = "1y",
                    forecast_error: float = 0.0, provider: str = "aws", catalog=None,
                    spot_share_max=None) -> SpendPortfolio:
    """A dashboard of the commitment portfolio: discount, term and forecast-error controls.

    Each change re-optimizes (``aicost.spend.optimize_portfolio``, cached per discount and
    term) and redraws the demand duration curve with the committed baseline; the forecast error
    scales the actual demand against commitments chosen for the forecast.

    Parameters
    ----------
    demand : pandas.DataFrame or str
        Hourly demand or a CSV path (``aicost.spend.read_demand``).
    offers : list of aicost.spend.Offer, optional
        Default ``aicost.spend.catalog_offers`` for ``provider``.
    discount : float, optional
        Initial discount off on demand (0-0.7); default the offers' mean.
    term : str
        ``1y``, ``3y``, ``capacity_block`` or ``all``.
    forecast_error : float
        Initial relative error of the demand (-0.3..0.3).
    """
    from . import spend

    cat = _catalog(catalog)
    if not hasattr(demand, "columns"):
        demand = spend.read_demand(demand, catalog=cat)
    else:
        demand = spend.validate_demand(demand, catalog=cat)
    accs = sorted(demand["accelerator"].unique())
    od, sp = None, None
    if offers is None:
        offers, od, sp = spend.catalog_offers(accs, provider=provider, catalog=cat)
    if not offers:
        raise ValueError(f"no commitment offers for {', '.join(accs)} at {provider!r}")
    if discount is None:
        discount = round(float(np.mean([o.discount for o in offers])) / 0.05) * 0.05
    _in_range("discount", discount, 0.0, 0.7)
    _in_range("forecast_error", forecast_error, -0.3, 0.3)
    return SpendPortfolio(demand, offers, od, sp, float(discount), term, float(forecast_error),
                          spot_share_max)
