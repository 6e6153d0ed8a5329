"""HellaSwag the official way: the most probable letter after the whole prompt, checked against
running the Hugging Face model by hand on the same ids, one prompt at a time, unpadded."""

from __future__ import annotations

import random

import pytest
import torch

from jepa_lab.data.records import Example
from jepa_lab.training.choice_logits import letter_token_ids, score_choice_by_logits
from jepa_lab.training.tiny import tiny_jepa_model

LETTERS = ("A", "B", "C", "D")
SYSTEM = "Which one of A), B), C), or D) is the best ending for the context? Answer A, B, C, or D."
WORDS = (
    "the man walks into a store and picks up some red paint then he goes home to the wall".split()
)


def _examples(n: int, long_every: int = 3) -> list[Example]:
    rng = random.Random(0)
    out = []
    for i in range(n):
        words = 120 if i % long_every == 0 else 12  # some prompts far past 128 tokens
        context = " ".join(rng.choice(WORDS) for _ in range(words))
        endings = "\n".join(f"{L}) " + " ".join(rng.sample(WORDS, 5)) for L in LETTERS)
        out.append(Example(f"{context}\n{endings}", rng.choice(LETTERS), f"hs/{i}", "test", SYSTEM))
    return out


def _by_hand(jm, example, cut: int | None = None) -> list[float]:
    ids = jm.prompt_ids([example.text], system=example.system)[0]
    ids = ids[:cut] if cut else ids
    with torch.no_grad():
        logits = jm.model(input_ids=torch.tensor([ids])).logits[0, -1]
    probs = torch.softmax(logits.float(), dim=-1)
    return [float(probs[i]) for i in letter_token_ids(jm.tokenizer, LETTERS)]


def test_the_most_probable_letter_after_the_whole_prompt():
    examples = _examples(9)
    jm = tiny_jepa_model(examples, seed=3)
    jm.model.train()
    result = score_choice_by_logits(jm, examples, LETTERS, batch_size=4)
    assert jm.model.training  # the mode is given back
    assert result["n"] == 9
    lengths = [len(jm.prompt_ids([e.text], system=e.system)[0]) for e in examples]
    assert max(lengths) > 128 and len(set(lengths)) > 2  # right padding is exercised
    for example, probs, guess, ok in zip(
        examples, result["probabilities"], result["predicted"], result["correct"], strict=True
    ):
        expected = _by_hand(jm, example)
        assert probs == pytest.approx(expected, rel=1e-4, abs=1e-6)
        assert guess == LETTERS[max(range(4), key=expected.__getitem__)]
        assert ok == (guess == example.code)
    assert result["accuracy"] == sum(result["correct"]) / 9
    long = [i for i, n in enumerate(lengths) if n > 128]
    # what the official code would read (the first 128 tokens) gives other probabilities
    assert any(
        result["probabilities"][i] != pytest.approx(_by_hand(jm, examples[i], 128), rel=1e-3)
        for i in long
    )


def test_letters_that_share_a_first_token_are_refused():
    jm = tiny_jepa_model(_examples(3), seed=0)
    with pytest.raises(ValueError, match="share a first token"):
        letter_token_ids(jm.tokenizer, ("A", "A"))
