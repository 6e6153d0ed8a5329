"""The logic behind the notebook explorers (widgets.py), as plain functions and classes.

* :func:`mask_view`: one packed row of ``JepaModel.build_batch`` for one example, under a chosen
  ``k`` / Text view / padding side: its tokens, segments, position ids, attention mask and figure.
* :class:`HyperparameterRun`: both arms (NTP baseline, LLM-JEPA) trained one after the other in
  a background thread, each epoch's record streamed to a callback, stoppable at a step boundary
  without losing what was trained.
* :func:`geometry_view`: several models' embeddings of the same pairs on one shared 2-D map,
  with their geometry summaries and collapse verdicts.

Nothing here needs ipywidgets; tests call these directly, and the widgets only wire them.
"""

from __future__ import annotations

import copy
import json
import os
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
import torch
from transformers import TrainerCallback

from . import plots
from .config import JepaConfig
from .geometry import (
    VIEWS,
    Embeddings,
    extract_embeddings,
    geometry_summary,
    project_models,
)
from .history import History
from .masks import IGNORE_INDEX, NO_SEGMENT, block_mask
from .model import JepaModel
from .presets import TrainConfig, preset

# ============================================================================ mask explorer


@dataclass
class MaskView:
    """One packed row, column by column (T columns, padding included)."""

    index: int  # which example
    config: JepaConfig  # the k / text_view the row was built with
    padding_side: str
    token_ids: list[int]  # [T]
    token_labels: list[str]  # [T] each token decoded alone
    segment_ids: list[int]  # [T] segment index in the row, -1 for padding
    segment_names: dict[int, str]  # segment index -> what it holds (-1: "padding")
    position_ids: list[int]  # [T]
    labels: list[int]  # [T] next-token target of each column, -100 where none
    read_len: list[int]  # [T] length of the other segment's prefix each column may read
    mask: torch.Tensor  # bool [T, T], True where query (row) may attend to key (column)
    anchors: dict[str, int]  # "text" / "pred" / "code" -> column where the embedding is read
    figure: go.Figure = field(repr=False)

    def describe(self) -> str:
        """The row in words: each segment's columns, positions and decoded text; the anchors."""
        lines = [
            f"example {self.index}: k={self.config.k}, text_view={self.config.text_view!r}, "
            f"padding {self.padding_side}, {len(self.token_ids)} columns"
        ]
        seg = np.asarray(self.segment_ids)
        for s in dict.fromkeys(self.segment_ids):  # in column order
            cols = np.flatnonzero(seg == s)
            first, last = int(cols[0]), int(cols[-1])
            name = self.segment_names.get(s, f"segment {s}")
            if s == NO_SEGMENT:
                lines.append(f"[{name}] {len(cols)} columns {first}..{last}")
                continue
            text = "".join(self.token_labels[c] for c in cols)
            line = (
                f"[{name}] columns {first}..{last}, positions "
                f"{self.position_ids[first]}..{self.position_ids[last]}: {text!r}"
            )
            if self.read_len[first]:
                line += f" (also reads the first {self.read_len[first]} tokens of the NTP row)"
            targets = [self.token_labels[c] for c in cols if self.labels[c] != IGNORE_INDEX]
            if targets:
                line += f"; next-token targets: {''.join(targets)!r}"
            lines.append(line)
        what = {"text": "Enc(Text)", "pred": "Pred(Enc(Text))", "code": "Enc(Code)"}
        for view, col in self.anchors.items():
            lines.append(f"{what[view]} is read at column {col} ({self.token_labels[col]!r})")
        return "\n".join(lines)


def default_tokenizer(pairs: Sequence[Any], vocab_size: int = 300):
    """A small byte-level BPE tokenizer trained on the pairs' own strings (for the explorers)."""
    from .tokenizer import train_tokenizer

    strings = [s for i, p in enumerate(pairs) for s in _pair_strings(p, i)]
    return train_tokenizer(strings, vocab_size=vocab_size, min_frequency=1)


def _pair_strings(pair: Any, i: int) -> tuple[str, str]:
    if isinstance(pair, (tuple, list)) and len(pair) == 2:
        return str(pair[0]), str(pair[1])
    if hasattr(pair, "text") and hasattr(pair, "code"):
        return str(pair.text), str(pair.code)
    raise TypeError(
        f"pairs[{i}]: expected a (text, code) tuple or an object with .text and .code, "
        f"got {type(pair).__name__}"
    )


