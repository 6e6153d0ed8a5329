"""Packing: (Text, Code) pairs -> the packed rows, labels and embedding anchors of one batch.

For each pair one packed row holds (``text_view="user"``, the paper's views)::

    [ NTP: prompt(Text) + Code + <eot> ][ Text view + <|predictor_1..k|> ][ Code view ]

and with ``text_view="prompt"`` only k predictor tokens that read the NTP row's prompt::

    [ NTP: prompt(Text) + Code + <eot> ][ <|predictor_1..k|> -> reads the prompt ]

A :class:`Packer` needs a tokenizer and a :class:`JepaConfig`, no model: the mask explorer,
the exercises and the notebooks pack and draw rows with it alone. It adds the predictor tokens
to the tokenizer; whoever owns the model (``JepaModel``) resizes the embeddings to match.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch

from jepa_lab.data.records import text_and_code
from jepa_lab.objective.chat import ChatPieces, chat_pieces, special_token_ids
from jepa_lab.objective.config import JepaConfig
from jepa_lab.objective.masks import IGNORE_INDEX, Segment, pack_rows

LAYOUTS = ("packed", "official_3row", "official_2row")


@dataclass(frozen=True)
class TokenizedPair:
    """One (Text, Code) pair as ids, from :meth:`Packer.tokenize`: a training set keeps these
    so each example is tokenised once, not on every step. The ids belong to the tokenizer of the
    Packer that made them; the template pieces (which the config names) are looked up per batch.
    """

    text: tuple[int, ...]
    code: tuple[int, ...]
    system: str | None = None
    id: str | None = None  # the example's id, for messages about dropped or bad pairs


@dataclass
class _PairLayout:
    """A pair's segments, and each embedding's anchor: (segment name, offset in segment)."""

    ntp: Segment
    prompt_len: int
    text: Segment | None = None  # user mode: the user turn alone + predictor tokens
    code: Segment | None = None
    pred: Segment | None = None  # prompt mode with k > 0: predictor tokens reading the prompt
    anchors: dict[str, tuple[str, int]] = field(default_factory=dict)

    def segment(self, name: str) -> Segment | None:
        return getattr(self, name)

    def segments(self) -> list[Segment]:
        return [s for s in (self.ntp, self.text, self.code, self.pred) if s is not None]


def _text_and_code(item: Any, index: int) -> tuple[str, str, str | None]:
    text, code, system = text_and_code(item, index)
    for view, value in (("text", text), ("code", code)):
        if not value.strip():
            raise ValueError(f"pair {index}: the {view} view is empty")
    return text.strip(), code.strip(), system


def add_predictor_tokens(tokenizer, config: JepaConfig) -> list[int]:
    """Add ``config``'s predictor tokens to ``tokenizer`` (once) and return their ids."""
    from tokenizers import AddedToken

    missing = [t for t in config.predictor_tokens if t not in tokenizer.get_vocab()]
    if missing:
        tokenizer.add_tokens(
            [AddedToken(t, special=True, normalized=False) for t in missing],
            special_tokens=True,
        )
    return tokenizer.convert_tokens_to_ids(config.predictor_tokens)


