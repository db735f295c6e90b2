# Two commands on a fresh machine with Python 3.11 and make:
#   make demo   set up .venv and run the main job on defaults
#   make test   set up .venv and run the whole test suite
PYTHON ?= $(shell command -v python3.11 || command -v python3)
VENV   := .venv
PY     := $(VENV)/bin/python
STAMP  := $(VENV)/.installed
# Where torch comes from. Empty (the default): the default package index, which on this kind of machine
# serves the CPU build of torch==2.13.0. Where the default index serves CUDA wheels, point it at PyTorch's
# CPU index:  make test TORCH_INDEX_URL=https://download.pytorch.org/whl/cpu
TORCH_INDEX_URL ?=
TORCH_PIP_ARGS  := $(if $(strip $(TORCH_INDEX_URL)),--index-url $(strip $(TORCH_INDEX_URL)))

.PHONY: install demo test test-fast bench clean

install: $(STAMP)

# torch is installed first, pinned (torch==2.13.0) and from TORCH_INDEX_URL when set; the package's own
# "torch>=2.2" is then already satisfied and pulls nothing more. An unpinned torch pulls several GB of CUDA.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check $(TORCH_PIP_ARGS) torch==2.13.0
	$(PY) -m pip install --quiet --disable-pip-version-check -e ".[dev,ray,video,human]"
	touch $(STAMP)

demo: $(STAMP)
	$(PY) scripts/demo.py

test: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q

test-fast: $(STAMP)
	OMP_NUM_THREADS=1 $(PY) -m pytest -q -m "not slow"

clean:
	rm -rf $(VENV) build *.egg-info
