"""JepaConfig: every knob of the LLM-JEPA objective in one dataclass."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path

from jepa_lab import write_atomic
from jepa_lab.objective.checks import MAX_PREDICTOR_TOKENS, check_jepa_config

__all__ = ["CONFIG_NAME", "MAX_PREDICTOR_TOKENS", "JepaConfig"]

CONFIG_NAME = "jepa_config.json"


@dataclass
class JepaConfig:
    """Hyperparameters of ``loss = gamma * NTP + lam * d(Pred(Enc(Text)), Enc(Code))``.

    Paper knobs: ``k`` predictor tokens (0 means Pred is the identity), ``lam``, ``gamma``,
    ``distance``, ``loss_dropout`` (fraction of steps that skip the JEPA term and its tokens).

    ``text_view``: ``"user"`` re-encodes the user turn alone, as in the paper; ``"prompt"`` lets
    the predictor tokens read the NTP row's own prompt, which costs only k extra tokens.
    ``embed_at``: ``"content"`` reads Enc(x) at the last content token of a view, a state that
    next-token training also constrains; ``"end_of_turn"`` reads it at the view's end-of-turn token.
    ``label_mode``: ``"answer"`` trains the answer and its end-of-turn token only; ``"official"``
    reproduces the official collator's labels (every token except EOS/end-of-turn/padding).
    ``stop_grad_code`` and ``var_cov_weight`` are extensions beyond the paper, off by default.
    """

    k: int = 1  # predictor tokens appended to the Text view, 0..16 (0: Pred is the identity)
    lam: float = 1.0  # weight of the JEPA term (0: plain NTP)
    gamma: float = 1.0  # weight of the NTP term
    distance: str = "cosine"  # d(Pred(Enc(Text)), Enc(Code))
    loss_dropout: float = 0.0  # fraction of steps that skip the JEPA term and its tokens
    text_view: str = "user"  # "user": the user turn alone (the paper); "prompt": the NTP row
    embed_at: str = "content"  # the token Enc(x) is read at: last content or end of turn
    temperature: float = 0.07  # of the infonce distance
    seed: int = 0  # of the loss-dropout draws
    max_length: int = 512  # tokens of a packed row
    on_overflow: str = "drop"  # an example longer than max_length: dropped, or an error
    system_prompt: str | None = None  # for examples that bring none of their own
    label_mode: str = "answer"  # "answer" or "official" (the official collator's labels)
    stop_grad_code: bool = False  # no gradient through Enc(Code) (an extension)
    var_cov_weight: float = 0.0  # a variance-covariance penalty on the embeddings (extension)
    chat_template: str | None = None  # a Jinja chat template; None: the tokenizer's own

    def __post_init__(self) -> None:
        check_jepa_config(self)  # types, ranges, finiteness, choices: lam=nan never trains NTP

    @property
    def predictor_tokens(self) -> list[str]:
        return [f"<|predictor_{i}|>" for i in range(1, self.k + 1)]

    def to_dict(self) -> dict:
        return asdict(self)

    def to_json_string(self) -> str:
        """The fields as JSON: the Trainer's trackers record a model's config through this."""
        return json.dumps(self.to_dict(), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_dict(cls, data: dict) -> JepaConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"JepaConfig: unknown field(s) {unknown}; known: {sorted(known)}")
        return cls(**data)

    def save(self, directory: str | os.PathLike) -> Path:
        return write_atomic(
            Path(directory) / CONFIG_NAME, json.dumps(self.to_dict(), indent=2) + "\n"
        )

    @classmethod
    def load(cls, directory: str | os.PathLike) -> JepaConfig:
        path = Path(directory) / CONFIG_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{err.lineno}: not valid JSON ({err.msg})") from err
        return cls.from_dict(data)