def padded_example(pairs: Sequence[Any], tokenizer: Any, look_at: int = 50) -> int:
    """The first example (of the first ``look_at``) whose row is shorter than the next one's,
    so that batched with it, as the mask explorer does by default, its row shows padding.

    A row holds the pair's text and code twice (NTP segment, then each view) plus a template
    that is the same for every pair, so comparing token counts of text + code is enough.
    0 when no such example is found (every row is at least as long as the next).
    """
    items = list(pairs)

    def size(i: int) -> int:
        text, code = _pair_strings(items[i], i)
        return len(tokenizer(text)["input_ids"]) + len(tokenizer(code)["input_ids"])

    sizes = [size(i) for i in range(min(len(items), look_at + 1))]
    return next((i for i in range(len(sizes) - 1) if sizes[i] < sizes[i + 1]), 0)


def _stand_in_model(vocab_size: int) -> torch.nn.Module:
    """A one-layer, 8-wide Llama: build_batch needs a model to wrap, the mask needs no weights."""
    from transformers import LlamaConfig, LlamaForCausalLM

    config = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=8,
        intermediate_size=16,
        num_hidden_layers=1,
        num_attention_heads=1,
        num_key_value_heads=1,
        max_position_embeddings=4096,
    )
    return LlamaForCausalLM._from_config(config, attn_implementation="sdpa")


def mask_view(
    pairs: Sequence[Any],
    index: int,
    k: int = 1,
    text_view: str = "user",
    padding_side: str = "right",
    tokenizer: Any = None,
    model: JepaModel | None = None,
    companion: int | str | None = "next",
) -> MaskView:
    """The packed row of ``pairs[index]`` as ``JepaModel.build_batch`` lays it out.

    tokenizer: the tokenizer whose chat template shapes the row (default: ``model``'s, else one
    trained on ``pairs``). It is copied, never modified (build_batch adds predictor tokens).
    model: a JepaModel whose tokenizer and JepaConfig (system prompt, chat template, anchors) to
    use; its weights are not needed for the mask and are never touched.
    companion: another example batched with this one, so padding shows when its row is longer:
    "next" (the following example), an index, or None (the row alone).
    """
    items = list(pairs)
    if not items:
        raise ValueError("mask_view: no pairs given")
    if not 0 <= index < len(items):
        raise IndexError(f"mask_view: index={index} outside 0..{len(items) - 1}")
    if padding_side not in ("right", "left"):
        raise ValueError(f"mask_view: padding_side={padding_side!r}: expected 'right' or 'left'")
    base = model.config if model is not None else JepaConfig()
    config = replace(base, k=k, text_view=text_view, lam=base.lam or 1.0)  # validates k, view
    if tokenizer is None:
        tokenizer = model.tokenizer if model is not None else default_tokenizer(items)
    tokenizer = copy.deepcopy(tokenizer)
    tokenizer.padding_side = padding_side
    jm = JepaModel(_stand_in_model(len(tokenizer) + k), tokenizer, config)

    if companion == "next":
        companion = (index + 1) % len(items) if len(items) > 1 else None
    if companion is not None and not 0 <= int(companion) < len(items):
        raise IndexError(f"mask_view: companion={companion} outside 0..{len(items) - 1}")
    chosen = [items[index]] + ([items[int(companion)]] if companion not in (None, index) else [])
    jm.config = replace(config, on_overflow="error")
    try:
        batch = jm.build_batch(chosen, jepa=True)
    except ValueError:
        if len(chosen) == 1:
            raise
        batch = jm.build_batch(chosen[:1], jepa=True)  # the companion is too long: row alone
    jm.config = config

    row = 0  # the chosen example is first, and packed layouts give one row per pair
    seg = batch["segment_ids"][row]  # [T]
    mask = block_mask(
        batch["segment_ids"], batch["local_index"], batch["read_segment"], batch["read_len"]
    )[row, 0]  # [T, T]
    anchors = {v: int(batch[f"{v}_index"][row, 1]) for v in VIEWS}
    names = _segment_names(seg, batch["labels"][row], anchors, config.k)
    ids = batch["input_ids"][row].tolist()
    labels = [tokenizer.decode([i]) for i in ids]
    title = (
        f"Example {index}: k={config.k}, text_view={config.text_view!r}, padding {padding_side} "
        "(row = query, column = key)"
    )
    return MaskView(
        index=index,
        config=config,
        padding_side=padding_side,
        token_ids=ids,
        token_labels=labels,
        segment_ids=seg.tolist(),
        segment_names=names,
        position_ids=batch["position_ids"][row].tolist(),
        labels=batch["labels"][row].tolist(),
        read_len=batch["read_len"][row].tolist(),
        mask=mask,
        anchors=anchors,
        figure=plots.mask_figure(mask, labels, seg, names, title=title),
    )


