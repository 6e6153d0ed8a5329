"""Interactive explorers for notebooks (ipywidgets): the mask, the hyperparameters, the geometry.

    from jepa_lab.teaching.widgets import mask_explorer, hyperparameter_explorer, geometry_explorer
    mask_explorer(examples)                                   # last expression of a cell shows it

Each explorer is an ``ipywidgets.VBox`` whose controls are attributes (``explorer.k``,
``explorer.start``...), so a notebook or a test can drive it by setting ``.value`` or calling
``.click()``. Controls are wired with explicit observers (``ipywidgets.interactive`` would
swallow exceptions); the logic lives in :mod:`jepa_lab.teaching.explore`.

Figures travel inside the widget's own state: each one is an ``ipywidgets.Output`` whose
``outputs`` hold the whole plotly figure, replaced on every change. A view that appears late (a
slow kernel or browser, a notebook reopened) draws the current figure from that state; nothing
depends on a message arriving while a view exists, and updates from the training thread need
no cell context.
"""

from __future__ import annotations

import html
import os
import tempfile
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import plotly.graph_objects as go

from jepa_lab.geometry import plots
from jepa_lab.geometry.diagnostics import VIEWS, Embeddings
from jepa_lab.objective.config import MAX_PREDICTOR_TOKENS
from jepa_lab.objective.losses import DISTANCES
from jepa_lab.teaching.explore import (
    CURVE_METRICS,
    GeometryView,
    HyperparameterRun,
    Hyperparameters,
    MaskView,
    curves_view,
    default_tokenizer,
    embeddings_of,
    explorer_config,
    figure_bundle,
    fit_to_width,
    geometry_view,
    mask_view,
    padded_example,
)
from jepa_lab.training.presets import TrainConfig
from jepa_lab.training.trainer import epoch_line
from jepa_lab.training.validation import TEXT_VIEWS

try:
    import ipywidgets as w
except ImportError as err:  # the notebooks extra installs it
    raise ImportError(
        "jepa_lab.teaching.widgets needs ipywidgets: pip install 'jepa-lab[notebooks]' "
        "(or pip install ipywidgets)"
    ) from err

WIDE = w.Layout(width="420px")
LABEL_WIDTH = {"description_width": "120px"}


class FigurePane:
    """A plotly figure on screen that new figures replace.

    ``widget`` is an Output whose state holds the figure (see the module docstring); ``figure``
    is the figure shown now, sized to the width of the page rather than a fixed one.
    """

    def __init__(self, figure: go.Figure):
        self.widget = w.Output(layout=w.Layout(width="100%"))
        self.show(figure)

    def show(self, figure: go.Figure) -> None:
        self.figure = fit_to_width(figure)
        self.widget.outputs = (figure_bundle(self.figure),)


def _slider_style() -> dict[str, Any]:
    return {"style": LABEL_WIDTH, "layout": WIDE, "continuous_update": False}


# ============================================================================ mask


