# The two commands of the README. Both build .venv from scratch when it is missing.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
OUT    ?= results

.PHONY: run test clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

# byte-compiled once here: with PYTHONDONTWRITEBYTECODE set, an editable install would
# otherwise compile relu1d's 1.1 MB of source on every command (0.2 s of `relu1d list`)
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e .
	$(BIN)/python -m compileall -q src/relu1d > /dev/null
	touch $@

$(VENV)/.installed-test: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install --quiet -e ".[test,dask]"
	$(BIN)/python -m compileall -q src/relu1d > /dev/null
	touch $@ $(VENV)/.installed

run: $(VENV)/.installed
	$(BIN)/relu1d reproduce --all --quick --out $(OUT)

# lint (ruff, configured in pyproject.toml), a basic type check (mypy, likewise), then the
# tests and the docstrings' examples (pytest --doctest-modules over tests/ and src/relu1d)
test: $(VENV)/.installed-test
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/mypy
	$(BIN)/python -m pytest -q

clean:
	rm -rf $(VENV) $(OUT)