class Packer:
    """Packs (text, code) pairs for ``tokenizer`` under ``config``; no model needed."""

    def __init__(self, tokenizer, config: JepaConfig | None = None):
        self.tokenizer = tokenizer
        self.config = config or JepaConfig()
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token  # padding is masked out; any id will do
        self.predictor_ids = add_predictor_tokens(tokenizer, self.config)
        self._pieces: dict[str | None, ChatPieces] = {}
        self.dropped_pairs = 0

    def pieces(self, system: str | None = None) -> ChatPieces:
        system = system if system is not None else self.config.system_prompt
        if system not in self._pieces:
            self._pieces[system] = chat_pieces(self.tokenizer, system, self.config.chat_template)
        return self._pieces[system]

    def layouts(self, pairs: Sequence[Any]) -> list[_PairLayout]:
        """Every pair's segments and anchors; pairs over ``max_length`` dropped (or an error).
        ``pairs`` may mix raw pairs with :class:`TokenizedPair` s (those are not tokenised)."""
        if not pairs:
            raise ValueError("build_batch: no pairs given")
        return self._keep_fitting([self._layout(p) for p in self.tokenize(pairs)], pairs)

    def tokenize(
        self, pairs: Sequence[Any], first: Sequence[int] | None = None
    ) -> list[TokenizedPair]:
        """Each (text, code) pair as ids, in two batched tokenizer calls; pairs that are
        already a :class:`TokenizedPair` pass through. ``first`` gives the positions that
        messages name (default: 0, 1, ...)."""
        positions = list(range(len(pairs)) if first is None else first)
        todo = [i for i, p in enumerate(pairs) if not isinstance(p, TokenizedPair)]
        done = list(pairs)
        if not todo:
            return done
        parsed = [_text_and_code(pairs[i], positions[i]) for i in todo]
        texts = self.tokenizer([t for t, _, _ in parsed], add_special_tokens=False)["input_ids"]
        codes = self.tokenizer([c for _, c, _ in parsed], add_special_tokens=False)["input_ids"]
        for i, t, c, (_, _, system) in zip(todo, texts, codes, parsed, strict=True):
            done[i] = TokenizedPair(tuple(t), tuple(c), system, getattr(pairs[i], "id", None))
        return done

    def prompt_ids(self, texts: Sequence[str], system: str | None = None) -> list[list[int]]:
        """Prompts for generation: exactly the NTP rows' prompts."""
        pieces = self.pieces(system)
        encoded = self.tokenizer([t.strip() for t in texts], add_special_tokens=False)["input_ids"]
        return [pieces.prompt(list(ids)) for ids in encoded]

    def _layout(self, pair: TokenizedPair) -> _PairLayout:
        """The segments of one pair and where its three embeddings are read."""
        p, cfg = self.pieces(pair.system), self.config
        text, code = list(pair.text), list(pair.code)
        prompt = p.before_text + text + p.between
        tokens = prompt + code + p.after_code
        if cfg.label_mode == "answer":
            labels = [IGNORE_INDEX] * len(prompt) + code + p.after_code
        else:  # the official collator: everything but EOS / end-of-turn / padding is a target
            skip = {self.tokenizer.pad_token_id, self.tokenizer.eos_token_id, p.end_of_turn_id}
            labels = [IGNORE_INDEX if t in skip else t for t in tokens]
        layout = _PairLayout(ntp=Segment(tokens, "ntp", labels=labels), prompt_len=len(prompt))

        at_eot = cfg.embed_at == "end_of_turn"
        layout.code = Segment(p.code_view_before + code + p.code_view_after, "code")
        layout.anchors["code"] = (
            "code",
            -1 if at_eot else len(p.code_view_before) + len(code) - 1,
        )
        if cfg.text_view == "user":
            layout.text = Segment(
                p.text_view_before + text + p.text_view_after + self.predictor_ids, "text"
            )
            text_at = len(p.text_view_before) + len(text) - 1
            if at_eot:
                text_at += len(p.text_view_after)
            layout.anchors["text"] = ("text", text_at)
            layout.anchors["pred"] = ("text", -1) if cfg.k else ("text", text_at)
        else:
            text_at = len(p.before_text) + len(text) - 1
            if at_eot:  # the user turn ends at the first special token after its content
                special = special_token_ids(self.tokenizer)
                text_at += 1 + next((i for i, t in enumerate(p.between) if t in special), 0)
            layout.anchors["text"] = ("ntp", text_at)
            layout.anchors["pred"] = ("ntp", text_at)
            if cfg.k:
                layout.pred = Segment(
                    list(self.predictor_ids),
                    "pred",
                    read_len=len(prompt),
                    continues=True,
                    reads=0,  # re-pointed at the NTP segment's index when the row is laid out
                )
                layout.anchors["pred"] = ("pred", -1)
        return layout

    def _fits(self, layout: _PairLayout) -> bool:
        return max(len(s.tokens) for s in layout.segments()) <= self.config.max_length

    def fits(self, pairs: Sequence[Any]) -> list[bool]:
        """Whether each pair fits ``max_length`` (build_batch drops, or refuses, the others)."""
        return [self._fits(self._layout(p)) for p in self.tokenize(pairs)]

    def _keep_fitting(self, layouts: list[_PairLayout], pairs: Sequence[Any]) -> list[_PairLayout]:
        kept = [lay for lay in layouts if self._fits(lay)]
        # name dropped pairs by example id (a batch position means nothing after shuffling)
        dropped = [
            str(getattr(pair, "id", None) or f"batch position {i}")
            for i, (pair, lay) in enumerate(zip(pairs, layouts, strict=True))
            if not self._fits(lay)
        ]
        if dropped:
            message = (
                f"{len(dropped)} of {len(layouts)} pairs exceed max_length="
                f"{self.config.max_length} tokens in their NTP row or a view (examples "
                f"{dropped[:10]}{'...' if len(dropped) > 10 else ''}); they are dropped, never "
                "truncated. Raise max_length or filter the data."
            )
            if self.config.on_overflow == "error" or not kept:
                raise ValueError("build_batch: " + message)
            warnings.warn(message, stacklevel=3)
            self.dropped_pairs += len(dropped)
        return kept

    def build_batch(
        self, pairs: Sequence[Any], jepa: bool | None = None, layout: str = "packed"
    ) -> dict[str, torch.Tensor]:
        """Turn (text, code) pairs into model inputs; ``jepa=None`` means ``lam > 0``.

        ``layout="packed"`` is jepa-lab's one-row-per-pair layout. ``official_3row`` (NTP rows,
        then Text rows, then Code rows) and ``official_2row`` (NTP rows, then Text|Code sharing a
        row under a block mask) reproduce the official code's layouts for comparison.
        """
        if layout not in LAYOUTS:
            raise ValueError(f"layout={layout!r}: expected one of {LAYOUTS}")
        jepa = self.config.lam > 0 if jepa is None else jepa
        if layout != "packed" and self.config.text_view != "user":
            raise ValueError(f"layout={layout!r} is the paper's; it needs text_view='user'")
        layouts = self.layouts(pairs)
        n = len(layouts)
        left = getattr(self.tokenizer, "padding_side", "right") == "left"

        rows: list[list[Segment]] = []
        places: list[dict[str, tuple[int, int]]] = []  # segment name -> (row, index in row)
        for i, lay in enumerate(layouts):
            if not jepa:
                rows.append([lay.ntp])
            elif layout == "packed":
                names = [s.name for s in lay.segments()]  # ntp first
                if left:  # NTP segment last (before any predictors): its labels end the row
                    names = (
                        [x for x in names if x not in ("ntp", "pred")]
                        + ["ntp"]
                        + (["pred"] if lay.pred is not None else [])
                    )
                row = [lay.segment(x) for x in names]
                if lay.pred is not None:
                    lay.pred.reads = names.index("ntp")
                rows.append(row)
                places.append({x: (i, j) for j, x in enumerate(names)})
            else:
                rows.append([lay.ntp])
                if layout == "official_3row":
                    places.append({"ntp": (i, 0), "text": (n + i, 0), "code": (2 * n + i, 0)})
                else:
                    places.append({"ntp": (i, 0), "text": (n + i, 0), "code": (n + i, 1)})
        if jepa and layout == "official_3row":
            rows += [[lay.text] for lay in layouts] + [[lay.code] for lay in layouts]
        elif jepa and layout == "official_2row":
            rows += [[lay.text, lay.code] for lay in layouts]

        packed = pack_rows(rows, self.tokenizer.pad_token_id, "left" if left else "right")
        batch = {
            "input_ids": packed.input_ids,
            "labels": packed.labels,
            "position_ids": packed.position_ids,
            "segment_ids": packed.segment_ids,
            "local_index": packed.local_index,
            "read_segment": packed.read_segment,
            "read_len": packed.read_len,
        }
        if jepa:
            for name in ("text", "pred", "code"):
                index = []
                for lay, place in zip(layouts, places, strict=True):
                    segment, offset = lay.anchors[name]
                    row, seg_index = place[segment]
                    index.append((row, packed.column(row, seg_index, offset)))
                batch[f"{name}_index"] = torch.tensor(index, dtype=torch.long)  # [N, 2]
        return batch