class MaskExplorer(w.VBox):
    """Pick an example, k, the Text view and the padding side; see the packed row's mask."""

    def __init__(
        self,
        examples: Sequence[Any],
        tokenizer: Any = None,
        model: Any = None,
    ):
        if examples is None:  # a notebook cell run before its data: show something, and say so
            from jepa_lab.data import generate_nlrx

            examples = generate_nlrx(8, "train", seed=0)
            warnings.warn(
                "mask_explorer(None): no examples given; showing 8 generated NL-RX pairs "
                "instead (pass your own (text, code) pairs)",
                stacklevel=3,
            )
        self.examples = list(examples)
        if not self.examples:
            raise ValueError("mask_explorer: no examples given")
        if tokenizer is None:
            tokenizer = model.tokenizer if model is not None else default_tokenizer(self.examples)
        self.tokenizer, self.model = tokenizer, model
        first_padded = padded_example(self.examples, self.tokenizer)  # show padding at once
        self.index = w.IntSlider(
            first_padded,
            min=0,
            max=len(self.examples) - 1,
            description="example",
            **_slider_style(),
        )
        self.k = w.IntSlider(
            1, min=0, max=MAX_PREDICTOR_TOKENS, description="k (predictors)", **_slider_style()
        )
        self.text_view = w.ToggleButtons(
            options=list(TEXT_VIEWS), value="user", description="Text view", style=LABEL_WIDTH
        )
        self.padding_side = w.ToggleButtons(
            options=["right", "left"], value="right", description="padding", style=LABEL_WIDTH
        )
        self.pad_with_next = w.Checkbox(
            True, description="batch with the next example (shows padding)", indent=False
        )
        self.text = w.Textarea(
            disabled=True, layout=w.Layout(width="100%", height="190px"), description=""
        )
        self.view: MaskView | None = None
        self.error: str | None = None
        first = self._compute()
        self.pane = FigurePane(first.figure if first else go.Figure())
        controls = [self.index, self.k, self.text_view, self.padding_side, self.pad_with_next]
        for control in controls:
            control.observe(self.refresh, names="value")
        super().__init__(
            [w.HBox([w.VBox(controls[:2]), w.VBox(controls[2:])]), self.text, self.pane.widget]
        )

    def _compute(self) -> MaskView | None:
        try:
            view = mask_view(
                self.examples,
                self.index.value,
                self.k.value,
                self.text_view.value,
                self.padding_side.value,
                tokenizer=self.tokenizer,
                model=self.model,
                companion="next" if self.pad_with_next.value else None,
            )
        except (ValueError, IndexError, TypeError) as err:  # bad example: say so, keep the view
            self.error = f"{type(err).__name__}: {err}"
            self.text.value = "cannot lay out this example: " + self.error
            return None
        self.error, self.view = None, view
        self.text.value = view.describe()
        return view

    def refresh(self, change: Any = None) -> None:
        view = self._compute()
        if view is not None:
            self.pane.show(view.figure)


def mask_explorer(
    examples: Sequence[Any], tokenizer: Any = None, model: Any = None
) -> MaskExplorer:
    """Explore how one example is packed into a row and which tokens see which.

    examples: (text, code) pairs or Example objects; tokenizer: whose chat template to use
    (default: ``model``'s, else a small one trained on the examples). It opens on the first
    example whose row is padded when batched with the next one.
    """
    return MaskExplorer(examples, tokenizer, model)


# ============================================================================ hyperparameters


