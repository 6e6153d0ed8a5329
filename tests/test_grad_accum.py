"""Gradient accumulation is token- and pair-weighted: one optimizer step over 16 examples has
the same gradient whether they come as one batch, 4 accumulated micro-batches, or 2 ranks x 2
micro-batches (real gloo processes). Each run takes exactly one step; its gradient is read just
before the optimizer applies it (no clipping)."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import torch
from helpers import SMALL_RUN
from transformers import TrainerCallback

from jepa_lab.training.build import build_jepa_model, load_examples
from jepa_lab.training.presets import preset
from jepa_lab.training.train import train

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = 16  # one optimizer step: batch_size x grad_accum x ranks
ATOL = 1e-6


def one_step_config(batch_size: int, grad_accum: int, **jepa):
    sizes = {**SMALL_RUN, "train_size": EXAMPLES, "eval_size": 0, "epochs": 1}
    sizes.update(batch_size=batch_size, grad_accum=grad_accum, max_grad_norm=0.0, save_every=0)
    return preset("tiny", **sizes, jepa=jepa)


class CaptureGradients(TrainerCallback):
    """The summed (and, across ranks, averaged) gradient the optimizer is about to apply."""

    def __init__(self):
        self.grads: dict[str, torch.Tensor] = {}

    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        self.grads = {
            name: p.grad.detach().clone()
            for name, p in model.named_parameters()
            if p.grad is not None
        }
        return control


def step_gradients(tmp_path: Path, name: str, batch_size: int, grad_accum: int, arm="jepa"):
    capture = CaptureGradients()
    config = one_step_config(batch_size, grad_accum)
    result = train(config, tmp_path / name, arm, progress=False, callbacks=[capture])
    assert result.history[0]["step"] == 1  # exactly one optimizer step
    return capture.grads


def assert_same_gradients(got: dict, want: dict) -> None:
    assert got.keys() == want.keys() and got
    for name in want:
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=ATOL, msg=name)


def mean_of_micro_batch_means_gradient(micro: int, **jepa) -> dict[str, torch.Tensor]:
    """What an update that averaged each micro-batch's own mean would apply (the old rule)."""
    config = one_step_config(EXAMPLES // micro, micro, **jepa)
    examples, _ = load_examples(config)
    jm = build_jepa_model(config, examples)
    size = EXAMPLES // micro
    for start in range(0, EXAMPLES, size):
        out = jm(**jm.build_batch(examples[start : start + size]))
        (out.loss / micro).backward()
    return {name: p.grad for name, p in jm.named_parameters() if p.grad is not None}


def test_four_accumulated_micro_batches_give_the_gradient_of_one_batch_four_times_the_size(
    tmp_path,
):
    whole = step_gradients(tmp_path, "whole", EXAMPLES, 1)
    accumulated = step_gradients(tmp_path, "accumulated", EXAMPLES // 4, 4)
    assert_same_gradients(accumulated, whole)
    # the micro-batches differ in tokens, so averaging their means would be measurably off
    naive = mean_of_micro_batch_means_gradient(4)
    gap = max(float((naive[k] - whole[k]).abs().max()) for k in whole)
    assert gap > 100 * ATOL


def test_accumulation_weights_the_ntp_arm_by_tokens_too(tmp_path):
    whole = step_gradients(tmp_path, "whole", EXAMPLES, 1, arm="ntp")
    accumulated = step_gradients(tmp_path, "accumulated", EXAMPLES // 4, 4, arm="ntp")
    assert_same_gradients(accumulated, whole)


DDP_SCRIPT = """
import os
import torch
from transformers import TrainerCallback
from jepa_lab.training.presets import preset
from jepa_lab.training.train import train

torch.set_num_threads(1)
sizes = {sizes}

class Capture(TrainerCallback):
    def on_pre_optimizer_step(self, args, state, control, model=None, **kwargs):
        if int(os.environ.get("RANK", "0")) == 0:
            grads = {{n: p.grad.detach().clone() for n, p in model.named_parameters()
                     if p.grad is not None}}
            torch.save(grads, os.path.join(os.environ["RUN_DIR"], "grads.pt"))
        return control

result = train(preset("tiny", **sizes), os.environ["RUN_DIR"], "jepa", progress=False,
               callbacks=[Capture()])
assert result.history[0]["step"] == 1
"""


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_of_two_micro_batches_give_the_gradient_of_one_batch(tmp_path):
    whole = step_gradients(tmp_path, "whole", EXAMPLES, 1)
    config = one_step_config(EXAMPLES // 4, 2)  # 2 ranks x 2 micro-batches x 4 examples
    sizes = {
        k: getattr(config, k)
        for k in (*SMALL_RUN, "train_size", "eval_size", "epochs", "grad_accum")
    }
    sizes.update(max_grad_norm=0.0, save_every=0)
    script = tmp_path / "ddp_grads.py"
    script.write_text(textwrap.dedent(DDP_SCRIPT.format(sizes=sizes)))
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    two = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            "--nproc_per_node=2",
            f"--master_port={_free_port()}",
            "--master_addr=127.0.0.1",
            str(script),
        ],
        capture_output=True,
        text=True,
        timeout=600,
        env={**env, "RUN_DIR": str(tmp_path / "two")},
    )
    assert two.returncode == 0, two.stderr[-3000:]
    assert_same_gradients(torch.load(tmp_path / "two" / "grads.pt"), whole)
