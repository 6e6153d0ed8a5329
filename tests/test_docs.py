"""The documentation stays true: links resolve, the README stays a front page, every test the
fault table names exists, and one repository URL is used everywhere."""

from __future__ import annotations

import ast
import importlib
import json
import re
from pathlib import Path
from urllib.parse import unquote

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
DOCS = sorted((ROOT / "docs").glob("*.md"))
MARKDOWN = [README, *DOCS, ROOT / "benchmarks" / "README.md"]
FAULTS = ROOT / "docs" / "faults.md"
PYPROJECT = ROOT / "pyproject.toml"
README_MAX_LINES = 200

# [text](target) not preceded by "!" is a link; images are links too for our purpose.
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE_CODE = re.compile(r"`[^`\n]*`")


def repository_url() -> str:
    """The one place the repository is named: pyproject.toml's [project.urls] Repository."""
    # A regex, not tomllib: the package supports Python 3.10, which has no tomllib.
    match = re.search(r'^Repository = "([^"]+)"$', PYPROJECT.read_text(encoding="utf-8"), re.M)
    assert match, 'pyproject.toml: no Repository = "..." under [project.urls]'
    return match.group(1)


def github_slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = heading.strip().replace("`", "").replace("**", "").lower()  # the rendered text
    text = re.sub(r"[^\w\- ]", "", text)  # keeps letters, digits, _, - and spaces
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    """Every heading anchor of a markdown file, with GitHub's -1, -2 suffixes for repeats."""
    seen: dict[str, int] = {}
    result = set()
    for line in FENCE.sub("", path.read_text(encoding="utf-8")).splitlines():
        match = re.match(r"^#{1,6} (.+?)\s*#*\s*$", line)
        if not match:
            continue
        slug = github_slug(match.group(1))
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def relative_links(path: Path) -> list[str]:
    text = INLINE_CODE.sub("", FENCE.sub("", path.read_text(encoding="utf-8")))
    return [
        target
        for target in LINK.findall(text)
        if not re.match(r"^[a-z][a-z0-9+.-]*:", target)  # http:, https:, mailto: ...
    ]


def test_github_slug_matches_githubs_rules():
    # Independent expectations: anchors GitHub generated for these headings.
    assert github_slug("`step_cost.py`: one LLM-JEPA step against a plain NTP step") == (
        "step_costpy-one-llm-jepa-step-against-a-plain-ntp-step"
    )
    assert github_slug("NL-RX: semantic equivalence under dk.brics semantics") == (
        "nl-rx-semantic-equivalence-under-dkbrics-semantics"
    )
    assert github_slug("The `SMOKE` parameter") == "the-smoke-parameter"


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves(path: Path):
    broken = []
    for target in relative_links(path):
        file_part, _, fragment = target.partition("#")
        dest = (path.parent / unquote(file_part)).resolve() if file_part else path
        if not dest.exists():
            broken.append(
                f"{target}: {dest.relative_to(ROOT) if ROOT in dest.parents else dest} "
                "does not exist"
            )
        elif fragment and dest.suffix == ".md" and fragment not in anchors(dest):
            broken.append(f"{target}: no heading #{fragment} in {dest.name}")
    assert not broken, f"{path.relative_to(ROOT)}: broken links:\n" + "\n".join(broken)


def test_docs_exist_and_are_listed_in_the_index():
    names = {p.name for p in DOCS}
    expected = {
        "index.md",
        "packing.md",
        "api.md",
        "training.md",
        "data.md",
        "scoring.md",
        "geometry.md",
        "explorers.md",
        "teaching.md",
        "testing.md",
        "faults.md",
    }
    assert expected <= names, f"missing docs: {sorted(expected - names)}"
    listed = set(relative_links(ROOT / "docs" / "index.md"))
    assert {n for n in names if n != "index.md"} <= {t.partition("#")[0] for t in listed}


def test_readme_is_a_front_page():
    lines = README.read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines"
    links = relative_links(README)
    assert any(t.startswith("docs/faults.md") for t in links), "README must link the fault table"
    assert any(t.startswith("benchmarks/README.md") for t in links)


