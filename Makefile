# `make test` and `make demo` each set up everything they need on a fresh
# machine with python3 and make: a .venv with the project and its extras, and
# Graphviz's `dot` program (through the OS package manager when possible).
# `make browser` also installs Chromium for the browser tests (.ci/run does).

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed-valuegrad

.PHONY: test demo bench setup graphviz browser clean

test: setup graphviz
	$(BIN)/ruff check engine nn seed tests demos benchmarks
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
	$(BIN)/python -m pip install --quiet -e '.[dev,demos]'
	@touch $@

# Graphviz's `dot` renders diagrams; the Python package alone cannot.
graphviz:
	@command -v dot >/dev/null 2>&1 || sh .ci/install-graphviz

# The OS's Chromium, which the browser tests drive (they skip without it; under CI they fail).
browser:
	@sh .ci/install-chromium

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