class HyperparameterExplorer(w.VBox):
    """Sliders for lambda, gamma, k, distance, loss dropout, learning rate and epochs; Start
    trains both arms in the background with live curves; Stop keeps what was trained."""

    def __init__(
        self,
        config: TrainConfig | None = None,
        run_dir: str | os.PathLike | None = None,
        data: tuple[list[Any], list[Any]] | None = None,
        metrics: Sequence[str] = CURVE_METRICS,
    ):
        self.config = config or explorer_config()
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="jepa-lab-explore-"))
        self.data, self.metrics = data, tuple(metrics)
        hp = Hyperparameters.from_config(self.config)
        s = _slider_style()
        # Ranges: what JepaConfig accepts (k up to MAX_PREDICTOR_TOKENS, loss dropout 0..1),
        # with lambda > 0 (lambda = 0 is the NTP arm, which always runs) and weights up to 10.
        self.lam = w.FloatSlider(hp.lam, min=0.05, max=10.0, step=0.05, description="λ (JEPA)", **s)
        self.gamma = w.FloatSlider(
            hp.gamma, min=0.0, max=10.0, step=0.05, description="γ (NTP)", **s
        )
        self.k = w.IntSlider(
            hp.k, min=0, max=MAX_PREDICTOR_TOKENS, description="k (predictors)", **s
        )
        self.distance = w.Dropdown(
            options=list(DISTANCES), value=hp.distance, description="distance", style=LABEL_WIDTH
        )
        self.loss_dropout = w.FloatSlider(
            hp.loss_dropout, min=0.0, max=1.0, step=0.05, description="loss dropout", **s
        )
        self.lr = w.FloatLogSlider(
            hp.lr,
            base=10,
            min=-5,
            max=-1,
            step=0.1,
            description="learning rate",
            readout_format=".1e",
            **s,
        )
        self.epochs = w.IntSlider(hp.epochs, min=1, max=20, description="epochs", **s)
        self.start = w.Button(description="Start", button_style="success", icon="play")
        self.stop = w.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.status = w.HTML("Set the knobs and press Start.")
        self.pane = FigurePane(curves_view([]))
        # Filled by append_stdout from the training thread, one line per epoch record: state
        # updates, which need no cell to be running (a `with output:` block in a thread
        # catches nothing in a real browser).
        self.training_log = w.Output(layout=w.Layout(max_height="240px", overflow="auto"))
        log_box = w.Accordion(children=[self.training_log], selected_index=None)
        log_box.set_title(0, "training log")
        self.run: HyperparameterRun | None = None
        self.start.on_click(self._on_start)
        self.stop.on_click(self._on_stop)
        knobs = [
            self.lam,
            self.gamma,
            self.k,
            self.distance,
            self.loss_dropout,
            self.lr,
            self.epochs,
        ]
        super().__init__(
            [
                w.HBox([w.VBox(knobs[:4]), w.VBox(knobs[4:])]),
                w.HBox([self.start, self.stop]),
                self.status,
                self.pane.widget,
                log_box,
            ]
        )

    def hyperparameters(self) -> Hyperparameters:
        return Hyperparameters(
            lam=self.lam.value,
            gamma=self.gamma.value,
            k=self.k.value,
            distance=self.distance.value,
            loss_dropout=self.loss_dropout.value,
            lr=self.lr.value,
            epochs=self.epochs.value,
        )

    def _set_status(self, text: str) -> None:
        self.status.value = html.escape(text)

    def _on_start(self, button: Any = None) -> None:
        if self.run is not None and self.run.running:
            self._set_status("already running: press Stop first")
            return
        try:
            config = self.hyperparameters().apply(self.config)
            run = HyperparameterRun(
                config,
                self.run_dir,
                on_record=self._on_record,
                on_status=self._set_status,
                on_finish=self._on_finish,
                data=self.data,
            )
        except (ValueError, FileExistsError) as err:
            self._set_status(f"cannot start: {err}")
            return
        self.run = run
        self.training_log.outputs = ()
        self.pane.show(curves_view([]))
        self.start.disabled, self.stop.disabled = True, False
        run.start()

    def _on_stop(self, button: Any = None) -> None:
        if self.run is not None:
            self.run.stop()

    def _on_record(self, record: dict[str, Any], history: list[dict[str, Any]]) -> None:
        head = f"[{record.get('arm')} seed {record.get('seed')}] "
        self.training_log.append_stdout(head + epoch_line(record) + "\n")
        self.pane.show(curves_view(history, self.metrics))

    def _on_finish(self, run: HyperparameterRun) -> None:
        self.data = run.data  # the next Start reuses the loaded examples
        self.start.disabled, self.stop.disabled = False, True


def hyperparameter_explorer(
    config: TrainConfig | None = None,
    run_dir: str | os.PathLike | None = None,
    data: tuple[list[Any], list[Any]] | None = None,
) -> HyperparameterExplorer:
    """Train NTP and LLM-JEPA side by side with your hyperparameters, watching the curves.

    config: the run to vary (default ``explore.explorer_config()``: the tiny preset, 1024
    examples, 6 epochs). run_dir: where the arms go (``run_dir/ntp``, ``run_dir/jepa``, replaced
    on each Start); a temporary directory by default.
    """
    return HyperparameterExplorer(config, run_dir, data)


# ============================================================================ geometry

NONE = "(none)"