# ----------------------------------------------------------------------------- the fault table
TEST_REF = re.compile(r"(tests/test_\w+\.py)::(test_\w+)")


def fault_rows() -> list[tuple[str, list[tuple[str, str]]]]:
    """(first cell, [(test file, test name), ...]) for every row of every table in faults.md."""
    rows = []
    for line in FAULTS.read_text(encoding="utf-8").splitlines():
        if not line.startswith("|") or set(line) <= set("|-: "):
            continue
        cells = [c.strip() for c in line.strip().strip("|").split(" | ")]
        if cells[0] == "bad input or fault":
            continue
        rows.append((cells[0], TEST_REF.findall(cells[-1])))
    return rows


def defined_tests(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in ast.walk(tree)
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef))
        and node.name.startswith("test_")
    }


def test_fault_table_has_at_least_25_rows_each_naming_an_existing_test():
    rows = fault_rows()
    assert len(rows) >= 25, f"docs/faults.md holds {len(rows)} rows, expected at least 25"
    problems = []
    for case, refs in rows:
        if not refs:
            problems.append(f"{case}: names no test (tests/test_x.py::test_name)")
        for file, name in refs:
            path = ROOT / file
            if not path.exists():
                problems.append(f"{case}: {file} does not exist")
            elif name not in defined_tests(path):
                problems.append(f"{case}: {file} defines no {name}")
    assert not problems, "docs/faults.md:\n" + "\n".join(problems)


# ----------------------------------------------------------------------- one repository URL
def notebook_sources() -> list[tuple[Path, str]]:
    found = []
    for path in sorted((ROOT / "notebooks").rglob("*.ipynb")):
        if ".ipynb_checkpoints" in path.parts:
            continue
        cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
        found.append((path, "\n".join("".join(c["source"]) for c in cells)))
    return found


GITHUB_MENTION = re.compile(
    r"(?:github\.com/|/gh/|colab\.research\.google\.com/github/)([\w.-]+/[\w.-]+?)(?=[/\"'\s)#]|\.git|$)"
)


def test_repository_url_is_defined_once_and_is_a_github_repository():
    url = repository_url()
    assert re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url), url


def test_every_notebook_installs_from_and_links_to_the_one_repository():
    url = repository_url()
    slug = url.removeprefix("https://github.com/")
    for path, source in notebook_sources():
        rel = path.relative_to(ROOT)
        assert f'"jepa-lab[notebooks] @ git+{url}"' in source, (
            f"{rel}: the install cell must install from {url}"
        )
        others = {m for m in GITHUB_MENTION.findall(source) if m != slug}
        assert not others, f"{rel}: names other repositories {sorted(others)}, expected {slug}"


