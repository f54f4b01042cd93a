# The two commands of the README's quick start: `make demo` and `make test`.
# Both create and fill .venv on first use. torch is installed first, pinned to the version that the
# figures in docs/benchmarks.md were measured with. New contributors: README.md, then docs/architecture.md.

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=

.PHONY: venv demo lint test bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q torch==2.13.0
	$(BIN)/python -m pip install -q -e '.[test]'
	touch $(STAMP)

venv: $(STAMP)

demo: $(STAMP)
	$(BIN)/curator demo

# ruff's rules and exclusions are in pyproject.toml ([tool.ruff]).
lint: $(STAMP)
	$(BIN)/ruff check .

# pytest exits 5 when it collects no test; that is not a failure of the suite.
test: lint
	$(BIN)/curator plugins --strict --format json > /dev/null
	$(BIN)/python -m pytest -q $(PYTEST_ARGS); rc=$$?; if [ $$rc -eq 5 ]; then rc=0; fi; exit $$rc

bench: $(STAMP)
	for b in bench/bench_*.py; do $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) build *.egg-info