def _segment_names(
    seg: torch.Tensor, labels: torch.Tensor, anchors: dict[str, int], k: int
) -> dict[int, str]:
    """Name segments from what they carry: NTP targets, or the column an embedding is read at."""
    names = {NO_SEGMENT: "padding"}
    ntp = int(seg[(labels != IGNORE_INDEX).nonzero()[0, 0]])
    names[ntp] = "NTP: prompt + answer"
    text, pred, code = (int(seg[anchors[v]]) for v in VIEWS)
    names.setdefault(code, "Code view")
    if text not in names:
        names[text] = "Text view" + (f" + {k} predictor tokens" if k and pred == text else "")
    names.setdefault(pred, f"{k} predictor tokens (read the prompt)")
    return names


# ============================================================================ hyperparameters

ARMS = ("ntp", "jepa")
CURVE_METRICS = ("eval_ntp_loss", "eval_jepa_loss", "eval_accuracy")


def explorer_config(**overrides: Any) -> TrainConfig:
    """The tiny preset cut down to run both arms in under a minute on a laptop CPU (42 s on one
    busy core here), long enough for the losses to fall and accuracy to start moving."""
    sizes = dict(
        train_size=1024,
        eval_size=64,
        epochs=6,
        batch_size=16,
        hidden_size=64,
        num_layers=2,
        num_heads=4,
        vocab_size=512,
        max_new_tokens=24,
    )
    return preset("tiny", **{**sizes, **overrides})


@dataclass
class Hyperparameters:
    """The knobs the hyperparameter explorer exposes, applied onto a TrainConfig."""

    lam: float = 1.0
    gamma: float = 1.0
    k: int = 1
    distance: str = "cosine"
    loss_dropout: float = 0.0
    lr: float = 2e-3
    epochs: int = 4

    @classmethod
    def from_config(cls, config: TrainConfig) -> Hyperparameters:
        j = config.jepa
        return cls(j.lam, j.gamma, j.k, j.distance, j.loss_dropout, config.lr, config.epochs)

    def apply(self, config: TrainConfig) -> TrainConfig:
        """``config`` with these values; the JEPA arm needs lambda > 0 (lambda = 0 is NTP)."""
        if not self.lam > 0:
            raise ValueError(
                f"lambda={self.lam}: the LLM-JEPA arm needs lambda > 0 "
                "(lambda = 0 is the NTP baseline, which runs alongside anyway)"
            )
        if not self.lr > 0:
            raise ValueError(f"learning rate={self.lr}: expected > 0")
        jepa = replace(
            config.jepa,
            lam=float(self.lam),
            gamma=float(self.gamma),
            k=int(self.k),
            distance=self.distance,
            loss_dropout=float(self.loss_dropout),
        )
        return replace(config, lr=float(self.lr), epochs=int(self.epochs), jepa=jepa)


class _LiveCallback(TrainerCallback):
    """Streams the run's history records as they land, reports steps, and stops on request.

    The trainer appends an epoch's record after user callbacks have seen ``on_epoch_end``, so
    records are picked up from ``history.jsonl`` at the next event (the epoch's save, the next
    step, the end of training).
    """

    def __init__(self, run: HyperparameterRun, arm: str, history_path: Path):
        self.run, self.arm, self.history = run, arm, History(history_path)
        self.seen = 0

    def poll(self) -> None:
        records = self.history.read()
        for record in records[self.seen :]:
            self.run._add_record(record)
        self.seen = len(records)

    def on_step_begin(self, args, state, control, **kwargs):
        self.poll()

    def on_step_end(self, args, state, control, **kwargs):
        if self.run.stop_requested:
            control.should_training_stop = True  # the Trainer then ends the epoch and saves
        self.run._set_status(
            f"{plots.arm_label(self.arm)}: step {state.global_step}/{state.max_steps} "
            f"(epoch {state.epoch or 0:.2f})" + (", stopping..." if self.run.stop_requested else "")
        )
        return control

    def on_save(self, args, state, control, **kwargs):
        self.poll()

    def on_train_end(self, args, state, control, **kwargs):
        self.poll()