class GeometryExplorer(w.VBox):
    """Pick one or two checkpoints, a projection, the views and the number of pairs shown."""

    def __init__(
        self,
        checkpoints: Mapping[str, Any],
        pairs: Sequence[Any],
        batch_size: int = 32,
        seed: int = 0,
    ):
        if not checkpoints:
            raise ValueError("geometry_explorer: no checkpoints given")
        self.checkpoints = dict(checkpoints)
        self.pairs, self.batch_size, self.seed = list(pairs), batch_size, seed
        self._embeddings: dict[str, Embeddings] = {}
        self.loaded: dict[str, Any] = {}  # checkpoint name -> JepaModel loaded from its path
        names = list(self.checkpoints)
        n = len(self.embeddings(names[0]))
        self.method = w.Dropdown(
            options=["pca", "tsne", "umap"],
            value="pca",
            description="projection",
            style=LABEL_WIDTH,
        )
        self.left = w.Dropdown(options=names, value=names[0], description="left", style=LABEL_WIDTH)
        self.right = w.Dropdown(
            options=[NONE, *names],
            value=names[1] if len(names) > 1 else NONE,
            description="right",
            style=LABEL_WIDTH,
        )
        self.view_boxes = {
            v: w.Checkbox(True, description=plots.VIEW_LABELS[v], indent=False) for v in VIEWS
        }
        self.points = w.IntSlider(
            min(n, 200), min=min(4, n), max=n, description="pairs shown", **_slider_style()
        )
        self.message = w.HTML()
        self.view: GeometryView | None = None
        first = self._compute()
        self.pane = FigurePane(first.figure if first else go.Figure())
        controls = [self.method, self.left, self.right, *self.view_boxes.values(), self.points]
        for control in controls:
            control.observe(self.refresh, names="value")
        super().__init__(
            [
                w.HBox(
                    [
                        w.VBox([self.method, self.left, self.right]),
                        w.VBox([*self.view_boxes.values(), self.points]),
                    ]
                ),
                self.message,
                self.pane.widget,
            ]
        )

    def embeddings(self, name: str) -> Embeddings:
        """The checkpoint's embeddings of the pairs, loaded and extracted once, then cached."""
        if name not in self._embeddings:
            item = self.checkpoints[name]
            if isinstance(item, (str, os.PathLike)):
                from jepa_lab.objective.model import JepaModel

                item = self.loaded[name] = JepaModel.from_pretrained(item)
            self._embeddings[name] = embeddings_of(item, self.pairs, self.batch_size)
        return self._embeddings[name]

    def selected_views(self) -> list[str]:
        return [v for v, box in self.view_boxes.items() if box.value]

    def _compute(self) -> GeometryView | None:
        views = self.selected_views()
        if not views:
            self.message.value = "Tick at least one view."
            return None
        names = [self.left.value]
        if self.right.value not in (NONE, self.left.value):
            names.append(self.right.value)
        try:
            models = {name: self.embeddings(name) for name in names}
            view = geometry_view(
                models, self.method.value, views, self.points.value, seed=self.seed
            )
        except (ValueError, ImportError) as err:  # e.g. t-SNE on too few points
            self.message.value = f"<b>cannot draw this:</b> {html.escape(str(err))}"
            return None
        self.view = view
        lines = [
            f"<b>{html.escape(name)}</b>: {html.escape(message)}"
            for name, message in view.collapse_messages().items()
        ]
        self.message.value = "<br>".join(lines)
        return view

    def refresh(self, change: Any = None) -> None:
        view = self._compute()
        if view is not None:
            self.pane.show(view.figure)


def geometry_explorer(
    checkpoints: Mapping[str, Any],
    pairs: Sequence[Any],
    batch_size: int = 32,
    seed: int = 0,
) -> GeometryExplorer:
    """Explore embeddings of ``pairs`` under one or two checkpoints (before / after training).

    checkpoints: name -> a saved JepaModel directory (loaded with JepaModel.from_pretrained),
    a JepaModel, or precomputed Embeddings; each is embedded once and cached.
    """
    return GeometryExplorer(checkpoints, pairs, batch_size, seed)
