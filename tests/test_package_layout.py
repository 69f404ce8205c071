"""The package reads like the pipeline: data flows one way, so no stage imports a later one
(the data stage never imports the preprocessing stage), and no module grows past ~400 lines."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from tests.helpers.real import REPO

PACKAGE = REPO / "hpc_vqvae"
# Stage of each top-level part: a module may import its own stage and earlier ones. Equal
# numbers are siblings that must not import each other (preprocess and data).
STAGES = {
    "errors": 0,
    "distributed": 1,  # its collectives raise errors.UsageError on every rank
    "world": 0,
    "cli": 1,
    "outputs": 1,
    "tracking": 1,
    "runs": 2,
    "abi": 1,
    "store": 2,
    "fetch": 2,
    "preprocess": 3,
    "data": 3,
    "metrics": 4,
    "model": 5,
    "train": 6,
    "launch": 7,
    "export": 8,
    "evaluate": 9,
    "predict": 8,
    "compare": 8,
    "synth": 8,
    "config_docs": 8,
    "demo": 10,
}
MAX_LINES = 400


def _part(module: str) -> str:
    """``hpc_vqvae.abi.reader`` -> ``abi``."""
    return module.split(".")[1]


def _imports(path: Path) -> set[str]:
    """The hpc_vqvae modules ``path`` imports (absolute or relative, at any depth)."""
    here = ".".join(path.relative_to(REPO).with_suffix("").parts)
    package = here if path.name == "__init__.py" else here.rsplit(".", 1)[0]
    package = package.removesuffix(".__init__")
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - node.level + 1]
                name = ".".join(base + ([node.module] if node.module else []))
            else:
                name = node.module or ""
            found.add(name)
            found.update(f"{name}.{a.name}" for a in node.names if _file(f"{name}.{a.name}"))
    return {m for m in found if m.startswith("hpc_vqvae.")}


def _file(module: str) -> Path | None:
    """The file Python runs for ``module``, if it is one of the package's modules."""
    where = REPO / Path(*module.split("."))
    for path in (where.with_suffix(".py"), where / "__init__.py"):
        if path.is_file():
            return path
    return None


def _reached(path: Path) -> set[str]:
    """Every hpc_vqvae module that importing ``path`` can run, through any chain of imports
    (each module's packages included, whose ``__init__`` runs first)."""
    seen: set[str] = set()
    todo = [path]
    while todo:
        for name in _imports(todo.pop()):
            parts = name.split(".")
            for module in (".".join(parts[:n]) for n in range(2, len(parts) + 1)):
                if module not in seen and (found := _file(module)):
                    seen.add(module)
                    todo.append(found)
    return seen


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_part_has_a_stage():
    parts = {p.relative_to(PACKAGE).parts[0].removesuffix(".py") for p in _modules()}
    assert parts - {"__init__"} == set(STAGES)


def test_relative_imports_resolve_like_python():
    """The checker itself: a module's ``from ..x import y`` names what Python would load."""
    assert _imports(PACKAGE / "data" / "dataset.py") >= {"hpc_vqvae.store", "hpc_vqvae.data.config"}
    assert "hpc_vqvae.abi.bands" in _imports(PACKAGE / "abi" / "grid.py")


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_no_stage_imports_a_later_or_sibling_one(path):
    here = _part(".".join(path.relative_to(REPO).with_suffix("").parts))
    wrong = [m for m in _imports(path) if _part(m) != here and STAGES[_part(m)] >= STAGES[here]]
    assert not wrong, f"{path.relative_to(REPO)} (stage {here}) imports {wrong}"


def test_the_checker_sees_modules_imported_by_name():
    """``from .. import tracking`` imports a module, as ``from ..tracking import x`` does."""
    assert "hpc_vqvae.tracking" in _imports(PACKAGE / "predict" / "checkpoint.py")
    assert "hpc_vqvae.distributed" in _reached(PACKAGE / "train" / "loop.py")


INFERENCE = ("predict", "evaluate")


@pytest.mark.parametrize(
    "path",
    [p for p in _modules() if p.relative_to(PACKAGE).parts[0] in INFERENCE],
    ids=lambda p: str(p.relative_to(PACKAGE)),
)
def test_inference_never_imports_the_trainer(path):
    """Prediction and evaluation load an export: the trainer (and DeepSpeed with it) is not
    theirs to import, directly or through another module."""
    wrong = sorted(m for m in _reached(path) if _part(m) == "train")
    assert not wrong, f"{path.relative_to(REPO)} imports the trainer: {wrong}"


def test_modules_are_small():
    long = {
        str(p.relative_to(REPO)): n
        for p in _modules()
        if (n := len(p.read_text().splitlines())) > MAX_LINES
    }
    assert not long, f"modules over {MAX_LINES} lines: {long}"