class HyperparameterRun:
    """Train the NTP baseline and LLM-JEPA arms of ``config`` one after the other, in a thread.

    run_dir: each arm goes to ``run_dir/<arm>`` (replaced if it holds an earlier run); a
    temporary directory when None. data: (train, held-out) examples, else loaded from config.
    on_record(record, history): called in the training thread with each epoch's record as soon
    as it is written, and the list of all records so far. on_status(text): progress in words.
    on_finish(run): called last in the thread, however the run ended (see ``error``).
    log(line): called with each line the training thread prints (the trainer's per-epoch
    lines, warnings written to stdout or stderr), instead of letting them land under whichever
    notebook cell happens to be running; other threads' output is left alone.
    ``stop()`` ends training at the next optimizer step; the Trainer then closes the epoch
    (a record for the partial epoch), saves a checkpoint, and ``train`` saves ``final/``.
    """

    def __init__(
        self,
        config: TrainConfig,
        run_dir: str | os.PathLike | None = None,
        on_record: Callable[[dict[str, Any], list[dict[str, Any]]], None] | None = None,
        on_status: Callable[[str], None] | None = None,
        on_finish: Callable[[HyperparameterRun], None] | None = None,
        arms: Sequence[str] = ARMS,
        data: tuple[list[Any], list[Any]] | None = None,
        progress: bool = False,
        log: Callable[[str], None] | None = None,
    ):
        for arm in arms:
            if arm not in ARMS:
                raise ValueError(f"arms: {arm!r} is not one of {ARMS}")
        if "jepa" in arms and not config.jepa.lam > 0:
            raise ValueError(f"config.jepa.lam={config.jepa.lam}: the LLM-JEPA arm needs lam > 0")
        self.config = config
        self.run_dir = Path(run_dir or tempfile.mkdtemp(prefix="jepa-lab-explore-"))
        self.arms = tuple(arms)
        self.on_record, self.on_status, self.on_finish = on_record, on_status, on_finish
        self.data, self.progress, self.log = data, progress, log
        self.history: list[dict[str, Any]] = []
        self.results: dict[str, Any] = {}  # arm -> train.TrainResult
        self.status = "not started"
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        for arm in self.arms:  # train(overwrite=True) wipes the folder: only ever a run's
            folder = self.arm_dir(arm)
            if folder.is_dir() and any(folder.iterdir()) and not (folder / "run.json").is_file():
                raise FileExistsError(
                    f"{folder} exists, is not empty and holds no jepa-lab run; "
                    "choose another run_dir"
                )

    def arm_dir(self, arm: str) -> Path:
        return self.run_dir / arm

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def start(self) -> HyperparameterRun:
        if self._thread is not None:
            raise RuntimeError("this run was already started; make a new HyperparameterRun")
        self._thread = threading.Thread(target=self._train_all, name="jepa-lab-explore")
        self._thread.daemon = True  # a closing kernel must not hang on it
        self._set_status("starting...")
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop at the next optimizer step, keeping everything trained so far on disk."""
        self._stop.set()
        if self.running:
            self._set_status(self.status + " (stop requested)")

    def join(self, timeout: float | None = None) -> bool:
        """Wait for the thread; True once it has finished."""
        if self._thread is not None:
            self._thread.join(timeout)
        return not self.running

    def records(self, arm: str) -> list[dict[str, Any]]:
        with self._lock:
            return [r for r in self.history if r.get("arm") == arm]

    # ------------------------------------------------------------------ in the thread
    def _set_status(self, text: str) -> None:
        self.status = text
        if self.on_status is not None:
            self.on_status(text)

    def _add_record(self, record: dict[str, Any]) -> None:
        with self._lock:
            self.history.append(record)
            snapshot = list(self.history)
        if self.on_record is not None:
            self.on_record(record, snapshot)

    def _train_all(self) -> None:
        if self.log is None:
            self._train_arms()
            return
        with thread_output_to(self.log):
            self._train_arms()

    def _train_arms(self) -> None:
        from .build import load_examples
        from .train import train

        try:
            if self.data is None:
                self._set_status("loading data...")
                self.data = load_examples(self.config)
            for arm in self.arms:
                if self.stop_requested:
                    break
                self._set_status(f"{plots.arm_label(arm)}: building the model...")
                live = _LiveCallback(self, arm, self.arm_dir(arm) / "history.jsonl")
                result = train(
                    self.config,
                    self.arm_dir(arm),
                    arm,
                    overwrite=True,
                    progress=self.progress,
                    callbacks=[live],
                    data=self.data,
                )
                live.poll()
                self.results[arm] = result
            done = ", ".join(f"{plots.arm_label(a)}: {r.run_dir}" for a, r in self.results.items())
            if self.stop_requested:
                self._set_status(f"stopped; kept what was trained ({done or 'nothing yet'})")
            else:
                self._set_status(f"done ({done})")
        except BaseException as err:  # reported to the notebook, never lost in the thread
            self.error = err
            self._set_status(f"failed: {type(err).__name__}: {err}")
        finally:
            if self.on_finish is not None:
                self.on_finish(self)


class _ThreadStream:
    """Stands in for sys.stdout / sys.stderr: one thread's writes go, line by line, to a sink;
    every other thread writes to the stream it replaced, as before."""

    def __init__(self, inner: Any, thread: int, sink: Callable[[str], None]):
        self.inner, self.thread, self.sink = inner, thread, sink
        self.active, self.pending = True, ""

    def write(self, text: str) -> int:
        if not (self.active and threading.get_ident() == self.thread):
            return self.inner.write(text)
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.sink(line + "\n")
        return len(text)

    def flush(self) -> None:
        if self.active and threading.get_ident() == self.thread:
            return  # lines go out whole; the rest when its newline comes, or at close
        self.inner.flush()

    def close_route(self) -> None:
        self.active = False
        if self.pending:
            self.sink(self.pending + "\n")
            self.pending = ""

    def __getattr__(self, name: str) -> Any:  # encoding, isatty, fileno...: the real stream's
        return getattr(self.inner, name)


@contextmanager
def thread_output_to(sink: Callable[[str], None]) -> Iterator[None]:
    """Inside, what this thread prints (stdout and stderr) goes to ``sink`` one line at a time.

    ipywidgets' ``with output:`` capture ties output to the message being handled when it is
    entered, which a background thread does not have: its prints landed under whichever cell
    ran last, and the explorer's log stayed empty. Routing by thread does not depend on that.
    """
    me = threading.get_ident()
    routes = {name: _ThreadStream(getattr(sys, name), me, sink) for name in ("stdout", "stderr")}
    for name, route in routes.items():
        setattr(sys, name, route)
    try:
        yield
    finally:
        for name, route in routes.items():
            route.close_route()
            if getattr(sys, name) is route:  # else someone replaced it since: leave theirs
                setattr(sys, name, route.inner)


def fit_to_width(figure: go.Figure) -> go.Figure:
    """A copy of ``figure`` that takes the width of where it is drawn instead of a fixed one,
    so it is not clipped in a narrow window (the height stays as designed)."""
    fitted = go.Figure(figure)
    fitted.update_layout(width=None, autosize=True)
    return fitted


def figure_bundle(figure: go.Figure) -> dict[str, Any]:
    """The figure as a display output (a notebook output's JSON), data included.

    JupyterLab, Notebook 7 and VS Code draw ``application/vnd.plotly.v1+json``; Colab and
    other HTML front ends get ``text/html`` that loads plotly.js from its CDN.
    """
    # No config {"responsive": true}: with it, plotly sizes the plot to 100% of its container,
    # and inside a widget's output area that container can be 0 px tall: an empty figure.
    # JupyterLab's plotly renderer already refits the width whenever the output area resizes.
    spec = json.loads(figure.to_json())
    data = {
        "application/vnd.plotly.v1+json": spec,
        "text/html": figure.to_html(include_plotlyjs="cdn", full_html=False),
        "text/plain": f"<plotly figure: {figure.layout.title.text or 'untitled'}>",
    }
    return {"output_type": "display_data", "data": data, "metadata": {}}


def curves_view(
    history: Sequence[Mapping[str, Any]], metrics: Sequence[str] = CURVE_METRICS
) -> go.Figure:
    """plots.curves_figure over the metrics some record has (an empty figure before any)."""
    present = [m for m in metrics if any(r.get(m) is not None for r in history)]
    if not present:
        fig = go.Figure()
        fig.update_layout(title="Training curves appear here after each epoch", height=450)
        return fig
    return plots.curves_figure(history, present, title="NTP baseline vs LLM-JEPA, per epoch")


# ============================================================================ geometry


@dataclass
class GeometryView:
    """What the geometry explorer shows for one choice of models, views and points."""

    figure: go.Figure
    summary: dict[str, dict[str, Any]]  # model -> geometry_summary (incl. collapsed, message)
    coords: dict[str, dict[str, np.ndarray]]  # model -> view -> [n, 2]
    embeddings: dict[str, Embeddings]  # model -> the n pairs shown
    index: np.ndarray  # [n] which pairs (rows of the full embeddings) are shown

    def collapse_messages(self) -> dict[str, str]:
        return {name: s["collapse_message"] for name, s in self.summary.items()}


def embeddings_of(item: Any, pairs: Sequence[Any] | None = None, batch_size: int = 32):
    """Embeddings as given, or extracted from a JepaModel (with ``pairs``) / (JepaModel, pairs)."""
    if isinstance(item, Embeddings):
        return item
    if isinstance(item, tuple) and len(item) == 2:
        item, pairs = item
    if pairs is None:
        raise ValueError(f"a {type(item).__name__} needs pairs to embed; pass pairs=")
    return extract_embeddings(item, pairs, batch_size=batch_size, progress=False)


def geometry_view(
    models: Mapping[str, Any],
    method: str = "pca",
    views: Sequence[str] = VIEWS,
    n_points: int | None = None,
    seed: int = 0,
    pairs: Sequence[Any] | None = None,
    batch_size: int = 32,
) -> GeometryView:
    """One or two models' embeddings of the same pairs, projected jointly to one 2-D map.

    models: name -> Embeddings, JepaModel (embedded on ``pairs``) or (JepaModel, pairs); the
    first is drawn left, the second right. n_points: show this many pairs, drawn at random
    (``seed``) but the same for every model; None shows all. The summary (geometry_summary,
    with its collapse verdict) is computed on the pairs shown, over all three views.
    """
    if not models:
        raise ValueError("geometry_view: no models given")
    if len(models) > 2:
        raise ValueError(
            f"geometry_view: shows one or two models side by side, got {len(models)} "
            f"({list(models)})"
        )
    views = list(views)
    unknown = [v for v in views if v not in VIEWS]
    if not views or unknown:
        raise ValueError(f"geometry_view: views={views}: expected a non-empty subset of {VIEWS}")
    full = {name: embeddings_of(m, pairs, batch_size) for name, m in models.items()}
    sizes = {name: len(e) for name, e in full.items()}
    if len(set(sizes.values())) != 1:
        raise ValueError(f"geometry_view: the models embedded different numbers of pairs {sizes}")
    n = next(iter(sizes.values()))
    if n_points is None or n_points >= n:
        index = np.arange(n)
    elif n_points < 2:
        raise ValueError(f"geometry_view: n_points={n_points}: expected at least 2")
    else:
        index = np.sort(np.random.default_rng(seed).choice(n, n_points, replace=False))
    shown = {name: e.subset(index) for name, e in full.items()}
    coords = project_models(shown, method=method, seed=seed, views=views)
    names = list(shown)
    first = shown[names[0]]
    figure = plots.geometry_figure(
        coords[names[0]],
        coords[names[1]] if len(names) > 1 else None,
        texts=first.hover(),
        titles=(names[0], names[1] if len(names) > 1 else ""),
        title=f"Embeddings of {len(index)} pairs ({method.upper()}, one shared projection)",
    )
    summary = {name: geometry_summary(e, seed=seed) for name, e in shown.items()}
    return GeometryView(figure, summary, coords, shown, index)
