# Two set-up commands: `make demo` and `make test`. Each creates .venv when missing.
PYTHON ?= python3.11
VENV   := .venv
PY     := $(VENV)/bin/python
# Two workers, a test file each at a time (a file's tests share its fixtures and its Spark session).
PYTEST_ARGS ?= -n 2 --dist loadfile

.PHONY: demo test repeat bench clean examples

$(PY):
	@command -v $(PYTHON) >/dev/null 2>&1 || { echo "need $(PYTHON) (set PYTHON=python3.x)"; exit 2; }
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip

# Stamp files: reinstall only when pyproject.toml changes.
$(VENV)/.installed: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e .
	@touch $@

$(VENV)/.installed-test: pyproject.toml | $(PY)
	$(PY) -m pip install --quiet -e ".[test]"
	@touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(VENV)/bin/churnwhy analyze examples/exports

# mypy --strict on src/churnwhy first (settings and the listed exceptions in pyproject.toml's [tool.mypy]).
test: $(VENV)/.installed-test
	$(PY) -m mypy
	$(PY) -m pytest $(PYTEST_ARGS)

# The bundled example analysed RUNS times in a row, each in a fresh process: no failure, identical JSON.
RUNS ?= 100
repeat: $(VENV)/.installed
	$(PY) scripts/repeat_analyze.py $(RUNS)

# Regenerate the bundled example exports from the demo generator (planted truth in truth.json).
examples: $(VENV)/.installed
	rm -rf examples/exports
	$(VENV)/bin/churnwhy demo examples/exports --customers 1000 --seed 7 --format mixed --messy

bench: $(VENV)/.installed-test
	$(PY) -m pip install --quiet -e ".[test,bench]"
	$(PY) bench/run.py

clean:
	rm -rf $(VENV) build dist .pytest_cache
