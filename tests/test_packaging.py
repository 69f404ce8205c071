"""pyproject.toml, environment.yml and .ci/run agree with each other."""

from __future__ import annotations

import re
import shlex
import sys

import yaml

from tests.helpers.real import REPO

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib


# conda-forge name -> PyPI name, where they differ (after normalisation).
CONDA_TO_PYPI = {"pytorch": "torch"}
# Entries of environment.yml that are not packages of pyproject.toml.
CONDA_ONLY = {"python", "pip", "cuda-version"}

_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


def normalise(spec: str) -> str:
    """Package name of a PEP 508 or conda spec: lowercase, ``_``/``.`` -> ``-``,
    without extras, version specifiers, markers or a ``channel::`` prefix."""
    spec = spec.split("::")[-1]
    match = _NAME.match(spec)
    if match is None:
        raise ValueError(f"no package name in {spec!r}")
    return re.sub(r"[-_.]+", "-", match.group(1)).lower()


def _extras(spec: str) -> list[str]:
    match = re.search(r"\[([^\]]*)\]", spec)
    return [e.strip() for e in match.group(1).split(",")] if match else []


def pyproject_packages(pyproject: dict) -> set[str]:
    """Runtime and dev dependencies; the self-reference ``hpc-vqvae[x]`` is
    replaced by the dependencies of extra ``x``."""
    project = pyproject["project"]
    self_name = normalise(project["name"])
    optional = project.get("optional-dependencies", {})
    names: set[str] = set()

    def add(specs: list[str]) -> None:
        for spec in specs:
            name = normalise(spec)
            if name == self_name:
                for extra in _extras(spec):
                    add(optional[extra])
            else:
                names.add(name)

    add(project["dependencies"])
    add(optional.get("dev", []))
    return names


def conda_packages(environment: dict) -> set[str]:
    """Conda and pip packages of environment.yml, under their PyPI names,
    without python, pip and the ``-e .`` self-install."""
    names: set[str] = set()
    for entry in environment["dependencies"]:
        if isinstance(entry, dict):
            for spec in entry.get("pip", []):
                if spec.strip().startswith("-"):  # -e ., -r file, --index-url ...
                    continue
                names.add(normalise(spec))
            continue
        name = normalise(entry)
        if name in CONDA_ONLY:
            continue
        names.add(CONDA_TO_PYPI.get(name, name))
    return names


def compare(pypi: set[str], conda: set[str]) -> tuple[set[str], set[str]]:
    """(missing from environment.yml, missing from pyproject.toml)."""
    return pypi - conda, conda - pypi


def _load_pyproject() -> dict:
    return tomllib.loads((REPO / "pyproject.toml").read_text())


def _load_environment() -> dict:
    return yaml.safe_load((REPO / "environment.yml").read_text())


def test_normalise() -> None:
    assert normalise("netCDF4") == "netcdf4"
    assert normalise("zarr>=3") == "zarr"
    assert normalise("pydantic>=2") == "pydantic"
    assert normalise("pytest_timeout") == "pytest-timeout"
    assert normalise("hpc-vqvae[mpich]") == "hpc-vqvae"
    assert normalise("python=3.11") == "python"
    assert normalise("conda-forge::mpich") == "mpich"
    assert normalise("torch ; platform_system == 'Linux'") == "torch"


def test_compare_detects_a_difference() -> None:
    pyproject = {
        "project": {
            "name": "hpc-vqvae",
            "dependencies": ["torch>=2.4", "netCDF4", "mpi4py"],
            "optional-dependencies": {"mpich": ["mpich"], "dev": ["hpc-vqvae[mpich]"]},
        }
    }
    environment = {
        "dependencies": [
            "python=3.11",
            "pip",
            "pytorch",
            "netcdf4",
            "mpich",
            "scipy",
            {"pip": ["-e ."]},
        ]
    }
    pypi = pyproject_packages(pyproject)
    assert pypi == {"torch", "netcdf4", "mpi4py", "mpich"}
    assert conda_packages(environment) == {"torch", "netcdf4", "mpich", "scipy"}
    assert compare(pypi, conda_packages(environment)) == ({"mpi4py"}, {"scipy"})


def test_pyproject_and_environment_name_the_same_packages() -> None:
    pypi = pyproject_packages(_load_pyproject())
    conda = conda_packages(_load_environment())
    assert {"torch", "mpi4py", "mpich", "deepspeed", "pytest"} <= pypi
    missing_in_conda, missing_in_pyproject = compare(pypi, conda)
    assert not missing_in_conda, f"in pyproject.toml, not in environment.yml: {missing_in_conda}"
    assert not missing_in_pyproject, (
        f"in environment.yml, not in pyproject.toml: {missing_in_pyproject}"
    )


def test_environment_installs_the_project() -> None:
    pip_sections = [e["pip"] for e in _load_environment()["dependencies"] if isinstance(e, dict)]
    assert any("-e ." in [s.strip() for s in section] for section in pip_sections)


def test_mpich_is_not_a_main_dependency() -> None:
    """A PyPI MPI in the main dependencies would shadow a site MPI (module load)."""
    project = _load_pyproject()["project"]
    main = {normalise(spec) for spec in project["dependencies"]}
    assert "mpich" not in main
    assert "mpi4py" in main
    assert [normalise(s) for s in project["optional-dependencies"]["mpich"]] == ["mpich"]


def test_ci_runs_make_test() -> None:
    script = REPO / ".ci" / "run"
    assert script.stat().st_mode & 0o111, ".ci/run is not executable"
    lines = [
        line.strip()
        for line in script.read_text().splitlines()
        if line.strip() and not line.strip().startswith("#")
    ]
    assert "set -euo pipefail" in lines
    exports = [shlex.split(line)[1:] for line in lines if line.startswith("export ")]
    exported = {word for words in exports for word in words}
    assert "CI=true" in exported
    assert "HPC_VQVAE_REQUIRE_REAL=1" in exported
    assert lines[-1] == "exec make test", f".ci/run must end with 'exec make test': {lines[-1]!r}"


def _torch_floor(spec: str) -> str:
    match = re.search(r">=\s*([0-9.]+)", spec)
    assert match, f"no lower bound in {spec!r}"
    return match.group(1)


def test_environment_pins_a_cuda_torch_with_pyprojects_floor() -> None:
    """GPU sites get PyTorch's CUDA build (conda-forge's default on a GPU-less login node is
    the CPU one), no older than pyproject allows, and are told how to solve it there."""
    deps = _load_environment()["dependencies"]
    (torch_spec,) = [d for d in deps if isinstance(d, str) and normalise(d) == "pytorch"]
    assert "build='cuda*'" in torch_spec.replace('"', "'")
    (pyproject_torch,) = [
        d for d in _load_pyproject()["project"]["dependencies"] if normalise(d) == "torch"
    ]
    assert _torch_floor(torch_spec) == _torch_floor(pyproject_torch)
    assert any(isinstance(d, str) and normalise(d) == "cuda-version" for d in deps)
    assert "CONDA_OVERRIDE_CUDA=" in (REPO / "environment.yml").read_text()
