"""Benchmark: embed 2000 (Text, Code) pairs with a tiny Llama-style JepaModel, then UMAP the three
views jointly and compute every geometry diagnostic.

    python benchmarks/geometry.py [--n 2000] [--json PATH]

Uses NL-RX-SYNTH test pairs from ../shared/data (or $JEPA_LAB_SHARED_DATA) when present, else
synthetic pairs. The model is random-init (hidden 128, 4 layers) with a BPE tokenizer trained here
on the pairs themselves: the timing is what matters, not the embeddings' quality.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

SHARED = Path(
    os.environ.get("JEPA_LAB_SHARED_DATA")
    or Path(__file__).resolve().parents[2] / "shared" / "data"
)
NLRX_TEST = SHARED / "nl-rx" / "llm-jepa-split" / "synth_test.jsonl"


def load_pairs(n: int) -> tuple[list[tuple[str, str]], str]:
    """n (description, regex) pairs from the paper's NL-RX test split, else synthetic ones."""
    if NLRX_TEST.is_file():
        pairs = []
        with NLRX_TEST.open(encoding="utf-8") as f:
            for line in f:
                msgs = {m["role"]: m["content"] for m in json.loads(line)["messages"]}
                pairs.append((msgs["user"], msgs["assistant"]))
                if len(pairs) == n:
                    break
        return pairs, str(NLRX_TEST)
    words = ["dog", "truck", "ring", "lake"]
    classes = [("a vowel", "[AEIOUaeiou]"), ("a number", "[0-9]"), ("a capital letter", "[A-Z]")]
    pairs = []
    for i in range(n):
        w, (desc, cls) = words[i % 4], classes[(i // 4) % 3]
        reps = 1 + i % 5
        pairs.append(
            (
                f"lines with {desc} before '{w}', at least {reps} times",
                f"(.*{cls}.*{w}.*){{{reps},}}",
            )
        )
    return pairs, "synthetic"


def tiny_model(pairs: list[tuple[str, str]]):
    """A random-init 4-layer Llama (hidden 128) and a BPE tokenizer trained on the pairs."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=1024,
        special_tokens=["<s>", "</s>", "<pad>"],
        show_progress=False,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
    )
    tok.train_from_iterator([t for pair in pairs for t in pair], trainer)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok, bos_token="<s>", eos_token="</s>", pad_token="<pad>"
    )
    torch.manual_seed(0)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=128,
        intermediate_size=256,
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
    )
    model = LlamaForCausalLM._from_config(config, attn_implementation="sdpa").float()
    return model, tokenizer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=2000, help="number of pairs")
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--json", type=Path, help="write the figures here as JSON")
    args = parser.parse_args()

    from jepa_lab import JepaConfig, JepaModel
    from jepa_lab.geometry import geometry_summary, project
    from jepa_lab.training.evaluate import extract_embeddings

    pairs, source = load_pairs(args.n)
    model, tokenizer = tiny_model(pairs)
    jm = JepaModel(model, tokenizer, JepaConfig(k=1))
    print(f"{len(pairs)} pairs from {source}; torch threads {torch.get_num_threads()}")

    t0 = time.perf_counter()
    emb = extract_embeddings(jm, pairs, batch_size=args.batch_size, progress=False)
    t_extract = time.perf_counter() - t0
    print(f"extract_embeddings: {t_extract:.2f} s ({len(emb)} pairs, hidden {emb.text.shape[1]})")

    t0 = time.perf_counter()
    coords = project(emb.views(), method="umap", seed=0)  # 3 x N points, one joint fit
    t_umap = time.perf_counter() - t0
    print(
        f"UMAP of text+pred+code jointly ({3 * len(emb)} points): {t_umap:.2f} s "
        "(includes numba compilation on first use)"
    )

    t0 = time.perf_counter()
    project(emb.views(), method="umap", seed=1)
    t_umap_warm = time.perf_counter() - t0
    print(f"same UMAP again, numba kernels already compiled: {t_umap_warm:.2f} s")

    t0 = time.perf_counter()
    summary = geometry_summary(emb)
    t_summary = time.perf_counter() - t0
    print(f"geometry_summary: {t_summary:.2f} s; collapsed={summary['collapsed']}")

    t0 = time.perf_counter()
    from jepa_lab.geometry.plots import geometry_figure, save_html

    with tempfile.TemporaryDirectory() as tmp:
        save_html(geometry_figure(coords, None, emb.hover()), Path(tmp) / "geometry.html")
    t_plot = time.perf_counter() - t0
    print(f"geometry_figure + save_html: {t_plot:.2f} s")

    total = t_extract + t_umap
    print(f"extraction + UMAP for {len(emb)} pairs: {total:.2f} s (target < 60 s on 2 cores)")
    result = {
        f"seconds_{len(emb)}": round(total, 3),
        "seconds_extract": round(t_extract, 3),
        "seconds_umap": round(t_umap, 3),
        "seconds_umap_warm": round(t_umap_warm, 3),
        "seconds_summary": round(t_summary, 3),
        "seconds_figure_html": round(t_plot, 3),
        "pairs": len(emb),
        "source": "nl-rx synth_test" if source != "synthetic" else "synthetic",
        "torch_threads": torch.get_num_threads(),
    }
    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_suffix(args.json.suffix + ".tmp")
        tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, args.json)
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