@pytest.mark.parametrize(
    "path",
    [*MARKDOWN, *sorted((ROOT / "binder").iterdir()), ROOT / "environment.yml"],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_docs_and_binder_name_only_the_one_repository(path: Path):
    slug = repository_url().removeprefix("https://github.com/")
    text = path.read_text(encoding="utf-8")
    # Upstream projects we cite (the paper's code, the datasets) are not this repository.
    cited = {"galilai-group/llm-jepa", "nicholaslocascio/deep-regex", "openai/grade-school-math"}
    others = {m for m in GITHUB_MENTION.findall(text) if m != slug and m not in cited}
    assert not others, f"{path.relative_to(ROOT)}: names {sorted(others)}, expected {slug}"


def pinned_torch(text: str) -> list[str]:
    return re.findall(r"torch==[\d.]+", text)


def test_environments_pin_the_same_cpu_torch_and_the_package_does_not():
    ci_pin = pinned_torch((ROOT / ".ci" / "setup").read_text(encoding="utf-8"))
    assert len(set(ci_pin)) == 1, f".ci/setup pins {ci_pin}"
    for env in (ROOT / "binder" / "environment.yml", ROOT / "environment.yml"):
        text = env.read_text(encoding="utf-8")
        assert pinned_torch(text) == ci_pin[:1], f"{env.relative_to(ROOT)}: expected {ci_pin[0]}"
        assert "download.pytorch.org/whl/cpu" in text, f"{env.relative_to(ROOT)}: not the CPU wheel"
    torch_spec = re.search(r'^\s*"(torch[^"]*)"', PYPROJECT.read_text(encoding="utf-8"), re.M)
    assert torch_spec and torch_spec.group(1).startswith("torch>="), (
        f"the package asks for a range of torch, not a pin: {torch_spec and torch_spec.group(1)}"
    )


# ------------------------------------------------------------- names the docs use exist
FILE_SUFFIXES = {"py", "json", "jsonl", "md", "html", "txt", "safetensors", "pt", "csv", "zip"}


def _resolve(dotted: str) -> bool:
    """Whether ``jepa_lab.a.b.c`` names a module or an attribute reachable from one."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        try:
            obj = importlib.import_module(".".join(parts[:i]))
        except ModuleNotFoundError:
            continue
        for name in parts[i:]:
            if not hasattr(obj, name):
                return False
            obj = getattr(obj, name)
        return True
    return False


def _code_imports(text: str) -> list[str]:
    """``module.name`` for every ``from jepa_lab... import name`` in the python blocks."""
    found = []
    for block in re.findall(r"```python\n(.*?)```", text, re.S):
        for node in ast.walk(ast.parse(block)):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("jepa_lab"):
                found += [f"{node.module}.{alias.name}" for alias in node.names]
    return found


@pytest.mark.parametrize("path", MARKDOWN, ids=lambda p: str(p.relative_to(ROOT)))
def test_modules_functions_and_files_the_docs_name_exist(path: Path):
    text = path.read_text(encoding="utf-8")
    dotted = set(re.findall(r"\bjepa_lab(?:\.\w+)+", text)) | set(_code_imports(text))
    # `explore.mask_view`, `masks.block_mask` ...: a library module's short name in inline code
    modules = {p.stem for p in (ROOT / "jepa_lab").glob("*.py")} - {"__init__", "__main__"}
    for span in INLINE_CODE.findall(text):
        for module, name in re.findall(r"(?<![\w.])(\w+)\.([A-Za-z_]\w*)(?!\w)", span):
            if module in modules and name not in FILE_SUFFIXES:
                dotted.add(f"jepa_lab.{module}.{name}")
    missing = sorted(name for name in dotted if not _resolve(name))
    missing += sorted(
        f for f in set(re.findall(r"\bjepa_lab/[\w/]+\.py", text)) if not (ROOT / f).exists()
    )
    assert not missing, f"{path.relative_to(ROOT)} names what the code no longer has: {missing}"


def test_the_readme_layout_names_every_package_and_is_short():
    """The layout is the list of packages (the architecture), not a table of modules."""
    layout = README.read_text(encoding="utf-8").split("## Layout", 1)[1].split("\n## ", 1)[0]
    named = {p.rstrip("/") for p in re.findall(r"`(jepa_lab/[\w/.]+)`", layout)}
    packages = {
        p.parent.relative_to(ROOT).as_posix() for p in (ROOT / "jepa_lab").glob("*/__init__.py")
    }
    top = {
        p.relative_to(ROOT).as_posix()
        for p in (ROOT / "jepa_lab").glob("*.py")
        if p.stem not in {"__init__", "__main__"}
    }
    missing = sorted((packages | top) - named)
    assert not missing, f"README.md's layout does not name {missing}"
    assert "|" not in layout, "README.md's layout should be a short list of packages, not a table"
    assert len(layout.split()) < 300, "README.md's layout should stay short"


def test_the_readme_states_the_fault_tables_row_count():
    count = len(fault_rows())
    readme = README.read_text(encoding="utf-8")
    stated = re.search(
        r"\[table of bad input and faults\]\(docs/faults.md\) lists ([\d,]+) cases", readme
    )
    assert stated, "README.md must say how many cases docs/faults.md lists"
    assert int(stated.group(1).replace(",", "")) == count, (
        f"README.md says {stated.group(1)} cases; docs/faults.md holds {count}"
    )
