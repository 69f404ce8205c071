# hpc-vqvae: the two commands a user needs are `make test` and `make demo` (see README.md).

PYTHON3    ?= python3
VENV       := .venv
# The CPU wheel of torch lies on local disk and pip finds it through its config.
# A plain `torch` would pull a multi-GB CUDA build; override on a CUDA site, e.g.
#   make venv TORCH_SPEC='torch --index-url https://download.pytorch.org/whl/cu124'
TORCH_SPEC ?= torch==2.13.0
PYTEST_ARGS ?=
# Two pytest-xdist workers: much of the suite waits on subprocesses, Slurm and servers, so two
# workers keep both of CI's cores busy. Tests are grouped by tests/conftest.py, which also puts
# the longest groups first (xdist's own reorder, by number of tests, would hand out the longest
# single test last). PYTEST_WORKERS=0 runs in one process.
PYTEST_WORKERS ?= 2
XDIST := -n $(PYTEST_WORKERS) --dist loadgroup --no-loadscope-reorder

# Environment for the test run and the demo: DeepSpeed on CPU, one OpenMP thread per rank,
# torch.distributed (gloo) on loopback, no HDF5 file locks (network file systems),
# the venv's bin first on PATH so its `mpiexec` (PyPI mpich) is found, and DeepSpeed's CPU
# shared-memory op JIT-built once per venv: in the shared ~/.cache, two venvs in use at once
# (two clones) rebuild it in turn, a minute or two at each trainer start.
TEST_ENV := DS_ACCELERATOR=cpu OMP_NUM_THREADS=1 GLOO_SOCKET_IFNAME=lo \
	HDF5_USE_FILE_LOCKING=FALSE PATH="$(CURDIR)/$(VENV)/bin:$$PATH" \
	TORCH_EXTENSIONS_DIR="$(CURDIR)/$(VENV)/torch_extensions"

.PHONY: venv test test-fast demo lint clean

venv: $(VENV)/.installed

# Re-installs only when pyproject.toml is newer than the stamp.
$(VENV)/.installed: pyproject.toml
	test -x $(VENV)/bin/python || $(PYTHON3) -m venv $(VENV)
	# Not --no-compile: it saves 47 s of a 107 s install, but where PYTHONDONTWRITEBYTECODE is
	# set every process then compiles torch, DeepSpeed and MLflow from source at import.
	$(VENV)/bin/pip install $(TORCH_SPEC) -e '.[dev]'
	# The reference LPIPS the tests compare against, without its torchvision (a CUDA torch
	# build): the test hands it the VGG16 trunk.
	$(VENV)/bin/pip install --no-deps 'lpips==0.1.4'
	touch $@

test: $(VENV)/.installed
	$(VENV)/bin/ruff check hpc_vqvae tests benchmarks
	env $(TEST_ENV) $(VENV)/bin/python -m pytest $(XDIST) $(PYTEST_ARGS)

# The inner loop: every test not marked slow (no Slurm cluster, no trainer processes, no
# multi-rank preprocessing runs); a few minutes.
test-fast: $(VENV)/.installed
	$(VENV)/bin/ruff check hpc_vqvae tests benchmarks
	env $(TEST_ENV) $(VENV)/bin/python -m pytest $(XDIST) -m "not slow" $(PYTEST_ARGS)

# The main job end to end on the embedded default (see hpc_vqvae/demo.py); outputs in demo/,
# reused by a second run. DEMO_ARGS="--max-steps 50" makes a quicker, rougher one.
DEMO_ARGS ?=
demo: $(VENV)/.installed
	env $(TEST_ENV) $(VENV)/bin/python -m hpc_vqvae.demo --dir demo $(DEMO_ARGS)

lint: $(VENV)/.installed
	$(VENV)/bin/ruff check hpc_vqvae tests benchmarks

clean:
	find . -path ./$(VENV) -prune -o -type d -name __pycache__ -exec rm -rf {} +
	rm -rf .pytest_cache .ruff_cache build
