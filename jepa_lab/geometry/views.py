"""The three views as arrays: :class:`Embeddings` (Enc(Text), Pred(Enc(Text)), Enc(Code) of
the same pairs) and the input checks every geometry function applies."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

VIEWS = ("text", "pred", "code")  # Enc(Text), Pred(Enc(Text)), Enc(Code)
_EPS = 1e-12


# ----------------------------------------------------------------------------- inputs


def _as_matrix(x: Any, name: str) -> np.ndarray:
    """Convert an array-like or torch tensor to a float64 [N, H] matrix, or say what is wrong."""
    if hasattr(x, "detach"):  # torch tensor, possibly bf16 / on GPU
        x = x.detach().float().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2:
        raise ValueError(f"{name}: expected a 2-D array [N, H], got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{name}: expected a non-empty [N, H] array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        bad = int(np.argwhere(~np.isfinite(arr))[0, 0])
        raise ValueError(f"{name}: row {bad} holds NaN or inf")
    return arr


def _as_pair(a: Any, b: Any, names: tuple[str, str] = ("text", "code")):
    """Two matrices whose rows are matched pairs: same N and same H."""
    x, y = _as_matrix(a, names[0]), _as_matrix(b, names[1])
    if x.shape != y.shape:
        raise ValueError(
            f"{names[0]} and {names[1]} must be matched pairs of the same shape, "
            f"got {x.shape} and {y.shape}"
        )
    return x, y


def _unit_rows(x: np.ndarray) -> np.ndarray:
    return x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), _EPS)


@dataclass
class Embeddings:
    """The three views of N pairs, row i of each array belongs to pair i.

    text: Enc(Text) [N, H]; pred: Pred(Enc(Text)) [N, H]; code: Enc(Code) [N, H] (float32).
    texts / codes: the raw strings, kept for hover text in plots.
    """

    text: np.ndarray
    pred: np.ndarray
    code: np.ndarray
    texts: list[str] = field(default_factory=list)
    codes: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        n = {v: np.asarray(getattr(self, v)).shape for v in VIEWS}
        if len(set(n.values())) != 1 or len(next(iter(n.values()))) != 2:
            raise ValueError(f"Embeddings: text/pred/code must share one [N, H] shape, got {n}")
        for name, strings in (("texts", self.texts), ("codes", self.codes)):
            if strings and len(strings) != n["text"][0]:
                raise ValueError(
                    f"Embeddings.{name}: {len(strings)} strings for {n['text'][0]} rows"
                )

    def __len__(self) -> int:
        return int(self.text.shape[0])

    def views(self) -> dict[str, np.ndarray]:
        """{"text": ..., "pred": ..., "code": ...} for project() and plots."""
        return {v: getattr(self, v) for v in VIEWS}

    def hover(self) -> dict[str, list[str]]:
        """Hover strings per view: Text and Pred points show the text, Code points the code."""
        return {"text": list(self.texts), "pred": list(self.texts), "code": list(self.codes)}

    def unit_length(self) -> Embeddings:
        """The same pairs with every embedding scaled to length 1: what the cosine loss sees."""
        return Embeddings(
            _unit_rows(np.asarray(self.text)),
            _unit_rows(np.asarray(self.pred)),
            _unit_rows(np.asarray(self.code)),
            list(self.texts),
            list(self.codes),
        )

    def subset(self, index: Sequence[int] | np.ndarray) -> Embeddings:
        idx = np.asarray(index, dtype=np.int64)
        return Embeddings(
            self.text[idx],
            self.pred[idx],
            self.code[idx],
            [self.texts[i] for i in idx] if self.texts else [],
            [self.codes[i] for i in idx] if self.codes else [],
        )
