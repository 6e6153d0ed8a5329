"""The README's commands and code examples stay true."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
CI_RUN = Path(__file__).resolve().parents[1] / ".ci" / "run"


def python_blocks() -> list[str]:
    return re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)


def test_ten_line_example_runs_and_computes_the_loss(capsys):
    block = next(b for b in python_blocks() if "build_batch(pairs)" in b)
    code_lines = [line for line in block.splitlines() if line.strip()]
    assert len(code_lines) <= 11, "the README promises about ten lines"
    namespace: dict = {}
    exec(compile(block, "README.md", "exec"), namespace)  # noqa: S102 - our own README
    out = namespace["out"]
    assert out.loss.item() > 0 and out.jepa_loss is not None
    assert out.pred_emb.shape == out.code_emb.shape == (2, 64)


def test_ci_runs_exactly_the_readme_test_command():
    # Every test command .ci/run runs (outside the opt-in lowest-version step) is a README line.
    lines = [line.strip() for line in CI_RUN.read_text().splitlines()]
    lines = lines[
        : next(i for i, line in enumerate(lines) if "JEPA_LAB_LOWEST" in line and "if" in line)
    ] + [line for line in lines[lines.index("fi") + 1 :]]
    ci_commands = [line for line in lines if "pytest" in line and not line.startswith("#")]
    bash_blocks = re.findall(r"```bash\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    readme = [line.split("  #")[0].strip() for line in bash_blocks[0].strip().splitlines()]
    assert readme[0].endswith("jepa-lab demo")
    assert ci_commands == readme[1:], f".ci/run runs {ci_commands}; the README shows {readme[1:]}"
