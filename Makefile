# Two commands do all set-up on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin

.PHONY: run test install bench sandbox clean

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --disable-pip-version-check uv
	$(BIN)/uv pip install -q --compile-bytecode --python $(BIN)/python -e '.[dev]'
	touch $@

install: $(BIN)/.installed

run: install
	$(BIN)/salesop run

# The suite on pytest-xdist workers (tests/conftest.py gives each its own PostgreSQL, redis-server and ports). Why 4
# on 2 cores: many tests wait on subprocesses, servers and the network, so more workers than cores keeps the cores
# busy. Measured with the machine shared by 7 other sessions (load 8-18): one process 28 min; 4 workers without
# conftest's fixes (fsync off, long tests spread) 32 min; 4 workers now 19 min 40 s (load 8-12). Tests go out in
# collection order, one or two at a time as each worker runs dry, and conftest deals the longest out first and between
# quick ones; a module with a module-scoped fixture stays on one worker (an xdist_group). PYTHONDONTWRITEBYTECODE is
# cleared so each module is compiled once and every worker and `salesop` subprocess after it loads cached bytecode
# (the venv is compiled at install). `make test TEST_WORKERS=0` runs in one process; PYTEST_ADDOPTS passes more
# options ("--durations=30").
TEST_WORKERS ?= 4
test: install
	PYTHONDONTWRITEBYTECODE= $(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup --no-loadscope-reorder

sandbox: install
	$(BIN)/salesop sandbox

bench: install
	$(BIN)/python bench/run_all.py

clean:
	rm -rf $(VENV) var .pytest_cache
