"""What does one LLM-JEPA optimizer step cost, next to a plain NTP step?

Times forward + backward + AdamW step on a tiny Llama-style model and NL-RX-shaped batches for:
NTP only; JEPA packed (``user`` and ``prompt`` Text-view modes); the official 3-row layout (NTP,
Text and Code rows stacked); the official "additive mask" 2-row layout (NTP rows, then Text|Code
rows under a block mask). Repeats are interleaved so drift hits every variant alike; medians are
reported with each ratio to NTP and the token-count bound (tokens processed / NTP tokens).

``--loop`` measures the whole training loop instead: examples per second of ``train()`` (the
Trainer with its data loading, packing, logging and guards) for LLM-JEPA and for plain NTP, and,
with ``--before DIR`` (a checkout of older code, e.g. ``git worktree add /tmp/before <commit>``),
the same for that code, each code in its own process, the processes interleaved.

    python benchmarks/step_cost.py [--repeats 15] [--batch 16] [--json out.json]
    python benchmarks/step_cost.py --loop [--before /tmp/before] [--rounds 2] [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from transformers import LlamaConfig, LlamaForCausalLM

from jepa_lab import JepaConfig, JepaModel
from jepa_lab.data import load_dataset
from jepa_lab.data.tokenizer import tokenizer_for
from jepa_lab.training.cost import batch_shape, time_step

SYSTEM = "Convert natural language to regular expression."
REPO = Path(__file__).resolve().parents[1]
# the loop's run: the tiny preset on generated NL-RX pairs (the same on every machine), no
# held-out evaluation and no checkpoints, so the timed loop is training steps only
LOOP_RUN = dict(data_source="generated", train_size=384, eval_size=0, epochs=1, save_every=0)


def build_model(vocab: int, hidden: int, layers: int) -> LlamaForCausalLM:
    config = LlamaConfig(
        vocab_size=vocab,
        hidden_size=hidden,
        intermediate_size=hidden * 8 // 3,
        num_hidden_layers=layers,
        num_attention_heads=max(hidden // 64, 2),
        max_position_embeddings=1024,
    )
    torch.manual_seed(0)
    return LlamaForCausalLM._from_config(config, attn_implementation="sdpa").float()


def step(jm: JepaModel, batch: dict, optim: torch.optim.Optimizer) -> float:
    return time_step(jm, batch, optim)[0] * 1000  # milliseconds


def loop_worker(repeats: int, threads: int) -> None:
    """In this process's code: time ``train()``'s loop for each arm, print the seconds as JSON."""
    import warnings

    from transformers import TrainerCallback

    from jepa_lab.training.presets import preset
    from jepa_lab.training.train import train

    torch.set_num_threads(threads)
    warnings.simplefilter("ignore")

    class LoopClock(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            self.start = time.perf_counter()

        def on_train_end(self, args, state, control, **kwargs):
            self.seconds = time.perf_counter() - self.start

    seconds: dict[str, list[float]] = {"ntp": [], "jepa": []}
    with tempfile.TemporaryDirectory() as scratch:
        for repeat in range(repeats + 1):  # the first round warms up
            for arm in seconds:
                clock = LoopClock()
                run = Path(scratch) / f"{arm}-{repeat}"
                train(preset("tiny", **LOOP_RUN), run, arm, progress=False, callbacks=[clock])
                if repeat:
                    seconds[arm].append(clock.seconds)
    print(json.dumps(seconds))


def loop_figures(args: argparse.Namespace) -> dict[str, dict[str, float]]:
    """Examples per second of the training loop, per code and arm, over interleaved processes."""
    codes = {"after": str(REPO)}
    if args.before:
        codes = {"before": str(Path(args.before).resolve()), **codes}
    seconds: dict[str, dict[str, list[float]]] = {c: {"ntp": [], "jepa": []} for c in codes}
    for _ in range(args.rounds):
        for code, path in codes.items():
            env = {**os.environ, "PYTHONPATH": path, "OMP_NUM_THREADS": str(args.threads)}
            command = [sys.executable, __file__, "--loop-worker", "--threads", str(args.threads)]
            done = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
            if done.returncode:
                raise SystemExit(f"{code} ({path}) failed:\n{done.stderr[-2000:]}")
            for arm, times in json.loads(done.stdout.strip().splitlines()[-1]).items():
                seconds[code][arm] += times
    examples = LOOP_RUN["train_size"] * LOOP_RUN["epochs"]
    return {
        code: {arm: examples / statistics.median(t) for arm, t in arms.items()}
        for code, arms in seconds.items()
    }


def print_loop(figures: dict[str, dict[str, float]]) -> None:
    print(f"training loop, tiny preset, {LOOP_RUN['train_size']} examples: examples per second")
    print(f"{'code':<10}{'ntp':>10}{'jepa':>10}{'jepa / ntp':>12}")
    for code, arms in figures.items():
        ratio = arms["jepa"] / arms["ntp"]
        print(f"{code:<10}{arms['ntp']:>10.1f}{arms['jepa']:>10.1f}{ratio:>12.2f}")
    if "before" in figures:
        for arm in ("ntp", "jepa"):
            gain = figures["after"][arm] / figures["before"][arm]
            print(f"{arm}: after / before = {gain:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--hidden", type=int, default=256)
    parser.add_argument("--layers", type=int, default=4)
    parser.add_argument("--k", type=int, default=1)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--json", help="write the figures here")
    parser.add_argument("--loop", action="store_true", help="time the whole training loop")
    parser.add_argument("--before", help="with --loop: a checkout of older code to compare")
    parser.add_argument("--rounds", type=int, default=2, help="with --loop: processes per code")
    parser.add_argument("--loop-worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.loop_worker:
        return loop_worker(repeats=2, threads=args.threads)
    if args.loop:
        figures = loop_figures(args)
        print_loop(figures)
        if args.json:
            Path(args.json).write_text(json.dumps(figures, indent=2) + "\n", encoding="utf-8")
        return
    torch.set_num_threads(args.threads)

    examples = load_dataset("nlrx", "train", n=2000)  # real split when present, else generated
    tokenizer = tokenizer_for(examples, vocab_size=1024)
    model = build_model(len(tokenizer) + args.k, args.hidden, args.layers)
    pairs = [(e.text, e.code) for e in examples[: args.batch]]

    def wrapper(**overrides) -> JepaModel:
        return JepaModel(model, tokenizer, JepaConfig(k=args.k, system_prompt=SYSTEM, **overrides))

    user, prompt = wrapper(text_view="user"), wrapper(text_view="prompt")
    variants = {
        "ntp": (user, user.build_batch(pairs, jepa=False)),
        "jepa_user": (user, user.build_batch(pairs)),
        "jepa_prompt": (prompt, prompt.build_batch(pairs)),
        "official_3row": (user, user.build_batch(pairs, layout="official_3row")),
        "official_additive": (user, user.build_batch(pairs, layout="official_2row")),
    }
    shapes = {name: batch_shape(b) for name, (_, b) in variants.items()}
    tokens = {name: shape["tokens"] for name, shape in shapes.items()}
    cells = {name: shape["cells"] for name, shape in shapes.items()}
    ntp_batch = variants["ntp"][1]
    answer = int((ntp_batch["labels"] != -100).sum()) / args.batch
    print(
        f"model: Llama hidden {args.hidden}, {args.layers} layers, vocab {len(tokenizer)}; "
        f"batch {args.batch} pairs, k={args.k}; NTP row {tokens['ntp'] / args.batch:.1f} tokens "
        f"(prompt {tokens['ntp'] / args.batch - answer:.1f}, answer+EOS {answer:.1f})"
    )

    optim = torch.optim.AdamW(model.parameters(), lr=1e-5)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for jm, batch in variants.values():  # warm-up
        step(jm, batch, optim)
    for _ in range(args.repeats):
        for name, (jm, batch) in variants.items():
            times[name].append(step(jm, batch, optim))

    median = {name: statistics.median(t) for name, t in times.items()}
    print(f"\n{'variant':<20}{'median ms':>10}{'x NTP':>8}{'tokens':>8}{'bound':>8}{'padded':>8}")
    for name in variants:
        bound = tokens[name] / tokens["ntp"]
        print(
            f"{name:<20}{median[name]:>10.1f}{median[name] / median['ntp']:>8.2f}"
            f"{tokens[name]:>8}{bound:>8.2f}{cells[name] / cells['ntp']:>8.2f}"
        )
    bound_user = tokens["jepa_user"] / tokens["ntp"]
    bound_prompt = tokens["jepa_prompt"] / tokens["ntp"]
    print(
        f"\npacked user:   {median['jepa_user'] / median['ntp']:.2f}x NTP = "
        f"{median['jepa_user'] / median['ntp'] / bound_user:.2f}x its token bound {bound_user:.2f}"
        f"\npacked prompt: {median['jepa_prompt'] / median['ntp']:.2f}x NTP = "
        f"{median['jepa_prompt'] / median['ntp'] / bound_prompt:.2f}x its token bound "
        f"{bound_prompt:.2f}"
    )
    if args.json:
        figures = {
            "ntp_ms": median["ntp"],
            "jepa_user_ms": median["jepa_user"],
            "jepa_prompt_ms": median["jepa_prompt"],
            "official_3row_ms": median["official_3row"],
            "official_additive_ms": median["official_additive"],
            "bound_user": bound_user,
            "bound_prompt": bound_prompt,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(figures, f, indent=2)


if __name__ == "__main__":
    main()
