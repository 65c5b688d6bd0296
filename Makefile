# The two commands of the README:
#   make demo   set up .venv with what the demo needs and run the main job (reports/demo.html)
#   make test   set up .venv with the dev extras, then ruff and pytest (notebooks included, via nbval)
# Both work on a fresh machine with Python 3.11 and the package registries.

PYTHON ?= python3
VENV   ?= .venv
PY     := $(VENV)/bin/python
PIP    := $(PY) -m pip --disable-pip-version-check -q

.PHONY: demo test lint bench clean venv

$(PY):
	$(PYTHON) -m venv $(VENV)
	$(PIP) install --upgrade pip

# Re-install when the package metadata changes (stamp files live in the venv).
$(VENV)/.stamp-demo: pyproject.toml | $(PY)
	$(PIP) install -e ".[notebooks]"
	touch $@

$(VENV)/.stamp-dev: pyproject.toml | $(PY)
	$(PIP) install -e ".[dev,notebooks]"
	$(PY) -m ipykernel install --sys-prefix --name python3 >/dev/null
	touch $@

venv: $(VENV)/.stamp-dev

demo: $(VENV)/.stamp-demo
	$(VENV)/bin/aicost demo

lint: $(VENV)/.stamp-dev
	$(VENV)/bin/ruff check aicost tests scripts

test: lint
	$(VENV)/bin/pytest

bench: $(VENV)/.stamp-dev
	$(PY) scripts/bench_all.py

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache reports build dist *.egg-info
