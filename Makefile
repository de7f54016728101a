# `make test` and `make demo` each set up everything they need on a fresh machine with python3 and make:
# a .venv with the project, its extras and the pinned CPU PyTorch, and Graphviz's `dot` program; `make test`
# also Chromium and ChromeDriver for the browser tests. The OS's programs come from its package manager when
# that is possible; where it is not (no root), the step says how to install them and the tests that need
# them are skipped, each naming what is missing (under CI they fail).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-valuegrad
# PyTorch, for the cross-checks and to_torch/from_torch: always this pinned version, which these machines
# install from a local CPU build. An unpinned `torch` downloads a CUDA build of several GB.
TORCH  := torch==2.13.0
NOTEBOOK := notebooks/backprop_tutorial.ipynb

.PHONY: test demo notebook bench setup graphviz browser clean

test: setup graphviz browser
	$(BIN)/ruff check engine nn seed tests demos benchmarks setup.py
	$(BIN)/mypy engine nn seed
	$(BIN)/python -m pytest

demo: setup graphviz
	$(BIN)/python -m demos
	@echo "Open out/index.html in a browser: every demo's results, and the explorer pages."

setup: $(STAMP)

# Installing the project compiles engine/core with mypyc (setup.py) where a C compiler is available, so a
# change to the core's sources installs it again: the tests then run the new code, compiled.
$(STAMP): pyproject.toml setup.py $(wildcard engine/core/*.py)
	@$(PYTHON) -m venv $(VENV) || { echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu install it with: sudo apt-get install python3-venv"; exit 1; }
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[dev,demos]' '$(TORCH)'
	@touch $@

# Graphviz's `dot` renders diagrams; the Python package alone cannot.
graphviz:
	@command -v dot >/dev/null 2>&1 || sh .ci/install-graphviz

# The OS's Chromium and ChromeDriver, which the browser tests drive (never a browser downloaded by a tool).
browser:
	@sh .ci/install-chromium

# `make notebook`: JupyterLab opened on the tutorial (the dev extra brings it, so `make setup` installs it with
# the rest). Its kernel is .venv's Python, so the notebook runs this checkout's engine and nn. JUPYTER_ARGS
# passes options, e.g. `make notebook JUPYTER_ARGS=--no-browser` on a machine without a screen. (Jupyter
# refuses to run as root unless told to, as in a container: then this target tells it.)
JUPYTER_ARGS ?=
AS_ROOT      := $(if $(filter 0,$(shell id -u)),--allow-root)

# The notebooks run the core's Python source (VALUEGRAD_INTERPRETED=1, engine/build.py): its docstrings and
# source, which the compiled core does not carry, are what help(), `?` and `??` show a learner there.
notebook: setup graphviz
	VALUEGRAD_INTERPRETED=1 $(BIN)/jupyter lab $(AS_ROOT) $(JUPYTER_ARGS) $(NOTEBOOK)

# `make bench`: valuegrad against micrograd and PyTorch, in an environment of its own.
BENCH_VENV  := benchmarks/.venv
BENCH_STAMP := $(BENCH_VENV)/.installed

bench: $(BENCH_STAMP)
	$(BENCH_VENV)/bin/python benchmarks/bench.py

$(BENCH_STAMP): pyproject.toml setup.py benchmarks/requirements.txt $(wildcard engine/core/*.py)
	@$(PYTHON) -m venv $(BENCH_VENV) || { echo "error: '$(PYTHON) -m venv' failed; on Debian/Ubuntu install it with: sudo apt-get install python3-venv"; exit 1; }
	$(BENCH_VENV)/bin/python -m pip install --quiet --upgrade pip
	$(BENCH_VENV)/bin/python -m pip install --quiet -e . -r benchmarks/requirements.txt
	@touch $@

clean:
	rm -rf $(VENV) $(BENCH_VENV) out .pytest_cache .mypy_cache .ruff_cache
