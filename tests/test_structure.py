"""The library's architecture, checked: every import of every jepa_lab module (also those inside
functions) goes to the same or a lower floor of FLOORS, the import graph has no circle, and no
module is longer than MAX_LINES. FLOORS is the documented structure (jepa_lab/__init__.py draws
it); a new module must be given a floor here."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "jepa_lab"
MAX_LINES = 450

# floor -> packages (names relative to jepa_lab; a package covers its modules). Bottom first.
FLOORS: dict[int, tuple[str, ...]] = {
    0: ("__init__", "data", "scoring", "geometry"),  # records; strings and arrays in, numbers out
    1: ("objective",),  # JepaConfig, Packer, masks, losses, JepaModel
    2: ("training",),  # TrainConfig, train(), the Trainer, checkpoints, evaluation
    3: ("experiments",),  # compare(), the runner, reports, the study's tables
    4: ("teaching",),  # explorers, widgets, exercises
    5: ("cli", "__main__"),
}
# the ground floor's packages are independent of each other: none needs another to be read
GROUND = ("data", "scoring", "geometry")
FLOOR_OF = {name: floor for floor, names in FLOORS.items() for name in names}


def module_files() -> dict[str, Path]:
    """Module name relative to jepa_lab ("data.gsm8k", "train", "__init__") -> file."""
    out = {}
    for file in sorted(PACKAGE.rglob("*.py")):
        parts = file.relative_to(PACKAGE).with_suffix("").parts
        if parts[-1] == "__init__" and len(parts) > 1:
            parts = parts[:-1]
        out[".".join(parts)] = file
    return out


def _resolve(name: str, known: set[str]) -> str | None:
    """The longest known module ``name`` names (``data.gsm8k.x`` -> ``data.gsm8k``)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in known:
            return candidate
    return None


def imports_of(module: str, file: Path, known: set[str]) -> set[str]:
    """Every jepa_lab module ``module`` imports, at the top or inside a function."""
    package = (
        module.split(".")
        if file.name == "__init__.py" and module != "__init__"
        else (module.split(".")[:-1])
    )
    found: set[str] = set()
    for node in ast.walk(ast.parse(file.read_text(encoding="utf-8"))):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative: from the module's package, up level - 1
                base = package[: len(package) - (node.level - 1)]
                prefix = ".".join(base + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            if node.level == 0 and not prefix.startswith("jepa_lab"):
                continue
            rel = prefix.removeprefix("jepa_lab").lstrip(".")
            # "from . import plots" / "from jepa_lab.data import gsm8k_synth": submodules
            targets = [f"jepa_lab.{rel}.{a.name}".replace("..", ".") for a in node.names]
            targets.append(f"jepa_lab.{rel}" if rel else "jepa_lab.__init__")
        for target in targets:
            if not target.startswith("jepa_lab"):
                continue
            rel = target.removeprefix("jepa_lab").lstrip(".") or "__init__"
            resolved = _resolve(rel, known)
            if resolved and resolved != module:
                found.add(resolved)
    return found


def import_graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {module: imports_of(module, file, known) for module, file in files.items()}


def floor_of(module: str) -> int:
    top = module.split(".")[0]
    if top not in FLOOR_OF:
        pytest.fail(f"jepa_lab/{module}: no floor in tests/test_structure.py FLOORS; give it one")
    return FLOOR_OF[top]


def test_the_graph_sees_function_local_imports(tmp_path):
    """The parser must catch an import hidden inside a function, relative or absolute."""
    file = tmp_path / "x.py"
    file.write_text(
        "def f():\n    from .train import train\n    from jepa_lab.data import gsm8k_synth\n"
        "    from . import plots\n"
    )
    found = imports_of("x", file, {"train", "data", "data.gsm8k_synth", "plots", "x"})
    assert found == {"train", "data", "data.gsm8k_synth", "plots"}


def test_no_import_climbs_to_a_higher_floor():
    climbing = [
        f"jepa_lab/{module} (floor {floor_of(module)}) imports {target} (floor {floor_of(target)})"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if floor_of(target) > floor_of(module)
    ]
    assert not climbing, "\n".join(climbing)


def test_the_import_graph_has_no_circle():
    graph = import_graph()
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(module: str) -> list[str] | None:
        state[module] = 1
        path.append(module)
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state:
                circle = visit(target)
                if circle:
                    return circle
        path.pop()
        state[module] = 2
        return None

    for module in sorted(graph):
        if module not in state:
            circle = visit(module)
            assert circle is None, "import circle: " + " -> ".join(circle)


def test_no_module_is_too_long():
    long = {
        str(file.relative_to(PACKAGE.parent)): n
        for file in module_files().values()
        if (n := len(file.read_text(encoding="utf-8").splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines (split them by job): {long}"


def test_the_ground_packages_do_not_import_each_other():
    crossing = [
        f"jepa_lab/{module} imports {target}"
        for module, targets in import_graph().items()
        for target in sorted(targets)
        if module.split(".")[0] in GROUND
        and target.split(".")[0] in GROUND
        and target.split(".")[0] != module.split(".")[0]
    ]
    assert not crossing, "\n".join(crossing)


def test_every_package_says_what_it_is_and_names_its_public_api():
    import importlib

    for names in FLOORS.values():
        for name in names:
            if (PACKAGE / name / "__init__.py").is_file():
                package = importlib.import_module(f"jepa_lab.{name}")
                assert package.__doc__ and len(package.__doc__.split()) > 20, name
                assert package.__all__, f"jepa_lab.{name} lists no public names"
                for public in package.__all__:  # each one resolves, lazily
                    assert getattr(package, public) is not None, f"jepa_lab.{name}.{public}"


def test_the_package_docstring_draws_every_floor():
    doc = ast.get_docstring(ast.parse((PACKAGE / "__init__.py").read_text(encoding="utf-8")))
    for names in FLOORS.values():
        for name in names:
            if name not in ("__init__", "__main__"):
                assert name in doc, f"jepa_lab/__init__.py's drawing misses {name}"
